"""Evaluate a sweep chunk by chunk and keep, per scenario, what analysts ask about.

Parameters are expanded one chunk at a time (never every scenario's arrays at once); each
chunk runs through the engine and is reduced to each FY's in-year and cumulative balance,
within-cap flags, whether the target is met, the first balanced year, the largest deficit
and the plans at the end of each FY. A scenario's numbers depend only on its own parameter
values, so results are identical whatever the chunk size, backend or number of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from dsg_forecast._types import FloatArray
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.engine import Engine, numba_available, simulate_costs
from dsg_forecast.engine.ledger import build_ledger
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from dsg_forecast.periods import month_label
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.design import sample_values
from dsg_forecast.sweeps.parameters import (
    ParameterMap,
    apply_values,
    check_disjoint,
    check_values,
    map_parameter,
)
from dsg_forecast.sweeps.spec import SweepSpec

if TYPE_CHECKING:
    from dsg_forecast.sweeps.progress import Progress
    from dsg_forecast.sweeps.store import SweepStore

Backend = Literal["process", "dask"]

#: Largest sweep whose monthly trajectories are kept (60 months × 100,000 = 6 million rows).
MONTHLY_LIMIT = 100_000


@dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: the base model, how each path maps onto it, and the values."""

    scenario: Scenario
    spec: SweepSpec
    structure: ModelStructure
    base: ModelParameters
    """The base scenario's parameters (S = 1)."""
    maps: tuple[ParameterMap, ...]
    values: FloatArray
    """Parameter values, (n, d), columns in ``names`` order."""
    input_hash: str
    """SHA-256 of the scenario and the sweep specification."""

    @property
    def names(self) -> list[str]:
        """The swept paths."""
        return [mapping.path for mapping in self.maps]

    @property
    def samples(self) -> int:
        """Number of scenarios n."""
        return int(self.values.shape[0])

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
    """Map every swept path, draw the design and check every drawn value is valid.

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
    """
    maps = tuple(map_parameter(scenario, path) for path in spec.parameters)
    check_disjoint(list(maps))
    drawn = sample_values(spec) if values is None else np.asarray(values, dtype=np.float64)
    for column, path in enumerate(spec.parameters):
        if drawn.shape[0]:
            check_values(
                scenario, path, float(drawn[:, column].min()), float(drawn[:, column].max())
            )
    structure, base = compile_scenario(scenario)
    return SweepPlan(scenario, spec, structure, base, maps, drawn, input_hash(scenario, spec))


def default_engine() -> Engine:
    """``numba`` where it is installed, else ``numpy``."""
    return "numba" if numba_available() else "numpy"


