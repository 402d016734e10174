"""Checks on a forecast file's series: rows in time order, each time once (gaps said), and columns that change."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from seqtrain.data.arrow import arrow_column
from seqtrain.errors import DataError

if TYPE_CHECKING:
    from seqtrain.data.sources import Piece

log = logging.getLogger(__name__)


def check_time_order(piece: Piece, column: str, values: np.ndarray) -> None:
    """Refuse rows out of time order or a time stamp given twice, naming the rows; say how regular the steps are.
    `values`: the column as `find_time_column` read it."""
    raw = arrow_column(piece.dataset, column)
    steps = np.diff(values)
    if len(bad := np.flatnonzero(steps <= 0)):
        i = int(bad[0]) + 1
        how = "repeats the time of" if steps[i - 1] == 0 else "comes before"
        ids = series_id_columns(piece, column, i)
        if ids:  # a long-format file: sorting it by time would interleave its series
            fix = (f"the file seems to hold several series, one for each value of {ids[0]!r} (it changes at this row: "
                   f"{raw_cell(piece, ids[0], i - 1)!r} -> {raw_cell(piece, ids[0], i)!r}); put each series in a file of "
                   "its own and give them all as data.train_files (several files are several series)")
        else:
            fix = f"sort the file by {column!r} (or set data.time_column=null if {column!r} is not the rows' time)"
        raise DataError(
            f"{piece.where(i)}, column {column!r}: {raw[i].as_py()} {how} the row above ({raw[i - 1].as_py()}); windows are "
            f"cut in file order, so the rows must be in time order, each time once: {fix}"
        )
    usual = float(np.median(steps)) if len(steps) else 0.0
    gaps = np.flatnonzero(steps > 1.5 * usual)
    if len(gaps):
        g = int(gaps[0])
        log.warning(
            "data: %s, column %r: %d gap(s) longer than the usual step (first: %s -> %s, %s); windows across a gap "
            "treat the rows as consecutive", piece.name, column, len(gaps), raw[g].as_py(), raw[g + 1].as_py(), piece.where(g + 1),
        )


def series_id_columns(piece: Piece, time: str, i: int) -> list[str]:
    """Columns that look like a series' name in a long-format file (several series stacked or interleaved): not the
    time, a value that changes between rows i - 1 and i, and far fewer distinct values than rows (an id per series,
    not a measurement)."""
    import pyarrow.compute as pc

    found = []
    for name in piece.dataset.column_names:
        if name == time:
            continue
        values = arrow_column(piece.dataset, name)
        if values[i].as_py() != values[i - 1].as_py() and len(pc.unique(values)) <= max(1, len(values) // 10):
            found.append(name)
    return found


def raw_cell(piece: Piece, column: str, i: int) -> object:
    return arrow_column(piece.dataset, column)[i].as_py()


def check_series_vary(train_steps: np.ndarray, names: list[str], targets_at: list[int]) -> None:
    """A target column that never changes over the training steps is an error (nothing to forecast); an input
    column that never changes, a warning (it tells the model nothing)."""
    constant = [k for k in range(len(names)) if np.ptp(train_steps[:, k]) == 0]
    if flat := [k for k in constant if k in targets_at]:
        raise DataError(
            f"column(s) {', '.join(repr(names[k]) for k in flat)}: the same value ({train_steps[0, flat[0]]:g}) at every one of the "
            f"{len(train_steps)} training steps; nothing to forecast (data.columns / data.target_columns)"
        )
    if constant:
        log.warning("data: column(s) %s never change over the training steps: they tell the model nothing",
                    ", ".join(repr(names[k]) for k in constant))
