"""A Hydra sweeper over Optuna's ask-and-tell interface: `python train.py -m hparams_search=<name>`.

Why our own: hydra-optuna-sweeper's newest release for hydra-core 1.3 needs optuna < 3, and its
jobs never see their trial, so nothing can be pruned. This one asks the study for trials, launches
them through whichever Hydra launcher is configured (in-process, submitit/SLURM) with the sampled
values as overrides plus `hydra.sweeper.trial=<number>`, so that the job's pruning callback
(`seqtrain.pruning.OptunaPruning`) reports to its own trial, and tells the study each result:
COMPLETE with the returned value, PRUNED, or FAIL (an exception or no finite value).

The study's storage is a file (Optuna's journal storage; or a database URL) that any number of
sweep processes may share. `n_trials` is the study's total: a rerun finishes what is missing.
Each process marks the trials it runs with a heartbeat; a RUNNING trial whose process is gone (or
silent for `grace_period` seconds) is marked FAIL and, up to `retry_interrupted` times, queued
again with the same parameters.

Hydra imports every module under `hydra_plugins` at start-up to find plugins, so Optuna and
seqtrain are imported only once a sweep starts.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

log = logging.getLogger(__name__)

DIRECTIONS = {"minimize": "min", "maximize": "max"}


def refuse(message: str) -> NoReturn:
    """End the sweep before it starts with `train.py: error: <message>` and exit status 1, as a single run's refusals
    do. A SystemExit, because Hydra prints the whole traceback of any exception raised while it builds or sets up
    the sweeper (and wraps the constructor's in "Error in call to target ...")."""
    raise SystemExit(f"train.py: error: {message}")


class OptunaSweeper(Sweeper):
    """Ask Optuna for `n_jobs` trials at a time until the study holds `n_trials`; launch them; tell the results."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        direction: str,
        n_trials: int,
        n_jobs: int,
        sampler: Any,
        pruner: Any,
        params: dict[str, str] | None,
        retry_interrupted: int,
        heartbeat_interval: float,
        grace_period: float,
        trial: int | None,  # set in each job's config (the trial it runs); the sweeper itself ignores it
    ) -> None:
        if direction not in DIRECTIONS:
            refuse(f"hydra.sweeper.direction={direction!r}: must be one of {list(DIRECTIONS)}")
        for key, value in {"n_trials": n_trials, "n_jobs": n_jobs}.items():
            if not isinstance(value, int) or value < 1:
                refuse(f"hydra.sweeper.{key}={value!r}: must be a positive integer")
        if not heartbeat_interval > 0 or not grace_period > heartbeat_interval:
            refuse(f"hydra.sweeper.grace_period={grace_period!r} must exceed hydra.sweeper.heartbeat_interval={heartbeat_interval!r} (> 0)")
        self.storage, self.study_name, self.direction = storage, study_name, direction
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.sampler, self.pruner = sampler, pruner
        self.params = dict(params or {})
        self.retry_interrupted = retry_interrupted
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function, config=config)
        mode = OmegaConf.select(config, "monitor_mode")
        if mode is not None and mode != DIRECTIONS[self.direction]:
            refuse(f"hydra.sweeper.direction={self.direction!r} disagrees with monitor_mode={mode!r}: the study would "
                   "optimize the monitored metric the wrong way")

    def sweep(self, arguments: list[str]) -> list[Any]:
        import optuna

        from seqtrain.pruning import open_storage

        space, fixed = search_space(self.params, arguments)
        self._check_space(space, fixed)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")  # as Hydra's own sweeper: the sweep as composed
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from here instead
        study = optuna.create_study(
            storage=open_storage(self.storage), study_name=self.study_name, direction=self.direction,
            sampler=self.sampler, pruner=self.pruner, load_if_exists=True,
        )
        with self._study_lock():  # the first process records the sweep; the others (and reruns) compare with it
            check_same_sweep(study, self.storage, space, fixed)
        log.info(f"study {self.study_name!r} in {self.storage}: {len(study.trials)} trials so far, {self.n_trials} in all")
        log.info("search space: " + ", ".join(f"{k}: {d}" for k, d in space.items()))
        returns = []
        job_idx = 0
        while True:
            with self._study_lock():  # counting and asking as one step, against other sweep processes
                fail_interrupted_trials(study, self.owner, self.grace_period, self.retry_interrupted)
                trials = [study.ask(space) for _ in range(min(self.n_jobs, self.n_trials - trials_used(study)))]
                for trial in trials:
                    trial.set_user_attr("sweeper", self.owner)
                    trial.set_user_attr("heartbeat", time.time())
            if not trials:
                if not study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
                    break
                # Another process's trials are running: wait until each finishes or is found interrupted.
                time.sleep(self.heartbeat_interval)
                continue
            batch = [[*fixed, *(f"{k}={format_value(v)}" for k, v in t.params.items()), f"hydra.sweeper.trial={t.number}"] for t in trials]
            self.validate_batch_is_legal(batch)
            with Heartbeat(study, trials, self.heartbeat_interval):
                results = self.launcher.launch(batch, initial_job_idx=job_idx)
            job_idx += len(batch)
            for trial, result in zip(trials, results):
                self._tell(study, trial, result)
            returns.append(results)
        self._report(study)
        return returns

    def _check_space(self, space: dict[str, BaseDistribution], fixed: list[str]) -> None:
        """Each searched key's own values at the edges of its space (every choice; a range's or an interval's two ends,
        both of which Optuna may sample) through the run's fast config checks, before the study is created: a value a
        run refuses by its range or type (`model.dropout=interval(0.5,1.5)`) failed one trial at a time, with a
        traceback, while the sweep exited 0. What a value refuses only with other keys' values is left to the trials."""
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import open_dict, read_write

        from seqtrain.config import ConfigError, check_options

        saved = HydraConfig.instance().cfg
        try:
            for key, dist in space.items():
                for value in edges(dist):
                    override = f"{key}={format_value(value)}"
                    cfg = self.hydra_context.config_loader.load_sweep_config(self.config, [*fixed, override, "hydra.sweeper.trial=0"])
                    with read_write(cfg.hydra.runtime), open_dict(cfg.hydra.runtime):  # as Hydra's run_job does
                        cfg.hydra.runtime.output_dir = str(Path(cfg.hydra.sweep.dir).absolute())  # not made yet
                    HydraConfig.instance().set_config(cfg)  # its `${hydra:...}` resolve as in a job
                    job = copy.deepcopy(cfg)
                    with read_write(job), open_dict(job):
                        del job["hydra"]
                    try:
                        check_options(job)
                    except ConfigError as error:
                        own = [line.strip() for line in str(error).splitlines()[1:]
                               if line.strip().startswith((f"{key}={value!r}: ", f"{key}={value}: "))]
                        if own:
                            refuse(f"the search space of {key} ({dist_text(dist)}) reaches {override}, which a run "
                                   f"refuses: {own[0]}; keep the search space within the valid values")
        finally:
            HydraConfig.instance().cfg = saved

    def _tell(self, study: optuna.Study, trial: optuna.trial.Trial, result: Any) -> None:
        import optuna

        from seqtrain.pruning import TrialPruned

        params = " ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
        try:
            value = result.return_value  # raises what the job raised
        except optuna.TrialPruned as pruned:
            value = pruned
        except Exception as error:  # isolated: the study goes on
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            log.warning(f"trial {trial.number} failed ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}): {params}")
            return
        if isinstance(value, (TrialPruned, optuna.TrialPruned)):  # seqtrain's train_in_sweep returns it
            study.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
            log.info(f"trial {trial.number} pruned ({value}): {params}")
            return
        if isinstance(value, (int, float)) and math.isfinite(value):
            study.tell(trial, float(value), skip_if_finished=True)
            log.info(f"trial {trial.number} complete: {value:.6g}  {params}")
        else:  # train_in_sweep returns None for a failed or diverged run (its metrics.json says which)
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            log.warning(f"trial {trial.number} failed (returned {value!r}): {params}")

    def _report(self, study: optuna.Study) -> None:
        import optuna

        counts = {s.name.lower(): len(study.get_trials(deepcopy=False, states=[s])) for s in optuna.trial.TrialState}
        log.info("study done: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        if counts["complete"]:
            best = study.best_trial
            params = " ".join(f"{k}={format_value(v)}" for k, v in best.params.items())
            log.info(f"best: trial {best.number}, {best.value:.6g}  {params}")

    def _study_lock(self) -> _FileLock:
        lock_path = self.storage.split("///", 1)[-1] if "://" in self.storage else self.storage
        return _FileLock(lock_path + ".sweep")


#: Overrides that change how a trial runs or logs, not what it measures: a rerun of a sweep may change them.
NOT_MEASURED = (
    "logger", "logger.*", "callbacks.progress_bar", "callbacks.progress_bar.*", "trainer.enable_progress_bar",
    "trainer.enable_model_summary", "trainer.log_every_n_steps", "trainer.accelerator", "trainer.devices",
    "data.num_workers", "data.pin_memory", "data.cache_dir",
)


def sweep_identity(space: dict[str, BaseDistribution], fixed: Sequence[str]) -> dict[str, dict[str, str]]:
    """What makes trials of one study comparable: the fixed overrides (but those in NOT_MEASURED) and the search space."""
    from fnmatch import fnmatchcase

    from optuna.distributions import distribution_to_json

    parser = OverridesParser.create()
    overrides = {}
    for override in parser.parse_overrides(list(fixed)):
        key = override.get_key_element()
        if not any(fnmatchcase(key.lstrip("+~"), pattern) for pattern in NOT_MEASURED):
            overrides[key] = override.input_line
    return {"overrides": overrides, "space": {k: distribution_to_json(d) for k, d in space.items()}}


def check_same_sweep(study: optuna.Study, storage: str, space: dict[str, BaseDistribution], fixed: Sequence[str]) -> None:
    """Refuse to add trials to a study that another sweep made: other data, other fixed settings or another search
    space. `hparams_search=vowels_gru data=table data.train_files=mine.csv` found the vowels sweep's study (the sweep
    directory and study name are fixed, so that a rerun finds its study), said `study done` and named the other data's
    best trial, with exit status 0; a sweep on other files added its trials to the first one's and compared across."""
    identity = sweep_identity(space, fixed)
    saved = study.user_attrs.get("sweep")
    if saved is None:
        if study.trials:  # a study made before sweeps were recorded: nothing to compare with
            log.info(f"study {study.study_name!r} in {storage} does not record the sweep that made it (an older "
                     "seqtrain); it is taken for this sweep's, and this sweep's settings are recorded now")
        study.set_user_attr("sweep", identity)
        return
    if saved == identity:
        return
    from optuna.distributions import json_to_distribution

    def searched(value: str | None) -> str:
        return dist_text(json_to_distribution(value)) if value is not None else "not searched"

    differences = []
    for what in ("overrides", "space"):
        old, new = saved.get(what, {}), identity[what]
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) == new.get(key):
                continue
            if what == "overrides":
                differences.append(f"{old.get(key, f'no {key} override')!r} there, {new.get(key, f'no {key} override')!r} now")
            else:
                differences.append(f"search space of {key}: {searched(old.get(key))} there, {searched(new.get(key))} now")
    sweep_dir = str(Path(storage.split("///", 1)[-1] if "://" in storage else storage).parent)
    refuse(f"study {study.study_name!r} in {storage} ({len(study.trials)} trials) was made by another sweep: "
           + "; ".join(differences) + ". Its trials would count toward this sweep's n_trials and its best trial would "
           f"be named as this one's. Give this sweep its own study (hydra.sweep.dir={sweep_dir}_<name> "
           "hydra.sweeper.study_name=<name>), or rerun that sweep's own command to continue it")


