"""Monthly mean sunspot numbers, 1749-01 to 2009-06 (shipped; see assets/ATTRIBUTION.md)."""

from __future__ import annotations

import lzma
from importlib.resources import files
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqtrain.data.forecast import ForecastDataModule, ForecastMode
from seqtrain.data.scaling import Scaling


def load_monthly_sunspots() -> tuple[list[str], Tensor]:
    """The months ("1749-01", ...) and their sunspot numbers, (3126,) float32."""
    text = lzma.decompress((files("seqtrain.data") / "assets" / "sunspots_monthly.csv.xz").read_bytes()).decode("ascii")
    header, *rows = text.splitlines()
    if header != "month,sunspots":
        raise ValueError(f"unexpected sunspots header {header!r}")
    months, values = zip(*(row.split(",") for row in rows))
    return list(months), torch.tensor([float(v) for v in values], dtype=torch.float32)


class SunspotsDataModule(ForecastDataModule):
    """Forecast the monthly sunspot number from the previous `window` months (3,126 months, 1749-2009).

    Split in time: the last `test_fraction` of the months are test targets (20%: the last 626
    months, 1957-04 to 2009-06), the `val_fraction` before them val targets; scaling is fitted on
    the training months only, and reported metrics are in sunspot numbers. For reference on this
    split (`python scripts/data_report.py`): persistence RMSE 19.46, linear AR(24) about 17.3.
    """

    def __init__(
        self,
        window: int = 24,
        horizon: int = 1,
        stride: int = 1,
        mode: ForecastMode = "many_to_one",
        scale: Scaling = "standard",
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        **base: Any,
    ) -> None:
        # The series is the shipped one: file and column options of ForecastDataModule do not apply.
        unknown = sorted(set(base) - {"num_workers", "pin_memory", "bucket", "seed"})
        if unknown:
            raise TypeError(f"SunspotsDataModule got unexpected arguments {unknown} (it reads the shipped series)")
        super().__init__(
            columns=["sunspots"],
            window=window,
            horizon=horizon,
            stride=stride,
            mode=mode,
            scale=scale,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            **base,
        )

    def load_series(self) -> tuple[list[np.ndarray], list[str]]:
        _, values = load_monthly_sunspots()
        return [values.double().numpy()[:, None]], ["sunspots"]  # one series, (3126, 1)
