"""Reading users' own data through `datasets.load_dataset`: local CSV / JSON Lines / Parquet / text files or a hub name.

Every file is loaded on its own (datasets caches it as Arrow), so each row keeps its origin:
errors name the file and the row or line (`Piece`, `place`).

`datasets` is imported only inside the functions that load (it takes ~1.7 s to import).
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from seqtrain.checks.files import check_before_loading, explain_failure, layout_hint, separator_in
from seqtrain.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

FileFormat = Literal["auto", "csv", "json", "parquet", "text", "ts", "arff", "conll"]
Files = str | Sequence[str] | None  # a path, a glob, or a list of them
SPLITS = ("train", "val", "test")
# Names hub datasets give their splits, in the order they are looked for.
HUB_SPLITS = {"train": ("train",), "val": ("validation", "valid", "val", "dev"), "test": ("test",)}
# The builder for each file extension, and its options.
EXTENSIONS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".ndjson": ("json", {}),
    ".parquet": ("parquet", {}),
    ".txt": ("text", {}),
    ".ts": ("ts", {}),  # sktime / aeon time series (UCR/UEA archives): seqtrain.data.ts_files
    ".arff": ("arff", {}),  # Weka's format, as the UCR/UEA archives ship it beside .ts: seqtrain.data.arff_files
    ".conll": ("conll", {}),  # a token and its tag a line, a blank line between sentences: seqtrain.data.conll_files
}
# A .ts file's examples are counted, not its lines: its header and comments come first.
ROW_UNITS = {"csv": "row", "json": "line", "parquet": "row", "text": "line", "ts": "example", "ucr": "line", "arff": "line", "conll": "line"}  # Piece.unit per builder


@dataclass(frozen=True)
class Piece:
    """One loaded file (or one split of a hub dataset) and how to name its rows in messages.

    unit: "row" (CSV, Parquet: data rows counted from 1, the header not counted), "line" (JSON
    Lines, text: lines counted from 1), "example" (.ts files: data lines counted from 1), "index"
    (hub datasets: the row index, from 0).
    """

    dataset: Dataset
    name: str
    unit: Literal["row", "line", "example", "index"]
    # The line (from 1) of each row, where the file's blank lines, which the reader skips, make it other than row + 1.
    lines: tuple[int, ...] | None = None
    # The separator a local, uncompressed CSV was read with (its text can be read again: `checks.files`); else None.
    csv_sep: str | None = None

    def where(self, i: int) -> str:
        return place(self.name, self.unit, i, self.lines)


def place(name: str, unit: str, i: int, lines: Sequence[int] | None = None) -> str:
    """`train.csv, row 3` for the file's row `i` (from 0): rows and lines count from 1 (`lines`: each row's line, where
    blank lines the reader skipped come before it), hub indices from 0."""
    return f"{name}, {unit} {lines[i] if lines is not None else i if unit == 'index' else i + 1}"


def record_lines(path: str, rows: int) -> tuple[int, ...] | None:
    """A JSON Lines file's line (from 1) of each of its `rows` records, when blank lines (which the reader skips) come
    between them; None when the records are the lines 1, 2, 3, ... or the file is not one record a line."""
    with open(path, "rb") as f:
        numbers = tuple(n for n, line in enumerate(f, 1) if line.strip())
    return numbers if len(numbers) == rows and numbers and numbers[-1] != rows else None


def written_rows(path: str, sep: str) -> Iterator[dict[str, str | None]]:
    """A CSV (or TSV) file's data rows as the `csv` module reads them with the separator the loader used
    (`Piece.csv_sep`): each cell's text as written."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        yield from csv.DictReader(f, delimiter=sep)


def written_cell(path: str, i: int, column: str, *, sep: str) -> str | None:
    """The text of a CSV file's data row `i` (from 0) in `column` as written, for messages: pandas reads `nan`, `NA`,
    `null` and the like as a missing value, which reaches the parsers as None, like an empty cell."""
    row = next(islice(written_rows(path, sep), i, None), None)
    return None if row is None else row.get(column)


