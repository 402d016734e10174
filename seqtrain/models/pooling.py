"""Many-to-one poolers: (B, T, D*H) backbone output + lengths -> (B, D*H) (`max_mean`: (B, 2*D*H)), correct for
padding."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _step_mask(lengths: Tensor, num_steps: int) -> Tensor:
    """True at the real steps of each row: (B, T)."""
    return torch.arange(num_steps, device=lengths.device) < lengths[:, None]


class LastStatePool(nn.Module):
    """Forward direction's output at step lengths-1 joined with the backward direction's output at step 0."""

    # `output[:, -1]` would read padding for short rows, and for a bidirectional model the backward
    # direction has only seen the last step there; its summary of the whole sequence sits at step 0.

    def __init__(self, num_directions: int) -> None:
        super().__init__()
        if num_directions not in (1, 2):
            raise ValueError(f"num_directions must be 1 or 2, got {num_directions!r}")
        self.num_directions = num_directions

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(output.device, non_blocking=True)
        rows = torch.arange(output.shape[0], device=output.device)
        last = output[rows, lengths - 1]  # (B, D*H)
        if self.num_directions == 1:
            return last
        hidden_size = output.shape[-1] // 2
        return torch.cat([last[:, :hidden_size], output[:, 0, hidden_size:]], dim=-1)  # (B, 2*H)

    def extra_repr(self) -> str:
        return f"num_directions={self.num_directions}"


class MeanPool(nn.Module):
    """Mean of the output over each row's real steps."""

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(output.device, non_blocking=True)
        mask = _step_mask(lengths, output.shape[1])[..., None]  # (B, T, 1)
        # masked_fill rather than a product: padding that holds inf/NaN must not leak in.
        total = output.masked_fill(~mask, 0).sum(dim=1)  # (B, D*H)
        return total / lengths[:, None].to(output.dtype)


class MaxPool(nn.Module):
    """Max of the output over each row's real steps; padding never wins, even over negative values."""

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(output.device, non_blocking=True)
        mask = _step_mask(lengths, output.shape[1])[..., None]  # (B, T, 1)
        return output.masked_fill(~mask, float("-inf")).amax(dim=1)  # (B, D*H)


class MaxMeanPool(nn.Module):
    """The max and the mean over each row's real steps side by side (ULMFiT's concat pooling, without the last
    state): (B, T, D*H) -> (B, 2*D*H). Max pooling keeps the strongest evidence anywhere in the row, the mean how
    much of the row shows it."""

    def __init__(self) -> None:
        super().__init__()
        self.max, self.mean = MaxPool(), MeanPool()

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        return torch.cat([self.max(output, lengths), self.mean(output, lengths)], dim=-1)  # (B, 2*D*H)


class AttentionPool(nn.Module):
    """A learned weighted mean over each row's real steps: a linear score per step, softmax over the real steps
    (Yang et al. 2016's attention, with one learned query and no hidden layer): (B, T, D*H) -> (B, D*H)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.score = nn.Linear(size, 1)

    def forward(self, output: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(output.device, non_blocking=True)
        mask = _step_mask(lengths, output.shape[1])[..., None]  # (B, T, 1)
        scores = self.score(output).masked_fill(~mask, float("-inf"))  # (B, T, 1); padding gets weight 0
        weights = torch.softmax(scores, dim=1)  # (B, T, 1)
        return (weights * output.masked_fill(~mask, 0)).sum(dim=1)  # (B, D*H)
