"""scripts/lm_budget.py: budgets that are not whole minutes from 1 are refused before any training starts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lm_budget.py"


@pytest.fixture
def lm_budget(monkeypatch):
    spec = importlib.util.spec_from_file_location("lm_budget", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "train", lambda *args: pytest.fail("training started"))
    return module


@pytest.mark.parametrize("minutes", ["0", "-1", "2.5"])
def test_a_budget_below_one_minute_is_refused(lm_budget, capsys, minutes: str) -> None:
    """--minutes 0 read losses[-1], the last validation's loss, as the loss "after 0 min" (and 0 runs an empty fit)."""
    with pytest.raises(SystemExit) as exited:
        lm_budget.main(["--minutes", minutes, "3"])
    assert exited.value.code == 2
    assert f"argument --minutes: '{minutes}': budgets are whole minutes, at least 1" in capsys.readouterr().err
