"""Fit a plan to its published trajectory: several levers at once, by bounded least squares.

A council's published plan gives figures (the in-year deficit it expected in 2024-25, the
deficit at the point of balance, EHCPs at a date) but not every split behind them (the
Safety Valve payment profile, unit costs by line). :func:`fit` chooses the levers named
(any numeric scenario path, as in sweeps) within their bounds so that the projection meets
the targets, solving them together with ``scipy.optimize.least_squares`` (trust region
reflective, bounded). Each Jacobian is one batched engine call of ``1 + d`` scenarios
(forward differences), so a fit costs a few dozen engine calls. Goal seek on one lever
(:mod:`~dsg_forecast.sweeps.goal_seek`) stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Self

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dsg_forecast._types import FloatArray
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine import Engine, LedgerArrays, simulate_costs
from dsg_forecast.engine.ledger import ledger_of
from dsg_forecast.errors import DsgForecastError, Issue, ScenarioError, as_path
from dsg_forecast.io.strict import repeats
from dsg_forecast.periods import month_label, parse_month
from dsg_forecast.schema.fields import FinancialYear, Finite, Model, Month
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.evaluate import default_engine, extreme_rows, first_refused
from dsg_forecast.sweeps.parameters import (
    apply_values,
    check_disjoint,
    check_values,
    map_parameter,
    priced_as_swept,
    value_at,
    with_values,
)

#: Ledger figures a target may name (``LedgerArrays`` fields with an FY axis).
LEDGER_OUTPUTS: Final = (
    "income",
    "placement_cost",
    "place_funding",
    "top_up",
    "fees",
    "other_cost",
    "intervention_cost",
    "expenditure",
    "in_year_balance",
    "contribution",
    "cumulative_balance",
    "cumulative_balance_before_contributions",
)


class FitError(DsgForecastError, ValueError):
    """Some targets cannot be reached with the levers inside their bounds."""


class FitLever(Model):
    """A number the fit may change, between ``low`` and ``high``."""

    path: str
    """A dotted path to a number, as in sweeps (for example ``costs.unit_cost.special``)."""
    low: Finite
    high: Finite
    prior: Finite | None = None
    """The value the lever should stay near where the targets leave it free (default: its
    value in the scenario); used when ``FitSpec.prior_weight`` is above 0."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            msg = f"low {self.low} must be below high {self.high}"
            raise ValueError(msg)
        if self.prior is not None and not self.low <= self.prior <= self.high:
            # the fit would pull the lever to a bound towards a value it may not take
            msg = (
                f"prior {self.prior} is outside the bounds {self.low}..{self.high}; the "
                "value to stay near must be one the lever may take"
            )
            raise ValueError(msg)
        return self


class FitTarget(Model):
    """A published figure the projection should reproduce."""

    output: Annotated[str, Field(description="a ledger figure, or 'plans'")]
    """A ledger column (``in_year_balance``, ``cumulative_balance_before_contributions``,
    ...) at the end of ``year``, or ``plans`` at the end of ``month``."""
    year: FinancialYear | None = None
    month: Month | None = None
    value: Finite
    """The published figure (£, or plans)."""
    tolerance: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 0.001
    """How close counts as met, as a share of the figure (of 1 for a figure below 1)."""
    within: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    """How close counts as met, as an amount in the figure's units (£ or plans), instead of
    ``tolerance``: for a figure at or near 0, such as an in-year balance to break even,
    where a share of the figure would be a few pence."""

    @model_validator(mode="after")
    def _where(self) -> Self:
        if self.output == "plans":
            if self.month is None or self.year is not None:
                msg = "a 'plans' target needs a month (and no year)"
                raise ValueError(msg)
        elif self.output not in LEDGER_OUTPUTS:
            msg = f"unknown output {self.output!r}; choose 'plans' or one of {list(LEDGER_OUTPUTS)}"
            raise ValueError(msg)
        elif self.year is None or self.month is not None:
            msg = f"a {self.output!r} target needs a financial year (and no month)"
            raise ValueError(msg)
        if self.within is not None and "tolerance" in self.model_fields_set:
            msg = "give tolerance (a share of the figure) or within (an amount), not both"
            raise ValueError(msg)
        return self

    def band(self) -> float:
        """Return how far the figure may be from ``value`` and count as met (£ or plans)."""
        if self.within is not None:
            return self.within
        return self.tolerance * max(abs(self.value), 1.0)

    def describe(self) -> str:
        """Return the target in words, for tables and messages."""
        where = self.month if self.output == "plans" else self.year
        return f"{self.output} {where}"


