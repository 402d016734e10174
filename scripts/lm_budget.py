"""Validation loss of the Shakespeare language model after fixed wall-clock budgets.

    python scripts/lm_budget.py                          # LSTM and GRU, 3 and 10 minutes
    python scripts/lm_budget.py --models lstm --minutes 1 2

Each model trains once (`experiment=shakespeare_lm model=<m>`), validating every minute of
training on the whole validation split (stateful streams, full context); the validation after
minute k is the loss "after k minutes". By default the models run one after another with torch's
default threads; `--parallel` runs them side by side with one thread each (never two threads
each on two cores: that runs several times slower). Prints a markdown table, writes `lm_budget.json`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def val_losses(run_dir: Path) -> list[float]:
    """val/loss of each validation, in order."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [float(row["val/loss"]) for row in csv.DictReader(f) if row.get("val/loss")]


def train(model: str, minutes: int, run_dir: Path, threads: int | None) -> subprocess.Popen:
    args = [
        "experiment=shakespeare_lm", f"model={model}", "trainer.max_epochs=1000",
        f"trainer.max_time=00:00:{minutes:02d}:20", "trainer.val_check_interval=00:00:01:00",
        "trainer.check_val_every_n_epoch=null", "logger=csv", "test=false", "sample_length=0",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "WANDB_MODE": "offline"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, env=env)


def positive_minutes(value: str) -> int:
    """A budget in whole minutes, at least 1 (0 or -1 read the last validation's loss as the loss after them)."""
    try:
        minutes = int(value)
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: budgets are whole minutes, at least 1")
    return minutes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lm_budget.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lstm", "gru"])
    parser.add_argument("--minutes", nargs="+", type=positive_minutes, default=[3, 10])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "lm_budget")
    parser.add_argument("--parallel", action="store_true", help="all models at once, one thread each")
    args = parser.parse_args(argv)
    results = {}
    running = []
    for model in args.models:
        running.append((model, train(model, max(args.minutes), args.out / model, 1 if args.parallel else None)))
        if not args.parallel:
            running[-1][1].wait()
    for model, process in running:
        if process.wait() != 0:
            raise SystemExit(f"{model}: train.py failed (exit {process.returncode})")
        losses = val_losses(args.out / model)
        results[model] = {m: losses[m - 1] if len(losses) >= m else None for m in args.minutes}
    lines = ["| model | " + " | ".join(f"val after {m} min: nats (bits) per char" for m in args.minutes) + " |",
             "|---|" + "---|" * len(args.minutes)]
    for model, by_minute in results.items():
        cells = [f"{v:.3f} ({v / math.log(2):.3f})" if v is not None else "—" for v in by_minute.values()]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lm_budget.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
