"""Numbers a model cannot compute with: values beyond float32's range, and scaling statistics that are not finite.

Files are read in float64, so `1e300` parses as a finite number; the model and its inputs are float32, where it
becomes inf, the scaling's standard deviation overflows, and the run trains on nothing and reports nan. Both
checks name the place: `where(i)` gives the file, row (and step) of index i of the values checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from seqtrain.errors import DataError

if TYPE_CHECKING:
    from seqtrain.encoders.scaling import Standardizer

#: The largest magnitude float32, the dtype the model computes in, holds (about 3.4e38).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32(values: np.ndarray, where: Callable[[int], str], column: str) -> None:
    """Refuse the first of `values` (any shape, float64) whose magnitude float32 cannot hold; `where(i)` names its
    place from its index in the flattened values."""
    beyond = np.flatnonzero(np.abs(np.asarray(values, dtype=np.float64)).reshape(-1) > FLOAT32_MAX)
    if len(beyond):
        i = int(beyond[0])
        value = float(np.asarray(values).reshape(-1)[i])
        more = f" ({len(beyond)} such values)" if len(beyond) > 1 else ""
        raise DataError(
            f"{where(i)}, column {column!r}: {value:g} is too large for float32, the precision the model computes in "
            f"(magnitudes up to {FLOAT32_MAX:.3g}){more}: it would become inf and every metric nan; fix the value, "
            "or write the column in other units (or its logarithm)"
        )


def check_statistics(scaler: Standardizer, values: np.ndarray, columns: Sequence[str], where: Callable[[int], str],
                     what: str) -> None:
    """Refuse scaling statistics fitted on `values` (N, F) that are not finite, naming feature k's column (`columns[k]`)
    and the row of its largest magnitude (`where(i)` for row i of `values`); `what`: the features, for the message."""
    for k, (shift, scale) in enumerate(zip(scaler.shift, scaler.scale)):
        if math.isfinite(shift) and math.isfinite(scale):
            continue
        magnitudes = np.abs(np.asarray(values, dtype=np.float64)[:, k])
        i = int(np.nanargmax(magnitudes)) if not np.isnan(magnitudes).all() else 0
        raise DataError(
            f"{where(i)}, column {columns[k]!r}: the scaling of the {what} fitted on the training split is not finite "
            f"(shift {shift:g}, scale {scale:g}); the largest magnitude is this row's {values[i, k]:g}; fix the value, "
            "or write the column in other units (or its logarithm)"
        )