def search_space(params: dict[str, str], arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """Optuna distributions of the sweep overrides (`params` from YAML, then the command line's), and the plain overrides."""
    parser = OverridesParser.create()
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for override in parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + list(arguments)):
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            space.pop(key, None)  # a plain value on the command line fixes a searched key
            fixed.append(override.input_line)
    return space, fixed


def distribution(override: Override) -> BaseDistribution:
    """`choice(a, b)` / `a,b`, `range(lo, hi, step)`, `interval(lo, hi)`; tags: `tag(log, …)`, `tag(int, interval(…))`."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    key = override.get_key_element()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution([v if v is None or isinstance(v, (bool, int, float, str)) else str(v) for v in value.list])
    if isinstance(value, RangeSweep):  # Python's range: `stop` excluded
        start, stop, step = value.start, value.stop, value.step
        count = math.ceil(round((stop - start) / step, 9))  # rounded: float steps (0.1) do not add up exactly
        if count < 1:
            refuse(f"{override.input_line}: the range is empty")
        if all(isinstance(v, int) for v in (start, stop, step)):
            return IntDistribution(start, start + (count - 1) * step, step=step)
        return FloatDistribution(start, round(start + (count - 1) * step, 12), step=step)
    if isinstance(value, IntervalSweep):  # Hydra parses the bounds as floats; tag(int, ...) samples integers
        log_scale = "log" in value.tags
        if not value.start < value.end:
            refuse(f"{override.input_line}: an interval needs its low bound below its high one")
        if log_scale and value.start <= 0:
            refuse(f"{override.input_line}: a log-scale interval needs a low bound > 0")
        if "int" in value.tags:
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(value.start, value.end, log=log_scale)
    refuse(f"{key}: {override.input_line!r} is not a search space; use choice(...), range(...) or interval(...)")


def edges(dist: BaseDistribution) -> list[Any]:
    """The values of a search space a run is most likely to refuse: every choice, or the two ends of a range."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]  # Int / FloatDistribution: both ends can be sampled


