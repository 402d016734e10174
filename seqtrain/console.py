"""What a run prints: seqtrain's own lines (recipe, progress, results, paths), not its dependencies' noise.

Dropped: adverts in Lightning's info log ("💡 Tip: … litlogger / litmodels"), deprecation warnings
that a dependency raises about its own use of another (e.g. Lightning's pytree helper on torch
2.13), and Lightning's warning about `SequenceTask.transfer_batch_to_device`, which seqtrain
overrides on purpose. Deprecations attributed to seqtrain's own code still show.
"""

from __future__ import annotations

import logging
import warnings

# Modules whose internal deprecation warnings are not the user's to act on (matched from the start of the module name).
DEPENDENCIES = r"(lightning|lightning_fabric|pytorch_lightning|lightning_utilities|torch|torchmetrics|wandb|datasets|hydra|omegaconf|optuna|pydantic|pyarrow)(\.|$)"
ADVERT = "💡 Tip:"


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(ADVERT)


def quiet_dependencies() -> None:
    """Install the filters; safe to call more than once (each job of a multirun calls it)."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=DEPENDENCIES)
    warnings.filterwarnings("ignore", message="You have overridden `transfer_batch_to_device`", category=UserWarning)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
