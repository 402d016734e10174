"""Each cell can memorize a small fixed batch of a synthetic task with a plain Adam loop."""

import math

import pytest
import torch

from seqtrain.models import SequenceModel


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def parity_batch(num_sequences=32, max_length=8):
    """Bit strings of varied length (padded with 0) labelled by the parity of their real bits."""
    lengths = torch.randint(3, max_length + 1, (num_sequences,))
    bits = torch.randint(0, 2, (num_sequences, max_length))
    bits = bits.masked_fill(torch.arange(max_length)[None, :] >= lengths[:, None], 0)
    return bits, lengths, bits.sum(dim=1) % 2


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_overfits_a_small_parity_batch(cell, one_thread):
    torch.manual_seed(0)
    inputs, lengths, targets = parity_batch()
    model = SequenceModel(cell=cell, hidden_size=32, embedding_dim=8, vocab_size=2, num_outputs=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    target_loss = 0.1 * math.log(2)  # a tenth of the loss of guessing

    for _ in range(400):
        logits, _ = model(inputs, lengths)  # (B, 2); lengths exercise the packed path's backward
        loss = torch.nn.functional.cross_entropy(logits, targets)
        if loss.item() < target_loss:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < target_loss
