"""Vocabularies fitted on training text: characters (`CharVocab`) and whitespace-separated words (`WordVocab`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")  # multi-character, so they never collide with a real character


class Vocabulary:
    """What both vocabularies share: the specials, the size, and plain-data saving (`to_dict` / `from_dict`)."""

    kind = ""  # "char" | "word"
    noun = ""  # what the items are called in `to_dict`: "chars" | "words"
    pad_id = PAD
    unk_id = UNK

    def __init__(self, items: list[str]) -> None:
        self.itos: list[str] = [*SPECIALS, *items]
        self.stoi: dict[str, int] = {item: i for i, item in enumerate(self.itos) if i >= len(SPECIALS)}

    @property
    def items(self) -> list[str]:
        return self.itos[len(SPECIALS) :]

    def __len__(self) -> int:
        return len(self.itos)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-safe) that `from_dict` turns back into the same vocabulary."""
        return {"kind": self.kind, "specials": list(SPECIALS), self.noun: list(self.items)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        if d.get("kind") != cls.kind or list(d.get("specials", [])) != list(SPECIALS):
            raise ValueError(f"not a {cls.__name__} dict: kind={d.get('kind')!r}, specials={d.get('specials')!r}")
        return cls(d[cls.noun])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.items == other.items

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} ids: {len(SPECIALS)} specials + {len(self.items)} {self.noun})"


class CharVocab(Vocabulary):
    """Characters to ids and back; `<pad>` = 0 and `<unk>` = 1, real characters from 2 in sorted order."""

    kind = "char"
    noun = "chars"

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = list(chars)
        if any(len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise ValueError("CharVocab needs distinct single characters")
        super().__init__(self.chars)
        # Code point -> id, <unk> where no character of the vocabulary sits: encodes with one NumPy gather.
        self._table = np.full(max((ord(c) for c in self.chars), default=0) + 1, UNK, dtype=np.int64)
        for c, i in self.stoi.items():
            self._table[ord(c)] = i

    @classmethod
    def fit(cls, texts: str | Iterable[str]) -> CharVocab:
        """The vocabulary of every distinct character in `texts` (one text, or many)."""
        chars: set[str] = set()
        for text in texts:
            chars.update(text)
        return cls(sorted(chars))

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of `text`; characters not seen in fitting become `<unk>`."""
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        """`encode` as an (N,) int64 array, ~15x faster than a lookup per character."""
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = self._table
        return np.where(points < len(table), table[np.minimum(points, len(table) - 1)], UNK)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """`encode` of each text, through one gather over them all (short lines pay no per-call cost)."""
        texts = list(texts)
        ids = self.encode_array("".join(texts)).tolist()
        out, start = [], 0
        for text in texts:
            out.append(ids[start : start + len(text)])  # len counts code points, one id each
            start += len(text)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`: `<pad>` is dropped, `<unk>` shows as U+FFFD (the replacement character)."""
        itos = self.itos
        return "".join("" if i == PAD else "\ufffd" if i == UNK else itos[i] for i in map(int, ids))


WORD = re.compile(r"\n|[^\s]+")  # a line break, or a run of non-space characters


def whitespace(text: str) -> int:
    """How many of `text`'s characters are whitespace (where `WordVocab` splits), counted in C rather than per character."""
    return len(text) - len("".join(text.split()))


class WordVocab(Vocabulary):
    """Words to ids and back; `<pad>` = 0 and `<unk>` = 1, words from 2, most frequent first.

    Not `tokenizers`' `WordLevel`: 5x slower here, and it orders neither ties nor decoded spaces so (README, Data).
    Words are runs of non-space characters ("end." is one) and line breaks, tokens of their own so decoded
    text keeps its lines; other whitespace comes back as one space.
    """

    kind = "word"
    noun = "words"

    def __init__(self, words: Iterable[str]) -> None:
        self.words: list[str] = list(words)
        if any(not w or w in SPECIALS for w in self.words) or len(set(self.words)) != len(self.words):
            raise ValueError("WordVocab needs distinct, non-empty words other than <pad> / <unk>")
        super().__init__(self.words)
        # Set by `fit`, of the training tokens (not saved): how many were left out as <unk>, and the most frequent's count.
        self.unknown_share: float | None = None
        self.top_frequency: int | None = None

    @staticmethod
    def split(text: str) -> list[str]:
        return WORD.findall(text)

    @classmethod
    def fit(cls, sequences: Iterable[str | list[str]], min_frequency: int = 1, max_size: int | None = None) -> WordVocab:
        """The words (of texts, or lists of words already split) seen at least `min_frequency` times, at most
        `max_size` ids in all (specials included); ties in frequency alphabetically, so the same data gives the same ids."""
        if min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(f"max_size must be > {len(SPECIALS)} (the specials), got {max_size}")
        counts: Counter[str] = Counter()
        for sequence in sequences:
            counts.update(cls.split(sequence) if isinstance(sequence, str) else sequence)
        total = sum(counts.values())
        for special in SPECIALS:  # a literal "<unk>" in the data (as in WikiText) is the unknown word
            counts.pop(special, None)
        kept = sorted((w for w, n in counts.items() if n >= min_frequency), key=lambda w: (-counts[w], w))
        vocab = cls(kept if max_size is None else kept[: max_size - len(SPECIALS)])
        vocab.unknown_share = 1 - sum(counts[w] for w in vocab.words) / total if total else 0.0
        vocab.top_frequency = max(counts.values(), default=0)
        return vocab

    def encode(self, text: str | list[str]) -> list[int]:
        """Ids of the words of `text` (or of a list of words); unseen words become `<unk>`."""
        stoi = self.stoi
        return [stoi.get(w, UNK) for w in (self.split(text) if isinstance(text, str) else text)]

    def encode_batch(self, texts: Iterable[str | list[str]]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Words joined by single spaces, line breaks as they were; `<pad>` is dropped, `<unk>` shows as `<unk>`."""
        words = [self.itos[i] for i in map(int, ids) if i != PAD]
        return "".join(w if k == 0 or "\n" in (w, words[k - 1]) else " " + w for k, w in enumerate(words))
