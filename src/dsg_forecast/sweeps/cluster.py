"""Dask clusters tuned for sweeps: numpy-heavy tasks of a few hundred milliseconds each.

Dask's defaults suit many small Python objects, not our chunks, and three of them cost a
numpy-heavy task dearly (measured in ``benchmarks/sweeps.py``):

- the nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in each worker, so glibc hands freed
  memory back to the kernel at once and every large allocation faults its pages in again;
- the statistical profiler samples every worker's stack every 10 ms;
- each worker process would also run numba on every core, oversubscribing the machine.

:func:`worker_settings` turns these off; :func:`local_cluster` applies them to a
``LocalCluster`` and :func:`connect` to a client of an existing scheduler (whose workers
must have been started with the same settings to benefit).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

#: glibc's own default trim threshold (128 KiB is its minimum; 1 GiB keeps pages mapped).
TRIM_THRESHOLD = str(1 << 30)


def worker_settings(threads_per_worker: int = 1) -> dict[str, Any]:
    """Dask configuration for sweep workers.

    Parameters
    ----------
    threads_per_worker
        Threads each worker may use (numba's threads included).

    Returns
    -------
    dict
        Dask configuration keys and values.
    """
    threads = str(threads_per_worker)
    return {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD,
        "distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": threads,
        "distributed.nanny.pre-spawn-environ.OMP_NUM_THREADS": threads,
        "distributed.nanny.pre-spawn-environ.OPENBLAS_NUM_THREADS": threads,
        "distributed.worker.profile.enabled": False,
        "distributed.worker.memory.spill": False,
    }


@contextlib.contextmanager
def local_cluster(
    workers: int | None = None, threads_per_worker: int = 1, dashboard_address: str = ":0"
) -> Iterator[Any]:
    """Start a ``LocalCluster`` of worker processes and yield a client; close both after.

    Parameters
    ----------
    workers
        Worker processes (default: every core).
    threads_per_worker
        Threads each worker may use (numba's threads included).
    dashboard_address
        Where the dashboard listens; the default ``":0"`` takes a free port (the client's
        ``dashboard_link`` says which), so a busy port 8787 cannot stop a sweep.

    Yields
    ------
    distributed.Client
        A client of the cluster.
    """
    import dask
    from distributed import Client, LocalCluster

    count = workers or os.cpu_count() or 1
    with (
        dask.config.set(worker_settings(threads_per_worker)),
        LocalCluster(  # type: ignore[no-untyped-call]  # distributed is not typed
            n_workers=count,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=dashboard_address,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """Yield a client of the dask scheduler at ``address`` (for example ``tcp://host:8786``).

    Parameters
    ----------
    address
        The scheduler's address.

    Yields
    ------
    distributed.Client
        A client of the scheduler, closed after.
    """
    from distributed import Client

    with Client(address) as client:  # type: ignore[no-untyped-call]
        yield client
