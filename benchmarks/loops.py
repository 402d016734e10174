"""Training loops timed side by side: a plain PyTorch loop stepping beside Lightning's, and the default run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarks.timing import ROOT
from seqtrain.batch import IGNORE_INDEX, Batch
from seqtrain.checkpoint_io import AtomicCheckpointIO
from seqtrain.data import collate
from seqtrain.data.windows import TokenStreams, TokenWindows
from seqtrain.models import SequenceModel
from seqtrain.run import close_loggers
from seqtrain.task import SequenceTask

VOCAB = 100  # figures 1 and 2: a next-token LM over 100 ids (0 is padding)


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, clip: float, batch: Batch,
               device: torch.device | str = "cpu", autocast: torch.dtype | None = None) -> None:
    """One step of the plain PyTorch loop: zero_grad, forward, loss, backward, clip_grad_norm_, step."""
    device = torch.device(device)
    batch = batch.to(device, non_blocking=True)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
        preds, _ = model(batch.inputs, batch.lengths)  # (B, T, V)
        loss = F.cross_entropy(preds.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE_INDEX)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()


class PlainTBPTT:
    """Truncated BPTT by hand: chunks of `steps`, one optimizer step per chunk, state detached and carried across batches."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, clip: float) -> None:
        self.model, self.optimizer, self.steps, self.clip = model, optimizer, steps, clip
        self.state: tuple[Tensor, Tensor] | None = None

    def __call__(self, batch: Batch) -> None:
        for start in range(0, batch.inputs.shape[1], self.steps):
            window = slice(start, start + self.steps)
            preds, state = self.model(batch.inputs[:, window], None, self.state)  # (B, k, V)
            loss = F.cross_entropy(preds.flatten(0, 1), batch.targets[:, window].flatten(), ignore_index=IGNORE_INDEX)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            self.state = tuple(s.detach() for s in state)  # LSTM (h, c): the values flow on, the gradient stops


class PlainAlongside(pl.Callback):
    """One step of a plain loop beside every Lightning step, on its own model, optimizer and loader.

    The finest interleave there is, and balanced: the plain step runs after Lightning's step on even
    batches and before it on odd ones (L P P L L P P L ...), so both sides run at the same moments
    under the same load and neither always follows the other. Over batches warmup..warmup+timed-1,
    `plain` is the seconds of the plain steps (fetch and step) and `framework` the rest of the wall
    time: Lightning's steps with their fetch, hooks, logging and callbacks.
    """

    def __init__(self, step: Callable[[Batch], None], loader: DataLoader, warmup: int, timed: int) -> None:
        self.step, self.batches = step, iter(loader)
        self.first, self.last = warmup - 1, warmup + timed - 1  # the window: from the end of `first` to the end of `last`
        self.timed = timed
        self.plain_steps: list[float] = []
        self.total: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if batch_idx % 2:
            self._plain_step(module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if batch_idx % 2 == 0:
            self._plain_step(module.device)
        if batch_idx == self.first:
            _synchronize(module.device)
            self.plain_steps, self._start = [], time.perf_counter()
        elif batch_idx == self.last:
            _synchronize(module.device)
            self.total = time.perf_counter() - self._start

    def _plain_step(self, device: torch.device) -> None:
        _synchronize(device)
        start = time.perf_counter()
        with torch.enable_grad():
            self.step(next(self.batches))
        _synchronize(device)
        self.plain_steps.append(time.perf_counter() - start)

    def seconds(self) -> dict[str, float]:
        if self.total is None or len(self.plain_steps) != self.timed:
            raise RuntimeError(f"the timed window did not close: batch {self.last} never ended")
        plain = sum(self.plain_steps)
        return {"plain": plain, "framework": self.total - plain}


class StepWindow(pl.Callback):
    """Stamps the end of batch `warmup - 1` and of batch `warmup + timed - 1`; `on_start`/`on_end` run at the stamps."""

    def __init__(self, warmup: int, timed: int, on_start: Callable[[], Any], on_end: Callable[[], Any]) -> None:
        self.first, self.last = warmup - 1, warmup + timed - 1
        self.on_start, self.on_end = on_start, on_end
        self.seconds: float | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if batch_idx == self.first:
            self.on_start()
            self._start = time.perf_counter()
        elif batch_idx == self.last:
            self.seconds = time.perf_counter() - self._start
            self.on_end()


class BatchGaps(pl.Callback):
    """Per batch: the time in the step (batch start -> end) and the gap before the next batch starts."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.steps: list[float] = []
        self.gaps: list[float] = []
        self._end: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._start = time.perf_counter()
        if self._end is not None and batch_idx > self.warmup:
            self.gaps.append(self._start - self._end)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._end = time.perf_counter()
        if batch_idx >= self.warmup:
            self.steps.append(self._end - self._start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainLM(pl.LightningModule):
    """The plain loop's step as a LightningModule: forward and loss only, no metrics, no logging."""

    def __init__(self, model: nn.Module, optimizer: Callable[..., torch.optim.Optimizer]) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        preds, _ = self.model(batch.inputs, batch.lengths)
        return F.cross_entropy(preds.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE_INDEX)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


def bare_trainer(steps: int, callbacks: list[pl.Callback], clip: float | None, **kwargs: Any) -> pl.Trainer:
    """Lightning with nothing switched on: no logger, no progress bar, no checkpoints."""
    options = {"accelerator": "cpu", "devices": 1, "max_steps": steps, "logger": False, "enable_progress_bar": False,
               "enable_checkpointing": False, "enable_model_summary": False, "gradient_clip_val": clip,
               "limit_val_batches": 0, "num_sanity_val_steps": 0, "callbacks": callbacks}
    return pl.Trainer(**(options | kwargs))


def compose_default(output_dir: Path, *overrides: str) -> DictConfig:
    """configs/train.yaml as `python train.py` composes it, writing into `output_dir`."""
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={output_dir}", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # `${hydra:...}` in the wandb logger's group/name/tags resolve
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def run_default(cfg: DictConfig, task: SequenceTask, data: DataLoader | pl.LightningDataModule,
                callbacks: list[pl.Callback], optimizer_steps: int, **trainer_overrides: Any) -> float:
    """Fit `task` for `optimizer_steps` with the Trainer, callbacks and loggers `seqtrain.run.train` builds from `cfg`.

    Returns the seconds of one checkpoint save, timed after fit (timing windows are shorter than
    `last_checkpoint.every_n_train_steps` and hold none, so callers add saves pro rata).
    """
    loggers = [instantiate(c) for c in cfg.logger.values()]
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=[*callbacks, *(instantiate(c) for c in cfg.callbacks.values())],
        logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
        gradient_clip_val=None,  # the task clips, as in run.train
        gradient_clip_algorithm=None,
        max_steps=optimizer_steps,
        limit_val_batches=0,
        enable_model_summary=False,  # printed once before the first step; keeps the output readable
        **({"accelerator": "cpu", "devices": 1} | trainer_overrides),
    )
    ok = False
    try:
        for logger in loggers:  # as run.train does: wandb starts here, before any timing
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        if isinstance(data, pl.LightningDataModule):
            trainer.fit(task, datamodule=data)
        else:
            trainer.fit(task, train_dataloaders=data)
        probe = Path(cfg.paths.output_dir) / "checkpoints" / "probe.ckpt"
        saves = []
        for _ in range(3):  # what ModelCheckpoint does at a save: trainer.save_checkpoint through AtomicCheckpointIO
            start = time.perf_counter()
            trainer.save_checkpoint(probe)
            saves.append(time.perf_counter() - start)
        ok = True
    finally:
        close_loggers(loggers, ok)
    return statistics.median(saves)


