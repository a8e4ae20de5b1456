"""Map dotted paths of a scenario onto the engine's parameter arrays.

A path such as ``costs.unit_cost.inmss`` or ``interventions[0].effects[0].multiply`` names a
number in the scenario. :func:`map_parameter` finds which entries of
:class:`~dsg_forecast.engine.structure.ModelParameters` it drives by compiling the scenario with the
number nudged, and checks that the relation is linear and leaves the model's structure
alone. A sweep then writes a million values straight into the arrays, with no
:class:`~dsg_forecast.schema.Scenario` per draw; every number the compiler passes through
linearly can be swept, whatever its section.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Final

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.schema.parsing import scenario_from_mapping
from dsg_forecast.schema.paths import locate as _locate
from dsg_forecast.schema.paths import parse_path
from dsg_forecast.schema.scenario import Scenario

_STRUCTURAL: Final = (
    "changing it changes the model's structure (its months, ages, rules, caps or timings), "
    "so it cannot be swept; sweep a number instead"
)


@dataclass(frozen=True, slots=True)
class Target:
    """One parameter entry a path drives: ``entry = offset + coefficient × value``."""

    field: str
    """A :class:`ModelParameters` field name."""
    index: tuple[int, ...]
    """Index of the entry without the scenario axis (for ``places``: capacity, step)."""
    offset: float
    coefficient: float


@dataclass(frozen=True, slots=True)
class ParameterMap:
    """How a dotted path drives the engine's parameters."""

    path: str
    base_value: float
    """The value in the base scenario."""
    targets: tuple[Target, ...]


def _with_value(data: dict[str, Any], tokens: list[str], path: str, value: float) -> Scenario:
    container, key = _locate(data, tokens, path)
    previous = container[key] if (isinstance(container, list) or key in container) else None
    container[key] = value
    try:
        return scenario_from_mapping(data, every_problem=False)  # the base is valid
    finally:
        if previous is None and isinstance(container, dict):
            container.pop(key, None)
        else:
            container[key] = previous


def _same_structure(a: ModelStructure, b: ModelStructure) -> bool:
    """Whether two structures are the same, but for which placements are priced by age.

    A path may make a placement's cost per plan vary with age: the sweep then prices that
    placement by age (:func:`priced_as_swept`) rather than refusing the path.
    """
    for field in fields(a):
        if field.name == "priced_by_age":
            continue
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, np.ndarray):
            if left.shape != right.shape or not np.array_equal(left, right):
                return False
        elif left != right:
            return False
    return True


def _entries(params: ModelParameters) -> dict[tuple[str, tuple[int, ...]], FloatArray]:
    """Every parameter array of one scenario, keyed by (field, capacity index or ())."""
    out: dict[tuple[str, tuple[int, ...]], FloatArray] = {}
    for field in fields(params):
        value = getattr(params, field.name)
        if isinstance(value, tuple):
            for c, array in enumerate(value):
                out[(field.name, (c,))] = array[0]
        else:
            out[(field.name, ())] = value[0]
    return out


def value_at(scenario: Scenario, path: str) -> float:
    """Return the number a path names in a scenario (0 for an absent entry of a mapping).

    Parameters
    ----------
    scenario
        The scenario.
    path
        A dotted path naming a number.

    Returns
    -------
    float
        The number.

    Raises
    ------
    ScenarioError
        If the path does not name a number.
    """
    tokens = parse_path(path)
    data = scenario.model_dump(by_alias=True)
    container, key = _locate(data, tokens, path)
    present = isinstance(container, list) or key in container
    if not present:
        # an absent entry of a mapping (a year's contribution, a placement's uplift) counts
        # as 0; an absent field of a section is a misspelling
        try:
            _with_value(data, tokens, path, 0.0)
        except ScenarioError as exc:
            if any("unknown key" in issue.message for issue in exc.issues):
                raise ScenarioError(
                    [
                        Issue(
                            path,
                            f"{path} is not in the scenario; it has {sorted(map(str, container))}",
                        )
                    ]
                ) from None
    value = container[key] if present else 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "unset" if value is None else type(value).__name__
        hint = (
            " (address one entry, for example [16] or [2024-25])" if isinstance(value, dict) else ""
        )
        raise ScenarioError([Issue(path, f"is {kind}, not a number, so it cannot be swept{hint}")])
    return float(value)


