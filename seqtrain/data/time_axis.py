"""A forecast file's time column: found, and kept out of the model's inputs (`seqtrain.checks.series` checks its order).

Windows are cut in file order, so rows out of time order or a time stamp given twice would train and
score on series that never happened, without any error. `data.time_column=auto` looks for a column
of time stamps (text that parses as dates, or a date / timestamp column) or a numeric column that
only increases by one fixed step (a row index, years); a named column must be one of these.
"""

from __future__ import annotations

import logging
import re
import warnings

import numpy as np

from seqtrain.data.arrow import arrow_column
from seqtrain.data.parsing import ONE_NUMBER, numeric_cells
from seqtrain.data.sources import DataError, Piece, check_columns

log = logging.getLogger(__name__)

#: A date that starts with its day or its month (`01/02/1980`, `13.02.2020`): read month first, or day first.
DAY_OR_MONTH_FIRST = re.compile(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")


def time_values(piece: Piece, column: str) -> tuple[np.ndarray, bool] | None:
    """The column as comparable numbers (float64; dates in ns) and whether they are time stamps (not plain
    numbers), or None when it cannot be a time axis."""
    import pyarrow as pa

    values = arrow_column(piece.dataset, column)
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return None if values.null_count else (values.to_numpy(zero_copy_only=False).astype(np.float64), False)
    stamped = pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)
    if not (stamped or pa.types.is_string(values.type) or pa.types.is_large_string(values.type)) or not len(values):
        return None
    if not stamped and numeric_cells(values, ONE_NUMBER)[0]:  # numbers written as text are values, not dates
        return None
    import pandas as pd

    if not stamped and isinstance(first := values[0].as_py(), str) and _quarter(first) is not None:
        return _quarters(piece, column, values.to_pylist())
    with warnings.catch_warnings():  # "could not infer format": parsed one by one
        warnings.simplefilter("ignore")
        dayfirst = not stamped and _day_first(piece, column, values[:100].to_pylist())
        head = pd.to_datetime(pd.Series(values[:100].to_pylist()), errors="coerce", dayfirst=dayfirst)
        if not stamped and (head.isna().iloc[0] or head.isna().mean() > 0.1):
            return None  # a text column (a date typo or another format in 1 of 10 rows still makes it dates)
        stamps = pd.to_datetime(pd.Series(values.to_pylist()), errors="coerce", dayfirst=dayfirst)
    if len(bad := np.flatnonzero(stamps.isna().to_numpy())):  # dates with a gap or a typo: the order cannot be checked
        raise DataError(
            f"{piece.where(int(bad[0]))}, column {column!r}: {_shown(values[int(bad[0])].as_py())} is not a date or time "
            f"written like the column's others ({_shown(values[0].as_py())} in its first row; {len(bad)} row{'s' * (len(bad) > 1)} "
            "like this); the column orders the rows (data.time_column): fix them, or set data.time_column=null"
        )
    return stamps.astype("int64").to_numpy().astype(np.float64), True


#: Quarters as R, pmdarima and statistics offices write them: `1956 Q1`, `Q1 1965`, `1974Q1`, `1974-Q1`, `1974 q1`.
QUARTER = re.compile(r"^\s*(?:(\d{4})\s*[-/ ]?\s*[Qq]([1-4])|[Qq]([1-4])\s*[-/ ]?\s*(\d{4}))\s*$")


def _quarter(text: str) -> int | None:
    """A quarter label as a count of quarters (year * 4 + quarter - 1), or None."""
    if (match := QUARTER.match(text)) is None:
        return None
    year, quarter = (match[1], match[2]) if match[1] else (match[4], match[3])
    return int(year) * 4 + int(quarter) - 1


def _quarters(piece: Piece, column: str, cells: list[object]) -> tuple[np.ndarray, bool]:
    """A column of quarter labels as time stamps (pandas reads `1956 Q1` and `Q1 1965` as no date, and `1974Q1` with a
    warning that it will stop); another value in the column is an error naming its row."""
    counts = [_quarter(c) if isinstance(c, str) else None for c in cells]
    if len(bad := [i for i, c in enumerate(counts) if c is None]):
        raise DataError(
            f"{piece.where(bad[0])}, column {column!r}: {_shown(cells[bad[0]])} is not a quarter written like the column's others "
            f"({_shown(cells[0])} in its first row; {len(bad)} row{'s' * (len(bad) > 1)} like this); the column orders the rows "
            "(data.time_column): fix them, or set data.time_column=null"
        )
    months = np.array(counts, dtype=np.int64) * 3  # months since year 0: the quarter's first month
    stamps = [np.datetime64(f"{m // 12:04d}-{m % 12 + 1:02d}", "M").astype("datetime64[ns]").astype(np.int64) for m in months]
    return np.array(stamps, dtype=np.float64), True


