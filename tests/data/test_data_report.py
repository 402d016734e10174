"""scripts/data_report.py: the baselines it prints are computed on the datamodules' own splits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "data_report.py"


@pytest.fixture(scope="module")
def data_report():
    spec = importlib.util.spec_from_file_location("data_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sunspots_baselines_on_the_626_test_months(data_report) -> None:
    baselines = data_report.sunspots_baselines()
    assert baselines["test_months"] == 626
    assert baselines["persistence"] == pytest.approx(19.46, abs=0.01)  # DATA_SOURCES.md: 19.46
    assert baselines["ar24_train_val"] == pytest.approx(17.33, abs=0.01)  # DATA_SOURCES.md: 17.33
    assert baselines["ar24_train"] == pytest.approx(17.33, abs=0.05)


def test_markdown_table(data_report) -> None:
    assert data_report.markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_help_prints_usage_and_an_unknown_argument_is_refused(data_report, capsys, monkeypatch) -> None:
    """`--help` ran the whole report (minutes), and any argument was ignored."""
    monkeypatch.setattr(data_report, "report", lambda: pytest.fail("the report ran"))
    with pytest.raises(SystemExit) as exit_help:
        data_report.main(["--help"])
    assert exit_help.value.code == 0 and "usage: data_report.py" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_bad:
        data_report.main(["--only", "shakespeare"])
    assert exit_bad.value.code == 2 and "unrecognized arguments: --only shakespeare" in capsys.readouterr().err
