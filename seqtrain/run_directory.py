"""A run directory belongs to one run: refuse to overwrite another's, lock it while training, write atomically.

What a run leaves there (`config.yaml`, `data.json`, `metrics.json`, `checkpoints/`) is written only
after every check has passed, each file through a temporary file and a rename, so a run that fails
its checks or is killed never leaves a mix of two runs. Paths stored in the directory are relative to
it, so a copied or moved run directory still points at its own files.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from seqtrain.errors import SeqtrainError

log = logging.getLogger(__name__)

#: The files that mark a directory as holding a run.
RUN_FILES = ("config.yaml", "data.json", "metrics.json", "resumes.jsonl")
LOCK_NAME = ".seqtrain.lock"
#: The files `seqtrain.reports.TestReports` writes into its folder (`reports/`), for each kind of task.
REPORT_FILES = ("confusion_matrix.csv", "confusion_matrix.png", "per_class.csv", "predicted_vs_actual.csv",
                "predicted_vs_actual.png", "forecast.csv", "forecast.png")


class RunDirectoryError(SeqtrainError, RuntimeError):
    """A run directory that this run must not write into."""


def previous_run(output_dir: Path) -> list[str]:
    """What in ``output_dir`` belongs to an earlier run (its run files and checkpoints), if anything."""
    found = [name for name in RUN_FILES if (output_dir / name).exists()]
    checkpoints = output_dir / "checkpoints"
    if checkpoints.is_dir():
        found += [f"checkpoints/{p.name}" for p in sorted(checkpoints.glob("*.ckpt"))]
    found += [p.name for p in sorted(output_dir.glob("hpc_ckpt_*.ckpt"))]
    return found


def check_run_directory(output_dir: Path, ckpt_path: str | None, overwrite: bool) -> None:
    """Refuse a fresh run into a directory that holds a run, and a directory this process cannot write.

    Resuming this directory's own checkpoint (`ckpt_path=last`, or a file under its `checkpoints/`)
    continues the run that is there; anything else needs `overwrite=true`.
    """
    if output_dir.exists() and not os.access(output_dir, os.W_OK | os.X_OK):
        raise RunDirectoryError(f"run directory {output_dir} is not writable (hydra.run.dir / hydra.sweep.dir)")
    checkpoints = output_dir / "checkpoints"
    if checkpoints.exists() and not os.access(checkpoints, os.W_OK | os.X_OK):
        raise RunDirectoryError(f"checkpoint directory {checkpoints} is not writable: a run could save nothing there")
    found = previous_run(output_dir)
    if not found or overwrite:
        return
    if ckpt_path is not None and Path(ckpt_path).resolve().parent in (checkpoints.resolve(), output_dir.resolve()):
        return  # resuming the run that is there (its last.ckpt, or the hpc_ckpt_N.ckpt of a SLURM requeue)
    raise RunDirectoryError(
        f"run directory {output_dir} already holds a run ({', '.join(found[:4])}{', ...' if len(found) > 4 else ''}). "
        "Continue it with ckpt_path=last, pick another directory (hydra.run.dir=...), "
        "or replace it with overwrite=true"
    )


def job_log_sizes(output_dir: Path) -> dict[Path, int]:
    """The size of each log file the root logger writes into `output_dir` (Hydra's `train.log`), before this job logs
    anything: where this job's lines begin (Hydra appends to the file an earlier run in the directory left)."""
    paths = (Path(handler.baseFilename) for handler in _log_handlers(output_dir))
    return {path: path.stat().st_size for path in paths if path.is_file()}


def _log_handlers(output_dir: Path) -> list[logging.FileHandler]:
    """The root logger's handlers writing into ``output_dir`` (Hydra's `train.log`)."""
    return [handler for handler in logging.getLogger().handlers
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == output_dir.resolve()]


#: Where a run directory keeps its Hydra record: the composed config, Hydra's own and the command-line overrides
#: (`.hydra/config.yaml`, `hydra.yaml`, `overrides.yaml`), as Hydra names them. seqtrain writes it (`HeldBack`).
HYDRA_RECORD = ".hydra"
#: Log lines held back at most; past this many they go to the log file as they come.
HELD_LINES = 1_000_000


def held_by_a_live_run(output_dir: Path) -> bool:
    """Whether a live process holds ``output_dir``'s `RunLock` (this one too, through another open file)."""
    path = output_dir / LOCK_NAME
    if not path.is_file():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False  # closing the file let the lock go


class HeldBack:
    """A job's Hydra record and its log lines, kept out of a run directory that holds another job's files until the
    job may write there.

    Hydra writes its record (`HYDRA_RECORD`) and opens `train.log` in the run directory before any check runs, so a job
    refused there (another run's finished directory, a live run's, a resume with changed settings) replaced that run's
    record with its own and added its lines to that run's log. Here Hydra writes no record (`hydra.output_subdir: null`,
    configs/train.yaml): seqtrain writes it, at once into a directory that holds nothing of another job's, otherwise
    only once every check has passed (`settle`); until then the job's lines for that directory's log files are held in
    memory (they reach the console as ever), and a refusal drops them (`drop`), so the directory is left as it was.
    """

    def __init__(self, cfg: Any, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.record = _hydra_record(cfg)  # as Hydra composed it, before the run settles anything in it
        self._held: list[tuple[logging.FileHandler, logging.handlers.MemoryHandler]] = []
        self.settled = not (previous_run(output_dir) or (output_dir / HYDRA_RECORD).exists() or held_by_a_live_run(output_dir))
        if self.settled:
            self._write_record()
            return
        root = logging.getLogger()
        for handler in _log_handlers(output_dir):
            memory = logging.handlers.MemoryHandler(HELD_LINES, logging.CRITICAL + 1, target=handler, flushOnClose=False)
            memory.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(memory)
            self._held.append((handler, memory))

    def settle(self, write_record: bool = True) -> None:
        """The job may write into the directory: its record (``write_record``: the process that owns the directory),
        then its lines so far, after those already in the log."""
        if self.settled:
            return
        self.settled = True
        if write_record:
            self._write_record()
        root = logging.getLogger()
        for handler, memory in self._held:
            memory.flush()
            root.removeHandler(memory)
            root.addHandler(handler)
            memory.close()
        self._held.clear()

    def drop(self) -> None:
        """The job was refused before it settled: its held lines go nowhere, and it writes no more into the log."""
        if self.settled:
            return
        root = logging.getLogger()
        for handler, memory in self._held:
            root.removeHandler(memory)
            memory.buffer.clear()
            memory.close()
            handler.close()
        self._held.clear()

    def _write_record(self) -> None:
        if self.record is None:
            return
        folder = self.output_dir / HYDRA_RECORD
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.record.items():
            write_atomic(folder / name, text)


def _hydra_record(cfg: Any) -> dict[str, str] | None:
    """What Hydra would save in `HYDRA_RECORD` for this job, as text; None outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.instance().cfg
    return {"config.yaml": OmegaConf.to_yaml(cfg), "hydra.yaml": OmegaConf.to_yaml(hydra),
            "overrides.yaml": OmegaConf.to_yaml(hydra.hydra.overrides.task)}


def drop_earlier_log(sizes: dict[Path, int]) -> None:
    """With `overwrite=true`: keep only this job's lines in its log files (`job_log_sizes`: where they begin)."""
    for path, start in sizes.items():
        if start and path.is_file():
            with path.open("r+b") as f:  # the handler appends (O_APPEND): its next line follows what is left here
                f.seek(start)
                ours = f.read()
                f.seek(0)
                f.write(ours)
                f.truncate()


def clear_previous_run(output_dir: Path, reports_dirnames: tuple[str, ...] = ("reports",)) -> None:
    """With `overwrite=true`: remove the earlier run's files, so none of them is taken for this run's.

    Its test reports too (`seqtrain.reports.TestReports` writes them into `reports_dirnames`): a run of another kind, or
    one that does not test, writes other ones or none, and the earlier run's would be left beside its results.
    """
    for name in previous_run(output_dir):
        (output_dir / name).unlink(missing_ok=True)
    for dirname in reports_dirnames:
        for name in REPORT_FILES:
            (output_dir / dirname / name).unlink(missing_ok=True)


#: File descriptors of the run locks this process holds (see `_forget_locks_in_child`).
_HELD_LOCKS: set[int] = set()


def _forget_locks_in_child() -> None:
    """In a forked child (a DataLoader worker), point each held lock's descriptor at /dev/null.

    `flock` belongs to the open file, which `fork` shares: without this, workers that outlive a
    SIGKILLed run for a moment would still hold its directory's lock, and an immediate resume would
    be refused. The descriptor number stays valid, so the child's own clean-up closes /dev/null.
    """
    if not _HELD_LOCKS:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _HELD_LOCKS:
        os.dup2(null, fd)
    os.close(null)
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


class RunLock:
    """An exclusive lock on a run directory for as long as the run lives.

    `flock` on `<run dir>/.seqtrain.lock`: the kernel drops it when the process ends, however it
    ends (SIGKILL included), so a stale lock never blocks a resume; forked children (data-loader
    workers) do not keep it. The file stays; it holds the pid of the run that has it, for the error
    message.
    """

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunDirectoryError(
                f"run directory {self.path.parent} is in use by a live run ({holder}); "
                "two runs in one directory would overwrite each other's checkpoints. Pick another hydra.run.dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        f.flush()
        self._file = f
        _HELD_LOCKS.add(f.fileno())
        return self

    def release(self) -> None:
        if self._file is not None:
            _HELD_LOCKS.discard(self._file.fileno())
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: renamed to ``path`` when the block ends without an error (readers
    see the old file or the new one, never one cut short), removed when it fails."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data: Any) -> None:
    """``data`` as JSON; a number that is not finite (a metric that overflowed) is written as the string "NaN",
    "Infinity" or "-Infinity" (bare NaN is not JSON; Python's `float()` and JavaScript's `Number()` read the strings),
    with a warning naming it."""
    found: list[str] = []
    write_atomic(path, json.dumps(_finite_json(data, "", found), indent=2, allow_nan=False) + "\n")
    if found:
        log.warning("%s: not finite: %s (written as strings; the run's numbers overflowed or diverged, do not trust them)",
                    path.name, ", ".join(found))


def _finite_json(value: Any, key: str, found: list[str]) -> Any:
    """``value`` with each non-finite float replaced by its JSON-safe string; ``found`` gets each one's key and value."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        found.append(f"{key or 'the value'} = {value}")
        return text
    if isinstance(value, dict):
        return {k: _finite_json(v, f"{key}.{k}" if key else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v, f"{key}[{i}]", found) for i, v in enumerate(value)]
    return value


def relative_to_run(path: str | Path | None, output_dir: Path) -> str | None:
    """``path`` relative to the run directory when it lies inside it (so a copied directory still works)."""
    if not path:
        return None
    path, root = Path(path).resolve(), output_dir.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
