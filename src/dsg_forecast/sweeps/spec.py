"""The sweep specification: which parameters vary, how, and how they are sampled.

A sweep lives in a ``sweep:`` section of a scenario file, or in a sweep file that names its
base scenario with ``base:``. Each parameter is a dotted path into the scenario
(``demand.requests_growth``, ``costs.unit_cost.inmss``,
``interventions[0].effects[0].multiply``) with a distribution (scipy.stats under the
hood) or a list of values.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal, Self

import numpy as np
from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from dsg_forecast.io.strict import repeats
from dsg_forecast.schema.fields import Model

# scipy.stats and scipy.special are imported where they are first used: together about
# half a second, which commands that load a sweep's module but never draw (compare, fit, a
# one-scenario solve) need not pay

Design = Literal["mc", "lhs", "sobol", "grid"]
DESIGNS: tuple[Design, ...] = ("mc", "lhs", "sobol", "grid")

Number = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Distribution(Model):
    def frozen(self) -> Any:  # pragma: no cover - every subclass defines it
        """Return the frozen scipy.stats distribution."""
        raise NotImplementedError

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Return the inverse of the distribution's CDF at each point: the design's values.

        Parameters
        ----------
        u : ndarray
            A column of the design's points in the unit interval, strictly inside (0, 1).

        Returns
        -------
        ndarray of float64
            The parameter's value at each point, shaped as ``u``.
        """
        return np.asarray(self._ppf(np.asarray(u, dtype=np.float64)), dtype=np.float64)

    def _ppf(self, u: np.ndarray) -> Any:
        """Map draws through the frozen scipy distribution (a subclass may compute it)."""
        return self.frozen().ppf(u)

    def median(self) -> float:
        """Return the median (the value held in one-at-a-time analyses)."""
        return float(self.frozen().median())


