"""Check a composed config before any data is read; every error names the dotted key, the value and what is allowed.

Two passes:
- `check_options` (fast, imports neither torch nor Lightning): every top-level key (unknown ones
  refused, also those added with `+`), the model, `task`, `scheduler`, the trainer's stopping,
  clipping and accumulation keys, the optimizer's ranges, as declarative pydantic schemas; then the
  combinations across groups, and what the data's task kind accepts (`seqtrain.kinds`), the kind
  being known from the data config alone (`data_targets`).
- `check_targets`: every `_target_` node against its constructor's signature (unknown keys,
  missing keys, types from the annotations; `Literal[...]` lists the allowed values), the model's
  own checks on the meta device, the optimizer, scheduler, callbacks, loggers and trainer built
  without data (their own refusals, prefixed with the key), and the hardware the trainer asks for.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import re
import typing
from collections.abc import Callable
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seqtrain.errors import SeqtrainError
from seqtrain.kinds import DataTargets, RunChoices, kind_named

log = logging.getLogger(__name__)

SEQUENCE_MODEL = "seqtrain.models.SequenceModel"
BYTE_LEVEL_IDS = 258  # a bpe / unigram vocabulary's least size: its byte alphabet and <pad>, <unk> (seqtrain.encoders.tokenizer)
MODEL_FACTS = ("num_outputs", "per_step_targets", "vocab_size", "num_features", "padding_idx", "target_inputs", "window")


class ConfigError(SeqtrainError, ValueError):
    """A config value that cannot work; the message names the dotted key."""


class ModelOptions(BaseModel):
    """The keys of `model=rnn|lstm|gru` (`SequenceModel`); a test keeps them in step with its signature."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)

    target: str = Field(alias="_target_")
    cell: Literal["rnn", "lstm", "gru"]
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    nonlinearity: Literal["tanh", "relu"]
    bias: bool
    dropout: float = Field(ge=0.0, lt=1.0)
    bidirectional: bool
    proj_size: int = Field(ge=0)
    embedding_dim: int | None = Field(ge=1)
    embedding_dropout: float = Field(ge=0.0, lt=1.0)
    head_dropout: float = Field(ge=0.0, lt=1.0)
    pooling: Literal["last", "mean", "max", "max_mean", "attention"] | None
    head: Literal["auto", "many_to_one", "many_to_many"]
    tie_weights: bool
    # auto: chosen from the data when it is read (`seqtrain.recipe.auto_patch_size`), said in the log.
    patch_size: Any
    # k > 1 only: a random patch phase per row in training, the mean over all k phases in evaluation.
    patch_shift: bool
    # k > 1 only: each patch's magnitude spectrum beside its values.
    patch_spectrum: bool
    input_noise: float = Field(ge=0.0)
    # Window slicing: training reads a random slice of this fraction of each real-valued row's steps; 1.0: whole rows.
    crop: float = Field(gt=0.0, le=1.0)
    # Each real-valued row standardized over its own steps (one target per row); shape_level also appends its mean and log std.
    instance_norm: Literal["shape", "shape_level", "shape_values"] | None
    # First differences beside the values (one target per row): of each input feature (inputs2: second ones too), or of instance_norm's shape.
    differences: Literal["inputs", "inputs2", "shape"] | None
    relative_to: Literal["last", "mean", "auto"] | None
    # A linear AR on each target's last k input steps beside the network; auto: k = the data's window, from its facts.
    ar_highway: Any
    # Where the highway's weights start: the least-squares AR fit on the training windows (start), or kept there (fixed).
    ar_highway_fit: Literal["start", "fixed"] | None = None
    # fastText's bag of token (and hashed pair) embeddings beside the RNN; many_to_one heads on token inputs only.
    bag: Literal["unigrams", "bigrams"] | None
    bag_buckets: int = Field(ge=1)
    # A binary naive Bayes over the row's tokens (and hashed pairs) added to the logits; classification on token inputs only.
    naive_bayes: Literal["unigrams", "bigrams", "words"] | None = None
    # A deep ensemble: this many networks of the same shape, each trained by its own loss; the output is their mean.
    members: int = Field(default=1, ge=1)

    @field_validator("ar_highway")
    @classmethod
    def _steps_auto_or_null(cls, value: Any) -> Any:
        if value is None or value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError("must be an integer >= 1 (input steps each output's linear map reads), auto (the whole window, "
                         "for a many_to_one forecast whose targets are inputs) or null (off)")

    @field_validator("patch_size")
    @classmethod
    def _whole_or_auto(cls, value: Any) -> Any:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError("must be an integer >= 1 (steps per input; 1: no patching) or auto (from the data's lengths)")

    @model_validator(mode="after")
    def _combinations(self) -> ModelOptions:
        if self.nonlinearity == "relu" and self.cell != "rnn":
            raise ValueError(f"model.nonlinearity='relu' applies to cell='rnn' only (torch.nn.RNN), got cell={self.cell!r}")
        if self.dropout > 0 and self.num_layers == 1:
            raise ValueError(
                f"model.dropout={self.dropout} acts between stacked layers only (as in torch.nn.RNN), so with "
                "model.num_layers=1 it does nothing; set model.num_layers>=2 or model.dropout=0.0"
            )
        if self.proj_size and (self.cell != "lstm" or self.proj_size >= self.hidden_size):
            raise ValueError(f"model.proj_size={self.proj_size} projects an LSTM's hidden state to fewer units (torch.nn.LSTM): "
                             f"it needs cell=lstm and proj_size < hidden_size, got cell={self.cell}, hidden_size={self.hidden_size}; "
                             "set model.proj_size=0")
        if self.pooling is not None and self.head == "many_to_many":
            raise ValueError("model.pooling applies to many_to_one heads only; set model.pooling=null for head=many_to_many")
        if self.bag is not None and self.head == "many_to_many":
            raise ValueError(f"model.bag={self.bag} summarises a whole sequence for one target per sequence (many_to_one "
                             "heads only); set model.bag=null for head=many_to_many")
        if self.naive_bayes is not None and self.head == "many_to_many":
            raise ValueError(f"model.naive_bayes={self.naive_bayes} scores the classes of a whole sequence (many_to_one "
                             "heads only); set model.naive_bayes=null for head=many_to_many")
        if self.ar_highway_fit is not None and self.ar_highway is None:
            raise ValueError(f"model.ar_highway_fit={self.ar_highway_fit} fits the AR highway's weights, but "
                             "model.ar_highway=null; set model.ar_highway (auto, or k steps) or model.ar_highway_fit=null")
        if self.tie_weights:
            width = (self.proj_size or self.hidden_size) * (2 if self.bidirectional else 1)
            if self.embedding_dim != width:
                raise ValueError(
                    f"model.tie_weights=true needs model.embedding_dim == hidden_size (or proj_size) x directions ({width}), "
                    f"got embedding_dim={self.embedding_dim}"
                )
        return self


class TaskOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    tbptt_steps: int | None = Field(ge=1)
    tbptt_variable: bool
    tbptt_scale_lr: bool
    label_smoothing: float = Field(ge=0.0, lt=1.0)
    random_scaling: float | None = Field(gt=1.0)

    @model_validator(mode="after")
    def _variable_needs_steps(self) -> TaskOptions:
        for key in ("tbptt_variable", "tbptt_scale_lr"):
            if getattr(self, key) and self.tbptt_steps is None:
                raise ValueError(f"task.{key}=true needs task.tbptt_steps")
        return self


