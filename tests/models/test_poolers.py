"""Poolers against hand computations on a small padded batch."""

import torch

from seqtrain.models import AttentionPool, LastStatePool, MaxMeanPool, MaxPool, MeanPool, SequenceModel

# (B=2, T=3, D*H=4); row 0 has 2 real steps, row 1 has 3. Padding holds values that must never be read.
OUTPUT = torch.tensor(
    [
        [[1.0, -2.0, 3.0, -4.0], [5.0, -6.0, 7.0, -8.0], [100.0, 100.0, 100.0, 100.0]],
        [[-1.0, -1.0, -3.0, -2.0], [-2.0, -5.0, -1.0, -9.0], [-3.0, -4.0, -2.0, -7.0]],
    ]
)
LENGTHS = torch.tensor([2, 3])


def test_last_state_pool_unidirectional_reads_each_row_true_last_step():
    expected = torch.tensor([[5.0, -6.0, 7.0, -8.0], [-3.0, -4.0, -2.0, -7.0]])
    torch.testing.assert_close(LastStatePool(1)(OUTPUT, LENGTHS), expected)


def test_last_state_pool_bidirectional_joins_forward_end_with_backward_start():
    # H=2: forward half at step lengths-1, backward half at step 0.
    expected = torch.tensor([[5.0, -6.0, 3.0, -4.0], [-3.0, -4.0, -3.0, -2.0]])
    torch.testing.assert_close(LastStatePool(2)(OUTPUT, LENGTHS), expected)


def test_mean_pool_averages_real_steps_only():
    expected = torch.tensor([[3.0, -4.0, 5.0, -6.0], [-2.0, -10.0 / 3, -2.0, -6.0]])
    torch.testing.assert_close(MeanPool()(OUTPUT, LENGTHS), expected)


def test_mean_pool_ignores_non_finite_padding():
    output = OUTPUT.clone()
    output[0, 2] = float("nan")
    assert torch.isfinite(MeanPool()(output, LENGTHS)).all()


def test_max_pool_never_picks_padding_even_when_all_values_are_negative():
    expected = torch.tensor([[5.0, -2.0, 7.0, -4.0], [-1.0, -1.0, -1.0, -2.0]])
    torch.testing.assert_close(MaxPool()(OUTPUT, LENGTHS), expected)
    # Zero padding (what the packed backbone leaves) must not beat all-negative real steps either.
    zero_padded = OUTPUT.clone()
    zero_padded[0, 2] = 0.0
    negative_row0 = -zero_padded[0, :2].abs() - 1  # row 0 all negative
    zero_padded[0, :2] = negative_row0
    torch.testing.assert_close(MaxPool()(zero_padded, LENGTHS)[0], negative_row0.amax(dim=0))


def test_full_lengths_match_plain_reductions():
    x = torch.randn(3, 5, 4)
    full = torch.full((3,), 5)
    torch.testing.assert_close(LastStatePool(1)(x, full), x[:, -1])
    torch.testing.assert_close(MeanPool()(x, full), x.mean(dim=1))
    torch.testing.assert_close(MaxPool()(x, full), x.amax(dim=1))
    torch.testing.assert_close(MaxMeanPool()(x, full), torch.cat([x.amax(dim=1), x.mean(dim=1)], dim=-1))


def test_max_mean_pool_is_the_max_then_the_mean():
    expected = torch.tensor([[5.0, -2.0, 7.0, -4.0, 3.0, -4.0, 5.0, -6.0],
                             [-1.0, -1.0, -1.0, -2.0, -2.0, -10.0 / 3, -2.0, -6.0]])
    torch.testing.assert_close(MaxMeanPool()(OUTPUT, LENGTHS), expected)


def test_attention_pool_weights_real_steps_by_softmax_of_their_scores():
    pool = AttentionPool(4)
    with torch.no_grad():
        pool.score.weight.copy_(torch.tensor([[0.5, 0.0, -0.25, 0.0]]))
        pool.score.bias.fill_(3.0)
    output = OUTPUT.clone()
    output[0, 2] = float("nan")  # padding, never read
    # By hand: score = 0.5*x0 - 0.25*x2 + 3 per real step; weights = softmax over the row's real steps.
    for row, steps in enumerate(LENGTHS.tolist()):
        real = OUTPUT[row, :steps]
        weights = torch.softmax(0.5 * real[:, 0] - 0.25 * real[:, 2] + 3.0, dim=0)
        torch.testing.assert_close(pool(output, LENGTHS)[row], (weights[:, None] * real).sum(dim=0))
    # Equal scores (no weight) give the mean.
    with torch.no_grad():
        pool.score.weight.zero_()
    torch.testing.assert_close(pool(OUTPUT, LENGTHS), MeanPool()(OUTPUT, LENGTHS))


def test_every_pooling_reads_a_row_alike_alone_and_padded_in_a_batch():
    torch.manual_seed(0)
    for pooling in ("last", "mean", "max", "max_mean", "attention"):
        model = SequenceModel(cell="gru", hidden_size=5, bidirectional=True, pooling=pooling, embedding_dim=4,
                              num_outputs=3, num_features=2).eval()
        x = torch.randn(3, 9, 2)
        lengths = torch.tensor([9, 6, 2])
        batch, _ = model(x, lengths)
        for row, steps in enumerate(lengths.tolist()):
            alone, _ = model(x[row:row + 1, :steps], lengths[row:row + 1])
            torch.testing.assert_close(batch[row], alone[0], msg=pooling)
