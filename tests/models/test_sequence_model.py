"""SequenceModel: padding invariance, heads, weight tying, carried state, argument checks."""

import pytest
import torch

from seqtrain.models import SequenceModel

VOCAB, FEATURES, PAD = 11, 3, 0


def make_model(cell, input_kind, **kwargs):
    data = {"vocab_size": VOCAB, "padding_idx": PAD} if input_kind == "tokens" else {"num_features": FEATURES}
    defaults = {"hidden_size": 6, "num_layers": 2, "embedding_dim": 5, "num_outputs": 4}
    return SequenceModel(cell=cell, **(defaults | data | kwargs)).eval()


def make_inputs(input_kind, lengths, T):
    """A padded batch whose padding holds junk (features) or the padding id (tokens)."""
    B = len(lengths)
    pad = torch.arange(T)[None, :] >= torch.as_tensor(lengths)[:, None]  # (B, T)
    if input_kind == "tokens":
        return torch.randint(1, VOCAB, (B, T)).masked_fill(pad, PAD)
    return torch.randn(B, T, FEATURES).masked_fill(pad[..., None], 1e3)


INPUT_KINDS = ["tokens", "features"]


@pytest.mark.parametrize("input_kind", INPUT_KINDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_many_to_one_prediction_is_the_same_alone_and_in_a_padded_batch(cell, pooling, bidirectional, input_kind):
    torch.manual_seed(0)
    model = make_model(cell, input_kind, pooling=pooling, bidirectional=bidirectional)
    lengths = torch.tensor([7, 3, 5])
    batch = make_inputs(input_kind, lengths, T=7)
    with torch.no_grad():
        in_batch, _ = model(batch, lengths)
        alone, _ = model(batch[1:2, :3], torch.tensor([3]))
    assert in_batch.shape == (3, 4)
    torch.testing.assert_close(in_batch[1:2], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("input_kind", INPUT_KINDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_many_to_many_real_steps_are_the_same_alone_and_in_a_padded_batch(cell, bidirectional, input_kind):
    torch.manual_seed(0)
    model = make_model(cell, input_kind, per_step_targets=True, bidirectional=bidirectional)
    assert model.head_kind == "many_to_many"
    lengths = torch.tensor([7, 3, 5])
    batch = make_inputs(input_kind, lengths, T=7)
    with torch.no_grad():
        in_batch, _ = model(batch, lengths)
        alone, _ = model(batch[1:2, :3])  # lengths=None: every step is real
    assert in_batch.shape == (3, 7, 4)
    torch.testing.assert_close(in_batch[1:2, :3], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("per_step_targets,expected", [(False, "many_to_one"), (True, "many_to_many")])
def test_auto_head_follows_the_targets(per_step_targets, expected):
    model = make_model("gru", "tokens", per_step_targets=per_step_targets)
    assert model.head_kind == expected
    assert (model.pool is None) == (expected == "many_to_many")


def test_explicit_head_overrides_the_targets():
    model = make_model("gru", "tokens", head="many_to_one", per_step_targets=True)
    assert model.head_kind == "many_to_one"


def test_features_without_embedding_dim_go_straight_into_the_rnn():
    model = make_model("lstm", "features", embedding_dim=None)
    assert isinstance(model.input_layer, torch.nn.Identity)
    assert model.backbone.rnn.input_size == FEATURES
    predictions, (h_n, c_n) = model(torch.randn(2, 4, FEATURES))
    assert predictions.shape == (2, 4)
    assert h_n.shape == c_n.shape == (2, 2, 6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carried_state_continues_the_sequence(cell):
    """Two chunks with the state handed across give what one pass over the whole sequence gives."""
    torch.manual_seed(0)
    model = make_model(cell, "tokens", per_step_targets=True)
    x = torch.randint(1, VOCAB, (2, 9))
    with torch.no_grad():
        whole, whole_state = model(x)
        first, state = model(x[:, :4])
        second, chunked_state = model(x[:, 4:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    torch.testing.assert_close(chunked_state, whole_state)


def test_tie_weights_shares_the_embedding_parameter():
    model = SequenceModel(
        cell="lstm", hidden_size=8, embedding_dim=8, tie_weights=True,
        num_outputs=VOCAB, per_step_targets=True, vocab_size=VOCAB, padding_idx=PAD,
    )
    assert model.output_layer.weight is model.input_layer.weight
    assert sum(p is model.input_layer.weight for p in model.parameters()) == 1  # counted once
    predictions, _ = model(torch.randint(0, VOCAB, (2, 5)))
    assert predictions.shape == (2, 5, VOCAB)


def test_embedding_dropout_is_nn_dropout_on_the_embedded_tokens_while_training():
    """Truth: torch's own embedding, F.dropout with the same generator state, GRU and max pooling written out."""
    torch.manual_seed(0)
    model = make_model("gru", "tokens", num_layers=1, pooling="max", embedding_dropout=0.4).train()
    lengths = torch.tensor([6, 6])  # no padding: the max is over every step
    tokens = make_inputs("tokens", lengths, T=6)
    torch.manual_seed(1)
    got, _ = model(tokens, lengths)
    torch.manual_seed(1)
    dropped = torch.nn.functional.dropout(model.input_layer(tokens), p=0.4, training=True)  # (B, T, E)
    output, _ = model.backbone.rnn(dropped)  # (B, T, H)
    expected = model.output_layer(output.amax(dim=1))
    torch.testing.assert_close(got, expected)
    # Something was dropped: without dropout the prediction differs; in eval mode nothing is dropped.
    undropped, _ = model.backbone.rnn(model.input_layer(tokens))
    assert not torch.allclose(got, model.output_layer(undropped.amax(dim=1)))
    model.eval()
    with torch.no_grad():
        evaluated, _ = model(tokens, lengths)
        torch.testing.assert_close(evaluated, model.output_layer(undropped.amax(dim=1)))


def test_embedding_dropout_leaves_real_valued_inputs_as_they_were():
    """Numbers have no embedding to drop from: same parameters, same training-mode output and random stream as without."""
    torch.manual_seed(0)
    plain = make_model("gru", "features", pooling="max").train()
    torch.manual_seed(0)
    with_rate = make_model("gru", "features", pooling="max", embedding_dropout=0.5).train()
    assert with_rate.embedding_dropout is None
    inputs, lengths = make_inputs("features", [5, 3], T=5), torch.tensor([5, 3])
    torch.manual_seed(2)
    a, _ = plain(inputs, lengths)
    after_plain = torch.rand(1)
    torch.manual_seed(2)
    b, _ = with_rate(inputs, lengths)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.rand(1).item() == after_plain.item()


LM = {"vocab_size": VOCAB, "num_outputs": VOCAB, "per_step_targets": True, "hidden_size": 6, "embedding_dim": 6}


@pytest.mark.parametrize(
    "kwargs,arguments",
    [
        ({"vocab_size": VOCAB, "num_features": FEATURES, "num_outputs": 2}, ["vocab_size", "num_features"]),
        ({"num_outputs": 2}, ["vocab_size", "num_features"]),
        ({"vocab_size": VOCAB, "num_outputs": 0}, ["num_outputs"]),
        ({"vocab_size": 0, "num_outputs": 2}, ["vocab_size"]),
        ({"num_features": 0, "num_outputs": 2}, ["num_features"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "embedding_dim": None}, ["embedding_dim"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "embedding_dim": 0}, ["embedding_dim"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "padding_idx": VOCAB}, ["padding_idx"]),
        ({"num_features": FEATURES, "num_outputs": 2, "padding_idx": 0}, ["padding_idx"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "head": "seq2seq"}, ["head"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "pooling": "median"}, ["pooling"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "pooling": "mean", "per_step_targets": True}, ["pooling", "head"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "pooling": "max", "head": "many_to_many"}, ["pooling", "head"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "hidden_size": 0}, ["hidden_size"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "num_layers": 0}, ["num_layers"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "dropout": 1.5}, ["dropout"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "embedding_dropout": 1.0}, ["embedding_dropout"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "embedding_dropout": -0.1}, ["embedding_dropout"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "head_dropout": 1.0}, ["head_dropout"]),
        ({"num_features": FEATURES, "num_outputs": 2, "head_dropout": -0.1}, ["head_dropout"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "nonlinearity": "gelu"}, ["nonlinearity"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "cell": "gru", "nonlinearity": "relu"}, ["nonlinearity", "cell"]),
        ({"vocab_size": VOCAB, "num_outputs": 2, "cell": "mamba"}, ["cell"]),
        ({"num_features": FEATURES, "num_outputs": VOCAB, "per_step_targets": True, "hidden_size": 6,
          "embedding_dim": 6, "tie_weights": True}, ["tie_weights", "num_features"]),
        (LM | {"per_step_targets": False, "tie_weights": True}, ["tie_weights", "head"]),
        (LM | {"num_outputs": 3, "tie_weights": True}, ["tie_weights", "num_outputs", "vocab_size"]),
        (LM | {"hidden_size": 4, "tie_weights": True}, ["tie_weights", "embedding_dim", "hidden_size"]),
        (LM | {"bidirectional": True, "tie_weights": True}, ["tie_weights", "embedding_dim"]),
    ],
)
def test_invalid_arguments_name_themselves(kwargs, arguments):
    with pytest.raises(ValueError) as error:
        SequenceModel(**({"cell": "lstm"} | kwargs))
    for argument in arguments:
        assert argument in str(error.value)


def test_constructor_is_keyword_only():
    with pytest.raises(TypeError):
        SequenceModel("lstm", num_outputs=2, vocab_size=VOCAB)


@pytest.mark.parametrize("per_step", [False, True])
def test_head_dropout_drops_what_the_head_reads_in_training_only(per_step):
    """Dropout adds no weights (a model without it loads the same state dict) and is the identity in evaluation; in
    training it zeroes a share of the head's inputs: with the head's weights all ones and no bias, the output is the sum
    of the kept inputs scaled by 1/(1-p)."""
    torch.manual_seed(0)
    options = dict(cell="gru", hidden_size=8, num_outputs=1, num_features=FEATURES, per_step_targets=per_step,
                   pooling=None if per_step else "mean")
    plain = SequenceModel(**options).eval()
    dropped = SequenceModel(**options, head_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())  # strict: the same keys
    x = torch.randn(4, 7, FEATURES)
    torch.testing.assert_close(dropped.eval()(x)[0], plain(x)[0])
    with torch.no_grad():
        for model in (plain, dropped):
            model.output_layer.weight.fill_(1.0)
            model.output_layer.bias.zero_()
    dropped.train()
    captured = {}
    dropped.output_layer.register_forward_hook(lambda module, inputs, output: captured.update(x=inputs[0]))
    out = dropped(x)[0]
    kept = captured["x"] != 0
    assert 0.2 < kept.float().mean() < 0.8  # about half dropped
    head_inputs = captured["x"].sum(dim=-1, keepdim=True)
    torch.testing.assert_close(out, head_inputs)
    full = plain.train()  # no dropout: what the head would have read
    full_inputs = {}
    full.output_layer.register_forward_hook(lambda module, inputs, output: full_inputs.update(x=inputs[0]))
    full(x)
    torch.testing.assert_close(captured["x"], torch.where(kept, full_inputs["x"] * 2, torch.zeros_like(full_inputs["x"])))
