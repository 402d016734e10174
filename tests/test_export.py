"""ONNX export with the recurrent state as inputs and outputs, held to the PyTorch model by onnxruntime."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from conftest import ROOT, run_train  # noqa: E402
from seqtrain.export import check_onnx, example_inputs, export_onnx, io_names, onnx_session, run_onnx, streamable  # noqa: E402
from seqtrain.models import SequenceModel  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "data"))
from user_files import sentiment_rows, vector_regression_rows, write_csv, write_jsonl  # noqa: E402

TOLERANCE = 1e-5


def _model(cell: str, layers: int, bidirectional: bool, tokens: bool, per_step: bool, pooling: str | None = None) -> SequenceModel:
    torch.manual_seed(0)
    data = {"vocab_size": 12, "padding_idx": 0} if tokens else {"num_features": 3}
    return SequenceModel(cell=cell, hidden_size=8, num_layers=layers, bidirectional=bidirectional, embedding_dim=6,
                         num_outputs=4, per_step_targets=per_step, pooling=pooling, **data).eval()


# Every cell with one and two layers, both directions, token and feature inputs, both heads.
CASES = [
    ("rnn", 1, False, True, True),
    ("rnn", 2, True, False, False),
    ("lstm", 1, True, True, True),
    ("lstm", 2, False, False, False),
    ("gru", 1, False, False, True),
    ("gru", 2, True, True, False),
]


@pytest.mark.parametrize(("cell", "layers", "bidirectional", "tokens", "per_step"), CASES)
def test_onnx_matches_pytorch_with_a_state_given(tmp_path: Path, cell: str, layers: int, bidirectional: bool,
                                                  tokens: bool, per_step: bool) -> None:
    model = _model(cell, layers, bidirectional, tokens, per_step)
    path = export_onnx(model, tmp_path / "model.onnx")
    # Other batch sizes and lengths than the export's example (2 x 5), and a random initial state.
    for batch, steps in [(1, 1), (3, 11), (4, 40)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("per_step", [True, False])
def test_chunks_with_the_state_carried_equal_the_whole_sequence(tmp_path: Path, cell: str, per_step: bool) -> None:
    model = _model(cell, 2, False, tokens=True, per_step=per_step)  # many-to-one: `last` pooling
    assert streamable(model)
    path = export_onnx(model, tmp_path / "model.onnx")
    session = onnx_session(path)
    names = io_names(model)[0]
    inputs, *state = example_inputs(model, batch=2, steps=17, generator=torch.Generator().manual_seed(1))
    state = [torch.zeros_like(s) for s in state]
    with torch.no_grad():
        whole, final = model(inputs)  # from a zero state, as the chunks start
    whole_state = list(final) if cell == "lstm" else [final]
    outputs = []
    for chunk in torch.split(inputs, [5, 1, 7, 4], dim=1):  # uneven, one of a single step
        predictions, *state = run_onnx(session, (chunk, *state), names)
        outputs.append(predictions)
    streamed = torch.cat(outputs, dim=1) if per_step else outputs[-1]  # many-to-one: the last chunk's
    assert (streamed - whole).abs().max() < TOLERANCE
    for carried, final in zip(state, whole_state):
        assert (carried - final).abs().max() < TOLERANCE


@pytest.mark.parametrize(("bidirectional", "pooling"),
                         [(True, None), (False, "mean"), (False, "max"), (False, "max_mean"), (False, "attention")])
def test_what_cannot_stream_is_said(bidirectional: bool, pooling: str | None) -> None:
    assert not streamable(_model("gru", 1, bidirectional, True, per_step=pooling is None, pooling=pooling))


@pytest.mark.parametrize(("cell", "bidirectional", "pooling"),
                         [("gru", True, "max"), ("lstm", False, "last"), ("gru", True, "max_mean"), ("gru", False, "attention")])
def test_a_patched_model_exports_at_any_length(tmp_path: Path, cell: str, bidirectional: bool, pooling: str) -> None:
    """The patching (zero-fill to whole patches, k steps per input) is in the graph with the time axis dynamic."""
    torch.manual_seed(0)
    model = SequenceModel(cell=cell, hidden_size=8, bidirectional=bidirectional, pooling=pooling, embedding_dim=6,
                          num_outputs=4, num_features=3, patch_size=4).eval()
    path = export_onnx(model, tmp_path / "model.onnx")  # traced at 5 steps: one whole patch and a ragged one
    for batch, steps in [(1, 1), (3, 11), (2, 12), (4, 41)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE
    # Chunks of a sequence are not its patches unless each is a whole number of them: not offered as streamable.
    assert not streamable(model)


@pytest.mark.parametrize(("cell", "bidirectional", "pooling", "k"),
                         [("gru", True, "max", 3), ("lstm", False, "last", 3), ("gru", True, "max", 6), ("lstm", False, "mean", 12)])
def test_a_model_with_patch_shift_exports_its_mean_over_phases(tmp_path: Path, cell: str, bidirectional: bool, pooling: str,
                                                                k: int) -> None:
    """The k shifted copies, their lengths and the mean over phases are in the graph, at any batch size and length
    (rows shorter than k too); the state that comes out is the unshifted copy's, as in PyTorch. Patches of 6 and 12
    steps: the shifted phases of 23 or 41 steps hold fewer patches than the unshifted one. A graph traced where no
    phase was padded (patches of at least 5 steps, before the trace grew to k + 1 steps) got the bidirectional
    GRU's wrong: a BasicMotions run's export differed from PyTorch by 0.29."""
    torch.manual_seed(0)
    model = SequenceModel(cell=cell, hidden_size=8, bidirectional=bidirectional, pooling=pooling, embedding_dim=6,
                          num_outputs=4, num_features=3, patch_size=k, patch_shift=True).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (2, 2), (4, 41), (3, 23), (2, k + 1)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE


@pytest.mark.parametrize(("k", "shift"), [(4, False), (6, True)])
def test_a_model_with_patch_spectrum_exports_at_any_length(tmp_path: Path, k: int, shift: bool) -> None:
    """Each patch's magnitude spectrum (two fixed matrix products) is in the graph, with the time axis dynamic."""
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, bidirectional=True, pooling="max", embedding_dim=6, num_outputs=4,
                          num_features=3, patch_size=k, patch_shift=shift, patch_spectrum=True, instance_norm="shape_values",
                          differences="inputs").eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (2, 12), (4, 41)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE


