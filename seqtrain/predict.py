"""Apply a trained model to new data: `Predictor.from_checkpoint(path).predict(files)`.

The model and every encoder (tokenizer, label names, scaling) come from the checkpoint alone,
loaded with `weights_only=True`; nothing is refitted. New data is read the way the run read its
own (`seqtrain.predict_inputs`), predictions are written per input row, and when the targets
are there the metrics are measured by the same `SequenceTask` and test loader as the run's
`test/...` metrics, so on a run's own test data they are the same numbers.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from seqtrain.batch import IGNORE_INDEX
from seqtrain.facts import DataFacts
from seqtrain.predict_inputs import NewData, Source, read_new
from seqtrain.run_directory import replacing
from seqtrain.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")
#: A recursive forecast of at least this many forward passes shows a progress bar (`--steps 100000`: minutes on a CPU).
RECURSIVE_PROGRESS_CALLS = 500


@dataclass
class Predictions:
    """One row per input row (forecasting: one per forecast step), and the metrics when targets were given."""

    table: pd.DataFrame
    metrics: dict[str, float] | None

    def write(self, path: str | Path) -> Path:
        """Write the table as CSV (lists as JSON text), JSON Lines or Parquet, by the file's extension."""
        path = Path(path)
        if path.suffix not in OUTPUT_FORMATS:
            raise ValueError(f"--out {str(path)!r}: the extension must be one of {', '.join(OUTPUT_FORMATS)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Through a temporary file beside it and a rename: an earlier file at `path` (last week's predictions) is
        # replaced whole or not at all, never left cut short by a failed or interrupted write.
        with replacing(path) as tmp:
            if path.suffix == ".csv":
                table = self.table.copy()
                for column in table.columns:
                    if table[column].map(lambda v: isinstance(v, list)).any():
                        table[column] = table[column].map(json.dumps)
                table.to_csv(tmp, index=False)
            elif path.suffix == ".jsonl":
                self.table.to_json(tmp, orient="records", lines=True, force_ascii=False)
            else:
                self.table.to_parquet(tmp, index=False)
        return path


class Predictor:
    """A trained model with its datamodule's fitted encoders: `predict` turns raw sequences into labelled outputs."""

    def __init__(self, model: nn.Module, datamodule: Any, facts: DataFacts, label_smoothing: float = 0.0) -> None:
        self.model = model.eval()
        self.datamodule = datamodule
        self.facts = facts
        self.label_smoothing = label_smoothing  # the run's, so that a test file's loss is the one the run reported
        self.state = {k: v for k, v in datamodule.state_dict().items() if k != "facts"}
        from seqtrain.data.forecast import ForecastDataModule

        self.kind = "forecast" if isinstance(datamodule, ForecastDataModule) else facts.task

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Predictor:
        """A checkpoint file or run directory (its best checkpoint); refuses files that are not seqtrain's."""
        from seqtrain.checkpoint import load_checkpoint, rebuild, saved_label_smoothing

        checkpoint = load_checkpoint(path)
        model, datamodule, facts = rebuild(checkpoint, setup=False)
        return cls(model, datamodule, facts, saved_label_smoothing(checkpoint["seqtrain"]))

    def predict(self, data: Source, *, steps: int | None = None, batch_size: int = 256, progress: bool = True) -> Predictions:
        """Predictions for ``data``: a path or glob (`str` / `Path`) or a list of `Path`s, a `datasets.Dataset` or a
        pandas `DataFrame` with the run's columns, or in-memory sequences in a list (texts, token lists, numbers, (T, F) arrays;
        forecasting: a (steps,) or (steps, columns) array).

        steps: forecasting only: forecast this many steps, recursively (each forecast fed back as
            input); None: the model's own horizon.
        """
        if steps is not None and self.kind != "forecast":
            raise ValueError(f"--steps applies to forecasting models; this one is a {self.kind} model")
        if steps is not None and steps < 1:
            raise ValueError(f"--steps must be >= 1, got {steps}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        new = read_new(self.datamodule, data, self.state)
        if self.kind == "forecast":
            table = self._forecast(new, steps, progress)
        elif new.num_rows == 0:
            raise DataError("no rows to predict on")
        else:
            outputs = self._run(new.examples, batch_size, progress)
            table = self._table(new, outputs)
        metrics = self._metrics(new.test) if new.test is not None else None
        return Predictions(table, metrics)

    # -- running the model -----------------------------------------------------------------------

    @torch.no_grad()
    def _run(self, examples: list[tuple[Tensor, Tensor | None]], batch_size: int, progress: bool) -> list[Tensor]:
        """The model's raw output for each example, in order: (num_outputs,) or (T, num_outputs)."""
        from tqdm.auto import tqdm

        padding = self.facts.padding_idx if self.facts.vocab_size is not None else 0.0
        # A language model's blank line is its line break alone: no step to read, no next token to score. Its output
        # has no steps (packing refused a zero length, and the whole prediction ended in a RuntimeError).
        empty = torch.empty(0, self.facts.num_outputs)  # (0, C)
        read = [i for i, (x, _) in enumerate(examples) if len(x)]
        outputs: list[Tensor] = [empty] * len(examples)
        batches = range(0, len(read), batch_size)
        for start in tqdm(batches, desc="predict", unit="batch", disable=not progress or len(batches) < 10):
            rows = read[start : start + batch_size]
            inputs = [examples[i][0] for i in rows]
            lengths = torch.tensor([len(x) for x in inputs], dtype=torch.long)  # (B,), on the CPU
            padded = pad_sequence(inputs, batch_first=True, padding_value=padding)  # (B, T) / (B, T, F)
            preds, _ = self.model(padded, lengths)  # (B, C) or (B, T, C)
            for i, p, n in zip(rows, preds, lengths.tolist()):
                outputs[i] = p[:n] if preds.dim() == 3 else p
        return outputs

    def _table(self, new: NewData, outputs: list[Tensor]) -> pd.DataFrame:
        import pandas as pd

        # With several files, each row's file beside its index (the row index counts across the files, in order).
        where = {"file": new.files} if new.files is not None else {}
        if self.kind == "language_modeling":
            scores = self._lm_scores(new, outputs)
            return pd.DataFrame({"row": scores.pop("row"), **where, **scores})
        per_row = _gather_rows(outputs, new.rows, new.num_rows, concatenate=self.facts.per_step)
        columns: dict[str, Any] = {"row": list(range(new.num_rows)), **where}
        names = list(self.facts.class_names or [str(i) for i in range(self.facts.num_outputs)])
        if self.kind == "classification":
            probs = torch.stack(per_row).softmax(-1)  # (N, C)
            columns["prediction"] = [names[i] for i in probs.argmax(-1).tolist()]
            columns |= {f"prob_{name}": probs[:, i].tolist() for i, name in enumerate(names)}
        elif self.kind == "tagging":
            labels = [[names[i] for i in p.argmax(-1).tolist()] for p in per_row]
            if new.steps is not None:
                columns["tokens"] = new.steps
                labels = _aligned(labels, new.steps, self.datamodule)
            columns["prediction"] = labels
        else:  # regression, in the data's own units
            values = [self._unscaled(p).tolist() for p in per_row]  # (F_out,) or (T, F_out) each
            if self.facts.per_step:
                per_step = [[v[0] if len(v) == 1 else v for v in row] for row in values]
                columns["prediction"] = _aligned(per_step, new.steps, self.datamodule) if new.steps is not None else per_step
            elif self.facts.num_outputs == 1:
                columns["prediction"] = [row[0] for row in values]
            else:
                columns |= {f"prediction_{k}": [row[k] for row in values] for k in range(self.facts.num_outputs)}
        return pd.DataFrame(columns)

    def _lm_scores(self, new: NewData, outputs: list[Tensor]) -> dict[str, list]:
        """Per row: mean cross-entropy of each next token (nats), perplexity and bits per token."""
        scores: dict[str, list] = {"row": [], "tokens": [], "loss": [], "ppl": [], "bpt": []}
        if blank := sum(not len(targets) for _, targets in new.examples):
            log.info("predict: %d row%s hold no token after the first (blank lines): tokens 0, loss, ppl and bpt NaN",
                     blank, "s" if blank > 1 else "")
        for row, ((_, targets), logits) in enumerate(zip(new.examples, outputs)):
            loss = float(F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX)) if len(targets) else math.nan
            scores["row"].append(row)
            scores["tokens"].append(len(targets))
            scores["loss"].append(loss)
            scores["ppl"].append(math.exp(loss) if math.isfinite(loss) else math.nan)
            scores["bpt"].append(loss / math.log(2))
        return scores

    def _unscaled(self, values: Tensor) -> Tensor:
        if self.facts.target_scale is None:
            return values
        return values * torch.tensor(self.facts.target_scale) + torch.tensor(self.facts.target_shift)

    # -- forecasting -----------------------------------------------------------------------------

    def _forecast(self, new: NewData, steps: int | None, progress: bool) -> pd.DataFrame:
        """Per series (each file its own, as in training): the values after it, the model's `horizon`
        or `steps` fed back one block at a time."""
        import pandas as pd

        names = [self.state["columns"][k] for k in new.series["targets_at"]]
        several = len(new.series["bounds"]) > 1
        # The bookkeeping columns never replace a target's values: a target named `step` or `series` keeps its name.
        step, series = _free_name("step", names), _free_name("series", names) if several else None
        for wanted, name in (("step", step), ("series", series)):
            if name is not None and name != wanted:
                log.warning("predict: a target column is named %r: the forecast's %s column is written as %r", wanted,
                            "step number" if wanted == "step" else "file", name)
        tables = []
        for name, first, end in new.series["bounds"]:
            table = self._forecast_one(new.series["scaled"][first:end], new.series["inputs_at"], new.series["targets_at"],
                                       steps, step, progress)
            tables.append(table.assign(**{series: name}) if several else table)
        return pd.concat(tables, ignore_index=True)

    @torch.no_grad()
    def _forecast_one(self, scaled: Tensor, inputs_at: list[int], targets_at: list[int], steps: int | None,
                      step_column: str, progress: bool) -> pd.DataFrame:
        import pandas as pd
        from tqdm.auto import tqdm

        dm, state = self.datamodule, self.state
        horizon = dm.horizon if dm.mode == "many_to_one" else 1
        wanted = horizon if steps is None else steps
        if wanted > horizon and inputs_at != targets_at:
            names = state["columns"]
            raise ValueError(
                f"--steps {steps}: a recursive forecast feeds each forecast back as input, but the model predicts "
                f"{[names[k] for k in targets_at]} from {[names[k] for k in inputs_at]}; it can forecast "
                f"{horizon} step(s) (data.horizon) only"
            )
        # Only the last window is ever read: keeping the whole growing series made each step copy it, so a long
        # recursive forecast took time quadratic in --steps (20,000 steps: minutes).
        history = scaled[-dm.window :, inputs_at]  # (W, C), scaled
        forecast: list[Tensor] = []
        calls = -(-wanted // horizon)  # one forward pass per block of `horizon` steps
        quiet = not progress or calls < RECURSIVE_PROGRESS_CALLS
        with tqdm(total=wanted, desc="forecast", unit="step", disable=quiet) as bar:
            done = 0
            while done < wanted:
                preds, _ = self.model(history[None])  # (1, W, C) in
                block = preds[0, -1:] if dm.mode == "many_to_many" else preds[0].view(horizon, len(targets_at))  # (H, K)
                forecast.append(block)
                bar.update(min(len(block), wanted - done))
                done += len(block)
                if wanted > horizon:
                    history = torch.cat([history, block])[-dm.window :]  # inputs are the targets here
        values = torch.cat(forecast)[:wanted].double()  # (steps, K), scaled
        from seqtrain.encoders.scaling import Standardizer

        values = Standardizer.from_dict(state).select(targets_at).decode(values)  # (steps, K) in the series' units
        columns: dict[str, Any] = {step_column: list(range(len(scaled), len(scaled) + wanted))}
        columns |= {state["columns"][k]: values[:, j].tolist() for j, k in enumerate(targets_at)}
        return pd.DataFrame(columns)

    # -- metrics ---------------------------------------------------------------------------------

    def _metrics(self, test: Any) -> dict[str, float]:
        """`test/...` metrics through the same task and test loader as a run's (see `seqtrain.run.evaluate`)."""
        import lightning.pytorch as pl

        from seqtrain.console import quiet_dependencies
        from seqtrain.task import SequenceTask

        logging.getLogger("lightning").handlers.clear()
        quiet_dependencies()  # as a run's evaluation: no dependency deprecations, no warning about our own hook
        self.datamodule.serve_as_test(test)
        facts = self.facts
        task = SequenceTask(self.model, task=facts.task, num_outputs=facts.num_outputs, label_smoothing=self.label_smoothing,
                            target_scale=facts.target_scale, target_shift=facts.target_shift)
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_model_summary=False, enable_progress_bar=False)
        return trainer.test(task, datamodule=self.datamodule, verbose=False)[0]


def _gather_rows(outputs: list[Tensor], rows: list[int], num_rows: int, concatenate: bool) -> list[Tensor]:
    """One output per input row from one per example: a row cut into pieces (`data.overflow=split`) gets its
    pieces joined in order (per-step outputs) or their mean (one output per sequence)."""
    if len(rows) == num_rows:
        return outputs
    pieces: list[list[Tensor]] = [[] for _ in range(num_rows)]
    for output, row in zip(outputs, rows):
        pieces[row].append(output)
    log.info("predict: %d rows were cut into pieces (data.max_length); their outputs are %s",
             sum(len(p) > 1 for p in pieces), "joined" if concatenate else "averaged over the pieces (logits / values)")
    return [torch.cat(p) if concatenate else torch.stack(p).mean(0) for p in pieces]


def _aligned(outputs: list[list[Any]], steps: list[list[str]], datamodule: Any) -> list[list[Any]]:
    """One output per step (a tag, a value): a row that `data.max_length` truncated (the run read its first steps only,
    as the model will) gets None for the steps after them, so outputs line up with the row's steps (the list was
    shorter than the row, unsaid), said once."""
    cut = [i for i, (row, tokens) in enumerate(zip(outputs, steps)) if len(row) < len(tokens)]
    if cut:
        log.warning("predict: %d row%s longer than data.max_length=%s (first: row %d, %d steps): the model reads the first "
                    "%s steps, as in training (data.overflow=truncate); the steps after them have no prediction (null)",
                    len(cut), "s are" if len(cut) > 1 else " is", datamodule.max_length, cut[0], len(steps[cut[0]]),
                    datamodule.max_length)
    return [row + [None] * (len(tokens) - len(row)) for row, tokens in zip(outputs, steps)]


def _free_name(name: str, taken: list[str]) -> str:
    """``name``, or with leading underscores until it is none of ``taken`` (the data's own column names)."""
    while name in taken:
        name = "_" + name
    return name


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.6g}" for k, v in metrics.items())
