"""Load a seqtrain checkpoint safely and rebuild the model and data it was trained with.

A checkpoint holds tensors and plain data only (the resolved config, the data facts, the
datamodule's fitted state such as the vocabulary), so it loads with ``weights_only=True``: a
pickled payload is refused and never runs. The config inside names `_target_`s; only the
project's own and an allow-list are instantiated from it.
"""

from __future__ import annotations

import codecs
import json
import logging
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from hydra.utils import instantiate
from torch import nn

from seqtrain.facts import DataFacts
from seqtrain.legacy import upgrade
from seqtrain.checks.sniff import foreign_content, read_head
from seqtrain.errors import CheckpointError

if TYPE_CHECKING:
    from seqtrain.task import SequenceTask

log = logging.getLogger(__name__)

#: `_target_` prefixes a checkpoint's config may name; anything else is refused.
ALLOWED_TARGETS = ("seqtrain.", "torch.optim.", "lightning.pytorch.")
# The config sections a checkpoint's load instantiates; the rest (trainer, logger, callbacks, ...) is a record of
# the run, never built from the checkpoint (a resume builds them from its own command line).
REBUILT = ("model", "data")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive
PICKLE_MAGIC = b"\x80"  # ... its legacy format, a pickle stream (protocol 2 or later)


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run directory (its best checkpoint, else its last), or a run's checkpoints/ folder."""
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints"
        if not folder.is_dir() and any((path / name).is_file() for name in ("best.ckpt", "last.ckpt")):
            folder = path  # a run's checkpoints/ folder itself (tab completion stops there)
        best = best_in_metrics(path / "metrics.json") if folder != path else None
        # Relative to the run directory (older runs stored an absolute path: used only if it lies inside
        # this directory, so a copied run directory never evaluates the original's model).
        candidates = [path / best] if best and (not Path(best).is_absolute() or Path(best).resolve().is_relative_to(path.resolve())) else []
        candidates += [folder / "best.ckpt", folder / "last.ckpt"]
        for candidate in candidates:
            if candidate.is_file():
                if candidate.name == "last.ckpt":  # the run's best checkpoint is missing: say which one is used
                    log.warning("%s: no best checkpoint (looked for %s); using the run's newest state, %s", path,
                                ", ".join(str(c) for c in candidates[:-1]), candidate)
                return candidate
        others = sorted({str(p) for d in (path, folder) for p in d.glob("*.ckpt")})
        hint = f"; it holds {', '.join(others[:5])}{', ...' if len(others) > 5 else ''}: name one of them" if others else ""
        jobs = sorted((d for d in path.iterdir() if (d / "checkpoints").is_dir()), key=lambda d: (len(d.name), d.name))
        if not others and jobs:  # a sweep's directory (`-m`, an Optuna search): one run directory per job
            hint = (f"; it holds the run directories of a sweep's jobs ({', '.join(str(d) for d in jobs[:5])}"
                    f"{', ...' if len(jobs) > 5 else ''}): name one of them; `python scripts/summarize.py {path}` ranks them")
        raise CheckpointError(f"{path}: a directory with no checkpoint (looked for {', '.join(map(str, candidates))}){hint}")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return path