class TrainerOptions(BaseModel):
    """The trainer keys seqtrain itself reads or judges; the rest are checked against `Trainer`'s signature."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    # > 0: clipping to 0 would zero every gradient and the model would never train (Lightning reads 0 as "off"; null is)
    gradient_clip_val: float | None = Field(gt=0.0)
    gradient_clip_algorithm: Literal["norm", "value"]
    accumulate_grad_batches: int = Field(ge=1)
    max_epochs: int | None = Field(ge=-1)
    max_steps: int = Field(ge=-1)
    max_time: str | dict[str, int] | None = None
    accelerator: str
    devices: int | str | list[int]

    @model_validator(mode="after")
    def _trains_and_stops(self) -> TrainerOptions:
        if self.max_epochs == 0:
            raise ValueError("trainer.max_epochs=0 trains nothing (an untrained model would be evaluated); set it >= 1")
        if self.max_steps == 0:
            raise ValueError("trainer.max_steps=0 trains nothing; set it >= 1, or -1 for no step limit")
        if self.gradient_clip_algorithm == "value" and self.gradient_clip_val is None:
            # norm is the config's default, so only a user asks for value: without a value nothing would be clipped.
            raise ValueError("trainer.gradient_clip_algorithm=value clips each gradient to a value, but "
                             "trainer.gradient_clip_val=null clips nothing; set trainer.gradient_clip_val (e.g. 0.5)")
        if isinstance(self.devices, int) and not isinstance(self.devices, bool) and self.devices < 1 and self.devices != -1:
            raise ValueError(f"trainer.devices={self.devices}: must be >= 1, -1 (all), 'auto' or a list of device ids")
        return self


class PathsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    output_dir: str


class SchedulerOptions(BaseModel):
    """`scheduler=none|cosine|plateau`: a `_partial_` scheduler (or null) and when it steps."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    scheduler: dict[str, Any] | None
    interval: Literal["epoch", "step"]

    @model_validator(mode="after")
    def _plateau_per_epoch(self) -> SchedulerOptions:
        target = (self.scheduler or {}).get("_target_", "")
        if target.endswith("ReduceLROnPlateau") and self.interval == "step":
            raise ValueError(
                "scheduler.interval=step with ReduceLROnPlateau: it steps on the monitored metric, which exists "
                "once per validation; set scheduler.interval=epoch"
            )
        return self


#: numpy's and Lightning's seeds are unsigned 32-bit integers.
SEED_RANGE = (0, 2**32 - 1)


