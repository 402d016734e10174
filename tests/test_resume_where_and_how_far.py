"""A run directory moved or copied whole resumes from its new place; its checkpoints' bookkeeping follows it.
A resume whose limits lie behind its checkpoint is refused before data is read."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import run_train
from seqtrain.resume import follow_moved_run
from seqtrain.resume_checks import ResumeError, check_progress, check_resume, config_changes, run_moved


def config(run: Path, **extra: str) -> dict:
    return {"paths": {"output_dir": str(run)}, "callbacks": {"model_checkpoint": {"dirpath": str(run / "checkpoints")}},
            "data": {"cache_dir": None, **extra}}


def test_paths_inside_the_moved_run_are_applied_and_others_refused(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (new / "checkpoints").mkdir(parents=True)
    ckpt = new / "checkpoints" / "last.ckpt"
    assert run_moved(config(old), config(new), str(ckpt)) == (str(old), str(new))
    applied, refused = config_changes(config(old), config(new), run_moved(config(old), config(new), str(ckpt)))
    assert "callbacks.model_checkpoint.dirpath" in applied and not refused
    # A path that is not the same place inside the run is still a change of what the run does.
    elsewhere = config(new)
    elsewhere["callbacks"]["model_checkpoint"]["dirpath"] = str(new / "other")
    assert "callbacks.model_checkpoint.dirpath" in config_changes(config(old), elsewhere, (str(old), str(new)))[1]
    # Another run's checkpoint resumed into a new directory is not a move: refused, naming the key.
    outside = tmp_path / "old" / "checkpoints" / "last.ckpt"
    assert run_moved(config(old), config(new), str(outside)) is None
    with pytest.raises(ResumeError, match="callbacks.model_checkpoint.dirpath"):
        check_resume({"config": config(old), "data_fingerprints": {}}, config(new), {}, str(outside))


def test_the_best_checkpoint_score_survives_the_move(tmp_path: Path) -> None:
    old, new = tmp_path / "old" / "checkpoints", tmp_path / "new" / "checkpoints"
    before = ModelCheckpoint(dirpath=old, filename="best", monitor="val/loss", save_top_k=1)
    before.best_model_score, before.best_model_path = torch.tensor(0.25), str(old / "best.ckpt")
    before.best_k_models, before.kth_best_model_path = {str(old / "best.ckpt"): torch.tensor(0.25)}, str(old / "best.ckpt")
    state = before.state_dict()

    # Lightning alone drops the score for a changed dirpath: the next validation would replace best.ckpt.
    plain = ModelCheckpoint(dirpath=new, filename="best", monitor="val/loss", save_top_k=1)
    with pytest.warns(UserWarning, match="dirpath has changed"):
        plain.load_state_dict(dict(state))
    assert plain.best_model_score is None

    after = ModelCheckpoint(dirpath=new, filename="best", monitor="val/loss", save_top_k=1)
    checkpoint = {"callbacks": {after.state_key: dict(state)}}
    follow_moved_run(SimpleNamespace(callbacks=[after]), checkpoint)
    after.load_state_dict(checkpoint["callbacks"][after.state_key])
    assert after.best_model_score == pytest.approx(0.25)
    assert after.best_model_path == str(new / "best.ckpt") and list(after.best_k_models) == [str(new / "best.ckpt")]


@pytest.mark.parametrize(("trainer", "refused"), [
    ({"max_epochs": 1, "max_steps": -1}, "trainer.max_epochs=1, but the checkpoint's run has already trained 2 epochs"),
    ({"max_epochs": -1, "max_steps": 10}, "trainer.max_steps=10, but the checkpoint's run has already taken 14 optimizer steps"),
    ({"max_epochs": 2, "max_steps": -1}, None),  # the run as it finished: nothing more to train, it is evaluated again
    ({"max_epochs": 5, "max_steps": 14}, None),
    ({"max_epochs": None, "max_steps": -1}, None),
])
def test_a_resume_behind_the_checkpoint_is_refused_before_data_is_read(trainer: dict, refused: str | None) -> None:
    checkpoint = {"epoch": 2, "global_step": 14}
    if refused is None:
        check_progress(checkpoint, trainer, "run/checkpoints/last.ckpt")
    else:
        with pytest.raises(ResumeError, match=re.escape(refused)):
            check_progress(checkpoint, trainer, "run/checkpoints/last.ckpt")


def test_another_runs_checkpoint_is_refused_saying_where_its_run_is(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    with pytest.raises(ResumeError) as error:
        check_resume({"config": config(old), "data_fingerprints": {}}, config(new), {}, str(old / "checkpoints" / "last.ckpt"))
    assert f"The checkpoint belongs to the run in {old}: resume it there (hydra.run.dir={old} ckpt_path=last)" in str(error.value)


def test_last_missing_beside_other_checkpoints_names_them(tmp_path: Path) -> None:
    from seqtrain.checkpoint import CheckpointError
    from seqtrain.run import resolve_checkpoint

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "best.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*last.ckpt \(this run directory holds only best.ckpt"):
        resolve_checkpoint("last", tmp_path)


@pytest.mark.parametrize(("holder", "history", "refused"), [
    ("old", None, False),  # the run directory copied whole: its config.yaml names where the run was
    ("new", None, False),  # resumed here once already (config.yaml rewritten), no checkpoint since
    ("other", None, True),  # another run's last.ckpt copied into this run's directory
    ("other", "old", False),  # ... unless this directory's run was resumed from the checkpoint's place before
])
def test_a_checkpoint_copied_in_from_another_run_is_not_a_move(tmp_path: Path, holder: str, history: str | None,
                                                                refused: bool) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    (new / "checkpoints").mkdir(parents=True)
    (new / "config.yaml").write_text(f"paths:\n  output_dir: {tmp_path / holder}\nseed: 42\n")
    if history is not None:
        (new / "resumes.jsonl").write_text('{"applied": {"paths.output_dir": ["%s", "%s"]}}\n' % (tmp_path / history, new))
    saved = {"config": config(old), "data_fingerprints": {}}
    ckpt = str(new / "checkpoints" / "last.ckpt")
    if refused:
        with pytest.raises(ResumeError, match=f"written by the run in {old}.*holds the run started in {tmp_path / 'other'}"):
            check_resume(saved, config(new), {}, ckpt)
    else:
        assert "callbacks.model_checkpoint.dirpath" in check_resume(saved, config(new), {}, ckpt)


def test_a_run_early_stopping_ended_is_finished_for_a_resume(tmp_path: Path) -> None:
    """Lightning restores EarlyStopping's counters but not its decision: resumed with the same command, the run
    trained on (and replaced best.ckpt and its test results). Now it trains nothing more and is evaluated again."""
    import json

    run = tmp_path / "run"
    # min_delta 10: no validation after the first improves enough, so patience 1 ends the run after 2 of 30 epochs.
    args = ["~experiment", "data=vowels", "model=gru", "model.hidden_size=8", "trainer.max_epochs=30", "logger=none",
            "callbacks=early_stopping", "callbacks.early_stopping.patience=1", "+callbacks.early_stopping.min_delta=10",
            "sample_length=0", f"hydra.run.dir={run}"]
    proc = run_train(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] < 29  # stopped early
    before = json.loads((run / "metrics.json").read_text())
    best_bytes = (run / "checkpoints" / "best.ckpt").read_bytes()
    proc = run_train(*args, "ckpt_path=last")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ended by early stopping at epoch" in proc.stdout + proc.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == last["global_step"]
    assert (run / "checkpoints" / "best.ckpt").read_bytes() == best_bytes
    after = json.loads((run / "metrics.json").read_text())
    assert after["test"] == before["test"] and after["status"] == "completed"


def test_the_resume_command_a_sigterm_prints_runs_as_printed(compose_train, tmp_path: Path) -> None:
    """Each override is shell-quoted: a value with a space (a column name) was cut in two by the shell."""
    import json
    import shlex

    from seqtrain.run import record_interruption

    overrides = ["data=table", "data.sequence_column=my seq", "data.target_column=the label"]
    compose_train(*overrides)
    trainer = SimpleNamespace(global_step=7, current_epoch=1, is_global_zero=True)
    message = record_interruption(tmp_path, trainer)
    command = json.loads((tmp_path / "metrics.json").read_text())["resume"]
    assert command in message
    argv = shlex.split(command)
    assert argv[:2] == ["python", "train.py"] and argv[-2:] == ["ckpt_path=last", f"hydra.run.dir={tmp_path}"]
    assert [a for a in argv if a in overrides] == overrides


@pytest.mark.parametrize("stage", [pytest.param("validate", marks=pytest.mark.slow), "test"])  # ~30 s each: one by default
def test_a_sigterm_after_training_exits_143_and_the_resume_evaluates_without_training(tmp_path: Path, stage: str) -> None:
    """SIGTERM while the best checkpoint is validated or tested after fit: Lightning raises its SIGTERMException, a
    SystemExit with no code, so the run exited 0 with no metrics.json. Now it exits 143 and says how to evaluate the
    finished run; the printed command trains nothing more and writes the results an uninterrupted run writes."""
    import json
    import shlex
    import signal
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from user_files import write_csv

    rows = [{"sequence": " ".join(f"{(c - 1) * t / 8 + (i % 5) / 10:.2f}" for t in range(8)), "label": f"c{c}"}
            for i in range(60) for c in [i % 3]]
    train, test = write_csv(tmp_path / "train.csv", rows[:40]), write_csv(tmp_path / "test.csv", rows[40:])
    # A validation carve-out (the small-set rule has none), batches of 4: the signal comes before the last batch.
    args = ["data=table", f"data.train_files={train}", f"data.test_files={test}", "data.val_fraction=0.25",
            "data.batch_size=4", "trainer.max_epochs=2", "logger=csv", "callbacks.progress_bar.refresh_rate=0"]
    whole = run_train(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    signals = str(Path(__file__).parent / "data")
    stopped = tmp_path / "stopped"
    proc = run_train(*args, "+callbacks.sigterm._target_=signals.SigtermAt", f"+callbacks.sigterm.stage={stage}",
                     f"hydra.run.dir={stopped}", env={"PYTHONPATH": signals, "SIGTERM_AT_FIRST_BATCH": "1"})
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    doing = {"validate": "validating", "test": "testing"}[stage]
    assert f"stopped by SIGTERM while {doing} the best checkpoint" in proc.stderr
    metrics = json.loads((stopped / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["interrupted_while"] == doing
    step = torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["global_step"]
    # The printed command, as printed (the callback stays, unarmed: a scheduler's requeue sends no signal).
    argv = shlex.split(metrics["resume"])
    assert argv[:2] == ["python", "train.py"] and "ckpt_path=last" in argv
    resumed = run_train(*argv[2:], env={"PYTHONPATH": signals})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["global_step"] == step
    done, expected = json.loads((stopped / "metrics.json").read_text()), json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert done["status"] == "completed" and done["test"] == expected["test"] and done["val"] == expected["val"]
