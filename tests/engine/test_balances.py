"""The sweep's lean ledger: ``build_balances`` gives ``build_ledger``'s balances, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from dsg_forecast import Scenario, compile_scenario
from dsg_forecast.engine import simulate_costs
from dsg_forecast.engine.ledger import BalanceArrays, build_balances, build_ledger


def _both(scenario: Scenario, vary: bool) -> tuple[object, BalanceArrays]:
    structure, params = compile_scenario(scenario)
    batch = params.repeat(4)
    if vary:  # a varying top-up, and a varying growth of the high needs block
        top_up = np.array(batch.unit_cost)
        top_up[:, :, 0] *= np.array([0.9, 1.0, 1.1, 1.3])[:, None]
        growth = np.array(batch.high_needs_block_growth)
        growth[:] = [0.0, 0.02, 0.05, 0.08]
        batch = batch.replace(unit_cost=top_up, high_needs_block_growth=growth)
    costs = simulate_costs(structure, batch)
    fees, place_funding = costs.fees, costs.place_funding
    ledger = build_ledger(
        structure, batch, costs.placement_cost, fees=fees, place_funding=place_funding
    )
    balances = build_balances(
        structure, batch, costs.placement_cost, fees=fees, place_funding=place_funding
    )
    return ledger, balances


@pytest.mark.parametrize("vary", [False, True])
@pytest.mark.parametrize("name", ["worked", "wiltshire"])
def test_balances_are_the_ledgers_own(
    name: str, vary: bool, request: pytest.FixtureRequest
) -> None:
    ledger, balances = _both(request.getfixturevalue(name), vary)
    for field in BalanceArrays.__dataclass_fields__:
        mine, theirs = getattr(balances, field), getattr(ledger, field)
        assert mine.shape == theirs.shape, field
        assert np.array_equal(mine, theirs), field
    if vary:  # the scenarios differ: each has its own row
        assert len(set(balances.cumulative_balance[:, -1])) == 4


def test_the_ledger_refuses_inputs_of_the_wrong_kind_or_shape() -> None:
    """A scenario where the structure belongs ended in an AttributeError, a monthly series of
    another shape in numpy's AxisError; parts of different structures in numpy's "all the
    input array dimensions" and a list of something else in a TypeError."""
    from dsg_forecast import load_scenario
    from dsg_forecast.engine import concat_parameters, simulate
    from dsg_forecast.errors import ArgumentTypeError, ShapeError
    from tests.paths import EXAMPLES

    scenario = load_scenario(EXAMPLES / "worked_example.yaml")
    structure, params = compile_scenario(scenario)
    cost = simulate(structure, params).placement_cost
    for builder in (build_ledger, build_balances):
        with pytest.raises(ArgumentTypeError, match="not a ModelStructure and a ModelParameters"):
            builder(scenario, params, cost)  # type: ignore[arg-type]
        with pytest.raises(
            ShapeError, match=r"placement_cost has shape \(1, 35\); it must be \(1, 36\)"
        ):
            builder(structure, params, cost[:, 1:])
        with pytest.raises(ShapeError, match="placement_cost is of type list; give a float array"):
            builder(structure, params, cost.tolist())
    other = compile_scenario(load_scenario(EXAMPLES / "wiltshire_plan_2024.yaml"))[1]
    with pytest.raises(ShapeError, match="the parts are not of one structure"):
        concat_parameters([params, other])
    with pytest.raises(ArgumentTypeError, match="parts is a list holding ModelParameters, str"):
        concat_parameters([params, "x"])  # type: ignore[list-item]
    with pytest.raises(ArgumentTypeError, match="parts is an empty list"):
        concat_parameters([])