def evaluate(
    structure: ModelStructure,
    base: ModelParameters,
    maps: tuple[ParameterMap, ...],
    values: FloatArray,
    engine: Engine = "numpy",
    monthly: bool = False,
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

    Returns
    -------
    dict of str to ndarray
        Per-scenario arrays: ledger lines by FY, target met, first balanced year, plans at
        each FY's end (and the monthly series).
    """
    params = apply_values(base, list(maps), values)
    costs = simulate_costs(structure, params, engine=engine)
    cost, stock_total = costs.placement_cost, costs.stock_total
    ledger = build_ledger(
        structure, params, cost, fees=costs.fees, place_funding=costs.place_funding
    )
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
    data: dict[str, Any] = {}
    for column, name in enumerate(plan.names):
        data[name] = values[:, column]
    for metric in ("in_year_balance", "cumulative_balance", "plans"):
        for y, fy in enumerate(labels):
            data[f"{metric}[{fy}]"] = reduced[metric][:, y]
    for c, fy in enumerate(plan.capped_years):
        data[f"within_cap[{fy}]"] = reduced["within_cap"][:, c].astype(bool)
    target = plan.structure.balance_target
    data["target_met"] = reduced["target_met"].astype(bool) if target is not None else pd.NA
    data["first_balanced_year"] = _year_labels(labels, reduced["first_balanced_year"])
    data["largest_deficit"] = reduced["largest_deficit"]
    data["largest_deficit_year"] = _year_labels(labels, reduced["largest_deficit_year"])
    index = pd.RangeIndex(start, start + values.shape[0], name="sample")
    return pd.DataFrame(data, index=index)


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


# -- backends ----------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(
    structure: ModelStructure,
    base: ModelParameters,
    maps: tuple[ParameterMap, ...],
    engine: Engine,
    monthly: bool,
) -> None:
    _WORKER.update(structure=structure, base=base, maps=maps, engine=engine, monthly=monthly)


def _evaluate_in_worker(values: FloatArray) -> dict[str, np.ndarray[Any, Any]]:
    return evaluate(
        _WORKER["structure"],
        _WORKER["base"],
        _WORKER["maps"],
        values,
        _WORKER["engine"],
        _WORKER["monthly"],
    )


def _run_here(
    plan: SweepPlan, pending: list[tuple[int, int, int]], engine: Engine, monthly: bool
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate the chunks one after another in this process."""
    for number, start, end in pending:
        values = plan.values[start:end]
        yield (
            number,
            start,
            end,
            evaluate(plan.structure, plan.base, plan.maps, values, engine, monthly),
        )


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
        running: list[tuple[tuple[int, int, int], Any]] = []
        while queue or running:
            while queue and len(running) < window:
                job = queue.pop(0)
                running.append(
                    (job, pool.submit(_evaluate_in_worker, plan.values[job[1] : job[2]]))
                )
            (number, start, end), future = running.pop(0)
            yield number, start, end, future.result()


def _run_numba_threads(
    plan: SweepPlan, pending: list[tuple[int, int, int]], workers: int, monthly: bool
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate chunks with the numba engine on ``workers`` threads of this process.

    Each thread takes whole chunks (drawing nothing new: the values, the levers, the kernel
    on one numba thread, the ledger), so everything a chunk needs runs in parallel, not only
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
            first = evaluate(
                plan.structure, plan.base, plan.maps, plan.values[start:end], "numba", monthly
            )
        finally:
            numba.set_num_threads(previous)
        yield number, start, end, first
        pending = pending[1:]
    layer = numba.threading_layer()  # type: ignore[attr-defined]
    if workers == 1 or layer not in ("omp", "tbb") or len(pending) <= 1:
        numba.set_num_threads(workers)
        try:
            yield from _run_here(plan, pending, "numba", monthly)
        finally:
            numba.set_num_threads(previous)
        return

    def one(values: FloatArray) -> dict[str, np.ndarray[Any, Any]]:
        numba.set_num_threads(1)  # this thread's own setting
        return evaluate(plan.structure, plan.base, plan.maps, values, "numba", monthly)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dsg-sweep") as pool:
        queue = list(pending)
        running: list[tuple[tuple[int, int, int], Any]] = []
        while queue or running:
            while queue and len(running) < 2 * workers:
                job = queue.pop(0)
                running.append((job, pool.submit(one, plan.values[job[1] : job[2]])))
            (number, start, end), future = running.pop(0)
            yield number, start, end, future.result()


#: How many times a chunk is retried on a dask cluster when its worker is lost or it fails.
TASK_RETRIES = 3


def _run_on_dask(
    plan: SweepPlan,
    pending: list[tuple[int, int, int]],
    engine: Engine,
    client: Any,
    monthly: bool,
) -> Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]]:
    """Evaluate chunks on a dask.distributed cluster, yielding them as they finish."""
    from distributed import as_completed  # untyped: typed here as Any

    shared = client.scatter([plan.structure, plan.base, plan.maps], broadcast=True)
    window = max(2 * sum(client.nthreads().values()), 2)
    queue = list(pending)
    futures: dict[Any, tuple[int, int, int]] = {}
    completed: Any = as_completed()  # type: ignore[no-untyped-call]

    def submit() -> None:
        job = queue.pop(0)
        future = client.submit(
            evaluate,
            *shared,
            plan.values[job[1] : job[2]],
            engine,
            monthly,
            pure=False,
            retries=TASK_RETRIES,  # a chunk whose worker is lost runs again elsewhere
        )
        futures[future] = job
        completed.add(future)

    while queue and len(futures) < window:
        submit()
    for future in completed:
        number, start, end = futures.pop(future)
        result = future.result()
        future.release()
        if queue:
            submit()
        yield number, start, end, result


