"""model.naive_bayes: the counts, the class scores and the leave-one-out correction against scikit-learn's
MultinomialNB and against a prior refitted without the row."""

import numpy as np
import pytest
import torch

from seqtrain.models.bag import pair_buckets
from seqtrain.models.naive_bayes import (ALPHAS, BASE, BASE_INVERSE, MIX, PRIME, NaiveBayesPrior, _power, buckets_for,
                                         word_features, word_folds, word_marks)
from seqtrain.models.sequence_model import SequenceModel

VOCAB, BUCKETS, CLASSES = 7, 5, 3
#: Byte-level pieces for the 7 ids (Ġ: a space before the piece): words open at Ġ or punctuation. Case-folded, Ġa b
#: and ĠA B spell one word.
PIECES = ["<pad>", "\u0120a", "b", "\u0120A", ",", "B", "\u0120e"]


def _rows(n: int, seed: int = 0, high: int = VOCAB) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random rows of ids below ``high``, the classes in turn."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = int(torch.randint(1, 9, (1,), generator=g))
        rows.append((torch.randint(0, high, (length,), generator=g), torch.tensor(i % CLASSES)))
    return rows


#: A row holding the one id (VOCAB - 1) and the pairs no row of `_rows(n, high=VOCAB - 1)` holds.
ODD_ONE = (torch.tensor([VOCAB - 1, 2, VOCAB - 1, 4]), torch.tensor(1))


def _batch(rows: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(t) for t, _ in rows])
    tokens = torch.full((len(rows), int(lengths.max())), 3)  # padding with a real id: must count for nothing
    for i, (t, _) in enumerate(rows):
        tokens[i, : len(t)] = t
    return tokens, lengths, torch.stack([y for _, y in rows])


def _binary_features(tokens: torch.Tensor, pairs: bool, words: bool = False, fold: bool = False) -> np.ndarray:
    """One row's binary feature vector, by hand: ids, then hashed adjacent pairs (and words) after them."""
    x = np.zeros(VOCAB + (BUCKETS if pairs else 0))
    x[tokens.numpy()] = 1
    if pairs and len(tokens) > 1:
        x[VOCAB + pair_buckets(tokens[None], BUCKETS)[0].numpy()] = 1
    if words:
        ids, is_word = word_features(tokens[None], torch.ones(1, len(tokens), dtype=torch.bool),
                                     *word_marks(PIECES), BUCKETS, *(word_folds(PIECES) if fold else ()))
        x[VOCAB + ids[is_word].numpy()] = 1
    return x


FEATURES = [(False, False, False), (True, False, False), (True, True, False), (True, True, True)]  # (pairs, words, fold)


