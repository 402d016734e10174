"""Weka `.arff` files as the UCR/UEA archives ship them (beside their `.ts` files), read as table rows.

Two layouts: numeric attributes, one per time step, then the class (univariate: `@attribute att0 numeric` ...,
`@attribute target {0,1,2}`); or one relational attribute holding a step's numeric attributes, then the class
(multivariate: each example's dimensions in one quoted value, separated by `\\n`). The class is the last attribute: a
nominal one gives a `label` (text), a numeric one a `target` (a number: regression); `?`, Weka's unknown class, is an
empty target (a training run refuses it, naming the row; a prediction leaves the row out of its metrics). `%` lines are
comments. `?` at
the end of a dimension pads a shorter series and is dropped; inside a series it is an error, as are a label the
header does not declare, another number of values than the header's, and sparse rows (`{...}`); errors name the line.
"""

from __future__ import annotations

import csv
from typing import Any

from seqtrain.data.ts_files import UNEQUAL_FIX, series_rows
from seqtrain.errors import DataError

NUMERIC = ("numeric", "real", "integer")


def _attribute(line: str) -> tuple[str, str]:
    """(name, type as written) of an `@attribute` line; a quoted name may hold spaces."""
    rest = line.split(None, 1)[1].strip() if len(line.split(None, 1)) > 1 else ""
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        return rest[1:end], rest[end + 1:].strip()
    name, _, kind = rest.partition(" ")
    if "\t" in name:
        name, _, more = name.partition("\t")
        kind = f"{more} {kind}"
    return name, kind.strip()


def _nominal(kind: str) -> list[str] | None:
    """The values of a nominal type `{a, b, 'c d'}`, or None for another type."""
    if not kind.startswith("{"):
        return None
    return [v.strip() for v in next(csv.reader([kind.strip("{} \t")], quotechar="'", skipinitialspace=True))]


def _values(text: str, name: str, line: int, d: int) -> list[float]:
    """One dimension's comma-separated values; `?` at the end is padding (dropped), inside the series an error."""
    cells = [c.strip() for c in text.split(",")]
    while cells and cells[-1] in ("?", ""):
        cells.pop()
    values = []
    for step, cell in enumerate(cells, start=1):
        if cell == "?":
            raise DataError(f"{name}, line {line}: dimension {d}, step {step} is missing ('?'), inside the series ('?' "
                            "is read only as the padding at the end of a shorter one); fill or drop it first")
        try:
            values.append(float(cell))
        except ValueError:
            raise DataError(f"{name}, line {line}: dimension {d}, step {step}: {cell!r} is not a number") from None
    if not values:
        raise DataError(f"{name}, line {line}: dimension {d} has no values")
    return values


