"""callbacks.weight_average: the mean (or moving average) of the weights at the ends of the last epochs, checked
against the weights recorded at each epoch's end by a callback of the test's own."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")

from seqtrain.last_checkpoint import LastCheckpoint  # noqa: E402
from seqtrain.weight_average import WeightAverage  # noqa: E402

EPOCHS = 6


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.validated: list[torch.Tensor] = []  # the weights each validation ran with

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        if batch_idx == 0:
            self.validated.append(self.layer.weight.detach().clone())
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("val/loss", loss)
        return loss

    def test_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        self.log("tested", self.layer.weight.sum())

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Record(pl.Callback):
    """The trained weights at each epoch's end, whatever the averaging does with them."""

    def __init__(self) -> None:
        self.ends: list[torch.Tensor] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        self.ends.append(pl_module.layer.weight.detach().clone())


def loader() -> torch.utils.data.DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3 * torch.randn(32, 1, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def fit(tmp_path: Path, average: WeightAverage, epochs: int = EPOCHS, ckpt_path: str | None = None,
        record: Record | None = None, max_steps: int = -1) -> tuple[pl.Trainer, Tiny]:
    torch.manual_seed(0)
    module = Tiny()
    every_epoch = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1)
    callbacks = [average, LastCheckpoint(str(tmp_path), every_n_train_steps=None), every_epoch, *([record] if record else [])]
    trainer = pl.Trainer(max_epochs=epochs, max_steps=max_steps, callbacks=callbacks,
                         logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         num_sanity_val_steps=0)
    trainer.fit(module, train_dataloaders=loader(), val_dataloaders=loader(), ckpt_path=ckpt_path, weights_only=False)
    return trainer, module


@pytest.mark.parametrize("decay", [None, 0.5])
def test_the_average_of_the_epoch_ends_from_start_on_is_validated_saved_and_tested(tmp_path: Path,
                                                                                 decay: float | None) -> None:
    record = Record()
    trainer, module = fit(tmp_path, WeightAverage(start=0.5, decay=decay), record=record)
    ends = record.ends
    first = EPOCHS // 2  # epochs 3, 4, 5 (from 0) are averaged
    expected = []
    for epoch in range(EPOCHS):
        if epoch < first:
            expected.append(ends[epoch])  # nothing averaged yet: validation sees the trained weights
        elif decay is None:
            expected.append(torch.stack(ends[first:epoch + 1]).mean(0))
        else:
            ema = ends[first]
            for end in ends[first + 1:epoch + 1]:
                ema = decay * ema + (1 - decay) * end
            expected.append(ema)
    assert len(module.validated) == EPOCHS
    for epoch, (seen, want) in enumerate(zip(module.validated, expected)):
        assert torch.allclose(seen, want, atol=1e-6), epoch
    assert not torch.allclose(expected[-1], ends[-1])  # the average is not the last weights
    assert torch.allclose(module.layer.weight, expected[-1], atol=1e-6)  # after fit: the average

    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert torch.allclose(saved["state_dict"]["layer.weight"], expected[-1], atol=1e-6)
    assert torch.allclose(saved["current_model_state"]["layer.weight"], ends[-1], atol=1e-6)  # for resuming
    tested = trainer.test(module, dataloaders=loader(), ckpt_path=str(tmp_path / "last.ckpt"), verbose=False,
                          weights_only=True)[0]["tested"]
    assert tested == pytest.approx(float(expected[-1].sum()), abs=1e-5)  # the averaged weights, not the trained ones


def test_checkpoints_hold_the_average_once_there_is_one(tmp_path: Path) -> None:
    """Each epoch's checkpoint holds what was validated then; validating or testing one after fit uses its weights."""
    record = Record()
    trainer, module = fit(tmp_path, WeightAverage(start=0.5), epochs=4, record=record)  # epochs 2 and 3 are averaged
    for epoch in range(4):
        path = tmp_path / f"epoch={epoch}.ckpt"
        saved = torch.load(path, weights_only=True)
        want = record.ends[epoch] if epoch < 2 else torch.stack(record.ends[2:epoch + 1]).mean(0)
        assert torch.allclose(saved["state_dict"]["layer.weight"], want, atol=1e-6), epoch
        assert ("averaging_state" in saved) == (epoch >= 2), epoch
        trainer.validate(module, dataloaders=loader(), ckpt_path=str(path), verbose=False, weights_only=True)
        assert torch.allclose(module.validated[-1], want, atol=1e-6), epoch
        tested = trainer.test(module, dataloaders=loader(), ckpt_path=str(path), verbose=False, weights_only=True)
        assert tested[0]["tested"] == pytest.approx(float(want.sum()), abs=1e-5), epoch


