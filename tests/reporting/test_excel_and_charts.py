"""Excel workbooks and charts, opened and inspected as a user would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from dsg_forecast import Projection, Scenario, project
from dsg_forecast.cli import main
from dsg_forecast.errors import ArgumentTypeError
from dsg_forecast.io.results_files import write_results
from dsg_forecast.reporting import plotting
from dsg_forecast.reporting.excel import write_excel
from dsg_forecast.reporting.html_report import html_report
from dsg_forecast.reporting.management_plan import write_management_plan


def test_excel_workbook(worked_projection: Projection, tmp_path: Path) -> None:
    path = write_excel(worked_projection, tmp_path / "results.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "Summary",
        "Ledger",
        "Monthly",
        "Stock by placement",
        "Savings",
        "Savings by condition",
    ]
    ledger = book["Ledger"]
    header = [cell.value for cell in ledger[1]]
    assert header[:3] == ["Financial year", "Income", "Placements"]  # words, not codes
    assert not any("_" in str(h) for h in header)
    row = dict(zip(header, ledger[3], strict=True))
    assert row["Financial year"].value == "2025-26"
    assert row["Cumulative balance"].value == pytest.approx(-809_681.18, abs=0.005)
    assert row["Cumulative balance"].number_format.startswith("£")
    assert row["Within cap"].value == "yes"
    assert ledger.freeze_panes == "B2"
    assert len(ledger._charts) == 1  # type: ignore[attr-defined]  # balance vs the caps
    shares = book["Stock by placement"]
    share_column = [cell.value for cell in shares[1]].index("Share: Mainstream") + 1
    assert shares.cell(row=2, column=share_column).number_format == "0.0%"
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert summary["balance target"] == "NOT met"


def test_excel_formats_pounds_as_pounds_and_plans_as_plans(
    worked_projection: Projection, tmp_path: Path
) -> None:
    """Formats were guessed from words in the headings: the Ledger's Placements and Other
    high-needs lines showed as plain numbers, Net transfers in (plans) in pounds, and the
    Summary's deficits as counts."""
    book = openpyxl.load_workbook(write_excel(worked_projection, tmp_path / "results.xlsx"))
    ledger = book["Ledger"]
    for column in ledger.iter_cols(min_row=2, min_col=2):
        for cell in column:
            if isinstance(cell.value, float | int):
                assert cell.number_format.startswith("£"), ledger.cell(1, cell.column).value
    monthly = book["Monthly"]
    formats = {
        head.value: monthly.cell(2, column).number_format
        for column, head in enumerate(monthly[1], start=1)
    }
    assert formats["Net transfers in"] == formats["EHC plans"] == "#,##0.0"
    assert formats["Placements (£)"].startswith("£")
    summary = {r[0].value: r[1].number_format for r in book["Summary"].iter_rows(min_row=2)}
    assert summary["largest deficit (£)"].startswith("£")
    assert summary["closing cumulative balance (£)"].startswith("£")
    assert summary["plans at the end of the projection"] == "#,##0.0"
    header = [cell.value for cell in ledger[1]]
    assert "DfE Safety Valve received to date" in header  # was "Cumulative dfe safety valve"


