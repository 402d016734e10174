"""Benchmarks of seqtrain: every figure is a ratio of two things measured side by side in one process.

    python scripts/benchmark.py                            # every figure (~10 min on 2 cores) -> benchmarks/results/
    python scripts/benchmark.py --only overhead,startup --threads 1
    python scripts/benchmark.py --quick --out /tmp/bench   # tiny shapes, one round: what the test suite runs

How it measures: the two sides of a ratio run in the same process (for start-up: as subprocesses of
the same run), interleaved A, B, A, B, ...; each comparison is repeated (`--rounds`, order rotated),
and a figure is the median of the per-round ratios with their min-max as the spread. Training
loops interleave step by step: the plain loop takes one step beside every Lightning step, in the
same run, on its own copy of model, optimizer and data (`PlainAlongside`), and only steady-state
steps count (after a warm-up). Absolute times depend on the machine and its load; compare ratios.

Writes benchmark.json (machine + figures) and benchmark.md (the table, also printed).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import logging
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the `benchmarks` package beside `seqtrain`: the machinery of this script

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarks.loops import (
    VOCAB,
    BatchGaps,
    PlainAlongside,
    PlainLM,
    PlainTBPTT,
    StepWindow,
    bare_trainer,
    checkpoint_every,
    compose_default,
    lm_model,
    lm_streams,
    lm_task,
    lm_windows,
    plain_step,
    run_default,
)
from benchmarks.report import machine, markdown
from benchmarks.timing import (
    TorchCalls,
    fastest_of_two,
    figure,
    interleave,
    keep_freed_memory,
    per_round,
    skipped,
)
from seqtrain.data import (
    SequenceDataModule,
    collate,
)
from seqtrain.data.datamodule import Splits, example_lengths
from seqtrain.data.sampler import BucketBatchSampler
from seqtrain.shipped import asset_text, data_config_module
from seqtrain.facts import DataFacts
from seqtrain.data.windows import TokenWindows
from seqtrain.models import RecurrentBackbone, ReferenceRNN, SequenceModel
from seqtrain.task import SequenceTask, run_with_resets


@dataclass(frozen=True)
class Settings:
    quick: bool  # tiny shapes and one round: proves the code runs, measures nothing
    rounds: int  # interleaved rounds of each cheap comparison (the large model and start-up get fewer)
    threads: int  # torch.set_num_threads for every figure; OMP_NUM_THREADS for the subprocesses
    scratch: Path  # run directories, checkpoints, offline wandb runs


def scratch_dir(s: Settings, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=s.scratch))
    return path


# --- figure 1: framework overhead ---------------------------------------------------------------


def framework_overhead(s: Settings) -> dict[str, dict[str, Any]]:
    """Samples/s of seqtrain's default training loop / a plain PyTorch loop, with the layers in between."""
    T, B = (10, 16) if s.quick else (50, 64)
    rows = {
        "overhead_small": overhead(s, hidden=128, layers=1, T=T, B=B, warmup=3 if s.quick else 5,
                                   timed=4 if s.quick else 20, rounds=s.rounds, target=0.95),
        # 1-3 s a step: fewer runs, and the seqtrain-without-logging column only on the small model
        "overhead_large": overhead(s, hidden=128 if s.quick else 512, layers=2, T=T, B=B, warmup=2,
                                   timed=2 if s.quick else 10, rounds=min(s.rounds, 3), target=0.99, middle=False),
    }
    rows["overhead_small"]["details"]["profile"] = profile_default_run(s, T, B)
    return rows


def overhead(s: Settings, *, hidden: int, layers: int, T: int, B: int, warmup: int, timed: int, rounds: int,
             target: float, middle: bool = True) -> dict[str, Any]:
    """One model size of figure 1: each Lightning variant in its own runs, the plain loop stepping beside it."""
    batches = warmup + timed + 2
    cfg = compose_default(s.scratch / "compose")
    optimizer = instantiate(cfg.optimizer)
    clip = cfg.trainer.gradient_clip_val

    def alongside() -> PlainAlongside:
        model = lm_model(hidden, layers)  # the same initial weights and batches as the Lightning side
        return PlainAlongside(partial(plain_step, model, optimizer(model.parameters()), clip),
                              lm_windows(B, T, batches), warmup, timed)

    def bare_lightning() -> dict[str, float]:
        plain = alongside()
        bare_trainer(warmup + timed, [plain], clip).fit(PlainLM(lm_model(hidden, layers), optimizer),
                                                        lm_windows(B, T, batches))
        return plain.seconds()

    def seqtrain_no_logging() -> dict[str, float]:
        plain = alongside()
        bare_trainer(warmup + timed, [plain], None).fit(lm_task(lm_model(hidden, layers), cfg),
                                                        lm_windows(B, T, batches))
        return plain.seconds()

    def default() -> dict[str, float]:
        run_cfg = compose_default(scratch_dir(s, "overhead"))
        plain = alongside()
        save = run_default(run_cfg, lm_task(lm_model(hidden, layers), run_cfg), lm_windows(B, T, batches),
                           [plain], warmup + timed)
        return plain.seconds() | {"save": save}

    contenders = {"bare_lightning": bare_lightning, "seqtrain_no_logging": seqtrain_no_logging, "default": default}
    if not middle:
        del contenders["seqtrain_no_logging"]
    runs = interleave(contenders, rounds)
    every = checkpoint_every(cfg)
    # One save per `every` optimizer steps, pro rata: the window is shorter than `every` and holds none.
    ratio = [r["plain"] / (r["framework"] + (timed / every * r["save"] if every else 0.0)) for r in runs["default"]]
    columns = {k: [r["plain"] / r["framework"] for r in v] for k, v in runs.items()}
    columns["default_without_checkpoints"] = columns.pop("default")
    columns["default"] = ratio
    return figure(
        ratio, unit="ratio", target=(">=", target),
        how=(f"LSTM {hidden}x{layers}, emb 64, V={VOCAB}, B={B}, T={T}: samples/s of SequenceTask + the Trainer, "
             f"callbacks and logger of configs/ (TQDM bar, both ModelCheckpoints, wandb offline, "
             f"log_every_n_steps) / a plain loop stepping beside it in the same run; {timed} steps after "
             f"{warmup} warm-up, {rounds} runs"),
        notes="a periodic checkpoint save is added pro rata (one per every_n_train_steps); validation not included",
        plain_samples_per_s=[timed * B / r["plain"] for r in runs["default"]],
        columns={k: {"median": statistics.median(v), "spread": [min(v), max(v)]} for k, v in columns.items()},
        checkpoint_save_s=statistics.median(r["save"] for r in runs["default"]),
        checkpoint_every_n_train_steps=every,
    )


