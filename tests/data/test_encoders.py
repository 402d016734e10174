"""The encoders: `Standardizer` and `LabelMap` against hand computations; round trips through plain data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqtrain.encoders.labels import LabelMap
from seqtrain.encoders.scaling import Standardizer
from seqtrain.encoders.vocab import WordVocab


def test_standard_scaling_is_the_population_mean_and_std() -> None:
    values = torch.tensor([[1.0, 5.0], [3.0, 5.0], [8.0, 5.0]])  # the second feature is constant
    scaler = Standardizer.fit(values)
    mean = 4.0
    std = (((1 - mean) ** 2 + (3 - mean) ** 2 + (8 - mean) ** 2) / 3) ** 0.5
    assert scaler.shift == pytest.approx([mean, 5.0]) and scaler.scale == pytest.approx([std, 1.0])
    encoded = scaler.encode(values)
    assert encoded.dtype == torch.float32
    assert encoded[:, 0].tolist() == pytest.approx([(1 - mean) / std, (3 - mean) / std, (8 - mean) / std], rel=1e-6)
    assert encoded[:, 1].tolist() == [0.0, 0.0, 0.0]  # a constant feature is not divided by zero
    assert scaler.decode(encoded).flatten().tolist() == pytest.approx(values.flatten().tolist(), rel=1e-6)


def test_minmax_and_none_scaling() -> None:
    values = np.array([[2.0], [4.0], [10.0]])
    minmax = Standardizer.fit(values, "minmax")
    assert (minmax.shift, minmax.scale) == ([2.0], [8.0])
    assert minmax.encode(torch.tensor(values)).flatten().tolist() == pytest.approx([0.0, 0.25, 1.0])
    none = Standardizer.fit(values, "none")
    assert none.encode(torch.tensor(values)).flatten().tolist() == [2.0, 4.0, 10.0]
    with pytest.raises(ValueError, match="scaling must be one of"):
        Standardizer.fit(values, "robust")  # type: ignore[arg-type]


def test_standardizer_round_trips_through_json_and_selects_features() -> None:
    scaler = Standardizer.fit(np.random.default_rng(0).normal(size=(50, 3)))
    restored = Standardizer.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert restored == scaler
    picked = scaler.select([2, 0])
    assert (picked.shift, picked.scale) == ([scaler.shift[2], scaler.shift[0]], [scaler.scale[2], scaler.scale[0]])


def test_standardizer_takes_numpy_arrays_as_it_takes_tensors() -> None:
    """An exported model's caller scales NumPy arrays: the same float32 values as the Tensor path (float64 inside)."""
    values = np.random.default_rng(1).normal(loc=1e4, scale=3.0, size=(7, 5, 2))  # where float32 arithmetic would differ
    scaler = Standardizer.fit(values)
    from_numpy, from_torch = scaler.encode(values), scaler.encode(torch.from_numpy(values))
    assert isinstance(from_numpy, np.ndarray) and from_numpy.dtype == np.float32 and from_torch.dtype == torch.float32
    by_hand = ((values - np.array(scaler.shift)) / np.array(scaler.scale)).astype(np.float32)
    assert np.array_equal(from_numpy, by_hand) and np.array_equal(from_torch.numpy(), by_hand)
    decoded = scaler.decode(from_numpy)
    assert isinstance(decoded, np.ndarray) and decoded.dtype == np.float64
    assert np.array_equal(decoded, scaler.decode(from_torch).numpy())
    assert decoded == pytest.approx(values, rel=1e-6)


def test_label_map_orders_numbers_numerically_and_text_alphabetically() -> None:
    assert LabelMap.fit(["10", "9", "1", "9"]).names == ["1", "9", "10"]
    labels = LabelMap.fit(["pos", "neg", "neutral", "neg"])
    assert labels.names == ["neg", "neutral", "pos"]
    assert [labels.encode(x) for x in ("pos", "neg", "other")] == [2, 0, None]
    assert labels.decode([2, 0]) == ["pos", "neg"]
    assert LabelMap.from_dict(json.loads(json.dumps(labels.to_dict()))) == labels


def test_word_vocab_encodes_like_a_lookup_per_split_word() -> None:
    """The `tokenizers` WordLevel path against a dict lookup over the words the splitter gives."""
    vocab = WordVocab.fit(["the cat sat.\nthe dog\n", "a cat"])
    text = "the  bird sat.\n\n\tcat\u00a0dog "
    words = WordVocab.split(text)
    assert words == ["the", "bird", "sat.", "\n", "\n", "cat", "dog"]
    assert vocab.encode(text) == [vocab.stoi.get(w, vocab.unk_id) for w in words]
    assert vocab.encode(["a b", "cat"]) == [vocab.unk_id, vocab.stoi["cat"]]  # given tokens are not split again
    assert vocab.decode(vocab.encode("the cat sat.\nthe dog")) == "the cat sat.\nthe dog"


def test_the_encoders_import_without_the_training_stack_and_from_their_old_paths() -> None:
    """`seqtrain.encoders` loads neither torch, Lightning nor `datasets`; `seqtrain.data.vocab` and the other
    paths from before the move are the same modules."""
    code = ("import sys, seqtrain.encoders; print(sorted(m for m in ('torch', 'lightning', 'datasets') if m in sys.modules));"
            "import seqtrain.data.vocab, seqtrain.data.tokenizer, seqtrain.data.labels, seqtrain.data.scaling, seqtrain.data.facts;"
            "import seqtrain.encoders.vocab as v, seqtrain.facts as f; print(seqtrain.data.vocab is v, seqtrain.data.facts is f)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.split("\n")[:2] == ["[]", "True True"]
