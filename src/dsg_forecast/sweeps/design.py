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

import os
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.sweeps.spec import ParameterSpec, SweepSpec, Values

#: Uniform draws are kept inside [EDGE, 1 − EDGE] so unbounded distributions stay finite.
EDGE: Final = 2.0**-40


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
    from scipy import stats  # here, not at import: commands that never draw skip it

    scores = stats.norm.ppf(np.arange(1, n + 1) / (n + 1))
    shuffled = np.column_stack([rng.permutation(scores) for _ in range(d)])
    current = np.linalg.cholesky(np.corrcoef(shuffled, rowvar=False))
    paired = shuffled @ np.linalg.inv(current).T @ wanted.T
    out = np.empty_like(points)
    for j in range(d):
        ranks = np.empty(n, dtype=np.int64)
        ranks[_stable_order(paired[:, j])] = np.arange(n)  # one sort, not two
        out[:, j] = np.sort(points[:, j])[ranks]
    return out


def _stable_order(values: FloatArray) -> np.ndarray[Any, Any]:
    """Return the order a stable sort gives, by numpy's faster default sort where it may.

    Without ties every sort gives the one order; with ties (the values are continuous, so
    almost never) or a NaN (sorted last) the stable sort decides, as it always did.
    """
    order = np.argsort(values)
    ordered = values[order]
    if ordered.size and (not np.isfinite(ordered[-1]) or (ordered[1:] == ordered[:-1]).any()):
        return np.argsort(values, kind="stable")
    return order


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
    """Return the whole design's parameter values, shape (n, d), in ``spec.parameters`` order.

    Sweeps draw their design a chunk at a time (:func:`design_rows`); this is the same
    design at once, for inspecting it.

    Parameters
    ----------
    spec
        The sweep.

    Returns
    -------
    FloatArray, shape (n, d)
        Each scenario's parameter values.
    """
    return design_rows(spec, 0, scenario_count(spec))


#: Scenarios per block of a design. A design is drawn a block at a time, from the block's
#: number, wherever the block is needed (on the worker that evaluates it): Monte Carlo and
#: Sobol rows are the same whatever the blocks (the generator skips ahead to them); a Latin
#: hypercube is stratified within each block, and rank correlations are imposed within each
#: block. A sweep of at most one block draws exactly the design it drew as a whole.
DESIGN_BLOCK: Final = 65_536


def design_rows(spec: SweepSpec, start: int, end: int) -> FloatArray:
    """Return rows ``start`` to ``end`` (exclusive) of a sweep's design, drawing no others.

    Rows depend only on the spec and their numbers, never on which rows are asked for
    together, so chunks drawn on different workers make up the same design.

    Parameters
    ----------
    spec
        The sweep.
    start, end
        The first row and the end (exclusive).

    Returns
    -------
    FloatArray, shape (end − start, d)
        The rows' parameter values, columns in ``spec.parameters`` order.
    """
    parameters = list(spec.parameters.values())
    if spec.design == "grid":
        axes = [grid_levels(parameter, spec.grid_levels) for parameter in parameters]
        index = np.unravel_index(np.arange(start, end), [len(axis) for axis in axes])
        return np.column_stack([axis[i] for axis, i in zip(axes, index, strict=True)]).reshape(
            end - start, len(axes)
        )
    first, last = start // DESIGN_BLOCK, max(start, end - 1) // DESIGN_BLOCK
    pieces = []
    for block in range(first, last + 1):
        points = _block_points(spec, block)
        offset = block * DESIGN_BLOCK
        pieces.append(points[max(start - offset, 0) : min(end - offset, len(points))])
    return map_unit(spec, np.concatenate(pieces) if pieces else np.empty((0, len(parameters))))


#: Design blocks kept in a process (a few MB each): chunks smaller than a block, evaluated
#: around the same time, share its draw.
_BLOCKS: OrderedDict[tuple[str, int], FloatArray] = OrderedDict()
_BLOCKS_KEPT: Final = 4
_BLOCKS_LOCK = threading.Lock()


def _block_points(spec: SweepSpec, block: int) -> FloatArray:
    """Return one design block's points in the unit hypercube, correlations imposed."""
    key = (f"{DESIGN_BLOCK}:{spec.model_dump_json()}", block)
    with _BLOCKS_LOCK:
        if key in _BLOCKS:
            _BLOCKS.move_to_end(key)
            return _BLOCKS[key]
    points = _draw_block(spec, block)
    with _BLOCKS_LOCK:
        _BLOCKS[key] = points
        while len(_BLOCKS) > _BLOCKS_KEPT:
            _BLOCKS.popitem(last=False)
    return points


def _draw_block(spec: SweepSpec, block: int) -> FloatArray:
    """Draw one design block's points in the unit hypercube, correlations imposed."""
    from scipy.stats import qmc  # here, not at import: commands that never draw skip it

    d = len(spec.parameters)
    begin = block * DESIGN_BLOCK
    size = min(DESIGN_BLOCK, int(spec.samples) - begin)
    seed = spec.seed if block == 0 else [spec.seed, block]  # block 0: the whole-design seed
    if spec.design == "mc":
        generator = np.random.PCG64(spec.seed)
        generator.advance(begin * d)  # one 64-bit draw a value: the same stream as a whole
        points = np.random.Generator(generator).random((size, d))
    elif spec.design == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance is best at powers of 2
            engine = qmc.Sobol(d, scramble=True, rng=np.random.default_rng(spec.seed))
            if begin:
                engine.fast_forward(begin)
            points = engine.random(size)
    else:
        points = qmc.LatinHypercube(d, rng=np.random.default_rng(seed)).random(size)
    points = np.clip(points, EDGE, 1.0 - EDGE)
    rank = target_matrix(spec)
    involved = np.empty(0, dtype=np.int64)
    if rank is not None:
        # only the correlated parameters are re-paired; the others stay as drawn
        involved = np.flatnonzero((np.abs(rank - np.eye(d)) > 0).any(axis=0))
    if rank is not None and involved.size:  # a rank of 0 asks for what was drawn
        points[:, involved] = impose_rank_correlation(
            points[:, involved], rank[np.ix_(involved, involved)], spec.seed if block == 0
            else spec.seed + block * 0x9E3779B1,
        )  # fmt: skip
    points.flags.writeable = False  # shared by the chunks of this block
    return points


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

    # a chunk of a sweep is mapped on the thread that evaluates it; only a whole design
    # (sensitivity, fitting) is worth spreading over the cores
    threads = min(os.cpu_count() or 1, len(blocks)) if points.shape[0] > PPF_BLOCK else 1
    if threads > 1:
        with ThreadPoolExecutor(threads, thread_name_prefix="sweep-design") as pool:
            list(pool.map(fill, blocks))  # list(): surface any error
    else:
        for block in blocks:
            fill(block)
    return out
