"""Sweeps: grid multiruns (run dirs, wandb groups), failures, Optuna resume, summaries, launcher scripts."""

from __future__ import annotations

import importlib.util
import json
import math
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
    assert "FileNotFoundError" in failed["error"] and "/nonexistent.ckpt" in failed["error"]
    assert "job failed; the sweep goes on" in (tmp_path / "0" / "train.log").read_text()
    assert json.loads((tmp_path / "1" / "metrics.json").read_text())["status"] == "completed"

    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "summarize.py"), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "1 completed, 1 failed" in out
    assert "0: FileNotFoundError: ckpt_path='/nonexistent.ckpt'" in out
    rows = [line.split()[:2] for line in out.splitlines() if line.split()[1:2] in (["completed"], ["failed"]) and len(line.split()) > 3]
    assert rows == [["1", "completed"], ["0", "failed"]]  # failures last


@needs_hparams_search_default
def test_optuna_sweep_resumes_after_an_interruption(tmp_path: Path) -> None:
    """Kill the sweep as its second trial starts; the same command continues the study from the SQLite file."""
    optuna = pytest.importorskip("optuna")
    command = [
        sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=vowels_gru", "debug=smoke", "trainer.accelerator=cpu",
        "logger=none", "model.hidden_size=16", "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # The second job's directory appears once the first trial is told to the study.
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*/.hydra"))) < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # as a lost node would: no clean-up
        first.wait()
    finished = {p.parent: p.read_text() for p in tmp_path.glob("*/metrics.json")}
    assert 1 <= len(finished) < 3, "the first run was not interrupted mid-sweep"

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr[-3000:]

    study = optuna.load_study(study_name="vowels_gru", storage=f"sqlite:///{tmp_path}/optuna.db")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == len(finished) + 3  # the first run's finished trials, then three new ones
    assert [t.number for t in complete][: len(finished)] == list(range(len(finished)))
    assert len({t.number for t in complete}) == len(complete)
    for job_dir, metrics in finished.items():
        assert (job_dir / "metrics.json").read_text() == metrics  # not rerun, its directory not reused
    assert len(list(tmp_path.glob("*/metrics.json"))) == len(finished) + 3


@needs_hparams_search_default
def test_optuna_records_failed_trials_and_goes_on(tmp_path: Path) -> None:
    """Trials that raise are FAIL in the study, with their error in metrics.json; the search finishes."""
    optuna = pytest.importorskip("optuna")
    # relu is only for cell=rnn: the experiment's GRU rejects it when the trial runs. With seed 1 the
    # sampler picks relu, relu, tanh.
    proc = run_train(
        "-m", "hparams_search=vowels_gru", "model.nonlinearity=choice(tanh,relu)", "hydra.sweeper.sampler.seed=1",
        "hydra.sweeper.n_trials=3", "debug=smoke", "trainer.accelerator=cpu", "logger=none", "model.hidden_size=16",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="vowels_gru", storage=f"sqlite:///{tmp_path}/optuna.db")
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "FAIL", "FAIL"]
    for trial_dir in tmp_path.glob("*/metrics.json"):
        metrics = json.loads(trial_dir.read_text())
        relu = "model.nonlinearity=relu" in (trial_dir.parent / ".hydra" / "overrides.yaml").read_text()
        assert metrics["status"] == ("failed" if relu else "completed")
        if relu:
            assert "nonlinearity" in metrics["error"]


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
