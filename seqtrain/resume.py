"""Exact resume: the parts of "where the run is" that no library saves.

Lightning saves and restores weights, optimizer, schedulers, loop counters and (through
`ResumableDataLoader.state_dict`) the train loader's position in its epoch. It does not save the
random streams, the recurrent state a stateful run carries from batch to batch, nor what the training
epoch's means (`train/loss`, `train/acc`) have summed so far. This callback saves all three, one entry
per rank (under DDP every rank has its own dropout stream, text streams and sums), and puts each rank's
back after a resume: the sums when training starts, the rest just before the first batch, after
Lightning has built its iterators.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from seqtrain.resume_checks import ResumeError, relocate

log = logging.getLogger(__name__)


class ExactResume(pl.Callback):
    """Saves every rank's random states and carried recurrent state with each checkpoint; restores them."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None  # this rank's state from a checkpoint
        self._stopped_early: str | None = None  # why the checkpoint's run ended, when early stopping ended it

    def state_dict(self) -> dict[str, Any]:
        # Lightning builds the checkpoint on every rank (only rank 0 writes it), so a collective is safe here.
        return {"ranks": gather_per_rank(capture_rng_state())}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        carried = getattr(pl_module, "carried_state", None)
        if carried is not None:
            checkpoint["seqtrain_carried"] = {"epoch": trainer.current_epoch, "ranks": gather_per_rank(carried())}
        sums = getattr(pl_module, "epoch_sums", None)
        if sums is not None:  # empty at an epoch's end: the task resets them before the checkpoints are saved
            checkpoint["seqtrain_epoch_sums"] = {"epoch": trainer.current_epoch, "ranks": gather_per_rank(sums())}

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
        self._stopped_early = stopped_early(checkpoint)
        revalidate_saved_at_validation_end(trainer, checkpoint)
        carried = checkpoint.get("seqtrain_carried")
        sums = checkpoint.get("seqtrain_epoch_sums")  # absent in checkpoints of older seqtrain: the epoch's means restart
        self._pending = {
            "rng": ranks[trainer.global_rank],
            "carried": None if carried is None else (carried["epoch"], carried["ranks"][trainer.global_rank]),
            "sums": None if sums is None else (sums["epoch"], sums["ranks"][trainer.global_rank]),
        }

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A run that early stopping ended is finished, as one that reached its limit: Lightning restores the callback's
        # counters but not its decision, so the resumed run would train on until patience ran out once more.
        if self._stopped_early is not None:
            log.info("resume: %s; it is finished, so nothing more is trained and the run is evaluated again", self._stopped_early)
            trainer.should_stop = True
        # The epoch's sums so far, only into the epoch they were saved in (a finished epoch's are reset).
        if self._pending is not None and self._pending.get("sums") is not None:
            epoch, sums = self._pending.pop("sums")
            if epoch == trainer.current_epoch:
                pl_module.restore_epoch_sums(sums)

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


def stopped_early(checkpoint: dict[str, Any]) -> str | None:
    """Why early stopping ended the checkpoint's run (its `EarlyStopping` state), or None when it did not."""
    for key, state in checkpoint.get("callbacks", {}).items():
        if not key.startswith("EarlyStopping") or not isinstance(state, dict):
            continue
        # `stopping_reason` (Lightning >= 2.6; 0: not stopped); before it, a stop left `stopped_epoch` > 0.
        stopped = state["stopping_reason"] != 0 if "stopping_reason" in state else state.get("stopped_epoch", 0) > 0
        if stopped:
            why = state.get("stopping_reason_message") or f"{key}: no improvement for {state.get('patience')} checks"
            return f"the run was ended by early stopping at epoch {state.get('stopped_epoch')} ({why.strip()})"
    return None


def revalidate_saved_at_validation_end(trainer: pl.Trainer, checkpoint: dict[str, Any]) -> None:
    """A `last.ckpt` written when an epoch's own validation ended (seqtrain's `LastCheckpoint` saved there until it
    moved that save to the epoch's end) resumes by running that validation again.

    Lightning resumes such a state by skipping the validation, as if everything that acts on it had acted. Early
    stopping and the best-model checkpoint act at the epoch's end (after the save), so the resumed run stopped on the
    missing `val/loss`. Marked as a validation stopped before its first batch, Lightning runs it once more: the same
    weights and data, so the same numbers, and then the epoch's end as the run never stopped would have had it.
    """
    if not any(getattr(c, "_check_on_train_epoch_end", False) for c in trainer.callbacks):
        return  # nothing waits for the epoch's end (checks after validation already ran before the save)
    fit = checkpoint.get("loops", {}).get("fit_loop")
    if not fit:
        return
    epochs, batches = fit["epoch_progress"]["total"], fit["epoch_loop.batch_progress"]
    val = fit["epoch_loop.val_loop.batch_progress"]
    in_last_epoch = epochs["started"] == epochs["ready"] and epochs["processed"] == epochs["started"] - 1
    after_last_batch = batches["is_last_batch"] and batches["total"]["completed"] == batches["total"]["processed"] == batches["total"]["started"]
    validated = val["total"]["completed"] == val["total"]["started"] > 0
    if not (in_last_epoch and after_last_batch and validated):
        return
    for key in ("total", "current"):
        val[key] = {"ready": 1, "started": 1, "processed": 0, "completed": 0}
    log.info("resume: last.ckpt was written when epoch %d's validation ended, before early stopping and the best "
             "checkpoint acted on it (seqtrain's save point until now): that validation runs again, on the same weights",
             checkpoint.get("epoch", 0) + 1)


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
