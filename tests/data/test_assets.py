"""The shipped files: the prepared sunspots series, attribution, and the build script's Markdown-to-text rules."""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from seqtrain.shipped import monthly_sunspots

ROOT = Path(__file__).resolve().parents[2]
ASSETS = (
    "shakespeare.txt.xz",
    "JapaneseVowels_TRAIN.ts.xz",
    "JapaneseVowels_TEST.ts.xz",
    "sunspots_monthly.csv.xz",
    "ATTRIBUTION.md",
)


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_data", ROOT / "scripts" / "build_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assets_are_shipped_with_attribution() -> None:
    assets = files("seqtrain.data") / "assets"
    for name in ASSETS:
        assert (assets / name).is_file(), name
    attribution = (assets / "ATTRIBUTION.md").read_text()
    for needle in (
        "10.24432/C5NS47",
        "CC BY 4.0",
        "Kudo",
        "Toyama",
        "Shimbo",
        "MIT",
        "public domain",
        "scripts/build_data.py",
    ):
        assert needle in attribution


def test_monthly_sunspots() -> None:
    months, values = monthly_sunspots()
    values = np.array(values)
    assert len(months) == len(values) == 3126
    assert (months[0], months[-1]) == ("1749-01", "2009-06")
    # First and last rows of statsmodels' sunspots_monthly.dat: `1749 58.0 62.6 ...`, `2009 ... 2.9 2.6`.
    assert values[:3].tolist() == pytest.approx([58.0, 62.6, 70.0])
    assert values[-2:].tolist() == pytest.approx([2.9, 2.6])
    assert len(set(m[:4] for m in months)) == 261 and (values >= 0).all()


def test_play_markdown_becomes_speech_blocks() -> None:
    markdown = "\n".join(
        [
            "# A Play",
            "",
            "## ACT I",
            "",
            "### SCENE I. A wood. TITANIA",
            "",
            "lying asleep.",  # the wrapped tail of the heading: dropped
            "",
            "_Enter THESEUS, HIPPOLYTA, and",
            "Attendants_",
            "",
            "**THESEUS**  ",
            "Now, fair Hippolyta,  ",
            "our nuptial hour \\-- draws on.",
            "",
            "_Exit PHILOSTRATE_",
            "",
            "Hippolyta, I woo'd thee.",  # the same speech resumes after a direction
            "",
            "**LYSANDER**  ",
            "__\\[Awaking]_  ",
            "And run through fire — I will. __\\[ ]_  ",
            "",
            "*Sound a horn.*",
            "",
            "COUNTESS",  # a name broken over two lines
            "",
            "**OF AUVERGNE**  ",
            "Porter, remember.",
        ]
    )
    assert load_build_script().play_to_text(markdown) == (
        "THESEUS:\nNow, fair Hippolyta,\nour nuptial hour -- draws on.\nHippolyta, I woo'd thee.\n\n"
        "LYSANDER:\nAnd run through fire -- I will.\n\n"
        "COUNTESS OF AUVERGNE:\nPorter, remember."
    )
