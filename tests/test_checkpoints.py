"""Evaluation, generation and resume from checkpoints: reproducible, and safe against bad files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, run_train
from seqtrain.checkpoint import CheckpointError, load_checkpoint

SMOKE = ["debug=smoke", "trainer.accelerator=cpu", "logger=none"]
LM = ["data=shakespeare", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8", "model.hidden_size=32"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained language model, shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("lm")
    # Full val/test splits (the smoke config limits them), so evaluation can reproduce them.
    full = ["trainer.limit_val_batches=null", "trainer.limit_test_batches=null"]
    proc = run_train(*LM, *SMOKE, *full, "task.tbptt_steps=16", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(ROOT), "PYTHONPATH": str(ROOT)})


def test_evaluate_reproduces_the_runs_test_metrics(lm_run: Path) -> None:
    from seqtrain.run import evaluate

    saved = json.loads((lm_run / "metrics.json").read_text())["test"]
    measured = evaluate(lm_run)  # the run directory: its best checkpoint, its saved vocabulary
    assert measured.keys() == saved.keys()
    for key, value in saved.items():
        assert measured[key] == pytest.approx(value, rel=1e-6), key


def test_generate_script_continues_the_prompt(lm_run: Path) -> None:
    proc = _script("generate.py", str(lm_run), "--prompt", "ROMEO:", "--length", "60", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.rstrip("\n")
    assert text.startswith("ROMEO:") and len(text) >= 60


def test_generation_is_reproducible_for_a_seed(lm_run: Path) -> None:
    from seqtrain.generate import generate_text

    first = generate_text(lm_run, "KING", 40, seed=3)
    assert first == generate_text(lm_run, "KING", 40, seed=3)
    assert first != generate_text(lm_run, "KING", 40, seed=4)


def test_sampling_never_draws_padding_or_unknown() -> None:
    """A model that puts nearly all its mass on <pad> (0) and <unk> (1): they are never drawn (a drawn <pad> vanished
    from the text, a drawn <unk> showed as `<unk>`); the rest is drawn as the model's own distribution says."""
    from seqtrain.generate import sample

    class Specials(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs: torch.Tensor, lengths: object = None, state: object = None) -> tuple[torch.Tensor, None]:
            logits = torch.tensor([20.0, 20.0, 0.0, 0.0, -30.0]).expand(*inputs.shape, 5)  # (B, T, V)
            return logits, None

    drawn = sample(Specials(), [2], 400, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert set(drawn) == {2, 3}  # id 4 has e^-30 of the mass: never, and 0 and 1 never either
    assert set(sample(Specials(), [2], 50, top_k=1, generator=torch.Generator().manual_seed(0))) <= {2, 3}


def test_a_prompt_word_outside_a_word_vocabulary_is_named_as_a_word() -> None:
    from seqtrain.encoders.vocab import WordVocab
    from seqtrain.generate import prompt_ids_in_vocabulary

    class Words:
        tokenizer_kind = "word"
        vocab = WordVocab.fit(["a cat sat on the mat"])

        def encode(self, text: str) -> list[int]:
            return self.vocab.encode(text)

    with pytest.raises(ValueError, match=r"words 'zebra', 'qq' are not in the model's vocabulary"):
        prompt_ids_in_vocabulary(Words(), "a zebra cat qq")  # it named the letters: characters 'z', 'e', 'b', 'r', 'q'
    assert prompt_ids_in_vocabulary(Words(), "a cat") == Words().encode("a cat")


def test_a_long_generation_shows_its_progress(lm_run: Path, capfd: pytest.CaptureFixture) -> None:
    """`generate.py --length 100000` printed nothing for minutes; from 1000 tokens a bar on stderr counts them, and
    the text is the same with it or without."""
    from seqtrain.generate import generate_text

    capfd.readouterr()
    shown = generate_text(lm_run, "KING", 1000, seed=3, progress=True)
    assert "generate: 100%" in capfd.readouterr().err
    assert shown == generate_text(lm_run, "KING", 1000, seed=3)
    generate_text(lm_run, "KING", 999, seed=3, progress=True)
    assert "generate" not in capfd.readouterr().err  # a short one: no bar


class Payload:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


@pytest.fixture
def malicious_checkpoint(lm_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A real checkpoint with a pickled payload slipped into its metadata."""
    checkpoint = torch.load(lm_run / "checkpoints" / "last.ckpt", weights_only=True)
    marker = tmp_path / "pwned"
    checkpoint["seqtrain"]["extra"] = Payload(marker)
    path = tmp_path / "evil.ckpt"
    torch.save(checkpoint, path)
    return path, marker


def test_malicious_pickle_is_refused_on_every_load_path(malicious_checkpoint: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = malicious_checkpoint
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    for script in ("evaluate.py", "generate.py"):
        proc = _script(script, str(path))
        assert proc.returncode != 0 and "refused" in proc.stderr, proc.stderr[-2000:]
    proc = run_train(*LM, *SMOKE, f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'resume'}")
    assert proc.returncode != 0 and "refused" in proc.stderr, proc.stderr[-2000:]
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize(
    ("damage", "named"),
    [("truncate", "a truncated or corrupt zip"), ("garbage", "a text file"), ("empty", "an empty file")],
)
def test_corrupt_checkpoint_is_a_clear_error(lm_run: Path, tmp_path: Path, damage: str, named: str) -> None:
    path = tmp_path / "bad.ckpt"
    data = (lm_run / "checkpoints" / "last.ckpt").read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: not a seqtrain checkpoint: {named}")):
        load_checkpoint(path)


def test_foreign_target_in_a_saved_config_is_refused(lm_run: Path, tmp_path: Path) -> None:
    checkpoint = torch.load(lm_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["seqtrain"]["config"]["model"]["_target_"] = "os.system"
    path = tmp_path / "foreign.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"model\._target_='os.system' is not allowed"):
        load_checkpoint(path)


@pytest.mark.parametrize("section", ["data", "logger"])
def test_only_the_rebuilt_sections_are_held_to_the_allow_list(lm_run: Path, tmp_path: Path, section: str) -> None:
    """Loading builds the model and data from a checkpoint's config, nothing else: a foreign `_target_` there is
    refused; the logger, trainer and callbacks are a record of the run (wandb.Settings in the default logger)."""
    checkpoint = torch.load(lm_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["seqtrain"]["config"].setdefault(section, {})["_target_"] = "os.system"
    path = tmp_path / f"{section}.ckpt"
    torch.save(checkpoint, path)
    if section == "data":
        with pytest.raises(CheckpointError, match=r"data\._target_='os.system' is not allowed"):
            load_checkpoint(path)
    else:
        assert load_checkpoint(path)["seqtrain"]["config"]["logger"]["_target_"] == "os.system"  # loaded, never built


def test_a_run_logged_to_wandb_resumes_and_evaluates(tmp_path: Path) -> None:
    """The default logger (wandb, offline) records `wandb.Settings` in the run's config; its checkpoints still
    resume and evaluate (they were refused as foreign before)."""
    run_dir = tmp_path / "run"
    args = [*LM, "debug=smoke", "trainer.accelerator=cpu", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}"]
    proc = run_train(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wandb.Settings" in (run_dir / "config.yaml").read_text()
    steps = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    proc = run_train(*args[:-2], "trainer.max_epochs=2", "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * steps  # one more epoch
    from seqtrain.run import evaluate  # scripts/evaluate.py's call, in-process (the script has tests of its own)

    assert "test/loss" in evaluate(run_dir)


def test_resume_with_a_different_model_names_what_changed(lm_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(lm_run, run_dir)
    proc = run_train(*LM, *SMOKE, "model.hidden_size=48", "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode != 0
    assert "model.hidden_size: 32 -> 48" in proc.stderr, proc.stderr[-2000:]


def test_not_a_seqtrain_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a seqtrain checkpoint"):
        load_checkpoint(path)


def test_run_dir_without_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_a_run_directory_without_its_best_checkpoint_says_it_uses_the_last(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from seqtrain.checkpoint import find_checkpoint

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    with caplog.at_level("WARNING", logger="seqtrain.checkpoint"):
        assert find_checkpoint(tmp_path) == tmp_path / "checkpoints" / "last.ckpt"
    assert "no best checkpoint" in caplog.text and "last.ckpt" in caplog.text
    (tmp_path / "checkpoints" / "best.ckpt").write_bytes(b"x")
    caplog.clear()
    assert find_checkpoint(tmp_path) == tmp_path / "checkpoints" / "best.ckpt" and not caplog.text


def test_a_runs_checkpoints_folder_and_an_unreadable_metrics_json(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`evaluate.py run/checkpoints` (where tab completion stops) is its run's best checkpoint; a metrics.json cut
    short is said and passed over (a JSONDecodeError traceback before); a folder of other .ckpt files names them."""
    from seqtrain.checkpoint import find_checkpoint

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "best.ckpt").write_bytes(b"x")
    assert find_checkpoint(folder) == folder / "best.ckpt"
    (tmp_path / "metrics.json").write_text('{"best_checkpoint": "checkp')
    with caplog.at_level("WARNING", logger="seqtrain.checkpoint"):
        assert find_checkpoint(tmp_path) == folder / "best.ckpt"
    assert "metrics.json cannot be read" in caplog.text
    (folder / "best.ckpt").rename(folder / "epoch=3-step=40.ckpt")
    for path in (tmp_path, folder):
        with pytest.raises(CheckpointError, match=r"no checkpoint .*; it holds .*epoch=3-step=40.ckpt: name one of them"):
            find_checkpoint(path)


def test_a_sweep_directory_names_its_jobs_run_directories(tmp_path: Path) -> None:
    """`evaluate.py outputs/optuna/<search>` (the sweep's directory, not a job's) said only that it holds no
    checkpoint; it names the jobs' run directories and the script that ranks them."""
    from seqtrain.checkpoint import find_checkpoint

    (tmp_path / "multirun.yaml").write_text("{}")
    for job in ("0", "1", "10", "2"):
        (tmp_path / job / "checkpoints").mkdir(parents=True)
    (tmp_path / "3").mkdir()  # a pruned job: no checkpoints
    with pytest.raises(CheckpointError) as error:
        find_checkpoint(tmp_path)
    assert (f"it holds the run directories of a sweep's jobs ({tmp_path / '0'}, {tmp_path / '1'}, {tmp_path / '2'}, "
            f"{tmp_path / '10'}): name one of them; `python scripts/summarize.py {tmp_path}` ranks them") in str(error.value)
