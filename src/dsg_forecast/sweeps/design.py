"""Sampling designs: Monte Carlo, Latin hypercube, Sobol and full grids.

Every design first draws points in the unit hypercube (scipy.stats.qmc for Latin
hypercube and Sobol), optionally imposes rank correlations (Iman and Conover, 1982), then
maps each column through its distribution's inverse CDF. One seed reproduces a design
exactly.

References
----------
.. [1] R. L. Iman and W. J. Conover, "A distribution-free approach to inducing rank
   correlation among input variables", Communications in Statistics - Simulation and
   Computation 11(3), 311-334, 1982. :doi:`10.1080/03610918208812265`
"""

from __future__ import annotations

import itertools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
from scipy import stats
from scipy.stats import qmc

from dsg_forecast._types import FloatArray
from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.sweeps.spec import Design, ParameterSpec, SweepSpec, Values

#: Uniform draws are kept inside [EDGE, 1 − EDGE] so unbounded distributions stay finite.
EDGE: Final = 2.0**-40


def unit_sample(design: Design, dimensions: int, samples: int, seed: int) -> FloatArray:
    """Draw ``samples`` points in (0, 1)^d for ``mc``, ``lhs`` or ``sobol``.

    Parameters
    ----------
    design
        ``mc``, ``lhs`` or ``sobol``.
    dimensions
        The number of parameters d.
    samples
        The number of points n.
    seed
        The random seed.

    Returns
    -------
    FloatArray, shape (n, d)
        Points strictly inside the unit hypercube.
    """
    rng = np.random.default_rng(seed)
    if design == "mc":
        points = rng.random((samples, dimensions))
    elif design == "lhs":
        points = qmc.LatinHypercube(dimensions, rng=rng).random(samples)
    elif design == "sobol":
        with warnings.catch_warnings():
            # Sobol balance is best at powers of 2; any count is still a valid design
            warnings.simplefilter("ignore", UserWarning)
            points = qmc.Sobol(dimensions, scramble=True, rng=rng).random(samples)
    else:
        msg = f"unit_sample does not draw a {design!r} design"
        raise ValueError(msg)
    return np.clip(points, EDGE, 1.0 - EDGE)


def spearman_to_pearson(rank: FloatArray) -> FloatArray:
    """Pearson correlation of normal scores giving a target Spearman rank correlation.

    Parameters
    ----------
    rank : FloatArray, shape (d, d)
        Target Spearman correlations.

    Returns
    -------
    FloatArray, shape (d, d)
        ``2 sin(π ρ / 6)`` elementwise.
    """
    return np.asarray(2.0 * np.sin(np.pi * rank / 6.0), dtype=np.float64)


def target_matrix(spec: SweepSpec) -> FloatArray | None:
    """Return the target rank-correlation matrix of the swept parameters, or None.

    Parameters
    ----------
    spec
        The sweep.

    Returns
    -------
    FloatArray, shape (d, d), or None
        The rank correlations (1 on the diagonal), or None where none are given.
    """
    if not spec.correlation:
        return None
    names = list(spec.parameters)
    matrix = np.eye(len(names))
    for pair in spec.correlation:
        i, j = (names.index(name) for name in pair.between)
        matrix[i, j] = matrix[j, i] = pair.rank
    return matrix


def impose_rank_correlation(points: FloatArray, rank: FloatArray, seed: int) -> FloatArray:
    """Reorder each column of ``points`` so their rank correlation approaches ``rank``.

    Iman and Conover's method [1]_ keeps every column's values (so each marginal, and a
    Latin hypercube's strata, are untouched) and only changes how they are paired.

    Parameters
    ----------
    points : FloatArray, shape (n, d)
        The design's points.
    rank : FloatArray, shape (d, d)
        Target rank correlations.
    seed
        The random seed of the scores.

    Returns
    -------
    FloatArray, shape (n, d)
        The same values, re-paired.

    Raises
    ------
    ScenarioError
        If the correlations cannot hold together (the matrix is not positive definite),
        or there are too few samples.
    """
    n, d = points.shape
    if n <= d + 1:
        raise ScenarioError(
            [
                Issue(
                    "sweep.correlation",
                    f"{n} samples are too few to impose correlations on {d} parameters",
                )
            ]
        )
    target = spearman_to_pearson(rank)
    np.fill_diagonal(target, 1.0)
    try:
        wanted = np.linalg.cholesky(target)
    except np.linalg.LinAlgError:
        raise ScenarioError(
            [
                Issue(
                    "sweep.correlation",
                    "the correlations given cannot all hold at once "
                    "(their matrix is not positive definite)",
                )
            ]
        ) from None
    rng = np.random.default_rng([seed, 0x1C])
    scores = stats.norm.ppf(np.arange(1, n + 1) / (n + 1))
    shuffled = np.column_stack([rng.permutation(scores) for _ in range(d)])
    current = np.linalg.cholesky(np.corrcoef(shuffled, rowvar=False))
    paired = shuffled @ np.linalg.inv(current).T @ wanted.T
    out = np.empty_like(points)
    for j in range(d):
        ranks = np.empty(n, dtype=np.int64)
        ranks[np.argsort(paired[:, j], kind="stable")] = np.arange(n)  # one sort, not two
        out[:, j] = np.sort(points[:, j])[ranks]
    return out


