"""Forecasting windows: splits in time, targets never crossing a boundary, train-only scaling, facts that undo it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from user_files import series_rows, write_csv, write_parquet

from hydra.utils import instantiate

from seqtrain.data import DataFacts, ForecastDataModule
from seqtrain.encoders import encoders_from_state
from seqtrain.errors import DataError
from seqtrain.shipped import monthly_sunspots


def unscale(dm: ForecastDataModule, values: torch.Tensor, column: int) -> torch.Tensor:
    state = dm.state_dict()
    return values * state["scale"][column] + state["shift"][column]


def test_many_to_one_windows_with_horizon_and_stride(tmp_path: Path) -> None:
    rows = series_rows(300)
    path = write_csv(tmp_path / "series.csv", rows)
    dm = ForecastDataModule(train_files=str(path), columns=["load", "temp"], target_columns=["load"], window=12, horizon=3, stride=2)
    dm.setup()
    load = np.array([r["load"] for r in rows])
    facts = dm.facts
    assert (facts.task, facts.per_step, facts.num_outputs, facts.num_features) == ("regression", False, 3, 2)
    # Scaling fitted on the 210 training steps only (70%), and the facts undo it for every output.
    assert dm.state_dict()["shift"][0] == pytest.approx(load[:210].mean())
    assert facts.target_scale == pytest.approx((load[:210].std(),) * 3)
    assert facts.target_shift == pytest.approx((load[:210].mean(),) * 3)
    for split, (start, end) in {"train": (12, 210), "val": (210, 240), "test": (240, 300)}.items():
        windows = dm.split(split)
        assert windows.starts == list(range(start, end - 3 + 1, 2))  # targets t..t+2 inside [start, end)
        x, y = windows[1]
        t = windows.starts[1]
        assert x.shape == (12, 2) and y.shape == (3,)
        np.testing.assert_allclose(unscale(dm, x[:, 0], 0), load[t - 12 : t], rtol=1e-5)
        np.testing.assert_allclose(unscale(dm, y, 0), load[t : t + 3], rtol=1e-5)


def test_the_saved_encoders_scale_a_raw_series_as_the_windows_hold_it(tmp_path: Path) -> None:
    """`encoders_from_state` (what an exported model's caller uses) gives a window's inputs from the raw columns."""
    rows = series_rows(120)
    dm = ForecastDataModule(train_files=str(write_csv(tmp_path / "series.csv", rows)), columns=["temp", "load"], window=8)
    dm.setup()
    encoders = encoders_from_state(dm.state_dict())
    assert encoders.tokenizer is None and encoders.labels is None and encoders.targets is None
    raw = np.array([[r["temp"], r["load"]] for r in rows])  # the saved `columns` order
    windows = dm.split("test")
    t = windows.starts[0]
    assert np.array_equal(encoders.inputs.encode(raw[t - 8 : t]), windows[0][0].numpy())


def test_many_to_many_predicts_the_series_shifted_by_one(tmp_path: Path) -> None:
    rows = series_rows(200)
    path = write_parquet(tmp_path / "series.parquet", rows)
    dm = ForecastDataModule(train_files=str(path), mode="many_to_many", window=10, scale="minmax")
    dm.setup()
    assert dm.facts.per_step and dm.facts.num_outputs == 2 and dm.facts.num_features == 2  # every numeric column
    series = torch.tensor([[r["load"], r["temp"]] for r in rows])
    train_part = series[:140]
    assert dm.state_dict()["shift"] == pytest.approx(train_part.min(0).values.tolist())
    for split, first_target in (("train", 1), ("val", 140), ("test", 160)):
        x, y = dm.split(split)[0]
        t = dm.split(split).starts[0]
        assert t + 1 == first_target and x.shape == y.shape == (10, 2)
        assert torch.allclose(x[1:], y[:-1])
    last = dm.split("test")
    assert last.starts[-1] + 10 == 199  # the last target is the last step
    batch = next(iter(dm.train_dataloader()))
    assert batch.targets.shape == (64, 10, 2)


def test_sunspots_split_and_scaling(compose_train) -> None:
    """data=sunspots is the generic forecasting loader over the shipped file."""
    dm = instantiate(compose_train("experiment=none", "recipe=none", "data=sunspots").data)
    assert type(dm) is ForecastDataModule
    dm.setup()
    _, values = monthly_sunspots()
    values = torch.tensor(values, dtype=torch.float64)
    train = values[:2188]
    facts = dm.facts
    assert facts == DataFacts("regression", False, 1, num_features=1, target_scale=facts.target_scale, target_shift=facts.target_shift,
                              target_inputs=(0,), window=24)
    assert facts.target_scale == pytest.approx((train.std(correction=0).item(),))
    assert facts.target_shift == pytest.approx((train.mean().item(),))
    sizes = [len(dm.split(s)) for s in ("train", "val", "test")]
    assert sizes == [2188 - 24, 2500 - 2188, 626]
    x, y = dm.split("test")[0]
    assert dm.split("test").starts[0] == 2500 and x.shape == (24, 1)
    assert unscale(dm, y, 0).item() == pytest.approx(values[2500].item(), abs=1e-3)


def test_saved_scaling_is_reused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "series.csv", series_rows(200))
    dm = ForecastDataModule(train_files=str(path), columns=["load"])
    dm.setup()
    shifted = write_csv(tmp_path / "shifted.csv", [{**r, "load": r["load"] + 100} for r in series_rows(200)])
    fresh = ForecastDataModule(train_files=str(shifted), columns=["load"])
    fresh.load_state_dict(dm.state_dict())
    fresh.setup()
    assert fresh.state_dict() == dm.state_dict()
    assert fresh.split("train")[0][0].mean() > dm.split("train")[0][0].mean() + 1  # not refitted


def test_the_retired_sunspots_class_names_its_replacement() -> None:
    from omegaconf import OmegaConf

    from seqtrain.config import check_arguments

    node = OmegaConf.create({"_target_": "seqtrain.data.SunspotsDataModule", "window": 24})
    [problem] = check_arguments("data", node)
    assert "data._target_='seqtrain.data.SunspotsDataModule' was retired" in problem and "data=sunspots" in problem


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"window": 0}, "window"),
        ({"stride": 0}, "stride"),
        ({"mode": "many_to_many", "horizon": 2}, "horizon"),
        ({"scale": "robust"}, "scale"),
        ({"columns": []}, "columns"),
        ({"test_fraction": 1.0}, "test_fraction"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ForecastDataModule(**kwargs)


def test_target_scale_facts_round_trip_through_json_and_are_checked() -> None:
    import json

    facts = DataFacts("regression", False, 2, num_features=1, target_scale=(2.0, 3.0), target_shift=(1.0, -1.0))
    assert DataFacts.from_dict(json.loads(json.dumps(facts.to_dict()))) == facts
    assert DataFacts.from_dict({k: v for k, v in facts.to_dict().items() if not k.startswith("target_")}).target_scale is None
    with pytest.raises(ValueError, match="one entry per output"):
        DataFacts("regression", False, 2, num_features=1, target_scale=(2.0,), target_shift=(1.0,))
    with pytest.raises(ValueError, match="both"):
        DataFacts("regression", False, 1, num_features=1, target_scale=(2.0,))
    with pytest.raises(ValueError, match="regression only"):
        DataFacts("classification", False, 1, num_features=1, target_scale=(2.0,), target_shift=(1.0,))


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
def test_each_file_is_its_own_series(tmp_path: Path, mode: str) -> None:
    """Two files, values 0..99 and 1000..1059: no window mixes them, and each is split in time on its own."""
    a = write_csv(tmp_path / "a.csv", [{"v": float(i)} for i in range(100)])
    b = write_csv(tmp_path / "b.csv", [{"v": 1000.0 + i} for i in range(60)])
    dm = ForecastDataModule(train_files=[str(a), str(b)], window=5, scale="none", mode=mode)
    dm.setup()
    for split in ("train", "val", "test"):
        windows = dm.split(split)
        for i in range(len(windows)):
            x, y = windows[i]
            values = torch.cat([x.reshape(-1), y.reshape(-1)])
            assert bool((values < 1000).all()) or bool((values >= 1000).all()), f"{split} window {i} crosses files"
    # By hand, many_to_one: file a trains on steps 0..69 (windows t = 5..69), b on 0..41 (t = 5..41);
    # val targets: a 70..79, b 42..47; test: a 80..99, b 48..59.
    counts = {"train": 65 + 37, "val": 10 + 6, "test": 20 + 12}
    if mode == "many_to_many":  # targets t+1..t+5 inside the split: train t = 0..64 / 0..36, val/test as many as fit
        counts = {"train": 65 + 37, "val": 10 - 5 + 1 + 6 - 5 + 1, "test": 20 - 5 + 1 + 12 - 5 + 1}
    assert {split: len(dm.split(split)) for split in counts} == counts


def test_numbers_written_as_text_are_a_numeric_column(tmp_path: Path) -> None:
    """JSON Lines that quote every number ("12.5"): the column is read as numbers, not left out, and equals the unquoted file."""
    from user_files import write_jsonl

    rows = series_rows(100)
    write_jsonl(tmp_path / "quoted.jsonl", [{"load": str(r["load"]), "temp": r["temp"], "site": "a"} for r in rows])
    write_jsonl(tmp_path / "plain.jsonl", [{"load": r["load"], "temp": r["temp"], "site": "a"} for r in rows])
    quoted = ForecastDataModule(train_files=str(tmp_path / "quoted.jsonl"), window=5)
    plain = ForecastDataModule(train_files=str(tmp_path / "plain.jsonl"), window=5)
    quoted.setup()
    plain.setup()
    assert quoted.state_dict()["columns"] == ["load", "temp"] == plain.state_dict()["columns"]
    assert torch.equal(quoted.split("test")[0][0], plain.split("test")[0][0])


def test_a_time_column_is_found_checked_and_never_an_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`time_column=auto`: a row index (numbers rising by one step) and dates are the time, not inputs; the windows equal
    those of the same file without them; a file whose only numbers rise steadily keeps them as the series."""
    rows = series_rows(100)
    write_csv(tmp_path / "indexed.csv", [{"t": 1749 + i, "date": f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00",
                                          "load": r["load"], "temp": r["temp"]} for i, r in enumerate(rows)])
    write_csv(tmp_path / "plain.csv", [{"load": r["load"], "temp": r["temp"]} for r in rows])
    write_csv(tmp_path / "ramp.csv", [{"load": 2.0 * i} for i in range(100)])
    indexed = ForecastDataModule(train_files=str(tmp_path / "indexed.csv"), window=5)
    plain = ForecastDataModule(train_files=str(tmp_path / "plain.csv"), window=5)
    ramp = ForecastDataModule(train_files=str(tmp_path / "ramp.csv"), window=5)
    with caplog.at_level("INFO"):
        indexed.setup()
    plain.setup()
    ramp.setup()
    assert indexed.state_dict()["columns"] == ["load", "temp"] == plain.state_dict()["columns"]
    assert torch.equal(indexed.split("test")[0][0], plain.split("test")[0][0])
    assert "data: rows in time order by column 'date' (data.time_column=auto); it is not a model input" in caplog.text
    assert "left out: date (the time), t (rises by one fixed step at every row" in caplog.text  # the index left out too
    assert ramp.state_dict()["columns"] == ["load"]  # its only numbers: the series, not its time
    named = ForecastDataModule(train_files=str(tmp_path / "indexed.csv"), columns=["load"], time_column="date", window=5)
    named.setup()
    assert torch.equal(named.split("val")[0][0][:, :1], plain.split("val")[0][0][:, :1])


def test_a_forecast_checkpoint_from_before_time_columns_rebuilds_its_series(tmp_path: Path) -> None:
    """A data config saved before `time_column` existed read a row-index column as a series column; the legacy upgrade
    keeps it so (time_column=None), so its saved state still fits; today's default leaves the index out."""
    from hydra.utils import instantiate

    from seqtrain.legacy import upgrade

    rows = series_rows(60)
    path = write_csv(tmp_path / "indexed.csv", [{"t": i, "load": r["load"], "temp": r["temp"]} for i, r in enumerate(rows)])
    then = ForecastDataModule(train_files=str(path), window=5, time_column=None)
    then.setup()
    saved = {"_target_": "seqtrain.data.ForecastDataModule", "train_files": str(path), "window": 5}
    data, state = upgrade(saved, {"ForecastDataModule": then.state_dict()})
    again = instantiate(data)
    again.load_state_dict(state)
    again.setup("test")
    assert again.state_dict()["columns"] == ["t", "load", "temp"] == then.state_dict()["columns"]
    assert torch.equal(again.split("test")[0][0], then.split("test")[0][0])
    today = ForecastDataModule(train_files=str(path), window=5)
    today.setup()
    assert today.state_dict()["columns"] == ["load", "temp"]


def test_dates_written_day_first_are_read_day_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`dd/mm/yyyy` dates: pandas reads them month first, so a daily file's 13/01/2020 was no date (no time column:
    the order went unchecked) and a monthly file's 01/02/1980 was 2 January (false gap warnings). Read day first, said;
    US monthly dates (`02/01/2020`: 1 February) stay month first."""
    import datetime

    days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(60)]
    rows = series_rows(60)
    daily = write_csv(tmp_path / "daily.csv", [{"date": d.strftime("%d/%m/%Y"), "load": r["load"]} for d, r in zip(days, rows)])
    months = [datetime.date(1980 + i // 12, 1 + i % 12, 1) for i in range(60)]
    monthly = write_csv(tmp_path / "monthly.csv", [{"date": m.strftime("%d/%m/%Y"), "load": r["load"]} for m, r in zip(months, rows)])
    us = write_csv(tmp_path / "us.csv", [{"date": m.strftime("%m/%d/%Y"), "load": r["load"]} for m, r in zip(months, rows)])
    for path in (daily, monthly, us):
        caplog.clear()
        with caplog.at_level("INFO"):
            ForecastDataModule(train_files=str(path), window=5).setup()
        assert "data: rows in time order by column 'date' (data.time_column=auto)" in caplog.text, path
        assert "gap(s) longer than the usual step" not in caplog.text, path  # every day / month once: no gap
        assert ("dates read day first ('01/01/" in caplog.text) == (path != us), path
    swapped = [{"date": d.strftime("%d/%m/%Y"), "load": r["load"]} for d, r in zip(days, rows)]
    swapped[20], swapped[21] = swapped[21], swapped[20]  # 22/01/2020 before 21/01/2020: found only when read day first
    with pytest.raises(DataError, match="row 22, column 'date': 21/01/2020 comes before the row above"):
        ForecastDataModule(train_files=str(write_csv(tmp_path / "swapped.csv", swapped)), window=5).setup()


def test_another_index_column_is_left_out_and_a_named_one_warned_of(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """statsmodels' copper layout: YEAR (the time) and TIME (1, 2, ...): with columns=None TIME used to be an input and a
    forecast target (trivial to forecast, its errors in the metrics); left out, said. Named in data.columns: a warning.
    Calendar columns that only cycle (year, quarter 1..4) are not a stacked file."""
    rows = series_rows(40)
    path = write_csv(tmp_path / "copper.csv", [{"YEAR": 1951 + i, "LOAD": r["load"], "TEMP": r["temp"], "TIME": i + 1}
                                               for i, r in enumerate(rows)])
    with caplog.at_level("INFO"):
        dm = ForecastDataModule(train_files=str(path), window=5)
        dm.setup()
    assert dm.state_dict()["columns"] == ["LOAD", "TEMP"]
    assert "left out: YEAR (the time), TIME (rises by one fixed step at every row" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        ForecastDataModule(train_files=str(path), columns=["TIME", "LOAD"], window=5).setup()
    assert "column(s) 'TIME' rise by one fixed step at every row (TIME: 1, 2, ...)" in caplog.text
    assert "the model reads and forecasts them" in caplog.text
    quarters = write_csv(tmp_path / "e6.csv", [{"year": 1972 + i // 4, "quarter": 1 + i % 4, "Dp": r["load"]} for i, r in enumerate(rows)])
    dm = ForecastDataModule(train_files=str(quarters), columns=["Dp"], window=5)
    dm.setup()  # no text column: nothing names series, the file is one
    assert len(dm.split("train")) == 28 - 5


@pytest.mark.parametrize("label", ["{y} Q{q}", "Q{q} {y}", "{y}Q{q}", "{y}-Q{q}"])
def test_quarter_labels_are_the_time(tmp_path: Path, label: str, caplog: pytest.LogCaptureFixture) -> None:
    """pmdarima's ausbeer / woolyrnq write quarters `1956 Q1` / `Q1 1965`: pandas reads neither as a date, so the column
    was no time axis (rows out of order went unseen). Read as quarters; two rows swapped are refused, naming the row."""
    rows = [{"date": label.format(y=1956 + i // 4, q=1 + i % 4), "beer": r["load"]} for i, r in enumerate(series_rows(48))]
    with caplog.at_level("INFO"):
        ForecastDataModule(train_files=str(write_csv(tmp_path / "beer.csv", rows)), window=5).setup()
    assert "rows in time order by column 'date'" in caplog.text and "gap(s)" not in caplog.text
    rows[9], rows[10] = rows[10], rows[9]  # 1958 Q3 before 1958 Q2
    with pytest.raises(DataError, match=f"row 11, column 'date': {label.format(y=1958, q=2)} comes before the row above"):
        ForecastDataModule(train_files=str(write_csv(tmp_path / "swapped.csv", rows)), window=5).setup()


def test_a_date_column_named_in_columns_is_said_to_be_the_time(tmp_path: Path) -> None:
    rows = [{"date": f"{1980 + i // 12}-{1 + i % 12:02d}-01", "wine": r["load"]} for i, r in enumerate(series_rows(48))]
    path = write_csv(tmp_path / "wine.csv", rows)
    with pytest.raises(DataError, match="'1980-01-01' is not a number; the column holds dates or times .*: it is the rows' time, "
                                        "not a value to forecast: leave it out of data.columns"):
        ForecastDataModule(train_files=str(path), columns=["date", "wine"], window=5).setup()


def test_a_year_and_quarter_written_as_numbers_are_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """statsmodels' E6 layout (`year`, `quarter`, `Dp`, `R`): with columns=None the year and the quarter were inputs and
    forecast targets. Left out, said; the windows are those of the file without them. A month that only cycles (no
    year beside it) is kept: a season the model may read."""
    rows = series_rows(60)
    path = write_csv(tmp_path / "e6.csv", [{"year": 1972 + (i + 1) // 4, "quarter": 1 + (i + 1) % 4, "Dp": r["load"], "R": r["temp"]}
                                           for i, r in enumerate(rows)])
    plain = write_csv(tmp_path / "plain.csv", [{"Dp": r["load"], "R": r["temp"]} for r in rows])
    with caplog.at_level("INFO"):
        dm = ForecastDataModule(train_files=str(path), window=5)
        dm.setup()
    assert "left out: year and quarter (a year and its quarter, month or the like" in caplog.text
    other = ForecastDataModule(train_files=str(plain), window=5)
    other.setup()
    assert dm.state_dict()["columns"] == ["Dp", "R"] == other.state_dict()["columns"]
    assert torch.equal(dm.split("test")[0][0], other.split("test")[0][0])
    months = write_csv(tmp_path / "months.csv", [{"month": 1 + i % 12, "Dp": r["load"], "R": r["temp"]} for i, r in enumerate(rows)])
    kept = ForecastDataModule(train_files=str(months), window=5)
    kept.setup()
    assert kept.state_dict()["columns"] == ["month", "Dp", "R"]


def test_dates_newest_first_beside_a_row_index_are_refused(tmp_path: Path) -> None:
    """A file of dates from newest to oldest saved with pandas' row index (`Unnamed: 0`: 0, 1, 2, ...): the index was taken
    for the time (it rises), so the series trained backwards with exit 0. The dates are the time now."""
    rows = [{"": i, "date": f"{2000 + (59 - i) // 12}-{1 + (59 - i) % 12:02d}-01", "load": r["load"]} for i, r in enumerate(series_rows(60))]
    path = write_csv(tmp_path / "newest_first.csv", rows)
    for columns in (["load"], None):
        with pytest.raises(DataError, match="row 2, column 'date': 2004-11-01 comes before the row above \\(2004-12-01\\)"):
            ForecastDataModule(train_files=str(path), columns=columns, window=5).setup()


def test_a_column_of_percentages_left_out_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`10.5%` is text to a CSV reader: with columns=None such a column was left out, named without a reason."""
    rows = [{"date": f"{2000 + i // 12}-{1 + i % 12:02d}-01", "load": r["load"], "growth": f"{r['temp']:.1f}%"}
            for i, r in enumerate(series_rows(48))]
    with caplog.at_level("INFO"):
        ForecastDataModule(train_files=str(write_csv(tmp_path / "growth.csv", rows)), window=5).setup()
    assert ("using every numeric column (load); left out: date (the time), growth (text; 48 of the column's 48 cells hold a "
            "percent sign: numbers are read as Python's float reads them (write 12.5 for 12.5%))") in caplog.text
