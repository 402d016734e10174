"""Arrow helpers: transforms cached by fingerprint (`cached_map`) and list columns read without Python objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset, Features

# Bump when what a cached transform writes changes, so old cache files are not reused.
TRANSFORM_VERSION = 2


def fingerprint(*parts: Any) -> str:
    """A stable hash of plain data (JSON-able), for naming cached transforms."""
    text = json.dumps([TRANSFORM_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_map(dataset: Dataset, function: Callable[..., dict[str, list]], *, settings: dict[str, Any], features: Features,
               desc: str, fn_kwargs: dict[str, Any] | None = None) -> Dataset:
    """`dataset.map(function, batched=True, with_indices=True)`, replacing all columns, cached by fingerprint: a
    second run on the same files with the same settings loads the cached result instead of encoding again.

    The fingerprint is the input's fingerprint (which datasets derives from the files and their
    modification times), the function's name and `settings`: everything the output depends on
    must be in `settings` (the function's other arguments, e.g. origins for messages, need not).
    """
    key = fingerprint(dataset._fingerprint, function.__module__, function.__qualname__, settings)
    return dataset.map(function, batched=True, with_indices=True, fn_kwargs=fn_kwargs, features=features,
                       remove_columns=dataset.column_names, new_fingerprint=key, desc=desc)


def arrow_column(dataset: Dataset, name: str) -> pa.ChunkedArray:
    """One column as Arrow (respecting any selection of rows), without converting to Python."""
    return dataset.with_format("arrow")[name]


def non_blank(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A bool mask over a string column: True where a value holds more than whitespace (a null is blank)."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(values), ""), False)


def flat_list_column(dataset: Dataset, name: str, depth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A list column as (values, offsets): row i is values[offsets[i]:offsets[i + 1]].

    depth=2 (lists of lists, e.g. feature vectors per step) flattens the inner lists too, so the
    values are the inner items in order and offsets count outer items (steps).
    """
    array = arrow_column(dataset, name).combine_chunks()
    offsets = array.offsets.to_numpy()
    offsets = offsets - offsets[0]
    values = array.flatten()
    for _ in range(depth - 1):
        values = values.flatten()
    return values.to_numpy(zero_copy_only=False), offsets.astype(np.int64)
