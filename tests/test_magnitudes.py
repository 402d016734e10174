"""Numbers float32 cannot hold: refused where they are read (train, val, test, prediction), values it can hold kept
as they were; scaling that is not finite refused; a metric that is not finite written as valid JSON, said in a warning."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))  # user_files, when this file runs alone

from user_files import series_rows, write_csv, write_jsonl  # noqa: E402

from seqtrain.checks.values import FLOAT32_MAX, check_statistics  # noqa: E402
from seqtrain.data import DataError, ForecastDataModule, TableDataModule  # noqa: E402
from seqtrain.encoders.scaling import Standardizer  # noqa: E402
from seqtrain.predict_inputs import read_new  # noqa: E402
from seqtrain.run_directory import write_json  # noqa: E402


def regression_rows(n: int = 30, target: float = 0.0, at: int = 6) -> list[dict]:
    return [{"sequence": [i, i + 1.0], "label": target if i == at else i / 3} for i in range(n)]


def table(tmp: Path, train: Path, **kwargs) -> TableDataModule:
    return TableDataModule(train_files=str(train), val_files=str(train), test_files=str(train), task="regression",
                           cache_dir=str(tmp / "hf_cache"), batch_size=4, **kwargs)


def test_a_target_float32_can_hold_is_kept_and_scaled_as_before(tmp_path: Path) -> None:
    """3e38 < float32's largest (3.4e38): read, and the target scaling is the training targets' own mean and std."""
    assert FLOAT32_MAX == float(np.finfo(np.float32).max)
    rows = regression_rows(target=3e38)
    dm = table(tmp_path, write_jsonl(tmp_path / "train.jsonl", rows))
    dm.setup()
    targets = np.array([r["label"] for r in rows])
    assert dm.facts.target_shift[0] == pytest.approx(targets.mean(), rel=1e-12)
    assert dm.facts.target_scale[0] == pytest.approx(targets.std(), rel=1e-12)
    assert np.isfinite(dm.split("train").targets.numpy()).all()


def test_a_value_beyond_float32_in_rows_for_prediction_is_refused(tmp_path: Path) -> None:
    """Prediction reads new rows with the run's own code: the same refusal, naming the given file."""
    train = write_jsonl(tmp_path / "train.jsonl", regression_rows())
    run = table(tmp_path, train)
    run.setup()
    new = write_jsonl(tmp_path / "new.jsonl", [{"sequence": [1.0, 2.0]}, {"sequence": [3.0, 5e38]}])
    with pytest.raises(DataError, match=rf"{new}, line 2 \(step 2\), column 'sequence': 5e\+38 is too large for float32"):
        read_new(run, str(new), run.state_dict())


def test_a_value_beyond_float32_in_a_series_given_for_prediction_is_refused(tmp_path: Path) -> None:
    run = ForecastDataModule(train_files=str(write_csv(tmp_path / "series.csv", series_rows(100))), columns=["load", "temp"],
                             window=5, cache_dir=str(tmp_path / "hf_cache"))
    run.setup()
    series = np.array([[r["load"], r["temp"]] for r in series_rows(20)])
    assert read_new(run, series, run.state_dict()).test is not None  # values float32 holds: read, with windows to score
    series[7, 1] = -1e39
    with pytest.raises(DataError, match=r"the given series, step 8, column 'temp': -1e\+39 is too large for float32"):
        read_new(run, series, run.state_dict())


def test_scaling_that_is_not_finite_names_the_column_and_the_largest_row() -> None:
    values = np.array([[1.0, 2.0], [-1e300, 3.0], [1e308, 4.0], [5.0, 6.0]])  # finite in float64; their std is not
    with np.errstate(over="ignore"):
        scaler = Standardizer.fit(values)
    assert not np.isfinite(scaler.scale[0]) and np.isfinite(scaler.scale[1])
    with pytest.raises(DataError) as error:
        check_statistics(scaler, values, ["a", "b"], lambda i: f"f.csv, row {i + 1}", "inputs")
    message = str(error.value)
    assert message.startswith("f.csv, row 3, column 'a': the scaling of the inputs fitted on the training split is not finite")
    assert "the largest magnitude is this row's 1e+308" in message
    check_statistics(scaler.select([1]), values[:, 1:], ["b"], str, "inputs")  # finite: nothing said


