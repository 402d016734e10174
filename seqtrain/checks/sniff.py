"""What a file is, from its first bytes: so a file that is not what was expected is named for what it is.

Users hand over the wrong file in a few typical ways: an empty or whitespace-only file, a git-LFS
pointer (the repository was cloned without `git lfs pull`), an HTML page saved by a download that
hit a login or error page, text saved as UTF-16. Each is recognised from the first kilobyte, before
a loader fails on it with a message about its own internals.
"""

from __future__ import annotations

import codecs
from pathlib import Path

HEAD_BYTES = 1024
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
WIDE_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",  # before UTF-16 LE: it starts with the same two bytes
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


#: Binary formats data gets saved in, by their first bytes: given where text is expected (a `.csv` that is
#: really Parquet, an Excel workbook renamed), a text loader fails on them with its own internals.
BINARY_FORMATS = {
    b"PAR1": "a Parquet file: name it .parquet (or set data.file_format=parquet)",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook is one): export the sheet as CSV, or unzip it",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook: export the sheet as CSV",
    b"\x1f\x8b": "gzip-compressed: decompress it first (gunzip)",
    b"BZh": "bzip2-compressed: decompress it first (bunzip2)",
    b"\xfd7zXZ\x00": "xz-compressed: decompress it first (unxz)",
    b"\x28\xb5\x2f\xfd": "zstd-compressed: decompress it first (unzstd)",
    b"ARROW1": "an Arrow file: write it as Parquet (.parquet)",
    b"\x93NUMPY": "a NumPy array (.npy): write it as Parquet or JSON Lines",
    b"SQLite format 3\x00": "an SQLite database: export the table as CSV",
    b"%PDF": "a PDF document",
}


def read_head(path: str | Path) -> tuple[bytes, int]:
    path = Path(path)
    with path.open("rb") as f:
        return f.read(HEAD_BYTES), path.stat().st_size


def foreign_content(head: bytes, size: int) -> str | None:
    """What the file is, when it is clearly neither data nor a checkpoint; None when it may be either."""
    if size == 0:
        return "an empty file (0 bytes)"
    if size <= HEAD_BYTES and not head.strip():
        return f"a file holding only whitespace ({size} bytes)"
    if head.startswith(LFS_POINTER):
        return "a git-LFS pointer file, not the file itself (fetch it with `git lfs pull`)"
    start = head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")) or (start.startswith(b"<") and b"<html" in start):
        return "an HTML page (a download that saved a web page, such as a login or error page, instead of the file?)"
    return None


def wide_encoding(head: bytes) -> str | None:
    """"UTF-16" / "UTF-32" when the file starts with that byte-order mark, else None."""
    return next((name for bom, name in WIDE_BOMS.items() if head.startswith(bom)), None)


def binary_format(head: bytes) -> str | None:
    """What a file that should be text is instead (Parquet, a zip, compressed, any binary), or None."""
    what = next((what for magic, what in BINARY_FORMATS.items() if head.startswith(magic)), None)
    if what is None and head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        what = "a Python pickle: write the data as Parquet, CSV or JSON Lines"
    if what is None and b"\x00" in head:
        what = "binary: it holds NUL bytes (or it is UTF-16 text without a byte-order mark: save it as UTF-8)"
    return None if what is None else f"not text but {what}"
