"""Checks on a table's loaded rows, with the rows named: a target with one class or one value, a label written two
ways, val / test rows that are training rows, a sequence too long for one batch, a value float32 cannot hold."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqtrain.checks.values import check_float32, check_statistics, warn_dominated_scaling
from seqtrain.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from seqtrain.data.sources import Piece
    from seqtrain.data.splits import Origin
    from seqtrain.data.table_rows import PackedExamples

log = logging.getLogger(__name__)

# Without data.max_length, sequences longer than this and OUTLIER_FACTOR times the median, or than MAX_STEPS, are refused.
LONG_SEQUENCE = 10_000
OUTLIER_FACTOR = 100
MAX_STEPS = 1_000_000
# Below those limits, a row over SLOW_SEQUENCE steps and OUTLIER_FACTOR times the training median is a warning: every
# batch holding it runs its steps one after another (a 4,800-step row among 24-step ones made a run 16 times slower).
SLOW_SEQUENCE = 1_000


def check_classes(class_names: list[str], count: int, task: str, column: str, origin: Origin) -> None:
    """At least two classes; a warning when nearly every row has a label of its own (regression data?)."""
    unit = "step" if task == "tagging" else "row"
    if len(class_names) < 2:
        raise DataError(
            f"{origin.names()}, column {column!r}: every training {unit} has the label {class_names[0]!r}; "
            f"{task} needs at least two classes (is data.target_column the right column?)"
        )
    if len(class_names) > 20 and len(class_names) > 0.5 * count:
        log.warning(
            "data: column %r has %d distinct labels in %d training %ss: nearly every %s is a class of its own; "
            "if the values are quantities, use data.task=regression", column, len(class_names), count, unit, unit,
        )
    elif (numbers := quantities(class_names)) is not None:
        log.warning(
            "data: column %r holds numbers, not class ids (%d distinct values from %g to %g in training, not the "
            "0..K-1 or 1..K that number classes): each value is trained as a class of its own (data.task=%s); if they "
            "are quantities (an age, a price, a score), use data.task=regression",
            column, len(class_names), numbers.min(), numbers.max(), task,
        )


#: Numeric labels with more distinct values than this that are not class ids read as quantities (`quantities`).
NUMERIC_CLASSES = 10


def quantities(class_names: list[str]) -> np.ndarray | None:
    """The labels as numbers where they look like quantities rather than class ids: every one a finite number, more
    than NUMERIC_CLASSES of them, and not the integers 0..K-1 or 1..K that archives number their classes with (the
    UCR archive's 1..60, say; '1.0' counts as 1). None otherwise."""
    if len(class_names) <= NUMERIC_CLASSES:
        return None
    try:
        numbers = np.array([float(name) for name in class_names])
    except ValueError:
        return None
    if not np.isfinite(numbers).all():
        return None
    ids = np.sort(numbers)
    if (ids == np.round(ids)).all() and ids[0] in (0, 1) and (np.diff(ids) == 1).all():
        return None
    return numbers


def check_varies(targets: Any, per_step: bool, column: str, origin: Origin) -> None:
    """A regression target that never changes over the training split is an error (nothing to learn); one
    constant component of several is a warning."""
    import pyarrow.compute as pc

    values = pc.list_flatten(targets) if per_step else targets  # lists of num_targets reals
    if len(pc.unique(pc.list_value_length(values))) != 1:
        return  # rows of other widths: encoding names the first one
    array = np.asarray(values.to_pylist(), dtype=np.float64)  # (N, num_targets)
    constant = np.flatnonzero(np.ptp(array, axis=0) == 0)
    if len(constant) == array.shape[1]:
        value = ", ".join(f"{v:g}" for v in array[0])
        raise DataError(
            f"{origin.names()}, column {column!r}: every training {'step' if per_step else 'row'} has the target {value}; "
            "regression needs a target that varies (is data.target_column the right column?)"
        )
    if len(constant):
        log.warning("data: column %r: target component(s) %s never change over the training split (always %s)",
                    column, ", ".join(map(str, constant)), ", ".join(f"{array[0, k]:g}" for k in constant))


def check_inputs_vary(train: PackedExamples, origin: Origin, column: str) -> None:
    """Training rows with one target each whose sequences are all the same (as encoded: the same steps, the same values
    or tokens) give a model nothing to tell them apart by: an error (the wrong column?). Per-step targets are not
    checked: a position alone can carry them."""
    if train.per_step or len(train) < 2 or len(set(train.lengths)) > 1:
        return
    offsets, rows = np.asarray(train.offsets), np.asarray(train.rows)
    inputs = train.inputs.numpy()
    first = inputs[offsets[rows[0]]:offsets[rows[0] + 1]]
    starts = offsets[rows]
    steps = starts[:, None] + np.arange(len(first))[None, :]  # (N, T) flat step indices, every row as long as the first
    if not np.array_equal(inputs[steps], np.broadcast_to(first, (len(rows), *first.shape)), equal_nan=inputs.dtype.kind == "f"):
        return
    shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in first.reshape(-1)[:8].tolist())
    raise DataError(
        f"{origin.names()}, column {column!r}: every one of the {len(rows)} training rows holds the same sequence "
        f"({len(first)} steps: {shown}{' ...' if first.size > 8 else ''}), so a model has nothing to tell them apart by "
        "(is data.sequence_column the right column?)"
    )


