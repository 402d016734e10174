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
strongest baseline), over the token ids and, with ``pairs``, adjacent id pairs hashed into `buckets_for(classes)`
rows (the hash of `seqtrain.models.bag`). Pairs sharing a row pool their counts, and a fitted naive Bayes has no
weights to learn around that: on RottenTomatoes (Unigram 4,000; ~50,000 distinct pairs) the naive Bayes alone scored
0.728 on the study's 3 hold-outs and 0.739 on the official split with its pairs in the bag's 65,536 rows, 0.744 and
0.749 in 2^20 (`scripts/defaults_study.py --stage nbprior`). The smoothing's denominator counts the features the
fitted rows hold, not every row of the table (scikit-learn's vocabulary is the training rows' n-grams): over 2^20
mostly empty rows, alpha times the rows would swamp the classes' totals.

With ``words`` (subword tokenizers), the words the pieces spell and adjacent word pairs are features too, hashed into
the same rows (`word_features`): the naive Bayes alone 0.747 and 0.753, and the whole model 0.748 on the hold-outs
against 0.736 with ``bigrams`` (round twenty-nine, README). With ``fold`` (what `SequenceModel` builds for ``words``)
each word is hashed from its lower-cased characters (`word_folds`), however the tokenizer cut it: 0.754 and 0.756
(round thirty).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtrain.models.bag import pair_buckets

log = logging.getLogger(__name__)

#: The additive smoothings `fit` chooses from (the study's naive Bayes baseline picks from 0.1, 0.2, 0.5 and 1 by
#: 5-fold cross-validation; leave-one-out is the n-fold limit, exact here).
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


#: The counts table's size: 2^22 cells over the classes (16 MB of float32), at most 2^20 pair rows, at least 2^12.
TABLE_CELLS, MOST_BUCKETS, FEWEST_BUCKETS = 2**22, 2**20, 2**12


#: What `NaiveBayesPrior` counts: tokens; and adjacent token pairs; and, for subword tokens, also the words they spell
#: and adjacent word pairs.
FEATURES = ("unigrams", "bigrams", "words")
#: Multiply-mod-prime hashing (Carter and Wegman's family) of words, modulo the Mersenne prime 2^31 - 1: every product
#: of a value below 2^31 and these constants stays below 2^63, in int64 on every backend.
PRIME, MIX = 2**31 - 1, (1_103_515_245, 2_147_483_587, 1_664_525, 1_013_904_223, 69_069, 214_013)


