"""Backtest forecasts of plans against what happened, for every council.

Rolling origin: for each council and each origin January ``t``, fit to the plans counted up
to January ``t``, forecast January ``t + 1 .. t + h`` and compare with the counts. Methods:
the statistical forecasts of :mod:`dsg_forecast.estimation.forecasting` (``ets``, ``arima``,
``loglinear``) and their naive baselines (``last_growth``, ``mean_growth``) on each
council's total, and the calibrated cohort-flow projection (``cohort``), which needs the
single-age stock by placement that SEN2 publishes for January 2024 and 2025 only, so it is
tested from origin 2024, one year ahead, in total and by placement.

Errors are percentages of the actual count: MAPE (mean absolute), MdAPE (median absolute),
bias (mean signed; positive over-forecasts) and the share of actuals inside the 80%
prediction interval (coverage).
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from dsg_forecast._processes import leave_signals_to_parent
from dsg_forecast.data import (
    CouncilNotFoundError,
    councils,
    find_council,
    plans_by_year,
    refused_by_year,
    requests_by_year,
    table,
)
from dsg_forecast.data.placements import NAMES
from dsg_forecast.errors import (
    ArgumentError,
    ArgumentTypeError,
    DsgForecastError,
    finite_number,
    whole_number,
)
from dsg_forecast.estimation.forecasting import (
    CALIBRATION_LEVELS,
    FIRST_YEAR,
    METHODS,
    ForecastError,
    ForecastFallbackWarning,
    GrowthModel,
    Method,
    interval_scale,
    requests_coefficients,
)
from dsg_forecast.io.strict import repeats

ALL_METHODS: tuple[str, ...] = (
    *METHODS, "pooled_without_requests", "cohort", "cohort_reconciled",
)  # fmt: skip
LAST_YEAR = 2025


@dataclass(frozen=True)
class BacktestResult:
    """Every forecast compared with its actual, and what could not be run."""

    errors: pd.DataFrame
    """``method, council, placement, origin, horizon, year, actual, forecast, lower, upper,
    error_pc, abs_error_pc, covered``."""
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)
    """``method, council, origin, reason`` for forecasts that could not be made."""

    def summary(
        self, by: Sequence[str] = ("method", "horizon"), placement: str = "total"
    ) -> pd.DataFrame:
        """MAPE, MdAPE, bias and 80% coverage, by method and horizon (in %).

        Parameters
        ----------
        by
            The columns to group the errors by.
        placement
            ``total``, or a placement whose own forecasts were made.

        Returns
        -------
        DataFrame
            ``forecasts``, ``MAPE``, ``MdAPE``, ``bias`` and ``coverage_80`` for each group.
        """
        rows = self.errors[self.errors["placement"] == placement]
        grouped = rows.groupby(list(by))
        out = pd.DataFrame(
            {
                "forecasts": grouped.size(),
                "MAPE": grouped["abs_error_pc"].mean(),
                "MdAPE": grouped["abs_error_pc"].median(),
                "bias": grouped["error_pc"].mean(),
                "coverage_80": grouped["covered"].mean() * 100,
            }
        )
        return out.round(2)


def _row(
    method: str,
    council: str,
    placement: str,
    origin: int,
    year: int,
    actual: float,
    forecast: float,
    lower: float,
    upper: float,
) -> dict[str, Any]:
    error = 100 * (forecast - actual) / actual
    covered = (
        bool(lower <= actual <= upper) if np.isfinite(lower) and np.isfinite(upper) else np.nan
    )
    return {
        "method": method, "council": council, "placement": placement, "origin": origin,
        "horizon": year - origin, "year": year, "actual": actual, "forecast": forecast,
        "lower": lower, "upper": upper, "error_pc": error, "abs_error_pc": abs(error),
        "covered": covered,
    }  # fmt: skip


def backtest(
    *,
    councils_to_test: Sequence[str] | None = None,
    origins: Iterable[int] = range(2017, 2025),
    horizons: Sequence[int] = (1, 2, 3),
    methods: Sequence[str] = ALL_METHODS,
    first_year: int = FIRST_YEAR,
    level: float = 0.8,
    pool: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run the rolling-origin backtest.

    Parameters
    ----------
    councils_to_test
        Names or codes (default: every council in the shipped tables).
    origins
        January censuses to forecast from.
    horizons
        Years ahead to compare (only where the count is published, up to January 2025).
    methods
        Any of :data:`ALL_METHODS`.
    first_year
        First January of the history each statistical method may use.
    pool
        Shrink each council's growth towards that of the other councils in its region.
    workers
        Processes to run councils in (1: in this process; never more than the machine's
        cores or the councils). The result is the same.
    progress
        Called with (councils done, councils) as each council finishes.

    Raises
    ------
    ArgumentError
        An unknown method, an origin, horizon, first year or number of workers that is not
        a whole number, a level not between 0 and 1; or (:class:`ForecastError`) a council,
        method, origin or horizon given twice, whose forecasts would count twice.
    ArgumentTypeError
        Councils, methods, origins or horizons given as one value, not a list.
    """
    origins = _checked(councils_to_test, origins, horizons, methods, first_year, workers, level)
    directory = councils()
    chosen = (
        [find_council(name) for name in councils_to_test]
        if councils_to_test is not None
        else [find_council(code) for code in directory["old_la_code"] if code != "E"]
    )
    _refuse_repeats(chosen, councils_to_test, methods, origins, horizons)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    task = functools.partial(
        _council_rows, origins=origins, horizons=tuple(horizons), methods=tuple(methods),
        first_year=first_year, level=level, pool=pool,
    )  # fmt: skip
    workers = min(workers, os.cpu_count() or 1, len(chosen))  # more would only wait
    with _runner(workers) as run:
        for done, (found, missed) in enumerate(run(task, chosen), start=1):
            rows += found
            skipped += missed
            if progress:
                progress(done, len(chosen))
    errors = pd.DataFrame(rows)
    return BacktestResult(
        errors, pd.DataFrame(skipped, columns=["method", "council", "origin", "reason"])
    )


