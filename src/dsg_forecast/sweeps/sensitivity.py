"""Which assumptions matter: Sobol indices and Morris screening (SALib), and tornado data.

Every analysis samples the unit hypercube, maps it through each swept parameter's
distribution (so indices are with respect to the distributions the user gave), runs the
scenarios through the vectorised engine, and analyses each FY's output separately, since
the assumption that drives 2024-25 is rarely the one that drives 2028-29.

References
----------
.. [1] A. Saltelli et al., "Variance based sensitivity analysis of model output. Design and
   estimator for the total sensitivity index", Computer Physics Communications 181(2),
   259-270, 2010. :doi:`10.1016/j.cpc.2009.09.018`
.. [2] F. Campolongo, J. Cariboni and A. Saltelli, "An effective screening design for
   sensitivity analysis of large models", Environmental Modelling & Software 22(10),
   1509-1518, 2007. :doi:`10.1016/j.envsoft.2006.10.004`
.. [3] J. Herman and W. Usher, "SALib: An open-source Python library for Sensitivity
   Analysis", Journal of Open Source Software 2(9), 97, 2017. :doi:`10.21105/joss.00097`
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from dsg_forecast.engine import Engine
from dsg_forecast.errors import ArgumentError, finite_number, whole_number
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.design import map_unit
from dsg_forecast.sweeps.evaluate import plan_sweep, run_plan
from dsg_forecast.sweeps.spec import SweepSpec, Values

Output = Literal["in_year_balance", "cumulative_balance", "plans"]
OUTPUTS: Final[tuple[Output, ...]] = ("in_year_balance", "cumulative_balance", "plans")


SOBOL_KEYS: Final = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_KEYS: Final = ("mu", "mu_star", "sigma", "mu_star_conf")


def _rows(
    names: Sequence[str], output: str, fy: str, indices: Any, keys: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per parameter: the output, the FY, and each index named in ``keys``."""
    return [
        {"output": output, "financial_year": fy, "parameter": name,
         **{key: float(indices[key][j]) for key in keys}}
        for j, name in enumerate(names)
    ]  # fmt: skip


def _problem(spec: SweepSpec) -> dict[str, Any]:
    names = list(spec.parameters)
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _run(
    scenario: Scenario, spec: SweepSpec, unit: np.ndarray, engine: Engine | None
) -> pd.DataFrame:
    plan = plan_sweep(scenario, spec, values=map_unit(spec, unit))
    return run_plan(plan, engine=engine).results()


def _columns(table: pd.DataFrame, outputs: Sequence[Output]) -> list[tuple[Output, str, str]]:
    return [
        (output, column[len(output) + 1 : -1], column)
        for output in outputs
        for column in table.columns
        if column.startswith(f"{output}[")
    ]


def check_resamples(name: str, value: object, what: str) -> None:
    """Refuse fewer than two of what the confidence intervals bootstrap.

    With one, every bootstrap resample is that one, so each interval would read 0: a
    precision the analysis does not have.

    Parameters
    ----------
    name
        The argument's name, as the caller knows it (``base_samples``, ``--samples``).
    value
        Its value.
    what
        What it counts (``base samples``, ``trajectories``).

    Raises
    ------
    ArgumentError
        If ``value`` is not a whole number of at least 2.
    """
    if not (whole_number(value) and value >= 2):
        msg = (
            f"{name} is {value!r}; it must be a whole number of at least 2 (the ± intervals "
            f"bootstrap the {what}: with one, every resample is the same and each interval "
            "would read 0)"
        )
        raise ArgumentError(msg)


#: The most levels a Morris grid takes (4 to 10 are usual; the jump is a share of them).
MAX_LEVELS: Final = 1000
#: The most scenarios one Sobol or Morris analysis runs: its design, and every scenario's
#: outputs, are held in memory (at 2**24 scenarios and 10 parameters, 1.3 GB of design).
MAX_SCENARIOS: Final = 2**24


def check_size(name: str, value: int, per: int, formula: str) -> None:
    """Refuse an analysis of more than :data:`MAX_SCENARIOS` scenarios (``value × per``).

    A mistyped ``base_samples`` (a few zeros too many) ran out of memory, or ended inside
    scipy ("Maximum allowed dimension exceeded").

    Parameters
    ----------
    name
        The argument's name, as the caller knows it (``base_samples``, ``--samples``).
    value
        Its value (base samples, trajectories).
    per
        Scenarios per unit of it (``d + 2`` for Sobol, ``d + 1`` for Morris).
    formula
        How the scenarios are counted, for the message.

    Raises
    ------
    ArgumentError
        If ``value × per`` is more than :data:`MAX_SCENARIOS`.
    """
    if value * per > MAX_SCENARIOS:
        msg = (
            f"{name} is {value:,}, which makes {value * per:,} scenarios ({formula}); an "
            f"analysis holds them all in memory, so it runs at most {MAX_SCENARIOS:,}: "
            f"give {name} of at most {MAX_SCENARIOS // per:,}"
        )
        raise ArgumentError(msg)


