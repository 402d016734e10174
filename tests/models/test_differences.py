"""`model.differences`: each feature's first difference beside it, held to numpy's `np.diff` on each row alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from seqtrain.models import SequenceModel
from seqtrain.models.differences import first_differences
from seqtrain.run import unused_differences


def _rows(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows of 2 features, 7, 4 and 1 real steps, padded to 7 with NaN (padding that must never be read)."""
    lengths = torch.tensor([7, 4, 1])
    x = torch.full((3, 7, 2), float("nan"))
    for i, n in enumerate(lengths.tolist()):
        x[i, :n] = torch.randn(n, 2, generator=generator)
    return x, lengths


def test_each_step_gets_its_change_from_the_step_before() -> None:
    x, lengths = _rows(torch.Generator().manual_seed(0))
    out = first_differences(x, lengths)
    assert out.shape == (3, 7, 2)
    for i, n in enumerate(lengths.tolist()):
        row = x[i, :n].numpy()  # (n, 2): the row alone
        expected = np.concatenate([np.zeros((1, 2)), np.diff(row, axis=0)])
        np.testing.assert_allclose(out[i, :n].numpy(), expected, rtol=1e-6, atol=1e-6)
        assert not out[i, n:].any()  # padded steps hold zeros, not NaN
    full = x[:1]  # a batch without padding: lengths None means every step is real
    torch.testing.assert_close(first_differences(full, None), first_differences(full, torch.tensor([7])))


def test_second_differences_are_numpys() -> None:
    """`inputs2`: `np.diff(n=2)` on each row alone, from the third step; 0 at the first two and at padded steps."""
    from seqtrain.models.differences import second_differences

    x, lengths = _rows(torch.Generator().manual_seed(3))
    out = second_differences(first_differences(x, lengths), lengths)
    for i, n in enumerate(lengths.tolist()):
        row = x[i, :n].double().numpy()
        expected = np.concatenate([np.zeros((min(n, 2), 2)), np.diff(row, n=2, axis=0)])
        np.testing.assert_allclose(out[i, :n].numpy(), expected, rtol=1e-5, atol=1e-5)
        assert not out[i, n:].any()
    model = SequenceModel(cell="gru", hidden_size=4, embedding_dim=None, num_outputs=2, num_features=2, pooling="max",
                          differences="inputs2")
    assert model.backbone.rnn.input_size == 6  # [x, dx, d2x]
    seen = {}
    model.backbone.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0]))
    with torch.no_grad():
        model.eval()(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(seen["x"][i, :n, 4:], out[i, :n])
        torch.testing.assert_close(seen["x"][i, :n, :2], x[i, :n])


def test_shape_differences_are_those_of_the_standardized_row() -> None:
    """`shape`: after instance_norm, the first differences of each row standardized over its own steps (numpy on the
    row alone), beside what instance_norm gives; `inputs`: before it, so instance_norm standardizes them too."""
    from seqtrain.models.instance_norm import RowStandardizer

    x, lengths = _rows(torch.Generator().manual_seed(2))
    for mode, width in [("shape", 2 * 2), ("shape_values", 3 * 2)]:
        model = SequenceModel(cell="gru", hidden_size=4, embedding_dim=None, num_outputs=2, num_features=2, pooling="max",
                              instance_norm=mode, differences="shape")
        assert model.backbone.rnn.input_size == width
        seen = {}
        model.backbone.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0]))
        with torch.no_grad():
            model.eval()(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            row = x[i, :n].double().numpy()
            shape = (row - row.mean(0)) / np.sqrt(row.var(0) + 1e-12)
            expected = np.concatenate([np.zeros((1, 2)), np.diff(shape, axis=0)])
            np.testing.assert_allclose(seen["x"][i, :n, -2:].numpy(), expected, rtol=1e-5, atol=1e-5)
            normed = RowStandardizer(mode)(x[i : i + 1, :n], None)[0]
            torch.testing.assert_close(seen["x"][i, :n, :-2], normed)
    inputs = SequenceModel(cell="gru", hidden_size=4, embedding_dim=None, num_outputs=2, num_features=2, pooling="max",
                           instance_norm="shape_values", differences="inputs")
    assert inputs.backbone.rnn.input_size == 8  # [shape(x), shape(dx), x, dx]
    with pytest.raises(ValueError, match="differences='shape' takes the first differences of the rows instance_norm"):
        SequenceModel(cell="gru", hidden_size=4, num_outputs=2, num_features=2, differences="shape")


@pytest.mark.parametrize(("differences", "instance_norm", "patch_size", "patch_shift"), [
    ("inputs", None, 1, False), ("inputs", "shape_values", 2, True), ("inputs", "shape", 3, False), ("inputs2", "shape_values", 2, True),
    ("shape", "shape_values", 2, True), ("shape", "shape_level", 1, False)])
def test_a_padded_batch_gives_each_row_what_it_gets_alone(differences: str, instance_norm: str | None, patch_size: int,
                                                          patch_shift: bool) -> None:
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, pooling="max", embedding_dim=6, num_outputs=3, num_features=2,
                          differences=differences, instance_norm=instance_norm, patch_size=patch_size, patch_shift=patch_shift).eval()
    # The input layer reads the values and their differences (with instance_norm's features), k steps a patch.
    per_step = {("inputs", None): 4, ("inputs", "shape"): 4, ("inputs", "shape_values"): 8, ("inputs2", "shape_values"): 12,
                ("shape", "shape_values"): 6,
                ("shape", "shape_level"): 8}[differences, instance_norm]
    assert model.input_layer.in_features == patch_size * per_step
    x, lengths = _rows(torch.Generator().manual_seed(1))
    with torch.no_grad():
        batch, _ = model(x, lengths)
        assert torch.isfinite(batch).all()
        for i, n in enumerate(lengths.tolist()):
            alone, _ = model(x[i : i + 1, :n])
            torch.testing.assert_close(batch[i], alone[0], rtol=1e-5, atol=1e-5)


