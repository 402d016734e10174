"""A local data file checked around `datasets.load_dataset`: named problems instead of a loader's internals.

Before loading, cheap looks at the first bytes and the header (`check_before_loading`): an empty
file, an LFS pointer, an HTML page, UTF-16 text, a binary file where text belongs, a CSV header naming a column twice (pandas would
rename the second silently). When `datasets` fails, `explain_failure` reads the file again with
the standard library to say where: the line that is not UTF-8, the JSON Lines line that does not
parse, the CSV line with the wrong number of fields, a CSV with a header and no rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

from seqtrain.checks.sniff import binary_format, foreign_content, read_head, wide_encoding


def check_before_loading(path: str, builder: str, options: dict) -> str | None:
    """What is wrong with the file at a glance, or None."""
    head, size = read_head(path)
    what = foreign_content(head, size)
    if what is not None:
        return what
    encoding = wide_encoding(head)
    if encoding is not None:
        return f"text encoded as {encoding}; seqtrain reads UTF-8: save it as UTF-8 (e.g. `iconv -f {encoding} -t UTF-8`)"
    if builder != "parquet" and (binary := binary_format(head)) is not None:
        return binary
    if builder == "csv":
        header = next(csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace").split("\n", 1)[0]), delimiter=options.get("sep", ",")), [])
        twice = sorted(name for name, count in Counter(header).items() if count > 1 and name)
        if twice and "\n" in head.decode("utf-8", errors="replace"):
            if headerless(header):  # a file without a header: values in its first row repeat
                return f"line 1 looks like data, not a header (the column names are numbers){ONE_COLUMN}"
            return f"line 1 (the header) names the column(s) {', '.join(map(repr, twice))} more than once; give each column its own name"
    return None


def explain_failure(path: str, builder: str, options: dict) -> str | None:
    """Why `datasets` could not read the file, found with the standard library; None when no reason is found."""
    bad = first_invalid_utf8(path)
    if bad is not None:
        line, column, byte = bad
        words, name = likely_encodings(path)
        return (
            f"line {line} is not valid UTF-8 (byte 0x{byte:02x} at character {column}): the file, or part of it, has "
            f"another encoding ({words}?); save it as UTF-8 (e.g. `iconv -f {name} -t UTF-8`"
            + (", and check that the text reads right" if name != "cp1252" else "") + ")"
        )
    if builder == "json":
        return _explain_json(path)
    if builder == "csv":
        return _explain_csv(path, options.get("sep", ","))
    if builder == "parquet":
        return "not a readable Parquet file (no Parquet footer: a truncated copy, or another format with a .parquet name?)"
    return None


# East Asian legacy encodings, by their `iconv` names, and the language each is for.
EAST_ASIAN = (("GB18030", "Simplified Chinese"), ("BIG5", "Traditional Chinese"), ("SHIFT_JIS", "Japanese"),
              ("EUC-KR", "Korean"))
WIDE_SCRIPTS = r"[\u3000-\u30ff\u3130-\u318f\u4e00-\u9fff\uac00-\ud7af\uff00-\uff60]"  # CJK, kana, hangul


def likely_encodings(path: str, size: int = 1 << 20) -> tuple[str, str]:
    """(the encodings in words, an `iconv` name) that a file that is not UTF-8 is likely in: the East Asian ones
    (`EAST_ASIAN`) its first `size` bytes decode in without error, 90 % of the non-ASCII characters then Chinese,
    Japanese or Korean (the bytes cannot tell these apart for certain: each is named), else Latin-1 / Windows-1252 (any
    bytes decode as it; the only suggestion before, for every file)."""
    with open(path, "rb") as f:
        head = f.read(size)
    if len(head) == size:  # a multi-byte character may straddle the end
        head = head[: head.rfind(b"\n") + 1] or head
    found = []
    for name, language in EAST_ASIAN:
        try:
            text = head.decode(name.lower())
        except UnicodeDecodeError:
            continue
        wide = [c for c in text if ord(c) > 127]
        if wide and sum(bool(re.match(WIDE_SCRIPTS, c)) for c in wide) >= 0.9 * len(wide):
            found.append((name, language))
    if found:
        return " or ".join(f"{name}, {language}" for name, language in found), found[0][0]
    return "Latin-1 / Windows-1252", "cp1252"


def first_invalid_utf8(path: str) -> tuple[int, int, int] | None:
    """(line, character in the line, both from 1; the byte) of the first byte that is not UTF-8, or None."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):  # b"\n" is never part of a multi-byte character
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return number, len(line[: e.start].decode("utf-8", errors="replace")) + 1, line[e.start]
    return None