#: (label, file path ending, function): where a default run's training step spends its time (cumulative; nested rows overlap).
PROFILE_ROWS = [
    ("data: next batch (DataLoader + collate)", "lightning/pytorch/loops/fetchers.py", "__next__"),
    ("model forward", "seqtrain/models/sequence_model.py", "forward"),
    ("loss", "seqtrain/task.py", "loss"),
    ("backward", "torch/_tensor.py", "backward"),
    ("zero_grad", "torch/optim/optimizer.py", "zero_grad"),
    ("optimizer update (AdamW maths)", "torch/optim/adam.py", "adam"),
    ("task: on_before_optimizer_step (clip, finite check, log grad_norm)", "seqtrain/task.py", "on_before_optimizer_step"),
    ("  clip_grad_norm_", "torch/nn/utils/clip_grad.py", "clip_grad_norm_"),
    ("task: _log_step (metrics + self.log)", "seqtrain/task.py", "_log_step"),
    ("  torchmetrics update", "seqtrain/task.py", "_update_metrics"),
    ("  LightningModule.log (all calls)", "lightning/pytorch/core/module.py", "log"),
    ("logger connector: step metrics, bar values (.item())", "logger_connector/logger_connector.py", "on_batch_end"),
    ("logger connector: log_metrics to wandb (every log_every_n_steps)", "logger_connector/logger_connector.py",
     "update_train_step_metrics"),
    ("progress bar: on_train_batch_end", "progress/tqdm_progress.py", "on_train_batch_end"),
    ("ModelCheckpoint: on_train_batch_end", "callbacks/model_checkpoint.py", "on_train_batch_end"),
]


MODEL_WORK = ("model forward", "loss", "backward", "zero_grad", "optimizer update (AdamW maths)", "  clip_grad_norm_",
              "data: next batch (DataLoader + collate)")


def profile_default_run(s: Settings, T: int, B: int) -> dict[str, Any]:
    """cProfile the default run's steady-state window, and count host reads of tensor values (syncs on a GPU)."""
    warmup, timed = (3, 4) if s.quick else (5, 20)
    profiler = cProfile.Profile()
    cfg = compose_default(scratch_dir(s, "profile"))
    window = StepWindow(warmup, timed, on_start=profiler.enable, on_end=profiler.disable)
    run_default(cfg, lm_task(lm_model(128, 1), cfg), lm_windows(B, T, warmup + timed + 2), [window], warmup + timed)
    stats = pstats.Stats(profiler).stats  # {(file, line, function): (calls, primitive calls, tottime, cumtime, callers)}
    ms_per_step = {}
    for label, path, function in PROFILE_ROWS:
        times = [v[3] for (file, _, fn), v in stats.items() if fn == function and file.replace("\\", "/").endswith(path)]
        ms_per_step[label] = 1000 * max(times, default=0.0) / timed
    step_ms = 1000 * window.seconds / timed
    framework_ms = step_ms - sum(ms_per_step[k] for k in MODEL_WORK)

    # Every host read of a tensor's value (.item(), bool(), int(), ...) is a device sync on a GPU: count them by call site.
    warmup, counted = 3, 5 if s.quick else 20
    calls = TorchCalls()
    cfg = compose_default(scratch_dir(s, "profile"))
    run_default(cfg, lm_task(lm_model(128, 1), cfg), lm_windows(B, T, warmup + counted + 2),
                [StepWindow(warmup, counted, on_start=calls.__enter__, on_end=lambda: calls.__exit__(None, None, None))],
                warmup + counted)
    reads = {site: n / counted for site, n in calls.reads.most_common()}
    return {
        "how": f"cProfile over {timed} steady-state steps of the default run (small model); cProfile slows Python "
               "code more than kernels, so shares of framework rows are upper bounds: the ablation columns are the "
               "unbiased costs",
        "step_ms_under_cprofile": step_ms,
        "ms_per_step": ms_per_step,
        "framework_ms_per_step": framework_ms,
        "host_reads_per_step": sum(reads.values()),
        "host_reads_per_step_by_call_site": reads,
    }


# --- figure 2: stateful truncated BPTT ----------------------------------------------------------


