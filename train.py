"""Train a sequence model: `python train.py model=gru data=vowels trainer.max_epochs=20`."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from seqtrain.errors import SeqtrainError
    from seqtrain.run import train, train_in_sweep  # imported here so `--help` and `--cfg job` stay fast

    # A sweep job records its failure and the sweep goes on.
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return train_in_sweep(cfg)
    # A single run fails with a non-zero exit: a refusal or failure seqtrain explains prints its message
    # alone (a traceback would only show seqtrain's code), anything unexpected its traceback.
    try:
        return train(cfg)
    except SeqtrainError as error:
        print(f"train.py: error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    from pathlib import Path

    from seqtrain.null_groups import NullGroupError, rewrite_null_groups

    try:  # `experiment=null`, which Hydra 1.3 refuses for a config group: use what it means
        sys.argv[1:] = rewrite_null_groups(sys.argv[1:], Path(__file__).parent / "configs")
    except NullGroupError as e:
        sys.exit(f"train.py: error: {e}")
    from seqtrain.checks.arguments import folder_problem, forecast_split_files

    if problem := forecast_split_files(sys.argv[1:]):  # before Hydra, whose refusal names a fix that fails too
        sys.exit(f"train.py: error: {problem}")
    for argument in sys.argv[1:]:  # Hydra makes these folders before any check runs (a file there: its traceback)
        key, _, folder = argument.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and (problem := folder_problem(folder)):
            sys.exit(f"train.py: error: {key}={folder!r}: {problem}; name a folder the run can write")
    main()
    if "seqtrain.run" in sys.modules and (failed := sys.modules["seqtrain.run"].every_job_failed()):  # a sweep ran here
        sys.exit(f"train.py: error: {failed}")