def _checked(
    councils: object,
    origins: Iterable[int],
    horizons: object,
    methods: Sequence[str],
    first_year: object,
    workers: object,
    level: object,
) -> list[int]:
    """Return the origins as a list, having checked every argument's kind and the methods.

    A range or a generator of origins is read once (:func:`_check_kinds` names the rest).
    """
    given: object = origins
    with contextlib.suppress(TypeError):  # not iterable: named by _check_kinds
        given = given if isinstance(given, str) else list(origins)
    _check_kinds(councils, given, horizons, methods, first_year, workers, level)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        msg = f"unknown methods {unknown}; choose from {list(ALL_METHODS)}"
        raise ArgumentError(msg)
    return cast(list[int], given)


def _check_kinds(
    councils: object,
    origins: object,
    horizons: object,
    methods: object,
    first_year: object,
    workers: object,
    level: object,
) -> None:
    """Refuse arguments of the wrong kind, naming them.

    A bare ``"Wiltshire"`` was read as its letters; a number where a list of origins or
    methods belongs ended in "'int' object is not iterable".
    """
    examples = {"councils_to_test": "['Wiltshire']", "methods": "('pooled',)"}
    for name, value in (("councils_to_test", councils), ("methods", methods)):
        if value is None and name == "councils_to_test":
            continue
        if isinstance(value, str) or not isinstance(value, Iterable):
            msg = f"{name} is {value!r}; give a list of names, for example {examples[name]}"
            raise ArgumentTypeError(msg)
    for name, value, least, example in (
        ("origins", origins, 1900, "[2022, 2023]"),
        ("horizons", horizons, 1, "[1, 2, 3]"),
    ):
        if isinstance(value, str) or not isinstance(value, Iterable):
            msg = f"{name} is {value!r}; give a list of whole numbers, for example {example}"
            raise ArgumentTypeError(msg)
        bad = [v for v in value if not (whole_number(v) and v >= least)]
        if bad:
            msg = f"{name} holds {bad!r}; each must be a whole number of at least {least}"
            raise ArgumentError(msg)
    for name, value in (("first_year", first_year), ("workers", workers)):
        if not (whole_number(value) and value >= 1):
            msg = f"{name} is {value!r}; it must be a whole number of at least 1"
            raise ArgumentError(msg)
    if not (finite_number(level) and 0.0 < level < 1.0):  # every forecast skipped, for it
        msg = f"level is {level!r}; it must be between 0 and 1 (0.8 for 80% intervals)"
        raise ArgumentError(msg)


