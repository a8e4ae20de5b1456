"""Properties that hold for every valid scenario (hypothesis)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dsg_forecast import Projection, Scenario, compile_scenario, project, run_batch
from dsg_forecast.engine import concat_parameters, simulate
from dsg_forecast.engine.ledger import build_ledger
from tests.strategies import scenarios

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: the conservation and batch properties again with ten times the examples (marked slow)
MANY = settings(SETTINGS, max_examples=600)


@SETTINGS
@given(scenarios())
def test_every_child_accounted_for(scenario: Scenario) -> None:
    """previous + new + net transferred − ceased − aged out = closing, every month."""
    structure, params = compile_scenario(scenario)
    flows = simulate(structure, params)
    assert flows.stock is not None
    total = flows.stock.sum(axis=(2, 3))  # (S, T)
    previous = np.concatenate([params.opening_stock.sum(axis=(1, 2))[:, None], total[:, :-1]], 1)
    inflow = flows.new_plans + flows.transferred - flows.ceased - flows.aged_out
    scale = 1.0 + np.abs(total).max()
    np.testing.assert_allclose(previous + inflow, total, atol=1e-9 * scale)
    np.testing.assert_allclose(flows.stock_by_placement.sum(axis=2), total, atol=1e-9 * scale)
    np.testing.assert_allclose(flows.stock_by_age.sum(axis=2), total, atol=1e-9 * scale)


@SETTINGS
@given(scenarios(with_interventions=False))
def test_transitions_and_overflow_conserve(scenario: Scenario) -> None:
    """They only move children between placements: totals by age never change (where net
    transfers do not depend on the placement)."""
    scenario = scenario.model_copy(update={"net_transfer_by_placement": {}})
    costs = scenario.costs.model_copy(update={"place_funding": {}})  # it needs the places
    still = scenario.model_copy(update={"transitions": [], "capacity": [], "costs": costs})
    moved = simulate(*compile_scenario(scenario))
    unmoved = simulate(*compile_scenario(still))
    scale = 1.0 + np.abs(unmoved.stock_by_age).max()
    np.testing.assert_allclose(moved.stock_by_age, unmoved.stock_by_age, atol=1e-9 * scale)
    np.testing.assert_allclose(moved.new_plans, unmoved.new_plans, atol=1e-9 * scale)
    if not scenario.transitions:
        assert not moved.moves_up.any() and not moved.moves_down.any()


@SETTINGS
@given(scenarios())
def test_stock_never_negative(scenario: Scenario) -> None:
    structure, params = compile_scenario(scenario)
    flows = simulate(structure, params)
    assert flows.stock is not None
    assert flows.stock.min() >= -1e-9
    assert flows.backlog.min() >= -1e-9


@SETTINGS
@given(scenarios(with_interventions=False))
def test_capacity_holds_after_each_month(scenario: Scenario) -> None:
    """Where nothing overflows into a capped placement, it ends each month within its places.

    (Without interventions: a ``places`` lever moves the limit; the lever's own path is
    checked in ``tests/engine/test_levers.py``.)"""
    structure, params = compile_scenario(scenario)
    flows = simulate(structure, params)
    targets = set(structure.capacity_overflow.tolist())
    for c, p in enumerate(structure.capacity_placement):
        if p in targets:
            continue
        places = params.places[c][:, structure.capacity_step[c]]
        assert (flows.stock_by_placement[:, :, p] <= places + 1e-9 * (1 + places)).all()


@SETTINGS
@given(scenarios())
def test_ledger_adds_up(scenario: Scenario) -> None:
    result = project(scenario, savings=False)
    ledger = result.ledger
    monthly = result.monthly
    # money adds up across months and years
    spent = monthly["placement_cost"] + monthly["place_funding"]
    by_fy = spent.groupby(monthly["financial_year"], sort=False).sum()
    np.testing.assert_allclose(ledger["placement_cost"], by_fy, rtol=1e-12, atol=1e-6)
    fees = monthly["fees"].groupby(monthly["financial_year"], sort=False).sum()
    np.testing.assert_allclose(ledger["fees"], fees, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(
        ledger["expenditure"],
        ledger["placement_cost"] + ledger["other_cost"] + ledger["intervention_cost"],
        rtol=1e-12,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        ledger["in_year_balance"], ledger["income"] - ledger["expenditure"], rtol=1e-12, atol=1e-6
    )
    opening = scenario.agreement.opening_balance
    cumulative = opening + (ledger["in_year_balance"] + ledger["contribution"]).cumsum()
    np.testing.assert_allclose(ledger["cumulative_balance"], cumulative, rtol=1e-9, atol=1e-4)
    # spending on placements is place funding, top-ups and fees
    np.testing.assert_allclose(
        ledger["placement_cost"],
        ledger["place_funding"] + ledger["top_up"] + ledger["fees"],
        rtol=1e-9,
        atol=1e-4,
    )
    # income is the block less recoupment plus the other lines
    lines = (
        ledger["high_needs_block"]
        - ledger["recoupment"]
        + ledger["import_export"]
        + ledger["block_transfers"]
        + ledger["other_income"]
    )
    np.testing.assert_allclose(ledger["income"], lines, rtol=1e-9, atol=1e-4)
    # contributions by source add up to the total, and before contributions is what the
    # balance would be with none (those received before the start taken out too)
    sources = ["dfe_safety_valve", "council", "write_off"]
    by_source = sum(ledger[f"contribution_{source}"] for source in sources)
    np.testing.assert_allclose(ledger["contribution"], by_source, rtol=1e-12, atol=1e-6)
    received = scenario.agreement.received_before_start
    before = opening - received.dfe_safety_valve - received.council
    np.testing.assert_allclose(
        ledger["cumulative_balance_before_contributions"],
        before + ledger["in_year_balance"].cumsum(),
        rtol=1e-9,
        atol=1e-4,
    )
    to_date = sum(ledger[f"cumulative_{source}"] for source in sources)
    np.testing.assert_allclose(
        ledger["cumulative_balance"] - ledger["cumulative_balance_before_contributions"],
        to_date,
        rtol=1e-9,
        atol=1e-3,
    )
    # contributions never exceed what was scheduled
    assert (
        ledger["contribution_dfe_safety_valve"]
        <= pd.Series({fy: scenario.agreement.contributions.get(fy, 0.0) for fy in ledger.index})
        + 1e-9
    ).all()
    # within_cap exactly where a cap is set
    for fy, cap in scenario.agreement.deficit_caps.items():
        deficit = -float(ledger.loc[fy, "cumulative_balance"])  # type: ignore[arg-type]
        assert bool(ledger.loc[fy, "within_cap"]) == (deficit <= cap)
    # target and first balanced year agree with the in-year balances
    balances = ledger["in_year_balance"]
    summary = result.summary
    target = scenario.agreement.balance_target
    if target is None:
        assert summary.target_met is None
    elif target not in ledger.index:  # after the projection's end: it cannot be shown met
        assert summary.target_met is False
    else:
        assert summary.target_met == bool((balances.loc[target:] >= 0).all())
    if summary.first_balanced_year is not None:
        assert (balances.loc[summary.first_balanced_year :] >= 0).all()


@SETTINGS
@given(scenarios(), st.integers(2, 7), st.integers(0, 2**32 - 1))
def test_batch_equals_each_alone(scenario: Scenario, count: int, seed: int) -> None:
    """A scenario gives identical numbers alone and inside a batch (any batch size)."""
    structure, params = compile_scenario(scenario)
    rng = np.random.default_rng(seed)
    batch = params.repeat(count)
    batch = batch.replace(
        opening_stock=batch.opening_stock * rng.uniform(0.5, 1.5, (count, 1, 1)),
        unit_cost=batch.unit_cost * rng.uniform(0.5, 1.5, (count, 1, 1)),
        requests_per_year=batch.requests_per_year * rng.uniform(0.5, 1.5, count),
        intervention_on=(rng.uniform(size=batch.intervention_on.shape) < 0.5).astype(float),
    )
    together = run_batch(structure, batch, keep_stock=True)
    for s in range(count):
        alone = run_batch(structure, batch.take([s]), keep_stock=True)
        for name in ("stock", "new_plans", "backlog", "overflow", "placement_cost"):
            assert np.array_equal(getattr(alone.flows, name)[0], getattr(together.flows, name)[s])
        for name in ("cumulative_balance", "in_year_balance", "contribution"):
            assert np.array_equal(getattr(alone.ledger, name)[0], getattr(together.ledger, name)[s])
    # and stacking parameter sets gives the same as repeating
    stacked = concat_parameters([batch.take([s]) for s in range(count)])
    again = run_batch(structure, stacked)
    assert np.array_equal(again.ledger.cumulative_balance, together.ledger.cumulative_balance)


def test_every_ledger_line_has_a_row_per_scenario(wiltshire: Scenario) -> None:
    """Lines no varying value reaches are computed once, yet come back one row per
    scenario, each its own copy, and equal to that scenario's ledger alone."""
    structure, params = compile_scenario(wiltshire)
    batch = params.repeat(3).replace(high_needs_block_growth=np.array([0.02, 0.04, 0.06]))
    flows = simulate(structure, batch, keep_stock=False)
    ledger = build_ledger(
        structure, batch, flows.placement_cost, fees=flows.fees, place_funding=flows.place_funding
    )
    alone = build_ledger(
        structure, batch.take([2]), flows.placement_cost[2:], fees=flows.fees[2:],
        place_funding=flows.place_funding[2:],
    )  # fmt: skip
    for field in fields(ledger):
        if field.name == "has_cap":
            continue
        value = getattr(ledger, field.name)
        assert value.shape[0] == 3, field.name
        assert value.strides[0] != 0, field.name
        np.testing.assert_array_equal(value[2], getattr(alone, field.name)[0], err_msg=field.name)


