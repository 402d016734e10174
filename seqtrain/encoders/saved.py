"""A run's fitted encoders, read back from its datamodule's saved state: a checkpoint's, or the `data_state` of the
`<out>.json` that `scripts/export.py` writes beside the ONNX graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqtrain.encoders.labels import LabelMap
from seqtrain.encoders.scaling import Standardizer
from seqtrain.encoders.tokenizer import Tokenizer, tokenizer_from_dict


@dataclass(frozen=True)
class SavedEncoders:
    """What turns a user's raw sequences into a model's inputs, and its outputs back into labels or units.

    tokenizer: token inputs (text, a table's text or token column, a language model's text); None for real values.
    labels: the class names of a classification or tagging run, output k being `labels.names[k]`.
    inputs: real-valued inputs' scaling: a table's features (where `data.standardize` was on), or a forecast's
        columns in the saved `columns` order (the model reads the input columns among them).
    targets: a table's regression targets' scaling (where `data.scale_targets` was on); a forecast's outputs are
        decoded with the facts' `target_scale` / `target_shift`.
    """

    tokenizer: Tokenizer | None = None
    labels: LabelMap | None = None
    inputs: Standardizer | None = None
    targets: Standardizer | None = None


def encoders_from_state(state: dict[str, Any]) -> SavedEncoders:
    """The encoders in a datamodule's `state_dict()` (tables, text, forecasts; the synthetic tasks have none)."""
    tokenizer, names = state.get("tokenizer"), state.get("class_names")
    inputs, targets = scalers_from_state(state)
    return SavedEncoders(
        tokenizer=tokenizer_from_dict(tokenizer) if tokenizer is not None else None,
        labels=LabelMap(names) if names is not None else None,
        inputs=inputs,
        targets=targets,
    )


def scalers_from_state(state: dict[str, Any]) -> tuple[Standardizer | None, Standardizer | None]:
    """The state's input and target scaling (None where unused), without rebuilding its tokenizer: what a table's
    loader applies to each split."""
    if "input_mean" in state:  # a table's
        inputs = Standardizer(state["input_mean"], state["input_std"])
    else:  # a forecast's, or none
        inputs = Standardizer.from_dict(state) if "shift" in state else None
    targets = Standardizer(state["target_mean"], state["target_std"]) if "target_mean" in state else None
    return inputs, targets