def _check_options(outputs: object, conf_level: object = 0.5, seed: object = None) -> None:
    """Refuse outputs, a confidence level or a seed the analysis would misread.

    An unknown output (or a bare string, read as its letters) gave an empty table without a
    word; a confidence level of 1.5 or a seed given as text ended deep inside SALib or scipy.
    """
    if isinstance(outputs, str) or not isinstance(outputs, Sequence) or not outputs:
        msg = f"outputs is {outputs!r}; give a non-empty sequence of outputs, such as ('plans',)"
        raise ArgumentError(msg)
    unknown = [output for output in outputs if output not in OUTPUTS]
    if unknown:
        msg = f"outputs {unknown} are not outputs of a sweep; choose from {list(OUTPUTS)}"
        raise ArgumentError(msg)
    if len(set(outputs)) < len(outputs):  # each row twice
        msg = f"outputs {outputs!r} give one twice; give each once"
        raise ArgumentError(msg)
    if not (finite_number(conf_level) and 0.0 < conf_level < 1.0):
        msg = f"conf_level is {conf_level!r}; it must be between 0 and 1 (0.95 for 95%)"
        raise ArgumentError(msg)
    if seed is not None and not (whole_number(seed) and seed >= 0):
        msg = f"seed is {seed!r}; it must be a whole number of at least 0 (or None: the sweep's)"
        raise ArgumentError(msg)


def _check_levels(levels: object) -> None:
    """Refuse Morris grid levels that are not an even whole number of at least 2.

    One level ended in a division by zero inside SALib; an odd number breaks the design's
    jump of ``p / (2 (p − 1))`` levels (SALib warns the sample may be biased).
    """
    if not (whole_number(levels) and levels >= 2):
        msg = f"levels is {levels!r}; it must be an even whole number of at least 2"
        raise ArgumentError(msg)
    if levels % 2:
        msg = f"levels is {levels}; Morris's design needs an even number of levels (4 is usual)"
        raise ArgumentError(msg)
    if levels > MAX_LEVELS:  # a huge grid ended inside numpy ("Maximum allowed size exceeded")
        msg = f"levels is {levels}; Morris's grid takes at most {MAX_LEVELS:,} (4 is usual)"
        raise ArgumentError(msg)


