"""The one type that crosses from data to task: a padded batch with lengths."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

#: Target value the classification losses ignore (``torch.nn.CrossEntropyLoss``'s default).
IGNORE_INDEX = -100


@dataclass
class Batch:
    """A padded, batch-first batch.

    inputs:  (B, T) token ids (long) or (B, T, F) real features (float).
    lengths: (B,) long, on the CPU (what ``pack_padded_sequence`` wants).
    targets: (B,) class ids / (B, F_out) real values for per-sequence targets;
             (B, T) class ids / (B, T, F_out) real values for per-step targets.
             Per-step class targets are IGNORE_INDEX on padding; real-valued
             per-step targets are masked with ``lengths``.
    stateful: rows continue the previous batch's rows, so the recurrent state may be carried.
    resets:  (B, T) bool on the CPU, or None; stateful batches only: True where a new document
             starts, so the state of that row is zeroed before that step (see
             ``seqtrain.task.run_with_resets``).
    """

    inputs: Tensor
    lengths: Tensor
    targets: Tensor
    stateful: bool = False
    resets: Tensor | None = None

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move inputs and targets; lengths and resets stay on the CPU."""
        return Batch(
            self.inputs.to(device, non_blocking=non_blocking),
            self.lengths,
            self.targets.to(device, non_blocking=non_blocking),
            self.stateful,
            self.resets,
        )

    def pin_memory(self) -> Batch:
        return Batch(self.inputs.pin_memory(), self.lengths, self.targets.pin_memory(), self.stateful, self.resets)
