"""A linear autoregressive highway beside the network: each output adds a linear map of its target's last k input steps.

LSTNet (Lai et al. 2018) adds such a "highway" to its recurrent network, and NLinear / DLinear (Zeng et al. 2023)
are that linear part alone: a recurrent network trained on a few hundred steps does not learn a strong, regular
season (air passengers, orders with a yearly cycle), which a linear AR(p) on the last p steps captures at once.
Output o gets `sum_j weight[o, j] * x[T - k + j, target_inputs[o]]`, its own column only (one AR per output, and
per step ahead with a horizon), added to what the network forecasts. It reads the window the network reads: with
`model.relative_to` the target columns shifted by their level, so the map is on the changes from the last value
and zero weights leave the model exactly as it is without the highway (persistence when the network outputs zeros).
No bias: the network's output layer has one. The weights start at zero, so training starts from the network alone;
with `fit` (`model.ar_highway_fit`, called by `SequenceTask.setup`) they start at, or stay at, the least-squares AR
fit on the training windows (a ridge of `RIDGES` by leave-one-out error), so the network learns what to add to a
fitted linear autoregression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

ArHighway = int | Literal["auto"]
#: `model.ar_highway_fit`: start (the weights start at the least-squares fit, then train) | fixed (they keep it).
ArHighwayFit = Literal["start", "fixed"]
AR_HIGHWAY_FITS = ("start", "fixed")
#: The ridges the least-squares fit chooses from, per window, in the scaled inputs' units, by each output's exact
#: leave-one-out error over the training windows: a ridge settles weights the windows do not tell apart (with
#: `relative_to=last` the last step reads zero in every window), and a larger one keeps a fit of many weights on few
#: windows from fitting their noise (Lynx: 19 weights on 60 windows).
RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def resolve_ar_highway(ar_highway: ArHighway | None, target_inputs: object, window: int | None, per_step: bool) -> int | None:
    """`auto`: the whole window (k = the data's window) for a many-to-one forecast whose targets are all inputs, else None.
    Any other value but None must be a number of steps (checked here, before a model built around it says more)."""
    if ar_highway is not None and ar_highway != "auto":
        check_steps(ar_highway)
    if ar_highway == "auto":
        return window if target_inputs is not None and window is not None and not per_step else None
    return ar_highway


class AutoregressiveHighway(nn.Module):
    """inputs (B, T, F), lengths (B,) or None -> (B, O): a linear map of each output's input column over its last k steps.

    A row with fewer than k real steps reads zeros before its first step (with `relative_to`, the level itself).
    """

    def __init__(self, steps: int, target_inputs: Sequence[int]) -> None:
        super().__init__()
        check_steps(steps)
        self.steps = steps
        # Which input feature each output reads: from the data's facts, so not saved (like RelativeToWindow's).
        self.register_buffer("outputs_from", torch.tensor(list(target_inputs), dtype=torch.long), persistent=False)  # (O,)
        self.weight = nn.Parameter(torch.zeros(len(target_inputs), steps))  # (O, k): weight[o, j] for step T - k + j

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        k = self.steps
        columns = inputs[:, :, self.outputs_from]  # (B, T, O)
        # k zeros before the first step, so a window shorter than k reads zeros there; the same graph for any T
        # (an ONNX export traced at one length runs at others).
        padded = torch.cat([columns.new_zeros(columns.shape[0], k, columns.shape[2]), columns], dim=1)  # (B, k + T, O)
        if lengths is None:
            past = padded[:, -k:]  # (B, k, O)
        else:
            # Row b's real steps end at lengths[b]; in the padded frame its last k steps are lengths[b] .. lengths[b] + k - 1.
            at = lengths.to(inputs.device)[:, None] + torch.arange(k, device=inputs.device)  # (B, k)
            past = padded.gather(1, at[:, :, None].expand(-1, -1, columns.shape[2]))  # (B, k, O)
        return (past * self.weight.t()).sum(1)  # (B, O)

    @torch.no_grad()
    def fit(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Set each output's weights to the ridge least-squares map from its column's last k steps of the (N, T, F)
        windows ``inputs`` (in the frame `forward` reads) to its (N, O) ``targets``, alone (no network beside it), the
        ridge (of `RIDGES`, times N) chosen by the exact leave-one-out error (the residual over one minus the window's
        leverage). Returns (O,) each: the chosen ridge, the fit's training RMSE and its leave-one-out RMSE."""
        if inputs.shape[1] < self.steps:
            raise ValueError(f"the highway reads the last {self.steps} steps, but the training windows have {inputs.shape[1]}")
        past = inputs[:, -self.steps:, :][:, :, self.outputs_from].double()  # (N, k, O)
        targets = targets.double()
        n, eye = past.shape[0], torch.eye(self.steps, dtype=torch.float64, device=past.device)
        chosen = []
        for o in range(self.weight.shape[0]):
            x, y = past[:, :, o], targets[:, o]  # (N, k), (N,)
            best = None
            for ridge in RIDGES:
                solved = torch.linalg.solve(x.T @ x + ridge * n * eye, x.T)  # (k, N)
                weight = solved @ y  # (k,)
                residual = y - x @ weight
                leverage = (x * solved.T).sum(dim=1)  # (N,) the hat matrix's diagonal
                left_out = (residual / (1 - leverage)).pow(2).mean().sqrt()
                if best is None or left_out < best[0]:
                    best = (left_out, ridge, weight, residual.pow(2).mean().sqrt())
            left_out, ridge, weight, rmse = best
            self.weight[o] = weight.to(self.weight)
            chosen.append((ridge, float(rmse), float(left_out)))
        ridges, rmses, left_outs = zip(*chosen)
        return tuple(torch.tensor(v, dtype=torch.float64) for v in (ridges, rmses, left_outs))

    def extra_repr(self) -> str:
        return f"steps={self.steps}, outputs={self.weight.shape[0]}"


def check_steps(steps: object) -> None:
    """Refuse an `ar_highway` that is not a number of input steps (>= 1)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"ar_highway must be an integer >= 1 (input steps per output), 'auto' or None, got {steps!r}")
