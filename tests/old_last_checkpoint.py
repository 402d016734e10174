"""`LastCheckpoint` as seqtrain had it before its epoch-end save moved: written when every validation ended, the epoch's
own too (tests/test_resume_matrix.py resumes such a file)."""

from seqtrain.last_checkpoint import LastCheckpoint


class ValidationEndLastCheckpoint(LastCheckpoint):
    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self.save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not sum(trainer.num_val_batches):
            self.save(trainer)
