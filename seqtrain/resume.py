"""Exact resume: the parts of "where the run is" that no library saves.

Lightning saves and restores weights, optimizer, schedulers, loop counters and (through
`ResumableDataLoader.state_dict`) the train loader's position in its epoch. It does not save the
random streams, nor the recurrent state a stateful run carries from batch to batch. This callback
saves both, one entry per rank (under DDP every rank has its own dropout stream and its own text
streams), and puts each rank's back just before its first batch after a resume, after Lightning has
built its iterators.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from seqtrain.resume_checks import ResumeError, relocate


class ExactResume(pl.Callback):
    """Saves every rank's random states and carried recurrent state with each checkpoint; restores them."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None  # this rank's state from a checkpoint

    def state_dict(self) -> dict[str, Any]:
        # Lightning builds the checkpoint on every rank (only rank 0 writes it), so a collective is safe here.
        return {"ranks": gather_per_rank(capture_rng_state())}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        carried = getattr(pl_module, "carried_state", None)
        if carried is not None:
            checkpoint["seqtrain_carried"] = {"epoch": trainer.current_epoch, "ranks": gather_per_rank(carried())}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        follow_moved_run(trainer, checkpoint)
        state = checkpoint.get("callbacks", {}).get(self.state_key)
        if state is None:
            return
        if "ranks" not in state:
            raise ResumeError(
                "the checkpoint was written by an older seqtrain that saved one rank's random state only: "
                "it cannot be resumed exactly; evaluate it, or start a new run from it in a new directory"
            )
        ranks = state["ranks"]
        if len(ranks) != trainer.world_size:
            raise ResumeError(
                f"the checkpoint was written by {len(ranks)} processes and this run has {trainer.world_size}: "
                "an exact resume needs the same trainer.devices and trainer.num_nodes"
            )
        carried = checkpoint.get("seqtrain_carried")
        self._pending = {
            "rng": ranks[trainer.global_rank],
            "carried": None if carried is None else (carried["epoch"], carried["ranks"][trainer.global_rank]),
        }

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        # Restored here rather than at load time: by now Lightning has built its iterators.
        pending, self._pending = self._pending, None
        if pending is None:
            return
        restore_rng_state(pending["rng"])
        if pending["carried"] is not None:
            epoch, state = pending["carried"]
            # Only within the epoch it was saved in: every epoch starts from a zero state.
            if epoch == trainer.current_epoch and state is not None:
                pl_module.restore_carried_state(move_to(state, pl_module.device))


def follow_moved_run(trainer: pl.Trainer, checkpoint: dict[str, Any]) -> None:
    """Point the saved paths of the checkpoint callbacks at their folder's new place, when the run directory moved.

    `seqtrain.resume_checks` lets a changed `dirpath` through only when the run directory was moved or copied
    whole. Lightning's `ModelCheckpoint` would then drop its best score and best-k list (it reloads them only for
    an unchanged `dirpath`), and the first validation after the resume would replace `best.ckpt`, better or not.
    Called before any callback's state is loaded (Lightning calls every `on_load_checkpoint` first).
    """
    callbacks = {callback.state_key: callback for callback in trainer.callbacks}
    for key, state in checkpoint.get("callbacks", {}).items():
        new = getattr(callbacks.get(key), "dirpath", None)
        old = state.get("dirpath") if isinstance(state, dict) else None
        if old and new and Path(old) != Path(new):
            checkpoint["callbacks"][key] = relocate(state, Path(old), Path(new))


def gather_per_rank(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (tensors moved to the CPU); ``[obj]`` without DDP."""
    obj = move_to(obj, torch.device("cpu"))
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [obj]
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, obj)
    return gathered


def move_to(obj: Any, device: torch.device) -> Any:
    """A tensor, or a tuple/list/dict of them, on ``device``; anything else unchanged."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple | list):
        return type(obj)(move_to(x, device) for x in obj)
    if isinstance(obj, dict):
        return {k: move_to(v, device) for k, v in obj.items()}
    return obj


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) random states, as tensors and plain data."""
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
