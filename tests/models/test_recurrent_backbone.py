"""RecurrentBackbone: shapes, the packed path, and argument checks."""

import pytest
import torch

from seqtrain.models import RecurrentBackbone, ReferenceRNN

I, H = 4, 5


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_shapes_and_last_step_is_top_layer_state(cell, num_layers, bidirectional):
    torch.manual_seed(0)
    B, T = 3, 7
    D = 2 if bidirectional else 1
    backbone = RecurrentBackbone(cell, I, H, num_layers, bidirectional=bidirectional)
    assert backbone.num_directions == D and backbone.output_size == D * H

    output, state = backbone(torch.randn(B, T, I))
    h_n, c_n = state if cell == "lstm" else (state, None)
    assert output.shape == (B, T, D * H)
    assert h_n.shape == (D * num_layers, B, H)
    if cell == "lstm":
        assert c_n.shape == (D * num_layers, B, H)

    # The top layer's forward direction ends at step T-1; its backward direction ends at step 0.
    torch.testing.assert_close(output[:, -1, :H], h_n[-D])
    if bidirectional:
        torch.testing.assert_close(output[:, 0, H:], h_n[-1])


@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_packed_path_matches_each_sequence_run_alone(cell, num_layers, bidirectional, given_state):
    torch.manual_seed(0)
    dtype = torch.float64
    lengths = torch.tensor([3, 6, 1, 4])  # unsorted, one full-length row
    B, T = len(lengths), int(lengths.max())
    D = 2 if bidirectional else 1
    backbone = RecurrentBackbone(cell, I, H, num_layers, bidirectional=bidirectional).to(dtype)
    reference = ReferenceRNN(cell, I, H, num_layers, bidirectional=bidirectional).to(dtype)
    reference.load_state_dict(backbone.rnn.state_dict())

    x = torch.randn(B, T, I, dtype=dtype)
    state = None
    if given_state:
        h0 = torch.randn(D * num_layers, B, H, dtype=dtype)
        state = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    output, final = backbone(x, lengths, state)
    h_n, c_n = final if cell == "lstm" else (final, None)

    for b, length in enumerate(lengths.tolist()):
        row_state = None
        if given_state:
            row_state = tuple(s[:, b : b + 1] for s in state) if cell == "lstm" else state[:, b : b + 1]
        expected_output, expected_final = reference(x[b : b + 1, :length], row_state)
        expected_h, expected_c = expected_final if cell == "lstm" else (expected_final, None)

        torch.testing.assert_close(output[b : b + 1, :length], expected_output, atol=1e-5, rtol=0)
        assert (output[b, length:] == 0).all()
        torch.testing.assert_close(h_n[:, b : b + 1], expected_h, atol=1e-5, rtol=0)
        if cell == "lstm":
            torch.testing.assert_close(c_n[:, b : b + 1], expected_c, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_full_lengths_take_the_unpacked_path_with_the_same_result(cell):
    torch.manual_seed(0)
    backbone = RecurrentBackbone(cell, I, H, 2, bidirectional=True)
    x = torch.randn(3, 6, I)
    output, state = backbone(x, torch.full((3,), 6))
    expected_output, expected_state = backbone.rnn(x)
    torch.testing.assert_close(output, expected_output)
    torch.testing.assert_close(state, expected_state)


def test_padded_batch_shorter_than_its_tensor_keeps_total_length():
    backbone = RecurrentBackbone("gru", I, H)
    output, _ = backbone(torch.randn(2, 8, I), torch.tensor([3, 5]))
    assert output.shape == (2, 8, H)
    assert (output[:, 5:] == 0).all()


@pytest.mark.parametrize(
    "overrides,argument",
    [
        ({"cell": "transformer"}, "cell"),
        ({"input_size": 0}, "input_size"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity"),
        ({"cell": "lstm", "nonlinearity": "relu"}, "nonlinearity"),
        ({"cell": "gru", "nonlinearity": "relu"}, "nonlinearity"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"cell": "gru", "proj_size": 2}, "proj_size"),
        ({"cell": "lstm", "proj_size": H}, "proj_size"),
        ({"cell": "lstm", "proj_size": -1}, "proj_size"),
    ],
)
def test_invalid_arguments_name_themselves(overrides, argument):
    kwargs = {"cell": "rnn", "input_size": I, "hidden_size": H} | overrides
    with pytest.raises(ValueError, match=argument):
        RecurrentBackbone(**kwargs)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_an_lstm_with_a_projection_is_torchs_and_packs_each_row_as_alone(bidirectional: bool) -> None:
    """`proj_size`: torch.nn.LSTM's projected hidden state, h (L*D, B, P) and c (L*D, B, H); padded rows get what they
    get alone, and the state carried in comes back out of the same shapes."""
    torch.manual_seed(0)
    backbone = RecurrentBackbone("lstm", I, H, num_layers=2, bidirectional=bidirectional, proj_size=3)
    D = 2 if bidirectional else 1
    assert backbone.output_size == D * 3
    reference = torch.nn.LSTM(I, H, num_layers=2, bidirectional=bidirectional, proj_size=3, batch_first=True)
    reference.load_state_dict(backbone.rnn.state_dict())
    x, lengths = torch.randn(3, 6, I), torch.tensor([6, 2, 4])
    state = (torch.randn(2 * D, 3, 3), torch.randn(2 * D, 3, H))
    output, (h, c) = backbone(x, lengths, state)
    assert output.shape == (3, 6, D * 3) and h.shape == (2 * D, 3, 3) and c.shape == (2 * D, 3, H)
    for row, n in enumerate(lengths.tolist()):
        alone, (h1, c1) = reference(x[row : row + 1, :n], (state[0][:, row : row + 1], state[1][:, row : row + 1]))
        torch.testing.assert_close(output[row, :n], alone[0])
        assert not output[row, n:].any()
        torch.testing.assert_close(h[:, row], h1[:, 0])
        torch.testing.assert_close(c[:, row], c1[:, 0])


@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "proj_size"),
                         [("rnn", 2, True, 0), ("gru", 1, True, 0), ("gru", 2, False, 0), ("lstm", 2, True, 3), ("lstm", 1, False, 0)])
