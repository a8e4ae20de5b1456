"""Calibrate a council's scenario from its SEN2 history.

``calibrate("Wiltshire", to_year=2024)`` builds a :class:`~dsg_forecast.schema.Scenario`
whose demand, ceasing, transfers, transitions and new-plan mix are estimated from the
shipped SEN2 tables, starting at the January census of ``to_year``. Each estimate is
recorded with its method and the years it used (:class:`Calibration.notes`). Costs and
funding stay user inputs: the defaults are public figures from ``FACTS.md`` or labelled
assumptions, and are listed as such.

Single-age stock by placement is published for councils for January 2024 and 2025 only,
so those are the years a council can be calibrated to.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from dsg_forecast.data import Council, council_rows, find_council, plans_by_year, table
from dsg_forecast.data.placements import NAMES, PLACEMENTS
from dsg_forecast.errors import DsgForecastError
from dsg_forecast.periods import fy_label, month_label, month_number
from dsg_forecast.schema.parsing import scenario_from_mapping
from dsg_forecast.schema.scenario import Scenario

MAX_AGE: Final = 25
#: Ages pooled for the placement mix of new plans where an age has few of them.
MIX_BANDS: Final = ((0, 4), (5, 10), (11, 15), (16, 19), (20, 25))
FEW: Final = 10
#: Least plans in a placement at an age for the census to count as evidence of moves.
MIN_MOVERS: Final = 5
#: New plans up to this age (at 31 August; 4 is reception) take the census's placement mix
#: at their age: SEN2 records the setting a plan started in by the child's age then, and a
#: child who started a plan at 4 may be in nursery or in reception, as its birthday fell
#: before or after 1 September, which the census (by age at 31 August) tells apart
#: (``docs/backtest.md``).
CENSUS_MIX_UP_TO: Final = 4

#: Rounds of alternating the total's rate and the placements' residuals, and how close
#: (relative) each placement must come to its forecast.
MAX_RECONCILE_ROUNDS: Final = 50
RECONCILE_TOLERANCE: Final = 1e-9

#: Default unit costs [£ a plan a year], 2024-25 prices: sources from ../shared/context/FACTS.md,
#: or labelled assumptions.
DEFAULT_UNIT_COST: Final[dict[str, tuple[float, str]]] = {
    "mainstream": (8_662, "mainstream EHCP top-up average, one county's FOI answer"),
    "resourced": (18_000, "ASSUMPTION"),
    "special": (23_900, "state special school, National Audit Office 2024"),
    "independent_special": (61_500, "independent special school, National Audit Office 2024"),
    "non_maintained_special": (61_500, "ASSUMPTION: as independent special"),
    "ap": (20_000, "ASSUMPTION"),
    "further_education": (8_000, "ASSUMPTION"),
    "specialist_post16": (45_000, "ASSUMPTION"),
    "elsewhere": (10_000, "ASSUMPTION"),
    "neet": (0, "ASSUMPTION: no placement cost"),
    "early_years": (6_000, "ASSUMPTION"),
}
#: ASSUMPTION: most plans cease at the end of the school year (SEN2 has no months).
CEASING_PROFILE: Final = {"Jan": 0.04, "Feb": 0.04, "Mar": 0.04, "Apr": 0.04, "May": 0.04,
                          "Jun": 0.04, "Jul": 0.30, "Aug": 0.30, "Sep": 0.04, "Oct": 0.04,
                          "Nov": 0.04, "Dec": 0.04}  # fmt: skip


class CalibrationError(DsgForecastError, ValueError):
    """The council's data cannot support a calibration to that year."""


