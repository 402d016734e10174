"""First differences of real-valued rows beside their values: each step's change from the step before.

A shape classifier on outlines and profiles (leaves, arrowheads, spectra) is told most by where a
series turns, which its values show only through their neighbours. Derivative DTW (Keogh & Pazzani
2001; Górecki & Łuczak 2013) compares series on their first differences for that reason, and
spectra are read by their derivatives (Tecator's fat content). Here the differences `x_t - x_(t-1)`
join the values as more features per step (0 at the first step, which has no step before it):

- `inputs`: each input feature's difference, before `instance_norm` (which then standardizes the
  differences over each row like any feature): (B, T, F) -> (B, T, 2F) into instance_norm;
- `inputs2`: the same with each feature's second difference `x_t - 2 x_(t-1) + x_(t-2)` too (the
  curvature of an outline; 0 at the first two steps): (B, T, F) -> (B, T, 3F) into instance_norm;
- `shape`: the difference of each feature of `instance_norm`'s shape (the row standardized over its
  own steps), after it: F more features beside what instance_norm gives; needs instance_norm.

The differences are zeros at padded steps whatever the padding held (the values' padding is left to
instance_norm and patching, which never read it), so a row reads the same alone and in a padded batch.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

DIFFERENCES = ("inputs", "inputs2", "shape")
Differences = Literal["inputs", "inputs2", "shape"]


def first_differences(inputs: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T, F), lengths (B,) or None (every step real) -> (B, T, F): `x_t - x_(t-1)`, 0 at each row's first step
    and at its padded steps."""
    real = None
    if lengths is not None:
        real = (torch.arange(inputs.shape[1], device=inputs.device) < lengths.to(inputs.device)[:, None])[..., None]  # (B, T, 1)
        inputs = inputs.masked_fill(~real, 0.0)
    previous = nn.functional.pad(inputs[:, :-1], (0, 0, 1, 0))  # (B, T, F): step t-1's values, zeros before step 0
    differences = inputs - previous  # (B, T, F)
    differences = torch.cat([torch.zeros_like(differences[:, :1]), differences[:, 1:]], dim=1)  # step 0 has no change
    if real is not None:
        differences = differences.masked_fill(~real, 0.0)  # the step past a row's end is padding
    return differences


def second_differences(first: Tensor, lengths: Tensor | None) -> Tensor:
    """The rows' first differences (`first_differences`' (B, T, F)), lengths (B,) or None -> (B, T, F): `x_t - 2 x_(t-1)
    + x_(t-2)`, 0 at each row's first two steps and at its padded steps."""
    twice = first_differences(first, lengths)  # (B, T, F)
    # Step 1's is its first difference (step 0's is set to 0), not a second one: it has no step t-2.
    return torch.cat([torch.zeros_like(twice[:, :2]), twice[:, 2:]], dim=1)
