"""New data for `seqtrain.predict`, read with the encoders the model's datamodule fitted (never refitted).

One reader per datamodule family turns files, a `datasets.Dataset` (or pandas DataFrame) or in-memory sequences into
`NewData`: one example per input row for predictions, and, when the targets are there, the same
data laid out as the datamodule's own test split, so its test loader scores it exactly as it
scored the run's test split (`SequenceDataModule.serve_as_test`). Every row is read by the
datamodule's own methods (the ones its `build` uses for each split); what is prediction's own
lives here: where the rows come from (`--files`, a Dataset, a list), rows without targets, and
what the output table needs (each example's input row, the steps of tagged sequences).
"""

from __future__ import annotations

import copy
import logging
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from seqtrain.checks.values import check_float32
from seqtrain.data.forecast import ForecastDataModule
from seqtrain.data.parsing import detect_sequence_kind, parse_label
from seqtrain.encoders.scaling import Standardizer
from seqtrain.data.sources import DataError, Piece, check_columns, load_pieces
from seqtrain.data.synthetic import AddingDataModule, ParityDataModule
from seqtrain.data.table import TableDataModule
from seqtrain.data.table_rows import scale, state_tokenizer
from seqtrain.data.text import TextDataModule
from seqtrain.data.wide_tables import as_sequences, said_columns, step_columns
from seqtrain.data.file_datamodule import MOSTLY_UNKNOWN
from seqtrain.encoders.vocab import UNK, CharVocab, WordVocab

if TYPE_CHECKING:
    from seqtrain.data.datamodule import SequenceDataModule

log = logging.getLogger(__name__)

NO_TARGET = "__no_target__"  # the stand-in target column of rows given without targets

#: What `predict` takes: file paths / globs, a `datasets.Dataset` or pandas `DataFrame`, or in-memory sequences.
Source = Any


@dataclass
class NewData:
    """What a reader makes of new data.

    examples: one (inputs, target) per example, model-ready: inputs (T,) ids or (T, F) scaled
        features; target encoded like training's, or None when the data has no targets.
    rows: the input row of each example (a row cut into pieces by `max_length` has several).
    num_rows: input rows read.
    steps: per input row, the token of each step (per-step outputs are aligned with them; tagging writes them), or None.
    test: the data in the datamodule's own test-split form, for metrics; None without targets.
    series: forecasting only: the whole scaled series, inputs (N, C), and where inputs/targets sit.
    files: per input row, the file it came from, when several files were read (else None).
    """

    examples: list[tuple[Tensor, Tensor | None]]
    rows: list[int]
    num_rows: int
    steps: list[list[str]] | None = None
    test: Any = None
    series: dict[str, Any] = field(default_factory=dict)
    files: list[str] | None = None


