"""What may change between a checkpoint's run and the run that resumes it, and the data files' fingerprints.

A resume continues the *same* run: the batches it trains on are counted from the start of the epoch,
so anything that changes the data order, the model, the optimizer or the data itself would make the
continued run neither the old one nor a new one. Every difference is therefore either applied and
recorded (settings that cannot change the weights the run produces: how long it runs, what it logs,
where) or refused before any data is read, naming the key. Unknown keys are refused: the safe side.
"""

from __future__ import annotations

import glob
import hashlib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from seqtrain.errors import SeqtrainError


class ResumeError(SeqtrainError, ValueError):
    """A resume that would not continue the same run (changed config or data, another world size, an old checkpoint)."""

#: Dotted keys (fnmatch patterns) a resume may change; they are applied and recorded.
APPLIED_ON_RESUME = (
    "overwrite", "test", "sample_length", "paths.*", "hparams_search", "hparams_search.*",
    # how long the run goes on; what it logs and shows; how it evaluates after fit
    "trainer.max_epochs", "trainer.max_steps", "trainer.max_time", "trainer.min_epochs", "trainer.min_steps",
    "trainer.log_every_n_steps", "trainer.enable_progress_bar", "trainer.enable_model_summary",
    "trainer.limit_test_batches", "trainer.default_root_dir",
    # the hardware; a different number of processes is refused when the checkpoint loads (seqtrain.resume)
    "trainer.accelerator", "trainer.devices",
    "logger", "logger.*", "callbacks.progress_bar", "callbacks.progress_bar.*",
    "callbacks.last_checkpoint.every_n_train_steps",
    # how batches are loaded, not which: the order is a function of (seed, epoch)
    "data.num_workers", "data.pin_memory", "data.cache_dir",
    # what `model.patch_size=auto` aims at: a resume keeps the patch size its checkpoint's run chose
    "recipe.patch_steps",
    # the rules' blocks (small sets, text): none is applied on a resume, which keeps the settings its run settled
    # (seqtrain.run.keep_saved_recipe_settings), so a block changed since (a study round) changes nothing it trains
    "recipe.small_classification.*", "recipe.text_classification.*", "recipe.text_by_spacing.*",
    # what the recipe is called and says, and its per-task tables, which set model.pooling, monitor, monitor_mode and
    # model.embedding_dropout by interpolation: those keys are compared themselves, so a table changed since (or a
    # recipe that now includes the table defaults, as data=vowels' since round thirty-eight) is named by what it changes
    "recipe.name", "recipe.about", "recipe.pooling.*", "recipe.monitor.*", "recipe.monitor_mode.*", "recipe.embedding_dropout.*",
)

