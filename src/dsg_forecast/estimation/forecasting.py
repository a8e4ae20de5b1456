"""Statistical forecasts of annual series (plans at each January, requests) with statsmodels.

Every method works on the log scale, so growth compounds and forecasts stay positive:

- ``ets``: exponential smoothing with a damped additive trend (``ETSModel``);
- ``arima``: ARIMA(0, 1, 0) with drift, a random walk whose steps average the past growth;
- ``loglinear``: an ordinary least-squares trend in log(value);
- ``last_growth`` and ``mean_growth``: naive baselines, last year's growth or the mean of the
  last three years', carried forward.

Annual SEN2 series are short (5-15 points), so each method falls back to a simpler one when
the series is too short for it (``ets`` needs 6 points, ``loglinear`` and ``arima`` 3,
``last_growth`` 2) and :attr:`GrowthModel.method_` records what was used. Prediction
intervals come from each model; their log-scale spread is never below ``min_sd`` a year, so
a flat or perfectly fitted history does not give a zero-width interval. With ``pool``, the
growth rate is shrunk towards that of similar councils (``n / (n + prior_years)`` on the
council's own), which steadies forecasts from short histories.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from scipy import stats

Method = Literal["ets", "arima", "loglinear", "last_growth", "mean_growth"]
METHODS: tuple[Method, ...] = ("ets", "arima", "loglinear", "last_growth", "mean_growth")
_NEEDS: dict[str, int] = {"ets": 6, "arima": 3, "loglinear": 3, "last_growth": 2, "mean_growth": 2}
_FALLBACK: dict[str, str] = {
    "ets": "loglinear", "arima": "last_growth", "loglinear": "last_growth",
    "mean_growth": "last_growth", "last_growth": "flat",
}  # fmt: skip


class GrowthModel:
    """Forecast an annual series; fit with :meth:`fit`, then :meth:`forecast`.

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    level
        Coverage of the prediction intervals (0.8 = 10% and 90% quantiles).
    min_sd
        Least log-scale standard deviation of a one-year-ahead forecast. [yr⁻¹]
    pool
        Series of similar councils whose mean growth the council's growth is shrunk towards.
    prior_years
        Weight of the pooled growth, in years of the council's own data.

    Examples
    --------
    >>> history = pd.Series([100.0, 110.0, 121.0, 133.1], index=[2021, 2022, 2023, 2024])
    >>> model = GrowthModel("loglinear").fit(history)
    >>> print(f'{model.forecast(1).loc[2025, "mean"]:.1f}')
    146.4
    """

    def __init__(
        self,
        method: Method = "ets",
        *,
        level: float = 0.8,
        min_sd: float = 0.02,
        pool: Sequence[pd.Series[float]] | None = None,
        prior_years: float = 5.0,
    ) -> None:
        if method not in METHODS:
            msg = f"unknown method {method!r}; choose one of {list(METHODS)}"
            raise ValueError(msg)
        if not 0 < level < 1:
            msg = f"level {level} must be between 0 and 1"
            raise ValueError(msg)
        self.method = method
        self.level = level
        self.min_sd = min_sd
        self.pool = pool
        self.prior_years = prior_years

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, history: pd.Series[float]) -> Self:
        """Fit to an annual series (index: years; values: positive counts).

        Parameters
        ----------
        history
            Plans at each January, indexed by year.

        Returns
        -------
        GrowthModel
            This model, fitted (``params_`` holds what was fitted).

        Raises
        ------
        ValueError
            If the series is empty, has gaps between years, or has values ≤ 0.
        """
        series = history.dropna().sort_index().astype(float)
        if series.empty:
            msg = "the history is empty"
            raise ValueError(msg)
        years = series.index.to_numpy(dtype=int)
        if len(years) > 1 and np.any(np.diff(years) != 1):
            msg = f"the history must have one value a year without gaps; it has years {list(years)}"
            raise ValueError(msg)
        if (series <= 0).any():
            msg = "the history must be positive (it is modelled on the log scale)"
            raise ValueError(msg)
        self.history_ = series
        self.last_year_ = int(years[-1])
        self.n_obs_ = len(series)
        method: str = self.method
        while method != "flat" and self.n_obs_ < _NEEDS[method]:
            method = _FALLBACK[method]
        self.method_: str = method
        self.params_: dict[str, float] = {}
        self._result: Any = None
        log = np.log(series.to_numpy())
        steps = np.diff(log)
        self.step_sd_ = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0
        if method == "ets":
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # short series: convergence warnings are expected
                try:
                    # a Series: ETSModel's prediction intervals need a pandas index
                    endog = pd.Series(log, index=pd.RangeIndex(self.n_obs_))
                    model = ETSModel(endog, error="add", trend="add", damped_trend=True)
                    self._result = model.fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    self.method_ = "loglinear"
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
        if self.method_ in ("last_growth", "mean_growth"):
            window = steps[-1:] if self.method_ == "last_growth" else steps[-3:]
            self.params_["growth"] = float(np.expm1(window.mean()))
        if self.method_ == "flat":
            self.params_["growth"] = 0.0
        return self

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
        """
        if not hasattr(self, "history_"):
            msg = "fit the model before forecasting"
            raise RuntimeError(msg)
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
        else:
            centre = last + steps * np.log1p(self.params_["growth"])
            spread = self.step_sd_ * np.sqrt(steps)
        if self.pool:
            own = float(np.expm1((centre[-1] - last) / horizon))
            pooled = self._pooled_growth(own)
            centre = last + steps * np.log1p(pooled)
        spread = np.maximum(np.nan_to_num(spread), self.min_sd * np.sqrt(steps))
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
