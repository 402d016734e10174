"""No validation split (`data.val_fraction=0`, data=table) and the table recipe's rule for small numeric classification
sets (`recipe.small_classification`: every row trains, a cosine schedule, the checkpoint by train/loss)."""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import run_train
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqtrain.config import ConfigError, check_options
from seqtrain.data import TableDataModule
from seqtrain.recipe import describe_recipe, settle_small_set, small_set_settings

sys.path.insert(0, str(Path(__file__).parent / "data"))
from user_files import write_csv  # noqa: E402

Compose = Callable[..., DictConfig]
# The facts that matter here: two classes, as `shapes` writes them.
NUMBERS = SimpleNamespace(vocab_size=None, task="classification", per_step=False, num_outputs=2)


# 40 training rows in the small-set rule's batches of 8 (recipe.small_classification's data.batch_size).
STEPS_PER_EPOCH = 5


def shapes(n: int, seed: int = 0, length: int = 12) -> list[dict]:
    """Rising (label up) or falling (down) noisy series, as a user's CSV holds them."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "up" if i % 2 else "down"
        slope = 1.0 if label == "up" else -1.0
        values = [slope * t / length + rng.gauss(0, 0.2) for t in range(length)]
        rows.append({"sequence": " ".join(f"{v:.3f}" for v in values), "label": label})
    return rows


def test_val_fraction_0_keeps_every_row_for_training(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", shapes(40))
    test = write_csv(tmp_path / "test.csv", shapes(10, seed=1))
    carved = TableDataModule(train_files=str(train), test_files=str(test), val_fraction=0.2)
    carved.setup("fit")
    assert (len(carved.split("train")), len(carved.split("val"))) == (32, 8)
    whole = TableDataModule(train_files=str(train), test_files=str(test), val_fraction=0)
    whole.setup("fit")
    assert (len(whole.split("train")), len(whole.split("val")), len(whole.split("test"))) == (40, 0, 10)
    # Every row of the file, in its order (labels sorted: down 0, up 1).
    labels = [int(target) for _, target in whole.split("train")]
    assert labels == [1 if row["label"] == "up" else 0 for row in shapes(40)]
    # A test split carved from the same file still is; only the validation one is gone.
    no_test = TableDataModule(train_files=str(train), val_fraction=0, test_fraction=0.25)
    no_test.setup("fit")
    assert (len(no_test.split("train")), len(no_test.split("val")), len(no_test.split("test"))) == (30, 0, 10)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_val_fraction_outside_0_to_1_is_still_refused(fraction: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="val_fraction must be in \\(0, 1\\), or 0 for no validation split"):
        TableDataModule(train_files=str(write_csv(tmp_path / "t.csv", shapes(20))), val_fraction=fraction)


def test_no_validation_split_is_refused_where_a_validation_metric_would_pick(compose_train: Compose, tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", shapes(20))
    base = ("data=table", f"data.train_files={train}", "recipe=none", "data.val_fraction=0")
    with pytest.raises(ConfigError) as refused:
        check_options(compose_train(*base))
    assert "data.val_fraction=0 holds out no validation rows" in str(refused.value)
    assert "monitor=val/loss" in str(refused.value) and "monitor=train/loss" in str(refused.value)
    with pytest.raises(ConfigError, match="callbacks.early_stopping.monitor=val/loss"):
        check_options(compose_train("data=table", f"data.train_files={train}", "data.val_fraction=0", "monitor=train/loss",
                                    "callbacks.early_stopping.monitor=val/loss"))
    check_options(compose_train(*base, "monitor=train/loss"))  # recipe=none has no early stopping
    check_options(compose_train(*base, f"data.val_files={train}"))  # a validation split of its own: val_fraction unused
    # Other loaders need their validation split.
    with pytest.raises(ConfigError, match="data.val_fraction=0 \\(no validation split\\) is for data=table"):
        check_options(compose_train("data=text", "data.val_fraction=0", "monitor=train/loss"))


def test_the_small_set_rule_applies_to_small_numeric_classification_only(compose_train: Compose) -> None:
    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert "fewer than 1000 training rows" in describe_recipe(cfg)
    for facts, rows in [(NUMBERS, 1000), (SimpleNamespace(vocab_size=50, task="classification", per_step=False), 40),
                        (SimpleNamespace(vocab_size=None, task="regression", per_step=False), 40),
                        (SimpleNamespace(vocab_size=None, task="tagging", per_step=True), 40), (NUMBERS, None)]:
        assert settle_small_set(cfg, config, facts, rows, set()) is None
    assert cfg.data.val_fraction == 0.2 and "early_stopping" in cfg.callbacks
    line = settle_small_set(cfg, config, NUMBERS, 999, set())
    assert line.startswith("recipe.small_classification: data.val_fraction=0 monitor=train/loss monitor_mode=min "
                           "trainer.max_epochs=150 scheduler=")
    assert line.endswith("(999 rows to fit on (training and validation) of real-valued sequences with one label each, fewer "
                         "than recipe.small_classification.below_rows=1000; 2 classes, fewer than "
                         "recipe.small_classification.multiclass.min_classes=3, so not task.label_smoothing=0.1)")
    assert "label_smoothing=0.1 " not in line and cfg.task.label_smoothing == config["task"]["label_smoothing"] == 0
    assert cfg.data.val_fraction == config["data"]["val_fraction"] == 0
    assert cfg.monitor == config["callbacks"]["model_checkpoint"]["monitor"] == "train/loss"
    assert "early_stopping" not in cfg.callbacks and "early_stopping" not in config["callbacks"]
    assert cfg.model.patch_shift is True and config["model"]["patch_shift"] is True
    assert " model.members=3 " in line and cfg.model.members == config["model"]["members"] == 3  # round thirty-eight
    scheduler = instantiate(cfg.scheduler.scheduler, _convert_="all")(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0))
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and scheduler.T_max == 150
    assert config["scheduler"]["scheduler"]["T_max"] == 150 and config["scheduler"]["interval"] == "epoch"
    check_options(cfg)  # what it brought passes the checks a command line would


@pytest.mark.parametrize("classes", [3, 52])
def test_the_small_set_rule_smooths_labels_from_three_classes_up(compose_train: Compose, classes: int) -> None:
    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert "from 3 classes up also task.label_smoothing=0.1" in describe_recipe(cfg)
    line = settle_small_set(cfg, config, SimpleNamespace(**{**vars(NUMBERS), "num_outputs": classes}), 40, set())
    assert " task.label_smoothing=0.1 (40 rows" in line
    assert line.endswith(f"; task.label_smoothing for {classes} classes, at least "
                         "recipe.small_classification.multiclass.min_classes=3)")
    # What run.py builds the task from: the smoothed loss, in the config the checkpoints keep.
    assert cfg.task.label_smoothing == config["task"]["label_smoothing"] == 0.1
    check_options(cfg)
    # The command line wins, 0 included.
    cfg = compose_train("data=table", "task.label_smoothing=0")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = settle_small_set(cfg, config, SimpleNamespace(**{**vars(NUMBERS), "num_outputs": classes}), 40,
                            {"task.label_smoothing"})
    assert line.endswith("; kept from the command line: task.label_smoothing")
    assert cfg.task.label_smoothing == config["task"]["label_smoothing"] == 0
    # A threshold of 2 smooths two-class sets too.
    cfg = compose_train("data=table", "recipe.small_classification.multiclass.min_classes=2")
    settle_small_set(cfg, OmegaConf.to_container(cfg, resolve=True), NUMBERS, 40, set())
    assert cfg.task.label_smoothing == 0.1


@pytest.mark.parametrize("value", [1, 0, "three", True, 2.5])
def test_a_bad_class_threshold_is_refused_before_the_data_is_read(compose_train: Compose, value: object) -> None:
    with pytest.raises(ConfigError, match="recipe.small_classification.multiclass.min_classes=.*must be an integer >= 2"):
        check_options(compose_train("data=table", f"recipe.small_classification.multiclass.min_classes={value}"))


def test_the_command_line_wins_over_the_small_set_rule(compose_train: Compose) -> None:
    # Saying how to validate keeps the carve-out, and the run says why.
    for given in ("monitor=val/acc", "data.val_fraction=0.3"):
        cfg = compose_train("data=table", given)
        line = settle_small_set(cfg, OmegaConf.to_container(cfg, resolve=True), NUMBERS, 40, {given.split("=")[0]})
        assert line.startswith("recipe.small_classification not applied (40 rows") and line.endswith(f"{given} on the command line")
        assert "early_stopping" in cfg.callbacks and cfg.data.val_fraction != 0
    cfg = compose_train("data=table", "data.val_files=v.csv")
    assert settle_small_set(cfg, {}, NUMBERS, 40, set()).endswith("data.val_files gives the validation split")
    swept = compose_train("data=table")
    assert "hparams_search=mine optimizes a validation metric" in settle_small_set(swept, {}, NUMBERS, 40, set(), "mine")
    # Other keys win one by one: the schedule follows the epochs given.
    cfg = compose_train("data=table", "trainer.max_epochs=30")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = settle_small_set(cfg, config, NUMBERS, 40, {"trainer.max_epochs"})
    assert line.endswith("; kept from the command line: trainer.max_epochs") and "trainer.max_epochs=150" not in line
    assert cfg.trainer.max_epochs == 30 and config["scheduler"]["scheduler"]["T_max"] == 30 and cfg.data.val_fraction == 0
    assert small_set_settings(compose_train("data=table", "recipe=none")) == {}
    # ... but no limit leaves the rule's cosine schedule nothing to span: refused naming the key given (it was an
    # error about scheduler.scheduler.T_max=-1, a key the user never set).
    from seqtrain.config import ConfigError

    cfg = compose_train("data=table", "trainer.max_epochs=-1")
    with pytest.raises(ConfigError, match=r"trainer.max_epochs=-1 \(no limit\) on the command line, but recipe.small_classification"):
        settle_small_set(cfg, OmegaConf.to_container(cfg, resolve=True), NUMBERS, 40, {"trainer.max_epochs"})


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_a_small_numeric_set_trains_on_every_row_and_tests_the_lowest_training_loss(tmp_path: Path) -> None:
    """End to end with the defaults: the run says what the rule set; 40 rows in the rule's batches of 8 are 5 steps an
    epoch (a 20 % carve-out would leave 32 rows: 4 steps); no validation; the tested checkpoint is the epoch whose
    train/loss is the lowest in the run's own log."""
    train = write_csv(tmp_path / "train.csv", shapes(40))
    test = write_csv(tmp_path / "test.csv", shapes(20, seed=1))
    run_dir = tmp_path / "run"
    proc = run_train("data=table", f"data.train_files={train}", f"data.test_files={test}", "trainer.max_epochs=4",
                     "logger=csv", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "recipe.small_classification: data.val_fraction=0 monitor=train/loss" in out
    assert "kept from the command line: trainer.max_epochs" in out
    assert "data: no validation split (data.val_fraction=0): every training row trains, for all trainer.max_epochs=4 epochs" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["val"] == {} and 0.0 <= metrics["test"]["test/acc"] <= 1.0
    rows = read_metrics(run_dir / "csv" / "metrics.csv")
    assert not any(key.startswith("val/") and row[key] for row in rows for key in row)
    epochs = {int(row["epoch"]): float(row["train/loss"]) for row in rows if row.get("train/loss")}  # once per epoch
    assert sorted(epochs) == [0, 1, 2, 3]
    best = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    assert best["global_step"] == STEPS_PER_EPOCH * (min(epochs, key=epochs.get) + 1)
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert last["global_step"] == STEPS_PER_EPOCH * 4 and last["seqtrain"]["config"]["data"]["batch_size"] == 8
    assert last["seqtrain"]["config"]["data"]["val_fraction"] == 0 and "early_stopping" not in last["seqtrain"]["config"]["callbacks"]
    assert int(last["averaging_state"]["n_averaged"]) == 2  # the weights of epochs 2 and 3 (the second half of 4), averaged
    # Resumed for more epochs, it continues with the settings its run used (the recipe's general ones would be a change).
    proc = run_train("data=table", f"data.train_files={train}", f"data.test_files={test}", "trainer.max_epochs=5",
                     "logger=csv", f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("resume: callbacks.early_stopping=None callbacks.weight_average={_target_: seqtrain.weight_average.WeightAverage, "
            "start: 0.5} data.batch_size=8 data.val_fraction=0 model.members=3 model.patch_shift=True model.patch_spectrum=True "
            "monitor=train/loss") in proc.stdout + proc.stderr
    # The schedule is the run's: over 4 epochs, so the fifth is past its end, and the run says what that does.
    assert "the cosine schedule's T_max=4 (its run's) is below trainer.max_epochs=5: after epoch 4 the learning rate rises again" in proc.stdout + proc.stderr
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["global_step"] == STEPS_PER_EPOCH * 5
    # Evaluating the split the run does not have is an error that says so (it was an IndexError from an empty result).
    from seqtrain.errors import DataError
    from seqtrain.run import evaluate

    with pytest.raises(DataError, match="the run has no val split to measure"):
        evaluate(run_dir, split="val")
    assert set(evaluate(run_dir, split="test")) >= {"test/loss", "test/acc"}


def test_one_row_per_class_trains_where_no_validation_is_needed_and_is_refused_where_it_is(tmp_path: Path) -> None:
    """A training file with one row per class (a hold-out of PigCVP: 52 pigs, one series each): the first read's 20 %
    carve-out can only draw rows alone in their class, so it is left empty; the small-set rule then trains without
    validating. A run that validates is refused with the reason, naming the split, before it trains."""
    rows = [{"sequence": " ".join(f"{(c + 1) * (t % 3):g}" for t in range(8)), "label": f"pig{c}"} for c in range(12)]
    train, test = write_csv(tmp_path / "train.csv", rows), write_csv(tmp_path / "test.csv", rows)
    data = ("data=table", f"data.train_files={train}", f"data.test_files={test}", "trainer.max_epochs=2")
    proc = run_train(*data, f"hydra.run.dir={tmp_path / 'rule'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "the val split is empty: each of its 2 drawn rows was the only row of its class" in out
    assert "recipe.small_classification: data.val_fraction=0" in out
    assert json.loads((tmp_path / "rule" / "metrics.json").read_text())["status"] == "completed"
    proc = run_train(*data, "recipe.small_classification.below_rows=0", f"hydra.run.dir={tmp_path / 'validates'}")
    assert proc.returncode != 0
    assert "the val split is empty: each of its 2 drawn rows was the only row of its class" in proc.stderr
    assert "12 classes in 12 rows" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "validates" / "checkpoints").exists()


@pytest.mark.parametrize("value", ["abc", "null", "true", "-5", "2.5"])
def test_a_bad_threshold_of_the_recipe_rules_is_refused_before_data_is_read(compose_train: Compose, value: str) -> None:
    """Before: `abc` or `null` ended the run with a comparison's TypeError once the data was read; `true` ran as 1."""
    with pytest.raises(ConfigError, match="recipe.small_classification.below_rows=.*must be an integer >= 0"):
        check_options(compose_train("data=table", f"recipe.small_classification.below_rows={value}"))
    with pytest.raises(ConfigError, match="recipe.text_by_spacing.spaced_share=.*must be a number in \\[0, 1\\]"):
        check_options(compose_train("data=table", f"recipe.text_by_spacing.spaced_share={'1.5' if value == '2.5' else value}"))
    check_options(compose_train("data=table", "recipe.small_classification.below_rows=0",
                                "recipe.text_by_spacing.spaced_share=0.1"))  # 0: the rule is off; legal


@pytest.mark.slow  # a kill and resume, like the resume matrix's (30 s)
def test_a_run_without_validation_saves_last_ckpt_at_each_epoch_end_and_resumes_exactly(tmp_path: Path) -> None:
    """No validation, so no save after one: `last.ckpt` is written at each epoch end instead (before, only every 200
    steps and at the end, so a run killed in its first 200 steps left nothing to resume). Killed (SIGKILL) at an
    epoch's end inside the rule's weight averaging (the second half of its 6 epochs) and resumed, it ends with the
    weights, trained and averaged, of a run that was never stopped."""
    import os
    import signal
    import subprocess
    import time

    train, test = write_csv(tmp_path / "train.csv", shapes(40)), write_csv(tmp_path / "test.csv", shapes(10, seed=1))
    args = ["data=table", f"data.train_files={train}", f"data.test_files={test}", "trainer.max_epochs=6", "logger=none"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "HF_DATASETS_OFFLINE": "1"}
    assert run_train(*args, f"hydra.run.dir={tmp_path / 'whole'}").returncode == 0
    stopped = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parents[1] / "train.py"), *args, f"hydra.run.dir={stopped}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = stopped / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        try:
            if torch.load(last, weights_only=True, map_location="cpu")["global_step"] >= 4 * STEPS_PER_EPOCH:  # averaging
                proc.send_signal(signal.SIGKILL)
                break
        except Exception:  # noqa: BLE001 - not written yet, or being replaced
            pass
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    killed = torch.load(last, weights_only=True, map_location="cpu")
    assert killed["global_step"] in (4 * STEPS_PER_EPOCH, 5 * STEPS_PER_EPOCH)  # an epoch's end, one epoch or two to go
    assert int(killed["averaging_state"]["n_averaged"]) == killed["global_step"] // STEPS_PER_EPOCH - 3  # from epoch 3 on
    assert run_train(*args, f"hydra.run.dir={stopped}", "ckpt_path=last").returncode == 0
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    resumed = torch.load(last, weights_only=True, map_location="cpu")
    assert resumed["global_step"] == whole["global_step"] == STEPS_PER_EPOCH * 6
    assert int(resumed["averaging_state"]["n_averaged"]) == int(whole["averaging_state"]["n_averaged"]) == 3
    for weights in ("state_dict", "current_model_state"):  # the average, and the weights trained
        for key, value in whole[weights].items():
            assert torch.equal(value, resumed[weights][key]), (weights, key)


def test_a_smoke_run_keeps_its_one_epoch_under_the_small_set_rule(tmp_path: Path) -> None:
    """`debug=smoke` is chosen on the command line, so its keys count as given there: the rule does not replace its
    one epoch with 150 (it did: a smoke run of a small set trained 150 epochs), and still applies the rest."""
    train = write_csv(tmp_path / "train.csv", shapes(40))
    run_dir = tmp_path / "run"
    proc = run_train("data=table", f"data.train_files={train}", "debug=smoke", "logger=csv", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    line = next(line for line in out.splitlines() if "recipe.small_classification: data.val_fraction=0" in line)
    assert "trainer.max_epochs=150" not in line and "kept from the command line: trainer.max_epochs" in line
    epochs = {int(row["epoch"]) for row in read_metrics(run_dir / "csv" / "metrics.csv") if row.get("train/loss")}
    assert epochs == {0}
