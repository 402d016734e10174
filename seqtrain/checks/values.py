"""Numbers a model cannot compute with: values beyond float32's range, and scaling statistics that are not finite.

Files are read in float64, so `1e300` parses as a finite number; the model and its inputs are float32, where it
becomes inf, the scaling's standard deviation overflows, and the run trains on nothing and reports nan. Both
checks name the place: `where(i)` gives the file, row (and step) of index i of the values checked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from seqtrain.errors import DataError

if TYPE_CHECKING:
    from seqtrain.encoders.scaling import Standardizer

log = logging.getLogger(__name__)

#: The largest magnitude float32, the dtype the model computes in, holds (about 3.4e38).
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: `warn_dominated_scaling`: a feature's standard deviation this many times that of its values without the few most
#: extreme (0.01 %, at least one) is set by those few. Every feature and target of the study's 14 numeric sets is at 1.00-1.13.
DOMINATED = 5.0
FEW = 1e-4


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


def warn_dominated_scaling(values: np.ndarray, columns: Sequence[str], where: Callable[[int], str], what: str) -> list[int]:
    """Warn where a handful of values set a feature's standard scaling: its standard deviation over `values` (N, F) is
    more than `DOMINATED` times that of the same values without the most extreme `FEW` of them (at least one), so
    every other value is squeezed to almost one number after scaling (one typo of 1e6 among values near 1). Names
    feature k's column (`columns[k]`), the place of its most extreme value (`where(i)` for row i) and how many such
    values there are; training goes on. Returns the features warned about."""
    warned = []
    array = np.asarray(values, dtype=np.float64)
    for k in range(array.shape[1]):
        column = array[:, k]
        column = column[np.isfinite(column)]
        few = max(1, math.ceil(len(column) * FEW))
        if len(column) <= 2 * few:
            continue
        distance = np.abs(column - np.median(column))
        extreme = np.argpartition(distance, len(column) - few)[len(column) - few:]
        std, rest = column.std(), np.delete(column, extreme).std()
        if not std > DOMINATED * rest:  # also when both are 0
            continue
        i = int(np.nanargmax(np.abs(array[:, k] - np.median(column))))
        ratio = f"{std / rest:.3g} times" if rest > 0 else "infinitely more than"
        log.warning(
            "data: %s, column %r: %s of %s set the scaling of the %s: its standard deviation is %.3g, %s that of the "
            "other values (%.3g), so after scaling those sit almost on one value. The most extreme is this row's %g: "
            "check it (a unit or typing error?); training goes on with this scaling", where(i), columns[k],
            "one value" if few == 1 else f"the {few} most extreme values", f"{len(column):,}", what, std, ratio, rest,
            array[i, k])
        warned.append(k)
    return warned
