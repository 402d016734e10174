"""A corpus of bad data files and bad checkpoint files: each is refused before training, naming the file, row and column.

Every case writes its bad input into tmp_path, sets the datamodule up (or loads the checkpoint)
in-process, and asserts the error type, that nothing was built (the datamodule has no facts, so
no model could be sized), and the words of the message: the file, the row or line, the column,
and what is wrong. A few cases go through `python train.py` end to end to prove the CLI path.
Suspicious but legal inputs are checked for their warning.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "data"))  # user_files, when this file runs alone

from conftest import run_train  # noqa: E402
from user_files import series_rows, tagging_rows, write_csv, write_jsonl, write_parquet  # noqa: E402

from seqtrain.checkpoint import CheckpointError, load_checkpoint, rebuild  # noqa: E402
from seqtrain.data import DataError, ForecastDataModule, TableDataModule, TextDataModule  # noqa: E402

Case = Callable[[Path], tuple[Any, list[str]]]  # tmp_path -> (datamodule, words the message must hold)
CASES: dict[str, dict[str, Case]] = {"table file": {}, "text file": {}, "forecast file": {}}


def case(kind: str) -> Callable[[Case], Case]:
    def add(function: Case) -> Case:
        CASES[kind][function.__name__] = function
        return function

    return add


def table(tmp: Path, **kwargs: Any) -> TableDataModule:
    return TableDataModule(cache_dir=str(tmp / "hf_cache"), batch_size=2, **kwargs)


def text(tmp: Path, **kwargs: Any) -> TextDataModule:
    return TextDataModule(cache_dir=str(tmp / "hf_cache"), seq_len=4, batch_size=2, **kwargs)


def forecast(tmp: Path, **kwargs: Any) -> ForecastDataModule:
    return ForecastDataModule(cache_dir=str(tmp / "hf_cache"), window=5, **kwargs)


def labelled(n: int = 30, sequence: Callable[[int], Any] = lambda i: "abc"[: i % 3 + 1]) -> list[dict[str, Any]]:
    return [{"sequence": sequence(i), "label": "xy"[i % 2]} for i in range(n)]


def numbers(n: int = 30) -> list[dict[str, Any]]:
    return labelled(n, lambda i: f"{i} {i + 1.5} {-i}")


def with_row(rows: list[dict[str, Any]], at: int, **values: Any) -> list[dict[str, Any]]:
    rows = [dict(r) for r in rows]
    rows[at].update(values)
    return rows


def file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


CSV_HEAD = "sequence,label\n"
GOOD_CSV_LINES = "".join(f"ab{i},{'xy'[i % 2]}\n" for i in range(30))
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456\n"
HTML = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>...</body></html>\n"


# -- table files: reading ----------------------------------------------------------------------


@case("table file")
def missing_file(tmp):
    return table(tmp, train_files=str(tmp / "nope.csv")), ["data.train_files: no such file", "nope.csv"]


@case("table file")
def glob_matching_nothing(tmp):
    return table(tmp, train_files=str(tmp / "*.parquet")), ["data.train_files: no file matches", "*.parquet"]


@case("table file")
def a_folder_as_a_file(tmp):
    (tmp / "csvs").mkdir()
    return table(tmp, train_files=str(tmp / "csvs")), [f"data.train_files: '{tmp / 'csvs'}' is a folder; name its files",
                                                       f"'{tmp / 'csvs'}/*.csv'"]


@case("table file")
def glob_matching_a_folder(tmp):
    file(tmp, "a.csv", CSV_HEAD + GOOD_CSV_LINES)
    (tmp / "b.csv").mkdir()  # a folder whose name the glob matches too
    return table(tmp, train_files=str(tmp / "*.csv")), [f"matches the folder '{tmp / 'b.csv'}' (1 in all); match files only"]


@case("table file")
def a_file_named_by_a_glob_and_by_its_name(tmp):
    file(tmp, "a.csv", CSV_HEAD + GOOD_CSV_LINES)
    file(tmp, "b.csv", CSV_HEAD + GOOD_CSV_LINES)
    return table(tmp, train_files=[str(tmp / "*.csv"), str(tmp / "a.csv")]), [
        f"data.train_files: '{tmp / 'a.csv'}' is named twice (by '{tmp / '*.csv'}' and '{tmp / 'a.csv'}')", "name each file once"
    ]


@case("table file")
def empty_csv(tmp):
    path = file(tmp, "train.csv", "")
    return table(tmp, train_files=str(path)), [f"{path}: an empty file (0 bytes)"]


@case("table file")
def whitespace_only_csv(tmp):
    path = file(tmp, "train.csv", "  \n\n \n")
    return table(tmp, train_files=str(path)), [f"{path}: a file holding only whitespace"]


@case("table file")
def header_only_csv(tmp):
    path = file(tmp, "train.csv", CSV_HEAD)
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: a header (sequence, label) but no data rows"]


@case("table file")
def csv_row_with_extra_fields(tmp):
    path = file(tmp, "train.csv", CSV_HEAD + GOOD_CSV_LINES + "ab,x,oops\n")
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: line 32 (row 31) has 3 fields, the header has 2"]


@case("table file")
def csv_unclosed_quote(tmp):
    path = file(tmp, "train.csv", CSV_HEAD + GOOD_CSV_LINES + '"ab,x\n')
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: line 32", "unclosed quote"]


@case("table file")
def csv_column_named_twice(tmp):
    path = file(tmp, "train.csv", "sequence,sequence,label\nab,cd,x\n")
    return table(tmp, train_files=str(path)), [f"{path}: line 1 (the header) names the column(s) 'sequence' more than once"]


@case("table file")
def latin1_csv(tmp):
    path = file(tmp, "train.csv", (CSV_HEAD + "café,x\n" * 5).encode("latin-1"))
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: line 2 is not valid UTF-8 (byte 0xe9 at character 4)"]


@case("table file")
def csv_with_one_latin1_line(tmp):  # mixed encodings: UTF-8 with one Windows-1252 line
    path = file(tmp, "train.csv", (CSV_HEAD + "café,x\n" * 20).encode() + "naïve,y\n".encode("cp1252") + b"ab,x\n")
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: line 22 is not valid UTF-8 (byte 0xef at character 3)"]


@case("table file")
def latin1_csv_is_named_cp1252(tmp):  # still the suggestion for Western European text
    path = file(tmp, "train.csv", (CSV_HEAD + "café au lait,x\nnaïve,y\n" * 5).encode("latin-1"))
    return table(tmp, train_files=str(path)), ["another encoding (Latin-1 / Windows-1252?)", "iconv -f cp1252 -t UTF-8"]


@case("table file")
def gbk_csv(tmp):  # Chinese saved as GBK (Windows' default in China): cp1252 would turn it into mojibake
    path = file(tmp, "train.csv", (CSV_HEAD + "这部电影很好看,好\n质量太差了，不推荐,差\n" * 5).encode("gbk"))
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as csv: line 2 is not valid UTF-8",
                                               "(GB18030, Simplified Chinese or ", "iconv -f GB18030 -t UTF-8`, and check that the text reads right"]


@case("table file")
def shift_jis_csv(tmp):
    path = file(tmp, "train.csv", (CSV_HEAD + "とても面白い映画でした,良い\nつまらない,悪い\n" * 5).encode("shift_jis"))
    return table(tmp, train_files=str(path)), ["SHIFT_JIS, Japanese", "check that the text reads right"]


@case("table file")
def utf16_csv(tmp):
    path = file(tmp, "train.csv", (CSV_HEAD + GOOD_CSV_LINES).encode("utf-16"))
    return table(tmp, train_files=str(path)), [f"{path}: text encoded as UTF-16; seqtrain reads UTF-8"]


@case("table file")
def lfs_pointer_csv(tmp):
    path = file(tmp, "train.csv", LFS)
    return table(tmp, train_files=str(path)), [f"{path}: a git-LFS pointer file", "git lfs pull"]


@case("table file")
def html_page_as_csv(tmp):
    path = file(tmp, "train.csv", HTML)
    return table(tmp, train_files=str(path)), [f"{path}: an HTML page"]


@case("table file")
def parquet_named_csv(tmp):  # a binary format under a text extension: named for what it is
    write_parquet(tmp / "real.parquet", labelled(10))
    path = file(tmp, "train.csv", (tmp / "real.parquet").read_bytes())
    return table(tmp, train_files=str(path)), [f"{path}: not text but a Parquet file: name it .parquet"]


@case("table file")
def excel_workbook_named_csv(tmp):
    import zipfile

    path = tmp / "train.csv"
    with zipfile.ZipFile(path, "w") as book:  # an .xlsx is a zip of XML parts
        book.writestr("[Content_Types].xml", "<Types/>")
    return table(tmp, train_files=str(path)), [f"{path}: not text but a zip archive (an Excel .xlsx workbook is one)"]


@case("table file")
def gzip_jsonl(tmp):
    import gzip

    path = file(tmp, "train.jsonl", gzip.compress("".join(json.dumps(r) + "\n" for r in labelled(10)).encode()))
    return table(tmp, train_files=str(path)), [f"{path}: not text but gzip-compressed"]


@case("table file")
def lfs_pointer_parquet(tmp):
    path = file(tmp, "train.parquet", LFS)
    return table(tmp, train_files=str(path)), [f"{path}: a git-LFS pointer file"]


@case("table file")
def jsonl_malformed_line(tmp):
    good = [json.dumps(r) for r in labelled(10)]
    path = file(tmp, "train.jsonl", "\n".join([*good[:5], '{"sequence": "ab", "label": ', *good[5:]]) + "\n")
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as json: line 6 is not valid JSON"]


@case("table file")
def jsonl_line_not_an_object(tmp):
    good = [json.dumps(r) for r in labelled(10)]
    path = file(tmp, "train.jsonl", "\n".join([*good[:3], '["ab", "x"]', *good[3:]]) + "\n")
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as json: line 4 is a JSON list, not an object"]


@case("table file")
def jsonl_trailing_comma(tmp):
    good = [json.dumps(r) for r in labelled(10)]
    path = file(tmp, "train.jsonl", "\n".join([*good[:7], good[7] + ",", *good[8:]]) + "\n")
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as json: line 8 is not valid JSON"]


@case("table file")
def empty_jsonl(tmp):
    path = file(tmp, "train.jsonl", "")
    return table(tmp, train_files=str(path)), [f"{path}: an empty file (0 bytes)"]


@case("table file")
def text_file_named_parquet(tmp):
    path = file(tmp, "train.parquet", CSV_HEAD + GOOD_CSV_LINES)
    return table(tmp, train_files=str(path)), [f"{path}: cannot be read as parquet: not a readable Parquet file"]


@case("table file")
def truncated_parquet(tmp):
    path = write_parquet(tmp / "whole.parquet", labelled(200))
    cut = file(tmp, "train.parquet", path.read_bytes()[:-40])
    return table(tmp, train_files=str(cut)), [f"{cut}: cannot be read as parquet"]


@case("table file")
def unknown_extension(tmp):
    path = file(tmp, "train.dat", CSV_HEAD + GOOD_CSV_LINES)
    return table(tmp, train_files=str(path)), ["data.train_files: cannot tell the format", "train.dat", "set data.file_format"]


@case("table file")
def files_of_two_formats(tmp):
    a, b = write_csv(tmp / "a.csv", labelled()), write_jsonl(tmp / "b.jsonl", labelled())
    return table(tmp, train_files=[str(a), str(b)]), ["data.train_files: files of different formats (.csv, .jsonl)"]


# -- table files: columns ----------------------------------------------------------------------


@case("table file")
def missing_sequence_column(tmp):
    path = write_csv(tmp / "train.csv", [{"text": "ab", "label": "x"}] * 5)
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence' (data.sequence_column); its columns are: text, "
                                               "label. Its one other column is 'text': set data.sequence_column='text'"]


@case("table file")
def two_columns_neither_named_as_configured(tmp):
    path = write_csv(tmp / "train.csv", [{"age": 20 + i, "signal": f"{i} 1.5 {i + 2}"} for i in range(30)])
    return table(tmp, train_files=str(path)), [
        f"{path}: no column 'sequence' (data.sequence_column); its columns are: age, signal. Of its 2 columns, 'signal' "
        "holds sequences (its first row: several items) and 'age' one value a row: set data.sequence_column='signal' "
        "data.target_column='age'"
    ]


@case("table file")
def an_id_a_sequence_and_a_value_none_named_as_configured(tmp):
    path = write_csv(tmp / "train.csv", [{"series_id": f"s{i}", "signal": f"{i} 1.5 2", "y": "ab"[i % 2]} for i in range(30)])
    return table(tmp, train_files=str(path)), [
        "its columns are: series_id, signal, y. Of its 3 columns ('series_id' names the rows), 'signal' holds sequences "
        "(its first row: several items) and 'y' one value a row: set data.sequence_column='signal' data.target_column='y'"
    ]


@case("table file")
def three_columns_none_named_as_configured(tmp):
    path = write_csv(tmp / "train.csv", [{"group": i % 3, "signal": f"{i} 1.5", "age": 20 + i} for i in range(30)])  # not wide
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence' (data.sequence_column); its columns are: "
                                               "group, signal, age"]


def test_no_column_is_suggested_where_the_first_row_leaves_a_choice(tmp_path: Path) -> None:
    """Three columns for two settings, or two columns of sequences: the error lists the columns and suggests none."""
    for name, rows in (("three.csv", [{"group": i % 3, "signal": f"{i} 1.5", "age": 20 + i} for i in range(30)]),
                       ("both.csv", [{"a": f"{i} 1.5", "b": f"{i} 2.5"} for i in range(30)]),
                       ("id.csv", [{"sequence": f"{i} 1.5", "id": i} for i in range(30)])):  # an id is not the label
        path = write_csv(tmp_path / name, rows)
        with pytest.raises(DataError) as error:
            table(tmp_path, train_files=str(path)).setup()
        assert str(error.value).endswith("its columns are: " + ", ".join(rows[0])), str(error.value)


@case("table file")
def missing_column_in_test_file(tmp):
    train = write_csv(tmp / "train.csv", labelled())
    test = write_csv(tmp / "test.csv", [{"sequence": "ab", "y": "x"}])
    return table(tmp, train_files=str(train), test_files=str(test)), [
        f"{test}: no column 'label' (data.target_column); its columns are: sequence, y. Its one other column is 'y': set "
        "data.target_column='y'"]


@case("table file")
def a_csv_written_with_a_space_after_each_comma(tmp):
    path = file(tmp, "train.csv", "sequence, label\n" + "".join(f"{i} {i + 1}, {'xy'[i % 2]}\n" for i in range(30)))
    return table(tmp, train_files=str(path)), [
        f"{path}: no column 'label' (data.target_column); its columns are: 'sequence', ' label'. The column ' label' differs "
        "from 'label' only in spaces: write the file without spaces after its separators"
    ]


@case("table file")
def a_column_named_in_another_case(tmp):
    path = file(tmp, "train.csv", "Sequence,label\n" + "".join(f"{i} {i + 1},{'xy'[i % 2]}\n" for i in range(30)))
    return table(tmp, train_files=str(path)), [
        "no column 'sequence' (data.sequence_column)", "The column 'Sequence' differs from 'sequence' only in case: "
        "set data.sequence_column='Sequence'"
    ]


@case("table file")
def a_csv_starting_with_excels_separator_line(tmp):
    path = file(tmp, "train.csv", "sep=,\n" + CSV_HEAD + GOOD_CSV_LINES)
    return table(tmp, train_files=str(path)), [
        f"{path}: no column 'sequence' (data.sequence_column)",
        "Its first line (starting 'sep=') is the separator line Excel writes, not the header: delete it"
    ]


@case("forecast file")
def a_series_csv_starting_with_a_comment(tmp):
    path = tmp / "series.csv"
    write_csv(path, series_rows(100))
    path.write_text("# exported from the logger\n" + path.read_text())
    return forecast(tmp, train_files=str(path), columns=["load"]), [
        f"{path}: its rows have 2 more fields than its header ('# exported from the logger')",
        "Its first line (starting '# exported from the logger') is a comment, not the header: delete it"
    ]


@case("table file")
def semicolon_separated_csv(tmp):
    path = file(tmp, "train.csv", "sequence;label\n" + "ab;x\n" * 10)
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence'", "its columns are: sequence;label"]


@case("table file")
def json_column_mixing_lists_and_text(tmp):
    rows = [{"sequence": ["a", "b"], "label": "x"}] * 5 + [{"sequence": "ab", "label": "y"}]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path)), [f"{path}: column 'sequence' mixes types from row to row", "a list at", "text at", "line 6"]


@case("table file")
def lists_nested_three_deep(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [[[1.0]]], "label": "x"}] * 5)
    return table(tmp, train_files=str(path)), [f"{path}: column 'sequence' nests lists 3 deep"]


@case("table file")
def one_number_per_row(tmp):
    path = write_csv(tmp / "train.csv", labelled(10, lambda i: i * 1.5))
    return table(tmp, train_files=str(path)), [f"{path}: column 'sequence' holds one float64 per row, not a sequence"]


# -- table files: sequence values --------------------------------------------------------------


@case("table file")
def nan_in_row_3_of_a_numeric_column(tmp):
    path = write_csv(tmp / "train.csv", with_row(numbers(), 2, sequence="1 nan 3"))
    return table(tmp, train_files=str(path)), [f"{path}, row 3, column 'sequence': 'nan' is not a finite number (step 2)", "29 of the column's 30 rows hold only numbers", "data.sequence_kind=text"]


@case("table file")
def inf_in_row_3_of_a_numeric_column(tmp):
    path = write_csv(tmp / "train.csv", with_row(numbers(), 2, sequence="1 2 inf"))
    return table(tmp, train_files=str(path)), [f"{path}, row 3, column 'sequence': 'inf' is not a finite number (step 3)"]


# Finite in float64, as the files are read, but inf in float32, as the model computes: every metric would be nan.
TOO_LARGE = "is too large for float32, the precision the model computes in (magnitudes up to 3.4e+38)"


@case("table file")
def a_value_beyond_float32_in_a_test_file(tmp):
    train = write_csv(tmp / "train.csv", numbers())
    test = write_csv(tmp / "test.csv", with_row(numbers(10), 4, sequence="1 -1e300 3"))
    return table(tmp, train_files=str(train), test_files=str(test)), [f"{test}, row 5 (step 2), column 'sequence': -1e+300 {TOO_LARGE}"]


@case("table file")
def a_value_beyond_float32_in_a_row_cut_into_pieces(tmp):  # the step counts from the row's first piece
    path = write_jsonl(tmp / "train.jsonl", with_row(labelled(30, lambda i: [[i, 1.0]] * 5), 8, sequence=[[1, 2]] * 4 + [[3, 4e38]]))
    return table(tmp, train_files=str(path), max_length=2, overflow="split"), [f"{path}, line 9 (step 5), column 'sequence': 4e+38 {TOO_LARGE}"]


@case("table file")
def a_regression_target_beyond_float32(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [i, i + 1.0], "label": 1e300 if i == 6 else i / 3} for i in range(30)])
    return table(tmp, train_files=str(path), task="regression"), [f"{path}, line 7, column 'label': 1e+300 {TOO_LARGE}"]


@case("table file")
def a_per_step_target_beyond_float32(tmp):
    rows = [{"sequence": [i, 1.0, 2.0], "label": [0.5, i / 3, -1e39 if i == 9 else 1.0]} for i in range(30)]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path), task="regression", per_step=True), [f"{path}, line 10 (step 3), column 'label': -1e+39 {TOO_LARGE}"]


@case("table file")
def word_in_row_3_of_a_numeric_column(tmp):
    path = write_csv(tmp / "train.csv", with_row(numbers(), 2, sequence="1 abc 3"))
    return table(tmp, train_files=str(path)), [f"{path}, row 3, column 'sequence': 'abc' is not a number (step 2)"]


@case("table file")
def stray_words_in_several_files(tmp):
    a = write_csv(tmp / "a.csv", numbers())
    b = write_csv(tmp / "b.csv", with_row(with_row(numbers(), 4, sequence="1,2,x"), 9, sequence="1 2 three"))
    return table(tmp, train_files=[str(a), str(b)]), [f"{b}, row 5, column 'sequence': 'x' is not a number (step 3)", f"other rows that do not: {b}, row 10"]


@case("table file")
def stray_word_in_a_test_file_of_numbers(tmp):
    train = write_csv(tmp / "train.csv", numbers())
    test = write_csv(tmp / "test.csv", with_row(numbers(), 7, sequence="7 8 ?"))
    return table(tmp, train_files=str(train), test_files=str(test)), [f"{test}, row 8, column 'sequence': '?' is not a number (step 3)"]


@case("table file")
def decimal_commas_in_every_row(tmp):  # written European style: each number was cut at its comma into two steps
    path = write_csv(tmp / "train.csv", labelled(30, lambda i: f"-0,{i + 100} 1,5 {i},25"))
    return table(tmp, train_files=str(path)), [f"{path}, row 1, column 'sequence': '-0,100 1,5 0,25' holds numbers separated by "
                                               "spaces, and '-0,100': decimal commas or thousands separators? write numbers with "
                                               "a decimal point and no grouping, separated by one separator"]


@case("table file")
def thousands_separators_in_row_5(tmp):
    path = write_csv(tmp / "train.csv", with_row(numbers(), 4, sequence="-1,282.0 -3,305.0 -743.0"))
    return table(tmp, train_files=str(path)), [f"{path}, row 5, column 'sequence'", "and '-1,282.0': decimal commas or thousands separators?"]


@case("table file")
def trailing_semicolon_in_row_5(tmp):  # one ';' made every row of every file one step of all its values
    path = write_csv(tmp / "train.csv", with_row(numbers(), 4, sequence="4 5.5 -4;"))
    return table(tmp, train_files=str(path)), [
        f"column 'sequence': feature vectors (steps separated by ';', or a list of lists) in 1 row ({path}, row 5), but not in "
        f"29 rows ({path}, row 1; {path}, row 2; {path}, row 3; ...), of its 30 rows of numbers: a stray ';'",
        "data.sequence_kind=vectors to read a row without ';' as one step"]


@case("table file")
def trailing_semicolon_with_sequence_kind_vectors(tmp):
    path = write_csv(tmp / "train.csv", with_row(labelled(30, lambda i: f"{i} 1; 2 3"), 6, sequence="6 1; 2 3;"))
    return table(tmp, train_files=str(path), sequence_kind="vectors"), [
        f"{path}, row 7, column 'sequence': '6 1; 2 3;': step 3 of 3 is empty (a ';' with no values after it)"]


@case("table file")
def semicolon_in_one_row_of_the_test_file(tmp):  # it used to turn the training file into vectors too
    train = write_csv(tmp / "train.csv", numbers())
    test = write_csv(tmp / "test.csv", with_row(numbers(10), 2, sequence="2 3.5 -2;"))
    return table(tmp, train_files=str(train), test_files=str(test)), [f"in 1 row ({test}, row 3), but not in 9 rows ({test}, row 1;"]


@case("table file")
def vectors_in_the_test_file_numbers_in_training(tmp):
    train = write_csv(tmp / "train.csv", numbers())
    test = write_csv(tmp / "test.csv", labelled(10, lambda i: f"{i} 1; 2 3"))
    return table(tmp, train_files=str(train), test_files=str(test)), [
        f"column 'sequence' reads as different kinds in different files: the train split ({train}) as numbers (all 30 non-empty "
        f"rows hold only numbers); the test split ({test}) as vectors (all 10 non-empty rows hold only numbers)", "set data.sequence_kind"]


@case("table file")
def non_finite_number_in_a_list(tmp):
    rows = [{"sequence": [1.0, 2.0], "label": "xy"[i % 2]} for i in range(10)]
    rows[6]["sequence"] = [1.0, float("nan")]
    path = write_parquet(tmp / "train.parquet", rows)
    return table(tmp, train_files=str(path)), [f"{path}, row 7, column 'sequence': nan is not a finite number (step 2)"]


@case("table file")
def non_finite_feature_in_a_vector(tmp):
    rows = [{"sequence": [[1.0, 2.0], [3.0, 4.0]], "label": "xy"[i % 2]} for i in range(10)]
    rows[4]["sequence"] = [[1.0, 2.0], [float("inf"), 4.0]]
    path = write_parquet(tmp / "train.parquet", rows)
    return table(tmp, train_files=str(path)), [f"{path}, row 5, column 'sequence': inf is not a finite number (step 2)"]


@case("table file")
def ragged_feature_vectors(tmp):
    rows = [{"x": [[1.0, 2.0], [3.0, 4.0]], "y": i % 2} for i in range(10)]
    rows[3]["x"] = [[1.0, 2.0], [3.0]]
    path = write_parquet(tmp / "train.parquet", rows)
    return table(tmp, train_files=str(path), sequence_column="x", target_column="y"), [f"{path}, row 4, column 'x': ragged feature vectors: step 2 has 1 values, step 1 has 2"]


@case("table file")
def ragged_vectors_in_csv_text(tmp):
    rows = labelled(10, lambda i: "1 2; 3 4")
    rows[8]["sequence"] = "1 2; 3"
    path = write_csv(tmp / "train.csv", rows)
    return table(tmp, train_files=str(path)), [f"{path}, row 9, column 'sequence': ragged feature vectors: step 2 has 1 values"]


@case("table file")
def feature_count_differing_from_training(tmp):
    train = write_jsonl(tmp / "train.jsonl", [{"x": [[1.0, 2.0]], "y": i % 2} for i in range(4)])
    test = write_jsonl(tmp / "test.jsonl", [{"x": [[1.0, 2.0]], "y": 0}, {"x": [[1.0, 2.0, 3.0]], "y": 1}])
    dm = table(tmp, train_files=str(train), val_files=str(train), test_files=str(test), sequence_column="x", target_column="y")
    return dm, [f"{test}, line 2, column 'x': step 1 has 3 features; the training data has 2 per step"]


@case("table file")
def three_features_in_the_first_row_of_forty_with_two(tmp):  # the first row was the reference: every other row was blamed
    path = write_csv(tmp / "train.csv", with_row(labelled(40, lambda i: f"{i} 1; 2 3"), 0, sequence="0 1 5; 2 3 5"))
    return table(tmp, train_files=str(path)), [
        f"{path}, row 1, column 'sequence': step 1 has 3 features; the training data has 2 per step (in 39 of its 40 rows); "
        f"the train split's rows with another count: {path}, row 1 (3) (1 of 40)"]


@case("table file")
def feature_counts_differing_in_several_rows(tmp):
    rows = [{"x": [[1.0, 2.0]] * 3, "y": i % 2} for i in range(40)]
    for i in (3, 9, 11, 20):
        rows[i]["x"] = [[1.0, 2.0, 3.0]] * 3 if i != 11 else [[1.0]] * 3
    path = write_parquet(tmp / "train.parquet", rows)
    return table(tmp, train_files=str(path), sequence_column="x", target_column="y"), [
        f"{path}, row 4, column 'x': step 1 has 3 features; the training data has 2 per step (in 36 of its 40 rows)",
        f"rows with another count: {path}, row 4 (3), {path}, row 10 (3), {path}, row 12 (1), ... (4 of 40)"]


@case("table file")
def regression_target_width_differing_in_the_first_row(tmp):
    rows = [{"x": [1.0, 2.0], "y": [float(i), 2.0]} for i in range(20)]
    rows[0]["y"] = [3.0]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, task="regression", train_files=str(path), sequence_column="x", target_column="y"), [
        f"{path}, line 1, column 'y': 1 target values per row; the training data has 2 per row (in 19 of its 20 rows)"]


@case("table file")
def empty_csv_cell(tmp):
    path = write_csv(tmp / "train.csv", with_row(labelled(), 3, sequence=""))
    return table(tmp, train_files=str(path)), [f"{path}, row 4, column 'sequence': an empty sequence"]


@case("table file")
def empty_list(tmp):
    rows = [{"sequence": ["a"], "label": "xy"[i % 2]} for i in range(10)]
    rows[5]["sequence"] = []
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path)), [f"{path}, line 6, column 'sequence': an empty sequence of tokens"]


@case("table file")
def empty_after_word_tokenization(tmp):
    path = write_csv(tmp / "train.csv", with_row(labelled(), 11, sequence="   "))
    dm = table(tmp, train_files=str(path), val_files=str(path), test_files=str(path), tokenizer="word")
    return dm, [f"{path}, row 12, column 'sequence': an empty sequence after tokenization"]


@case("table file")
def null_token_in_a_list(tmp):
    rows = [{"sequence": ["a", "b"], "label": "xy"[i % 2]} for i in range(10)]
    rows[2]["sequence"] = ["a", None]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path)), [f"{path}, line 3, column 'sequence': step 2: None is not a single token"]


@case("table file")
def huge_cell_without_max_length(tmp):
    path = write_csv(tmp / "train.csv", with_row(labelled(), 5, sequence="a" * 200_000))
    return table(tmp, train_files=str(path), val_files=str(path), test_files=str(path)), [
        f"{path}, row 6, column 'sequence': a sequence of 200,000 steps", "set data.max_length (e.g. data.max_length=3"
    ]


@case("table file")
def huge_cell_in_the_test_file(tmp):
    train = write_csv(tmp / "train.csv", labelled())
    test = write_csv(tmp / "test.csv", with_row(labelled(4), 2, sequence="ab" * 20_000))
    return table(tmp, train_files=str(train), test_files=str(test)), [f"{test}, row 3, column 'sequence': a sequence of 40,000 steps", "data.max_length"]


# -- table files: targets ----------------------------------------------------------------------


@case("table file")
def one_class_only(tmp):
    path = write_csv(tmp / "train.csv", [{"sequence": "ab", "label": "spam"}] * 20)
    return table(tmp, train_files=str(path)), [f"{path}, column 'label': every training row has the label 'spam'", "at least two classes"]


@case("table file")
def one_tag_only(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": ["a", "b"], "label": ["O", "O"]}] * 20)
    return table(tmp, task="tagging", train_files=str(path)), [f"{path}, column 'label': every training step has the label 'O'"]


@case("table file")
def label_unseen_in_training(tmp):
    train = write_csv(tmp / "train.csv", labelled())
    test = write_csv(tmp / "test.csv", [{"sequence": "ab", "label": "x"}, {"sequence": "ab", "label": "z"}])
    dm = table(tmp, train_files=str(train), val_files=str(train), test_files=str(test))
    return dm, [f"{test}, row 2, column 'label': label 'z' was not seen in the training split", "data.unseen_labels=ignore"]


@case("table file")
def tag_unseen_in_training(tmp):
    train = write_jsonl(tmp / "train.jsonl", [{"sequence": ["a", "b"], "label": ["X", "Y"]}] * 4)
    val = write_jsonl(tmp / "val.jsonl", [{"sequence": ["a", "b", "c"], "label": ["X", "Y", "W"]}])
    dm = table(tmp, task="tagging", train_files=str(train), val_files=str(val), test_files=str(train))
    return dm, [f"{val}, line 1, column 'label': label 'W' (step 3) was not seen"]


@case("table file")
def missing_label(tmp):
    path = write_csv(tmp / "train.csv", with_row(labelled(), 8, label=""))
    return table(tmp, train_files=str(path)), [f"{path}, row 9, column 'label': an empty or missing target; 1 of the file's"]


@case("table file")
def nan_as_a_label_in_csv(tmp):  # pandas reads it as missing: it was called "an empty label"
    path = write_csv(tmp / "train.csv", with_row(labelled(), 7, label="nan"))
    return table(tmp, train_files=str(path)), [f"{path}, row 8, column 'label': 'nan', which the CSV reader takes for a missing value"]


@case("table file")
def nan_as_a_label_in_a_csv_named_otherwise(tmp):  # read with data.file_format=csv: its cells are read again as CSV too
    path = write_csv(tmp / "train.csv", with_row(labelled(), 7, label="nan")).rename(tmp / "train.dat")
    return table(tmp, train_files=str(path), file_format="csv"), [
        f"{path}, row 8, column 'label': 'nan', which the CSV reader takes for a missing value"]


@case("table file")
def a_class_named_none_in_csv(tmp):  # a class of that name: the reader cannot keep it, and the fix is to rename it
    path = write_csv(tmp / "train.csv", [{"sequence": "abc"[: i % 3 + 1], "label": ["yes", "no", "None"][i % 3]} for i in range(30)])
    return table(tmp, train_files=str(path)), [
        f"{path}, row 3, column 'label': 'None', which the CSV reader takes for a missing value",
        "where 'None' is the value meant (a class of that name), write it otherwise in the file, e.g. 'None_'",
    ]


@case("table file")
def missing_label_key_in_jsonl(tmp):
    rows = labelled(10)
    del rows[4]["label"]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path)), [f"{path}, line 5, column 'label': an empty or missing target; 1 of the file's"]


@case("table file")
def list_as_a_classification_label(tmp):
    rows = [{"sequence": "ab", "label": ["x"]}] * 5
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, train_files=str(path)), [f"{path}, line 1, column 'label': ['x'] is not a single class label (per-step labels need task=tagging)"]


@case("table file")
def word_as_a_regression_target(tmp):
    rows = [{"x": [1.0, 2.0], "y": 1.5}] * 3 + [{"x": [1.0], "y": "high"}]
    path = write_jsonl(tmp / "train.jsonl", rows)
    return table(tmp, task="regression", train_files=str(path), sequence_column="x", target_column="y"), [f"{path}, line 4, column 'y': 'high' is not a number"]


@case("table file")
def nan_regression_target(tmp):
    path = file(tmp, "train.jsonl", '{"x": [1.0], "y": 1.0}\n' * 5 + '{"x": [1.0], "y": NaN}\n')
    return table(tmp, task="regression", train_files=str(path), sequence_column="x", target_column="y"), [f"{path}, line 6, column 'y': nan is not a finite number"]


@case("table file")
def inf_regression_target_in_csv(tmp):
    path = file(tmp, "train.csv", "x,y\n" + "1 2,0.5\n" * 5 + "1 2,inf\n")
    return table(tmp, task="regression", train_files=str(path), sequence_column="x", target_column="y"), [f"{path}, row 6, column 'y': inf is not a finite number"]


@case("table file")
def regression_target_width_differing(tmp):
    rows = [{"x": [1.0, 2.0], "y": [1.0, 2.0]}] * 3 + [{"x": [1.0], "y": [3.0]}]
    path = write_jsonl(tmp / "train.jsonl", rows)
    dm = table(tmp, task="regression", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="x", target_column="y")
    return dm, [f"{path}, line 4, column 'y': 1 target values per row; the training data has 2"]


@case("table file")
def tags_fewer_than_tokens(tmp):
    rows = [{"tokens": ["a", "b"], "tags": ["X", "Y"]}] * 3 + [{"tokens": ["a", "b", "c"], "tags": ["X", "Y"]}]
    path = write_jsonl(tmp / "train.jsonl", rows)
    dm = table(tmp, task="tagging", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="tokens", target_column="tags")
    return dm, [f"{path}, line 4, column 'tags': 2 per-step targets for 3 steps of column 'tokens'"]


@case("table file")
def unclosed_python_list_of_tags_in_csv(tmp):  # as pandas writes list cells, one cut short
    lines = "".join("\"['a', 'b']\",\"['X', 'Y']\"\n" for _ in range(5)) + "\"['a', 'b']\",\"['X', 'Y'\"\n"
    path = file(tmp, "train.csv", "tokens,tags\n" + lines)
    dm = table(tmp, task="tagging", train_files=str(path), val_files=str(path), test_files=str(path), sequence_column="tokens", target_column="tags")
    return dm, [f"{path}, row 6, column 'tags'", "looks like a list but parses neither as JSON", "nor as a Python literal"]


@case("table file")
def numpy_array_shortened_with_dots_in_csv(tmp):  # pandas' to_csv of an array cell over 1,000 values
    lines = "".join(f"[{i}. 1. 2.],{'xy'[i % 2]}\n" for i in range(20)) + "[0. 1. 2. ... 1997. 1998. 1999.],x\n"
    path = file(tmp, "train.csv", CSV_HEAD + lines)
    return table(tmp, train_files=str(path)), [f"{path}, row 21, column 'sequence'", "numpy shortened with '...'",
                                               "(1 such rows)", "np.set_printoptions"]


@case("table file")
def headerless_wide_tsv_with_text_labels(tmp):  # label, then one value per column, no header; not the UCR archive's
    # layout (its labels are numbers: seqtrain.data.ucr_files), so which column is the label is not guessed
    path = file(tmp, "train.tsv", "".join(f"{'ab'[i % 2]}\t" + "\t".join(f"{(i * j) % 7 / 3:.4f}" for j in range(20)) + "\n" for i in range(30)))
    return table(tmp, train_files=str(path)), [f"{path}: line 1 looks like data, not a header (the column names are numbers)",
                                               "not a value per column"]  # its first row repeats values: caught before loading


@case("table file")
def headerless_wide_csv_with_text_labels_last(tmp):
    path = file(tmp, "train.csv", "".join(",".join(f"{i + j / 8:.3f}" for j in range(20)) + f",{'xy'[i % 2]}\n" for i in range(30)))
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence' (data.sequence_column)", "... (21 columns)",
                                               "Its first row looks like data, not a header", "not a value per column",
                                               "headerless .tsv / .txt (a numeric label first"]


@case("table file")
def ucr_layout_with_a_missing_value_inside_a_series(tmp):  # NaN is the archive's padding at the end, not a gap
    rows = [f"{i % 2 + 1}," + ",".join("NaN" if (i, j) == (7, 4) else f"{i + j / 8:.3f}" for j in range(20)) for i in range(30)]
    path = file(tmp, "train.csv", "\n".join(rows) + "\n")
    return table(tmp, train_files=str(path)), [f"{path}, line 8: value 5 is 'NaN', inside the series", "fill or drop it"]


@case("table file")
def wide_csv_with_a_header_and_a_text_column(tmp):  # a wide table, but 'id' is not a step: not read as one
    head = "id,label," + ",".join(f"t{j}" for j in range(20)) + "\n"
    path = file(tmp, "train.csv", head + "".join(f"r{i},{'xy'[i % 2]}," + ",".join(str(i + j) for j in range(20)) + "\n" for i in range(30)))
    return table(tmp, train_files=str(path)), ["its columns are: id, label, t0, t1", "may be a wide table (a value per column)",
                                               "df['sequence'] = df[step_columns]"]


@case("table file")
def wide_csv_whose_label_column_has_another_name(tmp):  # `kind,t0,...`: data.target_column is still 'label'
    head = "kind," + ",".join(f"t{j}" for j in range(20)) + "\n"
    path = file(tmp, "train.csv", head + "".join(f"{'xy'[i % 2]}," + ",".join(str(i + j) for j in range(20)) + "\n" for i in range(30)))
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence' (data.sequence_column) and no column 'label' "
                                               "(data.target_column)", "every column but 'kind' holds numbers: if 'kind' is "
                                               "the label, set data.target_column=kind"]


@case("table file")
def wide_csv_of_numbers_whose_label_column_has_another_name(tmp):  # `class,t0,...` with numeric classes
    head = "class," + ",".join(f"t{j}" for j in range(20)) + "\n"
    path = file(tmp, "train.csv", head + "".join(f"{i % 2}," + ",".join(str(i + j) for j in range(20)) + "\n" for i in range(30)))
    return table(tmp, train_files=str(path)), ["no column 'label' (data.target_column)", "every column holds numbers: set "
                                               "data.target_column to the label's column"]


@case("table file")
def wide_csv_with_the_row_index_pandas_writes(tmp):  # to_csv without index=False: an unnamed first column
    head = ",label," + ",".join(f"t{j}" for j in range(20)) + "\n"
    path = file(tmp, "train.csv", head + "".join(f"{i},{'xy'[i % 2]}," + ",".join(str(i + j) for j in range(20)) + "\n" for i in range(30)))
    return table(tmp, train_files=str(path)), ["read as a wide table", "its column 'Unnamed: 0' is a row index",
                                               "write the file without it"]


@case("table file")
def wide_csv_with_an_id_column(tmp):  # Kaggle's copies of the archives: `id,label,t0,...`; it was read as step 0
    head = "series_id,label," + ",".join(f"t{j}" for j in range(20)) + "\n"
    path = file(tmp, "train.csv", head + "".join(f"{i + 100},{'xy'[i % 2]}," + ",".join(str(i * j % 7) for j in range(20)) + "\n"
                                              for i in range(30)))
    return table(tmp, train_files=str(path)), ["read as a wide table", "its column 'series_id' is named as a row identifier",
                                               "write the file without it"]


@case("table file")
def wide_csv_with_an_empty_cell_between_values(tmp):
    head = "label," + ",".join(f"t{j}" for j in range(20)) + "\n"
    rows = [f"{'xy'[i % 2]}," + ",".join("" if (i, j) == (4, 3) else str(i + j) for j in range(20)) for i in range(30)]
    path = file(tmp, "train.csv", head + "\n".join(rows) + "\n")
    return table(tmp, train_files=str(path)), [f"{path}, row 5, column 't3': empty, between the row's values", "fill or drop it"]


@case("table file")
def non_finite_per_step_regression_target(tmp):
    rows = [{"x": [1.0, 2.0], "y": [0.5, 1.5]}] * 4 + [{"x": [1.0, 2.0], "y": [0.5, float("-inf")]}]
    path = write_parquet(tmp / "train.parquet", rows)
    dm = table(tmp, task="regression", per_step=True, train_files=str(path), sequence_column="x", target_column="y")
    return dm, [f"{path}, row 5, column 'y': -inf is not a finite number (step 2)"]


# -- text files (language modelling) -----------------------------------------------------------


@case("text file")
def empty_text_file(tmp):
    path = file(tmp, "corpus.txt", "")
    return text(tmp, train_files=str(path)), [f"{path}: an empty file (0 bytes)"]


@case("text file")
def whitespace_only_text_file(tmp):
    path = file(tmp, "corpus.txt", "   \n\n\t\n")
    return text(tmp, train_files=str(path)), [f"{path}: a file holding only whitespace"]


@case("text file")
def long_whitespace_only_text_file(tmp):
    path = file(tmp, "corpus.txt", " \n" * 5000)
    return text(tmp, train_files=str(path)), [f"{path}: column 'text' holds only whitespace or empty values (5000 rows)"]


@case("text file")
def latin1_line_in_a_text_file(tmp):
    path = file(tmp, "corpus.txt", "hello world\n".encode() * 40 + "déjà vu\n".encode("latin-1") + b"more\n")
    return text(tmp, train_files=str(path)), [f"{path}: cannot be read as text: line 41 is not valid UTF-8 (byte 0xe9 at character 2)"]


@case("text file")
def utf16_text_file(tmp):
    path = file(tmp, "corpus.txt", ("hello world\n" * 40).encode("utf-16"))
    return text(tmp, train_files=str(path)), [f"{path}: text encoded as UTF-16"]


@case("text file")
def lfs_pointer_text_file(tmp):
    path = file(tmp, "corpus.txt", LFS)
    return text(tmp, train_files=str(path)), [f"{path}: a git-LFS pointer file"]


@case("text file")
def pickle_as_text_file(tmp):
    import pickle

    path = file(tmp, "corpus.txt", pickle.dumps(["hello world"] * 40, protocol=4))
    return text(tmp, train_files=str(path)), [f"{path}: not text but a Python pickle"]


@case("forecast file")
def binary_series_file(tmp):  # no format this knows: named by its NUL bytes
    path = file(tmp, "series.csv", bytes(range(256)) * 8)
    return forecast(tmp, train_files=str(path)), [f"{path}: not text but binary: it holds NUL bytes"]


@case("text file")
def html_page_as_text_file(tmp):
    path = file(tmp, "corpus.txt", HTML)
    return text(tmp, train_files=str(path)), [f"{path}: an HTML page"]


@case("text file")
def text_column_holding_lists(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"text": [1, 2]}] * 10)
    return text(tmp, train_files=str(path)), [f"{path}: column 'text' (data.text_column) holds lists, not text"]


@case("text file")
def missing_text_column(tmp):
    path = write_csv(tmp / "train.csv", [{"body": "hello"}] * 10)
    return text(tmp, train_files=str(path)), [f"{path}: no column 'text' (data.text_column); its columns are: body"]


@case("text file")
def text_too_short_for_a_window(tmp):
    path = file(tmp, "tiny.txt", "a few words\n" * 30)
    dm = TextDataModule(train_files=str(path), seq_len=64, cache_dir=str(tmp / "hf_cache"))
    return dm, ["the val split has", "tiny.txt", "one window of data.seq_len=64 and its next token needs", "lower data.seq_len,"]


@case("text file")
def a_vocabulary_of_unknown_words_only(tmp):
    path = file(tmp, "corpus.txt", "the cat sat on the mat\n" * 50)
    return text(tmp, train_files=str(path), tokenizer="word", min_frequency=100000), [
        f"{path}: the word vocabulary fitted on the training split holds no token but <pad> and <unk>",
        "data.min_frequency=100000", "the most frequent training token is seen", "lower data.min_frequency",
    ]


@case("text file")
def missing_text_file(tmp):
    return text(tmp, train_files=str(tmp / "corpus.txt"), test_files=str(tmp / "held_out_*.txt")), ["data.train_files: no such file", "corpus.txt"]


@case("text file")
def a_corpus_of_one_long_line(tmp):
    # as text8: one line of 100 MB; no val / test fraction can leave a line for train and the carved splits
    path = file(tmp, "corpus.txt", "the cat sat on the mat " * 2000)
    return text(tmp, train_files=str(path), val_fraction=0.4, test_fraction=0.4), [
        f"the val split is empty: {path} holds 1 line, and each split is cut from whole lines", "give data.val_files",
        "break the text into lines"
    ]


@case("text file")
def a_text_test_file_named_twice(tmp):
    path = file(tmp, "corpus.txt", "the cat sat on the mat\n" * 40)
    held_out = file(tmp, "held_out.txt", "the dog sat on the mat\n" * 10)
    return text(tmp, train_files=str(path), test_files=[str(held_out), str(held_out)]), [
        f"data.test_files: '{held_out}' is named twice (by '{held_out}' twice)", "rows would be read twice"
    ]


@case("table file")
def constant_regression_target(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [i, i + 1.0], "label": 5.0} for i in range(30)])
    return table(tmp, train_files=str(path), task="regression"), [
        f"{path}, column 'label': every training row has the target 5; regression needs a target that varies"
    ]


@case("table file")
def every_row_the_same_numbers(tmp):
    # The labels vary, the sequences do not (a constant column taken for the sequences): nothing to learn from.
    path = write_csv(tmp / "train.csv", [{"sequence": "0.5 1 1.5", "label": "xy"[i % 2]} for i in range(30)])
    return table(tmp, train_files=str(path)), [f"{path}, column 'sequence': every one of the",
                                               "training rows holds the same sequence (3 steps: 0.5 1 1.5)",
                                               "data.sequence_column"]


@case("table file")
def every_row_the_same_text(tmp):
    path = write_csv(tmp / "train.csv", [{"sequence": "the same review", "label": "xy"[i % 2]} for i in range(30)])
    return table(tmp, train_files=str(path), task="classification"), ["column 'sequence': every one of the",
                                                                        "holds the same sequence (15 steps"]


@case("table file")
def every_row_the_same_vectors_for_regression(tmp):
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [[1.0, 2.0], [3.0, 4.0]], "label": i / 3} for i in range(30)])
    return table(tmp, train_files=str(path), task="regression"), ["holds the same sequence (2 steps: 1 2 3 4)"]


@case("table file")
def a_class_per_row_leaves_no_validation_row(tmp):
    # Real values read as classes: every drawn validation row was the only row of its class.
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [i, i + 1.0], "label": i / 7} for i in range(30)])
    return table(tmp, train_files=str(path), val_fraction=0.2, test_fraction=0.2), [
        "the val split is empty: each of its 6 drawn rows was the only row of its class", "30 classes in 30 rows",
        "data.task=regression",
    ]


@case("table file")
def a_label_written_with_and_without_a_leading_space(tmp):
    # A CSV written with ", " between fields: ' x' and 'x' would train as two classes.
    path = write_csv(tmp / "train.csv", [{**r, "label": f" {r['label']}" if i == 7 else r["label"]} for i, r in enumerate(numbers())])
    return table(tmp, train_files=str(path)), [
        f"{path}, column 'label': labels that differ only in surrounding spaces", f"' y' (first: {path}, row 8)",
        f"'y' (first: {path}, row ", "one class written two ways",
    ]


@case("table file")
def json_labels_mixing_strings_and_numbers(tmp):
    # datasets read the column as JSON text: "01", "1.0" and 1 became one class '1', "true" the class 'True'.
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": [i, 1.5], "label": ["a", "01", "1.0", 1, "true"][i % 5]} for i in range(30)])
    return table(tmp, train_files=str(path)), [
        f"{path}, column 'label': labels of mixed types, a string at line 1 ('a') and a number 1 at line 4",
        "write every label as a string",
    ]


@case("table file")
def json_tags_mixing_strings_and_numbers(tmp):
    # Per-step labels too: the number 1 and the strings "01" and "1.0" were one class '1'.
    path = write_jsonl(tmp / "train.jsonl", [{"sequence": ["a", "b", "c"], "label": ["x", "01", 1] if i == 3 else ["x", "y", "1.0"]}
                                             for i in range(30)])
    return table(tmp, task="tagging", train_files=str(path)), [
        f"{path}, column 'label': labels of mixed types, a string at line 1 ('x') and a number 1 at line 4",
    ]


@case("table file")
def an_empty_text_after_blank_lines_of_a_jsonl_file(tmp):
    # The reader skips blank lines: before, the error named line 11 for the record on line 14.
    records = [json.dumps(r) for r in with_row(labelled(30, lambda i: f"text {i}"), 10, sequence="")]
    path = file(tmp, "train.jsonl", "\n".join(records[:3]) + "\n\n\n\n" + "\n".join(records[3:]) + "\n")
    assert path.read_text().splitlines()[13] == records[10]  # the truth: line 14 of the file
    return table(tmp, train_files=str(path)), [f"{path}, line 14, column 'sequence': an empty sequence (empty text)"]


@case("table file")
def a_label_per_word_of_text_read_as_characters(tmp):
    # sequence_kind=auto reads "the cat sat" as text (characters): the error says how to tag its words.
    path = write_csv(tmp / "train.csv", [{"sequence": f"the cat{i % 3} sat", "label": "O B O"} for i in range(30)])
    return table(tmp, task="tagging", train_files=str(path)), [
        f"{path}, row 1, column 'label': 3 per-step targets for 12 steps of column 'sequence' (after tokenization); its "
        "text has 3 words: to tag each word, set data.sequence_kind=tokens",
    ]


@case("table file")
def a_token_vocabulary_of_unknown_tokens_only(tmp):
    path = write_jsonl(tmp / "train.jsonl", labelled(30, lambda i: ["w", str(i)]))
    return table(tmp, train_files=str(path), min_frequency=50), [
        f"{path}: the word vocabulary fitted on the training split holds no token but <pad> and <unk>", "data.min_frequency=50",
    ]


@case("table file")
def numbers_written_as_strings_in_json_lists(tmp):
    path = write_jsonl(tmp / "train.jsonl", labelled(30, lambda i: [f"{-i / 7:.3f}", "0.5", "1e-3"]))
    return table(tmp, train_files=str(path)), [
        f"{path}, line 1, column 'sequence': ['0.000', '0.5', '1e-3']: every token of every row is a number written as a string",
        "write the numbers as numbers, not strings", "data.sequence_kind=tokens",
    ]


@case("table file")
def numbers_written_as_strings_in_csv_lists_of_a_test_file(tmp):  # pandas' to_csv of lists of strings: ['0.5', '1']
    train = write_csv(tmp / "train.csv", labelled(30, lambda i: str([str(i), "0.5"])))
    test = write_csv(tmp / "test.csv", labelled(10, lambda i: str([str(i), "2.5"])))
    return table(tmp, train_files=str(train), test_files=str(test)), [
        f"{train}, row 1, column 'sequence': ['0', '0.5']: every token of every row is a number written as a string",
    ]


@case("table file")
def a_csv_separated_by_semicolons(tmp):
    path = file(tmp, "train.csv", "sequence;label\n" + "".join(f"{i} {i + 1};{'xy'[i % 2]}\n" for i in range(20)))
    return table(tmp, train_files=str(path)), [f"{path}: no column 'sequence'", "the file seems separated by ';'"]


@case("table file")
def numbers_separated_by_pipes(tmp):
    path = file(tmp, "train.csv", CSV_HEAD + "".join(f"{i}|{i + 1.5}|-{i},{'xy'[i % 2]}\n" for i in range(20)))
    return table(tmp, train_files=str(path)), [
        f"{path}, row 1, column 'sequence': '0|1.5|-0': every row holds numbers separated by '|'", "data.sequence_kind=text",
    ]



@case("table file")
def numbers_separated_by_pipes_after_a_file_of_blank_cells(tmp):
    # The first file's cells are all blank: the row named is the second file's, not an index error.
    blank = file(tmp, "a.jsonl", "".join(f'{{"sequence": "", "label": "{"xy"[i % 2]}"}}\n' for i in range(4)))
    pipes = file(tmp, "b.jsonl", "".join(f'{{"sequence": "{i}|{i + 1}", "label": "{"xy"[i % 2]}"}}\n' for i in range(20)))
    return table(tmp, train_files=[str(blank), str(pipes)]), [
        f"{pipes}, line 1, column 'sequence': '0|1': every row holds numbers separated by '|'",
    ]


# -- forecast files ----------------------------------------------------------------------------


@case("forecast file")
def stray_text_in_a_numeric_series_column(tmp):
    path = write_csv(tmp / "series.csv", with_row(series_rows(100), 3, load="abc"))
    return forecast(tmp, train_files=str(path)), [f"{path}, row 4, column 'load': 'abc' is not a number", "99 of the column's 100 rows are numbers", "data.columns"]


@case("forecast file")
def decimal_comma_in_a_chosen_column(tmp):
    path = write_csv(tmp / "series.csv", with_row(series_rows(100), 41, load="12,5"))
    return forecast(tmp, train_files=str(path), columns=["load"]), [f"{path}, row 42, column 'load': '12,5' is not a number"]


@case("forecast file")
def missing_value_in_a_series(tmp):
    path = write_jsonl(tmp / "series.jsonl", with_row(series_rows(100), 7, temp=None))
    return forecast(tmp, train_files=str(path), columns=["load", "temp"]), [f"{path}, line 8, column 'temp': an empty or missing value"]


@case("forecast file")
def inf_in_a_series(tmp):
    path = file(tmp, "series.csv", "load\n" + "".join(f"{i}.5\n" for i in range(60)) + "inf\n" + "1.0\n" * 40)
    return forecast(tmp, train_files=str(path)), [f"{path}, row 61, column 'load': inf is not a finite number"]


@case("forecast file")
def a_value_beyond_float32_in_a_series(tmp):  # row 86 is a test step: every split is checked
    path = write_csv(tmp / "series.csv", with_row(series_rows(100), 85, temp=1e300))
    return forecast(tmp, train_files=str(path), columns=["load", "temp"]), [f"{path}, row 86, column 'temp': 1e+300 {TOO_LARGE}"]


@case("forecast file")
def missing_series_column(tmp):
    path = write_csv(tmp / "series.csv", series_rows(100))
    return forecast(tmp, train_files=str(path), columns=["power"]), [f"{path}: no column 'power' (data.columns); its columns are: month, load, temp"]


@case("forecast file")
def missing_column_in_the_second_series(tmp):
    a = write_csv(tmp / "a.csv", series_rows(100))
    b = write_csv(tmp / "b.csv", [{"month": r["month"], "load": r["load"]} for r in series_rows(100)])
    return forecast(tmp, train_files=[str(a), str(b)]), [f"{b}: no column 'temp' (data.columns)"]


@case("forecast file")
def no_numeric_column(tmp):
    path = write_csv(tmp / "series.csv", [{"month": f"m{i}", "note": "n"} for i in range(50)])
    return forecast(tmp, train_files=str(path)), [f"{path}: no numeric column (columns: month (the time), note); set data.columns"]


@case("forecast file")
def a_horizon_longer_than_the_val_split(tmp):
    # 10 val steps: no window (data.window=5) can help a 15-step horizon; lowering the window was the advice
    path = write_csv(tmp / "series.csv", series_rows(100))
    return forecast(tmp, train_files=str(path), columns=["load"], horizon=15), [
        "the val split (steps 70..79 of 100) is too short for one window (data.window=5, data.horizon=15)",
        "lower data.horizon (the horizon alone is longer than the split's 10 steps)"
    ]


@case("forecast file")
def series_too_short_for_a_window(tmp):
    path = write_csv(tmp / "series.csv", series_rows(100))
    return forecast(tmp, train_files=str(path), columns=["load"], horizon=11), ["the val split (steps 70..79 of 100) is too short for one window", "data.horizon=11"]


@case("forecast file")
def several_series_each_too_short(tmp):
    # Joined, the 24 steps would give windows that run from one file into the next.
    paths = [str(write_csv(tmp / f"s{i}.csv", series_rows(8, seed=i))) for i in range(3)]
    return forecast(tmp, train_files=paths, columns=["load"]), ["the train split (5, 5, 5 steps in each of the 3 series, one per file) is too short"]


@case("forecast file")
def empty_series_file(tmp):
    a = write_csv(tmp / "a.csv", series_rows(100))
    b = file(tmp, "b.csv", "")
    return forecast(tmp, train_files=[str(a), str(b)]), [f"{b}: an empty file (0 bytes)"]


@case("forecast file")
def rows_out_of_time_order(tmp):
    rows = [{**r, "month": f"2020-{1 + i // 28:02d}-{1 + i % 28:02d}"} for i, r in enumerate(series_rows(100))]
    rows[40], rows[41] = rows[41], rows[40]
    path = write_csv(tmp / "series.csv", rows)
    return forecast(tmp, train_files=str(path), columns=["load"]), [
        f"{path}, row 42, column 'month': 2020-02-13 comes before the row above (2020-02-14)", "sort the file by 'month'",
    ]


def _long_format(tmp: Path, interleaved: bool) -> tuple[Any, list[str]]:
    days = [f"2020-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(40)]
    pairs = [(s, d) for d in range(40) for s in range(3)] if interleaved else [(s, d) for s in range(3) for d in range(40)]
    path = write_csv(tmp / "sales.csv", [{"store": f"s{s}", "date": days[d], "sales": 10 + s + (d * 7 % 5) / 3} for s, d in pairs])
    row, before, now = (2, days[0], days[0]) if interleaved else (41, days[39], days[0])
    how = "repeats the time of" if interleaved else "comes before"
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        f"{path}, row {row}, column 'date': {now} {how} the row above ({before})",
        "the file seems to hold several series, one for each value of 'store' (it changes at this row: 's0' -> 's1'); put "
        "each series in a file of its own and give them all as data.train_files",
    ]


@case("forecast file")
def several_series_stacked_in_one_file(tmp):  # before: "sort the file by 'date'", which would interleave them
    return _long_format(tmp, interleaved=False)


@case("forecast file")
def several_series_interleaved_in_one_file(tmp):
    return _long_format(tmp, interleaved=True)


def _panel(tmp: Path, interleaved: bool) -> tuple[Any, list[str]]:
    """statsmodels' Grunfeld layout: a firm's name, its value, the year as a number (1935-1954 for each firm)."""
    pairs = [(f, y) for y in range(20) for f in range(11)] if interleaved else [(f, y) for f in range(11) for y in range(20)]
    path = write_csv(tmp / "grunfeld.csv", [{"invest": 100 + 10 * f + (y * 7 % 5), "firm": f"firm {f}", "year": 1935 + y}
                                             for f, y in pairs])
    row, now, before = (2, 1935, 1935) if interleaved else (21, 1935, 1954)
    return forecast(tmp, train_files=str(path), columns=["invest"]), [
        f"{path}, row {row}, column 'year': {now} {'repeats the time of' if interleaved else 'comes before'} the row above "
        f"({before})", "one for each value of 'firm' (it changes at this row: 'firm 0' -> 'firm 1')",
    ]


@case("forecast file")
def several_series_stacked_with_years_as_numbers(tmp):  # before: the 11 firms trained as one series of 220 years
    return _panel(tmp, interleaved=False)


@case("forecast file")
def several_series_interleaved_with_years_as_numbers(tmp):
    return _panel(tmp, interleaved=True)


@case("forecast file")
def a_semicolon_separated_forecast_file_with_every_numeric_column(tmp):  # before: "no numeric column; set data.columns"
    path = file(tmp, "series.csv", "date;load\n" + "".join(f"2020-01-{d + 1:02d};{d % 7}.5\n" for d in range(28)))
    return forecast(tmp, train_files=str(path)), [
        f"{path}: no numeric column (columns: date;load)", "the file seems separated by ';'",
    ]


@case("forecast file")
def a_semicolon_separated_forecast_file_with_decimal_commas(tmp):  # before: trained on the digits after each comma
    days = [f"{2020 + d // 365}-{1 + d % 365 // 31:02d}-{1 + d % 31:02d}" for d in range(0, 400, 2)]  # in time order
    path = file(tmp, "series.csv", "date;load\n" + "".join(f"{day};{10 + i % 7},{i % 10}5\n" for i, day in enumerate(days)))
    return forecast(tmp, train_files=str(path)), [
        f"{path}: its rows have 1 more field than its header ('date;load')", "the file seems separated by ';'",
        "decimal='.'",
    ]


@case("table file")
def a_semicolon_separated_table_with_decimal_comma_targets(tmp):
    path = file(tmp, "train.csv", "sequence;target\n" + "".join(f"{i} {i + 1};{i},5\n" for i in range(20)))
    return table(tmp, train_files=str(path), task="regression", target_column="target"), [
        f"{path}: its rows have 1 more field than its header ('sequence;target')", "the file seems separated by ';'",
    ]


@case("table file")
def rows_with_an_id_field_the_header_does_not_name(tmp):  # pandas would read the ids as an index, unsaid
    path = file(tmp, "train.csv", "sequence,label\n" + "".join(f"id{i},{i} {i + 1},{'xy'[i % 2]}\n" for i in range(20)))
    return table(tmp, train_files=str(path)), [
        f"{path}: its rows have 1 more field than its header ('sequence', 'label')", "give every field a name in the header",
    ]


def _monthly(tmp: Path, name: str, cell: Callable[[int, float], Any]) -> Path:
    return write_csv(tmp / name, [{"date": f"{1980 + i // 12}-{1 + i % 12:02d}-01", "sales": cell(i, 15000 + 137.0 * (i * 7 % 11))}
                                  for i in range(48)])


@case("forecast file")
def empty_cells_inside_a_series(tmp):  # before: only the first, with no count and no fix
    path = _monthly(tmp, "series.csv", lambda i, v: "" if i in (30, 31) else v)
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        f"{path}, row 31, column 'sales': an empty or missing value; 2 of the column's 48 rows are empty (rows 31, 32)",
        "fill them (e.g. pandas' interpolate())",
    ]


@case("forecast file")
def a_blank_line_inside_a_one_column_series(tmp):  # pandas skips it: the steps after it moved one step earlier, unsaid
    values = "".join(f"{15000 + 137.0 * (i * 7 % 11):g}\n" + ("\n" if i == 29 else "") for i in range(48))
    path = file(tmp, "series.csv", "sales\n" + values)
    return forecast(tmp, train_files=str(path)), [
        f"{path}: line 32 is blank, between rows 30 and 31", "in a file of one column a blank line is an empty value",
        "fill in the missing step (e.g. pandas' interpolate())",
    ]


@case("forecast file")
def blank_lines_between_rows_of_a_series(tmp):
    lines = _monthly(tmp, "series.csv", lambda i, v: v).read_text().splitlines(keepends=True)
    # An empty line, then one of spaces and one of a tab (pandas skips those too).
    path = file(tmp, "series.csv", "".join(lines[:11] + ["\n"] + lines[11:31] + ["  \n", "\t\n"] + lines[31:]))
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        f"{path}: line 12 is blank, between rows 10 and 11 (2 more blank lines between rows: lines 33, 34)",
        "delete the line if no step is missing there",
    ]


@case("forecast file")
def a_blank_line_inside_a_series_read_as_csv_by_data_file_format(tmp):  # the separator the loader read it with
    values = "".join(f"{15000 + 137.0 * (i * 7 % 11):g}\n" + ("\n" if i == 9 else "") for i in range(48))
    path = file(tmp, "series.dat", "sales\n" + values)
    return forecast(tmp, train_files=str(path), file_format="csv"), [f"{path}: line 12 is blank, between rows 10 and 11"]


@case("forecast file")
def an_empty_last_row(tmp):  # pmdarima's ausbeer ends in a quarter with no value
    path = _monthly(tmp, "series.csv", lambda i, v: "" if i == 47 else v)
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        "1 of the column's 48 rows are empty (rows 48)", "these are the file's last rows: delete them",
    ]


@case("forecast file")
def empty_first_rows_of_a_differenced_column(tmp):
    path = _monthly(tmp, "series.csv", lambda i, v: "" if i < 1 else v)
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        "1 of the column's 48 rows are empty (rows 1)", "these are the file's first rows (as a difference or a percent change",
    ]


@case("forecast file")
def numbers_with_a_thousands_separator(tmp):
    path = _monthly(tmp, "series.csv", lambda i, v: f"{v:,.0f}")
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        f"{path}, row 1, column 'sales': '15,000' is not a number; 48 of the column's 48 cells hold a thousands separator",
    ]


@case("forecast file")
def only_numbers_with_a_thousands_separator_and_every_numeric_column(tmp):  # before: "no numeric column", no why
    path = _monthly(tmp, "series.csv", lambda i, v: f"{v:,.0f}")
    return forecast(tmp, train_files=str(path)), [
        f"{path}: no numeric column (columns: date (the time), sales (text; 48 of the column's 48 cells hold a thousands "
        "separator (or a decimal comma)",
    ]


@case("forecast file")
def numbers_with_a_percent_sign(tmp):
    path = _monthly(tmp, "series.csv", lambda i, v: f"{v / 1000:.1f}%")
    return forecast(tmp, train_files=str(path), columns=["sales"]), [
        "48 of the column's 48 cells hold a percent sign", "write 12.5 for 12.5%",
    ]


@case("forecast file")
def a_time_stamp_given_twice(tmp):
    rows = [{**r, "day": f"2021-01-01 {i // 60:02d}:{i % 60:02d}"} for i, r in enumerate(series_rows(100))]
    rows[70]["day"] = rows[69]["day"]
    path = write_jsonl(tmp / "series.jsonl", rows)
    return forecast(tmp, train_files=str(path), columns=["load"]), [f"{path}, line 71, column 'day'", "repeats the time of the row above"]


@case("forecast file")
def a_date_column_with_a_typo(tmp):
    rows = [{**r, "date": f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00"} for i, r in enumerate(series_rows(200))]
    rows[150]["date"] = "2020-01-07 6pm"
    path = write_csv(tmp / "series.csv", rows)
    return forecast(tmp, train_files=str(path), columns=["load"]), [
        f"{path}, row 151, column 'date': '2020-01-07 6pm' is not a date or time written like the column's others",
        "data.time_column=null",
    ]


@case("forecast file")
def a_date_in_another_format_among_the_first_rows(tmp):  # before: no time column found, the rows taken as they came
    rows = [{**r, "date": f"{2000 + i // 12}-{1 + i % 12:02d}-01"} for i, r in enumerate(series_rows(120))]
    rows[60]["date"] = "03/01/2005"
    path = write_csv(tmp / "series.csv", rows)
    return forecast(tmp, train_files=str(path), columns=["load"]), [
        f"{path}, row 61, column 'date': '03/01/2005' is not a date or time written like the column's others "
        "('2000-01-01' in its first row; 1 row like this)"
    ]


@case("forecast file")
def a_named_time_column_that_is_not_time(tmp):
    path = write_csv(tmp / "series.csv", series_rows(100))
    return forecast(tmp, train_files=str(path), columns=["load"], time_column="month"), [
        f"{path}, column 'month' (data.time_column): not a time axis"
    ]


@case("forecast file")
def a_constant_target_series(tmp):
    path = write_csv(tmp / "series.csv", [{**r, "load": 3.0} for r in series_rows(100)])
    return forecast(tmp, train_files=str(path), columns=["temp"], target_columns=["load"]), [
        "column(s) 'load': the same value (3) at every one of the 70 training steps; nothing to forecast"
    ]


DATA_CASES = [(kind, name) for kind, cases in CASES.items() for name in cases]


@pytest.mark.parametrize(("kind", "name"), DATA_CASES, ids=[name for _, name in DATA_CASES])
def test_bad_data_is_refused_at_setup_naming_the_place(tmp_path: Path, kind: str, name: str) -> None:
    datamodule, words = CASES[kind][name](tmp_path)
    with pytest.raises(DataError) as error:
        datamodule.setup()
    message = str(error.value)
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    with pytest.raises(RuntimeError, match="only after setup"):
        datamodule.facts  # nothing was built: no model can be sized, nothing trained


# -- checkpoint files --------------------------------------------------------------------------


def lightning_checkpoint(seqtrain: Any = None) -> dict[str, Any]:
    checkpoint: dict[str, Any] = {"state_dict": {"model.w": torch.zeros(2)}, "epoch": 0, "global_step": 1, "pytorch-lightning_version": "2.6.6"}
    if seqtrain is not None:
        checkpoint["seqtrain"] = seqtrain
    return checkpoint


def saved(tmp: Path, value: Any) -> Path:
    path = tmp / "model.ckpt"
    torch.save(value, path)
    return path


CHECKPOINTS: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "text_file_renamed": lambda tmp: (file(tmp, "model.ckpt", "epoch,loss\n1,0.5\n"), "a text file (it starts 'epoch,loss')"),
    "html_page": lambda tmp: (file(tmp, "model.ckpt", HTML), "an HTML page"),
    "lfs_pointer": lambda tmp: (file(tmp, "model.ckpt", LFS), "a git-LFS pointer file, not the file itself (fetch it with `git lfs pull`)"),
    "empty_file": lambda tmp: (file(tmp, "model.ckpt", b""), "an empty file (0 bytes)"),
    "whitespace_file": lambda tmp: (file(tmp, "model.ckpt", "\n\n"), "a file holding only whitespace"),
    "binary_junk": lambda tmp: (file(tmp, "model.ckpt", bytes(range(7, 200))), "not a PyTorch file (it starts with the bytes 07 08 09"),
    "truncated_zip": lambda tmp: (file(tmp, "model.ckpt", saved(tmp, lightning_checkpoint()).read_bytes()[:300]), "a truncated or corrupt zip archive (300 bytes"),
    "plain_state_dict": lambda tmp: (saved(tmp, {"weight": torch.zeros(3), "bias": torch.zeros(1)}), "a plain state_dict (torch.save(model.state_dict())?)"),
    "a_tensor": lambda tmp: (saved(tmp, torch.zeros(3)), "a Tensor saved with torch.save"),
    "a_list": lambda tmp: (saved(tmp, [1, 2]), "a list saved with torch.save"),
    "dict_of_other_things": lambda tmp: (saved(tmp, {"model": 1, "optimizer": 2}), "a dict with keys ['model', 'optimizer']"),
    "lightning_without_metadata": lambda tmp: (saved(tmp, lightning_checkpoint()), "a Lightning checkpoint without seqtrain's run metadata"),
    "python_api_empty_metadata": lambda tmp: (saved(tmp, lightning_checkpoint({})), "no config / facts under 'seqtrain'"),
    "metadata_without_facts": lambda tmp: (saved(tmp, lightning_checkpoint({"config": {"data": {}, "model": {}}})), "no facts under 'seqtrain'"),
    "config_without_model": lambda tmp: (saved(tmp, lightning_checkpoint({"config": {"data": {}}, "facts": {}})), "its seqtrain config has no model section"),
}


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_a_file_that_is_not_a_seqtrain_checkpoint_is_named(tmp_path: Path, name: str) -> None:
    path, what = CHECKPOINTS[name](tmp_path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path}: not a seqtrain checkpoint: "), message
    assert what in message, message
    assert "expected a .ckpt file written by train.py" in message
    assert path.read_bytes() == before  # nothing saved is lost or changed


def test_a_checkpoint_without_its_data_state_cannot_rebuild(tmp_path: Path) -> None:
    config = {"data": {"_target_": "seqtrain.data.ParityDataModule", "seq_len": 4}, "model": {"_target_": "seqtrain.models.SequenceModel"}}
    facts = {"task": "classification", "per_step": False, "num_outputs": 2, "num_features": 1}
    path = saved(tmp_path, lightning_checkpoint({"config": config, "facts": facts}))
    with pytest.raises(CheckpointError, match="holds no ParityDataModule state"):
        rebuild(load_checkpoint(path))


# -- suspicious but legal: a warning that says so ----------------------------------------------


def warnings_of(caplog: pytest.LogCaptureFixture, datamodule: Any) -> str:
    with caplog.at_level(logging.WARNING, logger="seqtrain"):
        datamodule.setup()
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_blank_lines_before_the_first_row_or_after_the_last_leave_the_series_as_it_is(tmp_path: Path) -> None:
    plain = _monthly(tmp_path, "plain.csv", lambda i, v: v)
    head, *rows = plain.read_text().splitlines(keepends=True)
    padded = file(tmp_path, "padded.csv", head + "\n" + "".join(rows) + "\n\n")
    series = [forecast(tmp_path, train_files=str(path), columns=["sales"]).load_series()[0] for path in (plain, padded)]
    assert len(series[1]) == 1 and np.array_equal(series[0][0], series[1][0]) and len(series[1][0]) == 48


def test_a_series_too_short_for_a_window_among_longer_ones_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long = write_csv(tmp_path / "long.csv", series_rows(100))
    short = write_csv(tmp_path / "short.csv", series_rows(8, seed=5))  # 5 training steps: no window of 5 + 1
    datamodule = forecast(tmp_path, train_files=[str(long), str(short)], columns=["load"])
    said = warnings_of(caplog, datamodule)
    assert f"1 of 2 series add no train window ({short}: 5 train steps)" in said, said
    assert str(long) not in said
    # the warning is the truth: every training window comes from the long series (70 training steps)
    assert len(datamodule.split("train")) == 70 - 5 - 1 + 1


def test_a_numeric_column_only_a_later_series_file_holds_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`data.columns=null` takes the first file's numeric columns: before, a column only the second file held was left
    out in silence (and the same files named the other way round were refused for the first file's missing column)."""
    first = write_csv(tmp_path / "a.csv", series_rows(100))
    second = write_csv(tmp_path / "b.csv", [{**r, "humidity": i % 7 / 7} for i, r in enumerate(series_rows(100, seed=5))])
    datamodule = forecast(tmp_path, train_files=[str(first), str(second)])
    said = warnings_of(caplog, datamodule)
    assert (f"data.columns=null uses the numeric columns of the first file ({first}: load, temp); numeric columns only "
            f"later files hold are left out: 'humidity' ({second})") in said, said
    assert datamodule.facts.num_features == 2  # the truth the warning tells: load and temp, no humidity
    caplog.clear()
    same = write_csv(tmp_path / "c.csv", series_rows(100, seed=7))
    assert "left out" not in warnings_of(caplog, forecast(tmp_path, train_files=[str(first), str(same)]))


