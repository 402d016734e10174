"""End to end: `python train.py data=<config> ...` on files the test writes, one multirun over every new data config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_train
from user_files import (
    corpus_lines,
    sentiment_rows,
    series_rows,
    tagging_rows,
    vector_regression_rows,
    write_csv,
    write_jsonl,
    write_parquet,
)

from seqtrain.data import tokenizer_from_dict

# Each job's data config: a shipped config plus the keys that point it at the test's files.
JOBS = {
    "e2e_classification": ("table", "classification", {"train_files": "reviews.csv", "sequence_column": "text"}),
    "e2e_tagging": (
        "table",
        "tagging",
        {"task": "tagging", "train_files": "tags.jsonl", "sequence_column": "tokens", "target_column": "tags"},
    ),
    "e2e_regression": (
        "table",
        "regression",
        {"task": "regression", "train_files": "frames.parquet", "sequence_column": "frames", "target_column": "y", "max_length": 6, "overflow": "split"},
    ),
    "e2e_language_model": (
        "text",
        "language_modeling",
        {"train_files": "corpus.txt", "tokenizer": "bpe", "max_vocab_size": 300, "seq_len": 16, "batch_size": 8},
    ),
    # stateful streams with the state reset where each line (a row of the .txt file) starts
    "e2e_lm_documents": (
        "text",
        "language_modeling",
        {"train_files": "corpus.txt", "seq_len": 16, "batch_size": 4, "stateful": True, "documents": "row"},
    ),
    "e2e_forecast": ("forecast", "regression", {"train_files": "series.csv", "columns": ["load", "temp"], "target_columns": ["load"], "window": 12}),
    "e2e_sunspots": ("sunspots", "regression", {}),
    "e2e_truecase": ("truecase", "tagging", {"max_chars": 30000, "seq_len": 32, "batch_size": 16}),
}


def write_inputs(folder: Path) -> None:
    write_csv(folder / "reviews.csv", sentiment_rows(80))
    write_jsonl(folder / "tags.jsonl", tagging_rows(80))
    write_parquet(folder / "frames.parquet", vector_regression_rows(80))
    (folder / "corpus.txt").write_text(corpus_lines(300))
    write_csv(folder / "series.csv", series_rows(300))


def write_data_configs(folder: Path, data: Path) -> None:
    """configs/data/<job>.yaml in a search path of its own: `defaults: [<shipped config>]` + the job's keys."""
    (folder / "data").mkdir(parents=True)
    for job, (base, _, keys) in JOBS.items():
        keys = {k: str(data / v) if k == "train_files" else v for k, v in keys.items()}
        if base in ("table", "text", "forecast"):
            keys["cache_dir"] = str(data / "hf_cache")
        body = "".join(f"{k}: {json.dumps(v)}\n" for k, v in keys.items())
        (folder / "data" / f"{job}.yaml").write_text(f"defaults:\n  - {base}\n  - _self_\n{body}")


def test_every_new_data_config_trains_end_to_end(tmp_path: Path) -> None:
    data, configs, sweep = tmp_path / "data", tmp_path / "configs", tmp_path / "sweep"
    data.mkdir()
    write_inputs(data)
    write_data_configs(configs, data)
    proc = run_train(
        "-m",
        f"hydra.searchpath=[file://{configs}]",
        "data=" + ",".join(JOBS),
        "model=gru",
        "model.hidden_size=16",
        "debug=smoke",
        "logger=none",
        "trainer.accelerator=cpu",
        f"hydra.sweep.dir={sweep}",
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for number, (job, (_, task, _)) in enumerate(JOBS.items()):
        run_dir = sweep / str(number)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "completed", job
        saved = json.loads((run_dir / "data.json").read_text())
        assert saved["facts"]["task"] == task, job
        assert f"data={job}" in (run_dir / ".hydra" / "overrides.yaml").read_text()
        if task == "regression":
            assert {"test/loss", "test/mse", "test/rmse", "test/mae"} <= metrics["test"].keys(), job
            test = metrics["test"]
            assert test["test/rmse"] ** 2 == pytest.approx(test["test/mse"], rel=1e-4), job
        ckpt = torch.load(run_dir / metrics["best_checkpoint"], weights_only=True, map_location="cpu")
        datamodule_state = next(v for k, v in ckpt.items() if k.endswith("DataModule"))
        assert datamodule_state == saved["state"], job  # the checkpoint holds what data.json holds
    lm = json.loads((sweep / str(list(JOBS).index("e2e_language_model")) / "data.json").read_text())
    tokenizer = tokenizer_from_dict(lm["state"]["tokenizer"])
    assert tokenizer.kind == "bpe" and len(tokenizer) == lm["facts"]["vocab_size"]
    metrics = json.loads((sweep / str(list(JOBS).index("e2e_language_model")) / "metrics.json").read_text())
    assert len(metrics["sample"]) > 0
    forecast = json.loads((sweep / str(list(JOBS).index("e2e_sunspots")) / "data.json").read_text())
    scale = forecast["facts"]["target_scale"][0]
    assert scale > 10  # sunspot numbers are scaled; the task reports them unscaled:
    test = json.loads((sweep / str(list(JOBS).index("e2e_sunspots")) / "metrics.json").read_text())["test"]
    # the loss is the MSE of the scaled targets; the reported MSE is in sunspot numbers squared
    assert test["test/mse"] == pytest.approx(test["test/loss"] * scale**2, rel=1e-4)
