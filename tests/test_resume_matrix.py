"""The resume matrix: a run stopped in each way a run stops, resumed with `ckpt_path=last`, ends exactly
where the same config run without a stop ends: final weights and optimizer state bitwise equal,
per-step losses equal, the same number of batches in every epoch.

(b) stopped at an epoch end (also under early stopping), (c) a finished run extended and SIGTERM run by default; (a) SIGKILL
mid-epoch, (d) killed after a mid-epoch validation, (e) stateful TBPTT streams and (f) DDP with
stateful streams are `slow`.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import ROOT

COMMON = ["trainer.accelerator=cpu", "trainer.log_every_n_steps=1", "+logger.csv.flush_logs_every_n_steps=1", "test=false", "sample_length=0",
          "trainer.num_sanity_val_steps=0", "callbacks.progress_bar.refresh_rate=0", "logger=csv"]
# Vowels: 270 training series in bucketed, shuffled batches of 32 (8 per epoch); dropout between the
# two layers draws from the global random stream, so its state must come back too.
VOWELS = ["~experiment", "data=vowels", "recipe=none", "data.batch_size=32", "model=gru", "model.num_layers=2", "model.dropout=0.5",
          "model.hidden_size=16", "trainer.max_epochs=3"]
STATEFUL = ["~experiment", "data=shakespeare", "data.stateful=true", "data.max_chars=60000", "data.seq_len=64",
            "data.batch_size=8", "task.tbptt_steps=16", "model=lstm", "model.num_layers=2", "model.dropout=0.3",
            "model.hidden_size=32", "trainer.max_epochs=2", "trainer.limit_val_batches=4"]
DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true"]


def start(args: list[str], run_dir: Path, version: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, *COMMON, f"logger.csv.version={version}", f"hydra.run.dir={run_dir}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen, ok: bool = True) -> str:
    out, err = proc.communicate(timeout=900)
    assert (proc.returncode == 0) == ok, f"exit {proc.returncode}\n{err[-4000:]}"
    return out + err


def saved(path: Path) -> dict | None:
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001 - not written yet
        return None


def kill_when(proc: subprocess.Popen, last: Path, ready, sig: int = signal.SIGKILL, timeout: float = 600) -> None:
    """Send ``sig`` as soon as `last.ckpt` holds a state for which ``ready(checkpoint)`` is true."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        checkpoint = saved(last)
        if checkpoint is not None and ready(checkpoint):
            proc.send_signal(sig)
            return
        time.sleep(0.02)
    raise AssertionError(f"the run ended or timed out before a suitable checkpoint (exit {proc.poll()})")


def step_rows(run_dir: Path, version: str) -> list[dict]:
    with open(run_dir / "csv" / version / "metrics.csv") as f:
        return [row for row in csv.DictReader(f) if row.get("train/loss_step")]


def epoch_means(run_dir: Path, version: str) -> dict[str, dict[str, str]]:
    """Each epoch's logged training means (`train/loss`, `train/acc`, ...), by epoch; a later row of an epoch wins."""
    means: dict[str, dict[str, str]] = {}
    with open(run_dir / "csv" / version / "metrics.csv") as f:
        for row in csv.DictReader(f):
            if row.get("train/loss"):
                means[row["epoch"]] = {k: v for k, v in row.items() if k.startswith("train/") and k != "train/loss_step" and v}
    return means


