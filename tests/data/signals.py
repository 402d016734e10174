"""A callback that sends its own process SIGTERM at the first batch of an evaluation stage, as a scheduler's
preemption would: the tests of what a run does when the signal comes after training. It fires only while the
environment has SIGTERM_AT_FIRST_BATCH=1, so the resume (the same config, callback included) runs through."""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback


class SigtermAt(Callback):
    def __init__(self, stage: str) -> None:
        self.stage = stage  # "validate" or "test": the evaluation after fit (not the validation inside it)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if self.stage == "validate" and trainer.state.fn == "validate" and batch_idx == 0 and armed():
            os.kill(os.getpid(), signal.SIGTERM)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if self.stage == "test" and batch_idx == 0 and armed():
            os.kill(os.getpid(), signal.SIGTERM)


def armed() -> bool:
    return os.environ.get("SIGTERM_AT_FIRST_BATCH") == "1"
