"""The cuDNN path and device handling of lengths (lengths stay on the CPU, outputs live on the GPU)."""

import pytest
import torch

from seqtrain.models import RecurrentBackbone, ReferenceRNN, SequenceModel

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cudnn_packed_path_matches_reference(cell, bidirectional):
    # float64: cuDNN may use TF32 for float32 RNNs, which is far coarser than 1e-5.
    torch.manual_seed(0)
    lengths = torch.tensor([3, 6, 1, 4])
    backbone = RecurrentBackbone(cell, 4, 5, 2, bidirectional=bidirectional).double().cuda()
    reference = ReferenceRNN(cell, 4, 5, 2, bidirectional=bidirectional).double()
    reference.load_state_dict(backbone.rnn.state_dict())
    x = torch.randn(4, 6, 4, dtype=torch.float64)
    output, _ = backbone(x.cuda(), lengths)
    for b, length in enumerate(lengths.tolist()):
        expected, _ = reference(x[b : b + 1, :length])
        torch.testing.assert_close(output[b : b + 1, :length].cpu(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_model_on_gpu_takes_cpu_lengths(pooling):
    torch.manual_seed(0)
    model = SequenceModel(cell="lstm", hidden_size=8, bidirectional=True, pooling=pooling,
                          num_outputs=3, vocab_size=10, padding_idx=0).double().eval()
    inputs = torch.randint(1, 10, (3, 7))
    lengths = torch.tensor([7, 3, 5])
    with torch.no_grad():
        expected, _ = model(inputs, lengths)
        actual, _ = model.cuda()(inputs.cuda(), lengths)
    torch.testing.assert_close(actual.cpu(), expected, atol=1e-6, rtol=0)
