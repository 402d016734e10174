"""Lightning's `WandbLogger` without the `anonymous` key it always passes to `wandb.init`.

wandb 0.31 deprecated that setting and warns ("The anonymous setting has no effect…") whenever the
key is given, even as None; Lightning 2.6 gives it always. Everything else is Lightning's.
"""

from __future__ import annotations

import functools
from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    @functools.wraps(LightningWandbLogger.__init__)  # Lightning's signature, for the config checks and `--help`
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
