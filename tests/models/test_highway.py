"""`model.ar_highway`: a linear AR on each target's last k input steps, added to the network's forecast."""

from __future__ import annotations

import pytest
import torch

from seqtrain.models import SequenceModel
from seqtrain.models.highway import AutoregressiveHighway

# Three input features; the outputs forecast features 2 and 0 for two steps ahead (horizon 2: (H * K,) outputs).
TARGET_INPUTS = [2, 0, 2, 0]
WINDOW = 7


def _model(ar_highway: int | str | None = 4, relative_to: str | None = "last", per_step: bool = False,
           window: int | None = WINDOW, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    return SequenceModel(cell="gru", hidden_size=8, embedding_dim=None, num_outputs=len(TARGET_INPUTS), num_features=3,
                         per_step_targets=per_step, target_inputs=TARGET_INPUTS, window=window, relative_to=relative_to,
                         ar_highway=ar_highway).eval()


def _random_highway(model: SequenceModel, zero_network: bool) -> torch.Tensor:
    """Random highway weights (and, if asked, a network whose head outputs zeros); returns the weights (O, k)."""
    with torch.no_grad():
        model.highway.weight.copy_(torch.randn_like(model.highway.weight))
        if zero_network:
            model.output_layer.weight.zero_()
            model.output_layer.bias.zero_()
    return model.highway.weight.detach().clone()


def _by_hand(x: torch.Tensor, weight: torch.Tensor, relative: bool) -> torch.Tensor:
    """sum_j weight[o, j] * (x[b, T - k + j, f_o] - level) + level, one number at a time (level: the last value, or 0)."""
    B, T, _ = x.shape
    O, k = weight.shape
    out = torch.zeros(B, O)
    for b in range(B):
        for o, f in enumerate(TARGET_INPUTS):
            level = float(x[b, T - 1, f]) if relative else 0.0
            total = level
            for j in range(k):
                total += float(weight[o, j]) * (float(x[b, T - k + j, f]) - level)
            out[b, o] = total
    return out


@pytest.mark.parametrize("relative_to", ["last", None])
def test_with_the_network_zeroed_it_is_a_hand_computed_ar_forecast(relative_to: str | None) -> None:
    model = _model(4, relative_to)
    weight = _random_highway(model, zero_network=True)
    x = torch.randn(5, WINDOW, 3) * 3 + 10  # (B, T, F)
    torch.testing.assert_close(model(x)[0], _by_hand(x, weight, relative=relative_to is not None))


def test_zero_weights_are_the_model_without_it() -> None:
    """The highway starts at zero and adds no other weights: the same network gives the same forecast."""
    highway, plain = _model(5), _model(None)
    assert torch.equal(highway.highway.weight, torch.zeros(4, 5))
    state = plain.state_dict()
    highway.load_state_dict({**state, "highway.weight": torch.zeros(4, 5)})  # plain's weights, the highway's zeros
    assert set(highway.state_dict()) - set(state) == {"highway.weight"}  # the only new key: old checkpoints lack only it
    x = torch.randn(3, WINDOW, 3) * 20
    assert torch.equal(highway(x)[0], plain(x)[0])


def test_it_adds_to_the_network_on_the_same_window() -> None:
    """Network and highway together: the network's relative forecast plus the hand-computed highway term."""
    model, plain = _model(3), _model(None)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "highway.weight"})
    weight = _random_highway(model, zero_network=False)
    x = torch.randn(4, WINDOW, 3) + 5
    level = x[:, -1, TARGET_INPUTS]  # (B, O)
    torch.testing.assert_close(model(x)[0], plain(x)[0] + _by_hand(x, weight, relative=True) - level)


def test_padded_rows_read_their_own_last_steps_and_zeros_before_their_first() -> None:
    model = _model(4)
    _random_highway(model, zero_network=True)
    long, short = torch.randn(WINDOW, 3), torch.randn(2, 3)  # the short row has fewer steps than the highway reads
    batch = torch.zeros(2, WINDOW, 3)
    batch[0], batch[1, :2] = long, short
    out = model(batch, torch.tensor([WINDOW, 2]))[0]
    torch.testing.assert_close(out[0], model(long[None])[0][0])
    # Before its first step the short row reads zeros of the relative frame: its level, i.e. two copies of its last step.
    padded = torch.cat([short[-1:].expand(2, 3), short])[None]  # (1, 4, 3)
    highway_only = AutoregressiveHighway(4, TARGET_INPUTS)
    highway_only.weight.data.copy_(model.highway.weight)
    torch.testing.assert_close(out[1], short[-1, TARGET_INPUTS] + highway_only(padded - padded[:, -1:])[0])


def test_auto_is_the_window_for_a_many_to_one_forecast_and_off_otherwise() -> None:
    assert _model("auto").highway.steps == WINDOW
    assert _model("auto", per_step=True).highway is None  # many_to_many: one forecast per step, no window's end
    assert _model("auto", window=None).highway is None  # examples of any length: no window from the data
    plain = SequenceModel(cell="gru", hidden_size=4, num_outputs=2, num_features=3, embedding_dim=None, window=5, ar_highway="auto")
    assert plain.highway is None  # no target_inputs: a forecast of one column from others, or a table


def test_refusals_name_what_is_wrong() -> None:
    args = dict(cell="gru", hidden_size=4, num_outputs=2)
    for bad in (0, -3, 2.5, True, "all"):
        with pytest.raises(ValueError, match=r"ar_highway must be an integer >= 1 .* got"):
            SequenceModel(ar_highway=bad, num_features=3, target_inputs=[0, 1], **args)
    with pytest.raises(ValueError, match="every target must also be a real-valued input.*targets that are not all inputs"):
        SequenceModel(ar_highway=3, num_features=3, embedding_dim=None, **args)
    with pytest.raises(ValueError, match="token inputs"):
        SequenceModel(ar_highway=3, vocab_size=5, **args)
    with pytest.raises(ValueError, match="resolves to 'many_to_many'"):
        SequenceModel(ar_highway=3, num_features=3, target_inputs=[0, 1], per_step_targets=True, **args)
    with pytest.raises(ValueError, match="ar_highway=9 reads the last 9 steps, but the data's windows have 7"):
        SequenceModel(ar_highway=9, num_features=3, target_inputs=[0, 1], window=7, **args)


def test_onnx_export_matches_torch(tmp_path) -> None:
    """Traced at 5 steps (fewer than k = 8), checked at 11 (more): the graph reads the last k steps at any length."""
    from seqtrain.export import check_onnx, export_onnx, streamable

    for relative_to in ("last", None):
        model = _model(8, relative_to, window=None)
        _random_highway(model, zero_network=False)
        path = export_onnx(model, tmp_path / f"highway_{relative_to}.onnx")
        assert check_onnx(path, model) < 1e-5
        assert check_onnx(path, model, steps=3, seed=1) < 1e-5
        assert streamable(model) is False  # a chunk's last k steps are not the sequence's
