"""Monitoring against plan: seasonality honoured, RAG thresholds, files in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from dsg_forecast import Projection, ScenarioError
from dsg_forecast.cli import main
from dsg_forecast.reporting.monitoring import Thresholds, monitor, read_actuals, to_markdown
from tests.paths import ROOT


def actuals(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("period_start", "plan", "last_year"):
        if column not in frame:
            frame[column] = ""
    return frame.fillna("").astype(str)


def test_flow_plan_honours_seasonality(worked_projection: Projection) -> None:
    """Requests: 120 in 2024-25 with weights .05 (Apr) .10 (May) .15 (Jun): 36 by June, not
    a quarter of the year's total (less the intervention's cut from January) pro rata."""
    result = worked_projection
    table = monitor(
        result,
        actuals(
            [
                {
                    "date": "2024-06",
                    "measure": "requests",
                    "value": "33",
                    "period_start": "2024-04",
                },
            ]
        ),
    )
    row = table.iloc[0]
    assert row["plan_forecast"] == pytest.approx(120 * (0.05 + 0.10 + 0.15))
    year = result.monthly[result.monthly["financial_year"] == "2024-25"]["requests"].sum()
    assert year == pytest.approx(117.6)  # requests × 0.8 ramping in over Jan-Mar 2025
    assert row["pro_rata"] == pytest.approx(year * 3 / 12)
    assert row["variance_pc"] == pytest.approx(100 * (33 - 36) / 36)
    assert row["rag"] == "green"  # fewer requests than planned is good


def test_stock_and_share_are_read_at_the_date(worked_projection: Projection) -> None:
    result = worked_projection
    table = monitor(
        result,
        actuals(
            [
                {"date": "2024-09", "measure": "ehcps", "value": "125"},
                {"date": "2024-09", "measure": "share:inmss", "value": "4%"},
                {"date": "2024-09", "measure": "within_20_weeks", "value": "30%", "plan": "40%"},
                {"date": "2025-03", "measure": "spend", "value": "2500000"},
            ]
        ),
    )
    ehcps, share, timeliness, spend = (table.iloc[i] for i in range(4))
    assert ehcps["plan_forecast"] == pytest.approx(116.999412, abs=1e-6)  # MODEL.md §7, 2024-09
    assert ehcps["rag"] == "red"  # 7% more plans than planned
    monthly = result.monthly.loc["2024-09"]
    assert share["plan_forecast"] == pytest.approx(monthly["stock_inmss"] / monthly["stock"])
    assert timeliness["plan_forecast"] == 0.40 and timeliness["rag"] == "red"
    ledger = result.ledger.loc["2024-25"]
    assert spend["plan_forecast"] == pytest.approx(ledger["expenditure"])  # the whole FY to date
    assert spend["rag"] == "green"


@pytest.mark.parametrize(
    ("measure", "plan", "actual", "rating"),
    [
        ("ehcps", 100, 101.9, "green"),
        ("ehcps", 100, 104, "amber"),
        ("ehcps", 100, 106, "red"),
        ("ehcps", 100, 80, "green"),  # fewer plans than planned is never red
        ("within_20_weeks", 0.40, 0.39, "amber"),
        ("moves_down", 10, 5, "red"),
        ("refused_share", 0.10, 0.13, "neutral"),  # an intended change is not rated
        ("stock:special", 0.10, 0.13, "red"),  # either way is a variance
        ("ehcps", 0, 5, "-"),
    ],
)
def test_rag(measure: str, plan: float, actual: float, rating: str) -> None:
    assert Thresholds().rate(measure, plan, actual) == rating


def test_read_actuals_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("date,measure,value\n2024-13,ehcps,5\n2024-04,ehcps,lots\n")
    with pytest.raises(ScenarioError) as info:
        read_actuals(path)
    text = str(info.value)
    assert "row 2, date: '2024-13' is not a month" in text
    assert "row 3, value: 'lots' is not a number" in text
    path.write_text('date,measure,value,plan\n2024-04,ehcps,"5,696",£5580\n')
    with pytest.raises(ScenarioError) as info:  # as a spreadsheet shows them
        read_actuals(path)
    assert "value: '5,696' is not a number; write it without thousands separators" in str(
        info.value
    )
    assert "plan: '£5580' is not a number; write it without" in str(info.value)
    path.write_text("when,measure,value\n")
    with pytest.raises(ScenarioError, match=r"needs columns \['date'\]"):
        read_actuals(path)


def test_unknown_placement_in_a_share(worked_projection: Projection) -> None:
    with pytest.raises(ScenarioError, match=r"unknown placements \['independent'\]"):
        monitor(
            worked_projection,
            actuals([{"date": "2024-09", "measure": "share:independent", "value": "4%"}]),
        )


def test_markdown_like_the_report(worked_projection: Projection) -> None:
    table = monitor(
        worked_projection,
        actuals(
            [
                {"date": "2024-09", "measure": "ehcps", "value": "125", "last_year": "100"},
            ]
        ),
    )
    text = to_markdown(table, "Key measures")
    assert "| ehcps | 2024-09 | 117 | " in text and "| 125 | 100 (+25) | RED |" in text


def test_monitor_command_and_the_wiltshire_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10's acceptance: the report's own plan figures, and its message in the ratings."""
    folder = ROOT / "examples" / "monitoring"
    plan = ROOT / "examples" / "wiltshire_plan_2024.yaml"
    observed, register = folder / "wiltshire_key_measures.csv", folder / "wiltshire_register.csv"
    assert main(["monitor", str(plan), str(observed), "--register", str(register)]) == 0
    text = capsys.readouterr().out
    may = text.split("## Key measures (May 2024)")[1].split("##")[0]
    assert "| Number of EHCPs | 2024-04 | 5,580 |" in may  # the plan's own figures win
    assert "| 388 |" in may and "| 6.03% |" in may and "4,973 (+723)" in may
    ehcps = next(line for line in may.splitlines() if line.startswith("| Number of EHCPs"))
    assert ehcps.endswith("| AMBER |")  # higher than forecast: off plan, not green
    refused = next(line for line in may.splitlines() if "no to assess" in line)
    assert "not rated (intended)" in refused and "7.78%" in refused
    # a target or a rate over the period the row gives is shown over that period
    assert "| Plans issued within 20 weeks | 2024-01 to 2024-04 | 40.00% |" in may
    assert '| Requests decided "no to assess" | 2024-01 to 2024-04 | 15.00% |' in may
    assert '| Moves "down" provision | 2024-01 to 2024-04 | - |' in may
    assert "| Number of EHCPs | 5,696 (amber) | 6,354 (red) |" in text  # the trend
    assert "| Condition 3.3 |" in text and "| AMBER |" in text  # the register
    for suffix in (".html", ".xlsx", ".csv", ".md"):
        out = tmp_path / f"report{suffix}"
        assert main(["monitor", str(plan), str(observed), "--out", str(out)]) == 0
        assert out.stat().st_size > 200
    assert "background-color: #ffc7ce" in (tmp_path / "report.html").read_text()
    sheets = openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames
    assert sheets == [
        "Conditions",
        "Key measures May 2024",
        "Key measures November 2024",
        "Trend across updates",
    ]
    assert main(["monitor", str(plan), str(observed), "--out", str(tmp_path / "report.md")]) == 2
