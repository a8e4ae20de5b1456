"""Scenario sweeps: uncertainty, sensitivity and goal seeking over many scenarios at once.

``load_sweep`` reads a sweep (a scenario file's ``sweep:`` section, or a sweep file naming
its ``base:`` scenario); ``run_sweep`` evaluates it chunk by chunk and returns a
:class:`SweepResult` with the per-scenario table and its summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from dsg_forecast.engine import Engine
from dsg_forecast.errors import Issue, ScenarioError, as_path, check_flags
from dsg_forecast.io.scenario_files import read_mapping, scenario_from_data
from dsg_forecast.schema.parsing import boolean_issues, issues_from_validation_error
from dsg_forecast.schema.scenario import Scenario
from dsg_forecast.sweeps.evaluate import (
    Backend,
    SweepPlan,
    SweepRun,
    check_writing_on_workers,
    cluster_threads,
    default_chunk_size,
    default_engine,
    evaluate,
    plan_sweep,
    run_plan,
)
from dsg_forecast.sweeps.progress import Progress
from dsg_forecast.sweeps.spec import DESIGNS, KEYS, KIND_TAGS, SweepFile, SweepSpec
from dsg_forecast.sweeps.store import (
    SweepStore,
    UnfinishedSweepWarning,
    read_sweep,
    sweep_manifest,
)
from dsg_forecast.sweeps.summary import QUANTILES, SweepSummary, summarize

__all__ = [
    "DESIGNS",
    "Progress",
    "SweepPlan",
    "SweepResult",
    "SweepSpec",
    "SweepSummary",
    "UnfinishedSweepWarning",
    "evaluate",
    "load_sweep",
    "plan_sweep",
    "read_sweep",
    "run_sweep",
    "spec_from_mapping",
]


def spec_from_mapping(
    data: dict[str, Any], source: str | None = None, prefix: str = "sweep"
) -> SweepSpec:
    """Validate a sweep specification, raising :class:`ScenarioError` with ``sweep.`` paths.

    Parameters
    ----------
    data
        The sweep section.
    source
        Where it came from, for messages.
    prefix
        The path put before every issue's path.

    Returns
    -------
    SweepSpec
        The validated sweep.

    Raises
    ------
    ScenarioError
        Listing every problem found; a true/false value where a number belongs (``values:
        [true, false]`` would otherwise be read as 1 and 0) is one.
    """
    stray = boolean_issues(data, prefix)
    if stray:
        raise ScenarioError(stray, source)
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            issues_from_validation_error(exc, prefix, KIND_TAGS, KEYS), source
        ) from None


def load_sweep(path: str | Path) -> tuple[Scenario, SweepSpec]:
    """Load a sweep: a scenario file with a ``sweep:`` section, or a sweep file with ``base:``.

    Parameters
    ----------
    path
        A scenario file with a ``sweep:`` section, or a sweep file.

    Returns
    -------
    scenario : Scenario
        The base scenario.
    spec : SweepSpec
        The sweep.

    Raises
    ------
    ScenarioError
        Listing every problem, with its path (``sweep.parameters...``), value and rule.
    ArgumentTypeError
        If ``path`` is not a path.
    """
    file = as_path(path, "a sweep file's path", "path")
    data = read_mapping(file)
    source = str(file)
    if "base" in data:
        stray = boolean_issues(data)
        if stray:
            raise ScenarioError(stray, source)
        try:
            sweep_file = SweepFile.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(
                issues_from_validation_error(exc, tags=KIND_TAGS, known=KEYS), source
            ) from None
        base_path = file.parent / sweep_file.base
        base_data = read_mapping(base_path)
        if "base" in base_data:  # a sweep of a sweep (or of itself): say so, not 14 problems
            message = (
                f"{sweep_file.base} is a sweep file (it has its own base:), not a scenario; "
                "base names the scenario file the sweep varies"
            )
            raise ScenarioError([Issue("base", message)], str(file))
        base_data.pop("sweep", None)
        base_data.pop("fit", None)  # a plan's fit: section is for `dsg-forecast fit` only
        scenario = scenario_from_data(base_data, base_path.parent, str(base_path))
        spec = SweepSpec.model_validate(sweep_file.model_dump(exclude={"base"}, exclude_unset=True))
        return scenario, spec
    if "sweep" not in data:
        raise ScenarioError(
            [
                Issue(
                    "sweep",
                    "this file has no sweep: add a 'sweep:' section to the scenario, or "
                    "write a sweep file with 'base:' and 'parameters:'",
                )
            ],
            source,
        )
    spec = spec_from_mapping(data.pop("sweep"), source)
    data.pop("fit", None)
    return scenario_from_data(data, file.parent, source), spec


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: per-scenario results and their summary."""

    run: SweepRun

    @property
    def plan(self) -> SweepPlan:
        """What was run."""
        return self.run.plan

    @property
    def monthly(self) -> pd.DataFrame | None:
        """Each scenario's monthly plans and placement cost, if the sweep kept them."""
        return self.run.monthly

    @property
    def table(self) -> pd.DataFrame:
        """Per-scenario results: the parameter values, then each FY's outputs (index ``sample``)."""
        return self.run.results()

    def summary(self, quantiles: tuple[float, ...] = QUANTILES) -> SweepSummary:
        """Probabilities of meeting the target and each cap; quantiles by FY (fan-chart data).

        Parameters
        ----------
        quantiles
            The quantiles of each output by FY.

        Returns
        -------
        SweepSummary
            The probabilities and the quantiles.
        """
        plan = self.plan
        if self.run.accumulated is not None:
            return self.run.accumulated.result(quantiles)
        return summarize(
            self.run.parts,
            plan.structure.fy_labels,
            plan.capped_years,
            has_target=plan.structure.balance_target is not None,
            samples=plan.samples,
            quantiles=quantiles,
        )


