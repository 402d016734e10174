"""Table rows to examples: parse one row, encode it with the fitted encoders, pack a split flat, scale it.

The functions `TableDataModule` runs through cached `Dataset.map`s, for its own splits and for new
rows given to a trained model (`seqtrain.predict_inputs`), so both read a row the same way.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset as TorchDataset

from seqtrain.batch import IGNORE_INDEX
from seqtrain.facts import DataFacts
from seqtrain.encoders.labels import LabelMap
from seqtrain.data.parsing import SequenceKind, parse_items, parse_label, parse_numbers, parse_real_steps, parse_real_target
from seqtrain.data.parsing import parse_text, parse_vectors
from seqtrain.encoders.saved import scalers_from_state
from seqtrain.encoders.scaling import Standardizer
from seqtrain.data.arrow import arrow_column, flat_list_column
from seqtrain.data.sources import DataError
from seqtrain.encoders.tokenizer import Tokenizer, tokenizer_from_dict

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

TableTask = Literal["classification", "regression", "tagging"]


class PackedExamples(TorchDataset[tuple[Tensor, Tensor]]):
    """Variable-length examples stored flat: example i is row `rows[i]`, its steps `inputs[offsets[r]:offsets[r + 1]]`.

    inputs: (sum of T, ) token ids or (sum of T, F) features; targets: (N,) / (N, F_out) per
    sequence or (sum of T,) / (sum of T, F_out) per step, laid out like the inputs.
    source_rows: (N,) the input row each encoded row came from (a row cut into pieces gives several).
    """

    def __init__(self, inputs: Tensor, offsets: np.ndarray, targets: Tensor, per_step: bool, rows: np.ndarray | None = None,
                 source_rows: np.ndarray | None = None):
        self.inputs = inputs
        self.offsets = offsets.tolist()
        self.targets = targets
        self.per_step = per_step
        self.rows = list(range(len(self.offsets) - 1)) if rows is None else rows.tolist()
        self.lengths = [self.offsets[r + 1] - self.offsets[r] for r in self.rows]
        self.source_rows = source_rows

    def every_row(self) -> PackedExamples:
        """The same rows with none left out (prediction keeps a row whose label was unseen in training)."""
        return PackedExamples(self.inputs, np.asarray(self.offsets), self.targets, self.per_step, source_rows=self.source_rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        r = self.rows[i]
        steps = slice(self.offsets[r], self.offsets[r + 1])
        return self.inputs[steps], self.targets[steps] if self.per_step else self.targets[r]


def pack(encoded: Dataset, kind: SequenceKind, task: TableTask, per_step: bool, split: str) -> PackedExamples:
    """The encoded rows of one split as flat tensors; classification rows whose label was unseen are left out."""
    values, offsets = flat_list_column(encoded, "inputs", depth=2 if kind == "vectors" else 1)
    if kind in ("text", "tokens"):
        inputs = torch.from_numpy(values.astype(np.int64))  # (sum of T,)
    else:
        inputs = torch.from_numpy(values.astype(np.float64).reshape(offsets[-1], -1))  # (sum of T, F)
    rows = None
    if task == "regression":
        target_values, _ = flat_list_column(encoded, "target", depth=2 if per_step else 1)
        steps = offsets[-1] if per_step else len(encoded)
        targets = torch.from_numpy(target_values.astype(np.float64).reshape(steps, -1))  # (sum of T | N, F_out)
    elif task == "tagging":
        target_values, _ = flat_list_column(encoded, "target")
        targets = torch.from_numpy(target_values.astype(np.int64))  # (sum of T,)
        unseen = int((targets == IGNORE_INDEX).sum())
        if unseen:
            log.info("data: %d %s steps have labels unseen in training; the loss and metrics skip them", unseen, split)
    else:
        targets = torch.from_numpy(arrow_column(encoded, "target").to_numpy().astype(np.int64))  # (N,)
        keep = (targets != IGNORE_INDEX).numpy()
        if not keep.all():
            rows = np.flatnonzero(keep)
            log.info("data: left out %d %s rows whose labels were unseen in training", len(keep) - len(rows), split)
    return PackedExamples(inputs, offsets, targets, per_step, rows, arrow_column(encoded, "row").to_numpy())


def fit_scaling(train: PackedExamples, inputs: bool, targets: bool) -> dict[str, Any]:
    """The training split's input and/or target statistics, under the state's names."""
    state: dict[str, Any] = {}
    if inputs:
        scaler = Standardizer.fit(train.inputs)
        state["input_mean"], state["input_std"] = scaler.shift, scaler.scale
    if targets:
        scaler = Standardizer.fit(train.targets if train.per_step else train.targets[train.rows])
        state["target_mean"], state["target_std"] = scaler.shift, scaler.scale
    return state


def scale(split: PackedExamples, state: dict[str, Any]) -> None:
    """Standardize in place with the train statistics (`fit_scaling`'s, where fitted); then hold reals as float32."""
    for name, scaler in zip(("inputs", "targets"), scalers_from_state(state)):
        values = getattr(split, name)
        if values.is_floating_point():
            setattr(split, name, scaler.encode(values) if scaler is not None else values.float())


def state_tokenizer(state: dict[str, Any]) -> Tokenizer | None:
    return tokenizer_from_dict(state["tokenizer"]) if state["tokenizer"] is not None else None


def table_facts(task: TableTask, per_step: bool, state: dict[str, Any], tokenizer: Tokenizer | None) -> DataFacts:
    """What a table's fitted state tells the model and the loss."""
    tokens = tokenizer is not None
    common: dict[str, Any] = {"task": task, "per_step": per_step, "vocab_size": len(tokenizer) if tokens else None,
                              "padding_idx": 0 if tokens else None, "num_features": None if tokens else state["num_features"]}
    if task == "regression":
        scaled = "target_mean" in state
        return DataFacts(num_outputs=state["num_targets"], target_scale=tuple(state["target_std"]) if scaled else None,
                         target_shift=tuple(state["target_mean"]) if scaled else None, **common)
    return DataFacts(num_outputs=len(state["class_names"]), class_names=tuple(state["class_names"]), **common)


def input_feature(kind: SequenceKind, encoded: bool) -> Any:
    from datasets import List, Value

    if kind in ("text", "tokens"):
        return List(Value("int32")) if encoded else (Value("string") if kind == "text" else List(Value("string")))
    return List(Value("float64")) if kind == "numbers" else List(List(Value("float64")))


def target_feature(task: TableTask, per_step: bool, encoded: bool) -> Any:
    from datasets import List, Value

    if task == "regression":
        return List(List(Value("float64"))) if per_step else List(Value("float64"))
    label = Value("int64") if encoded else Value("string")
    return List(label) if task == "tagging" else label


def parse_rows(
    batch: dict[str, list], indices: list[int], *, kind: SequenceKind, task: TableTask, per_step: bool, columns: list[str], where: Any,
    written: Any = None,
) -> dict[str, list]:
    """Canonical types for one batch of raw rows (see `seqtrain.data.parsing`); raises naming the place.

    written: for a CSV file, `(row, column) -> the cell's text`: a cell read as missing that holds `nan` or `NA` says so.
    """
    sequence_column, target_column = columns
    read_input = {"text": parse_text, "tokens": partial(parse_items, what="tokens"), "numbers": parse_numbers,
                  "vectors": parse_vectors}[kind]
    if task == "regression":
        read_target = parse_real_steps if per_step else parse_real_target
    else:
        read_target = parse_label if task == "classification" else partial(parse_items, what="labels")
    inputs, targets = [], []
    for value, target, i in zip(batch[sequence_column], batch[target_column], indices):
        place = where(i)
        for column, cell in ((sequence_column, value), (target_column, target)):
            if cell is None and written is not None and (text := written(i, column) or "").strip():
                raise DataError(
                    f"{place}, column {column!r}: {text!r}, which the CSV reader takes for a missing value (as it takes "
                    f"nan, NA, N/A, null, None); give the row its value, or drop the row; where {text.strip()!r} is the value "
                    f"meant (a class of that name), write it otherwise in the file, e.g. {text.strip() + '_'!r}"
                )
        inputs.append(read_input(value, place, sequence_column))
        targets.append(read_target(target, place, target_column))
    return {"inputs": inputs, "target": targets}


def encode_rows(
    batch: dict[str, list], indices: list[int], *, kind: SequenceKind, task: TableTask, per_step: bool,
    tokenizer: Tokenizer | None, class_names: list[str] | None, num_features: int | None, num_targets: int | None,
    max_length: int | None, overflow: str, unseen_labels: str, where: Any, columns: tuple[str, str],
) -> dict[str, list]:
    """Token ids, class ids and checked shapes for one batch of parsed rows; long sequences cut to `max_length`
    (`row`: the parsed row each piece comes from; `cut`: True on the first piece of a row that was cut)."""
    sequence_column, target_column = columns
    sequences = tokenizer.encode_batch(batch["inputs"]) if tokenizer is not None else batch["inputs"]
    labels = LabelMap(class_names or [])
    out: dict[str, list] = {"inputs": [], "target": [], "row": [], "cut": []}
    for x, y, i, raw in zip(sequences, batch["target"], indices, batch["inputs"]):
        if len(x) == 0:
            raise DataError(f"{where(i)}, column {sequence_column!r}: an empty sequence after tokenization (zero tokens)")
        if kind == "vectors" and any(len(step) != num_features for step in x):
            step = next(s for s, v in enumerate(x) if len(v) != num_features)
            raise DataError(
                f"{where(i)}, column {sequence_column!r}: step {step + 1} has {len(x[step])} features; "
                f"the training data has {num_features} per step"
            )
        if task == "classification":
            y = _class_id(y, labels, unseen_labels, where(i), target_column)
        elif task == "tagging":
            y = [_class_id(label, labels, unseen_labels, where(i), target_column, step) for step, label in enumerate(y)]
        if task == "regression":
            width = next((len(v) for v in (y if per_step else [y]) if len(v) != num_targets), None)
            if width is not None:
                raise DataError(
                    f"{where(i)}, column {target_column!r}: {width} target values "
                    f"{'per step' if per_step else 'per row'}; the training data has {num_targets}"
                )
        if per_step and len(y) != len(x):
            words = kind == "text" and len(raw.split()) == len(y)  # one label per word of text read as characters
            raise DataError(
                f"{where(i)}, column {target_column!r}: {len(y)} per-step targets for {len(x)} steps "
                f"of column {sequence_column!r}" + (" (after tokenization)" if tokenizer is not None else "")
                + (f"; its text has {len(y)} words: to tag each word, set data.sequence_kind=tokens (items separated by "
                   "spaces)" if words else "")
            )
        piece = max_length or len(x)
        for start in range(0, len(x), piece) if overflow == "split" else [0]:
            out["inputs"].append(x[start : start + piece])
            out["target"].append(y[start : start + piece] if per_step else y)
            out["row"].append(i)
            out["cut"].append(start == 0 and len(x) > piece)
    return out


def _class_id(label: str, labels: LabelMap, policy: str, where: str, column: str, step: int | None = None) -> int:
    class_id = labels.encode(label)
    if class_id is not None:
        return class_id
    at = "" if step is None else f" (step {step + 1})"
    # A training label that is this one with other surrounding spaces is the same class written two ways (a training
    # file written with "day " and a test file with "day"): an error even with unseen_labels=ignore, which would drop
    # every such row of a class the model knows.
    spaced = [n for n in labels.names if isinstance(n, str) and n.strip() == label.strip()]
    if spaced:
        raise DataError(
            f"{where}, column {column!r}: label {label!r}{at} is not a training label, but {spaced[0]!r} is: the same "
            "class written with other surrounding spaces; strip the spaces in the files (pandas: skipinitialspace=True)"
        )
    if policy == "ignore":
        return IGNORE_INDEX
    known = ", ".join(map(repr, labels.names[:10])) + (", ..." if len(labels) > 10 else "")
    cased = [n for n in labels.names if isinstance(n, str) and n.casefold() == label.casefold()]
    hint = f"; the training split has {cased[0]!r}, which differs only in upper / lower case" if cased else ""
    raise DataError(
        f"{where}, column {column!r}: label {label!r}{at} was not seen in the training split (its labels: {known}){hint}; "
        "set data.unseen_labels=ignore to leave such rows (steps, for tagging) out"
    )