def tbptt_overhead(s: Settings) -> dict[str, dict[str, Any]]:
    """Throughput of SequenceTask(tbptt_steps=k) on stateful streams / a hand-written TBPTT loop beside it."""
    B, T, k = (16, 20, 10) if s.quick else (64, 128, 64)  # seq_len and chunk as experiment=shakespeare_lm
    warmup, timed = (2, 3) if s.quick else (3, 20)
    batches = warmup + timed + 2
    chunks = math.ceil(T / k)
    cfg = compose_default(s.scratch / "compose", f"task.tbptt_steps={k}")
    optimizer = instantiate(cfg.optimizer)

    def alongside() -> PlainAlongside:
        model = lm_model(128, 1)
        return PlainAlongside(PlainTBPTT(model, optimizer(model.parameters()), k, cfg.trainer.gradient_clip_val),
                              lm_streams(B, T, batches), warmup, timed)

    def seqtrain_no_logging() -> dict[str, float]:
        plain = alongside()
        bare_trainer(warmup + timed, [plain], None).fit(lm_task(lm_model(128, 1), cfg, k),
                                                                   lm_streams(B, T, batches))
        return plain.seconds()

    def default() -> dict[str, float]:
        run_cfg = compose_default(scratch_dir(s, "tbptt"), f"task.tbptt_steps={k}")
        plain = alongside()
        save = run_default(run_cfg, lm_task(lm_model(128, 1), run_cfg, k), lm_streams(B, T, batches), [plain],
                           warmup + timed)  # max_steps counts batches: a batch is one global step under TBPTT
        return plain.seconds() | {"save": save}

    runs = interleave({"seqtrain_no_logging": seqtrain_no_logging, "default": default}, s.rounds)
    every = checkpoint_every(cfg)  # in global steps (batches)
    ratio = [r["plain"] / (r["framework"] + (timed / every * r["save"] if every else 0.0))
             for r in runs["default"]]
    no_logging = [r["plain"] / r["framework"] for r in runs["seqtrain_no_logging"]]
    return {"tbptt": figure(
        ratio, unit="ratio", target=(">=", 0.95),
        how=(f"LSTM 128, emb 64, V={VOCAB}, {B} streams x {T} steps per batch, tbptt_steps={k} ({chunks} optimizer "
             f"steps per batch): SequenceTask + the default Trainer, callbacks and wandb / a hand-written TBPTT loop "
             f"stepping beside it; {timed} batches after {warmup} warm-up, {len(ratio)} runs"),
        notes="state detached between chunks and carried across batches on both sides; a checkpoint save pro rata",
        columns={"seqtrain_no_logging": {"median": statistics.median(no_logging),
                                         "spread": [min(no_logging), max(no_logging)]}},
    ), "tbptt_document_resets": document_resets(s)}


def document_resets(s: Settings) -> dict[str, Any]:
    """Cost of resetting the state where documents start mid-chunk (`run_with_resets`): a step with resets / without."""
    B, T, hidden = (8, 16, 32) if s.quick else (32, 64, 256)  # the default experiment's streams and model
    mean_document = 1000  # tokens; a start falls on each token with probability 1 / mean_document
    model = lm_model(hidden, 1)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(1, VOCAB, (B, T), generator=generator)
    resets = torch.rand(B, T, generator=generator) < 1 / mean_document
    lengths = torch.full((B,), T)

    def step(with_resets: bool) -> float:
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        preds, _ = run_with_resets(model, inputs, lengths, None, resets if with_resets else None)
        preds.sum().backward()
        return time.perf_counter() - start

    times = fastest_of_two({"plain": partial(step, False), "resets": partial(step, True)}, 3 if s.quick else 20)
    pieces = len(resets.any(0).nonzero()) + 1 - int(resets[:, 0].any())
    return figure(
        per_round(times["plain"], times["resets"]), unit="ratio",
        how=(f"LSTM {hidden}, B={B}, T={T}, documents of {mean_document} tokens on average (starts at random, "
             f"{int(resets.sum())} in the chunk): forward+backward without resets / with them"),
        notes=f"the chunk runs as {pieces} model calls instead of one; shorter documents mean more calls",
    )


# --- figure 3: padding waste --------------------------------------------------------------------


class SkewedLengths(SequenceDataModule):
    """Two-class sequences of random features whose lengths are log-uniform in [low, high]: many short, a few long."""

    def __init__(self, size: int, low: int = 10, high: int = 1000, features: int = 8, **base: Any) -> None:
        super().__init__(**base)
        self.size, self.low, self.high, self.features = size, low, high, features

    def build(self, saved: dict[str, Any] | None) -> Splits:
        generator = torch.Generator().manual_seed(self.seed)
        lengths = torch.empty(self.size).uniform_(math.log(self.low), math.log(self.high), generator=generator)
        examples = [(torch.randn(int(n), self.features, generator=generator), torch.tensor(i % 2))
                    for i, n in enumerate(lengths.exp().round().long())]
        facts = DataFacts(task="classification", per_step=False, num_outputs=2, num_features=self.features)
        return Splits(examples, examples[:1], examples[:1], facts)


def real_fraction(loader: DataLoader, epoch: int) -> float:
    """Real (non-padding) steps / computed steps (B x T_max per batch) over one epoch."""
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    real = computed = 0
    for batch in loader:
        real += int(batch.lengths.sum())
        computed += batch.inputs.shape[0] * batch.inputs.shape[1]
    return real / computed


