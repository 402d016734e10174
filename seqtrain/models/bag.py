"""BagOfEmbeddings: fastText's sentence vector, the mean of a sequence's token (and hashed token-pair) embeddings.

Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification": a linear classifier on the mean of the
embeddings of a text's words and word n-grams (hashed into buckets) matches much larger networks on sentiment. Here
it is a branch beside the recurrent backbone: its (B, E) mean joins the RNN's pooled (B, D*H) state before the
output layer, so the head sees both what the words are (order-free, like a naive Bayes' bag of n-grams) and what
the RNN read in order.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

BAGS = ("unigrams", "bigrams")
#: fastText's n-gram hash step (`Dictionary::addWordNgrams`: h = h * 116049371 + id), so pairs of frequent (low)
#: ids spread over the buckets instead of filling the first ones.
PAIR_HASH = 116049371


def pair_buckets(tokens: Tensor, buckets: int) -> Tensor:
    """The bucket of each adjacent pair (t_i, t_i+1): (B, T) ids -> (B, T-1) ids in [0, buckets)."""
    return torch.remainder(tokens[:, :-1] * PAIR_HASH + tokens[:, 1:], buckets)  # int64: no overflow below ~8e10 ids


class BagOfEmbeddings(nn.Module):
    """Mean of the token embeddings over each row's real steps (`unigrams`), or over its tokens and adjacent token
    pairs together (`bigrams`: each pair hashed into one of `buckets` rows, fastText's bigram features)."""

    def __init__(self, bag: Literal["unigrams", "bigrams"], vocab_size: int, dim: int, buckets: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if bag not in BAGS:
            raise ValueError(f"bag must be one of {list(BAGS)}, got {bag!r}")
        self.bag = bag
        self.unigrams = nn.Embedding(vocab_size, dim)  # its own table: the RNN's embedding is not shared
        self.bigrams = nn.Embedding(buckets, dim) if bag == "bigrams" else None
        self.buckets = buckets
        # fastText's start (`input_->uniform(1.0 / dim)`): small rows that a few updates move. nn.Embedding's N(0, 1)
        # would leave a rare pair's row near its random start (Adam moves it ~lr a step), so the bag would stay a
        # fixed random projection of the counts.
        for table in (self.unigrams, self.bigrams):
            if table is not None:
                nn.init.uniform_(table.weight, -1.0 / dim, 1.0 / dim)
        # The model's embedding dropout acts on the bag's embedded tokens too: (B, T, E) values, training only.
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def _masked_sum(self, table: nn.Embedding, ids: Tensor, real: Tensor) -> Tensor:
        """Sum of the embeddings of `ids` (B, S) where `real` (B, S) is True: (B, E)."""
        embedded = table(ids)  # (B, S, E)
        if self.dropout is not None:
            embedded = self.dropout(embedded)
        # masked_fill rather than a product: the padding's rows must add nothing, whatever they hold.
        return embedded.masked_fill(~real[..., None], 0).sum(dim=1)  # (B, E)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """tokens (B, T) ids, padded after each row's `lengths` (B,) real steps -> the mean embedding (B, E)."""
        lengths = lengths.to(tokens.device, non_blocking=True)
        real = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]  # (B, T)
        total = self._masked_sum(self.unigrams, tokens, real)  # (B, E)
        count = lengths
        if self.bigrams is not None:
            # Pair i joins steps i and i+1: real when step i+1 is; a row of L steps has L-1 pairs.
            total = total + self._masked_sum(self.bigrams, pair_buckets(tokens, self.buckets), real[:, 1:])
            count = count + (lengths - 1).clamp(min=0)
        return total / count[:, None].to(total.dtype)  # (B, E)

    def extra_repr(self) -> str:
        return f"bag={self.bag!r}, buckets={self.buckets if self.bigrams is not None else None}"