def written_column(path: str, column: str, *, sep: str) -> list[str | None]:
    """Every data row's cell of `column` in a CSV file as written (None where a row has no such cell), in file order:
    pandas reads a column of numbers as numbers, so `1`, `1.0` and `01` reach the parsers as one value."""
    return [row.get(column) for row in written_rows(path, sep)]


def written_json_values(path: str, column: str) -> list[Any]:
    """Every line's value of `column` in a JSON Lines file as JSON gives it (a string stays a string): datasets reads
    a column that mixes strings and numbers as JSON text, and turns the strings `"01"` and `"1.0"` into the number 1."""
    values = []
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                values.append(row.get(column) if isinstance(row, dict) else None)
    return values


def resolve_files(key: str, files: str | Sequence[str]) -> list[str]:
    """Absolute paths of `files` (paths or glob patterns, each must match); URLs pass through."""
    paths: list[str] = []
    named_by: dict[str, str] = {}  # each path and the entry that first named it
    for entry in [files] if isinstance(files, str) else list(files):
        before = len(paths)
        _add_matches(key, entry, paths)
        for path in paths[before:]:
            if path in named_by:
                by = f"by {named_by[path]!r} and {entry!r}" if named_by[path] != entry else f"by {entry!r} twice"
                raise DataError(
                    f"data.{key}: {path!r} is named twice ({by}); its rows would be read twice (counted twice in "
                    "training and in metrics, and shared between training and a split carved from it); name each file once"
                )
            named_by[path] = entry
    if not paths:
        raise DataError(f"data.{key}: an empty list of files")
    return paths


def _add_matches(key: str, entry: str, paths: list[str]) -> None:
    """Append the absolute paths `entry` (a path, a glob or a URL) names to `paths`; each must match."""
    if "://" in entry:
        paths.append(entry)
        return
    if glob.has_magic(entry):
        matches = sorted(glob.glob(str(Path(entry).expanduser())))
        if not matches:
            raise DataError(f"data.{key}: no file matches {entry!r} (working directory: {Path.cwd()})")
        folders = [m for m in matches if Path(m).is_dir()]
        if folders:
            raise DataError(f"data.{key}: {entry!r} matches the folder {folders[0]!r} ({len(folders)} in all); match files only")
        paths += [str(Path(m).resolve()) for m in matches]
        return
    path = Path(entry).expanduser()
    if path.is_dir():
        raise DataError(
            f"data.{key}: {entry!r} is a folder; name its files (a glob such as '{entry.rstrip('/')}/*.csv'), "
            "or give a dataset folder saved by `datasets` as data.hub"
        )
    if not path.is_file():
        raise DataError(f"data.{key}: no such file {entry!r} (working directory: {Path.cwd()})")
    paths.append(str(path.resolve()))


def builder_for(key: str, paths: Sequence[str], file_format: FileFormat) -> tuple[str, dict[str, Any]]:
    """The `load_dataset` builder and its options for `paths`, from `file_format` or the extensions."""
    if file_format != "auto":
        return file_format, {}
    found = {}
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix not in EXTENSIONS:
            raise DataError(
                f"data.{key}: cannot tell the format of {path!r} from its extension "
                f"(known: {', '.join(EXTENSIONS)}); set data.file_format to csv, json, parquet, text, ts, arff or conll"
            )
        found[suffix] = EXTENSIONS[suffix]
    if len({builder for builder, _ in found.values()}) > 1:
        raise DataError(f"data.{key}: files of different formats ({', '.join(sorted(found))}); use one format")
    return next(iter(found.values()))


