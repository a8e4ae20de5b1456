"""Write a projection in the layout of the DfE's DSG management plan template.

The DfE's template (an Excel workbook; *DSG management plan: guidance for local
authorities*, version 10, updated 26 March 2025) has tabs for the cover, an introduction, a
financial and children-and-young-people narrative, the **financial summary** (7.1 the end of
year positions, 7.2 the financial plan per funding block), the **children and young
people summary**, governance and management (with a **workstream log**) and stakeholder
engagement. This module writes a workbook with those tabs' figures filled from a
projection, one row per line and one column per financial year, so that an officer can
paste them into the return; ``docs/management-plan.md`` lists what maps to what and what
the template has that a projection cannot fill. ``MAPPING`` is that list as data.

The high-needs lines follow the section 251 budget categories the template pre-populates
(high needs place funding; top-up funding; top-up and other funding for non-maintained
and independent providers; the other high-needs services), as the DfE's statistics on
planned LA and school expenditure name them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from dsg_forecast._version import __version__
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine.ledger import other_line_costs
from dsg_forecast.errors import as_path
from dsg_forecast.io.output import save_workbook, written_atomically
from dsg_forecast.results import check_projection

if TYPE_CHECKING:
    import pandas as pd

    from dsg_forecast.results import Projection

POUNDS: Final = "£#,##0;[Red]-£#,##0"
COUNT: Final = "#,##0"

END_OF_YEAR: Final[tuple[tuple[str, str, float], ...]] = (
    ("DSG in-year balance (all blocks)", "dsg_in_year_balance", 1.0),
    ("of which: high needs block", "in_year_balance", 1.0),
    ("of which: schools, central school services and early years blocks",
     "other_blocks_balance", 1.0),
    ("Cumulative DSG balance before contributions", "cumulative_balance_before_contributions",
     1.0),
    ("DfE contribution (Safety Valve) in the year", "contribution_dfe_safety_valve", 1.0),
    ("Local authority contribution in the year", "contribution_council", 1.0),
    ("Deficit written off (High Needs Stability Grant) in the year", "contribution_write_off",
     1.0),
    ("Cumulative DSG balance at the end of the year", "cumulative_balance", 1.0),
    ("Cumulative deficit cap (Safety Valve condition)", "deficit_cap", 1.0),
)  # fmt: skip
"""7.1 Summary of end of year positions: (template line, ledger column, sign)."""

HIGH_NEEDS_INCOME: Final[tuple[tuple[str, str, float], ...]] = (
    ("High needs block allocation (before deductions)", "high_needs_block", 1.0),
    ("Less: deductions for places in academies, free schools and colleges (recoupment)",
     "recoupment", -1.0),
    ("Import/export adjustment", "import_export", 1.0),
    ("Block movement: transfer from the schools block", "block_transfers", 1.0),
    ("Other high needs income", "other_income", 1.0),
    ("Total high needs income", "income", 1.0),
)  # fmt: skip
"""7.2 Financial plan, high needs block, income: (template line, ledger column, sign)."""

HIGH_NEEDS_SPENDING: Final[tuple[tuple[str, str, float], ...]] = (
    ("High needs place funding (commissioned places)", "place_funding", 1.0),
    ("Top-up funding: maintained schools, academies, free schools and colleges", "top_up", 1.0),
    ("Top-up and other funding: non-maintained and independent providers", "fees", 1.0),
)
"""7.2 Financial plan, high needs block, placement lines: (template line, ledger column, sign);
the scenario's other lines follow, one row each, then the mitigations' own costs and the
totals."""

MAPPING: Final[tuple[tuple[str, str, str], ...]] = (
    ("Cover", "local authority, contact, date", "scenario name and description, the FYs, "
     "the date written; the contact is left for the officer"),
    ("Management plan introduction", "narrative", "not filled: the council's own words"),
    ("Summary narrative", "6.1 financial plan narrative, 6.2 high needs trends, 6.3 outcomes",
     "not filled: narrative"),
    ("Financial summary", "7.1 summary of end of year positions", "the ledger (rows below)"),
    ("Financial summary", "7.2 high needs block: income", "the ledger's income lines"),
    ("Financial summary", "7.2 high needs block: expenditure", "place funding, top-ups, fees, "
     "each other line by name, the mitigations' own costs"),
    ("Financial summary", "7.2 schools, central school services and early years blocks",
     "their in-year balance only (funding.other_blocks_balance); their lines are not modelled"),
    ("Financial summary", "section 251 outturn the DfE pre-populates", "not filled: the DfE's"),
    ("Children and young people summary", "8.1 EHCPs by placement (January)", "the projected "
     "stock at the end of each January, the SEN2 census month, by placement"),
    ("Children and young people summary", "8.1 by primary need, by age band", "by age band "
     "filled; primary need is not modelled"),
    ("Governance and management", "9.1 sign-off and review", "not filled"),
    ("Governance and management", "9.2 workstream log", "one row per intervention: condition, "
     "start, own cost, savings target and modelled net saving by FY"),
    ("Stakeholder engagement", "10.1-10.6", "not filled: narrative"),
)  # fmt: skip
"""(template tab, template section or line, what fills it)."""

AGE_BANDS: Final = (("0-4", 0, 4), ("5-10", 5, 10), ("11-15", 11, 15), ("16-19", 16, 19),
                    ("20-25", 20, 25))  # fmt: skip
"""The SEN2 age bands the template's children and young people tables use."""