class _Interval(_Distribution):
    """A distribution on ``low``..``high``; the bounds must be ordered."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            msg = f"low {self.low} must be below high {self.high}"
            raise ValueError(msg)
        return self


class Uniform(_Interval):
    """Uniform between ``low`` and ``high``."""

    dist: Literal["uniform"]
    low: Number
    high: Number

    def frozen(self) -> Any:
        """Return ``scipy.stats.uniform``."""
        from scipy import stats

        return stats.uniform(loc=self.low, scale=self.high - self.low)

    def _ppf(self, u: np.ndarray) -> Any:
        """Return ``low + u (high − low)``, as scipy's ``uniform.ppf`` computes it.

        ``u × scale + loc``, without building a frozen distribution for every chunk.
        """
        return u * (self.high - self.low) + self.low


class Triangular(_Distribution):
    """Triangular on ``low``..``high`` with its peak at ``mode``."""

    dist: Literal["triangular"]
    low: Number
    mode: Number
    high: Number

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            msg = (
                f"needs low <= mode <= high and low < high, "
                f"got {self.low}, {self.mode}, {self.high}"
            )
            raise ValueError(msg)
        return self

    def frozen(self) -> Any:
        """Return ``scipy.stats.triang``."""
        from scipy import stats

        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)

    def _ppf(self, u: np.ndarray) -> Any:
        """Return the values as ``scipy.stats.triang.ppf`` computes them.

        The same operations in the same order (so the same bits, a test), without scipy's
        generic argument handling (about 60 ns a value, against 5).
        """
        width = self.high - self.low
        c = (self.mode - self.low) / width
        unit = np.where(u < c, np.sqrt(c * u), 1 - np.sqrt((1 - c) * (1 - u)))
        return unit * width + self.low


class Normal(_Distribution):
    """Normal with ``mean`` and standard deviation ``sd``."""

    dist: Literal["normal"]
    mean: Number
    sd: Positive

    def frozen(self) -> Any:
        """Return ``scipy.stats.norm``."""
        from scipy import stats

        return stats.norm(loc=self.mean, scale=self.sd)


class TruncatedNormal(_Interval):
    """Normal with ``mean`` and ``sd``, truncated to ``low``..``high``."""

    dist: Literal["truncnorm"]
    mean: Number
    sd: Positive
    low: float = -math.inf
    high: float = math.inf

    @model_validator(mode="after")
    def _some_probability_inside(self) -> Self:
        """Refuse bounds so far into one tail that the normal holds no probability there.

        Beyond about 37 standard deviations the tail's probability is below the smallest
        float: every draw would come out at one bound whatever the distribution says (a
        mean of 0 and sd 0.01 kept to 0.5..0.6 drew 0.6 every time). It is nearly always a
        mistyped sd or mean.
        """
        from scipy import special

        a = (self.low - self.mean) / self.sd
        b = (self.high - self.mean) / self.sd
        inside = special.ndtr(-a) - special.ndtr(-b) if a > 0 else special.ndtr(b) - special.ndtr(a)
        if not inside > 0.0:
            side = "above" if a > 0 else "below"
            far = a if a > 0 else -b
            msg = (
                f"low {self.low} and high {self.high} both lie more than {far:,.0f} standard "
                f"deviations {side} the mean {self.mean} (sd {self.sd}), where a normal holds "
                "no probability a computer can represent; check the mean and sd"
            )
            raise ValueError(msg)
        return self

    def frozen(self) -> Any:
        """Return ``scipy.stats.truncnorm``."""
        from scipy import stats

        a = (self.low - self.mean) / self.sd
        b = (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def _ppf(self, u: np.ndarray) -> Any:
        """Return the values by inverting the normal CDF directly.

        ``Φ⁻¹(Φ(a) + u (Φ(b) − Φ(a)))`` in standard units, each value computed from the
        tail it lies in (above the mean from the upper tail, ``Q = 1 − Φ``, with ``1 − u``),
        where the probabilities keep their relative precision. It agrees with scipy's
        ``truncnorm.ppf`` to 1e-12 relative within three standard deviations; further out
        each value's tail probability is the one asked for to 1e-9 (tests), where scipy,
        working near ``Φ = 1``, loses digits. About 40 ns a value against scipy's 250.
        """
        from scipy import special

        a = (self.low - self.mean) / self.sd
        b = (self.high - self.mean) / self.sd
        lower_a, lower_b = special.ndtr(a), special.ndtr(b)  # Φ
        upper_a, upper_b = special.ndtr(-a), special.ndtr(-b)  # Q
        below = lower_a + u * (lower_b - lower_a)  # Φ(x)
        above = upper_b + (1.0 - u) * (upper_a - upper_b)  # Q(x)
        with np.errstate(invalid="ignore", divide="ignore"):  # the branch not taken
            z = np.where(below <= 0.5, special.ndtri(below), -special.ndtri(above))
        return self.mean + self.sd * np.clip(z, a, b)


class LogNormal(_Distribution):
    """Log-normal: ``log(X)`` is normal with median ``median`` and sd ``sigma`` (log scale)."""

    dist: Literal["lognormal"]
    median_value: Annotated[Positive, Field(alias="median")]
    sigma: Positive

    def frozen(self) -> Any:
        """Return ``scipy.stats.lognorm``."""
        from scipy import stats

        return stats.lognorm(s=self.sigma, scale=self.median_value)


class Beta(_Interval):
    """Beta(``a``, ``b``) stretched to ``low``..``high`` (default 0..1)."""

    dist: Literal["beta"]
    a: Positive
    b: Positive
    low: Number = 0.0
    high: Number = 1.0

    def frozen(self) -> Any:
        """Return ``scipy.stats.beta``."""
        from scipy import stats

        return stats.beta(self.a, self.b, loc=self.low, scale=self.high - self.low)


class Values(Model):
    """A list of values: the levels of a grid, or equally likely values in other designs."""

    values: Annotated[list[Number], Field(min_length=1)]

    @model_validator(mode="after")
    def _each_once(self) -> Self:
        """Refuse a value listed twice: a grid would run it twice, other designs weigh it double."""
        for position in repeats(self.values, first=0):
            msg = (
                f"values lists {self.values[position]!r} more than once; list each value once "
                "(a grid runs every listed value, and other designs draw each equally often, "
                "so a repeat would count twice)"
            )
            raise ValueError(msg)
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map uniform draws to one of the values, each with probability 1/n.

        Parameters
        ----------
        u : ndarray
            Uniform draws in (0, 1).

        Returns
        -------
        ndarray
            The values drawn.
        """
        index = np.minimum(
            (np.asarray(u) * len(self.values)).astype(np.int64), len(self.values) - 1
        )
        return np.asarray(self.values, dtype=np.float64)[index]

    def median(self) -> float:
        """Return the median of the listed values."""
        return float(np.median(self.values))


Distribution = Annotated[
    Uniform | Triangular | Normal | TruncatedNormal | LogNormal | Beta,
    Field(discriminator="dist"),
]


def _parameter_kind(value: Any) -> str | None:
    """Which kind a swept parameter is: a distribution (it names a ``dist``) or values."""
    if isinstance(value, dict):
        if "dist" in value:
            return "distribution"
        return "values-list" if "values" in value else None
    if isinstance(value, Values):
        return "values-list"
    return "distribution" if isinstance(value, BaseModel) else None