def assert_same_run(whole: Path, resumed: Path, before: str = "before", after: str = "after") -> None:
    """The resumed run's final state, step losses, batches per epoch and epoch means equal the uninterrupted run's."""
    a, b = saved(whole / "checkpoints" / "last.ckpt"), saved(resumed / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] and a["epoch"] == b["epoch"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    state_a, state_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    assert state_a.keys() == state_b.keys()
    for index in state_a:
        for name in state_a[index]:
            assert torch.equal(torch.as_tensor(state_a[index][name]), torch.as_tensor(state_b[index][name])), name

    # Steps logged before the stop that the checkpoint kept, then every step of the resumed run.
    # (Resumed into the same log, `metrics.csv` must already read as one run.)
    resumed_rows = step_rows(resumed, after)
    first_after = min(int(r["step"]) for r in resumed_rows)
    rows = resumed_rows if before == after else [r for r in step_rows(resumed, before) if int(r["step"]) < first_after] + resumed_rows
    whole_rows = step_rows(whole, "run")
    assert [(r["step"], r["train/loss_step"]) for r in rows] == [(r["step"], r["train/loss_step"]) for r in whole_rows]
    assert Counter(r["epoch"] for r in rows) == Counter(r["epoch"] for r in whole_rows)  # batches per epoch
    # The epoch a mid-epoch stop cut in two reports its means over all its batches, not over those after the resume
    # (a `train/` monitor picks the best checkpoint by them).
    assert {**epoch_means(resumed, before), **epoch_means(resumed, after)} == epoch_means(whole, "run")


def resume(args: list[str], run_dir: Path, ok: bool = True, version: str = "after") -> str:
    return finish(start([*args, "ckpt_path=last"], run_dir, version), ok)


def batches_per_epoch(whole: Path) -> int:
    checkpoint = saved(whole / "checkpoints" / "last.ckpt")
    return checkpoint["global_step"] // checkpoint["epoch"]


def kill_mid_epoch_resume_and_compare(args: list[str], tmp_path: Path) -> dict:
    """SIGKILL a run once `last.ckpt` holds a mid-epoch state, resume it, hold it to the run never stopped;
    returns the mid-epoch checkpoint the resume started from."""
    whole = tmp_path / "whole"
    finish(start(args, whole, "run"))
    proc = start(args, tmp_path / "killed", "before")
    per_epoch = batches_per_epoch(whole)
    kill_when(proc, tmp_path / "killed" / "checkpoints" / "last.ckpt", lambda c: c["global_step"] % per_epoch)
    proc.wait()
    mid_epoch = saved(tmp_path / "killed" / "checkpoints" / "last.ckpt")
    resume(args, tmp_path / "killed")
    assert_same_run(whole, tmp_path / "killed")
    return mid_epoch


@pytest.fixture(scope="module")
def vowels_whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run every vowels case is held to."""
    run_dir = tmp_path_factory.mktemp("whole")
    finish(start([*VOWELS, "callbacks.last_checkpoint.every_n_train_steps=3"], run_dir, "run"))
    return run_dir


def stopped_at_the_first_save(args: list[str], run_dir: Path) -> dict:
    """Start the run, kill it once last.ckpt holds a trained step, and return that checkpoint."""
    proc = start(args, run_dir, "before")
    kill_when(proc, run_dir / "checkpoints" / "last.ckpt", lambda c: c["global_step"] > 0)
    proc.wait()
    return saved(run_dir / "checkpoints" / "last.ckpt")


@pytest.mark.parametrize("early_stopping", [
    [],
    # Every recipe stops early on a validation metric, checked at the epoch's end. last.ckpt written when the epoch's
    # validation ended (before that check) made Lightning skip the validation on resume and then stop on the missing
    # `val/loss`; it is written at the epoch's end, after the check. A patience that never runs out: the same training.
    ["callbacks=early_stopping", "callbacks.early_stopping.patience=100"],
], ids=["plain", "under_early_stopping"])
def test_b_stopped_at_an_epoch_end(tmp_path: Path, vowels_whole: Path, early_stopping: list[str]) -> None:
    # No periodic saves: last.ckpt is written at each epoch's end only (after its validation).
    args = [*VOWELS, *early_stopping, "callbacks.last_checkpoint.every_n_train_steps=null"]
    checkpoint = stopped_at_the_first_save(args, tmp_path)
    assert checkpoint["global_step"] % batches_per_epoch(vowels_whole) == 0  # stopped at an epoch end
    resume(args, tmp_path)
    assert_same_run(vowels_whole, tmp_path)


@pytest.mark.parametrize("saves", [
    ["callbacks.last_checkpoint.every_n_train_steps=null"],  # at the first epoch's end
    ["callbacks.last_checkpoint.every_n_train_steps=3"],  # at step 3
], ids=["at_an_epoch_end", "every_3_steps"])
def test_b_killed_the_moment_last_ckpt_lands(tmp_path: Path, vowels_whole: Path, monkeypatch: pytest.MonkeyPatch,
                                             saves: list[str]) -> None:
    # Lightning logs a batch's step loss and an epoch's training means after the hooks where last.ckpt is taken; written
    # there, a kill before that logging lost those rows (the epoch's means were missing; a timing-dependent failure of
    # test_b_stopped_at_an_epoch_end). tests/killed_last_checkpoint.py exits the moment the file is written.
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests"))
    args = [*VOWELS, *saves, "callbacks.last_checkpoint._target_=killed_last_checkpoint.KilledAfterFirstWrite"]
    finish(start(args, tmp_path, "before"), ok=False)
    assert (tmp_path / "checkpoints" / "killed_once").exists()
    assert saved(tmp_path / "checkpoints" / "last.ckpt")["global_step"] > 0
    resume(args, tmp_path)
    assert_same_run(vowels_whole, tmp_path)


@pytest.mark.slow  # ~40 s
def test_b_a_last_ckpt_written_when_the_epochs_validation_ended_resumes_by_validating_again(
        tmp_path: Path, vowels_whole: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A last.ckpt from before the save moved to the epoch's end (tests/old_last_checkpoint.py writes it as it was).
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests"))
    args = [*VOWELS, "callbacks=early_stopping", "callbacks.early_stopping.patience=100",
            "callbacks.last_checkpoint.every_n_train_steps=null",
            "callbacks.last_checkpoint._target_=old_last_checkpoint.ValidationEndLastCheckpoint"]
    checkpoint = stopped_at_the_first_save(args, tmp_path)
    fit = checkpoint["loops"]["fit_loop"]["epoch_progress"]["total"]
    assert fit["processed"] == fit["started"] - 1  # saved inside the epoch, after its validation
    out = resume(args, tmp_path)
    assert "that validation runs again" in out
    assert_same_run(vowels_whole, tmp_path)


@pytest.mark.slow  # ~19 s; kept out of the default run (under ~10 min on 2 cores)
def test_c_finished_run_extended_after_its_directory_moved(tmp_path: Path, vowels_whole: Path) -> None:
    first = [a for a in VOWELS if not a.startswith("trainer.max_epochs")]
    finish(start([*first, "trainer.max_epochs=1", "callbacks.last_checkpoint.every_n_train_steps=3"], tmp_path / "first", "before"))
    assert saved(tmp_path / "first" / "checkpoints" / "last.ckpt")["epoch"] == 1  # the finished run's final state
    # The run directory moved (another disk, a copy): what is inside it moved too, so it resumes from there.
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "first", moved)
    # Into the same CSV log: the first run's rows are kept (Lightning's own logger deleted them).
    resume([*VOWELS, "callbacks.last_checkpoint.every_n_train_steps=3"], moved, version="before")
    assert_same_run(vowels_whole, moved, after="before")
    # The best checkpoint is chosen as in the run never stopped: the score before the move was kept.
    best, whole_best = saved(moved / "checkpoints" / "best.ckpt"), saved(vowels_whole / "checkpoints" / "best.ckpt")
    assert best["global_step"] == whole_best["global_step"]
    assert all(torch.equal(best["state_dict"][k], whole_best["state_dict"][k]) for k in whole_best["state_dict"])
    # The changes were applied and recorded.
    record = json.loads((moved / "resumes.jsonl").read_text().splitlines()[-1])
    assert record["applied"]["trainer.max_epochs"] == [1, 3]
    assert record["applied"]["callbacks.model_checkpoint.dirpath"] == [str(tmp_path / "first" / "checkpoints"), str(moved / "checkpoints")]


def test_sigterm_saves_last_and_exits_143_then_resumes_exactly(tmp_path: Path, vowels_whole: Path) -> None:
    args = [*VOWELS, "callbacks.last_checkpoint.every_n_train_steps=3"]
    proc = start(args, tmp_path, "before")
    kill_when(proc, tmp_path / "checkpoints" / "last.ckpt", lambda c: c["global_step"] >= 3, sig=signal.SIGTERM)
    output = finish(proc, ok=False)
    assert proc.returncode == 128 + signal.SIGTERM  # 143, what schedulers and requeue scripts read as "terminated"
    assert "stopped by SIGTERM" in output and "ckpt_path=last" in output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert saved(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == metrics["global_step"]
    resume(args, tmp_path)
    assert_same_run(vowels_whole, tmp_path)


@pytest.mark.slow  # ~21 s; SIGTERM's test covers the signal path by default; kept out of the default run (under ~10 min on 2 cores)
def test_ctrl_c_stops_at_a_batch_end_saves_last_and_resumes_exactly(tmp_path: Path, vowels_whole: Path) -> None:
    """Ctrl-C (SIGINT) as SIGTERM: Lightning's own handling raised KeyboardInterrupt mid-batch ("attempting graceful
    shutdown"), exited 1 with no metrics.json and no resume command, and last.ckpt held the last periodic save (the
    steps since were lost). Now the run stops at the batch's end, saves last.ckpt there and exits 130."""
    args = [*VOWELS, "callbacks.last_checkpoint.every_n_train_steps=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    proc = subprocess.Popen(  # SIGINT as a terminal sends it: default disposition (a test runner may ignore it)
        [sys.executable, str(ROOT / "train.py"), *args, *COMMON, "logger.csv.version=before", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    kill_when(proc, tmp_path / "checkpoints" / "last.ckpt", lambda c: c["global_step"] >= 3, sig=signal.SIGINT)
    output = finish(proc, ok=False)
    assert proc.returncode == 128 + signal.SIGINT, output[-3000:]
    assert "stopped by Ctrl-C (SIGINT)" in output and "ckpt_path=last" in output and "KeyboardInterrupt" not in output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert saved(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == metrics["global_step"]  # saved when stopped
    resume(args, tmp_path)
    assert_same_run(vowels_whole, tmp_path)


@pytest.mark.slow
def test_a_sigkill_mid_epoch(tmp_path: Path, vowels_whole: Path) -> None:
    args = [*VOWELS, "callbacks.last_checkpoint.every_n_train_steps=3", "data.num_workers=2"]
    proc = start(args, tmp_path, "before")
    per_epoch = batches_per_epoch(vowels_whole)
    kill_when(proc, tmp_path / "checkpoints" / "last.ckpt", lambda c: c["global_step"] > per_epoch and c["global_step"] % per_epoch)
    proc.wait()
    assert saved(tmp_path / "checkpoints" / "last.ckpt")["global_step"] % batches_per_epoch(vowels_whole) != 0  # mid-epoch
    # Into the same CSV log: the steps the killed run logged after its checkpoint are logged again, once.
    resume(args, tmp_path, version="before")
    assert_same_run(vowels_whole, tmp_path, after="before")


@pytest.mark.slow
def test_a_patch_phase_jitter_and_crop_killed_mid_epoch(tmp_path: Path) -> None:
    """`model.patch_shift`, `model.input_noise` and `model.crop` draw from torch's global generator, which a resume
    restores."""
    kill_mid_epoch_resume_and_compare([*VOWELS, "model.patch_size=2", "model.patch_shift=true", "model.input_noise=0.1",
                                       "model.crop=0.8", "callbacks.last_checkpoint.every_n_train_steps=3"], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("options", [["model.bag=bigrams", "model.embedding_dropout=0.3", "data.tokenizer=word"],
                                     ["model.naive_bayes=bigrams", "data.tokenizer=word"],
                                     ["model.naive_bayes=words", "data.tokenizer=unigram", "data.max_vocab_size=300"]],
                         ids=["bag", "naive_bayes", "naive_bayes_words"])
def test_a_bag_or_a_naive_bayes_killed_mid_epoch(tmp_path: Path, options: list[str]) -> None:
    """`model.bag=bigrams` with embedding dropout on text: the bag's tables, their optimizer state and the dropout's
    draws (torch's global generator) come back exactly. `model.naive_bayes=bigrams`: the counts, alpha and weight fitted
    when the run started come back with the checkpoint; `words`: and which subword pieces open words."""
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from user_files import sentiment_rows, write_csv

    reviews = write_csv(tmp_path / "reviews.csv", sentiment_rows(200))
    kill_mid_epoch_resume_and_compare(["~experiment", "recipe=none", "data=table", f"data.train_files={reviews}",
                                       "data.sequence_column=text", f"data.cache_dir={tmp_path / 'cache'}",
                                       "data.batch_size=16", "model=gru", "model.hidden_size=16", "model.pooling=mean",
                                       *options, "model.bag_buckets=512", "trainer.max_epochs=3",
                                       "callbacks.last_checkpoint.every_n_train_steps=3"], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("args", [[*VOWELS, "model.members=3", "model.patch_size=2", "model.patch_shift=true",
                                   "trainer.gradient_clip_val=0.5", "callbacks.last_checkpoint.every_n_train_steps=3"],
                                  [*STATEFUL, "model.members=2", "callbacks.last_checkpoint.every_n_train_steps=3"]],
                         ids=["vowels", "stateful_tbptt"])
def test_an_ensemble_killed_mid_epoch(tmp_path: Path, args: list[str]) -> None:
    """`model.members`: every member's weights, optimizer state and phase draws, and (stateful TBPTT) every member's
    carried state come back exactly."""
    kill_mid_epoch_resume_and_compare(args, tmp_path)


@pytest.mark.slow
def test_a_randomly_scaled_forecast_killed_mid_epoch(tmp_path: Path) -> None:
    """`task.random_scaling` draws each training window's factor from torch's global generator, which a resume restores."""
    kill_mid_epoch_resume_and_compare(["experiment=sunspots_forecast", "task.random_scaling=1.3", "model.hidden_size=8",
                                       "trainer.max_epochs=2", "trainer.limit_val_batches=2",
                                       "callbacks.last_checkpoint.every_n_train_steps=5"], tmp_path)


@pytest.mark.slow
def test_d_killed_after_a_mid_epoch_validation(tmp_path: Path) -> None:
    args = [*VOWELS, "trainer.val_check_interval=0.5", "callbacks.last_checkpoint.every_n_train_steps=null"]
    whole = tmp_path / "whole"
    finish(start(args, whole, "run"))
    proc = start(args, tmp_path / "killed", "before")
    per_epoch = batches_per_epoch(whole)
    kill_when(proc, tmp_path / "killed" / "checkpoints" / "last.ckpt", lambda c: c["global_step"] % per_epoch != 0)
    proc.wait()
    resume(args, tmp_path / "killed")
    assert_same_run(whole, tmp_path / "killed")


@pytest.mark.slow
def test_e_stateful_tbptt_streams_killed_mid_epoch(tmp_path: Path) -> None:
    kill_mid_epoch_resume_and_compare([*STATEFUL, "callbacks.last_checkpoint.every_n_train_steps=3"], tmp_path)


@pytest.mark.slow
def test_f_ddp_stateful_streams_killed_mid_epoch(tmp_path: Path) -> None:
    args = [*DDP, *STATEFUL, "data.max_chars=40000", "callbacks.last_checkpoint.every_n_train_steps=3"]
    mid_epoch = kill_mid_epoch_resume_and_compare(args, tmp_path)
    # Each rank carried its own streams' state: two different states were saved mid-epoch, one per rank (a
    # finished run's last.ckpt carries none: an epoch's end drops it).
    carried = mid_epoch["seqtrain_carried"]["ranks"]
    assert len(carried) == 2 and not torch.equal(carried[0][0], carried[1][0])


@pytest.mark.slow  # 26 s; case (c) on tables stays in the default run (test_c_finished_run_extended)
def test_c_stateful_text_finished_run_extended(tmp_path: Path) -> None:
    """A finished stateful run's last.ckpt (written after the epoch counter moved on) must not carry the
    last epoch's recurrent state into the next epoch, which starts from zeros in an uninterrupted run."""
    text = tmp_path / "corpus.txt"
    words = "the cat sat on a mat dog ran far away good bad fine".split()
    text.write_text("\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(3 + i % 9)) for i in range(1500)))
    base = ["recipe=none", "data=text", f"data.train_files={text}", "data.stateful=true", "data.seq_len=32",
            "data.batch_size=8", "model=gru", "model.num_layers=2", "model.dropout=0.5", "model.hidden_size=16",
            "trainer.limit_val_batches=3"]
    finish(start([*base, "trainer.max_epochs=2"], tmp_path / "whole", "run"))
    finish(start([*base, "trainer.max_epochs=1"], tmp_path / "extended", "before"))
    resume([*base, "trainer.max_epochs=2"], tmp_path / "extended")
    assert_same_run(tmp_path / "whole", tmp_path / "extended")
