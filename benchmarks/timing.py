"""Timing: interleaved repeats, one report row per figure, and two things that keep timings honest."""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch.overrides import TorchFunctionMode

ROOT = Path(__file__).resolve().parents[1]


def interleave(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[Any]]:
    """Call every contender once per round, rotating the order (A B C, B C A, C A B, ...)."""
    names = list(contenders)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            results[name].append(contenders[name]())
    return results


def fastest_of_two(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """For short compute-bound timings: per round A B B A (drift cancels), each side's faster run (bursts of load drop out)."""
    names = list(contenders)
    results: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in names}
        for name in names + names[::-1]:
            times[name].append(contenders[name]())
        for name in names:
            results[name].append(min(times[name]))
    return results


def per_round(numerators: list[float], denominators: list[float]) -> list[float]:
    """Ratio of each round's two measurements (the sides of one round ran next to each other)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


TARGET_TESTS = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__, ">": float.__gt__}


def figure(values: list[float], *, unit: str, how: str, target: tuple[str, float] | None = None,
           notes: str = "", **details: Any) -> dict[str, Any]:
    """One row of the report: the median of `values`, their min-max, and whether the median meets `target`."""
    value = statistics.median(values)
    return {
        "value": value,
        "spread": [min(values), max(values)],
        "n": len(values),
        "unit": unit,
        "target": None if target is None else f"{target[0]} {target[1]:g}",
        "met": None if target is None else bool(TARGET_TESTS[target[0]](float(value), target[1])),
        "how": how,
        "notes": notes,
        "details": details,
    }


def skipped(reason: str, how: str) -> dict[str, Any]:
    return {"value": None, "spread": None, "n": 0, "unit": "", "target": None, "met": None, "how": how,
            "notes": f"skipped: {reason}", "skipped": reason, "details": {}}


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory instead of returning large blocks to the OS (Linux only).

    Otherwise every step of a large model re-faults its big buffers (~40k page faults a step for
    LSTM 512x2 here), and which side of a ratio pays depends on the allocation history. Both sides
    run with the same setting, so ratios are unaffected by it except for that noise.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1))
    except (OSError, AttributeError):
        return False


HOST_READS = {"item", "__bool__", "__int__", "__float__", "__index__", "tolist"}


class TorchCalls(TorchFunctionMode):
    """Counts the torch functions called, by name, and the host reads of tensor values by call site.

    A host read (`.item()`, `bool(t)`, `int(t)`, ...) of a tensor on a GPU waits for the device: a sync.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", str(func))
        self.calls[name] += 1
        if name in HOST_READS:
            self.reads[call_site()] += 1
        return func(*args, **(kwargs or {}))


def call_site() -> str:
    """`path:line (function)` of the innermost frame outside torch's own dispatch code."""
    frame = sys._getframe(2)
    while frame.f_back is not None and any(p in frame.f_code.co_filename for p in ("torch/overrides.py", "torch/_tensor.py",
                                                                                    "torch/utils/_device.py")):
        frame = frame.f_back
    path = frame.f_code.co_filename.replace("\\", "/")
    path = path.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
    return f"{path}:{frame.f_lineno} ({frame.f_code.co_name})"