@SETTINGS
@given(scenarios(), st.floats(0.0, 5.0))
def test_cost_linear_in_unit_cost(scenario: Scenario, factor: float) -> None:
    structure, params = compile_scenario(scenario)
    # an additive unit-cost lever is, by design, not scaled
    assume(not any(e.lever == "unit_cost" and e.kind == "add" for e in structure.effects))
    base = simulate(structure, params, keep_stock=False)
    scaled = simulate(
        structure, params.replace(unit_cost=params.unit_cost * factor), keep_stock=False
    )
    np.testing.assert_allclose(
        scaled.placement_cost, base.placement_cost * factor, rtol=1e-9, atol=1e-6
    )
    np.testing.assert_array_equal(scaled.stock, base.stock)


@SETTINGS
@given(scenarios(with_interventions=False))
def test_intervention_with_no_effect_changes_nothing(scenario: Scenario) -> None:
    data = scenario.model_dump(by_alias=True)
    data["interventions"] = [
        {
            "name": "nothing",
            "start": scenario.start,
            "ramp_months": 2,
            "effects": [
                {"lever": "requests", "multiply": 1.0},
                {"lever": "refusal_rate", "add": 0.0},
                {"lever": "unit_cost", "placement": scenario.placements[0].name, "multiply": 1.0},
            ],
        }
    ]
    with_nothing = Scenario.model_validate(data)
    before = project(scenario)
    after = project(with_nothing)
    np.testing.assert_array_equal(before.flows.stock, after.flows.stock)
    np.testing.assert_array_equal(
        before.ledger_arrays.cumulative_balance, after.ledger_arrays.cumulative_balance
    )
    assert (after.savings["gross_saving"] == 0).all()
    assert (after.savings["net_saving"] == 0).all()


