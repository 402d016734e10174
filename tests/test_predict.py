"""Predict on new data from a checkpoint alone: outputs per task kind, and on a run's own test data its test metrics."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import ROOT, run_train
from seqtrain.errors import CheckpointError, DataError
from seqtrain.predict import Predictions, Predictor

sys.path.insert(0, str(ROOT / "tests" / "data"))
from user_files import sentiment_rows, series_rows, tagging_rows, vector_regression_rows, write_csv, write_jsonl, write_parquet  # noqa: E402

SHORT = ["debug=smoke", "trainer.accelerator=cpu", "logger=none", "model.hidden_size=16",
         "trainer.limit_test_batches=null", "trainer.limit_train_batches=5"]


def _train(run_dir: Path, *overrides: str) -> dict:
    proc = run_train(*overrides, *SHORT, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())["test"]


def _script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def _assert_same_metrics(measured: dict, saved: dict) -> None:
    assert measured.keys() == saved.keys()
    for key, value in saved.items():
        assert measured[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


# -- tables ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A text classifier trained on a CSV, with its own test file. It smooths its labels, so its test/loss is not
    the plain cross-entropy: predicting or evaluating must apply the run's `task.label_smoothing` to agree."""
    folder = tmp_path_factory.mktemp("classifier")
    write_csv(folder / "train.csv", sentiment_rows(80, seed=0))
    write_csv(folder / "val.csv", sentiment_rows(20, seed=1))
    write_csv(folder / "test.csv", sentiment_rows(45, seed=2))
    test = _train(folder / "run", "data=table", f"data.train_files={folder / 'train.csv'}", f"data.val_files={folder / 'val.csv'}",
                  f"data.test_files={folder / 'test.csv'}", "data.sequence_column=text", "data.tokenizer=word",
                  f"data.cache_dir={folder / 'cache'}", "data.batch_size=8", "task.label_smoothing=0.1")
    return folder / "run", folder / "test.csv", test


def test_evaluating_the_checkpoint_gives_the_runs_test_metrics(classifier: tuple[Path, Path, dict]) -> None:
    from seqtrain.run import evaluate  # scripts/evaluate.py's call, in-process

    run_dir, _, saved = classifier
    _assert_same_metrics(evaluate(run_dir), saved)


