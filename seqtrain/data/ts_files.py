"""sktime / aeon `.ts` files, the format the UCR/UEA time-series archives ship in, read as table rows.

`#` and `%` lines are comments and `@` lines the header (`@classLabel true a b c` for class labels,
`@targetLabel true` for a real-valued target); after `@data` each line is one example: its
dimensions separated by `:`, each dimension's values by `,`, the target last. A row becomes
`sequence` (a list of numbers for one dimension, a (T, C) list of vectors for several) and `label`
(a class, as text) or `target` (a number). Missing values (`?`) and time-stamped values
(`@timeStamps true`) are errors naming the line.
"""

from __future__ import annotations

from typing import Any

from seqtrain.data.sources import DataError


def parse_ts(text: str, name: str = "<.ts text>") -> tuple[list[list[list[float]]], list[str], str]:
    """(series as (T, C) lists, targets as text, "label" or "target") from `.ts` text; errors name the line."""
    series, targets, header = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#%":
            continue
        if line.startswith("@"):
            key, _, value = line[1:].partition(" ")
            header[key.lower()] = value.strip().lower()
            continue
        if header.get("timestamps", "false").startswith("true"):
            raise DataError(
                f"{name}, line {number}: its header says '@timeStamps true' ((time, value) pairs); seqtrain reads "
                "plain values: write the values alone, one example per line"
            )
        *dims, target = line.split(":")
        if not dims:
            raise DataError(f"{name}, line {number}: no ':' between the values and the target")
        values = [_numbers(dim, name, number, d) for d, dim in enumerate(dims, start=1)]
        if len({len(v) for v in values}) != 1:
            lengths = ", ".join(str(len(v)) for v in values)
            raise DataError(f"{name}, line {number}: dimensions of unequal length ({lengths} values)")
        series.append([list(step) for step in zip(*values, strict=True)])  # (T, C)
        targets.append(target.strip())
    if not series:
        raise DataError(f"{name}: no data lines (after the '@' header)")
    column = "target" if header.get("targetlabel", "").startswith("true") else "label"
    if column == "label" and header.get("classlabel", "true").startswith("false"):
        raise DataError(f"{name}: its header says '@classLabel false' and gives no '@targetLabel true': no targets to learn")
    return series, targets, column


def ts_rows(text: str, name: str) -> list[dict[str, Any]]:
    """One `{"sequence": ..., "label" | "target": ...}` per example; one dimension gives a flat list of numbers."""
    series, targets, column = parse_ts(text, name)
    univariate = all(len(s[0]) == 1 for s in series)
    rows = []
    for number, (steps, target) in enumerate(zip(series, targets, strict=True), start=1):
        value: Any = target
        if column == "target":
            try:
                value = float(target)
            except ValueError:
                raise DataError(f"{name}, example {number}: target {target!r} is not a number ('@targetLabel true')") from None
        rows.append({"sequence": [s[0] for s in steps] if univariate else steps, column: value})
    return rows


def _numbers(dim: str, name: str, line: int, d: int) -> list[float]:
    values = []
    for step, v in enumerate(dim.split(","), start=1):
        v = v.strip()
        if v == "?":
            raise DataError(f"{name}, line {line}: dimension {d}, step {step} is missing ('?'); fill or drop it first")
        try:
            values.append(float(v))
        except ValueError:
            raise DataError(f"{name}, line {line}: dimension {d}, step {step}: {v!r} is not a number") from None
    return values
