"""Scenarios as Excel input workbooks: round trip, template, and errors that name the cell."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from dsg_forecast import ScenarioError, load_scenario, project
from dsg_forecast.cli import main
from dsg_forecast.io.workbook import read_workbook, write_workbook
from tests.paths import ROOT

SCENARIOS = [
    "worked_example.yaml",
    "wiltshire_plan_2024.yaml",
    "wiltshire_current_trend_2024.yaml",
]


@pytest.mark.parametrize("name", SCENARIOS)
def test_yaml_to_workbook_to_scenario_is_the_same(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "examples" / name)
    path = write_workbook(scenario, tmp_path / "scenario.xlsx")
    assert load_scenario(path) == scenario


def test_workbook_layout(worked_path: Path, tmp_path: Path) -> None:
    path = write_workbook(load_scenario(worked_path), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    assert {
        "Scenario",
        "Demand",
        "Funding",
        "Placements",
        "Opening stock",
        "New plans",
        "Seasonality",
        "Ceasing",
        "Transitions",
        "Capacity",
        "Costs",
        "By year",
        "Interventions",
        "Effects",
    } <= set(book.sheetnames)
    stock = book["Opening stock"]
    assert [c.value for c in stock[1]][:4] == ["age", "mainstream", "special", "inmss"]
    assert stock["B2"].value == 10  # mainstream at age 3
    assert book["Costs"]["B1"].value == "cost per plan [£ a plan a year]"  # units in headers
    levers = book["Effects"].data_validations.dataValidation
    assert levers and "entry_shift" in levers[0].formula1
    rates = book["Demand"].data_validations.dataValidation
    assert [(v.type, v.formula1, v.formula2) for v in rates] == [("decimal", "0", "1")] * 2
    assert any("B4" in str(v.sqref) for v in rates)  # the refusal rate


def test_errors_name_the_sheet_and_cell(worked_path: Path, tmp_path: Path) -> None:
    path = write_workbook(load_scenario(worked_path), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    book["Demand"]["B4"] = 1.5  # the refusal rate
    book["Costs"]["B2"] = -5  # mainstream's unit cost
    book.save(path)
    with pytest.raises(ScenarioError) as info:
        read_workbook(path)
    text = str(info.value)
    assert "Demand!B4 (demand.refusal_rate): 1.5: input should be less than or equal to 1" in text
    assert "Costs!B2 (costs.unit_cost.mainstream): -5" in text


@pytest.mark.parametrize(
    ("sheet", "age", "message"),
    [
        ("Opening stock", "Total", "A6: 'Total' is not an age or an age band (write 5 or 16-18)"),
        ("Opening stock", "7+", "Opening stock!A6: '7+' is not an age or an age band"),
        ("New plans", "All ages", "New plans!A6: 'All ages' is not an age or an age band"),
    ],
)
def test_a_totals_row_or_an_open_band_is_named_by_its_cell(
    worked_path: Path, tmp_path: Path, sheet: str, age: str, message: str
) -> None:
    """A spreadsheet's totals row (or ``25+``) was named by the key path of the row's last
    value, "opening_stock.mainstream.Total[[key]]", without its cell."""
    path = write_workbook(load_scenario(worked_path), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    book[sheet]["A6"], book[sheet]["B6"] = age, 1
    book.save(path)
    with pytest.raises(ScenarioError) as info:
        read_workbook(path)
    assert message in str(info.value)


def test_cross_field_errors_name_the_row(worked_path: Path, tmp_path: Path) -> None:
    path = write_workbook(load_scenario(worked_path), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    book["New plans"]["C4"] = 0.52  # mainstream share of new plans at age 5: the mix sums to 1.02
    book.save(path)
    with pytest.raises(
        ScenarioError,
        match=r"New plans!C4 \(demand\.new_plan_mix\[5\]\): entry mix "
        r"at age 5 sums to 1\.02",
    ):
        read_workbook(path)


def test_effect_of_an_unknown_intervention(worked_path: Path, tmp_path: Path) -> None:
    path = write_workbook(load_scenario(worked_path), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    book["Effects"]["A2"] = "earlier suport"
    book.save(path)
    with pytest.raises(ScenarioError, match=r"Effects!A2: intervention 'earlier suport' is not on"):
        read_workbook(path)


def test_template_command_and_filled_template(worked_path: Path, tmp_path: Path) -> None:
    empty = tmp_path / "template.xlsx"
    assert main(["template", str(empty)]) == 0
    assert "Opening stock" in openpyxl.load_workbook(empty).sheetnames
    filled = tmp_path / "filled.xlsx"
    assert main(["template", str(filled), "--scenario", str(worked_path)]) == 0
    result = project(load_scenario(filled))
    assert result.ledger.loc["2026-27", "cumulative_balance"] == pytest.approx(
        -639_556.42, abs=0.005
    )


def test_template_refuses_a_name_without_xlsx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook named like anything else (a field label, a CSV) is refused, not written."""
    target = tmp_path / "actuals_to_date.expenditure"
    assert main(["template", str(target)]) == 2
    assert "must end in .xlsx" in capsys.readouterr().err
    assert not target.exists()


