"""Train a sequence model: `python train.py model=gru data=vowels trainer.max_epochs=20`."""

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from seqtrain.run import train, train_in_sweep  # imported here so `--help` and `--cfg job` stay fast

    # A single run fails loudly (traceback, non-zero exit); a sweep job records its failure and the sweep goes on.
    return train_in_sweep(cfg) if HydraConfig.get().mode == RunMode.MULTIRUN else train(cfg)


if __name__ == "__main__":
    main()