@pytest.mark.parametrize("kind", ["text", "table"])
def test_a_test_file_in_another_script_than_training_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    english = ["the cat sat on the mat", "the dog ran far away", "a good mat", "a bad dog"] * 20
    russian = ["кошка сидела на коврике", "собака убежала далеко"] * 10
    if kind == "text":
        train, held_out = file(tmp_path, "en.txt", "\n".join(english)), file(tmp_path, "ru.txt", "\n".join(russian))
        datamodule = text(tmp_path, train_files=str(train), test_files=str(held_out), tokenizer="char")
    else:
        train = write_jsonl(tmp_path / "en.jsonl", [{"text": t, "label": "ab"[i % 2]} for i, t in enumerate(english)])
        held_out = write_jsonl(tmp_path / "ru.jsonl", [{"text": t, "label": "ab"[i % 2]} for i, t in enumerate(russian)])
        datamodule = table(tmp_path, train_files=str(train), test_files=str(held_out), sequence_column="text")
    said = warnings_of(caplog, datamodule)
    unknown = sum(c not in set("".join(english)) for c in "\n".join(russian) + "\n") / len("\n".join(russian) + "\n")
    assert unknown > 0.5  # the truth the warning reports: most test characters never occur in training
    assert f"of the test split's tokens ({held_out}) are <unk>: characters the training text never holds" in said, said
    assert "val split's tokens" not in said  # carved from the training text: its characters are known