@dataclass(frozen=True)
class SweepRun:
    """What :func:`run_plan` produced: the table in memory, or on disk in ``store``."""

    plan: SweepPlan
    table: pd.DataFrame | None
    store: SweepStore | None
    monthly: pd.DataFrame | None = None
    """Each scenario's monthly plans and placement cost, rows (sample, month), if asked."""

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
            return self.table if columns is None else self.table[columns]
        assert self.store is not None
        return self.store.read(columns)


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
) -> SweepRun:
    """Evaluate every scenario of a plan, chunk by chunk.

    Parameters
    ----------
    chunk_size
        Scenarios per chunk (default 16,384 with numba, 2,048 with numpy). Results do not
        depend on it.
    engine
        ``numba`` (default where installed: compiled, every core) or ``numpy``.
    workers
        Processes for the numpy engine, threads for numba (default: every core).
    backend
        ``process`` (this machine) or ``dask`` (``client`` is a ``distributed.Client``).
    store
        Stream chunks to Parquet as they finish (see
        :class:`~dsg_forecast.sweeps.store.SweepStore`), each written on a background thread
        while the next computes; chunks already in a resumed store are skipped.
    on_chunk
        Called with each finished chunk's number, once its part is on disk when streaming
        (tests use it to simulate a crash).
    monthly
        Also keep every scenario's monthly plans and placement cost (in memory; for sweeps
        of at most :data:`MONTHLY_LIMIT` scenarios).

    Raises
    ------
    ValueError
        If monthly trajectories are asked of a sweep larger than :data:`MONTHLY_LIMIT`, or
        ``chunk_size`` or ``workers`` is below 1.
    """
    _check_run_arguments(plan, chunk_size=chunk_size, workers=workers, monthly=monthly)
    engine = engine or default_engine()
    chunk_size = chunk_size or (16_384 if engine == "numba" else 2_048)
    workers = workers or os.cpu_count() or 1
    done = store.done() if store is not None else set()
    pending = [job for job in chunks(plan.samples, chunk_size) if job[0] not in done]
    if progress is not None:
        progress.start(
            plan.samples, already=plan.samples - sum(end - start for _, start, end in pending)
        )
    if backend == "dask":
        if client is None:
            msg = "backend 'dask' needs a distributed.Client (or use --scheduler / local_cluster)"
            raise ValueError(msg)
        results = _run_on_dask(plan, pending, engine, client, monthly)
    else:
        results = _run_in_process(plan, pending, engine, workers, monthly)
    frames, months = _collect(plan, results, store, progress, on_chunk, monthly=monthly)
    if progress is not None:
        progress.finish()
    trajectories = pd.concat([months[n] for n in sorted(months)]) if months else None
    if store is not None:
        return SweepRun(plan, None, store, trajectories)
    table = pd.concat([frames[number] for number in sorted(frames)])
    return SweepRun(plan, table, None, trajectories)


def _check_run_arguments(
    plan: SweepPlan, *, chunk_size: int | None, workers: int | None, monthly: bool
) -> None:
    if monthly and plan.samples > MONTHLY_LIMIT:
        msg = (
            f"monthly trajectories are kept for sweeps of at most {MONTHLY_LIMIT:,} scenarios; "
            f"this one has {plan.samples:,}"
        )
        raise ValueError(msg)
    for name, value in (("chunk_size", chunk_size), ("workers", workers)):
        if value is not None and value < 1:
            msg = f"{name} is {value}; it must be at least 1 (or None for the default)"
            raise ValueError(msg)


def _collect(
    plan: SweepPlan,
    results: Iterator[tuple[int, int, int, dict[str, np.ndarray[Any, Any]]]],
    store: SweepStore | None,
    progress: Progress | None,
    on_chunk: Callable[[int], None] | None,
    *,
    monthly: bool,
) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame]]:
    """Turn finished chunks into tables: kept in memory, or streamed to the store.

    Returns the in-memory tables and monthly trajectories by chunk number.
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

        for number, start, end, reduced in results:
            frame = to_frame(plan, start, plan.values[start:end], reduced)
            if monthly:
                months[number] = _monthly_frame(plan, start, reduced)
            if store is None:
                frames[number] = frame
                finished(number, end - start)
                continue
            settle()
            writing = (writer.submit(store.write, number, frame), number, end - start)
        settle()
    return frames, months


def _monthly_frame(plan: SweepPlan, start: int, reduced: dict[str, Any]) -> pd.DataFrame:
    plans = reduced["monthly_plans"]
    labels = [month_label(int(m)) for m in plan.structure.months]
    index = pd.MultiIndex.from_product(
        [range(start, start + plans.shape[0]), labels], names=["sample", "month"]
    )
    return pd.DataFrame(
        {"plans": plans.ravel(), "placement_cost": reduced["monthly_cost"].ravel()}, index=index
    )