def check_values(
    scenario: Scenario, path: str, low: float, high: float, *, source: str = "the sweep draws"
) -> None:
    """Validate the scenario with the path at ``low`` and at ``high``.

    Scalar rules are intervals, so the extremes of a sample decide whether every draw is
    valid. The error names the path, the value and the rule broken.

    Parameters
    ----------
    scenario
        The base scenario.
    path
        The swept path.
    low, high
        The smallest and largest values the sweep draws (or a solve or a fit may try).
    source
        What gives the values, for the message: "the sweep draws 5, which breaks a rule".

    Raises
    ------
    ScenarioError
        Naming the value drawn and the rule it breaks.
    """
    tokens = parse_path(path)
    data = scenario.model_dump(by_alias=True)
    for value in dict.fromkeys((low, high)):
        try:
            _with_value(data, tokens, path, value)
        except ScenarioError as exc:
            rules = "; ".join(str(issue) for issue in exc.issues)
            raise ScenarioError(
                [Issue(path, f"{source} {value:g}, which breaks a rule: {rules}")]
            ) from None


def _probe(
    structure: ModelStructure,
    data: dict[str, Any],
    tokens: list[str],
    path: str,
    base_value: float,
) -> tuple[float, tuple[ModelParameters, ModelParameters]]:
    """Compile the scenario at two probe values of a path, ``base + step`` and ``base + 2 step``.

    Tries steps from the value's scale down to a millionth of it, each way, and keeps the
    first whose two probes are valid scenarios.
    """
    scale = max(abs(base_value), 1.0)
    refusal = ""
    for step in (scale, -scale, scale * 1e-3, -scale * 1e-3, scale * 1e-6, -scale * 1e-6):
        try:
            one = _with_value(data, tokens, path, base_value + step)
            two = _with_value(data, tokens, path, base_value + 2 * step)
        except ScenarioError as exc:
            refusal = refusal or str(exc.issues[0])
            continue
        structure_one, params_one = compile_scenario(one)
        structure_two, params_two = compile_scenario(two)
        if not (
            _same_structure(structure, structure_one) and _same_structure(structure, structure_two)
        ):
            raise ScenarioError([Issue(path, _STRUCTURAL)])
        return step, (params_one, params_two)
    raise ScenarioError(
        [
            Issue(
                path,
                f"no value near {base_value:g} gives a valid scenario, so it cannot be "
                f"swept (for example: {refusal})",
            )
        ]
    )


def _linear_targets(
    path: str,
    base_value: float,
    step: float,
    base: dict[tuple[str, tuple[int, ...]], FloatArray],
    probes: tuple[ModelParameters, ModelParameters],
) -> list[Target]:
    """Every parameter entry the probes moved, as ``offset + coefficient × value``.

    Raises
    ------
    ScenarioError
        If an entry does not move linearly with the value.
    """
    first, second = _entries(probes[0]), _entries(probes[1])
    targets: list[Target] = []
    with np.errstate(invalid="ignore"):
        for key, values in base.items():
            change_one = first[key] - values
            change_two = second[key] - values
            moved = np.flatnonzero(
                (np.abs(change_one) > 0) & np.isfinite(change_one) | (np.abs(change_two) > 0)
            )
            for flat in moved:
                d1, d2 = float(change_one.flat[flat]), float(change_two.flat[flat])
                if not np.isfinite(d1) or abs(d2 - 2 * d1) > 1e-9 * (abs(d1) + abs(d2)):
                    message = "the model does not depend on it linearly, so it cannot be swept"
                    raise ScenarioError([Issue(path, message)])
                coefficient = d1 / step
                if abs(coefficient - round(coefficient)) < 1e-12:
                    coefficient = float(round(coefficient))
                old = float(values.flat[flat])
                offset = old - coefficient * base_value
                if abs(offset) <= 1e-12 * max(1.0, abs(old)):
                    offset = 0.0
                index = tuple(int(i) for i in np.unravel_index(flat, values.shape))
                field, capacity = key
                targets.append(Target(field, (*capacity, *index), offset, coefficient))
    return targets


def map_parameter(scenario: Scenario, path: str) -> ParameterMap:
    """Find which engine parameters a path drives, and how.

    Parameters
    ----------
    scenario
        The base scenario.
    path
        A dotted path naming a number.

    Returns
    -------
    ParameterMap
        Each parameter entry the path drives, as ``offset + coefficient × value``.

    Raises
    ------
    ScenarioError
        If the path does not name a number, changes the model's structure (an age, a
        month, a ramp, whether a cap exists, ...) or does not act linearly.
    """
    base_value = value_at(scenario, path)
    tokens = parse_path(path)
    data = scenario.model_dump(by_alias=True)
    container, key = _locate(data, tokens, path)
    structure, params = compile_scenario(scenario)
    if isinstance(container, dict) and key not in container:
        # probe from the entry present at 0: an absent entry may fall back to a default
        container[key] = base_value
        structure_filled, params = compile_scenario(scenario_from_mapping(data))
        if not _same_structure(structure, structure_filled):
            raise ScenarioError([Issue(path, _STRUCTURAL)])
    step, probes = _probe(structure, data, tokens, path, base_value)
    targets = _linear_targets(path, base_value, step, _entries(params), probes)
    if not targets:
        raise ScenarioError([Issue(path, "changing it changes no number the model uses")])
    return ParameterMap(path, base_value, tuple(targets))


