"""What must change: solve for the size of one lever so that a target holds.

A *lever* is any sweepable number (a dotted path) set to a value, scaled or shifted; a
*target* is a condition on a projection. :func:`solve` finds, for every scenario at once,
the lever value at which the target is just met, by vectorised bisection: each step runs
all scenarios in one engine call. Scenarios whose target is met at neither bound, or at
both, are reported with a status (and counted), not raised, unless
``raise_exceptions=True``. :func:`solve_probability` finds one lever value that makes the
target hold in a given share of a sweep's scenarios.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dsg_forecast._types import BoolArray, FloatArray
from dsg_forecast.engine import Engine, simulate_costs
from dsg_forecast.engine.ledger import ledger_of
from dsg_forecast.errors import (
    ArgumentError,
    ArgumentTypeError,
    DsgForecastError,
    Issue,
    ScenarioError,
    check_flags,
    finite_number,
    whole_number,
)
from dsg_forecast.periods import month_label, parse_fy, parse_month
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.evaluate import default_engine, plan_sweep
from dsg_forecast.sweeps.parameters import apply_values, check_values
from dsg_forecast.sweeps.spec import SweepSpec, Values

Mode = Literal["value", "scale", "shift"]
MODES: tuple[Mode, ...] = ("value", "scale", "shift")


class ConvergenceError(DsgForecastError, RuntimeError):
    """Some scenarios have no solution inside the lever's bounds."""


@dataclass(frozen=True)
class Lever:
    """A number to solve for, searched between ``low`` and ``high``.

    ``path`` is set to ``x`` (``value``), multiplied by ``x`` (``scale``) or increased by ``x``
    (``shift``).
    """

    path: str
    low: float
    high: float
    mode: Mode = "value"

    def __post_init__(self) -> None:
        for name, bound in (("low", self.low), ("high", self.high)):
            if not finite_number(bound):  # text, None or True ended inside math.isfinite
                msg = f"lever {self.path!r}: {name} is {bound!r}; it must be a finite number"
                raise ArgumentError(msg)
        if not self.low < self.high:
            msg = f"lever {self.path!r}: low {self.low} must be below high {self.high}"
            raise ArgumentError(msg)
        if self.mode not in MODES:  # "scal" set the path to the lever's size
            msg = f"lever {self.path!r}: mode {self.mode!r} is not one of {list(MODES)}"
            raise ArgumentError(msg)

    def apply(self, base: FloatArray, x: FloatArray) -> FloatArray:
        """Return the path's value for lever size ``x``, given its base value.

        Parameters
        ----------
        base : FloatArray
            The path's base value in each scenario.
        x : FloatArray
            The lever size in each scenario.

        Returns
        -------
        FloatArray
            ``x`` (mode ``value``), ``base × x`` (``scale``) or ``base + x`` (``shift``).
        """
        if self.mode == "scale":
            return base * x
        if self.mode == "shift":
            return base + x
        return np.asarray(x, dtype=np.float64) * np.ones_like(base)


@dataclass(frozen=True)
class Target:
    """A condition on a projection, measured so that ``gap ≥ 0`` means it holds.

    ``kind`` is ``balance`` (in-year balance ≥ 0 in every FY from ``year``), ``cap``
    (cumulative deficit at the end of ``year`` ≤ ``amount``, or the year's cap), or
    ``plans`` (plans at the end of ``month`` ≤ ``amount``: the gap is amount − plans, so a
    plan's EHCP trajectory holds, like a cap, when plans stay at or below it; :func:`solve`
    finds where plans equal the amount).
    """

    kind: Literal["balance", "cap", "plans"]
    year: str | None = None
    month: str | None = None
    amount: float | None = None

    def __post_init__(self) -> None:
        """Refuse a target whose kind, year, month or amount do not go together.

        A misspelt kind was taken for a cap, a balance target without a year said "None is
        outside the projection", and a plans target without an amount failed an assertion.
        """
        needs = {"balance": ("year",), "cap": ("year",), "plans": ("month", "amount")}
        if self.kind not in needs:
            msg = f"target kind {self.kind!r} is not one of {list(needs)}"
            raise ArgumentError(msg)
        for name in needs[self.kind]:
            if getattr(self, name) is None:
                what = "an amount" if name == "amount" else f"a {name}"
                msg = f"a {self.kind} target needs {what} (balance:FY, cap:FY, plans:MONTH:N)"
                raise ArgumentError(msg)
        amount = self.amount
        if amount is not None and not (finite_number(amount) and amount >= 0):
            # a negative cap or count can never hold: the solve said only "met at neither bound"
            what = "a number of plans" if self.kind == "plans" else "a deficit cap in pounds"
            msg = f"the amount is {amount!r}; {what} must be a finite number, at least 0"
            raise ArgumentError(msg)

    def describe(self) -> str:
        """Return a short description for reports."""
        if self.kind == "balance":
            return f"in-year balance >= 0 from {self.year}"
        if self.kind == "cap":
            cap = "its cap" if self.amount is None else f"£{self.amount:,.0f}"
            return f"cumulative deficit at the end of {self.year} within {cap}"
        return f"at most {self.amount:,.0f} plans at the end of {self.month}"