def _manifest(
    scenario: Scenario, spec: SweepSpec, plan: SweepPlan, engine: Engine, chunk_size: int
) -> dict[str, Any]:
    """Return what a sweep folder records of the sweep (and checks on resuming)."""
    from dsg_forecast._version import __version__

    return {
        "input_hash": plan.input_hash,
        "design": spec.design,
        "seed": spec.seed,
        "samples": plan.samples,
        "chunk_size": chunk_size,
        "engine": engine,
        "parameters": plan.names,
        "financial_years": list(plan.structure.fy_labels),
        "scenario": scenario.name,
        "dsg_forecast": __version__,
        "spec": json.loads(spec.model_dump_json()),
    }


def _started_chunk_size(out: str | Path) -> int | None:
    """Return the chunk size recorded in a sweep folder's manifest, if it has one."""
    manifest = sweep_manifest(out)
    size = None if manifest is None else manifest.get("chunk_size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _check_output(
    out: object, resume: bool, write_on_workers: bool, client: Any, monthly: bool
) -> None:
    """Refuse an output the sweep cannot keep to, before any folder is made.

    ``resume`` without the folder it would finish, and writing on workers without an
    output and a cluster (:func:`check_writing_on_workers`).
    """
    check_flags(resume=resume, monthly=monthly)
    if out is not None:  # 5 made a folder "5", "" wrote into the current folder
        as_path(out, "a folder's path or URL (out=None keeps the results in memory)", "out")
    check_writing_on_workers(write_on_workers, out is not None, client is not None, monthly)
    if resume and out is None:
        from dsg_forecast.sweeps.store import SweepStoreError

        msg = "resume finishes a sweep streamed to a folder: give that folder as out (--out)"
        raise SweepStoreError(msg)


def _open_store(
    out: str | Path,
    resume: bool,
    sweep: tuple[Scenario, SweepSpec, SweepPlan],
    engine: Engine,
    chunk_size: int | None,
    threads: int,
) -> tuple[SweepStore, int]:
    """Return the store a sweep streams to (holding its folder's lock), and its chunk size.

    A resumed sweep keeps its chunks; a new one fixes its chunk size in the manifest.
    """
    scenario, spec, plan = sweep
    chunk_size = (
        chunk_size
        or (resume and _started_chunk_size(out))
        or default_chunk_size(engine, plan.samples, threads)
    )
    manifest = _manifest(scenario, spec, plan, engine, chunk_size)
    return SweepStore(out, manifest, resume=resume), chunk_size


def run_sweep(
    scenario: Scenario,
    spec: SweepSpec | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    resume: bool = False,
    chunk_size: int | None = None,
    engine: Engine | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: Progress | None = None,
    monthly: bool = False,
    write_on_workers: bool = False,
) -> SweepResult:
    """Run a sweep and return its results.

    Parameters
    ----------
    scenario, spec
        The base scenario and the sweep (see :func:`load_sweep`); the sweep may be given as
        a mapping, as in a file's ``sweep:`` section (:func:`spec_from_mapping`).
    out
        A folder to stream results to as Parquet (with a manifest); memory then stays
        bounded by a few chunks.
    resume
        Finish an interrupted sweep in ``out``; the results equal an uninterrupted run.
    chunk_size, engine, workers
        See :func:`dsg_forecast.sweeps.evaluate.run_plan`; results do not depend on them
        (the numpy and numba engines agree to 1e-9 relative).
    client
        A ``distributed.Client`` to run the chunks on a dask cluster.
    progress
        Report progress and an ETA (see :class:`Progress`).
    monthly
        Also keep each scenario's monthly plans and placement cost (``result.monthly``),
        for sweeps of at most 100,000 scenarios.
    write_on_workers
        With ``out`` and a ``client``: each dask worker writes its own chunks and sends back
        only their share of the summary (``out`` must be reachable from every worker: a
        shared folder or an object store's URL). The files are the same.

    Examples
    --------
    >>> from dsg_forecast import load_scenario
    >>> from dsg_forecast.sweeps import SweepSpec, run_sweep
    >>> spec = SweepSpec(parameters={"demand.requests_growth": {"dist": "uniform", "low": 0.0,
    ...                                                          "high": 0.1}}, samples=64, seed=1)
    >>> result = run_sweep(load_scenario("examples/worked_example.yaml"), spec, engine="numpy")
    >>> result.table.shape[0]
    64
    """
    # before a store is made: a refused sweep leaves no folder behind
    _check_output(out, resume, write_on_workers, client, monthly)
    spec = spec_from_mapping(dict(spec)) if isinstance(spec, Mapping) else spec
    plan = plan_sweep(scenario, spec)
    engine = default_engine(engine)
    store = None
    if out is not None:
        threads = cluster_threads(client) if client is not None else workers or os.cpu_count()
        store, chunk_size = _open_store(
            out, resume, (scenario, spec, plan), engine, chunk_size, threads or 1
        )
    backend: Backend = "dask" if client is not None else "process"
    run = run_plan(  # (which lets the store's folder go, however the run stops)
        plan,
        chunk_size=chunk_size,
        engine=engine,
        workers=workers,
        backend=backend,
        client=client,
        store=store,
        progress=progress,
        monthly=monthly,
        write_on_workers=write_on_workers,
    )
    return SweepResult(run)
