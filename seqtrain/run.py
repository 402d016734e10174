"""`train(cfg)`: one run, read top to bottom like a recipe."""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqtrain.baselines import baselines, describe, describe_linear, linear_autoregression
from seqtrain.config import ConfigError, check_batches, check_facts, check_interpolations, check_options, check_targets
from seqtrain.lr_find import check_lr_find, find_learning_rate
from seqtrain.errors import CheckpointError, DataError
from seqtrain.recipe import (
    auto_patch_size,
    command_line_keys,
    describe_recipe,
    follow_model_choice,
    follow_monitor_choice,
    patch_size_problems,
    pool_per_step_targets,
    settle_small_set,
    settle_text_recipe,
    sweep_choice,
)
from seqtrain.resume_checks import (
    ResumeError,
    check_progress,
    check_resume,
    data_fingerprints,
    names_data_files,
    relocate,
)
from seqtrain.run_directory import (
    HeldBack,
    RunDirectoryError,
    RunLock,
    append_jsonl,
    check_run_directory,
    clear_previous_run,
    drop_earlier_log,
    job_log_sizes,
    relative_to_run,
    write_atomic,
    write_json,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import torch

    from seqtrain.pruning import TrialPruned

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float:
    """Fit, pick the best checkpoint, evaluate it; return the monitored metric for sweepers."""
    started = time.monotonic()
    log_sizes = job_log_sizes(Path(cfg.paths.output_dir))  # before this job logs a line: where its lines begin
    # Into a directory holding another job's files, this job's Hydra record and log lines wait for every check to pass.
    held = HeldBack(cfg, Path(cfg.paths.output_dir))
    try:
        return _train(cfg, started, log_sizes, held)
    except BaseException:
        held.drop()  # refused or failed before it could write there: the directory is left as it was
        raise


def _train(cfg: DictConfig, started: float, log_sizes: dict[Path, int], held: HeldBack) -> float:
    check_interpolations(cfg)
    if line := follow_model_choice(cfg):  # before the checks: they judge the cell the run will use
        log.info(line)
    if line := follow_monitor_choice(cfg):  # likewise: they refuse a direction the metric does not have
        log.info(line)
    if line := pool_per_step_targets(cfg):  # likewise: they refuse pooling for a target per step
        log.info(line)
    check_options(cfg)  # fast: before torch and Lightning are imported
    check_lr_find(cfg)
    log.info(describe_recipe(cfg))
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_checkpoint(cfg.ckpt_path, output_dir)
    import lightning.pytorch as pl
    from lightning.pytorch.utilities import rank_zero_only
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from seqtrain.checkpoint import load_checkpoint
    from seqtrain.checkpoint_io import AtomicCheckpointIO
    from seqtrain.console import quiet_dependencies
    from seqtrain.pruning import TrialPruned
    from seqtrain.task import DivergedError, SequenceTask

    # `import lightning` adds its own console handler; Hydra's already prints (and writes train.log).
    logging.getLogger("lightning").handlers.clear()
    quiet_dependencies()
    check_targets(cfg)  # every constructor's arguments, before any data is read
    # Rank 0 owns the run directory (DDP's other processes run this function too, into the same one).
    owner = rank_zero_only.rank == 0
    lock = None
    if owner:
        lock = RunLock(output_dir).acquire()  # before the check: two runs starting together cannot both pass it
    try:
        if owner:
            check_run_directory(output_dir, ckpt_path, cfg.overwrite)
        config = OmegaConf.to_container(cfg, resolve=True)  # plain data: safe in checkpoints and loggers
        fingerprints = data_fingerprints(config["data"])
        checkpoint, resume_changes = None, {}
        if ckpt_path is not None:  # refuse an unsafe, corrupt or changed resume before any data is read
            try:
                checkpoint = load_checkpoint(ckpt_path)
            except CheckpointError as e:
                raise CheckpointError(str(e) + other_checkpoints_hint(cfg.ckpt_path, ckpt_path, output_dir)) from None
            if line := keep_saved_patch_size(cfg, config, checkpoint["seqtrain"]["config"]):
                log.info(line)
            if line := keep_saved_recipe_settings(cfg, config, checkpoint["seqtrain"]["config"], command_line_keys()):
                log.info(line)
            if line := cosine_past_its_end(config):
                log.warning(line)
            check_not_behind_newest(checkpoint, ckpt_path, output_dir)
            check_best_checkpoint_readable(checkpoint, config, ckpt_path)
            resume_changes = check_resume(checkpoint["seqtrain"], config, fingerprints, ckpt_path)
            check_progress(checkpoint, config["trainer"], ckpt_path)
        pl.seed_everything(cfg.seed, workers=True)

        datamodule = instantiate(cfg.data)
        with LoggedLines() as first_read:
            datamodule.setup("fit")
        facts = datamodule.facts
        read_with = OmegaConf.to_container(cfg.data, resolve=True)
        if checkpoint is None:  # the recipe's settings for what the data turned out to be (a resume keeps its own)
            settled = [settle_text_recipe(cfg, config, facts.vocab_size, facts.task, command_line_keys(), sweep_choice(),
                                          training_text_spacing(datamodule)),
                       settle_small_set(cfg, config, facts, training_rows(datamodule), command_line_keys(), sweep_choice()),
                       settle_random_scaling(cfg, config, facts, command_line_keys())]
            for line in filter(None, settled):
                log.info(line)
            if any(settled):
                check_options(cfg)  # the settings they brought, like any other
            if OmegaConf.to_container(cfg.data, resolve=True) != read_with:  # another tokenizer or split: read it again
                datamodule = instantiate(cfg.data)
                with first_read.said_once():  # what the first read said about the files is not said twice
                    datamodule.setup("fit")
                facts = datamodule.facts
        check_facts(cfg, facts)  # the task kind the config promised (or, for a datamodule of your own, its checks)
        if (emptied := getattr(datamodule, "val_emptied", None)) is not None:
            raise DataError(emptied)  # a carve-out of rows alone in their class, and a run that validates: nothing to validate on
        if OmegaConf.select(cfg, "model.patch_size") == "auto":
            log.info(settle_patch_size(cfg, config, datamodule))
        elif line := check_patch_size(cfg, datamodule):
            log.warning(line)
        if line := unused_embedding_dropout(cfg, facts):
            log.info(line)
        if line := unused_patch_options(cfg):
            log.info(line)
        if "patch_shift" not in unused_patch_option_names(cfg) and (line := patch_shift_on_short_rows(cfg, datamodule)):
            log.warning(line)
        if line := unused_input_noise(cfg, facts):
            log.info(line)
        if (scaling := cfg.task.random_scaling) is not None and facts.vocab_size is not None:
            raise ConfigError(f"invalid config:\n  task.random_scaling={scaling} multiplies real-valued inputs with their "
                              "targets, but this data's inputs are token ids; set task.random_scaling=null")
        if line := unused_tbptt(cfg):
            log.info(line)
        if line := unused_epoch_scheduler(cfg):
            log.info(line)
        if OmegaConf.select(cfg, "model.relative_to") == "auto":
            log.info(settled_relative_to(facts))
        if OmegaConf.select(cfg, "model.ar_highway") == "auto":
            log.info(settled_ar_highway(facts, OmegaConf.select(cfg, "model.ar_highway_fit", default=None)))
        model = instantiate(cfg.model, **facts.model_kwargs())
        if line := unused_instance_norm(cfg, model):
            log.info(line)
        if line := unused_crop(cfg, model):
            log.info(line)
        if line := unused_differences(cfg, model):
            log.info(line)
        if checkpoint is not None:
            check_resumable(checkpoint, facts, ckpt_path)
            del checkpoint  # Lightning reads the file again itself
        task = SequenceTask(
            model,
            task=facts.task,
            num_outputs=facts.num_outputs,
            # Plain lists, not ListConfig (e.g. `betas`): the optimizer's state goes into weights-only checkpoints.
            optimizer=instantiate(cfg.optimizer, _convert_="all"),
            scheduler=instantiate(cfg.scheduler.scheduler, _convert_="all"),
            scheduler_interval=cfg.scheduler.interval,
            monitor=cfg.monitor,
            # The task clips, not the Trainer: one path for automatic and truncated-BPTT training.
            gradient_clip_val=cfg.trainer.gradient_clip_val,
            gradient_clip_algorithm=cfg.trainer.gradient_clip_algorithm,
            tbptt_steps=cfg.task.tbptt_steps,
            tbptt_variable=cfg.task.tbptt_variable,
            tbptt_scale_lr=cfg.task.tbptt_scale_lr,
            label_smoothing=cfg.task.label_smoothing,
            random_scaling=cfg.task.random_scaling,
            target_scale=facts.target_scale,
            target_shift=facts.target_shift,
            metadata={"config": config, "facts": facts.to_dict(), "data_fingerprints": fingerprints},
        )
        callbacks = at_train_epoch_end([instantiate(c) for c in cfg.callbacks.values()])  # the task adds ExactResume itself
        loggers = [instantiate(c) for c in cfg.logger.values()]
        without_validation = {}
        if (line := no_validation_split(cfg, datamodule)) is not None:  # data.val_fraction=0: nothing to validate on
            log.info(line)
            without_validation = {"limit_val_batches": 0, "num_sanity_val_steps": 0}
        trainer: pl.Trainer = instantiate(
            cfg.trainer,
            callbacks=callbacks,
            logger=loggers or False,
            plugins=[AtomicCheckpointIO()],
            gradient_clip_val=None,
            gradient_clip_algorithm=None,
            **without_validation,
            **no_default_callbacks(cfg, callbacks),
        )
        batches = check_batches(trainer, datamodule)  # its batch counts against the epoch's training batches, now known
        if ckpt_path is None and (line := cosine_rises_again(cfg, batches)):  # a resume says it in its own words
            log.warning(line)
        if owner:  # every check has passed: only now does this run write into its directory
            if cfg.overwrite and ckpt_path is None:
                reports = OmegaConf.select(cfg, "callbacks.test_reports.dirname") or "reports"
                clear_previous_run(output_dir, tuple(dict.fromkeys(("reports", reports))))
                drop_earlier_log(log_sizes)  # the earlier run's lines go; this job's follow (held until now)
        held.settle(write_record=owner)
        if owner:
            save_run_files(output_dir, config, facts.to_dict(), datamodule.state_dict(), fingerprints)
            if ckpt_path is not None:
                record_resume(output_dir, ckpt_path, resume_changes)
        ok = False
        ctrl_c = CtrlC().install()
        try:
            for logger in loggers:
                logger.log_hyperparams(config)
            log.info("model: %s parameters\n%s", f"{sum(p.numel() for p in model.parameters()):,}", model)
            lr_found = find_learning_rate(trainer, task, datamodule, cfg.optimizer.lr, ckpt_path is not None) if cfg.lr_find else None
            ctrl_c.trainer = trainer  # from here on, Ctrl-C stops as SIGTERM does: at a batch's end, last.ckpt saved
            try:
                trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            except DivergedError as e:
                record_divergence(output_dir, loggers, str(e), trainer.is_global_zero)
                raise
            except TrialPruned as e:  # an Optuna sweep's pruner stopped this trial: not a failure
                record_pruned(output_dir, loggers, e, time.monotonic() - started, trainer.is_global_zero)
                ok = True
                if not trainer.is_global_zero:
                    return float("nan")  # DDP ranks > 0 end cleanly (Lightning stops every rank when one fails)
                raise
            except SIGTERMException:
                exit_interrupted(output_dir, trainer, by=ctrl_c.by)

            best = best_checkpoint(trainer)  # None without one: evaluate the weights in memory
            results: dict[str, Any] = {"status": "completed", "best_checkpoint": relative_to_run(best, output_dir)}
            if lr_found is not None:
                results["lr_find"] = lr_found
            try:
                validated = [] if without_validation else trainer.validate(task, datamodule=datamodule, ckpt_path=best,
                                                                            verbose=False, weights_only=True)
                results["val"] = validated[0] if validated else {}  # empty with trainer.limit_val_batches=0 or no validation split
                if cfg.test:
                    results["test"] = trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True)[0]
            except SIGTERMException:  # training is done; a resume evaluates again without training
                exit_interrupted(output_dir, trainer, "testing" if "val" in results else "validating", by=ctrl_c.by)
            stages = tuple(stage for stage in ("val", "test") if results.get(stage))
            if trainer.is_global_zero and stages and (baseline := baselines(datamodule, stages)) is not None:
                results["baseline"] = baseline  # what predicting without the sequences scores, printed beside
            if trainer.is_global_zero and stages:
                try:  # a yardstick: it must never cost a finished run its results
                    linear = linear_autoregression(datamodule, stages)
                except Exception as e:  # noqa: BLE001
                    log.warning("the linear autoregression baseline was left out: %s: %s", type(e).__name__, e)
                    linear = None
                if linear is not None:  # a forecast a network should beat too
                    results["baseline_linear"] = {**linear, "highway": cfg.model.get("ar_highway") is not None}
            if facts.task == "language_modeling" and cfg.sample_length > 0:
                results["sample"] = datamodule.decode(
                    _sample_text(task.model, datamodule, cfg.sample_length, seed=cfg.seed)
                )
            results["seconds"] = round(time.monotonic() - started, 1)  # the job's wall time, for sweep summaries
            if trainer.is_global_zero:
                write_json(output_dir / "metrics.json", results)
                print(format_results(results, output_dir))
            ok = True
            objective = results["val"].get(cfg.monitor, float("nan"))
            return objective if math.isfinite(objective) else float("nan")
        finally:
            ctrl_c.uninstall()
            close_loggers(loggers, ok)
    finally:
        if lock is not None:
            lock.release()