def check_missing_targets(piece: Piece, column: str) -> None:
    """Rows of a file whose target cell is empty (or the key absent from a JSON Lines record): one error that counts them
    and names the first few, with the fix, rather than one row per run. A CSV cell the reader took for missing that
    holds text (`nan`, `NA`) is left to the row's own error, which says what it holds."""
    import pyarrow.compute as pc

    from seqtrain.data.arrow import arrow_column
    from seqtrain.data.sources import written_column

    if column not in piece.dataset.column_names:
        return
    missing = np.flatnonzero(pc.is_null(arrow_column(piece.dataset, column)).to_numpy(zero_copy_only=False))
    if len(missing) and piece.csv_sep is not None:
        written = written_column(piece.name, column, sep=piece.csv_sep)
        if len(written) == len(piece.dataset):
            missing = np.asarray([i for i in missing if not (written[i] or "").strip()], dtype=np.int64)
    if not len(missing):
        return
    shown = ", ".join(piece.where(int(i))[len(piece.name) + 2:] for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
    raise DataError(
        f"{piece.where(int(missing[0]))}, column {column!r}: an empty or missing target; {len(missing)} of the file's "
        f"{len(piece.dataset)} rows have none ({shown}); every row needs its target (data.target_column): fill them in, "
        f"or delete those rows (pandas: df.dropna(subset=[{column!r}]))"
    )


CHANNELS_FIRST = (
    "a row is read as a list of steps, each a list of that step's features; if each inner list is instead one channel's "
    "whole series (channels first: numpy's (channels, steps) layout, as sktime / aeon hold multivariate series), "
    "write each row transposed, one list per step (numpy: x.T.tolist(); channels of different lengths resampled or "
    "padded to one length first)"
)


def channels_first(dataset: Dataset) -> tuple[int, int] | None:
    """(steps, features) when every row of a split of feature vectors has the same number of steps, and fewer steps
    than its row's features: the shape of rows written channels first (each inner list a channel's series), since a
    series has one step count per row only when the rows are the channels; None otherwise."""
    import pyarrow.compute as pc

    from seqtrain.data.arrow import arrow_column

    values = arrow_column(dataset, "inputs")
    steps = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    if not len(steps) or (steps != steps[0]).any():
        return None
    widths = pc.list_value_length(pc.list_element(values, 0)).to_numpy(zero_copy_only=False)
    return (int(steps[0]), int(np.median(widths))) if (steps < widths).all() else None


def warn_channels_first(train: Dataset, origin: Origin, column: str) -> None:
    """Feature vectors whose every training row has one number of steps, below its feature count, were probably written
    channels first (a row per channel, not per step): a warning, since short rows of wide vectors are legal."""
    shape = channels_first(train)
    if shape is not None:
        log.warning(
            "data: %s, column %r: every training row has %d steps of %d features (the same number of steps in every "
            "row, and fewer steps than features); %s", origin.names(), column, *shape, CHANNELS_FIRST,
        )


def check_widths(splits: dict[str, tuple[Dataset, Origin]], field: str, column: str, expected: int | None,
                 what: tuple[str, str]) -> None:
    """Every row of every split has `expected` values per step (feature vectors; per-step targets) or per row (targets)
    in `field`: a fitted state's count, or the most common in the training split (not its first row's, which may be
    the odd one). The error names the first row of another width and the first few of each split, with their widths.

    what: (the values' name, "step" | "row"), e.g. ("features", "step").
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from seqtrain.data.arrow import arrow_column

    def widths(dataset: Dataset) -> np.ndarray:
        values = arrow_column(dataset, field)
        if pa.types.is_list(values.type.value_type):  # a vector per step: rows are not ragged, so step 1's width is the row's
            values = pc.list_element(values, 0)
        return pc.list_value_length(values).to_numpy(zero_copy_only=False)

    name, unit = what
    found = {split: widths(dataset) for split, (dataset, _) in splits.items()}
    if expected is None:
        counts = np.bincount(found["train"])
        expected = int(counts.argmax())
        reference = f"the training data has {expected} per {unit} (in {counts[expected]} of its {len(found['train'])} rows)"
    else:
        reference = f"the trained model has {expected} per {unit}"
    for split, (dataset, origin) in splits.items():
        other = np.flatnonzero(found[split] != expected)
        if len(other):
            first = int(other[0])
            has = f"step 1 has {found[split][first]} {name}" if unit == "step" else f"{found[split][first]} {name} per row"
            shown = ", ".join(f"{origin.where(int(i))} ({found[split][i]})" for i in other[:3])
            hint = f"; {CHANNELS_FIRST}" if field == "inputs" and channels_first(dataset) is not None else ""
            raise DataError(
                f"{origin.where(first)}, column {column!r}: {has}; {reference}; the {split} split's rows with another count: "
                f"{shown}{', ...' if len(other) > 3 else ''} ({len(other)} of {len(dataset)}); give every {unit} the same {name}"
                f"{hint}"
            )


def check_spellings(labels: Any, column: str, origin: Origin, per_step: bool) -> None:
    """Two labels that differ only in surrounding spaces are one class written two ways (a CSV written with ", "):
    an error naming where each first appears; labels that differ only in case, a warning."""
    import pyarrow.compute as pc

    names = [n for n in pc.unique(labels).to_pylist() if isinstance(n, str)]
    for fold, problem in ((str.strip, "surrounding spaces"), (lambda n: n.strip().casefold(), "upper / lower case")):
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(fold(name), []).append(name)
        clash = next((g for g in groups.values() if len(g) > 1), None)
        if clash is None:
            continue
        shown = ", ".join(
            repr(n) if per_step else f"{n!r} (first: {origin.where(int(pc.index(labels, n).as_py()))})" for n in clash[:3]
        )
        message = f"{origin.names()}, column {column!r}: labels that differ only in {problem}: {shown}"
        if fold is str.strip:
            raise DataError(f"{message}: one class written two ways; strip the spaces in the file (pandas: skipinitialspace=True)")
        log.warning("data: %s; they are different classes (write one spelling per class if they are one)", message)
        return


def check_written_labels(pieces: list[Piece], column: str) -> None:
    """Class labels as the files write them, against the classes they are read as (classification and tagging, local
    files).

    A JSON Lines label column that mixes strings and numbers is an error naming a line of each: datasets reads it as
    JSON text and turns the strings `"01"`, `"1.0"` and `"true"` into numbers and booleans, merging distinct written
    labels. A CSV label column of numbers is read as numbers, so `1`, `1.0` and `01` are one class (the same number;
    `True` and `true` in a column pandas reads as booleans likewise):
    a warning names each class written more than one way and where each spelling first appears.
    """
    from seqtrain.data.arrow import arrow_column
    from seqtrain.data.parsing import parse_label
    from seqtrain.data.sources import place, written_column, written_json_values

    spellings: dict[str, dict[str, str]] = {}  # class -> {spelling: where it first appears}
    read_as: set[str] = set()  # what pandas read the columns that are not text as
    for piece in pieces:
        if "://" in piece.name or not Path(piece.name).is_file():
            continue
        feature = piece.dataset.features[column]
        if "Json" in (type(feature).__name__, type(getattr(feature, "feature", None)).__name__) and piece.unit == "line":
            # Each line's labels: one (classification) or a list of them (tagging).
            values = [v if isinstance(v, list) else [v] for v in written_json_values(piece.name, column)]
            strings = next(((i, x) for i, v in enumerate(values) for x in v if isinstance(x, str)), None)
            others = next(((i, x) for i, v in enumerate(values) for x in v if x is not None and not isinstance(x, (str, list, dict))), None)
            if strings is not None and others is not None:
                line = (lambda i: piece.lines[i]) if piece.lines is not None and len(piece.lines) == len(values) else (lambda i: i + 1)
                raise DataError(
                    f"{piece.name}, column {column!r}: labels of mixed types, a string at line {line(strings[0])} "
                    f"({strings[1]!r}) and {'true / false' if isinstance(others[1], bool) else 'a number'} "
                    f"{json.dumps(others[1])} at line {line(others[0])}; such a column is read as JSON, which turns strings such as \"01\", \"1.0\" and "
                    "\"true\" into numbers and booleans and merges distinct labels; write every label as a string")
            continue
        if piece.csv_sep is None:
            continue
        read = arrow_column(piece.dataset, column).to_pylist()
        # Text labels reach the parsers as written; a column of numbers (in this file or another) is read again as text.
        text_labels = getattr(feature, "dtype", None) in ("string", "large_string")
        written = read if text_labels else written_column(piece.name, column, sep=piece.csv_sep)
        if not text_labels:
            read_as.add("true / false" if getattr(feature, "dtype", None) == "bool" else "numbers")
        if len(written) != len(read):
            continue  # rows the csv module counts otherwise than pandas: nothing to pair them with
        for i, (value, text) in enumerate(zip(read, written)):
            if value is None or text is None:
                continue
            label = parse_label(value, "", column)
            spellings.setdefault(label, {}).setdefault(text.strip(), place(piece.name, piece.unit, i))
    merged = {label: found for label, found in spellings.items() if len(found) > 1}
    if merged:
        shown = "; ".join(
            " and ".join(f"{text!r} ({where})" for text, where in list(found.items())[:3]) + f" are class {label!r}"
            for label, found in list(merged.items())[:3]
        )
        log.warning("data: column %r is read as %s, so labels written differently that are one value are one "
                    "class: %s%s; if they are different classes, write them as text (e.g. 'c1', 'c1.0')",
                    column, " and ".join(sorted(read_as)), shown, f" (and {len(merged) - 3} more)" if len(merged) > 3 else "")


def warn_shared_rows(splits: dict[str, tuple[Dataset, Origin]], same_files: set[str]) -> None:
    """Warn when val / test rows are also training rows (splits given the training files, `same_files`, were warned of),
    and when test rows are also validation rows (`data.test_files` equal to `data.val_files`, or rows repeated across
    them): the best checkpoint and early stopping were chosen on those rows, so the test metrics overstate too."""
    seen = set(row_hashes(splits["train"][0]))
    for name in ("val", "test"):
        if name in same_files or name not in splits:
            continue
        dataset, origin = splits[name]
        shared = [i for i, row in enumerate(row_hashes(dataset)) if row in seen]
        if shared:
            log.warning("data: %d of %d %s rows are also training rows (first: %s): %s metrics overstate how well the model "
                        "does on new data", len(shared), len(dataset), name, origin.where(shared[0]), name)
    if "val" in splits and "test" in splits and len(splits["val"][0]) > 0:
        validated = set(row_hashes(splits["val"][0]))
        dataset, origin = splits["test"]
        shared = [i for i, row in enumerate(row_hashes(dataset)) if row in validated]
        if shared:
            log.warning("data: %d of %d test rows are also validation rows (first: %s): the best checkpoint (and early "
                        "stopping) were chosen on them, so test metrics overstate how well the model does on new data; "
                        "give data.test_files rows the run does not validate on", len(shared), len(dataset),
                        origin.where(shared[0]))


def row_hashes(dataset: Dataset) -> Iterator[int]:
    """A hash of each parsed row (inputs and target), in order."""
    return (hash(repr(row)) for batch in dataset.iter(batch_size=1000) for row in zip(batch["inputs"], batch["target"]))


def check_lengths(split: PackedExamples, origin: Origin, train: PackedExamples, column: str) -> None:
    """Refuse, without data.max_length, a sequence so long that one batch holding it would not fit in memory
    (usually a few outliers, a 10 MB cell among sentences; the limits: `LONG_SEQUENCE`)."""
    lengths = np.diff(np.asarray(split.offsets))  # (rows,) steps per row
    train_lengths = np.diff(np.asarray(train.offsets))
    if len(lengths) == 0:
        return
    median = float(np.median(train_lengths))
    limit = min(max(LONG_SEQUENCE, OUTLIER_FACTOR * median), MAX_STEPS)
    longest = int(lengths.argmax())
    steps = int(lengths[longest])
    if steps > limit:
        suggestion = _max_length_for(train_lengths, limit, LONG_SEQUENCE)
        count = int((lengths > limit).sum())
        raise DataError(
            f"{origin.where(longest)}, column {column!r}: a sequence of {steps:,} steps "
            f"(the training median is {median:g}; {count} row(s) this long); one batch holding it needs memory for "
            f"{steps:,} steps of every layer; set data.max_length (e.g. data.max_length={suggestion}, the 99th "
            "percentile of the other training rows) to cut such rows (data.overflow=truncate or split), or fix the row"
        )
    if steps > SLOW_SEQUENCE and steps > OUTLIER_FACTOR * median:
        count = int(((lengths > SLOW_SEQUENCE) & (lengths > OUTLIER_FACTOR * median)).sum())
        suggestion = _max_length_for(train_lengths, OUTLIER_FACTOR * median, SLOW_SEQUENCE)
        log.warning(
            "data: %s, column %r: a sequence of %s steps, %.0f times the training median of %g (%d of the split's %d "
            "rows are over %d times it); the recurrence runs a batch's steps one after another, so each batch holding "
            "it takes about as long as %.0f usual batches; is the row right? data.max_length=%d (the 99th percentile of "
            "the other training rows) cuts such rows (data.overflow=truncate or split)",
            origin.where(longest), column, f"{steps:,}", steps / median, median, count, len(lengths), OUTLIER_FACTOR,
            steps / median, suggestion,
        )


def _max_length_for(train_lengths: np.ndarray, bound: float, otherwise: int) -> int:
    """The `data.max_length` to suggest: the 99th percentile of the training rows no longer than `bound` (`otherwise`
    when there are none)."""
    usual = train_lengths[train_lengths <= bound]
    return max(int(np.percentile(usual, 99)), 1) if len(usual) else otherwise


def check_magnitudes(split: PackedExamples, origin: Origin, columns: tuple[str, str]) -> None:
    """Refuse real inputs or regression targets of a packed (unscaled) split whose magnitude float32 cannot hold,
    naming the file, row, step and column (`seqtrain.checks.values`)."""
    sequence_column, target_column = columns
    if split.inputs.is_floating_point():
        width = split.inputs.shape[1]
        check_float32(split.inputs.numpy(), lambda i: step_place(split, origin, i // width), sequence_column)
    if split.targets.is_floating_point():
        width = split.targets.shape[1]
        where = (lambda i: step_place(split, origin, i // width)) if split.per_step else (
            lambda i: origin.where(int(split.source_rows[i // width])))
        check_float32(split.targets.numpy(), where, target_column)


def check_scaling(train: PackedExamples, origin: Origin, state: dict[str, Any], columns: tuple[str, str]) -> None:
    """Refuse input or target scaling (`fit_scaling`'s) that is not finite, naming the row of the largest value; warn
    where a handful of values set it (`warn_dominated_scaling`)."""
    from seqtrain.encoders.saved import scalers_from_state

    inputs, targets = scalers_from_state(state)
    at_step = partial(step_place, train, origin)  # step i of the flat split
    if inputs is not None:
        values = train.inputs.numpy()
        check_statistics(inputs, values, [columns[0]] * values.shape[1], at_step, "inputs")
        warn_dominated_scaling(values, [columns[0]] * values.shape[1], at_step,
                               "inputs" if values.shape[1] == 1 else "inputs' features")
    if targets is not None:
        values = train.targets.numpy()
        where = at_step if train.per_step else (lambda i: origin.where(int(train.source_rows[i])))
        check_statistics(targets, values, [columns[1]] * values.shape[1], where, "targets")
        warn_dominated_scaling(values, [columns[1]] * values.shape[1], where, "targets")


def step_place(split: PackedExamples, origin: Origin, step: int) -> str:
    """`train.csv, row 4 (step 3)`: where step `step` of a packed split's flat steps comes from (a row cut into
    pieces by `max_length` counts its steps from its first piece)."""
    offsets, rows = np.asarray(split.offsets), split.source_rows
    piece = int(np.searchsorted(offsets, step, side="right")) - 1
    first = int(np.searchsorted(rows, rows[piece]))
    return f"{origin.where(int(rows[piece]))} (step {step - int(offsets[first]) + 1})"


def check_numbers_as_tokens(splits: dict[str, tuple[Dataset, Origin]], column: str) -> None:
    """Refuse token sequences detected by `data.sequence_kind=auto` whose every token in every split is a number
    written as a string (JSON Lines' `["-0.7", "0.5"]`, a CSV's `['-0.7', '0.5']`): read as tokens, each value would
    be a word of its own and the model would learn nothing of their size."""
    import pyarrow.compute as pc

    from seqtrain.data.arrow import arrow_column
    from seqtrain.data.parsing import ONE_NUMBER, matching

    tokens = [pc.list_flatten(arrow_column(dataset, "inputs")) for dataset, _ in splits.values()]
    if not sum(len(t) for t in tokens) or not all(pc.all(matching(t, ONE_NUMBER)).as_py() in (True, None) for t in tokens):
        return
    dataset, origin = splits["train"]
    first = dataset[0]["inputs"]
    shown = ", ".join(repr(t) for t in first[:3]) + (", ..." if len(first) > 3 else "")
    raise DataError(
        f"{origin.where(0)}, column {column!r}: [{shown}]: every token of every row is a number written as a string, "
        "which data.sequence_kind=auto reads as tokens (each value a word of its own, its size unknown to the model); "
        "write the numbers as numbers, not strings ([-0.712, 0.5]), or set data.sequence_kind=tokens to keep them as tokens"
    )
