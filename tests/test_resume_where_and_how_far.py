"""A run directory moved or copied whole resumes from its new place; its checkpoints' bookkeeping follows it.
A resume whose limits lie behind its checkpoint is refused before data is read."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

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