def write_management_plan(projection: Projection, path: str | Path, *, force: bool = False) -> Path:
    """Write a projection as the DfE DSG management plan template lays it out.

    The workbook is written to a temporary file beside ``path`` and moved into place only
    when complete, so a failed write never leaves a partial file under the final name.

    Parameters
    ----------
    projection
        The projection to write.
    path
        Where to write the workbook (``.xlsx``).
    force
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        The workbook written.

    Raises
    ------
    OutputError
        If ``path`` does not end in ``.xlsx``, exists and ``force`` is not set, or cannot be
        written.
    """
    check_projection(projection)
    book = _workbook(projection)
    with written_atomically(path, force=force, suffixes=(".xlsx",)) as partial:
        save_workbook(book, partial)
    return as_path(path)


def _workbook(projection: Projection) -> Any:
    """Return the openpyxl workbook of a projection, every tab filled."""
    from dsg_forecast.reporting.excel import new_book

    book = new_book()
    for title, fill in _TABS:
        fill(book.create_sheet(title), projection)
    return book


def _cover(sheet: Any, projection: Projection) -> None:
    """Fill the cover: what this workbook is, for which scenario and years."""
    from datetime import UTC, datetime

    scenario = projection.scenario
    years = projection.structure.fy_labels
    rows = [
        ("Dedicated schools grant (DSG) management plan: figures from a projection", ""),
        ("Scenario", scenario.name),
        ("Description", (scenario.description or "").strip()),
        ("Financial years", f"{years[0]} to {years[-1]}"),
        ("Written", datetime.now(UTC).date().isoformat()),
        ("Written by", f"dsg_forecast {__version__}"),
        ("Local authority contact", ""),
        ("", ""),
        ("Layout", "the tabs and lines of the DfE's DSG management plan template (guidance "
                   "version 10, 26 March 2025); paste the figures into the template itself"),
        ("Money", "pounds; negative balances are deficits"),
        ("What maps to what", "see the Mapping tab"),
    ]  # fmt: skip
    _rows(sheet, rows, bold_first=True)
    sheet["A1"].font = _bold(size=14)
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 100


def _financial_summary(sheet: Any, projection: Projection) -> None:
    """Fill 7.1 (end of year positions) and 7.2 (the high needs block's plan)."""
    ledger = projection.ledger
    years = list(ledger.index)
    sheet.append([f"Financial summary: {projection.scenario.name}"])
    sheet["A1"].font = _bold(size=14)
    sheet.append(["£; negative balances are deficits"])
    sheet.append([])
    _section(sheet, "7.1 Summary of end of year positions", years)
    for label, column, sign in END_OF_YEAR:
        _money_row(sheet, label, ledger[column].astype(float).to_numpy() * sign)
    sheet.append([])
    _section(sheet, "7.2 Financial plan: high needs block", years)
    sheet.append(["Income"])
    sheet.cell(row=sheet.max_row, column=1).font = _bold()
    for label, column, sign in HIGH_NEEDS_INCOME:
        _money_row(sheet, label, ledger[column].to_numpy() * sign, bold=label.startswith("Total"))
    sheet.append(["Expenditure"])
    sheet.cell(row=sheet.max_row, column=1).font = _bold()
    for label, column, sign in HIGH_NEEDS_SPENDING:
        _money_row(sheet, label, ledger[column].to_numpy() * sign)
    structure, params = compile_scenario(projection.scenario)
    for name, amounts in zip(
        structure.other_lines, other_line_costs(structure, params)[0], strict=True
    ):
        _money_row(sheet, name, amounts)
    _money_row(sheet, "Mitigations: own costs (invest to save)", ledger["intervention_cost"])
    _money_row(sheet, "Total high needs expenditure", ledger["expenditure"], bold=True)
    _money_row(sheet, "High needs in-year balance", ledger["in_year_balance"], bold=True)
    _widths(sheet, first=78, rest=16)
    sheet.freeze_panes = "B4"


