"""What a model that learned nothing from the sequences would score: printed beside the run's own results.

A run that reports accuracy 0.49 with exit status 0 looks like a result; next to "majority class:
0.51" it is plainly not one. Computed from the built splits, with the training split's statistics only:
- classification and tagging: always the most frequent training class (accuracy);
- regression: always the training targets' mean (mse, rmse, mae, in the data's units);
- forecasting with the targets among the inputs: persistence, the last value seen (mse, rmse, mae), and beside it
  (one forecast per window) a linear autoregression on the window (`linear_autoregression`), which a network forecast
  should beat too;
- language modelling: the training tokens' frequencies, add-one smoothed, at every step (ppl, bpt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


def baselines(datamodule: Any, stages: tuple[str, ...]) -> dict[str, Any] | None:
    """{"name": what it predicts, "<stage>": {"<stage>/<metric>": value}} for the given stages, or None."""
    facts = datamodule.facts
    if facts.task in ("classification", "tagging"):
        return _majority(datamodule, stages)
    if facts.task == "regression":
        if (persistence := _persistence(datamodule, stages)) is not None:
            return persistence
        return _mean(datamodule, stages)
    if facts.task == "language_modeling":
        return _unigram(datamodule, stages)
    return None


def _next_tokens(datamodule: Any, stage: str) -> Tensor | None:
    """A language model split's target ids as its loader scores them: the windows' shifted inputs, or the targets
    of the streams a stateful split's (ids, document starts) become (one process's)."""
    from seqtrain.data.windows import TokenStreams, TokenWindows

    dataset = datamodule.split(stage)
    if isinstance(dataset, TokenWindows):
        return dataset.targets()
    if isinstance(dataset, tuple):
        return TokenStreams(dataset[0], datamodule.batch_size, datamodule.seq_len).targets.flatten()
    return None


def _unigram(datamodule: Any, stages: tuple[str, ...]) -> dict[str, Any] | None:
    import math

    import torch

    train = _next_tokens(datamodule, "train")
    if train is None:
        return None
    counts = torch.bincount(train, minlength=datamodule.facts.num_outputs).double() + 1  # add-one: no token is impossible
    log_p = (counts / counts.sum()).log()
    out: dict[str, Any] = {"name": "the training tokens' frequencies at every step, add-one smoothed"}
    for stage in stages:
        if (y := _next_tokens(datamodule, stage)) is not None and len(y):
            loss = float(-log_p[y].mean())
            out[stage] = {f"{stage}/ppl": math.exp(loss), f"{stage}/bpt": loss / math.log(2)}
    return out


def _targets(dataset: Any, per_step: bool) -> Tensor:
    """Every example's targets, (N, K) one row per sequence or (sum of T, K) one per step."""
    import torch

    from seqtrain.data.table_rows import PackedExamples

    if isinstance(dataset, PackedExamples) and not per_step:  # a table's rows: their targets at once
        targets = dataset.targets[dataset.rows]
        return targets.reshape(len(targets), -1)
    ys = [dataset[i][1] for i in range(len(dataset))]
    return torch.cat([y.reshape(len(y), -1) if per_step else y.reshape(1, -1) for y in ys]) if ys else torch.empty(0, 1)


def _majority(datamodule: Any, stages: tuple[str, ...]) -> dict[str, Any] | None:
    import torch

    from seqtrain.batch import IGNORE_INDEX

    per_step = datamodule.facts.per_step
    train = _targets(datamodule.split("train"), per_step).flatten()
    train = train[train != IGNORE_INDEX]
    if not len(train):
        return None
    majority = int(torch.bincount(train).argmax())
    names = datamodule.facts.class_names
    label = repr(names[majority]) if names else str(majority)
    share = float((train == majority).float().mean())
    out: dict[str, Any] = {"name": f"always the majority class {label}, {share:.0%} of the training targets"}
    for stage in stages:
        y = _targets(datamodule.split(stage), per_step).flatten()
        y = y[y != IGNORE_INDEX]
        if len(y):
            out[stage] = {f"{stage}/acc": float((y == majority).double().mean())}
    return out


def _errors(stage: str, predicted: Tensor, actual: Tensor, scale: Tensor) -> dict[str, float]:
    """mse, rmse, mae of (N, K) scaled values in the data's units (`scale` (K,): the targets' scale)."""
    error = (predicted - actual).double() * scale.double()
    mse = float(error.pow(2).mean())
    return {f"{stage}/mse": mse, f"{stage}/rmse": mse**0.5, f"{stage}/mae": float(error.abs().mean())}


def _scale(facts: Any, width: int) -> Tensor:
    import torch

    return torch.tensor(facts.target_scale, dtype=torch.float64) if facts.target_scale is not None else torch.ones(width, dtype=torch.float64)


def _mean(datamodule: Any, stages: tuple[str, ...]) -> dict[str, Any] | None:
    per_step = datamodule.facts.per_step
    train = _targets(datamodule.split("train"), per_step)  # (N, K) as trained on (scaled, where scaling was fitted)
    if not len(train):
        return None
    mean = train.double().mean(0)
    out: dict[str, Any] = {"name": "always the training targets' mean"}
    for stage in stages:
        y = _targets(datamodule.split(stage), per_step).double()
        if len(y) and y.shape[1] == len(mean):
            out[stage] = _errors(stage, mean.expand_as(y), y, _scale(datamodule.facts, len(mean)))
    return out


