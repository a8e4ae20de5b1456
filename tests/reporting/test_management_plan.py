"""The DfE management-plan export: every line filled from the projection, written safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from dsg_forecast import Scenario, project
from dsg_forecast.cli import main
from dsg_forecast.errors import OutputError
from dsg_forecast.reporting import management_plan
from dsg_forecast.reporting.management_plan import (
    END_OF_YEAR,
    HIGH_NEEDS_INCOME,
    HIGH_NEEDS_SPENDING,
    write_management_plan,
)
from dsg_forecast.results import Projection
from tests.paths import ROOT

PLAN = ROOT / "examples" / "wiltshire_plan_2024.yaml"


@pytest.fixture(scope="module")
def projection(wiltshire: Scenario) -> Projection:
    return project(wiltshire)


def _rows(path: Path, sheet: str) -> dict[str, list[Any]]:
    """Return the sheet's rows keyed by their label in column A (the first such row)."""
    rows: dict[str, list[Any]] = {}
    for row in load_workbook(path)[sheet].iter_rows(values_only=True):
        if row and isinstance(row[0], str):
            rows.setdefault(row[0], list(row[1:]))
    return rows


def test_every_financial_line_is_the_ledger_to_the_penny(
    projection: Projection, tmp_path: Path
) -> None:
    out = write_management_plan(projection, tmp_path / "plan.xlsx")
    rows = _rows(out, "Financial summary")
    ledger = projection.ledger
    assert rows["7.1 Summary of end of year positions"][:5] == list(ledger.index)
    for label, column, sign in (*END_OF_YEAR, *HIGH_NEEDS_INCOME, *HIGH_NEEDS_SPENDING):
        for cell, value in zip(rows[label], ledger[column].astype(float), strict=False):
            expected = "" if value != value else sign * value  # a year without a cap is blank
            assert (cell if cell is not None else "") == pytest.approx(expected, abs=0.005), label
    total = rows["Total high needs expenditure"]
    assert total[:5] == pytest.approx(list(ledger["expenditure"]), abs=0.005)


def test_the_other_lines_add_up_to_the_ledgers_other_cost(
    projection: Projection, tmp_path: Path
) -> None:
    out = write_management_plan(projection, tmp_path / "plan.xlsx")
    rows = _rows(out, "Financial summary")
    names = [line.name for line in projection.scenario.costs.other_lines]
    assert names, "the plan example has other lines"
    summed = [sum(rows[name][k] for name in names) for k in range(5)]
    assert summed == pytest.approx(list(projection.ledger["other_cost"]), abs=0.005)
    parts = ["High needs place funding (commissioned places)", *names,
             "Mitigations: own costs (invest to save)"]  # fmt: skip
    spending = [label for label, _, _ in HIGH_NEEDS_SPENDING[1:]]
    added = [sum(rows[label][k] for label in (*parts, *spending)) for k in range(5)]
    assert added == pytest.approx(list(projection.ledger["expenditure"]), abs=0.01)


def test_children_and_workstreams_are_filled(projection: Projection, tmp_path: Path) -> None:
    out = write_management_plan(projection, tmp_path / "plan.xlsx")
    children = _rows(out, "Children and young people")
    january = projection.monthly.loc["2025-01", "stock"]
    assert children["Total"][0] == pytest.approx(january)
    bands = [children[f"aged {band}"][0] for band, _, _ in management_plan.AGE_BANDS]
    assert sum(bands) == pytest.approx(january)
    # placements in the words of every other output, not their codes ("inmss", "sppi")
    by_placement = [children[p.shown][0] for p in projection.scenario.placements]
    assert sum(by_placement) == pytest.approx(january)
    assert "inmss" not in children and "Independent and non-maintained special" in children
    log = load_workbook(out)["Workstream log"]
    names = {row[0] for row in log.iter_rows(min_row=2, values_only=True)}
    assert names == {i.name for i in projection.scenario.interventions}


def test_an_existing_file_is_never_replaced_without_force(
    projection: Projection, tmp_path: Path
) -> None:
    out = tmp_path / "plan.xlsx"
    out.write_text("the officer's own file")
    with pytest.raises(OutputError, match="already exists"):
        write_management_plan(projection, out)
    assert out.read_text() == "the officer's own file"
    write_management_plan(projection, out, force=True)
    assert load_workbook(out).sheetnames[:2] == ["Cover", "Financial summary"]
    with pytest.raises(OutputError, match=r"must end in \.xlsx"):
        write_management_plan(projection, tmp_path / "plan.csv")


def test_a_failed_write_leaves_no_file_behind(
    projection: Projection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:  # the workbook is written in one go
        real_write(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        write_management_plan(projection, tmp_path / "plan.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.xlsx"
    assert main(["management-plan", str(PLAN), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["management-plan", str(PLAN), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["management-plan", str(PLAN), "--out", str(out), "--force"]) == 0
