"""Lightning's `WandbLogger` without the `anonymous` key it always passes to `wandb.init`, and without a prompt.

wandb 0.31 deprecated that setting and warns ("The anonymous setting has no effect…") whenever the
key is given, even as None; Lightning 2.6 gives it always. An online run without credentials is
refused when the logger is built (the config checks build it before any data is read): wandb asked
for an account on a terminal mid-run, after the run directory was written, and waited there.
Everything else is Lightning's.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    @functools.wraps(LightningWandbLogger.__init__)  # Lightning's signature, for the config checks and `--help`
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
        if self._experiment is None and self.mode() == "online" and not has_credentials(self._wandb_init.get("settings")):
            raise ValueError(
                "mode is online, but no W&B API key was found (WANDB_API_KEY, ~/.netrc or wandb's settings): "
                "wandb would stop the run to ask for one; run `wandb login` first, or log offline (logger.wandb.mode="
                "offline; upload later with `wandb sync`)")

    def mode(self) -> str:
        """How wandb.init will run: `offline=true`, then the `mode` key, the settings' mode, `WANDB_MODE`, online."""
        if self._offline:
            return "offline"
        settings = self._wandb_init.get("settings")
        mode = self._wandb_init.get("mode") or getattr(settings, "mode", None) or os.environ.get("WANDB_MODE") or "online"
        return "online" if mode in ("online", "run") else str(mode)


def has_credentials(settings: Any = None) -> bool:
    """Whether wandb finds an API key without asking (environment, .netrc, its settings); True where this wandb has no
    such look-up (then it is wandb's to judge)."""
    try:
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib.wbauth import authenticate
    except ImportError:
        return True
    if getattr(settings, "api_key", None):
        return True
    host = getattr(settings, "base_url", None) or wandb_setup.singleton().settings.base_url
    try:
        auth = authenticate.authenticate_session(host=host, source="seqtrain", prompt=False, verify=False,
                                                 update_session=False)
    except Exception:  # an invalid key or token file: wandb.init names it itself  # noqa: BLE001
        return True
    return auth is not None