def _persistence(datamodule: Any, stages: tuple[str, ...]) -> dict[str, Any] | None:
    """Forecasting: each target's last input value, for every step of the horizon (many-to-one) or the next step
    (many-to-many); only when every target column is also an input column."""
    import torch

    from seqtrain.data.forecast import ForecastDataModule

    if not isinstance(datamodule, ForecastDataModule):
        return None
    inputs_at, targets_at = datamodule.positions(datamodule.state_dict()["columns"])
    if not set(targets_at) <= set(inputs_at):
        return None
    columns = [inputs_at.index(k) for k in targets_at]
    out: dict[str, Any] = {"name": "persistence (each target's last value seen)"}
    for stage in stages:
        windows = datamodule.split(stage)
        if not len(windows):
            continue
        predicted, actual = [], []
        for i in range(len(windows)):
            x, y = windows[i]  # (W, C), (H * K,) or (W, K)
            if datamodule.mode == "many_to_many":
                predicted.append(x[:, columns])
                actual.append(y)
            else:
                predicted.append(x[-1, columns].repeat(datamodule.horizon)[None])
                actual.append(y[None])
        p, a = torch.cat(predicted), torch.cat(actual)
        out[stage] = _errors(stage, p, a, _scale(datamodule.facts, a.shape[1]))
    return out


def linear_autoregression(datamodule: Any, stages: tuple[str, ...], fit_windows: int = 20_000) -> dict[str, Any] | None:
    """Forecasting, one forecast per window, every target an input: each target's next values as a linear map of its
    column's window (its changes from the last value, as `model.relative_to=last` reads it), the map fitted by ridge
    least squares on the training windows (the AR highway's fit, `model.ar_highway_fit`, alone: ridge by leave-one-out
    error; on at most `fit_windows` of them, evenly spaced). On short series with a strong season or a steady trend this
    often beats a recurrent network (README, the forecast study)."""
    import torch

    from seqtrain.data.forecast import ForecastDataModule
    from seqtrain.models.highway import AutoregressiveHighway

    if not isinstance(datamodule, ForecastDataModule) or datamodule.mode == "many_to_many":
        return None
    inputs_at, targets_at = datamodule.positions(datamodule.state_dict()["columns"])
    if not set(targets_at) <= set(inputs_at):
        return None
    columns = [inputs_at.index(k) for k in targets_at]

    def windows(stage: str, at: Any = None) -> tuple[Tensor, Tensor] | None:
        """The split's (N, W, K) target columns and (N, horizon * K) targets (step-major, as persistence repeats the
        last values); None for an empty split or windows of several lengths."""
        split = datamodule.split(stage)
        pairs = [split[i] for i in (range(len(split)) if at is None else at)]
        if not pairs or len({tuple(x.shape) for x, _ in pairs}) > 1:
            return None
        return torch.stack([x[:, columns] for x, _ in pairs]).double(), torch.stack([y.reshape(-1) for _, y in pairs]).double()

    n = len(datamodule.split("train"))
    if (train := windows("train", None if n <= fit_windows else torch.linspace(0, n - 1, fit_windows).long().tolist())) is None:
        return None
    x, y = train
    reads = [o % len(columns) for o in range(y.shape[1])]  # output o forecasts target o % K at step o // K
    ar = AutoregressiveHighway(x.shape[1], reads).double()
    ar.fit(x - x[:, -1:], y - x[:, -1, reads])
    out: dict[str, Any] = {"name": f"a linear autoregression on the {x.shape[1]}-step window, least squares on the training windows"}
    for stage in stages:
        if (found := windows(stage)) is not None:
            x, y = found
            with torch.no_grad():
                predicted = x[:, -1, reads] + ar(x - x[:, -1:])
            out[stage] = _errors(stage, predicted, y, _scale(datamodule.facts, y.shape[1]))
    return out


def describe_linear(linear: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """Printed lines: the linear autoregression's scores, and where it beats the model on validation (a model without
    the AR highway: `linear["highway"]` false), a line that says so and names the option that adds it beside the
    network."""
    lines = _score_lines("linear", linear)
    ours, theirs = results.get("val", {}).get("val/rmse"), linear.get("val", {}).get("val/rmse")
    if not linear.get("highway", False) and ours is not None and theirs is not None and theirs < ours:
        lines.append(f"note: on the val split the linear autoregression is ahead of the model (rmse {theirs:.4f} against "
                     f"{ours:.4f}): try model.ar_highway=auto model.ar_highway_fit=fixed, which adds that fit beside the "
                     "network")
    return lines


def describe(baseline: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """Printed lines: the baseline's scores, and a warning where the model does no better on a stage."""
    lines = _score_lines("baseline", baseline)
    for stage in ("val", "test"):
        for key, value in baseline.get(stage, {}).items():
            if key.endswith(("/acc", "/rmse", "/bpt")) and key in results.get(stage, {}):
                ours = results[stage][key]
                worse = ours <= value if key.endswith("/acc") else ours >= value
                if worse:
                    lines.append(f"warning: {key}={ours:.4f} is no better than the baseline's {value:.4f}: the model has "
                                 "not learned more than that from the sequences")
    return lines


def _score_lines(label: str, baseline: dict[str, Any]) -> list[str]:
    """`<label> val: rmse=...  mae=...  (<what it predicts>)`, a line per stage it was scored on."""
    return [f"{label} {stage}: " + "  ".join(f"{k.split('/', 1)[-1]}={v:.4f}" for k, v in baseline[stage].items())
            + f"  ({baseline['name']})" for stage in ("val", "test") if stage in baseline]
