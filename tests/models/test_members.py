"""model.members: a deep ensemble in one model, held to networks built and trained alone."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from seqtrain.batch import Batch
from seqtrain.export import check_onnx, export_onnx, streamable
from seqtrain.models import SequenceModel
from seqtrain.task import SequenceTask

NUMERIC = {"num_features": 2, "patch_size": 2, "patch_spectrum": True, "instance_norm": "shape_values",
           "differences": "inputs", "pooling": "max", "bidirectional": True}
TOKENS = {"vocab_size": 12, "padding_idx": 0, "pooling": "mean", "bag": "bigrams", "bag_buckets": 17}


def build(members: int, seed: int = 0, **kwargs) -> SequenceModel:
    torch.manual_seed(seed)
    return SequenceModel(cell=kwargs.pop("cell", "gru"), hidden_size=5, embedding_dim=4, num_outputs=3, members=members,
                         **kwargs)


def alone(model: SequenceModel, member: int) -> SequenceModel:
    """Member `member` of `model` as a network of its own: a model of one member holding that member's weights (the
    terms the members share, such as the naive Bayes, left out)."""
    arguments = {**model.arguments, "members": 1, "naive_bayes": None}
    single = SequenceModel(**arguments)
    weights = model.others[member - 1].state_dict() if member else {
        name: value for name, value in model.state_dict().items()
        if not name.startswith(("others.", "naive_bayes."))}
    single.load_state_dict(weights)
    return single.train(model.training)


def features(B: int = 4, T: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([9, 4, 7, 2][:B])
    return torch.randn(B, T, 2), lengths


def test_a_single_member_is_the_model_as_before_and_member_zero_is_it() -> None:
    """members=1 adds no parameter (old checkpoints load); with the same seed, member 0 of an ensemble is that model."""
    single, ensemble = build(1, **NUMERIC), build(3, **NUMERIC)
    assert not any(name.startswith("others.") for name in single.state_dict())
    assert len(ensemble.others) == 2
    own = {name: value for name, value in ensemble.state_dict().items() if not name.startswith("others.")}
    assert own.keys() == single.state_dict().keys()
    for name, value in single.state_dict().items():
        torch.testing.assert_close(own[name], value, rtol=0, atol=0)
    # The other members start elsewhere.
    assert not torch.equal(ensemble.others[0].output_layer.weight, single.output_layer.weight)


@pytest.mark.parametrize("options", [NUMERIC, TOKENS], ids=["numeric", "tokens"])
def test_the_output_is_the_mean_of_the_members_as_networks_of_their_own(options: dict) -> None:
    model = build(3, **options).eval()
    torch.manual_seed(1)
    inputs, lengths = features() if "num_features" in options else (torch.randint(1, 12, (4, 9)), torch.tensor([9, 4, 7, 2]))
    with torch.no_grad():
        mean, _ = model(inputs, lengths)
        each = [alone(model, m)(inputs, lengths)[0] for m in range(3)]
    torch.testing.assert_close(mean, torch.stack(each).mean(0), rtol=0, atol=1e-6)
    assert not torch.allclose(each[0], each[1])


def test_the_naive_bayes_is_shared_and_added_to_every_member() -> None:
    model = build(2, vocab_size=12, padding_idx=0, pooling="mean", naive_bayes="bigrams").eval()
    assert model.others[0].naive_bayes is None
    torch.manual_seed(2)
    rows = [(torch.randint(1, 12, (int(n),)), torch.tensor(i % 3)) for i, n in enumerate(torch.randint(1, 9, (30,)))]
    model.naive_bayes.fit(rows)
    inputs, lengths = torch.randint(1, 12, (4, 6)), torch.tensor([6, 3, 5, 1])
    with torch.no_grad():
        mean, _ = model(inputs, lengths)
        networks = torch.stack([alone(model, m)(inputs, lengths)[0] for m in range(2)]).mean(0)
        scores = model.naive_bayes(inputs, lengths)
    torch.testing.assert_close(mean, networks + scores, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_each_member_carries_its_own_state(cell: str) -> None:
    """The state is the members' one after another on the first axis: each member's is its own network's, and a
    sequence fed in two chunks with the state carried gives what it gives whole."""
    model = build(3, cell=cell, vocab_size=12, padding_idx=0, num_layers=2, per_step_targets=True).eval()
    inputs = torch.randint(1, 12, (2, 10))
    with torch.no_grad():
        whole, state = model(inputs)
        first, carried = model(inputs[:, :4])
        second, _ = model(inputs[:, 4:], None, carried)
        members = [alone(model, m)(inputs) for m in range(3)]
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=0, atol=1e-6)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (3 * 2, 2, 5)
    for m, (_, own) in enumerate(members):
        torch.testing.assert_close(h[2 * m:2 * m + 2], own[0] if cell == "lstm" else own, rtol=0, atol=1e-6)
    assert streamable(model)


def _task(model: SequenceModel, **kwargs) -> SequenceTask:
    return SequenceTask(model, "classification", num_outputs=3,
                        optimizer=functools.partial(torch.optim.SGD, lr=0.1), **kwargs)


def test_each_member_trains_by_its_own_loss_as_if_alone() -> None:
    """One training step's gradients for each member are those of its own loss on the batch, computed on the network
    alone; the loss reported is the mean of those losses, the predictions the mean of the outputs."""
    model = build(3, **NUMERIC)
    model.eval()  # no phase draws: the networks alone see the same inputs (dropout is off in these models anyway)
    task = _task(model)
    torch.manual_seed(3)
    inputs, lengths = features()
    batch = Batch(inputs, lengths, torch.tensor([0, 1, 2, 1]))
    preds, loss, reported, _ = task._forward_and_loss(batch, lengths, None, "train")
    loss.backward()
    losses = []
    for m in range(3):
        single = alone(model, m)
        own_preds, _ = single(inputs, lengths)
        own = torch.nn.functional.cross_entropy(own_preds, batch.targets)
        own.backward()
        losses.append(own.detach())
        network = model.others[m - 1] if m else model
        for name, parameter in single.named_parameters():
            torch.testing.assert_close(network.get_parameter(name).grad, parameter.grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(reported.detach(), torch.stack(losses).mean(), rtol=1e-6, atol=0)
    torch.testing.assert_close(preds.detach(), model(inputs, lengths)[0].detach(), rtol=0, atol=1e-6)


def test_each_member_is_clipped_by_itself() -> None:
    """With gradient clipping by norm, each member's gradients are clipped as torch clips that network's alone."""
    model = build(2, **NUMERIC).eval()
    task = _task(model, gradient_clip_val=0.05)
    task._logger_records_this_step = lambda: False  # no trainer to log to
    task.on_fit_start()
    torch.manual_seed(4)
    inputs, lengths = features()
    batch = Batch(inputs, lengths, torch.tensor([0, 1, 2, 1]))
    task._forward_and_loss(batch, lengths, None, "train")[1].backward()
    expected = []
    for m in range(2):
        single = alone(model, m)
        torch.nn.functional.cross_entropy(single(inputs, lengths)[0], batch.targets).backward()
        before = torch.nn.utils.clip_grad_norm_(list(single.parameters()), 0.05)
        assert before > 0.05  # so clipping acts
        expected.append(single)
    task.on_before_optimizer_step(None)
    for m, single in enumerate(expected):
        network = model.others[m - 1] if m else model
        for name, parameter in single.named_parameters():
            torch.testing.assert_close(network.get_parameter(name).grad, parameter.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(("cell", "options"), [("lstm", {"vocab_size": 12, "padding_idx": 0, "per_step_targets": True}),
                                               ("gru", NUMERIC)], ids=["lstm-tokens-per-step", "gru-numeric"])
def test_an_ensemble_exports_with_every_members_state(tmp_path: Path, cell: str, options: dict) -> None:
    model = build(2, cell=cell, **options).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (2, 12)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < 1e-5


@pytest.mark.parametrize("members", [0, -1, 1.5, True])
def test_a_member_count_that_is_not_a_whole_number_of_networks_is_refused(members) -> None:
    with pytest.raises(ValueError, match=f"members must be an integer >= 1, got {members!r}"):
        build(members, **NUMERIC)