@SETTINGS
@given(scenarios(with_interventions=False))
def test_no_interventions_no_savings(scenario: Scenario) -> None:
    result = project(scenario)
    assert result.savings.empty
    assert result.savings_by_condition.empty


@SETTINGS
@given(scenarios())
def test_savings_are_differences_of_projections(scenario: Scenario) -> None:
    assume(scenario.interventions)
    result = project(scenario)
    without = project(scenario.model_copy(update={"interventions": []}))
    by_condition = result.savings_by_condition
    all_rows = by_condition[by_condition["condition"] == "all"].set_index("financial_year")
    np.testing.assert_allclose(
        all_rows["net_saving"],
        result.ledger["in_year_balance"] - without.ledger["in_year_balance"],
        rtol=1e-9,
        atol=1e-4,
    )


def test_ledger_from_engine_matches_projection(
    worked: Scenario, worked_projection: Projection
) -> None:
    structure, params = compile_scenario(worked)
    flows = simulate(structure, params)
    ledger = build_ledger(structure, params, flows.placement_cost)
    np.testing.assert_array_equal(
        ledger.cumulative_balance[0], worked_projection.ledger["cumulative_balance"].to_numpy()
    )


def _same_whether_stock_is_kept(structure: Any, batch: Any) -> Any:
    """Run the compiled kernel keeping the stock (overflow moved in its month) and not
    (moved as the next month's pass reads each age), and a sweep's lean run: every number
    but the stock is the same, bit for bit. Returns the run that kept the stock."""
    from dsg_forecast.engine import simulate_costs

    kept = simulate(structure, batch, keep_stock=True, engine="numba")
    lean = simulate(structure, batch, keep_stock=False, engine="numba")
    for field in fields(kept):
        if field.name != "stock":
            assert np.array_equal(getattr(lean, field.name), getattr(kept, field.name)), field
    costs = simulate_costs(structure, batch, engine="numba")
    assert np.array_equal(costs.placement_cost, kept.placement_cost)
    assert np.array_equal(costs.fees, kept.fees)
    np.testing.assert_allclose(costs.stock_total, kept.stock_by_placement.sum(axis=2), rtol=1e-14)
    return kept