def load_pieces(train_files: Files, val_files: Files, test_files: Files, hub: str | None, hub_config: str | None,
                file_format: FileFormat, cache_dir: str | None, text_options: dict[str, Any] | None = None,
                headerless_layouts: bool = False) -> dict[str, list[Piece]]:
    """The pieces of each split; val / test are empty lists where they are to be carved from train.

    text_options: options of the `text` builder (e.g. `keep_linebreaks`), when it is used.
    headerless_layouts: tables only (a language model's text file is text): a local CSV, TSV or text file whose first
        line is all numbers is read as the UCR archive's layout (`seqtrain.data.ucr_files`: no header, the label first,
        then the values), and a `.tsv` / `.txt` laid out as CoNLL as sentences (`seqtrain.data.conll_files`), each
        said in the log.
    """
    if (train_files is None) == (hub is None):
        raise DataError(
            "give your data as data.train_files (a file, a glob or a list; val_files / test_files optional) "
            "or as data.hub (a HuggingFace hub dataset name or a local dataset folder), not both"
        )
    if hub is not None:
        if val_files is not None or test_files is not None:
            raise DataError("data.val_files / data.test_files go with data.train_files, not with data.hub")
        return _load_hub(hub, hub_config, cache_dir)
    given = {"train": train_files, "val": val_files, "test": test_files}
    pieces: dict[str, list[Piece]] = {name: [] for name in SPLITS}
    for split, files in given.items():
        if files is None:
            continue
        key = f"{split}_files"
        paths = resolve_files(key, files)
        builder, options = builder_for(key, paths, file_format)
        if builder == "text":
            options = {**options, **(text_options or {})}
        builders = {path: "ucr" if headerless_layouts and builder in ("csv", "text") and reads_as_ucr(path) else builder for path in paths}
        conll = [path for path in paths if headerless_layouts and builders[path] in ("csv", "text") and file_format == "auto"
                 and path.endswith((".tsv", ".txt")) and reads_as_conll(path)]
        for path in conll:
            builders[path] = "conll"
        if conll:
            log.info("data: data.%s: %s no header and a token and its tag a line, a blank line between sentences: read "
                     "as CoNLL (columns 'sequence': the tokens, 'label': the tags, one per token; set data.task=tagging)",
                     key, f"{len(conll)} files have" if len(conll) > 1 else f"{Path(conll[0]).name} has")
        ucr = [path for path in paths if builders[path] == "ucr"]
        if ucr and len(ucr) < len(paths):
            other = next(path for path in paths if builders[path] != "ucr")
            raise DataError(f"data.{key}: {ucr[0]!r} has no header (its first line is all numbers: the UCR archive's "
                            f"layout, the label first) and {other!r} does not; give the files of a split one layout")
        if ucr:
            log.info("data: data.%s: %s no header and %s first line is all numbers: read as the UCR archive's layout, "
                     "one series a line, the class label first, then the values (NaN at the end of a shorter series is "
                     "padding, dropped)", key, f"{len(ucr)} files have" if len(ucr) > 1 else f"{Path(ucr[0]).name} has",
                     "each one's" if len(ucr) > 1 else "its")
        for path in paths:
            dataset, lines = _load_file(path, builders[path], options, cache_dir)
            if builders[path] == "json" and "://" not in path and not path.endswith(".gz"):
                lines = record_lines(path, len(dataset))
            local_csv = builders[path] == "csv" and "://" not in path and not path.endswith(COMPRESSED)
            pieces[split].append(Piece(dataset, path, ROW_UNITS[builders[path]], lines,
                                       options.get("sep", ",") if local_csv else None))
    return pieces


#: What a compressed file's name ends with: its bytes are not its text, so no layout is sniffed from them.
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def _sniffable(path: str) -> bool:
    """A local, uncompressed file: one whose first bytes can be read as its text."""
    return "://" not in path and not path.endswith(COMPRESSED)


def reads_as_ucr(path: str) -> bool:
    """A local, uncompressed file whose first line is the UCR archive's layout (`ucr_files.is_ucr_layout`)."""
    from seqtrain.data.ucr_files import is_ucr_layout

    if not _sniffable(path):
        return False
    with open(path, "rb") as f:
        first = b""
        while not first.strip() and (line := f.readline(1 << 22)):  # the first non-blank line (a long series: MBs)
            first = line
    return is_ucr_layout(first.decode("utf-8-sig", errors="replace"))