@pytest.mark.parametrize("pairs, words, fold", FEATURES)
def test_scores_are_sklearn_multinomial_nb_on_binary_features(pairs: bool, words: bool, fold: bool) -> None:
    from sklearn.naive_bayes import MultinomialNB

    # New rows hold an id the training rows never do: scikit-learn's vocabulary (the columns) is the training rows'.
    train, new = _rows(40, high=VOCAB - 1), _rows(9, seed=1)
    assert any((t == VOCAB - 1).any() for t, _ in new)
    prior = NaiveBayesPrior(VOCAB, CLASSES, pairs=pairs, buckets=BUCKETS, words=words, fold=fold)
    prior.fit(train, pieces=PIECES)
    prior.alpha.fill_(0.5)
    prior.weight.fill_(1.0)
    X = np.stack([_binary_features(t, pairs, words, fold) for t, _ in train])
    vocabulary = X.sum(axis=0) > 0
    y = np.array([int(label) for _, label in train])
    rows = np.bincount(y, minlength=CLASSES)
    nb = MultinomialNB(alpha=0.5, class_prior=(rows + 1) / (rows + 1).sum()).fit(X[:, vocabulary], y)
    tokens, lengths, _ = _batch(new)
    with torch.no_grad():
        ours = prior(tokens, lengths).double()
    new_x = np.stack([_binary_features(t, pairs, words, fold) for t, _ in new])[:, vocabulary]
    theirs = torch.from_numpy(nb.predict_joint_log_proba(new_x))
    # The same up to one constant per row (the prior's normaliser): compare the differences between classes.
    torch.testing.assert_close(ours - ours[:, :1], theirs - theirs[:, :1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pairs, words, fold", FEATURES)
def test_leave_one_out_is_the_prior_fitted_without_the_row(pairs: bool, words: bool, fold: bool) -> None:
    train = _rows(30, high=VOCAB - 1) + [ODD_ONE]  # its features, held by no other row, leave the vocabulary with it
    prior = NaiveBayesPrior(VOCAB, CLASSES, pairs=pairs, buckets=BUCKETS, words=words, fold=fold)
    prior.fit(train, pieces=PIECES)
    prior.alpha.fill_(0.7)
    prior.weight.fill_(1.3)
    tokens, lengths, targets = _batch(train)
    with torch.no_grad():
        scored = prior(tokens, lengths) + prior.leave_one_out(tokens, lengths, targets)
    for i in range(len(train)):
        alone = NaiveBayesPrior(VOCAB, CLASSES, pairs=pairs, buckets=BUCKETS, words=words, fold=fold)
        alone.fit(train[:i] + train[i + 1:], pieces=PIECES)
        alone.alpha.fill_(0.7)
        alone.weight.fill_(1.3)
        with torch.no_grad():
            expected = alone(tokens[i:i + 1], lengths[i:i + 1])[0]
        c = int(targets[i])
        # The row's own class as the other rows score it; the other classes as the full counts do (the row is not
        # in them), but for the prior's normaliser, one constant per row.
        shift = scored[i] - expected
        others = [k for k in range(CLASSES) if k != c]
        torch.testing.assert_close(shift[c] - shift[others[0]], torch.tensor(0.0), atol=1e-4, rtol=0)
        torch.testing.assert_close(shift[others], shift[others[0]].expand(len(others)), atol=1e-4, rtol=0)


def test_fit_chooses_alpha_by_leave_one_out_accuracy_and_the_weight_by_its_likelihood() -> None:
    train = _rows(60)
    prior = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS)
    prior.fit(train)
    tokens, lengths, targets = _batch(train)

    def left_out(alpha: float, weight: float) -> torch.Tensor:
        prior.alpha.fill_(alpha)
        prior.weight.fill_(weight)
        with torch.no_grad():
            return prior(tokens, lengths) + prior.leave_one_out(tokens, lengths, targets)

    chosen = prior.chosen
    accuracy = {a: (left_out(a, 1.0).argmax(1) == targets).double().mean().item() for a in ALPHAS}
    assert accuracy[chosen["alpha"]] == max(accuracy.values()) == chosen["leave_one_out_accuracy"]
    assert chosen["alpha"] == next(a for a in ALPHAS if accuracy[a] == max(accuracy.values()))  # the first best
    loss = lambda w: torch.nn.functional.cross_entropy(left_out(chosen["alpha"], w), targets).item()  # noqa: E731
    grid = torch.linspace(0.01, 3.0, 300).tolist()
    assert loss(chosen["weight"]) <= min(loss(w) for w in grid) + 1e-6
    assert all(not p.requires_grad for p in prior.parameters())  # nothing of it is trained
    assert not list(prior.parameters())


def test_sequence_model_adds_the_prior_to_its_logits() -> None:
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=4, embedding_dim=3, pooling="mean", naive_bayes="bigrams",
                          bag_buckets=BUCKETS, num_outputs=CLASSES, vocab_size=VOCAB).eval()
    train = _rows(20)
    model.naive_bayes.fit(train)
    tokens, lengths, _ = _batch(train[:5])
    with torch.no_grad():
        with_prior, _ = model(tokens, lengths)
        saved = model.naive_bayes
        model.naive_bayes = None
        without, _ = model(tokens, lengths)
        model.naive_bayes = saved
        torch.testing.assert_close(with_prior - without, saved(tokens, lengths))
    # The counts travel with the weights.
    rebuilt = SequenceModel(**{k: v for k, v in model.arguments.items()})
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.naive_bayes.fitted and torch.equal(rebuilt.naive_bayes.counts, saved.counts)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_features": 3, "naive_bayes": "bigrams"}, "real-valued"),
    ({"vocab_size": VOCAB, "naive_bayes": "trigrams"}, "naive_bayes must be one of"),
    ({"vocab_size": VOCAB, "naive_bayes": "unigrams", "head": "many_to_many"}, "many_to_one"),
])
def test_refused_where_it_cannot_apply(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequenceModel(cell="gru", hidden_size=4, embedding_dim=3, num_outputs=CLASSES, **kwargs)


def test_refused_for_a_regression_task() -> None:
    from seqtrain.task import SequenceTask

    model = SequenceModel(cell="gru", hidden_size=4, embedding_dim=3, pooling="mean", naive_bayes="unigrams",
                          num_outputs=2, vocab_size=VOCAB)
    with pytest.raises(ValueError, match="task classification"):
        SequenceTask(model, "regression", num_outputs=2)


def test_a_run_counts_training_and_validation_rows_and_scores_both_leaving_each_row_out(tmp_path) -> None:
    """Wiring, end to end in Python: the counts hold the training and validation rows, val/acc is the accuracy of the
    logits with each validation row left out of the counts, test/acc that of the plain logits (test rows were never
    counted)."""
    import functools
    import sys
    from pathlib import Path

    import lightning.pytorch as pl

    from seqtrain.data import TableDataModule
    from seqtrain.task import SequenceTask

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from user_files import sentiment_rows, write_csv

    torch.set_num_threads(1)
    pl.seed_everything(0)
    train = write_csv(tmp_path / "train.csv", sentiment_rows(120, seed=0))
    test = write_csv(tmp_path / "test.csv", sentiment_rows(40, seed=1))
    data = TableDataModule(train_files=str(train), test_files=str(test), sequence_column="text", tokenizer="word",
                           val_fraction=0.25, batch_size=16, seed=0, cache_dir=str(tmp_path / "cache"))
    data.setup("fit")
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=8, pooling="mean", naive_bayes="bigrams",
                          bag_buckets=64, **data.facts.model_kwargs())
    task = SequenceTask(model, task=data.facts.task, num_outputs=data.facts.num_outputs,
                        optimizer=functools.partial(torch.optim.AdamW, lr=3e-3))
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(task, datamodule=data)
    prior = model.naive_bayes
    assert int(prior.rows.sum()) == len(data.split("train")) + len(data.split("val")) == 120
    validated = trainer.validate(task, datamodule=data, verbose=False)[0]["val/acc"]
    tested = trainer.test(task, datamodule=data, verbose=False)[0]["test/acc"]
    model.eval()

    def accuracy(split: str, left_out: bool) -> float:
        right = total = 0
        with torch.no_grad():
            for batch in data.dataloader(split):
                logits, _ = model(batch.inputs, batch.lengths)
                if left_out:
                    logits = logits + prior.leave_one_out(batch.inputs, batch.lengths, batch.targets)
                right += int((logits.argmax(1) == batch.targets).sum())
                total += len(batch.targets)
        return right / total

    assert validated == pytest.approx(accuracy("val", left_out=True))
    assert tested == pytest.approx(accuracy("test", left_out=False))


