"""Scenarios side by side: aligned or refused, differences right, every output written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from dsg_forecast import Scenario, project
from dsg_forecast.cli import main
from dsg_forecast.errors import OutputError
from dsg_forecast.io import load_scenario
from dsg_forecast.io.scenario_files import parse_scenario_text
from dsg_forecast.reporting.compare import (
    CompareError,
    Comparison,
    compare,
    format_comparison,
    write_comparison,
)
from dsg_forecast.schema.parsing import scenario_from_mapping
from tests.paths import ROOT

PLAN = ROOT / "examples" / "wiltshire_plan_2024.yaml"
TREND = ROOT / "examples" / "wiltshire_current_trend_2024.yaml"
WORKED = ROOT / "examples" / "worked_example.yaml"


@pytest.fixture(scope="module")
def comparison(wiltshire: Scenario) -> Comparison:
    return compare([wiltshire, load_scenario(TREND)])


def _at(frame: pd.DataFrame, row: object, column: str) -> float:
    """Return one cell as a float (a frame's cells are not typed)."""
    return float(frame[column].to_dict()[row])


def test_the_ledgers_and_their_differences(comparison: Comparison) -> None:
    plan, trend = comparison.projections
    ledger = comparison.ledger
    row = ("expenditure", "2026-27")
    a, b = _at(ledger, row, "A"), _at(ledger, row, "B")
    assert a == pytest.approx(_at(plan.ledger, "2026-27", "expenditure"))
    assert b == pytest.approx(_at(trend.ledger, "2026-27", "expenditure"))
    assert _at(ledger, row, "B − A") == pytest.approx(b - a)
    assert _at(ledger, row, "B − A %") == pytest.approx((b - a) / a)
    balance = _at(ledger, ("in_year_balance", "2026-27"), "B − A %")
    assert balance != balance  # no percentage for a balance: its base can be near zero
    total = _at(comparison.plans, ("Total", "2028-29"), "A")
    assert total == pytest.approx(_at(plan.monthly, "2029-03", "stock"))
    independent = ("Independent and non-maintained special", "2028-29")
    assert _at(comparison.plans, independent, "B") == pytest.approx(
        _at(trend.monthly, "2029-03", "stock_inmss")
    )
    assert list(comparison.headlines.T["First balanced year"]) == ["2028-29", "none"]


def test_the_printout_reads_as_a_finance_officer_writes(comparison: Comparison) -> None:
    text = format_comparison(comparison)
    assert "Independent fees" in text and "fees" not in text.split("Independent fees")[0]
    assert "£104,326,994" in text  # the plan's 2024-25 expenditure, whole pounds
    assert "Bridge 2028-29: in-year balance, A to B" in text
    assert "e+0" not in text and "inmss" not in text and "in_year_balance" not in text


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10's acceptance: both ledgers with their differences, and the bridge."""
    assert main(["compare", str(PLAN), str(TREND)]) == 0
    out = capsys.readouterr().out
    for figure in ("-£28,250,994", "-£37,216,817", "-£8,965,822"):  # 2024-25 in-year A, B, B − A
        assert figure in out
    assert "Bridge 2028-29" in out
    target = tmp_path / "compare.xlsx"
    assert main(["compare", str(PLAN), str(TREND), "--out", str(target)]) == 0
    assert load_workbook(target).sheetnames == ["Headlines", "Ledger", "Plans", "Bridge"]
    assert main(["compare", str(PLAN), str(TREND), "--out", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".html", ".svg", ".png"])
def test_every_format_is_written(comparison: Comparison, tmp_path: Path, suffix: str) -> None:
    out = write_comparison(comparison, tmp_path / f"compare{suffix}")
    assert out.stat().st_size > 0
    if suffix == ".csv":
        frame = pd.read_csv(out)
        assert list(frame.columns) == ["Line", "Financial year", "A", "B", "B − A", "B − A %"]
        assert "EHC plans: Special" in set(frame["Line"])
    if suffix == ".html":
        text = out.read_text()
        assert "<svg" in text and "@page{size:A4 landscape" in text
    with pytest.raises(OutputError, match="already exists"):
        write_comparison(comparison, out)


def test_different_horizons_are_aligned_and_a_bridge_refused_with_a_reason(
    wiltshire: Scenario,
) -> None:
    worked = load_scenario(WORKED)
    result = compare([wiltshire, worked])
    assert result.years == ("2024-25", "2025-26", "2026-27")
    assert any("compared over" in note for note in result.notes)
    assert any("no bridge from A to B" in note for note in result.notes)
    assert result.bridges == {}
    # a placement one scenario lacks is blank there, not zero
    independent = ("Independent and non-maintained special", "2024-25")
    assert _at(result.plans, independent, "B") != 0  # NaN: the worked example has no such placement


def test_what_cannot_be_compared_is_refused(wiltshire: Scenario) -> None:
    with pytest.raises(CompareError, match="at least two"):
        compare([wiltshire])
    text = WORKED.read_text()
    for year in (2027, 2026, 2025, 2024):  # the worked example ten years on
        text = text.replace(f"{year}-", f"{year + 10}-").replace(
            f"{year - 1}-{year % 100:02d}", f"{year + 9}-{(year + 10) % 100:02d}"
        )
    later = parse_scenario_text(text, "yaml", "later")
    with pytest.raises(CompareError, match="no financial year in common"):
        compare([project(wiltshire, savings=False), scenario_from_mapping(later)])


def test_a_bridge_year_outside_the_scenarios_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(PLAN), str(TREND), "--year", "2031-32"]) == 2
    assert "--year 2031-32 is outside the projection (2024-25..2028-29)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"year": "2031-32"}, r"year '2031-32' is not a financial year every scenario projects"),
        ({"outputs": ("plansx",)}, r"outputs \('plansx',\): give a sequence of bridge outputs"),
        ({"outputs": "plans"}, r"outputs 'plans': give a sequence"),  # was read as its letters
    ],
)
def test_wrong_arguments_are_refused_in_python(
    wiltshire: Scenario, arguments: dict[str, object], message: str
) -> None:
    """Each made a comparison whose only trace of the mistake was a note, "no bridge"."""
    with pytest.raises(CompareError, match=message):
        compare([wiltshire, load_scenario(TREND)], **arguments)  # type: ignore[arg-type]


