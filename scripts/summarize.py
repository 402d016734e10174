"""Summarize a sweep: a table of its jobs sorted by the objective, and plots of the objective per hyper-parameter.

    python scripts/summarize.py outputs/multiruns/2025-01-31_12-00-00
    python scripts/summarize.py outputs/optuna/vowels_gru --objective val/acc --mode max

A job is any directory under the sweep directory with Hydra's `.hydra/overrides.yaml` (grid
sweeps, Optuna sweeps, resumed sweeps, `scripts/launch_local_gpus.sh`). From each job it reads
`metrics.json` (written by the run, or by train.py when the job failed or was pruned) and
`config.yaml` (the resolved config: `monitor`, `monitor_mode`). Writes `summary.csv` into the
sweep directory and plots (matplotlib): for an Optuna
sweep (an `optuna.journal` study beside the jobs) optuna's own — optimization history, parameter
importances, parallel coordinates, objective per parameter (slice), intermediate values (what the
pruner saw) — as `optuna_*.png`, with the study's trial states; for a grid sweep `summary.png`,
the objective of each job against each swept key.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Job:
    """One run directory of a sweep, as read from its files."""

    name: str  # the directory, relative to the sweep directory
    overrides: dict[str, str]  # key -> value as typed, e.g. {"model": "gru", "optimizer.lr": "0.003"}
    status: str  # completed | pruned | failed | diverged | interrupted (SIGTERM: resumable) | incomplete (killed, or still running)
    metrics: dict[str, float] = field(default_factory=dict)  # "val/loss", "test/acc", ...
    error: str | None = None
    seconds: float | None = None
    monitor: str | None = None
    monitor_mode: str | None = None


def find_jobs(sweep_dir: Path) -> list[Job]:
    """Every job under `sweep_dir`, in the order of their directory names (2 before 10)."""
    jobs = [read_job(path.parent.parent, sweep_dir) for path in sweep_dir.rglob(".hydra/overrides.yaml")]
    return sorted(jobs, key=lambda job: natural_key(job.name))


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key that orders the numbers in a name by value: "2" < "10", "..._9" < "..._10"."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


def read_job(job_dir: Path, sweep_dir: Path) -> Job:
    overrides = dict(_split_override(o) for o in yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or [])
    config_path = job_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    metrics_path = job_dir / "metrics.json"
    results: dict[str, Any] = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics = {k: float(v) for stage in ("val", "test") for k, v in (results.get(stage) or {}).items()}
    seconds = results.get("seconds")
    if seconds is None and metrics_path.is_file():
        # Hydra writes .hydra/config.yaml as the job starts; metrics.json is the job's last file.
        seconds = metrics_path.stat().st_mtime - (job_dir / ".hydra" / "config.yaml").stat().st_mtime
    error = results.get("error")
    if results.get("status") == "interrupted" and results.get("resume"):  # SIGTERM: last.ckpt holds the run so far
        error = f"interrupted at global step {results.get('global_step')}; resume with: {results['resume']}"
    return Job(
        name=str(job_dir.relative_to(sweep_dir)),
        overrides=overrides,
        status=results.get("status", "incomplete"),
        metrics=metrics,
        error=error,
        seconds=seconds,
        monitor=config.get("monitor"),
        monitor_mode=config.get("monitor_mode"),
    )


def _split_override(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def swept_keys(jobs: list[Job], sweep_dir: Path) -> list[str]:
    """The keys the sweep varied: its sweep overrides and search space, and any key whose value differs between jobs."""
    keys = {k for job in jobs for k in job.overrides}
    if len(jobs) < 2:
        return sorted(keys)
    varied = {k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1}
    return sorted(varied | (declared_sweep_keys(sweep_dir) & keys))


def declared_sweep_keys(sweep_dir: Path) -> set[str]:
    """Keys swept on the command line (`model=rnn,gru`, from multirun.yaml) or searched by a sweeper (`hydra.sweeper.params`)."""
    keys: set[str] = set()
    hydra_files = sorted(sweep_dir.rglob(".hydra/hydra.yaml"))[:1]  # the sweeper's config, as every job saw it
    for path in [sweep_dir / "multirun.yaml", *hydra_files]:
        if not path.is_file():
            continue
        hydra = (yaml.safe_load(path.read_text()) or {}).get("hydra") or {}
        keys |= set((hydra.get("sweeper") or {}).get("params") or {})
        if path.name == "multirun.yaml":  # the sweep as typed (a job's own hydra.yaml holds its single values)
            from hydra.core.override_parser.overrides_parser import OverridesParser

            overrides = OverridesParser.create().parse_overrides((hydra.get("overrides") or {}).get("task") or [])
            keys |= {o.get_key_element().lstrip("+~") for o in overrides if o.is_sweep_override()}
    return keys


def objective_of(jobs: list[Job], objective: str | None, mode: str | None) -> tuple[str, str]:
    """The metric and direction to sort by: given, else the jobs' own `monitor` and `monitor_mode`."""
    objective = objective or next((j.monitor for j in jobs if j.monitor), "val/loss")
    mode = mode or next((j.monitor_mode for j in jobs if j.monitor_mode), "min")
    return objective, mode


