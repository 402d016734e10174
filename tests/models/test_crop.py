"""Window slicing (`SequenceModel(crop=c)`): training reads a random slice of c of each row's steps, evaluation whole
rows; held to the same model without the option, fed each slice by hand."""

from __future__ import annotations

import math

import pytest
import torch

from seqtrain.models import SequenceModel

FEATURES = 2


def twins(crop: float, **options) -> tuple[SequenceModel, SequenceModel]:
    """A cropping model and the same weights without cropping."""
    torch.manual_seed(0)
    options = {"cell": "gru", "num_outputs": 3, "hidden_size": 6, "pooling": "max", "bidirectional": True, **options}
    cropping = SequenceModel(crop=crop, **options)
    plain = SequenceModel(**options)
    plain.load_state_dict(cropping.state_dict())
    return cropping, plain


def padded(lengths: list[int]) -> torch.Tensor:
    """(B, max(lengths), F) random steps; the padding holds junk that must not leak in."""
    pad = torch.arange(max(lengths))[None, :] >= torch.tensor(lengths)[:, None]
    return torch.randn(len(lengths), max(lengths), FEATURES).masked_fill(pad[..., None], 1e3)


@pytest.mark.parametrize(("crop", "patch_size"), [(0.5, 1), (0.75, 3), (0.9, 1)])
def test_training_reads_one_random_slice_per_row_drawn_from_torchs_seed(crop: float, patch_size: int) -> None:
    lengths = [12, 19, 4, 1, 27]
    cropping, plain = twins(crop, num_features=FEATURES, patch_size=patch_size, patch_shift=patch_size > 1)
    cropping.train(), plain.eval()
    batch = padded(lengths)
    torch.manual_seed(5)
    with torch.no_grad():
        got = cropping(batch, torch.tensor(lengths))[0]
    torch.manual_seed(5)
    draws = torch.rand(len(lengths)).tolist()
    expected = []
    for row, n, u in zip(batch, lengths, draws):
        keep = max(1, math.ceil(crop * n))
        start = int(u * (n - keep + 1))
        with torch.no_grad():  # the slice alone, through the model without cropping (one patch phase: the slice's own)
            expected.append(SequenceModel.forward(plain, row[None, start:start + keep])[0][0] if patch_size == 1
                            else plain._forward(row[None, start:start + keep], None, None)[0][0])
    torch.testing.assert_close(got, torch.stack(expected), atol=1e-5, rtol=0)
    with torch.no_grad():
        others = [(torch.manual_seed(seed), cropping(batch, torch.tensor(lengths))[0])[1] for seed in (6, 7, 8)]
    assert any(not torch.equal(other, got) for other in others)  # other draws, other slices


def test_evaluation_reads_whole_rows() -> None:
    cropping, plain = twins(0.5, num_features=FEATURES)
    cropping.eval(), plain.eval()
    batch, lengths = padded([8, 5]), torch.tensor([8, 5])
    before = torch.get_rng_state()
    with torch.no_grad():
        assert torch.equal(cropping(batch, lengths)[0], plain(batch, lengths)[0])
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("options", [{"vocab_size": 7}, {"num_features": FEATURES, "pooling": None, "per_step_targets": True},
                                     {"num_features": FEATURES, "window": 8}])
def test_tokens_per_step_heads_and_forecast_windows_are_not_cropped(options: dict) -> None:
    """Token ids, a target per step (the steps are the targets) and a forecast window (its target follows the last
    step) keep every step in training too."""
    cropping, plain = twins(0.5, **options)
    cropping.train(), plain.train()
    batch = torch.randint(0, 7, (2, 6)) if "vocab_size" in options else padded([6, 6])
    assert cropping.crop == 1.0
    torch.manual_seed(1)
    got = cropping(batch)[0]
    torch.manual_seed(1)
    assert torch.equal(got, plain(batch)[0])


@pytest.mark.parametrize("value", [0, 0.0, -0.5, 1.5, True, "half"])
def test_crop_is_a_fraction_in_0_1(value: object) -> None:
    with pytest.raises(ValueError, match=r"crop must be a fraction of each row's steps in \(0, 1\]"):
        SequenceModel(cell="gru", num_outputs=2, num_features=2, crop=value)


@pytest.mark.parametrize(("options", "why"), [({"vocab_size": 7}, "token ids"), ({"num_features": 1, "window": 8}, "window's last step"),
                                              ({"num_features": 1, "pooling": None, "per_step_targets": True}, "per step"),
                                              ({"num_features": 1}, None)])
def test_a_crop_the_model_cannot_use_is_said_unused(options: dict, why: str | None) -> None:
    from omegaconf import OmegaConf

    from seqtrain.run import unused_crop

    model, _ = twins(0.8, **options)
    line = unused_crop(OmegaConf.create({"model": {"crop": 0.8}}), model)
    assert (line is None) == (why is None)
    if why is not None:
        assert line.startswith("model.crop=0.8: not used") and why in line
    assert unused_crop(OmegaConf.create({"model": {"crop": 1.0}}), model) is None
