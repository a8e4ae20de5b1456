"""Contributions by source, against hand calculations on MODEL.md §7's worked example.

The worked example's in-year balances are −126,966.92, −282,714.26 and −558,588.31 (£) in
2024-25..2026-27, whatever its contributions, so each case below is worked out by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from dsg_forecast import project
from dsg_forecast.schema.parsing import scenario_from_mapping

PENNY = 0.005
IN_YEAR = (-126_966.92, -282_714.26, -558_588.31)


def ledger_of(data: dict[str, Any]) -> Any:
    return project(scenario_from_mapping(data), savings=False).ledger


def test_worked_example_sources(worked_dict: dict[str, Any]) -> None:
    """Safety Valve 300,000 twice, then the 90% write-off of the 2025-26 deficit."""
    ledger = ledger_of(worked_dict)
    assert list(ledger["contribution_dfe_safety_valve"]) == [300_000.0, 300_000.0, 0.0]
    assert list(ledger["contribution_council"]) == [0.0, 0.0, 0.0]
    assert ledger["contribution_write_off"].tolist() == pytest.approx(
        [0.0, 0.0, 0.9 * 809_681.18], abs=PENNY
    )
    # before contributions: −1,000,000 plus the in-year balances
    assert ledger["cumulative_balance_before_contributions"].tolist() == pytest.approx(
        [-1_126_966.92, -1_409_681.18, -1_968_269.49], abs=PENNY
    )
    assert ledger["cumulative_dfe_safety_valve"].tolist() == pytest.approx(
        [300_000, 600_000, 600_000]
    )


def test_council_contributions_and_received_before_start(worked_dict: dict[str, Any]) -> None:
    agreement = worked_dict["agreement"]
    agreement["council_contributions"] = {"2026-27": 100_000}
    agreement["received_before_start"] = {"dfe_safety_valve": 200_000, "council": 50_000}
    ledger = ledger_of(worked_dict)
    assert ledger.loc["2026-27", "contribution_council"] == 100_000
    # 2026-27: −809,681.18 − 558,588.31 + 728,713.06 (write-off) + 100,000
    assert ledger.loc["2026-27", "cumulative_balance"] == pytest.approx(-539_556.43, abs=0.01)
    # the 250,000 received before the start is taken out of the opening balance
    assert ledger.loc["2024-25", "cumulative_balance_before_contributions"] == pytest.approx(
        -1_000_000 - 250_000 + IN_YEAR[0], abs=PENNY
    )
    assert ledger.loc["2024-25", "cumulative_dfe_safety_valve"] == 500_000
    assert ledger.loc["2026-27", "cumulative_council"] == 150_000


def test_instalment_withheld_after_a_missed_cap(worked_dict: dict[str, Any]) -> None:
    """2024-25 ends £826,966.92 in deficit against a £500,000 cap: 2025-26's is withheld."""
    agreement = worked_dict["agreement"]
    agreement["deficit_caps"] = {"2024-25": 500_000}
    agreement["withhold_when_conditions_missed"] = True
    ledger = ledger_of(worked_dict)
    assert list(ledger["contribution_dfe_safety_valve"]) == [300_000.0, 0.0, 0.0]
    assert ledger.loc["2025-26", "cumulative_balance"] == pytest.approx(
        -826_966.92 + IN_YEAR[1], abs=PENNY
    )
    # without the rule it is paid
    agreement["withhold_when_conditions_missed"] = False
    assert ledger_of(worked_dict).loc["2025-26", "contribution_dfe_safety_valve"] == 300_000


def test_write_off_replaces_later_safety_valve_instalments(worked_dict: dict[str, Any]) -> None:
    """A 2026-27 instalment is not paid on top of the write-off paid that year, unless asked."""
    agreement = worked_dict["agreement"]
    agreement["contributions"]["2026-27"] = 300_000
    ledger = ledger_of(worked_dict)
    assert ledger.loc["2026-27", "contribution_dfe_safety_valve"] == 0.0
    assert ledger.loc["2026-27", "cumulative_balance"] == pytest.approx(-639_556.42, abs=PENNY)
    agreement["write_offs"][0]["replaces_safety_valve"] = False
    ledger = ledger_of(worked_dict)
    assert ledger.loc["2026-27", "contribution_dfe_safety_valve"] == 300_000
    assert ledger.loc["2026-27", "cumulative_balance"] == pytest.approx(-339_556.42, abs=PENNY)


def test_deficits_at_override_end_and_at_balance(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["statutory_override_end"] = "2026-03"
    summary = project(scenario_from_mapping(worked_dict), savings=False).summary
    assert summary.override_end_year == "2025-26"
    assert summary.deficit_at_override_end == pytest.approx(809_681.18, abs=PENNY)
    assert summary.deficit_at_override_end_before_contributions == pytest.approx(
        1_409_681.18, abs=PENNY
    )
    assert summary.deficit_at_balance is None  # never balanced
    # the default, 31 March 2028, lies after this projection
    worked_dict["agreement"].pop("statutory_override_end")
    summary = project(scenario_from_mapping(worked_dict), savings=False).summary
    assert summary.override_end_year is None
    assert summary.deficit_at_override_end is None


def test_deficit_at_the_first_balanced_year(worked_dict: dict[str, Any]) -> None:
    """Enough income from 2025-26 on balances both later years."""
    worked_dict["funding"]["block_transfers"] = {"2025-26": 500_000, "2026-27": 700_000}
    summary = project(scenario_from_mapping(worked_dict), savings=False).summary
    assert summary.first_balanced_year == "2025-26"
    # 2025-26 in year: −282,714.26 + 380,000 (500,000 in place of the example's 120,000)
    # before contributions: −1,000,000 − 126,966.92 + 97,285.74
    assert summary.deficit_at_balance_before_contributions == pytest.approx(
        1_000_000 + 126_966.92 - 97_285.74, abs=PENNY
    )
    # after: the Safety Valve's 600,000 (no write-off: nothing stands at the end of 2025-26
    # beyond 429,681.18, 90% of which is paid in 2026-27, after the balanced year)
    assert summary.deficit_at_balance == pytest.approx(
        1_000_000 + 126_966.92 - 97_285.74 - 600_000, abs=PENNY
    )
