"""Train the default experiment of every shipped dataset and tabulate it beside the dataset's baseline.

    python scripts/results.py                                   # everything, one run at a time, 1 thread (~20 min on 2 cores)
    python scripts/results.py --only vowels_bigru,sunspots_forecast
    python scripts/results.py --quick                           # every row, a few steps each: checks the script end to end
    python scripts/results.py --only parity --set parity:model.hidden_size=32   # extra Hydra overrides for one row

Each row is one `python train.py experiment=<name> logger=none hydra.run.dir=<out>/<row> [overrides]`,
run in a subprocess, one after another, with OMP_NUM_THREADS / MKL_NUM_THREADS set to `--threads`.
The row's numbers are read back from the run's `metrics.json` (through `scripts/summarize.py`);
a run that fails or diverges is a row marked so, with its error, and the others still run. The
baselines come from `scripts/data_report.py`: computed on the same test split, or labelled as
quoted / analytic when measured elsewhere. Sizes are the examples per split of the data config
the run used. Writes `results.md` and `results.json` into `--out` (default `outputs/results`);
each row's run directory `<out>/<row>` is replaced when that row runs again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import data_report  # scripts/ is not a package: imported from the path above
import summarize

Baseline = tuple[str, str, str]  # (what, test score, source)


@cache
def _sunspots() -> dict[str, float]:
    return data_report.sunspots_baselines()


@cache
def _truecase() -> dict[str, float]:
    return data_report.truecase_baselines()


def shakespeare_baselines() -> list[Baseline]:
    bits = data_report.shakespeare_unigram_bits()
    return [("character frequencies (unigram)", f"{bits:.3f} bits/char", "computed"), data_report.QUOTED_BASELINES["shakespeare_lstm"]]


def sunspots_baselines() -> list[Baseline]:
    sun = _sunspots()
    return [
        ("persistence", f"{sun['persistence']:.2f} RMSE", "computed"),
        ("linear AR(24), fitted on the training months", f"{sun['ar24_train']:.2f} RMSE", "computed"),
    ]


def truecase_baselines(both_sides: bool) -> list[Baseline]:
    case = _truecase()
    if both_sides:
        return [("majority case per (previous, current, next) char", f"{case['prev_char_next']:.4f} accuracy", "computed")]
    return [("majority case per (previous, current) char", f"{case['prev_char']:.4f} accuracy", "computed")]


def quoted(key: str) -> Callable[[], list[Baseline]]:
    return lambda: [data_report.QUOTED_BASELINES[key]]


@dataclass
class Row:
    """One row of the table: an experiment, with overrides, on its dataset."""

    name: str  # row name and run directory
    experiment: str
    overrides: list[str]
    dataset: str
    task: str
    metric: str  # the test metric shown, from metrics.json
    metric_label: str
    baselines: Callable[[], list[Baseline]]
    unit: Callable[[Any], str]  # what one example is, from the composed config
    quick: list[str] = field(default_factory=list)  # extra overrides for --quick (on top of QUICK)


ROWS = [
    Row("shakespeare_lm", "shakespeare_lm", [], "Shakespeare, 38 plays", "next-character LM", "test/bpt", "bits/char",
        shakespeare_baselines, lambda c: "chars (as streams)" if c.data.stateful else f"windows of {c.data.seq_len} chars",
        ["data.max_chars=100000"]),
    Row("vowels_bigru", "vowels_bigru", [], "Japanese Vowels (UCI)", "classification, 9 speakers", "test/acc", "accuracy",
        quoted("vowels_1nn_dtw"), lambda c: "series"),
    Row("adding_lstm", "adding", ["model=lstm"], "adding problem, length 200", "regression, many-to-one", "test/mse", "MSE",
        quoted("adding_mean"), lambda c: f"sequences of {c.data.seq_len}"),
    Row("adding_gru", "adding", ["model=gru"], "adding problem, length 200", "regression, many-to-one", "test/mse", "MSE",
        quoted("adding_mean"), lambda c: f"sequences of {c.data.seq_len}"),
    Row("adding_rnn", "adding", ["model=rnn"], "adding problem, length 200", "regression, many-to-one", "test/mse", "MSE",
        quoted("adding_mean"), lambda c: f"sequences of {c.data.seq_len}"),
    Row("sunspots_forecast", "sunspots_forecast", [], "monthly sunspots 1749-2009", "one-step forecast", "test/rmse", "RMSE",
        sunspots_baselines, lambda c: f"windows of {c.data.window} months"),
    Row("truecase_bilstm", "truecase_bilstm", [], "Truecase (Shakespeare lower-cased)", "tagging per char, bidirectional",
        "test/acc", "accuracy", lambda: truecase_baselines(True), lambda c: f"windows of {c.data.seq_len} chars",
        ["data.max_chars=100000"]),
    Row("truecase_lstm", "truecase_bilstm", ["model.bidirectional=false"], "Truecase (Shakespeare lower-cased)",
        "tagging per char, unidirectional", "test/acc", "accuracy", lambda: truecase_baselines(False),
        lambda c: f"windows of {c.data.seq_len} chars", ["data.max_chars=100000"]),
    Row("parity", "parity", [], "parity (synthetic)", "running-parity tagging", "test/acc", "accuracy",
        quoted("parity_chance"), lambda c: f"sequences of {c.data.min_len}-{c.data.seq_len}"),
]

#: --quick: a couple of steps and batches of everything, no LM sample.
QUICK = [
    "trainer.max_epochs=1", "trainer.max_steps=2", "trainer.limit_train_batches=2", "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2", "trainer.val_check_interval=null", "sample_length=0",
]


def run_overrides(row: Row, quick: bool, extra: list[str]) -> list[str]:
    return [f"experiment={row.experiment}", "logger=none", *row.overrides, *((QUICK + row.quick) if quick else []), *extra]


def split_sizes(overrides: list[str], unit: Callable[[Any], str], run_dir: Path | None = None) -> str:
    """"train / val / test <unit>" of the data config the run used (set up here, no training): its run directory's
    `config.yaml`, which holds what the rules settled once the data was read (the small-set rule's
    `data.val_fraction=0`), or, without one, the config these overrides compose."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    if run_dir is not None and (run_dir / "config.yaml").is_file():
        cfg = OmegaConf.load(run_dir / "config.yaml")
    else:
        with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
            cfg = compose("train", overrides=[*overrides, "paths.output_dir=unused"])
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return " / ".join(f"{n:,}" for n in data_report.split_sizes(datamodule)) + f" {unit(cfg)}"


