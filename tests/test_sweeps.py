"""Sweeps: grid multiruns (run dirs, wandb groups), failures, Optuna resume, summaries, launcher scripts."""

from __future__ import annotations

import importlib.util
import json
import math
import shlex
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import CONFIG_DIR, ROOT, run_train

SMOKE = ["debug=smoke", "trainer.accelerator=cpu", "data=parity", "data.seq_len=8", "model.hidden_size=16"]


# `hparams_search=<name>` needs the group in train.yaml's defaults (`- hparams_search: null`).
needs_hparams_search_default = pytest.mark.skipif(
    "hparams_search: null" not in (CONFIG_DIR / "train.yaml").read_text(),
    reason="configs/train.yaml lacks the `- hparams_search: null` default",
)


def load_summarize():
    spec = importlib.util.spec_from_file_location("summarize", ROOT / "scripts" / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["summarize"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


summarize = load_summarize()


def wandb_run_record(run_dir: Path):
    """The `run` record (group, display name, tags) of the offline wandb run under `run_dir`."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    for raw in leveldb_log_records(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "run":
            return record.run
    raise AssertionError(f"no run record in {path}")


def leveldb_log_records(data: bytes):
    """Records of a wandb transaction log: a 7-byte file header, then LevelDB log blocks of 32 KiB."""
    assert data[:4] == b":W&B", data[:7]
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])  # checksum, length, type
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 1:  # full
            yield chunk
        elif kind == 2:  # first
            pending = chunk
        elif kind == 3:  # middle
            pending += chunk
        elif kind == 4:  # last
            yield pending + chunk


def test_grid_sweep_runs_every_job_in_its_dir_with_one_wandb_group(tmp_path: Path, capsys) -> None:
    proc = run_train("-m", "model=rnn,lstm,gru", *SMOKE, f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [wandb_run_record(tmp_path / str(job)) for job in range(3)]
    assert {run.run_group for run in runs} == {str(tmp_path)}  # one group: the sweep
    assert len({run.run_id for run in runs}) == 3
    for run, cell in zip(runs, ["rnn", "lstm", "gru"]):
        assert f"model={cell}" in run.display_name.split(",")  # the job's overrides name it
        assert list(run.tags) == ["data=parity", f"model={cell}"]

    jobs = summarize.summarize(tmp_path)
    out = capsys.readouterr().out
    assert len(jobs) == 3 and all(job.status == "completed" for job in jobs)
    values = [job.metrics["val/loss"] for job in jobs]
    assert values == sorted(values)  # best first
    rows = [line.split()[:2] for line in out.splitlines() if line.split()[1:2] == ["completed"] and len(line.split()) > 3]
    assert sorted(rows) == [["0", "completed"], ["1", "completed"], ["2", "completed"]]  # a row per job
    assert (tmp_path / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "summary.csv").read_text().splitlines()) == 4


def test_a_failing_job_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    """The missing checkpoint fails only at run time, so the sweep starts; that job fails, the next one runs."""
    proc = run_train("-m", "ckpt_path=/nonexistent.ckpt,null", *SMOKE, "logger=none", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert failed["status"] == "failed"
    assert "CheckpointError" in failed["error"] and "/nonexistent.ckpt" in failed["error"]
    assert "job failed; the sweep goes on" in (tmp_path / "0" / "train.log").read_text()
    assert json.loads((tmp_path / "1" / "metrics.json").read_text())["status"] == "completed"

    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "summarize.py"), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "1 completed, 1 failed" in out
    assert "0: CheckpointError: ckpt_path='/nonexistent.ckpt'" in out
    rows = [line.split()[:2] for line in out.splitlines() if line.split()[1:2] in (["completed"], ["failed"]) and len(line.split()) > 3]
    assert rows == [["1", "completed"], ["0", "failed"]]  # failures last


def test_a_sweep_whose_every_job_failed_exits_non_zero(tmp_path: Path) -> None:
    """Before: every job failed (each recorded in its metrics.json) and the sweep exited 0, as if it had trained. Now
    the exit status is 1, with the first failure named; a seqtrain refusal is logged without a traceback."""
    proc = run_train("-m", "ckpt_path=/nonexistent1.ckpt,/nonexistent2.ckpt", *SMOKE, "logger=none", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert json.loads((tmp_path / job / "metrics.json").read_text())["status"] == "failed"
    assert f"train.py: error: every job of the sweep failed (2; the first: {tmp_path / '0'}: CheckpointError: " in proc.stderr, proc.stderr[-3000:]
    assert "/nonexistent1.ckpt" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_two_jobs_given_one_directory_by_the_subdir_are_named(tmp_path: Path) -> None:
    """`hydra.sweep.subdir=${model.hidden_size}` with a sweep over another key gives both jobs one directory: the second
    is refused naming the subdir and the first job's run is kept (before: 'already holds a run ... overwrite=true')."""
    proc = run_train("-m", "model.cell=rnn,gru", *SMOKE, "logger=none", "hydra.sweep.subdir=${model.hidden_size}", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]  # one job completed
    said = (tmp_path / "16" / "train.log").read_text()
    assert (f"run directory {tmp_path / '16'} is the directory of job #0 of this sweep too: "
            "hydra.sweep.subdir='${model.hidden_size}' gives both jobs the same one") in said, said[-3000:]
    assert json.loads((tmp_path / "16" / "metrics.json").read_text())["status"] == "completed"
    assert yaml.safe_load((tmp_path / "16" / "config.yaml").read_text())["model"]["cell"] == "rnn"  # the first job's, kept


def optuna_command(tmp_path: Path, *overrides: str) -> list[str]:
    return [
        sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=vowels_gru", "debug=smoke", "trainer.accelerator=cpu",
        "logger=none", "model.hidden_size=16", f"hydra.sweep.dir={tmp_path}", *overrides,
    ]


def load_study(sweep_dir: Path):
    optuna = pytest.importorskip("optuna")
    from seqtrain.pruning import open_storage

    return optuna.load_study(study_name="vowels_gru", storage=open_storage(str(sweep_dir / "optuna.journal")))


def states(study) -> list[str]:
    return [t.state.name for t in study.trials]


SWEEP_ENV = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.mark.slow  # kept out of the default run's ~10 min; `pytest -m slow` runs it
@needs_hparams_search_default
def test_optuna_sweep_resumes_after_an_interruption(tmp_path: Path) -> None:
    """Kill the sweep in its second trial; the same command marks that trial failed, retries it, and
    finishes the study's n_trials (not n_trials more)."""
    from hydra_plugins.seqtrain_sweeper.optuna_sweeper import retry_history

    command = optuna_command(tmp_path, "hydra.sweeper.n_trials=3", "hydra/sweeper/pruner=none")  # every trial completes
    first = subprocess.Popen(command, env=SWEEP_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "1" / ".hydra").exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # as a lost node would: no clean-up
        first.wait()
    assert states(load_study(tmp_path)) == ["COMPLETE", "RUNNING"], "the first run was not interrupted in trial 1"
    trial_0 = (tmp_path / "0" / "metrics.json").read_text()

    second = subprocess.run(command, env=SWEEP_ENV, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "trial 1 was left running" in second.stderr + second.stdout

    study = load_study(tmp_path)
    assert states(study) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]  # 3 trials counted; the retry replaces trial 1
    retry = study.trials[2]
    assert retry_history(retry) == [1]
    assert retry.params == study.trials[1].params  # retried with the same values
    assert (tmp_path / "0" / "metrics.json").read_text() == trial_0  # not rerun
    for number in (2, 3):
        assert json.loads((tmp_path / str(number) / "metrics.json").read_text())["status"] == "completed"

    third = subprocess.run(command, env=SWEEP_ENV, capture_output=True, text=True, timeout=300, check=False)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(load_study(tmp_path).trials) == 4  # the study is complete: nothing more runs


@pytest.mark.slow  # kept out of the default run's ~10 min; `pytest -m slow` runs it
@needs_hparams_search_default
def test_optuna_records_failed_trials_and_goes_on(tmp_path: Path, capsys) -> None:
    """Trials that raise are FAIL in the study, with their error in metrics.json; the search finishes."""
    # relu is only for cell=rnn: the experiment's GRU rejects it when the trial runs. Random sampling
    # with seed 3 picks both values among 4 trials.
    proc = run_train(
        *optuna_command(tmp_path, "model.nonlinearity=choice(tanh,relu)", "hydra/sweeper/sampler=random", "hydra/sweeper/pruner=none",
                        "hydra.sweeper.sampler.seed=3", "hydra.sweeper.n_trials=4")[2:],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(tmp_path)
    assert len(study.trials) == 4
    picked = {t.params["model.nonlinearity"] for t in study.trials}
    assert picked == {"tanh", "relu"}, picked
    for trial in study.trials:
        metrics = json.loads((tmp_path / str(trial.number) / "metrics.json").read_text())
        relu = trial.params["model.nonlinearity"] == "relu"
        assert trial.state.name == ("FAIL" if relu else "COMPLETE")
        assert metrics["status"] == ("failed" if relu else "completed")
        if relu:
            assert "nonlinearity" in metrics["error"]
        else:
            assert trial.value == pytest.approx(metrics["val"]["val/loss"])

    jobs = summarize.summarize(tmp_path)
    out = capsys.readouterr().out
    n_fail = sum(t.state.name == "FAIL" for t in study.trials)
    assert "optuna study 'vowels_gru': " in out and f"{n_fail} fail" in out and f"{4 - n_fail} complete" in out
    assert [j.status for j in jobs].count("failed") == n_fail
    for name in ("history", "importances", "parallel", "slice", "intermediate"):  # optuna's own plots
        assert (tmp_path / f"optuna_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not (tmp_path / "summary.png").exists()  # the hand-written plot is for grid sweeps only


@needs_hparams_search_default
def test_pruned_trials_report_every_validation_and_are_recorded_as_pruned(tmp_path: Path) -> None:
    """Two validations an epoch: the steps are validation counts (1, 2, 3, ...), not epochs; a pruned trial
    is PRUNED in the study, `pruned` in metrics.json and in its wandb run, not failed."""
    # ThresholdPruner with upper=0 prunes every trial at its first step out of the warm-up: validation 4.
    proc = run_train(
        *optuna_command(tmp_path, "hydra.sweeper.n_trials=2", "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.upper=0.0",
                        "hydra.sweeper.pruner.n_warmup_steps=4", "trainer.limit_train_batches=4", "trainer.val_check_interval=2",
                        "trainer.max_epochs=3", "logger=wandb")[2:],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Error executing job" not in proc.stderr  # a pruned job is not an error
    study = load_study(tmp_path)
    assert states(study) == ["PRUNED", "PRUNED"]
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4]  # two validations in epoch 0, two in epoch 1
        metrics = json.loads((tmp_path / str(trial.number) / "metrics.json").read_text())
        assert metrics["status"] == "pruned" and metrics["validations"] == 4
        assert metrics["val"]["val/loss"] == pytest.approx(trial.intermediate_values[4])
        assert trial.value == pytest.approx(trial.intermediate_values[4])  # optuna keeps the last report as the value
        summary = wandb_summary(tmp_path / str(trial.number))
        assert summary["status"] == "pruned" and summary["pruned_at_validation"] == 4
        assert wandb_exit_code(tmp_path / str(trial.number)) == 0  # the wandb run finished, not failed
    assert [job.status for job in summarize.summarize(tmp_path)] == ["pruned", "pruned"]


def wandb_summary(run_dir: Path) -> dict:
    """The summary an offline wandb run under `run_dir` recorded (its last value per key)."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    summary = {}
    for raw in leveldb_log_records(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "summary":
            summary.update({item.key: json.loads(item.value_json) for item in record.summary.update})
    return summary


def wandb_exit_code(run_dir: Path) -> int | None:
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    for raw in leveldb_log_records(path.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "exit":
            return record.exit.exit_code
    return None


@needs_hparams_search_default
def test_sweep_direction_must_agree_with_monitor_mode(tmp_path: Path) -> None:
    proc = run_train(*optuna_command(tmp_path, "monitor_mode=max")[2:])
    assert proc.returncode != 0
    assert "train.py: error: hydra.sweeper.direction='minimize' disagrees with monitor_mode='max'" in proc.stderr
    assert "Traceback" not in proc.stderr  # a refusal, said as a single run's are
    assert not (tmp_path / "optuna.journal").exists()  # refused before the study was created


@pytest.mark.parametrize(("override", "message"), [
    ("n=range(3,1)", "n=range(3,1): the range is empty"),
    ("lr=interval(0.1,0.01)", "lr=interval(0.1,0.01): an interval needs its low bound below its high one"),
    ("lr=tag(log,interval(0,0.01))", "a log-scale interval needs a low bound > 0"),
])
def test_an_empty_or_impossible_search_space_is_refused_naming_it(override: str, message: str) -> None:
    from hydra_plugins.seqtrain_sweeper.optuna_sweeper import search_space

    with pytest.raises(SystemExit) as exit_:
        search_space({}, [override])
    assert str(exit_.value).startswith("train.py: error: ") and message in str(exit_.value)


@pytest.mark.slow
@needs_hparams_search_default
def test_parallel_sweep_processes_share_one_study(tmp_path: Path) -> None:
    """Two processes run the same command at once: together they run n_trials, each trial once."""
    command = optuna_command(tmp_path, "hydra.sweeper.n_trials=5", "hydra/sweeper/pruner=none")
    procs = [subprocess.Popen(command, env=SWEEP_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [proc.communicate(timeout=600)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [e[-2000:] for e in errors]
    study = load_study(tmp_path)
    assert states(study) == ["COMPLETE"] * 5
    owners = {t.user_attrs["sweeper"] for t in study.trials}
    assert len(owners) == 2, owners  # both processes ran trials
    for trial in study.trials:
        assert json.loads((tmp_path / str(trial.number) / "metrics.json").read_text())["val"]["val/loss"] == pytest.approx(trial.value)


def test_search_space_from_hydra_sweep_syntax() -> None:
    """choice/range/interval/tag(log) become optuna distributions; a plain value on the command line fixes a key."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hydra_plugins.seqtrain_sweeper.optuna_sweeper import format_value, search_space

    params = {"a": "choice(32, 64)", "b": "range(1, 8, 3)", "c": "tag(log, interval(1e-4, 1e-1))", "d": "interval(0, 0.5)",
              "e": "range(0.1, 0.4, 0.1)", "f": "tag(int, interval(2, 6))", "g": "choice(x, 'y z', true)"}
    space, fixed = search_space(params, ["a=16", "h=1,2", "i=3"])
    assert space == {
        "b": IntDistribution(1, 7, step=3),  # Python's range: 1, 4, 7
        "c": FloatDistribution(1e-4, 1e-1, log=True),
        "d": FloatDistribution(0.0, 0.5),
        "e": FloatDistribution(0.1, 0.3, step=0.1),  # 0.1, 0.2, 0.3 (0.1 + 3 x 0.1 = 0.4 is excluded)
        "f": IntDistribution(2, 6),
        "g": CategoricalDistribution(["x", "y z", True]),
        "h": CategoricalDistribution([1, 2]),
    }
    assert fixed == ["a=16", "i=3"]
    # Sampled values go back to Hydra as overrides that parse to the same values.
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides([f"g={format_value(v)}" for v in ["x", "y z", None, True, 0.001]])
    assert [o.value() for o in parsed] == ["x", "y z", None, True, 0.001]


def test_summarize_sorts_by_objective_and_lists_failures(tmp_path: Path, capsys) -> None:
    def job(name: str, overrides: list[str], metrics: dict | None, mode: str = "max") -> None:
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (tmp_path / name / ".hydra" / "config.yaml").write_text("{}\n")
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump({"monitor": "val/acc", "monitor_mode": mode}))
        if metrics is not None:
            (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))

    def done(acc: float) -> dict:
        return {"status": "completed", "val": {"val/acc": acc, "val/loss": 1 - acc}, "test": {"test/acc": acc}, "seconds": 2.5}

    job("0", ["model=rnn", "optimizer.lr=0.001"], done(0.5))
    job("1", ["model=gru", "optimizer.lr=0.01"], done(0.9))
    job("2", ["model=lstm", "optimizer.lr=0.001"], {"status": "failed", "error": "RuntimeError: boom"})
    job("3", ["model=lstm", "optimizer.lr=0.1"], {"status": "diverged", "error": "loss is nan at step 7"})
    job("4", ["model=lstm", "optimizer.lr=0.01"], {**done(math.nan), "val": {"val/acc": math.nan}})
    job("5", ["model=gru", "optimizer.lr=0.1"], None)  # interrupted

    jobs = summarize.summarize(tmp_path)
    out = capsys.readouterr().out
    assert [j.name for j in jobs] == ["1", "0", "2", "3", "4", "5"]  # max mode; unfinished last, by name
    assert [j.status for j in jobs] == ["completed", "completed", "failed", "diverged", "diverged", "incomplete"]
    assert "objective: val/acc (max)" in out
    assert "2 completed, 2 diverged, 1 failed, 1 incomplete" in out
    assert "2: RuntimeError: boom" in out and "3: loss is nan at step 7" in out
    assert summarize.swept_keys(jobs, tmp_path) == ["model", "optimizer.lr"]
    assert (tmp_path / "summary.png").stat().st_size > 0

    jobs = summarize.summarize(tmp_path, objective="val/loss", mode="min")
    assert [j.name for j in jobs][:2] == ["1", "0"]


def test_summarize_refuses_an_objective_no_job_has_and_counts_interrupted_jobs(tmp_path: Path, capsys) -> None:
    """A typo in --objective (or a train/ monitor, which metrics.json does not keep) labelled every completed job
    "diverged" and exited 0; an interrupted job was left out of the counts and its resume command unsaid."""
    def job(name: str, metrics: dict, monitor: str = "val/acc") -> None:
        (tmp_path / name / ".hydra").mkdir(parents=True)
        (tmp_path / name / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={name}"]))
        (tmp_path / name / ".hydra" / "config.yaml").write_text("{}\n")
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump({"monitor": monitor, "monitor_mode": "max"}))
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))

    job("0", {"status": "completed", "val": {"val/acc": 0.5, "val/loss": 0.7}, "seconds": 2.0})
    job("1", {"status": "interrupted", "global_step": 12, "last_checkpoint": "checkpoints/last.ckpt",
              "resume": "python train.py seed=1 ckpt_path=last hydra.run.dir=x"})
    with pytest.raises(SystemExit, match=r"--objective val/accuracy: no job's metrics.json holds it; they hold: val/acc, val/loss"):
        summarize.summarize(tmp_path, objective="val/accuracy")
    assert not (tmp_path / "summary.csv").exists()
    jobs = summarize.summarize(tmp_path)
    out = capsys.readouterr().out
    assert [j.status for j in jobs] == ["completed", "interrupted"]
    assert "1 completed, 1 interrupted" in out
    assert "1: interrupted at global step 12; resume with: python train.py seed=1 ckpt_path=last hydra.run.dir=x" in out
    for name in ("0", "1"):  # runs that picked their checkpoint by the training loss
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump({"monitor": "train/loss", "monitor_mode": "min"}))
    with pytest.raises(SystemExit, match=r"the jobs' monitor train/loss \(no --objective given\): no job's metrics.json holds it"):
        summarize.summarize(tmp_path)


