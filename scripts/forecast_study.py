"""The study behind configs/recipe/forecast.yaml: `data=forecast` on public series, as a user would run it.

Each series ships inside a PyPI wheel (aeon: Airline, Lynx, ShampooSales, solar, Uschange; statsmodels:
co2, nile, elnino, macrodata, elec_equip, sunspots), but for the monthly sunspots seqtrain ships itself. The script reads it out of the wheel (downloaded once
with `pip download --no-deps`, as scripts/defaults_study.py does) and writes the CSV a user would have:
a time column and the value column, one row per step. Every run is
`python train.py data=forecast data.train_files=<csv> <candidate overrides>` (one torch thread each,
`--jobs N` at a time), split in time as the run splits it: train, then val (`data.val_fraction`), then
test (the last `data.test_fraction`).

Baselines, computed here on the same target steps (every step of a split, forecast one step ahead from
the steps before it):
- persistence: the previous value (the run prints its own; the script checks they agree);
- seasonal naive: the value one season before; the season is read off the autocorrelation of the
  differenced training steps (`season`: the first peak within 90 % of the highest);
- AR(p): least squares with an intercept on the training steps' targets, p (1 .. 24, at most a quarter
  of the training steps) chosen by val RMSE.
The relative measure is RMSE / persistence RMSE on the same split (below 1: better than persistence), so
series of any scale can be averaged.

    python scripts/forecast_study.py --stage validate --candidates current,auto,rel_last --jobs 2
    python scripts/forecast_study.py --stage final --seeds 42,1,2 --jobs 2   # the defaults alone, test split
    python scripts/forecast_study.py --stage final --unseen --seeds 42,1,2 --jobs 2   # the same on series no round chose on
    python scripts/forecast_study.py --stage validate --candidates ... --merge <out> <out> --out <table out>  # tables only
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import io
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("defaults_study", ROOT / "scripts" / "defaults_study.py")
defaults_study = importlib.util.module_from_spec(_spec)
sys.modules["defaults_study"] = defaults_study  # dataclasses look their module up
_spec.loader.exec_module(defaults_study)
wheel_path, run_train_py = defaults_study.wheel_path, defaults_study.run_train_py

VAL_FRACTION, TEST_FRACTION = 0.1, 0.2  # configs/data/forecast.yaml's; the baselines use the same split

Rows = tuple[list[str], np.ndarray]  # (time of each step, value of each step)


def _csv(wheel: Path, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(wheel) as z:
        return list(csv.DictReader(io.StringIO(z.read(member).decode())))


def _column(time: str, value: str) -> Callable[[list[dict[str, str]]], Rows]:
    return lambda rows: ([r[time] for r in rows], np.array([float(r[value]) for r in rows]))


def _co2(rows: list[dict[str, str]]) -> Rows:
    """Weekly CO2 (ppm) 1958-2001; 59 weeks are missing: filled by linear interpolation (a user has to fill them too)."""
    times = [f"{r['date'][:4]}-{r['date'][4:6]}-{r['date'][6:]}" for r in rows]
    values = np.array([float(r["co2"]) if r["co2"].strip() else np.nan for r in rows])
    missing = np.isnan(values)
    values[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), values[~missing])
    return times, values


def _elnino(rows: list[dict[str, str]]) -> Rows:
    """Monthly sea surface temperature, one row per year in the file: one row per month here."""
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    times = [f"{float(r['YEAR']):.0f}-{m + 1:02d}" for r in rows for m in range(12)]
    return times, np.array([float(r[month]) for r in rows for month in months])


def _realgdp(rows: list[dict[str, str]]) -> Rows:
    """US real GDP, quarterly 1959-2009."""
    times = [f"{float(r['year']):.0f}-{3 * int(float(r['quarter'])) - 2:02d}" for r in rows]
    return times, np.array([float(r["realgdp"]) for r in rows])


def _elec_equip(rows: list[dict[str, str]]) -> Rows:
    """Euro area electrical equipment orders, monthly 1995-2016 (dates as 'Jan-1-1995')."""
    from datetime import datetime

    times = [datetime.strptime(r["DATE"], "%b-%d-%Y").strftime("%Y-%m") for r in rows]
    return times, np.array([float(r["STS.M.I7.W.TOVT.NS0016.4.000"]) for r in rows])


def _lynx(rows: list[dict[str, str]]) -> Rows:
    return [r[""] for r in rows], np.array([float(r["0"]) for r in rows])


def _pmdarima(source: str) -> Rows:
    """A `pmdarima.datasets` module's series: the numbers of its `rslt = np.array([...])` literal (read with `ast`, not
    run; `.astype(dtype)` after it or not), its missing values (`None` or `np.nan`: ausbeer's empty last quarter) left
    out; the time column is the step."""
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["rslt"]):
            continue
        for call in ast.walk(node.value):  # np.array([...]), maybe inside .astype(dtype)
            if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.List):
                cells = [None if isinstance(e, ast.Attribute) and e.attr == "nan" else ast.literal_eval(e) for e in call.args[0].elts]
                values = np.array([np.nan if cell is None else float(cell) for cell in cells])
                values = values[~np.isnan(values)]
                return [str(i) for i in range(len(values))], values
    raise ValueError("no `rslt = np.array([...])` literal in this pmdarima dataset module")


@dataclass(frozen=True)
class Series:
    """One series of the study: where it is, how to read it, and the CSV's column names."""

    name: str
    wheel: str
    member: str
    read: Callable[[list[dict[str, str]]], Rows]
    time: str
    value: str
    about: str


SERIES = [
    Series("Airline", "aeon", "aeon/datasets/data/Airline/Airline.csv", _column("Date", "Passengers"), "month", "passengers",
           "monthly airline passengers 1949-1960: trend and growing yearly season"),
    Series("Lynx", "aeon", "aeon/datasets/data/Lynx/Lynx.csv", _lynx, "year", "lynx", "yearly lynx trappings 1821-1934: ~10-year cycle"),
    Series("ShampooSales", "aeon", "aeon/datasets/data/ShampooSales/ShampooSales.csv", _column("Time", "Sales"), "month", "sales",
           "monthly shampoo sales, 3 years: short, trending"),
    Series("Solar", "aeon", "aeon/datasets/data/solar/solar.csv", _column("datetime_gmt", "solar_gen"), "time", "solar_gen",
           "half-hourly solar generation, 6 days: daily season, zero at night"),
    Series("UsConsumption", "aeon", "aeon/datasets/data/Uschange/Uschange.csv", _column("Quarter", "Consumption"), "quarter", "consumption",
           "US consumption, quarterly % change 1970-2016: no trend, noisy"),
    Series("CO2", "statsmodels", "statsmodels/datasets/co2/co2.csv", _co2, "week", "co2", "weekly Mauna Loa CO2 1958-2001: trend and season"),
    Series("Nile", "statsmodels", "statsmodels/datasets/nile/nile.csv", _column("year", "volume"), "year", "volume",
           "yearly Nile flow 1871-1970: a level shift"),
    Series("ElNino", "statsmodels", "statsmodels/datasets/elnino/elnino.csv", _elnino, "month", "temperature",
           "monthly sea surface temperature 1950-2010: yearly season"),
    Series("RealGDP", "statsmodels", "statsmodels/datasets/macrodata/macrodata.csv", _realgdp, "quarter", "realgdp",
           "US real GDP, quarterly 1959-2009: strong trend"),
    Series("ElecEquip", "statsmodels", "statsmodels/datasets/elec_equip/elec_equip.csv", _elec_equip, "month", "orders",
           "euro area electrical equipment orders, monthly 1995-2016: season and cycle"),
    Series("SunspotsMonthly", "seqtrain", "seqtrain/data/assets/sunspots_monthly.csv.xz", _column("month", "sunspots"), "month",
           "sunspots", "monthly sunspot numbers 1749-2009 (data=sunspots' series; the recipe was chosen on it)"),
    Series("SunspotsYearly", "statsmodels", "statsmodels/datasets/sunspots/sunspots.csv", _column("YEAR", "SUNACTIVITY"), "year",
           "sunactivity", "yearly sunspot numbers 1700-2008: ~11-year cycle"),
]

#: Series no round chose on, to see how the defaults carry over (`--unseen`): the `pmdarima==2.0.4` wheel's dataset
#: modules (R's forecast / datasets packages), read from their literal arrays; one column, the time a step number.
UNSEEN = [
    Series(name, "pmdarima", f"pmdarima/datasets/{name}.py", _pmdarima, "step", "value", about)
    for name, about in (("wineind", "Australian wine sales, monthly 1980-1994: strong yearly season"),
                        ("woolyrnq", "Australian woollen yarn production, quarterly 1965-1994: season"),
                        ("ausbeer", "Australian beer production, quarterly 1956-2008: trend and season"),
                        ("austres", "Australian residents, quarterly 1971-1993: smooth growth"),
                        ("heartrate", "heart rate, 150 half-second steps: close to noise"))
]

#: The recipe the study started from (the sunspots one): every candidate is these keys with its own changes, all
#: given on the command line, so a candidate means the same settings whatever configs/recipe/forecast.yaml says now.
BEFORE = {"data.window": "48", "data.scale": "minmax", "model.relative_to": "null", "model.ar_highway": "null", "model.cell": "lstm",
          "model.hidden_size": "64",
          "optimizer.lr": "0.001", "task.random_scaling": "null"}


def _candidate(**changes: str) -> list[str]:
    """The overrides of a candidate: `BEFORE` with `changes` (keys with `__` for dots: data__window=auto)."""
    keys = {**BEFORE, **{k.replace("__", "."): v for k, v in changes.items()}}
    return [f"{k}={v}" for k, v in keys.items()]


AUTO, LAST, STD = {"data__window": "auto"}, {"model__relative_to": "last"}, {"data__scale": "standard"}
CANDIDATES = {
    "current": _candidate(),  # the recipe before this study
    "auto": _candidate(**AUTO),
    "rel_last": _candidate(**AUTO, **LAST),
    "rel_mean": _candidate(**AUTO, model__relative_to="mean"),
    "rel_last_w48": _candidate(**LAST),
    "rel_last_std": _candidate(**AUTO, **LAST, **STD),
    "rel_last_gru": _candidate(**AUTO, **LAST, model__cell="gru"),
    "rel_last_h32": _candidate(**AUTO, **LAST, model__hidden_size="32"),
    "rel_last_h128": _candidate(**AUTO, **LAST, model__hidden_size="128"),
    "rel_last_lr003": _candidate(**AUTO, **LAST, optimizer__lr="0.003"),
    "rel_last_lr0003": _candidate(**AUTO, **LAST, optimizer__lr="0.0003"),
    # Round two, after round one's best (standard scaling with relative_to=last):
    "rel_mean_std": _candidate(**AUTO, **STD, model__relative_to="mean"),
    "rel_last_std_h128": _candidate(**AUTO, **LAST, **STD, model__hidden_size="128"),
    "rel_last_std_lr003": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003"),
    # Round three, the linear AR highway beside the network (model.ar_highway), against the recipe of rounds one and two
    # (`recipe`: rel_last_std_lr003 under its own name, the `current` of this round):
    "recipe": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003"),
    "hw": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", model__ar_highway="auto"),
    "hw_lr001": _candidate(**AUTO, **LAST, **STD, model__ar_highway="auto"),
    "hw_wd01": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", optimizer__weight_decay="0.1", model__ar_highway="auto"),
    # Round four, the highway started at (or kept at) the least-squares AR fit on the training windows
    # (model.ar_highway_fit), against the same recipe:
    "hw_ls": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", model__ar_highway="auto", model__ar_highway_fit="start"),
    "hw_fixed": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", model__ar_highway="auto", model__ar_highway_fit="fixed"),
    # Round five, each training window scaled by a random factor in [1/s, s] (task.random_scaling), against the same recipe:
    "scale115": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", task__random_scaling="1.15"),
    "scale13": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", task__random_scaling="1.3"),
    "scale15": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", task__random_scaling="1.5"),
    # Round six, round four's least-squares AR highway on round five's recipe (scale13): round four's veto came from
    # the two series the random scaling then helped most (ShampooSales, Lynx), so it is measured again on top of it.
    "s13_hw_ls": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", task__random_scaling="1.3", model__ar_highway="auto",
                            model__ar_highway_fit="start"),
    "s13_hw_fixed": _candidate(**AUTO, **LAST, **STD, optimizer__lr="0.003", task__random_scaling="1.3",
                               model__ar_highway="auto", model__ar_highway_fit="fixed"),
    "defaults": [],  # the final stage: whatever configs/recipe/forecast.yaml says now
}