def test_the_differences_reach_the_prediction() -> None:
    """The input layer's columns for the differences are read: zeroed, the model is its twin without differences (the
    same weights otherwise); as initialised, it is not."""
    torch.manual_seed(0)
    with_diff = SequenceModel(cell="gru", hidden_size=8, pooling="max", embedding_dim=6, num_outputs=2, num_features=1,
                              differences="inputs").eval()
    without = SequenceModel(cell="gru", hidden_size=8, pooling="max", embedding_dim=6, num_outputs=2, num_features=1).eval()
    assert with_diff.input_layer.in_features == 2 and without.input_layer.in_features == 1
    # With the difference weights zeroed the model is the one without them (same backbone and head, copied).
    without.load_state_dict({k: v for k, v in with_diff.state_dict().items() if k != "input_layer.weight"}
                            | {"input_layer.weight": with_diff.input_layer.weight[:, :1]})
    x = torch.randn(4, 9, 1)
    with torch.no_grad():
        assert not torch.allclose(with_diff(x)[0], without(x)[0], atol=1e-4)
        with_diff.input_layer.weight[:, 1:] = 0.0
        torch.testing.assert_close(with_diff(x)[0], without(x)[0])


def test_token_inputs_per_step_heads_and_forecasts_have_none() -> None:
    tokens = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, vocab_size=10, padding_idx=0,
                           differences="inputs")
    per_step = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, num_features=2, per_step_targets=True,
                             differences="inputs")
    forecast = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=1, num_features=2, window=12,
                             target_inputs=[0], differences="inputs")
    assert tokens.differences is None and per_step.differences is None and forecast.differences is None
    assert per_step.input_layer.in_features == 2 and forecast.input_layer.in_features == 2
    cfg = OmegaConf.create({"model": {"differences": True}})
    assert "token ids" in unused_differences(cfg, tokens)
    assert "per step" in unused_differences(cfg, per_step)
    assert "forecast" in unused_differences(cfg, forecast)
    used = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, num_features=2, differences="inputs")
    assert used.differences == "inputs" and unused_differences(cfg, used) is None
    assert unused_differences(OmegaConf.create({"model": {"differences": None}}), tokens) is None
    with pytest.raises(ValueError, match=r"differences must be one of \['inputs', 'inputs2', 'shape'\] or None, got 'yes'"):
        SequenceModel(cell="gru", hidden_size=8, num_outputs=3, num_features=2, differences="yes")