def parse_target(text: str) -> Target:
    """Parse ``balance:2028-29``, ``cap:2024-25[:84500000]`` or ``plans:2029-01:7000``.

    Parameters
    ----------
    text
        The target as the command line takes it.

    Returns
    -------
    Target
        The parsed target.

    Raises
    ------
    ArgumentError
        Naming the form expected.
    """
    kind, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    try:
        if kind == "balance" and len(parts) == 1:
            parse_fy(parts[0])
            return Target("balance", year=parts[0])
        if kind == "cap" and len(parts) in (1, 2):
            parse_fy(parts[0])
            amount = _amount(parts[1]) if len(parts) == 2 else None
            return Target("cap", year=parts[0], amount=amount)
        if kind == "plans" and len(parts) == 2:
            month = month_label(parse_month(parts[0]))
            return Target("plans", month=month, amount=_amount(parts[1]))
    except ValueError as exc:
        msg = f"target {text!r}: {exc}"
        raise ArgumentError(msg) from None
    msg = (
        f"target {text!r} is not one of balance:FY, cap:FY, cap:FY:AMOUNT, plans:YYYY-MM:COUNT "
        "(for example balance:2028-29)"
    )
    raise ArgumentError(msg)


def _amount(text: str) -> float:
    """Read a target's amount, saying what is wrong with one that is not a number."""
    try:
        return float(text)
    except ValueError:
        hint = "; write it without commas or £" if any(c in text for c in ",£") else ""
        msg = f"{text!r} is not an amount{hint} (for example 84500000 or 8.45e7)"
        raise ArgumentError(msg) from None


def _gap(target: Target, plan: Any, ledger: Any, stock_total: FloatArray) -> FloatArray:
    labels = plan.structure.fy_labels
    if target.kind == "plans":
        months = [month_label(int(m)) for m in plan.structure.months]
        if target.month not in months:
            raise ScenarioError(
                [
                    Issue(
                        "target",
                        f"{target.month} is outside the projection ({months[0]}..{months[-1]})",
                    )
                ]
            )
        assert target.amount is not None
        return np.asarray(target.amount - stock_total[:, months.index(target.month)])
    if target.year not in labels:
        raise ScenarioError(
            [
                Issue(
                    "target", f"{target.year} is outside the projection ({labels[0]}..{labels[-1]})"
                )
            ]
        )
    y = labels.index(target.year)
    if target.kind == "balance":
        return np.asarray(ledger.in_year_balance[:, y:].min(axis=1))
    cap = target.amount
    if cap is None:
        if not plan.structure.has_cap[y]:
            raise ScenarioError(
                [
                    Issue(
                        "target",
                        f"{target.year} has no deficit cap; give an "
                        f"amount, for example cap:{target.year}:84500000",
                    )
                ]
            )
        return np.asarray(ledger.headroom[:, y])
    return np.asarray(cap + ledger.cumulative_balance[:, y])


@dataclass(frozen=True)
class _Problem:
    plan: Any
    column: int
    lever_base: FloatArray
    others: FloatArray


def _prepare(scenario: Scenario, lever: Lever, spec: SweepSpec | None) -> _Problem:
    parameters: dict[str, Any] = dict(spec.parameters) if spec is not None else {}
    values = None
    if spec is not None:
        values = plan_sweep(scenario, spec).values
    if lever.path not in parameters:
        parameters[lever.path] = Values(values=[0.0])
    full = SweepSpec(parameters=parameters, samples=1)
    column = list(parameters).index(lever.path)
    count = 1 if values is None else values.shape[0]
    base_plan = plan_sweep(scenario, full, values=np.zeros((0, len(parameters))))
    others = np.zeros((count, len(parameters)))
    if values is not None:
        others[:, : values.shape[1]] = values
    lever_base = (
        values[:, column]
        if values is not None and column < values.shape[1]
        else np.full(count, base_plan.maps[column].base_value)
    )
    for j, mapping in enumerate(base_plan.maps):
        if values is None or j >= values.shape[1]:
            others[:, j] = mapping.base_value
    # every value the search can try must be valid: check the lever at both bounds
    extremes = np.concatenate(
        [lever.apply(lever_base, np.full(count, bound)) for bound in (lever.low, lever.high)]
    )
    check_values(
        scenario,
        lever.path,
        float(extremes.min()),
        float(extremes.max()),
        source="the solve may set it to",
    )
    return _Problem(base_plan, column, lever_base, others)


