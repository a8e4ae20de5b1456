"""Income in its lines, against hand calculations on MODEL.md §7's worked example.

The example's block is £2,600,000 growing 4% a year (2,704,000 and 2,812,160 later), with a
£120,000 transfer in 2025-26; its income is 2,600,000, 2,824,000 and 2,812,160.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsg_forecast import project
from dsg_forecast.schema.parsing import scenario_from_mapping

PENNY = 0.005


def ledger_of(data: dict[str, Any]) -> Any:
    return project(scenario_from_mapping(data), savings=False).ledger


def test_worked_example_lines_add_up(worked_dict: dict[str, Any]) -> None:
    ledger = ledger_of(worked_dict)
    assert ledger["high_needs_block"].tolist() == pytest.approx([2_600_000, 2_704_000, 2_812_160])
    assert ledger["block_transfers"].tolist() == [0.0, 120_000.0, 0.0]
    assert ledger["income"].tolist() == pytest.approx([2_600_000, 2_824_000, 2_812_160])


def test_recoupment_import_export_and_a_share_of_the_schools_block(
    worked_dict: dict[str, Any],
) -> None:
    funding = worked_dict["funding"]
    funding["recoupment"] = {"2024-25": 100_000}
    funding["import_export"] = {"2024-25": -3, "2025-26": 2}
    funding["schools_block"] = {"2025-26": 20_000_000}
    funding["schools_block_transfer"] = {"2025-26": 0.005}
    ledger = ledger_of(worked_dict)
    assert ledger.loc["2024-25", "recoupment"] == 100_000
    assert ledger.loc["2024-25", "import_export"] == -18_000  # 3 pupils exported × £6,000
    assert ledger.loc["2025-26", "import_export"] == 12_000
    # £120,000 given in pounds plus 0.5% of a £20m schools block
    assert ledger.loc["2025-26", "block_transfers"] == pytest.approx(220_000)
    assert ledger.loc["2024-25", "income"] == pytest.approx(2_600_000 - 100_000 - 18_000)
    assert ledger.loc["2025-26", "income"] == pytest.approx(2_704_000 + 12_000 + 220_000)
    # in-year balance moves by exactly the change in income
    base = ledger_of(scenario_dict_without_changes(worked_dict))
    change = ledger["in_year_balance"] - base["in_year_balance"]
    assert change.tolist() == pytest.approx([-118_000, 112_000, 0.0], abs=PENNY)


def scenario_dict_without_changes(data: dict[str, Any]) -> dict[str, Any]:
    funding = {
        key: value
        for key, value in data["funding"].items()
        if key not in {"recoupment", "import_export", "schools_block", "schools_block_transfer"}
    }
    return {**data, "funding": funding}


def test_a_block_series_grows_after_its_last_given_year(worked_dict: dict[str, Any]) -> None:
    funding = worked_dict["funding"]
    del funding["high_needs_block"]
    funding["per_year"] = {"2024-25": 2_500_000, "2025-26": 2_650_000}
    funding["growth"] = 0.02
    ledger = ledger_of(worked_dict)
    assert ledger["high_needs_block"].tolist() == pytest.approx(
        [2_500_000, 2_650_000, 2_650_000 * 1.02]
    )


def test_a_partial_first_year_carries_its_months_share(worked_dict: dict[str, Any]) -> None:
    """From 2024-10 the first FY has 6 projected months: half of each annual line."""
    worked_dict["start"] = "2024-10"
    worked_dict["funding"]["recoupment"] = {"2024-25": 100_000}
    worked_dict["funding"]["import_export"] = {"2024-25": 4}
    ledger = ledger_of(worked_dict)
    assert ledger.loc["2024-25", "high_needs_block"] == pytest.approx(1_300_000)
    assert ledger.loc["2024-25", "recoupment"] == pytest.approx(50_000)
    assert ledger.loc["2024-25", "import_export"] == pytest.approx(12_000)
    assert ledger.loc["2024-25", "income"] == pytest.approx(1_300_000 - 50_000 + 12_000)