class RunOptions(BaseModel):
    """The top-level keys of configs/train.yaml (a test keeps them equal); nothing else may be added."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    seed: int = Field(ge=SEED_RANGE[0], le=SEED_RANGE[1])  # numpy's and Lightning's seed range
    recipe: dict[str, Any]  # which recipe (name, about), printed at the start of the run
    lr_find: bool
    ckpt_path: str | None
    overwrite: bool
    monitor: str | None  # None is refused below, naming what is allowed
    monitor_mode: Literal["min", "max"]
    test: bool
    task: dict[str, Any]
    sample_length: int = Field(ge=0)
    paths: dict[str, Any]
    data: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    trainer: dict[str, Any]
    callbacks: dict[str, Any] | None
    logger: dict[str, Any] | None
    hydra: dict[str, Any] | None = None  # present when composed with return_hydra_config

    @model_validator(mode="after")
    def _monitor_named(self) -> RunOptions:
        if self.monitor is None:
            raise ValueError(
                "monitor=None: name the metric that picks the best checkpoint and that a sweep optimizes, "
                "e.g. monitor=val/loss (any val/ or train/ metric the task kind logs)"
            )
        if self.overwrite and self.ckpt_path is not None:
            raise ValueError(
                f"overwrite=true replaces the run in the run directory, and ckpt_path={self.ckpt_path} continues a run: "
                "choose one (drop overwrite=true to resume; drop ckpt_path to start again)"
            )
        return self


#: Optimizer keys with a range, whatever the optimizer (torch refuses some only when built, without the key).
OPTIMIZER_RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "lr": ("> 0", lambda v: v > 0),
    "weight_decay": (">= 0", lambda v: v >= 0),
    # Averaging factors: at 1 or above an average never forgets (momentum) or never moves (RMSprop's alpha), and
    # the steps grow without bound; torch checks only >= 0.
    "momentum": ("in [0, 1)", lambda v: 0 <= v < 1),
    "dampening": ("in [0, 1]", lambda v: 0 <= v <= 1),
    "eps": ("> 0", lambda v: v > 0),
    "alpha": ("in [0, 1)", lambda v: 0 <= v < 1),
}


def _at_least(minimum: float) -> tuple[str, Callable[[float], bool]]:
    return f">= {minimum}", lambda v: v >= minimum


FRACTION = ("in (0, 1)", lambda v: 0 < v < 1)
# 0: no validation split (data=table; _validation_problems refuses it elsewhere and names what it costs).
VAL_FRACTION = ("in (0, 1), or 0 for no validation split (data=table)", lambda v: 0 <= v < 1)

#: Ranges by key name wherever the key appears in a group's node (its constructor refuses some only when
#: built, without the dotted key, after other work, or not at all). Type errors are the signature check's.
SEED = (f"in [{SEED_RANGE[0]}, {SEED_RANGE[1]}]", lambda v: SEED_RANGE[0] <= v <= SEED_RANGE[1])
RANGES: dict[str, dict[str, tuple[str, Callable[[float], bool]]]] = {
    "data": {
        "batch_size": _at_least(1), "num_workers": _at_least(0), "seq_len": _at_least(1), "min_len": _at_least(1),
        "num_train": _at_least(1), "num_val": _at_least(1), "num_test": _at_least(1), "window": _at_least(1),
        "horizon": _at_least(1), "stride": _at_least(1), "max_chars": _at_least(1), "max_length": _at_least(1),
        "max_vocab_size": _at_least(3), "min_frequency": _at_least(1), "val_fraction": VAL_FRACTION, "test_fraction": FRACTION,
        "seed": SEED,
    },
    "trainer": {
        "log_every_n_steps": _at_least(1), "check_val_every_n_epoch": _at_least(1), "num_sanity_val_steps": _at_least(-1),
        "num_nodes": _at_least(1), "min_epochs": _at_least(0), "min_steps": _at_least(0),
    },
    "scheduler.scheduler": {
        "factor": FRACTION, "patience": _at_least(0), "cooldown": _at_least(0), "threshold": _at_least(0),
        "T_max": _at_least(1), "T_0": _at_least(1), "T_mult": _at_least(1), "eta_min": _at_least(0),
        "min_lr": _at_least(0), "step_size": _at_least(1), "gamma": ("> 0", lambda v: v > 0), "total_iters": _at_least(1),
    },
    "callbacks": {  # every callback's keys of these names
        "patience": _at_least(0), "min_delta": _at_least(0), "refresh_rate": _at_least(0), "save_top_k": _at_least(-1),
        "every_n_train_steps": _at_least(1), "every_n_epochs": _at_least(0)
    },
}


def _range_problems(cfg: DictConfig) -> list[str]:
    """Every number of a key in `RANGES` (and the optimizer's) inside its range; data split fractions sum below 1."""
    nodes: list[tuple[str, dict[str, Any], str]] = [("data", _resolved(cfg.data), "data"), ("trainer", _resolved(cfg.trainer), "trainer")]
    if cfg.scheduler.scheduler is not None:
        nodes.append(("scheduler.scheduler", _resolved(cfg.scheduler.scheduler), "scheduler.scheduler"))
    for name, node in (cfg.callbacks or {}).items():
        if isinstance(node, DictConfig):
            nodes.append((f"callbacks.{name}", _resolved(node), "callbacks"))
    problems = []
    for key, values, table in nodes:
        for name, (allowed, ok) in RANGES[table].items():
            value = values.get(name)
            if _is_number(value) and not (math.isfinite(value) and ok(value)):
                problems.append(f"{key}.{name}={value!r}{_read_from(cfg, f'{key}.{name}')}: must be "
                                f"{'a finite number ' * (not math.isfinite(value))}{allowed}")
    data = _resolved(cfg.data)
    fractions = [data.get("val_fraction"), data.get("test_fraction")]
    if all(_is_number(f) and 0 < f < 1 for f in fractions) and sum(fractions) >= 1:
        problems.append(f"data.val_fraction={fractions[0]} + data.test_fraction={fractions[1]}: must leave data for "
                        "training (sum < 1)")
    sequence, target = data.get("sequence_column"), data.get("target_column")
    if isinstance(sequence, str) and sequence == target:
        problems.append(f"data.sequence_column and data.target_column are both {sequence!r}: the model would read the "
                        "answer it is asked for; name the column of sequences and the column of targets")
    for name, value in data.items():  # lists of column names: each once
        if name.endswith("columns") and isinstance(value, list) and (twice := sorted({str(c) for c in value if value.count(c) > 1})):
            problems.append(f"data.{name}={value}: names {', '.join(map(repr, twice))} more than once; name each column once")
    if data.get("train_files") is not None and data.get("test_files") is not None and (
            shared := sorted(set(_file_paths(data["train_files"])) & set(_file_paths(data["test_files"])))):
        problems.append(f"data.test_files and data.train_files both name {shared[0]!r}"
                        f"{f' ({len(shared)} files in all)' if len(shared) > 1 else ''}: the test metrics would be on rows "
                        "the model trained on; name another file, or leave data.test_files unset to carve the test split at random")
    size = data.get("max_vocab_size")
    if data.get("tokenizer") in SUBWORD_TOKENIZERS and _is_number(size) and size < BYTE_LEVEL_IDS:
        problems.append(f"data.max_vocab_size={size}: a byte-level {data['tokenizer']} vocabulary needs at least "
                        f"{BYTE_LEVEL_IDS} ids (256 bytes + 2 specials) with data.tokenizer={data['tokenizer']}")
    return problems


def _read_from(cfg: DictConfig, key: str) -> str:
    """` (from ${trainer.max_epochs})` where the key's value is an interpolation: a value the user never typed there
    (`scheduler=cosine` reads its `T_max` from `trainer.max_epochs`) is named with the key it comes from."""
    parent, _, leaf = key.rpartition(".")
    return _source(OmegaConf.select(cfg, parent, default=None) if parent else cfg, leaf)


def _source(node: Any, name: str) -> str:
    """`_read_from` for `name` in `node`: ` (from ${...})` when its value is an interpolation, else ''."""
    raw = node._get_node(name)._value() if isinstance(node, DictConfig) and name in node else None
    return f" (from {raw})" if isinstance(raw, str) and "${" in raw else ""


def _file_paths(files: Any) -> list[str]:
    """The files a `data.*_files` value names, as resolved paths (globs expanded; a missing file is the loader's to refuse)."""
    import glob
    from pathlib import Path

    paths = []
    for entry in [files] if isinstance(files, str) else files if isinstance(files, list) else []:
        if not isinstance(entry, str) or "://" in entry:
            continue
        entry = str(Path(entry).expanduser())
        paths += [str(Path(p).resolve()) for p in (glob.glob(entry) if glob.has_magic(entry) else [entry])]
    return paths


def check_options(cfg: DictConfig) -> None:
    """Fast checks of the options and their combinations (no torch); raises ConfigError."""
    check_interpolations(cfg)
    errors = _schema_errors("", _resolved(cfg), RunOptions)
    if errors:  # the groups below may be missing or of the wrong type
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    schemas: list[tuple[str, type[BaseModel]]] = [
        ("task", TaskOptions), ("trainer", TrainerOptions), ("scheduler", SchedulerOptions), ("paths", PathsOptions)
    ]
    if cfg.model._target_ == SEQUENCE_MODEL:
        schemas.insert(0, ("model", ModelOptions))
    for key, schema in schemas:
        errors += _schema_errors(key, _resolved(cfg[key]), schema)
    errors += _optimizer_problems(_resolved(cfg.optimizer))
    errors += _group_problems(cfg)
    if not errors:
        errors += _range_problems(cfg)
    if not errors:
        errors += _combination_problems(cfg)
    if not errors and (targets := data_targets(_resolved(cfg.data))) is not None:
        errors += kind_problems(cfg, targets)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def _validation_problems(cfg: DictConfig) -> list[str]:
    """A run that trains no batch, or that never validates while a `val/` metric picks its checkpoint or stops it."""
    trainer = _resolved(cfg.trainer)
    problems = []
    limit = trainer.get("limit_train_batches")
    if _is_number(limit) and limit == 0:
        problems.append(f"trainer.limit_train_batches={limit} trains nothing (an untrained model would be evaluated); "
                        "set it > 0, or leave it unset for every batch")
    for unit in ("epochs", "steps"):  # Lightning stops at max_* and ignores a min_* beyond it
        least, most = trainer.get(f"min_{unit}"), trainer.get(f"max_{unit}")
        if _is_number(least) and _is_number(most) and most >= 1 and least > most:
            problems.append(f"trainer.min_{unit}={least} > trainer.max_{unit}={most}: the run stops at max_{unit} and never "
                            f"trains the {unit} min_{unit} asks for; raise trainer.max_{unit} or lower trainer.min_{unit}")
    limit_test = trainer.get("limit_test_batches")
    if cfg.test and _is_number(limit_test) and limit_test == 0:
        problems.append(f"trainer.limit_test_batches={limit_test} tests no batch, but test=true evaluates the best checkpoint "
                        "on the test split; set test=false, or leave trainer.limit_test_batches unset for every batch")
    max_time = trainer.get("max_time")
    parts = max_time.split(":") if isinstance(max_time, str) else list(max_time.values()) if isinstance(max_time, dict) else []
    if parts and all(str(p).strip().isdigit() and int(p) == 0 for p in parts):
        problems.append(f"trainer.max_time={max_time} trains nothing (the run stops before its first batch); give a "
                        "duration (DD:HH:MM:SS), or null for no time limit")
    interval = trainer.get("val_check_interval")
    if _is_number(interval) and interval <= 0:
        problems.append(f"trainer.val_check_interval={interval}: must be > 0 (a fraction of an epoch, or a number of "
                        "batches), or null for once per epoch")
    never = None
    limit_val, every, epochs = trainer.get("limit_val_batches"), trainer.get("check_val_every_n_epoch"), trainer.get("max_epochs")
    data = _resolved(cfg.data)
    if _is_number(data.get("val_fraction")) and data["val_fraction"] == 0:
        if not str(data.get("_target_", "")).endswith("TableDataModule"):
            problems.append(f"data.val_fraction=0 (no validation split) is for data=table; data={data.get('_target_')} needs a "
                            "validation split: set data.val_fraction in (0, 1)")
        elif not data.get("val_files") and not data.get("hub"):
            never = "data.val_fraction=0 holds out no validation rows (and data.val_files is not given)"
    if never is None and _is_number(limit_val) and limit_val == 0:
        never = f"trainer.limit_val_batches={limit_val} runs no validation"
    elif never is None and _is_number(every) and _is_number(epochs) and epochs >= 1 and every > epochs and trainer.get("max_steps") == -1:
        never = f"trainer.check_val_every_n_epoch={every} with trainer.max_epochs={epochs} never validates"
    if never is not None:
        on_val = [f"{key}={value}" for key, (value, _) in monitors(cfg).items() if str(value).startswith("val/")]
        if on_val:
            problems.append(f"{never}, but the best checkpoint or early stopping is chosen by a validation metric "
                            f"({', '.join(on_val)}); validate, or monitor a train/ metric (monitor=train/loss; early stopping too, or "
                            "none: ~callbacks.early_stopping)")
    return problems


def _schema_errors(key: str, values: dict[str, Any], schema: type[BaseModel]) -> list[str]:
    try:
        schema.model_validate(values)
    except ValidationError as e:
        return [_describe(key, err, schema) for err in e.errors()]
    return []


def _optimizer_problems(options: dict[str, Any]) -> list[str]:
    problems = []
    for name, (allowed, ok) in OPTIMIZER_RANGES.items():
        value = options.get(name)
        if _is_number(value) and not (math.isfinite(value) and ok(value)):
            problems.append(f"optimizer.{name}={value!r}: must be {'a finite number ' * (not math.isfinite(value))}{allowed}")
    if options.get("maximize") is True:  # every seqtrain loss is minimized: maximize=true climbs it
        problems.append("optimizer.maximize=true steps up the loss, which seqtrain always minimizes (metrics that are better "
                        "higher are watched through monitor_mode); drop it")
    betas = options.get("betas")
    if betas is not None and not (
        isinstance(betas, list | tuple) and len(betas) == 2 and all(_is_number(b) and 0 <= b < 1 for b in betas)
    ):
        problems.append(f"optimizer.betas={betas!r}: must be two numbers in [0, 1), e.g. optimizer.betas=[0.9,0.99]")
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _group_problems(cfg: DictConfig) -> list[str]:
    """Callbacks and loggers are named nodes, each with a `_target_`."""
    problems = []
    for group in ("callbacks", "logger"):
        for name, node in (cfg[group] or {}).items():
            if not isinstance(node, DictConfig) or "_target_" not in node:
                problems.append(f"{group}.{name}={_resolved(node) if isinstance(node, DictConfig) else node!r}: "
                                f"each entry of {group} needs a _target_ (a class to build); remove it with ~{group}.{name}")
    return problems


def _combination_problems(cfg: DictConfig) -> list[str]:
    """What cannot work across groups: truncated BPTT and stateful streams vs. the model and trainer."""
    problems = []
    tbptt = cfg.task.tbptt_steps
    stateful = bool(OmegaConf.select(cfg, "data.stateful", default=False))
    bidirectional = bool(OmegaConf.select(cfg, "model.bidirectional", default=False))
    if bidirectional and tbptt is not None:
        problems.append(
            f"model.bidirectional=true cannot train with task.tbptt_steps={tbptt}: "
            "the backward direction would need the steps after each chunk"
        )
    if bidirectional and stateful:
        problems.append("model.bidirectional=true cannot carry state across batches (data.stateful=true)")
    if stateful and OmegaConf.select(cfg, "model.head", default=None) == "many_to_one":
        problems.append("model.head=many_to_one cannot use stateful streams (data.stateful=true): a stream has no sequence end")
    stops = [cfg.trainer.max_steps != -1, cfg.trainer.max_time is not None,
             any("EarlyStopping" in str(node.get("_target_")) for node in (cfg.callbacks or {}).values())]
    if cfg.trainer.max_epochs in (-1, None) and not any(stops):
        problems.append(
            f"trainer.max_epochs={cfg.trainer.max_epochs} with trainer.max_steps=-1, no trainer.max_time and no early "
            "stopping never stops (Lightning would pick 1000 epochs for null); set one of them"
        )
    documents = OmegaConf.select(cfg, "data.documents", default=None)
    if documents is not None and not stateful:
        problems.append(
            f"data.documents={documents} resets the state carried across stateful streams: it needs data.stateful=true"
        )
    if OmegaConf.select(cfg, "data.targets", default=None) == "case":
        tokenizer = OmegaConf.select(cfg, "data.tokenizer", default="char")
        if tokenizer != "char" or stateful:
            problems.append(
                f"data.targets=case tags each character of independent windows: it needs data.tokenizer=char and "
                f"data.stateful=false (got data.tokenizer={tokenizer}, data.stateful={str(stateful).lower()})"
            )
    problems += _schedule_problems(cfg)
    problems += _folder_problems(cfg)
    problems += _checkpoint_problems(cfg)
    problems += _patch_problems(cfg, tbptt, stateful)
    problems += _token_option_problems(cfg)
    problems += _embedding_problems(cfg)
    problems += _relative_problems(cfg)
    problems += _validation_problems(cfg)
    problems += _highway_problems(cfg)
    problems += _recipe_problems(cfg)
    problems += _instance_norm_problems(cfg)
    if tbptt is not None and cfg.trainer.accumulate_grad_batches != 1:
        problems.append(
            f"trainer.accumulate_grad_batches={cfg.trainer.accumulate_grad_batches} is not supported with "
            f"task.tbptt_steps={tbptt} (one optimizer step per chunk); set it to 1"
        )
    return problems


#: Keys that name a folder the run writes into, by name wherever they appear in these groups.
FOLDER_KEYS = {"paths": ("output_dir",), "callbacks": ("dirpath",), "logger": ("save_dir", "dir"), "data": ("cache_dir",)}


def _folder_problems(cfg: DictConfig) -> list[str]:
    """Every folder the run writes into can be made and written, before any data is read or any epoch trained."""
    from seqtrain.checks.arguments import folder_problem

    nodes = [("paths", cfg.paths, "paths"), ("data", cfg.data, "data")]
    for group in ("callbacks", "logger"):
        nodes += [(f"{group}.{name}", node, group) for name, node in (cfg[group] or {}).items() if isinstance(node, DictConfig)]
    problems = []
    for key, node, group in nodes:
        for name in FOLDER_KEYS[group]:
            value = node.get(name)
            if isinstance(value, str) and "://" not in value and (problem := folder_problem(value)):
                problems.append(f"{key}.{name}={value!r}: {problem}; name a folder the run can write")
    return problems


def model_checkpoints(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """The `callbacks.*` entries that are Lightning `ModelCheckpoint`s, by name (the best checkpoint's keepers)."""
    return [(name, node) for name, node in (cfg.callbacks or {}).items()
            if isinstance(node, DictConfig) and str(node.get("_target_", "")).endswith("ModelCheckpoint")]


def _checkpoint_problems(cfg: DictConfig) -> list[str]:
    """The best checkpoint is `monitor`'s best (seqtrain.run tests it, says so, and returns `val[monitor]` to a sweeper):
    a `ModelCheckpoint` watching another metric, another way or none (then its `best.ckpt` is the last epoch's) made
    that line and a sweep's objective describe a checkpoint chosen otherwise."""
    problems = []
    for name, node in model_checkpoints(cfg):
        metric, mode = node.get("monitor"), node.get("mode", "min")
        if metric is None:
            problems.append(f"callbacks.{name}.monitor=None keeps the last epoch's weights as the best checkpoint, but the run "
                            f"tests, reports and returns to a sweep the best by monitor={cfg.monitor!r}; leave "
                            f"callbacks.{name}.monitor as ${{monitor}}")
        elif metric != cfg.monitor:
            problems.append(f"callbacks.{name}.monitor={metric!r}, but monitor={cfg.monitor!r}: the run tests, reports and "
                            f"returns to a sweep the best checkpoint by monitor; set monitor={metric} (with its monitor_mode) "
                            f"if that is the metric, and leave callbacks.{name}.monitor as ${{monitor}}")
        elif mode != cfg.monitor_mode:
            problems.append(f"callbacks.{name}.mode={mode!r}, but monitor_mode={cfg.monitor_mode!r}: the best checkpoint "
                            f"would not be the best by {cfg.monitor}; set callbacks.{name}.mode={cfg.monitor_mode} (or leave "
                            "it ${monitor_mode})")
        # Several checkpoints under one file name (no `{...}` in it, no version counter): each save replaces the file,
        # and Lightning's best_model_path names it, so the run tested the newest of the top k, not the best.
        keep, filename = node.get("save_top_k", 1), node.get("filename")
        if (_is_number(keep) and keep not in (0, 1) and isinstance(filename, str) and "{" not in filename
                and node.get("enable_version_counter", True) is False):
            problems.append(f"callbacks.{name}.save_top_k={keep} keeps several checkpoints under one file name "
                            f"(callbacks.{name}.filename={filename}): each save replaced the last, so {filename}.ckpt was "
                            f"the newest of them, not the best by {cfg.monitor}; set callbacks.{name}.save_top_k=1, or a "
                            f"filename that tells them apart (callbacks.{name}.filename='{filename}-{{epoch}}')")
    return problems


def _schedule_problems(cfg: DictConfig) -> list[str]:
    """A cosine `T_max` counted in epochs (`${trainer.max_epochs}`) stepped every batch (`scheduler.interval=step`)
    cycles every max_epochs batches. ReduceLROnPlateau steps on `monitor` (seqtrain.task): its `mode` (torch's default
    `min` when unset) must be `monitor_mode`, or it cuts the learning rate while the metric improves and never while it
    stalls."""
    node = cfg.scheduler.scheduler
    if node is not None and cfg.scheduler.interval == "step" and "T_max" in node:
        raw = node._get_node("T_max")._value()  # the text, unresolved: its unit
        if isinstance(raw, str) and "max_epochs" in raw:
            return [f"scheduler.scheduler.T_max={raw} counts epochs, but scheduler.interval=step steps the schedule every "
                    f"batch: the learning rate would reach its minimum after {node.T_max} batches and rise again "
                    f"({str(node._target_).rsplit('.', 1)[-1]} is periodic); set scheduler.scheduler.T_max to the run's "
                    "batches (e.g. ${trainer.max_steps} with trainer.max_steps set), or scheduler.interval=epoch"]
    if node is None or not str(node.get("_target_", "")).endswith("ReduceLROnPlateau"):
        return []
    problems = []
    mode = node.get("mode", "min")
    if mode != cfg.monitor_mode:
        problems.append(f"scheduler.scheduler.mode={mode!r}{' (torch default)' if 'mode' not in node else ''} with "
                        f"monitor={cfg.monitor!r} (monitor_mode={cfg.monitor_mode!r}): ReduceLROnPlateau steps on monitor, so "
                        f"it would cut the learning rate while {cfg.monitor} improves; set scheduler.scheduler.mode="
                        f"{cfg.monitor_mode} (scheduler=plateau: ${{monitor_mode}})")
    # It steps at every epoch's end on `monitor` (Lightning's loop; seqtrain.task under truncated BPTT). An epoch that
    # ends without validating has no val/ value: Lightning stopped the run there with a MisconfigurationException (a
    # KeyError under truncated BPTT), and a stale value would count as one more epoch without improvement.
    every = OmegaConf.select(cfg, "trainer.check_val_every_n_epoch", default=1)
    if str(cfg.monitor).startswith("val/") and every != 1:
        problems.append(f"scheduler=plateau (ReduceLROnPlateau) with trainer.check_val_every_n_epoch={every} and "
                        f"monitor={cfg.monitor}: the scheduler steps at the end of every epoch on {cfg.monitor}, which an "
                        "epoch without validation does not have (the run stopped after its first such epoch); set "
                        "trainer.check_val_every_n_epoch=1, or monitor a train/ metric (monitor=train/loss)")
    return problems


def _patch_problems(cfg: DictConfig, tbptt: int | None, stateful: bool) -> list[str]:
    """`model.patch_size`: `auto` needs its target length; k > 1 needs whole real-valued sequences (the task
    kind refuses per-step targets; the data's facts, token inputs the config could not tell)."""
    size = OmegaConf.select(cfg, "model.patch_size", default=None)
    if size == "auto":
        steps = OmegaConf.select(cfg, "recipe.patch_steps", default=None)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            return [f"model.patch_size=auto sizes patches so the median training sequence is at most recipe.patch_steps "
                    f"steps long, but recipe.patch_steps={steps!r}: set it to an integer >= 1, e.g. recipe.patch_steps=24"]
        return []
    if not isinstance(size, int) or size == 1:
        return []
    problems = []
    kind = OmegaConf.select(cfg, "data.sequence_kind", default=None)
    if kind in ("text", "tokens"):
        problems.append(f"model.patch_size={size} groups real-valued steps, but data.sequence_kind={kind} gives token ids, "
                        "which cannot be added into one input; set model.patch_size=1")
    if tbptt is not None:
        problems.append(f"model.patch_size={size} cannot train with task.tbptt_steps={tbptt}: chunks would cut patches and "
                        "truncated BPTT needs a target per step; set model.patch_size=1")
    if stateful:
        problems.append(f"model.patch_size={size} cannot carry state across batches (data.stateful=true): a stream has "
                        "no sequence to patch whole; set model.patch_size=1")
    return problems


def _instance_norm_problems(cfg: DictConfig) -> list[str]:
    """`model.instance_norm` and `model.relative_to` both re-level each window: one at a time (`auto` is `last` on a forecast);
    `model.differences=shape` differences instance_norm's shape, so it needs one."""
    mode, relative = OmegaConf.select(cfg, "model.instance_norm", default=None), OmegaConf.select(cfg, "model.relative_to", default=None)
    forecast = str(OmegaConf.select(cfg, "data._target_", default="")).endswith("ForecastDataModule")
    if mode is not None and (relative in ("last", "mean") or (relative == "auto" and forecast)):
        return [f"model.instance_norm={mode} and model.relative_to={relative} both re-level each window; set one of them "
                "to null (forecasts: relative_to, the forecast recipe's)"]
    if mode is None and OmegaConf.select(cfg, "model.differences", default=None) == "shape":
        return ["model.differences=shape takes the first differences of the rows model.instance_norm standardizes, but "
                "model.instance_norm=null; set model.instance_norm (shape, shape_level or shape_values) or model.differences=inputs"]
    return []


def _recipe_problems(cfg: DictConfig) -> list[str]:
    """The thresholds of the recipe's rules settled once the data is read (seqtrain.recipe): refused here, before the
    data is read, rather than as a comparison's TypeError after it (or a bool taken for a number)."""
    problems = []
    below = OmegaConf.select(cfg, "recipe.small_classification.below_rows", default=None)
    if OmegaConf.select(cfg, "recipe.small_classification.settings", default=None) is not None and (
            isinstance(below, bool) or not isinstance(below, int) or below < 0):
        problems.append(f"recipe.small_classification.below_rows={below!r}: must be an integer >= 0 (training rows below "
                        "which small numeric classification sets train without a validation carve-out; 0: never)")
    least = OmegaConf.select(cfg, "recipe.small_classification.multiclass.min_classes", default=None)
    if OmegaConf.select(cfg, "recipe.small_classification.multiclass.settings", default=None) and (
            isinstance(least, bool) or not isinstance(least, int) or least < 2):
        problems.append(f"recipe.small_classification.multiclass.min_classes={least!r}: must be an integer >= 2 (the "
                        "number of classes from which the small-set rule adds recipe.small_classification.multiclass.settings)")
    share = OmegaConf.select(cfg, "recipe.text_by_spacing.spaced_share", default=None)
    if OmegaConf.select(cfg, "recipe.text_by_spacing", default=None) is not None and not (_is_number(share) and 0 <= share <= 1):
        problems.append(f"recipe.text_by_spacing.spaced_share={share!r}: must be a number in [0, 1] (the share of "
                        "whitespace among the training characters from which text is read as words)")
    return problems


def _token_option_problems(cfg: DictConfig) -> list[str]:
    """`model.bag` averages token embeddings, `model.naive_bayes` counts tokens: numbers are refused here when the data
    config says so (the task kind refuses per-step targets; the data's facts, real-valued inputs the config could not
    tell)."""
    kind = OmegaConf.select(cfg, "data.sequence_kind", default=None)
    problems = []
    for key, does in (("bag", "averages token embeddings"), ("naive_bayes", "counts tokens")):
        value = OmegaConf.select(cfg, f"model.{key}", default=None)
        if value is not None and kind in ("numbers", "vectors"):
            problems.append(f"model.{key}={value} {does}, but data.sequence_kind={kind} gives real-valued inputs; "
                            f"set model.{key}=null")
    return problems


#: Tokenizers of byte-level subword pieces (a vocabulary of at least the 256 bytes; pieces that spell words).
SUBWORD_TOKENIZERS = ("bpe", "unigram")


def _word_count_problems(cfg: DictConfig) -> list[str]:
    """`model.naive_bayes=words` counts the words subword tokens spell: with characters or words as tokens there is
    nothing to spell. Judged once the data is read (`check_facts`), when the recipe has settled `data.tokenizer` by how
    the text is written (the config's own default, characters, is not yet the run's)."""
    tokenizer = OmegaConf.select(cfg, "data.tokenizer", default=None)
    if OmegaConf.select(cfg, "model.naive_bayes", default=None) != "words" or tokenizer is None or tokenizer in SUBWORD_TOKENIZERS:
        return []
    return [f"model.naive_bayes=words counts the words that subword tokens spell, but data.tokenizer={tokenizer} "
            f"{'reads words whole' if tokenizer == 'word' else 'reads characters'}; set data.tokenizer=unigram (or bpe), "
            "or model.naive_bayes=bigrams"]


def _raw_tokens(source: str) -> str:
    return (f"model.embedding_dim=null feeds the inputs to the RNN unchanged, which only real-valued features can be, but "
            f"{source} gives token ids; set model.embedding_dim (e.g. 64)")


def _embedding_problems(cfg: DictConfig) -> list[str]:
    """`model.embedding_dim=null` (no input layer) on token inputs, when the data config says they are tokens (text data,
    or `data.sequence_kind` text / tokens); the data's facts tell the rest (`check_facts`). The model refused it only
    when built, after the data was read, in Hydra's wrapping."""
    if cfg.model._target_ != SEQUENCE_MODEL or OmegaConf.select(cfg, "model.embedding_dim", default=0) is not None:
        return []
    kind = OmegaConf.select(cfg, "data.sequence_kind", default=None)
    if str(cfg.data.get("_target_", "")).endswith("TextDataModule"):
        return [_raw_tokens(f"data={cfg.data._target_}")]
    if kind in ("text", "tokens"):
        return [_raw_tokens(f"data.sequence_kind={kind}")]
    return []


def _not_a_forecast(option: str, data: dict[str, Any]) -> str | None:
    """`model.relative_to` and `model.ar_highway` read each target's own past values: only forecasting data has them."""
    targets = data_targets(data)
    if targets is not None and not data.get("_target_", "").endswith("ForecastDataModule"):
        return (f"{option} reads each target's own past values, which only forecasting data has ({targets.source} is "
                f"{targets.kind}); set {option.split('=')[0]}=null")
    return None


def _targets_not_inputs(option: str, data: dict[str, Any]) -> str | None:
    """... and so need every target among the inputs (`data.target_columns` within `data.columns`)."""
    columns, target_columns = data.get("columns"), data.get("target_columns")
    if columns is not None and target_columns is not None and (outside := [c for c in target_columns if c not in columns]):
        return (f"{option} reads each target's own past values, but data.target_columns {outside} are not among "
                f"data.columns {columns}: add them to data.columns, or set {option.split('=')[0]}=null")
    return None


def _relative_problems(cfg: DictConfig) -> list[str]:
    """`model.relative_to` adds each target's own last value (or mean) back: every target must be an input of a forecast."""
    relative = OmegaConf.select(cfg, "model.relative_to", default=None)
    if relative in (None, "auto"):  # auto: settled by the data's facts, said in one line (seqtrain.run)
        return []
    data = _resolved(cfg.data)
    option = f"model.relative_to={relative}"
    if problem := _not_a_forecast(option, data) or _targets_not_inputs(option, data):
        return [problem]
    if relative == "mean" and data.get("mode") == "many_to_many":
        return ["model.relative_to=mean needs one forecast per window, but data.mode=many_to_many forecasts at every step "
                "(the window's mean holds those steps); use model.relative_to=last"]
    return []


def _highway_problems(cfg: DictConfig) -> list[str]:
    """`model.ar_highway=k` maps each target's own last k input steps to its forecast: a many_to_one forecast whose
    targets are inputs, with windows of at least k steps. `auto` is settled by the data's facts (said in one line)."""
    steps = OmegaConf.select(cfg, "model.ar_highway", default=None)
    if steps in (None, "auto"):
        return []
    data = _resolved(cfg.data)
    option = f"model.ar_highway={steps}"
    if problem := _not_a_forecast(option, data):
        return [problem]
    problems = [problem] if (problem := _targets_not_inputs(option, data)) else []
    if data.get("mode") == "many_to_many" or OmegaConf.select(cfg, "model.head", default=None) == "many_to_many":
        problems.append(f"{option} adds one linear forecast per window, but data.mode=many_to_many forecasts at "
                        "every step; use data.mode=many_to_one, or set model.ar_highway=null")
    window = data.get("window")
    if _is_number(window) and steps > window:
        problems.append(f"{option} reads the last {steps} steps of each window, but data.window={window}; set "
                        f"model.ar_highway to at most {window} (or auto: the whole window)")
    return problems


def data_targets(data: dict[str, Any]) -> DataTargets | None:
    """The task kind and target layout of a data config, from its keys alone (no data is read).

    The shipped datamodules by class name; None for a `_target_` seqtrain does not know, whose kind is
    then judged from its facts once it is set up (`kind_problems` with `DataFacts`). A test holds this
    table to every shipped data config's facts.
    """
    target = data.get("_target_", "")
    name = target.rsplit(".", 1)[-1] if target.startswith("seqtrain.data") else None
    source = f"data={target}"
    if name == "TextDataModule" and data.get("targets") == "case":
        return DataTargets("tagging", per_step=True, next_step=False, source=f"{source}(targets=case)")
    if name == "TextDataModule":
        return DataTargets("language_modeling", per_step=True, next_step=True, source=source)
    if name == "AddingDataModule":
        return DataTargets("regression", per_step=False, next_step=False, source=source)
    if name == "ParityDataModule":
        per_step = data.get("per_step") is True
        return DataTargets("tagging" if per_step else "classification", per_step, next_step=False,
                           source=f"{source}(per_step={str(per_step).lower()})")
    if name == "ForecastDataModule":
        per_step = data.get("mode") == "many_to_many"  # the window shifted by one: next values
        return DataTargets("regression", per_step, next_step=per_step, source=f"{source}(mode={data.get('mode')})")
    if name == "TableDataModule":
        task = data.get("task")
        if task not in ("classification", "regression", "tagging"):
            return None  # the signature check names the bad value
        per_step = task == "tagging" or data.get("per_step") is True
        return DataTargets(task, per_step, next_step=False, source=f"{source}(task={task})")
    return None


def monitors(cfg: DictConfig) -> dict[str, tuple[str | None, str | None]]:
    """Every metric the run watches, by its dotted key: `monitor` and each callback's, with its mode."""
    found: dict[str, tuple[str | None, str | None]] = {"monitor": (cfg.monitor, cfg.monitor_mode)}
    for name, node in (cfg.callbacks or {}).items():
        if isinstance(node, DictConfig) and node.get("monitor") is not None:
            found[f"callbacks.{name}.monitor"] = (node.monitor, node.get("mode"))
    return found


def kind_problems(cfg: DictConfig, targets: DataTargets) -> list[str]:
    """What the data's task kind refuses of the model, task and monitor settings."""
    model = _resolved(cfg.model) if cfg.model._target_ == SEQUENCE_MODEL else None
    run = RunChoices(
        targets=targets,
        model=model,
        tbptt_steps=cfg.task.tbptt_steps,
        label_smoothing=cfg.task.label_smoothing,
        random_scaling=OmegaConf.select(cfg, "task.random_scaling", default=None),
        stateful=bool(OmegaConf.select(cfg, "data.stateful", default=False)),
        monitors=monitors(cfg),
    )
    return kind_named(targets.kind).problems(run)


def check_facts(cfg: DictConfig, facts: Any) -> None:
    """After `setup`: the data's facts against what its config promised (or, for a datamodule seqtrain
    does not know, the task kind's checks, now that the kind is known); raises ConfigError."""
    expected = data_targets(_resolved(cfg.data))
    if expected is None:
        targets = DataTargets(facts.task, facts.per_step, next_step=False, source=f"data={cfg.data._target_}")
        problems = kind_problems(cfg, targets)
    elif (expected.kind, expected.per_step) != (facts.task, facts.per_step):
        problems = [f"{expected.source} promised task kind {expected.kind} (per_step={expected.per_step}) but its data "
                    f"gives {facts.task} (per_step={facts.per_step}): seqtrain.config.data_targets is out of date"]
    else:
        problems = []
    size = OmegaConf.select(cfg, "model.patch_size", default=None)
    if isinstance(size, int) and size > 1 and facts.vocab_size is not None:
        problems.append(f"model.patch_size={size} groups real-valued steps, but data={cfg.data._target_} gives token ids "
                        f"(vocabulary of {facts.vocab_size}), which cannot be added into one input; set model.patch_size=1")
    if cfg.model._target_ == SEQUENCE_MODEL and OmegaConf.select(cfg, "model.embedding_dim", default=0) is None and facts.vocab_size is not None:
        problems.append(_raw_tokens(f"data={cfg.data._target_} (vocabulary of {facts.vocab_size})"))
    for key, does in (("bag", "averages token embeddings"), ("naive_bayes", "counts tokens")):
        value = OmegaConf.select(cfg, f"model.{key}", default=None)
        if value is not None and facts.vocab_size is None:
            problems.append(f"model.{key}={value} {does}, but data={cfg.data._target_} gives real-valued inputs "
                            f"({facts.num_features} feature(s) per step); set model.{key}=null")
    if facts.vocab_size is not None:
        problems += _word_count_problems(cfg)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def check_batches(trainer: Any, datamodule: Any) -> int | None:
    """Once the data is read: the trainer's batch counts against the training batches of an epoch (Lightning refused
    these inside `fit`, with a traceback, after the run directory was written); raises ConfigError. Returns the
    training batches of an epoch (None for a loader without a length)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.trainer.connectors.data_connector import _parse_num_batches
    from lightning.pytorch.trainer.states import RunningStage

    try:
        length = len(datamodule.train_dataloader())
    except TypeError:  # an iterable dataset of your own: no length to judge by
        return None
    limit = trainer.limit_train_batches
    try:
        batches = _parse_num_batches(RunningStage.TRAINING, length, limit)
    except MisconfigurationException:
        raise ConfigError(f"invalid config:\n  trainer.limit_train_batches={limit} of the {length} training batches of an "
                          f"epoch is less than one batch; set it to at least {1 / length:.3g}, or a number of batches") from None
    interval = trainer.val_check_interval
    if (isinstance(interval, int) and not isinstance(interval, bool) and interval > batches
            and trainer.check_val_every_n_epoch is not None and trainer.limit_val_batches > 0):
        raise ConfigError(f"invalid config:\n  trainer.val_check_interval={interval} validates every {interval} training "
                          f"batches, but an epoch has {batches} (data.batch_size={getattr(datamodule, 'batch_size', '?')}); set "
                          f"it to at most {batches}, a fraction of an epoch (e.g. 0.5), or trainer.check_val_every_n_epoch=null "
                          "to count batches across epochs")
    return batches


def check_targets(cfg: DictConfig) -> None:
    """Each `_target_` node against its constructor, then everything that can be built without data; raises ConfigError."""
    model = _as_built(cfg.model)
    errors = check_arguments("model", model, supplied=MODEL_FACTS)
    errors += check_arguments("data", cfg.data)
    errors += check_arguments("optimizer", cfg.optimizer, supplied=("params",))
    errors += check_arguments("trainer", cfg.trainer, supplied=("callbacks", "logger"))
    if cfg.scheduler.scheduler is not None:
        errors += check_arguments("scheduler.scheduler", cfg.scheduler.scheduler, supplied=("optimizer",))
    for group in ("callbacks", "logger"):
        for name, node in (cfg[group] or {}).items():
            errors += check_arguments(f"{group}.{name}", node)
            errors += _passed_on_problems(f"{group}.{name}", node)
    callbacks: dict[str, Any] = {}
    if not errors:
        errors += _model_problems(model)
        errors += _optimizer_and_scheduler_problems(cfg)
        found, callbacks = _callback_and_logger_problems(cfg)
        errors += found
        errors += hardware_problems(_resolved(cfg.trainer))
    if not errors:
        errors += _trainer_problems(cfg, callbacks)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


#: Constructors whose `**kwargs` go on to another function, whose signature then judges them.
PASSED_ON = {"lightning.pytorch.loggers.WandbLogger": "wandb.init", "seqtrain.wandb_logger.WandbLogger": "wandb.init"}


def _passed_on_problems(key: str, node: DictConfig) -> list[str]:
    """`+logger.wandb.projct=x`: WandbLogger takes any keyword and hands it to `wandb.init`, which would fail late."""
    receiver = PASSED_ON.get(node._target_)
    if receiver is None:
        return []
    from hydra.utils import get_object

    own = set(inspect.signature(get_object(node._target_)).parameters)
    accepted, hints, _ = _signature(get_object(receiver))
    problems = []
    for name, value in _resolved(node).items():
        if name.startswith("_") or name in own:
            continue
        if name not in accepted:
            problems.append(f"{key}.{name}: unknown key for {node._target_} (neither it nor {receiver} takes it)")
        elif name in hints and (problem := _type_problem(hints[name], value)):
            problems.append(f"{key}.{name}={value!r}: {problem} (passed on to {receiver})")
    return problems


def _optimizer_and_scheduler_problems(cfg: DictConfig) -> list[str]:
    """Build the optimizer on a stand-in parameter and the scheduler on it: their own refusals, with the key."""
    import torch
    from hydra.utils import instantiate

    try:
        optimizer = instantiate(cfg.optimizer, _convert_="all")([torch.nn.Parameter(torch.zeros(1))])
    except Exception as e:  # noqa: BLE001 - whatever the constructor refuses, named
        return [f"optimizer ({cfg.optimizer._target_}) refused its values: {e}"]
    eps, tiny = optimizer.defaults.get("eps"), torch.finfo(torch.float16).smallest_normal
    if str(OmegaConf.select(cfg, "trainer.precision")) == "16-true" and _is_number(eps) and 0 < eps < tiny:
        given = "" if "eps" in cfg.optimizer else f" ({cfg.optimizer._target_}'s default; not set)"
        return [f"optimizer.eps={eps:g}{given} with trainer.precision=16-true: the weights and the optimizer's state are float16, "
                f"below whose smallest normal number ({tiny:.2g}) it is 0 or nearly so, and the update divides by it "
                "(NaN or inf at the first steps); set optimizer.eps=1e-4, or trainer.precision=bf16-mixed (16-mixed on a GPU)"]
    if cfg.scheduler.scheduler is None:
        return []
    try:
        instantiate(cfg.scheduler.scheduler, _convert_="all")(optimizer)
    except Exception as e:  # noqa: BLE001
        return [f"scheduler.scheduler ({cfg.scheduler.scheduler._target_}) refused its values: {e}"]
    return []


def _callback_and_logger_problems(cfg: DictConfig) -> tuple[list[str], dict[str, Any]]:
    """Build each callback and logger (cheap, no files written), and seqtrain's datamodule (its constructor
    checks its arguments; data is read only by `setup`): their own refusals, with the key, and the callbacks built,
    by name (for `_trainer_problems`)."""
    from hydra.utils import instantiate

    nodes = [(f"{group}.{name}", node) for group in ("callbacks", "logger") for name, node in (cfg[group] or {}).items()]
    if str(cfg.data._target_).startswith("seqtrain.data."):  # a datamodule of your own might read data when built
        nodes.append(("data", cfg.data))
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers import Logger

    kinds = {"callbacks": Callback, "logger": Logger}
    problems, callbacks = [], {}
    for key, node in nodes:
        try:
            built = instantiate(node)
        except Exception as e:  # noqa: BLE001
            problems.append(_refusal(key, node, e))
            continue
        wanted = kinds.get(key.split(".", 1)[0])  # Lightning's TypeError came only after the data was read
        if wanted is not None and not isinstance(built, wanted):
            problems.append(f"{key}._target_={node._target_!r} is not a Lightning {wanted.__name__} (it builds "
                            f"{type(built).__module__}.{type(built).__qualname__}); name a subclass of lightning.pytorch."
                            f"{'callbacks.Callback' if wanted is Callback else 'loggers.Logger'}, or remove the entry with ~{key}")
        elif wanted is Callback:
            callbacks[key.split(".", 1)[1]] = built
    return problems, callbacks


def _refusal(key: str, node: DictConfig, error: Exception) -> str:
    """A constructor's refusal with the dotted key: Hydra's wrapping removed, and a message that starts with
    one of the node's keys (`batch_size must be >= 1`) given its full name (`data.batch_size must be ...`)."""
    while error.__cause__ is not None and type(error).__name__ == "InstantiationException":
        error = error.__cause__
    message = str(error)
    first = message.split(" ", 1)[0].strip("`'\":=")
    if first in node and not first.startswith("_"):
        return f"{key}.{message}" if message.startswith(first) else f"{key}.{first}: {message}"
    return f"{key} ({node._target_}) refused its values: {message}"


def hardware_problems(trainer: dict[str, Any]) -> list[str]:
    """The accelerator, device count and precision against this machine (Lightning would fail late, or,
    for fp16 AMP on a CPU, silently run bf16 while config.yaml says 16-mixed)."""
    import torch

    from lightning.pytorch.accelerators import AcceleratorRegistry

    accelerator, devices, precision = trainer["accelerator"], trainer["devices"], str(trainer["precision"])
    known = sorted({"auto", "gpu", *AcceleratorRegistry.available_accelerators()})
    if isinstance(accelerator, str) and accelerator not in known:
        return [f"trainer.accelerator={accelerator!r}: must be one of {', '.join(known)}"]
    gpus = torch.cuda.device_count()
    if accelerator in ("gpu", "cuda") and gpus == 0:
        return [f"trainer.accelerator={accelerator}: this machine has no CUDA GPU (torch.cuda.device_count() == 0); "
                "use trainer=cpu or trainer.accelerator=cpu"]
    if accelerator == "tpu" and importlib.util.find_spec("torch_xla") is None:
        return ["trainer.accelerator=tpu needs torch_xla, which is not installed; use trainer.accelerator=cpu or gpu"]
    if accelerator == "mps" and not torch.backends.mps.is_available():
        return ["trainer.accelerator=mps: MPS is not available on this machine; use trainer.accelerator=cpu"]
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and gpus > 0)
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and gpus == 0 and not torch.backends.mps.is_available())
    problems = []
    wanted = len(devices) if isinstance(devices, list) else devices if isinstance(devices, int) else None
    if on_gpu and wanted is not None and wanted > gpus:
        problems.append(f"trainer.devices={devices}: this machine has {gpus} CUDA GPU(s)")
    if on_cpu and devices == -1:
        problems.append("trainer.devices=-1 (every GPU) on a CPU: give the number of processes, e.g. trainer.devices=1")
    if accelerator == "auto" and on_cpu and wanted is not None and wanted > 1:
        problems.append(
            f"trainer.devices={devices} with trainer.accelerator=auto: this machine has no GPU, so auto would start "
            f"{wanted} CPU processes; set trainer.accelerator=cpu if that is what you want, or trainer.devices=1"
        )
    if on_cpu and precision in ("16-mixed", "16"):
        problems.append(
            f"trainer.precision={precision}: fp16 mixed precision needs a GPU (on a CPU Lightning would run bf16-mixed "
            "instead); use trainer.precision=bf16-mixed or 32-true"
        )
    if on_cpu and precision.startswith("transformer-engine"):
        problems.append(f"trainer.precision={precision} needs an NVIDIA GPU; use trainer.precision=32-true")
    return problems