def load(series: Series, cache: Path) -> Rows:
    if series.wheel == "seqtrain":  # shipped in this repository (configs/data/sunspots.yaml reads it)
        from seqtrain.shipped import monthly_sunspots

        months, values = monthly_sunspots()
        return months, np.array(values, dtype=float)
    if series.member.endswith(".py"):  # a dataset module: its literal array (`_pmdarima`)
        with zipfile.ZipFile(wheel_path(series.wheel, cache)) as z:
            return series.read(z.read(series.member).decode())
    return series.read(_csv(wheel_path(series.wheel, cache), series.member))


def write_series(path: Path, series: Series, rows: Rows) -> Path:
    """The CSV a user would have: `<time>,<value>`, one row per step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([series.time, series.value])
        writer.writerows([t, f"{v:.10g}"] for t, v in zip(*rows))
    return path


# -- baselines on the run's own split ---------------------------------------------------------------


def split_bounds(n: int) -> dict[str, tuple[int, int]]:
    """The steps of each split, as ForecastDataModule cuts one series."""
    val_start, test_start = int(n * (1 - VAL_FRACTION - TEST_FRACTION)), int(n * (1 - TEST_FRACTION))
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def season(train: np.ndarray) -> int:
    """The season of the training steps: on the autocorrelation of their differences (a trend would hide it), past the
    lag where it first turns negative (the steps' own smoothness), the smallest peak within 90 % of the highest, up to
    a third of the training steps (2 if there is none)."""
    d = np.diff(train) - np.diff(train).mean()
    acf = np.array([1.0] + [float(np.dot(d[:-k], d[k:]) / np.dot(d, d)) for k in range(1, max(3, len(train) // 3))])
    negative = np.flatnonzero(acf < 0)
    if not len(negative):
        return 2
    lags = np.arange(max(2, negative[0]), len(acf) - 1)
    peaks = [k for k in lags if acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1]]
    if not peaks:
        return 2
    highest = max(acf[k] for k in peaks)
    return int(min(k for k in peaks if acf[k] >= 0.9 * highest))


def ar_fit(y: np.ndarray, p: int, end: int) -> np.ndarray:
    """AR(p) with an intercept by least squares on the targets t in [p, end): coefficients (p + 1,)."""
    X = np.stack([y[t - p : t] for t in range(p, end)])
    X = np.hstack([X, np.ones((len(X), 1))])
    return np.linalg.lstsq(X, y[p:end], rcond=None)[0]


def ar_predict(y: np.ndarray, coef: np.ndarray, start: int, end: int) -> np.ndarray:
    p = len(coef) - 1
    return np.array([np.dot(y[t - p : t], coef[:p]) + coef[p] for t in range(start, end)])


def baselines(y: np.ndarray) -> dict:
    """Persistence, seasonal naive and AR(p) RMSE on the val and test steps (one step ahead, from the steps before)."""
    bounds = split_bounds(len(y))
    train_end = bounds["train"][1]
    m = season(y[:train_end])
    out: dict = {"season": m}
    for split in ("val", "test"):
        start, end = bounds[split]
        out[f"persistence_{split}"] = rmse(y[start - 1 : end - 1], y[start:end])
        out[f"seasonal_{split}"] = rmse(y[start - m : end - m], y[start:end])
    max_p = max(1, min(24, train_end // 4))
    val_scores = {p: rmse(ar_predict(y, ar_fit(y, p, train_end), *bounds["val"]), y[slice(*bounds["val"])]) for p in range(1, max_p + 1)}
    p = min(val_scores, key=val_scores.get)
    coef = ar_fit(y, p, train_end)
    out |= {"ar_p": p, "ar_val": val_scores[p], "ar_test": rmse(ar_predict(y, coef, *bounds["test"]), y[slice(*bounds["test"])])}
    out["steps"] = {k: list(v) for k, v in bounds.items()}
    return out


# -- runs -------------------------------------------------------------------------------------------


def run(csv_path: Path, overrides: list[str], run_dir: Path, threads: int) -> dict:
    """One `python train.py data=forecast data.train_files=<csv>` run: val/test RMSE, the run's own persistence, wall time."""
    metrics = run_train_py(["data=forecast", f"data.train_files={csv_path}"], overrides, run_dir, threads)
    if metrics.get("status") != "completed":
        return {"status": metrics.get("status"), "error": metrics.get("error"), "seconds": metrics.get("wall_seconds") or metrics.get("seconds")}
    baseline = metrics.get("baseline", {})
    return {
        "status": "completed", "val": metrics["val"]["val/rmse"], "test": metrics["test"]["test/rmse"],
        "run_persistence_val": baseline.get("val", {}).get("val/rmse"), "run_persistence_test": baseline.get("test", {}).get("test/rmse"),
        "seconds": metrics["wall_seconds"],
    }


def study(chosen: list[Series], candidates: list[str], seeds: list[int], out: Path, cache: Path, threads: int, jobs: int,
          extra: list[str]) -> dict:
    """Every (series, candidate, seed) run not yet completed in <out>/results.json, `jobs` at a time; the baselines."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"baselines": {}, "runs": {}}
    todo = []
    for s in chosen:
        rows = load(s, cache)
        csv_path = write_series(out / "data" / f"{s.name}.csv", s, rows)
        results["baselines"][s.name] = {"steps_total": len(rows[1]), "about": s.about, **baselines(rows[1])}
        for name in candidates:
            for seed in seeds:
                key = f"{s.name}/{name}/seed{seed}"
                if results["runs"].get(key, {}).get("status") != "completed":
                    todo.append((key, csv_path, [*CANDIDATES[name], f"seed={seed}", *extra], out / "runs" / s.name / name / f"seed{seed}"))
    results_file.write_text(json.dumps(results, indent=1) + "\n")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(run, csv_path, overrides, run_dir, threads): key for key, csv_path, overrides, run_dir in todo}
        for done in as_completed(running):
            key = running[done]
            results["runs"][key] = done.result()
            r = results["runs"][key]
            print(f"{key}: val {r.get('val')} test {r.get('test')} ({r.get('seconds')} s) {r['status']}", flush=True)
            results_file.write_text(json.dumps(results, indent=1) + "\n")
    return results


def reuse(source: Path, candidate: str, name: str, out: Path) -> None:
    """Copy `source`'s completed runs of `candidate` into <out>/results.json as runs of `name` (marked `reused`)."""
    found = json.loads((source / "results.json").read_text())
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"baselines": {}, "runs": {}}
    for key, r in found["runs"].items():
        series, which, seed = key.split("/")
        if which == candidate and r.get("status") == "completed":
            results["runs"][f"{series}/{name}/{seed}"] = {**r, "reused": f"{source}: {key}"}
    results_file.write_text(json.dumps(results, indent=1) + "\n")


