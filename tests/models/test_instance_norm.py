"""`model.instance_norm`: each real-valued row standardized over its own steps, held to numpy on each row alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqtrain.models import SequenceModel
from seqtrain.models.instance_norm import RowStandardizer


def _rows(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows of 2 features, zero-padded to 7 steps, with levels and amplitudes 1e-3 to 1e3 apart."""
    lengths = torch.tensor([7, 4, 1])
    x = torch.zeros(3, 7, 2)
    for i, (n, scale, level) in enumerate(zip(lengths.tolist(), [1e3, 1e-3, 5.0], [-50.0, 2.0, 0.3])):
        x[i, :n] = level + scale * torch.randn(n, 2, generator=generator)
    return x, lengths


@pytest.mark.parametrize("mode", ["shape", "shape_level", "shape_values"])
def test_each_row_is_standardized_over_its_own_real_steps(mode: str) -> None:
    x, lengths = _rows(torch.Generator().manual_seed(0))
    out = RowStandardizer(mode)(x, lengths)
    assert out.shape == (3, 7, {"shape": 2, "shape_level": 6, "shape_values": 4}[mode])
    for i, n in enumerate(lengths.tolist()):
        row = x[i, :n].double().numpy()  # (n, 2): the row alone, no padding
        mean, std = row.mean(0), np.sqrt(row.var(0) + 1e-12)
        expected = (row - mean) / std
        if mode == "shape_level":
            expected = np.concatenate([expected, np.broadcast_to(np.concatenate([mean, np.log(std)]), (n, 4))], axis=1)
        if mode == "shape_values":
            expected = np.concatenate([expected, row], axis=1)
        np.testing.assert_allclose(out[i, :n].numpy(), expected, rtol=1e-5, atol=1e-5)
        assert not out[i, n:].any()  # padded steps stay zero
    # The quiet row (amplitude 1e-3 beside 1e3) keeps its shape: unit spread, not flattened by the epsilon.
    assert abs(float(out[1, :4, :2].std(dim=0, unbiased=False).mean()) - 1.0) < 1e-4
    # Without lengths every step is real: the same as lengths of the full width.
    full = torch.full((3,), 7)
    assert torch.equal(RowStandardizer(mode)(x, None), RowStandardizer(mode)(x, full))


@pytest.mark.parametrize("mode", ["shape", "shape_level", "shape_values"])
def test_a_padded_batch_gives_each_row_what_it_gets_alone(mode: str) -> None:
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, pooling="max", embedding_dim=6, num_outputs=3, num_features=2,
                          patch_size=2, instance_norm=mode).eval()
    x, lengths = _rows(torch.Generator().manual_seed(1))
    with torch.no_grad():
        batch, _ = model(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, _ = model(x[i : i + 1, :n])
            torch.testing.assert_close(batch[i], alone[0], rtol=1e-5, atol=1e-5)
    # A row's level and scale change only the level features: with `shape` the prediction ignores them.
    with torch.no_grad():
        moved, _ = model(x * 7.0 + 3.0, lengths)
    if mode == "shape":
        torch.testing.assert_close(moved, batch, rtol=1e-4, atol=1e-4)
    else:
        assert not torch.allclose(moved, batch, atol=1e-3)


def test_token_inputs_and_per_step_heads_have_none() -> None:
    tokens = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, vocab_size=10, padding_idx=0,
                           instance_norm="shape")
    per_step = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, num_features=2, per_step_targets=True,
                             instance_norm="shape")
    assert tokens.instance_norm is None and per_step.instance_norm is None
    from omegaconf import OmegaConf

    from seqtrain.run import unused_instance_norm

    cfg = OmegaConf.create({"model": {"instance_norm": "shape"}})
    assert "token ids" in unused_instance_norm(cfg, tokens)
    assert "per step" in unused_instance_norm(cfg, per_step)
    used = SequenceModel(cell="gru", hidden_size=8, embedding_dim=6, num_outputs=3, num_features=2, instance_norm="shape")
    assert unused_instance_norm(cfg, used) is None


def test_refusals() -> None:
    with pytest.raises(ValueError, match="instance_norm must be one of"):
        SequenceModel(cell="gru", hidden_size=8, num_outputs=3, num_features=2, instance_norm="zscore")
    with pytest.raises(ValueError, match="both re-level"):
        SequenceModel(cell="gru", hidden_size=8, num_outputs=1, num_features=2, target_inputs=[0], relative_to="last",
                      instance_norm="shape")