def test_target_column_equal_to_sequence_column_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", tagging_rows())
    dm = table(tmp_path, task="tagging", train_files=str(path), sequence_column="tokens", target_column="tokens")
    assert "sequence_column and target_column are both 'tokens': the model sees its targets in its inputs" in warnings_of(caplog, dm)


def test_a_word_tokenizer_on_running_text_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Chinese reviews have no spaces between words: `data.tokenizer=word` would make each review one 'word'."""
    reviews = ["这个手机很好用电池也耐用", "质量太差了用了两天就坏", "物流很快包装完好", "客服态度不好不推荐"] * 10
    rows = [{"sequence": text + ("好" * (i % 3)), "label": "pos" if i % 2 == 0 else "neg"} for i, text in enumerate(reviews)]
    path = write_csv(tmp_path / "train.csv", rows)
    text = warnings_of(caplog, table(tmp_path, train_files=str(path), tokenizer="word"))
    assert "data.tokenizer=word splits text at whitespace, but only 0.0% of the training characters are whitespace" in text
    caplog.clear()
    english = write_csv(tmp_path / "english.csv", labelled(sequence=lambda i: ["a fine phone", "it broke in two days"][i % 2]))
    assert "splits text at whitespace" not in warnings_of(caplog, table(tmp_path, train_files=str(english), tokenizer="word"))


def test_a_vocabulary_that_leaves_most_training_tokens_out_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = file(tmp_path, "corpus.txt", "".join(f"the w{i} x{i} y{i}\n" for i in range(100)))  # 500 tokens, "the" and "\n" 100 each
    said = warnings_of(caplog, text(tmp_path, train_files=str(path), tokenizer="word", min_frequency=2))
    # Of each line's 5 tokens only "the" and the line break are seen twice: 3 of 5 are <unk>, whatever lines train.
    assert ("data: 60% of the training split's tokens are <unk>: the word vocabulary keeps 2 tokens (data.min_frequency=2, "
            "data.max_vocab_size=None; the most frequent training token is seen") in said
    assert said.endswith("the model reads mostly <unk>: lower data.min_frequency")
    caplog.clear()
    kept = warnings_of(caplog, text(tmp_path, train_files=str(path), tokenizer="word", max_vocab_size=3))
    assert "tokens are <unk>" in kept and "raise data.max_vocab_size" in kept
    caplog.clear()
    assert "<unk>" not in warnings_of(caplog, text(tmp_path, train_files=str(path), tokenizer="word"))


def test_lists_of_strings_with_a_word_among_the_numbers_are_tokens(tmp_path: Path) -> None:
    """The other side of the numbers-as-strings refusal: one token that is not a number (here in the test file) keeps
    the column tokens, and data.sequence_kind=tokens reads an all-number column as tokens as asked."""
    rows = labelled(30, lambda i: [str(i % 4), "0.5"])
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    test = write_jsonl(tmp_path / "test.jsonl", with_row(rows[:10], 3, sequence=["0.5", "n/a"]))
    dm = table(tmp_path, train_files=str(train), test_files=str(test), val_fraction=0)
    dm.setup()
    assert dm.facts.vocab_size == 2 + len({t for r in rows for t in r["sequence"]})  # <pad>, <unk> and the training tokens
    asked = table(tmp_path, train_files=str(train), sequence_kind="tokens", val_fraction=0)
    asked.setup()
    assert asked.facts.vocab_size == dm.facts.vocab_size


def test_test_files_equal_to_train_files_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_csv(tmp_path / "train.csv", labelled())
    dm = table(tmp_path, train_files=str(path), val_files=str(path), test_files=f"{tmp_path}/./train.csv")
    text = warnings_of(caplog, dm)
    assert "data.val_files is data.train_files" in text and "data.test_files is data.train_files" in text


def test_test_rows_that_are_training_rows_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = write_csv(tmp_path / "train.csv", labelled(30, lambda i: f"seq{i}"))
    test = write_csv(tmp_path / "test.csv", [{"sequence": "new1", "label": "x"}, {"sequence": "seq3", "label": "y"}, {"sequence": "new2", "label": "y"}])
    val = write_csv(tmp_path / "val.csv", [{"sequence": "new3", "label": "x"}, {"sequence": "new4", "label": "y"}])
    text = warnings_of(caplog, table(tmp_path, train_files=str(train), val_files=str(val), test_files=str(test)))
    assert f"1 of 3 test rows are also training rows (first: {test}, row 2)" in text
    assert "val rows" not in text and "validation rows" not in text  # val shares nothing


def test_test_rows_that_are_validation_rows_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The best checkpoint is picked on the validation rows: test metrics on the same rows overstate as much as on
    training rows (`data.test_files` equal to `data.val_files`, or a row repeated across them)."""
    train = write_csv(tmp_path / "train.csv", labelled(30, lambda i: f"seq{i}"))
    val = write_csv(tmp_path / "val.csv", [{"sequence": "new3", "label": "x"}, {"sequence": "new4", "label": "y"}])
    text = warnings_of(caplog, table(tmp_path, train_files=str(train), val_files=str(val), test_files=str(val)))
    assert f"2 of 2 test rows are also validation rows (first: {val}, row 1)" in text
    caplog.clear()
    test = write_csv(tmp_path / "test.csv", [{"sequence": "new5", "label": "x"}, {"sequence": "new4", "label": "y"}])
    text = warnings_of(caplog, table(tmp_path, train_files=str(train), val_files=str(val), test_files=str(test)))
    assert f"1 of 2 test rows are also validation rows (first: {test}, row 2)" in text
    caplog.clear()
    other = write_csv(tmp_path / "other.csv", [{"sequence": "new6", "label": "x"}, {"sequence": "new7", "label": "y"}])
    assert "validation rows" not in warnings_of(caplog, table(tmp_path, train_files=str(train), val_files=str(val),
                                                             test_files=str(other)))


