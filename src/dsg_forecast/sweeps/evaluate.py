"""Evaluate a sweep chunk by chunk and keep, per scenario, what analysts ask about.

Parameters are expanded one chunk at a time (never every scenario's arrays at once); each
chunk runs through the engine and is reduced to each FY's in-year and cumulative balance,
within-cap flags, whether the target is met, the first balanced year, the largest deficit
and the plans at the end of each FY. A scenario's numbers depend only on its own parameter
values, so results are identical whatever the chunk size, backend or number of workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd

from dsg_forecast._processes import leave_signals_to_parent
from dsg_forecast._types import FloatArray
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine import Engine, check_engine, numba_available, simulate_costs
from dsg_forecast.engine.ledger import build_balances
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from dsg_forecast.errors import (
    ArgumentError,
    ArgumentTypeError,
    DsgForecastError,
    ScenarioError,
    check_flags,
    whole_number,
)
from dsg_forecast.periods import month_label
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.design import DESIGN_BLOCK, design_rows, scenario_count
from dsg_forecast.sweeps.parameters import (
    ParameterMap,
    apply_values,
    check_disjoint,
    check_values,
    map_parameter,
    priced_as_swept,
)
from dsg_forecast.sweeps.spec import SweepSpec, Values
from dsg_forecast.sweeps.summary import METRICS, ChunkCounts, SummaryAccumulator

if TYPE_CHECKING:
    from dsg_forecast.sweeps.progress import Progress
    from dsg_forecast.sweeps.store import SweepStore

Backend = Literal["process", "dask"]

#: Largest sweep whose monthly trajectories are kept (60 months × 100,000 = 6 million rows).
MONTHLY_LIMIT = 100_000


@dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: the base model, how each path maps onto it, and its design.

    The design is drawn a chunk at a time where the chunk is evaluated
    (:meth:`rows`), so no process holds the whole of a large sweep's values.
    """

    scenario: Scenario
    spec: SweepSpec
    structure: ModelStructure
    base: ModelParameters
    """The base scenario's parameters (S = 1)."""
    maps: tuple[ParameterMap, ...]
    given: FloatArray | None
    """Parameter values given instead of the spec's design (sensitivity, goal seeking),
    (n, d); None to draw the design."""
    input_hash: str
    """SHA-256 of the scenario and the sweep specification."""
    supports: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    """For each swept path whose distribution is bounded and valid at both its bounds, those
    bounds: a chunk's draws inside them need no check (:func:`valid_supports`)."""

    @property
    def names(self) -> list[str]:
        """The swept paths."""
        return [mapping.path for mapping in self.maps]

    @property
    def samples(self) -> int:
        """Number of scenarios n."""
        return int(self.given.shape[0]) if self.given is not None else scenario_count(self.spec)

    def rows(self, start: int, end: int) -> FloatArray:
        """Return scenarios ``start`` to ``end`` (exclusive): their parameter values, checked.

        Parameters
        ----------
        start, end
            The first scenario and the end (exclusive).

        Returns
        -------
        FloatArray, shape (end − start, d)
            Values, columns in ``names`` order.

        Raises
        ------
        ScenarioError
            Naming the path, the value and the rule for any draw the scenario would reject.
        """
        if self.given is not None:
            return self.given[start:end]
        values = design_rows(self.spec, start, end)
        _check_draws(self.scenario, self.spec, values, self.input_hash, self.supports)
        return values

    @property
    def values(self) -> FloatArray:
        """Every scenario's parameter values, (n, d), at once (sweeps draw a chunk at a time)."""
        return self.rows(0, self.samples)

    @property
    def capped_years(self) -> list[str]:
        """Labels of the FYs with a deficit cap."""
        return [
            fy
            for fy, has in zip(self.structure.fy_labels, self.structure.has_cap, strict=True)
            if has
        ]


