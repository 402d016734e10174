"""A character-level vocabulary: one id per character seen in the text it was fitted on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")  # multi-character, so they never collide with a real character


class CharVocab:
    """Characters to ids and back; `<pad>` = 0 and `<unk>` = 1, real characters from 2 in sorted order."""

    pad_id = PAD
    unk_id = UNK

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = list(chars)
        if any(len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise ValueError("CharVocab needs distinct single characters")
        self.itos: list[str] = [*SPECIALS, *self.chars]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos) if i >= len(SPECIALS)}

    @classmethod
    def fit(cls, text: str) -> CharVocab:
        """The vocabulary of every distinct character in `text`."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of `text`; characters not seen in fitting become `<unk>`."""
        stoi = self.stoi
        return [stoi.get(c, UNK) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`: `<pad>` is dropped, `<unk>` shows as U+FFFD (the replacement character)."""
        itos = self.itos
        return "".join("" if i == PAD else "\ufffd" if i == UNK else itos[i] for i in map(int, ids))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-safe) that `from_dict` turns back into the same vocabulary."""
        return {"kind": "char", "specials": list(SPECIALS), "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharVocab:
        if d.get("kind") != "char" or list(d.get("specials", [])) != list(SPECIALS):
            raise ValueError(f"not a CharVocab dict: kind={d.get('kind')!r}, specials={d.get('specials')!r}")
        return cls(d["chars"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} ids: {len(SPECIALS)} specials + {len(self.chars)} chars)"
