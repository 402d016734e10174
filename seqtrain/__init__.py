"""seqtrain: train recurrent sequence models from Hydra configs on Lightning."""

__version__ = "0.1.0"