@SETTINGS
@given(scenarios(), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_numba_engine_equals_numpy_in_every_output(
    scenario: Scenario, count: int, seed: int
) -> None:
    """Every flow the compiled kernel fills agrees with the numpy engine to 1e-9 relative,
    a scenario's numbers under numba do not depend on the batch it runs in, and moving a
    month's overflow as the next month's pass reads each age (unless the stock is kept)
    changes no number (places cut by up to half, so capacity binds)."""
    pytest.importorskip("numba")
    structure, params = compile_scenario(scenario)
    rng = np.random.default_rng(seed)
    batch = params.repeat(count)
    batch = batch.replace(
        opening_stock=batch.opening_stock * rng.uniform(0.5, 1.5, (count, 1, 1)),
        requests_per_year=batch.requests_per_year * rng.uniform(0.5, 1.5, count),
        intervention_on=(rng.uniform(size=batch.intervention_on.shape) < 0.5).astype(float),
        places=tuple(places * rng.uniform(0.5, 1.0, (count, 1)) for places in batch.places),
    )
    _same_whether_stock_is_kept(structure, batch)
    reference = simulate(structure, batch, keep_stock=True)
    compiled = simulate(structure, batch, keep_stock=True, engine="numba")
    for field in fields(reference):
        expected, got = getattr(reference, field.name), getattr(compiled, field.name)
        scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale, err_msg=field.name)
    alone = simulate(structure, batch.take([count - 1]), keep_stock=True, engine="numba")
    for field in fields(reference):
        assert np.array_equal(getattr(alone, field.name)[0], getattr(compiled, field.name)[-1])


def test_overflow_moved_next_month_on_wiltshire(wiltshire: Scenario) -> None:
    """Wiltshire's plan, and with 5% and 10% fewer places: special schools overflow into
    independent ones in a few months, then in most, and Septembers come between an
    overflow and the pass that would move it."""
    pytest.importorskip("numba")
    structure, params = compile_scenario(wiltshire)
    batch = params.repeat(3)
    batch = batch.replace(places=tuple(places * [[1.0], [0.95], [0.9]] for places in batch.places))
    kept = _same_whether_stock_is_kept(structure, batch)
    overflowing = kept.overflow > 0
    assert overflowing[0].mean() < 0.1 < overflowing[2].mean()
    assert (overflowing[:, :-1] & structure.rollover[1:]).any()


