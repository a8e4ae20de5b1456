"""Schema → engine → labelled result: ``project(scenario)`` and the batch entry point.

Nothing here computes model numbers itself (STYLE rule 1.2): it compiles the scenario,
asks the engine for the flows and the ledger, and hands arrays to :class:`Projection`.
Savings (MODEL.md §4) are computed in the same engine call as the projection, by adding
scenarios along the scenario axis with interventions switched off and on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dsg_forecast._types import FloatArray, IntArray
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine import Engine, FlowResult, simulate
from dsg_forecast.engine.ledger import LedgerArrays, ledger_of
from dsg_forecast.engine.levers import lever_violations, resolve_levers
from dsg_forecast.engine.ranges import check_ranges
from dsg_forecast.engine.structure import (
    ModelParameters,
    ModelStructure,
    check_finite,
    check_shapes,
)
from dsg_forecast.errors import Issue, ScenarioError, check_flags
from dsg_forecast.results import Projection, SavingsArrays
from dsg_forecast.schema.scenario import Scenario


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Flows and ledger of a batch of scenarios; axis 0 of every array is the scenario."""

    flows: FlowResult
    ledger: LedgerArrays


def run_batch(
    structure: ModelStructure,
    params: ModelParameters,
    *,
    keep_stock: bool = False,
    engine: Engine = "numpy",
) -> BatchResult:
    """Project every scenario of ``params`` at once (no per-scenario Python loop).

    Parameters
    ----------
    structure
        What every scenario shares, from :func:`~dsg_forecast.compiler.compile_scenario`.
    params
        Parameters with a leading scenario axis S; see
        :meth:`~dsg_forecast.engine.structure.ModelParameters.repeat` to build a batch from one
        scenario.
    keep_stock
        Keep the full (S, T, A, P) stock.
    engine
        ``"numpy"`` or ``"numba"`` (see :func:`dsg_forecast.engine.simulate`).

    Returns
    -------
    BatchResult
        The flows and the ledger, scenario axis first.

    Raises
    ------
    ShapeError
        If a parameter's shape does not match the structure.
    ScenarioError
        If a parameter is not a finite number (NaN, or an infinity where no limit is
        meant), is outside its valid values (a share above 1, a negative count, shares
        that do not sum to 1; ``engine.ranges``), or an intervention pushes a lever out of
        its valid range.

    Examples
    --------
    >>> import numpy as np
    >>> from dsg_forecast import compile_scenario, load_scenario, run_batch
    >>> structure, params = compile_scenario(load_scenario("examples/worked_example.yaml"))
    >>> batch = params.repeat(3).replace(requests_growth=np.array([0.0, 0.05, 0.10]))
    >>> run_batch(structure, batch).ledger.cumulative_balance[:, -1].round(2)
    array([-455446.78, -547623.19, -639556.42])
    """
    check_flags(keep_stock=keep_stock)
    check_shapes(structure, params)
    check_finite(structure, params)
    check_ranges(structure, params)
    flows = simulate(structure, params, keep_stock=keep_stock, engine=engine)
    return BatchResult(flows, ledger_of(structure, params, flows))


def _savings_variants(structure: ModelStructure) -> tuple[FloatArray, list[str], list[str]]:
    """On/off masks (V, I) for: none, each intervention alone, each condition, all."""
    n_i = len(structure.interventions)
    masks = [np.zeros(n_i), *np.eye(n_i)]
    conditions: list[str] = []
    for condition in structure.conditions:
        if condition is not None and condition not in conditions:
            conditions.append(condition)
    masks.extend(
        np.array([c == condition for c in structure.conditions], dtype=np.float64)
        for condition in conditions
    )
    masks.append(np.ones(n_i))
    return np.stack(masks), list(structure.interventions), [*conditions, "all"]


