"""A run directory belongs to one run; a resume continues the same run or is refused naming what changed."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_train
from data.user_files import sentiment_rows, write_csv
from seqtrain.errors import CheckpointError
from seqtrain.resume_checks import ResumeError, check_resume, config_changes, data_fingerprints, fingerprint_changes
from seqtrain.run_directory import RunDirectoryError, RunLock, check_run_directory, relative_to_run

TINY = ["~experiment", "data=vowels", "recipe=none", "model=gru", "model.hidden_size=8", "debug=smoke", "logger=none",
        "trainer.accelerator=cpu", "callbacks.progress_bar.refresh_rate=0"]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file the run left, its Hydra record (.hydra/) and log included, by relative path (not the lock file)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != ".seqtrain.lock"
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished")
    proc = run_train(*TINY, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def test_fresh_run_into_a_run_directory_is_refused_and_nothing_is_touched(finished: Path) -> None:
    before = snapshot(finished)
    proc = run_train(*TINY, "model.hidden_size=12", f"hydra.run.dir={finished}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # the message alone
    assert "already holds a run" in proc.stderr and "ckpt_path=last" in proc.stderr and "overwrite=true" in proc.stderr
    assert snapshot(finished) == before


def test_resume_refuses_changed_settings_by_key_before_reading_data(finished: Path) -> None:
    before = snapshot(finished)
    proc = run_train(*TINY, "ckpt_path=last", "optimizer=sgd", "optimizer.lr=0.5", "data.batch_size=16", "seed=7",
                     f"hydra.run.dir={finished}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = proc.stderr[proc.stderr.index("train.py: error: cannot resume"):]
    for key in ("optimizer._target_: 'torch.optim.AdamW' -> 'torch.optim.SGD'", "optimizer.lr:", "data.batch_size: 32 -> 16",
                "seed: 42 -> 7"):
        assert key in message, key
    assert "Loaded" not in proc.stderr and "examples" not in message  # refused before the data
    assert snapshot(finished) == before


def test_overwrite_replaces_the_earlier_run(tmp_path: Path, finished: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    (run_dir / "checkpoints" / "stale.ckpt").write_bytes(b"old")
    proc = run_train(*TINY, "overwrite=true", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (run_dir / "checkpoints" / "stale.ckpt").exists()


def test_overwrite_leaves_no_test_report_of_the_earlier_run(tmp_path: Path, finished: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    written = sorted(p.name for p in (run_dir / "reports").iterdir())
    assert "confusion_matrix.csv" in written  # the earlier run (classification) wrote its reports
    (run_dir / "reports" / "predicted_vs_actual.csv").write_text("predicted,actual\n1,2\n")  # as a regression run's
    (run_dir / "reports" / "per_class.csv").write_text("stale\n")
    proc = run_train(*TINY, "overwrite=true", "test=false", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the new run tests nothing: no report in the directory may claim to be its
    assert sorted(p.name for p in (run_dir / "reports").iterdir()) == []


def test_overwrite_leaves_no_log_line_of_the_earlier_run(tmp_path: Path, finished: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    earlier = (run_dir / "train.log").read_text()
    assert earlier.count("] - recipe:") == 1  # the earlier run's log (a refused job adds no line to it)
    with (run_dir / "train.log").open("a") as f:
        f.write("a line only the earlier run wrote\n")
    proc = run_train(*TINY, "overwrite=true", "model.hidden_size=12", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    assert "a line only the earlier run wrote" not in log
    assert log.count("] - recipe:") == 1 and "hidden_size=12" in log  # this run's lines, from its first
    assert log.startswith("[")  # whole lines: the file begins with this run's first record
    assert read_overrides(run_dir) == [*TINY, "overwrite=true", "model.hidden_size=12"]  # the record is this run's


def read_overrides(run_dir: Path) -> list[str]:
    import yaml

    return yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())


def test_a_runs_hydra_record_is_its_own_and_a_resume_adds_to_its_log(tmp_path: Path, finished: Path) -> None:
    """seqtrain writes .hydra/ itself (Hydra's `output_subdir` is null): a fresh run's record is its command line and
    composed config, as Hydra writes them; a resume replaces the record with its own once its checks pass, and its log
    lines follow the earlier run's."""
    import yaml

    assert read_overrides(finished) == TINY
    composed = yaml.safe_load((finished / ".hydra" / "config.yaml").read_text())
    assert composed["model"]["hidden_size"] == 8 and composed["ckpt_path"] is None
    assert yaml.safe_load((finished / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]["name"] == "train"
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    earlier = (run_dir / "train.log").read_bytes()
    proc = run_train(*TINY, "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_overrides(run_dir) == [*TINY, "ckpt_path=last"]
    assert yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["ckpt_path"] == "last"
    log = (run_dir / "train.log").read_bytes()
    assert log.startswith(earlier) and log[len(earlier):].count(b"] - recipe:") == 1  # this job's lines, after


@pytest.mark.parametrize("refusal", [["model.hidden_size=12"], ["ckpt_path=last", "model.hidden_size=12"],
                                     ["ckpt_path=last", "optimizer.lr=-1"]])
def test_a_refused_job_leaves_the_runs_record_and_log_as_they_were(tmp_path: Path, finished: Path, refusal: list[str]) -> None:
    """A fresh run into a finished run's directory, a resume with a changed setting, a config error: Hydra would have
    written the refused job's record over the run's and appended its lines to the run's log before any check."""
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    before = snapshot(run_dir)
    proc = run_train(*TINY, *refusal, f"hydra.run.dir={run_dir}")
    assert proc.returncode != 0 and "train.py: error:" in proc.stderr, proc.stderr[-3000:]
    if "optimizer.lr=-1" not in refusal:  # (refused before its first line)
        assert "] - recipe:" in proc.stdout  # its lines reached the console
    assert snapshot(run_dir) == before


def test_every_report_file_is_one_overwrite_clears() -> None:
    import re

    from seqtrain.run_directory import REPORT_FILES

    source = (ROOT / "seqtrain" / "reports.py").read_text()
    names = set(re.findall(r'folder / "([^"]+)"', source))
    assert names and names <= set(REPORT_FILES), names - set(REPORT_FILES)


def test_a_checkpoint_behind_the_runs_last_is_refused_and_nothing_is_lost(tmp_path: Path, finished: Path) -> None:
    """ckpt_path=<this run's best.ckpt, or a kept copy of an earlier last.ckpt> while last.ckpt holds later steps: the
    resume replaced last.ckpt and best.ckpt with a branch from the earlier point, and the later steps were gone."""
    import torch

    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] > 1
    steps = saved["global_step"]
    saved["global_step"], saved["epoch"] = 1, 0  # as a copy kept after the first step
    torch.save(saved, run_dir / "checkpoints" / "early.ckpt")
    before = snapshot(run_dir)
    proc = run_train(*TINY, f"ckpt_path={run_dir / 'checkpoints' / 'early.ckpt'}", "trainer.max_epochs=5",
                     f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert (f"it is at optimizer step 1 (epoch 0), behind this run directory's last.ckpt at step {steps}" in proc.stderr
            and "Continue the run with ckpt_path=last" in proc.stderr), proc.stderr[-3000:]
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(("damage", "said"), [("deleted", "is missing"), ("truncated", "is not readable (not a seqtrain checkpoint: a truncated")])
def test_a_resume_whose_best_checkpoint_is_gone_is_refused_before_training(tmp_path: Path, finished: Path, damage: str,
                                                                          said: str) -> None:
    """The run validates and tests its best checkpoint once training ends: it failed there, with a traceback."""
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    best = run_dir / "checkpoints" / "best.ckpt"
    if damage == "deleted":
        best.unlink()
    else:
        best.write_bytes(best.read_bytes()[:1000])
    before = snapshot(run_dir)
    proc = run_train(*TINY, "ckpt_path=last", "trainer.max_epochs=3", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"the run's best checkpoint {best} (" in proc.stderr and said in proc.stderr, proc.stderr[-3000:]
    assert "Epoch 1" not in proc.stderr  # refused before training
    assert snapshot(run_dir) == before


def test_a_truncated_last_names_the_checkpoint_to_go_on_from(tmp_path: Path, finished: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # a disk that filled up, a copy cut short
    before = snapshot(run_dir)
    proc = run_train(*TINY, "ckpt_path=last", "trainer.max_epochs=3", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"{last}: not a seqtrain checkpoint: a truncated or corrupt zip archive" in proc.stderr
    assert (f"This run directory also holds best.ckpt: to go on from there, an earlier point of the run, pass "
            f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}") in proc.stderr, proc.stderr[-3000:]
    assert snapshot(run_dir) == before


def test_a_live_run_holds_its_directory(tmp_path: Path) -> None:
    lock = RunLock(tmp_path).acquire()
    (tmp_path / "train.log").write_text("[...] a line of the live run\n")
    try:
        proc = run_train(*TINY, f"hydra.run.dir={tmp_path}")
        assert proc.returncode != 0 and "in use by a live run" in proc.stderr
        assert not (tmp_path / "config.yaml").exists()
        assert not (tmp_path / ".hydra").exists()  # the live run's record (here: none) is not replaced
        assert (tmp_path / "train.log").read_text() == "[...] a line of the live run\n"  # nor its log added to
        with pytest.raises(RunDirectoryError, match="in use by a live run"):
            RunLock(tmp_path).acquire()
    finally:
        lock.release()
    RunLock(tmp_path).acquire().release()  # free again once released (the kernel frees it on any exit too)


def test_a_killed_runs_forked_workers_do_not_keep_its_lock(tmp_path: Path) -> None:
    # A run holding the lock forks a child (as a DataLoader worker is forked) and is killed; the child lives on.
    code = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from seqtrain.run_directory import RunLock\n"
        f"lock = RunLock(Path({str(tmp_path)!r})).acquire()\n"
        "ready, forked = os.pipe()\n"
        "child = os.fork()\n"
        "if child == 0:\n"  # fork's after-in-child hooks have run once fork returns here
        "    os.write(forked, b'x')\n"
        "    time.sleep(30)\n"
        "    os._exit(0)\n"
        "os.read(ready, 1)\n"  # a worker lives long past its fork; do not kill the run before the child exists
        "print(child, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    child = int(proc.stdout.readline())  # forked
    try:
        proc.wait(timeout=30)
        assert proc.returncode == -9
        RunLock(tmp_path).acquire().release()  # the orphaned child, still alive, does not hold the directory
    finally:
        os.kill(child, signal.SIGKILL)


def test_copied_run_directory_evaluates_its_own_checkpoint(tmp_path: Path, finished: Path) -> None:
    metrics = json.loads((finished / "metrics.json").read_text())
    assert metrics["best_checkpoint"] == "checkpoints/best.ckpt"  # relative to the run directory
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    shutil.rmtree(finished / "checkpoints")  # the original's model is gone: only the copy's can be used
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(copy), "--split", "val"],
                              capture_output=True, text=True, cwd=ROOT, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout[proc.stdout.index("{"):])["val/loss"] == pytest.approx(metrics["val"]["val/loss"])
    finally:
        shutil.copytree(copy / "checkpoints", finished / "checkpoints")


def test_changed_data_file_is_refused_by_resume_and_evaluation(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", sentiment_rows(80))
    args = ["~experiment", "data=table", f"data.train_files={train}", "data.sequence_column=text", "model=gru",
            "model.hidden_size=8", "debug=smoke", "logger=none", "trainer.accelerator=cpu"]
    run_dir = tmp_path / "run"
    assert (proc := run_train(*args, f"hydra.run.dir={run_dir}")).returncode == 0, proc.stderr[-3000:]
    from seqtrain.errors import DataError
    from seqtrain.run import evaluate  # what scripts/evaluate.py calls (in-process: 5 s less a call)

    # Moved: refused as gone, with the way to say where it is now; said so, it measures the run's own test split.
    moved = tmp_path / "elsewhere" / "renamed.csv"
    moved.parent.mkdir()
    train.rename(moved)
    with pytest.raises(DataError, match=r"data.train_files: .*train.csv is gone\n\(--data train_files=<their new path>"):
        evaluate(run_dir)
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    measured = evaluate(run_dir, moved={"train_files": str(moved)})
    assert measured.keys() == saved.keys() and all(measured[k] == pytest.approx(v, rel=1e-5) for k, v in saved.items())
    with pytest.raises(DataError, match=r"--data test_files=...: the run read no data.test_files \(the keys naming its files: train_files\)"):
        evaluate(run_dir, moved={"test_files": str(moved)})
    write_csv(tmp_path / "other.csv", sentiment_rows(80, seed=5))  # other rows at the new place: refused, by content
    with pytest.raises(DataError, match=r"other.csv is new"):
        evaluate(run_dir, moved={"train_files": str(tmp_path / "other.csv")})
    moved.rename(train)
    write_csv(train, sentiment_rows(100))  # the training file grew: the carved val/test rows would move

    proc = run_train(*args, "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode != 0 and f"data.train_files: {train} has changed" in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(run_dir)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "has changed" in proc.stderr and "--allow-changed-data" in proc.stderr
    assert "test/acc" in evaluate(run_dir, allow_changed_data=True)  # what --allow-changed-data calls


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_data_files_moved_with_their_content_resume_exactly(tmp_path: Path) -> None:
    # The truth: the same two epochs without a stop, on the files where they first were.
    train, val = write_csv(tmp_path / "train.csv", sentiment_rows(80)), write_csv(tmp_path / "val.csv", sentiment_rows(24, seed=1))
    args = ["~experiment", "data=table", "data.sequence_column=text", "model=gru", "model.hidden_size=8", "logger=none",
            "trainer.accelerator=cpu", "callbacks.progress_bar.refresh_rate=0", "test=false", "sample_length=0"]
    whole = run_train(*args, f"data.train_files={train}", f"data.val_files={val}", "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    run_dir = tmp_path / "run"
    first = run_train(*args, f"data.train_files={train}", f"data.val_files={val}", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-3000:]
    (tmp_path / "elsewhere").mkdir()
    moved = [shutil.move(path, tmp_path / "elsewhere" / f"renamed_{path.name}") for path in (train, val)]

    proc = run_train(*args, f"data.train_files={moved[0]}", f"data.val_files={moved[1]}", "trainer.max_epochs=2",
                     "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"resume: data.train_files: '{train}' -> '{moved[0]}' (applied: the same file contents, read in the same order)" in proc.stdout + proc.stderr
    import torch

    resumed, uninterrupted = (torch.load(d / "checkpoints" / "last.ckpt", weights_only=True) for d in (run_dir, tmp_path / "whole"))
    assert resumed["global_step"] == uninterrupted["global_step"]
    assert all(torch.equal(resumed["state_dict"][k], v) for k, v in uninterrupted["state_dict"].items())
    record = json.loads((run_dir / "resumes.jsonl").read_text().splitlines()[-1])
    assert record["applied"]["data.val_files"] == [str(val), str(moved[1])]


def test_moved_data_files_count_as_the_same_data_only_in_the_same_order(tmp_path: Path) -> None:
    from seqtrain.resume_checks import moved_data_files

    for name, text in (("a.csv", "x\n1\n"), ("b.csv", "x\n2\n")):
        (tmp_path / "old").mkdir(exist_ok=True)
        (tmp_path / "old" / name).write_text(text)
    listed = {"train_files": [str(tmp_path / "old" / "a.csv"), str(tmp_path / "old" / "b.csv")]}
    saved = data_fingerprints(listed)
    shutil.copytree(tmp_path / "old", tmp_path / "new")

    def moved(data: dict) -> list[str]:
        return moved_data_files({"data": listed}, {"data": data}, saved, data_fingerprints(data))

    assert moved({"train_files": [str(tmp_path / "new" / "a.csv"), str(tmp_path / "new" / "b.csv")]}) == ["data.train_files"]
    assert moved({"train_files": str(tmp_path / "new" / "*.csv")}) == ["data.train_files"]  # a glob reads them sorted
    assert moved({"train_files": [str(tmp_path / "new" / "b.csv"), str(tmp_path / "new" / "a.csv")]}) == []  # other order
    assert moved({"train_files": [str(tmp_path / "new" / "a.csv")]}) == []  # a file left out
    (tmp_path / "new" / "b.csv").write_text("x\n3\n")
    assert moved({"train_files": [str(tmp_path / "new" / "a.csv"), str(tmp_path / "new" / "b.csv")]}) == []  # edited
    with pytest.raises(ResumeError, match="new/b.csv is new"):  # the resume refuses, naming the files
        check_resume({"config": {"data": listed}, "data_fingerprints": saved},
                     {"data": {"train_files": [str(tmp_path / "new" / "a.csv"), str(tmp_path / "new" / "b.csv")]}},
                     data_fingerprints({"train_files": [str(tmp_path / "new" / "a.csv"), str(tmp_path / "new" / "b.csv")]}), "x.ckpt")


def test_config_changes_split_into_applied_and_refused() -> None:
    saved = {"trainer": {"max_epochs": 1, "precision": "32-true"}, "optimizer": {"lr": 0.003}, "ckpt_path": None,
             "data": {"num_workers": 0, "bucket": True}}
    new = {"trainer": {"max_epochs": 5, "precision": "bf16-mixed"}, "optimizer": {"lr": 0.5}, "ckpt_path": "last",
           "data": {"num_workers": 4, "bucket": False}, "extra": 1}
    applied, refused = config_changes(saved, new)
    assert applied == {"trainer.max_epochs": (1, 5), "data.num_workers": (0, 4)}
    assert refused == {"trainer.precision": ("32-true", "bf16-mixed"), "optimizer.lr": (0.003, 0.5),
                       "data.bucket": (True, False), "extra": (None, 1)}


def test_a_key_added_later_is_no_change_at_the_value_older_runs_had() -> None:
    """A run saved before `model.patch_size` existed did not patch: resuming it with 1 is the same run, with 4 not."""
    saved = {"model": {"cell": "gru"}, "recipe": {"name": "table"}}
    assert config_changes(saved, {"model": {"cell": "gru", "patch_size": 1}, "recipe": {"name": "table"}}) == ({}, {})
    applied, refused = config_changes(saved, {"model": {"cell": "gru", "patch_size": 4},
                                              "recipe": {"name": "table", "patch_steps": 24}})
    assert refused == {"model.patch_size": (None, 4)}
    assert applied == {"recipe.patch_steps": (None, 24)}  # auto keeps the checkpoint's choice on resume


def test_a_recipe_change_on_resume_is_logged_as_recorded_not_applied(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A recipe's block changed since the run was saved (a newer seqtrain's small-set rule) does not change the resumed
    run, which keeps its saved settings: the log says so, where a change of max_epochs is applied."""
    from seqtrain.run import record_resume

    changes = {"trainer.max_epochs": (5, 8), "recipe.small_classification.settings.data.batch_size": (None, 8)}
    with caplog.at_level(logging.INFO, logger="seqtrain.run"):
        record_resume(tmp_path, str(tmp_path / "checkpoints" / "last.ckpt"), changes)
    assert "resume: trainer.max_epochs: 5 -> 8 (applied)" in caplog.text
    assert ("resume: recipe.small_classification.settings.data.batch_size: None -> 8 (recorded; the run keeps the "
            "settings it was trained with)") in caplog.text
    assert json.loads((tmp_path / "resumes.jsonl").read_text())["applied"] == {k: list(v) for k, v in changes.items()}


def test_embedding_dropout_added_later_is_no_change_at_zero() -> None:
    """A run saved before `model.embedding_dropout` existed dropped nothing: 0.0 continues it, 0.5 is a change."""
    saved = {"model": {"cell": "gru"}}
    assert config_changes(saved, {"model": {"cell": "gru", "embedding_dropout": 0.0}}) == ({}, {})
    assert config_changes(saved, {"model": {"cell": "gru", "embedding_dropout": 0.5}}) == ({}, {"model.embedding_dropout": (None, 0.5)})


@pytest.mark.parametrize("option", ["patch_shift", "patch_spectrum"])
def test_a_patch_option_added_later_is_no_change_when_false(option: str) -> None:
    """A run saved before `model.patch_shift` (or `model.patch_spectrum`) trained on one patching (and read no
    spectrum): false continues it, true is a change."""
    saved = {"model": {"cell": "gru", "patch_size": 6}}
    assert config_changes(saved, {"model": {"cell": "gru", "patch_size": 6, option: False}}) == ({}, {})
    assert config_changes(saved, {"model": {"cell": "gru", "patch_size": 6, option: True}}) == (
        {}, {f"model.{option}": (None, True)})
    assert config_changes(saved, {"model": {"cell": "gru", "patch_size": 6, "input_noise": 0.0}}) == ({}, {})


@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("spectrum", [True, False])
@pytest.mark.parametrize("size", [1, 11])
def test_patch_options_without_patches_are_said_unused_in_one_line(shift: bool, spectrum: bool, size: int) -> None:
    from omegaconf import OmegaConf

    from seqtrain.run import unused_patch_options

    line = unused_patch_options(OmegaConf.create({"model": {"patch_shift": shift, "patch_spectrum": spectrum, "patch_size": size}}))
    named = [option for option, on in (("patch_shift", shift), ("patch_spectrum", spectrum)) if on and size == 1]
    assert (line is not None) == bool(named)
    if named:
        assert line.split(": not used")[0] == " ".join(f"model.{option}=true" for option in named)
        assert "model.patch_size=1" in line
        assert ("phase" in line) == shift and ("spectrum" in line) == spectrum


@pytest.mark.parametrize(("size", "shift", "said"), [(9, True, True), (4, True, False), (9, False, False)])
def test_patch_shift_on_rows_no_longer_than_a_patch_is_said(size: int, shift: bool, said: bool) -> None:
    """A row no longer than k keeps only its last L - r steps at phase r (its last step alone from r = L - 1 on): the
    run counts such training rows (here by hand: the rows of 5-9 steps) rather than leaving it unsaid."""
    from types import SimpleNamespace

    import torch
    from omegaconf import OmegaConf

    from seqtrain.models.patching import drop_leading
    from seqtrain.run import patch_shift_on_short_rows

    row = torch.arange(1.0, 6.0).view(1, 5, 1)  # the claim, held to the model's own phase shift: 5 steps, r = 7
    shifted, length = drop_leading(row, torch.tensor([5]), torch.tensor([7]))
    assert length.item() == 1 and shifted[0, 0, 0].item() == 5.0
    lengths = [5 + i % 8 for i in range(40)]  # 5 rows of each length 5..12
    datamodule = SimpleNamespace(facts=SimpleNamespace(vocab_size=None, per_step=False), split=lambda name: _Rows(lengths))
    line = patch_shift_on_short_rows(OmegaConf.create({"model": {"patch_shift": shift, "patch_size": size}}), datamodule)
    assert (line is not None) == said
    if said:
        short = [n for n in lengths if n <= size]
        assert line.startswith(f"model.patch_shift=true with model.patch_size={size}: {len(short)} of 40 training rows "
                               f"(lengths 5-{size} steps) are no longer than one patch"), line


class _Rows(list):
    """A split of examples with precomputed lengths, as `example_lengths` reads them."""

    def __init__(self, lengths: list[int]) -> None:
        super().__init__(range(len(lengths)))
        self.lengths = lengths


@pytest.mark.parametrize(("noise", "vocab_size", "said"), [(0.1, 7, True), (0.1, None, False), (0.0, 7, False)])
def test_input_noise_on_tokens_is_said_unused(noise: float, vocab_size: int | None, said: bool) -> None:
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from seqtrain.run import unused_input_noise

    line = unused_input_noise(OmegaConf.create({"model": {"input_noise": noise}}), SimpleNamespace(vocab_size=vocab_size))
    assert (line is not None) == said
    if said:
        assert line.startswith(f"model.input_noise={noise}: not used") and "token ids" in line


@pytest.mark.parametrize(("overrides", "batches", "total"), [
    (["trainer.max_epochs=10", "scheduler.scheduler.T_max=5"], 7, 10),  # epochs
    (["trainer.max_epochs=10"], 7, None),  # T_max: ${trainer.max_epochs}
    (["trainer.max_epochs=3", "scheduler.interval=step", "scheduler.scheduler.T_max=100"], 50, 150),  # batches
    (["trainer.max_epochs=3", "scheduler.interval=step", "scheduler.scheduler.T_max=100", "trainer.max_steps=120"], 50, 120),
    (["trainer.max_epochs=3", "scheduler.interval=step", "scheduler.scheduler.T_max=100",
      "trainer.accumulate_grad_batches=2"], 50, None),  # 75 optimizer steps
    (["trainer.max_epochs=3", "scheduler.interval=step", "scheduler.scheduler.T_max=100"], None, None),  # no length
])
def test_a_cosine_schedule_shorter_than_the_run_is_said_to_rise_again(compose_train, overrides: list[str],  # noqa: ANN001
                                                                     batches: int | None, total: int | None) -> None:
    """torch's CosineAnnealingLR stepped past T_max climbs back up (the truth); the run warns when T_max is below the
    steps it will take, counted in the scheduler's interval."""
    import torch

    from seqtrain.run import cosine_rises_again

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=5)
    lrs = [schedule.step() or optimizer.param_groups[0]["lr"] for _ in range(10)]
    assert lrs[4] == pytest.approx(0.0, abs=1e-12) and lrs[-1] > 0.9  # minimum at T_max, then up again

    line = cosine_rises_again(compose_train("scheduler=cosine", *overrides), batches)
    if total is None:
        assert line is None, line
    else:
        assert line is not None and f"below the run's {total} " in line and "rises again" in line, line
        assert f"set scheduler.scheduler.T_max={total}" in line


def test_time_column_added_later_is_no_change_when_null() -> None:
    """A forecast run saved before `data.time_column` read every column as then: null continues it; `auto` may leave
    a row-index column out of the inputs, so it is a change a resume refuses (naming the key)."""
    saved = {"data": {"window": 24}}
    assert config_changes(saved, {"data": {"window": 24, "time_column": None}}) == ({}, {})
    assert config_changes(saved, {"data": {"window": 24, "time_column": "auto"}}) == ({}, {"data.time_column": (None, "auto")})


@pytest.mark.parametrize(("rate", "vocab_size", "said"), [(0.5, None, True), (0.5, 7, False), (0.0, None, False)])
def test_embedding_dropout_with_real_valued_inputs_is_said_unused(rate: float, vocab_size: int | None, said: bool) -> None:
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from seqtrain.run import unused_embedding_dropout

    line = unused_embedding_dropout(OmegaConf.create({"model": {"embedding_dropout": rate}}), SimpleNamespace(vocab_size=vocab_size))
    assert (line is not None) == said
    if said:
        assert line.startswith(f"model.embedding_dropout={rate}: not used") and "real-valued" in line


@pytest.mark.parametrize(("saved_model", "kept"), [({"cell": "gru", "patch_size": 6}, 6), ({"cell": "gru"}, 1)])
def test_a_resume_with_auto_keeps_the_checkpoints_patch_size(saved_model: dict, kept: int) -> None:
    """`auto` on resume is the checkpoint's number (1 for a run made before patching existed), in the config the
    resume check compares and in the one the model is built from."""
    from omegaconf import OmegaConf

    from seqtrain.run import keep_saved_patch_size

    cfg = OmegaConf.create({"model": {"cell": "gru", "patch_size": "auto"}})
    config = OmegaConf.to_container(cfg)
    line = keep_saved_patch_size(cfg, config, {"model": saved_model})
    assert line == f"model.patch_size=auto: {kept}, as chosen by the run being resumed"
    assert cfg.model.patch_size == config["model"]["patch_size"] == kept
    assert config_changes({"model": saved_model}, config) == ({}, {})
    assert keep_saved_patch_size(cfg, config, {"model": saved_model}) is None  # a number already: nothing to say


def test_fingerprints_name_added_removed_and_edited_files(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("x\n1\n")
    before = data_fingerprints({"train_files": str(tmp_path / "*.csv"), "val_files": None})
    (tmp_path / "a.csv").write_text("x\n2\n")
    (tmp_path / "b.csv").unlink()
    (tmp_path / "c.csv").write_text("x\n3\n")
    lines = fingerprint_changes(before, data_fingerprints({"train_files": str(tmp_path / "*.csv")}))
    assert [line.split(": ", 1)[1].replace(str(tmp_path) + "/", "").split(" (")[0] for line in lines] == [
        "a.csv has changed", "b.csv is gone", "c.csv is new"]


def test_a_relative_data_path_not_found_says_where_it_was_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluating a run trained with `data.train_files=data/train.csv` from another folder: the file is not "gone"."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x\n1\n")
    monkeypatch.chdir(tmp_path)
    saved = data_fingerprints({"train_files": "data/train.csv"})
    monkeypatch.chdir(tmp_path / "data")
    assert fingerprint_changes(saved, data_fingerprints({"train_files": "data/train.csv"})) == [
        f"data.train_files: data/train.csv is not in {tmp_path / 'data'} (a relative path: run the command from the "
        "folder train.py ran in)"]


def test_read_only_checkpoint_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints").chmod(0o500)
    try:
        if os.access(tmp_path / "checkpoints", os.W_OK):
            pytest.skip("this user writes anywhere (root ignores permission bits)")
        with pytest.raises(RunDirectoryError, match="not writable"):
            check_run_directory(tmp_path, None, overwrite=False)
    finally:
        (tmp_path / "checkpoints").chmod(0o700)


def test_paths_are_stored_relative_to_the_run(tmp_path: Path) -> None:
    assert relative_to_run(tmp_path / "checkpoints" / "best.ckpt", tmp_path) == "checkpoints/best.ckpt"
    assert relative_to_run("/elsewhere/x.ckpt", tmp_path) == "/elsewhere/x.ckpt"


def test_last_is_the_newest_of_last_and_a_slurm_requeue_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from seqtrain.run import resolve_checkpoint

    (tmp_path / "checkpoints").mkdir()
    torch.save({"global_step": 40}, tmp_path / "checkpoints" / "last.ckpt")
    assert resolve_checkpoint("last", tmp_path) == str(tmp_path / "checkpoints" / "last.ckpt")
    torch.save({"global_step": 55}, tmp_path / "hpc_ckpt_1.ckpt")  # Lightning's, on SLURM's SIGUSR1
    assert resolve_checkpoint("last", tmp_path) == str(tmp_path / "hpc_ckpt_1.ckpt")
    assert resolve_checkpoint(None, tmp_path) is None
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # a requeued job resumes by itself
    assert resolve_checkpoint(None, tmp_path) == str(tmp_path / "hpc_ckpt_1.ckpt")
    check_run_directory(tmp_path, str(tmp_path / "hpc_ckpt_1.ckpt"), overwrite=False)  # its own run: allowed
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resolve_checkpoint("last", tmp_path / "elsewhere")
    with pytest.raises(CheckpointError, match=f"is a folder; .* hydra.run.dir={tmp_path} ckpt_path=last"):
        resolve_checkpoint(str(tmp_path), tmp_path / "elsewhere")  # a run directory given as the checkpoint
    with pytest.raises(CheckpointError, match=f"hydra.run.dir={tmp_path} ckpt_path=last"):
        resolve_checkpoint(str(tmp_path / "checkpoints"), tmp_path / "elsewhere")  # its checkpoints/ folder: the run


def test_a_checkpoint_from_before_exact_resume_is_refused_clearly() -> None:
    from seqtrain.resume_checks import check_resume

    with pytest.raises(ValueError, match="written by an older seqtrain"):
        check_resume({"config": {"seed": 1}, "facts": {}}, {"seed": 1}, {}, "old.ckpt")
