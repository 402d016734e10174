"""sktime / aeon `.ts` files (the UCR/UEA archives' format) read by data=table, checked against the same rows
written by hand as JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from user_files import write_jsonl

from seqtrain.data import DataError, TableDataModule
from seqtrain.data.ts_files import ts_rows

UNIVARIATE = """# a comment
@problemName Toy
@timeStamps false
@univariate true
@equalLength false
@seriesLength 3
@classLabel true up down
@data
1.5,2,3.25:up
-1,0.5:down
"""
MULTIVARIATE = """@problemName Toy2
@univariate false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,8:9,10:b
"""
REGRESSION = """@problemName Toy3
@targetLabel true
@data
0.5,1,1.5:2.75
3,4:-1e-3
"""


def test_rows_as_written_by_hand() -> None:
    assert ts_rows(UNIVARIATE, "u.ts") == [{"sequence": [1.5, 2.0, 3.25], "label": "up"}, {"sequence": [-1.0, 0.5], "label": "down"}]
    assert ts_rows(MULTIVARIATE, "m.ts") == [
        {"sequence": [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], "label": "a"},  # (T, C)
        {"sequence": [[7.0, 9.0], [8.0, 10.0]], "label": "b"},
    ]
    assert ts_rows(REGRESSION, "r.ts") == [{"sequence": [0.5, 1.0, 1.5], "target": 2.75}, {"sequence": [3.0, 4.0], "target": -0.001}]


def test_a_header_that_describes_its_examples_reads_them() -> None:
    text = ("@problemName Full\n@univariate false\n@dimensions 2\n@equalLength true\n@seriesLength 3\n@classLabel true Up down\n"
            "@data\n1,2,3:4,5,6:Up\n7,8,9:0,1,2:down\n")
    assert ts_rows(text, "f.ts") == [{"sequence": [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], "label": "Up"},
                                     {"sequence": [[7.0, 0.0], [8.0, 1.0], [9.0, 2.0]], "label": "down"}]


def _series(i: int, channels: int) -> list:
    steps = [[round(((i * 7 + t * 3 + c) % 11) / 4 - 1, 2) for c in range(channels)] for t in range(5 + i % 4)]
    return [s[0] for s in steps] if channels == 1 else steps


def _write_ts(path: Path, rows: list[dict], channels: int) -> Path:
    lines = []
    for row in rows:
        steps = row["sequence"] if channels > 1 else [[v] for v in row["sequence"]]
        dims = [",".join(repr(step[c]) for step in steps) for c in range(channels)]
        lines.append(":".join([*dims, row["label"]]))
    path.write_text("#made by a test\n@problemName x\n@classLabel true p q\n@data\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("channels", [1, 3])
def test_a_ts_file_trains_like_the_same_rows_in_json_lines(tmp_path: Path, channels: int) -> None:
    rows = [{"sequence": _series(i, channels), "label": "pq"[i % 2]} for i in range(40)]
    made = {}
    for name, path in {"ts": _write_ts(tmp_path / "train.ts", rows, channels), "jsonl": write_jsonl(tmp_path / "train.jsonl", rows)}.items():
        made[name] = TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache"), batch_size=8)
        made[name].setup()
    ts, jsonl = made["ts"], made["jsonl"]
    assert ts.facts == jsonl.facts and ts.facts.num_features == channels and ts.facts.class_names == ("p", "q")
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(ts.split(split), jsonl.split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


BAD = [
    ("@classLabel true a\n@data\n1,?,3:a\n", "bad.ts, line 3: dimension 1, step 2 is missing ('?')"),
    ("@data\n1,2:3:a\n", "bad.ts, line 2: dimensions of unequal length (2, 1 values); a step is read as one value of every dimension, so an "
     "example's dimensions need one length: resample (or pad) the shorter ones"),
    ("@data\n1,x:a\n", "bad.ts, line 2: dimension 1, step 2: 'x' is not a number"),
    ("@targetLabel true\n@data\n1,2:high\n", "bad.ts, example 1: target 'high' is not a number"),
    ("@classLabel false\n@data\n1,2:a\n", "its header says '@classLabel false'"),
    ("# only a comment\n@data\n", "bad.ts: no data lines"),
    ("@data\n1,2,3\n", "bad.ts, line 2: no ':' between the values and the target"),
    ("% UCR's comment\n@timeStamps true\n@data\n(2007-01-01 00:00:00,241.97):1\n", "bad.ts, line 4: its header says '@timeStamps true'"),
    ("@classLabel true 1 2\n1,2,3:1\n", "bad.ts, line 2: an example before the '@data' line"),
    ("@classLabel true 1 2\n@data\n1,2:1\n3,4:2\n5,6:3\n7,8:1\n9,1:3\n",
     "bad.ts, line 5: label '3' is not among the header's '@classLabel true 1 2' (line 1) (2 of 5 examples are so: lines 5, 7)"),
    ("@equalLength true\n@seriesLength 3\n@data\n1,2,3:a\n1,2:b\n1,2,3:a\n",
     "bad.ts, line 5: 2 values per dimension, but the header says '@equalLength true' (line 1) and '@seriesLength 3' (line 2)"),
    ("@equalLength true\n@data\n1,2,3:a\n1,2,3:b\n1,2,3,4:a\n",
     "bad.ts, line 5: 4 values per dimension, but the header says '@equalLength true' (line 1), and 2 examples have 3"),
    ("@univariate true\n@data\n1,2:a\n1,2:3,4:b\n", "bad.ts, line 4: 2 dimensions (':'-separated), but the header says '@univariate true' (line 1)"),
    ("@dimensions 2\n@data\n1,2:3,4:a\n1,2:3,4:5,6:b\n", "bad.ts, line 4: 3 dimensions (':'-separated), but the header says '@dimensions 2' (line 1)"),
    ("@data\n" + "1,2:3,4:a\n" * 4 + "1,2:b\n" + "1,2:3,4:b\n" * 5,
     "bad.ts, line 6: 1 dimensions (':'-separated), but 9 of the 10 examples have 2 (1 of 10 examples are so: line 6)"),
]


@pytest.mark.parametrize(("text", "words"), BAD, ids=[w.split(": ", 1)[-1][:30] for _, w in BAD])
def test_malformed_ts_files_are_refused_naming_the_place(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.ts"
    path.write_text(text)
    dm = TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError) as error:
        dm.setup()
    assert words.replace("bad.ts", str(path)) in str(error.value)


def test_a_regression_ts_file_read_as_classification_says_what_to_set(tmp_path: Path) -> None:
    path = tmp_path / "reg.ts"
    path.write_text(REGRESSION)
    with pytest.raises(DataError, match=r"no column 'label' \(data.target_column\); its columns are: sequence, target\. Its "
                                        r"header says '@targetLabel true' .*: set data.target_column=target data.task=regression"):
        TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache")).setup()
    dm = TableDataModule(train_files=str(path), val_files=str(path), test_files=str(path), task="regression",
                         target_column="target", cache_dir=str(tmp_path / "cache"), batch_size=2)
    dm.setup()
    assert dm.facts.task == "regression" and dm.facts.num_outputs == 1
