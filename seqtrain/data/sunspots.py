"""Monthly mean sunspot numbers, 1749-01 to 2009-06 (shipped; see assets/ATTRIBUTION.md)."""

from __future__ import annotations

import lzma
from importlib.resources import files

import torch
from torch import Tensor


def load_monthly_sunspots() -> tuple[list[str], Tensor]:
    """The months ("1749-01", ...) and their sunspot numbers, (3126,) float32."""
    text = lzma.decompress((files("seqtrain.data") / "assets" / "sunspots_monthly.csv.xz").read_bytes()).decode("ascii")
    header, *rows = text.splitlines()
    if header != "month,sunspots":
        raise ValueError(f"unexpected sunspots header {header!r}")
    months, values = zip(*(row.split(",") for row in rows))
    return list(months), torch.tensor([float(v) for v in values], dtype=torch.float32)