def checkpoint_every(cfg: DictConfig) -> int | None:
    """The default callbacks' periodic save interval in optimizer steps (None when there is none)."""
    return OmegaConf.select(cfg, "callbacks.last_checkpoint.every_n_train_steps")


def lm_model(hidden: int, layers: int, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)  # every contender starts from the same weights
    return SequenceModel(cell="lstm", hidden_size=hidden, num_layers=layers, embedding_dim=64, vocab_size=VOCAB,
                         num_outputs=VOCAB, per_step_targets=True, padding_idx=0)


def lm_windows(batch_size: int, seq_len: int, batches: int, seed: int = 0) -> DataLoader:
    """Shuffled windows of random token ids with next-token targets, loaded as the Shakespeare windows are."""
    ids = torch.randint(1, VOCAB, (batches * batch_size * seq_len + 1,), generator=torch.Generator().manual_seed(seed))
    return DataLoader(TokenWindows(ids, seq_len), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(seed),
                      collate_fn=partial(collate, input_padding=0, per_step=True))


def lm_streams(batch_size: int, seq_len: int, batches: int, seed: int = 0) -> DataLoader:
    """`batch_size` contiguous streams of random ids in chunks of `seq_len` (`Batch.stateful=True`), as Shakespeare's stateful loader."""
    ids = torch.randint(1, VOCAB, (batches * batch_size * seq_len + 1,), generator=torch.Generator().manual_seed(seed))
    return DataLoader(TokenStreams(ids, batch_size, seq_len), batch_size=None)


def lm_task(model: nn.Module, cfg: DictConfig, tbptt_steps: int | None = None) -> SequenceTask:
    """SequenceTask as run.train builds it for a language model."""
    return SequenceTask(model, task="language_modeling", num_outputs=VOCAB, optimizer=instantiate(cfg.optimizer),
                        monitor=cfg.monitor, gradient_clip_val=cfg.trainer.gradient_clip_val,
                        gradient_clip_algorithm=cfg.trainer.gradient_clip_algorithm, tbptt_steps=tbptt_steps,
                        metadata={"config": OmegaConf.to_container(cfg, resolve=True)})
