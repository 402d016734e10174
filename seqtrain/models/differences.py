"""First differences of real-valued rows beside their values: each step's change from the step before.

A shape classifier on outlines and profiles (leaves, arrowheads, spectra) is told most by where a
series turns, which its values show only through their neighbours. Derivative DTW (Keogh & Pazzani
2001; Górecki & Łuczak 2013) compares series on their first differences for that reason. Here each
feature's difference `x_t - x_(t-1)` joins it as one more feature per step (0 at the first step, which
has no step before it), so the network reads the slope beside the value: (B, T, F) -> (B, T, 2F).
`instance_norm` then standardizes the differences over each row like any feature.

Padded steps hold zeros in the output whatever the input's padding held, so a row reads the same
alone and in a padded batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def append_differences(inputs: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, F), lengths (B,) or None (every step real) -> (B, T, 2F): `[x_t, x_t - x_(t-1)]`, 0 before the first."""
    if lengths is not None:
        real = torch.arange(inputs.shape[1], device=inputs.device) < lengths.to(inputs.device)[:, None]  # (B, T)
        inputs = inputs.masked_fill(~real[..., None], 0.0)
    previous = nn.functional.pad(inputs[:, :-1], (0, 0, 1, 0))  # (B, T, F): step t-1's values, zeros before step 0
    differences = inputs - previous  # (B, T, F)
    differences = torch.cat([torch.zeros_like(differences[:, :1]), differences[:, 1:]], dim=1)  # step 0 has no change
    if lengths is not None:
        differences = differences.masked_fill(~real[..., None], 0.0)  # the step past a row's end is padding
    return torch.cat([inputs, differences], dim=-1)  # (B, T, 2F)
