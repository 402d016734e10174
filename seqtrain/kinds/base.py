"""What every task kind shares: the interface, and the checks of a run's choices against its data's targets.

A task kind owns its loss, its target weight (what an epoch mean is weighted by), its metrics and
their better direction, what it reports, and which model/config combinations it accepts. The
checks (`problems`) run before torch is imported, so this module and the kinds import torch and
torchmetrics only inside the methods that train.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import torch
    from torch import Tensor
    from torchmetrics import MetricCollection

    from seqtrain.batch import Batch

Better = Literal["min", "max"]
#: Stages whose epoch metrics exist while fitting, so a checkpoint or early stopping can watch them.
FIT_STAGES = ("train", "val")


@dataclass(frozen=True)
class DataTargets:
    """What a run's data holds, known from its config before any of it is read.

    kind: the task kind's name (`classification`, `regression`, `tagging`, `language_modeling`).
    per_step: a target per time step (many-to-many) rather than one per sequence.
    next_step: the targets are the inputs shifted by one step (next-token or next-value
        prediction), so a model that reads later steps sees its targets.
    source: how the data was chosen, for messages (`data=seqtrain.data.TableDataModule(task=tagging)`).
    """

    kind: str
    per_step: bool
    next_step: bool
    source: str


@dataclass(frozen=True)
class RunChoices:
    """The choices of a run that a task kind judges; plain data, no torch.

    model: the options of `seqtrain.models.SequenceModel`, or None for a model of the user's own
        (its head and direction are then the user's to get right).
    monitors: each config key that names a metric to watch -> (metric, mode), e.g.
        `{"monitor": ("val/loss", "min"), "callbacks.early_stopping.monitor": ("val/acc", "max")}`.
    """

    targets: DataTargets
    model: dict[str, Any] | None
    tbptt_steps: int | None = None
    label_smoothing: float = 0.0
    random_scaling: float | None = None
    stateful: bool = False
    monitors: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


class TaskKind:
    """One task kind. Subclasses set the class attributes and implement the training methods."""

    name: ClassVar[str]
    #: the data's targets: one per sequence (False), one per step (True), or either (None).
    per_step: ClassVar[bool | None]
    #: epoch metrics logged besides `loss`, and which way is better.
    metrics: ClassVar[dict[str, Better]]
    #: the targets are the next inputs, by definition of the kind.
    next_step: ClassVar[bool] = False
    #: the output classes are the input vocabulary, so the embedding can be the output layer.
    ties_weights: ClassVar[bool] = False
    #: the loss is a cross-entropy against one class per target whose metrics do not read the loss, so its
    #: targets can be smoothed (`task.label_smoothing`); a language model's perplexity is read from its loss.
    smooths_labels: ClassVar[bool] = False

    def __init__(self, num_outputs: int, label_smoothing: float = 0.0) -> None:
        if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
            raise ValueError(f"num_outputs must be an integer >= 1, got {num_outputs!r}")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        if label_smoothing and not self.smooths_labels:
            raise ValueError(f"label_smoothing={label_smoothing} applies to classification and tagging, not {self.name}")
        self.num_outputs = num_outputs
        self.label_smoothing = float(label_smoothing)

    # --- checks: before any data is read, without torch -------------------------------------

    @classmethod
    def logged(cls) -> dict[str, Better]:
        """Every epoch metric of a stage (`loss` first) and which way is better."""
        return {"loss": "min", **cls.metrics}

    @classmethod
    def problems(cls, run: RunChoices) -> list[str]:
        """What in ``run`` cannot work with this kind; each names the config key, the value and what is allowed."""
        targets = run.targets
        problems = []
        if cls.per_step is not None and cls.per_step != targets.per_step:
            problems.append(f"{targets.source} gives task kind {cls.name} with per_step={targets.per_step}, which it cannot have")
        model = run.model
        if model is not None:
            problems += cls._model_problems(model, targets)
        if run.tbptt_steps is not None and not targets.per_step:
            problems.append(
                f"task.tbptt_steps={run.tbptt_steps} needs a target per step, but {targets.source} gives one "
                f"per sequence ({cls.name}): a chunk has no loss of its own; set task.tbptt_steps=null"
            )
        if run.label_smoothing and not cls.smooths_labels:
            why = "its perplexity is read from the loss" if cls.name == "language_modeling" else "its targets are not classes"
            problems.append(f"task.label_smoothing={run.label_smoothing} smooths class targets (classification, tagging), but "
                            f"{targets.source} is {cls.name}: {why}; set task.label_smoothing=0")
        if run.random_scaling is not None and cls.name != "regression":
            problems.append(f"task.random_scaling={run.random_scaling} multiplies each training window's real-valued inputs and "
                            f"targets by one factor (regression, forecasting), but {targets.source} is {cls.name}: its targets "
                            f"are not values to scale; set task.random_scaling=null")
        if run.random_scaling is not None and run.stateful:
            problems.append(f"task.random_scaling={run.random_scaling} draws a factor per window, but data.stateful=true carries "
                            "each row's state across batches (the state of one scale into the next batch's other); set "
                            "task.random_scaling=null or data.stateful=false")
        if run.stateful and not targets.per_step:
            problems.append(f"data.stateful=true needs a target per step, but {targets.source} gives one per sequence")
        for key, (metric, mode) in run.monitors.items():
            problems += cls._monitor_problems(key, metric, mode)
        return problems

    @classmethod
    def _model_problems(cls, model: dict[str, Any], targets: DataTargets) -> list[str]:
        problems = []
        head, pooling = model.get("head"), model.get("pooling")
        wanted = "many_to_many" if targets.per_step else "many_to_one"
        if head not in ("auto", wanted, None):
            what = "a target per step" if targets.per_step else "one target per sequence"
            problems.append(f"model.head={head} does not fit {targets.source}: it gives {what} ({cls.name}); "
                            f"set model.head=auto or {wanted}")
        if pooling is not None and targets.per_step:
            problems.append(f"model.pooling={pooling} applies to many_to_one heads only, but {targets.source} gives a "
                            f"target per step ({cls.name}); set model.pooling=null")
        if model.get("bag") is not None and targets.per_step:
            problems.append(f"model.bag={model.get('bag')} summarises a whole sequence for one target per sequence, but "
                            f"{targets.source} gives a target per step ({cls.name}); set model.bag=null")
        if model.get("naive_bayes") is not None and (targets.per_step or cls.name != "classification"):
            problems.append(f"model.naive_bayes={model.get('naive_bayes')} scores the classes of a whole sequence (classification, "
                            f"one label per sequence), but {targets.source} is {cls.name}"
                            f"{' with a target per step' if targets.per_step else ''}; set model.naive_bayes=null")
        patch_size = model.get("patch_size")
        if isinstance(patch_size, int) and patch_size > 1 and targets.per_step:
            problems.append(f"model.patch_size={patch_size} groups k steps into one, but {targets.source} gives a target per "
                            f"step ({cls.name}), which a patched step cannot have; set model.patch_size=1 (or auto)")
        if model.get("tie_weights") and not cls.ties_weights:
            problems.append(f"model.tie_weights=true shares the input embedding with the output layer, which needs the "
                            f"output classes to be the input tokens (language_modeling); {targets.source} is {cls.name}")
        if model.get("bidirectional") and (cls.next_step or targets.next_step):
            problems.append(
                f"model.bidirectional=true cannot train on {targets.source} ({cls.name}): its targets are the next "
                "inputs, which the backward direction reads, so the loss would be near zero and mean nothing; "
                "set model.bidirectional=false"
            )
        return problems

    @classmethod
    def _monitor_problems(cls, key: str, metric: str | None, mode: str | None) -> list[str]:
        logged = cls.logged()
        allowed = ", ".join(f"{stage}/{name}" for stage in FIT_STAGES for name in logged)
        if not isinstance(metric, str) or "/" not in metric:
            return [f"{key}={metric!r}: must name a metric this {cls.name} run logs while fitting ({allowed})"]
        stage, name = metric.split("/", 1)
        if stage not in FIT_STAGES or name not in logged:
            return [f"{key}={metric!r} is not a metric this {cls.name} run logs while fitting (allowed: {allowed})"]
        better = logged[name]
        if mode is not None and mode != better:
            mode_key = key.rsplit(".", 1)[0] + ".mode" if "." in key else "monitor_mode"
            return [f"{mode_key}={mode!r} with {key}={metric!r}: {name} is better when "
                    f"{'lower' if better == 'min' else 'higher'}; set {mode_key}={better}"]
        return []

    # --- training: called per step, with torch imported ---------------------------------------

    def build_metrics(self) -> MetricCollection:
        """The metrics updated per step (besides the loss); cloned per stage by the task."""
        raise NotImplementedError

    def loss(self, preds: Tensor, batch: Batch) -> Tensor:
        """Mean loss over the real targets of ``batch``; 0 (with zero gradient) when it has none."""
        raise NotImplementedError

    def weight(self, preds: Tensor, batch: Batch) -> Tensor | int:
        """The number of real targets in ``batch``: what its loss counts in an epoch mean."""
        raise NotImplementedError

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, batch: Batch) -> None:
        raise NotImplementedError

    def metrics_on(self, metrics: MetricCollection, device: torch.device) -> None:
        """Adapt `metrics` (built by `build_metrics`) to the device the run trains on, before they move there; most
        kinds need nothing."""

    def epoch_metrics(self, mean_loss: Tensor) -> dict[str, Tensor]:
        """Metrics that follow from the epoch's mean loss alone (none by default)."""
        return {}


def mean_cross_entropy(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """(B, C) or (B, T, C) logits against (B,) or (B, T) class ids; IGNORE_INDEX targets count for nothing.

    Unlike `F.cross_entropy(..., ignore_index=...)`, a batch whose targets are all ignored gives 0
    (and zero gradients), not NaN (0/0). ``label_smoothing`` ε: each real target is the class with
    weight 1-ε plus ε spread evenly over all C classes (torch's `label_smoothing`).
    """
    import torch.nn.functional as F

    from seqtrain.batch import IGNORE_INDEX

    total = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum",
                            label_smoothing=label_smoothing)
    return total / real_targets(targets).clamp(min=1)


def real_targets(targets: Tensor) -> Tensor:
    """The number of class targets that are not IGNORE_INDEX, as a 0-dim tensor on their device (no sync)."""
    from seqtrain.batch import IGNORE_INDEX

    return targets.ne(IGNORE_INDEX).sum()