def test_text_test_files_equal_to_train_files_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = file(tmp_path, "corpus.txt", "the cat sat on the mat\n" * 50)
    assert "data.test_files is data.train_files" in warnings_of(caplog, text(tmp_path, train_files=str(path), val_files=str(path), test_files=str(path)))


def test_a_label_per_row_warns_of_regression_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_csv(tmp_path / "train.csv", [{"sequence": "ab" * (i % 3 + 1), "label": f"{i * 0.37:.2f}"} for i in range(60)])
    dm = table(tmp_path, train_files=str(path), val_files=str(path), test_files=str(path))
    assert "nearly every row is a class of its own; if the values are quantities, use data.task=regression" in warnings_of(caplog, dm)


@pytest.mark.parametrize(("labels", "warned"), [
    ([18 + (i * 7) % 40 for i in range(120)], True),  # ages 18..57: numbers, but not class ids
    ([f"{(i % 15) * 0.5:.1f}" for i in range(120)], True),  # scores 0.0..7.0 in halves
    ([1 + i % 30 for i in range(120)], False),  # the UCR archive's class ids 1..30
    ([f"{i % 12}.0" for i in range(120)], False),  # ids 0..11 written as floats
    ([f"c{i % 30}" for i in range(120)], False),  # names
    ([3 + i % 8 for i in range(120)], False),  # 8 numbers: few enough to be classes
])
def test_numeric_labels_that_are_not_class_ids_warn_of_regression_data(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                       labels: list, warned: bool) -> None:
    """A numeric target trained as classes (the table's default task): warned, naming its range, unless its values are
    the 0..K-1 or 1..K that number classes, or ten or fewer."""
    path = write_csv(tmp_path / "train.csv", [{"sequence": f"1 {i % 7} 3", "label": label} for i, label in enumerate(labels)])
    text = warnings_of(caplog, table(tmp_path, train_files=str(path), val_files=str(path), test_files=str(path)))
    assert ("holds numbers, not class ids" in text) is warned
    if warned:
        low, high = min(map(float, labels)), max(map(float, labels))
        assert f"{len(set(labels))} distinct values from {low:g} to {high:g} in training" in text
        assert "if they are quantities (an age, a price, a score), use data.task=regression" in text