def best_in_metrics(metrics: Path) -> str | None:
    """The best checkpoint a run's metrics.json names; None without one, or with a file that cannot be read (said)."""
    if not metrics.is_file():
        return None
    try:
        best = json.loads(metrics.read_text()).get("best_checkpoint")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
        log.warning("%s cannot be read (%s); looking for the run's checkpoints by their names", metrics, e)
        return None
    return best if isinstance(best, str) else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; one clear error for a corrupt, unsafe or foreign file.

    The file's first bytes are looked at before torch reads it, so a text file, an HTML page, a
    git-LFS pointer or a truncated archive is named for what it is.
    """
    path = find_checkpoint(path)
    check_checkpoint_file(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        reason = next((line.strip() for line in str(e).splitlines() if "WeightsUnpickler error" in line), str(e))
        if "Unsupported global" in reason or "Unsupported class" in reason:
            raise CheckpointError(
                f"{path}: refused: it holds objects other than tensors and plain data, which could run code "
                f"when loaded ({reason})"
            ) from None
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({reason})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(e).__name__}: {e})") from None
    check_seqtrain_metadata(checkpoint, path)
    for section in REBUILT:
        check_targets_allowed(checkpoint["seqtrain"]["config"][section], source=str(path), key=section)
    return checkpoint


EXPECTED = "expected a .ckpt file written by train.py (in a run directory's checkpoints/)"


def check_checkpoint_file(path: Path) -> None:
    """Refuse, naming what it is, a file that is not a PyTorch checkpoint at all."""
    head, size = read_head(path)
    what = foreign_content(head, size)
    if what is None and head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(path):  # the central directory sits at the end: a cut file loses it
            what = f"a truncated or corrupt zip archive ({size:,} bytes; an interrupted copy or download?)"
    elif what is None and not head.startswith(PICKLE_MAGIC):  # torch's legacy format is a pickle stream
        if looks_like_text(head):
            what = f"a text file (it starts {show_start(head)})"
        else:
            what = f"not a PyTorch file (it starts with the bytes {head[:8].hex(' ')})"
    if what is not None:
        raise CheckpointError(f"{path}: not a seqtrain checkpoint: {what}; {EXPECTED}")


def check_seqtrain_metadata(checkpoint: Any, path: Path) -> None:
    """A loaded file is a seqtrain checkpoint: a Lightning checkpoint whose 'seqtrain' entry holds the run's config and facts."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a seqtrain checkpoint: a {type(checkpoint).__name__} saved with torch.save; {EXPECTED}")
    if "state_dict" not in checkpoint:
        tensors = checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values())
        what = "a plain state_dict (torch.save(model.state_dict())?)" if tensors else f"a dict with keys {sorted(map(str, checkpoint))[:6]}"
        raise CheckpointError(f"{path}: not a seqtrain checkpoint: {what}, not a Lightning checkpoint; {EXPECTED}")
    meta = checkpoint.get("seqtrain")
    missing = [key for key in ("config", "facts") if not isinstance(meta, dict) or not isinstance(meta.get(key), dict)]
    if missing:
        raise CheckpointError(
            f"{path}: not a seqtrain checkpoint: a Lightning checkpoint without seqtrain's run metadata (no {' / '.join(missing)} under 'seqtrain'): "
            "written by another program, or by a SequenceTask trained without a seqtrain datamodule or with a model or "
            "datamodule whose constructor arguments could not be recorded (its training log said why); "
            "seqtrain needs the config and data facts to rebuild the model and data; " + EXPECTED
        )
    absent = [key for key in ("data", "model") if not isinstance(meta["config"].get(key), dict)]
    if absent:
        raise CheckpointError(f"{path}: not a seqtrain checkpoint: its seqtrain config has no {' / '.join(absent)} section; {EXPECTED}")


def check_targets_allowed(config: Any, source: str, key: str = "") -> None:
    """Refuse any `_target_` outside ALLOWED_TARGETS anywhere in a saved config."""
    if isinstance(config, dict):
        target = config.get("_target_")
        if target is not None and not (isinstance(target, str) and target.startswith(ALLOWED_TARGETS)):
            raise CheckpointError(
                f"{source}: config key {key or '<root>'}._target_={target!r} is not allowed "
                f"(allowed prefixes: {', '.join(ALLOWED_TARGETS)})"
            )
        for k, v in config.items():
            check_targets_allowed(v, source, f"{key}.{k}" if key else str(k))
    elif isinstance(config, list):
        for i, v in enumerate(config):
            check_targets_allowed(v, source, f"{key}[{i}]")


def rebuild(checkpoint: dict[str, Any], setup: bool = True) -> tuple[nn.Module, Any, DataFacts]:
    """The trained model (eval mode, weights loaded) and its datamodule with the saved vocabulary/statistics.

    ``setup=False`` skips loading the data itself (generation needs only the vocabulary).
    """
    meta = checkpoint["seqtrain"]
    facts = DataFacts.from_dict(meta["facts"])
    # A checkpoint from before the shipped datasets became configs names a retired class: upgraded here.
    data, state = upgrade(meta["config"]["data"], checkpoint)
    datamodule = instantiate(data)
    if state is None:
        name = type(datamodule).__qualname__
        raise CheckpointError(f"the checkpoint holds no {name} state (the data's vocabulary / scaling); it cannot rebuild its data")
    datamodule.load_state_dict(state)
    if setup:
        datamodule.setup("test")
    model = instantiate(meta["config"]["model"], **facts.model_kwargs())
    weights = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"the checkpoint's weights do not fit the model its config describes: {e}") from None
    return model.eval(), datamodule, facts


