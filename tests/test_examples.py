"""The shipped examples run, and the public API is what we say it is."""

from __future__ import annotations

import runpy

import pytest

from dsg_forecast import Scenario, project
from tests.paths import ROOT


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