def input_hash(scenario: Scenario, spec: SweepSpec) -> str:
    """Return a stable fingerprint of everything that determines a sweep's results.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        The sweep.

    Returns
    -------
    str
        A SHA-256 hex digest; a resumed sweep must match it.
    """
    payload = json.dumps(
        {"scenario": scenario.model_dump(mode="json"), "sweep": spec.model_dump(mode="json")},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def plan_sweep(scenario: Scenario, spec: SweepSpec, values: FloatArray | None = None) -> SweepPlan:
    """Map every swept path, and check the design's first block of draws is valid.

    Later blocks are drawn, and checked the same way, where their chunks are evaluated.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        What to sweep and how.
    values
        Parameter values (n, d) to use instead of drawing the design (for sensitivity
        analysis and goal seeking).

    Raises
    ------
    ScenarioError
        Naming the path, the value and the rule for any draw the scenario would reject.
    ArgumentTypeError
        If the scenario or the sweep has not been validated (a mapping read from a file).
    """
    for given_value, kind, how in (
        (scenario, Scenario, "dsg_forecast.load_scenario(path)"),
        (spec, SweepSpec, "dsg_forecast.sweeps.spec_from_mapping(data)"),
    ):
        if not isinstance(given_value, kind):
            msg = (
                f"a sweep takes a validated {kind.__name__}, not a {type(given_value).__name__}:"
                f" use {how}"
            )
            raise ArgumentTypeError(msg)
    maps = tuple(map_parameter(scenario, path) for path in spec.parameters)
    check_disjoint(list(maps))
    given = None if values is None else np.asarray(values, dtype=np.float64)
    if given is not None:
        _check_draws(scenario, spec, given)
    structure, base = compile_scenario(scenario)
    structure = priced_as_swept(structure, list(maps))
    supports = valid_supports(scenario, spec) if given is None else {}
    plan = SweepPlan(
        scenario, spec, structure, base, maps, given, input_hash(scenario, spec), supports
    )
    if given is None:
        plan.rows(0, min(plan.samples, DESIGN_BLOCK))  # the first block's draws, checked now
    return plan


def check_extremes(plan: SweepPlan, engine: Engine = "numpy") -> None:
    """Run each swept path at its extremes, the others at the base's values, as a sweep will.

    A value the scenario's rules accept may still drive a month's rate out of range once
    the interventions apply (the engine's checks), which only running it shows: without
    this, ``validate`` passed a sweep that stopped at its first chunk. The extremes are a
    bounded distribution's (or a list's) lowest and highest values, and otherwise the
    lowest and highest of the design's first block of draws.

    Parameters
    ----------
    plan
        The sweep, as :func:`plan_sweep` makes it.
    engine
        ``numpy`` or ``numba``.

    Raises
    ------
    ScenarioError
        Naming the path, the value and what the engine refused.
    """
    if not plan.maps:
        return
    unbounded = [path for path in plan.names if path not in plan.supports]
    drawn = plan.rows(0, min(plan.samples, DESIGN_BLOCK)) if unbounded else None
    lows, highs = [], []
    for column, path in enumerate(plan.names):
        if drawn is not None and path in unbounded:
            low, high = float(drawn[:, column].min()), float(drawn[:, column].max())
        else:
            low, high = plan.supports[path]
        lows.append(low)
        highs.append(high)
    base = np.array([m.base_value for m in plan.maps])
    rows = np.vstack([base, extreme_rows(base, np.array(lows), np.array(highs))])

    def run(values: FloatArray) -> object:
        return _reduced(plan.structure, plan.base, plan.maps, values, engine, False)

    try:
        run(rows)
        return
    except ScenarioError:
        pass
    row, failed = first_refused(run, rows)
    if failed is None:  # a batch's refusal no scenario repeats alone: not this check's
        return
    if row == 0:
        raise failed.in_context("the base scenario itself, as its file gives it")
    column = (row - 1) // 2
    extreme = "highest" if row % 2 == 0 else "lowest"
    context = (
        f"at parameters[{plan.names[column]}] = {float(rows[row, column]):,.6g}, the "
        f"{extreme} value the sweep may draw, the other parameters at the base scenario's "
        "values; narrow its distribution"
    )
    raise failed.in_context(context)


#: The range of each swept path's values already checked, by sweep: a chunk whose draws lie
#: inside it needs no check (checking validates the scenario at the range's two ends).
_CHECKED: dict[tuple[str, str], tuple[float, float]] = {}
_CHECKED_LOCK = threading.Lock()


def valid_supports(scenario: Scenario, spec: SweepSpec) -> dict[str, tuple[float, float]]:
    """Return the bounds of each swept distribution that is bounded and valid at both.

    Scalar rules are intervals (see :func:`check_values`), so every value such a
    distribution can draw is valid: its chunks need no check, wherever they run. A path whose
    distribution is unbounded (normal, lognormal), or invalid at a bound it may never
    reach, is left out: its draws are checked as they are drawn, and a draw that breaks a
    rule is named.

    Parameters
    ----------
    scenario
        The base scenario.
    spec
        What to sweep and how.

    Returns
    -------
    dict of str to (float, float)
        The lowest and highest value of each such path.
    """
    supports: dict[str, tuple[float, float]] = {}
    for path, distribution in spec.parameters.items():
        if isinstance(distribution, Values):
            low, high = min(distribution.values), max(distribution.values)
        else:
            low, high = (float(bound) for bound in distribution.frozen().support())
        if not (np.isfinite(low) and np.isfinite(high)):
            continue
        try:
            check_values(scenario, path, low, high)
        except ScenarioError:
            continue
        supports[path] = (low, high)
    return supports


def _check_draws(
    scenario: Scenario,
    spec: SweepSpec,
    values: FloatArray,
    sweep: str | None = None,
    supports: dict[str, tuple[float, float]] | None = None,
) -> None:
    """Refuse draws the scenario would reject, naming the path, the value and the rule.

    As for a whole design, each path is checked at the lowest and highest value drawn so
    far (``sweep``: the sweep's input hash, None for values given whole); a chunk inside the
    range already checked, or inside the path's valid bounds (``supports``), costs nothing.
    """
    if not values.shape[0]:
        return
    for column, path in enumerate(spec.parameters):
        low, high = float(values[:, column].min()), float(values[:, column].max())
        bounds = (supports or {}).get(path)
        if bounds is not None and bounds[0] <= low and high <= bounds[1]:
            continue
        with _CHECKED_LOCK:
            known = None if sweep is None else _CHECKED.get((sweep, path))
        if known is not None:
            if known[0] <= low and high <= known[1]:
                continue
            low, high = min(low, known[0]), max(high, known[1])
        check_values(scenario, path, low, high)
        if sweep is not None:
            with _CHECKED_LOCK:
                if len(_CHECKED) > 10_000:  # a long-lived process: forget old sweeps
                    _CHECKED.clear()
                _CHECKED[(sweep, path)] = (low, high)


def default_engine(engine: Engine | None = None) -> Engine:
    """Return ``engine``, checked; without one, ``numba`` where it is installed, else ``numpy``.

    Parameters
    ----------
    engine
        The engine asked for, if any.

    Returns
    -------
    Engine
        The engine to run.

    Raises
    ------
    ValueError
        If the engine asked for is not one there is (named before anything is written).
    """
    if engine is None:
        return "numba" if numba_available() else "numpy"
    check_engine(engine)
    return engine


def evaluate(
    structure: ModelStructure,
    base: ModelParameters,
    maps: tuple[ParameterMap, ...],
    values: FloatArray,
    engine: Engine = "numpy",
    monthly: bool = False,
    first: int = 0,
) -> dict[str, np.ndarray[Any, Any]]:
    """Run one chunk of scenarios and reduce each to its per-FY results (arrays, no labels).

    With ``monthly``, also keep each month's plans and placement cost, (n, T).

    Parameters
    ----------
    structure
        What every scenario shares.
    base
        The base scenario's parameters (S = 1).
    maps
        How each swept path drives the parameters.
    values : FloatArray, shape (n, d)
        The chunk's parameter values.
    engine
        ``numpy`` or ``numba``.
    monthly
        Also keep each month's plans and placement cost.
    first
        The sweep's number of the chunk's first scenario, for messages.

    Returns
    -------
    dict of str to ndarray
        Per-scenario arrays: ledger lines by FY, target met, first balanced year, plans at
        each FY's end (and the monthly series).

    Raises
    ------
    ScenarioError
        If the engine refuses a scenario (a lever driven out of its range once the
        interventions apply), naming the sweep's first such scenario and the values it
        draws.
    """
    try:
        return _reduced(structure, base, maps, values, engine, monthly)
    except ScenarioError as exc:
        if not maps or len(values) == 0:
            raise
        row, failed = first_refused(
            lambda rows: _reduced(structure, base, maps, rows, engine, False), values
        )
        drawn = ", ".join(f"{m.path} = {v:,.6g}" for m, v in zip(maps, values[row], strict=True))
        context = f"scenario {first + row} of the sweep, which draws {drawn}"
        raise (failed or exc).in_context(context) from None


def first_refused(
    run: Callable[[FloatArray], object], values: FloatArray
) -> tuple[int, ScenarioError | None]:
    """Return the first row of a refused batch, found by halves, and its refusal alone.

    The engine's message counts a batch's scenarios from 0, so a chunk's "first: 3" was
    not the sweep's scenario 3; run alone, the scenario's message needs no number.

    Parameters
    ----------
    run
        Runs rows of values through the engine, raising :class:`ScenarioError` if it
        refuses any (each row is judged on its own).
    values : FloatArray, shape (n, d)
        The batch ``run`` refused.

    Returns
    -------
    (int, ScenarioError or None)
        The first refused row and its refusal; None where no row is refused alone.
    """
    low, high = 0, len(values)  # some row in [low, high) is refused
    while high - low > 1:
        middle = (low + high) // 2
        try:
            run(values[low:middle])
        except ScenarioError:
            high = middle
        else:
            low = middle
    try:
        run(values[low : low + 1])
    except ScenarioError as alone:
        return low, alone
    return low, None


def extreme_rows(start: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """Return each lever at its low and then its high value, the others at ``start``.

    Parameters
    ----------
    start, low, high : FloatArray, shape (d,)
        Every lever's start and its two extremes.

    Returns
    -------
    FloatArray, shape (2d, d)
        Row ``2i`` sets lever ``i`` to its low, row ``2i + 1`` to its high.

    Examples
    --------
    >>> extreme_rows(np.array([1.0, 5.0]), np.array([0.0, 4.0]), np.array([2.0, 6.0]))
    array([[0., 5.],
           [2., 5.],
           [1., 4.],
           [1., 6.]])
    """
    rows = np.repeat(np.asarray(start, dtype=np.float64)[None, :], 2 * len(start), axis=0)
    rows[0::2][np.diag_indices(len(start))] = low
    rows[1::2][np.diag_indices(len(start))] = high
    return rows


def _reduced(
    structure: ModelStructure,
    base: ModelParameters,
    maps: tuple[ParameterMap, ...],
    values: FloatArray,
    engine: Engine,
    monthly: bool,
) -> dict[str, np.ndarray[Any, Any]]:
    params = apply_values(base, list(maps), values)
    costs = simulate_costs(structure, params, engine=engine)
    cost, stock_total = costs.placement_cost, costs.stock_total
    ledger = build_balances(
        structure, params, cost, fees=costs.fees, place_funding=costs.place_funding, check=False
    )  # straight from simulate_costs, on parameters its lever pass checked
    year_end = np.flatnonzero(np.diff(structure.fy_index, append=structure.n_years))
    kept = {"monthly_plans": stock_total, "monthly_cost": cost} if monthly else {}
    return {
        **kept,
        "in_year_balance": ledger.in_year_balance,
        "cumulative_balance": ledger.cumulative_balance,
        "within_cap": ledger.within_cap[:, structure.has_cap],
        "target_met": ledger.target_met,
        "first_balanced_year": ledger.first_balanced_year,
        "largest_deficit": ledger.largest_deficit,
        "largest_deficit_year": ledger.largest_deficit_year,
        "plans": stock_total[:, year_end],
    }


def to_frame(
    plan: SweepPlan, start: int, values: FloatArray, reduced: dict[str, Any]
) -> pd.DataFrame:
    """Label one chunk's results: a row per scenario, index ``sample``.

    Parameters
    ----------
    plan
        The sweep's plan.
    start
        The chunk's first sample number.
    values : FloatArray, shape (n, d)
        The chunk's parameter values.
    reduced
        What :func:`evaluate` returned.

    Returns
    -------
    DataFrame
        The parameters and outputs, one column per output and FY.
    """
    labels = plan.structure.fy_labels
    data = _columns(plan, values, reduced)
    for name in YEAR_COLUMNS:
        data[name] = _year_labels(labels, data[name])
    if data["target_met"] is None:
        data["target_met"] = pd.NA
    index = pd.RangeIndex(start, start + values.shape[0], name="sample")
    return pd.DataFrame(data, index=index)


def to_table(
    plan: SweepPlan, start: int, values: FloatArray, reduced: dict[str, Any], schema: Any
) -> Any:
    """Build one chunk's Arrow table straight from its arrays, as :func:`to_frame` would.

    A streamed sweep writes its chunks without building a pandas table for each: the
    columns are the chunk's arrays, typed by ``schema`` (the Arrow schema, with its pandas
    metadata, of an earlier chunk's :func:`to_frame`), so the files read back exactly as
    tables built through pandas would (a test).

    Parameters
    ----------
    plan
        The sweep's plan.
    start
        The chunk's first sample number.
    values : FloatArray, shape (n, d)
        The chunk's parameter values.
    reduced
        What :func:`evaluate` returned.
    schema : pyarrow.Schema
        The sweep's table schema.

    Returns
    -------
    pyarrow.Table
        The chunk's rows, in ``schema``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    labels = plan.structure.fy_labels
    count = values.shape[0]
    columns = _columns(plan, values, reduced)
    columns["sample"] = np.arange(start, start + count, dtype=np.int64)
    arrays = []
    for field in schema:
        column = columns[field.name]
        if field.name in YEAR_COLUMNS:
            names = pa.array([*labels, None], type=field.type)
            arrays.append(pc.take(names, np.where(column >= 0, column, len(labels))))
        elif column is None:  # a column of missing values (no balance target)
            arrays.append(pa.nulls(count, type=field.type))
        else:
            arrays.append(pa.array(np.ascontiguousarray(column), type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


#: Columns that name a financial year (held as FY indices, −1 for none, until labelled).
YEAR_COLUMNS: Final = ("first_balanced_year", "largest_deficit_year")


def _columns(plan: SweepPlan, values: FloatArray, reduced: dict[str, Any]) -> dict[str, Any]:
    """Return a chunk's columns in table order, unlabelled.

    The year columns hold FY indices, and ``target_met`` is None when the scenario sets no
    balance target.
    """
    labels = plan.structure.fy_labels
    columns: dict[str, Any] = {name: values[:, j] for j, name in enumerate(plan.names)}
    for metric in METRICS:
        for y, fy in enumerate(labels):
            columns[f"{metric}[{fy}]"] = reduced[metric][:, y]
    for c, fy in enumerate(plan.capped_years):
        columns[f"within_cap[{fy}]"] = reduced["within_cap"][:, c].astype(bool)
    has_target = plan.structure.balance_target is not None
    columns["target_met"] = reduced["target_met"].astype(bool) if has_target else None
    columns["first_balanced_year"] = np.asarray(reduced["first_balanced_year"], dtype=np.int64)
    columns["largest_deficit"] = reduced["largest_deficit"]
    columns["largest_deficit_year"] = np.asarray(reduced["largest_deficit_year"], dtype=np.int64)
    return columns


def _year_labels(labels: tuple[str, ...], index: np.ndarray[Any, Any]) -> Any:
    """FY labels for FY indices, missing where the index is −1 (an array: no index to align)."""
    names = np.array([*labels, None], dtype=object)[np.where(index >= 0, index, len(labels))]
    return pd.array(names, dtype="string")


def chunks(samples: int, chunk_size: int) -> Iterator[tuple[int, int, int]]:
    """Yield (chunk number, first sample, end sample) covering ``samples``.

    Parameters
    ----------
    samples
        The number of scenarios.
    chunk_size
        Scenarios per chunk.

    Yields
    ------
    tuple of int
        Chunk number, first sample, end sample (exclusive).
    """
    for number, start in enumerate(range(0, samples, chunk_size)):
        yield number, start, min(start + chunk_size, samples)


#: Most scenarios in a chunk (its arrays stay a few hundred MB) and least (per-chunk
#: overhead stays small), by engine.
CHUNK_LIMITS: Final[dict[str, tuple[int, int]]] = {"numba": (256, 8_192), "numpy": (256, 2_048)}
#: Chunks a thread should have to take, so that threads that join late or finish early
#: still find work.
CHUNKS_PER_THREAD: Final = 4


def default_chunk_size(engine: Engine, samples: int, threads: int) -> int:
    """Return the scenarios per chunk a sweep uses unless told.

    At least :data:`CHUNKS_PER_THREAD` chunks for every thread that runs them (on a cluster,
    every worker thread), within :data:`CHUNK_LIMITS`. Results do not depend on it; a
    resumed sweep keeps the chunk size it started with.

    Parameters
    ----------
    engine
        ``numba`` or ``numpy``.
    samples
        Scenarios in the sweep.
    threads
        Threads (or worker threads of a cluster) that run the chunks.

    Returns
    -------
    int
        Scenarios per chunk.

    Raises
    ------
    ValueError
        If the engine is not one there is.
    """
    check_engine(engine)
    least, most = CHUNK_LIMITS[engine]
    wanted = -(-samples // (CHUNKS_PER_THREAD * max(threads, 1)))
    return int(min(most, max(least, wanted)))


def cluster_threads(client: Any) -> int:
    """Return the worker threads of a dask cluster now (at least 1).

    Parameters
    ----------
    client
        A ``distributed.Client``.

    Returns
    -------
    int
        The sum of the workers' threads.
    """
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(worker.get("nthreads", 1)) for worker in workers.values()))


# -- backends ----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(
    structure: ModelStructure,
    base: ModelParameters,
    maps: tuple[ParameterMap, ...],
    engine: Engine,
    monthly: bool,
) -> None:
    leave_signals_to_parent()
    _WORKER.update(structure=structure, base=base, maps=maps, engine=engine, monthly=monthly)


def _evaluate_in_worker(start: int, values: FloatArray) -> dict[str, np.ndarray[Any, Any]]:
    return evaluate(
        _WORKER["structure"],
        _WORKER["base"],
        _WORKER["maps"],
        values,
        _WORKER["engine"],
        _WORKER["monthly"],
        first=start,
    )


def _run_here(
    plan: SweepPlan, pending: list[tuple[int, int, int]], engine: Engine, monthly: bool
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate the chunks one after another in this process."""
    for number, start, end in pending:
        yield number, start, end, evaluate_rows(plan, start, end, engine, monthly)


def evaluate_rows(
    plan: SweepPlan, start: int, end: int, engine: Engine, monthly: bool
) -> dict[str, np.ndarray[Any, Any]]:
    """Draw (or take) scenarios ``start`` to ``end`` and evaluate them; see :func:`evaluate`.

    The chunk's parameter values are returned too, under ``"values"``.

    Parameters
    ----------
    plan
        The sweep.
    start, end
        The chunk's first scenario and its end (exclusive).
    engine
        ``numpy`` or ``numba``.
    monthly
        Also keep each month's plans and placement cost.

    Returns
    -------
    dict of str to ndarray
        As :func:`evaluate`, and the values.
    """
    values = plan.rows(start, end)
    reduced = evaluate(plan.structure, plan.base, plan.maps, values, engine, monthly, start)
    return {**reduced, "values": values}


def _run_in_process(
    plan: SweepPlan,
    pending: list[tuple[int, int, int]],
    engine: Engine,
    workers: int,
    monthly: bool,
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate chunks here; with the numpy engine and several workers, in a process pool.

    The numba engine runs in this process on ``workers`` threads (see
    :func:`_run_numba_threads`).
    """
    if engine == "numba":
        yield from _run_numba_threads(plan, pending, workers, monthly)
        return
    workers = min(workers, os.cpu_count() or 1)  # as the numba engine's threads
    if workers <= 1 or len(pending) <= 1:
        yield from _run_here(plan, pending, engine, monthly)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=workers,
        initializer=_init_worker,
        initargs=(plan.structure, plan.base, plan.maps, engine, monthly),
    ) as pool:
        window = 2 * workers  # bounded in flight: memory stays a few chunks
        queue = list(pending)
        running: list[tuple[tuple[int, int, int], FloatArray, Any]] = []
        try:
            while queue or running:
                while queue and len(running) < window:
                    job = queue.pop(0)
                    values = plan.rows(job[1], job[2])
                    future = pool.submit(_evaluate_in_worker, job[1], values)
                    running.append((job, values, future))
                (number, start, end), values, future = running.pop(0)
                yield number, start, end, {**future.result(), "values": values}
        finally:  # stopped (Ctrl-C, an error): chunks not yet started are not started
            for _, _, future in running:
                future.cancel()


def _run_numba_threads(
    plan: SweepPlan, pending: list[tuple[int, int, int]], workers: int, monthly: bool
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate chunks with the numba engine on ``workers`` threads of this process.

    Each thread takes whole chunks (drawing the chunk's values, the levers, the kernel on
    one numba thread, the ledger), so everything a chunk needs runs in parallel, not only
    the kernel: numpy and the compiled kernel release the GIL. This needs a thread-safe
    numba threading layer (OpenMP or TBB, which numba picks where installed); with
    numba's own ``workqueue`` layer, or one worker, chunks run one after another with the
    kernel on ``workers`` threads. Results come back in chunk order, at most two chunks a
    thread ahead.
    """
    import numba

    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    workers = max(1, min(workers, limit))
    previous = numba.get_num_threads()
    if workers > 1 and pending:  # the first chunk also loads the kernel and its layer
        numba.set_num_threads(workers)
        try:
            number, start, end = pending[0]
            first = evaluate_rows(plan, start, end, "numba", monthly)
        finally:
            numba.set_num_threads(previous)
        yield number, start, end, first
        pending = pending[1:]
    # numba.get_num_threads() above has started the threading layer, so it can be asked
    layer = numba.threading_layer()  # type: ignore[attr-defined]
    if workers == 1 or layer not in ("omp", "tbb") or len(pending) <= 1:
        numba.set_num_threads(workers)
        try:
            yield from _run_here(plan, pending, "numba", monthly)
        finally:
            numba.set_num_threads(previous)
        return

    def one(start: int, end: int) -> dict[str, np.ndarray[Any, Any]]:
        numba.set_num_threads(1)  # this thread's own setting
        return evaluate_rows(plan, start, end, "numba", monthly)  # drawn on this thread too

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dsg-sweep") as pool:
        queue = list(pending)
        running: list[tuple[tuple[int, int, int], Any]] = []
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    job = queue.pop(0)
                    running.append((job, pool.submit(one, job[1], job[2])))
                (number, start, end), future = running.pop(0)
                yield number, start, end, future.result()
        finally:  # stopped (Ctrl-C, an error): chunks not yet started are not started
            for _, future in running:
                future.cancel()


#: How many times a chunk is retried on a dask cluster when its worker is lost or it fails,
#: unless dask's configuration says otherwise (key :data:`RETRIES_KEY`; the command's
#: ``--retries``, or ``DASK_DSG_FORECAST__TASK_RETRIES`` in the environment).
TASK_RETRIES = 3
RETRIES_KEY = "dsg-forecast.task-retries"


def task_retries() -> int:
    """Return how many times a chunk is retried on a dask cluster (dask's config, else 3).

    Returns
    -------
    int
        The retries, at least 0.

    Raises
    ------
    ArgumentError
        If the configured value is not a whole number of at least 0.
    """
    import dask

    value = dask.config.get(RETRIES_KEY, TASK_RETRIES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"dask config {RETRIES_KEY} is {value!r}; it must be a whole number of at least 0"
        raise ArgumentError(msg)
    return value


#: Seconds between readings of a cluster's worker threads while a sweep runs on it.
THREADS_REFRESH: Final = 0.25


def _run_on_dask(
    plan: SweepPlan,
    pending: list[tuple[int, int, int]],
    engine: Engine,
    client: Any,
    monthly: bool,
    writing: tuple[SweepStore, Any] | None = None,
) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
    """Evaluate chunks on a dask.distributed cluster, yielding them as they finish.

    - The inputs every chunk shares (structure, base parameters, maps) are a task of their
      own, not scattered data: if every worker holding them is lost, the scheduler runs
      that task again instead of failing the chunks that need it.
    - The chunks in flight follow the cluster's worker threads, read again as chunks finish
      (at most every :data:`THREADS_REFRESH` seconds: each reading is a round trip to the
      scheduler): workers that join an adaptive cluster get work, and a shrinking cluster
      is not flooded.
    - Tasks are named ``dsg-chunk-NNNNNN-…`` on the dashboard, and each checks that its
      worker runs the client's version of the library before it computes.
    - With ``writing`` (the store and the table schema), each worker writes its chunk's
      part itself and sends back only its share of the summary (``{"written": counts}``).
    """
    from distributed import as_completed  # untyped: typed here as Any

    from dsg_forecast._version import __version__

    check_worker_versions(client)
    retries = task_retries()
    # each run names its tasks afresh: dask takes a task of the same name for the same
    # computation, and a worker still finishing a stopped run's chunk would hand its
    # result to a new run that named a chunk alike (the same plan, other chunks)
    token = f"{plan.input_hash[:8]}-{uuid.uuid4().hex[:12]}"
    # the plan without any given values (those go with their chunks): a few MB at most;
    # with writing, the store and the parts' schema likewise go once, not with every chunk
    shared = _submit_once(client, dataclasses.replace(plan, given=None), "shared", token, retries)
    output = None if writing is None else _submit_once(client, writing, "output", token, retries)
    queue = list(pending)
    futures: dict[Any, tuple[int, int, int]] = {}
    completed: Any = as_completed()  # type: ignore[no-untyped-call]
    threads = [cluster_threads(client), time.monotonic()]  # the last reading, and when

    def fill() -> None:
        if time.monotonic() - threads[1] >= THREADS_REFRESH:
            threads[:] = [cluster_threads(client), time.monotonic()]
        window = 2 * int(threads[0])
        while queue and len(futures) < window:
            job = queue.pop(0)
            given = None if plan.given is None else plan.given[job[1] : job[2]]
            task: tuple[Any, ...] = (
                (_evaluate_on_worker, shared, (job[1], job[2]), given, engine, monthly)
                if writing is None
                else (_write_on_worker, shared, (job[0], job[1], job[2]), given, engine, output)
            )
            future = client.submit(
                *task,
                __version__,
                key=f"dsg-chunk-{job[0]:06d}-{token}",
                pure=False,
                retries=retries,  # a chunk whose worker is lost runs again elsewhere
            )
            futures[future] = job
            completed.add(future)

    fill()
    for future in completed:
        number, start, end = futures.pop(future)
        result = future.result()
        future.release()
        fill()
        yield number, start, end, result
    shared.release()
    if output is not None:
        output.release()


def _submit_once(client: Any, inputs: Any, name: str, token: str, retries: int) -> Any:
    """Submit what every chunk shares as a task of its own (``dsg-NAME-…``); its future."""
    return client.submit(
        _shared_inputs, inputs, key=f"dsg-{name}-{token}", pure=False, retries=retries
    )


def _shared_inputs(inputs: Any) -> Any:
    """Return what every chunk shares (a task, so a lost copy is computed again)."""
    return inputs


class WorkerVersionError(DsgForecastError, RuntimeError):
    """A dask worker runs another version of dsg_forecast than the client, or none."""


def _evaluate_on_worker(
    plan: SweepPlan,
    span: tuple[int, int],
    given: FloatArray | None,
    engine: Engine,
    monthly: bool,
    expected: str,
) -> dict[str, np.ndarray[Any, Any]]:
    """Evaluate one chunk on a dask worker, drawing its values there (unless given).

    The worker's library version is checked against the client's first.
    """
    from dsg_forecast._version import __version__

    if __version__ != expected:
        msg = (
            f"this worker runs dsg_forecast {__version__} but the client runs {expected}; "
            "install the same version on every worker"
        )
        raise WorkerVersionError(msg)
    if given is None:
        return evaluate_rows(plan, *span, engine, monthly)
    reduced = evaluate(plan.structure, plan.base, plan.maps, given, engine, monthly, span[0])
    return {**reduced, "values": given}


def _write_on_worker(
    plan: SweepPlan,
    job: tuple[int, int, int],
    given: FloatArray | None,
    engine: Engine,
    writing: tuple[SweepStore, Any],
    expected: str,
) -> dict[str, ChunkCounts]:
    """Evaluate one chunk on a dask worker, write its part there, and return its counts.

    The part is written as the client would write it (:func:`to_table` in the sweep's
    schema; to a temporary name, then renamed), so the files do not depend on who wrote them.
    """
    number, start, end = job
    store, schema = writing
    reduced = _evaluate_on_worker(plan, (start, end), given, engine, False, expected)
    store.write_table(number, to_table(plan, start, reduced["values"], reduced, schema))
    return {"written": _chunk_counts(plan, _accumulator(plan), start, reduced)}


def check_worker_versions(client: Any) -> None:
    """Refuse a cluster whose workers do not all run the client's dsg_forecast.

    Parameters
    ----------
    client
        A ``distributed.Client``.

    Raises
    ------
    WorkerVersionError
        Naming each worker without the library or with another version.
    """
    from dsg_forecast._version import __version__

    def installed() -> str | None:  # pickled by value: runs where the library may be absent
        from importlib import metadata

        try:
            return metadata.version("dsg_forecast")
        except metadata.PackageNotFoundError:
            return None

    versions: dict[str, str | None] = client.run(installed)
    wrong = {address: found for address, found in versions.items() if found != __version__}
    if wrong:
        listed = "; ".join(
            f"{address} has {'no dsg_forecast' if found is None else f'dsg_forecast {found}'}"
            for address, found in sorted(wrong.items())
        )
        msg = (
            f"the client runs dsg_forecast {__version__} but {listed}; install the same "
            "version on every worker (pip install dsg_forecast=="
            f"{__version__}) and start them again"
        )
        raise WorkerVersionError(msg)


@dataclass(frozen=True)
class SweepRun:
    """What :func:`run_plan` produced: the table in memory, or on disk in ``store``."""

    plan: SweepPlan
    table: pd.DataFrame | None
    store: SweepStore | None
    monthly: pd.DataFrame | None = None
    """Each scenario's monthly plans and placement cost, rows (sample, month), if asked."""
    accumulated: SummaryAccumulator | None = None
    """The summary's counts and sample, gathered as the chunks arrived (a new streamed
    sweep); None where the summary reads the results back."""

    def results(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Return the per-scenario table (read back from the store if it was streamed).

        Parameters
        ----------
        columns
            The columns to return (default: all).

        Returns
        -------
        DataFrame
            One row per scenario, index ``sample``.
        """
        if self.table is not None:
            return self._selected(columns)
        assert self.store is not None
        return self.store.read(columns)

    def _selected(self, columns: list[str] | None) -> pd.DataFrame:
        """Return the in-memory table's columns, checked as a store checks them."""
        from dsg_forecast.sweeps.store import check_columns

        assert self.table is not None  # (kept in memory)
        check_columns(columns, [*self.table.columns, "sample"], "the sweep's results")
        if columns is None:
            return self.table
        return self.table[[column for column in columns if column != "sample"]]

    def parts(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Yield the per-scenario table a chunk at a time, in sample order (bounded memory).

        Parameters
        ----------
        columns
            The columns to return (default: all).

        Yields
        ------
        DataFrame
            Rows of some scenarios, index ``sample``.
        """
        if self.table is not None:
            yield self._selected(columns)
            return
        assert self.store is not None
        yield from self.store.parts(columns)


def run_plan(
    plan: SweepPlan,
    *,
    chunk_size: int | None = None,
    engine: Engine | None = None,
    workers: int | None = None,
    backend: Backend = "process",
    client: Any = None,
    store: SweepStore | None = None,
    progress: Progress | None = None,
    on_chunk: Callable[[int], None] | None = None,
    monthly: bool = False,
    write_on_workers: bool = False,
) -> SweepRun:
    """Evaluate every scenario of a plan, chunk by chunk.

    Parameters
    ----------
    chunk_size
        Scenarios per chunk (default: :func:`default_chunk_size`). Results do not depend
        on it.
    engine
        ``numba`` (default where installed: compiled, every core) or ``numpy``.
    workers
        Processes for the numpy engine, threads for numba (default, and at most: every
        core; results do not depend on it).
    backend
        ``process`` (this machine) or ``dask`` (``client`` is a ``distributed.Client``).
    store
        Stream chunks to Parquet as they finish (see
        :class:`~dsg_forecast.sweeps.store.SweepStore`), each written on a background thread
        while the next computes; chunks already in a resumed store are skipped. The store's
        folder lock is let go when the run ends, however it ends.
    on_chunk
        Called with each finished chunk's number, once its part is on disk when streaming
        (tests use it to simulate a crash).
    monthly
        Also keep every scenario's monthly plans and placement cost (in memory; for sweeps
        of at most :data:`MONTHLY_LIMIT` scenarios).
    write_on_workers
        With ``store`` on the dask backend: each worker writes its own chunks' parts and
        sends back only their share of the summary, so the client neither receives nor
        writes the results (the store's folder or URL must be reachable from every worker).

    Raises
    ------
    ArgumentError
        If monthly trajectories are asked of a sweep larger than :data:`MONTHLY_LIMIT`,
        ``chunk_size`` or ``workers`` is below 1, or the dask backend has no ``client``.
    SweepStoreError
        If ``write_on_workers`` is asked without a store or the dask backend, or monthly
        trajectories with it or of a resumed store that holds parts (theirs were not kept).
    """
    with store if store is not None else contextlib.nullcontext():  # (its lock let go after)
        dask = backend == "dask"
        _check_run_arguments(plan, chunk_size, workers, monthly, no_client=dask and client is None)
        check_writing_on_workers(write_on_workers, store is not None, dask, monthly)
        engine = default_engine(engine)
        workers = workers or os.cpu_count() or 1
        threads = cluster_threads(client) if dask else workers
        chunk_size = chunk_size or default_chunk_size(engine, plan.samples, threads)
        done, pending = _pending(plan, store, chunk_size, progress, monthly=monthly)
        if dask:
            writing = (store, _schema(plan)) if write_on_workers and store else None
            results = _run_on_dask(plan, pending, engine, client, monthly, writing)
        else:
            results = _run_in_process(plan, pending, engine, workers, monthly)
        # a new streamed sweep is summarised as its chunks arrive (no second pass over the
        # files); a resumed one has chunks from an earlier run, so it is summarised from disk
        accumulator = _accumulator(plan) if store is not None and not done else None
        frames, months = _collect(
            plan, results, store, progress, on_chunk, monthly=monthly, accumulator=accumulator
        )
        if progress is not None:
            progress.finish()
        trajectories = pd.concat([months[n] for n in sorted(months)]) if months else None
        if store is not None:
            return SweepRun(plan, None, store, trajectories, accumulator)
        table = pd.concat([frames[number] for number in sorted(frames)])
        return SweepRun(plan, table, None, trajectories)


def _pending(
    plan: SweepPlan,
    store: SweepStore | None,
    chunk_size: int,
    progress: Progress | None,
    *,
    monthly: bool,
) -> tuple[set[int], list[tuple[int, int, int]]]:
    """Return the chunks already in the store and those to run (and start the progress).

    Monthly trajectories of a resumed sweep are refused: its parts on disk did not keep
    them.
    """
    done = store.done() if store is not None else set()
    if monthly and done and store is not None:
        from dsg_forecast.sweeps.store import SweepStoreError

        msg = (
            f"{store.location} already holds part of this sweep, whose monthly trajectories "
            "(--monthly; monthly=True in Python) were not kept, so they would be missing from "
            "those asked for now; resume without them, or run the sweep with them to a new "
            f"--out (they are for sweeps of up to {MONTHLY_LIMIT:,} scenarios: seconds)"
        )
        raise SweepStoreError(msg)
    pending = [job for job in chunks(plan.samples, chunk_size) if job[0] not in done]
    if progress is not None:
        progress.start(
            plan.samples, already=plan.samples - sum(end - start for _, start, end in pending)
        )
    return done, pending


def check_writing_on_workers(
    write_on_workers: bool, has_output: bool, on_dask: bool, monthly: bool
) -> None:
    """Refuse to write on the workers without an output and a cluster, or with monthly series.

    Parameters
    ----------
    write_on_workers
        Whether the workers are asked to write (True or False, nothing else).
    has_output
        The sweep streams to a store.
    on_dask
        It runs on a dask cluster.
    monthly
        It keeps monthly trajectories (in the client's memory).

    Raises
    ------
    TypeError
        If ``write_on_workers`` is not True or False.
    SweepStoreError
        Saying what is missing.
    """
    check_flags(write_on_workers=write_on_workers)
    if not write_on_workers or (has_output and on_dask and not monthly):
        return
    from dsg_forecast.sweeps.store import SweepStoreError

    msg = (
        "writing on the workers needs an output (--out) and a dask cluster (--scheduler "
        "or --local-cluster), and cannot keep monthly trajectories (--monthly)"
    )
    raise SweepStoreError(msg)


def _schema(plan: SweepPlan) -> Any:
    """Return the Arrow schema of the sweep's parts, from its first scenario (a tiny chunk).

    The numpy engine computes it whatever engine the sweep runs: the parts' columns and
    types do not depend on the engine, and the client of a dask cluster then never loads
    numba and the compiled kernel (0.3 s, before the first chunk could start).
    """
    from dsg_forecast.sweeps.store import SweepStore

    reduced = evaluate_rows(plan, 0, 1, "numpy", False)
    return SweepStore.table(to_frame(plan, 0, reduced["values"], reduced)).schema


def _accumulator(plan: SweepPlan) -> SummaryAccumulator:
    """Return an empty summary of the plan's sweep, to add chunks to as they arrive."""
    return SummaryAccumulator(
        plan.structure.fy_labels,
        plan.capped_years,
        has_target=plan.structure.balance_target is not None,
        samples=plan.samples,
    )


def _check_run_arguments(
    plan: SweepPlan, chunk_size: int | None, workers: int | None, monthly: bool, *, no_client: bool
) -> None:
    if no_client:
        msg = "backend 'dask' needs a distributed.Client (or use --scheduler / local_cluster)"
        raise ArgumentError(msg)
    if monthly and plan.samples > MONTHLY_LIMIT:
        msg = (
            f"monthly trajectories are kept for sweeps of at most {MONTHLY_LIMIT:,} scenarios; "
            f"this one has {plan.samples:,}"
        )
        raise ArgumentError(msg)
    for name, value in (("chunk_size", chunk_size), ("workers", workers)):
        if value is None:
            continue
        if not whole_number(value):  # True, 2.5
            msg = f"{name} is {value!r}; it must be a whole number of at least 1 (or None)"
            raise ArgumentTypeError(msg)
        if value < 1:
            msg = f"{name} is {value}; it must be at least 1 (or None for the default)"
            raise ArgumentError(msg)


def _collect(
    plan: SweepPlan,
    results: Iterator[tuple[int, int, int, dict[str, Any]]],
    store: SweepStore | None,
    progress: Progress | None,
    on_chunk: Callable[[int], None] | None,
    *,
    monthly: bool,
    accumulator: SummaryAccumulator | None = None,
) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame]]:
    """Turn finished chunks into tables: kept in memory, or streamed to the store.

    Each chunk's table is also added to ``accumulator``, if given; a chunk a dask worker
    wrote itself brings only its counts (``{"written": ...}``), which are added. Returns the
    in-memory tables and monthly trajectories by chunk number.
    """
    frames: dict[int, pd.DataFrame] = {}
    months: dict[int, pd.DataFrame] = {}

    def finished(number: int, count: int) -> None:
        if progress is not None:
            progress.advance(count)
        if on_chunk is not None:
            on_chunk(number)

    # a chunk is written to Parquet on a background thread while the next one computes; at
    # most one write is in flight (memory stays bounded), and a chunk counts as finished
    # only once its part is on disk
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-writer") as writer:
        writing: tuple[Future[None], int, int] | None = None

        def settle() -> None:
            nonlocal writing
            if writing is not None:
                future, number, count = writing
                writing = None
                future.result()  # a failed write raises here
                finished(number, count)

        schema = None
        for number, start, end, reduced in results:
            if monthly:
                months[number] = _monthly_frame(plan, start, reduced)
            if store is None:
                frames[number] = to_frame(plan, start, reduced["values"], reduced)
                finished(number, end - start)
                continue
            if "written" in reduced:  # a dask worker wrote the part: its counts came back
                if accumulator is not None:
                    accumulator.add_counts(reduced["written"])
                finished(number, end - start)
                continue
            if accumulator is not None:
                accumulator.add_counts(_chunk_counts(plan, accumulator, start, reduced))
            if schema is None:  # the first chunk through pandas: the schema and its metadata
                table = store.table(to_frame(plan, start, reduced["values"], reduced))
                schema = table.schema
            else:
                table = to_table(plan, start, reduced["values"], reduced, schema)
            settle()
            writing = (writer.submit(store.write_table, number, table), number, end - start)
        settle()
    return frames, months


def _chunk_counts(
    plan: SweepPlan, accumulator: SummaryAccumulator, start: int, reduced: dict[str, Any]
) -> ChunkCounts:
    """Return one chunk's share of the sweep's running summary, from its arrays."""
    count = reduced["values"].shape[0]
    return accumulator.counts(
        np.arange(start, start + count),
        np.concatenate([reduced[metric] for metric in METRICS], axis=1),
        reduced["within_cap"].astype(bool),
        reduced["target_met"].astype(bool) if plan.structure.balance_target is not None else None,
        np.asarray(reduced["first_balanced_year"], dtype=np.int64),
    )


def _monthly_frame(plan: SweepPlan, start: int, reduced: dict[str, Any]) -> pd.DataFrame:
    plans = reduced["monthly_plans"]
    labels = [month_label(int(m)) for m in plan.structure.months]
    index = pd.MultiIndex.from_product(
        [range(start, start + plans.shape[0]), labels], names=["sample", "month"]
    )
    return pd.DataFrame(
        {"plans": plans.ravel(), "placement_cost": reduced["monthly_cost"].ravel()}, index=index
    )