def load_task(path: str | Path) -> tuple[SequenceTask, Any]:
    """A trained `SequenceTask` (eval mode) and its datamodule (the saved vocabulary/scaling loaded, not yet
    set up: `Trainer.test`/`validate` set it up), from a checkpoint or run directory alone.

    For checkpoints of `python train.py` and of a `SequenceTask` built in Python alike; the file is read
    with ``weights_only=True``. The task has no optimizer: it evaluates, predicts and generates.
    """
    return task_from_checkpoint(load_checkpoint(path))


def task_from_checkpoint(checkpoint: dict[str, Any]) -> tuple[SequenceTask, Any]:
    """`load_task` for a checkpoint already read by `load_checkpoint`."""
    from seqtrain.task import SequenceTask

    model, datamodule, facts = rebuild(checkpoint, setup=False)
    task = SequenceTask(model, task=facts.task, num_outputs=facts.num_outputs, target_scale=facts.target_scale,
                        target_shift=facts.target_shift, label_smoothing=saved_label_smoothing(checkpoint["seqtrain"]),
                        metadata=checkpoint["seqtrain"])
    return task.eval(), datamodule


def saved_label_smoothing(meta: dict[str, Any]) -> float:
    """The `task.label_smoothing` a checkpoint's run trained with (0 for runs from before the key), so that
    its loss evaluated later is the loss the run reported."""
    return float((meta["config"].get("task") or {}).get("label_smoothing", 0.0))


def run_metadata(model: nn.Module, datamodule: Any) -> dict[str, Any]:
    """What `rebuild` needs, for a model and datamodule built in Python: their classes, their constructor
    arguments and the data's facts, as plain data (what `python train.py` saves from its config).

    Raises CheckpointError naming what cannot be recorded: a model that does not record its arguments
    (`SequenceModel.arguments`), a datamodule that is not a `SequenceDataModule`, an argument that is not
    plain data, a model sized for other data than the datamodule's.
    """
    from seqtrain.data.datamodule import SequenceDataModule, plain_arguments
    from seqtrain.resume_checks import data_fingerprints

    problems = []
    model_arguments = getattr(model, "arguments", None)
    if not isinstance(model_arguments, dict):
        problems.append(f"the model ({class_path(model)}) does not record its constructor arguments in `.arguments` "
                        "(seqtrain.models.SequenceModel does)")
    if not isinstance(datamodule, SequenceDataModule):
        problems.append(f"the datamodule ({class_path(datamodule)}) is not a seqtrain.data.SequenceDataModule")
    if problems:
        raise CheckpointError("; ".join(problems))
    model_arguments, unsaved = plain_arguments(model_arguments)
    unsaved = [f"model argument {name}" for name in unsaved]
    unsaved += [f"datamodule argument {name}" for name in datamodule.unsaved_arguments]
    if unsaved:
        raise CheckpointError(f"{', '.join(unsaved)}: not plain data (str, number, bool, None, list, dict, path), "
                              "which a weights-only checkpoint cannot hold")
    facts = datamodule.facts
    differ = [f"{k}={model_arguments.get(k)!r} (the data's: {v!r})" for k, v in facts.model_kwargs().items()
              if k in model_arguments and model_arguments[k] != v]
    if differ:
        raise CheckpointError(f"the model was built for other data than the datamodule's: {', '.join(differ)}; "
                              "build it with **datamodule.facts.model_kwargs()")
    config = {
        "model": {"_target_": class_path(model), **{k: v for k, v in model_arguments.items() if k not in facts.model_kwargs()}},
        "data": {"_target_": class_path(datamodule), **dict(datamodule.hparams)},
    }
    check_targets_allowed(config, source="the model and datamodule")
    return {"config": config, "facts": facts.to_dict(), "data_fingerprints": data_fingerprints(config["data"])}


def class_path(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def looks_like_text(head: bytes) -> bool:
    """No NUL bytes and valid UTF-8 (allowing a character cut at the end of `head`)."""
    if b"\0" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def show_start(head: bytes, limit: int = 40) -> str:
    """The first line of a text head, quoted and cut to `limit` characters, for messages."""
    line = head.decode("utf-8", errors="replace").lstrip("\ufeff").strip().split("\n", 1)[0]
    return repr(line if len(line) <= limit else line[: limit - 3] + "...")