def check_objective(jobs: list[Job], objective: str, given: bool) -> None:
    """Refuse an objective that no job's metrics hold (a typo, or a `train/` monitor: metrics.json keeps val / test
    metrics): every completed job would otherwise be labelled diverged and sorted last."""
    seen = sorted({m for job in jobs for m in job.metrics})
    if not seen or objective in seen:
        return  # no job has metrics yet (all failed or running): nothing to sort by, nothing mislabelled
    where = f"--objective {objective}" if given else f"the jobs' monitor {objective} (no --objective given)"
    raise SystemExit(f"{where}: no job's metrics.json holds it; they hold: {', '.join(seen)}. "
                     "Pass one of them as --objective (and --mode min|max)")


def label_divergence(jobs: list[Job], objective: str) -> None:
    """A run that completed with a non-finite objective diverged (NaN/inf loss)."""
    for job in jobs:
        if job.status == "completed" and not math.isfinite(job.metrics.get(objective, math.nan)):
            job.status = "diverged"


def sort_jobs(jobs: list[Job], objective: str, mode: str) -> list[Job]:
    """Completed jobs best first; then pruned ones (by the value they were pruned at, which is not a final
    result); then jobs without a finite objective (failed, diverged, incomplete), by name."""
    sign = -1.0 if mode == "max" else 1.0

    def key(job: Job) -> tuple[int, float, list]:
        value = job.metrics.get(objective, math.nan)
        if not math.isfinite(value):
            return (2, 0.0, natural_key(job.name))
        return (1 if job.status == "pruned" else 0, sign * value, natural_key(job.name))

    return sorted(jobs, key=key)


def format_table(jobs: list[Job], keys: list[str], objective: str) -> str:
    metric_names = [objective] + sorted({m for job in jobs for m in job.metrics} - {objective})
    header = ["job", "status", *metric_names, "seconds", *keys]
    rows = [
        [
            job.name,
            job.status,
            *(_number(job.metrics.get(m), ".4g") for m in metric_names),
            _number(job.seconds, ".1f"),
            *(_short(job.overrides.get(k, "")) for k in keys),
        ]
        for job in jobs
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(value: str) -> str:
    """Sampled floats to 4 significant digits (0.006525180324192035 -> 0.006525); anything else as typed."""
    number = _float(value)
    return f"{number:.4g}" if number is not None and "." in value and len(value) > 8 else value


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def write_csv(path: Path, jobs: list[Job], keys: list[str]) -> None:
    metric_names = sorted({m for job in jobs for m in job.metrics})
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["job", "status", *metric_names, "seconds", *keys, "error"])
        for job in jobs:
            writer.writerow(
                [job.name, job.status, *(job.metrics.get(m, "") for m in metric_names), job.seconds or "",
                 *(job.overrides.get(k, "") for k in keys), job.error or ""]
            )


def optuna_study(sweep_dir: Path) -> Any | None:
    """The Optuna study of a sweep by seqtrain's sweeper (its storage and name from multirun.yaml), or None."""
    multirun = sweep_dir / "multirun.yaml"
    if not multirun.is_file():
        return None
    sweeper = ((yaml.safe_load(multirun.read_text()) or {}).get("hydra") or {}).get("sweeper") or {}
    if not str(sweeper.get("_target_", "")).startswith("hydra_plugins.seqtrain_sweeper"):
        return None
    import optuna

    from seqtrain.pruning import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = sweeper["storage"]
    if "://" not in storage and not Path(storage).is_file():  # the sweep directory was moved: look beside the jobs
        storage = str(sweep_dir / Path(storage).name)
    return optuna.load_study(study_name=sweeper["study_name"], storage=open_storage(storage))


