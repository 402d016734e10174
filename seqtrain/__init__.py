"""seqtrain: train recurrent sequence models from Hydra configs on Lightning."""

from omegaconf import OmegaConf

__version__ = "0.1.0"


def _shipped(name: str) -> str:
    from seqtrain.shipped import shipped  # imported when a config names a shipped dataset, not at start-up

    return shipped(name)


# `${shipped:NAME}` in data configs: a shipped dataset as a file the generic loaders read.
if not OmegaConf.has_resolver("shipped"):
    OmegaConf.register_new_resolver("shipped", _shipped)