def error_of(stderr: str) -> str:
    """The exception at the end of a failed run's stderr ("ValueError: ..." and its continuation lines)."""
    lines = [line for line in stderr.splitlines() if "HYDRA_FULL_ERROR" not in line]
    starts = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", line)]
    text = "\n".join(lines[starts[-1]:]).strip() if starts else "\n".join(lines[-3:]).strip()
    return text[-1000:] or "no error message"


def train(row: Row, out: Path, overrides: list[str], threads: int, timeout: float | None) -> dict[str, Any]:
    """Run one row's training; its status, metrics (val and test), seconds and error."""
    run_dir = out / row.name
    if run_dir.exists():
        shutil.rmtree(run_dir)  # never read an older run's metrics.json
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WANDB_MODE": "offline"}
    command = [sys.executable, str(ROOT / "train.py"), *overrides, f"hydra.run.dir={run_dir}"]
    print(f"[{row.name}] {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        returncode, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        returncode, stderr = None, (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    wall = round(time.monotonic() - started, 1)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stderr.log").write_text(stderr)
    if (run_dir / ".hydra" / "overrides.yaml").is_file():
        job = summarize.read_job(run_dir, out)  # status, metrics and error from metrics.json
        status, metrics, error, seconds = job.status, job.metrics, job.error, job.seconds
    else:  # Hydra stopped before the job started (e.g. an unknown config key)
        status, metrics, error, seconds = "incomplete", {}, None, None
    if returncode is None:
        status, error = "failed", f"timed out after {timeout:g} s"
    elif status == "incomplete" or (returncode != 0 and status == "completed"):
        status, error = "failed", error or error_of(stderr)
    elif status == "completed" and not all(math.isfinite(v) for v in metrics.values()):
        status = "diverged"
    result = {"status": status, "val": {k: v for k, v in metrics.items() if k.startswith("val/")},
              "test": {k: v for k, v in metrics.items() if k.startswith("test/")},
              "seconds": seconds, "process_seconds": wall, "error": error, "run_dir": str(run_dir), "returncode": returncode}
    shown = f"{row.metric}={metrics[row.metric]:.4g}" if row.metric in metrics else (error or "").split("\n")[0]
    print(f"[{row.name}] {status} in {wall:.0f} s: {shown}", flush=True)
    return result