def at_train_epoch_end(callbacks: list[Any]) -> list[Any]:
    """Checkpoints and early stopping that watch a `train/` metric act at the end of each training epoch, where the
    task logs it. Lightning's default is to act after validation whenever the run validates at other times than each
    epoch's end (`trainer.val_check_interval` < 1, `check_val_every_n_epoch` > 1): there the epoch's `train/` means
    are not logged yet, so a mid-epoch validation stopped the run (`could not find the monitored key`) and a checkpoint
    after epoch e was scored with epoch e-1's value (the best checkpoint was the wrong epoch). An explicit
    `save_on_train_epoch_end` / `check_on_train_epoch_end` is kept."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    for callback in callbacks:
        if not str(getattr(callback, "monitor", None)).startswith("train/"):
            continue
        if isinstance(callback, ModelCheckpoint) and callback._save_on_train_epoch_end is None:
            callback._save_on_train_epoch_end = True
        elif isinstance(callback, EarlyStopping) and callback._check_on_train_epoch_end is None:
            callback._check_on_train_epoch_end = True
    return callbacks


def no_default_callbacks(cfg: DictConfig, callbacks: list[Any]) -> dict[str, bool]:
    """The trainer switches that keep Lightning from adding its own checkpoint or progress bar where the callbacks have
    none (`callbacks=none`: "no checkpoints, no progress bar"; Lightning wrote `checkpoints/epoch=..-step=...ckpt` each
    epoch and showed its bar). A `trainer.enable_*` key that is set wins."""
    from lightning.pytorch.callbacks import Checkpoint, ProgressBar

    switches = {}
    for key, kind in (("enable_checkpointing", Checkpoint), ("enable_progress_bar", ProgressBar)):
        if key not in cfg.trainer and not any(isinstance(callback, kind) for callback in callbacks):
            switches[key] = False
    return switches


def training_rows(datamodule: Any) -> int | None:
    """How many examples the run could fit on: the training split and the validation rows carved from it (None for a
    datamodule of your own without `split`)."""
    split = getattr(datamodule, "split", None)
    return None if split is None else len(split("train")) + len(split("val"))


def no_validation_split(cfg: DictConfig, datamodule: Any) -> str | None:
    """The line that says the run has no validation split (data=table with data.val_fraction=0), and what it does
    instead: how long it trains and which checkpoint is tested. None when there is one to validate on."""
    split = getattr(datamodule, "split", None)
    if split is None or len(split("val")) > 0:
        return None
    stopper = OmegaConf.select(cfg, "callbacks.early_stopping")
    how_long = (f"for all trainer.max_epochs={cfg.trainer.max_epochs} epochs" if stopper is None
                else f"until early stopping on {stopper.monitor} stops it (at most trainer.max_epochs={cfg.trainer.max_epochs} epochs)")
    return (f"data: no validation split (data.val_fraction=0): every training row trains, {how_long}; the checkpoint "
            f"with the best {cfg.monitor} ({cfg.monitor_mode}) is tested")


def settle_patch_size(cfg: DictConfig, config: dict[str, Any], datamodule: Any) -> str:
    """`model.patch_size=auto`: the size for this data, written into the run's config (which checkpoints
    rebuild the model from); returns the line that says what was chosen and why."""
    from seqtrain.data.datamodule import example_lengths

    facts = datamodule.facts
    patchable = facts.vocab_size is None and not facts.per_step  # otherwise no lengths are needed
    lengths = example_lengths(datamodule.split("train")) if patchable else []
    size, why = auto_patch_size(facts, lengths, cfg.recipe.patch_steps)
    cfg.model.patch_size = config["model"]["patch_size"] = size
    return f"model.patch_size=auto: {size} ({why})"


def patched_train_lengths(cfg: DictConfig, datamodule: Any) -> tuple[int, list[int]] | None:
    """(patch size, each training row's length) when the run reads real-valued rows (one target each) in patches of a
    size above 1; None otherwise, or when the data has no lengths to count."""
    from seqtrain.data.datamodule import example_lengths

    size, facts, split = OmegaConf.select(cfg, "model.patch_size", default=None), datamodule.facts, getattr(datamodule, "split", None)
    if not isinstance(size, int) or size <= 1 or split is None or facts.vocab_size is not None or facts.per_step:
        return None
    return size, list(example_lengths(split("train")))


def check_patch_size(cfg: DictConfig, datamodule: Any) -> str | None:
    """`model.patch_size=k` as a number against the training sequences' lengths: raises ConfigError when every row
    is one patch; returns the warning when most are (None otherwise, or when the data has no lengths to judge)."""
    from seqtrain.config import ConfigError

    if (patched := patched_train_lengths(cfg, datamodule)) is None:
        return None
    refusal, warning = patch_size_problems(*patched)
    if refusal is not None:
        raise ConfigError(f"invalid config:\n  {refusal}")
    return warning


def unused_embedding_dropout(cfg: DictConfig, facts: Any) -> str | None:
    """`model.embedding_dropout` acts on token embeddings only: with real-valued inputs the model has none (so a
    recipe's text setting leaves numeric runs as they were); returns the line that says so."""
    rate = OmegaConf.select(cfg, "model.embedding_dropout", default=None)
    if facts.vocab_size is not None or not isinstance(rate, (int, float)) or rate == 0:
        return None
    return f"model.embedding_dropout={rate}: not used (it drops embedded tokens; this data's inputs are real-valued)"


#: The options that act on patches, and why patch size 1 leaves each nothing to do (`unused_patch_options`).
PATCH_OPTIONS = {
    "patch_shift": "no phase to shift",
    "patch_spectrum": "no spectrum over a patch's steps to read",
}


def unused_patch_option_names(cfg: DictConfig) -> list[str]:
    """The `PATCH_OPTIONS` set true while `model.patch_size` is 1 (short series, text, tagging: what `auto` gives
    them), where they change nothing."""
    if OmegaConf.select(cfg, "model.patch_size") != 1:
        return []
    return [option for option in PATCH_OPTIONS if OmegaConf.select(cfg, f"model.{option}", default=None) is True]


def unused_patch_options(cfg: DictConfig) -> str | None:
    """One line naming every option of `PATCH_OPTIONS` that patch size 1 leaves nothing to do, or None."""
    if not (names := unused_patch_option_names(cfg)):
        return None
    said = " ".join(f"model.{name}=true" for name in names)
    why = " and ".join(PATCH_OPTIONS[name] for name in names)
    return f"{said}: not used (model.patch_size=1 reads one step at a time: {why})"


def patch_shift_on_short_rows(cfg: DictConfig, datamodule: Any) -> str | None:
    """`model.patch_shift` drops r < k leading steps of a row (one step always stays), which moves a long row's patch
    boundaries at the cost of a few steps, but leaves a row no longer than one patch with its last L - r steps (its
    last step alone for r >= L - 1), in training and in the evaluation's mean over the k phases: the line that says how
    many training rows are so (None when none are, or the data has no lengths to count)."""
    if OmegaConf.select(cfg, "model.patch_shift", default=None) is not True or (patched := patched_train_lengths(cfg, datamodule)) is None:
        return None
    size, lengths = patched
    short = sorted(length for length in lengths if length <= size)
    if not short:
        return None
    return (f"model.patch_shift=true with model.patch_size={size}: {len(short)} of {len(lengths)} training rows "
            f"(lengths {short[0]}-{short[-1]} steps) are no longer than one patch: a phase r drops r of their steps (down to "
            f"their last step), in training and in the mean over the {size} phases that evaluation reads")


def unused_tbptt(cfg: DictConfig) -> str | None:
    """`task.tbptt_steps=k` cuts each batch's `data.seq_len` steps into chunks of k; with k >= seq_len a batch is one
    chunk, nothing is truncated, and the run trains as without it; returns the line that says so."""
    steps, length = cfg.task.tbptt_steps, OmegaConf.select(cfg, "data.seq_len", default=None)
    if steps is None or cfg.task.tbptt_variable or not isinstance(length, int) or steps < length:
        return None
    carried = " (data.stateful=true still carries the state from batch to batch)" if OmegaConf.select(
        cfg, "data.stateful", default=False) else ""
    return (f"task.tbptt_steps={steps}: not used (a batch of data.seq_len={length} steps is one chunk, so nothing is "
            f"truncated{carried}); set task.tbptt_steps below data.seq_len to truncate")


def unused_epoch_scheduler(cfg: DictConfig) -> str | None:
    """A scheduler stepped per epoch (`scheduler.interval=epoch`) first steps at the end of the first epoch: with
    `trainer.max_epochs=1` (the shakespeare and truecase recipes) it never changes the learning rate the run trains
    with; returns the line that says so."""
    node = cfg.scheduler.scheduler
    if node is None or cfg.scheduler.interval != "epoch" or cfg.trainer.max_epochs != 1:
        return None
    return (f"scheduler.scheduler={str(node._target_).rsplit('.', 1)[-1]}: not used (scheduler.interval=epoch steps it "
            "after each epoch, and trainer.max_epochs=1 trains one: the learning rate stays optimizer.lr throughout); "
            "set scheduler.interval=step with the schedule in batches (e.g. scheduler.scheduler.T_max), or more epochs")


def unused_input_noise(cfg: DictConfig, facts: Any) -> str | None:
    """`model.input_noise` jitters real values; token ids have none to jitter; returns the line that says so."""
    noise = OmegaConf.select(cfg, "model.input_noise", default=None)
    if facts.vocab_size is None or not isinstance(noise, (int, float)) or noise == 0:
        return None
    return f"model.input_noise={noise}: not used (it adds noise to real-valued inputs; this data's inputs are token ids)"


def unused_instance_norm(cfg: DictConfig, model: Any) -> str | None:
    """`model.instance_norm` standardizes real-valued rows with one target each; for token ids or a per-step head the
    model has none: returns the line that says so."""
    mode = OmegaConf.select(cfg, "model.instance_norm", default=None)
    if mode is None or getattr(model, "instance_norm", None) is not None:
        return None
    why = "this data's inputs are token ids" if model.arguments["vocab_size"] is not None else "this head predicts per step"
    return f"model.instance_norm={mode}: not used (it standardizes each real-valued row for one target per row; {why})"


def unused_differences(cfg: DictConfig, model: Any) -> str | None:
    """`model.differences` adds each feature's first difference to real-valued rows with one target each; for token ids, a
    per-step head or a forecast window the model reads its steps as they are: returns the line that says so."""
    mode = OmegaConf.select(cfg, "model.differences", default=None)
    if mode is None or getattr(model, "differences", None) is not None:
        return None
    if model.arguments["vocab_size"] is not None:
        why = "this data's inputs are token ids"
    elif model.head_kind != "many_to_one":
        why = "this head predicts per step"
    else:
        why = "a forecast reads its window's steps as they are"
    return f"model.differences={mode}: not used (it adds each feature's first difference to real-valued rows with one target each; {why})"


def unused_crop(cfg: DictConfig, model: Any) -> str | None:
    """`model.crop` slices real-valued rows with one target each; for token ids, a per-step head or a forecast window
    the model keeps every step: returns the line that says so."""
    crop = OmegaConf.select(cfg, "model.crop", default=None)
    if not isinstance(crop, (int, float)) or crop >= 1 or getattr(model, "crop", 1.0) < 1:
        return None
    arguments = model.arguments
    why = ("this data's inputs are token ids" if arguments["vocab_size"] is not None else
           "its forecast follows the window's last step" if arguments["window"] is not None else "this head predicts per step")
    return f"model.crop={crop}: not used (it trains on slices of real-valued rows with one target each; {why})"


def settle_random_scaling(cfg: DictConfig, config: dict[str, Any], facts: Any, command_line: set[str]) -> str | None:
    """A recipe's `task.random_scaling` (the forecast recipe's 1.3, chosen on series forecast from themselves) applies where
    every input is a target: a covariate beside them (a temperature beside the load it helps forecast) need not scale with
    the targets, and multiplying both by one factor would teach a relation the data does not hold. Off then, said in the
    returned line; a value on the command line is judged as given."""
    from seqtrain.recipe import given

    scaling = OmegaConf.select(cfg, "task.random_scaling", default=None)
    if scaling is None or given("task.random_scaling", command_line) or facts.task != "regression":
        return None
    targets = facts.target_inputs
    if targets is not None and set(targets) == set(range(facts.num_features)):
        return None
    cfg.task.random_scaling = config["task"]["random_scaling"] = None
    others = facts.num_features - len(set(targets or ()))
    why = ("some target is not an input" if targets is None else
           f"{others} of its {facts.num_features} input columns {'is not a target' if others == 1 else 'are not targets'}")
    return (f"task.random_scaling=None, not the recipe's {scaling}: it scales series forecast from themselves, and {why} "
            f"(a covariate need not scale with the targets); task.random_scaling={scaling} on the command line keeps it")


def settled_relative_to(facts: Any) -> str:
    """`model.relative_to=auto`, as the model settles it from the data's facts: the line that says what and why."""
    if facts.target_inputs is not None:
        return "model.relative_to=auto: last (every target is also an input: the forecast is the change from its last value)"
    return "model.relative_to=auto: null (some target is not an input, or this is not a forecast: values as they are)"


def settled_ar_highway(facts: Any, fit: str | None = None) -> str:
    """`model.ar_highway=auto`, as the model settles it from the data's facts: the line that says what and why (and, off,
    that `model.ar_highway_fit` has nothing to fit)."""
    from seqtrain.models.highway import resolve_ar_highway

    if (steps := resolve_ar_highway("auto", facts.target_inputs, facts.window, facts.per_step)) is not None:
        return (f"model.ar_highway=auto: {steps} (a linear map of each target's last {steps} input steps, the "
                "whole window, is added to the network's forecast)")
    unused = f"; model.ar_highway_fit={fit} has no highway to fit" if fit is not None else ""
    return ("model.ar_highway=auto: null (it needs a many_to_one forecast whose targets are all inputs; this data "
            f"{'forecasts at every step' if facts.per_step else 'has a target that is not an input, or is not a forecast'})"
            + unused)


def training_text_spacing(datamodule: Any) -> float | None:
    """The share of whitespace among the training text's characters (up to its first 200,000 tokens, decoded by the
    fitted tokenizer): how the text is written, for `recipe.text_by_spacing`. None when the sequences are not text
    (numbers, or lists of tokens) or the datamodule (one of your own) does not say."""
    state = datamodule.state_dict()
    tokenizer = getattr(datamodule, "tokenizer", None)
    inputs = getattr(datamodule.split("train"), "inputs", None)
    if state.get("sequence_kind") != "text" or tokenizer is None or inputs is None:
        return None
    from seqtrain.encoders.vocab import whitespace

    text = tokenizer.decode(inputs[:200_000].tolist())
    return whitespace(text) / max(1, len(text))


def cosine_past_its_end(config: dict[str, Any]) -> str | None:
    """A resume that runs more epochs than its cosine schedule's `T_max` (kept from its run, as the small-set rule's
    is): past it `CosineAnnealingLR` is periodic and the learning rate rises again; returns the warning that says so."""
    scheduler = (config.get("scheduler") or {}).get("scheduler") or {}
    t_max, epochs = scheduler.get("T_max"), config["trainer"].get("max_epochs")
    if not str(scheduler.get("_target_", "")).endswith("CosineAnnealingLR") or not isinstance(t_max, int):
        return None
    if not isinstance(epochs, int) or epochs <= t_max:
        return None
    return (f"resume: the cosine schedule's T_max={t_max} (its run's) is below trainer.max_epochs={epochs}: after epoch {t_max} "
            "the learning rate rises again (CosineAnnealingLR is periodic); to decay over the longer run, start a new run")


def cosine_rises_again(cfg: DictConfig, batches: int | None) -> str | None:
    """`CosineAnnealingLR` is periodic: a `T_max` below the steps the run gives it (epochs, or with
    `scheduler.interval=step` optimizer steps: batches, or batches / `accumulate_grad_batches` without truncated BPTT)
    takes the learning rate to its minimum and back up again; returns the warning that says so."""
    node = cfg.scheduler.scheduler
    if node is None or not str(node.get("_target_", "")).endswith("CosineAnnealingLR"):
        return None
    t_max, epochs, steps = node.get("T_max"), cfg.trainer.max_epochs, cfg.trainer.max_steps
    if not isinstance(t_max, int):
        return None
    if cfg.scheduler.interval == "epoch":
        total, unit = (epochs if isinstance(epochs, int) and epochs > 0 else None), "epochs"
    else:
        per_epoch = None if batches is None else (
            batches if cfg.task.tbptt_steps is not None else math.ceil(batches / cfg.trainer.accumulate_grad_batches))
        totals = [n for n in (steps if steps > 0 else None, per_epoch * epochs if per_epoch and isinstance(epochs, int)
                              and epochs > 0 else None) if n is not None]
        total, unit = (min(totals) if totals else None), "optimizer steps"
    if total is None or total <= t_max:
        return None
    return (f"scheduler.scheduler.T_max={t_max} is below the run's {total} {unit} (scheduler.interval="
            f"{cfg.scheduler.interval}): CosineAnnealingLR is periodic, so the learning rate reaches its minimum after "
            f"{t_max} and rises again; set scheduler.scheduler.T_max={total} to decay once over the run")


def keep_saved_patch_size(cfg: DictConfig, config: dict[str, Any], saved: dict[str, Any]) -> str | None:
    """A resume with `model.patch_size=auto` continues with the size its checkpoint's run chose (the data is
    checked to be the same; a run made before patching existed did not patch); returns the line that says so."""
    size = saved.get("model", {}).get("patch_size", 1)
    if config["model"].get("patch_size") != "auto" or not isinstance(size, int):
        return None
    cfg.model.patch_size = config["model"]["patch_size"] = size
    return f"model.patch_size=auto: {size}, as chosen by the run being resumed"


def keep_saved_recipe_settings(cfg: DictConfig, config: dict[str, Any], saved: dict[str, Any], command_line: set[str]) -> str | None:
    """A resume continues with the settings the recipe settles once the data is read (`recipe.text_classification`:
    monitor, ...; `recipe.small_classification`: no validation split, its schedule, no early stopping, and its
    `multiclass` smoothing) as its checkpoint's run used them, whether that run settled them or predates them (a text run saved before the text block
    picked by val/loss); also the recipes' `model.instance_norm`, `model.differences`, `model.embedding_dropout` and
    `model.head_dropout` (`recipe=text` from round thirty-two) and `task.random_scaling` (`recipe=forecast` from round five of
    its study), so a run made before a recipe set them resumes as it was. A key given on the command line wins, as in `check_resume`. Returns the line that says what was kept."""
    from seqtrain.recipe import apply_settings, given, many_classes, short_setting, small_set_settings, text_recipe_keys
    from seqtrain.resume_checks import ADDED_LATER

    missing = object()
    multiclass = many_classes(cfg)
    recipe_keys = {*text_recipe_keys(cfg), *small_set_settings(cfg), *(multiclass[1] if multiclass else ()),
                   "model.instance_norm", "model.differences", "model.embedding_dropout",
                   "model.head_dropout", "task.random_scaling"}
    keys = sorted(k for k in recipe_keys if not given(k, command_line))
    kept: dict[str, Any] = {}
    # Single values first, then whole nodes (the scheduler, a callback): a node is compared once the values it may
    # read (the schedule's ${trainer.max_epochs}) are back, so one that only follows them is left as it is.
    for nodes in (False, True):
        found = {}
        for key in keys:
            value = _lookup(saved, key, ADDED_LATER.get(key, missing))  # a key the saved run predates: what it did
            node = OmegaConf.select(cfg, key, default=None)
            if (isinstance(node, DictConfig) or isinstance(value, dict)) != nodes:
                continue
            if key.startswith("callbacks.") and key.count(".") == 1:
                # A callback is kept or dropped as the saved run had it; its settings follow their own keys (${monitor},
                # a setting of the recipe's such as callbacks.early_stopping.patience).
                if (value is missing) == (node is None):
                    continue
            elif value is missing:
                continue
            current = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
            if current != (None if value is missing else value):
                found[key] = None if value is missing else value
        if found:
            apply_settings(cfg, config, found)
            kept.update(found)
    if not kept:
        return None
    return "resume: " + " ".join(f"{k}={short_setting(v)}" for k, v in sorted(kept.items())) + ", as the run being resumed used"


def _lookup(tree: dict[str, Any], dotted: str, missing: Any) -> Any:
    """The value at a dotted key of nested dicts, or `missing`."""
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return missing
        tree = tree[part]
    return tree


def best_checkpoint(trainer: Any) -> str | None:
    """The best-model `ModelCheckpoint`'s file (not `last.ckpt`'s callback, which is a `Checkpoint` too)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.best_model_path:
            return callback.best_model_path
    return None


class CtrlC:
    """While a run trains and evaluates, Ctrl-C (SIGINT) stops it as SIGTERM does: at the end of the batch, with
    last.ckpt saved, `interrupted` in metrics.json and the command that resumes. Lightning's own handling of Ctrl-C
    raised KeyboardInterrupt wherever the run was ("Detected KeyboardInterrupt, attempting graceful shutdown"), left
    last.ckpt at the last validation or epoch end (the steps since were lost), wrote no metrics.json and said nothing
    of resuming. A second Ctrl-C stops at once, as Python's own handler does."""

    def __init__(self) -> None:
        self.trainer: Any = None
        self.by: str = "SIGTERM"
        self.previous: Any = None

    def install(self) -> CtrlC:
        import threading

        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def uninstall(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.trainer is None or self.by == "Ctrl-C (SIGINT)":  # before training, or the second Ctrl-C: at once
            self.uninstall()
            raise KeyboardInterrupt
        self.by = "Ctrl-C (SIGINT)"
        self.trainer._signal_connector.received_sigterm = True  # what Lightning's SIGTERM handler sets
        print("\ntrain.py: Ctrl-C: stopping at the end of this batch and saving checkpoints/last.ckpt "
              "(Ctrl-C again stops at once, without saving)", file=sys.stderr, flush=True)


def exit_interrupted(output_dir: Path, trainer: Any, evaluating: str | None = None, by: str = "SIGTERM") -> NoReturn:
    """`record_interruption`, its message on stderr, and exit 143 (130 for Ctrl-C), as a process the signal ended."""
    print(f"train.py: {record_interruption(output_dir, trainer, evaluating, by)}", file=sys.stderr, flush=True)
    raise SystemExit(128 + (signal.SIGINT if by.startswith("Ctrl-C") else signal.SIGTERM)) from None


def record_interruption(output_dir: Path, trainer: Any, evaluating: str | None = None, by: str = "SIGTERM") -> str:
    """SIGTERM stopped the fit (last.ckpt was saved), or the evaluation after it (`evaluating`: "validating" or
    "testing"; training had finished, so the resume trains nothing and evaluates again): say so in metrics.json; the
    message tells how to resume."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    overrides = [o for o in hydra.overrides.task if not o.startswith(("ckpt_path=", "hydra.run.dir="))]
    if str(hydra.mode) == "RunMode.MULTIRUN":  # a sweep's job: the sweep's own settings (its study, its pruner, the
        # job's trial) resolve the job's config; without them the printed command was refused as another run
        overrides += [o for o in hydra.overrides.hydra if not o.startswith(("hydra.mode=", "hydra.run.dir=", "hydra.sweeper.n_trials="))]
    command = shlex.join(["python", "train.py", *overrides, "ckpt_path=last", f"hydra.run.dir={output_dir}"])
    where = (f"at global step {trainer.global_step} (epoch {trainer.current_epoch})" if evaluating is None else
             f"while {evaluating} the best checkpoint, after training ended at global step {trainer.global_step}; no "
             "results were written")
    how = "resume with" if evaluating is None else "evaluate it (nothing more is trained) with"
    message = f"stopped by {by} {where}; {how}:\n  {command}"
    log.error(message)
    if trainer.is_global_zero:
        record = {"status": "interrupted", "global_step": trainer.global_step, "last_checkpoint": "checkpoints/last.ckpt",
                  "resume": command}
        if evaluating is not None:
            record["interrupted_while"] = evaluating
        write_json(output_dir / "metrics.json", record)
    return message


#: How this process's sweep jobs ended (`train_in_sweep`): (ended well, the job's directory, its error), for
#: `every_job_failed`. Jobs a launcher runs in other processes (submitit, SLURM) are not here.
SWEEP_JOBS: list[tuple[bool, str, str]] = []


def train_in_sweep(cfg: DictConfig) -> float | TrialPruned | None:
    """`train` for one job of a multirun: a failure is recorded in its run directory, not raised; a pruned
    trial returns its `TrialPruned` for the sweeper to tell Optuna."""
    from hydra.core.hydra_config import HydraConfig

    from seqtrain.errors import SeqtrainError
    from seqtrain.pruning import TrialPruned

    output_dir = HydraConfig.get().runtime.output_dir
    argv, environ = sys.argv, dict(os.environ)
    try:
        sys.argv = [argv[0], *job_as_single_run()]  # what Lightning's DDP runs for ranks > 0: this job, not the sweep
        if output_dir in (earlier := [directory for _, directory, _ in SWEEP_JOBS]):
            raise RunDirectoryError(
                f"run directory {output_dir} is the directory of job #{earlier.index(output_dir)} of this sweep too: "
                f"hydra.sweep.subdir={OmegaConf.to_container(HydraConfig.get().sweep)['subdir']!r} gives both jobs the same one; make it differ "
                "from job to job (the default ${hydra.job.num}, or name every swept key in it)")
        objective = train(cfg)
    except TrialPruned as pruned:  # returned, not raised: Hydra prints "Error executing job" for a raised one
        SWEEP_JOBS.append((True, output_dir, ""))
        return pruned
    except Exception as error:  # not KeyboardInterrupt/SystemExit: an interrupted sweep stops
        if isinstance(error, SeqtrainError):  # its message says all; a traceback would only show seqtrain's code
            log.error("job failed; the sweep goes on: %s", error)
        else:
            log.exception("job failed; the sweep goes on")
        record_failure(Path(output_dir), error)
        SWEEP_JOBS.append((False, output_dir, f"{type(error).__name__}: {str(error).strip().splitlines()[-1].strip() if str(error).strip() else ''}"))
        return None
    finally:
        sys.argv = argv
        end_ddp(environ)
    # No value rather than NaN: a diverged run (non-finite objective) is a failed trial, as its metrics.json says.
    SWEEP_JOBS.append((math.isfinite(objective), output_dir, "diverged (its metrics.json says where)"))
    return objective if math.isfinite(objective) else None


def every_job_failed() -> str | None:
    """When this process ran sweep jobs and none ended well (completed or pruned): the message for a non-zero exit,
    naming the first failure (before, such a sweep exited 0 with nothing trained). None otherwise."""
    if not SWEEP_JOBS or any(ok for ok, _, _ in SWEEP_JOBS):
        return None
    _, directory, error = SWEEP_JOBS[0]
    return (f"every job of the sweep failed ({len(SWEEP_JOBS)}; the first: {directory}: {error}); each job's metrics.json "
            "holds its error")


def end_ddp(environ: dict[str, str]) -> None:
    """Undo what Lightning's DDP leaves behind in this process, so that the next job of an in-process
    multirun starts its own: the process group (its peers have exited) and the variables it set
    (`LOCAL_RANK` in the environment tells the next job's Lightning that its ranks exist already)."""
    import os
    import sys

    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    for key in set(os.environ) - set(environ):
        del os.environ[key]
    os.environ.update(environ)


def job_as_single_run() -> list[str]:
    """The overrides that rerun this multirun job alone, in its own directory (for DDP's processes of rank > 0).

    Lightning starts them by running `sys.argv` again (plus `hydra.run.dir=<hydra.run.dir>`); a
    multirun's argv would start the whole sweep in each, with other sampled values.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    hydra = HydraConfig.get()
    with read_write(hydra), open_dict(hydra):  # what Lightning passes on as hydra.run.dir
        hydra.run.dir = hydra.runtime.output_dir
    return [*hydra.overrides.task, *(o for o in hydra.overrides.hydra if not o.startswith("hydra.mode=")), "hydra.mode=RUN"]


def record_pruned(output_dir: Path, loggers: list, pruned: TrialPruned, seconds: float, is_global_zero: bool) -> None:
    """Mark the run as pruned (with the value and validation it was pruned at) in metrics.json and the logger."""
    log.info("trial %s", pruned)
    if is_global_zero:
        results = {"status": "pruned", "val": {pruned.monitor: pruned.value}, "validations": pruned.step, "seconds": round(seconds, 1)}
        write_json(output_dir / "metrics.json", results)
    for logger in loggers:
        summary = getattr(getattr(logger, "experiment", None), "summary", None)
        if summary is not None:  # wandb
            summary["status"] = "pruned"
            summary["pruned_at_validation"] = pruned.step


def record_failure(output_dir: Path, error: Exception) -> None:
    """`metrics.json` saying the job failed and why, unless the run wrote its own (e.g. diverged)."""
    metrics = output_dir / "metrics.json"
    if not metrics.exists():
        output_dir.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps({"status": "failed", "error": f"{type(error).__name__}: {error}"}, indent=2) + "\n")


def evaluate(path: str | Path, split: str = "test", allow_changed_data: bool = False,
             moved: dict[str, Any] | None = None) -> dict[str, float]:
    """Rebuild model and data from a checkpoint (or run directory) alone and measure ``split``.

    The data files must be the ones the checkpoint was trained with (by content): a grown training
    file would re-carve the val/test split. ``allow_changed_data`` measures whatever is there now.
    ``moved``: new places of data files moved or renamed since training (`{"train_files": "new/train.csv"}`), taken
    when they hold the same contents, read in the same order (as a resume takes them; `data_file_changes`).
    """
    import lightning.pytorch as pl

    from seqtrain.checkpoint import load_checkpoint, task_from_checkpoint
    from seqtrain.console import quiet_dependencies
    from seqtrain.data.sources import resolve_files
    from seqtrain.resume_checks import data_file_changes, names_data_files

    logging.getLogger("lightning").handlers.clear()
    quiet_dependencies()
    checkpoint = load_checkpoint(path)
    meta = checkpoint["seqtrain"]
    saved_data = meta["config"]["data"]
    for key, value in (moved or {}).items():
        if not names_data_files(f"data.{key}") or saved_data.get(key) is None:
            keys = ", ".join(k for k, v in saved_data.items() if names_data_files(f"data.{k}") and v is not None) or "none"
            raise DataError(f"--data {key}=...: the run read no data.{key} (the keys naming its files: {keys})")
        try:
            resolve_files(key, value)  # each path or glob names a file: the error says which does not
        except DataError as e:
            raise DataError(str(e).replace(f"data.{key}:", f"--data {key}=...:", 1)) from None
    data = {**saved_data, **(moved or {})}
    if "data_fingerprints" in meta:
        moved_files, changed = data_file_changes(meta["config"], {"data": data}, meta["data_fingerprints"], data_fingerprints(data))
        for key in moved_files:
            log.info("%s: %r -> %r (the same file contents, read in the same order)", key,
                     saved_data[key.removeprefix("data.")], data[key.removeprefix("data.")])
        if changed and not allow_changed_data:
            gone = any(line.endswith(" is gone") or " is not in " in line for line in changed)
            hint = ("--data train_files=<their new path> (and test_files=..., val_files=...) reads moved files, checked by "
                    "their contents; " if gone else "") + "--allow-changed-data measures whatever the config names now"
            raise DataError(
                f"{path}: the data files differ from those the model was trained with, so the {split} split "
                "would not be the run's:\n  " + "\n  ".join(changed) + f"\n({hint})"
            )
        for line in changed:
            log.warning("data changed since training: %s", line)
    meta["config"]["data"] = data
    task, datamodule = task_from_checkpoint(checkpoint)
    # No progress bar: the script's output is the JSON alone.
    trainer = pl.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                         enable_model_summary=False, enable_progress_bar=False)
    run = trainer.test if split == "test" else trainer.validate
    results = run(task, datamodule=datamodule, verbose=False)
    if not results or not results[0]:  # no batches: Lightning warns and returns nothing
        raise DataError(f"{path}: the run has no {split} split to measure (its data config gives it no rows, as "
                        f"data.val_fraction=0 or the table recipe's small-set rule does for val); choose another --split")
    return results[0]


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    """`last`: this run directory's newest checkpoint; a missing file is an error, never a fresh start.

    The newest of `checkpoints/last.ckpt` and the `hpc_ckpt_*.ckpt` Lightning writes when SLURM asks a
    job to requeue. A requeued SLURM job (`SLURM_RESTART_COUNT` > 0) resumes that way by itself.
    """
    if ckpt_path is None and int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0 and newest_checkpoint(output_dir):
        log.info("requeued SLURM job (SLURM_RESTART_COUNT=%s): resuming with ckpt_path=last", os.environ["SLURM_RESTART_COUNT"])
        ckpt_path = "last"
    if ckpt_path is None:
        return None
    path = newest_checkpoint(output_dir) if ckpt_path == "last" else Path(ckpt_path)
    if path is not None and path.is_dir():
        run_dir = path.parent if path.name == "checkpoints" else path  # a run directory's checkpoints/ names its run
        raise CheckpointError(
            f"ckpt_path={ckpt_path!r} is a folder; name a .ckpt file, or resume a run directory in place with "
            f"hydra.run.dir={run_dir} ckpt_path=last"
        )
    if path is None or not path.is_file():
        where = output_dir / "checkpoints" / "last.ckpt" if path is None else path
        hint = ""
        if ckpt_path == "last":
            others = sorted(p.name for p in (output_dir / "checkpoints").glob("*.ckpt"))
            hint = (f" (this run directory holds only {', '.join(others)}: name one as ckpt_path=<its path> to go on from "
                    "there, an earlier point of the run)" if others else
                    " (pass hydra.run.dir=<the run's directory> to resume it in place)")
        raise CheckpointError(f"ckpt_path={ckpt_path!r}: no checkpoint at {where}{hint}")
    return str(path)


def newest_checkpoint(output_dir: Path) -> Path | None:
    """The run directory's resumable checkpoint with the highest global step (last.ckpt or Lightning's hpc_ckpt_N)."""
    candidates = [output_dir / "checkpoints" / "last.ckpt", *output_dir.glob("hpc_ckpt_*.ckpt")]
    candidates = [p for p in candidates if p.is_file()]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    import torch  # only when there is a choice to make

    def global_step(path: Path) -> int:
        try:
            return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])
        except Exception:  # noqa: BLE001 - an unreadable candidate loses; load_checkpoint names its problem if chosen
            return -1

    return max(candidates, key=global_step)


def check_not_behind_newest(checkpoint: dict[str, Any], ckpt_path: str, output_dir: Path) -> None:
    """Refuse to resume, in its own run directory, a checkpoint behind the directory's newest (`best.ckpt`, or a copy of
    an earlier `last.ckpt`, while `last.ckpt` holds later steps): the resumed run would replace `last.ckpt` and
    `best.ckpt` with a branch from the earlier point, and the steps trained after it would be lost."""
    path = Path(ckpt_path).resolve()
    if path.parent not in ((output_dir / "checkpoints").resolve(), output_dir.resolve()):
        return  # a checkpoint from elsewhere: check_run_directory and check_resume judge it
    newest = newest_checkpoint(output_dir)
    if newest is None or newest.resolve() == path:
        return
    import torch

    try:
        saved = torch.load(newest, map_location="cpu", weights_only=True, mmap=True)
        newer_steps, newer_epochs = int(saved["global_step"]), int(saved.get("epoch", 0))
    except Exception:  # noqa: BLE001 - an unreadable last.ckpt holds no steps to lose; going on from an earlier point is the way back
        return
    steps, epochs = int(checkpoint.get("global_step", 0)), int(checkpoint.get("epoch", 0))
    if newer_steps > steps:
        raise ResumeError(
            f"cannot resume from {ckpt_path}: it is at optimizer step {steps} (epoch {epochs}), behind this run directory's "
            f"{newest.name} at step {newer_steps} (epoch {newer_epochs}); resuming it here would replace {newest.name} and "
            "best.ckpt with a run going on from the earlier point, and the later steps would be lost. Continue the run with "
            f"ckpt_path=last, or, to go on from the earlier point, first move {newest} out of its folder"
        )


def other_checkpoints_hint(asked: str, path: str, output_dir: Path) -> str:
    """For `ckpt_path=last` whose file cannot be read: the run directory's other checkpoints, an earlier point to go
    on from (as `resolve_checkpoint` names them when `last.ckpt` is missing); empty otherwise."""
    if asked != "last":
        return ""
    others = sorted(p for p in (output_dir / "checkpoints").glob("*.ckpt") if p.resolve() != Path(path).resolve())
    if not others:
        return ""
    return (f". This run directory also holds {', '.join(p.name for p in others)}: to go on from there, an earlier point "
            f"of the run, pass ckpt_path={others[0]}")


def check_best_checkpoint_readable(checkpoint: dict[str, Any], config: dict[str, Any], ckpt_path: str) -> None:
    """Refuse a resume whose run's best checkpoint (the file its `ModelCheckpoint` holds the best score for) is missing or
    unreadable: a new one replaces it only when better, and the run validates and tests it once training ends, so it
    failed there with a traceback, after the training, unless the resume happened to beat the saved score."""
    from seqtrain.checkpoint import load_checkpoint

    dirpath = ((config.get("callbacks") or {}).get("model_checkpoint") or {}).get("dirpath")
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if not (key.startswith("ModelCheckpoint") and isinstance(state, dict) and state.get("best_model_path")):
            continue
        best, old = Path(state["best_model_path"]), state.get("dirpath")
        if dirpath and old:  # the run directory moved: its best checkpoint moved with it
            best = Path(relocate(str(best), Path(old), Path(dirpath)))
        score = state.get("best_model_score")
        scored = f" ({state.get('monitor')}={float(score):.4g}, the score a new checkpoint must beat to replace it)" if score is not None else ""
        if not best.is_file():
            problem = "is missing"
        else:
            try:
                load_checkpoint(best)
                continue
            except CheckpointError as e:
                problem = f"is not readable ({str(e).removeprefix(f'{best}: ')})"
        raise ResumeError(
            f"cannot resume from {ckpt_path}: the run's best checkpoint {best}{scored} {problem}; the resumed run would "
            "validate and test it once training ends, and fail there. Put it back (a copy of the run directory?), or "
            "start a new run (omit ckpt_path, or overwrite=true)"
        )


def check_resumable(checkpoint: dict[str, Any], facts: Any, path: str) -> None:
    """Resuming needs the same data encoding (the config was compared before the data was read)."""
    from seqtrain.facts import fact_differences

    differences = fact_differences(checkpoint["seqtrain"]["facts"], facts)
    changed = [f"data facts {k}: {old!r} -> {new!r}" for k, (old, new) in differences.items()]
    if changed:
        raise ResumeError(f"cannot resume from {path}: the data differs from the checkpoint's:\n  " + "\n  ".join(changed))


def save_run_files(output_dir: Path, config: dict, facts: dict, data_state: dict, fingerprints: dict) -> None:
    """The resolved config and the data facts/vocabulary/file fingerprints, beside the checkpoints."""
    output_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(output_dir / "config.yaml", OmegaConf.to_yaml(config))
    data = {"facts": facts, "state": data_state, "fingerprints": fingerprints}
    write_atomic(output_dir / "data.json", json.dumps(data, indent=1) + "\n")


def record_resume(output_dir: Path, ckpt_path: str, applied: dict[str, tuple]) -> None:
    """Log and append to `resumes.jsonl` what this resume changed (only what cannot change the result)."""
    for key, (old, new) in applied.items():
        # A recipe's block is read when a run starts: a resume keeps the settings its run was trained with.
        how = ("recorded; the run keeps the settings it was trained with" if key.startswith("recipe.")
               else "applied: the same file contents, read in the same order" if names_data_files(key) else "applied")
        log.info("resume: %s: %r -> %r (%s)", key, old, new, how)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "checkpoint": relative_to_run(ckpt_path, output_dir),
              "applied": {key: list(change) for key, change in applied.items()}}
    append_jsonl(output_dir / "resumes.jsonl", record)


def _sample_text(model: torch.nn.Module, datamodule: Any, length: int, seed: int) -> list[int]:
    import torch

    from seqtrain.generate import sample

    prompt = datamodule.encode("\n")
    generator = torch.Generator().manual_seed(seed)
    return prompt + sample(model, prompt, length, temperature=0.8, generator=generator)


class LoggedLines(logging.Handler):
    """The messages seqtrain's loggers emit inside the `with` block; then `said_once()`, a block in which records with
    one of those messages are dropped by every handler of the root logger (where Hydra's console and file handlers
    are): a dataset read twice (the recipe chose another tokenizer or split) warns of its files once."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.add(record.getMessage())

    def __enter__(self) -> LoggedLines:
        logging.getLogger("seqtrain").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("seqtrain").removeHandler(self)

    @contextmanager
    def said_once(self) -> Iterator[None]:
        def new(record: logging.LogRecord) -> bool:
            return not (record.name.startswith("seqtrain") and record.getMessage() in self.messages)

        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            handler.addFilter(new)
        try:
            yield
        finally:
            for handler in handlers:
                handler.removeFilter(new)


def format_results(results: dict[str, Any], output_dir: Path) -> str:
    lines = [f"\nrun directory: {output_dir}"]
    for stage in ("val", "test"):
        if results.get(stage):  # none without a validation split (data.val_fraction=0)
            lines.append(f"{stage}: " + "  ".join(f"{k.split('/', 1)[-1]}={v:.4f}" for k, v in results[stage].items()))
    if "baseline" in results:
        lines += describe(results["baseline"], results)
    if "baseline_linear" in results:
        lines += describe_linear(results["baseline_linear"], results)
    if "sample" in results:
        lines.append("sample:\n" + results["sample"])
    return "\n".join(lines)


def record_divergence(output_dir: Path, loggers: list, message: str, is_global_zero: bool) -> None:
    """Mark the run as diverged where a person or a sweep will look: metrics.json and the logger."""
    log.error("diverged: %s", message)
    if is_global_zero:
        write_json(output_dir / "metrics.json", {"status": "diverged", "error": message})
    for logger in loggers:
        experiment = getattr(logger, "experiment", None)
        summary = getattr(experiment, "summary", None)
        if summary is not None:  # wandb
            summary["status"] = "diverged"
            summary["error"] = message


def close_loggers(loggers: list, ok: bool) -> None:
    """One wandb run per job, also in a multirun: finish it here, whatever happened."""
    import sys

    for logger in loggers:
        logger.finalize("success" if ok else "failed")
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=0 if ok else 1)
