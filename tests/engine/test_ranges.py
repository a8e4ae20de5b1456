"""Batches built by hand: ``run_batch`` refuses parameters outside their valid values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsg_forecast import Scenario, ScenarioError, compile_scenario, run_batch
from dsg_forecast.engine.ranges import RANGES, check_ranges


def _changed(params: Any, name: str, position: tuple[Any, ...], value: float) -> Any:
    array = np.array(getattr(params, name), dtype=np.float64)
    array[position] = value
    return params.replace(**{name: array})


@pytest.mark.parametrize(
    ("name", "position", "value", "message"),
    [
        ("refusal_rate", (1,), 1.5, "refusal_rate: 1.5 at scenario 1 is above 1; a share must"),
        ("plan_rate", (0,), -0.1, "plan_rate: -0.1 at scenario 0 is below 0"),
        ("requests_growth", (2,), -1.0, "-1 at scenario 2 is -1 or below; a growth a year must"),
        ("opening_stock", (0, 2, 1), -4.0, "-4 at scenario 0, age 5, placement 'special' is below"),
        ("ceasing_rate", (1, 0), 1.2, "1.2 at scenario 1, age 3 is above 1"),
        ("unit_cost", (0, slice(None), 0), -1.0, "'mainstream' is below 0; a cost per plan"),
        ("deficit_cap", (0, 1), -5.0, "-5 at scenario 0, FY 2025-26 is below 0"),
        ("transition_rate", (0, 0), 1.1, "transition rule 0 (mainstream → special) is above 1"),
        ("new_plan_mix", (2, 2, 0), 0.7, "new_plan_mix: sums to 1.2 at scenario 2, age 5;"),
        ("request_profile", (0, 3), 0.3, "request_profile: sums to 1.25 at scenario 0; it must"),
    ],
)
def test_a_batch_outside_the_valid_values_is_refused(
    worked: Scenario, name: str, position: tuple[Any, ...], value: float, message: str
) -> None:
    """A refusal rate of 1.5 gave negative requests and plans without a word: every
    parameter a batch sets by hand is checked as the schema checks a scenario's."""
    structure, params = compile_scenario(worked)
    batch = _changed(params.repeat(3), name, position, value)
    with pytest.raises(ScenarioError, match="params." + name) as caught:
        run_batch(structure, batch)
    assert message in str(caught.value)


def test_every_shipped_example_is_within_range(worked: Scenario, wiltshire: Scenario) -> None:
    for scenario in (worked, wiltshire):
        structure, params = compile_scenario(scenario)
        check_ranges(structure, params.repeat(2))


def test_every_rule_names_a_parameter() -> None:
    from dataclasses import fields

    from dsg_forecast.engine.structure import ModelParameters

    names = {field.name for field in fields(ModelParameters)}
    assert set(RANGES) <= names


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=-0.99, max_value=1.0))
def test_values_inside_the_ranges_are_accepted(share: float, growth: float) -> None:
    from dsg_forecast import load_scenario
    from tests.paths import EXAMPLES

    structure, params = compile_scenario(load_scenario(EXAMPLES / "worked_example.yaml"))
    batch = params.replace(refusal_rate=np.array([share]), requests_growth=np.array([growth]))
    check_ranges(structure, batch)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plan_rate": [0.5]}, "parameter 'plan_rate' is a list, not a numpy array"),
        ({"plan_rate": np.array([True])}, "parameter 'plan_rate' holds bool values"),
        ({"plan_rate": np.array([1])}, "parameter 'plan_rate' holds int64 values"),
        ({"places": []}, "parameter 'places' is a list; give a tuple of float64 arrays"),
    ],
)
def test_parameters_that_are_not_float_arrays_are_refused(
    wiltshire: Scenario, change: dict[str, Any], message: str
) -> None:
    """A list, booleans or integers ended deep inside numpy or numba (a cast error, "no
    matching definition"); numpy read True as 1. Each is refused by name."""
    from dsg_forecast import ShapeError

    structure, params = compile_scenario(wiltshire)
    with pytest.raises(ShapeError, match=message):
        run_batch(structure, params.replace(**change))


def test_structure_and_parameters_given_the_other_way_round(worked: Scenario) -> None:
    structure, params = compile_scenario(worked)
    with pytest.raises(TypeError, match="a ModelParameters and a ModelStructure, not a"):
        run_batch(params, structure)  # type: ignore[arg-type]
