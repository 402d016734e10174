"""`LabelMap`: class labels to ids and back, fitted on the training split."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class LabelMap:
    """Labels (strings) to ids 0..K-1 in a stable order: numerically when every label is a number, else alphabetically."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names: list[str] = [str(n) for n in names]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"LabelMap needs distinct labels, got {self.names}")
        self.ids: dict[str, int] = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def fit(cls, labels: Iterable[Any]) -> LabelMap:
        names = sorted({str(label) for label in labels})
        try:
            return cls(sorted(names, key=float))
        except ValueError:
            return cls(names)

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, label: Any) -> int | None:
        """The id of `label`, or None for a label not seen in fitting (the caller decides: error or ignore)."""
        return self.ids.get(str(label))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.names[int(i)] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelMap:
        return cls(d["names"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelMap) and self.names == other.names

    def __repr__(self) -> str:
        return f"LabelMap({len(self)} classes)"
