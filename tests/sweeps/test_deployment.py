"""Issue 13: sweeps on dask as users deploy it: a local cluster from the command line, and a
scheduler and two workers started separately, as on a real cluster (docs/deployment.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dsg_forecast.sweeps import read_sweep
from tests.paths import EXAMPLES, ROOT

pytestmark = pytest.mark.slow

SWEEP = EXAMPLES / "wiltshire_sweep.yaml"
SAMPLES = "600"


def sweep(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``dsg-forecast sweep`` on the Wiltshire sweep as a user would."""
    command = [sys.executable, "-m", "dsg_forecast.cli", "sweep", str(SWEEP), "--samples",
               SAMPLES, "--engine", "numpy", "--chunk-size", "100", "--out", str(out),
               "--quiet", *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("here") / "sweep"
    ran = sweep(out)
    assert ran.returncode == 0, ran.stderr
    return read_sweep(out)


@pytest.fixture
def scheduler_with_two_workers(tmp_path: Path) -> Iterator[str]:
    """Start ``dask scheduler`` and ``dask worker --nworkers 2`` as separate processes."""
    pytest.importorskip("distributed")
    file = tmp_path / "scheduler.json"
    environment = {**os.environ, "DASK_CONFIG": str(ROOT / "docs" / "dask")}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(file),
         "--port", "0", "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )  # fmt: skip
    workers = None
    try:
        for _ in range(300):
            if file.is_file() and file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        workers = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(file),
             "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
        )  # fmt: skip
        from distributed import Client

        with Client(address) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=120)
            # the shipped worker configuration reached the workers
            threads = client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
            assert set(threads.values()) == {"1"}
            trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
            assert set(trim.values()) == {None}
        yield address
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_a_separately_started_scheduler_and_two_workers(
    scheduler_with_two_workers: str, in_process: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    ran = sweep(out, "--scheduler", scheduler_with_two_workers)
    assert ran.returncode == 0, ran.stderr
    pd.testing.assert_frame_equal(read_sweep(out), in_process)
    # the workers write their own chunks into a folder they share with the client
    shared = tmp_path / "written-by-workers"
    ran = sweep(shared, "--scheduler", scheduler_with_two_workers, "--write-on-workers")
    assert ran.returncode == 0, ran.stderr
    pd.testing.assert_frame_equal(read_sweep(shared), in_process)


def test_a_local_cluster_from_the_command_line(in_process: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "sweep"
    ran = sweep(out, "--local-cluster", "2")
    assert ran.returncode == 0, ran.stderr
    pd.testing.assert_frame_equal(read_sweep(out), in_process)


def test_the_shipped_worker_configuration_is_worker_settings() -> None:
    """docs/dask/dsg-forecast.yaml, for separately started workers, says what
    ``worker_settings`` gives a local cluster."""
    from dsg_forecast.sweeps.cluster import worker_settings

    shipped = yaml.safe_load((ROOT / "docs" / "dask" / "dsg-forecast.yaml").read_text())

    def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and name != "distributed.nanny.pre-spawn-environ":
                out.update(flat(value, f"{name}."))
            else:
                out[name] = value
        return out

    assert flat(shipped) == worker_settings(1)


def test_worker_processes_start_with_ctrl_c_ignored_and_it_is_put_back() -> None:
    """A local cluster's workers inherit Ctrl-C ignored (a terminal sends it to them too);
    the command's own handler is put back after, and a thread other than the main one, which
    may not set handlers, leaves it alone."""
    import signal
    import threading

    from dsg_forecast.sweeps.cluster import _ctrl_c_ignored

    before = signal.getsignal(signal.SIGINT)
    with _ctrl_c_ignored():
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before

    seen: list[object] = []

    def elsewhere() -> None:
        with _ctrl_c_ignored():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [before]
