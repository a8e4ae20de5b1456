"""Savings targets: modelled net savings against the plan's own targets, rated."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dsg_forecast import project
from dsg_forecast.cli.projection import format_table
from dsg_forecast.schema.parsing import scenario_from_mapping

# MODEL.md §7: "earlier support" (condition 3.1) nets −7,874.21, 289,092.61 and 945,163.39


def test_delivery_against_targets(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"][0]["savings_target"] = {
        "2025-26": 289_092.61,  # met exactly: green
        "2026-27": 1_000_000,  # 94.5% delivered: amber
    }
    result = project(scenario_from_mapping(worked_dict))
    delivery = result.savings_delivery
    by_intervention = delivery[delivery["level"] == "intervention"].set_index("financial_year")
    assert list(by_intervention["rating"]) == ["green", "amber"]
    assert by_intervention.loc["2026-27", "shortfall"] == pytest.approx(54_836.61, abs=0.01)
    assert by_intervention.loc["2026-27", "delivered"] == pytest.approx(0.945163, abs=1e-6)
    # the condition's target is its interventions' targets, against their saving together
    by_condition = delivery[delivery["level"] == "condition"].set_index("financial_year")
    assert list(by_condition["name"]) == ["3.1", "3.1"]
    assert by_condition.loc["2026-27", "net_saving"] == pytest.approx(945_163.39, abs=0.01)
    table = format_table(result)
    assert "Net savings against the plan's targets" in table
    assert re.search(r"earlier support \(intervention\)\s+2026-27\s+1,000,000\s+945,163\s", table)
    assert result.to_dict()["savings_delivery"][1]["rating"] == "amber"


def test_red_below_eighty_percent_and_no_targets(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"][0]["savings_target"] = {"2026-27": 2_000_000}
    delivery = project(scenario_from_mapping(worked_dict)).savings_delivery
    assert list(delivery["rating"]) == ["red", "red"]
    del worked_dict["interventions"][0]["savings_target"]
    result = project(scenario_from_mapping(worked_dict))
    assert result.savings_delivery.empty
    assert "plan's targets" not in format_table(result)