def _evaluate(
    problem: _Problem, lever: Lever, x: FloatArray, target: Target, engine: Engine
) -> FloatArray:
    values = problem.others.copy()
    values[:, problem.column] = lever.apply(problem.lever_base, x)
    plan = problem.plan
    params = apply_values(plan.base, list(plan.maps), values)
    costs = simulate_costs(plan.structure, params, engine=engine)
    ledger = ledger_of(plan.structure, params, costs)
    return _gap(target, plan, ledger, costs.stock_total)


def _bisect(
    problem: _Problem,
    lever: Lever,
    target: Target,
    engine: Engine,
    *,
    tolerance: float,
    max_iterations: int,
) -> tuple[FloatArray, tuple[BoolArray, BoolArray], int]:
    """Bisect every scenario's bracket at once.

    Returns the solutions (NaN where none), the masks of scenarios met at both bounds and
    at neither, and the iterations taken.
    """
    count = problem.others.shape[0]
    low = np.full(count, lever.low)
    high = np.full(count, lever.high)
    gap_low = _evaluate(problem, lever, low, target, engine)
    gap_high = _evaluate(problem, lever, high, target, engine)
    both = (gap_low >= 0) & (gap_high >= 0)
    neither = (gap_low < 0) & (gap_high < 0)
    active = ~(both | neither)
    # orient each bracket so that the target holds at `good` and fails at `bad`
    good = np.where(gap_high >= 0, high, low)
    bad = np.where(gap_high >= 0, low, high)
    iterations = 0
    width = tolerance * (lever.high - lever.low)
    while active.any() and iterations < max_iterations:
        iterations += 1
        middle = 0.5 * (good + bad)
        gap = _evaluate(problem, lever, middle, target, engine)
        holds = gap >= 0
        good = np.where(active & holds, middle, good)
        bad = np.where(active & ~holds, middle, bad)
        active &= np.abs(good - bad) > width
    return np.where(both | neither, np.nan, good), (both, neither), iterations


def _check_search(tolerance: object, max_iterations: object, probability: object = 0.5) -> None:
    """Refuse a bisection that could not stop where asked (a tolerance of 0, no steps).

    Or a probability to reach that is not one (``None`` and text ended in a comparison's
    ``TypeError``).
    """
    if not finite_number(probability) or not 0.0 < probability < 1.0:
        msg = f"probability {probability!r} must be a number between 0 and 1 (0.8 for 80%)"
        raise ArgumentError(msg)
    if not (finite_number(tolerance) and 0.0 < tolerance < 1.0):
        msg = f"tolerance is {tolerance!r}; it must be between 0 and 1 (a share of high − low)"
        raise ArgumentError(msg)
    if not (whole_number(max_iterations) and max_iterations >= 1):
        msg = f"max_iterations is {max_iterations!r}; it must be a whole number of at least 1"
        raise ArgumentError(msg)


def solve(
    scenario: Scenario,
    lever: Lever,
    target: Target,
    *,
    spec: SweepSpec | None = None,
    tolerance: float = 1e-6,
    max_iterations: int = 200,
    engine: Engine | None = None,
    raise_exceptions: bool = False,
) -> pd.DataFrame:
    """Solve for the lever size at which the target is just met, for every scenario at once.

    Parameters
    ----------
    scenario
        The base scenario.
    lever, target
        What to change and what must hold.
    spec
        Solve for every scenario of this sweep (its parameters vary as drawn); without it,
        for the base scenario alone.
    tolerance
        Stop when the bracket is narrower than ``tolerance × (high − low)``; between 0
        and 1.
    max_iterations
        At most this many bisection steps (at least 1).
    engine
        ``numba`` (default where installed) or ``numpy``.
    raise_exceptions
        Raise :class:`ConvergenceError` if any scenario has no solution, instead of
        reporting it.

    Returns
    -------
    DataFrame
        One row per scenario: ``solution`` (NaN where none), ``status`` (``solved``,
        ``met at both bounds``, ``met at neither bound``), ``gap_at_solution`` and the
        iterations taken. ``attrs["unsolved"]`` counts the scenarios without a solution.

    Raises
    ------
    ConvergenceError
        With ``raise_exceptions``, if any scenario has no solution.
    ArgumentError
        If ``tolerance`` or ``max_iterations`` could not stop the search where asked.
    ArgumentTypeError
        If ``raise_exceptions`` is not True or False, or ``lever``, ``target`` or ``spec``
        is not what it names.
    """
    check_flags(raise_exceptions=raise_exceptions)
    _check_search(tolerance, max_iterations)
    examples = {
        "lever": "Lever('demand.requests_per_year', 0, 3000)",
        "target": "parse_target('balance:2028-29')",
    }
    for name, value, kind in (("lever", lever, Lever), ("target", target, Target)):
        if not isinstance(value, kind):  # a path or text ended in an AttributeError
            msg = f"{name} is {value!r}; give a {kind.__name__}, for example {examples[name]}"
            raise ArgumentTypeError(msg)
    if spec is not None and not isinstance(spec, SweepSpec):
        msg = f"spec is {spec!r}; give a SweepSpec (load_sweep or spec_from_mapping) or None"
        raise ArgumentTypeError(msg)
    engine = default_engine(engine)
    problem = _prepare(scenario, lever, spec)
    solution, (both, neither), iterations = _bisect(
        problem, lever, target, engine, tolerance=tolerance, max_iterations=max_iterations
    )
    frame = _solutions(problem, lever, target, engine, solution, (both, neither), iterations)
    unsolved = int((both | neither).sum())
    frame.attrs.update(
        unsolved=unsolved, lever=lever.path, mode=lever.mode, target=target.describe()
    )
    if raise_exceptions and unsolved:
        msg = (
            f"no solution for {lever.path} between {lever.low} and {lever.high} in {unsolved} "
            f"scenario(s) (first: {int(np.flatnonzero(both | neither)[0])})"
        )
        raise ConvergenceError(msg)
    return frame


