"""Interventions that push a valid base value out of its range are refused before the engine
runs, with a message naming the lever, the rule, the interventions and (in a batch) which
scenarios break it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dsg_forecast import Scenario, ScenarioError, compile_scenario, project
from dsg_forecast.engine import simulate_costs
from dsg_forecast.engine.structure import concat_parameters
from dsg_forecast.schema.parsing import scenario_from_mapping


def with_intervention(data: dict[str, Any], *effects: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["interventions"] = [
        {"name": "push", "condition": "1", "start": "2025-01", "effects": list(effects)}
    ]
    return changed


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        project(scenario_from_mapping(data))
    return "\n".join(str(issue) for issue in info.value.issues)


def test_refusal_rate_pushed_above_one(worked_dict: dict[str, Any]) -> None:
    text = refusal(with_intervention(worked_dict, {"lever": "refusal_rate", "add": 0.95}))
    assert "lever 'refusal_rate' leaves [0, 1] once interventions ['push'] apply" in text


def test_unit_cost_pushed_below_zero(worked_dict: dict[str, Any]) -> None:
    effect = {"lever": "unit_cost", "placement": "mainstream", "add": -20_000}
    text = refusal(with_intervention(worked_dict, effect))
    assert "lever 'unit_cost' falls below 0" in text


def test_transition_rate_pushed_above_one(worked_dict: dict[str, Any]) -> None:
    effect = {"lever": "transition", "from": "mainstream", "to": "special", "multiply": 20}
    text = refusal(with_intervention(worked_dict, effect))
    assert "lever 'transition' takes a rate out of [0, 1]" in text


def two_rules_out_of_mainstream(data: dict[str, Any]) -> dict[str, Any]:
    """Two rules out of mainstream at age 5 whose rates (0.10 + 0.50) are valid together."""
    changed = copy.deepcopy(data)
    changed["transitions"].append({"from": "mainstream", "to": "inmss", "ages": 5, "rate": 0.5})
    return changed


def test_rates_out_of_one_placement_pushed_above_one(worked_dict: dict[str, Any]) -> None:
    # 0.10 × 6 = 0.60 is a valid rate on its own, but 0.60 + 0.50 of age-5 mainstream leaves
    effect = {"lever": "transition", "from": "mainstream", "to": "special", "multiply": 6}
    text = refusal(with_intervention(two_rules_out_of_mainstream(worked_dict), effect))
    assert "lever 'transition' makes rates out of one placement at one age exceed 1" in text
    assert "takes a rate out of [0, 1]" not in text


def test_rates_that_stay_within_one_are_accepted(worked_dict: dict[str, Any]) -> None:
    effect = {"lever": "transition", "from": "mainstream", "to": "special", "multiply": 5}
    project(
        scenario_from_mapping(with_intervention(two_rules_out_of_mainstream(worked_dict), effect))
    )


def test_a_batch_names_how_many_scenarios_break_a_rule_and_the_first(
    worked_dict: dict[str, Any],
) -> None:
    base = two_rules_out_of_mainstream(worked_dict)
    compiled = [
        compile_scenario(
            scenario_from_mapping(
                with_intervention(
                    base,
                    {"lever": "transition", "from": "mainstream", "to": "special", "multiply": m},
                )
            )
        )
        for m in (2.0, 7.0, 3.0, 8.0)
    ]
    structure = compiled[0][0]
    params = concat_parameters([part for _, part in compiled])
    with pytest.raises(ScenarioError) as info:
        simulate_costs(structure, params)
    text = "\n".join(str(issue) for issue in info.value.issues)
    assert "exceed 1 in 2 of 4 scenarios (first: 1)" in text


@pytest.mark.parametrize(("multiply", "refused"), [(1.1, False), (1.5, True)])
def test_overlapping_age_bands_are_summed_where_they_overlap(
    worked_dict: dict[str, Any], multiply: float, refused: bool
) -> None:
    # rules out of special at ages 3-5 (0.50) and 5-6 (0.40) overlap only at age 5
    data = copy.deepcopy(worked_dict)
    data["transitions"] = [
        {"from": "special", "to": "mainstream", "ages": "3-5", "rate": 0.5},
        {"from": "special", "to": "inmss", "ages": "5-6", "rate": 0.4},
    ]
    effect = {"lever": "transition", "from": "special", "to": "mainstream", "multiply": multiply}
    scenario = scenario_from_mapping(with_intervention(data, effect))
    if refused:  # 0.75 + 0.40 at age 5
        with pytest.raises(ScenarioError, match="out of one placement at one age exceed 1"):
            project(scenario)
    else:  # 0.55 + 0.40 at age 5
        project(scenario)


def test_a_lever_no_varying_effect_reaches_is_resolved_once(wiltshire: Scenario) -> None:
    """Issue 13: when one effect's size varies by scenario, levers acted on only by effects
    the same for every scenario stay one row (computed once), and every path equals the
    scenario's own, bit for bit."""
    import numpy as np

    from dsg_forecast.engine.levers import resolve_levers

    structure, params = compile_scenario(wiltshire)
    varied = [e for e, effect in enumerate(structure.effects) if effect.lever == "requests"]
    batch = params.repeat(4)
    sizes = np.array(batch.effect_value)
    sizes[:, varied[0]] = [0.80, 0.85, 0.90, 0.95]
    batch = batch.replace(effect_value=sizes)
    paths = resolve_levers(structure, batch)
    assert paths.annual_requests.strides[0] != 0  # the varied effect's lever: per scenario
    for affine in (paths.transition, paths.unit_cost, paths.ceasing):
        assert affine.scale.strides[0] == 0 and affine.shift.strides[0] == 0  # one row
    for s in range(4):
        alone = resolve_levers(structure, batch.take([s]))
        for name in ("annual_requests", "refusal_rate", "places", "shift_share"):
            assert np.array_equal(getattr(paths, name)[s], getattr(alone, name)[0]), name
        for name in ("transition", "unit_cost", "ceasing"):
            mine, theirs = getattr(paths, name), getattr(alone, name)
            assert np.array_equal(mine.scale[s], theirs.scale[0]), name
            assert np.array_equal(mine.shift[s], theirs.shift[0]), name


def test_uplift_factors_are_each_scenarios_own_when_one_placement_varies(
    wiltshire: Scenario,
) -> None:
    """The uplift's powers are taken only where a placement's uplift differs between
    scenarios; every scenario's factors are still ``(1 + uplift)^k``, bit for bit, as
    computed for it alone."""
    import numpy as np

    from dsg_forecast.engine.prepare import per_scenario_inputs

    structure, params = compile_scenario(wiltshire)
    batch = params.repeat(3)
    uplift = np.array(batch.uplift)
    uplift[:, 3] = [0.0, 0.031, 0.2]
    batch = batch.replace(uplift=uplift)
    _, factors, _ = per_scenario_inputs(structure, batch)
    years = np.arange(structure.n_years, dtype=np.float64)
    expected = (1.0 + uplift[:, None, :]) ** years[None, :, None]
    assert np.array_equal(factors, expected)
    for s in range(3):
        _, alone, _ = per_scenario_inputs(structure, batch.take([s]))
        assert np.array_equal(factors[s], alone[0])
