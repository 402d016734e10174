"""Lines of each part of the package (issue #16's measure for `seqtrain/data/`), and its largest classes.

    python scripts/package_size.py            # every folder of seqtrain/, and the package
    python scripts/package_size.py --classes 5

`lines` is `wc -l` of the folder's .py files; `code` leaves out blank lines, comments and docstrings (read with
`ast` and `tokenize`, so a `#` inside a string is not a comment).
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not inside a docstring."""
    lines = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                               tokenize.ENDMARKER)}
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            lines -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=3, help="how many of the largest classes to list")
    args = parser.parse_args()
    package = ROOT / "seqtrain"
    folders = [package, *sorted(p for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists())]
    classes = []
    print(f"{'part':<22} {'files':>5} {'lines':>6} {'code':>6}")
    for folder in folders:
        files = sorted(folder.glob("*.py"))
        sources = [f.read_text() for f in files]
        lines, code = sum(len(s.splitlines()) for s in sources), sum(code_lines(s) for s in sources)
        name = "seqtrain/ (top level)" if folder == package else f"{folder.relative_to(ROOT)}/"
        print(f"{name:<22} {len(files):>5} {lines:>6,} {code:>6,}")
        for f, s in zip(files, sources):
            classes += [(n.end_lineno - n.lineno + 1, f"{f.relative_to(ROOT)}:{n.name}")
                        for n in ast.walk(ast.parse(s)) if isinstance(n, ast.ClassDef)]
    every = sorted(package.rglob("*.py"))
    print(f"{'seqtrain/ (all)':<22} {len(every):>5} {sum(len(f.read_text().splitlines()) for f in every):>6,} "
          f"{sum(code_lines(f.read_text()) for f in every):>6,}")
    print("largest classes (lines):", ", ".join(f"{name} {n}" for n, name in sorted(classes, reverse=True)[: args.classes]))


if __name__ == "__main__":
    main()