@pytest.mark.parametrize(("bag", "pooling"), [("bigrams", "mean"), ("unigrams", "last")])
def test_a_model_with_a_bag_exports_at_any_length(tmp_path: Path, bag: str, pooling: str) -> None:
    """The bag's mean (and the pairs' hashing) is in the graph with the time axis dynamic, one step (no pair) too;
    its mean is over the chunk given, so even `last` pooling is not offered as streamable."""
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, pooling=pooling, embedding_dim=6, num_outputs=4, vocab_size=12,
                          padding_idx=0, bag=bag, bag_buckets=17).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (4, 40)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE
    assert not streamable(model)


@pytest.mark.parametrize("naive_bayes", ["bigrams", "unigrams", "words"])
def test_a_model_with_a_naive_bayes_exports_at_any_length(tmp_path: Path, naive_bayes: str) -> None:
    """The fitted counts travel as constants; each row's distinct features (a sort per row; with words, where each
    word ends, another) are in the graph, with the time axis dynamic, one step (no pair) too. A chunk's features are
    not the sequence's: not streamable."""
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, pooling="mean", embedding_dim=6, num_outputs=3, vocab_size=12,
                          padding_idx=0, naive_bayes=naive_bayes, bag_buckets=17).eval()
    rows = [(torch.randint(1, 12, (int(n),)), torch.tensor(i % 3)) for i, n in enumerate(torch.randint(1, 9, (30,)))]
    pieces = ["<pad>", "<unk>", "\u0120a", "b", "\u0120c", ",", "d", "\u0120e", "f", ".", "\u0120g", "h"]
    model.naive_bayes.fit(rows, pieces=pieces)
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (4, 40)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE
    assert not streamable(model)


