"""The base of the errors whose message says all a user needs: what is wrong, and where."""


class SeqtrainError(Exception):
    """A refusal or failure that seqtrain explains in its message (a config key, a data file's row and
    column, a checkpoint, a run directory, a diverged loss). `train.py` prints the message alone, without
    a traceback, and exits with status 1; a traceback would only show seqtrain's own code."""


class CheckpointError(SeqtrainError, RuntimeError):
    """A checkpoint that is missing, corrupt, unsafe or not seqtrain's."""


class DataError(SeqtrainError, ValueError):
    """Data that cannot be used as configured; the message names the file, the row or line, and the column."""
