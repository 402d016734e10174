"""The shipped datasets as plain files that the generic loaders read: `${shipped:NAME}` in a data config.

Outside `seqtrain.data` on purpose: configs are resolved (and checked) before torch, Lightning or
any data code is imported, and importing `seqtrain.data` would import them.

The raw files live compressed in `seqtrain/data/assets/` (see assets/ATTRIBUTION.md). The first
use of a dataset prepares it once (decompress; convert a format the loaders do not read) into
`$SEQTRAIN_CACHE` (default `~/.cache/seqtrain`), and later uses find the file there. The
config holds the prepared file's absolute path, so resume fingerprints and prediction work from
any directory.
"""

from __future__ import annotations

import json
import logging
import lzma
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "data" / "assets"
PREPARED_VERSION = 1  # bump when a preparation writes something else, so old prepared files are not reused


def asset_text(name: str) -> str:
    """A compressed asset's text."""
    return lzma.decompress((ASSETS / name).read_bytes()).decode("utf-8")


def _vowels(split: str) -> Callable[[Path], None]:
    """The UCI Japanese Vowels split as JSON Lines: a (T, 12) `sequence` of LPC frames and the speaker `label`."""

    def write(path: Path) -> None:
        from seqtrain.data.ts_files import parse_ts  # the reader of users' .ts files

        series, labels, _ = parse_ts(asset_text(f"JapaneseVowels_{split.upper()}.ts.xz"))
        path.write_text("".join(json.dumps({"sequence": s, "label": l}) + "\n" for s, l in zip(series, labels)), encoding="utf-8")

    return write


PREPARED: dict[str, tuple[str, Callable[[Path], None]]] = {
    "sunspots": ("sunspots_monthly.csv", lambda path: path.write_text(asset_text("sunspots_monthly.csv.xz"), encoding="utf-8")),
    "vowels_train": ("japanese_vowels_train.jsonl", _vowels("train")),
    "vowels_test": ("japanese_vowels_test.jsonl", _vowels("test")),
    "shakespeare": ("shakespeare.txt", lambda path: path.write_text(asset_text("shakespeare.txt.xz"), encoding="utf-8")),
}


def cache_dir() -> Path:
    return Path(os.environ.get("SEQTRAIN_CACHE") or Path.home() / ".cache" / "seqtrain") / f"shipped-v{PREPARED_VERSION}"


def shipped(name: str) -> str:
    """The path of the shipped dataset `name`'s prepared file, prepared on first use."""
    if name not in PREPARED:
        from seqtrain.config import ConfigError

        raise ConfigError(f"${{shipped:{name}}}: no shipped dataset {name!r} (shipped: {', '.join(PREPARED)})")
    filename, prepare = PREPARED[name]
    path = cache_dir() / filename
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed into place: parallel sweep jobs never read a half-written file.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{filename}.", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            prepare(tmp_path)
            os.replace(tmp_path, path)
        finally:
            tmp_path.unlink(missing_ok=True)
        log.info("data: prepared the shipped %s data at %s", name, path)
    return str(path)



def shipped_text(name: str) -> str:
    """The text of the shipped dataset `name`'s prepared file."""
    return Path(shipped(name)).read_text(encoding="utf-8")


def monthly_sunspots() -> tuple[list[str], list[float]]:
    """The shipped months ("1749-01", ...) and their sunspot numbers, as `data=sunspots` reads them (baselines, tests)."""
    header, *rows = shipped_text("sunspots").splitlines()
    if header != "month,sunspots":
        raise ValueError(f"unexpected sunspots header {header!r}")
    months, values = zip(*(row.split(",") for row in rows))
    return list(months), [float(v) for v in values]


def data_config_module(name: str, *overrides: str, **values: Any) -> Any:
    """The datamodule of `configs/data/<name>.yaml` with `KEY=VALUE` overrides (or keyword values) of its keys, as
    `python train.py data=<name> data.KEY=VALUE` builds it without an experiment or recipe (scripts and tests)."""
    overrides += tuple(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in values.items())  # true, null, 3
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    configs = Path(__file__).resolve().parents[1] / "configs"
    with initialize_config_dir(str(configs), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=none", "recipe=none", f"data={name}", *(f"data.{o}" for o in overrides)])
    return instantiate(cfg.data)
