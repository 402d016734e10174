"""`LastCheckpoint` killed the moment its first trained state lands on disk, as a SIGKILL right after the write would
(tests/test_resume_matrix.py): what that state has trained must already be in the run's log. Once per run directory
(a marker file beside the checkpoint), so the resumed run goes on."""

import os

from seqtrain.last_checkpoint import LastCheckpoint


class KilledAfterFirstWrite(LastCheckpoint):
    def save(self, trainer) -> None:
        super().save(trainer)
        self._die_once(trainer.global_step)

    def write_pending(self, trainer) -> None:
        step = None if self._pending is None else self._pending["global_step"]
        super().write_pending(trainer)
        if step is not None:
            self._die_once(step)

    def _die_once(self, step: int) -> None:
        marker = self.dirpath / "killed_once"
        if step > 0 and not marker.exists():
            marker.touch()
            os._exit(137)  # no cleanup, no flush: as SIGKILL
