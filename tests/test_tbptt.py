"""Truncated BPTT and stateful training in SequenceTask, held to plain autograd on the same model."""

from __future__ import annotations

import copy
import functools
import math
import weakref
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from seqtrain.batch import Batch
from seqtrain.models import SequenceModel
from seqtrain.task import DivergedError, SequenceTask, run_with_resets

B, T, FEATURES, OUT = 3, 12, 2, 2


class Recorder(nn.Module):
    """Wraps a model; remembers each call's inputs, incoming state and outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls: list[dict[str, Any]] = []

    def forward(self, inputs: Tensor, lengths: Tensor | None = None, state: Any = None) -> tuple[Tensor, Any]:
        preds, new_state = self.model(inputs, lengths, state)
        self.calls.append(
            {"inputs": inputs, "state_in": state, "preds": weakref.ref(preds), "values": preds.detach().clone()}
        )
        return preds, new_state


def make_model(cell: str = "lstm") -> SequenceModel:
    torch.manual_seed(0)
    return SequenceModel(cell=cell, hidden_size=8, embedding_dim=None, num_features=FEATURES, num_outputs=OUT,
                         per_step_targets=True)


def make_batch(stateful: bool = False, seed: int = 1) -> Batch:
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(B, T, FEATURES, generator=g).requires_grad_(True)
    return Batch(inputs, torch.full((B,), T), torch.randn(B, T, OUT, generator=g), stateful=stateful)


def loader(batches: list[Batch]) -> DataLoader:
    """Serve ready-made batches, in order."""
    return DataLoader(batches, batch_size=None, collate_fn=lambda b: b)


def fit(task: SequenceTask, batches: list[Batch], epochs: int = 1) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(task, train_dataloaders=loader(batches))
    return trainer


def regression_task(model: nn.Module, **kwargs: Any) -> SequenceTask:
    kwargs.setdefault("optimizer", functools.partial(torch.optim.SGD, lr=0.0))
    return SequenceTask(model, "regression", OUT, **kwargs)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_gradient_crosses_a_chunk_boundary(cell: str) -> None:
    recorder = Recorder(make_model(cell))
    task = regression_task(recorder, tbptt_steps=4)
    backward = task.manual_backward
    checked = []

    def spy(loss: Tensor, *args: Any, **kwargs: Any) -> None:
        *earlier, current = [call["inputs"] for call in recorder.calls]
        grads = torch.autograd.grad(loss, [*earlier, current], allow_unused=True, retain_graph=True)
        for g in grads[:-1]:  # chunk j's loss against the inputs of chunks < j
            assert g is None or torch.count_nonzero(g) == 0
        assert grads[-1] is not None and torch.count_nonzero(grads[-1]) > 0
        assert all(call["state_in"] is None or _no_graph(call["state_in"]) for call in recorder.calls)
        checked.append(len(earlier))
        backward(loss, *args, **kwargs)

    task.manual_backward = spy
    fit(task, [make_batch()])
    assert checked == [0, 1, 2]  # three chunks of 4 steps, the later ones with earlier chunks to check


def _no_graph(state: Any) -> bool:
    return all(s.grad_fn is None for s in (state if isinstance(state, tuple) else (state,)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_chunk_of_full_length_equals_plain_bptt(cell: str) -> None:
    model = make_model(cell)
    reference = copy.deepcopy(model)
    batch = make_batch()
    task = regression_task(model, tbptt_steps=T)
    grads: list[dict[str, Tensor]] = []
    backward = task.manual_backward

    def spy(loss: Tensor, *args: Any, **kwargs: Any) -> None:
        backward(loss, *args, **kwargs)
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})

    task.manual_backward = spy
    fit(task, [batch])

    preds, _ = reference(batch.inputs.detach(), batch.lengths)
    F.mse_loss(preds, batch.targets).backward()
    assert len(grads) == 1
    for name, p in reference.named_parameters():
        torch.testing.assert_close(grads[0][name], p.grad, atol=1e-6, rtol=0)


def test_stateful_batches_equal_one_pass_over_the_concatenation() -> None:
    """Validation over consecutive stateful batches = the model run once over the whole sequence."""
    recorder = Recorder(make_model("gru"))
    first, second = make_batch(stateful=True, seed=1), make_batch(stateful=True, seed=2)
    task = regression_task(recorder)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.validate(task, dataloaders=loader([first, second]), verbose=False)
    assert recorder.calls[0]["state_in"] is None and recorder.calls[1]["state_in"] is not None
    with torch.no_grad():
        expected, _ = recorder.model(torch.cat([first.inputs, second.inputs], dim=1))
    carried = torch.cat([call["values"] for call in recorder.calls], dim=1)
    torch.testing.assert_close(carried, expected, atol=1e-6, rtol=0)


def with_resets(batch: Batch, starts: dict[int, list[int]]) -> Batch:
    """The batch with row r's state reset before each step in starts[r]."""
    resets = torch.zeros(B, T, dtype=torch.bool)
    for row, steps in starts.items():
        resets[row, steps] = True
    return Batch(batch.inputs, batch.lengths, batch.targets, batch.stateful, resets)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_resets_where_a_document_starts_equal_separate_runs_per_document(cell: str) -> None:
    """Over stateful batches, each row's outputs equal the model run on each of its documents alone."""
    recorder = Recorder(make_model(cell))
    # Row 0: documents start at steps 5 and 12 (= step 0 of batch 2) and 20; row 1: at 3 and 5;
    # row 2: none, so it runs on through both batches.
    first = with_resets(make_batch(stateful=True, seed=1), {0: [5], 1: [3, 5]})
    second = with_resets(make_batch(stateful=True, seed=2), {0: [0, 8]})
    task = regression_task(recorder)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.validate(task, dataloaders=loader([first, second]), verbose=False)
    got = torch.cat([call["values"] for call in recorder.calls], dim=1)  # (B, 2T): pieces in order
    inputs = torch.cat([first.inputs, second.inputs], dim=1).detach()
    bounds = {0: [0, 5, 12, 20, 2 * T], 1: [0, 3, 5, 2 * T], 2: [0, 2 * T]}
    with torch.no_grad():
        for row, cuts in bounds.items():
            for start, end in zip(cuts, cuts[1:]):
                alone, _ = recorder.model(inputs[row : row + 1, start:end])  # from a zero state
                torch.testing.assert_close(got[row, start:end], alone[0], atol=1e-6, rtol=0)


