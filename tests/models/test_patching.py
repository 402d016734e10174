"""Input patching (`SequenceModel(patch_size=k)`): k steps in one input, held to a hand reshape and an unpatched model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqtrain.models import SequenceModel
from seqtrain.models.patching import PatchSpectrum, drop_leading, patch_steps
from seqtrain.recipe import auto_patch_size

FEATURES = 2


def hand_patched(row: np.ndarray, k: int) -> np.ndarray:
    """One row's real steps (T, F), zero-filled to a whole number of patches, each patch's steps side by side."""
    steps = math.ceil(len(row) / k) * k
    filled = np.zeros((steps, row.shape[1]))
    filled[: len(row)] = row
    return filled.reshape(steps // k, k * row.shape[1])


def padded_batch(lengths: list[int], junk: float = 1e3) -> torch.Tensor:
    """(B, max(lengths), F) random steps whose padding holds junk, as a careless collate might leave it."""
    T = max(lengths)
    pad = torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]
    return torch.randn(len(lengths), T, FEATURES).masked_fill(pad[..., None], junk)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 12])
def test_patches_are_the_hand_reshaped_rows(k: int) -> None:
    torch.manual_seed(0)
    lengths = [7, 3, 5, 1]
    batch = padded_batch(lengths)
    patched, patched_lengths = patch_steps(batch, torch.tensor(lengths), k)
    assert patched.shape == (4, math.ceil(7 / k), k * FEATURES)
    assert patched_lengths.tolist() == [math.ceil(n / k) for n in lengths]
    for i, n in enumerate(lengths):
        expected = hand_patched(batch[i, :n].numpy(), k)
        np.testing.assert_array_equal(patched[i, : len(expected)].numpy(), expected.astype(np.float32))
        if k > 1:  # k = 1 is the input itself: its padding stays as the backbone ignores it
            assert not patched[i, len(expected):].any()  # whole patches of padding are zeros, not junk


def twins(k: int, **options) -> tuple[SequenceModel, SequenceModel]:
    """A model that patches k steps, and an unpatched one with the same weights that reads k*F features."""
    torch.manual_seed(1)
    patched = SequenceModel(num_features=FEATURES, patch_size=k, num_outputs=3, hidden_size=6, embedding_dim=5, **options).eval()
    plain = SequenceModel(num_features=k * FEATURES, num_outputs=3, hidden_size=6, embedding_dim=5, **options).eval()
    plain.load_state_dict(patched.state_dict())
    return patched, plain


@pytest.mark.parametrize("embedding_dim", [5, None], ids=["projected", "raw"])
@pytest.mark.parametrize(("cell", "bidirectional", "pooling"), [("gru", True, "max"), ("lstm", False, "last"), ("rnn", True, "mean")])
def test_a_patched_model_is_an_unpatched_model_fed_the_hand_patched_rows(cell: str, bidirectional: bool, pooling: str,
                                                                         embedding_dim: int | None) -> None:
    k, lengths = 4, [9, 4, 6, 1]
    patched, plain = twins(k, cell=cell, bidirectional=bidirectional, pooling=pooling)
    if embedding_dim is None:
        patched, plain = (SequenceModel(cell=cell, num_features=f, patch_size=p, embedding_dim=None, num_outputs=3, hidden_size=6,
                                        bidirectional=bidirectional, pooling=pooling).eval() for f, p in [(FEATURES, k), (k * FEATURES, 1)])
        plain.load_state_dict(patched.state_dict())
    torch.manual_seed(2)
    batch = padded_batch(lengths)
    rows = [torch.tensor(hand_patched(batch[i, :n].numpy(), k), dtype=torch.float32) for i, n in enumerate(lengths)]
    by_hand = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    with torch.no_grad():
        got, _ = patched(batch, torch.tensor(lengths))
        expected, _ = plain(by_hand, torch.tensor([len(r) for r in rows]))
        alone, _ = patched(batch[1:2, :4])  # a row alone, no lengths: what prediction and export feed
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(got[1:2], alone, atol=1e-5, rtol=0)


def test_the_model_records_its_patch_size_and_sizes_its_input_layer() -> None:
    model = SequenceModel(cell="gru", num_features=3, patch_size=8, num_outputs=2)
    assert model.arguments["patch_size"] == 8 and model.patch_size == 8
    assert model.input_layer.in_features == 24  # k*F


@pytest.mark.parametrize(("options", "words"), [
    ({"vocab_size": 10, "padding_idx": 0}, ["patch_size=3", "token inputs", "set patch_size=1"]),
    ({"num_features": 2, "per_step_targets": True}, ["patch_size=3", "one target per sequence", "many_to_many"]),
    ({"num_features": 2, "head": "many_to_many"}, ["patch_size=3", "many_to_one head"]),
])
def test_the_model_refuses_what_it_cannot_patch(options: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as refused:
        SequenceModel(cell="gru", num_outputs=2, patch_size=3, **options)
    assert all(w in str(refused.value) for w in words), str(refused.value)


@pytest.mark.parametrize("value", [0, -2, "auto", 2.0, True])
def test_the_model_takes_a_whole_patch_size_only(value: object) -> None:
    with pytest.raises(ValueError, match=r"patch_size must be an integer >= 1"):
        SequenceModel(cell="gru", num_outputs=2, num_features=2, patch_size=value)


# -- random patch phase (patch_shift) -------------------------------------------------------------


def shift_twins(k: int, **options) -> tuple[SequenceModel, SequenceModel]:
    """A shifting model that patches k steps, and the unpatched twin (k*F features, same weights) that checks it."""
    patched, plain = twins(k, **options)
    shifting = SequenceModel(num_features=FEATURES, patch_size=k, patch_shift=True, num_outputs=3, hidden_size=6, embedding_dim=5,
                             **options).eval()
    shifting.load_state_dict(patched.state_dict())
    return shifting, plain


def by_phase(plain: SequenceModel, row: torch.Tensor, k: int, phase: int) -> torch.Tensor:
    """The unpatched twin on one row (n, F) without its first `phase` steps (one step at least stays), hand-patched."""
    kept = row[min(phase, len(row) - 1):]
    patched = torch.tensor(hand_patched(kept.numpy(), k), dtype=torch.float32)[None]
    with torch.no_grad():
        return plain(patched)[0][0]  # (num_outputs,)


@pytest.mark.parametrize(("cell", "bidirectional", "pooling"), [("gru", True, "max"), ("lstm", False, "last"), ("rnn", True, "mean")])
def test_a_shifting_model_evaluates_the_mean_of_its_k_phases(cell: str, bidirectional: bool, pooling: str) -> None:
    """Eval: each row's output is the mean of the head's outputs over the k patchings that start 0..k-1 steps in,
    computed here one row and one phase at a time by the unpatched twin on hand-patched slices. Rows shorter than
    k keep their last step; the padded batch holds junk that must not leak in."""
    k, lengths = 4, [11, 6, 2, 1]
    shifting, plain = shift_twins(k, cell=cell, bidirectional=bidirectional, pooling=pooling)
    torch.manual_seed(3)
    batch = padded_batch(lengths)
    with torch.no_grad():
        got, _ = shifting(batch, torch.tensor(lengths))
        again, _ = shifting(batch, torch.tensor(lengths))
        alone = [shifting(batch[i:i + 1, :n])[0] for i, n in enumerate(lengths)]  # no lengths: as predict and export feed
    expected = torch.stack([torch.stack([by_phase(plain, batch[i, :n], k, r) for r in range(k)]).mean(0)
                            for i, n in enumerate(lengths)])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert torch.equal(got, again)  # deterministic in eval
    torch.testing.assert_close(torch.cat(alone), got, atol=1e-5, rtol=0)  # a padded batch is its rows alone


def test_a_shifting_model_trains_on_one_phase_per_row_drawn_from_torch_seed() -> None:
    """Train: row b loses `randint(0, k)` leading steps, drawn from torch's global generator (one draw of B on the
    CPU), so the seed alone decides the phases: Python's and NumPy's generators do not, and the same seed repeats."""
    import random

    k, lengths = 5, [13, 9, 7, 3, 12, 10]
    shifting, plain = shift_twins(k, cell="gru", bidirectional=True, pooling="max")
    shifting.train()
    batch = padded_batch(lengths)
    outputs = []
    for seed, other in [(7, 0), (7, 1), (8, 0)]:
        random.seed(other)
        np.random.seed(other)
        torch.manual_seed(seed)
        with torch.no_grad():
            outputs.append(shifting(batch, torch.tensor(lengths))[0])
    torch.manual_seed(7)
    drops = torch.randint(0, k, (len(lengths),)).tolist()
    assert len(set(drops)) > 1  # the rows did get different phases
    expected = torch.stack([by_phase(plain, batch[i, :n], k, r) for i, (n, r) in enumerate(zip(lengths, drops))])
    torch.testing.assert_close(outputs[0], expected, atol=1e-5, rtol=0)
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])  # another seed, other phases


def test_drop_leading_keeps_a_step_and_moves_the_rest_to_the_front() -> None:
    batch = torch.arange(2 * 6 * 1, dtype=torch.float32).reshape(2, 6, 1)
    moved, lengths = drop_leading(batch, torch.tensor([6, 3]), torch.tensor([2, 5]))
    assert lengths.tolist() == [4, 1]  # row 1 has 3 steps: 2 go, 1 stays
    assert moved[0, :4, 0].tolist() == [2, 3, 4, 5] and moved[1, :1, 0].tolist() == [8]


@pytest.mark.parametrize("training", [True, False])
def test_patch_shift_with_patch_size_1_changes_nothing(training: bool) -> None:
    """One phase: the same outputs as without the option, and no draw from the global generator."""
    torch.manual_seed(4)
    plain = SequenceModel(cell="gru", num_features=FEATURES, num_outputs=3, hidden_size=6, pooling="max", bidirectional=True)
    shifting = SequenceModel(cell="gru", num_features=FEATURES, num_outputs=3, hidden_size=6, pooling="max", bidirectional=True,
                             patch_shift=True)
    shifting.load_state_dict(plain.state_dict())
    plain.train(training), shifting.train(training)
    batch, lengths = padded_batch([5, 3]), torch.tensor([5, 3])
    before = torch.get_rng_state()
    got = shifting(batch, lengths)[0]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(got, plain(batch, lengths)[0])


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_model_takes_a_bool_patch_shift_only(value: object) -> None:
    with pytest.raises(ValueError, match=r"patch_shift must be true or false"):
        SequenceModel(cell="gru", num_outputs=2, num_features=2, patch_size=2, patch_shift=value)


class Facts:
    """The DataFacts fields the rule reads."""

    def __init__(self, vocab_size: int | None = None, per_step: bool = False, task: str = "classification") -> None:
        self.vocab_size, self.per_step, self.task, self.num_features = vocab_size, per_step, task, None if vocab_size else 1


@pytest.mark.parametrize(("lengths", "steps", "k"), [
    ([251] * 36, 32, 8),            # ArrowHead: 251 -> 32 patched steps
    ([251] * 36, 48, 6),            # -> 42
    ([427] * 200, 32, 14),          # OSULeaf: 427 -> 31
    ([7, 15, 20, 29], 32, 1),       # JapaneseVowels-like: short, left alone
    ([32] * 5, 32, 1),              # exactly the target: left alone
    ([33] * 5, 32, 2),
    ([29, 100, 361, 200, 150], 32, 5),  # varying lengths: the median (150) decides
])
def test_auto_makes_the_median_sequence_at_most_patch_steps_long(lengths: list[int], steps: int, k: int) -> None:
    chosen, why = auto_patch_size(Facts(), lengths, steps)
    assert chosen == k
    median = sorted(lengths)[len(lengths) // 2]
    assert math.ceil(median / k) <= steps and (k == 1 or math.ceil(median / (k - 1)) > steps)  # the smallest such k
    assert f"median training length {median}" in why and f"recipe.patch_steps={steps}" in why
    assert why.endswith("not patched" if k == 1 else f"{math.ceil(median / k)} patched steps of {k} x 1 feature(s)")


@pytest.mark.parametrize(("facts", "words"), [
    (Facts(vocab_size=30), "token inputs are not patched"),
    (Facts(per_step=True, task="tagging"), "tagging with a target per step is not patched"),
])
def test_auto_leaves_tokens_and_per_step_targets_unpatched(facts: Facts, words: str) -> None:
    assert auto_patch_size(facts, [1000] * 10, 32) == (1, words)


# -- Gaussian input jitter (input_noise) -------------------------------------------------------------


@pytest.mark.parametrize("patch_size", [1, 3])
def test_input_noise_adds_seeded_gaussian_noise_in_training_only(patch_size: int) -> None:
    """Training: the model reads inputs + sigma * randn(B, T, F) drawn from torch's global generator (so the seed
    decides it); evaluation reads the inputs as they are. Held to a twin without noise fed the noisy inputs by hand."""
    torch.manual_seed(5)
    options = {"cell": "gru", "num_features": FEATURES, "num_outputs": 3, "hidden_size": 6, "pooling": "max", "patch_size": patch_size}
    noisy, plain = SequenceModel(**options, input_noise=0.3), SequenceModel(**options)
    plain.load_state_dict(noisy.state_dict())
    plain.eval()
    batch, lengths = padded_batch([7, 4, 6]), torch.tensor([7, 4, 6])
    torch.manual_seed(9)
    got = noisy.train()(batch, lengths)[0]
    torch.manual_seed(9)
    by_hand = batch + 0.3 * torch.randn(batch.shape)
    with torch.no_grad():
        torch.testing.assert_close(got, plain(by_hand, lengths)[0], atol=1e-6, rtol=0)
        assert not torch.allclose(got, plain(batch, lengths)[0], atol=1e-3)
        torch.testing.assert_close(noisy.eval()(batch, lengths)[0], plain(batch, lengths)[0], atol=0, rtol=0)


def test_input_noise_leaves_token_inputs_alone() -> None:
    model = SequenceModel(cell="gru", vocab_size=9, padding_idx=0, num_outputs=2, input_noise=0.5)
    assert model.input_noise == 0.0 and model.arguments["input_noise"] == 0.5  # recorded as given, not applied


@pytest.mark.parametrize("value", [-0.1, True, "0.1"])
def test_the_model_takes_a_non_negative_input_noise_only(value: object) -> None:
    with pytest.raises(ValueError, match=r"input_noise must be a standard deviation >= 0"):
        SequenceModel(cell="gru", num_outputs=2, num_features=2, input_noise=value)


# -- each patch's magnitude spectrum (patch_spectrum) ----------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4, 7, 12])
def test_the_patch_spectrum_is_torch_fft_magnitude_beside_the_values(k: int) -> None:
    """Held to torch.fft.rfft: per feature, |DFT| over the patch's k steps with orthonormal scaling."""
    torch.manual_seed(5)
    batch = torch.randn(3, 11, FEATURES)
    patched, _ = patch_steps(batch, None, k)  # (B, P, k*F)
    got = PatchSpectrum(k, FEATURES)(patched)
    B, P, _ = patched.shape
    expected = torch.fft.rfft(patched.reshape(B, P, k, FEATURES).double(), dim=2, norm="ortho").abs()  # (B, P, n, F)
    assert got.shape == (B, P, k * FEATURES + (k // 2 + 1) * FEATURES) == (B, P, PatchSpectrum.features(k, FEATURES) + k * FEATURES)
    torch.testing.assert_close(got[..., : k * FEATURES], patched, atol=0, rtol=0)  # the values, unchanged, first
    torch.testing.assert_close(got[..., k * FEATURES:].double(), expected.reshape(B, P, -1), atol=1e-5, rtol=0)


def test_the_patch_spectrum_is_the_same_for_every_circular_shift_of_a_patch() -> None:
    torch.manual_seed(6)
    k = 8
    patch = torch.randn(1, 1, k, FEATURES)
    spectrum = PatchSpectrum(k, FEATURES)
    first = spectrum(patch.reshape(1, 1, -1))[..., k * FEATURES:]
    for shift in range(1, k):
        rolled = spectrum(torch.roll(patch, shift, dims=2).reshape(1, 1, -1))[..., k * FEATURES:]
        torch.testing.assert_close(rolled, first, atol=1e-5, rtol=0)


def test_a_model_with_patch_spectrum_reads_the_spectrum_and_saves_no_more_than_its_input_layer() -> None:
    """The input layer takes k*F + (k//2+1)*F features; the fixed transform is rebuilt, not saved; and the model's output
    is an unpatched model's fed the hand-made spectrum frames."""
    k, lengths = 4, [9, 4, 6, 1]
    torch.manual_seed(7)
    model = SequenceModel(cell="gru", num_features=FEATURES, patch_size=k, patch_spectrum=True, num_outputs=3, hidden_size=6,
                          embedding_dim=5, bidirectional=True, pooling="max").eval()
    assert model.input_layer.in_features == k * FEATURES + (k // 2 + 1) * FEATURES
    plain_keys = SequenceModel(cell="gru", num_features=FEATURES, patch_size=k, num_outputs=3, hidden_size=6, embedding_dim=5,
                               bidirectional=True, pooling="max").state_dict().keys()
    assert model.state_dict().keys() == plain_keys
    frames = SequenceModel(cell="gru", num_features=k * FEATURES + (k // 2 + 1) * FEATURES, num_outputs=3, hidden_size=6,
                           embedding_dim=5, bidirectional=True, pooling="max").eval()
    frames.load_state_dict(model.state_dict())
    batch = padded_batch(lengths)
    rows = []
    for i, n in enumerate(lengths):
        steps = torch.tensor(hand_patched(batch[i, :n].numpy(), k))  # (P, k*F)
        magnitude = torch.fft.rfft(steps.reshape(len(steps), k, FEATURES), dim=1, norm="ortho").abs().reshape(len(steps), -1)
        rows.append(torch.cat([steps, magnitude], dim=-1).float())
    by_hand = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    with torch.no_grad():
        got, _ = model(batch, torch.tensor(lengths))
        expected, _ = frames(by_hand, torch.tensor([len(r) for r in rows]))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("training", [True, False])
def test_patch_spectrum_with_patch_size_1_changes_nothing(training: bool) -> None:
    torch.manual_seed(8)
    plain = SequenceModel(cell="gru", num_features=FEATURES, num_outputs=3, hidden_size=6, pooling="max")
    spectral = SequenceModel(cell="gru", num_features=FEATURES, num_outputs=3, hidden_size=6, pooling="max", patch_spectrum=True)
    spectral.load_state_dict(plain.state_dict())
    plain.train(training), spectral.train(training)
    batch, lengths = padded_batch([5, 3]), torch.tensor([5, 3])
    assert spectral.spectrum is None and torch.equal(spectral(batch, lengths)[0], plain(batch, lengths)[0])


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_model_takes_a_bool_patch_spectrum_only(value: object) -> None:
    with pytest.raises(ValueError, match=r"patch_spectrum must be true or false"):
        SequenceModel(cell="gru", num_outputs=2, num_features=2, patch_size=2, patch_spectrum=value)
