"""NaiveBayesPrior: a multinomial naive Bayes over each text's set of tokens (and hashed token pairs), its class
log-probabilities added to the head's logits.

On a few thousand short texts a bag-of-n-grams naive Bayes is hard to beat (Ng and Jordan 2001: the generative
model reaches its asymptote with far fewer examples than the discriminative one; Wang and Manning 2012: NB
features with n-grams are among the strongest sentiment baselines). Here it is a term of the model: the counts are
fitted once on the training and validation rows before training (`fit`, called by `SequenceTask.setup`), kept as buffers
(saved, loaded and exported with the weights), and the network learns what to add to them. `fit` also chooses, on
the training rows, the additive smoothing alpha (by leave-one-out accuracy, as the study's baseline picks its alpha by
cross-validation) and the weight of the term (by leave-one-out log-likelihood: a naive Bayes' summed log-probabilities
are over-confident). Neither is trained: learned by gradient with the network, both drifted to calibrate the term
(alpha up, the weight down) and the term ranked the classes worse (round twenty-eight of the study, README).

Fitted on the rows it is then trained on, the naive Bayes would be over-confident there (a token seen in one
training row is perfect evidence for that row's class), and the network would learn to trust it more than it
deserves on new text; fitted on the validation rows, it would make validation accuracy a lie. Training and validation
therefore score each counted row by the naive Bayes of the *other* rows (leave-one-out: the row's own counts taken out
of its class; `leave_one_out`), which is exact and costs nothing: the counts are sums over rows. Test rows and
predictions, never counted, use all the counts.

Features are binary (a token is in the text or not: Wang and Manning's binarized naive Bayes, the study's
strongest baseline), over the token ids and, with ``pairs``, adjacent id pairs hashed into ``buckets`` rows (the
hash of `seqtrain.models.bag`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqtrain.models.bag import pair_buckets

#: The additive smoothings `fit` chooses from (the study's naive Bayes baseline picks from 0.1, 0.2, 0.5 and 1 by
#: 5-fold cross-validation; leave-one-out is the n-fold limit, exact here).
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def _pad(examples: Sequence[tuple[Tensor, Tensor]], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """(tokens (T,), label ()) pairs -> (B, T) ids padded with 0, (B,) lengths, (B,) labels."""
    lengths = torch.tensor([len(t) for t, _ in examples])
    tokens = torch.zeros(len(examples), int(lengths.max()), dtype=torch.long)
    for i, (t, _) in enumerate(examples):
        tokens[i, : len(t)] = t
    return tokens.to(device), lengths, torch.tensor([int(y) for _, y in examples], device=device)


def _calibrate(scores: Tensor, targets: Tensor, steps: int = 50) -> float:
    """The weight w > 0 that minimises the mean cross-entropy of softmax(w * scores): temperature scaling (Guo et al.
    2017) of the naive Bayes, whose summed log-probabilities are over-confident. The loss is convex in w."""
    scores = scores.double()
    scores = scores - scores.max(dim=1, keepdim=True).values  # the same softmax, finite for any w
    loss = lambda w: torch.nn.functional.cross_entropy(w * scores, targets).item()  # noqa: E731
    low, high = 0.0, 1.0
    while loss(high * 2) < loss(high) and high < 1e3:  # the minimum is beyond `high`
        high *= 2
    high *= 2
    for _ in range(steps):  # ternary search on the convex loss
        a, b = low + (high - low) / 3, high - (high - low) / 3
        if loss(a) < loss(b):
            high = b
        else:
            low = a
    return (low + high) / 2


class NaiveBayesPrior(nn.Module):
    """log P(class) + sum over the row's distinct features of log P(feature | class), times a weight; the counts, the
    smoothing and the weight are fitted on labelled rows by `fit`, not trained.

    Args:
        vocab_size: token ids are in [0, vocab_size).
        num_classes: the classes (the head's outputs).
        buckets: with ``pairs``, adjacent token pairs hash into this many features after the tokens'.
        pairs: count adjacent token pairs (bigrams) as features too.
    """

    def __init__(self, vocab_size: int, num_classes: int, buckets: int, pairs: bool = True) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a naive Bayes prior needs a classification head (2 or more classes), got {num_classes} outputs")
        self.vocab_size = vocab_size
        self.buckets = buckets if pairs else 0
        self.num_features = vocab_size + self.buckets
        # counts[f, c]: training rows of class c holding feature f; rows[c]: training rows of class c. Zero until fit.
        self.register_buffer("counts", torch.zeros(self.num_features, num_classes))
        self.register_buffer("rows", torch.zeros(num_classes))
        # Chosen by `fit` (buffers: fitted, not trained), saved with the counts.
        self.register_buffer("alpha", torch.tensor(1.0))
        self.register_buffer("weight", torch.tensor(1.0))
        self.chosen: dict[str, float] = {}

    @property
    def fitted(self) -> bool:
        return bool(self.rows.sum() > 0)

    def features(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Each row's distinct feature ids: (B, S) ids and a (B, S) mask, True once per distinct feature of a row."""
        lengths = lengths.to(tokens.device)
        real = torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]  # (B, T)
        ids, keep = tokens, real
        if self.buckets:
            ids = torch.cat([ids, self.vocab_size + pair_buckets(tokens, self.buckets)], dim=1)
            keep = torch.cat([keep, real[:, 1:]], dim=1)
        ids = ids.masked_fill(~keep, -1)  # padding sorts first and is never a feature
        ids, _ = ids.sort(dim=1)
        first = torch.ones_like(keep)
        first[:, 1:] = ids[:, 1:] != ids[:, :-1]
        return ids.clamp(min=0), first & (ids >= 0)

    @torch.no_grad()
    def fit(self, examples: Sequence[tuple[Tensor, Tensor]], batch_size: int = 256) -> None:
        """Count the labelled rows (``examples``: (tokens (T,), label ()) pairs), then choose the smoothing and the
        weight on them, leaving each row out: alpha by accuracy over `ALPHAS`, the weight by log-likelihood."""
        self.counts.zero_()
        self.rows.zero_()
        examples = [(tokens, label) for tokens, label in examples if int(label) >= 0]  # a row without a label: left out
        if not examples:
            raise ValueError("a naive Bayes needs labelled rows to count, and none was given")
        batches = [_pad([examples[j] for j in range(i, min(i + batch_size, len(examples)))], self.counts.device)
                   for i in range(0, len(examples), batch_size)]
        # Each batch's distinct features once: counted here, then scored for every alpha below.
        found = [(*self.features(tokens, lengths), labels) for tokens, lengths, labels in batches]
        for ids, first, labels in found:
            classes = labels[:, None].expand_as(ids)
            self.counts.index_put_((ids[first], classes[first]), torch.ones(int(first.sum()), device=ids.device),
                                   accumulate=True)
            self.rows.index_put_((labels,), torch.ones(len(labels), device=ids.device), accumulate=True)
        self.weight.fill_(1.0)
        targets = torch.cat([labels for _, _, labels in found])
        best = None
        for alpha in ALPHAS:
            self.alpha.fill_(alpha)
            tables = self._log_tables()
            scores = torch.cat([self._scores(ids, first, tables) + self._left_out(ids, first, labels, tables)
                                for ids, first, labels in found])
            accuracy = (scores.argmax(dim=1) == targets).double().mean().item()
            if best is None or accuracy > best[0]:
                best = (accuracy, alpha, scores)
        accuracy, alpha, scores = best
        self.alpha.fill_(alpha)
        self.weight.fill_(_calibrate(scores, targets))
        self.chosen = {"alpha": alpha, "weight": float(self.weight), "leave_one_out_accuracy": accuracy}

    def _log_tables(self) -> tuple[Tensor, Tensor, Tensor]:
        """Each class's feature total (C,), log P(feature | class) (F, C) and the unnormalised log prior (C,)."""
        totals = self.counts.sum(dim=0)  # (C,) features counted per class
        log_likelihood = (self.counts + self.alpha).log() - (totals + self.alpha * self.num_features).log()  # (F, C)
        log_prior = (self.rows + 1).log()  # (C,) add-one: a class of one row keeps a finite prior when it is left out
        return totals, log_likelihood, log_prior

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids padded after `lengths` -> (B, C): the weighted log joint probability of each class."""
        return self._scores(*self.features(tokens, lengths), self._log_tables())

    def leave_one_out(self, tokens: Tensor, lengths: Tensor, targets: Tensor) -> Tensor:
        """What to add to `forward`'s (B, C) for training rows of class ``targets`` (B,): each row's own class scored
        without the row's counts. Zero but in each row's target column, and for a row without a label (a negative
        target: the ignore index), which was not counted."""
        return self._left_out(*self.features(tokens, lengths), targets, self._log_tables())

    def _scores(self, ids: Tensor, first: Tensor, tables: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """`forward` on the rows' distinct features (`features`)."""
        _, log_likelihood, log_prior = tables
        scores = (log_likelihood[ids] * first[..., None]).sum(dim=1)  # (B, C)
        return self.weight * (scores + log_prior)

    def _left_out(self, ids: Tensor, first: Tensor, targets: Tensor, tables: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """`leave_one_out` on the rows' distinct features (`features`)."""
        totals, log_likelihood, log_prior = tables
        labelled = targets.reshape(-1) >= 0
        targets = targets.reshape(-1).long().clamp(min=0)
        own = first.to(log_likelihood.dtype)
        in_row = own.sum(dim=1)  # (B,) the row's distinct features
        counts = self.counts[ids, targets[:, None]]  # (B, S) its class's counts of its features, itself included
        full = (log_likelihood[ids, targets[:, None]] * own).sum(dim=1)
        without = ((counts - 1 + self.alpha).clamp(min=1e-12).log() * own).sum(dim=1) \
            - in_row * (totals[targets] - in_row + self.alpha * self.num_features).log()
        prior = (self.rows[targets]).log() - log_prior[targets]  # rows - 1 + 1 against rows + 1
        change = torch.zeros(ids.shape[0], self.rows.shape[0], dtype=full.dtype, device=full.device)
        change[torch.arange(ids.shape[0], device=full.device), targets] = self.weight * (without - full + prior) * labelled
        return change

    def extra_repr(self) -> str:
        return f"features={self.num_features}, classes={self.rows.shape[0]}, pairs={bool(self.buckets)}"