def test_no_gradient_crosses_a_document_start() -> None:
    model = make_model("lstm")
    batch = with_resets(make_batch(stateful=True), {0: [5]})
    preds, _ = run_with_resets(model, batch.inputs, batch.lengths, None, batch.resets)
    grad_row0, = torch.autograd.grad(preds[0, 5:].sum(), batch.inputs, retain_graph=True)
    assert torch.count_nonzero(grad_row0[:, :5]) == 0  # the new document does not reach back
    grad_row1, = torch.autograd.grad(preds[1, 5:].sum(), batch.inputs)
    assert torch.count_nonzero(grad_row1[1, :5]) > 0  # a row without a start does


def test_document_starts_split_across_tbptt_chunks() -> None:
    """With TBPTT, the resets travel with their chunk: chunk 2 (steps 6-11) resets row 1 at step 8."""
    recorder = Recorder(make_model("gru"))
    batch = with_resets(make_batch(stateful=True), {1: [8]})
    fit(regression_task(recorder, tbptt_steps=6), [batch])
    # chunk 1 in one call; chunk 2 cut at its step 2 (= 8): two calls, the second with row 1 zeroed.
    assert [call["inputs"].shape[1] for call in recorder.calls] == [6, 2, 4]
    h = recorder.calls[2]["state_in"]
    assert torch.count_nonzero(h[:, 1]) == 0 and torch.count_nonzero(h[:, 0]) > 0


