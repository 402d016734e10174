"""Check a composed config before any data is read; every error names the dotted key.

Two passes:
- `check_options` (fast, imports neither torch nor Lightning): the options users type most —
  the model, `task`, the trainer's clipping/accumulation — and the combinations across groups
  that cannot work, as declarative pydantic schemas. Runs before the heavy imports.
- `check_targets`: every `_target_` node against its constructor's signature (unknown keys,
  missing keys, types from the annotations; `Literal[...]` lists the allowed values), then the
  model's own range and combination checks on the meta device, so nothing is allocated.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SEQUENCE_MODEL = "seqtrain.models.SequenceModel"
MODEL_FACTS = ("num_outputs", "per_step_targets", "vocab_size", "num_features", "padding_idx")


class ConfigError(ValueError):
    """A config value that cannot work; the message names the dotted key."""


class ModelOptions(BaseModel):
    """The keys of `model=rnn|lstm|gru` (`SequenceModel`); a test keeps them in step with its signature."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    target: str = Field(alias="_target_")
    cell: Literal["rnn", "lstm", "gru"]
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    nonlinearity: Literal["tanh", "relu"]
    bias: bool
    dropout: float = Field(ge=0.0, lt=1.0)
    bidirectional: bool
    embedding_dim: int | None = Field(ge=1)
    pooling: Literal["last", "mean", "max"] | None
    head: Literal["auto", "many_to_one", "many_to_many"]
    tie_weights: bool

    @model_validator(mode="after")
    def _combinations(self) -> ModelOptions:
        if self.nonlinearity == "relu" and self.cell != "rnn":
            raise ValueError(f"model.nonlinearity='relu' applies to cell='rnn' only (torch.nn.RNN), got cell={self.cell!r}")
        if self.pooling is not None and self.head == "many_to_many":
            raise ValueError("model.pooling applies to many_to_one heads only; set model.pooling=null for head=many_to_many")
        if self.tie_weights:
            width = self.hidden_size * (2 if self.bidirectional else 1)
            if self.embedding_dim != width:
                raise ValueError(
                    f"model.tie_weights=true needs model.embedding_dim == hidden_size x directions ({width}), "
                    f"got embedding_dim={self.embedding_dim}"
                )
        return self


class TaskOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tbptt_steps: int | None = Field(ge=1)
    tbptt_variable: bool
    tbptt_scale_lr: bool

    @model_validator(mode="after")
    def _variable_needs_steps(self) -> TaskOptions:
        for key in ("tbptt_variable", "tbptt_scale_lr"):
            if getattr(self, key) and self.tbptt_steps is None:
                raise ValueError(f"task.{key}=true needs task.tbptt_steps")
        return self


class TrainerOptions(BaseModel):
    """The trainer keys seqtrain itself reads; the rest are checked against `Trainer`'s signature."""

    model_config = ConfigDict(extra="allow", strict=True)

    gradient_clip_val: float | None = Field(ge=0.0)
    gradient_clip_algorithm: Literal["norm", "value"]
    accumulate_grad_batches: int = Field(ge=1)


def check_options(cfg: DictConfig) -> None:
    """Fast checks of the options and their combinations; raises ConfigError."""
    errors: list[str] = []
    schemas: list[tuple[str, type[BaseModel]]] = [("task", TaskOptions), ("trainer", TrainerOptions)]
    if cfg.model._target_ == SEQUENCE_MODEL:
        schemas.insert(0, ("model", ModelOptions))
    for key, schema in schemas:
        node = _resolved(cfg[key])
        try:
            schema.model_validate(node)
        except ValidationError as e:
            errors += [_describe(key, err, schema) for err in e.errors()]
    if not errors:
        errors += _combination_problems(cfg)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


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
    documents = OmegaConf.select(cfg, "data.documents", default=None)
    if documents is not None and not stateful:
        problems.append(
            f"data.documents={documents} resets the state carried across stateful streams: it needs data.stateful=true"
        )
    if tbptt is not None and cfg.trainer.accumulate_grad_batches != 1:
        problems.append(
            f"trainer.accumulate_grad_batches={cfg.trainer.accumulate_grad_batches} is not supported with "
            f"task.tbptt_steps={tbptt} (one optimizer step per chunk); set it to 1"
        )
    return problems


