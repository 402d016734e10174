"""Measure what pruning buys on a hyper-parameter search: the same search with and without a pruner.

    python scripts/pruning_benefit.py                                  # vowels_gru, 20 trials, seeds 1 2 3, none vs median
    python scripts/pruning_benefit.py --pruners none median hyperband --seeds 1 2 --trials 12
    python scripts/pruning_benefit.py --quick                          # 3 trials of a few batches: checks the script end to end

For each seed and pruner: `python train.py -m hparams_search=<search> hydra/sweeper/pruner=<pruner>
seed=<seed> hydra.sweeper.sampler.seed=<seed> hydra.sweeper.n_trials=<trials> logger=none`, one
after another in a subprocess with OMP_NUM_THREADS / MKL_NUM_THREADS set to `--threads`, each in
its own sweep directory `<out>/<pruner>_seed<seed>` (replaced when rerun). From each study it reads
the best validation objective, every trial's wall time (Optuna's start and end stamps: the whole
job, training included) and how many validations each trial ran (its reports). Pruning pays when
its best objective lies within the spread of the unpruned searches' best over seeds while its
time is lower. Writes `pruning.md` and `pruning.json` into `--out` (default `outputs/pruning`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_search(search: str, pruner: str, seed: int, trials: int, sweep_dir: Path, threads: int, extra: list[str]) -> dict[str, Any]:
    """One search as a subprocess; its study's numbers."""
    if sweep_dir.exists():
        shutil.rmtree(sweep_dir)
    command = [
        sys.executable, str(ROOT / "train.py"), "-m", f"hparams_search={search}", f"hydra/sweeper/pruner={pruner}",
        f"seed={seed}", f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweeper.n_trials={trials}", "logger=none",
        f"hydra.sweep.dir={sweep_dir}", *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WANDB_MODE": "offline",
           "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)}\nfailed:\n{proc.stderr[-3000:]}")
    return study_numbers(sweep_dir, wall)


def study_numbers(sweep_dir: Path, wall: float) -> dict[str, Any]:
    import optuna
    import yaml

    from seqtrain.pruning import open_storage

    sweeper = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]["sweeper"]
    study = optuna.load_study(study_name=sweeper["study_name"], storage=open_storage(str(sweep_dir / "optuna.journal")))
    trials = study.trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {
        "best": study.best_value if complete else None,
        "best_params": study.best_params if complete else None,
        "states": {s: sum(t.state.name.lower() == s for t in trials) for s in ("complete", "pruned", "fail")},
        "trial_seconds": round(sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials), 1),
        "validations": sum(len(t.intermediate_values) for t in trials),
        "sweep_seconds": round(wall, 1),
    }


def report(results: dict[str, dict[int, dict[str, Any]]], baseline: str, args: argparse.Namespace) -> str:
    seeds = sorted(next(iter(results.values())))
    lines = [
        f"Search `{args.search}`, {args.trials} trials per search, seeds {', '.join(map(str, seeds))}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} thread(s).",
        "",
        "| pruner | seed | best val objective | complete / pruned / failed | validations run | trial seconds |",
        "|---|---|---|---|---|---|",
    ]
    for pruner, by_seed in results.items():
        for seed in seeds:
            r = by_seed[seed]
            s = r["states"]
            lines.append(f"| {pruner} | {seed} | {r['best']:.4f} | {s['complete']} / {s['pruned']} / {s['fail']} | "
                         f"{r['validations']} | {r['trial_seconds']:.0f} |")
    base_best = [results[baseline][s]["best"] for s in seeds]
    base_seconds = sum(results[baseline][s]["trial_seconds"] for s in seeds)
    base_validations = sum(results[baseline][s]["validations"] for s in seeds)
    lines += ["", f"`{baseline}`: best {statistics.mean(base_best):.4f} on average, {min(base_best):.4f}–{max(base_best):.4f} over seeds."]
    for pruner, by_seed in results.items():
        if pruner == baseline:
            continue
        best = [by_seed[s]["best"] for s in seeds]
        seconds = sum(by_seed[s]["trial_seconds"] for s in seeds)
        validations = sum(by_seed[s]["validations"] for s in seeds)
        within = min(base_best) <= statistics.mean(best) <= max(base_best) or statistics.mean(best) <= statistics.mean(base_best)
        lines.append(
            f"`{pruner}`: best {statistics.mean(best):.4f} on average, {min(best):.4f}–{max(best):.4f} over seeds "
            f"({'within' if within else 'outside'} `{baseline}`'s spread or better); trial time {1 - seconds / base_seconds:.0%} "
            f"less ({seconds:.0f} s vs {base_seconds:.0f} s), validations {1 - validations / base_validations:.0%} fewer "
            f"({validations} vs {base_validations})."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search", default="vowels_gru", help="an hparams_search config")
    parser.add_argument("--pruners", nargs="+", default=["none", "median"], help="hydra/sweeper/pruner options; the first is the baseline")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "pruning")
    parser.add_argument("--quick", action="store_true", help="3 trials of a few batches each")
    args = parser.parse_args(argv)
    extra = ["debug=smoke", "trainer.max_epochs=3"] if args.quick else []
    if args.quick:
        args.trials = 3
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[int, dict[str, Any]]] = {p: {} for p in args.pruners}
    for seed in args.seeds:  # seeds outside, pruners inside: both see the machine's load alike
        for pruner in args.pruners:
            results[pruner][seed] = run_search(args.search, pruner, seed, args.trials, args.out / f"{pruner}_seed{seed}", args.threads, extra)
            print(f"{pruner} seed {seed}: {json.dumps(results[pruner][seed])}", flush=True)
    text = report(results, args.pruners[0], args)
    (args.out / "pruning.md").write_text(text)
    (args.out / "pruning.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1) + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