def format_metric(value: float | None, label: str) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} {label}" if label == "MSE" else f"{value:.4f} {label}" if label == "accuracy" else f"{value:.3f} {label}"


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        baseline = "; ".join(f"{what}: {score}" + ("" if source == "computed" else f" ({source})") for what, score, source in r["baselines"])
        if r["status"] == "completed":
            seqtrain = format_metric(r["test"].get(r["metric"]), r["metric_label"])
        else:
            message = " ".join((r["error"] or "").split())
            seqtrain = f"**{r['status']}**: {message[:200]}".replace("|", "\\|")
        seconds = r["seconds"] if r["seconds"] is not None else r["process_seconds"]
        rows.append([f"`{r['name']}`", r["dataset"], r["task"], r["size"], baseline, seqtrain, f"{seconds:.0f} s" if seconds is not None else "—"])
    return data_report.markdown_table(
        ["experiment", "dataset", "task", "size (train / val / test)", "baseline (test)", "seqtrain (test)", "run time"], rows
    )


def machine(threads: int) -> dict[str, Any]:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "threads_per_run": threads, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def select(only: str | None) -> list[Row]:
    if not only:
        return list(ROWS)
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in wanted if not any(n in (row.name, row.experiment) for row in ROWS)]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {[row.name for row in ROWS]} (or an experiment name)")
    return [row for row in ROWS if row.name in wanted or row.experiment in wanted]


def parse_sets(values: list[str], rows: list[Row]) -> dict[str, list[str]]:
    """--set ROW:KEY=VALUE -> {row: [KEY=VALUE, ...]}; ROW may be `all`."""
    extra: dict[str, list[str]] = {row.name: [] for row in rows}
    for value in values:
        name, sep, override = value.partition(":")
        if not sep or "=" not in override:
            raise SystemExit(f"--set wants ROW:KEY=VALUE, got {value!r}")
        targets = [row.name for row in rows] if name == "all" else [name]
        for target in targets:
            if target not in extra:
                raise SystemExit(f"--set {value!r}: {target!r} is not a selected row ({list(extra)})")
            extra[target].append(override)
    return extra


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "results")
    parser.add_argument("--only", help="comma-separated row or experiment names (default: all): " + ",".join(r.name for r in ROWS))
    parser.add_argument("--quick", action="store_true", help="a few steps per run: checks the script, the numbers mean nothing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (OMP_NUM_THREADS), default 1")
    parser.add_argument("--set", action="append", default=[], metavar="ROW:KEY=VALUE", help="an extra Hydra override for one row (or all:)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before a run is stopped and marked failed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = select(args.only)
    extra = parse_sets(args.set, rows)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)  # the baselines and sizes computed here, too
    args.out.mkdir(parents=True, exist_ok=True)

    results = []
    for row in rows:
        overrides = run_overrides(row, args.quick, extra[row.name])
        result = {"name": row.name, "experiment": row.experiment, "overrides": overrides, "dataset": row.dataset,
                  "task": row.task, "metric": row.metric, "metric_label": row.metric_label}
        result |= train(row, args.out, overrides, args.threads, args.timeout)
        try:
            result["size"] = split_sizes(overrides, row.unit, args.out / row.name)
        except Exception as e:  # noqa: BLE001 - a config that does not compose: the run failed on it too
            result["size"] = "—"
            result.setdefault("size_error", f"{type(e).__name__}: {e}")
        result["baselines"] = [list(b) for b in row.baselines()]
        results.append(result)

    markdown = table(results)
    header = (f"{'Quick check (a few steps per run; the numbers mean nothing). ' if args.quick else ''}"
              f"`python scripts/results.py{' --quick' if args.quick else ''}"
              f"{f' --only {args.only}' if args.only else ''}` on {machine(args.threads)['cpu']}, "
              f"{os.cpu_count()} cores, {args.threads} thread(s) per run, torch {torch.__version__}. "
              "Run time: the run's own wall time (data, training, validation, test; without Python start-up).")
    (args.out / "results.md").write_text(f"{header}\n\n{markdown}\n")
    total = round(time.monotonic() - started, 1)  # the whole script: runs, sizes and baselines
    report = {"quick": args.quick, "machine": machine(args.threads), "seconds": total, "rows": results}
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{header}\n\n{markdown}\n\nall in {total / 60:.1f} min; wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return results


if __name__ == "__main__":
    # Every row runs and the tables are written whatever happens to one; a row that failed or diverged then makes the
    # exit status 1, so a script or CI job that runs the table sees it (it exited 0 with a failed row in the table).
    bad = [f"{r['name']} ({r['status']})" for r in main() if r["status"] != "completed"]
    if bad:
        sys.exit(f"results.py: {len(bad)} row(s) did not complete: {', '.join(bad)} (see the table)")
