"""collate: padding values, lengths, per-step vs per-sequence targets."""

from __future__ import annotations

import torch

from seqtrain.batch import IGNORE_INDEX
from seqtrain.data import collate


def test_token_inputs_with_per_step_class_targets() -> None:
    examples = [(torch.tensor([5, 6, 7]), torch.tensor([1, 0, 1])), (torch.tensor([8]), torch.tensor([0]))]
    batch = collate(examples, input_padding=0, per_step=True)
    assert batch.inputs.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.targets.tolist() == [[1, 0, 1], [0, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.lengths.dtype == torch.long and batch.lengths.device.type == "cpu"
    assert batch.inputs.dtype == torch.long and not batch.stateful


def test_real_inputs_with_per_step_real_targets_pad_with_zero() -> None:
    examples = [(torch.ones(2, 3), torch.full((2, 1), 7.0)), (torch.ones(4, 3), torch.full((4, 1), 9.0))]
    batch = collate(examples, input_padding=-1.5, per_step=True)
    assert batch.inputs.shape == (2, 4, 3)
    assert (batch.inputs[0, 2:] == -1.5).all() and (batch.inputs[0, :2] == 1.0).all()
    assert batch.targets.shape == (2, 4, 1)
    assert batch.targets[0, :, 0].tolist() == [7.0, 7.0, 0.0, 0.0]
    assert batch.lengths.tolist() == [2, 4]


def test_per_sequence_targets_are_stacked() -> None:
    scalar = collate(
        [(torch.zeros(3, 2), torch.tensor(4)), (torch.zeros(1, 2), torch.tensor(2))], input_padding=0.0, per_step=False
    )
    assert scalar.targets.tolist() == [4, 2] and scalar.inputs.shape == (2, 3, 2)
    vector = collate(
        [(torch.zeros(3, 2), torch.tensor([0.5])), (torch.zeros(5, 2), torch.tensor([1.5]))],
        input_padding=0.0,
        per_step=False,
    )
    assert vector.targets.shape == (2, 1) and vector.targets[:, 0].tolist() == [0.5, 1.5]
    assert vector.lengths.tolist() == [3, 5]