def test_run_writes_excel(worked_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    assert main(["run", str(worked_path), "--out", str(out)]) == 0
    assert openpyxl.load_workbook(out)["Ledger"].max_row == 4


@pytest.mark.parametrize("kind", ["balance", "in-year", "mix", "savings"])
def test_plot_command(kind: str, worked_path: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{kind}.png"
    assert main(["plot", kind, str(worked_path), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def test_plot_fan_and_tornado_from_a_sweep(worked_dict: dict[str, object], tmp_path: Path) -> None:
    import yaml

    worked_dict["sweep"] = {
        "parameters": {
            "demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.2},
            "costs.unit_cost.inmss": {"dist": "uniform", "low": 50000, "high": 70000},
        },
        "samples": 64,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(worked_dict))
    assert main(["plot", "fan", str(path), "--out", str(tmp_path / "fan.svg")]) == 0
    assert (tmp_path / "fan.svg").read_text().lstrip().startswith("<?xml")
    assert (
        main(["plot", "tornado", str(path), "--out", str(tmp_path / "t.png"), "--year", "2025-26"])
        == 0
    )


def test_chart_errors(worked: Scenario, tmp_path: Path) -> None:
    from dsg_forecast.reporting import plotting

    bare = project(worked.model_copy(update={"interventions": []}))
    with pytest.raises(ValueError, match="no interventions, so there are no savings"):
        plotting.savings_waterfall(bare)
    with pytest.raises(ValueError, match=r"must end in \.png or \.svg"):
        plotting.save(plotting.in_year_balance(bare), tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="give a projection, a sweep summary, or both"):
        plotting.cumulative_balance()


def test_charts_keep_their_marks_in_view(wiltshire: Scenario) -> None:
    """Seen on the Wiltshire plan: the balance chart's legend sat over the 2024-25 deficit
    cap, the placement mix's over the top layers of the stack, the savings waterfall's
    highest step ended on the axis's edge (it looked cut off), and the tornado's title ran
    off the figure."""
    import numpy as np
    import pandas as pd

    from dsg_forecast.reporting.plotting import (
        cumulative_balance,
        placement_mix,
        savings_waterfall,
        tornado,
    )

    plan = project(wiltshire)
    figure = cumulative_balance(plan)
    figure.canvas.draw()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent()
    caps = plan.ledger["deficit_cap"].dropna()
    points = axes.transData.transform(
        np.column_stack([[list(plan.ledger.index).index(fy) for fy in caps.index], -caps / 1e6])
    )
    assert not any(legend.contains(x, y) for x, y in points)

    figure = placement_mix(plan)  # the legend beside the stack, not over its top layers
    figure.canvas.draw()
    axes = figure.axes[0]
    assert axes.get_legend().get_window_extent().x0 >= axes.get_window_extent().x1

    figure = savings_waterfall(plan)
    axes = figure.axes[0]
    tops = [patch.get_y() + max(patch.get_height(), 0) for patch in axes.patches]
    bottoms = [patch.get_y() + min(patch.get_height(), 0) for patch in axes.patches]
    low, high = axes.get_ylim()
    assert high > max(tops) and low < min(bottoms)

    rows = pd.DataFrame(
        {
            "parameter": ["demand.plan_rate", "funding.growth"],
            "output": "in_year_balance",
            "financial_year": "2028-29",
            "base": 1e6,
            "at_low": [0.5e6, -7e6],
            "at_high": [-12e6, 5e6],
            "swing": [12.5e6, 12e6],
        }
    )
    labels = {"demand.plan_rate": "a label long enough to push the bars to the right " * 2}
    figure = tornado(rows, labels=labels)
    figure.canvas.draw()
    title = figure.get_suptitle()
    assert title.startswith("One at a time")
    extent = figure._suptitle.get_window_extent()  # matplotlib keeps the suptitle there
    assert extent.x0 >= 0 and extent.x1 <= figure.bbox.x1


def test_chart_arguments_are_checked(worked_projection: Projection) -> None:
    """A summary that is not a sweep's ended in "'str' object has no attribute 'quantiles'";
    a year the projection does not have, in a pandas KeyError."""
    from dsg_forecast.errors import ArgumentError, ArgumentTypeError
    from dsg_forecast.reporting import plotting

    with pytest.raises(ArgumentTypeError, match="summary is a str; give a sweep's summary"):
        plotting.cumulative_balance(worked_projection, summary="fan")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"year is '2099-00'; give a financial year of the"):
        plotting.savings_waterfall(worked_projection, year="2099-00")


def _odd(value: object) -> Any:
    """Pass a value of the wrong kind on purpose (for the type checker)."""
    return value


@pytest.mark.parametrize(
    "call",
    [
        lambda given, path: write_excel(_odd(given), path / "r.xlsx"),
        lambda given, path: write_results(_odd(given), path / "results"),
        lambda given, path: write_management_plan(_odd(given), path / "plan.xlsx"),
        lambda given, path: html_report(_odd(given)),
        lambda given, path: plotting.cumulative_balance(_odd(given)),
        lambda given, path: plotting.in_year_balance(_odd(given)),
        lambda given, path: plotting.placement_mix(_odd(given)),
        lambda given, path: plotting.savings_waterfall(_odd(given)),
    ],
)
def test_a_scenario_where_a_projection_belongs_is_named(
    worked: Scenario, call: Any, tmp_path: Path
) -> None:
    """A scenario given for its projection (or a path and the projection in each other's
    places) ended in "'Scenario' object has no attribute 'ledger'" inside the writer."""
    with pytest.raises(ArgumentTypeError, match=re.escape(
        "projection is a Scenario; give a projection: dsg_forecast.project(scenario)"
    )):  # fmt: skip
        call(worked, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written


def test_force_must_be_true_or_false(worked_projection: Projection, tmp_path: Path) -> None:
    """force="no" is true in Python: it would have replaced the file."""
    (tmp_path / "r.xlsx").write_text("the council's own")
    with pytest.raises(ArgumentTypeError, match="force is 'no'; it must be True or False"):
        write_excel(worked_projection, tmp_path / "r.xlsx", force=_odd("no"))
    with pytest.raises(ArgumentTypeError, match="force is 'no'; it must be True or False"):
        write_results(worked_projection, tmp_path / "results", force=_odd("no"))
    assert (tmp_path / "r.xlsx").read_text() == "the council's own"