def _day_first(piece: Piece, column: str, head: list[object]) -> bool:
    """Whether dates that start with a day or a month (`01/02/1980`) are day first: pandas reads them month first, so
    `13/01/2020` was not a date (the column was not taken for a time axis) and the first of each month, `01/02/1980`,
    was read as 2 January (a series of false gaps). Day first when it reads more of the first 100 rows, or as many with
    more regular steps; said in one line."""
    import pandas as pd

    if not isinstance(head[0], str) or not DAY_OR_MONTH_FIRST.match(head[0]):
        return False
    month, day = (pd.to_datetime(pd.Series(head), errors="coerce", dayfirst=first) for first in (False, True))
    if day.notna().sum() != month.notna().sum():
        chosen = bool(day.notna().sum() > month.notna().sum())
        why = f"{int(max(day.notna().sum(), month.notna().sum()))} of the first {len(head)} rows are dates read so, " \
              f"{int(min(day.notna().sum(), month.notna().sum()))} read {'month' if chosen else 'day'} first"
    elif month.equals(day) or month.isna().any():
        return False
    else:  # every row reads both ways: the reading whose steps are more regular (fewer steps away from the usual one)
        def irregular(stamps: pd.Series) -> int:
            steps = np.diff(stamps.astype("int64").to_numpy().astype(np.float64))
            usual = float(np.median(steps)) if len(steps) else 0.0
            return int(((steps <= 0) | (steps > 1.5 * usual) | (steps < usual / 1.5)).sum())
        if irregular(day) >= irregular(month):
            return False
        chosen = True
        why = f"every one of the first {len(head)} rows reads both ways; day first, their steps are regular " \
              f"({irregular(day)} irregular against {irregular(month)} month first)"
    if chosen:
        log.info("data: %s, column %r: dates read day first (%r is %s): %s; write them as YYYY-MM-DD to leave no doubt",
                 piece.name, column, head[0], day.iloc[0].strftime("%d %B %Y"), why)
    return chosen


def _shown(value: object) -> str:
    return "an empty value" if value is None or value == "" else repr(value)


def find_time_column(piece: Piece, requested: str | None, used: list[str]) -> tuple[str, np.ndarray] | None:
    """`data.time_column` and its values as `time_values` reads them: the named column (checked to be a time axis),
    or with "auto" the first column that is one and is not a model input or target (`used`): time stamps, or numbers
    rising by one fixed step."""
    if requested is None:
        return None
    if requested != "auto":
        check_columns(piece, {"time_column": requested})
        if requested in used:
            raise DataError(f"data.time_column={requested!r} is also in data.columns / data.target_columns; "
                            "the time axis orders the rows, it is not a value to learn or forecast")
        if (read := time_values(piece, requested)) is None:
            raise DataError(f"{piece.name}, column {requested!r} (data.time_column): not a time axis: every value "
                            "must be a date / time stamp or a number, none missing")
        return requested, read[0]
    found = {name: read for name in piece.dataset.column_names if name not in used and (read := time_values(piece, name))}
    numeric = [name for name, (_, stamps) in found.items() if not stamps]
    # Dates first: a row index beside them (pandas' `Unnamed: 0`, written after the rows were put in another order)
    # rises whatever order the dates are in; taken first, it passed a file of dates from newest to oldest.
    for name, (values, stamps) in sorted(found.items(), key=lambda item: not item[1][1]):
        if stamps:
            return name, values
        steps = np.diff(values)  # a row index or years: rising by one step; never a file's only numbers
        if len(steps) > 1 and steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0) and (used or len(numeric) > 1):
            return name, values
    for name in numeric:  # several series stacked (or interleaved) in one file, their time a number: years restarting
        if _restarts_where_a_series_name_changes(piece, name, found[name][0]):
            return name, found[name][0]  # checked in order, the check names the series' column and asks for files
    return None


def rises_by_one_step(values: np.ndarray) -> bool:
    """Numbers that rise by one fixed step at every row (a row index, years): a time axis, not a measurement."""
    steps = np.diff(values)
    return len(steps) > 1 and steps[0] > 0 and bool(np.allclose(steps, steps[0], rtol=1e-9, atol=0))


def _restarts_where_a_series_name_changes(piece: Piece, column: str, values: np.ndarray) -> bool:
    """A numeric column that rises by one fixed step, except at rows where it falls back or repeats, each such row one
    where a text column of few values (a series' name: a firm, a store) changes: years of several series one after
    another (or interleaved). A numeric column that only cycles (a quarter 1..4 beside the year) has no such name."""
    import pyarrow as pa

    from seqtrain.checks.series import series_id_columns

    steps = np.diff(values)
    back, rises = np.flatnonzero(steps <= 0), steps[steps > 0]
    if not len(back) or len(rises) < 2 or not np.allclose(rises, rises[0], rtol=1e-9, atol=0):
        return False
    text = {name for name in piece.dataset.column_names if name != column
            and (pa.types.is_string(t := arrow_column(piece.dataset, name).type) or pa.types.is_large_string(t))}
    return all(text & set(series_id_columns(piece, column, int(i) + 1)) for i in back)


def calendar_fields(columns: dict[str, np.ndarray]) -> tuple[str, str] | None:
    """A year and a quarter (or month, hour, ...) written as two integer columns (statsmodels' E6: `year`, `quarter`):
    the finer one rises by 1 and falls back at its cycle's end, and at exactly those rows the coarser one rises by one
    fixed step (and never changes elsewhere). Together they are the rows' time; `columns`: name -> values (no nulls)."""
    whole = {name: v for name, v in columns.items() if len(v) > 2 and np.array_equal(v, np.round(v))}
    for fine, f in whole.items():
        steps = np.diff(f)
        falls = steps < 0
        if not falls.any() or not np.all(steps[~falls] == 1) or not np.all(f[1:][falls] == f.min()):
            continue
        for coarse, c in whole.items():
            rises = np.diff(c)
            if coarse != fine and np.all(rises[~falls] == 0) and rises[falls][0] > 0 and np.all(rises[falls] == rises[falls][0]):
                return coarse, fine
    return None