def test_resuming_gives_the_uninterrupted_runs_average(tmp_path: Path) -> None:
    _, whole = fit(tmp_path / "whole", WeightAverage(start=0.3))
    fit(tmp_path / "part", WeightAverage(start=0.3), epochs=4)  # finished after 4 epochs, 3 of them averaged
    saved = torch.load(tmp_path / "part" / "last.ckpt", weights_only=True)  # written at the end of fit
    assert int(saved["averaging_state"]["n_averaged"]) == 3
    _, resumed = fit(tmp_path / "part", WeightAverage(start=0.3), ckpt_path=str(tmp_path / "part" / "last.ckpt"))
    assert torch.allclose(resumed.layer.weight, whole.layer.weight, atol=1e-6)
    assert torch.allclose(resumed.layer.bias, whole.layer.bias, atol=1e-6)


def test_a_resume_with_more_epochs_goes_on_averaging_every_epoch(tmp_path: Path) -> None:
    """4 epochs with start=0.5 average epochs 2 and 3; extended to 10 epochs, start=0.5 would begin at epoch 5. The
    average goes on from epoch 4: the mean of epoch ends 2..9, one tail (before, epoch 4 was left out of it)."""
    first, rest = Record(), Record()
    fit(tmp_path, WeightAverage(start=0.5), epochs=4, record=first)
    _, module = fit(tmp_path, WeightAverage(start=0.5), epochs=10, ckpt_path=str(tmp_path / "last.ckpt"), record=rest)
    ends = first.ends + rest.ends
    assert len(ends) == 10
    assert torch.allclose(module.layer.weight, torch.stack(ends[2:]).mean(0), atol=1e-6)


def test_a_fit_that_ends_before_start_says_nothing_was_averaged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """max_steps (or early stopping, or max_time) ends the fit after 2 of 10 epochs, before start=0.5's epoch 5: the
    run says that its results are the trained weights, not an average."""
    record = Record()
    with caplog.at_level("WARNING", logger="seqtrain.weight_average"):
        _, module = fit(tmp_path, WeightAverage(start=0.5), epochs=10, max_steps=8, record=record)  # 4 batches an epoch
    assert len(record.ends) == 2 and torch.equal(module.layer.weight, record.ends[-1])  # the trained weights
    assert "no epoch was averaged" in caplog.text and "before epoch 5" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="seqtrain.weight_average"):
        fit(tmp_path / "whole", WeightAverage(start=0.5), epochs=4)
    assert "no epoch was averaged" not in caplog.text


@pytest.mark.parametrize(("start", "decay", "named"), [(1.0, None, "start=1.0"), (-0.1, None, "start=-0.1"),
                                                        (0.5, 1.0, "decay=1.0"), (0.5, 0.0, "decay=0.0")])
def test_out_of_range_settings_are_refused(start: float, decay: float | None, named: str) -> None:
    with pytest.raises(ValueError, match=f"callbacks.weight_average.{named}"):
        WeightAverage(start=start, decay=decay)


@pytest.mark.slow  # end to end, ~26 s; the callback's own tests run by default; kept out of the default run (under ~10 min on 2 cores)
def test_a_run_with_averaged_weights_tests_evaluates_and_resumes_them(tmp_path: Path) -> None:
    """Through train.py: the test metrics are the averaged weights' (evaluation from the run directory alone gives
    the same numbers), and the run extended by `ckpt_path=last` goes on from the trained weights."""
    import json
    import sys

    from conftest import run_train

    from seqtrain.run import evaluate

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from user_files import sentiment_rows, write_csv

    train = write_csv(tmp_path / "train.csv", sentiment_rows(60))
    run_dir = tmp_path / "run"
    args = ["~experiment", "data=table", f"data.train_files={train}", "data.sequence_column=text", "model.hidden_size=8",
            "logger=none", "trainer.accelerator=cpu", "+callbacks.weight_average._target_=seqtrain.weight_average.WeightAverage",
            "+callbacks.weight_average.start=0.5", "~callbacks.early_stopping", f"hydra.run.dir={run_dir}"]
    proc = run_train(*args, "trainer.max_epochs=4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert int(saved["averaging_state"]["n_averaged"]) == 2  # epochs 2 and 3
    name = next(k for k in saved["state_dict"] if k.endswith("weight_ih_l0"))
    assert not torch.equal(saved["state_dict"][name], saved["current_model_state"][name])
    measured = evaluate(run_dir)
    for key, value in json.loads((run_dir / "metrics.json").read_text())["test"].items():
        assert measured[key] == pytest.approx(value, rel=1e-5), key
    proc = run_train(*args, "trainer.max_epochs=5", "ckpt_path=last")  # one more epoch, averaged with the others
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["averaging_state"]["n_averaged"]) == 3