@pytest.mark.parametrize(("mode", "patch_size"), [("shape", 1), ("shape_level", 3), ("shape_values", 2)])
def test_a_model_with_instance_norm_exports_at_any_length(tmp_path: Path, mode: str, patch_size: int) -> None:
    """Each row's statistics are in the graph over however many steps the call gives (one step too); a chunk would
    be standardized by its own, so it is not offered as streamable."""
    torch.manual_seed(0)
    model = SequenceModel(cell="lstm", hidden_size=8, pooling="last", embedding_dim=6, num_outputs=4, num_features=3,
                          instance_norm=mode, patch_size=patch_size).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (4, 40)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE
    assert not streamable(model)


@pytest.mark.parametrize("differences", ["inputs", "inputs2", "shape"])
def test_a_model_with_differences_exports_at_any_length(tmp_path: Path, differences: str) -> None:
    """Each step's change from the one before is in the graph, with a patch phase's mean and instance_norm after it; a
    chunk's first step would have no step before it, so it is not offered as streamable."""
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, pooling="max", embedding_dim=6, num_outputs=4, num_features=3,
                          differences=differences, instance_norm="shape_values", patch_size=2, patch_shift=True).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    for batch, steps in [(1, 1), (3, 11), (4, 40)]:
        assert check_onnx(path, model, batch=batch, steps=steps) < TOLERANCE
    assert not streamable(model)
    unidirectional_last = SequenceModel(cell="gru", hidden_size=8, pooling="last", embedding_dim=6, num_outputs=4,
                                        num_features=3, differences="inputs")
    assert not streamable(unidirectional_last)


def test_a_projected_lstm_is_refused_by_name(tmp_path: Path) -> None:
    """ONNX's LSTM has no projection: the export says so, naming the key, and writes nothing."""
    from seqtrain.export import ExportError

    model = SequenceModel(cell="lstm", hidden_size=8, proj_size=3, embedding_dim=6, num_outputs=4, num_features=3).eval()
    with pytest.raises(ExportError, match="model.proj_size=3: ONNX's LSTM operator has no projection"):
        export_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.slow  # ~20 s end to end; by default: the in-process exports above and the script's refusals below
def test_export_script_on_a_trained_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = run_train("data=parity", "data.seq_len=8", "model=gru", "model.hidden_size=16", "debug=smoke",
                     "trainer.accelerator=cpu", "logger=none", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "parity.onnx"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), str(run_dir), "--format", "onnx",
                           "--out", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    difference = float(re.search(r"largest difference: (\S+)", proc.stdout).group(1))
    assert difference < TOLERANCE
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["inputs"] == ["inputs", "h0"] and info["facts"]["class_names"] == ["even", "odd"]
    # The same graph scores like the checkpoint's model on real bit strings (ids 1 and 2).
    from seqtrain.checkpoint import load_checkpoint, rebuild

    model, _, _ = rebuild(load_checkpoint(run_dir), setup=False)
    bits = torch.tensor([[1, 2, 2, 1, 2], [2, 2, 1, 1, 1]])
    (logits, _), h0 = model(bits), torch.zeros(1, 2, 16)
    got = run_onnx(onnx_session(out), (bits, h0), ["inputs", "h0"])[0]
    assert (got - logits).abs().max() < TOLERANCE


def test_export_refuses_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    bogus = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}}, bogus)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), str(bogus), "--out",
                           str(tmp_path / "m.onnx")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    assert "not a seqtrain checkpoint" in proc.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_the_graph_never_replaces_a_checkpoint(tmp_path: Path) -> None:
    """`--out` must name an .onnx file: a checkpoint given as --out (the run's own last.ckpt) is kept as it was."""
    from seqtrain.export import ExportError, export_checkpoint

    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}}, ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(ExportError, match=r"--out .*last.ckpt.*\.onnx"):
        export_checkpoint(ckpt, ckpt)
    assert ckpt.read_bytes() == before and not (tmp_path / "last.json").exists()


