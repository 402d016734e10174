"""Checks on a datamodule's constructor arguments: counts, split fractions and where the data comes from, refused with
the argument named."""

from __future__ import annotations


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def check_split_fractions(val_fraction: float, test_fraction: float, *, no_val: bool = False) -> None:
    """Each in (0, 1), with rows left for training; `no_val`: the loader also trains without a validation split
    (val_fraction=0)."""
    fractions = {"val_fraction": val_fraction, "test_fraction": test_fraction}
    if no_val and val_fraction == 0:
        del fractions["val_fraction"]
    for name, value in fractions.items():
        if not 0.0 < value < 1.0:
            allowed = "in (0, 1), or 0 for no validation split" if no_val and name == "val_fraction" else "in (0, 1)"
            raise ValueError(f"{name} must be {allowed}, got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")


def check_hub_config(hub: str | None, hub_config: str | None) -> None:
    """A hub dataset's configuration needs the hub dataset: alone, it would be ignored and the files read."""
    if hub_config is not None and hub is None:
        raise ValueError(f"hub_config={hub_config!r} names a configuration of a hub dataset, but hub is not set: "
                         "set data.hub, or drop data.hub_config")