def _explain_json(path: str) -> str | None:
    text = Path(path).read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("["):  # one JSON array of objects
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            return f"line {e.lineno} is not valid JSON ({e.msg} at character {e.colno})"
        return "a JSON array whose items are not all objects of {column: value}"
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            if number == 1 and _parses_whole(text):
                return "one JSON document spread over several lines, not JSON Lines (one object {column: value} per line)"
            return f"line {number} is not valid JSON ({e.msg} at character {e.colno}); JSON Lines need one object per line"
        if not isinstance(value, dict):
            return f"line {number} is a JSON {type(value).__name__}, not an object {{column: value}}; JSON Lines need one object per line"
    if not text.strip():
        return "no JSON objects (the file is blank)"
    return None


def _parses_whole(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _explain_csv(path: str, sep: str) -> str | None:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=sep, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return "no header line (the file is blank)"
            rows = 0
            for row in reader:
                if not row:  # a blank line: pandas skips it too
                    continue
                rows += 1
                if len(row) > len(header):
                    return (
                        f"line {reader.line_num} (row {rows}) has {len(row)} fields, the header has {len(header)} "
                        f"({', '.join(header)}); a value holding {sep!r} needs quotes"
                    )
        except csv.Error as e:
            return f"line {reader.line_num}: {e} (an unclosed quote?)"
    if rows == 0:
        return f"a header ({', '.join(header)}) but no data rows"
    return None


def blank_lines_within(path: str, sep: str = ",") -> list[tuple[int, int]]:
    """A CSV file's blank lines (empty, or spaces and tabs only) between data rows, each as (its line, the data rows
    before it); blank lines before the first row or after the last are not counted. pandas (under `datasets`) skips
    blank lines, so in a file of one column an empty cell, which is a blank line there, vanishes where `NA` or an empty
    cell among other columns reads as missing."""
    found, pending, rows = [], [], 0
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=sep)
        if next(reader, None) is None:
            return []
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    if rows:
                        pending.append((reader.line_num, rows))
                    continue
                rows += 1
                found += pending
                pending = []
        except csv.Error:  # the loader's own error names what is wrong with the file
            return found
    return found


# What a table of one value per column needs, said after a headerless or wide file is found.
ONE_COLUMN = (
    "; seqtrain reads one sequence per row in one column (numbers separated by spaces, or a list), not a value per "
    "column; e.g. with pandas: df['sequence'] = df[step_columns].astype(str).agg(' '.join, axis=1); the UCR/UEA "
    "archives' own files are read as they are: their .ts files, and their headerless .tsv / .txt (a numeric label "
    "first, then the values)"
)


def headerless(names: list[str]) -> bool:
    """The column names are numbers: the file's first row is data, not a header."""
    def number(name: str) -> bool:
        try:
            float(name)
        except ValueError:
            return False
        return True

    return len(names) >= 3 and sum(map(number, names)) >= len(names) - 1


def separator_in(names: list[str]) -> str | None:
    """The first of ';', '|' and tab that a header's column names hold: the file's separator, read as CSV with ','."""
    return next((c for c in ";|\t" if any(c in name for name in names)), None)


def layout_hint(names: list[str], unit: str, name: str = "") -> str:
    """Why a file's columns are not what seqtrain reads, when its header (and `unit`, `Piece.unit`, or its file `name`)
    says so: a .ts or .arff file of real-valued targets, a missing header or a wide table (one column per time step);
    empty otherwise."""
    if unit == "example" and "target" in names:  # a .ts file whose header says @targetLabel true
        return (". Its header says '@targetLabel true' (real-valued targets): set data.target_column=target "
                "data.task=regression")
    if name.endswith(".arff") and "target" in names:  # an .arff file whose class attribute is numeric
        return ". Its class attribute is numeric (real-valued targets): set data.target_column=target data.task=regression"
    if names and (names[0].lower().startswith("sep=") or names[0].startswith("#")):
        what = "the separator line Excel writes" if names[0].lower().startswith("sep=") else "a comment"
        return (f". Its first line (starting {names[0]!r}) is {what}, not the header: delete it, so the header with the "
                "column names is the file's first line")
    if len(names) == 1 and (sep := separator_in(names)):
        return (f". Its one column's name holds {sep!r}: the file seems separated by {sep!r}, and CSV files are read "
                "separated by ',' (write it with commas, e.g. pandas' to_csv(sep=','), or as a .tsv if tabs)")
    if headerless(names):
        return f". Its first row looks like data, not a header (the column names are numbers){ONE_COLUMN}"
    if len(names) >= 8:
        return (f". With {len(names)} columns this may be a wide table (a value per column), which is read as it is "
                f"when it has data.target_column and every other column holds numbers (here not){ONE_COLUMN}")
    return ""
