"""Test-time reports, for looking rather than reading: written to `<run dir>/reports/` and logged to wandb.

- classification and tagging: the confusion matrix and per-class precision, recall, F1 and
  support (torchmetrics), as CSV and a PNG heat map;
- regression: predicted against actual (CSV, PNG scatter); forecasting also a forecast plot over
  the test window (the one-step-ahead forecast of each test window against the series);
- language models: nothing here (the run prints a sample).

A callback that acts in `trainer.test` only, so training is not slowed. It runs the model once
more on each test batch (evaluation mode, no gradients) rather than asking the task for its
predictions, so it depends on nothing but the batch contract. Under DDP each rank sees its own
share of the test split; the metrics are reduced and the regression pairs gathered across ranks,
and rank 0 writes the report.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from seqtrain.batch import IGNORE_INDEX, Batch

log = logging.getLogger(__name__)


class TestReports(pl.Callback):
    """Collects test predictions batch by batch, then writes the reports for the run's task kind.

    Args:
        dirname: the reports' folder inside the run directory (`trainer.default_root_dir`).
        max_classes_drawn: larger confusion matrices are written as CSV only (a PNG would be unreadable).
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, dirname: str = "reports", max_classes_drawn: int = 50) -> None:
        self.dirname = dirname
        self.max_classes_drawn = max_classes_drawn
        self._metrics: Any = None
        self._facts: Any = None
        self._pairs: list[tuple[Tensor, Tensor]] = []  # regression: (predicted, actual) in the data's units

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pairs = []
        self._metrics = None
        self._facts = trainer.datamodule.facts if getattr(trainer, "datamodule", None) is not None else None
        if self._facts is None:  # test loaders given without a datamodule: no facts, no report
            return
        if self._facts.task in ("classification", "tagging"):
            from torchmetrics import MetricCollection
            from torchmetrics.classification import (
                MulticlassConfusionMatrix,
                MulticlassF1Score,
                MulticlassPrecision,
                MulticlassRecall,
            )

            common = {"num_classes": self._facts.num_outputs, "ignore_index": IGNORE_INDEX}
            self._metrics = MetricCollection({
                "confusion": MulticlassConfusionMatrix(**common),
                "precision": MulticlassPrecision(average=None, **common),
                "recall": MulticlassRecall(average=None, **common),
                "f1": MulticlassF1Score(average=None, **common),
            }).to(pl_module.device)

    @torch.no_grad()
    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Batch,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        if self._facts is None or self._facts.task == "language_modeling" or batch.stateful:
            return
        preds, _ = pl_module.model(batch.inputs, batch.lengths)  # (B, C) / (B, T, C) / (B, F) / (B, T, F)
        if self._metrics is not None:
            self._metrics.update(preds.argmax(-1), batch.targets)
            return
        targets = batch.targets
        if preds.dim() == 3:  # per step: real steps only
            mask = torch.arange(preds.shape[1], device=preds.device) < batch.lengths.to(preds.device)[:, None]
            preds, targets = preds[mask], targets[mask]  # (N, F)
        self._pairs.append((self._unscaled(preds.float().cpu()), self._unscaled(targets.float().cpu())))

    def _unscaled(self, values: Tensor) -> Tensor:
        """(N, F_out) regression values in the data's own units (see `DataFacts.target_scale`)."""
        if self._facts.target_scale is None:
            return values
        return values * torch.tensor(self._facts.target_scale) + torch.tensor(self._facts.target_shift)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Under DDP every rank takes part in the reduction (torchmetrics' sync, the gather of the
        # regression pairs); only rank 0 writes.
        computed = self._metrics.compute() if self._metrics is not None else None
        pairs = self._pairs
        if self._metrics is None and trainer.world_size > 1:
            from seqtrain.resume import gather_per_rank

            pairs = [pair for rank_pairs in gather_per_rank(self._pairs) for pair in rank_pairs]
        if not trainer.is_global_zero or (computed is None and not pairs):
            return
        folder = Path(trainer.default_root_dir) / self.dirname
        folder.mkdir(parents=True, exist_ok=True)
        datamodule, facts = trainer.datamodule, self._facts
        if computed is not None:
            names = list(facts.class_names) if facts.class_names else None
            written = write_class_report(folder, computed, names, self.max_classes_drawn)
        else:
            predicted = torch.cat([p for p, _ in pairs])  # (N, F_out)
            actual = torch.cat([a for _, a in pairs])
            written = write_regression_report(folder, predicted, actual)
            from seqtrain.data.forecast import ForecastDataModule

            if isinstance(datamodule, ForecastDataModule):
                if trainer.world_size == 1:
                    written += write_forecast_report(folder, predicted, actual, datamodule)
                else:  # ranks hold interleaved windows: the pairs are complete but not in time order
                    log.info("test reports: the forecast plot is drawn on one device only (rank order is not time order)")
        log.info("test reports: %s", ", ".join(str(p) for p, _ in written if p.suffix == ".png"))
        log_to_wandb(trainer, written)


def write_class_report(folder: Path, computed: dict[str, Tensor], names: list[str] | None, max_drawn: int) -> list[tuple[Path, Any]]:
    """confusion_matrix.csv/.png (rows: actual, columns: predicted) and per_class.csv."""
    import pandas as pd

    confusion = computed["confusion"].cpu().long()  # (C, C)
    names = names or [str(i) for i in range(len(confusion))]
    matrix = pd.DataFrame(confusion.numpy(), index=pd.Index(names, name="actual"), columns=names)
    per_class = pd.DataFrame({
        "class": names,
        "precision": computed["precision"].cpu().tolist(),
        "recall": computed["recall"].cpu().tolist(),
        "f1": computed["f1"].cpu().tolist(),
        "support": confusion.sum(1).tolist(),
    })
    matrix.to_csv(folder / "confusion_matrix.csv")
    per_class.to_csv(folder / "per_class.csv", index=False)
    written: list[tuple[Path, Any]] = [(folder / "confusion_matrix.csv", matrix.reset_index()), (folder / "per_class.csv", per_class)]
    if len(names) <= max_drawn:
        figure = _figure(max(4.0, 0.5 * len(names) + 2), max(3.5, 0.5 * len(names) + 1.5))
        axes = figure.subplots()
        image = axes.imshow(confusion.numpy(), cmap="Blues")
        figure.colorbar(image, ax=axes)
        axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel("predicted")
        axes.set_ylabel("actual")
        if len(names) <= 20:
            for (i, j), count in zip(torch.cartesian_prod(torch.arange(len(names)), torch.arange(len(names))).tolist(), confusion.flatten().tolist()):
                axes.text(j, i, str(count), ha="center", va="center", fontsize=8)
        axes.set_title("test confusion matrix")
        figure.tight_layout()
        figure.savefig(folder / "confusion_matrix.png", dpi=100)
        written.append((folder / "confusion_matrix.png", None))
    return written


def write_regression_report(folder: Path, predicted: Tensor, actual: Tensor) -> list[tuple[Path, Any]]:
    """predicted_vs_actual.csv (one pair of columns per output) and a scatter per output with the diagonal."""
    import pandas as pd

    outputs = predicted.shape[-1]
    table = pd.DataFrame({
        **{f"actual_{k}": actual[:, k].tolist() for k in range(outputs)},
        **{f"predicted_{k}": predicted[:, k].tolist() for k in range(outputs)},
    })
    table.to_csv(folder / "predicted_vs_actual.csv", index=False)
    shown = min(outputs, 6)  # a forecast of many steps ahead has one output per step: draw the first few
    figure = _figure(4.0 * shown, 4.0)
    for k, axes in enumerate(figure.subplots(1, shown, squeeze=False)[0]):
        axes.scatter(actual[:, k].numpy(), predicted[:, k].numpy(), s=6, alpha=0.5)
        low, high = float(min(actual[:, k].min(), predicted[:, k].min())), float(max(actual[:, k].max(), predicted[:, k].max()))
        axes.plot([low, high], [low, high], color="grey", linewidth=1)  # perfect predictions
        axes.set_xlabel("actual")
        axes.set_ylabel("predicted")
        axes.set_title("test: predicted vs actual" + (f" (output {k})" if outputs > 1 else ""))
    figure.tight_layout()
    figure.savefig(folder / "predicted_vs_actual.png", dpi=100)
    return [(folder / "predicted_vs_actual.csv", table), (folder / "predicted_vs_actual.png", None)]


def write_forecast_report(folder: Path, predicted: Tensor, actual: Tensor, datamodule: Any) -> list[tuple[Path, Any]]:
    """forecast.csv/.png: over the test window, each window's forecast of its first target step against the series.

    many_to_one: window t forecasts steps t..t+H-1 (outputs laid out step-major: H x K); its first
    step is plotted at t. many_to_many: every step of every window, plotted at the step it predicts.
    """
    import pandas as pd

    windows = datamodule.split("test")
    names = datamodule.state_dict()["columns"]
    targets = [names[k] for k in _target_indices(datamodule, names)]
    K = len(targets)
    if datamodule.mode == "many_to_one":
        steps = torch.tensor(windows.starts)  # (N,)
        predicted, actual = predicted[:, :K], actual[:, :K]  # the first forecast step of each window
    else:  # (N * W, K) in window order; window t predicts steps t+1 .. t+W
        steps = torch.tensor([t + 1 + i for t in windows.starts for i in range(datamodule.window)])
    steps = steps[: len(predicted)]  # trainer.limit_test_batches may have stopped early
    table = pd.DataFrame({"step": steps.tolist(),
                          **{f"actual_{c}": actual[:, j].tolist() for j, c in enumerate(targets)},
                          **{f"forecast_{c}": predicted[:, j].tolist() for j, c in enumerate(targets)}})
    table.to_csv(folder / "forecast.csv", index=False)
    figure = _figure(10.0, 3.0 * K)
    for j, axes in enumerate(figure.subplots(K, 1, squeeze=False)[:, 0]):
        axes.plot(table["step"], table[f"actual_{targets[j]}"], label="actual", linewidth=1)
        axes.plot(table["step"], table[f"forecast_{targets[j]}"], label="forecast", linewidth=1)
        axes.set_xlabel("time step")
        axes.set_ylabel(targets[j])
        axes.legend()
    figure.suptitle("test window: one-step-ahead forecasts")
    figure.tight_layout()
    figure.savefig(folder / "forecast.png", dpi=100)
    return [(folder / "forecast.csv", table), (folder / "forecast.png", None)]


def _target_indices(datamodule: Any, names: list[str]) -> list[int]:
    if datamodule.target_columns is not None:
        return [names.index(c) for c in datamodule.target_columns]
    return list(range(len(datamodule.columns) if datamodule.columns is not None else len(names)))


def _figure(width: float, height: float) -> Any:
    # The object API, not pyplot: no global figure state and no GUI backend, in any thread.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def log_to_wandb(trainer: pl.Trainer, written: list[tuple[Path, Any]]) -> None:
    """Images as wandb images, tables as wandb tables, under `test/<name>`."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in trainer.loggers:
        if not isinstance(logger, WandbLogger):
            continue
        for path, table in written:
            if path.suffix == ".png":
                logger.log_image(key=f"test/{path.stem}", images=[str(path)])
            elif table is not None:
                logger.log_table(key=f"test/{path.stem}", dataframe=table)
