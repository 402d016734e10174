"""scripts/benchmark.py keeps running and reports every figure; the backbone stays on the fused kernel."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from seqtrain.models import RecurrentBackbone, ReferenceRNN

ROOT = Path(__file__).resolve().parents[1]

#: One row per figure of the issue; GPU rows only where CUDA is.
CPU_ROWS = {
    "overhead_small", "overhead_large", "tbptt", "tbptt_document_resets", "padding_vowels", "padding_skewed", "padding_skewed_large", "compute_lstm", "fused_path",
    "startup_help", "startup_first_step", "startup_config_error", "encode_char", "encode_word", "encode_bpe",
    "batch_wait",
}
GPU_ROWS = {"gpu_fp32", "gpu_bf16", "gpu_ddp"} if torch.cuda.is_available() else {"gpu"}


def run_benchmark(out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--quick", "--threads", "1", "--out", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.mark.slow  # kept out of the default run's ~10 min; `pytest -m slow` runs it
def test_quick_run_reports_every_figure_with_finite_numbers(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["quick"] is True
    assert {"cpu", "cores", "torch", "torch_threads"} <= set(report["machine"])
    assert report["machine"]["torch_threads"] == 1

    figures = report["figures"]
    assert set(figures) == CPU_ROWS | GPU_ROWS
    for name, row in figures.items():
        if row.get("skipped"):
            assert name == "gpu" and not torch.cuda.is_available(), f"{name} skipped: {row['skipped']}"
            continue
        assert finite(row["value"]), (name, row)
        assert len(row["spread"]) == 2 and all(map(finite, row["spread"])), (name, row)
        assert row["spread"][0] <= row["value"] <= row["spread"][1], (name, row)
        assert row["met"] in (True, False) if row["target"] else row["met"] is None, (name, row)
        assert row["how"], name
    columns = figures["overhead_small"]["details"]["columns"]
    assert {"bare_lightning", "seqtrain_no_logging", "default"} <= set(columns)
    assert figures["overhead_small"]["details"]["profile"]["ms_per_step"]

    table = (tmp_path / "benchmark.md").read_text()
    assert "| figure | measured (median, spread) | target | met | how measured |" in table
    assert all(f"| {name} |" in table for name in figures)
    assert table in proc.stdout  # printed too


@pytest.mark.slow  # two benchmark runs (~15 s): the --only parsing is a developer tool's
def test_only_selects_figures(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path, "--only", "gpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(json.loads((tmp_path / "benchmark.json").read_text())["figures"]) == GPU_ROWS
    proc = run_benchmark(tmp_path, "--only", "overhead,nonsense")
    assert proc.returncode != 0 and "nonsense" in proc.stderr


# --- the fused path: what the benchmark's `fused_path` figure guards, held here without timing ----


class CountCalls(TorchFunctionMode):
    """Counts the torch functions called, by name (torch._VF.lstm shows as `lstm`)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.calls[getattr(func, "__name__", str(func))] += 1
        return func(*args, **(kwargs or {}))


def calls_per_forward(module: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> Counter[str]:
    with torch.no_grad(), CountCalls() as counter:
        module(x) if lengths is None else module(x, lengths)
    return counter.calls


FUSED = {"lstm": "lstm", "gru": "gru", "rnn": "rnn_tanh"}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("padded", [False, True])
def test_backbone_calls_the_fused_kernel_once_per_forward_never_per_step(cell: str, num_layers: int, padded: bool) -> None:
    """Unpadded: one call of the fused kernel for the whole stack. Padded, on the CPU: one call per layer for each
    segment between the rows' distinct lengths (three here), however long the rows are."""
    backbone = RecurrentBackbone(cell, 3, 8, num_layers=num_layers)
    counts = {}
    calls_per_forward(backbone, torch.randn(3, 4, 3), torch.tensor([4, 2, 1]) if padded else None)  # first-call look-ups
    for T in (6, 12):
        lengths = torch.tensor([T, T // 2, 1]) if padded else None
        counts[T] = calls_per_forward(backbone, torch.randn(3, T, 3), lengths)
        assert counts[T][FUSED[cell]] == (3 * num_layers if padded else 1), counts[T]
    assert counts[6] == counts[12]  # nothing is called once per step: a longer sequence costs no more Python


def test_the_count_catches_a_per_step_loop() -> None:
    """The check above would fail for a Python loop over time steps (ReferenceRNN is one)."""
    loop = ReferenceRNN("lstm", 3, 8)
    short, long = (calls_per_forward(loop, torch.randn(3, T, 3), None) for T in (6, 12))
    assert short["lstm"] == long["lstm"] == 0
    assert sum(long.values()) > sum(short.values())