def _trainer_problems(cfg: DictConfig, built: dict[str, Any]) -> list[str]:
    """Build the Trainer with the run's callbacks (`built`, by name), without loggers: Lightning's own checks (intervals, limits, strategy,
    and the trainer's switches against the callbacks: `enable_checkpointing=false` beside a `ModelCheckpoint`,
    `enable_progress_bar=false` beside a progress bar, refused before only once the data was read)."""
    import lightning.pytorch as pl

    options = {k: v for k, v in _resolved(cfg.trainer).items() if not k.startswith("_")}
    options.update(logger=False)
    quiet = logging.getLogger("lightning.pytorch")
    level, quiet.level = quiet.level, logging.ERROR  # its "GPU available" lines come again from the real one
    try:
        pl.Trainer(**options, callbacks=list(built.values()))
    except Exception as e:  # noqa: BLE001
        # "... but found `ModelCheckpoint` in callbacks list": name the callbacks entry too
        # (Lightning names any `Checkpoint`, LastCheckpoint among them, `ModelCheckpoint`)
        found = {"Checkpoint" if name == "ModelCheckpoint" else name for name in re.findall(r"found `(\w+)`", str(e))}
        named = [name for name, callback in built.items() if found & {cls.__name__ for cls in type(callback).__mro__}]
        hint = (f"; drop {' and '.join(f'callbacks.{name}' for name in named)} "
                f"({' '.join(f'~callbacks.{name}' for name in named)}) or the trainer switch") if named else ""
        return [f"trainer (lightning.pytorch.Trainer) refused its values: {e}{hint}"]
    finally:
        quiet.setLevel(level)
    return []