def test_a_metric_that_is_not_finite_is_written_as_valid_json_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    results = {"status": "completed", "val": {"val/rmse": float("inf"), "val/mae": 2.5}, "test": {"test/mse": float("nan")},
               "curve": [1.0, float("-inf")]}
    with caplog.at_level(logging.WARNING, logger="seqtrain"):
        write_json(tmp_path / "metrics.json", results)
    text = (tmp_path / "metrics.json").read_text()
    strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in {text}"))
    assert strict == {"status": "completed", "val": {"val/rmse": "Infinity", "val/mae": 2.5}, "test": {"test/mse": "NaN"},
                      "curve": [1.0, "-Infinity"]}
    assert float(strict["val"]["val/rmse"]) == float("inf")  # what scripts/summarize.py does with a metric
    assert "metrics.json: not finite: val.val/rmse = inf, test.test/mse = nan, curve[1] = -inf" in caplog.text
    assert results["val"]["val/rmse"] == float("inf")  # the caller's dict is not changed
    caplog.clear()
    write_json(tmp_path / "data.json", {"a": 1.0})
    assert "not finite" not in caplog.text


def test_regression_metrics_in_large_units_are_summed_in_float64(tmp_path: Path) -> None:
    """Targets near 1e20 fit float32, their squares (1e40) do not: the float32 sums of MSE made test/mse and test/rmse
    inf while the run said "completed". The sums are float64 now: the metrics equal numpy's float64 computation from
    the same predictions, in the data's own units."""
    import lightning.pytorch as pl
    import torch

    from seqtrain.models.sequence_model import SequenceModel
    from seqtrain.task import SequenceTask

    torch.manual_seed(0)
    rows = [{"sequence": [i / 10, (i % 7) / 7], "label": (1 + i / 3) * 1e20} for i in range(30)]
    dm = table(tmp_path, write_jsonl(tmp_path / "train.jsonl", rows))
    dm.setup()
    facts = dm.facts
    assert facts.target_scale[0] > 1e20  # the loader's own scaling, in the data's units
    model = SequenceModel(cell="gru", num_features=facts.num_features, hidden_size=8, num_outputs=1, head="many_to_one")
    task = SequenceTask(model, task="regression", num_outputs=1, target_scale=facts.target_scale,
                        target_shift=facts.target_shift)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    got = trainer.test(task, datamodule=dm, verbose=False)[0]
    preds, targets = [], []
    model.eval()
    with torch.no_grad():
        for batch in dm.test_dataloader():
            out, _ = model(batch.inputs, batch.lengths)
            preds.append(out.double().numpy()), targets.append(batch.targets.double().numpy())
    scale, shift = facts.target_scale[0], facts.target_shift[0]
    diff = (np.concatenate(preds) * scale + shift) - (np.concatenate(targets) * scale + shift)
    assert np.isfinite(got["test/mse"]) and np.isfinite(got["test/rmse"])
    assert got["test/mse"] == pytest.approx(float(np.mean(diff ** 2)), rel=1e-6)
    assert got["test/rmse"] == pytest.approx(float(np.sqrt(np.mean(diff ** 2))), rel=1e-6)
    assert got["test/mae"] == pytest.approx(float(np.mean(np.abs(diff))), rel=1e-6)


def test_regression_metrics_keep_float32_sums_where_the_device_has_no_float64() -> None:
    """Apple's MPS has no float64: there the sums stay float32 (before Lightning moves them); elsewhere float64."""
    import torch

    from seqtrain.kinds.regression import Regression

    kind = Regression(1)
    metrics = kind.build_metrics()
    assert {m.sum_squared_error.dtype for m in (metrics["mse"], metrics["rmse"])} == {torch.float64}
    kind.metrics_on(metrics, torch.device("cpu"))
    metrics.reset()  # each epoch starts from the defaults: float64 too
    assert metrics["mae"].sum_abs_error.dtype == metrics["mse"].sum_squared_error.dtype == torch.float64
    kind.metrics_on(metrics, torch.device("mps"))
    assert {metrics["mse"].sum_squared_error.dtype, metrics["mae"].sum_abs_error.dtype} == {torch.float32}
    assert metrics["mse"].total.dtype == torch.int64  # the counts stay counts


