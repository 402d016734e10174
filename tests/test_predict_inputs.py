"""New rows read for a trained model by the datamodule's own code: cut, unseen labels and metrics as in the run."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from conftest import ROOT
from seqtrain.data import TableDataModule
from seqtrain.models import SequenceModel
from seqtrain.predict import Predictor
from seqtrain.task import SequenceTask

sys.path.insert(0, str(ROOT / "tests" / "data"))
from user_files import sentiment_rows, write_csv  # noqa: E402


@pytest.mark.parametrize("policy", ["ignore", "error"])
def test_cut_rows_and_unseen_labels_predict_per_row_and_score_like_the_test_split(tmp_path: Path, policy: str,
                                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """`policy`: the run's data.unseen_labels. A run that refuses unseen test labels still predicts a new file's
    every row, leaves the unseen label out of the metrics (as `ignore` does) and says which row held it."""
    train = sentiment_rows(60, seed=0)
    test = sentiment_rows(20, seed=3) + [{"text": "a good day for a long walk", "label": "meh"}]  # a label unseen in training
    write_csv(tmp_path / "train.csv", train)
    write_csv(tmp_path / "test.csv", test)
    options = {"train_files": str(tmp_path / "train.csv"), "test_files": str(tmp_path / "test.csv"), "sequence_column": "text",
               "tokenizer": "word", "max_length": 3, "overflow": "split", "unseen_labels": "ignore",
               "cache_dir": str(tmp_path / "hf_cache"), "batch_size": 4}
    run = TableDataModule(**options)
    run.setup()
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, **run.facts.model_kwargs()).eval()
    task = SequenceTask(model, task="classification", num_outputs=run.facts.num_outputs)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    expected = trainer.test(task, datamodule=run, verbose=False)[0]  # what the run reports as test/...

    fresh = TableDataModule(**{**options, "unseen_labels": policy})  # as from a checkpoint: the fitted state, nothing refitted
    fresh.load_state_dict(run.state_dict())
    with caplog.at_level("WARNING", logger="seqtrain.predict_inputs"):
        predictions = Predictor(model, fresh, run.facts).predict(str(tmp_path / "test.csv"), progress=False)
    assert f"1 row holds labels not seen in training ('meh'; first: {tmp_path / 'test.csv'}, row 21, 'meh')" in caplog.text
    assert predictions.metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert predictions.metrics[key] == pytest.approx(value, rel=1e-6), key
    table = predictions.table
    assert table["row"].tolist() == list(range(len(test)))  # every row, the unseen label's too
    # A row cut into pieces of max_length words: the mean of its pieces' logits, by hand.
    words = test[-1]["text"].split()
    ids = torch.tensor(run.tokenizer.encode(words))
    with torch.no_grad():
        logits = torch.stack([model(ids[None, start : start + 3])[0][0] for start in range(0, len(ids), 3)]).mean(0)
    assert table["prob_pos"].iloc[-1] == pytest.approx(float(logits.softmax(-1)[1]), rel=1e-5)