def epoch_seconds_side_by_side(model: nn.Module, loaders: dict[str, DataLoader], epochs: int) -> dict[str, float]:
    """`epochs` epochs of every loader, batch by batch in turn (A B, B A, ...): each loader's seconds, loading included.

    Forward and backward of `model` (no optimizer step) on each batch.
    """
    seconds = dict.fromkeys(loaders, 0.0)
    for epoch in range(epochs):
        batches = {key: iter(loader) for key, loader in loaders.items()}
        for i in itertools.count():
            order = list(batches) if i % 2 == 0 else list(reversed(batches))
            for key in order:
                start = time.perf_counter()
                batch = next(batches[key], None)
                if batch is None:
                    del batches[key]
                    continue
                model.zero_grad(set_to_none=True)
                preds, _ = model(batch.inputs, batch.lengths)  # (B, classes); packed: padding skips the recurrence
                F.cross_entropy(preds, batch.targets).backward()
                seconds[key] += time.perf_counter() - start
            if not batches:
                break
    return seconds


def padding_waste(s: Settings) -> dict[str, dict[str, Any]]:
    """Share of computed steps that are real, with and without the bucketed sampler, and the epoch-time speedup."""
    datasets = {  # row: (datamodule factory taking bucket=..., epochs per round, rounds, how)
        "padding_vowels": (partial(data_config_module, "vowels", "batch_size=32", "seed=42"), 1 if s.quick else 5, s.rounds,
                           "data=vowels train loader (216 series, 7-29 frames), batch 32"),
        "padding_skewed": (partial(SkewedLengths, size=64 if s.quick else 640, batch_size=32, seed=0), 1,
                           min(s.rounds, 3),  # ~20 s a round
                           f"synthetic, {64 if s.quick else 640} sequences, lengths log-uniform in 10..1000, batch 32"),
    }
    rows = {}
    for name, (make, epochs, rounds, how) in datasets.items():
        loaders = {}
        for bucket in (True, False):
            datamodule = make(bucket=bucket)
            datamodule.setup("fit")
            loaders[bucket] = datamodule.train_dataloader()
        facts = datamodule.facts
        torch.manual_seed(0)
        model = SequenceModel(cell="gru", hidden_size=64, embedding_dim=None, **facts.model_kwargs())
        fractions = {b: [real_fraction(loader, epoch) for epoch in range(5)] for b, loader in loaders.items()}
        runs = [epoch_seconds_side_by_side(model, {"bucket": loaders[True], "no_bucket": loaders[False]}, epochs)
                for _ in range(rounds)]
        speedup = [r["no_bucket"] / r["bucket"] for r in runs]
        rows[name] = figure(
            fractions[True], unit="fraction", target=(">=", 0.9),
            how=f"{how}: real steps / (B x T_max) per epoch over 5 epochs with bucket=true; epoch time of a GRU-64 "
                f"forward+backward, bucket=false / bucket=true, the two loaders' batches taken in turn, {rounds} rounds",
            notes="the fraction is of the padded (B, T_max) batches the input layer, head and loss see; the "
                  "backbone packs them, so the recurrence never computes padding and the speedup is far below the "
                  "ratio of the fractions",
            real_fraction_without_bucketing={"median": statistics.median(fractions[False]),
                                             "spread": [min(fractions[False]), max(fractions[False])]},
            epoch_speedup={"median": statistics.median(speedup), "spread": [min(speedup), max(speedup)]},
            best_any_sampler=sorted_batches_fraction(example_lengths(datamodule.split("train")), 32),
        )
    rows["padding_skewed_large"] = skewed_fraction_at_scale(64 if s.quick else 6400)
    return rows


def batch_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Real steps / (B x T_max) summed over `batches` of indices into `lengths` (what collate pads to)."""
    real = sum(lengths[i] for batch in batches for i in batch)
    return real / sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def sorted_batches_fraction(lengths: list[int], batch_size: int) -> float:
    """The bound for batches of a fixed size: all sequences sorted by length, cut into consecutive batches."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return batch_fraction(lengths, [order[i : i + batch_size] for i in range(0, len(order), batch_size)])