def check_targets(cfg: DictConfig) -> None:
    """Each `_target_` node against its constructor, then the model's own checks; raises ConfigError."""
    errors = check_arguments("model", cfg.model, supplied=MODEL_FACTS)
    errors += check_arguments("data", cfg.data)
    errors += check_arguments("optimizer", cfg.optimizer, supplied=("params",))
    errors += check_arguments("trainer", cfg.trainer, supplied=("callbacks", "logger"))
    if cfg.scheduler.scheduler is not None:
        errors += check_arguments("scheduler.scheduler", cfg.scheduler.scheduler, supplied=("optimizer",))
    for group in ("callbacks", "logger"):
        for name, node in (cfg[group] or {}).items():
            errors += check_arguments(f"{group}.{name}", node)
    if not errors:
        errors += _model_problems(cfg.model)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def check_arguments(key: str, node: DictConfig, supplied: tuple[str, ...] = ()) -> list[str]:
    """Unknown keys, missing required keys and wrongly typed values of one `_target_` node."""
    from hydra.utils import get_object

    try:
        target = get_object(node._target_)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's `_target_`
        return [f"{key}._target_={node._target_!r} cannot be imported: {e}"]
    params, hints, takes_any = _signature(target)
    values = _resolved(node)
    errors = []
    for name, value in values.items():
        if name.startswith("_"):
            continue
        if name not in params:
            if not takes_any:
                known = ", ".join(n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
                errors.append(f"{key}.{name}: unknown key for {node._target_} (known: {known})")
        elif name in hints and (problem := _type_problem(hints[name], value)):
            errors.append(f"{key}.{name}={value!r}: {problem}")
    if not values.get("_partial_", False):
        for name, p in params.items():
            required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            if required and name not in values and name not in supplied:
                errors.append(f"{key}.{name}: missing, and required by {node._target_}")
    return errors


def _signature(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """Parameters, type hints and whether any keyword goes, following `**kwargs` up a class's bases."""
    functions = [target.__init__ for target in target.__mro__ if "__init__" in vars(target)] if isinstance(target, type) else [target]
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for fn in functions:
        own = {n: p for n, p in inspect.signature(fn).parameters.items() if n != "self"}
        params.update({n: p for n, p in own.items() if n not in params})
        try:
            hints = {**typing.get_type_hints(fn), **hints}
        except Exception:  # noqa: BLE001 - a library's unresolvable annotations: check names only
            pass
        if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
            return {n: p for n, p in params.items() if p.kind is not p.VAR_KEYWORD}, hints, False
    return params, hints, True


def _model_problems(node: DictConfig) -> list[str]:
    """The model's own checks, run on the meta device with stand-in data facts."""
    import torch
    from hydra.utils import instantiate

    options = _resolved(node)
    per_step = options.get("tie_weights") is True or options.get("head") == "many_to_many"
    stand_in = {"vocab_size": 4, "padding_idx": 0, "num_outputs": 4, "per_step_targets": per_step}
    if "embedding_dim" in options and options["embedding_dim"] is None:  # only real-valued features go in raw
        stand_in = {"num_features": 4, "num_outputs": 4, "per_step_targets": per_step}
    try:
        with torch.device("meta"):
            instantiate(node, **stand_in)
    except (ValueError, TypeError) as e:
        return [f"model: {e}"]
    return []


def _resolved(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def _type_problem(annotation: Any, value: Any) -> str | None:
    from pydantic import TypeAdapter

    try:
        TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True)).validate_python(value, strict=True)
    except ValidationError as e:
        return "; ".join(err["msg"] for err in e.errors()[:2])
    except Exception:  # noqa: BLE001 - a type pydantic cannot check: the constructor will
        return None
    return None


def _describe(key: str, err: Any, schema: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in err["loc"])
    if not loc:  # a model-level (combination) check: its message names the keys
        return err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = ", ".join(f.alias or name for name, f in schema.model_fields.items())
        return f"{key}.{loc}: unknown key (known: {known})"
    if err["type"] == "missing":
        return f"{key}.{loc}: missing"
    return f"{key}.{loc}={err.get('input')!r}: {err['msg']}"
