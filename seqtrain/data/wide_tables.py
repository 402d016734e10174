"""Wide tables, read as they are: a header, a target column, and one column per time step (`label,t0,t1,...`, as
`pandas.DataFrame.to_csv` writes a frame of one series a row).

A file is read this way when it has no column `data.sequence_column` but has `data.target_column`, and every other
column (at least two) holds numbers: those columns, in the file's order, are each row's steps, and the run says which.
Empty cells (`NaN`) at the end of a row pad a shorter series and are dropped; one between values is an error naming
the row and column. A column named as a row identifier (pandas' index, `id`, `series_id`, ...) is refused by name:
it would have been read as a step. The columns are saved with the data's state, so a resume, an evaluation or a
prediction reads the same columns in the same order (a file without one of them is an error naming it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from seqtrain.errors import DataError

if TYPE_CHECKING:
    from seqtrain.data.sources import Piece

log = logging.getLogger(__name__)

#: Column names a row index gets (pandas' `to_csv` without `index=False`: an empty name, read as `Unnamed: 0`).
INDEX_NAMES = ("", "index")


def _numeric(feature: Any) -> bool:
    return getattr(feature, "dtype", "").startswith(("int", "uint", "float"))


def step_columns(piece: Piece, sequence_column: str, target_column: str, target_optional: bool = False) -> list[str] | None:
    """The columns holding a wide table's steps, in file order; None when `piece` is not a wide table (it has the
    sequence column, lacks the target column (unless `target_optional`: new rows to predict), or another column
    holds anything but numbers)."""
    features = piece.dataset.features
    names = list(features)
    if sequence_column in names or (target_column not in names and not target_optional):
        return None
    steps = [n for n in names if n != target_column]
    if len(steps) < 2 or not all(_numeric(features[n]) for n in steps):
        return None
    index = next((n for n in steps if n.strip().lower() in INDEX_NAMES or n.startswith("Unnamed: ")), None)
    if index is not None:
        raise DataError(
            f"{piece.name}: read as a wide table (no column {sequence_column!r}; {target_column!r} and {len(steps)} "
            f"columns of numbers), but its column {index!r} is a row index (pandas' to_csv writes one unless "
            "index=False), not a step: write the file without it"
        )
    named = next((n for n in steps if identifier(n)), None)
    if named is not None:
        raise DataError(
            f"{piece.name}: read as a wide table (no column {sequence_column!r}; {target_column!r} and {len(steps)} "
            f"columns of numbers, each a step), but its column {named!r} is named as a row identifier, not a step of "
            "the series (it would have been read as one); write the file without it"
        )
    return steps


#: Column names of row identifiers, lower-cased: `id`, and names ending in one (`series_id`, `case id`).
ID_NAMES = ("id", "idx", "row", "row_id", "sample", "sample_id", "key")


def identifier(name: str) -> bool:
    """Whether a column's name is a row identifier's (`id`, `series_id`, `case id`): never a time step."""
    lowered = name.strip().lower()
    return lowered in ID_NAMES or lowered.endswith(("_id", " id", "-id"))


def target_named_otherwise(piece: Piece, sequence_column: str, target_column: str) -> str | None:
    """The error for a wide table whose target column has another name than `data.target_column` (`class,t0,t1,...`
    with the default `label`): every column but one (or every column) holds numbers, and neither the sequence column
    nor the target column is there. None when the file is not such a table."""
    from seqtrain.checks.files import headerless
    from seqtrain.data.sources import holds_sequences

    features = piece.dataset.features
    names = list(features)
    if sequence_column in names or target_column in names or len(names) < 3 or headerless(names):
        return None  # (a first row of numbers is data, not a header: `check_columns` says so)
    others = [n for n in names if not _numeric(features[n])]
    if len(others) > 1 or (others and len(piece.dataset) and holds_sequences(piece.dataset[0][others[0]])):
        return None  # (a column of sequences beside columns of numbers: not a wide table, whose label is one value)
    which = (f"every column but {others[0]!r} holds numbers: if {others[0]!r} is the label, set "
             f"data.target_column={others[0]}" if others else
             "every column holds numbers: set data.target_column to the label's column")
    return (f"{piece.name}: no column {sequence_column!r} (data.sequence_column) and no column {target_column!r} "
            f"(data.target_column); its columns are {said_columns(names)}, as a wide table's (a column per step); "
            f"{which}, and the other columns, in the file's order, are read as each row's steps")


def said_columns(columns: list[str]) -> str:
    shown = ", ".join(columns[:3]) + (f", ..., {columns[-1]}" if len(columns) > 4 else "".join(f", {c}" for c in columns[3:]))
    return f"{len(columns)} columns ({shown})"


def as_sequences(piece: Piece, columns: list[str], sequence_column: str) -> Piece:
    """`piece` with its step `columns` gathered into one `sequence_column` list per row (trailing missing values
    dropped), the columns themselves removed."""
    from datasets import Dataset

    missing = [c for c in columns if c not in piece.dataset.column_names]
    if missing:
        raise DataError(
            f"{piece.name}: no column {missing[0]!r} ({len(missing)} of the {len(columns)} step columns the model "
            f"reads are missing); the run read each row's steps from {said_columns(columns)}, in that "
            "order: give them all"
        )
    table = piece.dataset.select_columns(columns).to_dict()
    sequences = []
    for i, values in enumerate(zip(*(table[c] for c in columns), strict=True)):
        row = [math.nan if v is None else float(v) for v in values]
        while row and math.isnan(row[-1]):  # a shorter series: empty cells at the end of its row
            row.pop()
        gap = next((j for j, v in enumerate(row) if not math.isfinite(v)), None)
        if gap is not None:
            raise DataError(f"{piece.where(i)}, column {columns[gap]!r}: {'empty' if math.isnan(row[gap]) else row[gap]}, "
                            "between the row's values (an empty cell is read only as the padding at the end of a shorter "
                            "series); fill or drop it first")
        if not row:
            raise DataError(f"{piece.where(i)}: every step column ({said_columns(columns)}) is empty")
        sequences.append(row)
    rest = piece.dataset.remove_columns(columns)
    # Without other columns (a prediction file of steps alone) the table has no rows left to add a column to.
    dataset = rest.add_column(sequence_column, sequences) if rest.column_names else Dataset.from_dict({sequence_column: sequences})
    return replace(piece, dataset=dataset)


def read_wide(pieces: dict[str, list[Piece]], saved: list[str] | None, sequence_column: str,
              target_column: str) -> tuple[dict[str, list[Piece]], list[str] | None]:
    """Every split's pieces with their step columns gathered (`as_sequences`), and the step columns: `saved` (a
    resume's, from the data's state) or found in the first training file; None (pieces unchanged) when the data is
    not a wide table. Every file of every split must then be one, with the same step columns."""
    every = [p for split_pieces in pieces.values() for p in split_pieces]
    if not every:
        return pieces, saved
    columns = saved
    if columns is None:
        first = every[0]
        columns = step_columns(first, sequence_column, target_column)
        if columns is None:
            if (problem := target_named_otherwise(first, sequence_column, target_column)) is not None:
                raise DataError(problem)
            return pieces, None
        log.info("data: %s has no column %r (data.sequence_column) but %r (data.target_column) and %s of numbers: read "
                 "as a wide table, one series a row, those columns in the file's order as its steps (empty cells at the "
                 "end of a row pad a shorter series)", first.name, sequence_column, target_column, said_columns(columns))
        for piece in every[1:]:  # a resume's files need the saved columns only (`as_sequences` names one missing)
            found = step_columns(piece, sequence_column, target_column)
            if found != columns:
                raise DataError(
                    f"{piece.name}: {'not a wide table' if found is None else 'other step columns: ' + said_columns(found)}, "
                    f"but {first.name} is one, with the step columns {said_columns(columns)}: give every file the "
                    "same columns"
                )
    return {split: [as_sequences(p, columns, sequence_column) for p in split_pieces]
            for split, split_pieces in pieces.items()}, columns
