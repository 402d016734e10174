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
    """

    task: TaskKind
    per_step: bool
    num_outputs: int
    vocab_size: int | None = None
    num_features: int | None = None
    padding_idx: int | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.vocab_size is None) == (self.num_features is None):
            raise ValueError("DataFacts needs exactly one of vocab_size (tokens) or num_features (reals)")

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments ``SequenceModel`` takes from the data."""
        return {
            "vocab_size": self.vocab_size,
            "num_features": self.num_features,
            "padding_idx": self.padding_idx,
            "num_outputs": self.num_outputs,
            "per_step_targets": self.per_step,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class_names"] = list(self.class_names) if self.class_names is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataFacts:
        d = dict(d)
        if d.get("class_names") is not None:
            d["class_names"] = tuple(d["class_names"])
        return cls(**d)