def test_state_is_carried_across_batches_and_reset_each_epoch() -> None:
    recorder = Recorder(make_model("lstm"))
    task = regression_task(recorder, tbptt_steps=6)
    fit(task, [make_batch(stateful=True, seed=1), make_batch(stateful=True, seed=2)], epochs=2)
    incoming = [call["state_in"] is not None for call in recorder.calls]
    # Per epoch: batch 1 -> chunks (fresh, carried), batch 2 -> (carried, carried).
    assert incoming == [False, True, True, True] * 2


def test_unstateful_batches_start_from_zero_state() -> None:
    recorder = Recorder(make_model("gru"))
    fit(regression_task(recorder, tbptt_steps=6), [make_batch(seed=1), make_batch(seed=2)])
    assert [call["state_in"] is not None for call in recorder.calls] == [False, True, False, True]


class RecordingSGD(torch.optim.SGD):
    """SGD that records the total gradient norm it is asked to apply."""

    norms: list[float] = []

    def step(self, closure: Any = None) -> Any:
        if closure is not None:  # automatic optimization computes the gradients (and clips) in the closure
            with torch.enable_grad():
                closure()
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        RecordingSGD.norms.append(float(torch.nn.utils.get_total_norm(grads)))
        return super().step()


@pytest.mark.parametrize("tbptt_steps", [None, 4])
def test_clipping_by_norm_holds_at_every_step(tbptt_steps: int | None) -> None:
    RecordingSGD.norms = []
    batches = [make_batch(seed=s) for s in range(4)]
    for b in batches:
        b.targets.mul_(1e3)  # huge errors -> huge gradients
    task = regression_task(make_model(), optimizer=functools.partial(RecordingSGD, lr=10.0),
                           gradient_clip_val=0.5, tbptt_steps=tbptt_steps)
    fit(task, batches)
    assert len(RecordingSGD.norms) == (12 if tbptt_steps else 4)
    assert max(RecordingSGD.norms) <= 0.5 + 1e-5


def test_clipping_by_value_holds_under_tbptt() -> None:
    seen: list[float] = []

    class MaxGradSGD(torch.optim.SGD):
        def step(self, closure: Any = None) -> Any:
            if closure is not None:  # Lightning runs on_before_optimizer_step (where clipping is) in here
                closure()
            seen.append(max(float(p.grad.abs().max()) for g in self.param_groups for p in g["params"]))
            return super().step()

    batch = make_batch()
    batch.targets.mul_(1e3)
    task = regression_task(make_model(), optimizer=functools.partial(MaxGradSGD, lr=1.0),
                           gradient_clip_val=0.01, gradient_clip_algorithm="value", tbptt_steps=4)
    fit(task, [batch])
    assert len(seen) == 3 and max(seen) <= 0.01 + 1e-7


def test_graph_is_not_kept_across_chunks() -> None:
    """Each chunk's outputs are freed once the next chunk has run: memory stays flat."""
    recorder = Recorder(make_model("lstm"))
    task = regression_task(recorder, tbptt_steps=2)
    fit(task, [make_batch(stateful=True, seed=s) for s in range(3)])
    assert len(recorder.calls) == 18
    alive = [call["preds"]() is not None for call in recorder.calls[:-1]]
    assert not any(alive)


def test_language_model_metrics_are_token_weighted() -> None:
    """val/loss is the mean cross-entropy over all tokens; ppl = exp(loss); bpt = loss / ln 2."""
    torch.manual_seed(0)
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, vocab_size=5, padding_idx=0,
                          num_outputs=5, per_step_targets=True)
    g = torch.Generator().manual_seed(3)
    batches = []
    # Unequal batches and padded rows: an unweighted mean of batch means, or counting padding, would differ.
    for lengths in ([T, T], [T, 3, T, 5, 1]):
        lengths = torch.tensor(lengths)
        inputs = torch.randint(1, 5, (len(lengths), T), generator=g)
        targets = torch.randint(1, 5, (len(lengths), T), generator=g)
        targets[torch.arange(T)[None, :] >= lengths[:, None]] = -100  # padding (IGNORE_INDEX)
        batches.append(Batch(inputs, lengths, targets))
    task = SequenceTask(model, "language_modeling", 5, functools.partial(torch.optim.SGD, lr=0.0))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(task, dataloaders=loader(batches), verbose=False)[0]
    with torch.no_grad():
        total = sum(F.cross_entropy(model(b.inputs, b.lengths)[0].flatten(0, 1), b.targets.flatten(),
                                    ignore_index=-100, reduction="sum") for b in batches)
    mean_ce = float(total) / (4 * T + 9)  # real tokens: 2T + (T + 3 + T + 5 + 1)
    assert metrics["val/loss"] == pytest.approx(mean_ce, rel=1e-5)
    assert metrics["val/ppl"] == pytest.approx(math.exp(mean_ce), rel=1e-5)
    assert metrics["val/bpt"] == pytest.approx(mean_ce / math.log(2), rel=1e-5)


