"""Tagging: a class per time step; classification's loss and metrics over the real (non-ignored) steps."""

from __future__ import annotations

from typing import ClassVar

from seqtrain.kinds.classification import Classification


class Tagging(Classification):
    """Targets (B, T) class ids, IGNORE_INDEX on padding and on labels left out (`data.unseen_labels=ignore`).

    The epoch mean is weighted by the steps that have a real target, not by `lengths`, which also
    counts ignored steps.
    """

    name = "tagging"
    per_step: ClassVar[bool | None] = True


KIND = Tagging