def test_numbers_column_without_stray_values_is_read_as_numbers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The other side of the stray-value check: a clean numeric column, and a text column with a few number-only rows."""
    path = write_csv(tmp_path / "train.csv", numbers())
    dm = table(tmp_path, train_files=str(path))
    with caplog.at_level(logging.INFO, logger="seqtrain"):
        dm.setup()
    assert dm.facts.num_features == 1
    assert "sequences from column 'sequence' read as numbers (detected from all 30 non-empty rows hold only numbers" in caplog.text
    mostly_text = write_csv(tmp_path / "text.csv", with_row(labelled(30, lambda i: f"word {i}"), 2, sequence="12 13"))
    dm = table(tmp_path, train_files=str(mostly_text))
    dm.setup()
    assert dm.facts.vocab_size is not None  # text: one row of digits does not make it numeric


# -- end to end: python train.py ---------------------------------------------------------------

# ~20 s each (a subprocess importing Lightning): one in the default run, the rest with `-m slow`.
E2E = [
    ("table", "nan_in_row_3_of_a_numeric_column"),
    pytest.param("table", "one_class_only", marks=pytest.mark.slow),
    pytest.param("table", "jsonl_malformed_line", marks=pytest.mark.slow),
    pytest.param("forecast", "stray_text_in_a_numeric_series_column", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("config", "name"), E2E)
def test_train_py_refuses_bad_data_before_training(tmp_path: Path, config: str, name: str) -> None:
    kind = "forecast file" if config == "forecast" else "table file"
    datamodule, words = CASES[kind][name](tmp_path)
    files = datamodule.train_files
    run_dir = tmp_path / "run"
    extra = ["data.window=5"] if config == "forecast" else []
    proc = run_train(f"data={config}", f"data.train_files={files}", f"data.cache_dir={tmp_path / 'hf_cache'}", *extra,
                     "trainer.accelerator=cpu", "logger=none", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]  # the message alone
    for word in words:
        assert word in proc.stderr, proc.stderr[-3000:]
    assert "train.py: error: " in proc.stderr
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "metrics.json").exists()  # nothing trained


def test_corpus_size() -> None:
    """The README's promises table counts these; keep it honest."""
    counts = {kind: len(cases) for kind, cases in CASES.items()}
    counts["checkpoint file"] = len(CHECKPOINTS) + 1
    print(re.sub(r"[{}']", "", str(counts)))
    assert sum(counts.values()) >= 50


