"""Small data files written by the tests themselves, in the formats users bring: CSV, JSON Lines, Parquet, text."""

from __future__ import annotations

import csv
import json
import math
import os
import random
from pathlib import Path
from typing import Any

# Tests read local files only; nothing may reach the hub (set before `datasets` is first imported).
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "good", "bad", "fine"]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def sentiment_rows(n: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    """Text classification: label "pos" when the sentence holds "good", else "neg"."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 9))]
        rows.append({"text": " ".join(words), "label": "pos" if "good" in words else "neg"})
    return rows


def tagging_rows(n: int = 60, seed: int = 1) -> list[dict[str, Any]]:
    """Token tagging: animals are "N", everything else "O"."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens = [rng.choice(WORDS) for _ in range(rng.randint(1, 8))]
        rows.append({"tokens": tokens, "tags": ["N" if t in ("cat", "dog") else "O" for t in tokens]})
    return rows


def vector_regression_rows(n: int = 60, seed: int = 2, features: int = 3) -> list[dict[str, Any]]:
    """Regression on feature-vector sequences: y = 100 + 10 * (sum of the first feature)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        frames = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(rng.randint(2, 10))]
        rows.append({"frames": frames, "y": 100 + 10 * sum(f[0] for f in frames)})
    return rows


def series_rows(n: int = 300, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"month": f"m{i}", "load": 50 + 20 * math.sin(i / 6) + rng.gauss(0, 1), "temp": 10 + math.cos(i / 6)}
        for i in range(n)
    ]


def corpus_lines(n: int = 200, seed: int = 4) -> str:
    rng = random.Random(seed)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8))) + "\n" for _ in range(n))


def setup_refusal(path: Path, text: str) -> str:
    """Write `text` to `path` and return the error a table datamodule's setup raises on it (it must raise one)."""
    import pytest

    from seqtrain.data import DataError, TableDataModule

    path.write_text(text)
    with pytest.raises(DataError) as raised:
        TableDataModule(train_files=str(path), cache_dir=str(path.parent / "cache")).setup()
    return str(raised.value)