def _refuse_repeats(
    chosen: list[Any],
    asked: Sequence[str] | None,
    methods: Sequence[str],
    origins: list[int],
    horizons: Sequence[int],
) -> None:
    """Refuse a council, method, origin or horizon given twice: its forecasts would count twice.

    ``--council Wiltshire --council 865`` is one council; the summary's counts, medians and
    coverage weighed it double.
    """
    names = list(asked) if asked is not None else [c.name for c in chosen]
    problems = [
        f"{chosen[later].name} is given twice ({names[earlier]!r} and {names[later]!r})"
        for later, earlier in repeats(chosen, first=0).items()
    ]
    for what, values in (("method", methods), ("origin", origins), ("horizon", horizons)):
        twice = dict.fromkeys(values[later] for later in repeats(values, first=0))
        problems += [f"{what} {value!r} is given twice" for value in twice]
    if problems:
        msg = "; ".join(problems) + ": give each once (its forecasts would count twice)"
        raise ForecastError(msg)


@contextlib.contextmanager
def _runner(workers: int) -> Iterator[Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]]]:
    """Yield a map that runs a task on each item in order: here, or on ``workers`` processes.

    The processes end on leaving (Ctrl-C, a council's error) rather than first finishing
    the items queued to them, and leave Ctrl-C and SIGTERM, which reach them too, to this
    process.
    """
    if workers <= 1:
        yield map
        return
    import multiprocessing

    with multiprocessing.Pool(workers, initializer=leave_signals_to_parent) as processes:
        yield functools.partial(processes.imap, chunksize=4)