def reads_as_conll(path: str) -> bool:
    """A local, uncompressed file whose first lines are laid out as CoNLL (`conll_files.is_conll_layout`)."""
    from seqtrain.data.conll_files import is_conll_layout

    if not _sniffable(path):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return is_conll_layout(head.decode("utf-8-sig", errors="replace"))


def _load_file(path: str, builder: str, options: dict[str, Any], cache_dir: str | None) -> tuple[Dataset, tuple[int, ...] | None]:
    """The file's rows, and each row's line where blank lines make it other than row + 1 (`Piece.lines`)."""
    from datasets import Dataset, load_dataset

    from seqtrain.data.ts_files import ts_rows
    from seqtrain.data.arff_files import arff_rows
    from seqtrain.data.ucr_files import ucr_rows
    from seqtrain.data.conll_files import conll_rows

    local = "://" not in path
    if local:
        problem = check_before_loading(path, builder, options)
        if problem is not None:
            raise DataError(f"{path}: {problem}")
        if builder == "text":
            options = {"encoding": "utf-8-sig", **options}  # a byte-order mark is not part of the first line
    elif builder in ("ts", "arff", "conll"):
        raise DataError(f"{path}: .{builder} files are read from local paths; download it first")
    lines = None
    try:
        if builder == "ts":  # small files: in memory, not in the datasets cache
            dataset = Dataset.from_list(ts_rows(Path(path).read_text(encoding="utf-8-sig"), path))
        elif builder in ("ucr", "arff", "conll"):
            reader = {"ucr": ucr_rows, "arff": arff_rows, "conll": conll_rows}[builder]
            rows, numbers = reader(Path(path).read_text(encoding="utf-8-sig"), path)
            dataset = Dataset.from_list(rows)
            lines = tuple(numbers) if numbers[-1] != len(numbers) else None
        else:
            dataset = load_dataset(builder, data_files=[path], split="train", cache_dir=cache_dir, **options)
    except DataError:
        raise
    except Exception as e:
        reason = explain_failure(path, builder, options) if local else None
        if reason is None:  # the innermost error says most; datasets wraps it in "An error occurred ..."
            root = e
            while root.__cause__ is not None or root.__context__ is not None:
                root = root.__cause__ or root.__context__
            reason = f"{type(root).__name__}: {root}"
        raise DataError(f"{path}: cannot be read as {builder}: {reason}") from e
    if len(dataset) == 0:
        raise DataError(f"{path}: no rows")
    if builder == "csv":
        check_header_width(path, dataset.column_names)
    return dataset, lines


def check_header_width(path: str, columns: list[str]) -> None:
    """pandas, under `datasets`' CSV reader, takes the first field of rows longer than the header for the rows' index
    (`__index_level_0__`) and reads the rest under the header's names: a file separated by ';' with decimal commas
    (`2020-01-01;10,5` under `date;load`) trained on the digits after each comma. Refused, naming the header."""
    index = [name for name in columns if name.startswith("__index_level_")]
    if not index:
        return
    header = [name for name in columns if name not in index]
    sep = separator_in(header)
    if header and (header[0].startswith("#") or header[0].lower().startswith("sep=")):
        fix = layout_hint(header, "row", path)  # a comment or Excel's sep= line above the header
    elif sep:
        fix = (f". The header holds {sep!r}: the file seems separated by {sep!r} (a decimal comma then splits each number "
               "in two), and CSV files are read separated by ',': write it with commas and decimal points, e.g. pandas' "
               "to_csv(sep=',', decimal='.')")
    else:
        fix = ": give every field a name in the header, or remove the extra fields"
    plural = "s" if len(index) > 1 else ""
    raise DataError(f"{path}: its rows have {len(index)} more field{plural} than its header ({', '.join(map(repr, header))}), "
                    f"so each row's first field{plural} would be read as an index and the rest under the wrong names{fix}")


