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


def read_head(path: str | Path) -> tuple[bytes, int]:
    """The first `HEAD_BYTES` bytes of a file and its size."""
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
