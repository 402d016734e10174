"""Adding and parity: targets recomputed by hand from the inputs, markers, lengths, seeds."""

from __future__ import annotations

import torch

from seqtrain.data import AddingDataModule, DataFacts, ParityDataModule


def test_adding_targets_markers_and_shapes() -> None:
    dm = AddingDataModule(seq_len=30, num_train=200, num_val=20, num_test=20, seed=7)
    dm.setup()
    for split in ("train", "val", "test"):
        for inputs, target in dm.split(split):
            assert inputs.shape == (30, 2) and target.shape == (1,) and target.dtype == torch.float32
            values, markers = inputs[:, 0].tolist(), inputs[:, 1].tolist()
            marked = [t for t, m in enumerate(markers) if m == 1.0]
            assert len(marked) == 2 and sorted(set(markers)) == [0.0, 1.0]
            assert marked[0] < 15 <= marked[1]  # one marker in each half
            assert all(0.0 <= v < 1.0 for v in values)
            assert abs(target.item() - (values[marked[0]] + values[marked[1]])) < 1e-6
    assert dm.facts == DataFacts(task="regression", per_step=False, num_outputs=1, num_features=2)


def test_adding_is_reproducible_for_a_seed() -> None:
    def first_inputs(seed: int, num_train: int = 50) -> torch.Tensor:
        dm = AddingDataModule(seq_len=10, num_train=num_train, num_val=5, num_test=5, seed=seed)
        dm.setup()
        return torch.stack([x for x, _ in dm.split("val")])

    assert torch.equal(first_inputs(0), first_inputs(0))
    assert torch.equal(first_inputs(0), first_inputs(0, num_train=80))  # a split does not depend on another's size
    assert not torch.equal(first_inputs(0), first_inputs(1))


def test_parity_whole_sequence() -> None:
    dm = ParityDataModule(seq_len=12, min_len=3, num_train=300, num_val=10, num_test=10)
    dm.setup()
    lengths = set()
    for inputs, target in dm.split("train"):
        bits = [int(t) - 1 for t in inputs]  # ids 1 and 2 are bits 0 and 1
        assert set(bits) <= {0, 1} and inputs.dtype == torch.long
        assert target.shape == () and int(target) == sum(bits) % 2
        lengths.add(len(bits))
    assert lengths == set(range(3, 13))
    assert dm.facts == DataFacts(
        task="classification", per_step=False, num_outputs=2, vocab_size=3, padding_idx=0, class_names=("even", "odd")
    )


def test_parity_per_step_and_padding() -> None:
    dm = ParityDataModule(seq_len=8, min_len=1, per_step=True, num_train=100, num_val=10, num_test=10, seed=3)
    dm.setup()
    for inputs, target in dm.split("train"):
        bits = [int(t) - 1 for t in inputs]
        running = [sum(bits[: t + 1]) % 2 for t in range(len(bits))]
        assert target.tolist() == running
    assert dm.facts.task == "tagging" and dm.facts.per_step
    batch = next(iter(dm.val_dataloader()))
    for row, length in enumerate(batch.lengths.tolist()):
        assert (batch.inputs[row, length:] == 0).all() and (batch.targets[row, length:] == -100).all()


def test_parity_fixed_length_and_seed() -> None:
    def train(seed: int) -> list[torch.Tensor]:
        dm = ParityDataModule(seq_len=6, num_train=40, num_val=5, num_test=5, seed=seed)
        dm.setup()
        return [x for x, _ in dm.split("train")]

    a, b = train(2), train(2)
    assert all(len(x) == 6 for x in a)  # min_len=None: every string is seq_len long
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, train(5)))