def test_chunk_sizes_cover_the_sequence() -> None:
    from seqtrain.task import chunk_sizes

    assert chunk_sizes(12, 4) == [4, 4, 4]
    assert chunk_sizes(10, 4) == [4, 4, 2]
    torch.manual_seed(0)
    variable = [chunk_sizes(1000, 50, variable=True) for _ in range(20)]
    assert all(sum(sizes) == 1000 for sizes in variable)
    inner = [s for sizes in variable for s in sizes[:-1]]  # the last one is cut to fit
    assert min(inner) >= 5
    assert any(s < 40 for s in inner) and any(s > 50 for s in inner)  # some half-length, some jittered up
    assert 40 < sum(inner) / len(inner) < 50  # mostly ~50, sometimes ~25


@pytest.mark.parametrize(("scale_lr", "expected"), [(False, [0.4, 0.4, 0.4]), (True, [0.4, 0.4, 0.2])])
def test_a_short_chunk_has_its_learning_rate_scaled_only_when_asked(scale_lr: bool, expected: list[float]) -> None:
    seen: list[float] = []

    class LrSGD(torch.optim.SGD):
        def step(self, closure: Any = None) -> Any:
            if closure is not None:
                closure()
            seen.append(self.param_groups[0]["lr"])
            return super().step()

    batch = Batch(torch.randn(B, 10, FEATURES), torch.full((B,), 10), torch.randn(B, 10, OUT))
    task = regression_task(make_model(), optimizer=functools.partial(LrSGD, lr=0.4), tbptt_steps=4,
                           tbptt_scale_lr=scale_lr)
    fit(task, [batch, batch])
    assert seen == pytest.approx(expected * 2)  # chunks of 4, 4, 2 steps; the lr comes back after each


