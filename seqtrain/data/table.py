"""Classification, regression and tagging of sequences from your own tables: CSV, JSON Lines, Parquet or a hub name.

One row is one example: a sequence column (text, a list of tokens, a list of numbers, or a list
of feature vectors) and a target column (a class label, real value(s), or a label per step).
The pipeline, each transform a cached `Dataset.map`:

    load each file -> parse (canonical types, errors naming file/row/column) -> concatenate
    -> carve val/test from train when not given -> fit on train (tokenizer, classes, scaling)
    -> encode (token ids, class ids, max_length) -> flat tensors in memory -> padded batches
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from seqtrain.checks.arguments import check_split_fractions
from seqtrain.checks.tables import (
    check_classes,
    check_inputs_vary,
    check_lengths,
    check_magnitudes,
    check_missing_targets,
    check_scaling,
    check_spellings,
    check_written_labels,
    check_numbers_as_tokens,
    check_varies,
    check_widths,
    warn_channels_first,
    warn_shared_rows,
)
from seqtrain.data.datamodule import Splits
from seqtrain.data.file_datamodule import FileDataModule, warn_unknown_tokens
from seqtrain.encoders.labels import LabelMap
from seqtrain.data.parsing import SequenceKind, choose_sequence_kind
from seqtrain.data.arrow import arrow_column, cached_map
from seqtrain.data.sources import DataError, Piece, check_columns, written_cell
from seqtrain.data.splits import Origin, carve, concatenate
from seqtrain.data.table_rows import PackedExamples, TableTask, encode_rows, input_feature, pack, parse_rows
from seqtrain.data.table_rows import fit_scaling, scale, state_tokenizer, table_facts, target_feature
from seqtrain.data.wide_tables import read_wide
from seqtrain.encoders.tokenizer import saved_tokenizer

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)


class TableDataModule(FileDataModule):
    """Sequences and targets from a table, for classification, regression or tagging.

    Args:
        task: classification (a label per row), regression (real value(s) per row, or per step
            with `per_step`), tagging (a label per step).
        train_files / val_files / test_files / hub / hub_config / file_format / cache_dir: where the
            data is (`FileDataModule`): CSV, TSV, JSON Lines, Parquet, or the UCR/UEA archives' files as they
            come: `.ts` and `.arff` (columns `sequence` and `label`, or `target` for a real-valued one;
            `seqtrain.data.ts_files`, `arff_files`) and the headerless `.tsv` / `.txt` (`ucr_files`); a wide table
            (a column per step) is gathered into `sequence_column` (`wide_tables`);
            val / test are carved at random from train (`val_fraction`, `test_fraction`, seeded)
            when not given.
        sequence_column / target_column: the columns holding sequences and targets.
        sequence_kind: auto (from the column's type and first rows) | text | tokens | numbers | vectors.
        per_step: regression targets per step (a number or vector per step) rather than per row.
        tokenizer / max_vocab_size / min_frequency: how text is tokenized (`FileDataModule`; fitted on
            train only); tokens use a word vocabulary with the same limits.
        max_length: longer sequences are cut: `overflow=truncate` keeps the first `max_length`
            steps, `overflow=split` cuts them into pieces of `max_length` (each with the row's
            target, or its slice of per-step targets). The count is logged.
        unseen_labels: a val/test label not seen in training is an `error`, or `ignore`d (the row,
            for classification; the step, for tagging), with a count in the log.
        standardize: scale numeric inputs to zero mean and unit variance per feature (train statistics).
        scale_targets: the same for regression targets; metrics are reported in the original units.
    """

    file_formats = ("auto", "csv", "json", "parquet", "ts", "arff", "conll")
    headerless_layouts = True  # the UCR archive's .tsv / .txt (`ucr_files`) and CoNLL tagging files (`conll_files`)

    def __init__(
        self,
        task: TableTask = "classification",
        sequence_column: str = "sequence",
        target_column: str = "label",
        sequence_kind: Literal["auto", "text", "tokens", "numbers", "vectors"] = "auto",
        per_step: bool = False,
        max_length: int | None = None,
        overflow: Literal["truncate", "split"] = "truncate",
        unseen_labels: Literal["error", "ignore"] = "error",
        standardize: bool = True,
        scale_targets: bool = True,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        choices = {
            "task": (task, ("classification", "regression", "tagging")),
            "sequence_kind": (sequence_kind, ("auto", "text", "tokens", "numbers", "vectors")),
            "overflow": (overflow, ("truncate", "split")),
            "unseen_labels": (unseen_labels, ("error", "ignore")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
        if per_step and task != "regression":
            raise ValueError(f"per_step applies to task=regression (tagging is per step already), got task={task!r}")
        if task == "tagging" and self.tokenizer_kind in ("bpe", "unigram") and sequence_kind in ("auto", "text"):
            raise ValueError(
                f"tokenizer={self.tokenizer_kind!r} cannot tag text: its subwords do not line up with per-step labels; "
                "use tokenizer=char (a label per character) or word (a label per word)"
            )
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
        check_split_fractions(val_fraction, test_fraction, no_val=True)
        if sequence_column == target_column:
            log.warning(
                "data: sequence_column and target_column are both %r: the model sees its targets in its inputs "
                "and learns to copy them; its metrics will not say how it does on real inputs", sequence_column,
            )
        self.task = task
        self.sequence_column, self.target_column = sequence_column, target_column
        self.sequence_kind = sequence_kind
        self.per_step = per_step or task == "tagging"
        self.max_length, self.overflow, self.unseen_labels = max_length, overflow, unseen_labels
        self.standardize, self.scale_targets = standardize, scale_targets
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        # Why the carved validation split is empty, when every row drawn for it was alone in its class (see `build`).
        self.val_emptied: str | None = None

    def build(self, saved: dict[str, Any] | None) -> Splits:
        pieces, same_as_train = self.load()
        pieces, wide_columns = read_wide(pieces, None if saved is None else saved.get("wide_columns"),
                                         self.sequence_column, self.target_column)
        every = [p for split_pieces in pieces.values() for p in split_pieces]
        for piece in every:
            check_columns(piece, {"sequence_column": self.sequence_column, "target_column": self.target_column})
            check_missing_targets(piece, self.target_column)
        if self.task in ("classification", "tagging"):
            check_written_labels(every, self.target_column)
        kind = choose_sequence_kind(pieces, self.sequence_kind, None if saved is None else saved["sequence_kind"],
                                    self.sequence_column, self.target_column)
        splits = {name: self.parse(ps, kind) for name, ps in pieces.items() if ps}
        if kind == "tokens" and self.sequence_kind == "auto" and saved is None:
            check_numbers_as_tokens(splits, self.sequence_column)
        self._check_widths(splits, kind, saved)
        fractions = {name: getattr(self, f"{name}_fraction") for name in ("val", "test") if name not in splits}
        no_val = fractions.get("val") == 0  # val_fraction=0: no validation split, every training row trains
        if no_val:
            del fractions["val"]
        self.val_emptied = None
        if fractions:
            train, origin = splits.pop("train")
            labels = arrow_column(train, "target").to_pylist() if self.task in ("classification", "tagging") else None
            # A validation draw that only held rows alone in their class is left out rather than refused here: a run that
            # trains without validating (the small-set rule) needs none; one that validates is refused by the run.
            emptied: dict[str, str] = {}
            splits.update(carve(train, origin, fractions, shuffle=True, seed=self.seed, labels=labels, emptied=emptied))
            if "test" in emptied:
                raise DataError(emptied.get("val", emptied["test"]))
            self.val_emptied = emptied.get("val")
            if self.val_emptied is not None:
                log.warning("data: %s; a run can only train without validating (data.val_fraction=0)", self.val_emptied)
        warn_shared_rows(splits, same_as_train)
        state = self._fit(*splits["train"], kind) if saved is None else dict(saved)
        if wide_columns is not None:
            state["wide_columns"] = wide_columns  # a resume, evaluation or prediction reads the same step columns
        # A checkpoint's text tokenizer is never refitted silently: one of another kind than data.tokenizer is refused.
        self.tokenizer = saved_tokenizer(state["tokenizer"], self.tokenizer_kind) if kind == "text" else state_tokenizer(state)
        examples = {name: self.encode(*splits[name], state, name) for name in ("train", "val", "test") if name in splits}
        if kind == "text":  # lists of tokens have a word vocabulary
            for name, split in examples.items():
                warn_unknown_tokens(split.inputs, name, splits[name][1].names(), examples["train"].inputs, self.tokenizer_kind)
        for name, split in examples.items():
            if self.max_length is None:  # uncut: encoded row i is the split's row i
                check_lengths(split, splits[name][1], examples["train"], self.sequence_column)
            if len(split) == 0:
                raise DataError(f"the {name} split has no examples left (every row's label was unseen in training)")
        if saved is None:
            check_inputs_vary(examples["train"], splits["train"][1], self.sequence_column)
            numeric = kind in ("numbers", "vectors")
            state.update(fit_scaling(examples["train"], numeric and self.standardize, self.task == "regression" and self.scale_targets))
            check_scaling(examples["train"], splits["train"][1], state, (self.sequence_column, self.target_column))
        for split in examples.values():
            scale(split, state)
        # With val_fraction=0 the validation split is empty: the run then trains without validating (seqtrain.run).
        return Splits(examples["train"], examples.get("val", []), examples["test"], table_facts(self.task, self.per_step, state, self.tokenizer), state)

    def _check_widths(self, splits: dict[str, tuple[Dataset, Origin]], kind: SequenceKind, saved: dict[str, Any] | None) -> None:
        """Feature vectors and regression targets of one width in every row: the fitted state's, or the training split's
        most common (so the error blames the odd rows, not the rows that agree with the first one)."""
        state = saved or {}
        if kind == "vectors":
            check_widths(splits, "inputs", self.sequence_column, state.get("num_features"), ("features", "step"))
            if saved is None:
                warn_channels_first(*splits["train"], self.sequence_column)
        if self.task == "regression":
            check_widths(splits, "target", self.target_column, state.get("num_targets"),
                         ("target values", "step" if self.per_step else "row"))

    # -- reading rows: training's splits and new rows for a trained model alike ------------------

    def parse(self, pieces: list[Piece], kind: SequenceKind) -> tuple[Dataset, Origin]:
        """The pieces' rows in canonical types (a cached map per file, so a file is parsed once), joined."""
        from datasets import Features

        settings = {"kind": kind, "task": self.task, "per_step": self.per_step, "columns": [self.sequence_column, self.target_column]}
        features = Features({"inputs": input_feature(kind, encoded=False), "target": target_feature(self.task, self.per_step, encoded=False)})
        parsed = [
            replace(piece, dataset=cached_map(piece.dataset, parse_rows, settings=settings, features=features,
                                              desc=f"seqtrain: reading {piece.name}",
                                              fn_kwargs={**settings, "where": piece.where, "written": _written(piece)}))
            for piece in pieces
        ]
        return concatenate(parsed)

    def encode(self, dataset: Dataset, origin: Origin, state: dict[str, Any], split: str) -> PackedExamples:
        """Parsed rows encoded with the fitted `state` (a cached map), cut to `max_length`, packed flat; unscaled."""
        from datasets import Features, Value

        kind = state["sequence_kind"]
        settings = {
            "kind": kind, "task": self.task, "per_step": self.per_step, "tokenizer": state["tokenizer"],
            "class_names": state["class_names"], "num_features": state.get("num_features"), "num_targets": state.get("num_targets"),
            "max_length": self.max_length, "overflow": self.overflow, "unseen_labels": self.unseen_labels,
        }
        features = Features({"inputs": input_feature(kind, encoded=True), "target": target_feature(self.task, self.per_step, encoded=True),
                             "row": Value("int64"), "cut": Value("bool")})
        encoded = cached_map(dataset, encode_rows, settings=settings, features=features, desc=f"seqtrain: encoding the {split} split",
                             fn_kwargs={**settings, "tokenizer": state_tokenizer(state), "where": origin.where,
                                        "columns": (self.sequence_column, self.target_column)})
        cut = int(np.sum(arrow_column(encoded, "cut").to_numpy(zero_copy_only=False)))
        if cut:
            how = "truncated to" if self.overflow == "truncate" else "split into pieces of"
            pieces = f": {len(encoded)} examples, and {split} metrics count each piece as one" if self.overflow == "split" else ""
            log.info("data: %d of %d %s sequences were longer than max_length and %s %d steps%s", cut, len(dataset), split, how,
                     self.max_length, pieces)
        packed = pack(encoded, kind, self.task, self.per_step, split)
        check_magnitudes(packed, origin, (self.sequence_column, self.target_column))  # float32 holds every value
        return packed

    # -- fitting on the training split -----------------------------------------------------------

    def _fit(self, train: Dataset, origin: Origin, kind: SequenceKind) -> dict[str, Any]:
        state: dict[str, Any] = {"sequence_kind": kind, "tokenizer": None, "class_names": None}
        if kind in ("text", "tokens"):
            texts = (text for batch in train.iter(batch_size=1000) for text in batch["inputs"])
            state["tokenizer"] = self.fit_tokenizer(texts, len(train), None if kind == "text" else "word").to_dict()
        else:
            first = train[0]["inputs"]
            state["num_features"] = len(first[0]) if kind == "vectors" else 1
        if self.task in ("classification", "tagging"):
            import pyarrow.compute as pc

            labels = arrow_column(train, "target")
            if self.task == "tagging":
                labels = pc.list_flatten(labels)
            state["class_names"] = LabelMap.fit(pc.unique(labels).to_pylist()).names
            check_classes(state["class_names"], len(labels), self.task, self.target_column, origin)
            check_spellings(labels, self.target_column, origin, per_step=self.task == "tagging")
        else:
            first = train[0]["target"]
            state["num_targets"] = len(first[0]) if self.per_step else len(first)
            check_varies(arrow_column(train, "target"), self.per_step, self.target_column, origin)
        return state


def _written(piece: Piece) -> Callable[[int, str], str | None] | None:
    """For a CSV file: a cell's text as written (`written_cell`), to say what a cell read as missing holds."""
    return partial(written_cell, piece.name, sep=piece.csv_sep) if piece.csv_sep is not None else None