def project(scenario: Scenario, *, savings: bool = True, engine: Engine = "numpy") -> Projection:
    """Project one scenario month by month and build its DSG ledger.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`dsg_forecast.load_scenario`).
    savings
        Also compute each intervention's saving, alone and grouped by condition.
    engine
        ``"numpy"`` (the reference) or ``"numba"`` (compiled; needs the ``jit`` extra).
        Both reproduce MODEL.md §7 to the penny.

    Returns
    -------
    Projection
        The ledger, monthly series, stock, summary and savings.

    Raises
    ------
    ScenarioError
        If an intervention pushes a lever out of its valid range.

    Examples
    --------
    >>> from dsg_forecast import load_scenario, project
    >>> result = project(load_scenario("examples/worked_example.yaml"))
    >>> print(f'{result.ledger.loc["2024-25", "cumulative_balance"]:,.2f}')
    -826,966.92
    >>> result.summary.target_met
    False
    """
    check_flags(savings=savings)
    structure, params = compile_scenario(scenario)
    n_i = len(structure.interventions)
    with_savings = savings and n_i > 0
    masks, interventions, groups = _savings_variants(structure)
    batch_params = params
    if with_savings:
        batch_params = params.repeat(1 + masks.shape[0]).replace(
            intervention_on=np.concatenate([params.intervention_on, masks])
        )
    # levers resolved and range-checked once, for the scenario and its savings variants
    paths = resolve_levers(structure, batch_params)
    problems = lever_violations(structure, batch_params, paths)
    if problems:
        # name the scenario's own problems where it has any (not the variants' count)
        alone = lever_violations(structure, params, resolve_levers(structure, params))
        raise ScenarioError([Issue("interventions", problem) for problem in alone or problems])
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused just below
        flows = simulate(
            structure, batch_params, keep_stock=True, check=False, engine=engine, paths=paths
        )
        batch = BatchResult(flows, ledger_of(structure, batch_params, flows))
    _check_finite(scenario, structure, batch.ledger)
    if not with_savings:
        return Projection.from_arrays(scenario, structure, batch.flows, batch.ledger, None)

    ledger = batch.ledger
    base = 1  # the first variant has every intervention off
    spend = ledger.placement_cost + ledger.other_cost
    gross = spend[base][None, :] - spend[base + 1 :]
    net = ledger.in_year_balance[base + 1 :] - ledger.in_year_balance[base][None, :]
    saving = SavingsArrays(
        interventions=tuple(interventions),
        conditions=structure.conditions,
        groups=tuple(groups),
        gross_alone=gross[:n_i],
        net_alone=net[:n_i],
        gross_group=gross[n_i:],
        net_group=net[n_i:],
    )
    first = np.array([0], dtype=np.int64)
    return Projection.from_arrays(
        scenario,
        structure,
        _take_flows(batch.flows, first),
        _take_ledger(ledger, first),
        saving,
    )


def _check_finite(scenario: Scenario, structure: ModelStructure, ledger: LedgerArrays) -> None:
    """Refuse a projection whose money is not finite, naming what overflowed and why.

    Valid but extreme inputs (a unit cost of 1e308, amounts whose sum passes the largest
    float) would otherwise print as "never in deficit" or break the JSON output.
    """
    broken: dict[str, str] = {}
    years = structure.fy_labels
    for field in fields(ledger):
        values = getattr(ledger, field.name)
        if field.name in ("deficit_cap", "headroom") or not isinstance(values, np.ndarray):
            continue  # a year without a cap has NaN in these by design
        if values.dtype.kind != "f" or values.ndim != 2 or values.shape[1] != len(years):
            continue
        bad = np.flatnonzero(~np.isfinite(values[0]))
        if len(bad):
            broken[field.name] = years[int(bad[0])]
    if broken:
        first = min(broken.values())
        columns = ", ".join(name for name, year in broken.items() if year == first)
        largest = ", ".join(f"{path} = {value:.3g}" for path, value in _largest_inputs(scenario))
        message = (
            f"the projection overflowed: {columns} stop being finite numbers in {first}. The "
            f"largest inputs are {largest}; check them for a misplaced exponent or a rate "
            "written as a percentage"
        )
        raise ScenarioError([Issue("", message)])


def _largest_inputs(scenario: Scenario, count: int = 3) -> list[tuple[str, float]]:
    """Return the scenario's numbers largest in magnitude, with their paths."""
    found: list[tuple[str, float]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for number, value in enumerate(node):
                walk(value, f"{path}[{number}]")
        elif isinstance(node, int | float) and not isinstance(node, bool):
            found.append((path, float(node)))

    walk(scenario.model_dump(by_alias=True), "")
    return sorted(found, key=lambda item: -abs(item[1]))[:count]


def _take_flows(flows: FlowResult, index: IntArray) -> FlowResult:
    """Keep some scenarios of a flow result."""
    kept: dict[str, Any] = {}
    for field in fields(flows):
        value = getattr(flows, field.name)
        kept[field.name] = None if value is None else value[index]
    return FlowResult(**kept)


def _take_ledger(ledger: LedgerArrays, index: IntArray) -> LedgerArrays:
    """Keep some scenarios of a ledger (``has_cap`` has no scenario axis)."""
    kept: dict[str, Any] = {}
    for field in fields(ledger):
        value = getattr(ledger, field.name)
        kept[field.name] = value if field.name == "has_cap" else value[index]
    return LedgerArrays(**kept)