def check_arguments(key: str, node: DictConfig, supplied: tuple[str, ...] = ()) -> list[str]:
    """Unknown keys, missing required keys and wrongly typed values of one `_target_` node."""
    from hydra.utils import get_object

    try:
        target = get_object(node._target_)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's `_target_`
        from seqtrain.legacy import retired_message

        return [retired_message(key, node._target_) or f"{key}._target_={node._target_!r} cannot be imported: {e}"]
    params, hints, takes_any = _signature(target)
    values = _resolved(node)
    errors = []
    for name, value in values.items():
        if name.startswith("_"):
            continue
        if isinstance(node.get(name), DictConfig) and "_target_" in node[name]:  # built by Hydra first: its own signature
            errors += check_arguments(f"{key}.{name}", node[name])
            if name in params or takes_any:
                continue
        if name not in params:
            if not takes_any:
                names = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
                known = ", ".join(names[:25]) + (f", ... ({len(names)} in all)" if len(names) > 25 else "")
                errors.append(f"{key}.{name}: unknown key for {node._target_} (known: {known})")
        elif name in hints and (problem := _type_problem(hints[name], value)):
            errors.append(f"{key}.{name}={value!r}{_source(node, name)}: {problem}")
    if not values.get("_partial_", False):
        for name, p in params.items():
            required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            if required and name not in values and name not in supplied:
                errors.append(f"{key}.{name}: missing, and required by {node._target_}")
    return errors


