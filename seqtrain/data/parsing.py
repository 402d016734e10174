"""Reading one cell of a table as a sequence or a target, with errors that name the place.

Files store sequences in several ways; each parser takes what the loader gives (a Python value
from Arrow: str, number, list, None) and returns a canonical form, or raises `DataError` naming
the place (`train.csv, row 3`), the column, and what is wrong:

- numbers (one value per step): a list, a JSON list string `"[1, 2.5]"`, or numbers separated by
  spaces, commas or semicolons `"1 2.5 3"` (a cell with numbers apart by spaces and a comma between two digits,
  `"-0,71 -0,55"` or `"1,282.0 -743.0"`, is an error: decimal commas or thousands separators);
- vectors (a feature vector per step): a list of lists, a JSON string `"[[1, 2], [3, 4]]"`, or
  steps separated by `;` with values separated by spaces or commas `"1 2; 3 4"` (an empty step, `"1 2;"`, is an error);
- tokens / per-step labels: a list, a JSON list string, or items separated by whitespace.

A list string may also be a Python literal (`"['a', 'b']"`), as pandas' `to_csv` writes list cells,
or a numpy array's text (`"[0.5 1. 2.]"`, `"[[1. 2.]\n [3. 4.]]"`), as it writes array cells; a
string column whose every cell is a list of quoted items is detected as tokens, and an array numpy
shortened with `...` is an error (its values are lost).
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from seqtrain.data.arrow import arrow_column, non_blank
from seqtrain.data.sources import DataError, Piece

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

SequenceKind = Literal["text", "tokens", "numbers", "vectors"]
NUMBER_SEPARATORS = re.compile(r"[\s,;]+")
VALUE_SEPARATORS = re.compile(r"[\s,]+")
WHITESPACE = re.compile(r"\s+")
# `-0,712 -0,551` or `-1,282.0 -3,305.0`: numbers apart by whitespace alone, and a comma between two digits elsewhere
SPACED_NUMBERS = re.compile(r"[\d.]\s+[-+.\d]")
DIGIT_COMMA_DIGIT = re.compile(r"[-+]?[\d.,]*\d,\d[\d.,]*")  # -0,712 or 1,282.0


def _problem(where: str, column: str, message: str) -> DataError:
    return DataError(f"{where}, column {column!r}: {message}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_list(value: str, where: str, column: str) -> Any:
    """A list written in a cell: JSON, a Python literal (single quotes, tuples), as pandas writes list cells,
    or numpy's text of an array (values separated by spaces only). numpy 2's scalars in a list (`np.float64(0.5)`, as
    pandas writes a list of them) are their numbers."""
    value = re.sub(NUMPY_SCALAR, r"\1", value)
    if re.fullmatch(NUMPY_ARRAY, value):
        rows = [row.split() for row in re.findall(r"\[([^\[\]]*)\]", value)]
        return rows if re.match(r"\s*\[\s*\[", value) else rows[0]
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        error = e
    try:
        items = ast.literal_eval(value)  # literals only: never runs code
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _problem(
            where, column, f"{_show(value)} looks like a list but parses neither as JSON ({error}) nor as a Python literal"
        ) from None
    return _as_lists(items)


def _as_lists(value: Any) -> Any:
    """Tuples in a Python literal (`(1, 2)`) as the lists JSON would give."""
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def parse_number(value: Any, where: str, column: str, step: int | None = None) -> float:
    """A finite real number from a number or a numeric string."""
    at = "" if step is None else f" (step {step + 1})"
    if value is None:
        raise _problem(where, column, f"an empty or missing value{at}")
    if isinstance(value, bool):
        raise _problem(where, column, f"{value!r} is not a number{at}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _problem(where, column, f"{_show(value)} is not a number{at}") from None
    if not math.isfinite(number):
        raise _problem(where, column, f"{_show(value)} is not a finite number{at}")
    return number


def _listed(value: Any, where: str, column: str, split: Callable[[str], list], what: str, empty: str = "") -> list[Any]:
    """The items of a list, a JSON list string, or a string cut by `split`; empty is an error."""
    if isinstance(value, str):
        text = value.strip()
        items: Any = _json_list(text, where, column) if text.startswith(("[", "(")) else split(text)
    else:
        items = value
    if items is None or (isinstance(items, list) and not items):
        raise _problem(where, column, empty or f"an empty sequence of {what} (zero steps)")
    if not isinstance(items, list):
        raise _problem(where, column, f"{_show(value)} is not a sequence of {what}")
    return items


def _between(separators: re.Pattern[str]) -> Callable[[str], list[str]]:
    return lambda text: [v for v in separators.split(text) if v]


def _check_separators(text: str, where: str, column: str) -> None:
    """Numbers apart by spaces alone in a cell with `1,5` elsewhere are decimal commas or thousands separators: cut at
    every comma, they would be read as extra steps, so the cell is refused."""
    if SPACED_NUMBERS.search(text) and (comma := DIGIT_COMMA_DIGIT.search(text)):
        raise _problem(
            where, column, f"{_show(text)} holds numbers separated by spaces, and {comma.group()!r}: decimal commas or "
            "thousands separators? write numbers with a decimal point and no grouping, separated by one separator "
            "(spaces, or commas)"
        )


def _numbers_text(text: str, where: str, column: str) -> list[str]:
    _check_separators(text, where, column)
    return [v for v in NUMBER_SEPARATORS.split(text) if v]


def parse_numbers(value: Any, where: str, column: str) -> list[float]:
    """One real number per step; an empty sequence is an error."""
    items = _listed(value, where, column, lambda text: _numbers_text(text, where, column), "numbers")
    return [parse_number(v, where, column, step) for step, v in enumerate(items)]


def parse_vectors(value: Any, where: str, column: str) -> list[list[float]]:
    """A feature vector per step, all of one length within the row; an empty sequence is an error."""
    what = "feature vectors (a list of lists)"
    steps = _listed(value, where, column, lambda text: _vectors_text(text, where, column), what, empty="an empty sequence (zero steps)")
    if not all(isinstance(s, list) for s in steps):
        raise _problem(where, column, f"{_show(value)} is not a sequence of {what}")
    vectors = [[parse_number(v, where, column, step) for v in s] for step, s in enumerate(steps)]
    width = len(vectors[0])
    for step, vector in enumerate(vectors):
        if len(vector) != width or not vector:
            # Fewer "steps" than values in each: rows written channels first, each inner list a channel's series.
            from seqtrain.checks.tables import CHANNELS_FIRST

            hint = f" ({len(vectors)} lists of {width}+ values: {CHANNELS_FIRST})" if len(vectors) < width else ""
            raise _problem(
                where, column, f"ragged feature vectors: step {step + 1} has {len(vector)} values, step 1 has {width}{hint}"
            )
    return vectors


def _vectors_text(text: str, where: str, column: str) -> list[list[str]]:
    """Steps separated by `;`, values by spaces or commas; an empty step (`1 2;`, `1 2;; 3 4`) is an error."""
    if not text:
        return []
    _check_separators(text, where, column)
    steps = text.split(";")
    empty = next((step for step, s in enumerate(steps) if not s.strip()), None)
    if empty is not None:
        raise _problem(
            where, column, f"{_show(text)}: step {empty + 1} of {len(steps)} is empty (a ';' with no values "
            f"{'after' if empty == len(steps) - 1 else 'before'} it); remove the stray ';'"
        )
    return [_between(VALUE_SEPARATORS)(s) for s in steps]


def parse_items(value: Any, where: str, column: str, what: str) -> list[str]:
    """Tokens or per-step labels: a list, a JSON list string, or whitespace-separated items."""
    items = _listed(value, where, column, _between(WHITESPACE), what)
    for step, item in enumerate(items):
        if item is None or isinstance(item, (list, dict)) or item == "":
            raise _problem(where, column, f"step {step + 1}: {_show(item)} is not a single {what[:-1]}")
    return [str(item) for item in items]


def parse_text(value: Any, where: str, column: str) -> str:
    if value is None or value == "":
        raise _problem(where, column, "an empty sequence (empty text)")
    if not isinstance(value, str):
        raise _problem(where, column, f"{_show(value)} is not text (set data.sequence_kind for numeric sequences)")
    return value


def parse_label(value: Any, where: str, column: str) -> str:
    """A class label, as text: `1`, `1.0` and `"1"` in different files are one label only if written alike."""
    if value is None or value == "":
        raise _problem(where, column, "an empty label")
    if isinstance(value, (list, dict)):
        raise _problem(where, column, f"{_show(value)} is not a single class label (per-step labels need task=tagging)")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # CSV columns with a missing value elsewhere turn ints into floats
    return str(value)


def parse_real_target(value: Any, where: str, column: str) -> list[float]:
    """A per-sequence regression target: one number or a list of them (several outputs)."""
    if isinstance(value, list) or (isinstance(value, str) and value.strip().startswith("[")):
        return parse_numbers(value, where, column)
    return [parse_number(value, where, column)]


def parse_real_steps(value: Any, where: str, column: str) -> list[list[float]]:
    """Per-step regression targets: a number per step, or a vector per step (several outputs)."""
    if re.search(VECTOR_TEXT, value) if isinstance(value, str) else (isinstance(value, list) and value and isinstance(value[0], list)):
        return parse_vectors(value, where, column)
    return [[v] for v in parse_numbers(value, where, column)]


# A cell that holds only numbers (finite literals: not nan / inf) between separators and brackets.
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
NUMPY_SCALAR = rf"np\.(?:float|int|uint)\d*\(\s*({NUMBER})\s*\)"  # numpy 2's repr of a scalar: np.float64(0.5)
CELL_NUMBER = rf"(?:{NUMBER}|{NUMPY_SCALAR})"
ONE_NUMBER = rf"^\s*{NUMBER}\s*$"  # a cell holding one number
NUMERIC_TEXT = rf"^[\s\[\](),;]*{CELL_NUMBER}(?:[\s\[\](),;]+{CELL_NUMBER})*[\s\[\](),;]*$"  # tuples: (1, 2)
OTHER_SEPARATED = rf"^\s*{NUMBER}(?:\s*[|/:_]\s*{NUMBER})+\s*$"  # 1.5|2|3: numbers between a separator not read
NUMPY_ROW = rf"\[\s*{NUMBER}(?:\s+{NUMBER})*\s*\]"
NUMPY_ARRAY = rf"\s*(?:{NUMPY_ROW}|\[\s*{NUMPY_ROW}(?:\s*{NUMPY_ROW})*\s*\])\s*"  # str(np.array): 1-D or 2-D
ELIDED_ARRAY = rf"^[\s\[]*{NUMBER}(?:[\s\[\]]+{NUMBER})*[\s\[\]]+\.\.\.(?:[\s\[\]]|$)"  # numpy's "[0. 1. ... 9.]"
VECTOR_TEXT = r";|^\s*[\[(]\s*[\[(]"  # steps separated by ';', or a list of lists (JSON, or Python tuples)
QUOTED_LIST = r"""^\s*\[\s*(?:"[^"]*"|'[^']*')(?:\s*,\s*(?:"[^"]*"|'[^']*'))*\s*,?\s*\]\s*$"""  # ["a", "b"], ['a', 'b']


def choose_sequence_kind(splits: dict[str, Sequence[Piece]], configured: str, saved: str | None, column: str,
                         target_column: str) -> SequenceKind:
    """The sequence column's kind: saved (a fitted state), configured (data.sequence_kind), or detected from every row
    of each split (splits detected as different kinds are an error: one file never decides how another is read);
    one log line says which and why, and which columns are used."""
    given = {name: pieces for name, pieces in splits.items() if pieces}
    if saved is not None:
        if configured not in ("auto", saved):
            raise DataError(f"data.sequence_kind={configured!r}, but the loaded state was fitted on {saved!r} sequences")
        kind, why = saved, "as saved with the fitted state"
    elif configured != "auto":
        kind, why = configured, "data.sequence_kind"
    else:
        found = {name: detect_sequence_kind(pieces, column) for name, pieces in given.items()}
        kind, why = found["train"]
        differing = {name: k for name, (k, _) in found.items() if k != kind}
        if differing:
            kinds = "; ".join(f"the {name} split ({', '.join(p.name for p in given[name])}) as {k} ({found[name][1]})"
                              for name, k in {"train": kind, **differing}.items())
            raise DataError(
                f"column {column!r} reads as different kinds in different files: {kinds}; write every file the same way, "
                "or set data.sequence_kind"
            )
        others = [name for name in found if name != "train"]
        why = f"detected from {why}" + (f", and the same in the {' and '.join(others)} split" if others else "")
        why += "; set data.sequence_kind to change"
    unused = [c for c in given["train"][0].dataset.column_names if c not in (column, target_column)]
    log.info("data: sequences from column %r read as %s (%s); targets from column %r; columns not used: %s",
             column, kind, why, target_column, ", ".join(map(repr, unused)) or "none")
    return kind


def detect_sequence_kind(pieces: Sequence[Piece], column: str) -> tuple[SequenceKind, str]:
    """What a column holds, from its Arrow type and, for strings, every row of every file; and why, for the log.

    A string column is numbers when every non-empty cell holds only numbers, text when none does;
    when most do but some do not, that is a mistake in the data (a stray `nan`, `inf` or word),
    and the error names the rows.
    """
    first = pieces[0]
    feature = first.dataset.features[column]
    if type(feature).__name__ == "Json":  # JSON Lines whose rows mix types (lists in some, text in others)
        return _mixed_json_kind(first, column), f"the values' types in {first.name}"
    depth, leaf = _list_type(feature)
    if depth >= 3:
        raise DataError(f"{first.name}: column {column!r} nests lists {depth} deep; sequences are lists of numbers or of vectors")
    if depth == 2:
        return "vectors", f"its type in {first.name}, lists of lists"
    if depth == 1:
        return ("tokens" if leaf in ("string", "large_string") else "numbers"), f"its type in {first.name}, lists of {leaf}"
    if leaf not in ("string", "large_string"):
        raise DataError(
            f"{first.name}: column {column!r} holds one {leaf} per row, not a sequence; "
            "store a list (JSON Lines, Parquet) or numbers separated by spaces in a string (CSV)"
        )
    import pyarrow.compute as pc

    numeric_rows, text_rows, cells, quoted_rows = 0, [], 0, 0
    stepped: dict[bool, list] = {True: [], False: []}  # rows of numbers with steps (';', lists of lists) and without
    steps_seen = {True: 0, False: 0}
    for piece in pieces:
        if _list_type(piece.dataset.features[column])[0] != 0:
            continue  # a list column in another file: parsed as the kind found here
        values = arrow_column(piece.dataset, column)
        numeric, vector = matching(values, NUMERIC_TEXT), matching(values, VECTOR_TEXT)
        numbers, filled, others = numeric_cells(values, NUMERIC_TEXT, numeric)
        cells += filled
        numeric_rows += numbers
        for has_steps, rows in ((True, pc.and_(numeric, vector)), (False, pc.and_(numeric, pc.invert(vector)))):
            found = np.flatnonzero(rows.to_numpy(zero_copy_only=False))
            steps_seen[has_steps] += len(found)
            stepped[has_steps] += [(piece, int(i)) for i in found[:3]]
        quoted_rows += pc.sum(matching(values, QUOTED_LIST)).as_py() or 0
        elided = np.flatnonzero(matching(values, ELIDED_ARRAY).to_numpy(zero_copy_only=False))
        if len(elided):
            raise DataError(
                f"{piece.where(int(elided[0]))}, column {column!r}: {_show(piece.dataset[int(elided[0])][column])} is an array "
                f"numpy shortened with '...' when it was written ({len(elided)} such rows): its values are lost; write it "
                "whole (np.set_printoptions(threshold=sys.maxsize) before to_csv), or as lists in JSON Lines or Parquet"
            )
        text_rows += [(piece, int(i)) for i in others[:5]]
    if cells and quoted_rows == cells:  # reading `['a', 'b']` as characters would train on the brackets and quotes
        return "tokens", f"all {cells} non-empty rows are lists of quoted items"
    if numeric_rows == 0:
        _refuse_other_separators(pieces, column, cells)
        return "text", f"{cells} rows: none holds only numbers"
    if 2 * numeric_rows < cells:
        return "text", f"{cells - numeric_rows} of {cells} rows hold more than numbers"
    if steps_seen[True] and steps_seen[False]:  # a stray ';' in one row would make every other row one step
        _refuse_some_rows_with_steps(column, numeric_rows, stepped, steps_seen)
    kind: SequenceKind = "vectors" if steps_seen[True] else "numbers"
    if numeric_rows == cells:
        return kind, f"all {cells} non-empty rows hold only numbers"
    piece, i = text_rows[0]
    value = piece.dataset[i][column]
    problem = complaint(parse_vectors if kind == "vectors" else parse_numbers, value, piece.where(i), column, "a sequence of numbers")
    others = ", ".join(p.where(j) for p, j in text_rows[1:])
    raise DataError(
        f"{problem}; {numeric_rows} of the column's {cells} rows hold only numbers, so it is read as {kind}"
        + (f"; other rows that do not: {others}" + (" and more" if cells - numeric_rows > len(text_rows) else "") if others else "")
        + "; fix them, or set data.sequence_kind=text to read the column as characters"
    )


def _refuse_some_rows_with_steps(column: str, numeric_rows: int, stepped: dict[bool, list], counts: dict[bool, int]) -> None:
    """Some rows of numbers are feature vectors (steps separated by ';', or lists of lists) and the others are not: read
    as vectors, each of the others would be one step of all its values; read as numbers, the vectors would be flattened."""

    def places(has_steps: bool) -> str:
        shown = "; ".join(p.where(i) for p, i in stepped[has_steps])
        count = counts[has_steps]
        return f"{count} row{'s' if count > 1 else ''} ({shown}{'; ...' if count > len(stepped[has_steps]) else ''})"

    raise DataError(
        f"column {column!r}: feature vectors (steps separated by ';', or a list of lists) in {places(True)}, but not in "
        f"{places(False)}, of its {numeric_rows} rows of numbers: a stray ';' (at the end of a row)? remove it, or write "
        "every row's steps separated by ';'; or set data.sequence_kind=vectors to read a row without ';' as one step of "
        "all its values, or data.sequence_kind=numbers to read ';' as a separator between numbers"
    )


def _refuse_other_separators(pieces: Sequence[Piece], column: str, cells: int) -> None:
    """A column whose every cell is numbers between `|`, `/`, `:` or `_` would train on their characters: an error."""
    import pyarrow.compute as pc

    found = [(p, matching(arrow_column(p.dataset, column), OTHER_SEPARATED)) for p in pieces if _list_type(p.dataset.features[column])[0] == 0]
    if cells and sum(pc.sum(m).as_py() or 0 for _, m in found) == cells:
        # The first piece with a hit: an earlier file may hold only blank cells.
        piece, row = next((p, int(rows[0])) for p, m in found if len(rows := np.flatnonzero(m.to_numpy(zero_copy_only=False))))
        value = piece.dataset[row][column]
        separator = re.search(r"[|/:_]", value).group()
        raise DataError(
            f"{piece.where(row)}, column {column!r}: {_show(value)}: every row holds numbers separated by {separator!r}, which "
            "seqtrain does not read as a list; write them separated by spaces or commas (or as a JSON list), or set "
            "data.sequence_kind=text to read the column as characters"
        )


def numeric_cells(values: pa.ChunkedArray, pattern: str, numeric: pa.ChunkedArray | None = None) -> tuple[int, int, np.ndarray]:
    """Of a string column: how many cells match `pattern` (hold only numbers), how many are not blank, and the
    rows of the non-blank cells that do not match. ``numeric``: `matching(values, pattern)`, when the caller has it."""
    import pyarrow.compute as pc

    filled = non_blank(values)
    numeric = matching(values, pattern) if numeric is None else numeric
    others = np.flatnonzero(pc.and_(filled, pc.invert(numeric)).to_numpy(zero_copy_only=False))
    return pc.sum(numeric).as_py() or 0, pc.sum(filled).as_py() or 0, others


def matching(values: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    """Of a string column: which cells match the regex `pattern` (a missing cell does not)."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def complaint(parse: Callable[[Any, str, str], Any], value: Any, where: str, column: str, expected: str) -> str:
    """What `parse` says is wrong with `value` (or, where it takes it, that the value is not `expected`), for messages."""
    try:
        parse(value, where, column)
    except DataError as e:
        return str(e)
    return f"{where}, column {column!r}: {_show(value)} is not {expected}"


def _mixed_json_kind(piece: Piece, column: str) -> SequenceKind:
    """The kind of a JSON column whose rows `datasets` could not give one type; an error when they mix lists and text."""
    found: dict[str, int] = {}
    for i, value in enumerate(piece.dataset[column]):
        kind = "a list" if isinstance(value, list) else "text" if isinstance(value, str) else type(value).__name__
        if value is not None:
            found.setdefault(kind, i)
    if len(found) > 1:
        places = "; ".join(f"{kind} at {piece.where(i)}" for kind, i in found.items())
        raise DataError(f"{piece.name}: column {column!r} mixes types from row to row ({places}); give every row the same type")
    if found.get("a list") is None:
        raise DataError(f"{piece.name}: column {column!r} holds no sequences (set data.sequence_kind)")
    values = [v for v in piece.dataset[column] if v]
    if any(isinstance(step, list) for v in values for step in v):
        return "vectors"
    return "tokens" if all(isinstance(step, str) for v in values for step in v) else "numbers"


def _list_type(feature: Any) -> tuple[int, str]:
    """(list depth, leaf dtype) of a datasets feature: Value -> 0, List(Value) -> 1, List(List(Value)) -> 2."""
    depth = 0
    while hasattr(feature, "feature"):  # List, LargeList, Sequence
        feature = feature.feature
        depth += 1
    return depth, getattr(feature, "dtype", type(feature).__name__)
