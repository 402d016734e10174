"""scripts/defaults_study.py: `.ts` reading, the CSV a user would have, the hold-out, and the 1-NN baselines."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("defaults_study", ROOT / "scripts" / "defaults_study.py")
study = importlib.util.module_from_spec(spec)
sys.modules["defaults_study"] = study  # dataclasses look their module up
spec.loader.exec_module(study)

TS = """# a comment
@problemName Toy
@univariate false
@data
1,2,3:4,5,6:a
7,8:9,10:b
"""


def test_ts_lines_become_series_of_steps_by_channels() -> None:
    series, targets = study.read_ts(TS)
    assert targets == ["a", "b"]
    np.testing.assert_array_equal(series[0], [[1, 4], [2, 5], [3, 6]])  # (T, C)
    assert series[1].shape == (2, 2)


def test_the_csv_is_what_the_table_data_reads(tmp_path: Path) -> None:
    """The written CSV, loaded by seqtrain's own parser, gives back the series (vectors per step) and labels."""
    from seqtrain.data.parsing import parse_vectors

    series, targets = study.read_ts(TS)
    path = study.write_table(tmp_path / "toy.csv", series, targets, "classification")
    import csv

    rows = list(csv.DictReader(path.open()))
    assert [r["label"] for r in rows] == ["a", "b"]
    assert parse_vectors(rows[0]["sequence"], "toy.csv row 2", "sequence") == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]


def test_holdout_is_stratified_and_disjoint() -> None:
    targets = ["a"] * 10 + ["b"] * 20
    kept, held = study.holdout(targets, "classification")
    assert set(kept).isdisjoint(held) and len(kept) + len(held) == 30
    assert sorted(targets[i] for i in held) == ["a"] * 3 + ["b"] * 6


def dtw(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook DTW by a plain double loop (squared step costs, summed over channels)."""
    D = np.full((len(x) + 1, len(y) + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            D[i, j] = ((x[i - 1] - y[j - 1]) ** 2).sum() + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[-1, -1]


def test_nearest_neighbours_against_plain_loops() -> None:
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(12, 2)) for _ in range(7)]
    test = [rng.normal(size=(12, 2)) for _ in range(5)]
    expected_dtw = [int(np.argmin([dtw(t, a) for a in train])) for t in test]
    expected_ed = [int(np.argmin([((t - a) ** 2).sum() for a in train])) for t in test]
    assert study.nearest_dtw(train, test).tolist() == expected_dtw
    assert study.nearest_euclidean(train, test).tolist() == expected_ed
    assert study.nearest_dtw(train, [rng.normal(size=(9, 2))]) is None  # unequal lengths: not computed


@pytest.mark.parametrize("name", ["GunPoint", "ItalyPowerDemand"])
def test_acceptance_sets_are_refused(name: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "defaults_study.py"), "--stage", "final", "--only", name],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "kept out for acceptance" in proc.stderr