def _council_rows(
    council: Any,
    *,
    origins: list[int],
    horizons: tuple[int, ...],
    methods: tuple[str, ...],
    first_year: int,
    level: float,
    pool: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return one council's forecast rows and what could not be forecast (one task)."""
    totals = table("totals")
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    series = plans_by_year(totals, council.old_la_code)
    flows = table("flows")
    requests = (
        pd.Series(requests_by_year(flows, council.old_la_code), dtype=float),
        pd.Series(refused_by_year(flows, council.old_la_code), dtype=float),
    )
    peers = _peers(councils(), totals, council) if pool else None
    for origin in origins:
        rows += _statistical_rows(
            council.name, series, requests, origin, horizons, methods, first_year, level, peers,
            skipped,
        )  # fmt: skip
    if "cohort" in methods and 2024 in origins and 1 in horizons:
        rows.extend(_cohort_rows(council, totals, skipped))
    if "cohort_reconciled" in methods and 2024 in origins and 1 in horizons:
        rows.extend(_reconciled_rows(council, totals, skipped))
    return rows, skipped


def _peers(directory: pd.DataFrame, totals: pd.DataFrame, council: Any) -> list[pd.Series[float]]:
    """Return the total plans of every other council in the council's region."""
    codes = directory[
        (directory["region"] == council.region) & (directory["old_la_code"] != council.old_la_code)
    ]["old_la_code"]
    return [pd.Series(plans_by_year(totals, code), dtype=float) for code in codes]


def _statistical_rows(
    council: str,
    series: dict[int, float],
    requests: tuple[pd.Series[float], pd.Series[float]],
    origin: int,
    horizons: Sequence[int],
    methods: Sequence[str],
    first_year: int,
    level: float,
    peers: list[pd.Series[float]] | None,
    skipped: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Forecast one council's total from one origin with each statistical method.

    ``pooled`` reads the council's requests and refusals (``requests``) with coefficients
    estimated from the changes up to ``origin`` only (none before 2018: it then reads the
    plans alone), as a user at the origin could have; ``pooled_without_requests`` reads the
    plans alone. A method that cannot fit the history is noted in ``skipped``.
    """
    history = pd.Series(
        {year: plans for year, plans in series.items() if first_year <= year <= origin},
        dtype=float,
    ).sort_index()
    targets = [origin + h for h in horizons if origin + h in series and origin + h <= LAST_YEAR]
    if not targets or origin not in series:
        return []
    rows = []
    for method in methods:
        if method.startswith("cohort"):
            continue
        if history.empty:  # the first January read comes after the origin
            reason = f"the first year read, {first_year}, is after the origin"
            skipped.append(
                {"method": method, "council": council, "origin": origin, "reason": reason}
            )
            continue
        coefficients = requests_coefficients(origin) if method == "pooled" else None
        read = requests if coefficients is not None else (None, None)
        name = "pooled" if method == "pooled_without_requests" else cast(Method, method)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ForecastFallbackWarning)  # recorded below
                model = GrowthModel(name, level=level, pool=peers, coefficients=coefficients)
                model.fit(history, requests=read[0], refused=read[1])
            forecast = model.forecast(max(targets) - origin)  # no further than compared
        except (ValueError, np.linalg.LinAlgError) as exc:
            skipped.append(
                {"method": method, "council": council, "origin": origin, "reason": str(exc)}
            )
            continue
        for year in targets:
            mean, lower, upper = forecast.loc[year, ["mean", "lower", "upper"]].to_numpy(float)
            interval = (float(mean), float(lower), float(upper))
            rows.append(_row(method, council, "total", origin, year, series[year], *interval))
    return rows


def _cohort_rows(
    council: Any, totals: pd.DataFrame, skipped: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Calibrate to January 2024, project a year, compare with January 2025 (total, placements)."""
    from dsg_forecast.estimation.calibration import calibrate
    from dsg_forecast.model import project

    try:
        result = project(calibrate(council, to_year=2024, years=1), savings=False)
    except (DsgForecastError, CouncilNotFoundError, ValueError, KeyError) as exc:
        skipped.append(
            {"method": "cohort", "council": council.name, "origin": 2024, "reason": str(exc)}
        )
        return []
    # the end of December: the January 2025 census
    monthly = result.monthly.drop(columns="financial_year")
    december = dict(zip(monthly.columns, monthly.loc["2024-12"].to_numpy(dtype=float), strict=True))
    rows = []
    actual = plans_by_year(totals, council.old_la_code)
    if 2025 in actual:
        rows.append(
            _row(
                "cohort",
                council.name,
                "total",
                2024,
                2025,
                actual[2025],
                december["stock"],
                np.nan,
                np.nan,
            )
        )
    for column, value in december.items():
        if not str(column).startswith("stock_"):
            continue
        placement = str(column)[6:]
        counted = plans_by_year(totals, council.old_la_code, placement)
        if counted.get(2025, 0.0) >= 20:  # small counts make percentages noise
            rows.append(
                _row(
                    "cohort",
                    council.name,
                    placement,
                    2024,
                    2025,
                    counted[2025],
                    value,
                    np.nan,
                    np.nan,
                )
            )
    return rows


def _log_errors(errors: pd.DataFrame, method: str) -> pd.DataFrame:
    """Return a method's total forecasts' ``origin, horizon, log_error`` (log actual/forecast)."""
    rows = errors[(errors["method"] == method) & (errors["placement"] == "total")]
    return pd.DataFrame(
        {
            "origin": rows["origin"].to_numpy(int),
            "horizon": rows["horizon"].to_numpy(int),
            "log_error": np.log(rows["actual"].to_numpy(float) / rows["forecast"].to_numpy(float)),
        }
    )


def _scales(method: str, origins: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return each origin's interval scale, as the forecasts' own intervals have it.

    :func:`interval_scale` for ``pooled`` reading requests (from 2018, the first origin with
    a change to estimate their coefficients from); else 1.
    """
    if method != "pooled":
        return np.ones(len(origins))
    scales = {
        int(origin): interval_scale(int(origin)) if requests_coefficients(int(origin)) else 1.0
        for origin in np.unique(origins)
    }
    return np.array([scales[int(origin)] for origin in origins])


def error_spread(errors: pd.DataFrame, method: str = "pooled") -> dict[int, float]:
    """Return each January's spread of a method's one-year total errors across councils.

    The median absolute deviation, about their median, of ``log(actual / forecast)`` for the
    forecasts made a year before (:data:`~dsg_forecast.estimation.forecasting.ERROR_SPREAD`
    for ``pooled``).

    Parameters
    ----------
    errors
        A backtest's errors, with horizon 1.
    method
        The method.

    Returns
    -------
    dict[int, float]
        January → the spread of the errors into it.
    """
    logs = _log_errors(errors, method)
    logs = logs[logs["horizon"] == 1]
    spread = {}
    for origin in sorted(logs["origin"].unique()):
        values = logs.loc[logs["origin"] == origin, "log_error"].to_numpy()
        spread[int(origin) + 1] = float(np.median(np.abs(values - np.median(values))))
    return spread


def _conformal(absolute: np.ndarray[Any, Any], level: float) -> float:
    """Return the split-conformal quantile: the ceil((n + 1) level)-th smallest of n."""
    ordered = np.sort(absolute)
    rank = min(len(ordered), int(np.ceil((len(ordered) + 1) * level)))
    return float(ordered[rank - 1])


def interval_calibration(
    errors: pd.DataFrame,
    method: str = "pooled",
    levels: Sequence[float] = CALIBRATION_LEVELS,
    exclude_origins: Sequence[int] = (),
) -> dict[int, tuple[float, ...]]:
    """Return the quantiles of a method's out-of-sample |log error| by horizon.

    For ``pooled`` (with requests), each error is first divided by its origin's
    :func:`~dsg_forecast.estimation.forecasting.interval_scale`, so the quantiles are a
    typical year's.

    Parameters
    ----------
    errors
        A backtest's errors (:attr:`BacktestResult.errors`).
    method
        The method calibrated.
    levels
        The interval levels.
    exclude_origins
        Origins left out (to test the calibration on them).

    Returns
    -------
    dict[int, tuple[float, ...]]
        Horizon → the split-conformal quantile of ``|log(actual / forecast)|`` at each level.
    """
    logs = _log_errors(errors, method)
    logs = logs[~logs["origin"].isin(list(exclude_origins))]
    absolute = logs["log_error"].abs().to_numpy() / _scales(method, logs["origin"].to_numpy())
    horizons = logs["horizon"].to_numpy(int)
    return {
        int(h): tuple(_conformal(absolute[horizons == h], q) for q in levels)
        for h in np.unique(horizons)
    }


def calibrated_coverage(
    errors: pd.DataFrame, method: str = "pooled", levels: Sequence[float] = (0.8, 0.95)
) -> pd.DataFrame:
    """Return honest interval coverage, origin by origin.

    Each origin's forecasts are checked against a calibration that leaves that origin out.

    Parameters
    ----------
    errors
        A backtest's errors.
    method
        The method.
    levels
        The interval levels to check.

    Returns
    -------
    DataFrame
        ``origin, horizon, level, forecasts, coverage`` (coverage in %).
    """
    logs = _log_errors(errors, method)
    rows = []
    for origin in sorted(logs["origin"].unique()):
        table_out = interval_calibration(errors, method, levels, exclude_origins=[int(origin)])
        here = logs[logs["origin"] == origin]
        scale = _scales(method, np.array([origin]))[0]
        for horizon, group in here.groupby("horizon"):
            for k, level in enumerate(levels):
                width = table_out[int(horizon)][k] * scale
                inside = (group["log_error"].abs() <= width).mean() * 100
                rows.append((int(origin), int(horizon), level, len(group), float(inside)))
    return pd.DataFrame(rows, columns=["origin", "horizon", "level", "forecasts", "coverage"])


def _reconciled_rows(
    council: Any, totals: pd.DataFrame, skipped: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return the reconciled cohort model's forecasts from January 2024, and their benchmarks.

    The calibration reconciled to the default forecaster (``calibrate(...,
    reconciled=True)``: the total from :class:`GrowthModel`, and the placements of
    ``calibration.RECONCILED_PLACEMENTS`` with enough plans from their own forecasts); each
    placement's own forecast (England's count of that placement as the reference; method
    ``pooled``) is the benchmark.
    """
    from dsg_forecast.estimation.calibration import calibrate, own_forecast
    from dsg_forecast.model import project

    counted = plans_by_year(totals, council.old_la_code)
    if 2024 not in counted or 2025 not in counted:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ForecastFallbackWarning)
        own = {
            placement: forecast
            for placement in NAMES
            if (forecast := own_forecast(totals, council.old_la_code, placement, 2024)) is not None
        }
        try:
            scenario = calibrate(council, to_year=2024, years=1, reconciled=True)
            monthly = project(scenario, savings=False).monthly
        except (DsgForecastError, CouncilNotFoundError, ValueError, KeyError) as exc:
            skipped.append(
                {"method": "cohort_reconciled", "council": council.name, "origin": 2024,
                 "reason": str(exc)}
            )  # fmt: skip
            return []
    december = dict(zip(monthly.columns, monthly.loc["2024-12"].to_numpy(), strict=True))
    rows = [_row("cohort_reconciled", council.name, "total", 2024, 2025, counted[2025],
                 float(december["stock"]), np.nan, np.nan)]  # fmt: skip
    for placement in NAMES:
        actual = plans_by_year(totals, council.old_la_code, placement)
        if actual.get(2025, 0.0) < 20 or 2024 not in actual:
            continue
        projected = float(december[f"stock_{placement}"])
        rows.append(_row("cohort_reconciled", council.name, placement, 2024, 2025,
                         actual[2025], projected, np.nan, np.nan))  # fmt: skip
        if placement in own:
            rows.append(_row("pooled", council.name, placement, 2024, 2025, actual[2025],
                             *own[placement]))  # fmt: skip
    return rows
