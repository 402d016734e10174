"""Collation of variable-length `(inputs, target)` examples into one padded `Batch`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from seqtrain.batch import IGNORE_INDEX, Batch


def collate(examples: Sequence[tuple[Tensor, Tensor]], *, input_padding: int | float, per_step: bool) -> Batch:
    """Pad inputs (and per-step targets) batch-first; stack per-sequence targets.

    Each example is `inputs` (T,) ids or (T, F) features with a `target` that is (T,) / (T, F_out)
    per step or () / (F_out,) per sequence. Per-step class targets are padded with IGNORE_INDEX so
    the loss skips them; per-step real targets with 0.0 (the task masks them with `lengths`).
    """
    if not examples:
        raise ValueError("collate needs at least one example")
    inputs = [x for x, _ in examples]
    targets = [y for _, y in examples]
    lengths = torch.tensor([x.shape[0] for x in inputs], dtype=torch.long)  # (B,), on the CPU
    padded = pad_sequence(inputs, batch_first=True, padding_value=input_padding)  # (B, T) / (B, T, F)
    if not per_step:
        return Batch(padded, lengths, torch.stack(targets))  # (B,) / (B, F_out)
    if any(y.shape[0] != x.shape[0] for x, y in examples):
        raise ValueError("per-step targets must have one entry per input step")
    target_padding = 0.0 if targets[0].is_floating_point() else IGNORE_INDEX
    return Batch(padded, lengths, pad_sequence(targets, batch_first=True, padding_value=target_padding))