def test_labels_differing_only_in_case_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_csv(tmp_path / "train.csv", [{**r, "label": "Y" if i == 9 else r["label"]} for i, r in enumerate(numbers())])
    text = warnings_of(caplog, table(tmp_path, train_files=str(path)))
    assert "column 'label': labels that differ only in upper / lower case: " in text
    assert f"'Y' (first: {path}, row 10)" in text and f"'y' (first: {path}, row " in text


def test_numeric_labels_written_two_ways_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A CSV label column of numbers is read as numbers: `1`, `1.0` and `01` are one class, said with where each spelling
    first appears (in another file too); a column of text keeps `1` and `1.0` apart, and says nothing."""
    rows = [{"sequence": f"{i} {i % 3}.5", "label": ["1", "1.0", "2"][i % 3]} for i in range(30)]
    train = write_csv(tmp_path / "train.csv", rows)
    test = write_csv(tmp_path / "test.csv", [{"sequence": "1 2", "label": "01"}, {"sequence": "3 4", "label": "2"}])
    dm = table(tmp_path, train_files=str(train), test_files=str(test), val_fraction=0)
    said = warnings_of(caplog, dm)
    assert dm.facts.class_names == ("1", "2")  # the truth the warning tells: three spellings, one class
    assert (f"column 'label' is read as numbers, so labels written differently that are one value are one class: '1' "
            f"({train}, row 1) and '1.0' ({train}, row 2) and '01' ({test}, row 1) are class '1'") in said, said
    assert "'2' (" not in said
    caplog.clear()
    text = write_csv(tmp_path / "text.csv", [{**r, "label": "a" if i % 3 == 2 else r["label"]} for i, r in enumerate(rows)])
    dm = table(tmp_path, train_files=str(text), val_fraction=0, test_fraction=0.2)
    assert "read as numbers" not in warnings_of(caplog, dm)
    assert dm.facts.class_names == ("1", "1.0", "a")


def test_each_split_says_where_it_comes_from(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A fraction that a given file overrides is said to be unused, not dropped in silence."""
    train, val = write_csv(tmp_path / "train.csv", numbers()), write_csv(tmp_path / "val.csv", numbers(10))
    with caplog.at_level(logging.INFO, logger="seqtrain"):
        table(tmp_path, train_files=str(train), val_files=str(val), val_fraction=0.3, test_fraction=0.2).setup()
    assert ("data: the val split is data.val_files (val_fraction not used); the test split is carved from the training "
            "data (data.test_fraction=0.2)") in caplog.text


def test_one_row_that_differs_is_enough_to_train(tmp_path: Path) -> None:
    rows = [{"sequence": "0.5 1 1.5", "label": "xy"[i % 2]} for i in range(30)]
    rows[7]["sequence"] = "0.5 1 1.6"
    table(tmp_path, train_files=str(write_csv(tmp_path / "train.csv", rows)), val_fraction=0,
          test_files=str(write_csv(tmp_path / "test.csv", rows))).setup()
    # Per-step targets: the position alone can carry them.
    tags = [{"sequence": ["a", "b", "c"], "label": ["B", "I", "O"] if i % 2 else ["O", "B", "I"]} for i in range(30)]
    table(tmp_path, task="tagging", train_files=str(write_jsonl(tmp_path / "tags.jsonl", tags))).setup()
