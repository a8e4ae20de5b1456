"""Statistical forecasts of annual series (plans at each January, requests) with statsmodels.

Every method works on the log scale, so growth compounds and forecasts stay positive:

- ``pooled`` (the default): the national growth of the last year plus the council's growth
  relative to the nation's, damped by 0.9 a year ahead. Given the council's requests for
  assessment and its decisions not to assess (``fit(history, requests=..., refused=...)``),
  the relative growth is predicted from its net requests (requests less refusals) per plan
  and its own growth of the last two years, each relative to England's (a median
  regression over every council's one-year changes, :data:`REQUESTS_COEFFICIENTS`):
  requests taken forward become plans within the year, so they are news of the coming year
  that the counts of plans do not yet hold. Without them, the relative growth is 0.2 of the
  council's own growth of the last two years less the nation's. Its intervals are
  **calibrated** on the library's own rolling-origin backtest (every council, origins
  2017-2024), separately with and without requests: the empirical quantiles of its
  out-of-sample log errors by horizon, with the conformal small-sample correction; with
  requests they are also scaled by how widely the forecasts of a year before missed the
  last January across councils (:func:`interval_scale`). It did best out of sample of
  everything tried (``docs/backtest.md``);
- ``ets``: exponential smoothing with a damped additive trend (``ETSModel``), its smoothing
  bounded away from the boundary its likelihood prefers (:data:`ETS_BOUNDS`);
- ``arima``: ARIMA(0, 1, 0) with drift, a random walk whose steps average the past growth;
- ``loglinear``: an ordinary least-squares trend in log(value);
- ``last_growth`` and ``mean_growth``: naive baselines, last year's growth or the mean of the
  last three years', carried forward.

Only the history from ``first_year`` (default 2015: the first January census after EHC plans
replaced statements) is used, inside the model, so a longer history gives the same
forecast. Annual SEN2 series are short (5-15 points), so each method falls back to a
simpler one when the series is too short for it (``ets`` needs 6 points, ``pooled``,
``loglinear`` and ``arima`` 3, ``last_growth`` 2); every fallback warns
(:class:`ForecastFallbackWarning`) and :attr:`GrowthModel.method_` and ``notes_`` record it.
Prediction intervals come from each model (``pooled``'s from the calibration); their
log-scale spread is never below ``min_sd`` a year, so a flat or perfectly fitted history does
not give a zero-width interval. With ``pool``, the
growth rate is shrunk towards that of similar councils (``n / (n + prior_years)`` on the
council's own), which steadies forecasts from short histories.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import numpy as np
import pandas as pd
from scipy import stats

from dsg_forecast.errors import (
    ArgumentError,
    ArgumentTypeError,
    DsgForecastError,
    finite_number,
    whole_number,
)

if TYPE_CHECKING:
    from dsg_forecast.data import Council

Method = Literal["pooled", "ets", "arima", "loglinear", "last_growth", "mean_growth"]
METHODS: tuple[Method, ...] = (
    "pooled", "ets", "arima", "loglinear", "last_growth", "mean_growth",
)  # fmt: skip
_NEEDS: dict[str, int] = {
    "pooled": 3, "ets": 6, "arima": 3, "loglinear": 3, "last_growth": 2, "mean_growth": 2,
}  # fmt: skip
_FALLBACK: dict[str, str] = {
    "pooled": "mean_growth", "ets": "loglinear", "arima": "last_growth",
    "loglinear": "last_growth", "mean_growth": "last_growth", "last_growth": "flat",
}  # fmt: skip

FIRST_YEAR = 2015
"""The first January census after EHC plans replaced statements (September 2014)."""

#: ``pooled``: weight of the council's own growth, years it is averaged over, and damping.
OWN_WEIGHT, OWN_YEARS, DAMPING = 0.2, 2, 0.9

#: ``ets``: bounds on its smoothing and damping. Fitted without them, almost every fit sits
#: at the likelihood's boundary (level smoothing 0.0001, trend 0) and behaves as a fixed
#: damped curve; bounded, it follows the latest counts (``docs/backtest.md``).
ETS_BOUNDS: dict[str, tuple[float, float]] = {
    "smoothing_level": (0.8, 0.9999),
    "smoothing_trend": (0.2, 0.9999),
    "damping_trend": (0.8, 0.98),
}

#: Levels at which ``CALIBRATION`` holds the quantiles of ``|log(actual / forecast)|``.
CALIBRATION_LEVELS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)

#: ``pooled``'s out-of-sample |log error| quantiles by horizon (1-3 years) at
#: ``CALIBRATION_LEVELS``: from :func:`dsg_forecast.estimation.backtest.interval_calibration`
#: on the library's backtest (every council, origins 2017-2024: those with three Januarys of
#: EHC plans behind them); a test recomputes them from the shipped tables.
CALIBRATION: dict[int, tuple[float, ...]] = {
    1: (0.034061, 0.042410, 0.052564, 0.066371, 0.091971, 0.116982, 0.216507),
    2: (0.054916, 0.068812, 0.084079, 0.103818, 0.140601, 0.178681, 0.298916),
    3: (0.073155, 0.090951, 0.112241, 0.139428, 0.188916, 0.240963, 0.427583),
}


#: ``pooled`` with requests, as :data:`CALIBRATION` (the backtest's method ``pooled``; the
#: table above is its ``pooled_without_requests``), in the units of a typical year: each
#: error divided by :func:`interval_scale` of its origin, and each interval's half-width
#: multiplied by it.
CALIBRATION_REQUESTS: dict[int, tuple[float, ...]] = {
    1: (0.033459, 0.043785, 0.053864, 0.068624, 0.090519, 0.123531, 0.207648),
    2: (0.058127, 0.073489, 0.088569, 0.112824, 0.146490, 0.176619, 0.305367),
    3: (0.077745, 0.098974, 0.125377, 0.148742, 0.192455, 0.243069, 0.389095),
}

#: ``pooled`` with requests: each January's spread of the default's one-year errors across
#: councils, known by that January: the median absolute deviation (about their median) of
#: every council's ``log(actual / forecast)`` for the forecasts made a year before (from
#: :func:`dsg_forecast.estimation.backtest.error_spread` on the library's backtest, origins
#: 2016-2024; a test recomputes them). Errors come in years of wider and narrower spread, and
#: a year's is like the last's, so the intervals of a forecast from January ``t`` are scaled
#: by :func:`interval_scale` of it (``docs/backtest.md``).
ERROR_SPREAD: dict[int, float] = {
    2017: 0.043379, 2018: 0.033105, 2019: 0.029293, 2020: 0.028200, 2021: 0.024035,
    2022: 0.021730, 2023: 0.026993, 2024: 0.030943, 2025: 0.027844,
}  # fmt: skip

#: :func:`interval_scale`: the spread of a typical year (the scale is 1 there).
SPREAD_REFERENCE = 0.03

#: ``pooled`` with requests: the intercept and the coefficients of the council's log growth
#: relative to England's on (its own mean log growth of the last two years less England's,
#: its net requests of the last calendar year (requests less decisions not to assess) per
#: plan at the census less England's): a median
#: regression over every council's one-year changes in the shipped tables, origins
#: 2017-2024 (:func:`requests_coefficients`; a test recomputes them).
REQUESTS_COEFFICIENTS: tuple[float, float, float] = (-0.003068, 0.074350, 0.526293)

#: ``pooled`` with requests: the largest gap between a council's net requests per plan and
#: England's that the forecast reads; a wider one (a data break, such as plans halved in a
#: year while requests went on) is held at it, with a warning. The coefficients were
#: estimated on gaps from -0.17 to +0.30.
REQUESTS_GAP_LIMIT = 0.35


class ForecastFallbackWarning(UserWarning):
    """A forecast used a simpler method than the one asked for, or held an input in range.

    The history was too short for the method, the reference has no growth into the last
    year, or the council's net requests per plan were further from England's than the forecast
    reads (:data:`REQUESTS_GAP_LIMIT`).
    """


class GrowthModel:
    """Forecast an annual series; fit with :meth:`fit`, then :meth:`forecast`.

    Parameters
    ----------
    method
        One of :data:`METHODS` (default ``pooled``).
    level
        Coverage of the prediction intervals (0.8 = 10% and 90% quantiles).
    min_sd
        Least log-scale standard deviation of a one-year-ahead forecast. [yr⁻¹]
    pool
        Series of similar councils whose mean growth the council's growth is shrunk towards
        (any method).
    prior_years
        Weight of the pooled growth, in years of the council's own data.
    first_year
        The first year of the history used (``None``: all of it).
    reference
        ``pooled`` only: the national series whose last growth the council's is shrunk
        towards; ``"national"`` (default) is England's plans from the shipped SEN2 tables,
        right for a council's plans; pass the national series of anything else you forecast.
    reference_requests, reference_refused
        ``pooled`` with requests only: the reference's requests for assessment and its
        decisions not to assess, by calendar year (both or neither). Default: England's from
        the shipped tables when ``reference`` is ``"national"``; with any other reference and
        neither given, requests cannot be compared and are not used.
    coefficients
        ``pooled`` with requests only: intercept and coefficients on the relative own growth
        and the relative net requests per plan (default :data:`REQUESTS_COEFFICIENTS`).

    Examples
    --------
    >>> history = pd.Series([100.0, 110.0, 121.0, 133.1], index=[2021, 2022, 2023, 2024])
    >>> model = GrowthModel("loglinear").fit(history)
    >>> print(f'{model.forecast(1).loc[2025, "mean"]:.1f}')
    146.4
    """

    # the national series, read once from the shipped tables
    _national: pd.Series[float] | None = None
    _national_requests: pd.Series[float] | None = None

    def __init__(
        self,
        method: Method = "pooled",
        *,
        level: float = 0.8,
        min_sd: float = 0.02,
        pool: Sequence[pd.Series[float]] | None = None,
        prior_years: float = 5.0,
        first_year: int | None = FIRST_YEAR,
        reference: pd.Series[float] | Literal["national"] | None = "national",
        reference_requests: pd.Series[float] | None = None,
        reference_refused: pd.Series[float] | None = None,
        coefficients: tuple[float, float, float] | None = None,
    ) -> None:
        if method not in METHODS:
            msg = f"unknown method {method!r}; choose one of {list(METHODS)}"
            raise ArgumentError(msg)
        if not (finite_number(level) and 0 < level < 1):
            msg = f"level {level!r} must be between 0 and 1"
            raise ArgumentError(msg)
        self.method = method
        self.level = level
        self.min_sd = min_sd
        self.pool = pool
        self.prior_years = prior_years
        self.first_year = first_year
        self.reference = reference
        self.reference_requests = reference_requests
        self.reference_refused = reference_refused
        self.coefficients = REQUESTS_COEFFICIENTS if coefficients is None else coefficients

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        history: pd.Series[float],
        requests: pd.Series[float] | None = None,
        refused: pd.Series[float] | None = None,
    ) -> Self:
        """Fit to an annual series (index: years; values: positive counts).

        Parameters
        ----------
        history
            Plans at each January, indexed by year.
        requests
            ``pooled`` only: the council's requests for an EHC needs assessment in each
            calendar year. The year before the last January is read (SEN2 publishes it with
            that census); without it the forecast uses the plans alone, with a warning.
        refused
            With ``requests``, and needed with them: the council's decisions not to assess in
            each calendar year. The forecast reads the requests less these (its *net
            requests*).

        Returns
        -------
        GrowthModel
            This model, fitted (``params_`` holds what was fitted).

        Raises
        ------
        ValueError
            If the series is empty, has gaps between years, or has values ≤ 0; or if requests
            are given to a method other than ``pooled``, are negative or not numbers, come
            without refusals (or refusals without requests), or are fewer than the refusals.
        """
        if requests is not None and self.method != "pooled":
            msg = f"requests are read by the pooled method only, not by {self.method}"
            raise ArgumentError(msg)
        net = _net_requests(requests, refused)
        self.notes_: list[str] = []
        series = self._window(history)
        self.history_ = series
        self.last_year_ = int(series.index[-1])
        self.n_obs_ = len(series)
        method: str = self.method
        while method != "flat" and self.n_obs_ < _NEEDS[method]:
            method = _FALLBACK[method]
        if method != self.method:
            self._fallback(
                f"{self.method} needs {_NEEDS[self.method]} years of history, {self.n_obs_} "
                f"given; {method} used"
            )
        if method == "pooled" and self._reference_growth() is None:
            method = "mean_growth"
            self._fallback(f"no reference growth into {self.last_year_}; mean_growth used")
        self.method_: str = method
        self.params_: dict[str, float] = {}
        self._result: Any = None
        self.uses_requests_ = False
        if method == "pooled" and net is not None:
            self._relative = self._requests_relative(net)
        self._fit_method(np.log(series.to_numpy()))
        return self

    def _window(self, history: pd.Series[float]) -> pd.Series[float]:
        """Return the history from ``first_year``, checked: yearly, gap-free and positive."""
        series = history.dropna().sort_index().astype(float)
        if series.empty:
            msg = "the history is empty"
            raise ArgumentError(msg)
        if self.first_year is not None:
            recent = series[series.index >= self.first_year]
            if len(recent) >= 2 or len(recent) == len(series):
                series = recent
            else:
                self._fallback(
                    f"fewer than two years from {self.first_year}; the whole history is used"
                )
        years = series.index.to_numpy(dtype=int)
        if len(years) > 1 and np.any(np.diff(years) != 1):
            msg = f"the history must have one value a year without gaps; it has years {list(years)}"
            raise ArgumentError(msg)
        if (series <= 0).any():
            msg = "the history must be positive (it is modelled on the log scale)"
            raise ArgumentError(msg)
        return series

    def _fit_method(self, log: np.ndarray[Any, Any]) -> None:
        """Fit ``method_`` to the log series (falling back from ETS if it cannot be fitted)."""
        steps = np.diff(log)
        self.step_sd_ = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0
        if self.method_ == "ets":
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # short series: convergence warnings are expected
                try:
                    # a Series: ETSModel's prediction intervals need a pandas index
                    endog = pd.Series(log, index=pd.RangeIndex(self.n_obs_))
                    # a copy: statsmodels adds to the bounds it is given
                    bounds = dict(ETS_BOUNDS)
                    model = ETSModel(
                        endog, error="add", trend="add", damped_trend=True, bounds=bounds
                    )
                    self._result = model.fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    self.method_ = "loglinear"
                    self._fallback("ets could not be fitted; loglinear used")
        if self.method_ == "arima":
            from statsmodels.tsa.arima.model import ARIMA

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._result = ARIMA(log, order=(0, 1, 0), trend="t").fit()
        if self.method_ == "loglinear":
            import statsmodels.api as sm

            design = sm.add_constant(np.arange(self.n_obs_, dtype=float))
            self._result = sm.OLS(log, design).fit()
            self.params_["growth"] = float(np.expm1(self._result.params[1]))
        if self.method_ == "pooled":
            own = float(steps[-OWN_YEARS:].mean())
            reference = self._reference_growth()
            assert reference is not None
            self.params_["own_growth"] = float(np.expm1(own))
            self.params_["reference_growth"] = float(np.expm1(reference))
            if self.uses_requests_:
                growth = reference + self._relative
                self.params_["interval_scale"] = interval_scale(self.last_year_)
                read = spread_year(self.last_year_)
                if read != self.last_year_:
                    self.notes_.append(
                        "intervals at a typical year's width: no spread of errors is known "
                        f"by January {self.last_year_}" if read is None else
                        f"intervals scaled by the spread of the errors into January {read}, "
                        "the latest the shipped tables hold"
                    )  # fmt: skip
            else:
                growth = OWN_WEIGHT * own + (1 - OWN_WEIGHT) * reference
            self.params_["growth"] = float(np.expm1(growth))
        if self.method_ in ("last_growth", "mean_growth"):
            window = steps[-1:] if self.method_ == "last_growth" else steps[-3:]
            self.params_["growth"] = float(np.expm1(window.mean()))
        if self.method_ == "flat":
            self.params_["growth"] = 0.0

    def _fallback(self, note: str) -> None:
        """Record a fallback and warn about it."""
        self.notes_.append(note)
        warnings.warn(note, ForecastFallbackWarning, stacklevel=3)

    def _requests_relative(self, requests: pd.Series[float]) -> float:
        """Return the council's predicted log growth relative to the reference's.

        ``requests`` are the council's net requests (less refusals) by calendar year.

        Sets ``uses_requests_`` and records the signals in ``params_``; 0.0 and a fallback
        note when the requests or the reference cannot be read.
        """
        last = self.last_year_
        reference, reference_requests = self._reference_series(), self._reference_net_requests()
        council = self.history_
        wanted = (last, last - 1, last - 2)
        missing = (
            "the council's plans" if any(y not in council.index for y in wanted)
            else "the council's requests" if last - 1 not in requests.index
            else "the reference's plans" if reference is None
            or any(y not in reference.index for y in wanted)
            else "the reference's requests" if reference_requests is None
            or last - 1 not in reference_requests.index
            else None
        )  # fmt: skip
        if missing is not None:
            self._fallback(
                f"requests need {missing} for {last - 2}-{last} (requests: {last - 1}); "
                "pooled on plans alone"
            )
            return 0.0
        assert reference is not None and reference_requests is not None
        own = np.log(council[last] / council[last - 2]) / 2
        nation = np.log(reference[last] / reference[last - 2]) / 2
        per_plan = float(requests[last - 1] / council[last])
        reference_per_plan = float(reference_requests[last - 1] / reference[last])
        intercept, on_growth, on_requests = self.coefficients
        self.uses_requests_ = True
        self.params_.update(
            net_requests_per_plan=per_plan, reference_net_requests_per_plan=reference_per_plan
        )
        gap = per_plan - reference_per_plan
        if abs(gap) > REQUESTS_GAP_LIMIT:
            self._fallback(
                f"net requests per plan {per_plan:.2f} against the reference's "
                f"{reference_per_plan:.2f}: a gap of {gap:+.2f} is held at "
                f"{np.copysign(REQUESTS_GAP_LIMIT, gap):+.2f}, the widest the forecast reads"
            )
            gap = float(np.clip(gap, -REQUESTS_GAP_LIMIT, REQUESTS_GAP_LIMIT))
        return float(intercept + on_growth * (own - nation) + on_requests * gap)

    def _reference_series(self) -> pd.Series[float] | None:
        """Return the reference series (England's plans for ``"national"``), positive values."""
        reference = self.reference
        if isinstance(reference, str):
            reference = GrowthModel._national_plans()
        if reference is None:
            return None
        values = reference.dropna().astype(float)
        return values[values > 0]

    def _reference_net_requests(self) -> pd.Series[float] | None:
        """Return the reference's net requests: given, England's for ``"national"``, or None."""
        if self.reference_requests is not None or self.reference_refused is not None:
            return _net_requests(
                self.reference_requests, self.reference_refused, "reference_requests",
                "reference_refused",
            )  # fmt: skip
        if isinstance(self.reference, str):
            if GrowthModel._national_requests is None:
                from dsg_forecast.data import refused_by_year, requests_by_year, table

                flows = table("flows")
                GrowthModel._national_requests = _net_requests(
                    pd.Series(requests_by_year(flows, "E"), dtype=float),
                    pd.Series(refused_by_year(flows, "E"), dtype=float),
                )
            return GrowthModel._national_requests
        return None

    def _reference_growth(self) -> float | None:
        """Return the reference series' log growth into the last year, if it has both years."""
        values = self._reference_series()
        if values is None or any(
            y not in values.index for y in (self.last_year_ - 1, self.last_year_)
        ):
            return None
        return float(np.log(values[self.last_year_] / values[self.last_year_ - 1]))

    @classmethod
    def _national_plans(cls) -> pd.Series[float]:
        """Return England's plans at each January, from the shipped SEN2 tables."""
        if cls._national is None:
            from dsg_forecast.data import table

            totals = table("totals")
            england = totals[(totals["old_la_code"] == "E") & (totals["placement"] == "total")]
            cls._national = england.set_index("year")["plans"].astype(float).sort_index()
        return cls._national

    # -- forecasting ---------------------------------------------------------------------
    def _pooled_growth(self, own: float) -> float:
        if not self.pool:
            return own
        peers = []
        for peer in self.pool:
            values = peer.dropna().sort_index()
            values = values[values.index <= self.last_year_]
            if len(values) >= 2 and (values > 0).all():
                peers.append(np.diff(np.log(values.to_numpy()))[-3:].mean())
        if not peers:
            return own
        weight = self.n_obs_ / (self.n_obs_ + self.prior_years)
        log_growth = weight * np.log1p(own) + (1 - weight) * float(np.mean(peers))
        return float(np.expm1(log_growth))

    def forecast(self, horizon: int) -> pd.DataFrame:
        """Forecast ``horizon`` years ahead, indexed by year.

        Columns: ``mean`` (the median on the original scale), ``lower`` and ``upper`` (the
        prediction interval).

        Parameters
        ----------
        horizon
            Years ahead (1 or more).

        Returns
        -------
        DataFrame
            One row per year after the history's last.

        Raises
        ------
        NotFittedError
            If the model has not been fitted (a ``RuntimeError``).
        ArgumentError
            If ``horizon`` is not a whole number of years, 1 or more.
        """
        if not hasattr(self, "history_"):
            msg = "fit the model before forecasting"
            raise NotFittedError(msg)
        if not whole_number(horizon) or horizon < 1:
            msg = f"horizon is {horizon!r}; it must be a whole number of years, 1 or more"
            raise ArgumentError(msg)
        steps = np.arange(1, horizon + 1)
        alpha = 1 - self.level
        z = stats.norm.ppf(1 - alpha / 2)
        last = float(np.log(self.history_.iloc[-1]))
        if self.method_ == "ets":
            frame = self._result.get_prediction(
                start=self.n_obs_, end=self.n_obs_ + horizon - 1
            ).summary_frame(alpha=alpha)
            centre = frame["mean"].to_numpy()
            spread = (frame["pi_upper"].to_numpy() - centre) / z
        elif self.method_ == "arima":
            frame = self._result.get_forecast(horizon).summary_frame(alpha=alpha)
            centre = frame["mean"].to_numpy()
            spread = (frame["mean_ci_upper"].to_numpy() - centre) / z
        elif self.method_ == "loglinear":
            x = np.column_stack([np.ones(horizon), self.n_obs_ - 1 + steps])
            frame = self._result.get_prediction(x).summary_frame(alpha=alpha)
            centre = frame["mean"].to_numpy()
            spread = (frame["obs_ci_upper"].to_numpy() - centre) / z
        elif self.method_ == "pooled":
            damped = np.cumsum(DAMPING ** (steps - 1))
            centre = last + damped * np.log1p(self.params_["growth"])
            spread = (
                calibrated_half_width(
                    steps, self.level, requests=self.uses_requests_, year=self.last_year_
                )
                / z
            )
        else:
            centre = last + steps * np.log1p(self.params_["growth"])
            spread = self.step_sd_ * np.sqrt(steps)
            if self.method == "pooled" and CALIBRATION:
                # fallen back from the default for want of history: no surer than it is
                spread = np.maximum(spread, calibrated_half_width(steps, self.level) / z)
        if self.pool:
            own = float(np.expm1((centre[-1] - last) / horizon))
            pooled = self._pooled_growth(own)
            centre = last + steps * np.log1p(pooled)
        calibrated = CALIBRATION_REQUESTS if self.uses_requests_ else CALIBRATION
        spread = np.maximum(np.nan_to_num(spread, nan=np.inf if not calibrated else 0.0),
                            self.min_sd * np.sqrt(steps))  # fmt: skip
        years = self.last_year_ + steps
        return pd.DataFrame(
            {
                "mean": np.exp(centre),
                "lower": np.exp(centre - z * spread),
                "upper": np.exp(centre + z * spread),
            },
            index=pd.Index(years, name="year"),
        )

    def growth_distribution(self, horizon: int = 1) -> dict[str, Any]:
        """Return the forecast's annual growth over ``horizon`` years as a sweep distribution.

        Returns a truncated normal (``{"dist": "truncnorm", "mean", "sd", "low"}``) whose
        central 80% (``level``) matches the forecast interval's implied growth, ready for a
        sweep's ``parameters`` (for example ``demand.requests_growth``).

        Parameters
        ----------
        horizon
            Years over which the growth is averaged.
        """
        frame = self.forecast(horizon)
        last = float(self.history_.iloc[-1])
        row = frame.iloc[-1]
        mean = (row["mean"] / last) ** (1 / horizon) - 1
        upper = (row["upper"] / last) ** (1 / horizon) - 1
        z = stats.norm.ppf(1 - (1 - self.level) / 2)
        sd = max((upper - mean) / z, 1e-4)
        return {"dist": "truncnorm", "mean": float(mean), "sd": float(sd), "low": -0.99}


def _checked_requests(requests: pd.Series[float], name: str = "requests") -> pd.Series[float]:
    """Return requests by calendar year as floats, refusing what cannot be read as counts."""
    if not isinstance(requests, pd.Series):
        kind = type(requests).__name__
        msg = f"{name} must be a pandas Series of counts by calendar year, not a {kind}"
        raise ArgumentTypeError(msg)
    if pd.api.types.is_bool_dtype(requests) or not pd.api.types.is_numeric_dtype(requests):
        msg = f"{name} must be counts by calendar year; they are of type {requests.dtype}"
        raise ArgumentError(msg)
    if not pd.api.types.is_integer_dtype(requests.index):
        kind = requests.index.dtype
        msg = f"{name} must be indexed by calendar year (whole numbers), not by {kind} values"
        raise ArgumentError(msg)
    if requests.index.has_duplicates:
        year = requests.index[requests.index.duplicated()][0]
        msg = f"{name} give year {year} more than once"
        raise ArgumentError(msg)
    values = requests.dropna().astype(float)
    endless = values[~np.isfinite(values)]
    if len(endless):
        msg = f"{name} for {endless.index[0]} are {endless.iloc[0]:g}; a count must be finite"
        raise ArgumentError(msg)
    negative = values[values < 0]
    if len(negative):
        msg = (
            f"{name} for {negative.index[0]} are {negative.iloc[0]:g}; requests cannot be negative"
        )
        raise ArgumentError(msg)
    return values


def _net_requests(
    requests: pd.Series[float] | None,
    refused: pd.Series[float] | None,
    name: str = "requests",
    refused_name: str = "refused",
) -> pd.Series[float] | None:
    """Return requests less refusals by calendar year (None if neither is given), checked.

    Both must be given, as counts; a year's refusals may not exceed its requests.
    """
    if requests is None and refused is None:
        return None
    if requests is None or refused is None:
        given, missing = (name, refused_name) if refused is None else (refused_name, name)
        msg = (
            f"{given} given without {missing}: the forecast reads requests less the decisions "
            "not to assess, so it needs both"
        )
        raise ArgumentError(msg)
    asked, turned_down = _checked_requests(requests, name), _checked_requests(refused, refused_name)
    years = asked.index.intersection(turned_down.index)
    over = [y for y in years if turned_down[y] > asked[y]]
    if over:
        year = over[0]
        msg = (
            f"{refused_name} for {year} are {turned_down[year]:g}, more than the "
            f"{asked[year]:g} {name}; refusals are some of the requests"
        )
        raise ArgumentError(msg)
    return (asked[years] - turned_down[years]).sort_index()


def calibrated_half_width(
    horizons: np.ndarray[Any, Any], level: float, *, requests: bool = False, year: int | None = None
) -> np.ndarray[Any, Any]:
    """Return the calibrated half-width of a ``level`` interval in log terms, by horizon.

    The quantile of ``pooled``'s out-of-sample ``|log(actual / forecast)|`` at ``level``,
    interpolated between :data:`CALIBRATION_LEVELS` (and held at their ends); beyond three
    years the three-year width grows in proportion to the horizon. With requests it is
    scaled by :func:`interval_scale` of the forecast's last January.

    Parameters
    ----------
    horizons
        Years ahead (1 or more).
    level
        The interval's coverage.
    requests
        The forecast read requests (:data:`CALIBRATION_REQUESTS`, not :data:`CALIBRATION`).
    year
        With ``requests``: the January the forecast is made from (None: a typical year).

    Returns
    -------
    numpy.ndarray
        One half-width per horizon.
    """
    calibration = CALIBRATION_REQUESTS if requests else CALIBRATION
    if not calibration:  # being computed: no intervals yet
        return np.full(np.shape(horizons), np.nan)
    scale = interval_scale(year) if requests and year is not None else 1.0
    widths = []
    for h in np.asarray(horizons, dtype=int):
        table = calibration[min(int(h), 3)]
        width = float(np.interp(level, CALIBRATION_LEVELS, table))
        widths.append(scale * width * (h / 3 if h > 3 else 1.0))
    return np.asarray(widths)


def interval_scale(year: int) -> float:
    """Return the factor on the requests calibration's widths for forecasts from ``year``.

    ``spread / SPREAD_REFERENCE``, where the spread is
    :data:`ERROR_SPREAD` of ``year``: how widely the default's one-year errors into that
    January ranged across councils. After the last January it holds, the last's; before the
    first, 1 (a typical year).

    Parameters
    ----------
    year
        The January the forecast is made from.

    Returns
    -------
    float
        The factor (1 in a year whose spread is :data:`SPREAD_REFERENCE`).

    Examples
    --------
    >>> print(f"{interval_scale(2022):.3f}")
    0.724
    """
    known = spread_year(year)
    return 1.0 if known is None else ERROR_SPREAD[known] / SPREAD_REFERENCE


def spread_year(year: int) -> int | None:
    """Return the January of :data:`ERROR_SPREAD` read for forecasts from ``year``.

    ``year`` itself, or the last before it (the latest known); None before the first.

    Parameters
    ----------
    year
        The January the forecast is made from.

    Returns
    -------
    int or None
        The January whose spread is read, or None if ``ERROR_SPREAD`` holds none by then.
    """
    known = [y for y in ERROR_SPREAD if y <= year]
    return max(known) if known else None


@functools.cache
def requests_coefficients(last_year: int | None = None) -> tuple[float, float, float] | None:
    """Estimate ``pooled``'s requests coefficients from the changes up to ``last_year``.

    A median (least absolute deviation) regression, over every council and every January
    ``t`` with ``t + 1 <= last_year``, of the council's log growth into ``t + 1`` less
    England's on its mean log growth over the two years to ``t`` less England's, and its
    net requests (requests less decisions not to assess) in calendar year ``t - 1`` per plan
    at January ``t`` less England's.

    Parameters
    ----------
    last_year
        The last January whose count may be read (default: the shipped tables' last).

    Returns
    -------
    tuple of float, or None
        Intercept, coefficient on relative growth, coefficient on relative net requests per
        plan (:data:`REQUESTS_COEFFICIENTS` with the default); None when
        no change can be read (requests start in 2016, so the first is into 2018).
    """
    from statsmodels.regression.quantile_regression import QuantReg

    from dsg_forecast.data import table

    if last_year is not None and not whole_number(last_year):
        msg = f"last_year is {last_year!r}; give a year (a whole number, 2024 say) or None"
        raise ArgumentTypeError(msg)
    totals = table("totals")
    plans = totals[totals["placement"] == "total"].pivot_table(
        index="old_la_code", columns="year", values="plans"
    ).astype(float)  # fmt: skip
    flows = table("flows")
    by_measure = {
        measure: flows[flows["measure"] == measure].pivot_table(
            index="old_la_code", columns="year", values="value"
        ).astype(float)
        for measure in ("requests", "decided_not_to_assess")
    }  # fmt: skip
    requests = by_measure["requests"] - by_measure["decided_not_to_assess"]  # net requests
    log = pd.DataFrame(np.log(plans.where(plans > 0)))
    last_year = int(log.columns.max()) if last_year is None else last_year
    rows = []
    for year in range(int(log.columns.min()) + 2, last_year):
        if year - 1 not in requests.columns or year + 1 not in log.columns:
            continue
        relative = log[[year - 2, year, year + 1]].sub(log.loc["E", [year - 2, year, year + 1]])
        per_plan = requests[year - 1].reindex(log.index) / plans[year]
        rows.append(
            pd.DataFrame(
                {
                    "growth": relative[year + 1] - relative[year],
                    "own": (relative[year] - relative[year - 2]) / 2,
                    "requests": per_plan - per_plan["E"],
                }
            ).drop(index="E")
        )
    data = pd.concat(rows).replace([np.inf, -np.inf], np.nan).dropna() if rows else None
    if data is None or data.empty:
        return None
    design = np.column_stack([np.ones(len(data)), data["own"], data["requests"]])
    fitted = QuantReg(data["growth"].to_numpy(), design).fit(q=0.5, max_iter=20_000)
    intercept, on_growth, on_requests = (float(v) for v in fitted.params)
    return intercept, on_growth, on_requests


#: The most Januarys ahead a council's forecast reaches (the intervals are calibrated on
#: one to three; further out they only widen).
MAX_HORIZON: Final = 50


class NotFittedError(DsgForecastError, RuntimeError):
    """A model asked to forecast before it was fitted."""


class ForecastError(DsgForecastError, ValueError):
    """A council's forecast cannot be made as asked (a year without a count, a bad argument)."""


@dataclass(frozen=True)
class CouncilForecast:
    """A council's plans at each January: counted, and forecast by the default forecaster."""

    council: Council
    counted: pd.Series[float]
    """Plans counted at each January read, from :data:`FIRST_YEAR`."""
    forecast: pd.DataFrame
    """``mean``, ``lower`` and ``upper`` by year, as :meth:`GrowthModel.forecast`."""
    model: GrowthModel
    """The fitted model: ``params_`` (growths, net requests per plan) and ``notes_``."""


def forecast_council(
    council: str | Council,
    *,
    to_year: int | None = None,
    horizon: int = 3,
    level: float = 0.8,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> CouncilForecast:
    """Forecast a council's plans with the default forecaster, its net requests read.

    The council's plans at each January to ``to_year``, its requests for assessment and its
    decisions not to assess come from the shipped SEN2 tables (or ``tables``); the requests
    coefficients are estimated from the changes up to ``to_year`` only, so a forecast from
    an earlier January reads nothing after it. Fallbacks warn
    (:class:`ForecastFallbackWarning`) and are recorded in ``model.notes_``.

    Parameters
    ----------
    council
        Name, old LA code (``865``) or new code (``E06000054``), or a found council.
    to_year
        The last January census read (default: the last counted).
    horizon
        Years ahead (1 or more).
    level
        Coverage of the prediction intervals.
    tables
        Replaces the shipped ``totals`` and ``flows`` tables (same names and columns) for
        the council's own rows; England's series, the requests coefficients and the interval
        calibration still come from the shipped tables.

    Returns
    -------
    CouncilForecast
        What was counted, the forecast and the fitted model.

    Raises
    ------
    ForecastError
        If ``to_year`` or ``horizon`` is not a whole number, ``horizon`` is not from 1 to
        :data:`MAX_HORIZON`, or the council has no count for January ``to_year``.
    ArgumentTypeError
        If ``council`` is neither text nor a :class:`~dsg_forecast.data.Council`.

    Examples
    --------
    >>> result = forecast_council("Wiltshire", to_year=2025, horizon=1)
    >>> print(f'{result.forecast.loc[2026, "mean"]:,.0f}')
    6,946
    """
    from dsg_forecast import data

    for name, value in (("to_year", to_year), ("horizon", horizon)):
        if (value is not None or name == "horizon") and not whole_number(value):
            msg = f"{name} is {value!r}; it must be a whole number"
            raise ForecastError(msg)
    if not 1 <= horizon <= MAX_HORIZON:  # 10**20 ended inside numpy
        msg = f"horizon is {horizon}; it must be from 1 to {MAX_HORIZON} Januarys ahead"
        raise ForecastError(msg)
    place = council if isinstance(council, data.Council) else data.find_council(council)
    totals = data.table("totals") if tables is None else tables["totals"]
    flows = tables["flows"] if tables is not None and "flows" in tables else data.table("flows")
    counted = data.plans_by_year(totals, place.old_la_code)
    last = max(counted) if to_year is None and counted else to_year
    if last is None or last not in counted:
        years = f"{min(counted)}-{max(counted)}" if counted else "none"
        msg = f"{place.name} has no count of plans for January {last}; counted: {years}"
        raise ForecastError(msg)
    history = pd.Series({year: plans for year, plans in counted.items() if year <= last})
    coefficients = requests_coefficients(last)
    requests = pd.Series(data.requests_by_year(flows, place.old_la_code), dtype=float)
    refused = pd.Series(data.refused_by_year(flows, place.old_la_code), dtype=float)
    model = GrowthModel(level=level, coefficients=coefficients)
    if coefficients is None or place.old_la_code == "E":
        # no change before to_year to estimate them from, or England against itself
        model.fit(history.sort_index())
    else:
        model.fit(history.sort_index(), requests=requests, refused=refused)
    return CouncilForecast(place, model.history_, model.forecast(horizon), model)
