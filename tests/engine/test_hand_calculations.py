"""Small cases checked by hand, one mechanism at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dsg_forecast import Scenario, project


def base(**changes: Any) -> Scenario:
    """Two ages × two placements, three years, everything off but what a test turns on."""
    data: dict[str, Any] = {
        "start": "2024-04",
        "end": "2027-03",
        "ages": {"min": 10, "max": 11},
        "placements": [{"name": "mainstream", "tier": 1}, {"name": "special", "tier": 2}],
        "opening_stock": {"mainstream": {10: 100, 11: 50}, "special": {10: 20, 11: 10}},
        "demand": {
            "requests_per_year": 0,
            "new_plan_ages": {10: 1.0},
            "new_plan_mix": {10: {"mainstream": 1.0}},
        },
        "ceasing": {"rates": {10: 0, 11: 0}},
        "costs": {"unit_cost": {"mainstream": 12_000, "special": 24_000}},
        "funding": {"high_needs_block": 2_400_000},
    }
    data.update(changes)
    return Scenario.model_validate(data)


def test_static_stock_costs_by_hand() -> None:
    """No flows: 150 × £12k + 30 × £24k = £2.52m a year; income £2.4m; −£120k a year,
    except that in September 2024 everyone aged 11 leaves and the 10s become 11s."""
    result = project(base())
    monthly = result.monthly
    # April–August 2024: 5 months × (150 × 1,000 + 30 × 2,000) = 5 × 210,000
    assert monthly.loc["2024-04":"2024-08", "placement_cost"].sum() == pytest.approx(1_050_000)
    # September: the 60 aged 11 leave; 100 + 20 become 11; nobody is 10
    assert monthly.loc["2024-09", "aged_out"] == 60
    assert monthly.loc["2024-09", "stock"] == 120
    # September 2024 to March 2025: 7 × (100 × 1,000 + 20 × 2,000)
    assert result.ledger.loc["2024-25", "placement_cost"] == pytest.approx(1_050_000 + 7 * 140_000)
    # 2025-26: April–August 2025 only (5 × 140,000); in September 2025 everyone ages out
    assert result.ledger.loc["2025-26", "placement_cost"] == pytest.approx(700_000)
    assert monthly.loc["2025-09", "aged_out"] == 120
    assert result.ledger.loc["2026-27", "placement_cost"] == 0


def test_static_stock_ledger_by_hand() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25}, opening_stock={"mainstream": {10: 100}, "special": {10: 20}}
        )
    )
    # 100 × £12k + 20 × £24k = £1.68m a year, no rollover loss at these ages
    assert result.ledger["placement_cost"].tolist() == pytest.approx([1_680_000] * 3)
    assert result.ledger["in_year_balance"].tolist() == pytest.approx([720_000] * 3)
    assert result.summary.first_balanced_year == "2024-25"


def test_uplift_and_growth_by_hand() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 100}},
            costs={
                "unit_cost": {"mainstream": 12_000, "special": 0},
                "uplift": 0.1,
                "other_lines": [{"name": "central", "amount": 1000, "growth": 0.5}],
            },
            funding={"high_needs_block": 1_000_000, "growth": 0.2},
        )
    )
    ledger = result.ledger
    assert ledger["placement_cost"].tolist() == pytest.approx([1_200_000, 1_320_000, 1_452_000])
    assert ledger["other_cost"].tolist() == pytest.approx([1000, 1500, 2250])
    assert ledger["income"].tolist() == pytest.approx([1_000_000, 1_200_000, 1_440_000])


def test_ceasing_by_hand() -> None:
    """12% a year, all in July: one July takes 12% of the stock."""
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 100}},
            ceasing={"rates": {10: 0.12, 11: 0.12}, "profile": {"Jul": 1.0}},
        )
    )
    monthly = result.monthly
    assert monthly.loc["2024-07", "ceased"] == pytest.approx(12.0)
    assert monthly.loc["2024-07", "stock"] == pytest.approx(88.0)
    assert monthly.loc["2025-07", "ceased"] == pytest.approx(88 * 0.12)


def test_net_transfers_by_hand() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 120}},
            net_transfer_rate=0.12,
        )
    )
    # 1% a month, compounding
    assert result.monthly.loc["2024-04", "transferred"] == pytest.approx(1.2)
    assert result.monthly.loc["2025-03", "stock"] == pytest.approx(120 * 1.01**12)


def test_net_transfers_by_placement_by_hand() -> None:
    """12% a year overall and a further −12% for special: (1.01)(0.99) a month there."""
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 120}, "special": {10: 100}},
            net_transfer_rate=0.12,
            net_transfer_by_placement={"special": -0.12},
        )
    )
    monthly = result.monthly
    # April: mainstream 120 × 1%, special 100 × (1.01 × 0.99 − 1)
    assert monthly.loc["2024-04", "transferred"] == pytest.approx(1.2 + 100 * (1.01 * 0.99 - 1))
    assert monthly.loc["2025-03", "stock_mainstream"] == pytest.approx(120 * 1.01**12)
    assert monthly.loc["2025-03", "stock_special"] == pytest.approx(100 * (1.01 * 0.99) ** 12)


def test_net_transfer_by_placement_names_a_declared_placement() -> None:
    with pytest.raises(ValueError, match=r"net_transfer_by_placement\.specal"):
        base(opening_stock={"special": {10: 1}}, net_transfer_by_placement={"specal": 0.1})


@pytest.mark.parametrize(
    ("value", "rule"),
    [(1.5, "less than or equal to 1"), (True, "true/false value"), ("x", "valid number")],
)
def test_net_transfer_by_placement_refuses_bad_values(value: object, rule: str) -> None:
    from dsg_forecast import ScenarioError, load_scenario
    from tests.paths import EXAMPLES

    worked = load_scenario(EXAMPLES / "worked_example.yaml")
    with pytest.raises(ScenarioError, match=rf"net_transfer_by_placement\.special: .*{rule}"):
        worked.replace({"net_transfer_by_placement": {"special": value}})


def test_pipeline_by_hand() -> None:
    """1,200 requests a year, flat; 25% refused; lag 1; capacity 60; backlog 30; 50% plans."""
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 0}},
            demand={
                "requests_per_year": 1200,
                "refusal_rate": 0.25,
                "plan_rate": 0.5,
                "assessment_months": 1,
                "assessment_capacity": 60,
                "opening_backlog": 30,
                "new_plan_ages": {10: 1.0},
                "new_plan_mix": {10: {"mainstream": 0.75, "special": 0.25}},
            },
        )
    )
    m = result.monthly
    # 75 ready a month; queue 30 + 75 = 105, serve 60, 45 left; then 45 + 75 = 120 ...
    assert m["backlog"].iloc[:3].tolist() == pytest.approx([45, 60, 75])
    assert m["new_plans"].iloc[0] == pytest.approx(30)
    assert m["stock_special"].iloc[0] == pytest.approx(7.5)
    assert m["requests"].iloc[0] == pytest.approx(100)


def test_transition_counts_moves_by_tier() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 100}, "special": {10: 40}},
            transitions=[
                {"from": "mainstream", "to": "special", "ages": 11, "rate": 0.1},
                {"from": "special", "to": "mainstream", "ages": "11-12", "rate": 0.25},
            ],
        )
    )
    sept = result.monthly.loc["2024-09"]
    assert sept["moves_up"] == pytest.approx(10)
    assert sept["moves_down"] == pytest.approx(10)
    assert sept["stock_mainstream"] == pytest.approx(100)
    assert sept["stock_special"] == pytest.approx(40)
    # rules act on the stock before any of them moved: at 12, 25% of special (40) moves down
    sept25 = result.monthly.loc["2025-09"]
    assert sept25["moves_down"] == pytest.approx(10)
    assert sept25["moves_up"] == 0


def test_capacity_overflow_pro_rata_over_ages() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 0}, "special": {10: 30, 11: 10}},
            capacity=[{"placement": "special", "places": 20, "overflow": "mainstream"}],
        )
    )
    stock = result.stock.loc["2024-04"]
    assert stock.loc[10, "special"] == pytest.approx(15)
    assert stock.loc[11, "special"] == pytest.approx(5)
    assert stock.loc[10, "mainstream"] == pytest.approx(15)
    assert result.monthly.loc["2024-04", "overflow"] == pytest.approx(20)


def test_intervention_ramp_by_hand() -> None:
    """A unit-cost × 0.5 effect over a 4-month ramp: φ = 1/4, 2/4, 3/4, 1."""
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 12}},
            interventions=[
                {
                    "name": "cheaper",
                    "start": "2024-05",
                    "ramp_months": 4,
                    "effects": [{"lever": "unit_cost", "placement": "mainstream", "multiply": 0.5}],
                }
            ],
        )
    )
    cost = result.monthly["placement_cost"].iloc[:6].to_numpy()
    phi = np.array([0, 0.25, 0.5, 0.75, 1, 1])
    np.testing.assert_allclose(cost, 12 * 1000 * (1 - 0.5 * phi))


def test_partial_years_carry_their_months_share() -> None:
    result = project(
        base(
            start="2024-10",
            end="2025-06",
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 0}},
            funding={"high_needs_block": 1_200_000},
            agreement={"contributions": {"2024-25": 100}},
            actuals_to_date={"income": 600_000, "expenditure": 500_000},
        )
    )
    ledger = result.ledger
    assert ledger["income"].tolist() == pytest.approx([600_000 + 600_000, 300_000])
    assert ledger["expenditure"].tolist() == pytest.approx([500_000, 0])


def test_write_off_by_hand() -> None:
    result = project(
        base(
            ages={"min": 0, "max": 25},
            opening_stock={"mainstream": {10: 300}},  # £3.6m a year against £2.4m
            agreement={
                "opening_balance": -1_000_000,
                "write_offs": [{"share": 0.9, "at_end_of": "2024-25", "paid_in": "2026-27"}],
            },
        )
    )
    ledger = result.ledger
    assert ledger.loc["2024-25", "cumulative_balance"] == pytest.approx(-2_200_000)
    assert ledger.loc["2026-27", "contribution"] == pytest.approx(0.9 * 2_200_000)
