"""Weka `.arff` files as the UCR/UEA archives ship them, read by data=table: checked against the same examples written
as the archives' `.ts` files (read by `seqtrain.data.ts_files`, tested on its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from user_files import setup_refusal

from seqtrain.data import DataError, TableDataModule
from seqtrain.data.arff_files import arff_rows
from seqtrain.data.ts_files import ts_rows

UNIVARIATE = """%a comment
@relation Toy
@attribute att0 numeric
@attribute att1 NUMERIC
@attribute 'att 2' real
@attribute target {up,'down'}

@data
1.5,2,3.25,up
-1,0.5,?,'down'
"""
UNIVARIATE_TS = "@problemName Toy\n@classLabel true up down\n@data\n1.5,2,3.25:up\n-1,0.5:down\n"
MULTIVARIATE = """@relation Toy2
@attribute relationalAtt relational
  @attribute att0 numeric
  @attribute att1 numeric
  @attribute att2 numeric
@end relationalAtt
@attribute activity {a,b}
@data
'1,2,3\\n4,5,6',a
'7,8,?\\n9,10,?',b
"""
MULTIVARIATE_TS = "@problemName Toy2\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8:9,10:b\n"
REGRESSION = "@relation r\n@attribute a numeric\n@attribute b numeric\n@attribute y numeric\n@data\n0.5,1,2.75\n3,4,-1e-3\n"
REGRESSION_TS = "@problemName r\n@targetLabel true\n@data\n0.5,1:2.75\n3,4:-1e-3\n"


def test_an_unknown_class_is_an_empty_label(tmp_path: Path) -> None:
    text = "@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c {p,q}\n@data\n1,2,p\n3,4,?\n"
    assert arff_rows(text, "x.arff")[0] == [{"sequence": [1.0, 2.0], "label": "p"}, {"sequence": [3.0, 4.0], "label": None}]
    (tmp_path / "bad.arff").write_text(text)  # training refuses it, naming the row's line
    with pytest.raises(DataError, match=r"bad.arff, line 7, column 'label': an empty or missing target"):
        TableDataModule(train_files=str(tmp_path / "bad.arff"), cache_dir=str(tmp_path / "cache")).setup()


@pytest.mark.parametrize(("arff", "ts"), [(UNIVARIATE, UNIVARIATE_TS), (MULTIVARIATE, MULTIVARIATE_TS), (REGRESSION, REGRESSION_TS)])
def test_rows_equal_the_same_examples_as_ts(arff: str, ts: str) -> None:
    rows, lines = arff_rows(arff, "x.arff")
    assert rows == ts_rows(ts, "x.ts")
    assert len(lines) == len(rows) and all(arff.splitlines()[n - 1].strip() for n in lines)  # each row's own line


BAD = [
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,r\n", "bad.arff, line 5: label 'r' is not among the class attribute's values ('c' {p,q}, line 3)"),
    ("@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c {p,q}\n@data\n1,?,p\n?,1,p\n", "bad.arff, line 7: dimension 1, step 1 is missing ('?'), inside the series"),
    ("@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c {p,q}\n@data\n1,2,3,p\n", "bad.arff, line 6: 4 values; the header declares 3 attributes"),
    ("@relation x\n@attribute a numeric\n@attribute b string\n@attribute c {p,q}\n@data\n1,x,p\n", "bad.arff, line 3: attribute 'b' is 'string', not numeric"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n{0 1, 1 p}\n", "bad.arff, line 5: a sparse row"),
    ("@relation x\n@attribute a numeric\n@attribute y numeric\n@data\n1,high\n", "bad.arff, line 5: target 'high' is not a number"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n1,p\n", "bad.arff, line 4: a value before the '@data' line"),
    ("@relation x\n@attribute r relational\n@attribute a numeric\n@end r\n@attribute c {p,q}\n@data\n'1,2\\n3',p\n",
     "bad.arff, line 7: dimensions of unequal length (2, 1 values); a step is read as one value of every dimension, so an "
     "example's dimensions need one length: resample (or pad) the shorter ones"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    assert message in setup_refusal(tmp_path / "bad.arff", text)


def _write(tmp_path: Path, n: int, channels: int) -> tuple[Path, Path]:
    """The same examples as an .arff file (the archives' layout for `channels`) and as a .ts file."""
    arff = ["@relation made", *(["@attribute rel relational"] if channels > 1 else []),
            *[f"@attribute s{t} numeric" for t in range(6)], *(["@end rel"] if channels > 1 else []), "@attribute c {p,q}", "@data"]
    ts = ["@problemName made", "@classLabel true p q", "@data"]
    for i in range(n):
        dims = [[round(((i * 7 + t * 3 + c) % 11) / 3 - 1.5, 4) for t in range(4 + i % 3)] for c in range(channels)]
        label = "pq"[i % 2]
        padded = [",".join([*map(repr, d), *["?"] * (6 - len(d))]) for d in dims]
        quoted = "'" + "\\n".join(padded) + "'"  # the dimensions in one quoted value, separated by a written \n
        arff.append(f"{quoted},{label}" if channels > 1 else f"{padded[0]},{label}")
        ts.append(":".join([*(",".join(map(repr, d)) for d in dims), label]))
    (tmp_path / "train.arff").write_text("\n".join(arff) + "\n")
    (tmp_path / "train.ts").write_text("\n".join(ts) + "\n")
    return tmp_path / "train.arff", tmp_path / "train.ts"


@pytest.mark.parametrize("channels", [1, 3])
def test_an_arff_file_trains_like_the_same_examples_as_ts(tmp_path: Path, channels: int) -> None:
    made = {}
    for name, path in zip(("arff", "ts"), _write(tmp_path, 40, channels), strict=True):
        made[name] = TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache"), batch_size=8)
        made[name].setup()
    assert made["arff"].facts == made["ts"].facts and made["arff"].facts.num_features == channels
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(made["arff"].split(split), made["ts"].split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_a_regression_arff_file_read_as_classification_says_what_to_set(tmp_path: Path) -> None:
    assert ("no column 'label' (data.target_column); its columns are: sequence, target. Its class attribute is numeric "
            "(real-valued targets): set data.target_column=target data.task=regression") in setup_refusal(tmp_path / "reg.arff", REGRESSION)
    dm = TableDataModule(train_files=str(tmp_path / "reg.arff"), val_files=str(tmp_path / "reg.arff"), test_files=str(tmp_path / "reg.arff"),
                         task="regression", target_column="target", cache_dir=str(tmp_path / "cache"), batch_size=2)
    dm.setup()
    assert dm.facts.task == "regression" and dm.facts.num_outputs == 1