def dist_text(dist: BaseDistribution) -> str:
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"choice({', '.join(format_value(c) for c in dist.choices)})"
    return f"{dist.low} to {dist.high}"


def format_value(value: Any) -> str:
    """A sampled value as a Hydra override value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and any(c in value for c in " ,()[]{}='\""):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def trials_used(study: optuna.Study) -> int:
    """Trials that count toward `n_trials`: all but queued ones, and but those an interrupted trial's retry replaces."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    replaced = {n for t in trials for n in retry_history(t)}
    return sum(t.state != optuna.trial.TrialState.WAITING and t.number not in replaced for t in trials)


def fail_interrupted_trials(study: optuna.Study, owner: str, grace_period: float, retry: int) -> None:
    """RUNNING trials whose sweep process is gone become FAIL, and are queued again up to `retry` times.

    Gone: on this host with its process ended, or its heartbeat older than `grace_period` seconds
    (another host, or a process that hangs).
    """
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    host = owner.rsplit(":", 1)[0]
    for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
        trial_owner = trial.user_attrs.get("sweeper", "")
        if trial_owner == owner:
            continue
        trial_host, _, pid = trial_owner.rpartition(":")
        beat = trial.user_attrs.get("heartbeat", trial.datetime_start.timestamp() if trial.datetime_start else 0.0)
        gone = (trial_host == host and pid.isdigit() and not _process_alive(int(pid))) or time.time() - beat > grace_period
        if not gone:
            continue
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        retried = retry > len(retry_history(trial))
        log.warning(f"trial {trial.number} was left running by {trial_owner or 'an unknown process'}: marked failed"
                    + (", queued again" if retried else ""))
        if retried:
            with warnings.catch_warnings():  # the class is marked experimental; the behaviour is what we want
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                RetryHeartbeatStaleTrialCallback(max_retry=retry)(study, study.trials[trial.number])


def retry_history(trial: optuna.trial.FrozenTrial) -> list[int]:
    """The trials this one retries, earliest first (empty for a trial that is not a retry)."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():  # marked experimental since 3.0; a warning per call would flood the console
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retry_history(trial)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """While a batch runs, stamp its trials every `interval` seconds so that other sweep processes see them alive."""

    def __init__(self, study: optuna.Study, trials: list[optuna.trial.Trial], interval: float) -> None:
        self.trials, self.interval = trials, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="optuna-heartbeat")

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            for trial in self.trials:
                try:
                    trial.set_user_attr("heartbeat", time.time())
                except (RuntimeError, ValueError):  # already finished (told by another process as interrupted)
                    pass

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class _FileLock:
    """Optuna's own lock for journal files (an O_EXCL lock file; works on NFS), held for a `with` block."""

    def __init__(self, path: str) -> None:
        from optuna.storages.journal import JournalFileOpenLock

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = JournalFileOpenLock(path)

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
