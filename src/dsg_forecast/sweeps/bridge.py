"""A variance bridge between two scenarios that adds up, by Shapley values over driver groups.

"How far are we from the plan, and why?" Two scenarios differ in many inputs at once, and
their effects interact, so moving one input at a time does not add up. The bridge groups
the inputs into drivers (``DRIVERS``: demand, placement mix, unit costs, income,
interventions, other lines, the agreement, the starting position), builds every hybrid
scenario that takes some drivers from B and the rest from A (2^k of them for the k drivers
that differ), projects them in as few batched engine calls as there are distinct
structures, and gives each driver its Shapley value: its average effect over every order in
which the drivers could be switched from A to B. The values sum to B − A exactly (up to
float rounding, far below a penny), whatever the interactions.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine import concat_parameters, simulate_costs
from dsg_forecast.engine.ledger import ledger_of
from dsg_forecast.errors import DsgForecastError, ScenarioError, check_kind
from dsg_forecast.schema.parsing import scenario_from_mapping

if TYPE_CHECKING:
    from dsg_forecast._types import FloatArray
    from dsg_forecast.engine import Engine, ModelParameters, ModelStructure
    from dsg_forecast.schema import Scenario

DRIVERS: Final[dict[str, tuple[str, ...]]] = {
    "demand": (
        "demand.requests_per_year", "demand.requests_growth", "demand.request_profile",
        "demand.refusal_rate", "demand.plan_rate", "demand.assessment_months",
        "demand.assessment_capacity", "demand.opening_backlog", "demand.new_plan_ages",
        "net_transfer_rate", "ceasing",
    ),
    "placement mix": (
        "demand.new_plan_mix", "transitions", "capacity", "net_transfer_by_placement",
    ),
    "unit costs": (
        "costs.unit_cost", "costs.top_up", "costs.fees", "costs.place_funding", "costs.uplift",
    ),
    "income": ("funding",),
    "interventions": ("interventions",),
    "other lines": ("costs.other_lines",),
    "agreement": ("agreement",),
    "starting position": ("opening_stock", "actuals_to_date"),
}  # fmt: skip
"""Each driver and the scenario fields it takes from B (dotted: section.field)."""

SAME: Final = ("start", "end", "ages", "placements")
"""What two scenarios must share to be bridged (placements by name and order)."""

OUTPUTS: Final = ("in_year_balance", "expenditure", "income", "cumulative_balance", "plans")
"""What a bridge can explain: a ledger figure for an FY, or plans at the FY's end."""


class BridgeError(DsgForecastError, ValueError):
    """Two scenarios cannot be bridged.

    Their months, ages or placements differ, or a hybrid of them is not a valid scenario.
    """


@dataclass(frozen=True)
class Bridge:
    """The difference between two scenarios in one figure, split into drivers."""

    output: str
    """What is explained (``in_year_balance``, ``plans``, ...)."""
    year: str
    """The financial year."""
    start: float
    """The figure in scenario A."""
    end: float
    """The figure in scenario B."""
    steps: pd.DataFrame
    """One row per driver that differs: ``driver, effect`` (Shapley value); the effects sum
    to ``end − start``."""
    names: tuple[str, str]
    """The two scenarios' names."""

    @property
    def total(self) -> float:
        """Return ``end − start``."""
        return self.end - self.start


def bridge(
    a: Scenario,
    b: Scenario,
    year: str,
    *,
    outputs: tuple[str, ...] = ("in_year_balance", "plans"),
    engine: Engine = "numpy",
) -> dict[str, Bridge]:
    """Split the difference between two scenarios in each output at one FY into drivers.

    Parameters
    ----------
    a, b
        The scenarios: typically the plan (A) and a forecast or actuals-based run (B). They
        must share start, end, ages and placements.
    year
        The financial year, for example ``"2028-29"``.
    outputs
        Any of ``OUTPUTS``.
    engine
        ``"numpy"`` or ``"numba"``.

    Returns
    -------
    dict[str, Bridge]
        A bridge per output, each summing to B − A.

    Raises
    ------
    BridgeError
        If the scenarios differ in horizon, ages or placements, a hybrid of them is not a
        valid scenario, or the year or an output is unknown.
    ArgumentTypeError
        If ``a`` or ``b`` is not a scenario (a file's path, or a projection), or
        ``outputs`` is not a tuple (one name's letters were taken as outputs).

    Examples
    --------
    >>> from dsg_forecast import load_scenario
    >>> from dsg_forecast.sweeps.bridge import bridge
    >>> plan = load_scenario("examples/wiltshire_plan_2024.yaml")
    >>> trend = load_scenario("examples/wiltshire_current_trend_2024.yaml")
    >>> steps = bridge(plan, trend, "2028-29")["in_year_balance"]
    >>> bool(abs(steps.steps["effect"].sum() - steps.total) < 0.005)
    True
    """
    from dsg_forecast.schema.scenario import Scenario

    for name, given in (("a", a), ("b", b)):
        check_kind(given, Scenario, name, "a scenario: dsg_forecast.load_scenario(path)")
    check_kind(outputs, (tuple, list), "outputs", f"a tuple of outputs from {list(OUTPUTS)}")
    unknown = [output for output in outputs if output not in OUTPUTS]
    if unknown:
        msg = f"unknown output {unknown[0]!r}; choose from {list(OUTPUTS)}"
        raise BridgeError(msg)
    _check_alignment(a, b)
    data_a, data_b = a.model_dump(by_alias=True), b.model_dump(by_alias=True)
    drivers = [name for name, paths in DRIVERS.items() if _differs(data_a, data_b, paths)]
    subsets = [frozenset(c) for r in range(len(drivers) + 1) for c in combinations(drivers, r)]
    hybrids = [_hybrid(data_a, data_b, subset, a.name, b.name) for subset in subsets]
    values = _evaluate(hybrids, year, outputs, engine)  # (2^k, outputs)
    index = {subset: row for row, subset in enumerate(subsets)}
    result = {}
    for column, output in enumerate(outputs):
        effects = [_shapley(driver, drivers, index, values[:, column]) for driver in drivers]
        steps = pd.DataFrame({"driver": drivers, "effect": effects})
        start, end = values[index[frozenset()], column], values[index[frozenset(drivers)], column]
        result[output] = Bridge(output, year, float(start), float(end), steps, (a.name, b.name))
    return result