def fp16_trainer(init_scale: float) -> pl.Trainer:
    """fp16 autocast with a dynamic grad scaler, as `trainer.precision=16-mixed` on a GPU (Lightning maps
    16-mixed to bf16 on a CPU, so the plugin is built by hand; the GRU runs in fp16 under CPU autocast)."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugin = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=init_scale))
    return pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, plugins=[plugin],
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)


@pytest.mark.parametrize("tbptt_steps", [None, 4])
def test_fp16_gradients_are_unscaled_before_clipping_and_overflows_are_skipped(tbptt_steps: int | None) -> None:
    RecordingSGD.norms = []
    batches = [make_batch(seed=s) for s in range(6)]
    for b in batches:
        b.targets.mul_(1e2)  # large gradients: at a scale of 2^14 the first steps overflow fp16
    task = regression_task(make_model("gru"), optimizer=functools.partial(RecordingSGD, lr=1e-3),
                           gradient_clip_val=0.5, tbptt_steps=tbptt_steps)
    trainer = fp16_trainer(init_scale=2.0**14)
    trainer.fit(task, train_dataloaders=loader(batches))  # no DivergedError: an overflow is the scaler's to skip
    scale = trainer.precision_plugin.scaler.get_scale()
    steps = 18 if tbptt_steps else 6
    assert scale < 2.0**14 and 0 < len(RecordingSGD.norms) < steps  # some steps skipped, the scale lowered
    # Every applied step was clipped to 0.5 in true units: clipping the scaled gradients instead would
    # leave 0.5 / scale after unscaling.
    assert RecordingSGD.norms == pytest.approx([0.5] * len(RecordingSGD.norms), rel=1e-3)


def test_fp16_run_with_a_nan_loss_stops_once_the_scale_falls_below_one() -> None:
    RecordingSGD.norms = []
    batches = [make_batch(seed=s) for s in range(6)]
    for b in batches:  # as after a real divergence: every loss is NaN
        b.targets[0, 0, 0] = float("nan")
    task = regression_task(make_model("gru"), optimizer=functools.partial(RecordingSGD, lr=1e-3), gradient_clip_val=0.5)
    with pytest.raises(DivergedError, match="non-finite gradient norm.*global step 3"):
        fp16_trainer(init_scale=4.0).fit(task, train_dataloaders=loader(batches))
    assert RecordingSGD.norms == []  # scales 4, 2, 1 skipped; at 0.5 the run stops; nothing was applied


# --- The step convention: a batch is one training step, whatever its number of chunks ----------


def lr_recording_sgd(seen: list[float]) -> type[torch.optim.SGD]:
    class LrSGD(torch.optim.SGD):
        def step(self, closure: Any = None) -> Any:
            if closure is not None:
                closure()
            seen.append(self.param_groups[0]["lr"])
            return super().step()

    return LrSGD


def test_global_step_and_max_steps_count_batches_not_chunks() -> None:
    seen: list[float] = []
    task = regression_task(make_model(), optimizer=functools.partial(lr_recording_sgd(seen), lr=0.1), tbptt_steps=4)
    trainer = pl.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, train_dataloaders=loader([make_batch(seed=s) for s in range(5)]))
    assert trainer.global_step == 3  # batches
    assert len(seen) == 9  # every chunk of those 3 batches (12 steps / 4) updated the weights


def test_step_scheduler_steps_once_per_batch() -> None:
    seen: list[float] = []
    task = regression_task(make_model(), optimizer=functools.partial(lr_recording_sgd(seen), lr=0.4), tbptt_steps=4,
                           scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
                           scheduler_interval="step")
    fit(task, [make_batch(seed=s) for s in range(2)])
    assert seen == pytest.approx([0.4] * 3 + [0.2] * 3)  # three chunks per batch, one schedule step per batch


def test_periodic_checkpoints_count_batches(tmp_path: Any) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    saves = ModelCheckpoint(dirpath=tmp_path, filename="{step}", every_n_train_steps=2, save_top_k=-1)
    task = regression_task(make_model(), tbptt_steps=4)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, callbacks=[saves],
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, train_dataloaders=loader([make_batch(seed=s) for s in range(5)]))
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["step=2.ckpt", "step=4.ckpt"]


def test_loss_step_is_the_batch_mean_over_all_chunks_real_targets() -> None:
    """train/loss_step under TBPTT = the token-weighted mean over the batch's chunks (lr 0: the weights stay)."""
    torch.manual_seed(0)
    V = 5
    model = SequenceModel(cell="gru", hidden_size=8, embedding_dim=4, vocab_size=V, padding_idx=0,
                          num_outputs=V, per_step_targets=True)
    reference = copy.deepcopy(model)
    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor([T, 3, 7])  # chunks of 4: the short rows leave few real targets in later chunks
    inputs = torch.randint(1, V, (3, T), generator=g)
    targets = torch.randint(1, V, (3, T), generator=g)
    targets[torch.arange(T)[None, :] >= lengths[:, None]] = -100
    logged: list[float] = []
    task = SequenceTask(model, "language_modeling", V, functools.partial(torch.optim.SGD, lr=0.0), tbptt_steps=4)
    task.log = lambda name, value, **kw: logged.append(float(value)) if name == "train/loss_step" else None  # type: ignore[method-assign]
    task._logger_records_this_step = lambda: True  # type: ignore[method-assign]  # (no logger in `fit`)
    fit(task, [Batch(inputs, lengths, targets)])
    state, total = None, 0.0
    with torch.no_grad():
        for start in range(0, T, 4):
            chunk_lengths = (lengths - start).clamp(1, 4)
            preds, state = reference(inputs[:, start : start + 4], chunk_lengths, state)
            total += float(F.cross_entropy(preds.flatten(0, 1), targets[:, start : start + 4].flatten(),
                                           ignore_index=-100, reduction="sum"))
    assert logged == pytest.approx([total / int(lengths.sum())], rel=1e-5)