def sobol_indices(
    scenario: Scenario,
    spec: SweepSpec,
    *,
    base_samples: int = 1024,
    outputs: Sequence[Output] = ("in_year_balance", "cumulative_balance"),
    conf_level: float = 0.95,
    seed: int | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """First-order and total Sobol indices of every swept parameter, for each FY's output.

    Uses Saltelli's design [1]_ through SALib [3]_: ``base_samples × (d + 2)`` scenarios.
    An output that does not vary gets indices of 0.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        The sweep: which parameters vary and their distributions.
    base_samples
        Saltelli's base sample size N.
    outputs
        Which outputs to analyse: ``in_year_balance``, ``cumulative_balance``, ``plans``.
    conf_level
        The confidence level of the bootstrap intervals.
    seed
        The random seed (default: the sweep's).
    engine
        ``numba`` (default where installed) or ``numpy``.

    Returns
    -------
    DataFrame
        ``output, financial_year, parameter, S1, S1_conf, ST, ST_conf``; ``*_conf`` is the
        half-width of the ``conf_level`` bootstrap interval.

    Raises
    ------
    ArgumentError
        If ``base_samples`` is below 2 or makes more than :data:`MAX_SCENARIOS` scenarios,
        ``outputs`` is empty or names an unknown output, ``conf_level`` is not between 0
        and 1, or ``seed`` is not a whole number.
    """
    check_resamples("base_samples", base_samples, "base samples")
    _check_options(outputs, conf_level, seed)
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = _problem(spec)
    d = problem["num_vars"]
    check_size("base_samples", base_samples, d + 2, f"base_samples × ({d} parameters + 2)")
    seed = spec.seed if seed is None else seed
    unit = sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    table = _run(scenario, spec, unit, engine)
    rows = []
    for output, fy, column in _columns(table, outputs):
        values = table[column].to_numpy(dtype=np.float64)
        if np.ptp(values) == 0:
            indices = {key: np.zeros(problem["num_vars"]) for key in SOBOL_KEYS}
        else:
            indices = analyze.analyze(
                problem, values, calc_second_order=False, conf_level=conf_level, seed=seed
            )
        rows += _rows(problem["names"], output, fy, indices, SOBOL_KEYS)
    return pd.DataFrame(rows)


def morris_screening(
    scenario: Scenario,
    spec: SweepSpec,
    *,
    trajectories: int = 50,
    levels: int = 4,
    outputs: Sequence[Output] = ("in_year_balance", "cumulative_balance"),
    conf_level: float = 0.95,
    seed: int | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Morris elementary effects [2]_ of every swept parameter, for each FY's output.

    Cheap screening (``trajectories × (d + 1)`` scenarios) to find the parameters worth a
    Sobol analysis. The grid's levels are placed at quantile midpoints
    ``(i + 0.5) / levels`` of each distribution, so an unbounded distribution is never
    evaluated at an extreme tail; effects are per unit of quantile.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        The sweep: which parameters vary and their distributions.
    trajectories
        The number of Morris trajectories r.
    levels
        Grid levels p.
    outputs
        Which outputs to analyse: ``in_year_balance``, ``cumulative_balance``, ``plans``.
    conf_level
        The confidence level of ``mu_star_conf``.
    seed
        The random seed (default: the sweep's).
    engine
        ``numba`` (default where installed) or ``numpy``.

    Returns
    -------
    DataFrame
        ``output, financial_year, parameter, mu, mu_star, sigma, mu_star_conf``.

    Raises
    ------
    ArgumentError
        If ``trajectories`` is below 2 or makes more than :data:`MAX_SCENARIOS` scenarios,
        ``levels`` is not an even whole number of at least 2, ``outputs`` is empty or names
        an unknown output, ``conf_level`` is not between 0 and 1, or ``seed`` is not a whole
        number.
    """
    check_resamples("trajectories", trajectories, "trajectories")
    _check_options(outputs, conf_level, seed)
    _check_levels(levels)
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = _problem(spec)
    d = problem["num_vars"]
    check_size("trajectories", trajectories, d + 1, f"trajectories × ({d} parameters + 1)")
    seed = spec.seed if seed is None else seed
    grid = sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    unit = (np.rint(grid * (levels - 1)) + 0.5) / levels
    table = _run(scenario, spec, unit, engine)
    rows = []
    for output, fy, column in _columns(table, outputs):
        values = table[column].to_numpy(dtype=np.float64)
        indices = analyze.analyze(
            problem, unit, values, conf_level=conf_level, num_levels=levels, seed=seed
        )
        rows += _rows(problem["names"], output, fy, indices, MORRIS_KEYS)
    return pd.DataFrame(rows)


def _check_quantiles(low: float, high: float) -> None:
    """Refuse tornado quantiles out of order or outside 0..1 (a NaN fails too)."""
    if not (finite_number(low) and finite_number(high) and 0.0 <= low < high <= 1.0):
        msg = f"low {low!r} and high {high!r} are quantiles: they must satisfy 0 <= low < high <= 1"
        raise ArgumentError(msg)


def tornado(
    scenario: Scenario,
    spec: SweepSpec,
    *,
    low: float = 0.05,
    high: float = 0.95,
    outputs: Sequence[Output] = ("in_year_balance", "cumulative_balance"),
    engine: Engine | None = None,
) -> pd.DataFrame:
    """One-at-a-time tornado data: each parameter at its low and high quantile.

    The other parameters stay as in the base scenario. A list of values swings between its
    smallest and largest value.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        The sweep: which parameters vary and their distributions.
    low, high
        The quantiles each parameter is set to.
    outputs
        Which outputs to analyse: ``in_year_balance``, ``cumulative_balance``, ``plans``.
    engine
        ``numba`` (default where installed) or ``numpy``.

    Returns
    -------
    DataFrame
        ``output, financial_year, parameter, low_value, high_value, at_low, at_high,
        base, swing``; rows sorted by ``swing`` (largest first) within each output and FY.

    Raises
    ------
    ArgumentError
        If ``low`` and ``high`` are not quantiles with ``0 <= low < high <= 1`` (reversed,
        each parameter's 95th percentile would be reported as its low value), or
        ``outputs`` is empty or names an unknown output.
    """
    _check_quantiles(low, high)
    _check_options(outputs)
    plan = plan_sweep(scenario, spec, values=np.empty((0, len(spec.parameters))))
    base = np.array([mapping.base_value for mapping in plan.maps])
    d = len(base)
    values = np.repeat(base[None, :], 1 + 2 * d, axis=0)
    bounds = []
    for j, parameter in enumerate(spec.parameters.values()):
        if isinstance(parameter, Values):
            pair = (min(parameter.values), max(parameter.values))
        else:
            ends = parameter.ppf(np.array([low, high]))
            pair = (float(ends[0]), float(ends[1]))
        bounds.append(pair)
        values[1 + 2 * j, j], values[2 + 2 * j, j] = pair
    table = run_plan(plan_sweep(scenario, spec, values=values), engine=engine).results()
    rows = []
    for output, fy, column in _columns(table, outputs):
        result = table[column].to_numpy(dtype=np.float64)
        for j, name in enumerate(spec.parameters):
            at_low, at_high = result[1 + 2 * j], result[2 + 2 * j]
            rows.append(
                {
                    "output": output,
                    "financial_year": fy,
                    "parameter": name,
                    "low_value": bounds[j][0],
                    "high_value": bounds[j][1],
                    "at_low": at_low,
                    "at_high": at_high,
                    "base": result[0],
                    "swing": abs(at_high - at_low),
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(
        ["output", "financial_year", "swing"], ascending=[True, True, False], kind="stable"
    ).reset_index(drop=True)