def test_a_row_without_a_label_is_not_counted_and_not_left_out() -> None:
    """The ignore index (-100) as a label: fitting skips the row, and leaving it out changes nothing."""
    train = _rows(30)
    unlabelled = [(t, torch.tensor(-100)) for t, _ in _rows(5, seed=3)]
    with_them, without = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS), NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS)
    with_them.fit(train + unlabelled)
    without.fit(train)
    assert torch.equal(with_them.counts, without.counts) and torch.equal(with_them.rows, without.rows)
    tokens, lengths, _ = _batch(unlabelled)
    assert not with_them.leave_one_out(tokens, lengths, torch.full((5,), -100)).any()


def test_the_pair_table_is_at_most_2_to_the_22_cells_and_sized_by_the_classes() -> None:
    assert [buckets_for(c) for c in (2, 4, 8, 1024, 10**6)] == [2**20, 2**20, 2**19, 2**12, 2**12]
    prior = NaiveBayesPrior(VOCAB, 8)
    assert prior.counts.shape == (VOCAB + 2**19, 8)
    assert NaiveBayesPrior(VOCAB, 8, pairs=False).counts.shape == (VOCAB, 8)


def test_word_marks_open_a_word_at_a_space_or_punctuation_and_join_pieces_that_end_in_a_letter() -> None:
    opens, joins = word_marks(["<pad>", "\u0120under", "stand", "able", ",", "\u0120good", "'s", "9"])
    assert opens.tolist() == [True, True, False, False, True, True, True, False]
    assert joins.tolist() == [False, True, True, True, False, True, True, True]


def test_word_features_are_the_words_the_pieces_spell_and_their_adjacent_pairs() -> None:
    """Pieces: 1 Ġa, 2 b, 3 ĠA, 4 ',', 5 B, 6 Ġe. The row Ġa b ĠA , B Ġe spells the words ab, A, ',', B (a piece after
    punctuation opens a word) and e: five words, four pairs. A word's id is its pieces', wherever it stands."""
    marks = word_marks(PIECES)

    def words_of(row: list[int], pad: int = 0) -> tuple[list[int], list[int]]:
        tokens = torch.tensor([row + [3] * pad])  # padded with a real id: must count for nothing
        ids, is_word = word_features(tokens, torch.arange(len(row) + pad)[None] < len(row), *marks, 1000)
        n = len(row) + pad
        return ids[0, :n][is_word[0, :n]].tolist(), ids[0, n:][is_word[0, n:]].tolist()

    words, pairs = words_of([1, 2, 3, 4, 5, 6])
    assert len(set(words)) == 5 and len(set(pairs)) == 4
    assert words_of([1, 2, 3, 4, 5, 6], pad=3) == (words, pairs)
    assert words_of([1, 2])[0] == words[:1] and words_of([3])[0] == words[1:2] and words_of([6])[0] == words[4:]
    assert words_of([4, 5])[0] == words[2:4]
    assert words_of([6, 1, 2, 3]) == ([words[4], words[0], words[1]], [words_of([6, 1, 2])[1][0], pairs[0]])
    assert words_of([2, 1])[0] != words_of([1, 2])[0] and len(words_of([2, 1])[0]) == 2  # "b" then "a": not "ab"
    assert words_of([1, 5])[0] != words_of([1, 2])[0]  # "aB" is not "ab" unless folded