def _load_hub(hub: str, hub_config: str | None, cache_dir: str | None) -> dict[str, list[Piece]]:
    from datasets import DatasetDict, load_dataset

    try:
        loaded = load_dataset(hub, hub_config, cache_dir=cache_dir)
    except Exception as e:
        raise DataError(f"data.hub={hub!r} (data.hub_config={hub_config!r}) cannot be loaded: {type(e).__name__}: {e}") from e
    if not isinstance(loaded, DatasetDict):
        raise DataError(f"data.hub={hub!r}: expected a dataset with named splits, got {type(loaded).__name__}")
    pieces: dict[str, list[Piece]] = {name: [] for name in SPLITS}
    for split, candidates in HUB_SPLITS.items():
        found = next((c for c in candidates if c in loaded), None)
        if found is not None:
            pieces[split] = [Piece(loaded[found], f"{hub} [{found}]", "index")]
    if not pieces["train"]:
        raise DataError(f"data.hub={hub!r} has no 'train' split (it has: {', '.join(loaded)})")
    return pieces


def check_columns(piece: Piece, columns: dict[str, str]) -> None:
    """Every `{config key: column}` is a column of `piece`; the error names the file, key and columns, and what the
    file's layout needs (`layout_hint`)."""
    names = piece.dataset.column_names
    for key, column in columns.items():
        if column not in names:
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} columns)" if len(names) > 12 else "")
            hint = layout_hint(names, piece.unit, piece.name)
            near = [name for name in names if name.strip().lower() == column.strip().lower()]
            if near:  # ' label' from a CSV written with ', ', or 'Label': a column that differs only in spaces or case
                shown = ", ".join(map(repr, names[:12])) + (f", ... ({len(names)} columns)" if len(names) > 12 else "")
                spaces = near[0].strip() != near[0]
                hint = (f". The column {near[0]!r} differs from {column!r} only in {'spaces' if spaces else 'case'}: "
                        + ("write the file without spaces after its separators (its cells have them too), or " if spaces else "")
                        + f"set data.{key}={near[0]!r}")
            if not hint:
                hint = column_suggestion(piece, columns)
            raise DataError(f"{piece.name}: no column {column!r} (data.{key}); its columns are: {shown}{hint}")


def holds_sequences(cell: Any) -> bool:
    """A cell that is a sequence as the table reader takes one: a list, or text of several items (numbers or words
    separated by spaces, commas or semicolons, or a bracketed list)."""
    if isinstance(cell, (list, tuple)):
        return True
    return isinstance(cell, str) and len(cell.replace(",", " ").replace(";", " ").split()) > 1


def column_suggestion(piece: Piece, columns: dict[str, str]) -> str:
    """For a table whose sequence or target column is missing, the setting that names the right one, where its first
    row leaves one choice: the one other column, or, of the columns that do not name rows (`id`, `series_id`: see
    `wide_tables.identifier`), the one holding sequences and the one holding a single value. Empty where it does not
    (the error lists the columns either way)."""
    if set(columns) != {"sequence_column", "target_column"}:
        return ""
    names = piece.dataset.column_names
    missing = [key for key, column in columns.items() if column not in names]
    free = [name for name in names if name not in columns.values()]
    if not missing or len(piece.dataset) == 0:
        return ""
    from seqtrain.data.wide_tables import identifier

    first = piece.dataset[0]
    if len(missing) == 1 and len(free) == 1 and not identifier(free[0]):
        return f". Its one other column is {free[0]!r}: set data.{missing[0]}={free[0]!r}"
    if len(missing) == 2:
        sequences = [name for name in free if holds_sequences(first[name])]
        ids = [name for name in free if identifier(name) and name not in sequences]
        values = [name for name in free if name not in sequences and name not in ids]
        if len(sequences) == 1 and len(values) == 1:
            of = f"its {len(free)} columns" + (f" ({' and '.join(map(repr, ids))} names the rows)" if ids else "")
            return (f". Of {of}, {sequences[0]!r} holds sequences (its first row: several items) and {values[0]!r} one "
                    f"value a row: set data.sequence_column={sequences[0]!r} data.target_column={values[0]!r}")
    return ""