@pytest.mark.parametrize("name", ["metrics", "data"])
def test_the_graph_never_replaces_a_run_file_beside_it(tmp_path: Path, name: str) -> None:
    """`--out run/metrics.onnx` would write its facts over the run's metrics.json (`data.onnx`: data.json): refused,
    the file kept; a `<out>.json` an earlier export wrote is replaced as before."""
    from seqtrain.export import COMPANION_KEYS, ExportError, check_companion, export_checkpoint

    run_file = tmp_path / f"{name}.json"
    run_file.write_text(json.dumps({"status": "completed", "test": {"test/acc": 0.9}}))
    before = run_file.read_bytes()
    with pytest.raises(ExportError, match=f"{name}.json exists and is not an earlier export's"):
        export_checkpoint(tmp_path / "no-such-run", tmp_path / f"{name}.onnx")
    assert run_file.read_bytes() == before and not (tmp_path / f"{name}.onnx").exists()
    earlier = tmp_path / "model.json"
    earlier.write_text(json.dumps(dict.fromkeys(COMPANION_KEYS)))
    check_companion(earlier)  # an earlier export's: no error
    earlier.write_text(json.dumps(dict.fromkeys(COMPANION_KEYS - {"max_length", "overflow"})))
    check_companion(earlier)  # one written before max_length / overflow were added: an earlier export's too


# The caller of an exported graph: the run's encoders from `<out>.json`'s `data_state`, with torch, Lightning and
# `datasets` unimportable (a module set to None in sys.modules raises ImportError when imported).
SERVE = """
import json, sys
for name in ("torch", "lightning", "datasets"):
    sys.modules[name] = None
import numpy as np, onnxruntime
from seqtrain.encoders import encoders_from_state

info, rows = json.loads(open(sys.argv[1]).read()), json.loads(open(sys.argv[2]).read())
encoders = encoders_from_state(info["data_state"])
session = onnxruntime.InferenceSession(sys.argv[3], providers=["CPUExecutionProvider"])
out = []
for row in rows:
    if encoders.tokenizer is not None:
        inputs = np.array([encoders.tokenizer.encode(row["text"])], dtype=np.int64)
    else:
        inputs = encoders.inputs.encode(np.array(row["frames"]))[None]
    h0 = np.zeros((1, 1, 8), dtype=np.float32)
    logits = session.run(None, {"inputs": inputs, "h0": h0})[0][0]
    if encoders.labels is not None:
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        out.append(dict(zip(encoders.labels.names, probs.tolist())))
    else:
        out.append(float(encoders.targets.decode(logits)[0]))
print(json.dumps(out))
"""


@pytest.mark.parametrize("case", ["text", "vectors"])
def test_an_exported_model_is_fed_by_the_runs_encoders_without_torch(tmp_path: Path, case: str) -> None:
    """`seqtrain.encoders` turns raw rows into the graph's inputs, and its outputs into labels or units, as
    `Predictor` does with the run's datamodule (the truth), in a process where torch cannot be imported."""
    from seqtrain.data import TableDataModule
    from seqtrain.predict import Predictor

    if case == "text":
        rows, options = sentiment_rows(40, seed=0), {"sequence_column": "text", "tokenizer": "word", "task": "classification"}
    else:
        rows = vector_regression_rows(40, seed=2)
        options = {"sequence_column": "frames", "target_column": "y", "task": "regression"}
    write_jsonl(tmp_path / "train.jsonl", rows[:30])
    write_jsonl(tmp_path / "test.jsonl", rows[30:])
    options |= {"train_files": str(tmp_path / "train.jsonl"), "test_files": str(tmp_path / "test.jsonl"),
                "cache_dir": str(tmp_path / "hf_cache"), "val_fraction": 0.2}
    run = TableDataModule(**options)
    run.setup()
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, **run.facts.model_kwargs()).eval()
    graph = export_onnx(model, tmp_path / "model.onnx")
    (tmp_path / "model.json").write_text(json.dumps({"facts": run.facts.to_dict(), "data_state": run.state_dict()}))
    (tmp_path / "rows.json").write_text(json.dumps(rows[30:]))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path / "model.json"), str(tmp_path / "rows.json"), str(graph)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = json.loads(proc.stdout)

    fresh = TableDataModule(**options)  # as `Predictor.from_checkpoint` builds it: the state loaded, nothing refitted
    fresh.load_state_dict(run.state_dict())
    expected = Predictor(model, fresh, run.facts).predict(str(tmp_path / "test.jsonl"), progress=False).table
    assert len(served) == len(expected) == 10
    if case == "text":
        for label in ("neg", "pos"):
            assert [s[label] for s in served] == pytest.approx(expected[f"prob_{label}"].tolist(), abs=1e-5)
    else:
        assert served == pytest.approx(expected["prediction"].tolist(), rel=1e-5)


