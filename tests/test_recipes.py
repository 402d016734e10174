"""Each data config brings its own recipe (configs/recipe/<data>.yaml) and nothing of another's; lr_find."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from conftest import CONFIG_DIR, config_options, run_train
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqtrain.config import ConfigError, check_options, check_targets
from seqtrain.lr_find import check_lr_find
from seqtrain.facts import DataFacts
from seqtrain.recipe import auto_patch_size, describe_recipe

sys.path.insert(0, str(Path(__file__).parent / "data"))
from user_files import sentiment_rows, write_csv  # noqa: E402

Compose = Callable[..., DictConfig]
GROUPS = ("data", "model", "optimizer", "trainer", "callbacks", "scheduler")


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value for every leaf of a nested dict."""
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def resolved(cfg: DictConfig) -> dict[str, Any]:
    return leaves({g: OmegaConf.to_container(cfg[g], resolve=True) for g in GROUPS})


def recipe_leaves(path: Path) -> dict[str, Any]:
    """A recipe file's keys, over those of the recipes its defaults list names (`data=vowels` takes `table`'s)."""
    node = yaml.safe_load(path.read_text())
    merged: dict[str, Any] = {}
    for entry in node.pop("defaults", []):
        if entry != "_self_":
            merged |= recipe_leaves(path.parent / f"{entry}.yaml")
    return merged | leaves(node)


@pytest.mark.parametrize("data", config_options("data"))
def test_each_data_gets_its_own_recipe_and_nothing_else(compose_train: Compose, data: str) -> None:
    """`data=X` = the groups' defaults + configs/recipe/X.yaml's keys; no other recipe's values leak in."""
    path = CONFIG_DIR / "recipe" / f"{data}.yaml"
    assert path.is_file(), f"shipped data config {data!r} has no recipe"
    own = {k: v for k, v in recipe_leaves(path).items() if k.split(".")[0] in GROUPS}
    cfg = resolved(compose_train(f"data={data}"))
    bare = resolved(compose_train(f"data={data}", "recipe=none"))
    assert compose_train(f"data={data}").recipe.name == data
    for key, value in cfg.items():
        expected = own.get(key, bare.get(key))
        if isinstance(expected, str) and "${" in expected:  # an interpolation: its resolved value
            expected = value
        assert value == expected, f"data={data}: {key}={value!r}, expected {expected!r}"
    assert set(cfg) == set(bare) | {k for k in own if not isinstance(own[k], dict)}


def test_the_language_model_recipe_does_not_leak_into_a_table(compose_train: Compose) -> None:
    """The issue's first row: `data=table` trained one epoch of the LM's LSTM-256 at the LM's lr."""
    default, table = compose_train(), compose_train("data=table")
    assert default.trainer.max_epochs == 1 and default.model.hidden_size == 256
    assert table.trainer.max_epochs > 1 and table.model.hidden_size != 256
    assert "early_stopping" in table.callbacks and "early_stopping" not in default.callbacks


def test_an_experiment_applies_over_its_datas_recipe(compose_train: Compose) -> None:
    cfg = compose_train("experiment=vowels_bigru")
    assert cfg.recipe.name == "vowels" and cfg.model.cell == "gru"
    recipe = recipe_leaves(CONFIG_DIR / "recipe" / "vowels.yaml")  # the table defaults (round thirty-eight)
    assert (cfg.model.hidden_size, cfg.model.pooling, cfg.model.bidirectional) == (recipe["model.hidden_size"], "max", True)
    assert recipe["model.hidden_size"] != OmegaConf.load(CONFIG_DIR / "model" / "rnn.yaml").hidden_size  # the recipe's
    assert compose_train("experiment=vowels_bigru", "model.hidden_size=8").model.hidden_size == 8  # the command line last


def test_the_table_recipe_sets_the_cell_by_key_so_model_cell_brings_another_back(compose_train: Compose) -> None:
    """The recipe's GRU is a key (an interpolated group cannot override a group): `model.cell=...` is the way out."""
    assert compose_train("data=table").model.cell == "gru"
    assert compose_train("data=table", "model.cell=lstm").model.cell == "lstm"
    assert compose_train("data=table", "recipe=none").model.cell == "lstm"  # the groups' own default


@pytest.mark.parametrize(("task", "per_step", "pooling"), [("classification", False, "max"), ("regression", False, "max"), ("tagging", True, None)])
def test_table_recipe_pools_only_one_target_per_sequence(compose_train: Compose, task: str, per_step: bool, pooling: str | None) -> None:
    cfg = compose_train("data=table", f"data.task={task}")
    assert cfg.model.pooling == pooling
    check_options(cfg)
    check_targets(cfg)
    # The recipe's `auto` settles once the data is read (seqtrain.run.settle_patch_size): 1 for these token inputs.
    assert cfg.model.patch_size == "auto"
    size, _ = auto_patch_size(DataFacts(task, per_step, 3, vocab_size=7, padding_idx=0), [5, 3], cfg.recipe.patch_steps)
    model = instantiate(cfg.model, vocab_size=7, padding_idx=0, num_outputs=3, per_step_targets=per_step, patch_size=size)
    preds, _ = model(torch.randint(1, 7, (2, 5)), torch.tensor([5, 3]))
    assert preds.shape == ((2, 5, 3) if per_step else (2, 3))


def test_per_step_regression_on_a_table_trains_without_the_recipes_pooling(compose_train: Compose) -> None:
    """Before: `data=table data.task=regression data.per_step=true` was refused for `model.pooling=max`, which the
    recipe set by data.task and the user never typed. Now the run has none and says so; a pooling the user names is
    still judged (and refused) as given."""
    from seqtrain.recipe import pool_per_step_targets

    cfg = compose_train("data=table", "data.train_files=x.csv", "data.task=regression", "data.per_step=true")
    assert cfg.model.pooling == "max"  # what the recipe resolves to
    line = pool_per_step_targets(cfg)
    assert line is not None and line.startswith("model.pooling=null: the recipe's pooling (max, for one target per sequence)")
    assert cfg.model.pooling is None
    check_options(cfg)
    check_targets(cfg)
    model = instantiate(cfg.model, vocab_size=None, num_features=1, num_outputs=1, per_step_targets=True, patch_size=1)
    preds, _ = model(torch.randn(2, 5, 1), torch.tensor([5, 3]))
    assert preds.shape == (2, 5, 1)  # one prediction per step
    for overrides in (["data.per_step=false"], ["data.per_step=true", "model.pooling=max"]):
        cfg = compose_train("data=table", "data.train_files=x.csv", "data.task=regression", *overrides)
        assert pool_per_step_targets(cfg) is None and cfg.model.pooling == "max"
    with pytest.raises(ConfigError, match="model.pooling=max applies to many_to_one heads only"):
        check_options(cfg)