def skewed_fraction_at_scale(size: int) -> dict[str, Any]:
    """The skewed lengths' real fraction for a larger set: how much of padding_skewed's gap is its small size."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.empty(size).uniform_(math.log(10), math.log(1000), generator=generator).exp().round().long().tolist()
    sampler = BucketBatchSampler(lengths, 32, seed=0, bucket_factor=50)
    fractions = []
    for epoch in range(5):
        sampler.set_epoch(epoch)
        fractions.append(batch_fraction(lengths, list(sampler)))
    return figure(fractions, unit="fraction", target=(">=", 0.9),
                  how=f"the lengths of padding_skewed's distribution (log-uniform 10..1000) for {size} sequences, "
                      "batch 32, the default BucketBatchSampler (pools of 50 batches), 5 epochs; no training",
                  best_any_sampler=sorted_batches_fraction(lengths, 32))


# --- figure 4: compute efficiency and the fused path --------------------------------------------


def lstm_seconds(backbone: nn.Module, x: Tensor, grad: Tensor) -> float:
    """One forward and backward (input gradient included, as under an embedding)."""
    backbone.zero_grad(set_to_none=True)
    x.grad = None
    start = time.perf_counter()
    output, _ = backbone(x)
    output.backward(grad)
    return time.perf_counter() - start


def gemm_reference(T: int, B: int, I: int, H: int, layers: int) -> Callable[[], float]:
    """The matrix products of a stacked LSTM's forward and backward, as plain torch.mm, best-case schedule.

    Per layer: forward = one input-projection GEMM over all steps (TB x I @ I x 4H) + T recurrent GEMMs
    (B x H @ H x 4H); backward = the input projection's two GEMMs (input and weight gradient), T
    recurrent input-gradient GEMMs (B x 4H @ 4H x H), and the recurrent weight gradient as one GEMM over
    all steps. Exactly 3x the forward FLOPs, the count the LSTM is credited with.
    """
    buffers = []
    for layer in range(layers):
        i = I if layer == 0 else H
        buffers.append({
            "x": torch.randn(T * B, i), "w_ih": torch.randn(4 * H, i), "w_hh": torch.randn(4 * H, H),
            "h": torch.randn(T * B, H), "gates": torch.empty(T * B, 4 * H), "d_gates": torch.randn(T * B, 4 * H),
            "dx": torch.empty(T * B, i), "dw_ih": torch.empty(4 * H, i), "dw_hh": torch.empty(4 * H, H),
            "dh": torch.empty(B, H),
        })

    def run() -> float:
        start = time.perf_counter()
        for b in buffers:
            torch.mm(b["x"], b["w_ih"].t(), out=b["gates"])  # (TB, 4H)
            for t in range(T):
                rows = slice(t * B, (t + 1) * B)
                b["gates"][rows].addmm_(b["h"][rows], b["w_hh"].t())  # (B, 4H) += (B, H) @ (H, 4H)
        for b in reversed(buffers):
            for t in reversed(range(T)):
                torch.mm(b["d_gates"][t * B : (t + 1) * B], b["w_hh"], out=b["dh"])  # (B, H)
            torch.mm(b["d_gates"].t(), b["h"], out=b["dw_hh"])  # (4H, H) over all steps
            torch.mm(b["d_gates"], b["w_ih"], out=b["dx"])  # (TB, I)
            torch.mm(b["d_gates"].t(), b["x"], out=b["dw_ih"])  # (4H, I)
        return time.perf_counter() - start

    return run


FUSED = ("lstm", "gru", "rnn_tanh", "rnn_relu")  # torch._VF entry points of the fused recurrent kernels


def torch_calls_per_forward(backbone: nn.Module, x: Tensor, lengths: Tensor | None = None) -> Counter[str]:
    """The torch functions one forward calls, by name (`lstm` once for the fused path; per-step ops for a Python loop)."""
    with torch.no_grad(), TorchCalls() as calls:
        backbone(x) if lengths is None else backbone(x, lengths)
    return calls.calls


def compute_efficiency(s: Settings) -> dict[str, dict[str, Any]]:
    """FLOP/s of an LSTM forward+backward / FLOP/s of its plain matrix products; and the fused path vs a per-step loop."""
    T, B, H, L = (10, 16, 64, 2) if s.quick else (100, 64, 512, 2)
    I = H
    flops = 3 * sum(2 * B * 4 * H * (I + H) * T for _ in range(L))  # forward: 2*B*4H*(I+H) per layer and step
    torch.manual_seed(0)
    backbone = RecurrentBackbone("lstm", I, H, num_layers=L)
    x, grad = torch.randn(B, T, I, requires_grad=True), torch.randn(B, T, H)
    times = fastest_of_two({"lstm": partial(lstm_seconds, backbone, x, grad), "gemm": gemm_reference(T, B, I, H, L)},
                           min(s.rounds, 3))
    efficiency = per_round(times["gemm"], times["lstm"])  # equal FLOPs: the FLOP/s ratio is the time ratio
    square = torch.randn(2048, 2048)
    start = time.perf_counter()
    torch.mm(square, square)
    rows = {"compute_lstm": figure(
        efficiency, unit="ratio", target=(">=", 0.6),
        how=f"RecurrentBackbone(lstm, {I}->{H}, {L} layers), B={B}, T={T}, forward+backward; FLOPs 3 x sum over "
            "layers and steps of 2*B*4H*(I+H); reference: the same GEMMs as torch.mm (one input projection over all "
            "steps + T recurrent GEMMs, and their backward); per round L G G L, the faster of each",
        lstm_gflops=[flops / t / 1e9 for t in times["lstm"]],
        gemm_gflops=[flops / t / 1e9 for t in times["gemm"]],
        square_2048_gemm_gflops=2 * 2048**3 / (time.perf_counter() - start) / 1e9,
    )}

    # The guard: our backbone must be the fused kernel, never a per-step Python loop (ReferenceRNN is one).
    T, B, I, H = (10, 16, 16, 32) if s.quick else (50, 64, 64, 128)
    torch.manual_seed(0)
    fused = RecurrentBackbone("lstm", I, H)
    loop = ReferenceRNN("lstm", I, H)
    loop.load_state_dict({k.removeprefix("rnn."): v for k, v in fused.state_dict().items()})
    x, grad = torch.randn(B, T, I, requires_grad=True), torch.randn(B, T, H)
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    # Fused calls per forward, and all torch calls per forward at T and 2T: a per-step loop's grow with T.
    x2 = torch.randn(B, 2 * T, I)
    calls = {
        "fused_unpadded": sum(torch_calls_per_forward(fused, x)[f] for f in FUSED),
        "fused_padded": sum(torch_calls_per_forward(fused, x, lengths)[f] for f in FUSED),
        "fused_ReferenceRNN": sum(torch_calls_per_forward(loop, x)[f] for f in FUSED),
        "torch_calls_T": sum(torch_calls_per_forward(fused, x).values()),
        "torch_calls_2T": sum(torch_calls_per_forward(fused, x2).values()),
        "ReferenceRNN_torch_calls_T": sum(torch_calls_per_forward(loop, x).values()),
        "ReferenceRNN_torch_calls_2T": sum(torch_calls_per_forward(loop, x2).values()),
    }
    times = fastest_of_two({"fused": partial(lstm_seconds, fused, x, grad), "loop": partial(lstm_seconds, loop, x, grad)},
                           s.rounds)
    row = figure(
        per_round(times["fused"], times["loop"]), unit="ratio", target=("<=", 0.8),
        how=f"speed of ReferenceRNN (a per-step Python loop) / RecurrentBackbone, LSTM {I}->{H}, B={B}, T={T}, "
            "forward+backward (per round F L L F, the faster of each); plus the fused torch._VF.lstm calls per forward (must be 1 "
            "unpadded; padded, on the CPU, one per segment between the rows' distinct lengths) and all torch calls per forward at "
            "T and 2T (must not grow), counted with a TorchFunctionMode",
        notes="were the backbone a per-step loop, the ratio would be ~1 and the fused calls 0; on CPU torch's own "
              "LSTM is a C++ loop over the same GEMMs, so the Python loop is only ~1.5-2.5x slower; the call counts "
              "are the exact guard (tests/test_benchmark.py holds them too)",
        fused_calls_per_forward=calls,
    )
    row["met"] = row["met"] and calls["fused_unpadded"] == 1 and calls["fused_padded"] == len(set(lengths.tolist())) \
        and calls["torch_calls_T"] == calls["torch_calls_2T"]
    rows["fused_path"] = row
    return rows


# --- figure 5: start-up -------------------------------------------------------------------------


def startup_time(s: Settings) -> dict[str, dict[str, Any]]:
    """`train.py --help`, the first training step, and a config error, against `python -c "import torch"`."""
    # train.py's directory (the repository root) is first on the child's sys.path: `benchmarks.stamp` imports as is.
    env = {**os.environ, "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": str(s.threads)}
    # limit_val_batches=1, not 0: run.train reads trainer.validate(...)[0] after fit, which is empty with 0 batches.
    first_step_args = ["trainer.max_steps=1", "trainer.limit_val_batches=1", "test=false", "logger=none",
                       "sample_length=0"]
    if s.quick:
        first_step_args.append("data.max_chars=200000")

    def run(*args: str, ok: bool = True) -> tuple[float, subprocess.CompletedProcess, float]:
        start = time.time()  # wall clock: the stamp written by the child is on the same clock
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        seconds = time.time() - start
        if (proc.returncode == 0) != ok:
            raise RuntimeError(f"{' '.join(args)} exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
        return seconds, proc, start

    def first_step() -> dict[str, float]:
        run_dir = scratch_dir(s, "first-step")
        stamp = run_dir / "stamp.json"
        seconds, _, start = run("train.py", *first_step_args, f"hydra.run.dir={run_dir}",
                                "+callbacks.stamp._target_=benchmarks.stamp.FirstBatchStamp", f"+callbacks.stamp.path={stamp}")
        times = json.loads(stamp.read_text())
        return {"to_fit_start": times["fit_start"] - start, "to_batch_start": times["start"] - start,
                "to_batch_end": times["end"] - start, "process": seconds}

    def config_error() -> float:
        seconds, proc, _ = run("train.py", "model.dropout=1.5", f"hydra.run.dir={scratch_dir(s, 'config-error')}", ok=False)
        if "model.dropout" not in proc.stderr:
            raise RuntimeError(f"the config error does not name model.dropout:\n{proc.stderr[-2000:]}")
        return seconds

    rounds = 1 if s.quick else min(s.rounds, 5)
    times = interleave({
        "import_torch": lambda: run("-c", "import torch")[0],
        "help": lambda: run("train.py", "--help")[0],
        "first_step": first_step,
        "config_error": config_error,
    }, rounds)
    torch_import = times["import_torch"]
    to_first = [t["to_batch_start"] for t in times["first_step"]]
    common = f"interleaved subprocesses, {rounds} rounds, OMP_NUM_THREADS={s.threads}; baseline python -c 'import torch'"
    return {
        "startup_help": figure(per_round(times["help"], torch_import), unit="x", target=("<=", 1.0),
                               how=f"python train.py --help wall time / import torch; {common}",
                               import_torch_s=torch_import, help_s=times["help"]),
        "startup_first_step": figure(
            per_round(to_first, torch_import), unit="x", target=("<=", 4.0),
            how=f"python train.py {' '.join(first_step_args)}: process start to the first training batch's "
                f"on_train_batch_start (a callback added by override stamps it) / import torch; {common}",
            notes="default experiment: Shakespeare char LM, LSTM 128; includes loading and encoding the text"
                  + ("; --quick: data.max_chars=200000" if s.quick else ""),
            to_fit_start_s=[t["to_fit_start"] for t in times["first_step"]], to_first_batch_s=to_first,
            to_first_batch_end_s=[t["to_batch_end"] for t in times["first_step"]],
            process_wall_s=[t["process"] for t in times["first_step"]], import_torch_s=torch_import,
        ),
        "startup_config_error": figure(
            times["config_error"], unit="s", target=("<", 2.0),
            how=f"python train.py model.dropout=1.5: wall time to the error naming model.dropout; {common}",
            ratio_to_import_torch=per_round(times["config_error"], torch_import),
        ),
    }


# --- figure 6: data pipeline --------------------------------------------------------------------


def encode_seconds(tokenizer: Any, lines: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    ids = tokenizer.encode_batch(lines)
    return time.perf_counter() - start, sum(map(len, ids))


def encode_whole_text(encode: Callable[[str], Any], text: str) -> tuple[float, int]:
    start = time.perf_counter()
    ids = encode(text)
    return time.perf_counter() - start, len(ids)


def lookup_table_encode(vocab: Any, text: str) -> Any:
    """CharVocab's ids for `text` through a NumPy table indexed by code point: the vectorized reference."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.full(max(int(codes.max()), *map(ord, vocab.stoi)) + 1, vocab.unk_id, dtype=np.int64)
    table[[ord(c) for c in vocab.stoi]] = list(vocab.stoi.values())
    return table[codes]