def scenario_count(spec: SweepSpec) -> int:
    """Return how many scenarios a sweep runs: its samples, or a grid's combinations.

    Parameters
    ----------
    spec
        The sweep.

    Returns
    -------
    int
        The number of scenarios.
    """
    if spec.design != "grid":
        return int(spec.samples)
    count = 1
    for parameter in spec.parameters.values():
        count *= len(parameter.values) if isinstance(parameter, Values) else spec.grid_levels
    return count


def grid_levels(parameter: ParameterSpec, levels: int) -> FloatArray:
    """Return a grid's levels: the listed values, or ``levels`` equally spaced quantiles.

    Parameters
    ----------
    parameter
        A swept parameter.
    levels
        The number of levels for a distribution.

    Returns
    -------
    FloatArray
        The levels.
    """
    if isinstance(parameter, Values):
        return np.asarray(parameter.values, dtype=np.float64)
    quantiles = (np.arange(levels) + 0.5) / levels
    return parameter.ppf(quantiles)


def sample_values(spec: SweepSpec) -> FloatArray:
    """Return the design's parameter values, shape (n, d), columns in ``spec.parameters`` order.

    Parameters
    ----------
    spec
        The sweep.

    Returns
    -------
    FloatArray, shape (n, d)
        Each scenario's parameter values.
    """
    parameters = list(spec.parameters.values())
    if spec.design == "grid":
        axes = [grid_levels(parameter, spec.grid_levels) for parameter in parameters]
        return np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, len(axes))
    points = unit_sample(spec.design, len(parameters), spec.samples, spec.seed)
    rank = target_matrix(spec)
    if rank is not None:
        # only the correlated parameters are re-paired; the others stay as drawn
        involved = np.flatnonzero((np.abs(rank - np.eye(len(parameters))) > 0).any(axis=0))
        points[:, involved] = impose_rank_correlation(
            points[:, involved], rank[np.ix_(involved, involved)], spec.seed
        )
    return map_unit(spec, points)


#: Rows of one block of inverse-CDF work (blocks run on threads: scipy releases the GIL).
PPF_BLOCK: Final = 65_536


def map_unit(spec: SweepSpec, points: FloatArray) -> FloatArray:
    """Map unit-hypercube points (n, d) to parameter values through each inverse CDF.

    Elementwise, so the work is split into blocks of rows of one parameter and run on every
    core; the values do not depend on the split.

    Parameters
    ----------
    spec
        The sweep.
    points : FloatArray, shape (n, d)
        Points in the unit hypercube.

    Returns
    -------
    FloatArray, shape (n, d)
        The parameter values.
    """
    points = np.clip(points, EDGE, 1.0 - EDGE)
    parameters = list(spec.parameters.values())
    out = np.empty(points.shape)
    blocks = [
        (j, slice(start, start + PPF_BLOCK))
        for j in range(len(parameters))
        for start in range(0, points.shape[0], PPF_BLOCK)
    ]

    def fill(block: tuple[int, slice]) -> None:
        j, rows = block
        out[rows, j] = parameters[j].ppf(points[rows, j])

    threads = min(os.cpu_count() or 1, len(blocks))
    if threads > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="sweep-design") as pool:
            list(pool.map(fill, blocks))  # list(): surface any error
    else:
        for block in blocks:
            fill(block)
    return out
