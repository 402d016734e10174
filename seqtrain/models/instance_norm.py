"""Instance normalization of real-valued rows: each row standardized per feature over its own steps.

The table loader standardizes each feature with the training split's statistics, one mean and one
standard deviation for all rows. Where rows differ in level or amplitude by orders of magnitude (the
current drawn by a heater and by a phone charger, PLAID), that leaves most rows near zero and a few
far out: the recurrent cell sees little but the scale. The UCR archive z-normalizes most of its sets
for that reason (Dau et al. 2019), and RevIN (Kim et al. 2022) does it inside the network.

- `shape`: each row's steps minus its mean, over its standard deviation, per feature (padded steps
  excluded, and left at zero): what is left is the row's shape.
- `shape_level`: the same, with the row's mean and log standard deviation (per feature) appended
  to every step as 2F more features, so level and amplitude still reach the network.
- `shape_values`: the row's shape beside its values as the loader scaled them (2F features): both
  views of every step.

The statistics are computed in float64 (float32 on Apple's MPS, which has no float64): a quiet row's
spread can be 1e-4 of the feature's spread over all rows (PLAID's), which a float32 epsilon would
flatten. A row of one step, or a constant feature, has standard deviation 0: `EPS` keeps the division
finite (its shape is then zeros; its level is still in `shape_level`'s and `shape_values`' features).

`configs/recipe/table.yaml` sets `shape_values` for every table (round thirteen of the study, README).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

INSTANCE_NORMS = ("shape", "shape_level", "shape_values")
InstanceNorm = Literal["shape", "shape_level", "shape_values"]
EPS = 1e-12  # added to the variance, in the loader's standardized units (a feature's spread over all rows is 1)


class RowStandardizer(nn.Module):
    """inputs (B, T, F), lengths (B,) or None (every step real) -> (B, T, F), or (B, T, 3F) with `shape_level`, or
    (B, T, 2F) with `shape_values`."""

    def __init__(self, mode: InstanceNorm) -> None:
        super().__init__()
        if mode not in INSTANCE_NORMS:
            raise ValueError(f"instance_norm must be one of {list(INSTANCE_NORMS)} or None, got {mode!r}")
        self.mode = mode

    def features(self, num_features: int) -> int:
        """Features per step of the output."""
        return {"shape": 1, "shape_level": 3, "shape_values": 2}[self.mode] * num_features

    def forward(self, inputs: Tensor, lengths: Tensor | None) -> Tensor:
        dtype = inputs.dtype
        inputs = inputs.float() if inputs.device.type == "mps" else inputs.double()  # (MPS has no float64)
        if lengths is None:  # no padding (and the graph an export traces: no shape-dependent branch)
            mean = inputs.mean(dim=1, keepdim=True)  # (B, 1, F)
            variance = ((inputs - mean) ** 2).mean(dim=1, keepdim=True)  # (B, 1, F)
            mask = torch.ones_like(inputs[..., :1])  # (B, T, 1)
        else:
            steps = torch.arange(inputs.shape[1], device=inputs.device)  # (T,)
            mask = (steps[None, :] < lengths.to(inputs.device)[:, None]).unsqueeze(-1).to(inputs.dtype)  # (B, T, 1)
            inputs = inputs.masked_fill(mask == 0, 0.0)  # padding may hold anything (NaN too): never read
            count = mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1, 1)
            mean = (inputs * mask).sum(dim=1, keepdim=True) / count  # (B, 1, F)
            variance = (((inputs - mean) * mask) ** 2).sum(dim=1, keepdim=True) / count  # (B, 1, F)
        std = torch.sqrt(variance + EPS)  # (B, 1, F)
        shape = (inputs - mean) / std * mask  # (B, T, F); padded steps stay zero
        if self.mode == "shape":
            return shape.to(dtype)
        if self.mode == "shape_values":
            return torch.cat([shape, inputs * mask], dim=-1).to(dtype)  # (B, T, 2F)
        level = torch.cat([mean, torch.log(std)], dim=-1)  # (B, 1, 2F)
        return torch.cat([shape, level.expand(-1, inputs.shape[1], -1) * mask], dim=-1).to(dtype)  # (B, T, 3F)
