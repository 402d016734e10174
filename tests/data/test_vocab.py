"""CharVocab: round trip, specials, unknown characters, plain-data serialisation."""

from __future__ import annotations

import json

import numpy as np

import pytest

from seqtrain.data import CharVocab

TEXT = "To be, or not to be:\nthat is the question."


def test_encode_decode_round_trip() -> None:
    vocab = CharVocab.fit(TEXT)
    ids = vocab.encode(TEXT)
    assert len(ids) == len(TEXT)
    assert vocab.decode(ids) == TEXT


def test_specials_are_distinct_from_every_char() -> None:
    vocab = CharVocab.fit(TEXT + "<>padunk")  # the characters of the special tokens' names, too
    assert vocab.pad_id == 0 and vocab.unk_id == 1 and vocab.pad_id != vocab.unk_id
    real_ids = set(vocab.encode("".join(vocab.chars)))
    assert len(real_ids) == len(vocab.chars) == len(set(TEXT + "<>padunk"))
    assert not real_ids & {vocab.pad_id, vocab.unk_id}
    assert len(vocab) == len(vocab.chars) + 2


def test_unseen_char_is_unk() -> None:
    vocab = CharVocab.fit("abc")
    assert vocab.encode("abz") == [vocab.encode("a")[0], vocab.encode("b")[0], vocab.unk_id]
    assert vocab.decode([vocab.pad_id, *vocab.encode("ab")]) == "ab"  # padding is not text


def test_to_dict_from_dict_gives_identical_ids() -> None:
    vocab = CharVocab.fit(TEXT)
    restored = CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))  # survives plain JSON
    assert restored == vocab
    probe = TEXT + "XYZ~"
    assert restored.encode(probe) == vocab.encode(probe)
    with pytest.raises(ValueError, match="CharVocab"):
        CharVocab.from_dict({"kind": "bpe", "chars": []})


def test_array_encoding_equals_a_lookup_per_character() -> None:
    """The NumPy gather against the plain dict lookup, on text with unseen, wide and astral characters."""
    vocab = CharVocab.fit("abc xyz\n\u00e9\u4e2d")
    text = "a\u00e9b\u4e2d zz\U0001f600Q\n\u00ff\u4e2e"
    expected = [vocab.stoi.get(c, CharVocab.unk_id) for c in text]
    assert vocab.encode_array(text).tolist() == expected == vocab.encode(text)
    assert vocab.encode_array(text).dtype == np.int64 and CharVocab([]).encode("ab") == [1, 1]
    lines = [text, "", "\U0001f600", "abc"]
    assert vocab.encode_batch(lines) == [[vocab.stoi.get(c, CharVocab.unk_id) for c in line] for line in lines]