ParameterSpec = Annotated[
    Annotated[Distribution, Tag("distribution")] | Annotated[Values, Tag("values-list")],
    Discriminator(
        _parameter_kind,
        custom_error_type="parameter_kind",
        custom_error_message=(
            "a swept parameter is a distribution, such as {dist: uniform, low: 0.1, high: 0.3},"
            " or a list of values, such as {values: [60, 120, 180]}"
        ),
    ),
]
#: Parts of an error's location that name which kind of parameter was validated, not a key
#: of the file (left out of the paths errors name).
KIND_TAGS: frozenset[str] = frozenset(
    {"distribution", "values-list", "uniform", "triangular", "normal", "truncnorm", "lognormal",
     "beta"}
)  # fmt: skip


class Correlation(Model):
    """A target Spearman rank correlation between two swept parameters."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    rank: Annotated[float, Field(gt=-1.0, lt=1.0)]


MAX_SCENARIOS: Final = 10**10
"""The most scenarios a sweep runs: ten billion, about a day on a 2-core machine at the
Wiltshire sweep's 8 µs a scenario (benchmarks/README.md), hours on a cluster. 10**30 (a
typo) listed its chunks until memory ran out."""


class SweepSpec(Model):
    """How to sweep a scenario."""

    parameters: Annotated[dict[str, ParameterSpec], Field(min_length=1)]
    """Dotted path → distribution or values."""
    correlation: list[Correlation] = Field(default_factory=list)
    design: Design = "lhs"
    samples: Annotated[int, Field(ge=1)] = 1000
    """Number of scenarios (not for the grid design, which runs every combination)."""
    seed: Annotated[int, Field(ge=0)] = 0
    grid_levels: Annotated[int, Field(ge=2, le=101)] = 5
    """In a grid, a distribution is evaluated at this many equally spaced quantiles."""

    @model_validator(mode="after")
    def _correlations_name_swept_parameters(self) -> Self:
        known = set(self.parameters)
        again = repeats((frozenset(pair.between) for pair in self.correlation), first=0)
        for index, pair in enumerate(self.correlation):
            if index in again and pair.between[0] != pair.between[1]:
                msg = (
                    f"correlation[{index}] pairs {pair.between[0]!r} and {pair.between[1]!r}, "
                    f"as correlation[{again[index]}] does; give each pair once (the later rank "
                    "would replace the earlier)"
                )
                raise ValueError(msg)
            for name in pair.between:
                if name not in known:
                    msg = (
                        f"correlation[{index}] names {name!r}, which is not swept; "
                        f"swept parameters are {sorted(known)}"
                    )
                    raise ValueError(msg)
            if pair.between[0] == pair.between[1]:
                msg = f"correlation[{index}] correlates {pair.between[0]!r} with itself"
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _a_grid_is_every_combination(self) -> Self:
        """Refuse what a grid would ignore: a number of samples, rank correlations."""
        if self.design != "grid":
            return self
        count = math.prod(
            len(parameter.values) if isinstance(parameter, Values) else self.grid_levels
            for parameter in self.parameters.values()
        )
        instead = "or choose design mc, lhs or sobol"
        if "samples" in self.model_fields_set:
            msg = (
                f"samples is {self.samples:,}, but a grid runs every combination of its "
                f"levels (here {count:,} scenarios; grid_levels sets how many each "
                f"distribution has) and takes no number of samples: remove samples, {instead}"
            )
            raise ValueError(msg)
        if self.correlation:
            msg = (
                "correlation is given, but a grid runs every combination of its levels, "
                f"which cannot be rank-correlated: remove correlation, {instead}"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _a_count_a_sweep_can_run(self) -> Self:
        """Refuse more scenarios than :data:`MAX_SCENARIOS` (a few digits too many)."""
        if self.design == "grid":
            count = math.prod(
                len(parameter.values) if isinstance(parameter, Values) else self.grid_levels
                for parameter in self.parameters.values()
            )
            what = f"the grid has {count:,} scenarios (every combination of its levels)"
        else:
            count, what = self.samples, f"samples is {self.samples:,}"
        if count > MAX_SCENARIOS:
            msg = (
                f"{what}; a sweep runs at most {MAX_SCENARIOS:,} (about a day on two cores): "
                "a larger count would not finish (a few digits too many?)"
            )
            raise ValueError(msg)
        return self


class SweepFile(SweepSpec):
    """A sweep file: a sweep specification and the scenario file it varies."""

    base: str
    """Path of the base scenario, relative to the sweep file."""


def _keys() -> frozenset[str]:
    """Every key a sweep specification or one of its parameters can hold."""
    models = (Uniform, Triangular, Normal, TruncatedNormal, LogNormal, Beta, Values, Correlation)
    names = {field.alias or name for model in models for name, field in model.model_fields.items()}
    for name, field in SweepFile.model_fields.items():
        names.add(field.alias or name)
    return frozenset(names)


#: The keys a sweep file, a ``sweep:`` section or a swept parameter can hold.
KEYS: frozenset[str] = _keys()
