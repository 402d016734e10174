"""scripts/ensemble_runs.py: each run's score is the run's own test metric; the mean of one run with itself is that run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_train

sys.path.insert(0, str(ROOT / "scripts"))
import ensemble_runs  # noqa: E402

TINY = ["~experiment", "recipe=none", "model=gru", "model.hidden_size=8", "debug=smoke", "logger=none",
        "trainer.limit_test_batches=null"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    folder = tmp_path_factory.mktemp("ensemble_runs")
    made: dict[str, list[Path]] = {}
    for data, extra in (("vowels", []), ("sunspots", ["data.window=12"])):
        made[data] = []
        for seed in (1, 2):
            run_dir = folder / f"{data}{seed}"
            proc = run_train(f"data={data}", *TINY, *extra, f"seed={seed}", f"hydra.run.dir={run_dir}")
            assert proc.returncode == 0, proc.stderr[-3000:]
            made[data].append(run_dir)
    return made


@pytest.mark.parametrize(("data", "metric", "key"), [("vowels", "accuracy", "test/acc"), ("sunspots", "rmse", "test/rmse")])
def test_each_runs_score_is_its_own_test_metric(runs: dict[str, list[Path]], data: str, metric: str, key: str) -> None:
    result = ensemble_runs.main([*map(str, runs[data]), "--split", "test"])
    assert result["metric"] == metric
    saved = [json.loads((run / "metrics.json").read_text())["test"][key] for run in runs[data]]
    assert result["runs"] == pytest.approx(saved, rel=1e-5)


@pytest.mark.parametrize("data", ["vowels", "sunspots"])
def test_a_run_with_itself_scores_as_the_run(runs: dict[str, list[Path]], data: str) -> None:
    run = str(runs[data][0])
    result = ensemble_runs.main([run, run, "--split", "test"])
    for name in ("mean_of_probabilities", "mean_of_log_probabilities", "mean_of_predictions"):
        if name in result:
            assert result[name] == pytest.approx(result["runs"][0], rel=1e-9)
