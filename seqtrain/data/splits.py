"""Splits of loaded rows: where each row came from (`Origin`), joining files, and carving val / test out of train."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seqtrain.data.sources import DataError, Piece, place

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where each row of a split came from: pieces concatenated in order, then maybe a selection of rows."""

    pieces: tuple[tuple[str, str, int], ...]  # (name, unit, index of its first row in the concatenation)
    rows: np.ndarray | None = None  # (N,) row i of the split is row rows[i] of the concatenation
    lines: tuple[tuple[int, ...] | None, ...] = ()  # each piece's `Piece.lines` (none given: every row on its line)

    @classmethod
    def of(cls, pieces: Sequence[Piece]) -> Origin:
        starts = np.cumsum([0, *(len(p.dataset) for p in pieces)])[:-1]
        return cls(tuple((p.name, p.unit, int(s)) for p, s in zip(pieces, starts)), lines=tuple(p.lines for p in pieces))

    def where(self, i: int) -> str:
        """`train.csv, row 3`: the place of the split's row `i`."""
        j = int(self.rows[i]) if self.rows is not None else i
        k = bisect_right([s for _, _, s in self.pieces], j) - 1
        name, unit, start = self.pieces[k]
        return place(name, unit, j - start, self.lines[k] if k < len(self.lines) else None)

    def first_rows(self, n: int) -> np.ndarray:
        """(n,) bool for the split's n rows: True where a row is the first row of its file (or hub split)."""
        starts = np.array([s for _, _, s in self.pieces])
        rows = self.rows if self.rows is not None else np.arange(n)
        return np.isin(rows, starts)

    def select(self, indices: np.ndarray) -> Origin:
        return Origin(self.pieces, indices if self.rows is None else self.rows[indices], self.lines)

    def names(self) -> str:
        names = [name for name, _, _ in self.pieces]
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def concatenate(pieces: Sequence[Piece]) -> tuple[Dataset, Origin]:
    from datasets import concatenate_datasets

    dataset = pieces[0].dataset if len(pieces) == 1 else concatenate_datasets([p.dataset for p in pieces])
    return dataset, Origin.of(pieces)


def carve(dataset: Dataset, origin: Origin, fractions: dict[str, float], *, shuffle: bool, seed: int,
          labels: Sequence[Any] | None = None, emptied: dict[str, str] | None = None) -> dict[str, tuple[Dataset, Origin]]:
    """Cut `dataset` into "train" and the splits in `fractions` (e.g. {"val": 0.1, "test": 0.1}).

    shuffle: draw the rows at random (seeded), for sets of independent sequences; otherwise take
    contiguous blocks at the end, in the order of `fractions` (val before test), for text and
    series where neighbouring rows belong together.
    labels: each row's class (classification) or list of tags (tagging): a class (a tag) whose every row was drawn
    for val / test gets one of them back in train (a model cannot learn a class it never sees), said in the log.
    emptied: where given, a split left empty that way (every drawn row the only one of its class) is left out of
    the result and its message is put here under its name (the caller decides whether the run can do without
    it), instead of raised.
    """
    n = len(dataset)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    counts = {name: int(n * fraction) for name, fraction in fractions.items()}
    start = n - sum(counts.values())
    blocks = {"train": order[:start]}
    for name, count in counts.items():
        blocks[name] = order[start : start + count]
        start += count
    if labels is not None:
        _keep_every_class_in_train(blocks, labels, origin)
    out = {}
    for name, rows in blocks.items():
        if len(rows) == 0 and name != "train" and counts[name] and labels is not None:  # drawn, then all moved back
            classes = len(set(labels))
            message = (
                f"the {name} split is empty: each of its {counts[name]} drawn rows was the only row of its class in "
                f"{origin.names()} ({classes} classes in {n} rows), so it was kept in train; a classification target needs "
                "several rows per class: if the target column holds quantities, set data.task=regression; if it names "
                "each row (an id), set data.target_column to the label column"
            )
            if emptied is None:
                raise DataError(message)
            emptied[name] = message
            continue
        if len(rows) == 0:
            if n <= len(fractions):  # no fraction leaves a row for train and each carved split: say what does
                unit = "line" if all(u == "line" for _, u, _ in origin.pieces) else "row"
                raise DataError(
                    f"the {name} split is empty: {origin.names()} hold{'s' if len(origin.pieces) == 1 else ''} {n} {unit}"
                    f"{'s' if n != 1 else ''}, and each split is cut from whole {unit}s (train and "
                    f"{' and '.join(fractions)} need one each, whatever data.val_fraction / data.test_fraction); give "
                    f"data.{name}_files" + (", or break the text into lines (a corpus of one long line?)" if unit == "line" else "")
                )
            raise DataError(
                f"the {name} split is empty: {n} rows from {origin.names()} leave none for it "
                f"(data.val_fraction / data.test_fraction); give more data, raise the fraction, or give data.{name}_files"
            )
        rows = np.sort(rows)  # keep the file order inside each split (cheaper reads, readable errors)
        out[name] = (dataset.select(rows), origin.select(rows))
    return out


def _keep_every_class_in_train(blocks: dict[str, np.ndarray], labels: Sequence[Any], origin: Origin) -> None:
    """Move, for each class (tag) no training row holds, its first carved row (in draw order) into train; a row moved
    for one tag may bring others with it."""
    tagging = any(isinstance(label, (list, tuple)) for label in labels)
    held = [frozenset(label) if isinstance(label, (list, tuple)) else frozenset([label]) for label in labels]
    in_train = set().union(*(held[i] for i in blocks["train"]))
    moved = []
    for label in sorted(set().union(*held) - in_train, key=str):
        if label in in_train:  # a row moved for an earlier one holds it
            continue
        name = next(n for n in blocks if n != "train" and any(label in held[i] for i in blocks[n]))
        at = next(k for k, i in enumerate(blocks[name]) if label in held[i])
        row = blocks[name][at]
        moved.append(f"{label!r} (from {name})")
        in_train |= held[row]
        blocks["train"] = np.append(blocks["train"], row)
        blocks[name] = np.delete(blocks[name], at)
    if moved:
        what = "row holding %d tag(s); one row holding each" if tagging else "row of %d class(es); one row of each"
        log.info("data: the random val / test draw from %s took every " + what + " is kept in train instead: %s",
                 origin.names(), len(moved), ", ".join(moved))