def _check_alignment(a: Scenario, b: Scenario) -> None:
    """Refuse two scenarios a bridge cannot align, saying how they differ."""
    for field in SAME:
        left, right = getattr(a, field), getattr(b, field)
        if field == "placements":
            left, right = [p.name for p in left], [p.name for p in right]
        if left != right:
            what = {"start": "first months", "end": "last months", "ages": "age ranges"}
            msg = (
                f"cannot bridge {a.name!r} and {b.name!r}: their {what.get(field, field)} "
                f"differ ({left} against {right}); a bridge needs the same months, ages and "
                "placements"
            )
            raise BridgeError(msg)


def _get(data: dict[str, Any], path: str) -> Any:
    section, _, field = path.partition(".")
    return data[section] if not field else data[section][field]


def _differs(a: dict[str, Any], b: dict[str, Any], paths: tuple[str, ...]) -> bool:
    return any(_get(a, path) != _get(b, path) for path in paths)


def _hybrid(
    a: dict[str, Any], b: dict[str, Any], subset: frozenset[str], name_a: str, name_b: str
) -> Scenario:
    """Return scenario A with the fields of the drivers in ``subset`` taken from B."""
    data = copy.deepcopy(a)
    for driver in subset:
        for path in DRIVERS[driver]:
            section, _, field = path.partition(".")
            if field:
                data[section][field] = copy.deepcopy(b[section][field])
            else:
                data[section] = copy.deepcopy(b[section])
    try:
        return scenario_from_mapping(data)
    except ScenarioError as exc:
        taken = ", ".join(sorted(subset))
        problem = exc.issues[0]
        msg = (
            f"cannot bridge {name_a!r} and {name_b!r}: {name_a!r} with the {taken} of "
            f"{name_b!r} is not a valid scenario ({problem.path}: {problem.message}); "
            "make the two agree there (for example give both the same transition rules)"
        )
        raise BridgeError(msg) from None


def _evaluate(
    hybrids: list[Scenario], year: str, outputs: tuple[str, ...], engine: Engine
) -> FloatArray:
    """Return each hybrid's outputs at ``year``, (hybrids, outputs), batching by structure."""
    compiled = [compile_scenario(hybrid) for hybrid in hybrids]
    groups: dict[bytes, list[int]] = {}
    for number, (structure, _) in enumerate(compiled):
        groups.setdefault(pickle.dumps(structure), []).append(number)
    values = np.empty((len(hybrids), len(outputs)))
    for members in groups.values():
        structure = compiled[members[0]][0]
        if year not in structure.fy_labels:
            labels = structure.fy_labels
            msg = f"financial year {year} is outside the projection ({labels[0]}..{labels[-1]})"
            raise BridgeError(msg)
        params = concat_parameters([compiled[m][1] for m in members])
        values[members] = _outputs(structure, params, structure.fy_labels.index(year), outputs,
                                   engine)  # fmt: skip
    return values


def _outputs(
    structure: ModelStructure,
    params: ModelParameters,
    fy: int,
    outputs: tuple[str, ...],
    engine: Engine,
) -> FloatArray:
    """Return the outputs at FY index ``fy`` for every scenario of ``params``, (S, outputs)."""
    costs = simulate_costs(structure, params, engine=engine)
    ledger = ledger_of(structure, params, costs)
    last_month = int(np.flatnonzero(np.asarray(structure.fy_index) == fy)[-1])
    columns = [
        costs.stock_total[:, last_month] if output == "plans" else getattr(ledger, output)[:, fy]
        for output in outputs
    ]
    return np.stack(columns, axis=1)


def _shapley(
    driver: str, drivers: list[str], index: dict[frozenset[str], int], values: FloatArray
) -> float:
    """Return the driver's Shapley value: its marginal effect averaged over every order."""
    others = [d for d in drivers if d != driver]
    k = len(drivers)
    total = 0.0
    for size in range(k):
        weight = factorial(size) * factorial(k - size - 1) / factorial(k)
        for combo in combinations(others, size):
            without = frozenset(combo)
            total += weight * (values[index[without | {driver}]] - values[index[without]])
    return total