class FitSpec(Model):
    """Levers to choose and the targets they must meet (a scenario file's ``fit:``)."""

    levers: Annotated[list[FitLever], Field(min_length=1)]
    targets: Annotated[list[FitTarget], Field(min_length=1)]
    prior_weight: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0
    """Weight of keeping each lever near its prior, in units of its bounds' width, against
    the targets' residuals in tolerances: 0 fits the targets alone; a small weight (0.01)
    picks, among the lever values that meet the targets, those nearest the priors."""

    @model_validator(mode="after")
    def _each_once(self) -> Self:
        """Refuse a lever or a target given twice: which bounds, which figure would hold?"""
        problems = [
            f"levers[{number}] repeats the path {self.levers[number].path} of levers[{seen}] "
            "(which bounds hold?): give each lever once"
            for number, seen in repeats((lever.path for lever in self.levers), first=0).items()
        ]
        when = [t.month if t.output == "plans" else t.year for t in self.targets]
        figures = ((t.output, str(w)) for t, w in zip(self.targets, when, strict=True))
        for number, seen in repeats(figures, first=0).items():
            target = self.targets[number]
            problems.append(
                f"targets[{number}] repeats {target.output} {when[number]} of targets[{seen}] "
                f"(wanted {self.targets[seen].value:g} and {target.value:g}): give each "
                "figure once"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class FitResult:
    """The fitted scenario, the lever values chosen and how close each target came."""

    scenario: Scenario
    """The scenario with every lever at its fitted value (validated)."""
    levers: pd.DataFrame
    """One row per lever: ``path, low, high, start, fitted, at_bound``."""
    targets: pd.DataFrame
    """One row per target: ``target, wanted, fitted, residual, relative, tolerance`` (a
    share; NaN for a target given ``within`` an amount), ``within`` (the amount either way)
    and ``met``."""
    success: bool
    """Whether every target is met within its tolerance."""
    evaluations: int
    """Engine calls of the solver (each a batch)."""


class _Problem:
    """The scenario compiled once, and its outputs for a batch of lever values."""

    def __init__(self, scenario: Scenario, spec: FitSpec, engine: Engine) -> None:
        self.spec = spec
        self.engine = engine
        self.maps = [map_parameter(scenario, lever.path) for lever in spec.levers]
        check_disjoint(self.maps)
        for lever in spec.levers:  # every value the solver may try must be valid
            check_values(
                scenario, lever.path, lever.low, lever.high, source="the fit may set it to"
            )
        structure, self.base = compile_scenario(scenario)
        self.structure = priced_as_swept(structure, self.maps)
        labels, months = self.structure.fy_labels, self.structure.months
        self.columns: list[tuple[str, int]] = []
        for number, target in enumerate(spec.targets):
            self.columns.append(_column(target, labels, months, f"fit.targets[{number}]"))
        self.wanted = np.array([target.value for target in spec.targets])
        self.scale = np.maximum(np.abs(self.wanted), 1.0)
        # residuals in units of each target's tolerance: every target weighs the same, and
        # one is met where its residual is at most 1
        self.band = np.array([target.band() for target in spec.targets])
        self.calls = 0
        self._check_bounds(scenario)

    def _check_bounds(self, scenario: Scenario) -> None:
        """Run each lever at its bounds, the others at their start, as the solver will.

        A value the schema accepts may still drive a month's rate out of range once the
        interventions apply (the engine's checks), which only running it shows: without
        this, ``validate`` passed a fit that ``fit`` refused.
        """
        levers = self.spec.levers
        low = np.array([lever.low for lever in levers])
        high = np.array([lever.high for lever in levers])
        start = np.clip([value_at(scenario, lever.path) for lever in levers], low, high)
        rows = extreme_rows(start, low, high)
        try:
            self._evaluate(rows)  # one batch; by halves only to say which row failed
            return
        except ScenarioError:
            pass
        row, failed = first_refused(self._evaluate, rows)
        if failed is None:  # a batch's refusal no row repeats alone: not this check's
            return
        number, bound = row // 2, ("low", "high")[row % 2]
        context = (
            f"at fit.levers[{number}] ({levers[number].path}) = {float(rows[row, number]):,.6g}"
            f", its {bound} bound, the other levers at their start; narrow its bounds"
        )
        raise failed.in_context(context) from None

    def outputs(self, values: FloatArray) -> FloatArray:
        """Return each target's figure for each row of lever values, (n, m).

        Raises
        ------
        ScenarioError
            If lever values inside the bounds break a rule of the engine's, naming the
            values (the first row of a batch that does).
        """
        self.calls += 1
        try:
            return self._evaluate(values)
        except ScenarioError as exc:
            number, single = first_refused(self._evaluate, values) if len(values) > 1 else (0, None)
            failed, row = (single, values[number]) if single is not None else (exc, values[0])
            tried = ", ".join(
                f"{lever.path} = {value:,.6g}"
                for lever, value in zip(self.spec.levers, row, strict=True)
            )
            context = f"when the fit tried {tried}, inside the levers' bounds; narrow them"
            raise failed.in_context(context) from None

    def _evaluate(self, values: FloatArray) -> FloatArray:
        params = apply_values(self.base, self.maps, values)
        costs = simulate_costs(self.structure, params, engine=self.engine)
        ledger = ledger_of(self.structure, params, costs)
        return np.stack([_read(ledger, costs.stock_total, c) for c in self.columns], axis=1)

    def residuals(self, values: FloatArray) -> FloatArray:
        """Return residuals in tolerances, ``(figure − wanted) / (tolerance × |wanted|)``.

        ``|wanted|`` is taken as at least 1; a target given ``within`` an amount divides by
        the amount. The result is (n, m).
        """
        residual: FloatArray = (self.outputs(values) - self.wanted) / self.band
        return residual


def _column(target: FitTarget, labels: tuple[str, ...], months: Any, path: str) -> tuple[str, int]:
    """Return (output, FY or month index) of a target, refusing one outside the projection."""
    if target.output == "plans":
        assert target.month is not None
        index = int(np.searchsorted(months, parse_month(target.month)))
        if index >= len(months) or months[index] != parse_month(target.month):
            span = f"{month_label(int(months[0]))}..{month_label(int(months[-1]))}"
            raise ScenarioError([Issue(f"{path}.month", f"{target.month} is outside {span}")])
        return "plans", index
    if target.year not in labels:
        message = (
            f"financial year {target.year} is outside the projection ({labels[0]}..{labels[-1]})"
        )
        raise ScenarioError([Issue(f"{path}.year", message)])
    return target.output, labels.index(target.year)


def _read(ledger: LedgerArrays, plans: FloatArray, column: tuple[str, int]) -> FloatArray:
    output, index = column
    if output == "plans":
        return plans[:, index]
    values: FloatArray = getattr(ledger, output)[:, index]
    return values


def fit(
    scenario: Scenario,
    spec: FitSpec,
    *,
    engine: Engine | None = None,
    raise_exceptions: bool = True,
) -> FitResult:
    """Choose the levers, within their bounds, so that the projection meets the targets.

    Parameters
    ----------
    scenario
        The scenario to fit; each lever starts from its value there (moved inside its
        bounds).
    spec
        The levers and the targets.
    engine
        ``numba`` (default where installed) or ``numpy``.
    raise_exceptions
        Raise :class:`FitError` when a target is not met within its tolerance; with False,
        return the result with ``success`` false and each target's residual.

    Returns
    -------
    FitResult
        The fitted scenario, the lever values and each target's residual.

    Raises
    ------
    FitError
        If a target cannot be met with the levers inside their bounds (the message lists
        every target's residual and the levers at a bound).
    ScenarioError
        If a lever's path is not a number that can vary, a value in its bounds breaks a
        rule, or a target lies outside the projection.
    """
    problem = _Problem(scenario, spec, default_engine(engine))
    low = np.array([lever.low for lever in spec.levers])
    high = np.array([lever.high for lever in spec.levers])
    start = np.array([value_at(scenario, lever.path) for lever in spec.levers])
    inside = np.clip(start, low, high)
    prior = np.array(
        [
            lever.prior if lever.prior is not None else value
            for lever, value in zip(spec.levers, start, strict=True)
        ]
    )
    pull = np.sqrt(spec.prior_weight) / (high - low)  # per lever

    def residuals(x: FloatArray) -> FloatArray:
        row: FloatArray = np.concatenate([problem.residuals(x[None, :])[0], pull * (x - prior)])
        return row

    def jacobian(x: FloatArray) -> FloatArray:
        return np.vstack([_jacobian(problem, x, low, high), np.diag(pull)])

    from scipy.optimize import least_squares  # a third of a second: only a fit needs it

    solution = least_squares(
        residuals,
        inside,
        jac=jacobian,
        bounds=(low, high),
        method="trf",
        x_scale=np.maximum(high - low, 1e-12),
    )
    fitted = np.clip(solution.x, low, high)
    result = _result(scenario, spec, problem, start, fitted, low, high)
    if raise_exceptions and not result.success:
        raise FitError(_failure_message(result))
    return result


def _jacobian(problem: _Problem, x: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """Forward differences of the residuals, every lever in one batched engine call."""
    steps = 1e-6 * np.maximum(np.abs(x), 1e-3 * (high - low))
    steps = np.where(x + steps > high, -steps, steps)  # stay inside the bounds
    batch = np.repeat(x[None, :], 1 + x.shape[0], axis=0)
    batch[1:] += np.diag(steps)
    residuals = problem.residuals(batch)
    jacobian: FloatArray = ((residuals[1:] - residuals[0]) / steps[:, None]).T
    return jacobian


def _result(
    scenario: Scenario,
    spec: FitSpec,
    problem: _Problem,
    start: FloatArray,
    fitted: FloatArray,
    low: FloatArray,
    high: FloatArray,
) -> FitResult:
    got = problem.outputs(fitted[None, :])[0]
    relative = (got - problem.wanted) / problem.scale
    shares = [np.nan if target.within is not None else target.tolerance for target in spec.targets]
    targets = pd.DataFrame(
        {
            "target": [target.describe() for target in spec.targets],
            "wanted": problem.wanted,
            "fitted": got,
            "residual": got - problem.wanted,
            "relative": relative,
            "tolerance": shares,
            "within": problem.band,
            "met": np.abs(got - problem.wanted) <= problem.band,
        }
    )
    span = high - low
    levers = pd.DataFrame(
        {
            "path": [lever.path for lever in spec.levers],
            "low": low,
            "high": high,
            "start": start,
            "fitted": fitted,
            "at_bound": (fitted - low <= 1e-9 * span) | (high - fitted <= 1e-9 * span),
        }
    )
    return FitResult(
        scenario=with_values(scenario, dict(zip(levers["path"], fitted, strict=True))),
        levers=levers,
        targets=targets,
        success=bool(targets["met"].all()),
        evaluations=problem.calls,
    )


def _failure_message(result: FitResult) -> str:
    missed = result.targets[~result.targets["met"]]
    lines = ["the targets cannot all be met with the levers inside their bounds:"]
    for row in missed.to_dict("records"):
        share = float(row["tolerance"])
        off = (
            f"{float(row['residual']):+,.0f}; within {float(row['within']):,.0f}"
            if np.isnan(share)  # a target given within an amount
            else f"{float(row['relative']):+.2%}; tolerance {share:.2%}"
        )
        lines.append(
            f"  {row['target']}: wanted {float(row['wanted']):,.0f}, best "
            f"{float(row['fitted']):,.0f} ({off})"
        )
    bound = result.levers[result.levers["at_bound"]]
    if len(bound):
        lines.append(
            "levers at a bound (widen them, or add levers): "
            + ", ".join(f"{row.path} = {row.fitted:,.6g}" for row in bound.itertuples())
        )
    return "\n".join(lines)


def check_fit(scenario: Scenario, spec: FitSpec) -> None:
    """Check a fit without running it, as :func:`fit` checks it before it starts.

    Every lever names a path the scenario can sweep, no two drive the same number, every
    value between a lever's bounds makes a valid scenario, and every target lies inside the
    projection.

    Parameters
    ----------
    scenario
        The scenario to fit.
    spec
        The levers and targets.

    Raises
    ------
    ScenarioError
        Naming the lever or target and the rule it breaks.
    """
    _Problem(scenario, spec, "numpy")


def load_fit(path: str | Path) -> tuple[Scenario, FitSpec]:
    """Load a scenario file with a ``fit:`` section.

    Parameters
    ----------
    path
        A YAML, TOML or JSON scenario file whose ``fit:`` section names the levers and the
        targets.

    Returns
    -------
    scenario : Scenario
        The scenario (its ``fit:`` section left out).
    spec : FitSpec
        The levers and targets.

    Raises
    ------
    ScenarioError
        Listing every problem, with ``fit.`` paths for the section's.
    """
    from pydantic import ValidationError

    from dsg_forecast.io.scenario_files import read_mapping, scenario_from_data
    from dsg_forecast.schema.parsing import boolean_issues, issues_from_validation_error

    file = as_path(path, "a file's path", "path")
    data = read_mapping(file)
    section = data.pop("fit", None)
    data.pop("sweep", None)
    if section is None:
        message = "this scenario has no fit: section (levers and targets)"
        raise ScenarioError([Issue("fit", message)], str(file))
    stray = boolean_issues(section, "fit")
    if stray:
        raise ScenarioError(stray, str(file))
    try:
        spec = FitSpec.model_validate(section)
    except ValidationError as exc:
        raise ScenarioError(issues_from_validation_error(exc, "fit"), str(file)) from None
    return scenario_from_data(data, file.parent, str(file)), spec
