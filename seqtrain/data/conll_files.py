"""CoNLL-style tagging files, read as table rows: one token a line, its fields separated by tabs (or spaces), the token
first and its tag last (CoNLL-2000 / 2003's `word POS chunk NER` keeps the last), a blank line between sentences.

`-DOCSTART-` lines (CoNLL-2003's document marks) and `#` comment lines are skipped. A sentence becomes one row:
`sequence` (its tokens, a list) and `label` (its tags, a list: one per token), the columns `data=table` reads by
default, so `data.task=tagging` is the only setting such a file needs. A `.conll` file is read this way; a `.tsv` or
`.txt` file whose first lines have this layout (`is_conll_layout`) too, and the run says so.
"""

from __future__ import annotations

import re
from typing import Any

from seqtrain.errors import DataError

#: The first lines looked at to tell the layout (`is_conll_layout`).
HEAD_LINES = 200


def _skipped(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("#") or stripped.split()[0] == "-DOCSTART-"


def _fields(line: str) -> list[str]:
    line = line.rstrip("\r\n")
    return line.split("\t") if "\t" in line else line.split()


def is_conll_layout(head: str) -> bool:
    """Whether `head` (a file's first bytes, decoded) is laid out as CoNLL: among its first `HEAD_LINES` lines, at least
    two sentences (a blank line between lines), every other line holding the same number (2 to 10) of fields, none
    empty, none holding a space where tabs separate them (a table's cell of text)."""
    lines = head.splitlines()[:HEAD_LINES]
    if len(lines) == HEAD_LINES:  # the last line may be cut
        lines = lines[:-1]
    widths, blocks, in_block = set(), 0, False
    for line in lines:
        if not line.strip():
            in_block = False
            continue
        if _skipped(line):
            continue
        cells = _fields(line)
        if any(not c.strip() or (" " in c.strip() and "\t" in line) for c in cells):
            return False
        widths.add(len(cells))
        if not in_block:
            blocks += 1
            in_block = True
    return blocks >= 2 and len(widths) == 1 and 2 <= next(iter(widths)) <= 10


def conll_rows(text: str, name: str) -> tuple[list[dict[str, Any]], list[int]]:
    """One `{"sequence": [tokens], "label": [tags]}` per sentence, and each sentence's first line (from 1); a line
    with another number of fields than the file's first, or with one field only (a token without its tag), is an
    error naming the line."""
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    tokens: list[str] = []
    tags: list[str] = []
    width = None
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if not line.strip() or _skipped(line):
            if tokens and not line.strip():
                rows.append({"sequence": tokens, "label": tags})
                tokens, tags = [], []
            continue
        cells = [c.strip() for c in _fields(line)]
        if len(cells) < 2 or not all(cells):
            raise DataError(f"{name}, line {number}: {line.strip()!r} is not a token and its tag (read as a CoNLL "
                            "file: one token a line, its fields separated by tabs, the tag last, a blank line between "
                            "sentences)")
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise DataError(f"{name}, line {number}: {len(cells)} fields, the file's first token line has {width} "
                            f"(read as a CoNLL file: the token first, the tag last); a token holding a space? "
                            "separate the fields by tabs")
        if not tokens:
            numbers.append(number)
        tokens.append(cells[0])
        tags.append(cells[-1])
    if tokens:
        rows.append({"sequence": tokens, "label": tags})
    if not rows:
        raise DataError(f"{name}: no sentences")
    return rows, numbers
