"""`model.relative_to`: the network reads the window shifted by each target's level and its outputs get the level back."""

from __future__ import annotations

import pytest
import torch

from seqtrain.models import SequenceModel

# Three input features; the outputs forecast features 2 and 0 for two steps ahead (horizon 2: (H * K,) outputs).
TARGET_INPUTS = [2, 0, 2, 0]


def _pair(relative_to: str | None = "last", per_step: bool = False, **kw) -> tuple[SequenceModel, SequenceModel]:
    """A relative model and the same weights without the option."""
    torch.manual_seed(0)
    args = dict(cell="gru", hidden_size=8, embedding_dim=None, num_outputs=len(TARGET_INPUTS), num_features=3,
                per_step_targets=per_step, **kw)
    relative = SequenceModel(relative_to=relative_to, target_inputs=TARGET_INPUTS, **args)
    plain = SequenceModel(**args)
    plain.load_state_dict(relative.state_dict())  # the option adds no weights: old checkpoints load as they are
    return relative.eval(), plain.eval()


@pytest.mark.parametrize("relative_to", ["last", "mean"])
def test_output_is_the_network_on_the_shifted_window_plus_the_level(relative_to: str) -> None:
    relative, plain = _pair(relative_to)
    x = torch.randn(5, 7, 3) * 10 + 100  # (B, T, F), far from zero
    level = x[:, -1] if relative_to == "last" else x.mean(1)  # (B, F)
    shifted = x.clone()
    shifted[:, :, [0, 2]] -= level[:, None, [0, 2]]  # the target features only; feature 1 is a covariate, kept
    expected = plain(shifted)[0] + level[:, TARGET_INPUTS]  # (B, 4)
    torch.testing.assert_close(relative(x)[0], expected)


def test_a_network_that_outputs_zeros_is_persistence_exactly() -> None:
    relative, _ = _pair("last")
    with torch.no_grad():
        relative.output_layer.weight.zero_()
        relative.output_layer.bias.zero_()
    x = torch.randn(4, 9, 3) * 50
    assert torch.equal(relative(x)[0], x[:, -1, TARGET_INPUTS])


def test_padded_rows_use_their_own_last_step() -> None:
    """In a padded batch each row's level is its last real step (and its mean over real steps)."""
    for relative_to in ("last", "mean"):
        relative, _ = _pair(relative_to)
        short, long = torch.randn(4, 3), torch.randn(6, 3)
        batch = torch.zeros(2, 6, 3)
        batch[0, :4], batch[1] = short, long
        out = relative(batch, torch.tensor([4, 6]))[0]
        torch.testing.assert_close(out[0], relative(short[None])[0][0])
        torch.testing.assert_close(out[1], relative(long[None])[0][0])


def test_per_step_forecasts_are_relative_to_each_steps_value() -> None:
    """Many-to-many: step t's output is the network on the window shifted by its first step, plus step t's value."""
    relative, plain = _pair("last", per_step=True)
    x = torch.randn(3, 8, 3) + 20
    shifted = x.clone()
    shifted[:, :, [0, 2]] -= x[:, :1, [0, 2]]
    torch.testing.assert_close(relative(x)[0], plain(shifted)[0] + x[:, :, TARGET_INPUTS])


def test_refusals_name_what_is_missing() -> None:
    args = dict(cell="gru", hidden_size=4, num_outputs=2)
    with pytest.raises(ValueError, match="every target must also be a real-valued input.*targets that are not all inputs"):
        SequenceModel(relative_to="last", num_features=3, embedding_dim=None, **args)  # no target_inputs from the data
    with pytest.raises(ValueError, match="token inputs"):
        SequenceModel(relative_to="last", vocab_size=5, **args)
    with pytest.raises(ValueError, match="relative_to='mean' needs one forecast per window"):
        SequenceModel(relative_to="mean", num_features=3, target_inputs=[0, 1], per_step_targets=True, **args)
    with pytest.raises(ValueError, match="relative_to must be one of"):
        SequenceModel(relative_to="first", num_features=3, target_inputs=[0, 1], **args)


def test_onnx_export_matches_torch(tmp_path) -> None:
    from seqtrain.export import check_onnx, export_onnx, streamable

    for per_step in (False, True):
        relative, _ = _pair("last", per_step=per_step)
        path = export_onnx(relative, tmp_path / f"relative{per_step}.onnx")
        assert check_onnx(path, relative) < 1e-5  # at a batch and length other than the traced example's
        assert streamable(relative) is False  # each chunk would be shifted by its own level


def test_auto_is_last_when_each_output_has_its_input_and_off_otherwise() -> None:
    relative, _ = _pair("auto")
    last, _ = _pair("last")
    x = torch.randn(2, 5, 3)
    assert relative.relative is not None and torch.equal(relative(x)[0], last(x)[0])
    plain = SequenceModel(cell="gru", hidden_size=4, num_outputs=2, num_features=3, embedding_dim=None, relative_to="auto")
    assert plain.relative is None  # no target_inputs from the data: a forecast of one column from others, or a table