def parse_arff(text: str, name: str = "<.arff text>") -> tuple[list[list[list[float]]], list[Any], str, list[int]]:
    """(series as (T, C) lists, targets, "label" or "target", each example's line) from `.arff` text."""
    top: list[tuple[str, str, int]] = []  # (name, type, line) of the top-level attributes
    inner: list[str] = []  # the relational attribute's numeric attributes
    relational: str | None = None  # the open relational attribute's name, until its @end
    series, targets, lines = [], [], []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            word = line.split(None, 1)[0].lower()
            if word == "@attribute":
                attr, kind = _attribute(line)
                if relational is not None:
                    inner.append(kind)
                elif kind.lower() == "relational":
                    relational = attr
                    top.append((attr, "relational", number))
                else:
                    top.append((attr, kind, number))
            elif word == "@end":
                relational = None
            elif word == "@data":
                in_data = True
                _check_layout(top, inner, name)
            elif not word.startswith("@"):
                raise DataError(f"{name}, line {number}: a value before the '@data' line; an .arff file's header ends "
                                "with '@data', and the examples follow it (or is this not an .arff file?)")
            continue
        if line.startswith("{"):
            raise DataError(f"{name}, line {number}: a sparse row ('{{index value, ...}}'); seqtrain reads dense rows, "
                            "one value per attribute")
        *fields, target = next(csv.reader([line], quotechar="'", skipinitialspace=True))
        if top[0][1] == "relational":
            if len(fields) != 1:
                raise DataError(f"{name}, line {number}: {len(fields) + 1} values; the header declares the relational "
                                f"attribute {top[0][0]!r} and the class: 2 (the dimensions in one quoted value)")
            dims = [_values(dim, name, number, d) for d, dim in enumerate(fields[0].split("\\n"), start=1)]
        else:
            if len(fields) != len(top) - 1:
                raise DataError(f"{name}, line {number}: {len(fields) + 1} values; the header declares "
                                f"{len(top)} attributes (a value per step, then the class)")
            dims = [_values(",".join(fields), name, number, 1)]
        if len({len(v) for v in dims}) != 1:
            raise DataError(f"{name}, line {number}: dimensions of unequal length ({', '.join(str(len(v)) for v in dims)} values)"
                          f"{UNEQUAL_FIX}")
        series.append([list(step) for step in zip(*dims, strict=True)])  # (T, C)
        targets.append((target.strip(), number))
        lines.append(number)
    if not in_data:
        raise DataError(f"{name}: no '@data' line (is this an .arff file?)")
    if not series:
        raise DataError(f"{name}: no examples after '@data'")
    class_name, kind, declared_at = top[-1]
    allowed = _nominal(kind)
    if allowed is None:  # a numeric class: a real-valued target
        values = []
        for target, number in targets:
            if target == "?":  # Weka's unknown class: a row to predict (a training run refuses it, naming the row)
                values.append(None)
                continue
            try:
                values.append(float(target))
            except ValueError:
                raise DataError(f"{name}, line {number}: target {target!r} is not a number (the class attribute "
                                f"{class_name!r} is {kind}, line {declared_at})") from None
        return series, values, "target", lines
    for target, number in targets:
        if target not in allowed and target != "?":
            raise DataError(f"{name}, line {number}: label {target!r} is not among the class attribute's values "
                            f"({class_name!r} {kind}, line {declared_at}); add it there, or fix the label")
    return series, [None if t == "?" else t for t, _ in targets], "label", lines


def _check_layout(top: list[tuple[str, str, int]], inner: list[str], name: str) -> None:
    """The archives' two layouts: numeric attributes then the class, or one relational attribute then the class."""
    layout = ("seqtrain reads the archives' layouts: a numeric attribute per step then the class attribute, or one "
              "relational attribute (the steps' numeric attributes) then the class attribute")
    if len(top) < 2:
        raise DataError(f"{name}: {len(top)} attribute(s) before '@data'; {layout}")
    *steps, (class_name, kind, line) = top
    if kind.lower() not in NUMERIC and _nominal(kind) is None:
        raise DataError(f"{name}, line {line}: the class attribute {class_name!r} is {kind!r}, neither nominal "
                        f"('{{a,b}}') nor numeric; {layout}")
    if steps[0][1] == "relational":
        odd = [k for k in inner if k.lower() not in NUMERIC]
        if len(steps) != 1 or odd or not inner:
            raise DataError(f"{name}, line {steps[0][2]}: the relational attribute {steps[0][0]!r} "
                            + ("is not alone before the class" if len(steps) != 1 else f"holds a {odd[0]!r} attribute"
                               if odd else "holds no attributes") + f"; {layout}")
        return
    odd = next(((n, k, ln) for n, k, ln in steps if k.lower() not in NUMERIC), None)
    if odd is not None:
        raise DataError(f"{name}, line {odd[2]}: attribute {odd[0]!r} is {odd[1]!r}, not numeric; {layout}")


def arff_rows(text: str, name: str) -> tuple[list[dict[str, Any]], list[int]]:
    """One `{"sequence": ..., "label" | "target": ...}` per example (one dimension: a flat list of numbers), and each
    example's line."""
    series, targets, column, lines = parse_arff(text, name)
    return series_rows(series, targets, column), lines
