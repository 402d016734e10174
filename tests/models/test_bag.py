"""fastText's bag beside the RNN (`SequenceModel(bag=...)`): held to a hand computation of the masked mean, to the
model without it, and refused where it cannot mean anything."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqtrain.models import SequenceModel
from seqtrain.models.bag import PAIR_HASH, BagOfEmbeddings

VOCAB, DIM, BUCKETS = 11, 5, 13


def hand_bag(row: list[int], unigrams: np.ndarray, bigrams: np.ndarray | None) -> np.ndarray:
    """fastText's sentence vector of one row's real ids, by hand: the mean over its tokens' rows and (with bigrams)
    its adjacent pairs' rows, pair (a, b) in bucket (a * 116049371 + b) mod buckets, in Python's own integers."""
    vectors = [unigrams[t] for t in row]
    if bigrams is not None:
        vectors += [bigrams[(a * 116049371 + b) % len(bigrams)] for a, b in zip(row, row[1:])]
    return np.mean(vectors, axis=0)


def padded(rows: list[list[int]], junk: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids whose padding holds a real token id (`junk`), as if the collate had left one; lengths (B,)."""
    T = max(len(r) for r in rows)
    return torch.tensor([r + [junk] * (T - len(r)) for r in rows]), torch.tensor([len(r) for r in rows])


ROWS = [[3, 1, 4, 1, 5, 9, 2], [6], [5, 3], [10, 10, 10, 2]]


@pytest.mark.parametrize("kind", ["unigrams", "bigrams"])
def test_the_bag_is_the_hand_computed_mean_of_the_real_tokens_and_pairs(kind: str) -> None:
    torch.manual_seed(0)
    bag = BagOfEmbeddings(kind, VOCAB, DIM, BUCKETS).eval()
    unigrams = bag.unigrams.weight.detach().double().numpy()
    bigrams = bag.bigrams.weight.detach().double().numpy() if bag.bigrams is not None else None
    got = bag(*padded(ROWS)).detach()  # (B, E)
    assert got.shape == (len(ROWS), DIM)
    for i, row in enumerate(ROWS):
        np.testing.assert_allclose(got[i].double().numpy(), hand_bag(row, unigrams, bigrams), rtol=1e-5, atol=1e-7)
    assert PAIR_HASH == 116049371  # fastText's constant, as the hand computation above writes it


@pytest.mark.parametrize("kind", ["unigrams", "bigrams"])
def test_padding_and_batch_company_do_not_change_a_rows_bag(kind: str) -> None:
    torch.manual_seed(0)
    bag = BagOfEmbeddings(kind, VOCAB, DIM, BUCKETS).eval()
    together = bag(*padded(ROWS, junk=7))
    other_junk = bag(*padded(ROWS, junk=0))
    torch.testing.assert_close(together, other_junk, rtol=0, atol=0)
    for i, row in enumerate(ROWS):  # each row alone, unpadded
        torch.testing.assert_close(bag(torch.tensor([row]), torch.tensor([len(row)]))[0], together[i])


def test_dropout_acts_in_training_only_and_the_tables_start_small() -> None:
    torch.manual_seed(0)
    bag = BagOfEmbeddings("bigrams", VOCAB, DIM, BUCKETS, dropout=0.5)
    ids, lengths = padded(ROWS)
    assert not torch.equal(bag.train()(ids, lengths), bag.eval()(ids, lengths))
    torch.testing.assert_close(bag.eval()(ids, lengths), bag.eval()(ids, lengths))
    # fastText's start: uniform in [-1/dim, 1/dim], not nn.Embedding's N(0, 1).
    for table in (bag.unigrams, bag.bigrams):
        assert table.weight.abs().max() <= 1.0 / DIM


def _model(bag: str | None, **options) -> SequenceModel:
    return SequenceModel(cell="gru", hidden_size=6, bidirectional=True, embedding_dim=DIM, num_outputs=3,
                         vocab_size=VOCAB, padding_idx=0, pooling="mean", bag=bag, bag_buckets=BUCKETS, **options)


