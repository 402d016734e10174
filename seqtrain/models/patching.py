"""Input patching: k consecutive steps of a real-valued sequence become one input step (k*F features).

A recurrent network reads a long univariate series one value at a time and must carry everything
across hundreds of steps; grouping k steps into one vector (as PatchTST does for transformers)
shortens the recurrence k-fold and lets the input layer see local shape directly. Only for
real-valued inputs with one target per sequence: a per-step target has no patched step of its own.

Where the patches start is arbitrary: dropping r < k leading steps gives another of k patchings of the
same series (`drop_leading`; `SequenceModel(patch_shift=True)` trains on a random one per row and
evaluates on the mean over all k).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def patch_steps(inputs: Tensor, lengths: Tensor | None, patch_size: int) -> tuple[Tensor, Tensor | None]:
    """(B, T, F) features, lengths (B,) -> (B, ceil(T/k), k*F), lengths ceil(lengths/k).

    Each row's tail is zero-filled to a whole patch, whatever its padding held, so a row patched in a
    padded batch equals the row patched alone. A patch holds its steps in time order:
    `[x_t, x_t+1, ..., x_t+k-1]`, each step's F features together.
    """
    if patch_size == 1:
        return inputs, lengths
    if lengths is not None:  # padding may hold anything; a patch that straddles a row's end must see zeros
        real = torch.arange(inputs.shape[1], device=inputs.device) < lengths.to(inputs.device)[:, None]  # (B, T)
        inputs = inputs.masked_fill(~real[..., None], 0.0)
    # Zero-fill to a whole number of patches, then view each patch's k steps as one row. The sizes are
    # read from the tensor (not Python ints), so an exported graph keeps B and T dynamic.
    B, T, F = inputs.shape
    padded = nn.functional.pad(inputs, (0, 0, 0, patch_size - 1))  # (B, T+k-1, F)
    whole = (T + patch_size - 1) // patch_size  # ceil(T/k)
    patched = padded[:, : whole * patch_size].reshape(B, whole, patch_size * F)  # (B, ceil(T/k), k*F)
    if lengths is None:
        return patched, None
    return patched, (lengths + patch_size - 1) // patch_size


def drop_leading(inputs: Tensor, lengths: Tensor | None, drop: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, F) features, lengths (B,) or None (all T), drop (B,) long -> (B, T, F), lengths - drop.

    Row b loses its first `drop[b]` steps (at most lengths-1: one step always stays), so its patches
    start `drop[b]` steps later: another phase of the same series. The steps move to the front; what
    lies past the new length is padding (`patch_steps` zero-fills it).
    """
    B, T, F = inputs.shape
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long)
    lengths = lengths.to(drop.device)
    drop = torch.minimum(drop, lengths - 1)  # (B,)
    # Past the new length the index stops at the row's last real step (padding, never read).
    index = torch.minimum(torch.arange(T, device=drop.device)[None, :] + drop[:, None], lengths[:, None] - 1)  # (B, T)
    index = index.to(inputs.device)[..., None].expand(B, T, F)
    return inputs.gather(1, index), lengths - drop


class PatchSpectrum(nn.Module):
    """Each patch's magnitude spectrum beside its values: (B, P, k*F) -> (B, P, k*F + (k//2+1)*F).

    A patch's values say where in the patch each bump lies; the magnitudes of its discrete Fourier transform over
    the k steps (per feature, `|X_f| = |sum_t x_t e^(-2 pi i f t / k)| / sqrt(k)`, f = 0..k//2) say how much of
    each rhythm it holds, wherever it lies: the same for every circular shift of the patch, so a beat or a cycle that
    falls across patch edges differently from row to row reads alike (a spectrogram frame, what recurrent speech
    models read). The transform is two fixed (k, k//2+1) matrices (cosines and sines), so it runs and exports as
    a matrix product on every backend; they are rebuilt from k, not saved with the weights.
    """

    def __init__(self, patch_size: int, step_features: int) -> None:
        super().__init__()
        self.patch_size, self.step_features = patch_size, step_features
        steps = torch.arange(patch_size, dtype=torch.float64)
        frequencies = torch.arange(patch_size // 2 + 1, dtype=torch.float64)
        angle = 2 * torch.pi * torch.remainder(steps[:, None] * frequencies[None, :], patch_size) / patch_size  # (k, n)
        scale = patch_size ** -0.5  # orthonormal: a patch's spectrum is on its values' scale (Parseval)
        self.register_buffer("cosines", (torch.cos(angle) * scale).float(), persistent=False)  # (k, n)
        self.register_buffer("sines", (torch.sin(angle) * scale).float(), persistent=False)  # (k, n)

    @staticmethod
    def features(patch_size: int, step_features: int) -> int:
        """How many features the spectrum adds to a patch of `patch_size` steps of `step_features` each."""
        return (patch_size // 2 + 1) * step_features

    def forward(self, patched: Tensor) -> Tensor:
        B, P, _ = patched.shape
        steps = patched.reshape(B, P, self.patch_size, self.step_features)  # (B, P, k, F): a patch holds its steps in order
        real = torch.einsum("bpkf,kn->bpnf", steps, self.cosines.to(patched.dtype))  # (B, P, n, F)
        imaginary = torch.einsum("bpkf,kn->bpnf", steps, self.sines.to(patched.dtype))  # (B, P, n, F)
        magnitude = torch.sqrt(real * real + imaginary * imaginary)  # (B, P, n, F)
        return torch.cat([patched, magnitude.reshape(B, P, -1)], dim=-1)  # (B, P, k*F + n*F)
