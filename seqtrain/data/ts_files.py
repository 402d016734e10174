"""sktime / aeon `.ts` files, the format the UCR/UEA time-series archives ship in, read as table rows.

`#` and `%` lines are comments and `@` lines the header (`@classLabel true a b c` for class labels,
`@targetLabel true` for a real-valued target); after `@data` each line is one example: its
dimensions separated by `:`, each dimension's values by `,`, the target last. A row becomes
`sequence` (a list of numbers for one dimension, a (T, C) list of vectors for several) and `label`
(a class, as text) or `target` (a number). Missing values (`?`), time-stamped values
(`@timeStamps true`), an example before `@data`, and examples that contradict the header (a label not in
`@classLabel true ...`, lengths against `@equalLength true` / `@seriesLength`, dimensions against `@univariate true` /
`@dimensions`, or, without those, another number of dimensions than most examples) are errors naming the line.
"""

from __future__ import annotations

from typing import Any

from seqtrain.data.sources import DataError


# What to do about an example whose dimensions have different lengths (.ts and .arff alike).
UNEQUAL_FIX = (
    "; a step is read as one value of every dimension, so an example's dimensions need one length: resample (or pad) "
    "the shorter ones to the longest's length before writing the file"
)


def parse_ts(text: str, name: str = "<.ts text>") -> tuple[list[list[list[float]]], list[str], str]:
    """(series as (T, C) lists, targets as text, "label" or "target") from `.ts` text; errors name the line."""
    series, targets, lines = [], [], []
    header: dict[str, tuple[str, int]] = {}  # key (lower case) -> (value as written, its line)
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#%":
            continue
        if line.startswith("@"):
            key, _, value = line[1:].partition(" ")
            header[key.lower()] = (value.strip(), number)
            continue
        if "data" not in header:
            raise DataError(
                f"{name}, line {number}: an example before the '@data' line; a .ts file's header ends with '@data', "
                "and the examples follow it: add it (or check that this is a .ts file)"
            )
        if _says(header, "timestamps", "true"):
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
            raise DataError(f"{name}, line {number}: dimensions of unequal length ({lengths} values){UNEQUAL_FIX}")
        series.append([list(step) for step in zip(*values, strict=True)])  # (T, C)
        targets.append(target.strip())
        lines.append(number)
    if not series:
        raise DataError(f"{name}: no data lines (after the '@' header)")
    column = "target" if _says(header, "targetlabel", "true") else "label"
    if column == "label" and _says(header, "classlabel", "false"):
        raise DataError(f"{name}: its header says '@classLabel false' and gives no '@targetLabel true': no targets to learn")
    _check_header(header, series, targets, lines, column, name)
    return series, targets, column


def _says(header: dict[str, tuple[str, int]], key: str, word: str) -> bool:
    """Whether the header's `@key` starts with `word` (true / false), in any case."""
    return key in header and header[key][0].lower().split(" ")[0] == word


def _check_header(header: dict[str, tuple[str, int]], series: list, targets: list[str], lines: list[int], column: str,
                  name: str) -> None:
    """The examples as the header describes them: labels among `@classLabel true ...`'s, lengths as `@equalLength true` and
    `@seriesLength` say, dimensions as `@univariate` / `@dimensions` say (or, without them, as most examples have)."""

    def refuse(odd: list[int], problem: str, fix: str) -> None:
        shown = ", ".join(str(lines[i]) for i in odd[:5]) + (", ..." if len(odd) > 5 else "")
        raise DataError(
            f"{name}, line {lines[odd[0]]}: {problem} ({len(odd)} of {len(series)} examples are so: "
            f"line{'s' if len(odd) > 1 else ''} {shown}); {fix}"
        )

    def said(key: str) -> str:
        value, line = header[key]
        return f"'@{KEY_NAMES[key]} {value}' (line {line})"

    if column == "label" and _says(header, "classlabel", "true"):
        declared = header["classlabel"][0].split()[1:]
        odd = [i for i, label in enumerate(targets) if label not in declared]
        if declared and odd:
            refuse(odd, f"label {targets[odd[0]]!r} is not among the header's {said('classlabel')}",
                   "add it there, or fix the examples' labels")
    dims = [len(steps[0]) for steps in series]
    if "dimensions" in header and header["dimensions"][0].isdigit():
        expected, declared = int(header["dimensions"][0]), f"the header says {said('dimensions')}"
    elif _says(header, "univariate", "true"):
        expected, declared = 1, f"the header says {said('univariate')}"
    else:  # not declared: the examples' most common count
        expected = max(set(dims), key=dims.count)
        declared = f"{dims.count(expected)} of the {len(series)} examples have {expected}"
    odd = [i for i, d in enumerate(dims) if d != expected]
    if odd:
        refuse(odd, f"{dims[odd[0]]} dimensions (':'-separated), but {declared}",
               "give every example the same dimensions" + (", or fix the header" if declared.startswith("the header") else ""))
    if _says(header, "equallength", "true"):
        lengths = [len(steps) for steps in series]
        given = header.get("serieslength", ("", 0))[0]
        expected = int(given) if given.isdigit() else max(set(lengths), key=lengths.count)
        odd = [i for i, n in enumerate(lengths) if n != expected]
        if odd:
            declared = f" and {said('serieslength')}" if given.isdigit() else f", and {lengths.count(expected)} examples have {expected}"
            refuse(odd, f"{lengths[odd[0]]} values per dimension, but the header says {said('equallength')}{declared}",
                   "fix those examples, or the header ('@equalLength false': lengths may differ)")


KEY_NAMES = {"classlabel": "classLabel", "equallength": "equalLength", "serieslength": "seriesLength", "univariate": "univariate",
             "dimensions": "dimensions"}


def ts_rows(text: str, name: str) -> list[dict[str, Any]]:
    """One `{"sequence": ..., "label" | "target": ...}` per example; one dimension gives a flat list of numbers."""
    series, targets, column = parse_ts(text, name)
    values: list[Any] = list(targets)
    if column == "target":
        for i, target in enumerate(targets):
            try:
                values[i] = float(target)
            except ValueError:
                raise DataError(f"{name}, example {i + 1}: target {target!r} is not a number ('@targetLabel true')") from None
    return series_rows(series, values, column)


def series_rows(series: list[list[list[float]]], targets: list[Any], column: str) -> list[dict[str, Any]]:
    """One `{"sequence": ..., column: target}` per example of an archive file (`.ts`, `.arff`): the (T, C) steps, or a
    flat list of numbers when every example has one dimension."""
    univariate = all(len(s[0]) == 1 for s in series)
    return [{"sequence": [s[0] for s in steps] if univariate else steps, column: target}
            for steps, target in zip(series, targets, strict=True)]


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
