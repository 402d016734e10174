"""The fast path (torch.nn and RecurrentBackbone) against the plain-loop ReferenceRNN."""

import pytest
import torch
from torch import nn

from seqtrain.models import RecurrentBackbone, ReferenceRNN

TORCH_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
B, T, I, H = 3, 5, 4, 6


def make_torch_module(cell, nonlinearity, num_layers, bias, bidirectional, dtype):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return TORCH_MODULES[cell](
        I, H, num_layers=num_layers, bias=bias, batch_first=True, bidirectional=bidirectional, **extra
    ).to(dtype)


def random_state(cell, num_layers, bidirectional, dtype):
    shape = ((2 if bidirectional else 1) * num_layers, B, H)
    if cell == "lstm":
        return torch.randn(shape, dtype=dtype), torch.randn(shape, dtype=dtype)
    return torch.randn(shape, dtype=dtype)


def assert_same(actual, expected, atol):
    """Outputs and states, where a state may be a (h, c) tuple."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_same(a, e, atol)
    else:
        assert actual.shape == expected.shape
        torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_fast_path_matches_reference(cell, nonlinearity, num_layers, bidirectional, bias, given_state):
    torch.manual_seed(0)
    dtype = torch.float64
    fast = make_torch_module(cell, nonlinearity, num_layers, bias, bidirectional, dtype)
    reference = ReferenceRNN(cell, I, H, num_layers, nonlinearity, bias, bidirectional).to(dtype)
    reference.load_state_dict(fast.state_dict())  # strict: names and shapes are torch's
    backbone = RecurrentBackbone(cell, I, H, num_layers, nonlinearity, bias, bidirectional=bidirectional).to(dtype)
    backbone.rnn.load_state_dict(fast.state_dict())

    x = torch.randn(B, T, I, dtype=dtype)
    state = random_state(cell, num_layers, bidirectional, dtype) if given_state else None

    expected_output, expected_state = reference(x, state)
    for output, final_state in (fast(x, state), backbone(x, None, state)):
        assert_same(output, expected_output, atol=1e-5)
        assert_same(final_state, expected_state, atol=1e-5)


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_fast_path_matches_reference_in_float32(cell, nonlinearity):
    torch.manual_seed(0)
    fast = make_torch_module(cell, nonlinearity, 2, True, True, torch.float32)
    reference = ReferenceRNN(cell, I, H, 2, nonlinearity, True, True)
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, I)
    output, state = fast(x)
    expected_output, expected_state = reference(x)
    assert_same(output, expected_output, atol=1e-5)
    assert_same(state, expected_state, atol=1e-5)


def test_reference_rejects_unknown_cell():
    with pytest.raises(ValueError, match="cell"):
        ReferenceRNN("transformer", I, H)