def study_states(study: Any) -> str:
    """`12 complete, 6 pruned, 2 fail` as Optuna records them."""
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def plot_study(sweep_dir: Path, study: Any, objective: str) -> list[Path]:
    """Optuna's own plots of the study (matplotlib backend) as PNGs; those a study cannot have yet are skipped."""
    import warnings

    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
        import optuna
        from optuna.visualization import matplotlib as optuna_plots
    except ImportError:
        return []
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    plots = {
        "history": (optuna_plots.plot_optimization_history, len(complete) >= 1),
        "importances": (optuna_plots.plot_param_importances, len(complete) >= 2 and len(study.best_params) >= 1),
        "parallel": (optuna_plots.plot_parallel_coordinate, len(complete) >= 1),
        "slice": (optuna_plots.plot_slice, len(complete) >= 1),
        "intermediate": (optuna_plots.plot_intermediate_values, any(t.intermediate_values for t in study.trials)),
    }
    written = []
    for name, (draw, possible) in plots.items():
        if not possible:
            continue
        with warnings.catch_warnings():  # optuna marks its matplotlib backend experimental; a study of one
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # value per key has flat axes
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
            kwargs = {} if name == "intermediate" else {"target_name": objective}
            axes = draw(study, **kwargs)
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        path = sweep_dir / f"optuna_{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written


def plot(path: Path, jobs: list[Job], keys: list[str], objective: str, mode: str) -> bool:
    """One panel per swept key: the objective of each finished job against the key's value. False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    finished = [j for j in jobs if math.isfinite(j.metrics.get(objective, math.nan))]
    cols = min(max(len(keys), 1), 3)
    rows = max(math.ceil(len(keys) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(len(keys) == 0)
    for ax, key in zip(axes.flat, keys):
        values = [j.overrides.get(key, "") for j in finished]
        ys = [j.metrics[objective] for j in finished]
        numbers = [_float(v) for v in values]
        if values and all(n is not None for n in numbers):
            ax.scatter(numbers, ys)
            positive = [n for n in numbers if n > 0]
            if len(positive) == len(numbers) and max(positive) / min(positive) >= 30:
                ax.set_xscale("log")  # e.g. learning rates sampled on a log scale
        else:
            categories = sorted(set(values), key=lambda v: (_float(v) is None, _float(v) or 0.0, v))
            ax.scatter([categories.index(v) for v in values], ys)
            ax.set_xticks(range(len(categories)), categories, rotation=30, ha="right")
        ax.set_xlabel(key)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    if not keys:
        axes[0][0].text(0.5, 0.5, "no swept hyper-parameters", ha="center", va="center")
        axes[0][0].set_axis_off()
    failed = len(jobs) - len(finished)
    fig.suptitle(f"{objective} ({mode}) of {len(finished)} finished jobs" + (f"; {failed} not plotted" if failed else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def summarize(sweep_dir: Path, objective: str | None = None, mode: str | None = None) -> list[Job]:
    """Print the table, write summary.csv and summary.png; return the jobs, best first."""
    jobs = find_jobs(sweep_dir)
    if not jobs:
        raise SystemExit(f"no jobs under {sweep_dir} (looked for */.hydra/overrides.yaml)")
    given = objective is not None
    objective, mode = objective_of(jobs, objective, mode)
    check_objective(jobs, objective, given)
    label_divergence(jobs, objective)
    jobs = sort_jobs(jobs, objective, mode)
    keys = swept_keys(jobs, sweep_dir)
    common = {k: v for k, v in jobs[0].overrides.items() if k not in keys}
    print(f"sweep: {sweep_dir}   objective: {objective} ({mode})   jobs: {len(jobs)}")
    if common:
        print("common overrides: " + " ".join(f"{k}={v}" for k, v in common.items()))
    print(format_table(jobs, keys, objective))
    counts = {s: sum(j.status == s for j in jobs) for s in ("completed", "pruned", "diverged", "failed", "interrupted", "incomplete")}
    print("\n" + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for job in jobs:
        if job.error:
            print(f"{job.name}: {job.error}")
    study = optuna_study(sweep_dir)
    if study is not None:
        print(f"optuna study {study.study_name!r}: {study_states(study)}")
    write_csv(sweep_dir / "summary.csv", jobs, keys)
    if study is not None:  # optuna's plots, where the hand-written one would draw the same (plot_slice)
        plots = plot_study(sweep_dir, study, objective)
    else:
        plots = [sweep_dir / "summary.png"] if plot(sweep_dir / "summary.png", jobs, keys, objective, mode) else []
    print(f"wrote {sweep_dir / 'summary.csv'}" + "".join(f", {p.name}" for p in plots)
          + ("" if plots or study is not None else " (no plot: matplotlib is not installed)"))
    return jobs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun's directory (hydra.sweep.dir)")
    parser.add_argument("--objective", help="metric to sort and plot by (default: the jobs' `monitor`)")
    parser.add_argument("--mode", choices=("min", "max"), help="better is lower or higher (default: `monitor_mode`)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        parser.error(f"not a directory: {args.sweep_dir}")
    summarize(args.sweep_dir, args.objective, args.mode)


if __name__ == "__main__":
    sys.exit(main())