def _signature(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """Parameters, type hints and whether any keyword goes, following `**kwargs` up a class's bases."""
    if isinstance(target, type) and issubclass(target, BaseModel):  # pydantic (e.g. wandb.Settings): its fields
        params = {n: p for n, p in inspect.signature(target).parameters.items() if p.kind is not p.VAR_KEYWORD}
        hints = {n: f.annotation for n, f in target.model_fields.items() if n in params}
        return params, hints, target.model_config.get("extra") == "allow"
    functions = [target.__init__ for target in target.__mro__ if "__init__" in vars(target)] if isinstance(target, type) else [target]
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for fn in functions:
        own = {n: p for n, p in inspect.signature(fn).parameters.items() if n != "self"}
        params.update({n: p for n, p in own.items() if n not in params})
        try:
            hints = {**typing.get_type_hints(fn), **hints}
        except Exception:  # noqa: BLE001 - one unresolvable annotation (e.g. WandbLogger's 'Run'): keep the evaluated ones
            evaluated = {n: p.annotation for n, p in own.items() if p.annotation is not p.empty and not isinstance(p.annotation, str)}
            hints = {**evaluated, **hints}
        if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
            return {n: p for n, p in params.items() if p.kind is not p.VAR_KEYWORD}, hints, False
    return params, hints, True


def _as_built(model: DictConfig) -> DictConfig:
    """The model node as the run will build it: `patch_size=auto` becomes an integer once the data is read
    (an integer the data's facts pick, always valid), so the checks before that see 1 in its place."""
    if model.get("patch_size") != "auto":
        return model
    node = model.copy()
    node.patch_size = 1
    return node


def _model_problems(node: DictConfig) -> list[str]:
    """The model's own checks, run on the meta device with stand-in data facts."""
    import torch
    from hydra.utils import instantiate

    options = _resolved(node)
    per_step = options.get("tie_weights") is True or options.get("head") == "many_to_many"
    stand_in = {"vocab_size": 4, "padding_idx": 0, "num_outputs": 4, "per_step_targets": per_step}
    patched = isinstance(options.get("patch_size"), int) and options["patch_size"] > 1
    # Forecasting: each output has its own input feature; windows as long as the highway reads (the data's window is
    # checked against it by `_highway_problems`).
    highway = options.get("ar_highway") not in (None, "auto")
    relative = highway or options.get("relative_to") not in (None, "auto")
    if patched or relative or ("embedding_dim" in options and options["embedding_dim"] is None):  # only real-valued features
        stand_in = {"num_features": 4, "num_outputs": 4, "per_step_targets": per_step, **({"target_inputs": [0, 1, 2, 3]} if relative else {})}
        if highway:
            stand_in["window"] = options["ar_highway"]
    try:
        with torch.device("meta"):
            instantiate(node, **stand_in)
    except (ValueError, TypeError) as e:
        return [f"model: {e}"]
    return []


def check_interpolations(cfg: DictConfig) -> None:
    """Every `${...}` resolves; one that does not names its key, its text and the values it reads.

    A value the user set can break a key that reads it: `data.task=regresion` breaks the table recipe's
    `model.pooling: ${recipe.pooling.${data.task}}`, far from the key the user typed.
    """
    from omegaconf.errors import InterpolationResolutionError

    try:
        OmegaConf.to_container(cfg, resolve=True)
    except InterpolationResolutionError as error:
        key = error.full_key
        parent, _, leaf = key.rpartition(".")
        text = OmegaConf.select(cfg, parent, default=cfg) if parent else cfg
        raw = text._get_node(leaf)._value() if isinstance(text, DictConfig) and leaf in text else None  # the text, unresolved
        read = []
        for inner in dict.fromkeys(re.findall(r"\$\{([\w.]+)\}", str(raw))):
            value = OmegaConf.select(cfg, inner, default=None, throw_on_missing=False)
            read.append(f"{inner}={value!r}")
        reads = f" (it reads {', '.join(read)})" if read else ""
        raise ConfigError(f"invalid config:\n  {key}={raw!r} cannot be resolved: {error.msg.splitlines()[0]}{reads}") from None


def _resolved(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def _type_problem(annotation: Any, value: Any) -> str | None:
    from pydantic import TypeAdapter

    if isinstance(value, list) and _expects_tuple(annotation):
        value = tuple(value)  # YAML and the command line have lists only; constructors index them alike
    try:
        TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True)).validate_python(value, strict=True)
    except ValidationError as e:
        return "; ".join(err["msg"] for err in e.errors()[:2])
    except Exception:  # noqa: BLE001 - a type pydantic cannot check: the constructor will
        return None
    return None


def _expects_tuple(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return True
    return any(_expects_tuple(arg) for arg in typing.get_args(annotation)) if origin is not None else False


def _describe(key: str, err: Any, schema: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in err["loc"])
    if loc and not key:  # a top-level key
        key, loc = loc.split(".", 1) if "." in loc else (loc, "")
        if not loc:
            return _describe_top(key, err, schema)
    if not loc:  # a model-level (combination) check: its message names the keys
        return err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = ", ".join(f.alias or name for name, f in schema.model_fields.items())
        return f"{key}.{loc}: unknown key (known: {known})"
    if err["type"] == "missing":
        return f"{key}.{loc}: missing"
    return f"{key}.{loc}={err.get('input')!r}: {err['msg'].removeprefix('Value error, ')}"


def _describe_top(key: str, err: Any, schema: type[BaseModel]) -> str:
    if err["type"] == "extra_forbidden":
        known = ", ".join(name for name in schema.model_fields if name != "hydra")
        return f"{key}: unknown top-level key (known: {known})"
    if err["type"] == "missing":
        return f"{key}: missing"
    return f"{key}={err.get('input')!r}: {err['msg']}"