@pytest.mark.slow  # ~25 s: a train.py run, its export and the block
def test_the_readmes_caller_block_runs_as_it_stands_on_an_exported_run(tmp_path: Path) -> None:
    """The README's `<!-- onnx-caller -->` block, beside `scripts/export.py`'s files, without torch: the logits of the
    checkpoint's model on the same text."""
    write_csv(tmp_path / "train.csv", sentiment_rows(60, seed=0))
    proc = run_train("data=table", f"data.train_files={tmp_path / 'train.csv'}", "data.sequence_column=text",
                     "data.max_length=40", "trainer.max_epochs=1", "trainer.accelerator=cpu", "logger=none",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), str(tmp_path / "run"), "--out",
                           str(tmp_path / "model.onnx")], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((tmp_path / "model.json").read_text())  # how training cut longer sequences, for the caller
    assert (info["max_length"], info["overflow"]) == (40, "truncate")
    block = re.search(r"<!-- onnx-caller -->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    code = ("import sys\nfor name in ('torch', 'lightning', 'datasets'):\n    sys.modules[name] = None\n" + block
            + "print(json.dumps(logits.tolist()))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])

    from seqtrain.checkpoint import load_checkpoint, rebuild
    from seqtrain.data.table_rows import state_tokenizer

    model, datamodule, _ = rebuild(load_checkpoint(tmp_path / "run"), setup=False)
    ids = torch.tensor([state_tokenizer(datamodule.state_dict()).encode("a new review")])  # as the loader encodes a row
    with torch.no_grad():
        expected = model(ids)[0][0]
    assert served == pytest.approx(expected.tolist(), abs=1e-5)


def test_an_export_that_differs_from_its_model_is_refused_and_not_kept(tmp_path: Path) -> None:
    """`checked` holds the written graph to the model: a graph of other weights (as a wrong trace would be) is
    refused by name and removed with its .json; the model's own graph passes with its difference."""
    from seqtrain.export import ExportError, checked

    model, other = _model("gru", 1, True, False, False), _model("gru", 1, True, False, False)
    with torch.no_grad():
        other.output_layer.bias.add_(0.5)  # its outputs differ from the model's by 0.5
    path = export_onnx(other, tmp_path / "model.onnx")
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(ExportError, match=r"model.onnx: the ONNX graph differs from the PyTorch model by 0.5 .*not kept"):
        checked(path, model)
    assert not path.exists() and not path.with_suffix(".json").exists()
    assert checked(export_onnx(model, path), model) < TOLERANCE


def test_a_refused_export_keeps_the_earlier_export_it_would_have_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export is written and checked under a temporary name and renamed only once it passed: a refused one leaves
    an earlier `model.onnx` and `model.json` as they were (it deleted them, so the last good export was lost)."""
    import seqtrain.checkpoint
    import seqtrain.export
    from seqtrain.export import ExportError, export_checkpoint
    from seqtrain.facts import DataFacts

    model = _model("gru", 1, False, True, False, pooling="last")
    facts = DataFacts(task="classification", per_step=False, num_outputs=4, vocab_size=12, padding_idx=0)

    class Data:
        def state_dict(self) -> dict:
            return {"tokenizer": None}

    monkeypatch.setattr(seqtrain.checkpoint, "load_checkpoint", lambda path: {"seqtrain": {"config": {"data": {}}}})
    monkeypatch.setattr(seqtrain.checkpoint, "rebuild", lambda checkpoint, setup: (model, Data(), facts))
    out = tmp_path / "model.onnx"
    _, difference = export_checkpoint("run", out)
    assert difference < TOLERANCE
    earlier = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(earlier) == ["model.json", "model.onnx"]
    monkeypatch.setattr(seqtrain.export, "check_onnx", lambda path, model: 0.5)  # as a graph that computes something else
    with pytest.raises(ExportError, match=f"^{re.escape(str(out))}: the ONNX graph differs from the PyTorch model by 0.5"):
        export_checkpoint("run", out)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == earlier  # no temporary file left either

