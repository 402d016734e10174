"""The Python API: the README's "From Python" block runs as it stands, and its checkpoint works with the
scripts (evaluate, generate, predict), weights-only loading and an exact resume, like a `train.py` run's."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT

README_BLOCK = re.compile(r"<!-- python-api -->\n```python\n(.*?)```", re.S)
CHECKPOINT = "python_run/checkpoints/last.ckpt"


def readme_snippet() -> str:
    match = README_BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README.md has no <!-- python-api --> python block"
    return match.group(1)


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def snippet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The README block, run as it stands (its working directory a temporary one); its printed test loss."""
    folder = tmp_path_factory.mktemp("python_api")
    proc = run_python(readme_snippet(), folder)
    loss, decoded = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert decoded == "ROMEO"
    return folder, float(loss)


def test_the_checkpoint_loads_weights_only_and_says_how_to_rebuild(snippet_run: tuple[Path, float]) -> None:
    folder, _ = snippet_run
    checkpoint = torch.load(folder / CHECKPOINT, weights_only=True)
    meta = checkpoint["seqtrain"]
    given = {"_target_": "seqtrain.data.text.TextDataModule", "stateful": True, "max_chars": 20_000, "seq_len": 32,
             "batch_size": 16, "seed": 0}
    assert meta["config"]["data"].items() >= given.items()  # with the defaults of the class's own arguments
    assert meta["config"]["model"]["_target_"] == "seqtrain.models.sequence_model.SequenceModel"
    assert (meta["config"]["model"]["cell"], meta["config"]["model"]["hidden_size"]) == ("gru", 32)
    assert meta["facts"]["task"] == "language_modeling"
    assert checkpoint["epoch"] == 3  # 2 epochs, then resumed for a third (the count of epochs done)


def test_evaluate_script_measures_what_the_run_measured(snippet_run: tuple[Path, float]) -> None:
    folder, loss = snippet_run
    proc = script("evaluate.py", CHECKPOINT, cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["test/loss"] == pytest.approx(loss, rel=1e-6)


def test_generate_script_continues_the_prompt(snippet_run: tuple[Path, float]) -> None:
    folder, _ = snippet_run
    proc = script("generate.py", CHECKPOINT, "--prompt", "ROMEO:", "--length", "40", "--seed", "1", cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout.removesuffix("\n")
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40


def test_predict_script_scores_new_text(snippet_run: tuple[Path, float]) -> None:
    folder, _ = snippet_run
    (folder / "new.txt").write_text("To be, or not to be\nthat is the question\nWhether 'tis nobler\n")
    proc = script("predict.py", CHECKPOINT, "--files", "new.txt", "--out", "scores.csv", cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    table = pd.read_csv(folder / "scores.csv")
    assert len(table) == 3 and table["loss"].notna().all() and (table["ppl"] > 1).all()


def test_load_from_checkpoint_gives_the_trained_weights(snippet_run: tuple[Path, float]) -> None:
    from seqtrain.checkpoint import load_task
    from seqtrain.task import SequenceTask

    folder, _ = snippet_run
    saved = torch.load(folder / CHECKPOINT, weights_only=True)["state_dict"]
    for task in (SequenceTask.load_from_checkpoint(folder / CHECKPOINT), load_task(folder / CHECKPOINT)[0]):
        assert not task.training
        weights = task.model.state_dict()
        assert weights.keys() == {k.removeprefix("model.") for k in saved if k.startswith("model.")}
        assert all(torch.equal(weights[k.removeprefix("model.")], v) for k, v in saved.items() if k.startswith("model."))


@pytest.mark.slow  # ~20 s; the CI suite is at its 10-minute budget
def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """The README block with dropout between two layers (so the random streams must come back too): trained
    2 epochs and resumed to 3 it ends bitwise where 3 epochs in one go end."""
    code = readme_snippet().replace("hidden_size=32,", "hidden_size=32, num_layers=2, dropout=0.5,")
    assert "dropout=0.5" in code
    resumed = code.split("\n# Elsewhere")[0]
    whole = code.split("\n# More epochs later")[0].replace("max_epochs=2", "max_epochs=3")
    assert "max_epochs=3" in whole and "ckpt_path" not in whole
    (tmp_path / "resumed").mkdir()
    (tmp_path / "whole").mkdir()
    run_python(resumed, tmp_path / "resumed")
    run_python(whole, tmp_path / "whole")
    a = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)
    b = torch.load(tmp_path / "whole" / CHECKPOINT, weights_only=True)
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) and a["global_step"] > 0
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for x, y in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values(), strict=True):
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_what_cannot_be_recorded_is_said_at_fit_and_refused_at_load(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Trained on bare dataloaders (no datamodule to rebuild): one warning at fit start, and the checkpoint is
    refused by name when loaded, not with a KeyError."""
    import functools

    import lightning.pytorch as pl

    from seqtrain.checkpoint import CheckpointError, load_checkpoint
    from seqtrain.data import ParityDataModule
    from seqtrain.models import SequenceModel
    from seqtrain.task import SequenceTask

    data = ParityDataModule(seq_len=8, num_train=64, num_val=16, num_test=16, batch_size=16)
    data.setup("fit")
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, **data.facts.model_kwargs())
    task = SequenceTask(model, task=data.facts.task, num_outputs=data.facts.num_outputs,
                        optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    with caplog.at_level(logging.WARNING, logger="seqtrain.task"):
        trainer.fit(task, train_dataloaders=data.train_dataloader())
    assert "trained on dataloaders, not a datamodule" in caplog.text
    trainer.save_checkpoint(tmp_path / "bare.ckpt")
    with pytest.raises(CheckpointError, match="without seqtrain's run metadata.*trained without a seqtrain datamodule"):
        load_checkpoint(tmp_path / "bare.ckpt")


def test_a_model_built_for_other_data_is_named(tmp_path: Path) -> None:
    from seqtrain.checkpoint import CheckpointError, run_metadata
    from seqtrain.data import ParityDataModule
    from seqtrain.models import SequenceModel

    data = ParityDataModule(seq_len=8, num_train=32, num_val=8, num_test=8, seed=1)
    data.setup("fit")
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, **{**data.facts.model_kwargs(), "num_outputs": 5})
    with pytest.raises(CheckpointError, match=r"num_outputs=5 \(the data's: 2\)"):
        run_metadata(model, data)
    ok = run_metadata(SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, **data.facts.model_kwargs()), data)
    assert ok["config"]["data"] == {"_target_": "seqtrain.data.synthetic.ParityDataModule", "seq_len": 8, "min_len": None,
                                    "per_step": False, "num_train": 32, "num_val": 8, "num_test": 8, "seed": 1}
