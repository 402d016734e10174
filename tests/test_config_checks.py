"""Bad configs fail before any data is read, naming the dotted key and what is allowed."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable

import pytest
from omegaconf import DictConfig, open_dict

from conftest import ROOT
from seqtrain.config import ConfigError, ModelOptions, check_options, check_targets

Compose = Callable[..., DictConfig]

# (overrides, what the message must contain). Each is a value a user might type at 2 a.m.
BAD_OPTIONS = [
    (["model.hidden_size=0"], "model.hidden_size=0: Input should be greater than or equal to 1"),
    (["model.num_layers=0"], "model.num_layers=0"),
    (["model.dropout=1.5"], "model.dropout=1.5: Input should be less than 1"),
    (["model.dropout=-0.1"], "model.dropout=-0.1"),
    (["model.embedding_dropout=1.0"], "model.embedding_dropout=1.0: Input should be less than 1"),
    (["model.nonlinearity=sigmoid"], "Input should be 'tanh' or 'relu'"),
    (["model.cell=transformer"], "Input should be 'rnn', 'lstm' or 'gru'"),
    (["model.hidden_size=abc"], "model.hidden_size='abc': Input should be a valid integer"),
    (["model.hidden_size=1.5"], "model.hidden_size=1.5"),
    (["model.members=0"], "model.members=0: Input should be greater than or equal to 1"),
    (["model.members=2.5"], "model.members=2.5"),
    (["model.bidirectional=maybe"], "model.bidirectional='maybe'"),
    (["model.pooling=median"], "model.pooling='median'"),
    (["model.head=many_to_some"], "model.head='many_to_some'"),
    (["+model.hiden_size=3"], "model.hiden_size: unknown key"),
    (["model=lstm", "model.nonlinearity=relu"], "model.nonlinearity='relu' applies to cell='rnn' only"),
    (["model=gru", "model.nonlinearity=relu"], "got cell='gru'"),
    (["model.head=many_to_many", "model.pooling=mean"], "model.pooling applies to many_to_one heads only"),
    (["model.tie_weights=true", "model.hidden_size=32"], "model.tie_weights=true needs model.embedding_dim"),
    (["model.bidirectional=true", "data.stateful=true"], "model.bidirectional=true cannot carry state"),
    (["model.bidirectional=true", "task.tbptt_steps=50"], "model.bidirectional=true cannot train with task.tbptt_steps=50"),
    (["data.stateful=true", "model.head=many_to_one"], "model.head=many_to_one cannot use stateful streams"),
    (["task.tbptt_steps=50", "trainer.accumulate_grad_batches=2"], "trainer.accumulate_grad_batches=2 is not supported"),
    (["data=text", "data.documents=file"], "data.documents=file resets the state carried across stateful streams"),
    (["task.tbptt_steps=0"], "task.tbptt_steps=0"),
    (["trainer.gradient_clip_algorithm=l3"], "Input should be 'norm' or 'value'"),
    (["trainer.gradient_clip_val=-1.0"], "trainer.gradient_clip_val=-1.0"),
    (["trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0"),
]

# Checked against the constructors' signatures (after torch is imported, before data is read).
BAD_TARGETS = [
    (["+data.bogus=1"], "data.bogus: unknown key for seqtrain.data.TextDataModule"),
    (["data.batch_size=1.5"], "data.batch_size=1.5: Input should be a valid integer"),
    (["data=vowels", "data.standardize=yes"], "data.standardize='yes': Input should be a valid boolean"),
    (["data=text", "data.stateful=true", "data.documents=page"], "data.documents='page': Input should be 'file' or 'row'"),
    (["trainer.precision=17"], "trainer.precision=17"),
    (["+trainer.max_epoch=3"], "trainer.max_epoch: unknown key for lightning.pytorch.Trainer"),
    (["optimizer._target_=torch.optim.Adamm"], "optimizer._target_='torch.optim.Adamm' cannot be imported"),
    (["+optimizer.betas_typo=1"], "optimizer.betas_typo: unknown key for torch.optim.AdamW"),
    (["+callbacks.model_checkpoint.every_n_step=5"], "callbacks.model_checkpoint.every_n_step: unknown key"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_OPTIONS)
def test_bad_option_is_named(compose_train: Compose, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_options(compose_train(*overrides))
    assert message in str(error.value)


@pytest.mark.parametrize(("overrides", "message"), BAD_TARGETS)
def test_bad_constructor_argument_is_named(compose_train: Compose, overrides: list[str], message: str) -> None:
    cfg = compose_train(*overrides)
    check_options(cfg)  # these pass the fast checks ...
    with pytest.raises(ConfigError) as error:
        check_targets(cfg)  # ... and are caught against the constructors
    assert message in str(error.value)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("data", ["shakespeare", "vowels", "adding", "parity"])
def test_shipped_configs_pass(compose_train: Compose, model: str, data: str) -> None:
    cfg = compose_train(f"model={model}", f"data={data}")
    check_options(cfg)
    check_targets(cfg)


def test_model_schema_matches_the_constructor() -> None:
    """The fast schema lists exactly SequenceModel's user-facing arguments, so they cannot drift."""
    from seqtrain.models import SequenceModel

    params = inspect.signature(SequenceModel.__init__).parameters
    facts = {"num_outputs", "per_step_targets", "vocab_size", "num_features", "padding_idx", "target_inputs", "window", "self"}
    assert set(ModelOptions.model_fields) - {"target"} == set(params) - facts


def test_unknown_model_target_skips_the_schema(compose_train: Compose) -> None:
    """A user's own model class is checked against its own signature, not SequenceModel's schema."""
    cfg = compose_train()
    with open_dict(cfg):
        cfg.model = {"_target_": "torch.nn.Identity", "unused": 1}
    check_options(cfg)
    check_targets(cfg)  # Identity takes **kwargs


def test_bad_config_exits_before_heavy_imports() -> None:
    """The process fails without importing torch, Lightning or any data code."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['train.py', 'model.dropout=1.5', 'logger=none', 'hydra.run.dir=/tmp/seqtrain-bad']\n"
        "try:\n    runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = sorted({'torch', 'lightning', 'seqtrain.data'} & set(sys.modules))\n"
        "assert code not in (0, None), code\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "model.dropout=1.5" in proc.stderr


def test_raw_features_without_projection_pass(compose_train: Compose) -> None:
    """`model.embedding_dim=null` feeds real-valued features to the RNN unchanged: a valid choice for them."""
    cfg = compose_train("data=vowels", "model.embedding_dim=null")
    check_options(cfg)
    check_targets(cfg)


def test_top_level_schema_lists_exactly_train_yaml_keys() -> None:
    """A key added to configs/train.yaml must be typed in RunOptions, or every run would refuse it as unknown."""
    import yaml

    from seqtrain.config import RunOptions

    in_yaml = set(yaml.safe_load((ROOT / "configs" / "train.yaml").read_text())) - {"defaults", "hydra"}
    groups = {next(iter(entry)).removeprefix("optional ") for entry in yaml.safe_load((ROOT / "configs" / "train.yaml").read_text())["defaults"]
              if isinstance(entry, dict)}
    composed_groups = groups - {"experiment", "recipe", "hparams_search", "debug"}  # these are `@package _global_`
    assert set(RunOptions.model_fields) - {"hydra"} == in_yaml | composed_groups