def test_folded_words_are_the_hash_of_their_lower_cased_characters_however_the_pieces_cut_them() -> None:
    """"The film", "the Film", "the FILM" and "The Fi|lm" are one word pair, whichever pieces spell them; "films" is
    another word. A word's id is the polynomial hash of its lower-cased characters, computed here by hand."""
    pieces = ["<pad>", "\u0120The", "\u0120the", "\u0120fil", "m", "\u0120Fi", "lm", "\u0120FILM", "!", "\u0120films",
              "\u0120Film"]
    marks, folds = word_marks(pieces), word_folds(pieces)
    buckets = 1 << 20

    def features(row: list[int]) -> tuple[list[int], list[int]]:
        tokens = torch.tensor([row])
        ids, is_word = word_features(tokens, torch.ones_like(tokens, dtype=torch.bool), *marks, buckets, *folds)
        n = len(row)
        return ids[0, :n][is_word[0, :n]].tolist(), ids[0, n:][is_word[0, n:]].tolist()

    def by_hand(word: str) -> int:
        value = 0
        for character in word:
            value = (value * BASE + ord(character)) % PRIME
        return (value * MIX[5] + MIX[0]) % PRIME % buckets

    the_film = features([1, 3, 4])
    assert the_film[0] == [by_hand("the"), by_hand("film")] and len(the_film[1]) == 1
    for row in ([2, 10], [2, 7], [1, 5, 6], [2, 3, 4]):
        assert features(row) == the_film, [pieces[i] for i in row]
    assert features([2, 9])[0] == [by_hand("the"), by_hand("films")] != the_film[0]
    assert features([1, 3, 4, 8])[0] == [by_hand("the"), by_hand("film"), by_hand("!")]
    unfolded = word_features(torch.tensor([[1, 3, 4]]), torch.ones(1, 3, dtype=torch.bool), *marks, buckets)[0]
    assert unfolded[0, :2].tolist() != word_features(torch.tensor([[2, 10]]), torch.ones(1, 2, dtype=torch.bool), *marks,
                                                     buckets)[0][0, :2].tolist()  # without folding, case tells words apart


def test_powers_modulo_the_prime_are_pythons_pow_across_the_tables_digits() -> None:
    exponents = [0, 1, 2, 4095, 4096, 4097, 2**24 - 1, 2**24, 2**24 + 5, 2**35 + 12_345, 2**36 - 1, 10**10]
    for base in (BASE, BASE_INVERSE):
        assert _power(base, torch.tensor(exponents)).tolist() == [pow(base, e, PRIME) for e in exponents]


def test_a_naive_bayes_over_words_saved_before_folding_loads_and_scores_as_it_was_fitted(caplog) -> None:
    """A model saved before words were case-folded (no `codes` buffer) loads into today's folded one, says so, and
    scores its rows exactly as before: unfolded, as it was fitted."""
    train = _rows(30)
    old = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS, words=True)
    old.fit(train, pieces=PIECES)
    new = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS, words=True, fold=True)
    with caplog.at_level("WARNING"):
        new.load_state_dict(old.state_dict())
    assert "saved before its words were case-folded" in caplog.text and not new.fold
    tokens, lengths, _ = _batch(train)
    with torch.no_grad():
        assert torch.equal(new(tokens, lengths), old(tokens, lengths))
    folded = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS, words=True, fold=True)
    folded.fit(train, pieces=PIECES)
    again = NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS, words=True, fold=True)
    again.load_state_dict(folded.state_dict())
    assert again.fold and torch.equal(again.codes, folded.codes)
    with torch.no_grad():
        assert torch.equal(again(tokens, lengths), folded(tokens, lengths))


def test_a_naive_bayes_over_words_needs_pairs_and_the_pieces() -> None:
    with pytest.raises(ValueError, match="words with token pairs"):
        NaiveBayesPrior(VOCAB, CLASSES, pairs=False, words=True)
    with pytest.raises(ValueError, match="case-folds the words it counts"):
        NaiveBayesPrior(VOCAB, CLASSES, fold=True)
    with pytest.raises(ValueError, match="needs the subword tokenizer's 7 pieces, got none"):
        NaiveBayesPrior(VOCAB, CLASSES, buckets=BUCKETS, words=True).fit(_rows(10))