class UnreachableTargetError(CalibrationError):
    """A placement's forecast would need net transfers beyond ±100% a year to reach."""

    def __init__(self, message: str, placement: str) -> None:
        super().__init__(message)
        self.placement = placement

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the placement (a backtest's worker processes send it back pickled)."""
        return (type(self), (str(self), self.placement))


@dataclass(frozen=True)
class Note:
    """How one input was set."""

    field: str
    value: Any
    method: str
    years: str


@dataclass(frozen=True)
class Calibration:
    """A calibrated scenario and how each input was set."""

    council: Council
    to_year: int
    scenario: Scenario
    notes: tuple[Note, ...] = field(default=())

    def notes_frame(self) -> pd.DataFrame:
        """Return the notes as a table."""
        return pd.DataFrame([note.__dict__ for note in self.notes])


def _flow(flows: pd.DataFrame, measure: str, year: int) -> float:
    value = flows[(flows["measure"] == measure) & (flows["year"] == year)]["value"]
    return float(value.iloc[0]) if len(value) and pd.notna(value.iloc[0]) else float("nan")


def _stock(council: Council, year: int, tables: Mapping[str, pd.DataFrame] | None) -> pd.DataFrame:
    frame = council_rows("stock", council, tables)
    frame = frame[frame["year"] == year]
    if frame.empty:
        available = sorted(council_rows("stock", council, tables)["year"].unique())
        if not available:
            msg = (
                f"SEN2 has no plans by single age and placement for {council.name} (published "
                "for January 2024 and 2025, for the councils of those years)"
            )
        else:
            msg = (
                f"SEN2 publishes {council.name}'s plans by single age and placement for January "
                f"{' and '.join(map(str, available))} only; calibrate to one of those years"
            )
        raise CalibrationError(msg)
    table = frame.pivot_table(index="age", columns="placement", values="plans", aggfunc="sum")
    return table.reindex(index=range(MAX_AGE + 1), columns=list(NAMES)).fillna(0.0)


def _transitions(stock: pd.DataFrame, notes: list[Note]) -> list[dict[str, Any]]:
    """Net moves between placements at each age, from one census's age profile.

    Comparing placement shares at neighbouring ages (age a − 1 and a in the same census),
    placements whose share falls are taken to send plans to those whose share rises, in
    proportion. This reads a steady state into one census: it captures structural moves
    (into post-16 provision, into specialist provision at secondary transfer) and counts
    any change in the mix of new plans between the two ages as moves.
    """
    rules = []
    counts = stock.to_numpy(dtype=np.float64)  # (ages, placements)
    names = list(stock.columns)
    totals = counts.sum(axis=1)
    for age in range(1, MAX_AGE + 1):
        if totals[age - 1] < 20 or totals[age] < 20:
            continue
        before, after = counts[age - 1] / totals[age - 1], counts[age] / totals[age]
        drop = np.clip(before - after, 0.0, None)
        rise = np.clip(after - before, 0.0, None)
        if rise.sum() <= 0:
            continue
        # a move needs enough plans at both ends to be more than noise
        drop[counts[age - 1] < MIN_MOVERS] = 0.0
        rise[counts[age] < MIN_MOVERS] = 0.0
        if rise.sum() <= 0:
            continue
        for source in np.flatnonzero(drop > 0):
            out = drop[source] / before[source]
            for target in np.flatnonzero(rise > 0):
                # rounded down, so the rates out of one placement never sum above 1
                rate = float(np.floor(out * rise[target] / rise.sum() * 1e4) / 1e4)
                if rate >= 0.005:
                    rules.append(
                        {"from": names[source], "to": names[target], "ages": age, "rate": rate}
                    )
    notes.append(
        Note(
            "transitions",
            f"{len(rules)} rules",
            _transitions.__doc__.split("\n")[0] if _transitions.__doc__ else "",
            "census",
        )
    )
    return rules


@dataclass
class _Evidence:
    """What a calibration reads, and the notes of how each input was set from it."""

    place: Council
    to_year: int
    tables: Mapping[str, pd.DataFrame] | None
    stock: pd.DataFrame
    """Plans at the census, ages × placements."""
    flows: pd.DataFrame
    total: pd.Series[float]
    """Reported total plans by census year."""
    notes: list[Note] = field(default_factory=list)

    @property
    def last(self) -> int:
        """The calendar year of the flows before the census."""
        return self.to_year - 1

    def note(self, name: str, value: Any, method: str, span: str) -> None:
        """Record how one input was set."""
        self.notes.append(Note(name, value, method, span))

    def flow(self, measure: str, year: int | None = None) -> float:
        """One flow measure in a calendar year (the year before the census by default)."""
        return _flow(self.flows, measure, self.last if year is None else year)


def calibrate_detailed(
    council: str | Council,
    to_year: int = 2024,
    *,
    years: int = 5,
    tables: Mapping[str, pd.DataFrame] | None = None,
    reconciled: bool = False,
) -> Calibration:
    """Calibrate a council to the January census of ``to_year``; see :func:`calibrate`.

    Parameters
    ----------
    council
        A council's name, old LA code (``865``) or new code (``E06000054``), or a
        :class:`Council`.
    to_year
        The January census the projection starts from.
    years
        Financial years to project.
    tables
        Replaces the shipped SEN2 tables (same names and columns), for councils' own
        extracts and for tests.
    reconciled
        Reconcile to the default forecast of the next January (:func:`forecast_targets`).

    Returns
    -------
    Calibration
        The scenario, and a note of how each input was set and from which years.

    Raises
    ------
    CalibrationError
        If the council's data cannot support a calibration to that year.
    """
    _check_arguments(to_year=to_year, years=years, reconciled=reconciled)
    place = council if isinstance(council, Council) else find_council(council)
    totals = council_rows("totals", place, tables)
    evidence = _Evidence(
        place=place,
        to_year=to_year,
        tables=tables,
        stock=_stock(place, to_year, tables),
        flows=council_rows("flows", place, tables),
        total=totals[totals["placement"] == "total"].set_index("year")["plans"].sort_index(),
    )
    _check_stock_total(evidence)
    rates = _ceasing_rates(evidence)
    transfer = _net_transfer_rate(evidence)
    demand = {**_requests_and_decisions(evidence, years), **_assessment_pipeline(evidence)}
    demand.update(_new_plans(evidence))
    transitions = _transitions(evidence.stock, evidence.notes)
    unit_cost, block = _money_defaults(evidence)
    stock, last = evidence.stock, evidence.last
    data = {
        "name": f"{place.name} calibrated to January {to_year}",
        "description": _description(to_year, last),
        "start": month_label(month_number(to_year, 1)),
        "end": month_label(month_number(to_year + years, 3)),
        "ages": {"min": 0, "max": MAX_AGE},
        "placements": [
            {"name": p.name, "tier": p.tier, "description": p.description, "label": p.shown}
            for p in PLACEMENTS
        ],
        "opening_stock": {
            name: {age: float(count) for age, count in enumerate(stock[name]) if count > 0}
            for name in NAMES
        },
        "demand": demand,
        "net_transfer_rate": transfer,
        "ceasing": {"rates": rates, "profile": CEASING_PROFILE},
        "transitions": transitions,
        "costs": {"unit_cost": unit_cost, "uplift": 0.02},
        "funding": {"high_needs_block": block, "growth": 0.03},
        "agreement": {"balance_target": fy_label(to_year + years - 1)},
        "placeholders": ["costs.unit_cost", "funding.high_needs_block"],
    }
    scenario = scenario_from_mapping(data, f"calibration of {place.name}")
    calibration = Calibration(place, to_year, scenario, tuple(evidence.notes))
    return _reconciled(calibration, tables) if reconciled else calibration


#: The most financial years a calibrated scenario projects (a plan runs five).
MAX_YEARS: Final = 50


def _check_arguments(*, to_year: Any, years: Any, reconciled: Any) -> None:
    """Refuse a calibration argument of the wrong kind, naming it, its value and the rule."""
    for name, value in (("to_year", to_year), ("years", years)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            msg = f"{name} is {value!r}; it must be a whole number (a year, or a count of years)"
            raise CalibrationError(msg)
    if not 1 <= years <= MAX_YEARS:  # 10**20 ended inside numpy
        msg = f"years is {years}; it must be from 1 to {MAX_YEARS} (financial years projected)"
        raise CalibrationError(msg)
    if not isinstance(reconciled, bool | np.bool_):
        msg = f"reconciled is {reconciled!r}; it must be True or False"
        raise CalibrationError(msg)


def _description(to_year: int, last: int) -> str:
    """Return a calibrated scenario's description: its sources and what to replace."""
    return (
        f"Calibrated from DfE SEN2 statistics (2025 and 2022 releases, OGL v3.0) by "
        f"dsg_forecast: stock at January {to_year}, flows of {last}. Costs and funding are "
        "defaults to replace."
    )


def _reconciled(calibration: Calibration, tables: Mapping[str, pd.DataFrame] | None) -> Calibration:
    """Return the calibration reconciled to the default forecaster, its notes updated."""
    from dsg_forecast.estimation.forecasting import FIRST_YEAR

    to_year = calibration.to_year
    total, placements = forecast_targets(calibration.council, to_year, tables)
    month = f"{to_year}-12"
    unreachable: dict[str, str] = {}
    while True:  # a placement its forecast cannot be reached in shares the rest instead
        try:
            scenario = reconcile(calibration.scenario, total, month, placements=placements)
            break
        except UnreachableTargetError as exc:
            placements = {p: v for p, v in placements.items() if p != exc.placement}
            unreachable[exc.placement] = str(exc)
    span = f"{FIRST_YEAR}-{to_year}"
    notes = [note for note in calibration.notes if note.field != "net_transfer_rate"]
    notes.append(
        Note(
            "net_transfer_rate",
            scenario.net_transfer_rate,
            f"reconciled: plans reach the default forecaster's {total:,.0f} at the end of "
            f"{month} (January {to_year + 1})",
            span,
        )
    )
    if placements:
        notes.append(
            Note(
                "net_transfer_by_placement",
                dict(scenario.net_transfer_by_placement),
                "reconciled: each reaches its own pooled forecast of January "
                f"{to_year + 1} ({', '.join(f'{p} {v:,.0f}' for p, v in placements.items())}); "
                f"placements with fewer than {RECONCILED_MINIMUM} plans share the rest",
                span,
            )
        )
    if unreachable:
        notes.append(
            Note(
                "net_transfer_by_placement",
                list(unreachable),
                "left to share the rest, their own forecast out of reach: "
                + "; ".join(unreachable.values()),
                span,
            )
        )
    return Calibration(calibration.council, to_year, scenario, tuple(notes))


#: Placements a reconciled calibration brings to their own pooled forecast, where the council
#: counted at least :data:`RECONCILED_MINIMUM` plans in them at the census; smaller ones
#: share the rest of the total (a handful of plans can need an implausible residual). The
#: backtest chose them (``docs/backtest.md``).
RECONCILED_PLACEMENTS: Final[tuple[str, ...]] = (
    "special", "mainstream", "independent_special", "specialist_post16",
    "non_maintained_special", "ap",
)  # fmt: skip
RECONCILED_MINIMUM: Final = 20


def forecast_targets(
    council: Council, to_year: int, tables: Mapping[str, pd.DataFrame] | None = None
) -> tuple[float, dict[str, float]]:
    """Return the default forecaster's plans at the January after ``to_year``.

    The total from :class:`~dsg_forecast.estimation.forecasting.GrowthModel` on the
    council's history and its requests for assessment (``forecasting.forecast_council``),
    and, for each of :data:`RECONCILED_PLACEMENTS` where the council counted at least
    :data:`RECONCILED_MINIMUM` plans at the ``to_year`` census, that placement's own pooled
    forecast (see :func:`own_forecast`).

    Parameters
    ----------
    council
        The council.
    to_year
        The last January census read.
    tables
        Replaces the shipped ``totals`` table.

    Returns
    -------
    total : float
        Plans forecast for the next January.
    placements : dict of str to float
        Plans forecast by placement, for the placements reconciled.
    """
    from dsg_forecast.estimation.forecasting import forecast_council

    totals = table("totals") if tables is None else tables["totals"]
    result = forecast_council(council, to_year=to_year, horizon=1, tables=tables)
    total = float(result.forecast["mean"].iloc[0])
    placements: dict[str, float] = {}
    for placement in RECONCILED_PLACEMENTS:
        counts = plans_by_year(totals, council.old_la_code, placement)
        if counts.get(to_year, 0.0) < RECONCILED_MINIMUM:
            continue
        forecast = own_forecast(totals, council.old_la_code, placement, to_year)
        if forecast is not None:
            placements[placement] = forecast[0]
    return total, placements


def own_forecast(
    totals: pd.DataFrame, code: str, placement: str, origin: int
) -> tuple[float, float, float] | None:
    """Return a placement's own pooled forecast of the January after ``origin``, or None.

    Needs an unbroken run of at least two Januarys of the placement to ``origin``; England's
    count of the placement is the reference.

    Parameters
    ----------
    totals
        The ``totals`` table (the council's rows and England's).
    code
        The council's old LA code.
    placement
        The placement.
    origin
        The last January read.

    Returns
    -------
    tuple of float, or None
        The forecast's mean, lower and upper (80%) bounds; None without two Januarys.
    """
    from dsg_forecast.estimation.forecasting import GrowthModel

    past = _recent_run(plans_by_year(totals, code, placement), origin)
    if len(past) < 2:
        return None
    england = pd.Series(plans_by_year(totals, "E", placement), dtype=float)
    alone = GrowthModel(reference=england).fit(past).forecast(1)
    mean, lower, upper = alone[["mean", "lower", "upper"]].iloc[0].to_numpy(float)
    return float(mean), float(lower), float(upper)


def _recent_run(series: dict[int, float], last: int) -> pd.Series[float]:
    """Return the unbroken run of positive yearly values ending at ``last`` (from 2015)."""
    from dsg_forecast.estimation.forecasting import FIRST_YEAR

    run: dict[int, float] = {}
    year = last
    while year >= FIRST_YEAR and series.get(year, 0.0) > 0:
        run[year] = series[year]
        year -= 1
    return pd.Series(run, dtype=float).sort_index()


def _check_stock_total(evidence: _Evidence) -> None:
    """Refuse a census whose breakdown does not add up to its reported total (within 5%)."""
    place, to_year = evidence.place, evidence.to_year
    reported = float(evidence.total.get(to_year, np.nan))
    counted = float(evidence.stock.to_numpy().sum())
    if np.isfinite(reported) and abs(counted - reported) > 0.05 * reported:
        msg = (
            f"{place.name}'s January {to_year} census by age and placement sums to "
            f"{counted:,.0f} plans but its reported total is {reported:,.0f}; SEN2 withheld or "
            "misreported the breakdown, so it cannot be calibrated from it"
        )
        raise CalibrationError(msg)
    evidence.note(
        "opening_stock",
        round(counted),
        f"plans by single age and placement at the January {to_year} census",
        f"{to_year}",
    )


def _ceasing_rates(evidence: _Evidence) -> dict[str, float]:
    """Ceasing rates by age: ceased in the calendar year / plans at the census that ends it."""
    last = evidence.last
    ceased_rows = council_rows("ceased", evidence.place, evidence.tables)
    ceased_rows = ceased_rows[ceased_rows["year"] == last]
    ceased = dict(
        zip(ceased_rows["age"].astype(int), ceased_rows["plans"].astype(float), strict=True)
    )
    at_age = evidence.stock.to_numpy(dtype=np.float64).sum(axis=1)
    rates: dict[str, float] = {}
    if not ceased:
        total_rate = evidence.flow("ceased") / float(evidence.total.get(last, np.nan))
        rates = {f"0-{MAX_AGE}": round(float(np.nan_to_num(total_rate)), 4)}
        evidence.note(
            "ceasing.rates", rates, "no ceased plans by age: the overall ceasing rate", f"{last}"
        )
        return rates
    for age, count in ceased.items():
        covered = range(age, MAX_AGE + 1) if age == 20 else range(age, age + 1)
        base = float(sum(at_age[a] for a in covered))
        key = f"20-{MAX_AGE}" if age == 20 else str(age)
        rates[key] = round(min(0.95, float(np.nan_to_num(count)) / base), 4) if base else 0.0
    evidence.note(
        "ceasing.rates",
        "by age",
        f"ceased plans by age in {last} / plans at that age in January {evidence.to_year}",
        f"{last}",
    )
    return rates


def _net_transfer_rate(evidence: _Evidence) -> float:
    """Net transfers: the stock residual (MODEL.md §3.2), averaged over the years available."""
    total, to_year = evidence.total, evidence.to_year
    residuals = []
    for year in range(to_year - 3, to_year):
        needed = [
            total.get(year),
            total.get(year + 1),
            evidence.flow("new_plans", year),
            evidence.flow("ceased", year),
        ]
        if all(value is not None and np.isfinite(value) for value in needed):
            opening, closing, issued_plans, ended = (float(v) for v in needed)  # type: ignore[arg-type]  # None excluded above
            residuals.append((closing - opening - issued_plans + ended) / opening)
    transfer = round(float(np.clip(np.mean(residuals), -0.1, 0.15)), 4) if residuals else 0.0
    evidence.note(
        "net_transfer_rate",
        transfer,
        "mean of (next January − January − new plans + ceased plans) / January",
        f"{len(residuals)} years to {to_year}",
    )
    return transfer


def _requests_growth(
    requests: pd.Series[float],
    last: int,
    years: int,
    tables: Mapping[str, pd.DataFrame] | None,
) -> tuple[float, str]:
    """Return requests' mean annual growth over ``years``, from the default forecaster.

    The council's requests to ``last`` are forecast by :class:`GrowthModel` with England's
    requests as the reference (its own growth shrunk towards England's, damped a year at a
    time); the scenario's constant growth is the forecast's mean annual growth over the
    projection. Falls back (warning) to the council's own growth where England's is missing.
    """
    from dsg_forecast.data import table
    from dsg_forecast.estimation.forecasting import ForecastFallbackWarning, GrowthModel

    flows = tables["flows"] if tables is not None and "flows" in tables else table("flows")
    england = flows[(flows["measure"] == "requests") & (flows["old_la_code"] == "E")]
    reference = england.set_index("year")["value"].astype(float).sort_index()
    known = requests[(requests.index <= last) & (requests > 0)].dropna()
    unbroken: list[int] = []  # the unbroken run of years ending at the last (SEN2 has gaps)
    while last - len(unbroken) in known.index:
        unbroken.append(last - len(unbroken))
    history = known.loc[sorted(unbroken)]
    if len(history) < 2:
        earlier = known[known.index < last]
        if not len(earlier) or last not in known.index:
            return 0.0, "too few years: 0"
        first = int(earlier.index[-1])  # across the gap: the mean growth since then
        rate = (known[last] / known[first]) ** (1 / (last - first)) - 1
        return float(rate), f"{first}-{last} (a gap: mean growth across it)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ForecastFallbackWarning)
        model = GrowthModel(reference=reference).fit(history)
        forecast = model.forecast(years)
    for warning in caught:
        warnings.warn(str(warning.message), ForecastFallbackWarning, stacklevel=2)
    mean = float((forecast["mean"].iloc[-1] / history.iloc[-1]) ** (1 / years) - 1)
    return mean, f"{int(model.history_.index[0])}-{last} ({model.method_})"


def _requests_and_decisions(evidence: _Evidence, years: int) -> dict[str, Any]:
    """Estimate requests, their growth, the refusal rate and the plan rate."""
    flows, last = evidence.flows, evidence.last
    requests = flows[flows["measure"] == "requests"].set_index("year")["value"].sort_index()
    volume = float(requests.get(last, np.nan))
    if not np.isfinite(volume):
        raise CalibrationError(f"{evidence.place.name} has no request count for {last}")
    growth, span = _requests_growth(requests, last, years, evidence.tables)
    evidence.note(
        "demand.requests_per_year",
        volume,
        "requests received in the calendar year before the census",
        f"{last}",
    )
    evidence.note(
        "demand.requests_growth",
        round(growth, 4),
        "mean annual growth over the projection of the default forecast (GrowthModel: the "
        "council's growth shrunk towards England's, damped)",
        span,
    )
    assessed = evidence.flow("decided_to_assess")
    refused = evidence.flow("decided_not_to_assess")
    refusal = refused / (assessed + refused) if np.isfinite(assessed) else refused / volume
    refusal = round(float(np.clip(np.nan_to_num(refusal), 0.0, 0.95)), 4)
    evidence.note("demand.refusal_rate", refusal, "decided not to assess / decisions", f"{last}")
    issued = evidence.flow("assessments_issued")
    not_issued = evidence.flow("assessments_not_issued")
    plan_rate = issued / (issued + not_issued) if issued + not_issued > 0 else 0.95
    plan_rate = round(float(np.clip(np.nan_to_num(plan_rate, nan=0.95), 0.05, 1.0)), 4)
    evidence.note(
        "demand.plan_rate",
        plan_rate,
        "assessments issuing a plan / assessments concluded",
        f"{last}",
    )
    return {
        "requests_per_year": volume,
        "requests_growth": round(growth, 4),
        "request_profile": "flat",
        "refusal_rate": refusal,
        "plan_rate": plan_rate,
    }


def _assessment_pipeline(evidence: _Evidence) -> dict[str, Any]:
    """Estimate the assessment lag, capacity and backlog from 20-week timeliness."""
    last = evidence.last
    denominator = evidence.flow("issued_excluding_exceptions")
    within = evidence.flow("within_20_weeks_excluding_exceptions") / denominator
    over_year = np.nan_to_num(evidence.flow("over_a_year_excluding_exceptions") / denominator)
    within = float(np.nan_to_num(within, nan=0.5))
    # ASSUMPTION: plans within 20 weeks take 4 months, within a year 8, over a year 15
    lag = round(float(4 * within + 8 * (1 - within - over_year) + 15 * over_year))
    evidence.note(
        "demand.assessment_months",
        lag,
        f"{within:.0%} of plans within 20 weeks: 4, 8 or 15 months by timeliness band (ASSUMPTION)",
        f"{last}",
    )
    capacity: float | None = None
    backlog = 0.0
    completed = evidence.flow("assessments")
    if within < 0.5 and np.isfinite(completed):
        capacity = round(completed / 12, 2)
        backlog = max(0.0, float(np.nan_to_num(evidence.flow("decided_to_assess"))) - completed)
        evidence.note(
            "demand.assessment_capacity",
            capacity,
            "fewer than half of plans within 20 weeks: capacity is last year's assessments / 12",
            f"{last}",
        )
        evidence.note(
            "demand.opening_backlog",
            backlog,
            "decided to assess − assessments completed",
            f"{last}",
        )
    else:
        evidence.note(
            "demand.assessment_capacity",
            None,
            "half or more within 20 weeks: not capacity-bound",
            f"{last}",
        )
    return {"assessment_months": lag, "assessment_capacity": capacity, "opening_backlog": backlog}


def _new_plans(evidence: _Evidence) -> dict[str, Any]:
    """Estimate the age profile and placement mix of new plans."""
    last = evidence.last
    new_rows = council_rows("new_plans", evidence.place, evidence.tables)
    new_rows = new_rows[(new_rows["year"] == last) & (new_rows["age"] <= MAX_AGE)]
    if new_rows.empty:
        msg = f"{evidence.place.name} has no new plans by age and placement for {last}"
        raise CalibrationError(msg)
    new = np.zeros((MAX_AGE + 1, len(NAMES)))
    column = {name: j for j, name in enumerate(NAMES)}
    for age, placement, plans in zip(
        new_rows["age"].astype(int),
        new_rows["placement"],
        new_rows["plans"].fillna(0.0),
        strict=True,
    ):
        new[age, column[placement]] += float(plans)
    # SEN2 counts new plans by actual age at the start; the model by age at 31 August. A plan
    # started at actual age x is, on average, half at age x − 1 and half at x on that scale.
    started = new
    new = 0.5 * started + 0.5 * np.vstack([started[1:], np.zeros((1, started.shape[1]))])
    new[0] += 0.5 * started[0]  # nothing is younger than 0: age 0 keeps both halves
    by_age = new.sum(axis=1)
    ages = {
        a: round(float(by_age[a] / by_age.sum()), 6) for a in range(MAX_AGE + 1) if by_age[a] > 0
    }
    largest = max(ages, key=ages.__getitem__)
    ages[largest] = round(ages[largest] + 1.0 - sum(ages.values()), 6)
    mix: dict[int, dict[str, float]] = {}
    census = evidence.stock.to_numpy(dtype=np.float64)
    for age in ages:
        row = new[age]
        if age <= CENSUS_MIX_UP_TO and census[age].sum() >= FEW:
            row = census[age]
        elif row.sum() < FEW:
            band = next(b for b in MIX_BANDS if b[0] <= age <= b[1])
            row = new[band[0] : band[1] + 1].sum(axis=0)
        shares = {NAMES[j]: round(float(row[j] / row.sum()), 6) for j in np.flatnonzero(row > 0)}
        biggest = max(shares, key=shares.__getitem__)
        shares[biggest] = round(shares[biggest] + 1.0 - sum(shares.values()), 6)
        mix[age] = shares
    evidence.note(
        "demand.new_plan_ages",
        "by age",
        "new plans by age when the plan started, moved half a year younger (age at 31 August)",
        f"{last}",
    )
    evidence.note(
        "demand.new_plan_mix",
        "by age",
        f"placements of new plans by age (to age {CENSUS_MIX_UP_TO}: the census's placements "
        f"at that age); ages with fewer than {FEW} pooled over 0-4, 5-10, 11-15, 16-19 or 20-25",
        f"{last}",
    )
    return {"new_plan_ages": ages, "new_plan_mix": mix}


def _money_defaults(evidence: _Evidence) -> tuple[dict[str, float], int]:
    """Set unit costs and the high needs block: labelled defaults to replace."""
    unit_cost = {name: cost for name, (cost, _) in DEFAULT_UNIT_COST.items()}
    opening_cost = float((evidence.stock.sum() * pd.Series(unit_cost)).sum())
    evidence.note(
        "costs.unit_cost",
        unit_cost,
        "defaults: FACTS.md figures and labelled ASSUMPTIONs; replace with yours",
        "",
    )
    evidence.note(
        "funding.high_needs_block",
        round(opening_cost),
        "PLACEHOLDER: the opening stock's annual cost at the default unit costs; replace with "
        "the council's high needs block allocation",
        "",
    )
    return unit_cost, round(opening_cost)


def calibrate(
    council: str | Council, to_year: int = 2024, *, years: int = 5, reconciled: bool = False
) -> Scenario:
    """Build a council's scenario from its SEN2 history, starting at the January ``to_year`` census.

    Parameters
    ----------
    council
        A name (``"Wiltshire"``), old LA code (``"865"``) or new code (``"E06000054"``).
    to_year
        The January census to start from (2024 or 2025: the years SEN2 publishes single-age
        stock by placement for councils).
    years
        Financial years to project after the first (partial) one.
    reconciled
        Reconcile the census residuals so that the projection reaches the default
        forecaster's plans at the next January, in total and for the large placements
        (:func:`forecast_targets`): the configuration that forecasts best in the backtest.

    Returns
    -------
    Scenario
        Demand, ceasing, transfers, transitions and new-plan mix estimated from SEN2; costs
        and funding defaults to replace (see :func:`calibrate_detailed` for the notes).
    """
    return calibrate_detailed(council, to_year, years=years, reconciled=reconciled).scenario


def reconcile(
    scenario: Scenario,
    total: float,
    month: str,
    *,
    placements: Mapping[str, float] | None = None,
) -> Scenario:
    """Return the scenario with its net transfers set so that it projects ``total`` plans.

    The cohort-flow model says *where* plans will be; a statistical forecast of the total
    (the default :class:`~dsg_forecast.estimation.forecasting.GrowthModel`) says *how many*
    better. Reconciling sets the one term SEN2 cannot observe directly, the net transfer
    rate (the census residual, MODEL.md §3.2), so that the projection's plans at the end of
    ``month`` equal ``total``; the split by placement and age stays the cohort model's.

    With ``placements`` (forecasts of some placements' plans, for example each large
    placement's own pooled forecast), each of those placements also gets its own residual
    (``net_transfer_by_placement``) so that it projects its forecast, and the placements
    not named share what is left of the total. The split by age within a placement stays
    the cohort model's.

    Parameters
    ----------
    scenario
        A calibrated scenario.
    total
        The plans to reach at the end of ``month`` (for example the pooled forecast of the
        next January census, the end of December).
    month
        ``YYYY-MM`` within the projection.
    placements
        Plans to reach at the end of ``month`` by placement, for some placements; together
        they must leave plans for the others.

    Returns
    -------
    Scenario
        The scenario with ``net_transfer_rate`` (and ``net_transfer_by_placement``)
        reconciled.

    Raises
    ------
    CalibrationError
        If no rate between −50% and +50% a year reaches ``total``, or a placement's
        forecast is out of reach (not declared, no plans to scale, or a residual beyond
        ±100% a year).
    """
    from dsg_forecast.compiler import compile_scenario

    structure, params = compile_scenario(scenario)
    months = [month_label(int(m)) for m in structure.months]
    if month not in months:
        msg = f"{month} is outside the projection ({months[0]}..{months[-1]})"
        raise CalibrationError(msg)
    index = months.index(month)
    names = list(structure.placements)
    targets = _placement_targets(scenario, total, dict(placements or {}))
    rate, own = _residuals(scenario.name, (structure, params), total, targets, (month, index))
    by_placement = {name: round(float(own[names.index(name)]), 10) for name in targets}
    update: dict[str, Any] = {"net_transfer_rate": round(float(rate), 10)}
    if by_placement:
        update["net_transfer_by_placement"] = by_placement
    return scenario.model_copy(update=update)


def _residuals(
    name: str,
    compiled: tuple[Any, Any],
    total: float,
    targets: dict[str, float],
    when: tuple[str, int],
) -> tuple[float, Any]:
    """Return the net transfer rate and the residual by placement that meet the forecasts.

    The placements without a forecast share the rest of the total: the common rate sets
    them, so it hardly moves as the named placements' residuals do (only moves between
    them link the two), and alternating the two converges in a few rounds.
    """
    (structure, params), (month, index) = compiled, when
    names = list(structure.placements)
    rest = np.array([placement not in targets for placement in names])
    wanted = total - sum(targets.values())
    own = np.zeros(len(names))
    for _ in range(MAX_RECONCILE_ROUNDS):
        tried = params.replace(placement_transfer_rate=own[None, :])
        rate = _total_rate(name, structure, tried, (wanted, rest), month, index)
        plans = _plans_by_placement(structure, tried.replace(net_transfer_rate=np.array([rate])))
        worst = 0.0
        for placement, target in targets.items():
            p = names.index(placement)
            if plans[index, p] <= 0:
                msg = f"{name}: {placement} has no plans at {month} to scale to {target:,.0f}"
                raise CalibrationError(msg)
            ratio = target / plans[index, p]
            worst = max(worst, abs(ratio - 1.0))
            # the monthly factor that closes the gap over the months so far
            own[p] = 12.0 * ((1.0 + own[p] / 12.0) * ratio ** (1.0 / (index + 1)) - 1.0)
            if abs(own[p]) > 1.0:
                msg = (
                    f"{name}: {placement} would need net transfers of {own[p]:+.0%} a year "
                    f"to reach {target:,.0f} plans at {month}; more than ±100% is not a residual"
                )
                raise UnreachableTargetError(msg, placement)
        if worst < RECONCILE_TOLERANCE:
            return rate, own
    msg = f"{name}: the forecasts by placement did not reconcile ({worst:.2e} apart)"
    raise CalibrationError(msg)


def _placement_targets(
    scenario: Scenario, total: float, placements: dict[str, float]
) -> dict[str, float]:
    """Check the placements' forecasts: declared, positive, leaving plans for the others."""
    for name, target in placements.items():
        if name not in scenario.placement_names:
            msg = f"{name!r} is not a placement of {scenario.name}"
            raise CalibrationError(msg)
        if not np.isfinite(target) or target <= 0:
            msg = f"the forecast for {name} is {target}; it must be a positive number of plans"
            raise CalibrationError(msg)
    named = sum(placements.values())
    if placements and (named >= total or len(placements) == len(scenario.placement_names)):
        msg = (
            f"the forecasts for {', '.join(placements)} ({named:,.0f} plans) leave nothing of "
            f"the total ({total:,.0f}) for the other placements"
        )
        raise CalibrationError(msg)
    return placements


def _plans_by_placement(structure: Any, params: Any) -> Any:
    """Plans by month and placement of a one-scenario batch, (T, P)."""
    from dsg_forecast.model import run_batch

    return run_batch(structure, params).flows.stock_by_placement[0]


def _total_rate(
    name: str, structure: Any, params: Any, goal: tuple[float, Any], month: str, index: int
) -> float:
    """Return the net transfer rate at which some placements' plans at ``month`` make a goal.

    ``goal`` is the plans wanted and which placements they are (every placement, or those
    without a forecast of their own).
    """
    from scipy.optimize import brentq

    total, rest = goal

    def gap(rate: float) -> float:
        tried = params.replace(net_transfer_rate=np.array([rate]))
        return float(_plans_by_placement(structure, tried)[index][rest].sum() - total)

    low, high = -0.5, 0.5
    if gap(low) > 0 or gap(high) < 0:
        msg = (
            f"{name}: no net transfer rate between {low:.0%} and {high:.0%} a year "
            f"gives {total:,.0f} plans at the end of {month}"
        )
        raise CalibrationError(msg)
    return float(brentq(gap, low, high, xtol=1e-12))
