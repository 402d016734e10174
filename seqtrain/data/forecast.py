"""Forecasting a numeric time series from your own file: windows of past values predict what comes next."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from seqtrain.checks.arguments import check_hub_config, check_positive, check_split_fractions
from seqtrain.checks.files import blank_lines_within, separator_in
from seqtrain.checks.series import check_series_vary, check_time_order
from seqtrain.checks.values import check_float32, check_statistics, warn_dominated_scaling
from seqtrain.data.datamodule import SequenceDataModule, Splits
from seqtrain.facts import DataFacts
from seqtrain.data.parsing import ONE_NUMBER, complaint, numeric_cells, parse_number
from seqtrain.encoders.scaling import SCALINGS, Scaling, Standardizer
from seqtrain.data.arrow import arrow_column
from seqtrain.data.sources import DataError, FileFormat, Piece, check_columns, load_pieces
from seqtrain.data.time_axis import calendar_fields, find_time_column, rises_by_one_step, time_values

log = logging.getLogger(__name__)

ForecastMode = Literal["many_to_one", "many_to_many"]
#: `data.window=auto`: at most this many steps (what the sunspots study chose for its 2,188 training months).
AUTO_WINDOW_MAX = 48


class SeriesWindows(Dataset[tuple[Tensor, Tensor]]):
    """Windows of a (scaled) series.

    many_to_one: window t is inputs[t - W : t] (W, C) -> targets[t : t + H] flattened (H * K,).
    many_to_many: window t is inputs[t : t + W] (W, C) -> targets[t + 1 : t + W + 1] (W, K).
    """

    def __init__(self, inputs: Tensor, targets: Tensor, starts: list[int], window: int, horizon: int, mode: ForecastMode):
        self.inputs, self.targets = inputs, targets  # (N, C), (N, K)
        self.starts, self.window, self.horizon, self.mode = starts, window, horizon, mode
        self.lengths = [window] * len(starts)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        t, w = self.starts[i], self.window
        if self.mode == "many_to_many":
            return self.inputs[t : t + w], self.targets[t + 1 : t + w + 1]  # (W, C), (W, K)
        return self.inputs[t - w : t], self.targets[t : t + self.horizon].reshape(-1)  # (W, C), (H * K,)


class ForecastDataModule(SequenceDataModule):
    """Windows over one numeric series (one or more columns), split in time: train, then val, then test.

    The last `test_fraction` of the time steps are test targets and the `val_fraction` before them
    val targets; a window's inputs may reach back into earlier splits (the past is known when
    forecasting), its targets never cross a boundary. Scaling is fitted on the training steps
    only; the facts carry it, so reported metrics are in the series' own units.

    Args:
        train_files: the series: a CSV / JSON Lines / Parquet file; several files are several series
            (of the same columns), each split in time on its own, windows never crossing files.
        hub / hub_config: a HuggingFace hub dataset (its train split) instead of files.
        columns: input columns; None: every numeric column.
        target_columns: columns to predict; None: the input columns.
        time_column: the rows' time (checked to be in order, never a model input); "auto": a column
            of time stamps, or of numbers rising by one fixed step, if there is one; None: no check.
        window: input steps per example; "auto": from the training steps (`auto_window`), said in one line and
            saved with the fitted state, so evaluation and prediction read the same windows.
        horizon: many_to_one predicts the next `horizon` steps of every target column.
        stride: steps between the starts of consecutive windows.
        mode: many_to_one (window -> the next value(s)) | many_to_many (window -> the window
            shifted by one step; a prediction at every step).
        scale: standard (zero mean, unit variance) | minmax (to [0, 1]) | none; per column.
    """

    def __init__(
        self,
        train_files: str | list[str] | None = None,
        hub: str | None = None,
        hub_config: str | None = None,
        file_format: FileFormat = "auto",
        columns: list[str] | None = None,
        target_columns: list[str] | None = None,
        time_column: str | None = "auto",
        window: int | Literal["auto"] = 24,
        horizon: int = 1,
        stride: int = 1,
        mode: ForecastMode = "many_to_one",
        scale: Scaling = "standard",
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        cache_dir: str | None = None,
        batch_size: int = 64,
        **base: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, **base)
        if window != "auto":
            check_positive(window=window)
        check_positive(horizon=horizon, stride=stride)
        if mode not in ("many_to_one", "many_to_many"):
            raise ValueError(f"mode must be 'many_to_one' or 'many_to_many', got {mode!r}")
        if mode == "many_to_many" and horizon != 1:
            raise ValueError(f"mode='many_to_many' predicts one step ahead at every step; horizon must be 1, got {horizon}")
        if scale not in SCALINGS:
            raise ValueError(f"scale must be one of {list(SCALINGS)}, got {scale!r}")
        if (columns is not None and not columns) or (target_columns is not None and not target_columns):
            raise ValueError("columns / target_columns must name at least one column, or be None")
        check_split_fractions(val_fraction, test_fraction)
        check_hub_config(hub, hub_config)
        self.train_files, self.hub, self.hub_config, self.file_format = train_files, hub, hub_config, file_format
        self.columns = list(columns) if columns is not None else None
        self.target_columns = list(target_columns) if target_columns is not None else None
        self.time_column = time_column
        self.window, self.horizon, self.stride, self.mode = window, horizon, stride, mode
        self.window_is_auto = window == "auto"
        self.scale = scale
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.cache_dir = cache_dir

    def load_series(self) -> tuple[list[np.ndarray], list[str], list[Piece]]:
        """Each file's series, (N_s, columns) float64, the column names (inputs first, then other targets), and the
        pieces they were read from."""
        pieces = load_pieces(self.train_files, None, None, self.hub, self.hub_config, self.file_format, self.cache_dir)["train"]
        times = self.check_time(pieces)
        names = self.columns if self.columns is not None else _numeric_columns(pieces[0], times, self.time_column is not None)
        if self.columns is None:
            _warn_columns_of_later_files(pieces, names, times)
        names = names + [c for c in self.target_columns or [] if c not in names]
        parts = self.read_series(pieces, names)
        inputs_at, targets_at = self.positions(names)
        if self.columns is not None and (ramps := [c for k, c in enumerate(names) if all(rises_by_one_step(p[:, k]) for p in parts)]):
            log.warning("data: column(s) %s rise by one fixed step at every row (%s): a row index or time, not a value; as "
                        "data.columns / data.target_columns name them, the model reads%s them, and their errors are in the "
                        "run's metrics beside the others' (leave them out: the time column orders the rows, data.time_column)",
                        ", ".join(map(repr, ramps)), ", ".join(f"{c}: {parts[0][0, names.index(c)]:g}, {parts[0][1, names.index(c)]:g}, ..."
                                                               for c in ramps[:2]),
                        " and forecasts" if any(names.index(c) in targets_at for c in ramps) else "")
        log.info("data: series columns: inputs %s, targets %s%s", ", ".join(names[i] for i in inputs_at), ", ".join(names[i] for i in targets_at),
                 f"; {len(parts)} files, each its own series (windows never cross files)" if len(parts) > 1 else "")
        return parts, names, pieces

    def check_time(self, pieces: list[Piece]) -> set[str]:
        """Each file's time column (`time_column`), checked to be in order; said in one line."""
        used = [*(self.columns or []), *(self.target_columns or [])]
        times = {}
        for piece in pieces:
            if (found := find_time_column(piece, self.time_column, used)) is not None:
                column, values = found
                check_time_order(piece, column, values)
                times[piece.name] = column
        if times:
            log.info("data: rows in time order by column %s (data.time_column=%s); it is not a model input",
                     ", ".join(repr(c) for c in dict.fromkeys(times.values())), self.time_column)
        elif self.time_column == "auto":
            log.info("data: data.time_column=auto found no time column: the rows are taken to be in time order")
        return set(times.values())

    # -- reading series: training's and new ones for a trained model alike ------------------------

    def read_series(self, pieces: list[Piece], names: list[str]) -> list[np.ndarray]:
        """Each piece's columns `names` as a series, (N_s, len(names)) float64; a missing column or value is named."""
        parts = []
        for piece in pieces:
            _check_no_blank_lines(piece)
            for c in names:
                check_columns(piece, {"target_columns" if self.columns is not None and c not in self.columns else "columns": c})
            parts.append(np.stack([_read_numbers(piece, c) for c in names], axis=1))
        return parts

    def positions(self, names: list[str]) -> tuple[list[int], list[int]]:
        """Where the input columns and the target columns sit among `names` (the saved column order)."""
        inputs_at = list(range(len(self.columns))) if self.columns is not None else list(range(len(names)))
        targets_at = [names.index(c) for c in self.target_columns] if self.target_columns is not None else inputs_at
        return inputs_at, targets_at

    def windows(self, scaled: Tensor, names: list[str], starts: list[int]) -> SeriesWindows:
        inputs_at, targets_at = self.positions(names)
        return SeriesWindows(scaled[:, inputs_at], scaled[:, targets_at], starts, self.window, self.horizon, self.mode)

    def build(self, saved: dict[str, Any] | None) -> Splits:
        parts, names, pieces = self.load_series()  # one (N_s, columns) array per series
        series = np.concatenate(parts)  # (N, columns)
        inputs_at, targets_at = self.positions(names)
        # Each series is split in time on its own: its first steps train, then val, then test.
        firsts = np.cumsum([0, *(len(p) for p in parts)])[:-1].tolist()
        bounds = []
        for first, p in zip(firsts, parts):
            val_start = first + int(len(p) * (1 - self.val_fraction - self.test_fraction))
            test_start = first + int(len(p) * (1 - self.test_fraction))
            bounds.append({"train": (first, val_start), "val": (val_start, test_start), "test": (test_start, first + len(p))})
        if self.window == "auto":  # still auto: no checkpoint's state gave the window its run chose (load_state_dict)
            self.window = self.auto_window([b["train"][1] - b["train"][0] for b in bounds],
                                           {split: [b[split][1] - b[split][0] for b in bounds] for split in ("val", "test")})
        if saved is None:
            train_steps = np.concatenate([series[b["train"][0] : b["train"][1]] for b in bounds])
            check_series_vary(train_steps, names, targets_at)
            scaler = Standardizer.fit(train_steps, self.scale)
            check_statistics(scaler, train_steps, names, _training_step_place(pieces, bounds, firsts), "column")
            if self.scale == "standard":
                warn_dominated_scaling(train_steps, names, _training_step_place(pieces, bounds, firsts), "column's training steps")
            state = {"columns": names, **scaler.to_dict()}
            if self.window_is_auto:
                state["window"] = self.window
        else:
            if saved["columns"] != names:
                raise DataError(f"the series has columns {names}, the loaded state was fitted on {saved['columns']}")
            state = dict(saved)
        scaled = Standardizer.from_dict(state).encode(torch.from_numpy(series))  # (N, columns)
        examples = {}
        for split in ("train", "val", "test"):
            starts = [t for first, b in zip(firsts, bounds) for t in self.window_starts(first, *b[split])]
            if not starts:
                steps = [b[split][1] - b[split][0] for b in bounds]
                where = (
                    f"steps {bounds[0][split][0]}..{bounds[0][split][1] - 1} of {len(series)}"
                    if len(parts) == 1
                    else f"{', '.join(map(str, steps))} steps in each of the {len(parts)} series, one per file"
                )
                raise DataError(
                    f"the {split} split ({where}) is too short for one window "
                    f"(data.window={self.window}{' from auto' if self.window_is_auto else ''}, data.horizon={self.horizon}); "
                    f"give a longer series, raise its fraction, or lower data."
                    f"{'horizon' if self.mode == 'many_to_one' and (self.window_is_auto or max(steps) < self.horizon) else 'window'}"
                    + (f" (the horizon alone is longer than the split's {max(steps)} steps)" if max(steps) < self.horizon else "")
                )
            if len(parts) > 1:  # a series too short for one window of this split adds none to it, silently
                short = [(piece.name, b[split][1] - b[split][0]) for first, b, piece in zip(firsts, bounds, pieces)
                         if not self.window_starts(first, *b[split])]
                if short:
                    log.warning(
                        "data: %d of %d series add no %s window (%s): too short for one of data.window=%s and "
                        "data.horizon=%s, so no %s example comes from them (lower data.window, or leave them out)",
                        len(short), len(parts), split, ", ".join(f"{name}: {steps} {split} steps" for name, steps in short[:3])
                        + (", ..." if len(short) > 3 else ""), self.window, self.horizon, split)
            examples[split] = self.windows(scaled, names, starts)
        log.info("data: %d steps; windows per split: %s", len(series), ", ".join(f"{name} {len(split)}" for name, split in examples.items()))
        # Each output's statistics: many_to_one predicts `horizon` steps of every target column.
        repeats = self.horizon if self.mode == "many_to_one" else 1
        outputs = Standardizer.from_dict(state).select(targets_at * repeats)
        unscale = self.scale != "none"
        # Each output's own input feature (same column, same scaling), when every target is an input: `model.relative_to`.
        target_inputs = tuple(inputs_at.index(k) for k in targets_at) * repeats if set(targets_at) <= set(inputs_at) else None
        facts = DataFacts(task="regression", per_step=self.mode == "many_to_many", num_outputs=len(outputs),
                          num_features=len(inputs_at), target_scale=tuple(outputs.scale) if unscale else None,
                          target_shift=tuple(outputs.shift) if unscale else None, target_inputs=target_inputs,
                          window=self.window)
        return Splits(examples["train"], examples["val"], examples["test"], facts, state)

    def auto_window(self, train_steps: list[int], other_steps: dict[str, list[int]] | None = None) -> int:
        """`data.window=auto`: a quarter of the (shortest series') training steps, between 2 and AUTO_WINDOW_MAX; one log line.
        With `mode=many_to_many` a window's targets are its own steps shifted by one, so every window lies inside its split:
        the window is then at most the shortest val or test split (``other_steps``, steps per series), said in the line."""
        shortest = min(train_steps)
        window = max(2, min(AUTO_WINDOW_MAX, shortest // 4))
        capped = ""
        if self.mode == "many_to_many" and other_steps:
            fits = {split: min(steps) for split, steps in other_steps.items() if steps and min(steps) > 0}
            if fits and (split := min(fits, key=fits.get)) and 2 <= fits[split] < window:
                capped = (f"; {fits[split]}, not {window}: mode=many_to_many windows lie inside their split, and the "
                          f"{split} split{' of the shortest series' if len(train_steps) > 1 else ''} has {fits[split]} steps")
                window = fits[split]
        log.info("data.window=auto: %d (a quarter of the %d training steps%s, at least 2, at most %d%s): %d training windows",
                 window, shortest, " of the shortest series" if len(train_steps) > 1 else "", AUTO_WINDOW_MAX, capped,
                 sum(max(0, n - window - self.horizon + 1) for n in train_steps))
        return window

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self.window == "auto" and "window" in state_dict:  # the window the trained model reads: before any data is
            self.window = state_dict["window"]                # read (prediction cuts new series with it)
        super().load_state_dict(state_dict)

    def window_starts(self, first: int, start: int, end: int) -> list[int]:
        """The windows of the series starting at step `first` whose targets all lie in steps [start, end)."""
        if self.mode == "many_to_many":  # inputs t .. t+W-1, targets t+1 .. t+W
            low, high = max(start - 1, first), end - self.window - 1
        else:  # inputs t-W .. t-1, targets t .. t+H-1
            low, high = max(start, first + self.window), end - self.horizon
        return list(range(low, high + 1, self.stride))


def _training_step_place(pieces: list[Piece], bounds: list[dict[str, tuple[int, int]]], firsts: list[int]) -> Callable[[int], str]:
    """The place (file and row) of step i of the training steps, the series' training parts one after another."""
    ends = np.cumsum([b["train"][1] - b["train"][0] for b in bounds])

    def where(i: int) -> str:
        s = int(np.searchsorted(ends, i, side="right"))
        before = int(ends[s - 1]) if s else 0
        return pieces[s].where(bounds[s]["train"][0] - firsts[s] + i - before)

    return where


def _numeric_columns(piece: Piece, times: set[str], ramps_are_time: bool = True) -> list[str]:
    """Every numeric column but the time columns (and, unless `data.time_column=null`, other columns rising by one fixed
    step), with one log line naming those left out; a text column of mostly numbers is an error."""
    import pyarrow as pa

    table = piece.dataset.with_format("arrow")[:]
    numeric, left_out = [], []
    for name, column in zip(table.column_names, table.columns):
        if name in times:
            left_out.append(f"{name} (the time)")
            continue
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            numeric.append(name)
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            count, total, others = numeric_cells(column, ONE_NUMBER)
            if count and not len(others):  # numbers written as text (JSON strings): read as numbers
                numeric.append(name)
                continue
            if count and 2 * count >= total:  # mostly numbers: the others are mistakes, not a text column
                row = int(others[0])
                problem = complaint(parse_number, column[row].as_py(), piece.where(row), name, "a number")
                raise DataError(
                    f"{problem}; {count} of the column's {total} rows are numbers, so it is a numeric column; fix the others, "
                    "or set data.columns to the columns to use"
                )
            if how := _numbers_written_otherwise(piece, column.to_pylist()):  # 15,136 or 10.5%: numbers to the user
                left_out.append(f"{name} (text{how})")
                continue
        left_out.append(name)
    if not numeric:
        separator = separator_in(table.column_names) if len(table.column_names) == 1 else None
        raise DataError(f"{piece.name}: no numeric column (columns: {', '.join(left_out)}); set data.columns"
                        + (f". Its one column's name holds {separator!r}: the file seems separated by {separator!r}, and CSV "
                           "files are read separated by ',' (write it with commas, e.g. pandas' to_csv(sep=','))" if separator else ""))
    # Another row index or time beside the time column (copper's TIME = 1, 2, ... beside its YEAR) would be forecast
    # too, trivially, its errors in the run's metrics: left out, said below; data.columns can name it. Not with
    # data.time_column=null, which reads every numeric column (a config saved before time columns: its row index).
    complete: dict[str, tuple[np.ndarray, bool]] = {}  # number columns without an empty cell: (float64 values, integers?)
    for name in numeric if ramps_are_time else []:
        column = table.column(name)
        if (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) and not column.null_count:
            complete[name] = (column.to_numpy().astype(np.float64), pa.types.is_integer(column.type))
    ramps = [name for name, (values, _) in complete.items() if len(numeric) > 1 and rises_by_one_step(values)]
    fields = calendar_fields({name: values for name, (values, integers) in complete.items() if integers})
    if fields and len(numeric) > 2:  # a year and a quarter (month, ...): the time, not values
        numeric = [name for name in numeric if name not in fields]
        left_out += [f"{fields[0]} and {fields[1]} (a year and its quarter, month or the like: {fields[1]} counts up and starts "
                     f"again where {fields[0]} rises; the rows' time, not values to forecast; data.columns can name them)"]
    if ramps and len(ramps) < len(numeric):
        numeric = [name for name in numeric if name not in ramps]
        left_out += [f"{name} (rises by one fixed step at every row: a row index or time, not a value to forecast; "
                     "data.columns can name it)" for name in ramps]
    log.info("data: data.columns=null: using every numeric column (%s); left out: %s", ", ".join(numeric), ", ".join(left_out) or "none")
    return numeric


def _warn_columns_of_later_files(pieces: list[Piece], names: list[str], times: set[str]) -> None:
    """`data.columns=null` takes the first file's numeric columns: numeric columns that only later files hold are
    left out of every series, said in a warning naming them and their files (a column the first file has and a later
    one lacks is an error, naming it)."""
    import pyarrow as pa

    extra: dict[str, list[str]] = {}
    for piece in pieces[1:]:
        for field in piece.dataset.with_format("arrow")[:0].schema:
            if field.name not in names and field.name not in times and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                extra.setdefault(field.name, []).append(piece.name)
    if extra:
        shown = "; ".join(f"{name!r} ({', '.join(files[:2])}{' and more' if len(files) > 2 else ''})" for name, files in extra.items())
        log.warning("data: data.columns=null uses the numeric columns of the first file (%s: %s); numeric columns only later "
                    "files hold are left out: %s; set data.columns to the columns to use", pieces[0].name, ", ".join(names), shown)


def _check_no_blank_lines(piece: Piece) -> None:
    """A blank line between a CSV file's rows is refused: the reader skips it, while a forecast reads every step in
    order, and in a file of one column a blank line is its empty cell (`NA` there is refused as missing)."""
    if piece.csv_sep is None:
        return
    if blanks := blank_lines_within(piece.name, piece.csv_sep):
        (line, before), more = blanks[0], len(blanks) - 1
        raise DataError(
            f"{piece.name}: line {line} is blank, between rows {before} and {before + 1}"
            + (f" ({more} more blank line{'s' if more > 1 else ''} between rows: line{'s' if more > 1 else ''} "
               f"{', '.join(str(n) for n, _ in blanks[1:6])}{', ...' if more > 5 else ''})" if more else "")
            + ": a forecast reads every step in order, and the reader skips blank lines (in a file of one column a blank "
            "line is an empty value): fill in the missing step (e.g. pandas' interpolate()), delete the line if no step is "
            "missing there, or cut the file there into files of their own (several files are several series)")


def _read_numbers(piece: Piece, column: str) -> np.ndarray:
    """One column as float64; a missing or non-numeric value, or one float32 cannot hold, is an error naming its row."""
    import pyarrow as pa

    values = arrow_column(piece.dataset, column)
    try:
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            array = values.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls -> nan
            bad = np.flatnonzero(~np.isfinite(array))
            if len(bad):
                parse_number(values[int(bad[0])].as_py(), piece.where(int(bad[0])), column)  # raises, naming the place
        else:
            array = np.array([parse_number(v, piece.where(i), column) for i, v in enumerate(values.to_pylist())])
    except DataError as error:
        raise DataError(f"{error}{_how_to_fix(piece, column, values.to_pylist())}") from None
    check_float32(array, piece.where, column)
    return array


THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")
DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")


def _how_to_fix(piece: Piece, column: str, cells: list[Any]) -> str:
    """What a forecast column's unreadable cells are and what to do, for the error naming the first: empty cells
    (how many, where; a series reads every step), dates, thousands separators, decimal commas, percent signs."""
    empty = [i for i, v in enumerate(cells) if v is None or (isinstance(v, str) and not v.strip())
             or (isinstance(v, float) and math.isnan(v))]
    texts = [v.strip() for v in cells if isinstance(v, str) and v.strip()]
    if empty:
        at_end = empty == list(range(len(cells) - len(empty), len(cells)))
        at_start = empty == list(range(len(empty)))
        rows = ", ".join(piece.where(i).rsplit(" ", 1)[-1] for i in empty[:5]) + (", ..." if len(empty) > 5 else "")
        return (f"; {len(empty)} of the column's {len(cells)} rows are empty (rows {rows}): a forecast reads every step in "
                + ("order, and these are the file's last rows: delete them" if at_end else
                   "order, and these are the file's first rows (as a difference or a percent change leaves them): delete "
                   "them" if at_start else
                   "order: fill them (e.g. pandas' interpolate()), or cut the file there into files of their own (several files are "
                   "several series)"))
    if texts and (read := time_values(piece, column)) is not None and read[1]:
        return (f"; the column holds dates or times ({texts[0]!r}, ...): it is the rows' time, not a value to forecast: leave it "
                "out of data.columns / data.target_columns (data.time_column=auto finds it and checks the rows' order)")
    return _numbers_written_otherwise(piece, cells)


def _numbers_written_otherwise(piece: Piece, cells: list[Any]) -> str:
    """`; N of the column's M cells hold a thousands separator ...: ... (write ...)` when cells hold numbers written with
    thousands separators, decimal commas or percent signs (which are not numbers to Python's float), else ''."""
    def number(text: str) -> bool:
        try:
            return math.isfinite(float(text))
        except ValueError:
            return False

    texts = [v.strip() for v in cells if isinstance(v, str) and v.strip()]
    for test, what, fix in (
        (THOUSANDS.match, "a thousands separator (or a decimal comma)", "write 1234.5 for 1,234.5"),
        (DECIMAL_COMMA.match, "a decimal comma", "write 0.5 for 0,5"),
        (lambda t: t.endswith("%") and number(t[:-1]), "a percent sign", "write 12.5 for 12.5%"),
    ):
        if count := sum(bool(test(t)) for t in texts):
            return f"; {count} of the column's {len(cells)} cells hold {what}: numbers are read as Python's float reads them ({fix})"
    return ""
