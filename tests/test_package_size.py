"""`scripts/package_size.py`, issue #16's measure: code lines counted by hand on a small source."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from package_size import code_lines  # noqa: E402

SOURCE = '''"""A module docstring
on two lines."""

# a comment
import os  # a comment after code


class A:
    """A class docstring."""

    x = "# not a comment"

    def f(self):
        """A function docstring,
        on two lines.
        """
        return (1,
                2)
'''


def test_code_lines_leave_out_blanks_comments_and_docstrings() -> None:
    # By hand: `import os`, `class A:`, `x = ...`, `def f`, `return (1,`, `2)`.
    assert code_lines(SOURCE) == 6
    assert len(SOURCE.splitlines()) == 18


def test_the_script_reports_every_part() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "package_size.py")], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    data = next(line for line in out.splitlines() if line.startswith("seqtrain/data/")).split()
    files = sorted((ROOT / "seqtrain" / "data").glob("*.py"))
    assert int(data[1]) == len(files)
    assert int(data[2].replace(",", "")) == sum(len(f.read_text().splitlines()) for f in files)  # `wc -l`
    assert "largest classes" in out