def data_pipeline(s: Settings) -> dict[str, dict[str, Any]]:
    """Tokens/s of each tokenizer on the Shakespeare text; the share of a default run's step spent waiting for data."""
    text = asset_text("shakespeare.txt.xz")[: 300_000 if s.quick else None]
    lines = text.splitlines(keepends=True)
    tokenizers: dict[str, Any] = {}
    missing = []
    try:
        from seqtrain.data import fit_tokenizer  # landing alongside the generic loaders

        for kind in ("char", "word", "bpe"):
            # BPE trains on a part of the text (its training is not what this measures); the others fit all of it.
            tokenizers[kind] = fit_tokenizer(kind, lines[:20_000] if kind == "bpe" else lines)
    except ImportError:
        from seqtrain.data import CharVocab

        tokenizers["char"] = CharVocab.fit(text)
        missing = ["word", "bpe"]
    contenders = {kind: partial(encode_seconds, tok, lines) for kind, tok in tokenizers.items()}
    contenders["char_whole_text"] = partial(encode_whole_text, tokenizers["char"].encode, text)
    contenders["char_lookup_table"] = partial(encode_whole_text, partial(lookup_table_encode, tokenizers["char"]), text)
    times = interleave(contenders, 1 if s.quick else 3)
    rows = {}
    for kind, tokenizer in tokenizers.items():
        rates = [n / t for t, n in times[kind]]
        rows[f"encode_{kind}"] = figure(
            rates, unit="tokens/s",
            how=f"{type(tokenizer).__name__}.encode_batch over the {len(lines):,} lines of the Shakespeare text "
                f"({len(text):,} characters), {len(times[kind])} rounds interleaved with the other tokenizers",
            notes="no target: informational" + ("; data=shakespeare encodes the same way, line by line (a cached Dataset.map)"
                                                 if kind == "char" else ""),
            characters_per_s=[len(text) / t for t, _ in times[kind]],
            tokens=times[kind][0][1],
            **({"whole_text_tokens_per_s": [n / t for t, n in times["char_whole_text"]],
                "numpy_lookup_table_tokens_per_s": [n / t for t, n in times["char_lookup_table"]]}
               if kind == "char" else {}),
        )
    for kind in missing:
        rows[f"encode_{kind}"] = skipped(f"seqtrain.data has no {kind} tokenizer yet", "")
    rows["batch_wait"] = batch_wait(s)
    return rows


