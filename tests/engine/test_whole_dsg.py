"""The whole-DSG view beside high needs alone, by hand on MODEL.md §7's worked example.

High-needs in-year balances: −126,966.92, −282,714.26 and −558,588.31 (£).
"""

from __future__ import annotations

from typing import Any

import pytest

from dsg_forecast import project
from dsg_forecast.schema.parsing import scenario_from_mapping

PENNY = 0.005


def test_other_blocks_move_the_dsg_view_not_high_needs(worked_dict: dict[str, Any]) -> None:
    worked_dict["funding"]["other_blocks_balance"] = {"2025-26": 400_000, "2026-27": 600_000}
    result = project(scenario_from_mapping(worked_dict), savings=False)
    ledger = result.ledger
    # high needs alone is unchanged
    assert ledger["in_year_balance"].tolist() == pytest.approx(
        [-126_966.92, -282_714.26, -558_588.31], abs=PENNY
    )
    assert ledger.loc["2025-26", "high_needs_cumulative_balance"] == pytest.approx(
        -809_681.18, abs=PENNY
    )
    # the whole DSG: −282,714.26 + 400,000 in 2025-26
    assert ledger.loc["2025-26", "dsg_in_year_balance"] == pytest.approx(117_285.74, abs=PENNY)
    assert ledger.loc["2025-26", "cumulative_balance"] == pytest.approx(
        -826_966.92 + 117_285.74 + 300_000, abs=PENNY
    )
    # the write-off pays 90% of the high-needs deficit at the end of 2025-26
    assert ledger.loc["2026-27", "contribution_write_off"] == pytest.approx(
        0.9 * 809_681.18, abs=PENNY
    )
    # the balance target (2025-26) is tested on the whole DSG: 117,285.74 and 41,411.69
    assert result.summary.target_met is True
    assert result.summary.first_balanced_year == "2025-26"


def test_high_needs_opening_balance_of_its_own(worked_dict: dict[str, Any]) -> None:
    """Other blocks holding £100,000 of surplus at the start: high needs is £100,000 worse."""
    worked_dict["agreement"]["opening_high_needs_balance"] = -1_100_000
    ledger = project(scenario_from_mapping(worked_dict), savings=False).ledger
    assert ledger.loc["2024-25", "cumulative_balance"] == pytest.approx(-826_966.92, abs=PENNY)
    assert ledger.loc["2025-26", "high_needs_cumulative_balance"] == pytest.approx(
        -909_681.18, abs=PENNY
    )
    # so the write-off is 90% of 909,681.18
    assert ledger.loc["2026-27", "contribution_write_off"] == pytest.approx(
        0.9 * 909_681.18, abs=PENNY
    )
