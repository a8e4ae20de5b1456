"""Sweeps: reproducible, invariant to chunking, backend and engine, resumable, validated."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pickle
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy.stats import spearmanr

from dsg_forecast import Scenario, ScenarioError, project
from dsg_forecast.cli import main
from dsg_forecast.cli.sweeps import _load
from dsg_forecast.errors import ArgumentError, ArgumentTypeError
from dsg_forecast.schema.paths import parse_path
from dsg_forecast.sweeps import (
    SweepResult,
    SweepSpec,
    UnfinishedSweepWarning,
    load_sweep,
    plan_sweep,
    read_sweep,
    run_sweep,
)
from dsg_forecast.sweeps.evaluate import run_plan
from dsg_forecast.sweeps.store import SweepStore, SweepStoreError, rows_on_disk, sweep_manifest
from tests.paths import EXAMPLES, ROOT

SPEC: dict[str, Any] = {
    "parameters": {
        "demand.requests_growth": {"dist": "triangular", "low": 0.0, "mode": 0.1, "high": 0.2},
        "costs.unit_cost.inmss": {"dist": "truncnorm", "mean": 60000, "sd": 8000, "low": 40000},
        "interventions[0].effects[0].multiply": {"dist": "uniform", "low": 0.6, "high": 1.0},
        "capacity[0].places[2025-01]": {"values": [30, 32, 36]},
        "demand.refusal_rate": {"dist": "beta", "a": 2, "b": 5, "low": 0.1, "high": 0.4},
        "costs.uplift.default": {"dist": "lognormal", "median": 0.02, "sigma": 0.3},
    },
    "design": "lhs",
    "samples": 300,
    "seed": 11,
}


def spec(**changes: Any) -> SweepSpec:
    return SweepSpec.model_validate({**SPEC, **changes})


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.select_dtypes("number")


@pytest.fixture(scope="module")
def reference(worked: Scenario) -> pd.DataFrame:
    return run_sweep(worked, spec(), engine="numpy", chunk_size=10_000).table


def test_same_seed_same_results(worked: Scenario, reference: pd.DataFrame) -> None:
    again = run_sweep(worked, spec(), engine="numpy").table
    pd.testing.assert_frame_equal(again, reference)
    other = run_sweep(worked, spec(seed=12), engine="numpy").table
    assert not np.array_equal(other["demand.requests_growth"], reference["demand.requests_growth"])


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_chunk_size_does_not_change_results(
    worked: Scenario, reference: pd.DataFrame, chunk_size: int
) -> None:
    table = run_sweep(worked, spec(), engine="numpy", chunk_size=chunk_size, workers=1).table
    pd.testing.assert_frame_equal(table, reference)


def test_process_pool_equals_in_process(worked: Scenario, reference: pd.DataFrame) -> None:
    table = run_sweep(worked, spec(), engine="numpy", chunk_size=50, workers=2).table
    pd.testing.assert_frame_equal(table, reference)


def test_numba_engine_agrees(worked: Scenario, reference: pd.DataFrame) -> None:
    pytest.importorskip("numba")
    table = run_sweep(worked, spec(), engine="numba", chunk_size=64).table
    np.testing.assert_allclose(numeric(table), numeric(reference), rtol=1e-9, atol=1e-6)
    assert (table["target_met"] == reference["target_met"]).all()
    # and the numba engine is chunk-invariant too
    again = run_sweep(worked, spec(), engine="numba", chunk_size=9).table
    pd.testing.assert_frame_equal(again, table)


def test_numba_workers_are_threads_and_do_not_change_results(
    worked: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    numba = pytest.importorskip("numba")
    module = importlib.import_module("dsg_forecast.sweeps.evaluate")  # not the function

    threads: list[int] = []
    names: list[str] = []
    original = module.evaluate

    def counting(*args: Any, **kwargs: Any) -> Any:
        threads.append(numba.get_num_threads())
        names.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "evaluate", counting)
    before = numba.get_num_threads()
    many = run_sweep(worked, spec(), engine="numba", chunk_size=64).table
    one = run_sweep(worked, spec(), engine="numba", chunk_size=64, workers=1).table
    pd.testing.assert_frame_equal(one, many)
    chunks = len(threads) // 2
    assert set(threads[chunks:]) == {1}  # the second sweep ran on one thread
    assert numba.get_num_threads() == before  # restored after the sweep
    if numba.threading_layer() in ("omp", "tbb"):  # chunks ran side by side on threads
        assert any(name.startswith("dsg-sweep") for name in names[:chunks])


def _worker_keeps_warnings() -> tuple[bool, bool]:
    """In a worker: whether its state machine's logger keeps the warning of a chunk cancelled
    as it closes, and one of another kind."""
    import logging

    logger = logging.getLogger("distributed.worker.state_machine")

    def kept(message: str) -> bool:
        record = logger.makeRecord(logger.name, logging.WARNING, __file__, 0, message, (), None)
        return bool(logger.filter(record))

    cancelled = "Async instruction for <Task cancelled name=\"execute('x')\"> ended with "
    return kept(cancelled + "CancelledError"), kept("Worker is at 85% memory usage.")


@pytest.mark.slow
def test_dask_local_cluster_equals_in_process(worked: Scenario, reference: pd.DataFrame) -> None:
    distributed = pytest.importorskip("distributed")
    from dsg_forecast.sweeps.cluster import local_cluster

    with local_cluster(workers=2, dashboard_address=":0") as client:
        assert isinstance(client, distributed.Client)
        table = run_sweep(worked, spec(), engine="numpy", chunk_size=40, client=client).table
        # one thread each, and glibc's dynamic mmap threshold left on (no MALLOC_* set)
        environment = client.run(lambda: {k: v for k, v in os.environ.items() if "THREADS" in k
                                          or k.startswith("MALLOC_")})  # fmt: skip
        # a terminal's Ctrl-C, a batch system's SIGTERM, reach the workers too: they leave
        # both to the command
        ignored = client.run(
            lambda: (
                {signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)}
                == {signal.SIG_IGN}
            )
        )
        # as a worker closes with a chunk computing (Ctrl-C), dask's warning of it is left
        # out, and only it (its other warnings print)
        kept = client.run(_worker_keeps_warnings)
    assert set(kept.values()) == {(False, True)}
    assert set(ignored.values()) == {True}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # here, as it was
    for variables in environment.values():
        assert variables.get("NUMBA_NUM_THREADS") == "1"
        assert not any(name.startswith("MALLOC_") for name in variables)
    pd.testing.assert_frame_equal(table, reference)


@pytest.mark.slow
def test_workers_write_their_own_chunks(
    worked: Scenario, reference: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: with write_on_workers each worker writes its parts and sends back only its
    counts; the files, the table and the summary equal a sweep the client wrote, and an
    interrupted one resumes."""
    pytest.importorskip("distributed")
    from dsg_forecast.sweeps.cluster import local_cluster

    client_side = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "client", chunk_size=40)

    def not_here(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the client wrote a part")

    monkeypatch.setattr(SweepStore, "write_table", not_here)  # this process only
    with local_cluster(workers=2, dashboard_address=":0") as client:
        options: dict[str, Any] = {"engine": "numpy", "chunk_size": 40, "client": client}
        written = run_sweep(
            worked, spec(), out=tmp_path / "workers", write_on_workers=True, **options
        )
        assert written.run.accumulated is not None  # summarised from the counts sent back
        pd.testing.assert_frame_equal(read_sweep(tmp_path / "workers"), reference)
        for name in sorted(p.name for p in (tmp_path / "client").glob("part-*.parquet")):
            left = pq.read_table(tmp_path / "client" / name)
            right = pq.read_table(tmp_path / "workers" / name)
            assert left.equals(right) and left.schema.metadata == right.schema.metadata
        ours, theirs = written.summary(), client_side.summary()
        pd.testing.assert_frame_equal(ours.quantiles, theirs.quantiles)
        pd.testing.assert_series_equal(ours.probability_within_cap, theirs.probability_within_cap)
        assert ours.probability_target_met == theirs.probability_target_met

        # interrupted after three chunks, then resumed on the workers
        plan = plan_sweep(worked, spec())
        manifest = written.run.store.manifest  # type: ignore[union-attr]
        out = tmp_path / "resumed"

        finished: list[int] = []

        def stop(number: int) -> None:  # after the third chunk to finish, whichever it is
            finished.append(number)
            if len(finished) == 3:
                raise KeyboardInterrupt

        store = SweepStore(out, manifest, resume=False)
        with pytest.raises(KeyboardInterrupt):
            run_plan(plan, chunk_size=40, engine="numpy", backend="dask", client=client,
                     store=store, on_chunk=stop, write_on_workers=True)  # fmt: skip
        assert 3 <= len(list(out.glob("part-*.parquet"))) < 8  # others may land as it stops
        again = run_sweep(worked, spec(), out=out, resume=True, write_on_workers=True, **options)
        pd.testing.assert_frame_equal(again.table, reference)


def test_parts_schema_does_not_depend_on_the_engine(worked: Scenario) -> None:
    """The schema workers write parts in is computed with the numpy engine (so a dask
    client never loads numba); a numba chunk's table has exactly that schema."""
    pytest.importorskip("numba")
    from dsg_forecast.sweeps.evaluate import _schema, evaluate_rows, to_frame

    plan = plan_sweep(worked, spec())
    reduced = evaluate_rows(plan, 0, 5, "numba", False)
    numba_table = SweepStore.table(to_frame(plan, 0, reduced["values"], reduced))
    assert _schema(plan).equals(numba_table.schema, check_metadata=True)


@pytest.mark.parametrize("name", ["results.csv", "results.xlsx", "memory://sweeps/out.json"])
def test_a_file_name_is_not_made_a_sweep_folder(
    worked: Scenario, tmp_path: Path, name: str
) -> None:
    """A sweep's results are a folder of Parquet parts: ``--out results.csv`` meant a file,
    so it is refused and nothing is made; ``--resume`` needs the folder to finish."""
    out = name if "://" in name else tmp_path / name
    with pytest.raises(SweepStoreError, match=r"names a \.\w+ file, but a sweep's results"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    assert "://" in name or not Path(out).exists()
    with pytest.raises(SweepStoreError, match="resume finishes a sweep streamed to a folder"):
        run_sweep(worked, spec(samples=20), engine="numpy", resume=True)


def test_writing_on_workers_needs_an_output_and_a_cluster(worked: Scenario) -> None:
    with pytest.raises(SweepStoreError, match=r"needs an output \(--out\) and a dask cluster"):
        run_sweep(worked, spec(samples=20), engine="numpy", write_on_workers=True)


def test_a_scenario_in_a_sweep_equals_it_alone(worked: Scenario, reference: pd.DataFrame) -> None:
    """Row 17 of the sweep, rebuilt as a scenario and projected on its own."""
    row = reference.iloc[17]
    data = worked.model_dump(by_alias=True)
    data["demand"]["requests_growth"] = row["demand.requests_growth"]
    data["demand"]["refusal_rate"] = row["demand.refusal_rate"]
    data["costs"]["unit_cost"]["inmss"] = row["costs.unit_cost.inmss"]
    data["costs"]["uplift"]["default"] = row["costs.uplift.default"]
    data["interventions"][0]["effects"][0]["multiply"] = row["interventions[0].effects[0].multiply"]
    data["capacity"][0]["places"]["2025-01"] = row["capacity[0].places[2025-01]"]
    alone = project(Scenario.model_validate(data), savings=False)
    for fy, cumulative in alone.ledger["cumulative_balance"].items():
        assert row[f"cumulative_balance[{fy}]"] == pytest.approx(cumulative, rel=1e-12)
    assert bool(row["target_met"]) == alone.summary.target_met


def test_resume_after_a_crash_gives_the_same_results(
    worked: Scenario, reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "sweep.parquet"
    plan = plan_sweep(worked, spec())
    manifest = {
        "input_hash": plan.input_hash,
        "design": "lhs",
        "seed": 11,
        "samples": 300,
        "chunk_size": 40,
        "engine": "numpy",
    }

    class CrashError(RuntimeError):
        pass

    def crash_after_three(number: int) -> None:
        if number == 2:
            raise CrashError

    with pytest.raises(CrashError):
        run_plan(
            plan,
            chunk_size=40,
            engine="numpy",
            workers=1,
            store=SweepStore(out, manifest, resume=False),
            on_chunk=crash_after_three,
        )
    assert len(list(out.glob("part-*.parquet"))) == 3
    # read before it has finished, the folder's scenarios are not taken for the sweep's
    with pytest.warns(UnfinishedSweepWarning, match="holds 120 of its sweep's 300 scenarios"):
        assert len(read_sweep(out)) == 120
    said = "already holds this sweep, 120 of 300 scenarios done; add --resume"
    with pytest.raises(SweepStoreError, match=said):
        SweepStore(out, manifest, resume=False)
    finished = run_plan(
        plan, chunk_size=40, engine="numpy", workers=1, store=SweepStore(out, manifest, resume=True)
    )
    pd.testing.assert_frame_equal(finished.results(), reference)
    pd.testing.assert_frame_equal(read_sweep(out), reference)
    # a resumed sweep is summarised from its files, a new one as its chunks arrive: alike
    assert finished.accumulated is None
    fresh = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "fresh", chunk_size=40)
    assert fresh.run.accumulated is not None
    resumed, streamed = SweepResult(finished).summary(), fresh.summary()
    pd.testing.assert_frame_equal(resumed.quantiles, streamed.quantiles)
    pd.testing.assert_series_equal(
        resumed.probability_balanced_by, streamed.probability_balanced_by
    )
    assert resumed.probability_target_met == streamed.probability_target_met


def _holding_the_lock(out: Path, manifest: dict[str, Any]) -> subprocess.Popen[str]:
    """Start a process that opens a sweep's store at ``out`` (taking its folder's lock) and
    holds it until killed, as a sweep still computing would."""
    code = (
        "import json, sys, time\n"
        "from dsg_forecast.sweeps.store import SweepStore\n"
        "store = SweepStore(sys.argv[1], json.loads(sys.argv[2]), resume=False)\n"
        "print('holding', flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(out), json.dumps(manifest)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    return holder


def test_a_second_sweep_into_a_folder_being_written_is_refused(
    worked: Scenario, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """Two sweeps started at once into one folder both found it empty and wrote their parts
    side by side (the last manifest winning): results silently mixed. A --resume while the
    first still ran removed its temporary part, and the first then failed on a full disk's
    message. The second is refused, naming the folder, until the first has stopped."""
    out = tmp_path / "sweep.parquet"
    plan = plan_sweep(worked, spec())
    manifest = {"input_hash": plan.input_hash, "design": "lhs", "seed": 11, "samples": 300,
                "chunk_size": 40, "engine": "numpy"}  # fmt: skip
    holder = _holding_the_lock(out, manifest)
    try:
        said = f"another sweep is writing to {out} now"
        for resume, seed in ((False, 11), (True, 11), (False, 12)):
            with pytest.raises(SweepStoreError, match=re.escape(said)):
                run_sweep(worked, spec(seed=seed), engine="numpy", out=out, resume=resume)
        assert sorted(p.name for p in out.iterdir()) == [".lock", "_manifest.json"]
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    # the system lets the lock go however the sweep ended (here killed): the sweep resumes
    resumed = run_sweep(worked, spec(), engine="numpy", out=out, resume=True, chunk_size=40)
    pd.testing.assert_frame_equal(resumed.table, reference)
    # and a finished sweep leaves the folder unlocked, its lock file hidden from readers
    assert pd.read_parquet(out).shape[0] == 300
    again = run_sweep(worked, spec(), engine="numpy", out=out, resume=True)
    pd.testing.assert_frame_equal(again.table, reference)


def test_a_store_sent_to_a_worker_leaves_the_lock_behind(tmp_path: Path) -> None:
    """A store pickled for dask workers (--write-on-workers) does not carry the client's lock
    (a descriptor number, meaningless in another process)."""
    with SweepStore(tmp_path / "s", {"samples": 1}, resume=False) as store:
        assert store._held is not None
        assert pickle.loads(pickle.dumps(store))._held is None
    assert store._held is None
    SweepStore(tmp_path / "s", {"samples": 1}, resume=True).release()


@pytest.mark.parametrize("target", [True, False])
def test_streamed_tables_are_built_as_pandas_would(worked: Scenario, target: bool) -> None:
    """A streamed sweep writes chunks built straight from their arrays; they equal, schema and
    pandas metadata included, the tables pandas builds, so the files read back the same."""
    import pyarrow as pa

    from dsg_forecast.sweeps.evaluate import evaluate_rows, to_frame, to_table

    scenario = worked if target else worked.replace({"agreement.balance_target": None})
    plan = plan_sweep(scenario, spec())
    first, second = (
        evaluate_rows(plan, 0, 40, "numpy", False),
        evaluate_rows(plan, 40, 100, "numpy", False),
    )
    schema = SweepStore.table(to_frame(plan, 0, first["values"], first)).schema
    built = to_table(plan, 40, second["values"], second, schema)
    expected = SweepStore.table(to_frame(plan, 40, second["values"], second))
    assert built.equals(expected, check_metadata=True)
    assert isinstance(built, pa.Table) and built.to_pandas().equals(expected.to_pandas())


def test_a_failed_write_stops_the_sweep_and_leaves_the_finished_parts(
    worked: Scenario, tmp_path: Path
) -> None:
    """Parts are written on a background thread; a failure there still surfaces, and only
    chunks whose part is on disk count as finished."""
    plan = plan_sweep(worked, spec())
    manifest = {"input_hash": plan.input_hash, "seed": 11, "samples": 300, "chunk_size": 40}

    class FullDiskStore(SweepStore):
        def write_table(self, number: int, table: Any) -> None:
            if number == 4:
                raise OSError("No space left on device")
            super().write_table(number, table)

    finished: list[int] = []
    with pytest.raises(OSError, match="No space left"):
        run_plan(
            plan,
            chunk_size=40,
            engine="numpy",
            workers=1,
            store=FullDiskStore(tmp_path / "s", manifest, resume=False),
            on_chunk=finished.append,
        )
    assert finished == [0, 1, 2, 3]
    assert sorted(part.name for part in (tmp_path / "s").glob("part-*")) == [
        f"part-{n:06d}.parquet" for n in range(4)
    ]


def test_resume_refuses_a_different_sweep(worked: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    with pytest.raises(SweepStoreError, match="its seed is 11 but this sweep's is 12"):
        run_sweep(worked, spec(samples=20, seed=12), engine="numpy", out=out, resume=True)
    # what to do, in the command's words (it said "its samples is 20")
    said = (
        "a different sweep: its number of scenarios is 20 but this sweep's is 40 (--samples). "
        "Resume it with --samples 20, or write this one to another --out"
    )
    with pytest.raises(SweepStoreError, match=re.escape(said)):
        run_sweep(worked, spec(samples=40), engine="numpy", out=out, resume=True)


def test_resume_in_other_chunks_says_to_keep_its_own(worked: Scenario, tmp_path: Path) -> None:
    """The same sweep cut into other chunks: not "a different sweep", its parts' size."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)
    with pytest.raises(SweepStoreError, match="its parts hold chunks of 5; resume without"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True, chunk_size=4)
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert resumed.summary().samples == 20


def test_a_folder_given_to_a_new_sweep_says_what_it_holds(worked: Scenario, tmp_path: Path) -> None:
    """--out at a sweep's folder said "add --resume" whatever it held, and --resume was then
    refused for a different sweep: it says which sweep is there and what to do."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=10)
    finished = f"{out} already holds this sweep, finished (20 scenarios): add --resume to"
    with pytest.raises(SweepStoreError, match=re.escape(finished)):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    other = f"{out} already holds a different sweep (it differs in --seed, --samples); choose"
    with pytest.raises(SweepStoreError, match=re.escape(other)):
        run_sweep(worked, spec(samples=30, seed=12), engine="numpy", out=out)
    changed = worked.model_copy(update={"name": "another plan"})
    with pytest.raises(SweepStoreError, match="it differs in the scenario or sweep file"):
        run_sweep(changed, spec(samples=20), engine="numpy", out=out)
    (out / "part-000001.parquet").unlink()
    unfinished = f"{out} already holds this sweep, 10 of 20 scenarios done; add --resume"
    with pytest.raises(SweepStoreError, match=re.escape(unfinished)):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=10)


def test_resume_refuses_a_changed_scenario(worked: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    changed = worked.model_copy(update={"name": "another plan"})
    with pytest.raises(SweepStoreError, match="scenario or the sweep specification has changed"):
        run_sweep(changed, spec(samples=20), engine="numpy", out=out, resume=True)


def test_resume_refuses_parts_of_another_version(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep begun with one version of the library and resumed with another (a fix that
    changed its numbers between) joined both versions' parts as one sweep's results."""
    import dsg_forecast._version

    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=10)
    (out / "part-000001.parquet").unlink()
    began = dsg_forecast._version.__version__
    monkeypatch.setattr(dsg_forecast._version, "__version__", "99.0")
    said = f"its parts were computed by dsg_forecast {began} and this is 99.0"
    with pytest.raises(SweepStoreError, match=re.escape(said)):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    # a folder whose manifest gave no version (written before it was recorded) resumes
    manifest = json.loads((out / "_manifest.json").read_text())
    del manifest["dsg_forecast"]
    (out / "_manifest.json").write_text(json.dumps(manifest))
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert len(resumed.table) == 20


@pytest.mark.parametrize("folder", ["", "  ", None, 5])
def test_a_sweep_folder_that_is_no_path_is_refused(
    worked: Scenario, folder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_sweep(out="") wrote the sweep into the current folder, and read_sweep(None) or
    read_sweep(5) looked for folders named "None" and "5": each is refused, naming it."""
    from dsg_forecast.errors import ArgumentError, ArgumentTypeError

    monkeypatch.chdir(tmp_path)
    refused = (ArgumentError, ArgumentTypeError)
    if isinstance(folder, str):
        said = f"out is {folder!r}, which is empty; give a folder's path or URL"
        with pytest.raises(ArgumentError, match=re.escape(said)):
            run_sweep(worked, spec(samples=20), engine="numpy", out=folder)
    for reader in (read_sweep, rows_on_disk, sweep_manifest):
        with pytest.raises(refused, match=re.escape(f"a sweep's folder is {folder!r}")):
            reader(folder)
    assert list(tmp_path.iterdir()) == []


def test_columns_the_results_do_not_have_are_named(worked: Scenario, tmp_path: Path) -> None:
    """A misspelt column read from a sweep's folder was taken for a damaged part, with the
    advice to delete it; in memory it was pandas' KeyError, and one name in place of a list
    gave a Series. Each is refused the same way, naming the nearest column."""
    out = tmp_path / "s"
    streamed = run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    in_memory = run_sweep(worked, spec(samples=20), engine="numpy")
    readers: list[tuple[str, Callable[[Any], Any]]] = [
        (str(out), lambda columns: read_sweep(out, columns)),
        (str(out), lambda columns: list(streamed.run.parts(columns))),
        ("the sweep's results", in_memory.run.results),
    ]
    for where, read in readers:
        said = f"{where}: no column 'plan[2025-26]' (did you mean 'plans[2025-26]'?)"
        with pytest.raises(ArgumentError, match=re.escape(said)):
            read(["target_met", "plan[2025-26]"])
        with pytest.raises(ArgumentTypeError, match="columns is 'target_met'; give a list"):
            read("target_met")
        with pytest.raises(ArgumentTypeError, match="each of columns is a int"):
            read([1])
    assert len(list(out.glob("part-*.parquet"))) == 1  # nothing said to delete them
    chosen = ["sample", "target_met", "plans[2025-26]"]
    pd.testing.assert_frame_equal(read_sweep(out, chosen), in_memory.run.results(chosen))


def test_reading_a_folder_that_is_not_there_says_so(tmp_path: Path) -> None:
    with pytest.raises(SweepStoreError, match=r"sweep\.parquet: no such folder"):
        read_sweep(tmp_path / "sweep.parquet")


def test_a_folder_of_other_files_is_not_called_a_sweep(worked: Scenario, tmp_path: Path) -> None:
    """--out at a folder of the officer's own files said it "already holds a sweep; add
    --resume", which would then be refused too: it says what the folder holds."""
    out = tmp_path / "budgets"
    out.mkdir()
    (out / "budget.xlsx").write_bytes(b"PK")
    said = "already holds files (budget.xlsx) and is not a sweep's folder; choose another --out"
    with pytest.raises(SweepStoreError, match=re.escape(said)):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    assert sorted(p.name for p in out.iterdir()) == ["budget.xlsx"]


def test_resume_refuses_a_folder_without_a_manifest(worked: Scenario, tmp_path: Path) -> None:
    """Another sweep's parts, manifest lost: resuming would keep foreign rows."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out)
    (out / "_manifest.json").unlink()
    with pytest.raises(SweepStoreError, match=r"holds files but no _manifest\.json"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)


def test_resume_refuses_monthly_trajectories_its_parts_did_not_keep(
    worked: Scenario, tmp_path: Path
) -> None:
    """A resumed sweep asked for monthly trajectories gave only those of the scenarios it
    ran, silently leaving out the ones already on disk; it is refused, before any work."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)
    (out / "part-000003.parquet").unlink()
    with pytest.raises(SweepStoreError, match="already holds part of this sweep, whose monthly"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True, monthly=True)
    assert not (out / "part-000003.parquet").exists()  # nothing ran
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert resumed.monthly is None and len(read_sweep(out)) == 20


def test_a_part_that_is_not_whole_is_named_with_what_to_do(
    worked: Scenario, tmp_path: Path
) -> None:
    """A damaged part ended resuming and reading in pyarrow's ArrowInvalid traceback, and a
    file named like a part ("part-000001 copy.parquet") in int()'s ValueError; each is
    named, with what to do, and the count of scenarios safe on disk leaves it out."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)
    part = out / "part-000002.parquet"
    whole = part.read_bytes()
    part.write_bytes(whole[:300])  # cut short
    damaged = "part-000002.parquet is not a whole part of this sweep (Parquet magic bytes"
    with pytest.raises(SweepStoreError, match=re.escape(damaged)):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    with pytest.raises(SweepStoreError, match="Delete it, and --resume"):
        read_sweep(out)
    assert rows_on_disk(out) == 15

    part.write_bytes(whole)
    (out / "part-000001 copy.parquet").write_bytes(whole)
    with pytest.raises(SweepStoreError, match=r"holds part-000001 copy\.parquet, which is not"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    (out / "part-000001 copy.parquet").unlink()

    pq.write_table(pq.read_table(part).slice(0, 3), part)  # a part of another sweep's size
    with pytest.raises(SweepStoreError, match="holds 3 scenarios where its chunk has 5"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    part.unlink()
    (out / "part-000004.parquet").write_bytes(whole)  # beyond the 20 scenarios
    with pytest.raises(SweepStoreError, match="is a chunk beyond this sweep's 20 scenarios"):
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    (out / "part-000004.parquet").unlink()
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert resumed.summary().samples == 20 and rows_on_disk(out) == 20


def test_a_part_that_cannot_be_read_is_not_called_damaged(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part the system would not let us read (its permissions) was called damaged, with
    the advice to delete it: it may be whole, so the system's reason is given instead."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)

    def refused(where: str, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pq, "read_metadata", refused)
    with pytest.raises(SweepStoreError) as raised:
        run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert str(raised.value) == f"cannot read {out}/part-000000.parquet: Permission denied"
    assert len(list(out.glob("part-*.parquet"))) == 4


def test_resume_while_a_stopped_sweeps_part_lands(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker of an interrupted dask sweep may still be finishing a chunk when the sweep
    resumes: its temporary part, listed as a leftover, is renamed into place (or removed)
    before the resume deletes it. The resume goes on (it had ended in FileNotFoundError)."""
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)
    (out / "part-000003.parquet").unlink()  # a chunk still to do
    listed = SweepStore._names
    gone = ".part-000003.0123456789abcdef0123456789abcdef.tmp"  # listed, then moved away

    def with_a_vanished_part(store: SweepStore) -> list[str]:
        return [*listed(store), gone]

    monkeypatch.setattr(SweepStore, "_names", with_a_vanished_part)
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    monkeypatch.undo()
    assert resumed.summary().samples == 20
    assert len(read_sweep(out)) == 20


@pytest.mark.parametrize(
    ("quantiles", "message"),
    [
        ((0.5, 1.5), r"quantiles \(0.5, 1.5\) must be numbers between 0 and 1"),  # numpy's error
        ((5, 50, 95), r"quantiles \(5, 50, 95\) must be numbers between 0 and 1"),
        ("0.5", r"quantiles '0.5' must be numbers"),  # a ufunc error from inside numpy
        ((), r"quantiles \(\) must be numbers"),  # an empty table
        ((0.5, 0.5), r"quantiles \(0.5, 0.5\) give one twice"),  # two columns named 0.5
    ],
)
def test_summary_quantiles_are_checked(worked: Scenario, quantiles: Any, message: str) -> None:
    result = run_sweep(worked, spec(samples=20), engine="numpy")
    with pytest.raises(ValueError, match=message):
        result.summary(quantiles=quantiles)


def test_pandas_reads_a_sweep_folder_as_one_table(worked: Scenario, tmp_path: Path) -> None:
    """``pd.read_parquet(folder)`` failed on the manifest ("Parquet magic bytes not found"),
    though the docs and messages said to read the folder with it; the manifest's leading
    underscore (and the dot of a part being written) keep Parquet readers off them."""
    out = tmp_path / "s.parquet"
    result = run_sweep(worked, spec(samples=40), engine="numpy", out=out, chunk_size=16)
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_index(), read_sweep(out))
    assert len(read_sweep(out)) == 40 and result.summary().samples == 40


def test_a_sweep_with_the_old_manifest_name_still_reads_and_resumes(
    worked: Scenario, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    run_sweep(worked, spec(samples=20), engine="numpy", out=out, chunk_size=5)
    (out / "_manifest.json").rename(out / "manifest.json")  # as sweeps wrote it before
    (out / "part-000003.parquet").unlink()  # interrupted
    resumed = run_sweep(worked, spec(samples=20), engine="numpy", out=out, resume=True)
    assert resumed.summary().samples == 20 and len(read_sweep(out)) == 20
    assert not (out / "_manifest.json").exists()  # kept under its own name


def test_reading_a_folder_that_holds_no_sweep(tmp_path: Path) -> None:
    with pytest.raises(SweepStoreError, match="is not a sweep folder"):
        read_sweep(tmp_path)


def test_streamed_sweep_summary_equals_in_memory(worked: Scenario, tmp_path: Path) -> None:
    memory = run_sweep(worked, spec(), engine="numpy")
    streamed = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "s", chunk_size=64)
    a, b = memory.summary(), streamed.summary()
    assert a.probability_target_met == b.probability_target_met
    pd.testing.assert_frame_equal(a.quantiles, b.quantiles)
    manifest = yaml.safe_load((tmp_path / "s" / "_manifest.json").read_text())
    assert (
        manifest["seed"] == 11 and manifest["design"] == "lhs" and len(manifest["input_hash"]) == 64
    )


def test_summary_is_consistent_with_the_table(worked: Scenario, reference: pd.DataFrame) -> None:
    result = run_sweep(worked, spec(), engine="numpy")
    summary = result.summary()
    assert summary.samples == 300
    assert summary.probability_target_met == pytest.approx(reference["target_met"].mean())
    assert summary.probability_within_cap["2024-25"] == pytest.approx(
        reference["within_cap[2024-25]"].mean()
    )
    cumulative = summary.quantiles.loc["cumulative_balance"]
    assert (np.diff(cumulative.to_numpy(), axis=1) >= 0).all()  # quantiles increase
    assert cumulative.at["2025-26", 0.5] == pytest.approx(
        reference["cumulative_balance[2025-26]"].median()
    )
    assert set(summary.to_dict()) >= {"probability_target_met", "quantiles"}


def test_a_grid_refuses_what_it_would_ignore(
    worked_dict: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A grid runs every combination of its levels: a number of samples or a rank
    correlation given with it would be ignored (100 samples asked ran 5.9 million)."""
    grid = {**SPEC, "design": "grid"}
    grid.pop("samples", None)
    grid.pop("correlation", None)
    SweepSpec.model_validate(grid)  # every combination: fine
    with pytest.raises(ValidationError, match=r"samples is 100, but a grid runs every combination"):
        SweepSpec.model_validate({**grid, "samples": 100})
    pair = [{"between": ["demand.requests_growth", "demand.refusal_rate"], "rank": 0.5}]
    with pytest.raises(ValidationError, match="correlation is given, but a grid runs every"):
        SweepSpec.model_validate({**grid, "correlation": pair})
    # a file's samples were for its own design: --design grid on the command line drops them
    worked_dict["sweep"] = {**SPEC, "samples": 40}
    worked_dict["sweep"].pop("correlation", None)
    path = tmp_path / "swept.yaml"
    path.write_text(yaml.safe_dump(worked_dict), encoding="utf-8")
    args = argparse.Namespace(file=str(path), samples=None, seed=None, design="grid")
    _, loaded = _load(args)
    assert loaded.design == "grid" and "samples" not in loaded.model_fields_set
    args.samples = 40  # asked for on the command line too: refused
    with pytest.raises(ScenarioError, match="samples is 40, but a grid"):
        _load(args)
    # and by a fan chart of a grid sweep (it took --samples without validating it)
    worked_dict["sweep"] = {**grid, "grid_levels": 2}
    path.write_text(yaml.safe_dump(worked_dict), encoding="utf-8")
    chart = ["plot", "fan", str(path), "--out", str(tmp_path / "fan.png")]
    assert main([*chart, "--samples", "40"]) == 2
    assert "samples is 40, but a grid runs every combination" in capsys.readouterr().err
    assert not (tmp_path / "fan.png").exists()


def test_grid_design_runs_every_combination(worked: Scenario) -> None:
    grid = SweepSpec.model_validate(
        {
            "design": "grid",
            "grid_levels": 3,
            "parameters": {
                "demand.requests_growth": {"values": [0.0, 0.1]},
                "costs.unit_cost.inmss": {"dist": "uniform", "low": 50000, "high": 80000},
            },
        }
    )
    table = run_sweep(worked, grid, engine="numpy").table
    assert len(table) == 6
    assert sorted(set(table["costs.unit_cost.inmss"])) == [55000.0, 65000.0, 75000.0]


@pytest.mark.parametrize("design", ["mc", "lhs", "sobol"])
def test_designs_hit_their_marginals(worked: Scenario, design: str) -> None:
    plan = plan_sweep(worked, spec(design=design, samples=512))
    column = plan.values[:, 0]  # triangular(0, 0.1, 0.2): mean 0.1
    assert column.min() >= 0.0 and column.max() <= 0.2
    assert column.mean() == pytest.approx(0.1, abs=0.01)
    places = plan.values[:, 3]
    assert set(places) <= {30.0, 32.0, 36.0}


def test_rank_correlation_is_imposed(worked: Scenario) -> None:
    correlated = spec(
        samples=2000,
        correlation=[{"between": ["demand.requests_growth", "costs.unit_cost.inmss"], "rank": 0.6}],
    )
    plan = plan_sweep(worked, correlated)
    rho = spearmanr(plan.values[:, 0], plan.values[:, 1]).statistic
    assert rho == pytest.approx(0.6, abs=0.05)
    # marginals untouched: the same values as without the correlation, reordered
    plain = plan_sweep(worked, spec(samples=2000))
    np.testing.assert_array_equal(np.sort(plan.values[:, 0]), np.sort(plain.values[:, 0]))


def test_a_rank_correlation_of_zero_draws_as_none(worked: Scenario) -> None:
    """A rank of 0 asks for independent draws: what the design draws (it was a numpy
    traceback, "need at least one array to concatenate")."""
    pair = ["demand.requests_growth", "costs.unit_cost.inmss"]
    zero = plan_sweep(worked, spec(samples=200, correlation=[{"between": pair, "rank": 0.0}]))
    plain = plan_sweep(worked, spec(samples=200))
    np.testing.assert_array_equal(zero.values, plain.values)


def test_impossible_correlations_are_refused(worked: Scenario) -> None:
    names = ["demand.requests_growth", "costs.unit_cost.inmss", "demand.refusal_rate"]
    bad = spec(
        correlation=[
            {"between": [names[0], names[1]], "rank": 0.95},
            {"between": [names[1], names[2]], "rank": 0.95},
            {"between": [names[0], names[2]], "rank": -0.95},
        ]
    )
    with pytest.raises(ScenarioError, match="cannot all hold at once"):
        plan_sweep(worked, bad)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"samples": 10**30}, "samples is 1,000,000,000,000,000,000,000,000,000,000; a sweep"),
        (
            {"design": "grid", "grid_levels": 101, "parameters": {
                f"costs.unit_cost.{name}": {"dist": "uniform", "low": 1.0, "high": 2.0}
                for name in ("mainstream", "special", "inmss")
            } | {
                "demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.1},
                "demand.refusal_rate": {"dist": "uniform", "low": 0.1, "high": 0.2},
                "demand.plan_rate": {"dist": "uniform", "low": 0.5, "high": 0.9},
            }},
            "the grid has 1,061,520,150,601 scenarios (every combination of its levels); a",
        ),
    ],
)  # fmt: skip
def test_a_count_no_sweep_could_finish_is_refused(extra: dict[str, Any], expected: str) -> None:
    """samples of 10**30 (a typo) listed the sweep's chunks until memory ran out."""
    given = {key: value for key, value in SPEC.items() if key != "samples" or "design" not in extra}
    with pytest.raises(ValidationError, match=re.escape(expected)):
        SweepSpec.model_validate({**given, **extra})
    SweepSpec.model_validate({**SPEC, "samples": 10**10})  # the most a sweep runs


def test_a_draw_breaking_a_rule_is_refused_by_name(worked: Scenario) -> None:
    bad = SweepSpec.model_validate(
        {
            "parameters": {"demand.refusal_rate": {"dist": "normal", "mean": 0.9, "sd": 0.2}},
            "samples": 200,
        }
    )
    with pytest.raises(
        ScenarioError,
        match=r"demand\.refusal_rate: the sweep draws 1\.\d+, which "
        r"breaks a rule: .*less than or equal to 1",
    ):
        plan_sweep(worked, bad)


def test_a_bounded_valid_distribution_is_checked_once(
    worked: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid at both ends of its bounds, a path's later chunks need no check; a path that
    can draw an invalid value is checked chunk by chunk, naming the value drawn."""
    evaluate = importlib.import_module("dsg_forecast.sweeps.evaluate")
    sweep = SweepSpec.model_validate(
        {
            "parameters": {
                "demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.1},
                "demand.refusal_rate": {"dist": "uniform", "low": 0.1, "high": 1.2},
            },
            "samples": 100_000,
            "seed": 3,
        }
    )
    assert evaluate.valid_supports(worked, sweep) == {"demand.requests_growth": (0.0, 0.1)}
    growth = {"demand.requests_growth": sweep.parameters["demand.requests_growth"]}
    plan = plan_sweep(worked, sweep.model_copy(update={"parameters": growth}))
    checked: list[str] = []
    with monkeypatch.context() as patched:
        patched.setattr(evaluate, "check_values", lambda _s, path, *_: checked.append(path))
        evaluate._CHECKED.clear()
        plan.rows(90_000, 100_000)
    assert checked == []  # inside the bounds checked when planning
    with pytest.raises(ScenarioError, match=r"demand\.refusal_rate: the sweep draws 1\.\d+"):
        plan_sweep(worked, sweep)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("demand.requests_grwth", r"demand\.requests_grwth is not in the scenario"),
        ("interventions[3].effects[0].multiply", r"interventions has 1 entries; '3' is not one"),
        ("interventions[0].ramp_months", r"changes the model's structure"),
        ("agreement.deficit_caps[2026-27]", r"changes the model's structure"),
        ("demand.new_plan_ages", r"is dict, not a number.*address one entry"),
        ("placements[0].name", r"is str, not a number"),
        ("costs..unit_cost", r"not a parameter path"),
    ],
)
def test_paths_that_cannot_be_swept(worked: Scenario, path: str, message: str) -> None:
    bad = SweepSpec.model_validate({"parameters": {path: {"values": [1.0]}}})
    with pytest.raises(ScenarioError, match=message):
        plan_sweep(worked, bad)


def test_two_paths_driving_one_number_are_refused(worked: Scenario) -> None:
    """The default uplift drives every placement without its own; sweeping both clashes."""
    data = worked.model_dump(by_alias=True)
    data["costs"]["uplift"] = {"default": 0.02}
    scenario = Scenario.model_validate(data)
    one = {"costs.uplift.default": {"values": [0.03]}}
    plan_sweep(scenario, SweepSpec.model_validate({"parameters": one}))
    both = {**one, "costs.uplift.mainstream": {"values": [0.04]}}
    with pytest.raises(ScenarioError, match=r"drives the same number as 'costs\.uplift\.default'"):
        plan_sweep(scenario, SweepSpec.model_validate({"parameters": both}))


def test_parse_path() -> None:
    assert parse_path("interventions[0].effects[1].multiply") == [
        "interventions",
        "0",
        "effects",
        "1",
        "multiply",
    ]
    assert parse_path("agreement.contributions[2024-25]") == [
        "agreement",
        "contributions",
        "2024-25",
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"dist": "uniform", "low": 2, "high": 1}, r"low 2\.0 must be below high 1\.0"),
        ({"dist": "triangular", "low": 0, "mode": 3, "high": 1}, r"needs low <= mode <= high"),
        ({"dist": "normal", "mean": 0, "sd": -1}, r"sd: -1: input should be greater than 0"),
        ({"dist": "gamma", "k": 1}, r"does not match any of the expected tags"),
        ({"values": []}, r"values: .*at least 1 item"),
    ],
)
def test_distribution_errors_name_the_field(bad: dict[str, Any], message: str) -> None:
    from dsg_forecast.sweeps import spec_from_mapping

    with pytest.raises(ScenarioError, match=message) as info:
        spec_from_mapping({"parameters": {"demand.refusal_rate": bad}})
    assert str(info.value.issues[0]).startswith("sweep.parameters")


def test_correlation_must_name_swept_parameters() -> None:
    from dsg_forecast.sweeps import spec_from_mapping

    with pytest.raises(ScenarioError, match=r"names 'funding\.growth', which is not swept"):
        spec_from_mapping(
            {
                "parameters": {"demand.refusal_rate": {"values": [0.1]}},
                "correlation": [
                    {"between": ["demand.refusal_rate", "funding.growth"], "rank": 0.5}
                ],
            }
        )


def test_a_pair_correlated_twice_is_refused() -> None:
    """Two ranks for one pair (in either order): the later silently replaced the earlier."""
    from dsg_forecast.sweeps import spec_from_mapping

    swept = {"dist": "uniform", "low": 0.1, "high": 0.3}
    message = (
        r"correlation\[1\] pairs 'demand\.refusal_rate' and 'demand\.requests_growth', as "
        r"correlation\[0\] does; give each pair once"
    )
    with pytest.raises(ScenarioError, match=message):
        spec_from_mapping(
            {
                "parameters": {"demand.refusal_rate": swept, "demand.requests_growth": swept},
                "correlation": [
                    {"between": ["demand.requests_growth", "demand.refusal_rate"], "rank": 0.5},
                    {"between": ["demand.refusal_rate", "demand.requests_growth"], "rank": 0.2},
                ],
            }
        )


def test_load_sweep_from_a_section_and_from_a_file(
    worked_dict: dict[str, Any], tmp_path: Path
) -> None:
    worked_dict["sweep"] = SPEC
    (tmp_path / "with_section.yaml").write_text(yaml.safe_dump(worked_dict))
    scenario, sweep = load_sweep(tmp_path / "with_section.yaml")
    assert sweep.samples == 300 and scenario.name == "MODEL.md worked example"
    del worked_dict["sweep"]
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(worked_dict))
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({"base": "base.yaml", **SPEC}))
    again, sweep_again = load_sweep(tmp_path / "sweep.yaml")
    assert again == scenario and sweep_again == sweep
    # the scenario loader ignores the section, and refuses a sweep file
    from dsg_forecast import load_scenario

    assert load_scenario(tmp_path / "with_section.yaml") == scenario
    with pytest.raises(ScenarioError, match="this is a sweep file"):
        load_scenario(tmp_path / "sweep.yaml")


def test_shipped_sweep_example_loads() -> None:
    scenario, sweep = load_sweep(ROOT / "examples" / "wiltshire_sweep.yaml")
    plan = plan_sweep(scenario, sweep.model_copy(update={"samples": 16}))
    assert plan.samples == 16


def test_monthly_trajectories_on_request(worked: Scenario, reference: pd.DataFrame) -> None:
    result = run_sweep(worked, spec(), engine="numpy", chunk_size=70, monthly=True)
    monthly = result.monthly
    assert monthly is not None
    assert monthly.shape == (300 * 36, 2)
    # the monthly cost adds up to each FY's placement cost; plans at March are the FY-end plans
    row = reference.iloc[123]
    assert monthly.loc[(123, "2025-03"), "plans"] == pytest.approx(row["plans[2024-25]"])
    assert run_sweep(worked, spec(samples=5), engine="numpy").monthly is None
    with pytest.raises(ValueError, match="at most 100,000 scenarios; this one has 200,000"):
        run_sweep(worked, spec(samples=200_000), engine="numpy", monthly=True)


def test_progress_line_counts_resumed_scenarios_and_gives_an_eta() -> None:
    import io

    from dsg_forecast.sweeps.progress import Progress

    stream = io.StringIO()
    progress = Progress(stream, every=0.0)
    progress.start(1_000, already=200)  # resumed: 200 done by an earlier run
    first = stream.getvalue()
    assert "200/1,000 scenarios" in first
    assert "ETA -" in first  # nothing run yet in this process: no rate to go by
    progress.advance(300)
    progress.advance(500)
    progress.finish()
    lines = stream.getvalue().split("\r")
    assert "500/1,000" in lines[2]
    assert "ETA" in lines[2] and "ETA -" not in lines[2]
    assert lines[-1].startswith("[####################] 100.0% 1,000/1,000 scenarios")
    assert stream.getvalue().endswith("\n")


def test_threaded_inverse_cdfs_equal_one_pass_per_parameter() -> None:
    """The design's inverse CDFs run in blocks on threads; the values are those of one
    single-threaded pass per parameter, whatever the blocks."""
    from dsg_forecast.sweeps.design import EDGE, PPF_BLOCK, map_unit

    _, sweep = load_sweep(EXAMPLES / "wiltshire_sweep.yaml")
    rows = 2 * PPF_BLOCK + 123
    points = np.random.default_rng(5).random((rows, len(sweep.parameters)))
    clipped = np.clip(points, EDGE, 1.0 - EDGE)
    expected = np.column_stack(
        [parameter.ppf(clipped[:, j]) for j, parameter in enumerate(sweep.parameters.values())]
    )
    assert np.array_equal(map_unit(sweep, points), expected)


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(1e-6, 1e6, allow_nan=False),
    seed=st.integers(0, 2**32 - 1),
)
def test_uniform_draws_are_scipys_to_the_bit(low: float, width: float, seed: int) -> None:
    """Uniform parameters skip building a scipy distribution for every chunk; the values
    are still exactly ``scipy.stats.uniform.ppf``'s."""
    from dsg_forecast.sweeps.spec import Uniform

    assume(low + width > low)
    uniform = Uniform(dist="uniform", low=low, high=low + width)
    draws = np.random.default_rng(seed).random(257)
    assert np.array_equal(uniform.ppf(draws), uniform.frozen().ppf(draws))


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(1e-6, 1e6, allow_nan=False),
    peak=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_triangular_draws_are_scipys_to_the_bit(
    low: float, width: float, peak: float, seed: int
) -> None:
    """Triangular parameters compute scipy's ``triang.ppf`` without building it every
    chunk: the same bits."""
    from dsg_forecast.sweeps.spec import Triangular

    high = low + width
    assume(high > low)
    mode = min(max(low + peak * width, low), high)
    triangular = Triangular(dist="triangular", low=low, mode=mode, high=high)
    draws = np.random.default_rng(seed).random(257)
    assert np.array_equal(triangular.ppf(draws), triangular.frozen().ppf(draws))


@pytest.mark.parametrize(("option", "value"), [("workers", 0), ("chunk_size", 0), ("workers", -2)])
def test_run_sweep_refuses_counts_below_one(worked: Scenario, option: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{option} is {value}; it must be at least 1"):
        counts: dict[str, Any] = {option: value}
        run_sweep(worked, spec(samples=20), engine="numpy", **counts)


def test_run_sweep_takes_a_sweep_as_a_mapping_checked_like_a_file(worked: Scenario) -> None:
    """The ``sweep:`` section's mapping runs as its validated spec; a boolean in it is refused."""
    section = spec(samples=20).model_dump(by_alias=True)
    from_mapping = run_sweep(worked, section, engine="numpy").table
    pd.testing.assert_frame_equal(
        from_mapping, run_sweep(worked, spec(samples=20), engine="numpy").table
    )
    with pytest.raises(ScenarioError, match=r"sweep\.samples: True is a true/false value"):
        run_sweep(worked, {**section, "samples": True}, engine="numpy")


def test_run_sweep_refuses_what_it_cannot_run_by_name(worked: Scenario) -> None:
    with pytest.raises(TypeError, match="a sweep takes a validated Scenario, not a dict"):
        run_sweep(worked.model_dump(), spec(samples=20), engine="numpy")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"unknown engine 'nmba'; choose one of \['numpy', 'numba'\]"
    ):
        run_sweep(worked, spec(samples=20), engine="nmba")  # type: ignore[arg-type]


def test_an_unknown_engine_leaves_no_folder(worked: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    with pytest.raises(ValueError, match="unknown engine 'nmba'"):
        run_sweep(worked, spec(samples=20), engine="nmba", out=out, chunk_size=5)  # type: ignore[arg-type]
    assert not out.exists()


def test_a_failed_cluster_says_what_is_safe_and_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: a lost cluster ends in one paragraph with the --resume command."""
    import contextlib

    import dsg_forecast.sweeps
    from dsg_forecast.cli import main
    from dsg_forecast.sweeps import load_sweep

    sweep_file = ROOT / "examples" / "wiltshire_sweep.yaml"
    out = tmp_path / "sweep"
    scenario, loaded = load_sweep(sweep_file)
    run_sweep(scenario, loaded.model_copy(update={"samples": 300}), engine="numpy", out=out,
              chunk_size=100)  # fmt: skip

    class CommClosedError(OSError):
        pass

    CommClosedError.__module__ = "distributed.comm.core"

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise CommClosedError("in <TCP (closed)>: Stream is closed")

    monkeypatch.setattr(dsg_forecast.sweeps, "run_sweep", lost)
    monkeypatch.setattr(
        "dsg_forecast.cli.sweeps._client", lambda args: contextlib.nullcontext(None)
    )
    args = ["sweep", str(sweep_file), "--out", str(out), "--resume", "--samples", "1000",
            "--scheduler", "tcp://10.0.0.1:8786", "--quiet"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the dask cluster at tcp://10.0.0.1:8786 failed during the sweep" in err
    assert "300 of 1,000 scenarios are safely on disk" in err
    resume = f"dsg-forecast sweep {sweep_file} --out {out} --resume --samples 1000"
    assert (
        f"{resume} --scheduler tcp://10.0.0.1:8786\nor on this machine with:\n  {resume}\n" in err
    )
    assert "Traceback" not in err


def test_a_sweep_stopped_by_ctrl_c_says_what_is_safe_and_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C ended a sweep in a KeyboardInterrupt traceback from inside dask or the
    threads; it ends in one paragraph, status 130, with the command that finishes it (every
    option that makes it the same sweep), and that command does finish it."""
    from dsg_forecast.cli import main

    module = importlib.import_module("dsg_forecast.sweeps.evaluate")  # not the function
    sweep_file = ROOT / "examples" / "wiltshire_sweep.yaml"
    out = tmp_path / "my sweep"
    original = module._collect

    def stopped_after_three_chunks(plan: Any, results: Any, store: Any, *rest: Any,
                                   **kwargs: Any) -> Any:  # fmt: skip
        def then_ctrl_c(*chunk: Any) -> Any:  # the third chunk kept, then Ctrl-C
            for number, item in enumerate(results):
                if number == 3:
                    raise KeyboardInterrupt
                yield item

        return original(plan, then_ctrl_c(), store, *rest, **kwargs)

    monkeypatch.setattr(module, "_collect", stopped_after_three_chunks)
    options = ["--samples", "500", "--seed", "7", "--chunk-size", "100", "--engine", "numpy"]
    command = ["sweep", str(sweep_file), "--out", str(out), *options]
    assert main([*command, "--workers", "1"]) == 130
    err = capsys.readouterr().err  # the progress line ended, then the paragraph
    assert "   \nstopped (Ctrl-C): 300 of 500 scenarios are safely on disk in" in err
    finish = err.splitlines()[-1].strip()
    assert finish == (
        f"dsg-forecast sweep {sweep_file} --out '{out}' --resume --samples 500 --seed 7 "
        "--engine numpy --workers 1 --chunk-size 100"
    )
    assert "Traceback" not in err

    monkeypatch.undo()
    assert main([*shlex.split(finish)[1:], "--quiet"]) == 0
    again = read_sweep(out)
    spec_500 = load_sweep(sweep_file)[1].model_copy(update={"samples": 500, "seed": 7})
    whole = run_sweep(load_sweep(sweep_file)[0], spec_500, engine="numpy").table
    pd.testing.assert_frame_equal(again, whole)

    monkeypatch.setattr(module, "_collect", stopped_after_three_chunks)
    assert main(["sweep", str(sweep_file), *options, "--quiet"]) == 130
    assert "nothing was kept, as it had no --out" in capsys.readouterr().err

    # a batch system's SIGTERM at a job's time limit stops it the same way, status 143
    from dsg_forecast.cli._common import Stopped

    def terminated(*args: Any, **kwargs: Any) -> Any:
        raise Stopped

    monkeypatch.setattr(module, "_collect", terminated)
    assert main([*command, "--resume", "--quiet"]) == 143
    assert capsys.readouterr().err.startswith(
        "stopped (terminated, SIGTERM): 500 of 500 scenarios are safely on disk in"
    )


def test_a_full_disk_says_what_is_safe_and_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A part that cannot be written (the disk full) ended in pyarrow's OSError traceback;
    it is one paragraph, status 2, with the command that finishes the sweep, no half part
    is left, and that command finishes it."""
    from dsg_forecast.cli import main

    sweep_file = ROOT / "examples" / "wiltshire_sweep.yaml"
    out = tmp_path / "sweep"
    written = pq.write_table  # as the store calls it
    parts: list[str] = []

    def disk_full_after_two_parts(table: Any, where: str, **kwargs: Any) -> None:
        if len(parts) == 2:
            Path(where).write_bytes(b"PAR1 half a part")
            raise OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left")
        parts.append(where)
        written(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", disk_full_after_two_parts)
    options = ["--samples", "500", "--chunk-size", "100", "--engine", "numpy", "--quiet"]
    assert main(["sweep", str(sweep_file), "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: cannot write part 2 of the sweep to {out}: [errno 28] No space left. "
        f"200 of 500 scenarios are safely on disk in {out}."
    )
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock", "_manifest.json", "part-000000.parquet", "part-000001.parquet"
    ]  # fmt: skip
    monkeypatch.undo()
    finish = err.splitlines()[-1].strip()
    assert main([*shlex.split(finish)[1:], "--quiet"]) == 0
    assert len(read_sweep(out)) == 500


def test_any_command_stopped_by_ctrl_c_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command stopped by Ctrl-C says so in one line, status 130, no traceback."""
    import dsg_forecast.io
    from dsg_forecast.cli import main

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(dsg_forecast.io, "load_scenario", interrupted)
    assert main(["run", str(EXAMPLES / "worked_example.yaml")]) == 130
    assert capsys.readouterr().err == "stopped (Ctrl-C): run did not finish\n"


def test_a_scheduler_that_cannot_be_reached_is_said_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said the cluster "failed during the sweep" and to run again with --out, though
    nothing had run: the address or the scheduler is what to check."""
    import contextlib
    from collections.abc import Iterator

    from dsg_forecast.cli import main

    @contextlib.contextmanager
    def unreachable(address: str) -> Iterator[Any]:
        raise OSError(f"Timed out trying to connect to {address} after 30 s")
        yield  # pragma: no cover

    monkeypatch.setattr("dsg_forecast.sweeps.cluster.connect", unreachable)
    sweep_file = ROOT / "examples" / "wiltshire_sweep.yaml"
    args = ["sweep", str(sweep_file), "--samples", "10", "--scheduler", "tcp://10.0.0.1:8786"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "could not connect to the dask scheduler at tcp://10.0.0.1:8786 (Timed out" in err
    assert "check the address and that the scheduler is running" in err
    assert "during the sweep" not in err and "Traceback" not in err


def test_default_chunk_size_gives_every_thread_work() -> None:
    """Issue 13: at least four chunks a thread, within the engine's limits."""
    from dsg_forecast.sweeps.evaluate import default_chunk_size

    assert default_chunk_size("numba", 200_000, 64) == 782  # not 13 tasks of 16,384
    assert default_chunk_size("numba", 10_000_000, 2) == 8_192
    assert default_chunk_size("numpy", 10_000_000, 2) == 2_048
    assert default_chunk_size("numba", 100, 2) == 256


class _FakeClient:
    def __init__(self, versions: dict[str, str | None]) -> None:
        self.versions = versions

    def run(self, function: Any) -> dict[str, str | None]:
        assert function() is not None  # it runs here too: the library is installed
        return self.versions


def test_workers_with_another_version_are_refused_by_name() -> None:
    """Issue 13: each worker's library is checked against the client's before any task."""
    from dsg_forecast import __version__
    from dsg_forecast.sweeps.evaluate import WorkerVersionError, check_worker_versions

    check_worker_versions(_FakeClient({"tcp://a:1": __version__}))
    client = _FakeClient({"tcp://a:1": __version__, "tcp://b:2": "0.0.9", "tcp://c:3": None})
    with pytest.raises(WorkerVersionError) as info:
        check_worker_versions(client)
    message = str(info.value)
    assert "tcp://b:2 has dsg_forecast 0.0.9" in message
    assert "tcp://c:3 has no dsg_forecast" in message
    assert f"pip install dsg_forecast=={__version__}" in message
    assert "tcp://a:1" not in message


@pytest.mark.slow
def test_a_cluster_that_loses_every_worker_finishes(
    worked: Scenario, reference: pd.DataFrame
) -> None:
    """Issue 12: the only worker dies mid-sweep; its nanny starts a new one, the shared
    inputs are computed again (they are a task, not scattered data) and the chunks retry."""
    import os
    import signal

    pytest.importorskip("distributed")
    from dsg_forecast.sweeps.cluster import local_cluster

    with local_cluster(workers=1, dashboard_address=":0") as client:
        killed: list[int] = []

        def kill_the_worker(number: int) -> None:
            if not killed:
                pids = client.run(os.getpid)
                for pid in pids.values():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

        plan = plan_sweep(worked, spec())
        run = run_plan(plan, chunk_size=20, engine="numpy", backend="dask", client=client,
                       on_chunk=kill_the_worker)  # fmt: skip
        after = set(client.run(os.getpid).values())
    assert killed and not after & set(killed)  # a new worker process finished the sweep
    assert run.table is not None
    pd.testing.assert_frame_equal(run.table, reference)


@pytest.mark.slow
def test_a_worker_that_joins_mid_sweep_gets_work(worked: Scenario) -> None:
    """Issue 13: the chunks in flight follow the cluster's threads as workers join."""
    pytest.importorskip("distributed")
    from distributed import get_task_stream

    from dsg_forecast.sweeps.cluster import local_cluster

    with local_cluster(workers=1, dashboard_address=":0") as client:
        cluster = client.cluster

        def grow(number: int) -> None:
            if number == 0:
                cluster.scale(2)
                client.wait_for_workers(2, timeout=60)

        plan = plan_sweep(worked, spec(samples=3_000))
        with get_task_stream(client) as stream:
            run_plan(plan, chunk_size=20, engine="numpy", backend="dask", client=client,
                     on_chunk=grow)  # fmt: skip
    chunks = [task for task in stream.data if str(task["key"]).startswith("dsg-chunk-")]
    assert len({task["worker"] for task in chunks}) == 2


@pytest.mark.slow
def test_every_run_on_a_cluster_has_task_names_of_its_own(worked: Scenario) -> None:
    """dask takes a task of the same name for the same computation: a worker still finishing
    a stopped run's chunk would hand its result to a new run that named its chunk alike
    (the same plan again, in other chunks). Each run names its tasks afresh."""
    pytest.importorskip("distributed")
    from distributed import get_task_stream

    from dsg_forecast.sweeps.cluster import local_cluster

    plan = plan_sweep(worked, spec(samples=60))
    keys = []
    with local_cluster(workers=1, dashboard_address=":0") as client:
        for chunk_size in (20, 30):
            with get_task_stream(client) as stream:
                run_plan(plan, chunk_size=chunk_size, engine="numpy", backend="dask",
                         client=client)  # fmt: skip
            keys.append({str(task["key"]) for task in stream.data})
    assert all(key.startswith("dsg-") for key in keys[0] | keys[1])
    assert keys[0] and keys[1] and not keys[0] & keys[1]


def test_summary_streams_and_does_not_depend_on_chunks(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the summary is one pass over the parts; beyond QUANTILE_SAMPLE scenarios its
    quantiles come from every k-th scenario by number, so chunking changes nothing."""
    from dsg_forecast.sweeps import summary as module

    memory = run_sweep(worked, spec(), engine="numpy").summary()
    streamed = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "a", chunk_size=40)
    exact = streamed.summary()
    pd.testing.assert_frame_equal(exact.quantiles, memory.quantiles)
    pd.testing.assert_series_equal(exact.probability_within_cap, memory.probability_within_cap)
    monkeypatch.setattr(module, "QUANTILE_SAMPLE", 100)  # 300 scenarios: every third
    sampled = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "c", chunk_size=40).summary()
    other = run_sweep(worked, spec(), engine="numpy", out=tmp_path / "b", chunk_size=7).summary()
    pd.testing.assert_frame_equal(sampled.quantiles, other.quantiles)
    pd.testing.assert_series_equal(sampled.probability_within_cap, exact.probability_within_cap)
    assert sampled.probability_target_met == exact.probability_target_met
    assert sampled.samples == 300
    table = streamed.table
    every_third = table[table.index % 3 == 0]["cumulative_balance[2026-27]"]
    assert sampled.quantiles.loc[("cumulative_balance", "2026-27"), 0.5] == pytest.approx(
        float(every_third.median())
    )


@pytest.mark.parametrize("design", ["mc", "lhs", "sobol", "grid"])
@pytest.mark.parametrize("correlated", [False, True])
def test_designs_are_drawn_a_chunk_at_a_time(
    design: str, correlated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: any split of a design's rows makes up the same design; a Latin hypercube is
    stratified within each block."""
    from dsg_forecast.sweeps import design as module

    monkeypatch.setattr(module, "DESIGN_BLOCK", 64)
    changes: dict[str, Any] = {"design": design, "samples": 300, "grid_levels": 3}
    if correlated and design != "grid":
        changes["correlation"] = [
            {"between": ["demand.requests_growth", "demand.refusal_rate"], "rank": 0.6}
        ]
    if design == "grid":  # a grid runs every combination and takes no number of samples
        del changes["samples"]
        chosen = SweepSpec.model_validate(
            {**{k: v for k, v in SPEC.items() if k != "samples"}, **changes}
        )
    else:
        chosen = spec(**changes)
    whole = module.sample_values(chosen)
    n = whole.shape[0]
    for size in (1, 7, 64, 100, n):
        pieces = [module.design_rows(chosen, s, min(s + size, n)) for s in range(0, n, size)]
        np.testing.assert_array_equal(np.concatenate(pieces), whole)
    if design == "lhs" and not correlated:
        unit = np.column_stack([module._block_points(chosen, 1)[:, 0]])  # rows 64..127
        strata = np.floor(unit[:, 0] * 64).astype(int)
        assert sorted(strata) == list(range(64))


def test_a_sweep_of_many_design_blocks_does_not_depend_on_chunks(
    worked: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dsg_forecast.sweeps import design as module

    monkeypatch.setattr(module, "DESIGN_BLOCK", 50)
    one = run_sweep(worked, spec(), engine="numpy", chunk_size=300).table
    many = run_sweep(worked, spec(), engine="numpy", chunk_size=17, workers=2).table
    pd.testing.assert_frame_equal(one, many)
    np.testing.assert_array_equal(
        one[list(SPEC["parameters"])].to_numpy(), module.sample_values(spec())
    )


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_sweeps_stream_to_urls_and_resume_there(
    scheme: str, worked: Scenario, reference: pd.DataFrame, tmp_path: Path
) -> None:
    """Issue 13: --out takes URLs (pyarrow's filesystems, fsspec's for memory://), with the
    manifest, resume and the summary working there as on a local folder."""
    pytest.importorskip("fsspec")

    url = "memory://dsg-tests/sweep" if scheme == "memory" else (tmp_path / "s").as_uri()

    class CrashError(RuntimeError):
        pass

    def crash(number: int) -> None:
        if number == 2:
            raise CrashError

    plan = plan_sweep(worked, spec())
    manifest = {"input_hash": plan.input_hash, "design": "lhs", "seed": 11, "samples": 300,
                "chunk_size": 40, "engine": "numpy"}  # fmt: skip
    try:
        with pytest.raises(CrashError):
            run_plan(plan, chunk_size=40, engine="numpy", workers=1,
                     store=SweepStore(url, manifest, resume=False), on_chunk=crash)  # fmt: skip
        assert rows_on_disk(url) == 120
        assert sweep_manifest(url) is not None
        with pytest.raises(SweepStoreError, match="already holds this sweep, 120 of 300"):
            SweepStore(url, manifest, resume=False)
        finished = run_plan(plan, chunk_size=40, engine="numpy", workers=1,
                            store=SweepStore(url, manifest, resume=True))  # fmt: skip
        pd.testing.assert_frame_equal(read_sweep(url), reference)
        pd.testing.assert_frame_equal(finished.results(), reference)
        if scheme == "file":
            assert sorted(p.name for p in (tmp_path / "s").iterdir())[-1] == "part-000007.parquet"
    finally:
        if scheme == "memory":
            import fsspec

            fsspec.filesystem("memory").rm("/dsg-tests", recursive=True)


def test_a_url_without_a_filesystem_is_refused_by_name() -> None:
    from dsg_forecast.sweeps.store import filesystem

    with pytest.raises(SweepStoreError, match="nosuch://bucket/sweep"):
        filesystem("nosuch://bucket/sweep")


def test_task_retries_are_configurable() -> None:
    """Issue 12: tasks retry a configurable number of times (dask config, or --retries)."""
    dask = pytest.importorskip("dask")
    from dsg_forecast.sweeps.evaluate import RETRIES_KEY, task_retries

    assert task_retries() == 3
    with dask.config.set({RETRIES_KEY: 7}):
        assert task_retries() == 7
    with dask.config.set({RETRIES_KEY: -1}), pytest.raises(ValueError, match="at least 0"):
        task_retries()


def test_writing_on_workers_is_true_or_false(worked: Scenario) -> None:
    with pytest.raises(TypeError, match="write_on_workers is 'yes'; it must be True or False"):
        run_sweep(worked, spec(samples=20), engine="numpy", write_on_workers="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"chunk_size": 2.5}, "chunk_size is 2.5; it must be a whole number"),  # deep TypeError
        ({"chunk_size": True}, "chunk_size is True; it must be a whole number"),  # was 1
        ({"workers": 1.0}, "workers is 1.0; it must be a whole number"),
        ({"out": 5}, "out is 5; give a folder's path or URL"),  # wrote a folder named "5"
    ],
)
def test_sweep_arguments_of_the_wrong_type_are_refused(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    arguments: dict[str, Any], message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=message):
        run_sweep(worked, spec(samples=20), engine="numpy", **arguments)
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_path_that_prices_a_placement_by_age_is_swept_by_age(
    worked_dict: dict[str, Any], engine: str
) -> None:
    """Special schools cost one price at every age in the base, but the swept path sets the
    primary ages' price only: the sweep prices that placement age by age, and every
    scenario equals the scenario with that value projected on its own."""
    if engine == "numba":
        pytest.importorskip("numba")
    worked_dict["costs"]["top_up"] = {"special": {"primary": 31_000, "default": 31_000}}
    del worked_dict["costs"]["unit_cost"]["special"]
    base = Scenario.model_validate(worked_dict)
    special = base.placement_names.index("special")
    swept = {"parameters": {"costs.top_up.special.primary": {"values": [20_000, 45_000]}}}
    plan = plan_sweep(base, SweepSpec.model_validate({**swept, "design": "grid"}))
    assert plan.structure.priced_by_age[special]
    table = run_sweep(base, plan.spec, engine=engine).table  # type: ignore[arg-type]
    for _, row in table.iterrows():
        data = base.model_dump(by_alias=True)
        data["costs"]["top_up"]["special"]["primary"] = row["costs.top_up.special.primary"]
        alone = project(Scenario.model_validate(data), savings=False)
        for fy, cumulative in alone.ledger["cumulative_balance"].items():
            assert row[f"cumulative_balance[{fy}]"] == pytest.approx(cumulative, rel=1e-12)


def test_a_path_that_prices_every_age_alike_keeps_one_price(worked: Scenario) -> None:
    """``costs.unit_cost.inmss`` sets every age's price at once: the placement keeps one
    price, so its cost is its plans times that price (no sum over ages)."""
    plan = plan_sweep(worked, spec())
    assert not plan.structure.priced_by_age.any()


def test_summary_accumulator_in_any_order_and_empty() -> None:
    """The quantile sample is filled in place: chunks in any order give numpy's quantiles of
    all the rows (even past the count the sweep announced), and no chunk gives NaN."""
    from dsg_forecast.sweeps.summary import QUANTILES, SummaryAccumulator

    labels = ("2024-25", "2025-26")

    def accumulator(samples: int) -> SummaryAccumulator:
        return SummaryAccumulator(labels, (), has_target=False, samples=samples)

    empty = accumulator(10).result()
    assert empty.samples == 0
    assert empty.quantiles.isna().all().all()
    rng = np.random.default_rng(5)
    values = rng.normal(size=(50, 3 * len(labels)))
    for announced in (50, 20):  # 20: more rows come than announced
        filled = accumulator(announced)
        for start in (40, 0, 25, 10):  # chunks out of order
            stop = {40: 50, 0: 10, 25: 40, 10: 25}[start]
            numbers = np.arange(start, stop)
            filled.add_counts(
                filled.counts(
                    numbers,
                    values[start:stop],
                    np.zeros((stop - start, 0), dtype=bool),
                    None,
                    np.full(stop - start, -1),
                )
            )
        expected = np.quantile(values, QUANTILES, axis=0).T
        np.testing.assert_array_equal(filled.result().quantiles.to_numpy(), expected)


@given(
    a=st.floats(-12, 12, allow_nan=False),
    width=st.floats(0.01, 30, allow_nan=False),
    open_low=st.booleans(),
    open_high=st.booleans(),
)
def test_truncated_normal_draws_invert_its_cdf(
    a: float, width: float, open_low: bool, open_high: bool
) -> None:
    """Truncated normals are drawn by inverting the normal CDF from the tail each value lies
    in: they agree with scipy's ``truncnorm.ppf`` to 1e-12 where scipy is exact (within 3
    sd), and beyond one sd the tail probability of each value is the one asked for to 1e-9
    relative, however far out (where scipy loses digits)."""
    from scipy import special
    from scipy import stats as scipy_stats

    from dsg_forecast.sweeps.spec import TruncatedNormal

    low = -np.inf if open_low else a
    high = np.inf if open_high else a + width
    spec_ = TruncatedNormal(
        dist="truncnorm", mean=50.0, sd=4.0, low=50 + 4 * low, high=50 + 4 * high
    )
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 401), [1e-12, 1e-9, 1 - 1e-9, 1 - 1e-12]])
    drawn = spec_.ppf(u)
    z = (drawn - 50.0) / 4.0
    assert np.all((z >= low) & (z <= high))
    with np.errstate(all="ignore"):  # scipy's own far-tail arithmetic
        reference = scipy_stats.truncnorm(low, high).ppf(u) * 4.0 + 50.0
    central = np.abs(reference - 50.0) < 4.0 * 3  # beyond, scipy loses digits
    np.testing.assert_allclose(drawn[central], reference[central], rtol=1e-12)
    # beyond one sd, the tail probability of each value is the one its draw asks for
    far = np.abs(z) > 1
    lower = special.ndtr(low) + u * (special.ndtr(high) - special.ndtr(low))  # Φ(x)
    upper = special.ndtr(-high) + (1 - u) * (special.ndtr(-low) - special.ndtr(-high))  # Q(x)
    got = np.where(z < 0, special.ndtr(z), special.ndtr(-z))[far]
    wanted = np.where(z < 0, lower, upper)[far]
    np.testing.assert_allclose(got, wanted, rtol=1e-9)


@pytest.mark.parametrize(("low", "high", "side"), [(0.5, 0.6, "above"), (-0.6, -0.5, "below")])
def test_a_truncated_normal_with_no_probability_inside_is_refused(
    low: float, high: float, side: str
) -> None:
    """Bounds 50 sd into a tail hold less probability than a float can: every draw came out
    at one bound (0.6 every time). Refused, saying how far; 30 sd out still draws right."""
    from dsg_forecast.sweeps.spec import TruncatedNormal

    with pytest.raises(ValidationError, match=f"more than 50 standard deviations {side} the mean"):
        TruncatedNormal(dist="truncnorm", mean=0.0, sd=0.01, low=low, high=high)
    far = TruncatedNormal(dist="truncnorm", mean=0.0, sd=0.01, low=0.3, high=0.4)
    drawn = far.ppf(np.linspace(0.01, 0.99, 99))
    assert drawn.min() > 0.3 and drawn.max() < 0.31  # piled up at the bound near the mean


def test_a_value_listed_twice_is_refused(worked_dict: dict[str, Any], tmp_path: Path) -> None:
    """``values: [30, 32, 30]``: a grid would run 30 twice and other designs draw it twice as
    often; refused at its path in a file, naming the value."""
    worked_dict["sweep"] = {
        "parameters": {"capacity[0].places[2025-01]": {"values": [30, 32, 30]}},
        "design": "grid",
    }
    path = tmp_path / "twice.yaml"
    path.write_text(yaml.safe_dump(worked_dict), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_sweep(path)
    assert str(caught.value.issues[0]).startswith(
        "sweep.parameters[capacity[0].places[2025-01]]: values lists 30.0 more than once"
    )
    # a path with brackets is a key of the file, not a pydantic tag: it is named (it was
    # left out, "sweep.parameters: low 3.0 must be below high 2.0")
    worked_dict["sweep"]["parameters"] = {
        "capacity[0].places[2025-01]": {"dist": "uniform", "low": 3, "high": 2}
    }
    path.write_text(yaml.safe_dump(worked_dict), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_sweep(path)
    assert [str(issue) for issue in caught.value.issues] == [
        "sweep.parameters[capacity[0].places[2025-01]]: low 3.0 must be below high 2.0"
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, -1.0])
        ),
        max_size=40,
    )
)
def test_rank_correlation_orders_as_a_stable_sort(values: list[float]) -> None:
    """The re-pairing sorts with numpy's faster default sort; ties, NaN and infinities fall
    back to the stable sort, so the order (and every design's draws) is the stable one."""
    from dsg_forecast.sweeps.design import _stable_order

    array = np.array(values, dtype=np.float64)
    assert np.array_equal(_stable_order(array), np.argsort(array, kind="stable"))
