"""The shipped examples run, and the public API is what we say it is."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dsg_forecast import Scenario, project
from dsg_forecast.sweeps.fit import fit, load_fit
from tests.paths import ROOT

PLAN = ROOT / "examples" / "wiltshire_plan_2024.yaml"


@pytest.mark.parametrize("script", ["python_api.py", "batch_of_scenarios.py"])
def test_python_examples_run(script: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert capsys.readouterr().out


def test_wiltshire_runs_and_keeps_its_cap(wiltshire: Scenario) -> None:
    result = project(wiltshire)
    assert list(result.ledger.index) == ["2024-25", "2025-26", "2026-27", "2027-28", "2028-29"]
    assert result.summary.balance_target == "2028-29"
    assert set(result.summary.headroom) == {"2024-25"}
    # five years × 26 ages × 9 placements
    assert result.flows.stock is not None
    assert result.flows.stock.shape == (1, 60, 26, 9)


@pytest.mark.slow
def test_sweep_analysis_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "sys.argv", ["wiltshire_sweep_analysis.py", "--samples", "256", "--sobol", "32"]
    )
    runpy.run_path(str(ROOT / "examples" / "wiltshire_sweep_analysis.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "P(in-year balance >= 0 from 2028-29)" in out
    assert "Sobol indices, in_year_balance 2028-29" in out


def test_wiltshire_from_data_example(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "wiltshire_from_data.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "plans in January 2025: projected 6,337, counted 6,383 (-0.7%)" in out


def test_wiltshire_plan_reproduces_the_published_agreement(tmp_path: Path) -> None:
    """Issue 9's acceptance: the plan example, run as a user would, meets the agreement."""
    ran = subprocess.run(
        [sys.executable, "-m", "dsg_forecast.cli", "run", str(PLAN), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    out = json.loads(ran.stdout)
    summary = out["summary"]
    ledger = {row["financial_year"]: row for row in out["ledger"]}
    assert summary["target_met"] is True
    assert summary["first_balanced_year"] == "2028-29"
    # condition 2: within £84.5m at the end of 2024-25
    assert -ledger["2024-25"]["cumulative_balance"] <= 84_500_000
    # the plan's 2024-25 in-year deficit of about £28.25m, within 5%
    assert ledger["2024-25"]["in_year_balance"] == pytest.approx(-28_250_000, rel=0.05)
    # about £137.2m before contributions at the point of balance, within 2%
    before = ledger["2028-29"]["cumulative_balance_before_contributions"]
    assert before == pytest.approx(-137_200_000, rel=0.02)
    assert summary["deficit_at_balance_before_contributions"] == pytest.approx(-before)
    # met by £67m from the DfE and £70.2m from the council (Cabinet, 16 April 2024)
    assert ledger["2028-29"]["cumulative_dfe_safety_valve"] == pytest.approx(67_000_000, abs=1)
    assert ledger["2028-29"]["cumulative_council"] == pytest.approx(70_200_000)


def test_wiltshire_plan_is_its_own_fit() -> None:
    """The FITTED numbers in the plan file are the fit's answer: refitting moves nothing."""
    scenario, spec = load_fit(PLAN)
    result = fit(scenario, spec)
    assert all(result.targets["met"])
    start = result.levers["start"].to_numpy()
    np.testing.assert_allclose(result.levers["fitted"].to_numpy(), start, rtol=0.01)
    with_plans = project(scenario, savings=False).monthly
    assert with_plans.loc["2024-12", "stock"] == pytest.approx(5_694, rel=0.02)