def test_budget_lines_round_trip(worked_dict: dict[str, Any], tmp_path: Path) -> None:
    """Top-ups by phase, fees, place funding, income lines, contributions by source and
    other lines by year survive a workbook and back."""
    from dsg_forecast.schema.parsing import scenario_from_mapping

    data: dict[str, Any] = dict(worked_dict)
    costs = dict(data["costs"])
    unit = dict(costs["unit_cost"])
    costs["top_up"] = {"special": {"early_years": 25_000, "primary": 31_000}}
    costs["fees"] = {"inmss": 61_500}
    del unit["special"], unit["inmss"]
    costs["unit_cost"] = unit
    costs["place_funding"] = {"special": 10_000}
    costs["other_lines"] = [
        {"name": "outreach", "per_year": {"2024-25": 1.0, "2025-26": 2.0}, "growth": 0.1},
        {"name": "central services", "amount": 240_000},
    ]
    data["costs"] = costs
    funding = dict(data["funding"])
    funding.update(
        recoupment={"2024-25": 5.0},
        import_export={"2025-26": -2},
        schools_block={"2025-26": 1e6},
        schools_block_transfer={"2025-26": 0.005},
        other_blocks_balance={"2026-27": 250_000},
    )
    data["funding"] = funding
    agreement = dict(data["agreement"])
    agreement.update(
        council_contributions={"2026-27": 7.0},
        received_before_start={"dfe_safety_valve": 3.0},
        withhold_when_conditions_missed=True,
        statutory_override_end="2026-03",
        opening_high_needs_balance=-1_100_000,
    )
    data["agreement"] = agreement
    scenario = scenario_from_mapping(data)
    back = load_scenario(write_workbook(scenario, tmp_path / "lines.xlsx"))
    assert back == scenario


def test_costs_by_age_band_cannot_be_written(worked_dict: dict[str, Any], tmp_path: Path) -> None:
    from dsg_forecast.errors import OutputError
    from dsg_forecast.schema.parsing import scenario_from_mapping

    costs = worked_dict["costs"]
    costs["top_up"] = {"special": {"3-4": 25_000, "default": 31_000}}
    del costs["unit_cost"]["special"]
    with pytest.raises(OutputError, match=r"costs\.top_up\.special is given by age band"):
        write_workbook(scenario_from_mapping(worked_dict), tmp_path / "bands.xlsx")
    assert not (tmp_path / "bands.xlsx").exists()


def test_savings_targets_round_trip(worked_dict: dict[str, Any], tmp_path: Path) -> None:
    from dsg_forecast.schema.parsing import scenario_from_mapping

    worked_dict["interventions"][0]["savings_target"] = {"2025-26": 250_000, "2026-27": 9e5}
    scenario = scenario_from_mapping(worked_dict)
    assert load_scenario(write_workbook(scenario, tmp_path / "targets.xlsx")) == scenario


def test_seasonality_is_read_by_month_in_any_order(worked_path: Path, tmp_path: Path) -> None:
    """A council listing its months from April (a financial year) gets the same profile."""
    scenario = load_scenario(worked_path)
    path = write_workbook(scenario, tmp_path / "scenario.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["Seasonality"]
    rows = [[cell.value for cell in row[:3]] for row in sheet.iter_rows(min_row=2, max_row=13)]
    for number, row in enumerate(rows[3:] + rows[:3], start=2):  # April to March
        row[0] = {"Apr": "April", "Jan": "JANUARY"}.get(str(row[0]), row[0])
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)
    sheet["C1"] = "Ceasing"  # headers are compared by their words, whatever the case
    book.save(path)
    assert read_workbook(path) == scenario


def test_a_date_typed_for_a_month_means_its_month(worked_path: Path, tmp_path: Path) -> None:
    """Excel turns 2025-01 typed in a cell into a date: the schedules read it as the month."""
    import datetime as dt

    scenario = load_scenario(worked_path)
    path = write_workbook(scenario, tmp_path / "scenario.xlsx")
    book = openpyxl.load_workbook(path)
    book["Capacity"]["B3"] = dt.date(2025, 1, 1)  # was refused: '2025-01-01 00:00:00'
    book["Assessment capacity"]["A2"] = dt.date(2024, 4, 1)
    book["Interventions"]["C2"] = dt.date(2025, 1, 15)  # was refused: not the 1st
    book.save(path)
    assert read_workbook(path) == scenario


def test_read_workbook_refuses_what_is_not_a_workbook(tmp_path: Path) -> None:
    """Given another kind of file, a folder or no path, ``read_workbook`` ended in openpyxl's
    InvalidFileException or pathlib's TypeError; each is said."""
    from dsg_forecast.errors import ArgumentError, ArgumentTypeError

    plan = ROOT / "examples" / "worked_example.yaml"
    for where in (plan, tmp_path):
        with pytest.raises(ScenarioError, match=r"is not an Excel workbook \(\.xlsx\) this tool"):
            read_workbook(where)
    with pytest.raises(ArgumentTypeError, match="path is None; give an input workbook's path"):
        read_workbook(None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="path is '', which is empty"):
        read_workbook("")
    # a workbook that is not there, or that the system will not let us read, is not called
    # "not an Excel workbook": it may be one
    missing = tmp_path / "plan.xlsx"
    with pytest.raises(ScenarioError, match=re.escape(f"cannot read {missing}: No such file")):
        read_workbook(missing)


def test_write_workbook_names_a_scenario_of_the_wrong_kind(tmp_path: Path) -> None:
    from dsg_forecast.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError, match="scenario is a str; give a Scenario"):
        write_workbook("examples/worked_example.yaml", tmp_path / "a.xlsx")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
