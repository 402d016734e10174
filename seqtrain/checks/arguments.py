"""Checks on a datamodule's constructor arguments: counts, split fractions and where the data comes from, refused with
the argument named."""

from __future__ import annotations

from collections.abc import Callable


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


def output_problem(out: str, flag: str = "--out") -> str | None:
    """Why a script could not write its output file at `out`, or None: checked before the model and data are loaded
    (a folder there, a file where a parent folder must be, a folder that cannot be written ended in a traceback after
    all the work)."""
    import os
    from pathlib import Path

    path = Path(out)
    if path.is_dir():
        return f"{flag} {out!r} is a folder; name the file to write (e.g. {str(path / ('x' + path.suffix))!r})"
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{flag} {out!r}: the file exists and cannot be written (permission denied)"
    problem = folder_problem(str(path.absolute().parent))  # the folder it goes into, made if missing
    return None if problem is None else f"{flag} {out!r}: {problem}"


def forecast_split_files(argv: list[str]) -> str | None:
    """`data=forecast` with `data.val_files` / `data.test_files` (or `+data...`): why it is refused and what to do, or
    None. Hydra's own refusal ("Key 'test_files' is not in struct") suggested `+data.test_files=`, which then fails."""
    pairs = [a.partition("=") for a in argv]
    data = next((value for key, _, value in reversed(pairs) if key == "data"), None)
    given = [key.lstrip("+~") for key, sep, _ in pairs if sep and key.lstrip("+~") in ("data.val_files", "data.test_files")]
    if data != "forecast" or not given:
        return None
    return (f"{given[0]}: data=forecast takes no val / test files: it splits each series in time, the last "
            "data.test_fraction of its steps for test and the data.val_fraction before them for validation; to test on a "
            "file of later steps, append its rows to the series and set data.test_fraction to their share (36 rows after "
            "140: data.test_fraction=0.2045, 36/176 rounded; the run's 'windows per split' line shows the split)")


def folder_problem(folder: str) -> str | None:
    """Why a run could not write into the folder `folder` (made if missing), or None: a file there or where one of its
    parent folders must be, or a folder without write permission (Lightning's and the loggers' makedirs raised
    NotADirectoryError / FileExistsError / PermissionError, some only after an epoch of training)."""
    import os
    from pathlib import Path

    path = Path(folder).expanduser().absolute()
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{str(existing)!r} is a file, not a folder" if existing == path else \
            f"{str(existing)!r} is a file, so no folder can be made under it"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the folder {str(existing)!r} cannot be written (permission denied)"
    return None


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type`: an integer >= `minimum`, else argparse's own error naming the flag (the scripts' counts)."""
    import argparse

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not >= {minimum}")
        return value

    return parse