def buckets_for(num_classes: int) -> int:
    """Rows of the pair table for ``num_classes`` classes: as many as 2^22 cells allow, between 2^12 and 2^20."""
    return max(FEWEST_BUCKETS, min(MOST_BUCKETS, TABLE_CELLS // num_classes))


def _mix(values: Tensor, a: int, c: int) -> Tensor:
    """(values mod p) * a + c mod p: int64 in, int64 in [0, p) out."""
    return torch.remainder(torch.remainder(values, PRIME) * a + c, PRIME)


def word_marks(pieces: Sequence[str]) -> tuple[Tensor, Tensor]:
    """Where the words of byte-level subword pieces begin (`SubwordTokenizer.pieces`): (opens, joins), each (V,) bool.
    A piece opens a word when it starts with the space mark (Ġ) or with anything but a letter or digit (punctuation, a
    special token); a piece ending in a letter or digit joins the next one if that piece does not open a word: as the
    pre-tokenizer cut the text, `Ġunder` `stand` `able` `,` is one word, then a comma."""
    opens = torch.tensor([not piece or piece[0] == "\u0120" or not piece[0].isalnum() for piece in pieces])
    joins = torch.tensor([bool(piece) and piece[-1].isalnum() for piece in pieces])
    return opens, joins


#: The polynomial hash's base for a word's characters (`word_folds`), and its inverse modulo PRIME.
BASE = 1_000_003
BASE_INVERSE = pow(BASE, PRIME - 2, PRIME)
#: `_power` reads powers from tables, one per base-2^DIGIT_BITS digit of the exponent: exact for rows of up to
#: 2^(DIGIT_BITS * DIGITS) = 2^36 characters.
DIGIT_BITS, DIGITS = 12, 3


def word_folds(pieces: Sequence[str]) -> tuple[Tensor, Tensor]:
    """What each byte-level piece (`SubwordTokenizer.pieces`) adds to the case-folded text of its word: (codes, widths),
    each (V,) int64: the polynomial hash (base `BASE`, modulo `PRIME`) of the piece's characters without the space mark
    and with A-Z lower-cased (the byte-level alphabet writes ASCII as itself), and their number. A word's hash is then the
    hash of its folded characters, however the tokenizer cut it: `ĠThe`, `The` and `Ġthe` are one word."""
    codes, widths = [], []
    for piece in pieces:
        text = (piece[1:] if piece.startswith("\u0120") else piece).translate(_FOLD)
        code = 0
        for character in text:
            code = (code * BASE + ord(character)) % PRIME
        codes.append(code)
        widths.append(len(text))
    return torch.tensor(codes, dtype=torch.long), torch.tensor(widths, dtype=torch.long)


_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@functools.cache
def _power_tables(base: int, device: torch.device) -> Tensor:
    """(DIGITS, 2^DIGIT_BITS) int64: row d, column k holds base ** (k * 2^(DIGIT_BITS * d)) modulo PRIME."""
    size, tables = 1 << DIGIT_BITS, []
    for _ in range(DIGITS):
        row, power = [], 1
        for _ in range(size):
            row.append(power)
            power = power * base % PRIME
        tables.append(row)
        base = power  # base ** size: the next digit's unit
    return torch.tensor(tables, dtype=torch.long, device=device)


def _power(base: int, exponents: Tensor) -> Tensor:
    """base ** exponents modulo PRIME, elementwise for int64 exponents in [0, 2^(DIGIT_BITS * DIGITS)): the product of
    one table entry per digit of the exponent (arithmetic, not bitwise: ONNX has no bitwise and on integers)."""
    tables = _power_tables(base, exponents.device)
    size = 1 << DIGIT_BITS
    result = tables[0][torch.remainder(exponents, size)]
    for digit in range(1, DIGITS):
        exponents = torch.div(exponents, size, rounding_mode="floor")
        result = torch.remainder(result * tables[digit][torch.remainder(exponents, size)], PRIME)
    return result


def word_features(tokens: Tensor, real: Tensor, opens: Tensor, joins: Tensor, buckets: int,
                  codes: Tensor | None = None, widths: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The words the subword ``tokens`` (B, T) spell (`word_marks`) and adjacent word pairs, each hashed into
    [0, buckets): (B, 2T - 1) ids and a mask of those that are words or pairs of the ``real`` (B, T) steps. A word is
    hashed from its pieces and their order (the sum of each piece's hash and of each adjacent pair's within the word);
    with the pieces' ``codes`` and ``widths`` (`word_folds`), from its case-folded characters instead."""
    T = tokens.shape[1]
    starts = opens[tokens]  # (B, T)
    starts = torch.cat([torch.ones_like(starts[:, :1]), starts[:, 1:] | ~joins[tokens[:, :-1]]], dim=1)
    within = torch.cat([torch.zeros_like(tokens[:, :1]), _mix(tokens[:, :-1] * MIX[0] + tokens[:, 1:], MIX[1], MIX[2])], dim=1)
    if codes is None:
        value = _mix(tokens, MIX[3], MIX[4]) + within * (~starts)  # (B, T) below 2^32
    else:
        # The folded characters' polynomial hash: sum over a word's pieces of code * BASE^-(characters up to the piece's
        # end), times BASE^(characters up to the word's end) below, modulo PRIME.
        ends_at = torch.cumsum(widths[tokens] * real, dim=1)
        value = torch.remainder(codes[tokens] * _power(BASE_INVERSE, ends_at), PRIME)
    sums = torch.cumsum(value * real, dim=1)
    ends = real & torch.cat([starts[:, 1:] | ~real[:, 1:], torch.ones_like(starts[:, :1])], dim=1)  # a word's last step
    position = torch.arange(T, device=tokens.device).expand_as(tokens)
    order, _ = torch.where(ends, position, T).sort(dim=1)  # each row's word ends, in order, then T for none
    is_word = order < T
    at_end = sums.gather(1, order.clamp(max=T - 1))
    words = at_end - torch.cat([torch.zeros_like(at_end[:, :1]), at_end[:, :-1]], dim=1)  # (B, T) each word's sum
    if codes is not None:
        words = torch.remainder(torch.remainder(words, PRIME) * _power(BASE, ends_at.gather(1, order.clamp(max=T - 1))), PRIME)
    words = _mix(words, MIX[5], MIX[0])
    pairs = _mix(words[:, :-1] * MIX[1] + words[:, 1:], MIX[2], MIX[3])
    ids = torch.remainder(torch.cat([words, pairs], dim=1), buckets)
    return ids, torch.cat([is_word, is_word[:, 1:]], dim=1)


def pad_rows(examples: Sequence[tuple[Tensor, Tensor]], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
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
        pairs: count adjacent token pairs (bigrams) as features too, hashed into `buckets_for(num_classes)` features
            after the tokens' (``buckets`` replaces that number).
        words: with ``pairs``, count the words subword tokens spell and adjacent word pairs too, hashed into the same
            buckets (`word_features`; which pieces begin words comes from the tokenizer, in `fit`).
        fold: with ``words``, hash each word from its characters with A-Z lower-cased (`word_folds`), not from its
            pieces: one word however it is cased or cut.
    """

    def __init__(self, vocab_size: int, num_classes: int, pairs: bool = True, buckets: int | None = None,
                 words: bool = False, fold: bool = False) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a naive Bayes prior needs a classification head (2 or more classes), got {num_classes} outputs")
        self.vocab_size = vocab_size
        self.buckets = (buckets_for(num_classes) if buckets is None else buckets) if pairs else 0
        if words and not pairs:
            raise ValueError("a naive Bayes counts words with token pairs (bigrams), got words=True and pairs=False")
        if fold and not words:
            raise ValueError("a naive Bayes case-folds the words it counts, got fold=True and words=False")
        self.words = words
        self.fold = fold
        if fold:  # what each piece adds to its word's folded hash: from the tokenizer's pieces, in `fit`
            self.register_buffer("codes", torch.zeros(vocab_size, dtype=torch.long))
            self.register_buffer("widths", torch.zeros(vocab_size, dtype=torch.long))
        self.num_features = vocab_size + self.buckets
        if words:  # which pieces open a word and which join the next: from the tokenizer's pieces, in `fit`
            self.register_buffer("opens", torch.zeros(vocab_size, dtype=torch.bool))
            self.register_buffer("joins", torch.zeros(vocab_size, dtype=torch.bool))
        # counts[f, c]: training rows of class c holding feature f; rows[c]: training rows of class c. Zero until fit.
        self.register_buffer("counts", torch.zeros(self.num_features, num_classes))
        self.register_buffer("rows", torch.zeros(num_classes))
        # Sums of the counts, kept so that scoring reads only the rows' own features: each class's feature total and
        # the features any fitted row holds (the smoothing's vocabulary).
        self.register_buffer("totals", torch.zeros(num_classes))
        self.register_buffer("seen", torch.tensor(0.0))
        # Chosen by `fit` (buffers: fitted, not trained), saved with the counts.
        self.register_buffer("alpha", torch.tensor(1.0))
        self.register_buffer("weight", torch.tensor(1.0))
        self.chosen: dict[str, float] = {}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A naive Bayes over words saved before words were case-folded (no `codes`) scores them as it was fitted: unfolded.
        if self.fold and prefix + "opens" in state_dict and prefix + "codes" not in state_dict:
            self.fold = False
            del self.codes, self.widths
            log.warning("%snaive Bayes: saved before its words were case-folded; it scores them as it was fitted, with "
                        "case (refit by training anew to fold them)", prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
        if self.words:
            folds = (self.codes, self.widths) if self.fold else (None, None)
            words, is_word = word_features(tokens, real, self.opens, self.joins, self.buckets, *folds)
            ids, keep = torch.cat([ids, self.vocab_size + words], dim=1), torch.cat([keep, is_word], dim=1)
        ids = ids.masked_fill(~keep, -1)  # padding sorts first and is never a feature
        ids, _ = ids.sort(dim=1)
        first = torch.ones_like(keep)
        first[:, 1:] = ids[:, 1:] != ids[:, :-1]
        return ids.clamp(min=0), first & (ids >= 0)

    @torch.no_grad()
    def fit(self, examples: Sequence[tuple[Tensor, Tensor]], batch_size: int = 256, pieces: Sequence[str] | None = None) -> None:
        """Count the labelled rows (``examples``: (tokens (T,), label ()) pairs), then choose the smoothing and the
        weight on them, leaving each row out: alpha by accuracy over `ALPHAS`, the weight by log-likelihood. With
        ``words``, ``pieces`` are the tokenizer's (`SubwordTokenizer.pieces`), one per id."""
        if self.words:
            if pieces is None or len(pieces) != self.vocab_size:
                raise ValueError(f"a naive Bayes over words needs the subword tokenizer's {self.vocab_size} pieces, got "
                                 f"{'none' if pieces is None else len(pieces)}")
            opens, joins = word_marks(pieces)
            self.opens.copy_(opens)
            self.joins.copy_(joins)
            if self.fold:
                codes, widths = word_folds(pieces)
                self.codes.copy_(codes)
                self.widths.copy_(widths)
        for fitted in (self.counts, self.rows, self.totals, self.seen):
            fitted.zero_()
        examples = [(tokens, label) for tokens, label in examples if int(label) >= 0]  # a row without a label: left out
        if not examples:
            raise ValueError("a naive Bayes needs labelled rows to count, and none was given")
        batches = [pad_rows([examples[j] for j in range(i, min(i + batch_size, len(examples)))], self.counts.device)
                   for i in range(0, len(examples), batch_size)]
        # Each batch's distinct features once: counted here, then scored for every alpha below.
        found = [(*self.features(tokens, lengths), labels) for tokens, lengths, labels in batches]
        for ids, first, labels in found:
            classes = labels[:, None].expand_as(ids)
            self.counts.index_put_((ids[first], classes[first]), torch.ones(int(first.sum()), device=ids.device),
                                   accumulate=True)
            self.rows.index_put_((labels,), torch.ones(len(labels), device=ids.device), accumulate=True)
        self.totals.copy_(self.counts.sum(dim=0))
        self.seen.fill_(int((self.counts.sum(dim=1) > 0).sum()))
        self.weight.fill_(1.0)
        targets = torch.cat([labels for _, _, labels in found])
        best = None
        for alpha in ALPHAS:
            self.alpha.fill_(alpha)
            scores = torch.cat([self._left_out(ids, first, labels) for ids, first, labels in found])
            accuracy = (scores.argmax(dim=1) == targets).double().mean().item()
            if best is None or accuracy > best[0]:
                best = (accuracy, alpha, scores)
        accuracy, alpha, scores = best
        self.alpha.fill_(alpha)
        self.weight.fill_(_calibrate(scores, targets))
        self.chosen = {"alpha": alpha, "weight": float(self.weight), "leave_one_out_accuracy": accuracy}

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids padded after `lengths` -> (B, C): the weighted log joint probability of each class."""
        return self._scores(*self.features(tokens, lengths))

    def leave_one_out(self, tokens: Tensor, lengths: Tensor, targets: Tensor) -> Tensor:
        """What to add to `forward`'s (B, C) for fitted rows of class ``targets`` (B,): each row scored by the naive
        Bayes of the other rows (its own class without the row's counts; every class without the features only it
        holds, and over the features the others hold). Zero for a row without a label (a negative target: the ignore
        index), which was not counted."""
        ids, first = self.features(tokens, lengths)
        return self._left_out(ids, first, targets) - self._scores(ids, first)

    def _scores(self, ids: Tensor, first: Tensor) -> Tensor:
        """`forward` on the rows' distinct features (`features`): those no fitted row holds count for nothing (as
        words outside a fitted vocabulary). Reads the counts of the rows' features only, not the whole table."""
        counts = self.counts[ids]  # (B, S, C)
        known = first & (counts.sum(dim=-1) > 0)
        return self._joint(counts, known, self.totals, self.seen, self.rows)

    def _left_out(self, ids: Tensor, first: Tensor, targets: Tensor) -> Tensor:
        """(B, C): fitted rows (distinct features from `features`) of class ``targets`` scored by the naive Bayes fitted
        without them; a row without a label (negative target) scored as `_scores` does."""
        labelled = targets.reshape(-1) >= 0
        own = F.one_hot(targets.reshape(-1).long().clamp(min=0), self.rows.shape[0]) * labelled[:, None]  # (B, C)
        own = own.to(self.counts.dtype)
        counts = self.counts[ids]  # (B, S, C)
        in_row = (first & (counts.sum(dim=-1) > 0)).sum(dim=1, keepdim=True)  # (B, 1) counted in the row's class
        counts = (counts - own[:, None, :]).clamp(min=0)  # the other rows' counts (padding's -1 would log to nan)
        holding = counts.sum(dim=-1)  # (B, S) other rows holding each feature
        known = first & (holding > 0)
        only_here = (first & (holding == 0)).sum(dim=1, keepdim=True)  # (B, 1) out of the others' vocabulary
        return self._joint(counts, known, self.totals - own * in_row, self.seen - only_here * labelled[:, None],
                           self.rows - own)

    def _joint(self, counts: Tensor, known: Tensor, totals: Tensor, seen: Tensor, rows: Tensor) -> Tensor:
        """Weighted log P(class) + sum of log P(feature | class) over the ``known`` (B, S) features, from their
        (B, S, C) counts, the classes' feature totals, the features any row holds and the rows per class. In float64:
        a row's hundreds of terms would otherwise round differently with the batch it sits in (its padding)."""
        alpha = self.alpha.double()
        likelihood = ((counts.double() + alpha).log() * known[..., None]).sum(dim=1) \
            - known.sum(dim=1, keepdim=True) * (totals.double() + alpha * seen).log()
        scores = self.weight.double() * (likelihood + (rows.double() + 1).log())  # add-one prior: finite for one row left out
        return scores.to(counts.dtype)

    def extra_repr(self) -> str:
        return f"features={self.num_features}, classes={self.rows.shape[0]}, pairs={bool(self.buckets)}, words={self.words}"
