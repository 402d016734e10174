"""Export a trained `SequenceModel` to ONNX with its recurrent state as explicit inputs and outputs.

The exported graph is `(inputs, h0[, c0]) -> (predictions, hn[, cn])` over whole, unpadded
sequences, with the batch and time axes dynamic, so a caller can stream a sequence chunk by chunk
(or step by step) by feeding each call's `hn` / `cn` back as the next call's `h0` / `c0`.

The exporter, as tried on torch 2.13 (`tests/test_export.py` holds the graph to PyTorch):
- The default, dynamo (`torch.export`-based) exporter cannot keep the time axis dynamic:
  `torch.export` specializes it to the example's length for nn.RNN, nn.LSTM and nn.GRU alike
  ("your code specialized it to be a constant"). `torch.onnx.export(dynamo=True)` then still
  writes a graph, with the ONNX LSTM op running any length but the ops after it (the pooler's
  gather, an Elman RNN unrolled step by step) fixed to the example's: wrong results, no error.
- The TorchScript-based exporter (`dynamo=False`; deprecated since torch 2.9, still in 2.13)
  emits the ONNX `RNN` / `LSTM` / `GRU` ops with dynamic batch and time axes, in well under a
  second. seqtrain uses it, and checks every export at a length other than the example's.
TorchScript itself (`torch.jit.trace`) is deprecated in torch 2.13 and not offered.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtrain.checks.arguments import output_problem
from seqtrain.errors import SeqtrainError

log = logging.getLogger(__name__)


#: ONNX opset of the exported graph (the TorchScript-based exporter writes RNN/LSTM/GRU ops for it;
#: onnxruntime 1.32 runs it).
ONNX_OPSET = 17
#: The largest difference to the PyTorch model an export may show on random inputs; a larger one is refused.
CHECK_TOLERANCE = 1e-4


class ExportError(SeqtrainError, ValueError):
    """A model or request that cannot be exported as asked; the message says why."""


class StatefulModel(nn.Module):
    """A `SequenceModel` with its state as plain tensors: (inputs, h0[, c0]) -> (predictions, hn[, cn]).

    inputs: (B, T) token ids or (B, T, F) features, every row T real steps (no padding);
    h0 / c0: (L*D, B, H), an ensemble's members' one after another (M*L*D, B, H); predictions: (B, T, num_outputs) per step or (B, num_outputs) pooled.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.is_lstm = isinstance(model.backbone.rnn, nn.LSTM)

    def forward(self, inputs: Tensor, h0: Tensor, c0: Tensor | None = None) -> tuple[Tensor, ...]:
        state = (h0, c0) if self.is_lstm else h0
        predictions, state = self.model(inputs, None, state)
        return (predictions, *state) if self.is_lstm else (predictions, state)


def io_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """The graph's input and output names."""
    lstm = isinstance(model.backbone.rnn, nn.LSTM)
    return ["inputs", "h0", *(["c0"] if lstm else [])], ["predictions", "hn", *(["cn"] if lstm else [])]