def test_slurm_script_sets_the_launcher_knobs() -> None:
    """`--cfg hydra` prints what would be submitted; nothing is submitted."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    env = {**os.environ, "PARTITION": "gpu-a100", "TIME_MIN": "90", "CPUS": "6", "GPUS": "1", "SETUP": "source 'my venv'/bin/activate"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "slurm_sweep.sh"), "model=gru", "--cfg", "hydra"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    launcher = yaml.safe_load(proc.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["partition"], launcher["timeout_min"], launcher["cpus_per_task"]) == ("gpu-a100", 90, 6)
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"]) == (1, 1)
    assert launcher["setup"] == ["source 'my venv'/bin/activate"]


@pytest.mark.parametrize(("knob", "value", "hint"), [("GPUS", "0,1", " (GPUs per job, a count, not ids)"), ("GPUS", "0", " (GPUs per job, a count, not ids)"),
                                                     ("TIME_MIN", "2h", " (minutes)"), ("MEM_GB", "32G", "")])
def test_slurm_script_refuses_a_knob_that_is_not_a_positive_integer(knob: str, value: str, hint: str) -> None:
    """GPUS=0 composed jobs with no GPU and no task (exit 0); GPUS=0,1 got Hydra's "Ambiguous value", GPUS=two bash's
    "unbound variable". Refused before Python starts: PYTHON names an interpreter that does not exist."""
    env = {**os.environ, knob: value, "PYTHON": "/nonexistent/python"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "slurm_sweep.sh"), "model=gru", "--cfg", "hydra"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and proc.stderr == f"slurm_sweep.sh: {knob}={value}: must be a positive integer{hint}\n"


@pytest.mark.slow
def test_local_gpu_script_runs_one_job_per_gpu(tmp_path: Path) -> None:
    """Two jobs on two GPU slots (ids only passed on in CUDA_VISIBLE_DEVICES, so this runs on CPU too)."""
    env = {**os.environ, "GPUS": "0,1", "SWEEP_DIR": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "launch_local_gpus.sh"), "model=rnn,gru", *SMOKE, "logger=none"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "job 0 on GPU" in proc.stdout and "job 1 on GPU" in proc.stdout
    assert {line.split(" on GPU ")[1].split(":")[0] for line in proc.stdout.splitlines() if ": model=" in line} == {"0", "1"}
    for job, cell in enumerate(["rnn", "gru"]):
        assert json.loads((tmp_path / str(job) / "metrics.json").read_text())["status"] == "completed"
        assert f"cell: {cell}" in (tmp_path / str(job) / "config.yaml").read_text()
    assert "2 completed" in proc.stdout  # the summary at the end


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_local_gpu_script_exits_non_zero_when_every_job_failed(tmp_path: Path) -> None:
    """It exited 0 (summarize's status) with every job failed; now 1, as `train.py -m` does."""
    env = {**os.environ, "GPUS": "0", "SWEEP_DIR": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "launch_local_gpus.sh"), "data=text", f"data.train_files={tmp_path / 'missing.txt'}",
         "logger=none"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads((tmp_path / "0" / "metrics.json").read_text())["status"] == "failed"
    assert "1 failed" in proc.stdout and "every job failed (1 jobs;" in proc.stderr


@pytest.mark.slow
def test_submitit_local_launcher_runs_the_jobs(tmp_path: Path) -> None:
    """The submitit path (pickled task function, a process per job) that the SLURM launcher uses, run locally."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc = run_train("-m", "hydra/launcher=submitit_local", "model=rnn,gru", *SMOKE, "logger=none", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in range(2):
        assert json.loads((tmp_path / str(job) / "metrics.json").read_text())["status"] == "completed"


def test_wandb_sweep_yaml_builds_a_valid_train_command() -> None:
    """The command `wandb agent` would run for one sampled point composes, and each W&B run gets its own dir."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    sweep = yaml.safe_load((ROOT / "scripts" / "wandb_sweep.yaml").read_text())
    assert sweep["program"] == "train.py" and "${args_no_hyphens}" in sweep["command"]
    point = {
        key: {"value": spec["value"] if "value" in spec else spec["values"][0] if "values" in spec else spec["min"]}
        for key, spec in sweep["parameters"].items()
    }
    args = sweep_utils.create_sweep_command_args({"args": point})
    macros = {**args, "program": [sweep["program"]], "env": [], "interpreter": [sys.executable]}
    command = []  # as wandb's agent expands it
    for chunk in sweep_utils.create_sweep_command(list(sweep["command"])):
        command += macros[chunk[2:-1]] if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    assert command[0] == "python" and command[1] == "train.py"
    env = {**os.environ, "WANDB_SWEEP_ID": "abc123", "WANDB_RUN_ID": "run42"}
    proc = subprocess.run(
        [sys.executable, *command[1:], "--cfg", "all", "--resolve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["hydra"]["run"]["dir"] == "outputs/wandb_sweeps/abc123/run42"
    assert cfg["model"]["hidden_size"] == 32 and cfg["model"]["bidirectional"] is True  # the experiment, then the point
    assert cfg["logger"]["wandb"]["mode"] == "online" and cfg["logger"]["wandb"]["group"] is None


@pytest.mark.slow
@needs_hparams_search_default
@pytest.mark.parametrize("pruned", [True, False])
def test_ddp_trials_take_rank_0s_values_and_stop_together(tmp_path: Path, pruned: bool) -> None:
    """Each trial under DDP with 2 CPU processes: rank 1 runs the job alone (not the sweep), with the
    values rank 0 was given, and stops at the same validation; the next trial starts its own DDP."""
    pruner = ["hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.upper=0.0", "hydra.sweeper.pruner.n_warmup_steps=2"]
    proc = run_train(
        *optuna_command(tmp_path, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true",
                        "trainer.max_epochs=3", "hydra.sweeper.n_trials=2", *(pruner if pruned else ["hydra/sweeper/pruner=none"]),
                        "test=false")[2:],  # the sweep's concern ends at validation (and the test report has its own DDP test)
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load_study(tmp_path)
    assert states(study) == (["PRUNED", "PRUNED"] if pruned else ["COMPLETE", "COMPLETE"])
    for trial in study.trials:
        job = tmp_path / str(trial.number)
        logs = [(job / "train.log").read_text(), (job / "train_ddp_process_1.log").read_text()]
        # The settings block each rank logs at its start (seqtrain/recipe.py): `  model: cell=gru hidden_size=16 ...`.
        settings = [{line.split(":", 1)[0].strip(): line.split(":", 1)[1] for line in log.splitlines()
                     if line.startswith(("  model:", "  optimizer:", "  data:"))} for log in logs]
        assert settings[0] == settings[1], settings  # both ranks: the same values
        for key, value in trial.params.items():  # and they are the trial's
            group, name = key.split(".")
            assert f" {name}={value}" in settings[1][group], (key, value, settings[1][group])
        if pruned:
            assert all("trial pruned at validation 2:" in log for log in logs)
            assert sorted(trial.intermediate_values) == [1, 2]
        else:
            assert json.loads((job / "metrics.json").read_text())["status"] == "completed"
    assert len(study.trials) == 2  # rank 1 started no sweep of its own


@needs_hparams_search_default
@pytest.mark.parametrize(("override", "message"), [
    ("model.dropout=interval(0.5,1.5)", "the search space of model.dropout (0.5 to 1.5) reaches model.dropout=1.5, which a run "
                                        "refuses: model.dropout=1.5: Input should be less than 1"),
    ("data.batch_size=choice(0,16)", "the search space of data.batch_size (choice(0, 16)) reaches data.batch_size=0"),
    ("optimizer.lr=range(-0.01,0.02,0.01)", "the search space of optimizer.lr (-0.01 to 0.01) reaches optimizer.lr=-0.01, which a "
                                            "run refuses: optimizer.lr=-0.01: must be > 0"),
])
def test_a_search_space_beyond_a_keys_valid_values_is_refused_before_the_study(tmp_path: Path, override: str, message: str) -> None:
    """Each searched key's edges go through the run's own checks first: before, every trial that drew a value outside
    the key's range failed with a traceback while the sweep exited 0 (`study done: 1 complete, 1 fail`)."""
    proc = run_train(*optuna_command(tmp_path, override, "model.num_layers=2", "hydra.sweeper.n_trials=2")[2:])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"train.py: error: {message}" in proc.stderr, proc.stderr[-3000:]
    assert not (tmp_path / "optuna.journal").exists()  # refused before the study was created


@pytest.mark.slow  # end to end, ~40 s on 2 shared cores
@needs_hparams_search_default
def test_a_sweep_on_other_data_is_refused_by_the_study_another_sweep_made(tmp_path: Path) -> None:
    """`hparams_search=vowels_gru` fixes the sweep directory and study name, so that a rerun finds its study. A sweep on
    the user's own files in the same place found the first sweep's study, said `study done: 1 complete` and named
    that data's best trial, with exit status 0, running nothing. Now it is refused, naming what differs; the same sweep
    rerun (a logger changed, more trials) goes on with it."""
    first = run_train(*optuna_command(tmp_path, "hydra.sweeper.n_trials=1", "data.batch_size=64", "model.num_layers=1")[2:])
    assert first.returncode == 0, first.stderr[-3000:]
    assert states(load_study(tmp_path)) == ["COMPLETE"]

    other = run_train(*optuna_command(tmp_path, "hydra.sweeper.n_trials=1", "data.batch_size=64", "model.num_layers=1",
                                      "data.val_fraction=0.3", "model.dropout=interval(0,0.5)")[2:])
    assert other.returncode == 1 and "Traceback" not in other.stderr, other.stderr[-3000:]
    message = other.stderr
    assert "train.py: error: study 'vowels_gru' in " in message and "(1 trials) was made by another sweep: " in message
    assert "'no data.val_fraction override' there, 'data.val_fraction=0.3' now" in message
    assert "search space of model.dropout: not searched there, 0.0 to 0.5 now" in message
    assert "hydra.sweeper.study_name=<name>" in message
    assert "study done" not in message and len(load_study(tmp_path).trials) == 1  # nothing told as this sweep's

    again = run_train(*optuna_command(tmp_path, "hydra.sweeper.n_trials=1", "data.batch_size=64", "model.num_layers=1", "logger=csv")[2:])
    assert again.returncode == 0 and "study done: 1 complete" in again.stdout + again.stderr, again.stderr[-3000:]


def test_a_study_records_its_sweep_and_refuses_another_ones() -> None:
    """The fast half of the test above: the first sweep's fixed overrides and space are recorded in the study; another
    data file or space is refused naming it; a logger or progress bar changed is the same sweep."""
    optuna = pytest.importorskip("optuna")
    from hydra_plugins.seqtrain_sweeper.optuna_sweeper import check_same_sweep, search_space

    study = optuna.create_study()
    space, fixed = search_space({"optimizer.lr": "tag(log, interval(1e-4, 1e-2))"}, ["data=table", "data.train_files=a.tsv", "logger=csv"])
    check_same_sweep(study, "j/optuna.journal", space, fixed)
    check_same_sweep(study, "j/optuna.journal", *search_space({"optimizer.lr": "tag(log, interval(1e-4, 1e-2))"},
                                                               ["data=table", "data.train_files=a.tsv", "logger=none", "trainer.enable_progress_bar=false"]))
    with pytest.raises(SystemExit) as exit_:
        check_same_sweep(study, "j/optuna.journal", *search_space({"optimizer.lr": "tag(log, interval(1e-4, 1e-1))"}, ["data=table", "data.train_files=b.tsv"]))
    message = str(exit_.value)
    assert message.startswith("train.py: error: study 'no-name-") and "was made by another sweep: " in message
    assert "'data.train_files=a.tsv' there, 'data.train_files=b.tsv' now" in message
    assert "search space of optimizer.lr: 0.0001 to 0.01 there, 0.0001 to 0.1 now" in message
    assert "hydra.sweep.dir=j_<name>" in message


@pytest.mark.slow  # end to end, ~30 s on 2 shared cores
@needs_hparams_search_default
def test_an_interrupted_sweep_jobs_printed_resume_command_resumes_it(tmp_path: Path) -> None:
    """SIGTERM in a sweep's job prints (and writes to its metrics.json) the command that resumes it. That command left
    out the sweep's own settings (`hydra.sweep.dir`, `hydra.sweeper.study_name`, the pruner, the job's trial), which
    the job's pruning callback is configured from: it was refused as another run's checkpoint."""
    command = optuna_command(tmp_path, "hydra.sweeper.n_trials=1", "hydra/sweeper/pruner=none", "hydra.sweeper.study_name=mine",
                             "trainer.max_epochs=40", "trainer.limit_train_batches=20", "data.batch_size=16",
                             "model.num_layers=1", "callbacks.last_checkpoint.every_n_train_steps=5")
    sweep = subprocess.Popen(command, env=SWEEP_ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=120) == 128 + signal.SIGTERM
    metrics = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    resume = metrics["resume"]
    assert "hydra.sweeper.study_name=mine" in resume and "hydra.sweeper.trial=0" in resume and "hydra/sweeper/pruner=none" in resume
    argv = shlex.split(resume)
    assert argv[:2] == ["python", "train.py"]
    proc = run_train(*argv[2:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Restored all states from the checkpoint at" in proc.stdout + proc.stderr
    assert json.loads((tmp_path / "0" / "metrics.json").read_text())["status"] == "completed"