def batch_wait(s: Settings) -> dict[str, Any]:
    """Share of a default run's training time between one batch's end and the next one's start."""
    warmup, timed = (2, 4) if s.quick else (3, 20)
    # The default run's data (windows 64x128: stateful=false, as the default run's step before stateful streams).
    datamodule = data_config_module("shakespeare", seq_len=128, batch_size=64, stateful=False,
                                    max_chars=300_000 if s.quick else None)
    datamodule.setup("fit")

    def run() -> dict[str, float]:
        cfg = compose_default(scratch_dir(s, "batch-wait"))
        gaps = BatchGaps(warmup)
        torch.manual_seed(0)
        model = instantiate(cfg.model, **datamodule.facts.model_kwargs())
        task = SequenceTask(model, task="language_modeling", num_outputs=datamodule.facts.num_outputs,
                            optimizer=instantiate(cfg.optimizer), gradient_clip_val=cfg.trainer.gradient_clip_val)
        run_default(cfg, task, datamodule, [gaps], warmup + timed + 1)
        # The loader alone, for the part of the gap that is data: the same loader's batches, fetched back to back.
        loader = iter(datamodule.train_dataloader())
        next(loader)
        start = time.perf_counter()
        for _ in range(timed):
            next(loader)
        fetch = (time.perf_counter() - start) / timed
        step = statistics.mean(gaps.steps) + statistics.mean(gaps.gaps)
        return {"gap": statistics.mean(gaps.gaps) / step, "fetch": fetch / step}

    results = [run() for _ in range(1 if s.quick else 3)]
    return figure(
        [r["gap"] for r in results], unit="fraction", target=("<", 0.05),
        how=f"default run (Shakespeare windows 64x128, LSTM 128, default callbacks, wandb offline): time from "
            f"on_train_batch_end to the next on_train_batch_start / whole step, {timed} batches after {warmup}",
        notes="the gap also holds ModelCheckpoint's batch-end hook and the logger connector; fetch_share is the "
              "DataLoader alone",
        fetch_share=[r["fetch"] for r in results],
    )


# --- figure 7: GPU ------------------------------------------------------------------------------