@SETTINGS
@given(scenarios(), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_cells_the_kernel_skips_never_hold_plans(scenario: Scenario, count: int, seed: int) -> None:
    """The compiled kernel skips the cells no plan can reach, and the new-plan term where no
    new plans join: in the numpy engine, which computes every cell, the skipped cells hold
    no plans in any month of any scenario, and the compiled kernel's results are the numpy
    engine's. (Here one placement opens empty and takes no new plans below a random age,
    so there are cells to skip.)"""
    pytest.importorskip("numba")
    from dsg_forecast.engine.numba_kernel import kernel_inputs
    from dsg_forecast.engine.prepare import checked_paths, prepare_inputs

    structure, params = compile_scenario(scenario)
    rng = np.random.default_rng(seed)
    n_a, n_p = params.opening_stock.shape[1:]
    assume(n_p > 1)  # the emptied placement's new plans go to another
    empty, other = int(rng.integers(n_p)), int(rng.integers(n_p - 1))
    other += other >= empty
    below = int(rng.integers(1, n_a + 1))
    stock, mix = params.opening_stock.copy(), params.new_plan_mix.copy()
    stock[:, :below, empty] = 0.0
    mix[:, :below, other] += mix[:, :below, empty]
    mix[:, :below, empty] = 0.0
    batch = params.replace(opening_stock=stock, new_plan_mix=mix).repeat(count)
    batch = batch.replace(
        intervention_on=(rng.uniform(size=batch.intervention_on.shape) < 0.5).astype(float)
    )
    prepared = prepare_inputs(structure, batch, checked_paths(structure, batch))
    inputs = kernel_inputs(structure, batch, prepared)
    active, joins = inputs["active"], inputs["joins"]
    reference = simulate(structure, batch, keep_stock=True)
    assert reference.stock is not None
    assert not np.any(reference.stock[:, :, ~active])
    # no scenario sends new plans to a cell outside ``joins``, even after entry shifts
    assert not np.any(prepared.entry[:, ~joins])
    for source, destination in zip(
        prepared.paths.shift_source, prepared.paths.shift_destination, strict=True
    ):
        assert np.all(joins[:, destination] | ~joins[:, source])
    compiled = simulate(structure, batch, keep_stock=True, engine="numba")
    for field in fields(reference):
        expected = getattr(reference, field.name)
        scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
        np.testing.assert_allclose(
            getattr(compiled, field.name), expected, rtol=1e-9, atol=1e-9 * scale
        )


def test_numba_engine_equals_numpy_on_wiltshire(wiltshire: Scenario) -> None:
    """The shipped example exercises every lever kind: transitions acted on, entry shifts,
    capacity with overflow and four interventions ramping in."""
    pytest.importorskip("numba")
    structure, params = compile_scenario(wiltshire)
    reference = simulate(structure, params, keep_stock=True)
    compiled = simulate(structure, params, keep_stock=True, engine="numba")
    for field in fields(reference):
        expected = getattr(reference, field.name)
        np.testing.assert_allclose(
            getattr(compiled, field.name), expected, rtol=1e-9, atol=1e-9, err_msg=field.name
        )


def test_numba_results_do_not_depend_on_the_block_or_lane(wiltshire: Scenario) -> None:
    """A batch longer than the compiled kernel's block (two blocks, the second short, its
    spare lanes repeating its last scenario): each scenario's numbers, wherever it sits,
    are bit for bit those it has alone."""
    pytest.importorskip("numba")
    from dsg_forecast.engine.numba_kernel import BLOCK

    structure, params = compile_scenario(wiltshire)
    count = BLOCK + 7
    rng = np.random.default_rng(13)
    batch = params.repeat(count)
    batch = batch.replace(
        opening_stock=batch.opening_stock * rng.uniform(0.8, 1.2, (count, 1, 1)),
        requests_per_year=batch.requests_per_year * rng.uniform(0.8, 1.2, count),
        intervention_on=(rng.uniform(size=batch.intervention_on.shape) < 0.5).astype(float),
    )
    together = simulate(structure, batch, keep_stock=True, engine="numba")
    for s in (0, BLOCK - 1, BLOCK, count - 1):
        alone = simulate(structure, batch.take([s]), keep_stock=True, engine="numba")
        for field in fields(together):
            assert np.array_equal(getattr(alone, field.name)[0], getattr(together, field.name)[s])


@SETTINGS
@given(scenarios(), st.data())
def test_skipping_invalid_sections_never_invents_a_problem(
    scenario: Scenario, data: st.DataObject
) -> None:
    """Rules across fields run beside field errors on the sections left valid: on a valid
    scenario, leaving any sections out finds nothing."""
    from dsg_forecast.schema.checks import ESSENTIAL_SECTIONS
    from dsg_forecast.schema.parsing import cross_check_partial, scenario_from_mapping

    mapping = scenario.model_dump(by_alias=True, mode="json", exclude_unset=True)
    assert scenario_from_mapping(mapping) == scenario  # the mapping is the same scenario
    optional = sorted(set(Scenario.model_fields) - ESSENTIAL_SECTIONS)
    failed = data.draw(st.sets(st.sampled_from(optional), max_size=4))
    assert cross_check_partial(mapping, failed) == []


@pytest.mark.slow
@MANY
@given(scenarios(), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_conservation_and_batch_with_many_examples(
    scenario: Scenario, count: int, seed: int
) -> None:
    """Every child accounted for, and a batch equal to each scenario alone, on 600 examples."""
    test_every_child_accounted_for.hypothesis.inner_test(scenario)  # type: ignore[attr-defined]
    test_batch_equals_each_alone.hypothesis.inner_test(scenario, count, seed)  # type: ignore[attr-defined]