def _children(sheet: Any, projection: Projection) -> None:
    """Fill 8.1: EHCPs each January by placement and by age band, and the year's flows."""
    monthly = projection.monthly
    januaries = [month for month in monthly.index if month.endswith("-01")]
    shown = {p.name: p.shown for p in projection.scenario.placements}  # labels, not codes
    sheet.append([f"Children and young people with an EHC plan: {projection.scenario.name}"])
    sheet["A1"].font = _bold(size=14)
    sheet.append(["plans at the end of each January (the SEN2 census month), projected"])
    sheet.append([])
    _section(sheet, "8.1 EHC plans by placement", januaries)
    for placement in projection.structure.placements:
        _count_row(sheet, shown[placement], monthly.loc[januaries, f"stock_{placement}"])
    _count_row(sheet, "Total", monthly.loc[januaries, "stock"], bold=True)
    sheet.append([])
    _section(sheet, "8.1 EHC plans by age band", januaries)
    by_age = projection.stock_by_age.loc[januaries].to_numpy()  # (January, age)
    ages = projection.structure.ages
    for label, low, high in AGE_BANDS:
        band = (ages >= low) & (ages <= high)
        _count_row(sheet, f"aged {label}", by_age[:, band].sum(axis=1))
    sheet.append([])
    years = list(projection.ledger.index)
    _section(sheet, "Flows in the financial year", years)
    flows = monthly.groupby("financial_year")[["new_plans", "ceased", "aged_out"]].sum()
    for column, label in (("new_plans", "new EHC plans"), ("ceased", "plans ceased"),
                          ("aged_out", "plans ended at age 26")):  # fmt: skip
        _count_row(sheet, label, flows.loc[years, column])
    _widths(sheet, first=40, rest=12)
    sheet.freeze_panes = "B4"


def _workstreams(sheet: Any, projection: Projection) -> None:
    """Fill 9.2, the workstream log: one row per intervention and FY."""
    scenario = projection.scenario
    savings = projection.savings
    header = ["Workstream", "Condition", "Start", "Financial year", "Own cost (£)",
              "Savings target (£)", "Modelled net saving (£)"]  # fmt: skip
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = _bold()
    net = _net_savings(savings)
    for intervention in scenario.interventions:
        for year in projection.ledger.index:
            sheet.append(
                [
                    intervention.name,
                    intervention.condition or "",
                    intervention.start,
                    year,
                    float(intervention.costs.get(year, 0.0)),
                    _or_blank(intervention.savings_target.get(year)),
                    _or_blank(net.get((intervention.name, year))),
                ]
            )
    for row in sheet.iter_rows(min_row=2, min_col=5, max_col=7):
        for cell in row:
            cell.number_format = POUNDS
    _widths(sheet, first=44, rest=18)
    sheet.freeze_panes = "A2"


def _mapping(sheet: Any, projection: Projection) -> None:
    """Fill the mapping: each template tab and line, and what fills it (or why not)."""
    del projection  # the same for every projection
    sheet.append(["Template tab", "Template section or line", "Filled from"])
    for cell in sheet[1]:
        cell.font = _bold()
    for row in MAPPING:
        sheet.append(list(row))
    for column, width in zip("ABC", (34, 60, 90), strict=True):
        sheet.column_dimensions[column].width = width


_TABS: Final[tuple[tuple[str, Callable[[Any, Projection], None]], ...]] = (
    ("Cover", _cover),
    ("Financial summary", _financial_summary),
    ("Children and young people", _children),
    ("Workstream log", _workstreams),
    ("Mapping", _mapping),
)


def _net_savings(savings: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Return each intervention's net saving by FY, keyed ``(name, FY)``."""
    names, years = savings["intervention"].astype(str), savings["financial_year"].astype(str)
    keys = zip(names, years, strict=True)
    return dict(zip(keys, savings["net_saving"].to_numpy(dtype=float).tolist(), strict=True))


def _or_blank(value: float | None) -> float | str:
    return "" if value is None else float(value)


def _section(sheet: Any, title: str, columns: list[str]) -> None:
    sheet.append([title, *columns])
    for cell in sheet[sheet.max_row]:
        cell.font = _bold()


def _money_row(sheet: Any, label: str, values: Any, *, bold: bool = False) -> None:
    _number_row(sheet, label, values, POUNDS, bold=bold)


def _count_row(sheet: Any, label: str, values: Any, *, bold: bool = False) -> None:
    _number_row(sheet, label, values, COUNT, bold=bold)


def _number_row(sheet: Any, label: str, values: Any, number_format: str, *, bold: bool) -> None:
    numbers = [float(v) if np.isfinite(float(v)) else "" for v in np.asarray(values, dtype=float)]
    sheet.append([label, *numbers])
    for cell in sheet[sheet.max_row][1:]:
        cell.number_format = number_format
    if bold:
        for cell in sheet[sheet.max_row]:
            cell.font = _bold()


def _rows(sheet: Any, rows: list[tuple[str, str]], *, bold_first: bool) -> None:
    for row in rows:
        sheet.append(list(row))
        if bold_first:
            sheet.cell(row=sheet.max_row, column=1).font = _bold()


def _bold(size: int | None = None) -> Any:
    from openpyxl.styles import Font

    return Font(bold=True, size=size)


def _widths(sheet: Any, *, first: int, rest: int) -> None:
    from openpyxl.utils import get_column_letter

    sheet.column_dimensions["A"].width = first
    for column in range(2, sheet.max_column + 1):
        sheet.column_dimensions[get_column_letter(column)].width = rest
