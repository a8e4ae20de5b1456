"""The compiled lever pass gives the numpy path's inputs bit for bit, and its messages."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsg_forecast import Scenario, ScenarioError, compile_scenario
from dsg_forecast.engine import checked_paths, prepare_inputs
from dsg_forecast.engine.levers import Affine, lever_violations
from dsg_forecast.engine.prepare import Prepared
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from tests.strategies import scenarios

pytest.importorskip("numba")

from dsg_forecast.engine.numba_levers import prepare_compiled

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Paths the compiled pass does not keep (inputs of ``ready``, not read by the kernel).
RELEASED = {"annual_requests", "refusal_rate"}


def varied(params: ModelParameters, count: int, seed: int) -> ModelParameters:
    """Return ``count`` scenarios that differ in demand, costs, ceasing, effects and which
    interventions are on (some levers may leave their range: both paths must then agree on
    that too)."""
    rng = np.random.default_rng(seed)
    batch = params.repeat(count)
    effects = batch.effect_value.shape[1]
    return batch.replace(
        requests_per_year=batch.requests_per_year * rng.uniform(0.5, 1.5, count),
        requests_growth=rng.uniform(-0.05, 0.15, count),
        refusal_rate=rng.uniform(0.0, 0.4, count),
        effect_value=batch.effect_value * rng.uniform(0.5, 1.5, (count, effects)),
        unit_cost=batch.unit_cost * rng.uniform(0.5, 1.5, (count, 1, 1)),
        ceasing_rate=np.minimum(batch.ceasing_rate * rng.uniform(0.5, 3.0, (count, 1)), 1.0),
        intervention_on=(rng.uniform(size=batch.intervention_on.shape) < 0.7).astype(float),
    )


def assert_same_inputs(reference: Prepared, compiled: Prepared) -> None:
    """Every input the kernel reads is the same, bit for bit, in the same shape."""

    def same(expected: Any, got: Any, name: str) -> None:
        if isinstance(expected, Affine):
            for part in ("scale", "shift", "slot"):
                same(getattr(expected, part), getattr(got, part), f"{name}.{part}")
            return
        assert got.shape == expected.shape, name
        assert np.array_equal(got, expected), name

    for field in fields(reference.paths):
        if field.name not in RELEASED:
            same(
                getattr(reference.paths, field.name),
                getattr(compiled.paths, field.name),
                field.name,
            )
    for field in fields(reference):
        if field.name != "paths":
            same(getattr(reference, field.name), getattr(compiled, field.name), field.name)


def messages(structure: ModelStructure, params: ModelParameters) -> list[str]:
    """The compiled pass's range messages (empty when every lever stays in range)."""
    try:
        prepare_compiled(structure, params)
    except ScenarioError as error:
        return [issue.message for issue in error.issues]
    return []


@SETTINGS
@given(scenarios(), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_compiled_levers_equal_numpy_bit_for_bit(scenario: Scenario, count: int, seed: int) -> None:
    """Random scenarios, batches of 1 to 70 (more than one group of 32): the same numbers,
    and the same messages for levers pushed out of range."""
    structure, params = compile_scenario(scenario)
    batch = varied(params, count, seed)
    reference = prepare_inputs(structure, batch, checked_paths(structure, batch, check=False))
    assert_same_inputs(reference, prepare_compiled(structure, batch, check=False))
    paths = checked_paths(structure, batch, check=False)
    assert messages(structure, batch) == lever_violations(structure, batch, paths)


def test_wiltshire_sweep_chunk_equal_numpy(wiltshire: Scenario) -> None:
    """The reconstructed Wiltshire plan, with a sweep's varying effects and one shared row for
    every lever no varying value reaches (zero-stride, as in the numpy path)."""
    structure, params = compile_scenario(wiltshire)
    rng = np.random.default_rng(7)
    batch = params.repeat(100)
    sizes = np.array(batch.effect_value)  # writable: vary two effects, as the sweep does
    sizes[:, 0] = rng.uniform(0.84, 1.0, 100)
    sizes[:, 4] = rng.choice([60.0, 120.0, 180.0], 100)
    batch = batch.replace(effect_value=sizes, requests_growth=rng.uniform(0.0, 0.1, 100))
    reference = prepare_inputs(structure, batch, checked_paths(structure, batch))
    compiled = prepare_compiled(structure, batch)
    assert_same_inputs(reference, compiled)
    assert compiled.paths.unit_cost.scale.strides[0] == 0  # no varying value reaches it
    assert compiled.paths.places.strides[0] != 0


def test_a_batch_names_the_same_scenarios_as_numpy(worked_dict: dict[str, Any]) -> None:
    """Refusal pushed above 1 in some scenarios of a batch: the message counts and names the
    first, as the numpy path does."""
    from dsg_forecast.schema.parsing import scenario_from_mapping

    data = dict(worked_dict)
    data["interventions"] = [
        {"name": "push", "condition": "1", "start": "2025-01",
         "effects": [{"lever": "refusal_rate", "add": 0.95}]}
    ]  # fmt: skip
    structure, params = compile_scenario(scenario_from_mapping(data))
    batch = params.repeat(5)
    batch = batch.replace(intervention_on=np.array([[0.0], [1.0], [0.0], [1.0], [0.0]]))
    paths = checked_paths(structure, batch, check=False)
    expected = lever_violations(structure, batch, paths)
    assert expected and "in 2 of 5 scenarios (first: 1)" in expected[0]
    assert messages(structure, batch) == expected


def test_the_compiled_program_is_built_once_per_structure(wiltshire: Scenario) -> None:
    """A sweep's chunks share one structure, so its program (the effects as the compiled
    pass reads them) is built once; a changed copy of the structure gets its own."""
    from dataclasses import replace

    from dsg_forecast.engine.numba_levers import _program, _program_of

    structure, _ = compile_scenario(wiltshire)
    program = _program_of(structure)
    assert _program_of(structure) is program
    assert not program["kind"].flags.writeable
    fewer = replace(structure, effects=structure.effects[:2])
    other = _program_of(fewer)
    assert other is not program and len(other["kind"]) == 2
    fresh = _program(fewer)
    for name in ("kind", "lever_of", "intervention", "start", "columns", "checks"):
        assert np.array_equal(other[name], fresh[name]), name
