"""Train a sequence model: `python train.py model=gru data=vowels trainer.max_epochs=20`."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    from seqtrain.run import train  # imported here so `--help` and `--cfg job` stay fast

    return train(cfg)


if __name__ == "__main__":
    main()