def test_the_chart_shows_each_scenarios_caps_where_they_differ(comparison: Comparison) -> None:
    """Caps shared by every scenario are one red set of marks; where they differ (the
    worked example's £0.75m against Wiltshire's £84.5m), the tightest alone would have
    passed for both, so each scenario's are drawn and labelled."""
    import matplotlib.pyplot as plt

    from dsg_forecast.reporting.plotting import compared_balance

    def caps(figure: object) -> dict[str, list[float]]:
        axes = figure.axes[0]  # type: ignore[attr-defined]
        marks = {
            collection.get_label(): sorted(float(y) for _, y in collection.get_offsets())
            for collection in axes.collections
        }
        plt.close(figure)  # type: ignore[arg-type]
        return marks

    assert caps(compared_balance(comparison)) == {"deficit cap": [-84.5]}
    apart = compare([load_scenario(WORKED), load_scenario(PLAN)])
    marks = caps(compared_balance(apart))
    assert marks["B: deficit cap"] == [-84.5]
    assert set(marks) == {"A: deficit cap", "B: deficit cap"}


def test_placements_of_other_names_keep_their_own_rows_and_names(wiltshire: Scenario) -> None:
    """Wiltshire's plan against its calibration from SEN2: the plan's ``sppi`` and the
    calibration's ``specialist_post16`` are both "Specialist post-16", and the printout
    ended in a traceback (their rows under one label made the table ragged); a placement
    only B has was printed without its name."""
    from dsg_forecast.estimation.calibration import calibrate

    calibrated = calibrate("Wiltshire", 2024, years=3)
    text = format_comparison(compare([calibrated, wiltshire]))
    plans = text.split("EHC plans at the end of each financial year")[1]
    assert "Specialist post-16 (specialist_post16)  A" in plans
    assert "Specialist post-16 (sppi)               B" in plans
    b_only = [line for line in plans.splitlines() if line.startswith("FE and other post-16")]
    assert b_only and b_only[0].split()[-4] == "B"


def test_what_is_compared_is_checked() -> None:
    """``compare(None)`` ended at ``len()``; file names where scenarios belong, inside
    ``project``; ``load_scenario(5)`` in pathlib, naming no argument."""
    from dsg_forecast.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError, match="items is None; give a list of scenarios"):
        compare(None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"items holds a str; give scenarios \(load"):
        compare(["a.yaml", "b.yaml"])  # type: ignore[list-item]
    with pytest.raises(ArgumentTypeError, match="path is 5; give a file's path"):
        load_scenario(5)  # type: ignore[arg-type]
