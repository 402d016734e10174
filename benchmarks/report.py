"""What the numbers were measured on, and the markdown table."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from benchmarks.timing import ROOT


def machine(threads: int) -> dict[str, Any]:
    """What the numbers were measured on."""
    import lightning
    import torchmetrics

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10, check=False).stdout.strip() or None
    except OSError:
        commit = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "commit": commit,
    }


UNITS = {  # unit: (scale, format, suffix) for the table
    "ratio": (1, "{:.3f}", ""),
    "x": (1, "{:.2f}", "x"),
    "s": (1, "{:.2f}", " s"),
    "fraction": (100, "{:.1f}", "%"),
    "tokens/s": (1e-6, "{:.2f}", " M tokens/s"),
}


def measured(row: dict[str, Any]) -> str:
    """`median (min-max, n)` in the row's unit."""
    if row.get("skipped"):
        return f"skipped: {row['skipped']}"
    scale, fmt, suffix = UNITS[row["unit"]]
    lo, hi = (fmt.format(v * scale) for v in row["spread"])
    return f"{fmt.format(row['value'] * scale)}{suffix} ({lo}-{hi}, n={row['n']})"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# seqtrain benchmark",
        "",
        f"{m['cpu']}, {m['cores']} cores, torch {m['torch']} with {m['torch_threads']} thread(s), "
        f"Python {m['python']}, Lightning {m['lightning']}, torchmetrics {m['torchmetrics']}; GPU: {m['gpu'] or 'none'}; "
        f"commit {m['commit']}; load average at start "
        + (" ".join(f"{x:.2f}" for x in m["load_average"]) if m["load_average"] else "unknown")
        + ("; **--quick: a smoke run, not measurements**" if report["quick"] else ""),
        "",
        "| figure | measured (median, spread) | target | met | how measured |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["figures"].items():
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        how = row["how"] + (f". {row['notes']}" if row["notes"] and not row.get("skipped") else "")
        lines.append(f"| {name} | {measured(row)} | {row['target'] or '-'} | {met} | {how} |")
    for name in ("overhead_small", "overhead_large", "tbptt"):
        if name in report["figures"]:
            columns = report["figures"][name]["details"]["columns"]
            lines += ["", f"**{name}**: throughput / plain loop, layer by layer (median, min-max)", "",
                      "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                      "| " + " | ".join(f"{c['median']:.3f} ({c['spread'][0]:.3f}-{c['spread'][1]:.3f})"
                                        for c in columns.values()) + " |"]
    profile = report["figures"].get("overhead_small", {}).get("details", {}).get("profile")
    if profile:
        step = profile["step_ms_under_cprofile"]
        title = (f"**Where a default step's time goes** ({profile['how']}; {step:.1f} ms/step under cProfile, "
                 f"{profile['host_reads_per_step']:.1f} host reads of tensor values per step)")
        lines += ["", title, "", "| part | ms/step | share |", "|---|---|---|"]
        for label, ms in profile["ms_per_step"].items():
            lines.append(f"| {label} | {ms:.2f} | {100 * ms / step:.1f}% |")
        framework = profile["framework_ms_per_step"]
        lines.append(f"| everything but model, loss, backward, optimizer, clipping, data | {framework:.2f} | "
                     f"{100 * framework / step:.1f}% |")
        reads = ("Host reads of tensor values per step, by call site (each one a device sync on a GPU, unless "
                 "the tensor lives on the CPU by design: lengths, the optimizer's step counts):")
        lines += ["", reads, ""]
        lines += [f"- {n:g} x `{site}`" for site, n in profile["host_reads_per_step_by_call_site"].items()]
    lines += ["", f"Total {report['seconds']['total']:.0f} s: " +
              ", ".join(f"{k} {v:.0f} s" for k, v in report["seconds"].items() if k != "total")]
    return "\n".join(lines) + "\n"
