"""Tokenizers: lossless round trips, `<pad>` != `<unk>`, fitting limits, and save/load giving the same ids."""

from __future__ import annotations

import json

import pytest

from seqtrain.data import (
    CharVocab,
    SubwordTokenizer,
    WordVocab,
    fit_tokenizer,
    tokenizer_from_dict,
)

TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer\n"
CORPUS = [TEXT, "The slings and arrows of outrageous fortune,\n", "Or to take arms against a sea of troubles\n"] * 20
ALL_KINDS = ["char", "word", "bpe", "unigram"]


def fitted(kind: str, **kwargs):
    return fit_tokenizer(kind, CORPUS, max_vocab_size=300 if kind in ("bpe", "unigram") else None, **kwargs)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_round_trip_is_lossless(kind: str) -> None:
    tokenizer = fitted(kind)
    ids = tokenizer.encode(TEXT)
    assert tokenizer.decode(ids) == TEXT
    assert tokenizer.encode_batch([TEXT, "to be"]) == [ids, tokenizer.encode("to be")]


def test_bpe_encodes_any_text_without_unk() -> None:
    tokenizer = fitted("bpe")
    unseen = "Ünïcödé 日本語 text,\ttabs  and   spaces\r\n"
    ids = tokenizer.encode(unseen)
    assert tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == unseen  # byte-level from all 256 bytes: nothing is lost
    assert len(tokenizer.encode(TEXT)) < 0.6 * len(TEXT)  # merges learned: fewer ids than characters


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_pad_and_unk_are_distinct_reserved_ids(kind: str) -> None:
    tokenizer = fitted(kind)
    assert (tokenizer.pad_id, tokenizer.unk_id) == (0, 1)
    assert tokenizer.pad_id not in tokenizer.encode(TEXT)
    assert tokenizer.decode([tokenizer.pad_id, *tokenizer.encode("to the"), tokenizer.pad_id]) == "to the"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_saved_and_loaded_tokenizer_gives_identical_ids(kind: str) -> None:
    tokenizer = fitted(kind)
    saved = json.loads(json.dumps(tokenizer.to_dict()))  # what data.json and checkpoints hold
    loaded = tokenizer_from_dict(saved)
    assert type(loaded) is type(tokenizer) and loaded == tokenizer and len(loaded) == len(tokenizer)
    probe = TEXT + "Unseen words: zebra quagga, and ünïcödé 日本.\n"
    assert loaded.encode(probe) == tokenizer.encode(probe)
    assert loaded.decode(tokenizer.encode(probe)) == tokenizer.decode(tokenizer.encode(probe))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_fitting_twice_gives_the_same_tokenizer(kind: str) -> None:
    assert fitted(kind).to_dict() == fitted(kind).to_dict()  # what lets a second run reuse cached encodings


def test_word_vocab_limits_and_unknown_words() -> None:
    corpus = ["a a a a b b b c c d\n", "a b e"]
    full = WordVocab.fit(corpus)
    assert full.itos[:2] == ["<pad>", "<unk>"]
    assert full.words == ["a", "b", "c", "\n", "d", "e"]  # by frequency, ties alphabetical ("\n" < "d")
    frequent = WordVocab.fit(corpus, min_frequency=2)
    assert frequent.words == ["a", "b", "c"]
    assert frequent.encode("a d zebra") == [2, 1, 1]
    assert frequent.decode(frequent.encode("a d zebra")) == "a <unk> <unk>"
    capped = WordVocab.fit(corpus, max_size=4)
    assert len(capped) == 4 and capped.words == ["a", "b"]
    assert WordVocab.fit([["New York", "is", "big"]]).encode(["New York", "is"]) == [2, 4]  # pre-split tokens


def test_word_vocab_says_how_many_training_tokens_it_leaves_out() -> None:
    corpus = ["a a a a b b b c c d\n", "a b e <unk>"]  # 15 tokens (the line break one), a literal <unk> among them
    frequent = WordVocab.fit(corpus, min_frequency=3)  # keeps a (5) and b (4): 9 of 15
    assert frequent.unknown_share == pytest.approx(6 / 15) and frequent.top_frequency == 5
    unknown = [w for text in corpus for w in WordVocab.split(text) if frequent.encode([w]) == [1]]
    assert len(unknown) / 15 == pytest.approx(frequent.unknown_share)  # the share encoding gives
    assert WordVocab.fit(corpus, min_frequency=6).words == [] and WordVocab.fit(corpus, min_frequency=6).unknown_share == 1.0
    assert WordVocab.from_dict(frequent.to_dict()).unknown_share is None  # fitting's, not saved


def test_word_vocab_keeps_lines_and_drops_other_whitespace() -> None:
    vocab = WordVocab.fit([TEXT])
    assert vocab.decode(vocab.encode("to  be,\n\nor not")) == "to be,\n\nor not"


def test_char_vocab_ignores_size_limits_and_keeps_every_character() -> None:
    vocab = fit_tokenizer("char", ["abc", "cd"], max_vocab_size=3, min_frequency=5)
    assert isinstance(vocab, CharVocab) and vocab.chars == ["a", "b", "c", "d"]


def test_bad_arguments_and_dicts() -> None:
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        fit_tokenizer("sentencepiece", CORPUS)
    with pytest.raises(ValueError, match="at least 258 ids"):
        fit_tokenizer("bpe", CORPUS, max_vocab_size=100)
    with pytest.raises(ValueError, match="min_frequency"):
        WordVocab.fit(CORPUS, min_frequency=0)
    with pytest.raises(ValueError, match="not a saved tokenizer"):
        tokenizer_from_dict({"kind": "wordpiece"})
    with pytest.raises(ValueError, match="distinct"):
        WordVocab(["a", "a"])
    assert isinstance(fitted("bpe"), SubwordTokenizer)