def apply_values(
    params: ModelParameters, maps: list[ParameterMap], values: FloatArray
) -> ModelParameters:
    """Return a batch with each path set to its column of ``values`` (n, d).

    ``params`` is one scenario (S = 1); fields no path touches stay zero-stride views.

    Parameters
    ----------
    params
        The base scenario's parameters (S = 1).
    maps
        How each path drives the parameters.
    values : FloatArray, shape (n, d)
        Each scenario's value of each path.

    Returns
    -------
    ModelParameters
        A batch of n scenarios; parameters no path drives stay zero-stride views.
    """
    count = values.shape[0]
    batch = params.repeat(count)
    changed: dict[str, Any] = {}
    for column, mapping in enumerate(maps):
        for target in mapping.targets:
            if target.field not in changed:
                current = getattr(batch, target.field)
                changed[target.field] = (
                    [np.array(array) for array in current]
                    if isinstance(current, tuple)
                    else np.array(current)
                )
            entry = target.offset + target.coefficient * values[:, column]
            if target.field == "places":
                c, step = target.index
                changed["places"][c][:, step] = entry
            else:
                changed[target.field][(slice(None), *target.index)] = entry
    if "places" in changed:
        changed["places"] = tuple(changed["places"])
    return batch.replace(**changed)


def priced_as_swept(structure: ModelStructure, maps: list[ParameterMap]) -> ModelStructure:
    """Return the structure with every placement a path can price by age priced by age.

    A placement keeps one price for all its ages only where no path sets its cost per plan
    at some of its ages and not others, or differently at different ages; otherwise most
    values of the path make its price vary with age, and the engine must sum its plans
    age by age (``ModelStructure.priced_by_age``). Deciding it once for the sweep keeps
    every scenario's result the same whichever batch it runs in.

    Parameters
    ----------
    structure
        The base scenario's structure.
    maps
        How each swept path drives the parameters.

    Returns
    -------
    ModelStructure
        ``structure`` itself when no path prices a placement by age, else a copy with
        those placements' ``priced_by_age`` set.
    """
    priced = structure.priced_by_age.copy()
    n_ages = len(structure.ages)
    for mapping in maps:
        by_placement: dict[int, list[tuple[float, float]]] = {}
        for target in mapping.targets:
            if target.field == "unit_cost":
                placement = target.index[1]
                by_placement.setdefault(placement, []).append((target.offset, target.coefficient))
        for placement, rules in by_placement.items():
            if len(rules) < n_ages or len(set(rules)) > 1:
                priced[placement] = True
    if np.array_equal(priced, structure.priced_by_age):
        return structure
    return replace(structure, priced_by_age=priced)


def check_disjoint(maps: list[ParameterMap]) -> None:
    """Refuse two paths that drive the same parameter entry (the second would overwrite).

    Parameters
    ----------
    maps
        How each path drives the parameters.

    Raises
    ------
    ScenarioError
        Naming the two paths and the entry they share.
    """
    owner: dict[tuple[str, tuple[int, ...]], str] = {}
    for mapping in maps:
        for target in mapping.targets:
            key = (target.field, target.index)
            if key in owner and owner[key] != mapping.path:
                raise ScenarioError(
                    [
                        Issue(
                            mapping.path,
                            f"drives the same number as {owner[key]!r}; sweep only one",
                        )
                    ]
                )
            owner[key] = mapping.path


def with_values(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """Return the scenario with each path set to its value, validated.

    Parameters
    ----------
    scenario
        The scenario.
    values
        Dotted path → number (paths as in sweeps; an absent entry of a mapping is added).

    Returns
    -------
    Scenario
        A new, validated scenario.

    Raises
    ------
    ScenarioError
        If a path does not name a place for a number, or the values break a rule.
    """
    data = scenario.model_dump(by_alias=True)
    for path, value in values.items():
        container, key = _locate(data, parse_path(path), path)
        container[key] = float(value)
    return scenario_from_mapping(data)