@pytest.mark.parametrize(("steps", "chunks"), [(32, 1), (100, 1), (31, 2)])
def test_tbptt_steps_at_or_above_the_batch_length_is_said_to_truncate_nothing(compose_train, tmp_path, steps: int,  # noqa: ANN001
                                                                             chunks: int) -> None:
    """The real stream's batches are data.seq_len steps: task.tbptt_steps >= seq_len cuts each into one chunk (the run
    trains as without it), and the run says so in one line; below it, it truncates and says nothing."""
    from hydra.utils import instantiate

    from seqtrain.run import unused_tbptt
    from seqtrain.task import chunk_sizes, split_into_chunks

    cfg = compose_train("experiment=none", "data=shakespeare", "data.max_chars=20000", "data.seq_len=32",
                        "data.batch_size=8", f"data.cache_dir={tmp_path / 'cache'}", f"task.tbptt_steps={steps}")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert len(split_into_chunks(batch, chunk_sizes(batch.inputs.shape[1], steps))) == chunks
    line = unused_tbptt(cfg)
    if chunks == 1:
        assert line is not None and f"task.tbptt_steps={steps}: not used" in line and "data.seq_len=32" in line, line
        assert "data.stateful=true still carries the state" in line
    else:
        assert line is None


@pytest.mark.parametrize("tbptt_steps", [None, T, 4])
def test_an_epoch_scheduler_steps_at_complete_epochs_only_as_lightnings_loop_does(tbptt_steps: int | None) -> None:
    """max_steps ends the fit 1.5 epochs in: Lightning's automatic loop (tbptt_steps=None, the truth) steps an epoch
    scheduler after the one complete epoch only; truncated BPTT (one chunk, or three) steps it the same, so an
    extended run does not go on with its schedule one epoch ahead."""
    task = regression_task(make_model(), optimizer=functools.partial(torch.optim.SGD, lr=0.4), tbptt_steps=tbptt_steps,
                           scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))
    trainer = pl.Trainer(max_steps=3, max_epochs=5, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, train_dataloaders=loader([make_batch(seed=s) for s in range(2)]))  # 2 batches an epoch
    assert trainer.global_step == 3
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 1
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.2)


@pytest.mark.parametrize("tbptt_steps", [None, 4])
def test_an_epoch_scheduler_in_a_one_epoch_run_is_said_to_change_nothing(compose_train, tbptt_steps: int | None) -> None:  # noqa: ANN001
    """Stepped per epoch, a cosine schedule over trainer.max_epochs=1 first steps after the only epoch: every update
    of the run uses optimizer.lr (recorded at each step, in both loops). The run says so; with 2 epochs it does not."""
    from seqtrain.run import unused_epoch_scheduler

    seen: list[float] = []
    task = regression_task(make_model(), optimizer=functools.partial(lr_recording_sgd(seen), lr=0.4), tbptt_steps=tbptt_steps,
                           scheduler=functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=1))
    fit(task, [make_batch(seed=s) for s in range(3)], epochs=1)
    assert len(seen) == (9 if tbptt_steps else 3) and seen == pytest.approx([0.4] * len(seen))
    line = unused_epoch_scheduler(compose_train("scheduler=cosine", "trainer.max_epochs=1"))
    assert line is not None and "scheduler.scheduler=CosineAnnealingLR: not used" in line, line
    assert unused_epoch_scheduler(compose_train("scheduler=cosine", "trainer.max_epochs=2")) is None
    assert unused_epoch_scheduler(compose_train("scheduler=cosine", "trainer.max_epochs=1", "scheduler.interval=step",
                                                "scheduler.scheduler.T_max=100")) is None
