"""Forecasting relative to the window: the network predicts the change from each target's last value (or mean).

A series scaled on its training steps leaves that range when it trends (air passengers, GDP, CO2):
the test windows then hold values the network never saw, a tanh recurrent cell saturates there, and
the forecast falls far below persistence. NLinear (Zeng et al. 2023) subtracts the window's last
value and adds it back; darts' `use_reversible_instance_norm` and neuralforecast's temporal scalers
do the same with the window's statistics (RevIN, Kim et al. 2022). Here the target columns of the
window are shifted by the level, the network reads the shifted window, and the level is added to
its outputs, so a network that outputs zeros is persistence (`last`) or the window's mean (`mean`),
and a level the training steps never reached changes nothing but the level.

Only the input features that are targets are shifted: other inputs (covariates) keep their values.
`auto` (the `forecast` recipe's) is `last` when the data says which input each output forecasts (every
target is an input) and off otherwise, so a recipe default never refuses a forecast of one column from others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

RELATIVE_TO = ("last", "mean")
RelativeTo = Literal["last", "mean", "auto"]


def resolve_relative_to(relative_to: RelativeTo | None, target_inputs: object) -> RelativeTo | None:
    """`auto`: `last` when the data gives each output's input feature (`target_inputs`), else None."""
    if relative_to == "auto":
        return "last" if target_inputs is not None else None
    return relative_to


class RelativeToWindow(nn.Module):
    """inputs (B, T, F) -> (inputs with the target features shifted by their level, level of each output).

    Many-to-one (one forecast per window): the level is each target feature's last real step (`last`)
    or its mean over the real steps (`mean`); outputs (B, O) get level (B, O).
    Per step (many-to-many, `last` only): the output at step t forecasts step t+1, so its level is
    step t's own value, (B, T, O); the window is shifted by its first step, the only level every
    step has already seen (a later one would show the network its own targets).
    """

    def __init__(self, relative_to: RelativeTo, target_inputs: Sequence[int], num_features: int, per_step: bool) -> None:
        super().__init__()
        if relative_to not in RELATIVE_TO:
            raise ValueError(f"relative_to must be one of {list(RELATIVE_TO)} or None, got {relative_to!r}")
        if per_step and relative_to == "mean":
            raise ValueError("relative_to='mean' needs one forecast per window (a many_to_one head): the window's mean "
                             "holds the steps a per-step head forecasts; use relative_to='last'")
        self.relative_to, self.per_step = relative_to, per_step
        # Index and mask buffers, not saved in the state dict: they follow from the data's facts, and
        # checkpoints from before this option load unchanged.
        self.register_buffer("outputs_from", torch.tensor(list(target_inputs), dtype=torch.long), persistent=False)  # (O,)
        shifted = torch.zeros(num_features)
        shifted[sorted(set(target_inputs))] = 1.0
        self.register_buffer("shifted", shifted, persistent=False)  # (F,): 1 where the feature is a target

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.per_step:
            reference = inputs[:, :1]  # (B, 1, F): the first step
            return inputs - reference * self.shifted, inputs[:, :, self.outputs_from]  # (B, T, F), (B, T, O)
        if self.relative_to == "last":
            if lengths is None:
                reference = inputs[:, -1]  # (B, F)
            else:
                last = (lengths.to(inputs.device) - 1).clamp(min=0)
                reference = inputs[torch.arange(inputs.shape[0], device=inputs.device), last]  # (B, F)
        elif lengths is None:
            reference = inputs.mean(1)  # (B, F)
        else:
            real = torch.arange(inputs.shape[1], device=inputs.device) < lengths.to(inputs.device)[:, None]  # (B, T)
            reference = (inputs * real[..., None]).sum(1) / lengths.to(inputs.device).clamp(min=1)[:, None]  # (B, F)
        return inputs - reference[:, None] * self.shifted, reference[:, self.outputs_from]  # (B, T, F), (B, O)