def test_off_the_model_and_its_state_dict_are_as_before() -> None:
    """Off, no key is added and the same seed draws the same weights as a model built without the argument."""
    torch.manual_seed(3)
    off = _model(None)
    torch.manual_seed(3)
    before = SequenceModel(cell="gru", hidden_size=6, bidirectional=True, embedding_dim=DIM, num_outputs=3,
                           vocab_size=VOCAB, padding_idx=0, pooling="mean")
    rnn = [f"backbone.rnn.{w}_{g}_l0{r}" for r in ("", "_reverse") for w in ("weight", "bias") for g in ("ih", "hh")]
    assert sorted(off.state_dict()) == sorted(["input_layer.weight", *rnn, "output_layer.weight", "output_layer.bias"])
    assert sorted(off.state_dict()) == sorted(before.state_dict())
    assert not any(k.startswith("bag.") for k in off.state_dict())
    for key, value in before.state_dict().items():
        assert torch.equal(off.state_dict()[key], value), key


@pytest.mark.parametrize("kind", ["unigrams", "bigrams"])
def test_the_head_reads_the_pooled_state_and_the_bag_side_by_side(kind: str) -> None:
    """logits = W_rnn @ pooled + W_bag @ bag + b, with pooled the model without a bag's pooled state; with W_bag
    zero, the model is the one without a bag."""
    torch.manual_seed(0)
    with_bag = _model(kind).eval()
    without = _model(None).eval()
    shared = {k: v for k, v in with_bag.state_dict().items() if not k.startswith(("bag.", "output_layer."))}
    without.load_state_dict({**without.state_dict(), **shared})
    ids, lengths = padded(ROWS, junk=0)
    width = with_bag.backbone.output_size  # D*H = 12
    weight, bias = with_bag.output_layer.weight, with_bag.output_layer.bias  # (C, D*H + E), (C,)
    pooled = without.pool(without.backbone(without.input_layer(ids), lengths)[0], lengths)  # (B, D*H)
    expected = pooled @ weight[:, :width].T + with_bag.bag(ids, lengths) @ weight[:, width:].T + bias
    torch.testing.assert_close(with_bag(ids, lengths)[0], expected)
    with torch.no_grad():
        with_bag.output_layer.weight[:, width:] = 0
        without.output_layer.weight.copy_(with_bag.output_layer.weight[:, :width])
        without.output_layer.bias.copy_(bias)
    torch.testing.assert_close(with_bag(ids, lengths)[0], without(ids, lengths)[0])


def test_gradients_reach_the_bag_tables_of_the_real_tokens_only() -> None:
    torch.manual_seed(0)
    model = _model("bigrams")
    ids, lengths = padded([[3, 4], [5]], junk=9)  # id 9 sits only in the padding
    model(ids, lengths)[0].sum().backward()
    grad = model.bag.unigrams.weight.grad  # (V, E)
    assert grad[[3, 4, 5]].abs().sum(dim=1).gt(0).all()
    assert not grad[9].any()


@pytest.mark.parametrize(("options", "words"), [
    ({"num_features": 4}, ["bag='bigrams'", "real-valued", "set bag=None"]),
    ({"vocab_size": VOCAB, "per_step_targets": True}, ["bag='bigrams'", "many_to_many", "set bag=None"]),
    ({"vocab_size": VOCAB, "bag": "trigrams"}, ["bag must be one of", "'trigrams'"]),
    ({"vocab_size": VOCAB, "bag_buckets": 0}, ["bag_buckets must be an integer >= 1"]),
])
def test_the_constructor_refuses_a_bag_where_it_means_nothing(options: dict, words: list[str]) -> None:
    arguments = {"cell": "gru", "num_outputs": 3, "bag": "bigrams", **options}
    with pytest.raises(ValueError) as error:
        SequenceModel(**arguments)
    for word in words:
        assert word in str(error.value), str(error.value)
