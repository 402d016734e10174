"""`Standardizer`: per-feature scaling of real values, fitted on the training split, reversible for reporting."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

Scaling = Literal["standard", "minmax", "none"]
SCALINGS: tuple[str, ...] = get_args(Scaling)
Values = TypeVar("Values", np.ndarray, "Tensor")


class Standardizer:
    """`encode(x) = (x - shift) / scale` per feature (the last axis); `decode` undoes it.

    standard: shift the mean, scale the (population) standard deviation; minmax: shift the
    minimum, scale the range; none: shift 0, scale 1. A constant feature keeps scale 1, so it
    encodes to 0 instead of dividing by zero.
    """

    def __init__(self, shift: list[float], scale: list[float]) -> None:
        if len(shift) != len(scale):
            raise ValueError(f"shift and scale need one value per feature, got {len(shift)} and {len(scale)}")
        self.shift = [float(v) for v in shift]
        self.scale = [float(v) for v in scale]

    @classmethod
    def fit(cls, values: np.ndarray | Tensor, method: Scaling = "standard") -> Standardizer:
        """Statistics of (N, F) values (any leading shape: the last axis is the feature), in float64."""
        if method not in SCALINGS:
            raise ValueError(f"scaling must be one of {list(SCALINGS)}, got {method!r}")
        array = _float64(values)
        array = array.reshape(-1, array.shape[-1] if array.ndim > 1 else 1)  # (N, F)
        if method == "none":
            return cls([0.0] * array.shape[1], [1.0] * array.shape[1])
        if method == "standard":
            shift, spread = array.mean(0), array.std(0)
        else:
            shift, spread = array.min(0), array.max(0) - array.min(0)
        return cls(shift.tolist(), np.where(spread > 0, spread, 1.0).tolist())

    def __len__(self) -> int:
        return len(self.shift)

    def encode(self, values: Values) -> Values:
        """(..., F) values scaled, computed in float64 (the statistics' precision) and returned as float32, of the
        type given: a torch Tensor, or a NumPy array (as an exported model's caller feeds it)."""
        scaled = (_float64(values) - np.asarray(self.shift)) / np.asarray(self.scale)
        return _like(values, scaled.astype(np.float32))

    def decode(self, values: Values) -> Values:
        """(..., F) scaled values back in the original units (float64), of the type given."""
        return _like(values, _float64(values) * np.asarray(self.scale) + np.asarray(self.shift))

    def select(self, features: list[int]) -> Standardizer:
        """The statistics of some features only, in the given order (repeats allowed)."""
        return Standardizer([self.shift[k] for k in features], [self.scale[k] for k in features])

    def to_dict(self) -> dict[str, Any]:
        return {"shift": list(self.shift), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardizer:
        return cls(d["shift"], d["scale"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Standardizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Standardizer({len(self)} features)"


def _float64(values: np.ndarray | Tensor) -> np.ndarray:
    """Values as a float64 NumPy array (torch is not imported for NumPy input)."""
    if _is_tensor(values):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _like(values: Values, array: np.ndarray) -> Values:
    """`array` as the type of `values`: a Tensor for a Tensor, else the NumPy array."""
    return sys.modules["torch"].from_numpy(array) if _is_tensor(values) else array


def _is_tensor(values: object) -> bool:
    """A torch Tensor, found without importing torch (where torch is not imported, no value is a Tensor)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(values, torch.Tensor)