def _solutions(
    problem: _Problem,
    lever: Lever,
    target: Target,
    engine: Engine,
    solution: FloatArray,
    unsolved_at: tuple[BoolArray, BoolArray],
    iterations: Any,
) -> pd.DataFrame:
    """Return one row per scenario: the solution, its status, the gap there, the steps."""
    both, neither = unsolved_at
    status = np.where(
        both, "met at both bounds", np.where(neither, "met at neither bound", "solved")
    )
    finite = np.where(np.isnan(solution), lever.low, solution)
    gap_at = np.where(np.isnan(solution), np.nan, _evaluate(problem, lever, finite, target, engine))
    return pd.DataFrame(
        {
            "solution": solution,
            "status": status,
            "gap_at_solution": gap_at,
            "iterations": iterations,
        },
        index=pd.RangeIndex(problem.others.shape[0], name="sample"),
    )


def _bisect_share(
    share: Callable[[float], float],
    good: float,
    bad: float,
    probability: float,
    width: float,
    max_iterations: int,
) -> tuple[float, int]:
    """Bisect one lever size between a ``good`` end (share ≥ probability) and a ``bad`` one."""
    iterations = 0
    while abs(good - bad) > width and iterations < max_iterations:
        iterations += 1
        middle = 0.5 * (good + bad)
        if share(middle) >= probability:
            good = middle
        else:
            bad = middle
    return good, iterations


def solve_probability(
    scenario: Scenario,
    spec: SweepSpec,
    lever: Lever,
    target: Target,
    probability: float,
    *,
    tolerance: float = 1e-4,
    max_iterations: int = 60,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Find one lever size that makes the target hold in ``probability`` of the sweep.

    Each bisection step runs the whole sweep with the lever applied to every scenario.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        The sweep.
    lever, target
        What to change and what must hold.
    probability
        The share of the sweep's scenarios in which the target must hold.
    tolerance
        Stop when the bracket is narrower than ``tolerance × (high − low)``.
    max_iterations
        At most this many bisection steps.
    engine
        ``numba`` (default where installed) or ``numpy``.

    Returns
    -------
    dict
        The lever's path and mode, the ``solution``, the ``probability`` reached there,
        the target, the number of scenarios, the iterations taken and the probabilities
        at the bounds.

    Raises
    ------
    ArgumentError
        If ``probability`` is not a number strictly between 0 and 1.
    ConvergenceError
        If the probability is reached at neither bound.
    """
    _check_search(tolerance, max_iterations, probability)
    engine = default_engine(engine)
    problem = _prepare(scenario, lever, spec)
    count = problem.others.shape[0]

    def share(x: float) -> float:
        return float((_evaluate(problem, lever, np.full(count, x), target, engine) >= 0).mean())

    at_low, at_high = share(lever.low), share(lever.high)
    if max(at_low, at_high) < probability:
        msg = (
            f"{lever.path} between {lever.low} and {lever.high} reaches at most "
            f"{max(at_low, at_high):.1%} of scenarios meeting '{target.describe()}', "
            f"short of {probability:.0%}"
        )
        raise ConvergenceError(msg)
    good, bad = (lever.high, lever.low) if at_high >= at_low else (lever.low, lever.high)
    if share(bad) >= probability:
        good = bad
    width = tolerance * (lever.high - lever.low)
    good, iterations = _bisect_share(share, good, bad, probability, width, max_iterations)
    return {
        "lever": lever.path,
        "mode": lever.mode,
        "solution": good,
        "probability": share(good),
        "target": target.describe(),
        "scenarios": count,
        "iterations": iterations,
        "at_low": at_low,
        "at_high": at_high,
    }