def test_on_the_cpu_rows_of_many_lengths_get_torchs_packed_outputs_states_and_gradients(
        cell: str, num_layers: int, bidirectional: bool, proj_size: int, given_state: bool) -> None:
    """On the CPU a padded batch runs in segments between its rows' lengths, unpacked (torch's packed CPU path costs
    time in the square of the length): the same outputs, final states and gradients (inputs and every weight) as
    torch's own packed call, with lengths repeated, unsorted, and one row shorter than all the others."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    dtype = torch.float64
    backbone = RecurrentBackbone(cell, I, H, num_layers, bidirectional=bidirectional, proj_size=proj_size).to(dtype)
    lengths = torch.tensor([4, 9, 2, 9, 4, 7, 1])
    B, T = len(lengths), 11  # a tensor longer than its longest row
    D, P = (2 if bidirectional else 1), proj_size or H
    x = torch.randn(B, T, I, dtype=dtype, requires_grad=True)
    state = None
    if given_state:
        h0 = torch.randn(D * num_layers, B, P, dtype=dtype)
        state = (h0, torch.randn(D * num_layers, B, H, dtype=dtype)) if cell == "lstm" else h0
    output, final = backbone(x, lengths, state)
    packed, expected_final = backbone.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False), state)
    expected, _ = pad_packed_sequence(packed, batch_first=True, total_length=T)
    finals = final if cell == "lstm" else (final,)
    expected_finals = expected_final if cell == "lstm" else (expected_final,)
    torch.testing.assert_close(output, expected, atol=1e-12, rtol=0)
    for ours, theirs in zip(finals, expected_finals, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)

    def loss(out: torch.Tensor, states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return (out ** 2).sum() + sum((s ** 3).sum() for s in states)

    wrt = [x, *backbone.parameters()]
    for ours, theirs in zip(torch.autograd.grad(loss(output, finals), wrt), torch.autograd.grad(loss(expected, expected_finals), wrt),
                            strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