#: Keys added to the configs after runs were made without them, with the value that does what those runs
#: did: resuming such a run with that value continues the same run.
ADDED_LATER = {"model.patch_size": 1, "model.patch_shift": False, "model.patch_spectrum": False, "model.input_noise": 0.0, "model.crop": 1.0, "model.embedding_dropout": 0.0, "model.head_dropout": 0.0, "model.differences": None,
               "data.time_column": None, "model.relative_to": None,
               "model.ar_highway": None, "model.ar_highway_fit": None, "model.bag": None, "model.bag_buckets": 65536, "model.naive_bayes": None, "model.members": 1,
               "model.instance_norm": None, "model.proj_size": 0,
               "task.label_smoothing": 0.0, "task.random_scaling": None}


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of nested dicts (lists are leaves)."""
    if not isinstance(config, dict) or not config:
        return {prefix: config} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_changes(saved: dict[str, Any], new: dict[str, Any], moved: tuple[str, str] | None = None) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """(applied, refused): ``{dotted key: (checkpoint's value, this run's value)}`` for each difference.

    ``moved``: (the checkpoint's run directory, this run's), when the run directory was moved or copied: a
    path that names the same place inside the run (its checkpoints' folder) is a change of where, applied.
    """
    old_flat, new_flat = flatten(saved), flatten(new)
    for flat in (old_flat, new_flat):
        flat.pop("ckpt_path", None)  # differs by definition
    missing = object()
    applied, refused = {}, {}
    for key in sorted(old_flat.keys() | new_flat.keys()):
        old, value = old_flat.get(key, missing), new_flat.get(key, missing)
        if old == value or (old is missing and key in ADDED_LATER and ADDED_LATER[key] == value):
            continue
        change = (None if old is missing else old, None if value is missing else value)
        where = moved is not None and isinstance(old, str) and isinstance(value, str) and moved_with_the_run(old, value, *moved)
        (applied if where or any(fnmatchcase(key, p) for p in APPLIED_ON_RESUME) else refused)[key] = change
    return applied, refused


def moved_with_the_run(old: str, new: str, old_run: str, new_run: str) -> bool:
    """True when ``old`` is a path inside ``old_run`` and ``new`` the same path inside ``new_run``."""
    return Path(old).is_relative_to(old_run) and Path(relocate(old, Path(old_run), Path(new_run))) == Path(new)


def relocate(value: Any, old: Path, new: Path) -> Any:
    """``value`` with every path string inside ``old`` (in dict keys too) moved to the same place inside ``new``."""
    if isinstance(value, dict):
        return {relocate(k, old, new): relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, str) and value and Path(value).is_relative_to(old):
        return str(new / Path(value).relative_to(old))
    return value


def run_moved(saved_config: dict[str, Any], config: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(old, new) run directory when the checkpoint ``path`` lies in this run's directory but was written in
    another: the run directory was moved or copied, and what lies inside it moved with it."""
    old, new = saved_config.get("paths", {}).get("output_dir"), config.get("paths", {}).get("output_dir")
    if not old or not new or Path(old) == Path(new) or not Path(path).resolve().is_relative_to(Path(new).resolve()):
        return None
    return old, new


def foreign_holder(old_run: str, new_run: str) -> str | None:
    """The run directory that ``new_run``'s own files name, when they belong to another run than the checkpoint's
    (written in ``old_run``); None when they are the checkpoint's run's, moved or copied whole, or say nothing.

    `config.yaml` names where the directory's run last started or resumed: ``old_run`` (moved since), ``new_run``
    (resumed here already), or a place its `resumes.jsonl` says the run was resumed from.
    """
    import yaml

    try:
        saved = yaml.safe_load((Path(new_run) / "config.yaml").read_text())
        holder = saved["paths"]["output_dir"]
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return None
    if not isinstance(holder, str) or Path(holder) in (Path(old_run), Path(new_run)):
        return None
    try:
        if str(old_run) in (Path(new_run) / "resumes.jsonl").read_text():  # the run was resumed here from old_run
            return None
    except OSError:
        pass
    return holder


def names_data_files(key: str) -> bool:
    """True for a dotted key that names data files: `data.*_files`, `data.files`, `data.path`."""
    name = key.removeprefix("data.")
    return key.startswith("data.") and "." not in name and (name.endswith("_files") or name in ("files", "path"))


def data_files(data_config: dict[str, Any]) -> dict[str, list[str]]:
    """The local files a data config names (keys `*_files`, `files`, `path`; globs expanded), by key."""
    found: dict[str, list[str]] = {}
    for key, value in data_config.items():
        if not names_data_files(f"data.{key}") or value is None:
            continue
        patterns = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
        paths = sorted({p for pattern in patterns if isinstance(pattern, str) for p in glob.glob(pattern)})
        files = [p for p in paths if Path(p).is_file()]
        if files:
            found[f"data.{key}"] = files
    return found


def fingerprint(path: str | Path) -> str:
    """A content hash of one file (BLAKE2b, 128 bits): renaming or copying keeps it, editing changes it."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprints(data_config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{dotted key: {file: content hash}}`` of every local file the data config names."""
    return {key: {p: fingerprint(p) for p in files} for key, files in data_files(data_config).items()}


def fingerprint_changes(saved: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> list[str]:
    """One line per data file that was added, removed or edited since ``saved`` was taken."""
    lines = []
    for key in sorted(saved.keys() | current.keys()):
        old, new = saved.get(key, {}), current.get(key, {})
        for path in sorted(old.keys() | new.keys()):
            if path not in new and not Path(path).is_absolute():  # read from the folder the command runs in
                lines.append(f"{key}: {path} is not in {Path.cwd()} (a relative path: run the command from the folder "
                             "train.py ran in)")
            elif path not in new:
                lines.append(f"{key}: {path} is gone")
            elif path not in old:
                lines.append(f"{key}: {path} is new")
            elif old[path] != new[path]:
                lines.append(f"{key}: {path} has changed (content hash {old[path][:12]} -> {new[path][:12]})")
    return lines


def read_in_order(value: Any, hashes: dict[str, str]) -> list[str] | None:
    """The content hashes of the files a data key's ``value`` names, in the order they are read (its paths as
    listed, or one glob's matches sorted); None when the fingerprints alone cannot tell that order (URLs, several
    globs, a path not fingerprinted)."""
    entries = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else []
    if not entries or not all(isinstance(e, str) and "://" not in e for e in entries):
        return None
    if len(entries) == 1 and glob.has_magic(entries[0]):
        return [hashes[p] for p in sorted(hashes)] or None
    if any(glob.has_magic(e) for e in entries) or not all(e in hashes for e in entries):
        return None
    return [hashes[e] for e in entries]


def moved_data_files(saved_config: dict[str, Any], config: dict[str, Any], saved_prints: dict[str, dict[str, str]],
                     prints: dict[str, dict[str, str]]) -> list[str]:
    """The data keys whose files were moved, renamed or copied since the checkpoint's run: other paths, the same
    contents read in the same order (so the same rows, batch for batch)."""
    moved = []
    for key in sorted(saved_prints.keys() & prints.keys()):
        name = key.removeprefix("data.")
        old, new = saved_config.get("data", {}).get(name), config.get("data", {}).get(name)
        if old != new and (order := read_in_order(old, saved_prints[key])) is not None and order == read_in_order(new, prints[key]):
            moved.append(key)
    return moved


def data_file_changes(saved_config: dict[str, Any], config: dict[str, Any], saved_prints: dict[str, dict[str, str]],
                      prints: dict[str, dict[str, str]]) -> tuple[list[str], list[str]]:
    """The data keys whose files were moved (`moved_data_files`: the same rows, taken as the same files), and one line
    per data file added, removed or edited otherwise (`fingerprint_changes`)."""
    saved_prints = dict(saved_prints)
    moved = moved_data_files(saved_config, config, saved_prints, prints)
    for key in moved:
        saved_prints[key] = prints[key]
    return moved, fingerprint_changes(saved_prints, prints)


def check_resume(saved_meta: dict[str, Any], config: dict[str, Any], fingerprints: dict[str, Any], path: str) -> dict[str, tuple]:
    """Refuse a resume that would change the run; return the changes it applies (to record)."""
    if "data_fingerprints" not in saved_meta:
        raise ResumeError(
            f"cannot resume from {path}: it was written by an older seqtrain, before resumes were exact "
            "(no data fingerprints, one rank's random state); evaluate it with scripts/evaluate.py, or start "
            "a new run in a new directory"
        )
    moved = run_moved(saved_meta["config"], config, path)
    if moved is not None and (holder := foreign_holder(*moved)) is not None:
        old_run = moved[0]
        raise ResumeError(
            f"cannot resume from {path}: it was written by the run in {old_run}, but this directory holds the run "
            f"started in {holder} (its config.yaml), so the checkpoint was copied in from another run; a moved run "
            f"directory brings its own. Resume that run where it is (hydra.run.dir={old_run} ckpt_path=last), or "
            "start a new run in a new directory."
        )
    applied, refused = config_changes(saved_meta["config"], config, moved)
    moved_files, file_problems = data_file_changes(saved_meta["config"], config, saved_meta["data_fingerprints"], fingerprints)
    for key in moved_files:  # same rows, other paths
        applied[key] = refused.pop(key)
    problems = [f"{key}: {old!r} -> {new!r}" for key, (old, new) in refused.items()]
    problems += file_problems
    if problems:
        old_run, new_run = saved_meta["config"].get("paths", {}).get("output_dir"), config.get("paths", {}).get("output_dir")
        elsewhere = moved is None and old_run and new_run and Path(old_run) != Path(new_run)  # another run's checkpoint
        how = (f"\nThe checkpoint belongs to the run in {old_run}: resume it there (hydra.run.dir={old_run} ckpt_path=last), "
               "or copy that run directory whole and resume the copy." if elsewhere else "\nRestore them,")
        raise ResumeError(
            f"cannot resume from {path}: these differ from the checkpoint's run and would change what it "
            "trains (a resume continues the same run, batch for batch):\n  " + "\n  ".join(problems)
            + how + (" Or" if elsewhere else " or") + " start a new run in a new directory (omit ckpt_path, or use overwrite=true)."
        )
    return applied


def check_progress(checkpoint: dict[str, Any], trainer: dict[str, Any], path: str) -> None:
    """Refuse a resume whose `trainer.max_epochs` / `max_steps` lie behind what the checkpoint has trained
    (Lightning refuses the epochs only after the data is read, with a traceback; the steps not at all)."""
    epochs, steps = int(checkpoint.get("epoch", 0)), int(checkpoint.get("global_step", 0))
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    problems = []
    if isinstance(max_epochs, int) and max_epochs != -1 and max_epochs < epochs:
        problems.append(f"trainer.max_epochs={max_epochs}, but the checkpoint's run has already trained {epochs} epochs")
    if isinstance(max_steps, int) and max_steps != -1 and max_steps < steps:
        problems.append(f"trainer.max_steps={max_steps}, but the checkpoint's run has already taken {steps} optimizer steps")
    if problems:
        raise ResumeError(
            f"cannot resume from {path}: " + "; ".join(problems) + ". A resume continues the run: raise the limit to train "
            "on, or evaluate the checkpoint as it is (python scripts/evaluate.py <run directory>)"
        )