def gpu_throughput(s: Settings, device: str = "cuda") -> dict[str, dict[str, Any]]:
    """Tokens/s of seqtrain / a plain cuDNN loop: LSTM 1024 x 2, B=128, T=256; fp32, bf16-mixed, DDP on one GPU."""
    how = ("LSTM 1024x2, emb 256, V=256, B=128, T=256: tokens/s of SequenceTask + the default Trainer, callbacks and "
           "wandb / a plain cuDNN loop stepping beside it (torch.autocast for bf16)")
    if device == "cuda" and not torch.cuda.is_available():
        return {"gpu": skipped("no CUDA", how)}
    B, T, H, V = (4, 16, 32, 256) if s.quick else (128, 256, 1024, 256)
    warmup, timed = (2, 3) if s.quick else (5, 20)
    batches = warmup + timed + 2
    accelerator = "gpu" if device == "cuda" else "cpu"

    def model() -> SequenceModel:
        torch.manual_seed(0)
        return SequenceModel(cell="lstm", hidden_size=H, num_layers=2, embedding_dim=256 if not s.quick else 16,
                             vocab_size=V, num_outputs=V, per_step_targets=True, padding_idx=0).to(device)

    def loader() -> DataLoader:
        ids = torch.randint(1, V, (batches * B * T + 1,), generator=torch.Generator().manual_seed(0))
        return DataLoader(TokenWindows(ids, T), batch_size=B, shuffle=True, generator=torch.Generator().manual_seed(0),
                          collate_fn=partial(collate, input_padding=0, per_step=True), pin_memory=device == "cuda")

    cfg = compose_default(s.scratch / "compose")
    optimizer = instantiate(cfg.optimizer)
    clip = cfg.trainer.gradient_clip_val
    setups = {"gpu_fp32": ("32-true", "auto"), "gpu_bf16": ("bf16-mixed", "auto"), "gpu_ddp": ("32-true", "ddp")}

    def run(name: str) -> dict[str, float]:
        precision, strategy = setups[name]
        plain_model = model()
        autocast = torch.bfloat16 if precision == "bf16-mixed" else None
        plain = PlainAlongside(partial(plain_step, plain_model, optimizer(plain_model.parameters()), clip,
                                       device=torch.device(device), autocast=autocast), loader(), warmup, timed)
        task = SequenceTask(model(), task="language_modeling", num_outputs=V, optimizer=optimizer, gradient_clip_val=clip)
        try:
            run_default(compose_default(scratch_dir(s, name)), task, loader(), [plain], warmup + timed,
                        accelerator=accelerator, devices=1, precision=precision, strategy=strategy)
        finally:
            if torch.distributed.is_available() and torch.distributed.is_initialized():  # DDP on one device
                torch.distributed.destroy_process_group()
        return plain.seconds()

    runs = interleave({name: partial(run, name) for name in setups}, min(s.rounds, 3))
    return {name: figure([r["plain"] / r["framework"] for r in runs[name]], unit="ratio", target=(">=", 0.95),
                         how=f"{how}; precision={setups[name][0]}, strategy={setups[name][1]}; {timed} steps after "
                             f"{warmup}, {len(runs[name])} runs",
                         plain_tokens_per_s=[timed * B * T / r["plain"] for r in runs[name]],
                         seqtrain_tokens_per_s=[timed * B * T / r["framework"] for r in runs[name]])
            for name in setups}


# --- all of them --------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Settings], dict[str, dict[str, Any]]]] = {
    "overhead": framework_overhead,
    "tbptt": tbptt_overhead,
    "padding": padding_waste,
    "compute": compute_efficiency,
    "startup": startup_time,
    "data": data_pipeline,
    "gpu": gpu_throughput,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one round: checks that every figure runs")
    parser.add_argument("--only", help=f"comma-separated figures: {','.join(FIGURES)}")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per comparison (default 5; --quick 1)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads for every figure (default: torch's, %(default)s here)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where benchmark.json and benchmark.md go (default: %(default)s)")
    args = parser.parse_args(argv)
    names = list(FIGURES) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in FIGURES]:
        parser.error(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}")

    torch.set_num_threads(args.threads)
    freed_memory_kept = keep_freed_memory()
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", HF_DATASETS_OFFLINE="1",
                      RAYON_NUM_THREADS=str(args.threads))  # the tokenizers library's thread pool
    for name in ("lightning.pytorch", "lightning.fabric"):  # "GPU available: ...", tips: once per Trainer
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*(does not have many workers|could not find the monitored key|"
                                              r"no `val_dataloader`|LeafSpec|Checkpoint directory|smaller than the logging interval|"
                                              r"`IterableDataset` has `__len__`).*")
    figures: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seqtrain-benchmark-") as scratch:
        settings = Settings(quick=args.quick, rounds=args.rounds or (1 if args.quick else 5), threads=args.threads,
                            scratch=Path(scratch))
        report = {"machine": machine(args.threads) | {"malloc_keeps_freed_memory": freed_memory_kept},
                  "quick": args.quick, "rounds": settings.rounds}
        for name in names:
            print(f"[benchmark] {name} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            figures |= FIGURES[name](settings)
            seconds[name] = time.perf_counter() - start
            print(f"[benchmark] {name}: {seconds[name]:.0f} s", file=sys.stderr, flush=True)
    seconds["total"] = time.perf_counter() - started
    report |= {"figures": figures, "seconds": seconds}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / "benchmark.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