def outlier_rows(n: int = 60, at: tuple[int, int] | None = (17, 5), value: str = "1e6") -> list[dict]:
    rows = [{"sequence": " ".join(f"{(i % 3) + t / 10:.2f}" for t in range(20)), "label": f"c{i % 3}"} for i in range(n)]
    if at is not None:
        values = rows[at[0]]["sequence"].split()
        values[at[1]] = value
        rows[at[0]]["sequence"] = " ".join(values)
    return rows


def scaling_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "set the scaling" in r.getMessage()]


def test_one_typo_that_sets_the_input_scaling_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """1e6 among values near 1: the standard scaling's deviation is the typo's, and every other value scales to almost
    one number. Training goes on (the value is a float32 one), but a warning names the file, row, step and value."""
    train, test = write_csv(tmp_path / "train.csv", outlier_rows()), write_csv(tmp_path / "test.csv", outlier_rows(at=None))
    with caplog.at_level(logging.WARNING):  # every row trains
        TableDataModule(train_files=str(train), test_files=str(test), val_fraction=0,
                        cache_dir=str(tmp_path / "hf_cache")).setup("fit")
    (message,) = scaling_warnings(caplog)
    assert message.startswith(f"data: {train}, row 18 (step 6), column 'sequence': one value of 1,200 set the scaling")
    assert "this row's 1e+06" in message
    # As the numbers go: the deviation with it, against without it (numpy, population).
    values = np.array([[float(v) for v in r["sequence"].split()] for r in outlier_rows()]).reshape(-1)
    assert f"standard deviation is {values.std():.3g}" in message
    assert f"other values ({np.delete(values, 17 * 20 + 5).std():.3g})" in message


def test_scaling_set_by_whole_rows_of_another_magnitude_is_no_typo(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """PLAID-like data (appliances whose currents are 1e-4 to 1e2 apart) has a wide, honest spread: many values, not a
    handful, set it. Nor do ordinary values warn."""
    rows = outlier_rows(at=None)
    for i in range(0, 60, 6):  # a tenth of the rows, whole, a thousand times larger
        rows[i]["sequence"] = " ".join(f"{1000 * float(v):.1f}" for v in rows[i]["sequence"].split())
    with caplog.at_level(logging.WARNING):
        TableDataModule(train_files=str(write_csv(tmp_path / "wide.csv", rows)), val_fraction=0,
                        cache_dir=str(tmp_path / "hf_cache")).setup("fit")
        TableDataModule(train_files=str(write_csv(tmp_path / "plain.csv", outlier_rows(at=None))), val_fraction=0,
                        cache_dir=str(tmp_path / "hf_cache")).setup("fit")
    assert scaling_warnings(caplog) == []


def test_a_target_typo_and_a_series_typo_are_named_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = regression_rows(n=40, target=5e7, at=9)  # targets 0-13, one of 5e7
    with caplog.at_level(logging.WARNING):
        table(tmp_path, write_jsonl(tmp_path / "train.jsonl", rows)).setup()
    (message,) = scaling_warnings(caplog)
    assert "column 'label': one value of" in message and "set the scaling of the targets" in message and "5e+07" in message
    caplog.clear()
    series = series_rows(120)
    series[30]["temp"] = 1e5
    with caplog.at_level(logging.WARNING):
        ForecastDataModule(train_files=str(write_csv(tmp_path / "series.csv", series)), columns=["load", "temp"], window=5,
                           cache_dir=str(tmp_path / "hf_cache2")).setup()
    (message,) = scaling_warnings(caplog)
    assert "column 'temp'" in message and "this row's 100000" in message
