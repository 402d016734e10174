"""Tokenizers for text: characters, words, or subwords (BPE / Unigram) trained with the `tokenizers` library.

All of them share `<pad>` = 0 and `<unk>` = 1, `encode` / `encode_batch` / `decode`, and
`to_dict` / `tokenizer_from_dict`: plain data saved in the run directory and checkpoints, so
evaluation and generation reload the fitted tokenizer instead of fitting a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, get_args

from seqtrain.encoders.vocab import PAD, SPECIALS, UNK, CharVocab, WordVocab
from seqtrain.errors import DataError

if TYPE_CHECKING:
    import tokenizers

TokenizerKind = Literal["char", "word", "bpe", "unigram"]
TOKENIZER_KINDS: tuple[str, ...] = get_args(TokenizerKind)


class SubwordTokenizer:
    """A byte-level BPE or Unigram tokenizer from the `tokenizers` library.

    Text is cut into bytes first (GPT-2's byte-level pre-tokenizer) and `decode(encode(text)) ==
    text`, except that the literal strings `<pad>` and `<unk>` in a text are read as those special
    tokens. BPE starts from all 256 bytes, so any string encodes without `<unk>`; Unigram keeps
    the bytes seen in training (an unseen byte becomes `<unk>`).
    """

    pad_id = PAD
    unk_id = UNK

    def __init__(self, kind: Literal["bpe", "unigram"], tokenizer: tokenizers.Tokenizer) -> None:
        if kind not in ("bpe", "unigram"):
            raise ValueError(f"kind must be 'bpe' or 'unigram', got {kind!r}")
        if [tokenizer.token_to_id(s) for s in SPECIALS] != [PAD, UNK]:
            raise ValueError(f"a SubwordTokenizer needs {SPECIALS[0]} = {PAD} and {SPECIALS[1]} = {UNK}")
        self.kind = kind
        self.tokenizer = tokenizer

    @classmethod
    def fit(cls, kind: Literal["bpe", "unigram"], texts: Iterable[str], vocab_size: int = 1000, min_frequency: int = 2,
            length: int | None = None) -> SubwordTokenizer:
        """Train on `texts`; `vocab_size` counts every id (bytes and specials included); `min_frequency`: BPE merges only."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        alphabet = pre_tokenizers.ByteLevel.alphabet()
        if vocab_size < len(alphabet) + len(SPECIALS):
            raise ValueError(
                f"a byte-level {kind} vocabulary needs at least {len(alphabet) + len(SPECIALS)} ids "
                f"(256 bytes + {len(SPECIALS)} specials), got {vocab_size}"
            )
        if kind == "bpe":
            tokenizer = Tokenizer(models.BPE(unk_token=SPECIALS[UNK]))
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIALS),
                                          initial_alphabet=alphabet, show_progress=False)
        else:
            # No initial alphabet: the trainer gives unseen symbols tie-breaking scores in a random order.
            tokenizer = Tokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(
                vocab_size=vocab_size, special_tokens=list(SPECIALS), unk_token=SPECIALS[UNK], show_progress=False
            )
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.train_from_iterator(texts, trainer, length=length)
        if kind == "unigram":
            tokenizer = _canonical_unigram(tokenizer)
        return cls(kind, tokenizer)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def pieces(self) -> list[str]:
        """Each id's piece as the byte-level vocabulary writes it (a leading Ġ: a space before it)."""
        return [self.tokenizer.id_to_token(i) or "" for i in range(len(self))]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; `<pad>` and `<unk>` are dropped."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the kind and the tokenizer's own JSON (vocabulary, merges, pre-tokenizer, decoder)."""
        return {"kind": self.kind, "json": self.tokenizer.to_str()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubwordTokenizer:
        from tokenizers import Tokenizer

        return cls(d["kind"], Tokenizer.from_str(d["json"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubwordTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SubwordTokenizer({self.kind}, {len(self)} ids)"


def _canonical_unigram(tokenizer: tokenizers.Tokenizer) -> tokenizers.Tokenizer:
    """The same Unigram model with its pieces in a reproducible order: training sums floats in parallel, so scores
    differ in the last digits and ties come out in any order; rounded scores ordered by (score, piece) give the same
    data the same ids, so cached encodings are reused."""
    import json

    from tokenizers import Tokenizer

    config = json.loads(tokenizer.to_str())
    specials, pieces = config["model"]["vocab"][: len(SPECIALS)], config["model"]["vocab"][len(SPECIALS) :]
    pieces = sorted(([piece, round(score, 6)] for piece, score in pieces), key=lambda p: (-p[1], p[0]))
    config["model"]["vocab"] = specials + pieces
    return Tokenizer.from_str(json.dumps(config))


Tokenizer = CharVocab | WordVocab | SubwordTokenizer


def fit_tokenizer(kind: TokenizerKind, texts: Iterable[str | list[str]], *, max_vocab_size: int | None = None,
                  min_frequency: int = 1, length: int | None = None) -> Tokenizer:
    """Fit a tokenizer of `kind` on `texts` (the training split only; lists of words already split: `word` only).

    max_vocab_size / min_frequency: as `FileDataModule`'s (bpe/unigram: 1000 ids when None).
    """
    check_tokenizer_options(kind, max_vocab_size, min_frequency)
    if kind == "char":
        return CharVocab.fit(texts)
    if kind == "word":
        return WordVocab.fit(texts, min_frequency=min_frequency, max_size=max_vocab_size)
    return SubwordTokenizer.fit(kind, _strings(texts), vocab_size=max_vocab_size or 1000, min_frequency=min_frequency, length=length)


def check_tokenizer_options(kind: str, max_vocab_size: int | None, min_frequency: int) -> None:
    """The tokenizer settings every loader takes, checked before any data is read."""
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer must be one of {list(TOKENIZER_KINDS)}, got {kind!r}")
    if max_vocab_size is not None and max_vocab_size < 3:
        raise ValueError(f"max_vocab_size must be >= 3 or None, got {max_vocab_size}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")


def saved_tokenizer(saved: dict[str, Any], configured: str) -> Tokenizer:
    """A checkpoint's tokenizer, refused when it is not of the configured kind (it is never refitted silently)."""
    kind = saved.get("kind")
    if kind != configured:
        raise DataError(f"data.tokenizer={configured!r}, but the loaded state holds a {kind!r} tokenizer; set data.tokenizer={kind}")
    return tokenizer_from_dict(saved)


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    kind = d.get("kind")
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"not a saved tokenizer: kind={kind!r} (expected one of {list(TOKENIZER_KINDS)})")
    return {"char": CharVocab, "word": WordVocab}.get(kind, SubwordTokenizer).from_dict(d)


def _strings(texts: Iterable[str | list[str]]) -> Iterator[str]:
    for text in texts:
        if not isinstance(text, str):
            raise TypeError("bpe/unigram tokenizers are trained on texts, not on lists of words")
        yield text