def read_new(datamodule: SequenceDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Read ``source`` for the model trained with ``datamodule`` (its fitted ``state`` loaded)."""
    _refuse_file_names_as_sequences(source)
    for family, reader in READERS:
        if isinstance(datamodule, family):
            try:
                return reader(datamodule, source, state)
            except DataError as e:
                raise _for_prediction(e) from None
    raise DataError(f"prediction does not know how to read new data for a {type(datamodule).__name__} model")


def _for_prediction(error: DataError) -> DataError:
    """The data code's errors advise training runs (`set data.columns='Load'`); a trained model's data settings are
    fixed, so an error that says to set one also says that the file is what can change."""
    message = str(error)
    # `check_columns`' near miss (' label', 'Label'): the file's column is what is renamed here.
    column = re.search(r"no column '(.*?)' \(data\.\w+\)", message)
    near = re.fullmatch(r"(.*)(, or |: )set data\.\w+=[^;]*", message, flags=re.DOTALL)
    if column is not None and near is not None:
        return type(error)(f"{near.group(1)}{near.group(2)}rename it to {column.group(1)!r} in the file, the name the model "
                           "was trained on")
    if "set data." not in message:
        return error
    return type(error)(f"{message} (that is a training setting; this model's data settings are fixed by its checkpoint, so "
                       "make the new data match them)")


# -- where rows come from ------------------------------------------------------------------------


def _pieces(source: Source, file_format: str, cache_dir: str | None, column: str, text_options: dict | None = None,
            headerless_layouts: bool = False) -> list[Piece]:
    """Files (paths or globs), a `datasets.Dataset`, or in-memory sequences (put in ``column``) as pieces."""
    from datasets import Dataset

    if isinstance(source, Dataset):
        return [Piece(source, "the given Dataset", "index")]
    if _is_data_frame(source):  # a table with the run's columns, as a file is (iterating it gave its column names)
        return [Piece(Dataset.from_pandas(source, preserve_index=False), "the given DataFrame", "index")]
    if isinstance(source, Mapping):  # columns by name, likewise (iterating it gave its keys)
        if not all(isinstance(v, (list, tuple)) or hasattr(v, "tolist") for v in source.values()):
            raise DataError(f"the given dict is read as a table's columns (keys {list(source)[:5]}): each value must be a "
                            "list of the rows' values")
        columns = {k: v.tolist() if hasattr(v, "tolist") else list(v) for k, v in source.items()}
        return [Piece(Dataset.from_dict(columns), "the given dict", "index")]
    if _is_files(source):
        try:
            return load_pieces(_paths(source), None, None, None, None, file_format, cache_dir, text_options, headerless_layouts)["train"]
        except DataError as e:  # the loader names the training key; here the files are --files
            raise DataError(str(e).replace("data.train_files", "--files")) from None
    values = [v.tolist() if hasattr(v, "tolist") else v for v in source]
    if not values:
        raise DataError("no sequences to predict on (an empty list)")
    return [Piece(Dataset.from_dict({column: values}), "the given sequences", "index")]


def _refuse_file_names_as_sequences(source: Source) -> None:
    """A list of strings is in-memory sequences; one that names existing files was meant as files (each name was
    predicted on as a text, or failed as a number), so it is refused with the two ways to say either."""
    if not isinstance(source, (list, tuple)) or not source or not all(isinstance(s, str) for s in source):
        return
    files = [s for s in source if _names_a_file(s)]
    if files:
        raise DataError(
            f"the given sequences are strings that name files ({', '.join(map(repr, files[:3]))}"
            f"{', ...' if len(files) > 3 else ''}): a list of strings is read as in-memory sequences (texts), not files; "
            "pass the files as Paths ([Path(f) for f in files]) or as one path or glob string"
        )


def _is_data_frame(source: Source) -> bool:
    return type(source).__name__ == "DataFrame" and type(source).__module__.startswith("pandas")


def _names_a_file(text: str) -> bool:
    try:
        return "\n" not in text and Path(text).is_file()
    except (OSError, ValueError):  # a text too long for a file name, or holding a NUL byte
        return False


def _is_files(source: Source) -> bool:
    """A path or glob (a `str` or `Path`), or a list of `Path`s; a list of strings is in-memory sequences."""
    if isinstance(source, (str, Path)):
        return True
    return isinstance(source, (list, tuple)) and bool(source) and all(isinstance(s, Path) for s in source)


def _paths(source: str | Path | Sequence[Path]) -> list[str]:
    """The files ``source`` names (each must exist, each pattern match); errors name them as --files."""
    from seqtrain.data.sources import resolve_files

    try:
        return resolve_files("files", [str(source)] if isinstance(source, (str, Path)) else [str(s) for s in source])
    except DataError as e:
        hint = " (in-memory sequences go in a list)" if isinstance(source, str) else ""
        raise DataError(str(e).replace("data.files", "--files") + hint) from None


def _row_files(origin: Any, num_rows: int) -> list[str] | None:
    """Each row's file (`Origin.pieces` in order), when there are several; one file needs no column."""
    if len(origin.pieces) < 2:
        return None
    starts = [start for _, _, start in origin.pieces]
    rows = origin.rows if origin.rows is not None else range(num_rows)
    return [origin.pieces[bisect_right(starts, int(j)) - 1][0] for j in rows]


def _wide_as_series(piece: Piece, dm: TableDataModule) -> Piece:
    """A wide table (a value per column) given to a run trained on one series per row from another layout (a UCR
    .tsv, an .arff, a .ts file, a sequence column): its step columns in the file's order, said. It was refused with
    "every other column holds numbers (here not)" when every other column did."""
    columns = step_columns(piece, dm.sequence_column, dm.target_column, target_optional=True)
    if columns is None:
        return piece
    log.info("predict: %s has no column %r (data.sequence_column) but %s of numbers%s: read as a wide table, one "
             "series a row, those columns in the file's order as its steps (the run read its series from another "
             "layout; each file's own columns, so give the steps in time order)", piece.name, dm.sequence_column,
             said_columns(columns), f" and {dm.target_column!r} (data.target_column)"
             if dm.target_column in piece.dataset.column_names else "")
    return as_sequences(piece, columns, dm.sequence_column)


def _has_column(pieces: list[Piece], column: str) -> bool:
    present = [column in p.dataset.column_names for p in pieces]
    if any(present) and not all(present):
        missing = next(p.name for p, here in zip(pieces, present) if not here)
        raise DataError(f"{missing}: no column {column!r}, which the other files have; give it in all or none")
    return all(present)


# -- tables --------------------------------------------------------------------------------------


def read_table(dm: TableDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Rows of a table: the same sequence column and kind as training; the target column may be absent."""
    pieces = _pieces(source, dm.file_format, dm.cache_dir, dm.sequence_column, headerless_layouts=dm.headerless_layouts)
    if state.get("wide_columns"):  # trained on a wide table: the same step columns, in the same order
        pieces = [as_sequences(p, state["wide_columns"], dm.sequence_column) for p in pieces]
    elif state["sequence_kind"] == "numbers" and state.get("num_features") == 1:
        pieces = [_wide_as_series(p, dm) for p in pieces]
    kind = state["sequence_kind"]
    for piece in pieces:
        check_columns(piece, {"sequence_column": dm.sequence_column})
        if dm.sequence_kind == "auto":
            found, _ = detect_sequence_kind([piece], dm.sequence_column)
            if found != kind:
                raise DataError(
                    f"{piece.name}: column {dm.sequence_column!r} holds {found} sequences; "
                    f"the model was trained on {kind} sequences"
                )
    has_targets = _has_column(pieces, dm.target_column)
    if has_targets and dm.task == "classification" and NO_LABEL not in state["class_names"]:
        pieces, has_targets = _unlabelled_rows(pieces, dm.target_column)
    reader = dm
    if not has_targets:
        log.info("predict: no column %r (data.target_column): predictions only, no metrics", dm.target_column)
        reader, pieces, state = _without_targets(dm, pieces, state)
    elif dm.task in ("classification", "tagging") and dm.unseen_labels == "error":
        # A run refuses a test label it never saw (its split would be another); new rows are each predicted, and a
        # label the model cannot output is left out of the metrics, as data.unseen_labels=ignore does. Said below.
        reader = copy.copy(dm)
        reader.unseen_labels = "ignore"
    # Read as the run read its test split: parsed, encoded, cut to max_length, packed and scaled by the same code.
    parsed, origin = reader.parse(pieces, kind)
    if has_targets and dm.task in ("classification", "tagging"):
        _say_unseen_labels(parsed, origin, state)
    packed = reader.encode(parsed, origin, state, "given")
    if kind == "text":  # lists of tokens have a word vocabulary
        _say_unknown_tokens(packed.inputs, dm.tokenizer_kind, origin)
    scale(packed, state)
    per_step = dm.task == "tagging" or dm.per_step  # outputs per step: each row's steps, to line them up with
    steps = _step_names(parsed["inputs"], kind, state_tokenizer(state)) if per_step else None
    # Every row kept for its prediction; the metrics, as in training, leave out rows whose label was unseen.
    test = packed if has_targets and len(packed) else None
    return NewData(list(packed.every_row()), packed.source_rows.tolist(), len(parsed), steps, test,
                   files=_row_files(origin, len(parsed)))


#: What an empty label cell of a prediction file becomes: a label no training file is expected to hold (a run whose
#: classes include it reads empty cells as before: an error), so the row is predicted and, as an unseen label is, left out
#: of the metrics.
NO_LABEL = "<no label>"


def _unlabelled_rows(pieces: list[Piece], column: str) -> tuple[list[Piece], bool]:
    """Classification rows whose label cell is empty (or NaN, as pandas reads an empty cell of a column of numbers):
    predicted, left out of the metrics, and said in one line; a training run refuses them (`parse_label`), but a file
    to predict on may be labelled in part. Returns the pieces and whether any row has a label (none: no metrics)."""
    def missing(value: Any) -> bool:
        return value is None or value == "" or (isinstance(value, float) and math.isnan(value))

    found, labelled, out = [], 0, []
    for piece in pieces:
        values = piece.dataset[column]
        empty = [i for i, v in enumerate(values) if missing(v)]
        found += [(piece, i) for i in empty]
        labelled += len(values) - len(empty)
        if empty:
            filled = [NO_LABEL if missing(v) else v if isinstance(v, str) else parse_label(v, piece.where(i), column)
                      for i, v in enumerate(values)]
            piece = Piece(piece.dataset.remove_columns(column).add_column(column, filled), piece.name, piece.unit, piece.lines)
        out.append(piece)
    if found:
        piece, i = found[0]
        log.warning("predict: %d of %d rows have no %r label (first: %s): %s", len(found), len(found) + labelled, column,
                    piece.where(i), "predicted, and left out of the metrics" if labelled else "predictions only, no metrics")
    return out, labelled > 0


def _say_unseen_labels(parsed: Any, origin: Any, state: dict[str, Any]) -> None:
    """One line naming the rows whose labels the model never saw: predicted, and left out of the metrics."""
    known = set(state["class_names"])
    unseen = [(i, label) for i, target in enumerate(parsed["target"])
              for label in (target if isinstance(target, list) else [target]) if str(label) not in known | {NO_LABEL}]
    if not unseen:
        return
    rows = sorted({i for i, _ in unseen})
    labels = sorted({label for _, label in unseen})
    first, label = unseen[0]
    log.warning("predict: %d row%s hold%s labels not seen in training (%s; first: %s, %r): predicted, and left out of the "
                "metrics", len(rows), "s" if len(rows) > 1 else "", "" if len(rows) > 1 else "s",
                ", ".join(map(repr, labels[:5])) + (", ..." if len(labels) > 5 else ""), origin.where(first), label)


def _without_targets(dm: TableDataModule, pieces: list[Piece], state: dict[str, Any]) -> tuple[TableDataModule, list[Piece], dict[str, Any]]:
    """Rows without a target column, read as a one-class classification whose labels are thrown away: the
    inputs go through exactly the code training used, which does not depend on the task."""
    reader = copy.copy(dm)
    reader.task, reader.per_step, reader.target_column = "classification", False, NO_TARGET
    pieces = [Piece(p.dataset.add_column(NO_TARGET, ["_"] * len(p.dataset)), p.name, p.unit) for p in pieces]
    return reader, pieces, {**state, "class_names": ["_"]}


def _say_unknown_tokens(ids: Tensor, kind: str, origin: Any) -> None:
    """What a run says of a val / test split, said of new text: mostly <unk> from a char, bpe or unigram tokenizer is
    text unlike the training text (another language or script), and the predictions read <unk>, not the text. A word
    vocabulary's <unk> is any word unseen in training, common in a small corpus: not checked (as in training)."""
    if kind == "word" or len(ids) == 0:
        return
    share = float((ids == UNK).float().mean())
    if share > MOSTLY_UNKNOWN:
        log.warning("predict: %.0f%% of the tokens of %s are <unk>: characters the training text never holds (another "
                    "language or script?); the model reads <unk> there, not the text, and its predictions say little",
                    100 * share, origin.names())


def _step_names(sequences: Sequence[Any], kind: str, tokenizer: Any) -> list[list[str]]:
    """The token of each step, as the tokenizer cut it (characters, words, or the given tokens)."""
    if kind == "tokens":
        return [list(s) for s in sequences]
    if kind == "text" and isinstance(tokenizer, CharVocab):
        return [list(s) for s in sequences]
    if kind == "text" and isinstance(tokenizer, WordVocab):
        return [WordVocab.split(s) for s in sequences]
    return [[str(i) for i in range(len(s))] for s in sequences]  # numbers / vectors: the step number


# -- forecasting ---------------------------------------------------------------------------------


def read_series(dm: ForecastDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Series with the training's columns (one row per step; each file its own series, as in training);
    windows for metrics where the targets are there."""
    names = state["columns"]
    inputs_at, targets_at = dm.positions(names)
    if isinstance(source, (np.ndarray, Tensor)) or (isinstance(source, (list, tuple)) and not _is_files(source)):
        try:
            series = np.asarray(source, dtype=np.float64)
        except (TypeError, ValueError) as e:  # strings, ragged rows, objects
            raise DataError(f"the given series is not an array of numbers ({e}); the model reads (steps, {len(names)}) "
                            f"values of the columns {names}, or files given as a path, a glob or a list of Paths") from None
        series = series[:, None] if series.ndim == 1 else series
        if series.ndim != 2 or series.shape[1] not in (len(names), len(inputs_at)):
            raise DataError(f"the given series has shape {tuple(series.shape)}; the model reads (steps, {len(names)}) "
                            f"values of the columns {names} (or only the input columns {[names[i] for i in inputs_at]})")
        parts, labels, has_targets = [series], ["the given series"], series.shape[1] == len(names)
        for k, column in enumerate(names if has_targets else [names[i] for i in inputs_at]):  # as files are checked
            check_float32(series[:, k], lambda i: f"the given series, step {i + 1}", column)
    else:
        pieces = _pieces(source, dm.file_format, dm.cache_dir, "")
        dm.check_time(pieces)  # windows are cut in file order here too
        has_targets = all(_has_column(pieces, c) for i, c in enumerate(names) if i not in inputs_at)
        parts = dm.read_series(pieces, names if has_targets else [names[i] for i in inputs_at])
        labels = [p.name for p in pieces]
    if not has_targets:
        parts = [np.concatenate([p, np.full((len(p), len(names) - p.shape[1]), np.nan)], axis=1) for p in parts]
        log.info("predict: the target columns are not all there: a forecast only, no metrics")
    for label, part in zip(labels, parts):
        if len(part) < dm.window:
            raise DataError(f"{label}: the series has {len(part)} steps; the model reads windows of {dm.window} (data.window)")
    series = np.concatenate(parts)  # (N, columns)
    scaled = Standardizer.from_dict(state).encode(torch.from_numpy(series))  # (N, columns)
    firsts = np.cumsum([0, *(len(p) for p in parts)]).tolist()
    test = None
    starts = [t for first, end in zip(firsts, firsts[1:]) for t in dm.window_starts(first, first, end)]
    if has_targets and starts:
        test = dm.windows(scaled, names, starts)
    elif has_targets:
        log.info("predict: %d steps hold no window with all its targets: a forecast only, no metrics", len(series))
    bounds = list(zip(labels, firsts, firsts[1:]))  # (name, first step, end) of each series
    return NewData([], [], len(series), test=test,
                   series={"scaled": scaled, "inputs_at": inputs_at, "targets_at": targets_at, "bounds": bounds})


# -- language modelling --------------------------------------------------------------------------


def read_text(dm: TextDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Rows of text (lines of .txt files, or `text_column`), each ending in a line break, encoded and laid out
    by the code that encoded and laid out the run's own splits."""
    dataset, origin = dm.texts(_pieces(source, dm.file_format, dm.cache_dir, dm.text_column, dm.text_options))
    tokens = dm.encode_split(dataset, origin, "given")
    _say_unknown_tokens(tokens.ids, dm.tokenizer_kind, origin)
    rows = [slice(start, end) for start, end in zip(tokens.offsets[:-1].tolist(), tokens.offsets[1:].tolist())]
    if dm.targets == "case":  # tagging: each token of a row with its case; the steps are the lower-cased characters
        examples = [(tokens.ids[r], tokens.cases[r]) for r in rows]
        steps = [list(dm.inputs_of(text)) for text in dataset[dm.text_column]]
    else:  # each row scored on its own: inputs its tokens but the last, targets the next token at each step
        examples, steps = [(tokens.ids[r][:-1], tokens.ids[r][1:]) for r in rows], None
    test = None
    if len(tokens.ids) >= dm.tokens_needed:  # the whole text, as the datamodule lays a split out
        test = dm.layout(tokens, origin, "given")
    else:
        log.info("predict: %d tokens, fewer than the %d one batch needs (as in training): no metrics", len(tokens.ids), dm.tokens_needed)
    return NewData(examples, list(range(len(rows))), len(rows), steps, test, files=_row_files(origin, len(rows)))


# -- the generated datasets ----------------------------------------------------------------------


def read_bits(dm: ParityDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Bit strings in memory (lists of 0/1)."""
    rows = [torch.as_tensor(np.asarray(s, dtype=np.int64)) for s in _in_memory(dm, source)]
    for i, bits in enumerate(rows):
        if bits.ndim != 1 or len(bits) == 0 or not bool(((bits == 0) | (bits == 1)).all()):
            raise DataError(f"sequence {i}: a parity model reads non-empty strings of bits 0/1")
    steps = [[str(int(b)) for b in bits] for bits in rows] if dm.per_step else None
    return NewData([(bits + 1, None) for bits in rows], list(range(len(rows))), len(rows), steps)


def read_adding(dm: AddingDataModule, source: Source, state: dict[str, Any]) -> NewData:
    """Sequences in memory: (T, 2) arrays of [value, marker] steps."""
    rows = [torch.as_tensor(np.asarray(s, dtype=np.float32)) for s in _in_memory(dm, source)]
    for i, x in enumerate(rows):
        if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
            raise DataError(f"sequence {i}: shape {tuple(x.shape)}; an adding model reads (T, 2) [value, marker] steps")
    return NewData([(x, None) for x in rows], list(range(len(rows))), len(rows))


def _in_memory(dm: SequenceDataModule, source: Source) -> list[Any]:
    from datasets import Dataset

    if _is_files(source) or isinstance(source, (Dataset, Mapping)) or _is_data_frame(source):
        raise DataError(f"a {type(dm).__name__} model (generated data) reads in-memory sequences only (a list), not files "
                        "or tables")
    return list(source)


READERS: list[tuple[type, Callable[..., NewData]]] = [
    (ForecastDataModule, read_series),
    (TableDataModule, read_table),
    (TextDataModule, read_text),
    (ParityDataModule, read_bits),
    (AddingDataModule, read_adding),
]
