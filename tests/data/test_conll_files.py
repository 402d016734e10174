"""CoNLL-style tagging files (a token and its tag a line, a blank line between sentences) read by data=table, checked
against the same sentences written by hand as JSON Lines; and files it must not catch."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from user_files import write_csv, write_jsonl

from seqtrain.data import DataError, TableDataModule
from seqtrain.data.conll_files import conll_rows, is_conll_layout
from seqtrain.data.sources import load_pieces


def test_rows_as_written_by_hand() -> None:
    # CoNLL-2003's layout: word POS chunk NER separated by spaces, -DOCSTART- marks, Windows line endings.
    text = ("-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\n\r\n"
            "Peter NNP B-NP B-PER\r\nBlackburn NNP I-NP I-PER\r\n")
    rows, lines = conll_rows(text, "x.conll")
    assert rows == [{"sequence": ["EU", "rejects"], "label": ["B-ORG", "O"]},
                    {"sequence": ["Peter", "Blackburn"], "label": ["B-PER", "I-PER"]}]
    assert lines == [3, 6]  # each sentence's first line in the file
    # Tabs: a token may hold a space; '#' comment lines (CoNLL-U's) are skipped.
    assert conll_rows("# sent 1\nNew York\tNNP\nis\tVBZ\n\n\n", "x.conll")[0] == [
        {"sequence": ["New York", "is"], "label": ["NNP", "VBZ"]}]


@pytest.mark.parametrize(("text", "message"), [
    ("a\tX\nb\n\nc\tY\n", "bad.conll, line 2: 'b' is not a token and its tag"),
    ("a B-NP X\nb Y\n", "bad.conll, line 2: 2 fields, the file's first token line has 3"),
])
def test_bad_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.conll"
    path.write_text(text)
    with pytest.raises(DataError) as raised:
        TableDataModule(train_files=str(path), task="tagging", cache_dir=str(tmp_path / "cache")).setup()
    assert message in str(raised.value)


@pytest.mark.parametrize(("head", "expected"), [
    ("the\tDT\ncat\tNN\n\na\tDT\n", True),
    ("EU NNP B-NP B-ORG\n\nPeter NNP B-NP B-PER\n", True),
    ("tokens\ttags\nthe cat\tDT NN\na dog\tDT NN\n", False),  # a TSV table: a header, cells of several words
    ("the\tDT\ncat\tNN\n", False),  # one block: no blank line between sentences
    ("1\t0.5\t0.25\n\n2\t0.5\n", False),  # fields of different counts
])
def test_what_is_read_as_conll(head: str, expected: bool) -> None:
    assert is_conll_layout(head) is expected


def _sentences(n: int) -> list[dict]:
    words = {"the": "DT", "a": "DT", "cat": "NN", "dog": "NN", "runs": "VBZ", "sleeps": "VBZ", "big": "JJ"}
    names = list(words)
    rows = []
    for i in range(n):
        tokens = [names[(i * 3 + j * (i % 4 + 1)) % len(names)] for j in range(3 + i % 4)]
        rows.append({"sequence": tokens, "label": [words[t] for t in tokens]})
    return rows


@pytest.mark.parametrize("suffix", [".conll", ".tsv", ".txt"])
def test_a_conll_file_trains_like_the_same_rows_in_json_lines(tmp_path: Path, suffix: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    rows = _sentences(40)
    conll = tmp_path / f"train{suffix}"
    conll.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(r["sequence"], r["label"])) for r in rows) + "\n")
    made = {}
    with caplog.at_level(logging.INFO, logger="seqtrain.data.sources"):
        for name, path in {"conll": conll, "jsonl": write_jsonl(tmp_path / "train.jsonl", rows)}.items():
            made[name] = TableDataModule(train_files=str(path), task="tagging", cache_dir=str(tmp_path / "cache"), batch_size=8)
            made[name].setup()
    if suffix != ".conll":
        assert f"data: data.train_files: train{suffix} has no header and a token and its tag a line" in caplog.text
    assert made["conll"].facts == made["jsonl"].facts and made["conll"].facts.class_names == ("DT", "JJ", "NN", "VBZ")
    for split in ("train", "val", "test"):
        for (x, y), (x2, y2) in zip(made["conll"].split(split), made["jsonl"].split(split), strict=True):
            assert torch.equal(x, x2) and torch.equal(y, y2)


def test_a_tsv_table_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "tags.tsv"
    path.write_text("sequence\tlabel\nthe cat\tDT NN\n\na dog\tDT NN\n")
    pieces = load_pieces(str(path), None, None, None, None, "auto", str(tmp_path / "cache"), headerless_layouts=True)["train"]
    assert pieces[0].dataset.column_names == ["sequence", "label"]
    csv = write_csv(tmp_path / "own.csv", [{"sequence": "the cat", "label": "x"}])
    assert load_pieces(str(csv), None, None, None, None, "auto", None, headerless_layouts=True)["train"][0].dataset.column_names == ["sequence", "label"]