def check_persistence(results: dict) -> list[str]:
    """Where a run's own persistence baseline differs from the script's on the same split (the splits disagree)."""
    problems = []
    for key, r in results["runs"].items():
        b = results["baselines"].get(key.split("/")[0])
        if r.get("status") == "completed" and b is not None:
            for split in ("val", "test"):
                theirs, ours = r.get(f"run_persistence_{split}"), b[f"persistence_{split}"]
                if theirs is not None and abs(theirs - ours) > 1e-3 * max(1.0, ours):
                    problems.append(f"{key}: the run's persistence {split} RMSE {theirs:.6g}, the script's {ours:.6g}")
    return problems


def mean_runs(results: dict, series: str, candidate: str, split: str) -> tuple[float | None, float | None, int]:
    """Mean RMSE and wall time over the completed seeds of (series, candidate), and their count."""
    found = [r for k, r in results["runs"].items() if k.startswith(f"{series}/{candidate}/") and r.get("status") == "completed"]
    if not found:
        return None, None, 0
    return float(np.mean([r[split] for r in found])), float(np.mean([r["seconds"] for r in found])), len(found)


def validation_table(results: dict, names: list[str], candidates: list[str], against: str = "current") -> str:
    """Series x candidate: val RMSE / persistence val RMSE (mean over seeds); the mean ratio, and the worst ratio to `against`
    (the recipe the rule protects: `current` in rounds one and two, `recipe` after)."""
    lines = ["| series | " + " | ".join(candidates) + " | AR(p) | seasonal naive |", "|---" * (len(candidates) + 3) + "|"]
    ratios: dict[str, list[float]] = {c: [] for c in candidates}
    against_current: dict[str, list[float]] = {c: [] for c in candidates}
    for name in names:
        b = results["baselines"][name]
        cells = []
        current, _, _ = mean_runs(results, name, against, "val")
        for c in candidates:
            value, seconds, count = mean_runs(results, name, c, "val")
            if value is None:
                cells.append("refused" if any(k.startswith(f"{name}/{c}/") for k in results["runs"]) else "—")
                continue
            ratio = value / b["persistence_val"]
            ratios[c].append(ratio)
            if current is not None:
                against_current[c].append(value / current)
            cells.append(f"{ratio:.3f} ({value:.4g}; {count} x {seconds:.0f} s)")
        cells += [f"{b['ar_val'] / b['persistence_val']:.3f} (p={b['ar_p']})", f"{b['seasonal_val'] / b['persistence_val']:.3f} (m={b['season']})"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **mean ratio** | " + " | ".join(f"{np.mean(ratios[c]):.3f} ({len(ratios[c])} series)" if ratios[c] else "—" for c in candidates) + " | | |")
    lines.append(f"| worst vs {against} | " + " | ".join(f"{max(against_current[c]):.3f}" if against_current[c] else "—" for c in candidates) + " | | |")
    return "\n".join(lines)


def final_table(results: dict, names: list[str], candidate: str) -> str:
    """Series: test RMSE of `candidate` (each seed, mean) against persistence, seasonal naive and AR(p); ratios to persistence."""
    lines = ["| series | steps (train / val / test) | seqtrain test RMSE, each seed | mean | / persistence | persistence | seasonal naive | AR(p) | wall time (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    ratios, ar_ratios, sn_ratios = [], [], []
    for name in names:
        b = results["baselines"][name]
        runs = sorted((k, r) for k, r in results["runs"].items() if k.startswith(f"{name}/{candidate}/"))
        done = [r for _, r in runs if r.get("status") == "completed"]
        steps = " / ".join(str(e - s) for s, e in b["steps"].values())
        if not done:
            lines.append(f"| {name} | {steps} | refused / failed | | | {b['persistence_test']:.4g} | | | |")
            continue
        mean = float(np.mean([r["test"] for r in done]))
        ratios.append(mean / b["persistence_test"])
        ar_ratios.append(b["ar_test"] / b["persistence_test"])
        sn_ratios.append(b["seasonal_test"] / b["persistence_test"])
        each = " / ".join(f"{r['test']:.4g}" for r in done)
        seconds = " / ".join(f"{r['seconds']:.0f}" for r in done)
        lines.append(
            f"| {name} | {steps} | {each} | {mean:.4g} | {ratios[-1]:.3f} | {b['persistence_test']:.4g} | "
            f"{b['seasonal_test']:.4g} (m={b['season']}) | {b['ar_test']:.4g} (p={b['ar_p']}) | {seconds} |"
        )
    if ratios:
        lines.append(f"| **mean ratio to persistence** | | | | **{np.mean(ratios):.3f}** | 1 | {np.mean(sn_ratios):.3f} | {np.mean(ar_ratios):.3f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["validate", "final"], required=True)
    parser.add_argument("--only", help="comma-separated series (default: all): " + ",".join(s.name for s in SERIES))
    parser.add_argument("--candidates", default="current,rel_last", help="validate stage: " + ",".join(CANDIDATES))
    parser.add_argument("--against", default="current", help="validate stage: the candidate the rule compares every other "
                        "with, per series (no more than 10 %% worse): the recipe before the round")
    parser.add_argument("--seeds", default="42", help="comma-separated seeds; each run trains with seed=<seed>")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "forecast_study")
    parser.add_argument("--wheels", type=Path, default=ROOT / "outputs" / "wheels", help="where the data wheels are kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each with --threads threads)")
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every run (e.g. trainer.max_epochs=2 for a smoke test)")
    parser.add_argument("--reuse", nargs=3, metavar=("OUT", "FROM", "AS"), action="append", default=[],
                        help="take OUT's runs of candidate FROM as this out's runs of candidate AS (the same settings: e.g. the "
                             "final stage's `defaults` are the chosen candidate) instead of repeating them (a run is deterministic: "
                             "the same settings and seed give the same digits)")
    parser.add_argument("--merge", nargs="*", type=Path, default=[],
                        help="table only: these outs' results.json merged (later ones win) into <out>/<stage>.md; no runs")
    parser.add_argument("--unseen", action="store_true", help="the series no round chose on (UNSEEN: pmdarima's), not the "
                        "study's; with --stage final: how the defaults carry over")
    args = parser.parse_args()
    every = UNSEEN if args.unseen else SERIES
    names = args.only.split(",") if args.only else [s.name for s in every]
    if unknown := set(names) - {s.name for s in every}:
        raise SystemExit(f"unknown series {sorted(unknown)}" + (" (--unseen takes: " if args.unseen else " (known: ")
                         + ", ".join(s.name for s in every) + ")")
    chosen = [s for s in every if s.name in names]
    candidates = ["defaults"] if args.stage == "final" else args.candidates.split(",")
    if unknown := set(candidates) - set(CANDIDATES):
        raise SystemExit(f"unknown candidates {sorted(unknown)} (known: {', '.join(CANDIDATES)})")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:  # runs made apart (e.g. one long series beside the others), side by side
        results = {"baselines": {}, "runs": {}}
        for folder in args.merge:
            found = json.loads((folder / "results.json").read_text())
            results["baselines"] |= found["baselines"]
            results["runs"] |= found["runs"]
        names = [s.name for s in every if s.name in results["baselines"] and s.name in names]
    else:
        for source, candidate, name in args.reuse:
            reuse(Path(source), candidate, name, args.out)
        results = study(chosen, candidates, [int(s) for s in args.seeds.split(",")], args.out, args.wheels, args.threads, args.jobs, args.set)
    if problems := check_persistence(results):
        print("warning: the runs' splits differ from the script's:\n  " + "\n  ".join(problems))
    table = final_table(results, names, "defaults") if args.stage == "final" else validation_table(results, names, candidates, args.against)
    (args.out / f"{args.stage}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
