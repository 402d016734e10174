"""What a datamodule tells the rest of a run about its data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

TaskKind = Literal["classification", "regression", "tagging", "language_modeling"]


@dataclass(frozen=True)
class DataFacts:
    """Facts known once the data is set up; they size the model and pick loss and metrics.

    task: classification / regression (per sequence or per step), tagging (a class per step),
        language_modeling (next token per step).
    per_step: targets per time step (many-to-many) rather than per sequence (many-to-one).
    num_outputs: classes for classification/tagging, vocabulary size for language modelling,
        target dimensions for regression.
    vocab_size / padding_idx: token inputs (exactly one of vocab_size / num_features is set).
    num_features: real-valued inputs of shape (B, T, F).
    class_names: label of each class id, when the data has names for them.
    target_scale / target_shift: regression targets were scaled for training; one entry per
        output, `original = target * target_scale + target_shift`. Reported metrics undo it,
        so they are in the data's own units. None: targets are in their own units already.
    target_inputs: forecasting, one entry per output: the input feature that holds the same column's
        past values (so a model can forecast relative to it, `model.relative_to`). None: some target
        is not an input, or the data is not a forecast.
    window: forecasting, the input steps of every example (`data.window`, resolved), which sizes a model that reads the
        last steps of the window (`model.ar_highway=auto`). None: examples of any length.
    """

    task: TaskKind
    per_step: bool
    num_outputs: int
    vocab_size: int | None = None
    num_features: int | None = None
    padding_idx: int | None = None
    class_names: tuple[str, ...] | None = None
    target_scale: tuple[float, ...] | None = None
    target_shift: tuple[float, ...] | None = None
    target_inputs: tuple[int, ...] | None = None
    window: int | None = None

    def __post_init__(self) -> None:
        if (self.vocab_size is None) == (self.num_features is None):
            raise ValueError("DataFacts needs exactly one of vocab_size (tokens) or num_features (reals)")
        if (self.target_scale is None) != (self.target_shift is None):
            raise ValueError("DataFacts needs both target_scale and target_shift, or neither")
        if self.target_scale is not None:
            if self.task != "regression":
                raise ValueError(f"target_scale applies to regression only, got task={self.task!r}")
            if not len(self.target_scale) == len(self.target_shift) == self.num_outputs:
                raise ValueError(
                    f"target_scale and target_shift need one entry per output ({self.num_outputs}), "
                    f"got {len(self.target_scale)} and {len(self.target_shift)}"
                )
        if self.target_inputs is not None and (
            len(self.target_inputs) != self.num_outputs or self.num_features is None
            or not all(0 <= k < self.num_features for k in self.target_inputs)
        ):
            raise ValueError(f"target_inputs needs one input feature (of {self.num_features}) per output ({self.num_outputs}), "
                             f"got {self.target_inputs}")

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments ``SequenceModel`` takes from the data."""
        return {"vocab_size": self.vocab_size, "num_features": self.num_features, "padding_idx": self.padding_idx,
                "num_outputs": self.num_outputs, "per_step_targets": self.per_step,
                "target_inputs": list(self.target_inputs) if self.target_inputs is not None else None, "window": self.window}

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if k in TUPLE_FIELDS and v is not None else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataFacts:
        return cls(**{k: tuple(v) if k in TUPLE_FIELDS and v is not None else v for k, v in d.items()})


TUPLE_FIELDS = ("class_names", "target_scale", "target_shift", "target_inputs")  # lists in JSON, tuples here (hashable, comparable)
#: Facts added after checkpoints were saved without them: a saved dict that lacks one did not record it, which is
#: no difference from the data (a model built from such a checkpoint's config does not use it).
ADDED_LATER = ("target_inputs", "window")


def fact_differences(saved: dict[str, Any], facts: DataFacts) -> dict[str, tuple[Any, Any]]:
    """{fact: (saved value, this data's value)} where a checkpoint's facts and the data's differ."""
    now = facts.to_dict()
    return {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v and not (k in ADDED_LATER and k not in saved)}
