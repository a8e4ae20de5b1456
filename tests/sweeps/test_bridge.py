"""The variance bridge: Shapley effects that add up to the difference, to the penny."""

from __future__ import annotations

import pytest

from dsg_forecast import Scenario, project
from dsg_forecast.io import load_scenario
from dsg_forecast.sweeps.bridge import BridgeError, bridge
from dsg_forecast.sweeps.parameters import with_values
from tests.paths import ROOT

TREND = ROOT / "examples" / "wiltshire_current_trend_2024.yaml"


@pytest.fixture(scope="module")
def trend() -> Scenario:
    return load_scenario(TREND)


def test_plan_to_trend_adds_up_to_the_penny(wiltshire: Scenario, trend: Scenario) -> None:
    """Issue 10's acceptance: the 2028-29 bridge sums to the difference in in-year balance."""
    bridges = bridge(wiltshire, trend, "2028-29")
    steps = bridges["in_year_balance"]
    plan = float(project(wiltshire, savings=False).ledger["in_year_balance"]["2028-29"])
    current = float(project(trend, savings=False).ledger["in_year_balance"]["2028-29"])
    assert steps.start == pytest.approx(plan, abs=0.005)
    assert steps.end == pytest.approx(current, abs=0.005)
    assert steps.steps["effect"].sum() == pytest.approx(current - plan, abs=0.005)
    plans = bridges["plans"]
    assert plans.steps["effect"].sum() == pytest.approx(plans.total, abs=1e-6)
    # money drivers do not move plans
    effects = dict(zip(plans.steps["driver"], plans.steps["effect"], strict=True))
    assert effects["unit costs"] == effects["income"] == 0.0


def test_one_driver_takes_the_whole_difference(wiltshire: Scenario) -> None:
    dearer = with_values(wiltshire, {"costs.fees.inmss": 70_000})
    steps = bridge(wiltshire, dearer, "2026-27")["in_year_balance"]
    assert list(steps.steps["driver"]) == ["unit costs"]
    assert float(steps.steps["effect"].iloc[0]) == pytest.approx(steps.total, abs=1e-6)
    assert steps.total < 0


def test_a_bridge_is_antisymmetric_and_interactions_are_shared(wiltshire: Scenario) -> None:
    """Shapley values: B to A is minus A to B, driver by driver, whatever the interactions."""
    other = with_values(
        wiltshire, {"costs.fees.inmss": 70_000, "demand.plan_rate": 0.8, "funding.growth": 0.03}
    )
    forward = bridge(wiltshire, other, "2028-29")["in_year_balance"].steps
    back = bridge(other, wiltshire, "2028-29")["in_year_balance"].steps
    ahead = dict(zip(forward["driver"], forward["effect"].to_numpy(dtype=float), strict=True))
    behind = dict(zip(back["driver"], back["effect"].to_numpy(dtype=float), strict=True))
    assert set(ahead) == {"demand", "unit costs", "income"}
    for driver, effect in ahead.items():
        assert behind[driver] == pytest.approx(-effect, abs=1e-6)


def test_a_scenario_bridged_to_itself_has_no_drivers(wiltshire: Scenario) -> None:
    steps = bridge(wiltshire, wiltshire, "2025-26")["in_year_balance"]
    assert steps.steps.empty
    assert steps.total == 0.0


def test_scenarios_that_cannot_be_aligned_are_refused(wiltshire: Scenario, trend: Scenario) -> None:
    shorter = load_scenario(ROOT / "examples" / "worked_example.yaml")  # ends March 2027
    with pytest.raises(BridgeError, match="last months differ"):
        bridge(wiltshire, shorter, "2026-27")
    rules = [t for t in trend.transitions if not (t.from_ == "inmss" and t.to == "special")]
    without = trend.model_copy(update={"transitions": rules})
    with pytest.raises(BridgeError, match="not a valid scenario") as caught:
        bridge(wiltshire, without, "2028-29")
    assert "transition" in str(caught.value)
    with pytest.raises(BridgeError, match="outside the projection"):
        bridge(wiltshire, trend, "2031-32")
    with pytest.raises(BridgeError, match="unknown output"):
        bridge(wiltshire, trend, "2028-29", outputs=("ehcps",))


def test_arguments_of_the_wrong_kind_are_named(wiltshire: Scenario) -> None:
    """A file's path or a projection where a scenario belongs ended in "'str' object has no
    attribute 'start'"; one output's name was read as its letters ("unknown output 'p'")."""
    from typing import Any

    from dsg_forecast.errors import ArgumentTypeError

    given: Any = str(ROOT / "examples" / "wiltshire_current_trend_2024.yaml")
    with pytest.raises(ArgumentTypeError, match="b is a str; give a scenario: dsg_forecast"):
        bridge(wiltshire, given, "2028-29")
    given = project(wiltshire, savings=False)
    with pytest.raises(ArgumentTypeError, match="a is a Projection; give a scenario"):
        bridge(given, wiltshire, "2028-29")
    with pytest.raises(ArgumentTypeError, match="outputs is a str; give a tuple of outputs"):
        bridge(wiltshire, wiltshire, "2028-29", outputs="plans")  # type: ignore[arg-type]
