"""Task kinds: one module per kind, each defining its loss, target weight, metrics and accepted combinations.

A kind is found by its name (`DataFacts.task`): module `seqtrain.kinds.<name>` holds it as `KIND`.
Adding a kind is adding one file. Nothing here imports torch until a run trains.
"""

from __future__ import annotations

import importlib
import pkgutil

from seqtrain.kinds.base import DataTargets, RunChoices, TaskKind

__all__ = ["DataTargets", "RunChoices", "TaskKind", "kind_named", "kind_names"]

_NOT_KINDS = {"base"}


def kind_names() -> list[str]:
    """The task kinds there are: the modules of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_KINDS)


def kind_named(name: str) -> type[TaskKind]:
    if name not in kind_names():
        raise ValueError(f"task kind must be one of {'|'.join(kind_names())}, got {name!r}")
    return importlib.import_module(f"{__name__}.{name}").KIND