def test_a_data_config_of_your_own_has_no_recipe_and_the_run_says_so(compose_train: Compose, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.yaml").write_text("defaults:\n  - table\n  - _self_\ntrain_files: x.csv\n")
    cfg = compose_train(f"hydra.searchpath=[file://{tmp_path}]", "data=mine")
    text = describe_recipe(cfg)  # before the next compose: the recipe's name comes from Hydra's current choices
    assert "data=mine -> recipe=mine" in text and "no configs/recipe/mine.yaml" in text and "recipe=table" in text
    assert cfg.recipe.about is None and cfg.model.hidden_size == compose_train("recipe=none").model.hidden_size
    borrowed = compose_train(f"hydra.searchpath=[file://{tmp_path}]", "data=mine", "recipe=table")
    assert borrowed.model.pooling == "max" and borrowed.data.train_files == "x.csv"


def test_the_printed_recipe_names_its_settings(compose_train: Compose) -> None:
    cfg = compose_train("data=table", "optimizer.lr=0.0123")
    text = describe_recipe(cfg)
    assert text.startswith(f"recipe: {cfg.recipe.about}")
    assert f"hidden_size={cfg.model.hidden_size}" in text and "lr=0.0123" in text
    assert f"patience={cfg.callbacks.early_stopping.patience}" in text
    assert "no early stopping" in describe_recipe(compose_train())
    assert "patch_size=auto(recipe.patch_steps=7)" in describe_recipe(compose_train("data=table", "model.patch_size=auto",
                                                                                  "recipe.patch_steps=7"))


def test_the_printed_recipe_says_which_weights_are_evaluated(compose_train: Compose) -> None:
    """Without a checkpoint of the best weights the run tests the model as training left it; the line said "the best
    checkpoint by val/loss" for those too."""
    assert "the best checkpoint by val/loss (min) is evaluated; lr_find" in describe_recipe(compose_train())
    # The table recipe's rules that apply once the data is read (text: val/acc, small sets: train/loss) may change the
    # monitor: the line says so rather than name val/loss alone (each rule that applies then says what it set).
    assert ("the best checkpoint by val/loss (min) is evaluated, unless a rule above that applies once the data is read "
            "sets another monitor") in describe_recipe(compose_train("data=table"))
    for overrides, said in [(["~callbacks.model_checkpoint"], "no ModelCheckpoint among the callbacks keeps a best checkpoint"),
                            (["callbacks.model_checkpoint.save_top_k=0"], "callbacks.model_checkpoint.save_top_k=0 keeps no checkpoint")]:
        text = describe_recipe(compose_train(*overrides))
        assert f"{said}: the model as training left it is evaluated" in text and "the best checkpoint by" not in text, text


def test_lr_find_with_truncated_bptt_is_refused_before_any_data(compose_train: Compose) -> None:
    with pytest.raises(ConfigError, match=r"lr_find=true .*task.tbptt_steps=16"):
        check_lr_find(compose_train("lr_find=true", "task.tbptt_steps=16"))


@pytest.mark.slow  # ~20 s; the CI suite is at its 10-minute budget
def test_lr_find_sets_the_learning_rate_the_run_trains_with(tmp_path: Path) -> None:
    """The finder's suggestion is the lr in the optimizer the checkpoint saved; the run prints its recipe. Without the
    recipe's naive Bayes: on these made-up sentences it scores nearly every row right before training (leave-one-out
    accuracy 0.99), so the loss starts near 0 and Lightning's finder stops at once on "diverging loss" (4x the best)."""
    write_csv(tmp_path / "reviews.csv", sentiment_rows(80))
    run_dir = tmp_path / "run"
    proc = run_train(
        "data=table", f"data.train_files={tmp_path / 'reviews.csv'}", "data.sequence_column=text", "model.naive_bayes=null",
        f"data.cache_dir={tmp_path / 'cache'}", "lr_find=true", "trainer.max_epochs=2", "model.hidden_size=16",
        "logger=none", "trainer.accelerator=cpu", f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "recipe: defaults for sequences from your own table" in log and "data=table -> recipe=table" in log
    metrics = json.loads((run_dir / "metrics.json").read_text())
    found = metrics["lr_find"]
    assert found["configured"] == 0.003 and found["suggested"] is not None and found["used"] == found["suggested"]
    assert found["suggested"] != found["configured"]
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(found["suggested"])
    # The real fit starts from step 0 after the range test's 100 steps: 2 epochs of the 56 training rows
    # (80 less 20 % val and 10 % test) in batches of 16 are 2 x 4 steps.
    assert ckpt["global_step"] == 2 * 4
    assert not list(run_dir.glob(".lr_find*.ckpt"))  # the finder's temporary checkpoint is gone


def test_model_named_on_the_command_line_wins_over_the_recipes_cell(tmp_path: Path) -> None:
    """The table recipe prefers a GRU by key; `model=lstm` still trains an LSTM, and the run says so."""
    write_csv(tmp_path / "reviews.csv", sentiment_rows(60))
    run_dir = tmp_path / "run"
    proc = run_train(
        "data=table", f"data.train_files={tmp_path / 'reviews.csv'}", "data.sequence_column=text", "model=lstm",
        f"data.cache_dir={tmp_path / 'cache'}", "debug=smoke", "model.hidden_size=8", "logger=none",
        "trainer.accelerator=cpu", f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model=lstm on the command line: model.cell=lstm (the recipe's model.cell=gru set aside)" in proc.stdout + proc.stderr
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["seqtrain"]["config"]["model"]["cell"] == "lstm"
    assert any("weight_ih_l0" in k for k in ckpt["state_dict"]) and ckpt["state_dict"]["model.backbone.rnn.weight_ih_l0"].shape[0] == 4 * 8  # 4 LSTM gates


@pytest.mark.parametrize(("overrides", "mode", "said"), [
    (["data.task=tagging", "monitor=val/loss"], "min", "monitor=val/loss on the command line: monitor_mode=min (loss is "
     "better when lower; the recipe's monitor_mode=max was for its own monitor)"),
    (["monitor=val/acc"], "max", "monitor=val/acc on the command line: monitor_mode=max (acc is better when higher; "
     "the recipe's monitor_mode=min was for its own monitor)"),
    (["monitor=train/f1"], "max", "monitor=train/f1 on the command line: monitor_mode=max"),
    (["data.task=regression", "monitor=val/rmse"], "min", None),  # the recipe's min already
    (["monitor=val/acc", "monitor_mode=min"], "min", None),  # given: judged as given (the checks refuse it)
    (["monitor=val/nothing"], "min", None),  # unknown: the checks name what is allowed
    ([], "min", None),  # the recipe's own monitor
])
def test_a_monitor_on_the_command_line_takes_its_metrics_direction(compose_train: Compose, overrides: list[str], mode: str,
                                                                    said: str | None) -> None:
    """The table recipe sets monitor_mode for its own monitor (tagging: val/acc, max); a monitor named alone on the
    command line gets the way its metric is better (loss lower, accuracy and F1 higher), and the run says so."""
    from seqtrain.recipe import follow_monitor_choice

    cfg = compose_train("data=table", *overrides)
    line = follow_monitor_choice(cfg)
    assert (line is None) == (said is None) and (said is None or line.startswith(said))
    assert cfg.monitor_mode == mode
    for callback in ("early_stopping", "model_checkpoint"):  # they follow `${monitor_mode}`
        assert cfg.callbacks[callback].mode == mode


def test_a_tagging_run_with_a_loss_monitor_trains_on_it(tmp_path: Path) -> None:
    """Before, `monitor=val/loss` on a tagging run was refused three times (monitor_mode=max, and both callbacks)."""
    lines = [f"{w}\t{'N' if w in ('cat', 'dog') else 'V'}" for w in ("cat", "runs", "dog", "sees", "cat")]
    sentences = ["\n".join(lines[i:] + lines[:i]) for i in range(5)] * 8
    (tmp_path / "train.conll").write_text("\n\n".join(sentences) + "\n")
    run_dir = tmp_path / "run"
    proc = run_train("data=table", f"data.train_files={tmp_path / 'train.conll'}", "data.task=tagging", "monitor=val/loss",
                     "debug=smoke", "model.hidden_size=8", "logger=none", "trainer.accelerator=cpu", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "monitor=val/loss on the command line: monitor_mode=min" in proc.stdout
    saved = json.loads((run_dir / "metrics.json").read_text())
    ckpt = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["seqtrain"]["config"]["monitor_mode"] == "min" and "val/loss" in saved["val"]


TEXT_BLOCK = ("++recipe.text_classification.monitor=val/acc", "++recipe.text_classification.monitor_mode=max")


def test_the_text_classification_block_applies_to_text_labels_only(compose_train: Compose) -> None:
    """Known once the data is read: numbers and other task kinds keep the general settings; text classification
    takes the block's, in the config and in its resolved copy (the callbacks' `${monitor}` too)."""
    from seqtrain.recipe import settle_text_recipe

    cfg = compose_train("data=table", *TEXT_BLOCK)
    config = OmegaConf.to_container(cfg, resolve=True)
    assert "text classification (token inputs, found once the data is read): monitor=val/acc monitor_mode=max" in describe_recipe(cfg)
    assert settle_text_recipe(cfg, config, None, "classification", set()) is None  # numbers
    assert settle_text_recipe(cfg, config, 7, "regression", set()) is None  # text, but a value per sequence
    assert settle_text_recipe(cfg, config, 7, "tagging", set()) is None
    assert cfg.monitor == config["monitor"] == "val/loss" and config["callbacks"]["early_stopping"]["mode"] == "min"
    line = settle_text_recipe(cfg, config, 7, "classification", set())
    assert line == ("recipe.text_classification: monitor=val/acc monitor_mode=max model.embedding_dropout=0.5 model.pooling=mean "
                    "model.bag=bigrams model.naive_bayes=bigrams callbacks.early_stopping.patience=10 (this data is text with one label per sequence)")
    assert cfg.model.pooling == config["model"]["pooling"] == "mean" and config["model"]["embedding_dropout"] == 0.5
    assert cfg.model.bag == config["model"]["bag"] == "bigrams" and config["callbacks"]["early_stopping"]["patience"] == 10
    assert cfg.monitor == config["monitor"] == "val/acc" and config["monitor_mode"] == "max"
    for callback in ("early_stopping", "model_checkpoint"):
        assert config["callbacks"][callback]["monitor"] == "val/acc" and config["callbacks"][callback]["mode"] == "max"
        assert instantiate(cfg.callbacks[callback]).monitor == "val/acc"
    check_options(cfg)
    assert settle_text_recipe(cfg, config, 7, "classification", set()) is None  # settled: nothing more to say


def test_the_command_line_wins_over_the_text_classification_block(compose_train: Compose) -> None:
    from seqtrain.recipe import settle_text_recipe

    cfg = compose_train("data=table", "recipe=none", *TEXT_BLOCK, "++recipe.text_classification.model.pooling=mean",
                        "monitor=val/loss", "monitor_mode=min")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = settle_text_recipe(cfg, config, 7, "classification", {"monitor", "monitor_mode"})
    assert line is not None and line.startswith("recipe.text_classification: model.pooling=mean (")
    assert line.endswith("kept from the command line: monitor=val/loss monitor_mode=min")
    assert cfg.monitor == "val/loss" and cfg.monitor_mode == "min" and cfg.model.pooling == "mean"
    # What to optimize is one choice: a monitor alone on the command line keeps the direction the run gave it
    # (`follow_monitor_choice`: its metric's own), not the block's.
    cfg = compose_train("data=table", "recipe=none", *TEXT_BLOCK, "++recipe.text_classification.model.pooling=mean",
                        "monitor=val/loss")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = settle_text_recipe(cfg, config, 7, "classification", {"monitor"})
    assert line is not None and line.endswith("kept from the command line: monitor=val/loss (and with it monitor_mode=min)")
    assert cfg.monitor_mode == "min"
    # A sweep's trial keeps what its config optimizes, and says so.
    swept = compose_train("data=table", "recipe=none", *TEXT_BLOCK)
    line = settle_text_recipe(swept, OmegaConf.to_container(swept, resolve=True), 7, "classification", set(), "mine")
    assert line == ("recipe.text_classification not applied: hparams_search=mine sets what the sweep optimizes "
                    "(monitor=val/loss, monitor_mode=min)")
    assert swept.monitor == "val/loss"
    # The table recipe's own block (README, fourth and fifth rounds) and its spacing branches; none without a recipe.
    from seqtrain.recipe import text_recipe_settings

    general = {"monitor": "val/acc", "monitor_mode": "max", "model.embedding_dropout": 0.5, "model.pooling": "mean",
               "model.bag": "bigrams", "model.naive_bayes": "bigrams", "callbacks.early_stopping.patience": 10}
    assert text_recipe_settings(compose_train("data=table")) == general
    assert text_recipe_settings(compose_train("data=table"), True) == {**general, "data.tokenizer": "unigram", "data.max_vocab_size": 8000,
                                                                      "model.head_dropout": 0.5, "model.naive_bayes": "words",
                                                                      "model.hidden_size": 32}
    assert text_recipe_settings(compose_train("data=table"), False) == {**general, "data.tokenizer": "char"}
    assert text_recipe_settings(compose_train("data=table", "recipe=none")) == {}
    # Without a block (recipe=none, or another data's recipe) nothing changes.
    bare = compose_train("data=table", "recipe=none")
    assert settle_text_recipe(bare, OmegaConf.to_container(bare, resolve=True), 7, "classification", set()) is None


def test_a_command_line_key_above_or_inside_a_text_setting_wins(compose_train: Compose) -> None:
    """`~callbacks.early_stopping` keeps a run without early stopping (not a patience under a dropped node);
    `callbacks.early_stopping.patience=3` keeps that patience; a node a config dropped gets nothing set inside it."""
    from seqtrain.recipe import settle_text_recipe

    block = (*TEXT_BLOCK, "++recipe.text_classification.callbacks.early_stopping.patience=10")
    cfg = compose_train("data=table", *block)
    line = settle_text_recipe(cfg, OmegaConf.to_container(cfg, resolve=True), 7, "classification", {"data", "model"},
                              spacing=0.2)  # English-like: the spaced branch's tokenizer
    assert "data.tokenizer=unigram" in line and "model.bag=bigrams" in line and "callbacks.early_stopping.patience=10" in line
    assert "kept" not in line and cfg.data.tokenizer == "unigram" and cfg.model.bag == "bigrams"
    assert cfg.callbacks.early_stopping.patience == 10
    for given, value, said in ((("callbacks.early_stopping",), None, "callbacks.early_stopping=None"),
                               (("callbacks.early_stopping.patience",), 3, "callbacks.early_stopping.patience=3"),
                               ((), None, None)):  # dropped by a config, not the command line
        override = "~callbacks.early_stopping" if value is None else f"callbacks.early_stopping.patience={value}"
        cfg = compose_train("data=table", *block, override)
        config = OmegaConf.to_container(cfg, resolve=True)
        line = settle_text_recipe(cfg, config, 7, "classification", {"data", "model", *given})  # data=table, model=gru
        assert line.startswith("recipe.text_classification: monitor=val/acc monitor_mode=max model.") and "patience=10" not in line
        assert line.endswith(f"kept from the command line: {said}") if said else "kept" not in line
        early = config["callbacks"].get("early_stopping")
        assert (early is None) if value is None else (early["patience"] == value and early["monitor"] == "val/acc")
        check_options(cfg)


@pytest.mark.slow  # ~30 s end to end; by default: the block's settings in process (above), resume in test_resume_matrix.py
def test_a_text_run_picks_its_checkpoint_by_the_text_block_and_resumes(tmp_path: Path) -> None:
    """End to end: the run says what the block set, the checkpoint's config and its ModelCheckpoint use it, and
    `ckpt_path=last` resumes (the resumed run keeps its checkpoint's settings before its config is compared)."""
    write_csv(tmp_path / "reviews.csv", sentiment_rows(60))
    run_dir = tmp_path / "run"
    args = ("data=table", f"data.train_files={tmp_path / 'reviews.csv'}", "data.sequence_column=text", *TEXT_BLOCK,
            f"data.cache_dir={tmp_path / 'cache'}", "model.hidden_size=8", "logger=none", "trainer.accelerator=cpu",
            f"hydra.run.dir={run_dir}")
    proc = run_train(*args, "trainer.max_epochs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The table recipe's spacing rule too: these sentences are English words (read again with its tokenizer).
    said = ("recipe.text_classification: monitor=val/acc monitor_mode=max model.embedding_dropout=0.5 model.pooling=mean "
            "model.bag=bigrams model.naive_bayes=words callbacks.early_stopping.patience=10 data.tokenizer=unigram data.max_vocab_size=8000 model.head_dropout=0.5 (this data is text with one label per sequence; words separated "
            "by spaces: ")
    assert said in proc.stdout + proc.stderr
    assert "fitted a unigram tokenizer on the training split" in proc.stdout + proc.stderr
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["seqtrain"]["config"]["monitor"] == "val/acc"
    assert ckpt["seqtrain"]["config"]["data"]["tokenizer"] == "unigram" and ckpt["seqtrain"]["config"]["model"]["pooling"] == "mean"
    assert ckpt["seqtrain"]["config"]["model"]["bag"] == "bigrams" and any(k.startswith("model.bag.") for k in ckpt["state_dict"])
    assert json.loads((run_dir / "data.json").read_text())["state"]["tokenizer"]["kind"] == "unigram"
    assert ckpt["seqtrain"]["config"]["callbacks"]["early_stopping"]["mode"] == "max"
    best = [state for key, state in ckpt["callbacks"].items() if key.startswith("ModelCheckpoint")]
    assert len(best) == 1 and "'monitor': 'val/acc'" in next(k for k in ckpt["callbacks"] if k.startswith("ModelCheckpoint"))
    proc = run_train(*args, "trainer.max_epochs=3", "ckpt_path=last")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("resume: callbacks.early_stopping.patience=10 data.max_vocab_size=8000 data.tokenizer=unigram model.bag=bigrams model.embedding_dropout=0.5 model.head_dropout=0.5 "
            "model.naive_bayes=words model.pooling=mean "
            "monitor=val/acc monitor_mode=max, as the run being resumed used") in proc.stdout + proc.stderr
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["epoch"] == 3


@pytest.mark.parametrize(("saved_monitor", "command_line", "kept"), [
    ("val/loss", set(), "val/loss"),       # a text run saved before the block (or told val/loss): it continues so
    ("val/acc", set(), "val/acc"),         # a run that settled the block
    ("val/loss", {"monitor"}, None),       # the command line wins, as check_resume judges it
])
def test_a_resume_keeps_the_text_settings_its_run_used(compose_train: Compose, saved_monitor: str, command_line: set[str],
                                                       kept: str | None) -> None:
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table", *TEXT_BLOCK, f"monitor={'val/acc' if saved_monitor == 'val/loss' else 'val/loss'}")
    config = OmegaConf.to_container(cfg, resolve=True)
    mode = "min" if saved_monitor == "val/loss" else "max"
    saved = {**json.loads(json.dumps(config)), "monitor": saved_monitor, "monitor_mode": mode}
    for callback in ("early_stopping", "model_checkpoint"):  # as the saved run resolved its ${monitor}
        saved["callbacks"][callback] |= {"monitor": saved_monitor, "mode": mode}
    line = keep_saved_recipe_settings(cfg, config, saved, command_line)
    if kept is None:
        assert line is None and cfg.monitor != saved_monitor
        return
    assert cfg.monitor == config["monitor"] == kept and line.startswith(f"resume: monitor={kept}")
    assert config["callbacks"]["early_stopping"]["monitor"] == kept  # ${monitor} resolved again


@pytest.mark.parametrize("saved_size", [64, 32])
def test_an_english_text_run_resumes_with_the_hidden_size_it_saved(compose_train: Compose, saved_size: int) -> None:
    """Round thirty-six set a GRU of 32 units for text with spaces: a run saved before (64) resumes with 64, one saved
    after with 32, whatever the branch now says; the resume line names it."""
    from seqtrain.recipe import text_recipe_settings
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table")
    assert text_recipe_settings(cfg, True)["model.hidden_size"] == 32 and cfg.model.hidden_size == 64  # before the data
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = {**json.loads(json.dumps(config))}
    saved["model"]["hidden_size"] = saved_size
    cfg.model.hidden_size = config["model"]["hidden_size"] = 32 if saved_size == 64 else 64  # what else it would take
    line = keep_saved_recipe_settings(cfg, config, saved, set())
    assert cfg.model.hidden_size == config["model"]["hidden_size"] == saved_size
    assert line is not None and f"model.hidden_size={saved_size}" in line


def test_a_text_run_saved_before_the_bag_and_the_naive_bayes_resumes_without_them(compose_train: Compose) -> None:
    """Its checkpoint's config has no `model.bag` (the key came later): the resume builds the model it saved (no bag,
    whose weights would be missing), and the missing key is no config change; one that saved the bag keeps it."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    for key in ("bag", "bag_buckets", "naive_bayes"):
        del saved["model"][key]
    keep_saved_recipe_settings(cfg, config, saved, set())
    assert cfg.model.bag is None and config["model"]["bag"] is None
    assert cfg.model.naive_bayes is None and config["model"]["naive_bayes"] is None
    assert config_changes(saved, config) == ({}, {})
    saved["model"] |= {"bag": "bigrams", "bag_buckets": 65536, "naive_bayes": "bigrams"}
    assert keep_saved_recipe_settings(cfg, config, saved, set()).startswith("resume: model.bag=bigrams model.naive_bayes=bigrams")
    assert cfg.model.bag == config["model"]["bag"] == "bigrams" == cfg.model.naive_bayes


def test_a_text_run_saved_under_an_earlier_text_recipe_resumes_with_what_it_settled(compose_train: Compose) -> None:
    """A study round changes the text blocks (round twenty-nine: 8,000 subwords and words for text with spaces); a run
    saved under the earlier blocks resumes with the settings it settled, so the blocks' own keys are no refused change."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    spaced = saved["recipe"]["text_by_spacing"]["spaced"]
    spaced["data"]["max_vocab_size"] = 4000
    del spaced["model"]["naive_bayes"]
    saved["recipe"]["text_classification"]["model"]["naive_bayes"] = None
    saved["data"] |= {"tokenizer": "unigram", "max_vocab_size": 4000}  # what the earlier run settled
    saved["model"] |= {"naive_bayes": "bigrams", "bag": "bigrams"}
    keep_saved_recipe_settings(cfg, config, saved, set())
    assert config["data"]["max_vocab_size"] == 4000 and config["model"]["naive_bayes"] == "bigrams"
    applied, refused = config_changes(saved, config)
    assert refused == {}, refused
    assert set(applied) == {"recipe.text_by_spacing.spaced.data.max_vocab_size", "recipe.text_by_spacing.spaced.model.naive_bayes",
                            "recipe.text_classification.model.naive_bayes"}
    # What the run trains with is still compared: a different vocabulary size is refused.
    config["data"]["max_vocab_size"] = 8000
    assert "data.max_vocab_size" in config_changes(saved, config)[1]


@pytest.mark.parametrize(("key", "recipes", "saved_other", "given"), [
    ("instance_norm", "shape_values", "shape", "shape_level"),  # round thirteen
    ("differences", "inputs", "inputs2", "shape"),  # round twenty-one
])
def test_a_run_saved_before_a_recipe_model_key_resumes_without_it(compose_train: Compose, key: str, recipes: str,
                                                                   saved_other: str, given: str) -> None:
    """The table recipe sets `model.<key>`; a checkpoint whose config predates the key resumes with what its run did
    (none: a model without the extra features its weights lack), and that is no config change; a run that saved
    another value keeps it; the command line wins."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table")
    assert cfg.model[key] == recipes  # the recipe's
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    del saved["model"][key]
    assert keep_saved_recipe_settings(cfg, config, saved, set()) == f"resume: model.{key}=None, as the run being resumed used"
    assert cfg.model[key] is None and config["model"][key] is None
    assert config_changes(saved, config) == ({}, {})
    saved["model"][key] = saved_other
    assert keep_saved_recipe_settings(cfg, config, saved, set()).startswith(f"resume: model.{key}={saved_other},")
    cfg = compose_train("data=table", f"model.{key}={given}")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert keep_saved_recipe_settings(cfg, config, saved, {f"model.{key}"}) is None
    assert cfg.model[key] == given


SPACING_BLOCK = ("++recipe.text_by_spacing.spaced_share=0.05", "++recipe.text_by_spacing.spaced.data.tokenizer=word",
                 "++recipe.text_by_spacing.spaced.data.min_frequency=2", "++recipe.text_by_spacing.unspaced.data.tokenizer=char")


@pytest.mark.parametrize(("spacing", "tokenizer", "min_frequency", "how"), [
    (0.157, "word", 2, "words separated by spaces: 15.7% of its training characters are whitespace"),
    (0.006, "char", 1, "running text, not words separated by spaces: 0.6% of its training characters are whitespace"),
])
def test_the_text_block_picks_the_tokenizer_by_how_the_training_text_is_written(
        compose_train: Compose, spacing: float, tokenizer: str, min_frequency: int, how: str) -> None:
    from seqtrain.recipe import settle_text_recipe

    cfg = compose_train("data=table", "recipe=none", *TEXT_BLOCK, *SPACING_BLOCK)
    config = OmegaConf.to_container(cfg, resolve=True)
    assert "words separated by spaces (whitespace >= 5% of the characters): data.tokenizer=word data.min_frequency=2; " \
           "running text (Chinese, ...): data.tokenizer=char" in describe_recipe(cfg)
    line = settle_text_recipe(cfg, config, 7, "classification", set(), None, spacing)
    assert line is not None and line.startswith("recipe.text_classification: monitor=val/acc monitor_mode=max")
    assert line.endswith(f"(this data is text with one label per sequence; {how} (recipe.text_by_spacing.spaced_share=0.05))")
    assert ("data.tokenizer=word data.min_frequency=2" in line) == (tokenizer == "word")
    assert cfg.data.tokenizer == config["data"]["tokenizer"] == tokenizer
    assert cfg.data.min_frequency == config["data"]["min_frequency"] == min_frequency
    # Not text (numbers, or lists of tokens: spacing None): the general block alone, the tokenizer as configured.
    other = compose_train("data=table", "recipe=none", *TEXT_BLOCK, *SPACING_BLOCK)
    settle_text_recipe(other, OmegaConf.to_container(other, resolve=True), 7, "classification", set(), None, None)
    assert other.data.tokenizer == "char" and other.monitor == "val/acc"


@pytest.mark.parametrize("tokenizer", ["word", "char"])
def test_the_spaced_branchs_naive_bayes_over_words_counts_bigrams_with_a_tokenizer_of_whole_words_or_characters(
        compose_train: Compose, tokenizer: str) -> None:
    """The table recipe's branch for English-like text counts words (`model.naive_bayes=words`), which subword pieces
    spell; a tokenizer of words or characters from the command line spells none: bigrams instead, said in the line."""
    from seqtrain.recipe import settle_text_recipe

    # The start-of-run block says the branch's value where it differs from the general block's (bigrams).
    assert ("words separated by spaces (whitespace >= 5% of the characters): model.naive_bayes=words data.tokenizer=unigram"
            in describe_recipe(compose_train("data=table")))
    cfg = compose_train("data=table", f"data.tokenizer={tokenizer}")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = settle_text_recipe(cfg, config, 7, "classification", {"data.tokenizer"}, None, 0.2)
    assert cfg.model.naive_bayes == config["model"]["naive_bayes"] == "bigrams" and cfg.data.tokenizer == tokenizer
    assert (f"model.naive_bayes=bigrams, not words: data.tokenizer={tokenizer} gives no subword pieces to spell words"
            in line), line
    # The branch's own tokenizer (Unigram) keeps words; so does a command line that names the naive Bayes.
    for given, expected in ((("data", "model"), "words"), (("model.naive_bayes",), "bigrams")):
        args = ["data=table"] + (["model.naive_bayes=bigrams", "data.tokenizer=word"] if "model.naive_bayes" in given else [])
        cfg = compose_train(*args)
        settle_text_recipe(cfg, OmegaConf.to_container(cfg, resolve=True), 7, "classification", set(given), None, 0.2)
        assert cfg.model.naive_bayes == expected


def test_a_tokenizer_on_the_command_line_wins_over_the_spacing_rule(compose_train: Compose) -> None:
    from seqtrain.recipe import settle_text_recipe

    cfg = compose_train("data=table", "recipe=none", *TEXT_BLOCK, *SPACING_BLOCK, "data.tokenizer=bpe")
    line = settle_text_recipe(cfg, OmegaConf.to_container(cfg, resolve=True), 7, "classification", {"data.tokenizer"}, None, 0.157)
    # The rule's min_frequency belongs to its tokenizer: with the user's tokenizer the configured value stays.
    assert line is not None and line.endswith("kept from the command line: data.tokenizer=bpe (and with it data.min_frequency=1)")
    assert cfg.data.tokenizer == "bpe" and cfg.data.min_frequency == 1


def test_the_training_texts_spacing_is_their_share_of_whitespace(tmp_path: Path) -> None:
    """Measured on the training split the run reads (decoded by its fitted tokenizer), against a count on the file."""
    from seqtrain.data import TableDataModule
    from seqtrain.run import training_text_spacing

    rows = [{"text": t, "label": "ab"[i % 2]} for i, t in enumerate(["a good film", "bad", "这部电影很好", "not  bad at all"] * 5)]
    train, val = write_csv(tmp_path / "train.csv", rows), write_csv(tmp_path / "val.csv", rows[:4])
    dm = TableDataModule(train_files=str(train), val_files=str(val), test_files=str(val), sequence_column="text",
                         cache_dir=str(tmp_path / "cache"), batch_size=4)
    dm.setup()
    texts = [r["text"] for r in rows]
    assert training_text_spacing(dm) == pytest.approx(sum(c.isspace() for t in texts for c in t) / sum(len(t) for t in texts))
    numbers = write_csv(tmp_path / "numbers.csv", [{"sequence": f"1 2 {i}", "label": "ab"[i % 2]} for i in range(40)])
    dm = TableDataModule(train_files=str(numbers), cache_dir=str(tmp_path / "cache"), batch_size=4)
    dm.setup()
    assert training_text_spacing(dm) is None  # not text


def test_an_english_text_run_saved_before_head_dropout_resumes_without_it(compose_train: Compose) -> None:
    """Round twenty's spaced branch sets `model.head_dropout=0.5`; a checkpoint whose config predates the key resumes
    as its run trained (no head dropout), which is no config change; one that saved 0.5 keeps it."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table", "model.head_dropout=0.5")  # as the spacing rule leaves it for English text
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    del saved["model"]["head_dropout"]
    line = keep_saved_recipe_settings(cfg, config, saved, set())
    assert line is not None and "model.head_dropout=0.0" in line
    assert cfg.model.head_dropout == config["model"]["head_dropout"] == 0.0
    assert config_changes(saved, config) == ({}, {})
    saved["model"]["head_dropout"] = 0.5
    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert keep_saved_recipe_settings(cfg, config, saved, set()).startswith("resume: model.head_dropout=0.5")
    assert cfg.model.head_dropout == config["model"]["head_dropout"] == 0.5


def test_a_run_the_multiclass_rule_smoothed_resumes_smoothed(compose_train: Compose) -> None:
    """Round twenty-five: the small-set rule sets `task.label_smoothing=0.1` from three classes up once the data is read,
    which a resume does not settle again; the resume keeps the checkpoint's ε (the loss it trained with), whether the
    rule set it or the run predates the key (0), and the command line still wins."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table")
    assert cfg.task.label_smoothing == 0.0  # not settled yet: the data decides
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    saved["task"]["label_smoothing"] = 0.1
    assert keep_saved_recipe_settings(cfg, config, saved, set()) == "resume: task.label_smoothing=0.1, as the run being resumed used"
    assert cfg.task.label_smoothing == config["task"]["label_smoothing"] == 0.1
    assert config_changes(saved, config) == ({}, {})
    # A run from before the key: what it trained with, no smoothing, and no change to report.
    cfg = compose_train("data=table")
    config = OmegaConf.to_container(cfg, resolve=True)
    del saved["task"]["label_smoothing"]
    assert keep_saved_recipe_settings(cfg, config, saved, set()) is None and cfg.task.label_smoothing == 0.0
    saved["task"]["label_smoothing"] = 0.1
    cfg = compose_train("data=table", "task.label_smoothing=0.05")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert keep_saved_recipe_settings(cfg, config, saved, {"task.label_smoothing"}) is None
    assert cfg.task.label_smoothing == 0.05


@pytest.mark.parametrize(("task", "monitor", "mode", "dropout"), [
    ("classification", "val/loss", "min", 0.0),
    ("regression", "val/loss", "min", 0.0),
    ("tagging", "val/acc", "max", 0.5),  # round thirty-one of the study
])
def test_the_table_recipe_picks_the_monitor_and_embedding_dropout_by_task(compose_train: Compose, task: str, monitor: str,
                                                                         mode: str, dropout: float) -> None:
    recipe = OmegaConf.load(CONFIG_DIR / "recipe" / "table.yaml").recipe
    assert (recipe.monitor[task], recipe.monitor_mode[task], recipe.embedding_dropout[task]) == (monitor, mode, dropout)
    cfg = compose_train("data=table", f"data.task={task}")
    assert (cfg.monitor, cfg.monitor_mode, cfg.model.embedding_dropout) == (monitor, mode, dropout)
    assert (cfg.callbacks.early_stopping.monitor, cfg.callbacks.early_stopping.mode) == (monitor, mode)
    given = compose_train("data=table", f"data.task={task}", "monitor=train/loss", "monitor_mode=min", "model.embedding_dropout=0.1")
    assert (given.monitor, given.monitor_mode, given.model.embedding_dropout) == ("train/loss", "min", 0.1)  # the command line wins


def test_a_tagging_run_saved_before_its_settings_resumes_as_it_trained(compose_train: Compose) -> None:
    """A tagging checkpoint from before round thirty-one picked by val/loss without embedding dropout: its resume keeps
    both (and says so), so early stopping goes on watching what it watched."""
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=table", "data.task=tagging")
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = {**json.loads(json.dumps(config)), "monitor": "val/loss", "monitor_mode": "min"}
    saved["model"]["embedding_dropout"] = 0.0
    for callback in ("early_stopping", "model_checkpoint"):  # as the saved run resolved its ${monitor}
        saved["callbacks"][callback] |= {"monitor": "val/loss", "mode": "min"}
    line = keep_saved_recipe_settings(cfg, config, saved, set())
    assert line == "resume: model.embedding_dropout=0.0 monitor=val/loss monitor_mode=min, as the run being resumed used"
    assert (cfg.monitor, config["callbacks"]["early_stopping"]["monitor"], cfg.model.embedding_dropout) == ("val/loss", "val/loss", 0.0)


def test_the_text_recipe_drops_out_and_a_language_model_saved_before_resumes_without(compose_train: Compose) -> None:
    """`recipe=text` trains with embedding dropout 0.1 and head dropout 0.3 (the LM study's round thirty-two); a
    checkpoint of a run from before it resumes with neither (said in one line), and a value on the command line wins."""
    from seqtrain.run import keep_saved_recipe_settings

    recipe = OmegaConf.load(CONFIG_DIR / "recipe" / "text.yaml")
    cfg = compose_train("data=text")
    assert cfg.model.embedding_dropout == recipe.model.embedding_dropout == 0.1
    assert cfg.model.head_dropout == recipe.model.head_dropout == 0.3
    shakespeare = compose_train("data=shakespeare")  # the default experiment keeps its own
    assert shakespeare.model.embedding_dropout == shakespeare.model.head_dropout == 0.0
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    saved["model"]["embedding_dropout"] = saved["model"]["head_dropout"] = 0.0
    line = keep_saved_recipe_settings(cfg, config, saved, set())
    assert line == "resume: model.embedding_dropout=0.0 model.head_dropout=0.0, as the run being resumed used"
    assert cfg.model.embedding_dropout == config["model"]["embedding_dropout"] == 0.0
    assert cfg.model.head_dropout == config["model"]["head_dropout"] == 0.0
    given = compose_train("data=text", "model.embedding_dropout=0.2")
    config = OmegaConf.to_container(given, resolve=True)
    line = keep_saved_recipe_settings(given, config, saved, {"model.embedding_dropout"})
    assert line == "resume: model.head_dropout=0.0, as the run being resumed used"
    assert (given.model.embedding_dropout, given.model.head_dropout) == (0.2, 0.0)


def test_a_small_set_run_saved_before_the_patch_spectrum_resumes_without_it(compose_train: Compose) -> None:
    """Round thirty-three: the small-set rule sets `model.patch_spectrum=true` once the data is read; a checkpoint whose
    config predates the key trained without it (its input layer reads no spectrum), so the resume keeps false, which is
    no config change; one that saved true keeps it; the command line wins."""
    from seqtrain.recipe import apply_settings, small_set_settings
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    def settled(*args: str):
        cfg = compose_train("data=table", *args)
        config = OmegaConf.to_container(cfg, resolve=True)
        assert small_set_settings(cfg)["model.patch_spectrum"] is True
        apply_settings(cfg, config, {"model.patch_spectrum": True})  # what the rule sets once the data is read
        return cfg, config

    cfg, config = settled()
    saved = json.loads(json.dumps(config))
    del saved["model"]["patch_spectrum"]
    assert keep_saved_recipe_settings(cfg, config, saved, set()) == "resume: model.patch_spectrum=False, as the run being resumed used"
    assert cfg.model.patch_spectrum is False and config["model"]["patch_spectrum"] is False
    assert config_changes(saved, config) == ({}, {})
    saved["model"]["patch_spectrum"] = True
    cfg, config = settled()
    assert keep_saved_recipe_settings(cfg, config, saved, set()) is None and cfg.model.patch_spectrum is True
    del saved["model"]["patch_spectrum"]
    cfg, config = settled("model.patch_spectrum=true")
    assert keep_saved_recipe_settings(cfg, config, saved, {"model.patch_spectrum"}) is None and cfg.model.patch_spectrum is True


@pytest.mark.parametrize("saved_members", [None, 1])
def test_a_small_set_run_saved_before_the_ensemble_resumes_as_one_network(compose_train: Compose, saved_members: int | None) -> None:
    """Round thirty-eight: the small-set rule sets `model.members=3` once the data is read; a checkpoint saved before
    (without the key, or with the model config's 1) holds one network, so the resume keeps one, which is no config
    change; the command line wins."""
    from seqtrain.recipe import apply_settings, small_set_settings
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    def settled(*args: str):
        cfg = compose_train("data=table", *args)
        config = OmegaConf.to_container(cfg, resolve=True)
        assert small_set_settings(cfg)["model.members"] == 3
        apply_settings(cfg, config, {"model.members": 3})  # what the rule sets once the data is read
        return cfg, config

    cfg, config = settled()
    saved = json.loads(json.dumps(config))
    if saved_members is None:
        del saved["model"]["members"]
    else:
        saved["model"]["members"] = saved_members
    assert keep_saved_recipe_settings(cfg, config, saved, set()) == "resume: model.members=1, as the run being resumed used"
    assert cfg.model.members == config["model"]["members"] == 1
    assert config_changes(saved, config) == ({}, {})
    cfg, config = settled("model.members=3")
    assert keep_saved_recipe_settings(cfg, config, saved, {"model.members"}) is None and cfg.model.members == 3


def test_a_vowels_run_saved_with_its_earlier_recipe_resumes_as_it_trained(compose_train: Compose) -> None:
    """Round thirty-eight: data=vowels' recipe became the table defaults. A run saved with the GRU-256 recipe resumes with
    its own settings (the recipe's keys are the run's, said in one line), and the recipe's name, text and per-task tables
    are no change to refuse (their effect is compared under the keys they set)."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    before = compose_train("experiment=vowels_bigru", "recipe=none", "model.hidden_size=256", "model.bidirectional=true",
                           "model.pooling=max", "trainer.max_epochs=30", "data.batch_size=32")
    saved = OmegaConf.to_container(before, resolve=True)
    saved["recipe"] = {"name": "vowels", "about": "a bidirectional 256-unit network with max pooling, 30 epochs"}
    cfg = compose_train("experiment=vowels_bigru", "trainer.max_epochs=40")
    config = OmegaConf.to_container(cfg, resolve=True)
    line = keep_saved_recipe_settings(cfg, config, saved, {"trainer.max_epochs"})
    assert line is not None and "model.hidden_size=256" in line and "data.batch_size=32" in line
    config["model"]["patch_size"] = saved["model"]["patch_size"]  # `auto`: the run takes its checkpoint's (run.py)
    applied, refused = config_changes(saved, config)
    assert refused == {}
    assert applied["trainer.max_epochs"] == (30, 40) and applied["recipe.about"][0].startswith("a bidirectional 256-unit")


def test_a_forecast_run_saved_before_the_recipe_scaled_its_windows_resumes_without_scaling(compose_train: Compose) -> None:
    """Round five of the forecasting study: `recipe=forecast` sets `task.random_scaling=1.3`. A run saved before (no
    such key: trained without it) resumes as it trained, said in one line, with no config change left to refuse; one
    saved with it keeps it; the command line still wins."""
    from seqtrain.resume_checks import config_changes
    from seqtrain.run import keep_saved_recipe_settings

    cfg = compose_train("data=forecast")
    assert cfg.task.random_scaling == 1.3
    config = OmegaConf.to_container(cfg, resolve=True)
    saved = json.loads(json.dumps(config))
    del saved["task"]["random_scaling"]
    assert keep_saved_recipe_settings(cfg, config, saved, set()) == "resume: task.random_scaling=None, as the run being resumed used"
    assert cfg.task.random_scaling is None and config["task"]["random_scaling"] is None
    assert config_changes(saved, config) == ({}, {})
    # Saved with the recipe's value: nothing to keep.
    cfg = compose_train("data=forecast")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert keep_saved_recipe_settings(cfg, config, json.loads(json.dumps(config)), set()) is None
    # Given on the command line: judged as given (a change the resume check then refuses).
    cfg = compose_train("data=forecast", "task.random_scaling=1.5")
    config = OmegaConf.to_container(cfg, resolve=True)
    assert keep_saved_recipe_settings(cfg, config, saved, {"task.random_scaling"}) is None
    assert cfg.task.random_scaling == 1.5
    assert config_changes(saved, config)[1] == {"task.random_scaling": (None, 1.5)}


def test_the_forecast_recipe_block_says_it_scales_training_windows(compose_train: Compose) -> None:
    assert "  task: random_scaling=1.3 (each training window and its target times a factor in [1/1.3, 1.3])" \
        in describe_recipe(compose_train("data=forecast"))
    assert "random_scaling" not in describe_recipe(compose_train("experiment=sunspots_forecast"))