def example_inputs(model: nn.Module, batch: int, steps: int, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
    """Random inputs of the model's kind and a random state: (inputs, h0[, c0])."""
    rnn = model.backbone.rnn
    if isinstance(model.input_layer, nn.Embedding):
        # Ids from 1: 0 is the padding id, which an unpadded sequence does not hold.
        inputs = torch.randint(1, model.input_layer.num_embeddings, (batch, steps), generator=generator)
    else:
        features = model.arguments["num_features"]  # (the input layer reads patches of k steps, after instance_norm's features)
        inputs = torch.randn(batch, steps, features, generator=generator)
    layers = rnn.num_layers * (2 if rnn.bidirectional else 1) * getattr(model, "members", 1)  # an ensemble's members' states
    sizes = [getattr(rnn, "proj_size", 0) or rnn.hidden_size] + ([rnn.hidden_size] if isinstance(rnn, nn.LSTM) else [])
    states = [torch.randn((layers, batch, size), generator=generator) for size in sizes]  # h (L*D, B, H or proj), c (L*D, B, H)
    return (inputs, *states)


def export_onnx(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model` (a SequenceModel, put in eval mode) as ONNX; `metadata` is stored as JSON in the file."""
    import onnx

    if getattr(model.backbone.rnn, "proj_size", 0):
        raise ExportError(f"model.proj_size={model.backbone.rnn.proj_size}: ONNX's LSTM operator has no projection (torch's "
                          "exporter refuses it); a run trained with one predicts with scripts/predict.py, not as ONNX")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    wrapper = StatefulModel(model).eval()
    inputs, outputs = io_names(model)
    # Traced at one more step than a patch (at least 5): with `patch_shift`, phase 0 then reads two patches and a
    # shifted phase one, so the trace takes the backbone's packed path, which the other lengths need (a trace where
    # no row is padded fixes the unpacked path in the graph, wrong wherever the phases' patch counts differ).
    args = example_inputs(model, batch=2, steps=max(5, model.patch_size + 1), generator=torch.Generator().manual_seed(0))
    per_step = model.pool is None
    axes = {"inputs": {0: "batch", 1: "time"}, "predictions": {0: "batch", **({1: "time"} if per_step else {})}}
    axes |= {name: {1: "batch"} for name in inputs[1:] + outputs[1:]}
    with warnings.catch_warnings():
        # The exporter warns that it is deprecated and that traced Python booleans are constants
        # (the backbone's "is anything padded" test, False for unpadded inputs): `check_onnx`
        # holds the graph to the PyTorch model instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, dynamo=False, opset_version=ONNX_OPSET)
    graph = onnx.load(str(path))
    if metadata is not None:
        entry = graph.metadata_props.add()
        entry.key, entry.value = "seqtrain", json.dumps(metadata)
    onnx.save(graph, str(path))
    return path


def run_onnx(session: Any, args: tuple[Tensor, ...], names: list[str]) -> list[Tensor]:
    """One onnxruntime call with torch tensors in and out."""
    return [torch.from_numpy(np.asarray(a)) for a in session.run(None, {n: a.numpy() for n, a in zip(names, args)})]


def onnx_session(path: str | Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # checks are small; a thread pool only adds noise on shared CPUs
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.no_grad()
def check_onnx(path: str | Path, model: nn.Module, batch: int = 3, steps: int = 11, seed: int = 0) -> float:
    """The largest absolute difference between onnxruntime (CPU) and PyTorch on every output.

    Random inputs and a random (non-zero) state, at a batch size and length other than the
    example the graph was traced with, so a size fixed in the graph shows as an error here.
    """
    session = onnx_session(path)
    inputs, _ = io_names(model)
    args = example_inputs(model, batch, steps, generator=torch.Generator().manual_seed(seed))
    expected = StatefulModel(model.eval())(*args)
    got = run_onnx(session, args, inputs)
    return max(float((g - e).abs().max()) for g, e in zip(got, expected))


def export_checkpoint(path: str | Path, out: str | Path, fmt: str = "onnx") -> tuple[Path, float]:
    """Export a checkpoint's (or run directory's) model; returns the file and its largest difference to PyTorch.

    Beside the model, `<out>.json` holds what a caller needs to feed it: the data facts, the
    datamodule's fitted state (vocabulary, scaling, class names), and the graph's input and output names.
    """
    from seqtrain.checkpoint import load_checkpoint, rebuild

    if fmt != "onnx":
        raise ExportError(f"--format {fmt!r}: only 'onnx' is supported (TorchScript is deprecated in torch 2.13)")
    if Path(out).suffix != ".onnx":  # also: a checkpoint named as --out would be replaced by the graph
        raise ExportError(f"--out {str(out)!r}: name the ONNX file with its extension, .onnx (e.g. model.onnx)")
    if (problem := output_problem(str(out))) is not None:
        raise ExportError(problem)
    check_companion(Path(out).with_suffix(".json"))
    checkpoint = load_checkpoint(path)
    model, datamodule, facts = rebuild(checkpoint, setup=False)
    inputs, outputs = io_names(model)
    info = {
        "facts": facts.to_dict(),
        "data_state": datamodule.state_dict(),
        "inputs": inputs,
        "outputs": outputs,
        "head": model.head_kind,
        "patch_size": model.patch_size,
        "streamable": streamable(model),
        # How training cut sequences longer than max_length (tables: `truncate` keeps the first steps, `split` cuts
        # them into pieces): a caller feeding longer ones gets outputs the model never learned on unless it cuts alike.
        "max_length": checkpoint["seqtrain"]["config"]["data"].get("max_length"),
        "overflow": checkpoint["seqtrain"]["config"]["data"].get("overflow"),
    }
    # Written and checked beside `out` under another name, then renamed: an earlier export at `out` is replaced only
    # by a graph that passed (a refused one deleted the earlier, good files with it).
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}.onnx")
    try:
        export_onnx(model, tmp, metadata={"facts": facts.to_dict(), "inputs": inputs, "outputs": outputs})
        tmp.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
        difference = checked(tmp, model, named=out)
        os.replace(tmp.with_suffix(".json"), out.with_suffix(".json"))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".json").unlink(missing_ok=True)
    return out, difference


#: The keys of the `<out>.json` an export writes: an existing file with them is an earlier export's, replaced (one
#: written before `max_length` / `overflow` were added is one too).
COMPANION_KEYS = {"facts", "data_state", "inputs", "outputs", "head", "patch_size", "streamable", "max_length", "overflow"}
ADDED_KEYS = {"max_length", "overflow"}


def check_companion(companion: Path) -> None:
    """Refuse an export whose `<out>.json` would replace a file that is not an earlier export's (`--out
    run/metrics.onnx` would overwrite the run's metrics.json, `data.onnx` its data.json)."""
    if not companion.exists():
        return
    try:
        earlier = json.loads(companion.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        earlier = None
    if not (isinstance(earlier, dict) and COMPANION_KEYS - ADDED_KEYS <= earlier.keys() <= COMPANION_KEYS):
        raise ExportError(f"{companion} exists and is not an earlier export's: the export writes its facts there beside "
                          "the graph, so it would be replaced; name the ONNX file differently (--out)")


def checked(out: Path, model: nn.Module, named: Path | None = None) -> float:
    """`check_onnx`'s difference; above `CHECK_TOLERANCE` the graph and its .json are removed and the export refused,
    so no file that computes something else than the model is left behind. `named`: the file the error names."""
    difference = check_onnx(out, model)
    if not difference <= CHECK_TOLERANCE:  # NaN too
        out.unlink(missing_ok=True)
        out.with_suffix(".json").unlink(missing_ok=True)
        raise ExportError(f"{named or out}: the ONNX graph differs from the PyTorch model by {difference:.3g} on random inputs (more "
                          f"than {CHECK_TOLERANCE:g}), so it was not kept; this is a bug in seqtrain's export: please report "
                          "it with the run's config.yaml")
    return difference


def streamable(model: nn.Module) -> bool:
    """Whether feeding a sequence in chunks with the state carried gives what feeding it whole gives.

    True for unidirectional models with a per-step head or `last` pooling; a backward direction
    needs the steps after each chunk, and mean/max pooling only sees the chunk. Not for a patched
    model (`patch_size` > 1): a chunk whose length is not a whole number of patches would be
    zero-filled to one, which the whole sequence is not. Nor for a model that forecasts relative to the window
    (`relative_to`): each chunk would be shifted by its own level; nor with a linear AR highway (`ar_highway`): it
    reads the last steps of each chunk, not of the sequence; nor with a bag of embeddings (`bag`): its mean is over
    the chunk, not the sequence; nor with `instance_norm`: each chunk would be standardized by its own statistics; nor
    with `differences`: a chunk's first step has no step before it; nor with a naive Bayes (`naive_bayes`): it
    scores the chunk's tokens, not the sequence's. An ensemble (`members` > 1) streams as its members do: each carries
    its own state.
    """
    from seqtrain.models.pooling import LastStatePool

    return (not model.backbone.rnn.bidirectional and model.patch_size == 1 and getattr(model, "relative", None) is None
            and getattr(model, "highway", None) is None and getattr(model, "bag", None) is None
            and getattr(model, "naive_bayes", None) is None
            and getattr(model, "instance_norm", None) is None and getattr(model, "differences", None) is None
            and (model.pool is None or isinstance(model.pool, LastStatePool)))