def test_classification_on_the_runs_test_file_gives_its_test_metrics(classifier: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, test_file, saved = classifier
    proc = _script(str(run_dir), "--files", str(test_file), "--out", str(tmp_path / "preds.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_metrics(json.loads(proc.stdout.strip().splitlines()[-1]), saved)
    table = pd.read_csv(tmp_path / "preds.csv")
    labels = pd.read_csv(test_file)["label"]
    assert len(table) == len(labels)
    assert set(table["prediction"]) <= {"neg", "pos"}
    probs = table[["prob_neg", "prob_pos"]].to_numpy()
    assert probs.sum(1) == pytest.approx(1.0, abs=1e-6)
    assert (table["prediction"] == table[["prob_neg", "prob_pos"]].idxmax(axis=1).str.removeprefix("prob_")).all()
    # The written predictions are the ones the metrics counted: their accuracy is test/acc.
    assert (table["prediction"] == labels).mean() == pytest.approx(saved["test/acc"], abs=1e-6)


def test_an_ensemble_checkpoint_evaluates_and_predicts_as_its_run_tested(tmp_path: Path) -> None:
    """`model.members=3` with the naive Bayes beside: the checkpoint holds the three members and the shared counts, and
    evaluating it or predicting its test file gives the run's own test metrics."""
    write_csv(tmp_path / "train.csv", sentiment_rows(80, seed=0))
    write_csv(tmp_path / "test.csv", sentiment_rows(45, seed=2))
    run_dir = tmp_path / "run"
    saved = _train(run_dir, "data=table", f"data.train_files={tmp_path / 'train.csv'}", f"data.test_files={tmp_path / 'test.csv'}",
                   "data.sequence_column=text", "data.tokenizer=word", f"data.cache_dir={tmp_path / 'cache'}",
                   "data.batch_size=8", "model.members=3", "model.naive_bayes=bigrams")
    weights = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert {name.split(".")[2] for name in weights if name.startswith("model.others.")} == {"0", "1"}
    assert not any(name.startswith("model.others.") and ".naive_bayes." in name for name in weights)
    from seqtrain.run import evaluate

    _assert_same_metrics(evaluate(run_dir), saved)
    proc = _script(str(run_dir), "--files", str(tmp_path / "test.csv"), "--out", str(tmp_path / "preds.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_metrics(json.loads(proc.stdout.strip().splitlines()[-1]), saved)


def test_classification_without_the_target_column_and_in_memory(classifier: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, test_file, _ = classifier
    rows = pd.read_csv(test_file)
    rows[["text"]].to_json(tmp_path / "new.jsonl", orient="records", lines=True)
    predictor = Predictor.from_checkpoint(run_dir)
    from_file = predictor.predict(str(tmp_path / "new.jsonl"))
    assert from_file.metrics is None
    in_memory = predictor.predict(list(rows["text"]))
    with_targets = predictor.predict(str(test_file))
    pd.testing.assert_frame_equal(from_file.table, in_memory.table)
    pd.testing.assert_frame_equal(from_file.table, with_targets.table)
    # A DataFrame is a table with the run's columns, as the file is (it gave two rows: its column names, read as texts).
    from_frame = predictor.predict(rows)
    pd.testing.assert_frame_equal(from_frame.table, with_targets.table)
    assert from_frame.metrics == with_targets.metrics
    from_dict = predictor.predict({"text": list(rows["text"]), "label": list(rows["label"])})  # columns by name: the same
    pd.testing.assert_frame_equal(from_dict.table, with_targets.table)


def test_rows_without_a_label_are_predicted_and_left_out_of_the_metrics(classifier: tuple[Path, Path, dict], tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A file to predict on may be labelled in part: every row is predicted, and the metrics are those of its labelled
    rows alone (the truth: the same file without the unlabelled rows). A training run still refuses an empty label."""
    run_dir, test_csv, _ = classifier
    frame = pd.read_csv(test_csv)
    partial = frame.copy()
    partial.loc[[2, 7], "label"] = None
    partial.to_csv(tmp_path / "partial.csv", index=False)
    frame.drop(index=[2, 7]).to_csv(tmp_path / "labelled.csv", index=False)
    predictor = Predictor.from_checkpoint(run_dir)
    with caplog.at_level("WARNING", logger="seqtrain.predict_inputs"):
        got = predictor.predict(str(tmp_path / "partial.csv"))
    assert f"2 of {len(frame)} rows have no 'label' label (first: {tmp_path / 'partial.csv'}, row 3): predicted, and left " \
           "out of the metrics" in caplog.text
    _assert_same_metrics(got.metrics, predictor.predict(str(tmp_path / "labelled.csv")).metrics)
    assert got.table["prediction"].tolist() == predictor.predict(str(test_csv)).table["prediction"].tolist()
    frame.assign(label=None).to_csv(tmp_path / "none.csv", index=False)  # no label at all: predictions only
    alone = predictor.predict(str(tmp_path / "none.csv"))
    assert alone.metrics is None and len(alone.table) == len(frame)


def test_several_files_name_each_rows_file(classifier: tuple[Path, Path, dict], tmp_path: Path) -> None:
    """`--files 'new/*.csv'`: each row's file is written beside it (the row index ran on across the files, unsaid)."""
    run_dir, test_file, _ = classifier
    rows = pd.read_csv(test_file)
    rows.iloc[:5].to_csv(tmp_path / "b.csv", index=False)
    rows.iloc[5:12].to_csv(tmp_path / "a.csv", index=False)
    predictor = Predictor.from_checkpoint(run_dir)
    both = predictor.predict(str(tmp_path / "*.csv")).table  # a glob's matches in sorted order: a.csv, then b.csv
    assert list(both.columns[:3]) == ["row", "file", "prediction"]
    assert both["file"].tolist() == [str(tmp_path / "a.csv")] * 7 + [str(tmp_path / "b.csv")] * 5
    alone = pd.concat([predictor.predict([tmp_path / name]).table for name in ("a.csv", "b.csv")], ignore_index=True)
    assert "file" not in alone.columns  # one file: no column
    pd.testing.assert_frame_equal(both.drop(columns=["row", "file"]), alone.drop(columns=["row"]))


def test_tagging_aligns_one_label_per_token(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", tagging_rows(80, seed=1))
    write_jsonl(tmp_path / "test.jsonl", tagging_rows(30, seed=5))
    saved = _train(tmp_path / "run", "data=table", "data.task=tagging", f"data.train_files={tmp_path / 'train.jsonl'}",
                   f"data.test_files={tmp_path / 'test.jsonl'}", "data.sequence_column=tokens", "data.target_column=tags",
                   f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8")
    predictions = Predictor.from_checkpoint(tmp_path / "run").predict(str(tmp_path / "test.jsonl"))
    _assert_same_metrics(predictions.metrics, saved)
    rows = [json.loads(line) for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert predictions.table["tokens"].tolist() == [r["tokens"] for r in rows]
    for tags, predicted in zip((r["tags"] for r in rows), predictions.table["prediction"]):
        assert len(predicted) == len(tags) and set(predicted) <= {"N", "O"}
    steps = [(p, t) for r, ps in zip(rows, predictions.table["prediction"]) for p, t in zip(ps, r["tags"])]
    assert sum(p == t for p, t in steps) / len(steps) == pytest.approx(saved["test/acc"], abs=1e-6)


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_tagging_a_row_longer_than_max_length_gives_null_for_the_tokens_the_model_does_not_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`data.max_length=3` (truncate): the run reads a row's first 3 tokens, and so does prediction; the labels line up
    with the tokens, None after the third (the list of labels was shorter than the list of tokens, unsaid)."""
    write_jsonl(tmp_path / "train.jsonl", tagging_rows(80, seed=1))
    write_jsonl(tmp_path / "test.jsonl", tagging_rows(30, seed=5))
    saved = _train(tmp_path / "run", "data=table", "data.task=tagging", f"data.train_files={tmp_path / 'train.jsonl'}",
                   f"data.test_files={tmp_path / 'test.jsonl'}", "data.sequence_column=tokens", "data.target_column=tags",
                   "data.max_length=3", f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8")
    with caplog.at_level("WARNING", logger="seqtrain.predict"):
        predictions = Predictor.from_checkpoint(tmp_path / "run").predict(str(tmp_path / "test.jsonl"))
    _assert_same_metrics(predictions.metrics, saved)
    rows = [json.loads(line) for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    longer = sum(len(r["tags"]) > 3 for r in rows)
    assert longer and f"{longer} rows are longer than data.max_length=3" in caplog.text
    for row, tokens, predicted in zip(rows, predictions.table["tokens"], predictions.table["prediction"]):
        assert tokens == row["tokens"] and len(predicted) == len(tokens)
        assert None not in predicted[:3] and predicted[3:] == [None] * (len(tokens) - 3)
    # The labels the model gave are the ones the run's test/acc counted.
    steps = [(p, t) for r, ps in zip(rows, predictions.table["prediction"]) for p, t in zip(ps, r["tags"]) if p is not None]
    assert sum(p == t for p, t in steps) / len(steps) == pytest.approx(saved["test/acc"], abs=1e-6)


@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_per_step_regression_past_max_length_gives_null_for_the_steps_the_model_does_not_read(tmp_path: Path) -> None:
    """The tagging case above for values per step: a row of 8 steps cut at 4 gets 4 values and 4 nulls (4 values before)."""
    import random

    for name, n, seed in (("train", 80, 0), ("test", 20, 1)):
        rng = random.Random(seed)
        rows = [[round(rng.gauss(0, 1), 4) for _ in range(rng.randint(2, 8))] for _ in range(n)]
        write_jsonl(tmp_path / f"{name}.jsonl", [{"x": x, "y": [round(sum(x[: i + 1]), 4) for i in range(len(x))]} for x in rows])
    saved = _train(tmp_path / "run", "data=table", "data.task=regression", "data.per_step=true", "model.pooling=null",
                   f"data.train_files={tmp_path / 'train.jsonl'}", f"data.test_files={tmp_path / 'test.jsonl'}",
                   "data.sequence_column=x", "data.target_column=y", "data.max_length=4",
                   f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8")
    predictions = Predictor.from_checkpoint(tmp_path / "run").predict(str(tmp_path / "test.jsonl"))
    _assert_same_metrics(predictions.metrics, saved)
    rows = [json.loads(line) for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert any(len(r["x"]) > 4 for r in rows)
    for row, predicted in zip(rows, predictions.table["prediction"]):
        kept = min(len(row["x"]), 4)
        assert len(predicted) == len(row["x"]) and None not in predicted[:kept] and predicted[kept:] == [None] * (len(row["x"]) - kept)
    # The values given are the ones the run's test/mse counted.
    pairs = [(p, t) for r, ps in zip(rows, predictions.table["prediction"]) for p, t in zip(ps, r["y"]) if p is not None]
    assert sum((p - t) ** 2 for p, t in pairs) / len(pairs) == pytest.approx(saved["test/mse"], rel=1e-4)


def test_regression_predictions_are_in_the_datas_units(tmp_path: Path) -> None:
    write_parquet(tmp_path / "train.parquet", vector_regression_rows(80, seed=2))
    write_parquet(tmp_path / "test.parquet", vector_regression_rows(30, seed=6))
    saved = _train(tmp_path / "run", "data=table", "data.task=regression", f"data.train_files={tmp_path / 'train.parquet'}",
                   f"data.test_files={tmp_path / 'test.parquet'}", "data.sequence_column=frames", "data.target_column=y",
                   f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8")
    proc = _script(str(tmp_path / "run"), "--files", str(tmp_path / "test.parquet"), "--out", str(tmp_path / "preds.parquet"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_metrics(json.loads(proc.stdout.strip().splitlines()[-1]), saved)
    table = pd.read_parquet(tmp_path / "preds.parquet")
    actual = pd.read_parquet(tmp_path / "test.parquet")["y"]
    # Scaled predictions would be near 0; these are near the targets' own level (about 100).
    mse = float(((table["prediction"] - actual) ** 2).mean())
    assert mse == pytest.approx(saved["test/mse"], rel=1e-4)


@pytest.mark.slow  # ~30 s end to end; by default: the patched export cases in test_export.py, regression predictions above
def test_a_patched_model_predicts_and_exports_like_its_run(tmp_path: Path) -> None:
    """`model.patch_size=auto` is said, settled into the checkpoint as a number, and prediction, export and a
    resume all use that number. With `model.patch_shift=true` (saved in the checkpoint): the run's test metrics
    (the mean over the k phases) are what prediction gives, and the export matches PyTorch."""
    write_parquet(tmp_path / "train.parquet", vector_regression_rows(80, seed=2))
    write_parquet(tmp_path / "test.parquet", vector_regression_rows(30, seed=6))
    data = ["data=table", "data.task=regression", f"data.train_files={tmp_path / 'train.parquet'}",
            f"data.test_files={tmp_path / 'test.parquet'}", "data.sequence_column=frames", "data.target_column=y",
            f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8", "model.patch_size=auto", "recipe.patch_steps=2",
            "model.patch_shift=true"]
    run_dir = tmp_path / "run"
    proc = run_train(*data, *SHORT, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Sequences of 2-10 frames: the training median over 2 patched steps needs patches of 3 (or 4 for a median of 7-8).
    lengths = sorted(len(r["frames"]) for r in vector_regression_rows(80, seed=2))
    said = re.search(r"model.patch_size=auto: (\d+) \(median training length (\d+) steps", proc.stdout + proc.stderr)
    assert said is not None, (proc.stdout + proc.stderr)[-3000:]
    k, median = int(said.group(1)), int(said.group(2))
    assert lengths[0] <= median <= lengths[-1] and k == math.ceil(median / 2) and k > 1
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["seqtrain"]["config"]["model"]["patch_size"] == k and ckpt["seqtrain"]["config"]["model"]["patch_shift"] is True
    # k frames of 3 features per input, each with its first difference beside it (the table recipe's differences=inputs),
    # and each of those twice (its instance_norm=shape_values: shape and values)
    assert ckpt["seqtrain"]["config"]["model"]["instance_norm"] == "shape_values"
    assert ckpt["seqtrain"]["config"]["model"]["differences"] == "inputs"
    assert ckpt["state_dict"]["model.input_layer.weight"].shape[1] == k * 3 * 2 * 2
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    _assert_same_metrics(Predictor.from_checkpoint(run_dir).predict(str(tmp_path / "test.parquet")).metrics, saved)

    from seqtrain.export import export_checkpoint

    onnx_file, difference = export_checkpoint(run_dir, tmp_path / "model.onnx")
    assert difference < 1e-5
    info = json.loads(onnx_file.with_suffix(".json").read_text())
    assert info["patch_size"] == k and info["streamable"] is False

    # Resumed with `auto` on the command line again: the checkpoint's number, not a new choice or a refusal.
    proc = run_train(*data, *SHORT, "trainer.max_epochs=2", "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"model.patch_size=auto: {k}, as chosen by the run being resumed" in proc.stdout + proc.stderr


@pytest.mark.slow  # end to end, ~16 s: kept out of the default run (under ~10 min on 2 cores); the readers' own tests run by default
def test_the_ucr_archives_tsv_files_train_and_predict_as_they_come(tmp_path: Path) -> None:
    """UCRArchive_2018's layout (no header, the label first, NaN padding the shorter series): trained on, and predicted
    on with the run's own test file, which gives the run's test metrics."""
    def write(path: Path, n: int, seed: int) -> Path:
        rng = random.Random(seed)
        lines = []
        for _ in range(n):
            label = rng.choice([1, 2])
            values = [round(math.sin(0.5 * label * t) + rng.gauss(0, 0.3), 5) for t in range(rng.randint(12, 20))]
            lines.append("\t".join([str(label), *map(repr, values), *["NaN"] * (20 - len(values))]))
        path.write_text("\n".join(lines) + "\n")
        return path

    train, test = write(tmp_path / "Toy_TRAIN.tsv", 60, 3), write(tmp_path / "Toy_TEST.tsv", 30, 5)
    run_dir = tmp_path / "run"
    proc = run_train("data=table", f"data.train_files={train}", f"data.test_files={test}", f"data.cache_dir={tmp_path / 'cache'}",
                     "data.batch_size=8", *SHORT, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Toy_TRAIN.tsv has no header and its first line is all numbers: read as the UCR archive's layout" in proc.stdout + proc.stderr
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    predictor = Predictor.from_checkpoint(run_dir)
    predictions = predictor.predict(str(test))
    _assert_same_metrics(predictions.metrics, saved)
    assert len(predictions.table) == 30
    # The same rows as a wide table (`label,t0,...,t19`, empty cells for the padding), with and without the label:
    # the same probabilities and metrics. It was refused, saying its columns were not all numbers (they were).
    wide = pd.read_csv(test, sep="\t", header=None)
    wide.columns = ["label", *(f"t{j}" for j in range(20))]
    wide.to_csv(tmp_path / "wide.csv", index=False)
    wide.drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    probabilities = [c for c in predictions.table.columns if c.startswith("prob_")]
    for name, metrics in (("wide.csv", saved), ("new.csv", None)):
        got = predictor.predict(str(tmp_path / name))
        if metrics is None:
            assert got.metrics is None
        else:
            _assert_same_metrics(got.metrics, metrics)
        assert got.table["prediction"].tolist() == predictions.table["prediction"].tolist()
        assert max(abs(got.table[probabilities] - predictions.table[probabilities]).max()) < 1e-6


@pytest.mark.slow  # end to end, ~16 s: kept out of the default run (under ~10 min on 2 cores); the readers' own tests run by default
def test_a_wide_table_trains_resumes_and_predicts_from_its_step_columns(tmp_path: Path) -> None:
    """`label,t0,...,t19` (pandas' to_csv of a frame of one series a row): trained on; a resume and a prediction read
    the same step columns from the data's state, a prediction file without the label column gets predictions only,
    and one without a step column is refused, naming it."""
    rng = random.Random(7)
    columns = [f"t{j}" for j in range(20)]

    def frame(n: int) -> pd.DataFrame:
        rows = []
        for _ in range(n):
            label = rng.choice(["up", "down"])
            rows.append({"label": label, **{c: math.sin((1.5 if label == "up" else 0.5) * j) + rng.gauss(0, 0.3)
                                            for j, c in enumerate(columns)}})
        return pd.DataFrame(rows)

    frame(60).to_csv(tmp_path / "train.csv", index=False)
    test = frame(30)
    test.to_csv(tmp_path / "test.csv", index=False)
    run_dir = tmp_path / "run"
    data = ["data=table", f"data.train_files={tmp_path / 'train.csv'}", f"data.test_files={tmp_path / 'test.csv'}",
            f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8"]
    proc = run_train(*data, *SHORT, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "and 20 columns (t0, t1, t2, ..., t19) of numbers: read as a wide table" in proc.stdout + proc.stderr
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    predictor = Predictor.from_checkpoint(run_dir)
    _assert_same_metrics(predictor.predict(str(tmp_path / "test.csv")).metrics, saved)
    # Without the label: predictions only, the same as with it (the columns are found by name, not by position).
    test.drop(columns="label").iloc[:, ::-1].to_csv(tmp_path / "new.csv", index=False)
    alone = predictor.predict(str(tmp_path / "new.csv"))
    assert alone.metrics is None
    assert alone.table["prediction"].tolist() == predictor.predict(str(tmp_path / "test.csv")).table["prediction"].tolist()
    test.drop(columns="t7").to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match=r"short.csv: no column 't7' \(1 of the 20 step columns the model reads are missing\)"):
        predictor.predict(str(tmp_path / "short.csv"))
    proc = run_train(*data, *SHORT, "trainer.max_epochs=3", "ckpt_path=last", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Restored all states from the checkpoint at" in proc.stdout + proc.stderr  # trained on, from last.ckpt


# -- forecasting ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sunspots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A sunspots forecaster, and its test window (with the `window` months before it) as a CSV."""
    folder = tmp_path_factory.mktemp("sunspots")
    saved = _train(folder / "run", "experiment=sunspots_forecast", "model=gru", "trainer.max_epochs=1")
    from seqtrain.shipped import monthly_sunspots

    config = (folder / "run" / "config.yaml").read_text()
    window = int(next(line.split(":")[1] for line in config.splitlines() if line.strip().startswith("window:")))
    months, values = monthly_sunspots()
    test_start = int(len(values) * (1 - 0.2))  # as ForecastDataModule cuts data.test_fraction
    rows = [{"month": m, "sunspots": float(v)} for m, v in zip(months[test_start - window :], values[test_start - window :])]
    write_csv(folder / "test.csv", rows)
    return folder / "run", folder / "test.csv", saved


def test_forecast_on_the_test_window_gives_the_test_metrics(sunspots: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, test_file, saved = sunspots
    proc = _script(str(run_dir), "--files", str(test_file), "--out", str(tmp_path / "forecast.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_metrics(json.loads(proc.stdout.strip().splitlines()[-1]), saved)
    table = pd.read_csv(tmp_path / "forecast.csv")
    rows = len(pd.read_csv(test_file))
    assert table["step"].tolist() == [rows]  # horizon 1: the month after the series
    # In sunspot numbers: the model's output on the last window, unscaled by hand with the run's saved scaling.
    state = json.loads((run_dir / "data.json").read_text())["state"]
    shift, scale = state["shift"][0], state["scale"][0]
    series = torch.tensor(pd.read_csv(test_file)["sunspots"].to_numpy(), dtype=torch.float64)
    window = ((series - shift) / scale).float()[-48:, None]  # (W, 1); the experiment's window
    model = Predictor.from_checkpoint(run_dir).model
    expected = float(model(window[None])[0]) * scale + shift
    assert table["sunspots"][0] == pytest.approx(expected, rel=1e-5)


def test_recursive_forecast_feeds_forecasts_back(sunspots: tuple[Path, Path, dict]) -> None:
    run_dir, test_file, _ = sunspots
    predictor = Predictor.from_checkpoint(run_dir)
    series = pd.read_csv(test_file)["sunspots"].to_numpy()
    five = predictor.predict(series, steps=5).table["sunspots"].tolist()
    assert len(five) == 5
    assert five[0] == pytest.approx(predictor.predict(series).table["sunspots"][0], abs=1e-9)
    # Step 2 is the one-step forecast of the series with step 1's forecast appended.
    extended = list(series) + [five[0]]
    assert five[1] == pytest.approx(predictor.predict(extended).table["sunspots"][0], rel=1e-5)


def test_bad_forecast_requests_are_named(sunspots: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, test_file, _ = sunspots
    proc = _script(str(run_dir), "--files", str(test_file), "--out", str(tmp_path / "f.csv"), "--steps", "0")
    assert proc.returncode != 0 and "--steps must be >= 1, got 0" in proc.stderr
    assert not (tmp_path / "f.csv").exists()
    predictor = Predictor.from_checkpoint(run_dir)  # in process: the script prints these messages as it does the first
    short = tmp_path / "short.csv"
    write_csv(short, [{"sunspots": 1.0}] * 3)
    with pytest.raises(ValueError, match="the series has 3 steps"):
        predictor.predict([short])
    with pytest.raises(DataError, match=r"the given series is not an array of numbers \(could not convert string"):
        predictor.predict(["1.5", "many"])  # numpy's bare ValueError before
    other = tmp_path / "other.csv"
    write_csv(other, series_rows(60))
    with pytest.raises(ValueError, match=f"{re.escape(str(other))}: no column 'sunspots'"):
        predictor.predict([other])
    shuffled = tmp_path / "shuffled.csv"
    rows = pd.read_csv(test_file).to_dict("records")
    rows[10], rows[11] = rows[11], rows[10]
    write_csv(shuffled, rows)
    with pytest.raises(ValueError, match=f"{re.escape(str(shuffled))}, row 12, column 'month': .* comes before the row above"):
        predictor.predict([shuffled])



@pytest.mark.slow  # end to end, 8-26 s: kept out of the default run (under ~10 min on 2 cores)
def test_a_forecast_of_targets_named_step_and_series_keeps_their_values(tmp_path: Path) -> None:
    """Targets named like the table's bookkeeping columns keep their names and values; the step numbers and the
    files go under free names (they replaced the forecasts without a word). A long recursive forecast shows its
    progress (`--steps 100000` ran for an hour, silently: each step copied the whole growing series)."""
    rows = [{"series": r["load"], "step": r["temp"]} for r in series_rows(120)]
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "a.csv", rows[:60])
    write_csv(tmp_path / "b.csv", rows[60:])
    _train(tmp_path / "run", "data=forecast", f"data.train_files={tmp_path / 'train.csv'}", "data.window=8",
           "data.time_column=null", f"data.cache_dir={tmp_path / 'cache'}", "data.batch_size=8")
    predictor = Predictor.from_checkpoint(tmp_path / "run")
    table = predictor.predict([tmp_path / "a.csv", tmp_path / "b.csv"], steps=2).table
    assert list(table.columns) == ["_step", "series", "step", "_series"]
    assert table["_step"].tolist() == [60, 61, 60, 61]
    assert table["_series"].tolist() == [str(tmp_path / "a.csv")] * 2 + [str(tmp_path / "b.csv")] * 2
    # The forecast values, as the same model gives them for each series alone (an array: no file column).
    for name, part in (("a", rows[:60]), ("b", rows[60:])):
        alone = predictor.predict([[r["series"], r["step"]] for r in part], steps=2).table
        mine = table[table["_series"] == str(tmp_path / f"{name}.csv")].reset_index(drop=True)
        assert list(alone.columns) == ["_step", "series", "step"]
        pd.testing.assert_frame_equal(mine[["series", "step"]], alone[["series", "step"]])


def test_a_long_recursive_forecast_shows_progress_and_reads_the_last_window(sunspots: tuple[Path, Path, dict], capfd: pytest.CaptureFixture) -> None:
    run_dir, test_file, _ = sunspots
    predictor = Predictor.from_checkpoint(run_dir)
    series = list(pd.read_csv(test_file)["sunspots"].to_numpy())
    capfd.readouterr()
    many = predictor.predict(series, steps=600).table["sunspots"].tolist()
    assert "forecast: 100%" in capfd.readouterr().err and len(many) == 600
    # Step 60 (beyond the 48-step window) is the one-step forecast of the series with the 59 before it appended.
    assert many[59] == pytest.approx(predictor.predict(series + many[:59]).table["sunspots"][0], rel=1e-5)
    predictor.predict(series, steps=20)
    assert "forecast" not in capfd.readouterr().err  # a short one: no bar


# -- language models and the shipped classification data ------------------------------------------


def test_language_model_scores_rows_and_the_test_text_gives_the_test_metrics(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    saved = _train(tmp_path / "run", "data=shakespeare", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8",
                   "data.stateful=false", "sample_length=0")
    from seqtrain.shipped import shipped_text

    lines, kept = shipped_text("shakespeare").splitlines(keepends=True), 0
    while sum(map(len, lines[: kept + 1])) <= 20000:  # data.max_chars: the leading lines within 20,000 characters
        kept += 1
    test_lines = lines[kept - int(kept * 0.05) : kept]  # the test split: the last 5% of those lines
    (tmp_path / "test.txt").write_text("".join(test_lines), encoding="utf-8")
    predictor = Predictor.from_checkpoint(tmp_path / "run")
    predictions = predictor.predict(str(tmp_path / "test.txt"))
    _assert_same_metrics(predictions.metrics, saved)
    # Per row: the mean cross-entropy of each next character, by hand.
    line = "ROMEO: what light?\n"
    scores = predictor.predict([line]).table
    ids = torch.tensor(predictor.datamodule.encode(line))
    logits, _ = predictor.model(ids[None, :-1])
    loss = float(torch.nn.functional.cross_entropy(logits[0], ids[1:]))
    assert scores["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert scores["ppl"][0] == pytest.approx(math.exp(loss), rel=1e-5)
    assert scores["bpt"][0] == pytest.approx(loss / math.log(2), rel=1e-5)
    assert scores["tokens"][0] == len(line) - 1
    # A blank line holds its line break alone: nothing to score, so NaN (every row's prediction failed with a
    # RuntimeError from packing a zero length before); the rows around it score as they do alone.
    (tmp_path / "blank.txt").write_text(line + "\n" + line, encoding="utf-8")
    table = predictor.predict(str(tmp_path / "blank.txt")).table
    assert table["tokens"].tolist() == [len(line) - 1, 0, len(line) - 1]
    assert table["loss"][0] == table["loss"][2] == pytest.approx(loss, rel=1e-5)
    assert math.isnan(table["loss"][1]) and math.isnan(table["ppl"][1]) and math.isnan(table["bpt"][1])
    # Text in a script the training text never holds reads as <unk>: said, as a run says it of its test split.
    with caplog.at_level("WARNING", logger="seqtrain.predict_inputs"):
        predictor.predict(["Ромео, где ты?\n"])
    assert "of the tokens of the given sequences are <unk>" in caplog.text


def test_truecase_tags_each_character_and_the_test_text_gives_the_test_metrics(tmp_path: Path) -> None:
    saved = _train(tmp_path / "run", "data=truecase", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8")
    from seqtrain.shipped import shipped_text

    lines, kept = shipped_text("shakespeare").splitlines(keepends=True), 0
    while sum(map(len, lines[: kept + 1])) <= 20000:  # data.max_chars: the leading lines within 20,000 characters
        kept += 1
    (tmp_path / "test.txt").write_text("".join(lines[kept - int(kept * 0.05) : kept]), encoding="utf-8")
    predictor = Predictor.from_checkpoint(tmp_path / "run")
    _assert_same_metrics(predictor.predict(str(tmp_path / "test.txt")).metrics, saved)
    # One row: a case per character of the lower-cased line, the model's own argmax.
    line = "ROMEO: What light?\n"
    table = predictor.predict([line]).table
    assert table["tokens"][0] == list(line.lower())
    logits, _ = predictor.model(torch.tensor(predictor.datamodule.encode(line.lower()))[None])
    assert table["prediction"][0] == [("lower", "upper")[i] for i in logits[0].argmax(-1).tolist()]


def test_vowels_on_the_shipped_test_file_gives_the_test_metrics(tmp_path: Path) -> None:
    saved = _train(tmp_path / "run", "data=vowels", "model=gru")
    from seqtrain.shipped import shipped

    test_file = tmp_path / "vowels_test.jsonl"  # the shipped test series as data=vowels reads them
    test_file.write_bytes(Path(shipped("vowels_test")).read_bytes())
    predictions = Predictor.from_checkpoint(tmp_path / "run").predict(str(test_file))
    _assert_same_metrics(predictions.metrics, saved)
    assert len(predictions.table) == 370 and set(predictions.table["prediction"]) <= {str(i) for i in range(1, 10)}


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_named(classifier: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, _, _ = classifier
    write_csv(tmp_path / "no_text.csv", [{"review": "good cat", "label": "pos"}])
    proc = _script(str(run_dir), "--files", str(tmp_path / "no_text.csv"), "--out", str(tmp_path / "p.csv"))
    assert proc.returncode != 0
    assert "no column 'text'" in proc.stderr and "no_text.csv" in proc.stderr and "review" in proc.stderr
    # The rest in process (the script prints the same messages, as the first case shows): a process each costs ~5 s.
    write_csv(tmp_path / "numbers.csv", [{"text": "1 2 3", "label": "pos"}, {"text": "4 5", "label": "neg"}])
    predictor = Predictor.from_checkpoint(run_dir)
    with pytest.raises(ValueError, match="holds numbers sequences; the model was trained on text"):
        predictor.predict([tmp_path / "numbers.csv"])
    # A column named like the model's but for case or spaces: the fix is the file's, not a training setting.
    write_csv(tmp_path / "upper.csv", [{"Text": "good cat", "label": "pos"}])
    with pytest.raises(ValueError, match="only in case: rename it to 'text' in the file, the name the model was trained on$"):
        predictor.predict([tmp_path / "upper.csv"])  # it said "set data.sequence_column='Text'" before
    bogus = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, bogus)
    with pytest.raises(CheckpointError, match="not a seqtrain checkpoint"):
        Predictor.from_checkpoint(bogus)
    with pytest.raises(ValueError, match="--files: no such file .*missing.csv"):
        predictor.predict([tmp_path / "missing.csv"])
    with pytest.raises(ValueError, match="in-memory sequences go in a list"):
        predictor.predict("good cat")  # a string is a path or pattern
    # A list of strings is texts: one naming files was predicted on as the texts "…/numbers.csv" before.
    with pytest.raises(ValueError, match=r"strings that name files \('.*numbers.csv'\).*pass the files as Paths"):
        predictor.predict([str(tmp_path / "numbers.csv")])
    with pytest.raises(ValueError, match="--steps applies to forecasting models; this one is a classification model"):
        predictor.predict([tmp_path / "numbers.csv"], steps=3)
    proc = _script(str(run_dir), "--files", str(tmp_path / "numbers.csv"), "--out", str(tmp_path / "p.xlsx"))
    assert proc.returncode != 0 and "--out" in proc.stderr and ".parquet" in proc.stderr
    assert not (tmp_path / "p.csv").exists()


def test_each_file_is_its_own_series(sunspots: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run_dir, test_file, _ = sunspots
    rows = pd.read_csv(test_file)
    rows.iloc[:100].to_csv(tmp_path / "a.csv", index=False)
    rows.to_csv(tmp_path / "b.csv", index=False)
    predictor = Predictor.from_checkpoint(run_dir)
    both = predictor.predict([tmp_path / "a.csv", tmp_path / "b.csv"]).table
    assert both["series"].tolist() == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert both["step"].tolist() == [100, len(rows)]  # after the end of each series
    assert both["sunspots"][0] == pytest.approx(predictor.predict(rows["sunspots"].to_numpy()[:100]).table["sunspots"][0], abs=1e-9)


def test_the_output_never_replaces_an_input_file(tmp_path: Path) -> None:
    """Refused before any checkpoint is read: the data file named by --files and --out (or matched by a glob) is kept."""
    write_csv(tmp_path / "new.csv", [{"text": "good cat", "label": "pos"}])
    before = (tmp_path / "new.csv").read_bytes()
    for files in (str(tmp_path / "new.csv"), str(tmp_path / "*.csv")):
        proc = _script(str(tmp_path / "no_run"), "--files", files, "--out", str(tmp_path / "new.csv"))
        assert proc.returncode != 0 and "is one of the --files" in proc.stderr, proc.stderr[-2000:]
    assert (tmp_path / "new.csv").read_bytes() == before


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_failed_write_keeps_the_file_it_would_have_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """`--out preds.csv` over last week's predictions: a write that fails half way (a full disk) leaves the earlier
    file whole (it was left cut short), and a write that succeeds replaces it whole, leaving no temporary file."""
    out = tmp_path / f"preds{suffix}"
    Predictions(pd.DataFrame({"row": [0, 1], "prediction": ["pos", "neg"]}), None).write(out)
    earlier = out.read_bytes()
    method = {".csv": "to_csv", ".jsonl": "to_json", ".parquet": "to_parquet"}[suffix]

    def half_then_full_disk(self: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        Path(path).write_bytes(b"row,predic")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, method, half_then_full_disk)
        with pytest.raises(OSError, match="No space left"):
            Predictions(pd.DataFrame({"row": [0], "prediction": ["neg"]}), None).write(out)
    assert out.read_bytes() == earlier and [p.name for p in tmp_path.iterdir()] == [out.name]
    Predictions(pd.DataFrame({"row": [0], "prediction": ["neg"]}), None).write(out)
    assert out.read_bytes() != earlier and [p.name for p in tmp_path.iterdir()] == [out.name]

