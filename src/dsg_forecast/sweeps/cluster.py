"""Dask clusters set up for sweeps: numpy-heavy tasks of a few hundred milliseconds each.

Dask's defaults suit many small Python objects, not our chunks, and three of them cost a
numpy-heavy task dearly (measured in ``benchmarks/sweeps.py``):

- the nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting *any* of
  glibc's ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``MALLOC_MMAP_THRESHOLD_``
  switches off glibc's dynamic mmap threshold, so every array above 128 KiB is a fresh
  ``mmap`` whose pages fault in again on first touch and go back to the kernel when freed:
  a chunk's arrays page-fault hundreds of thousands of times and the worker burns far more
  CPU than the same chunk in one process. (Raising the trim threshold, as an earlier
  version did, does not help: it is the setting itself that fixes the mmap threshold.)
  :func:`worker_settings` starts workers with none of the three set, so glibc adapts its
  threshold to the chunk's arrays exactly as it does in a plain Python process;
- the statistical profiler samples every worker's stack every 10 ms, the event loops'
  watchdog ticks every 20 ms, the system monitor reads psutil every 500 ms and each worker
  its own memory every 100 ms (an idle two-worker cluster: 6% of a core in the client and
  scheduler, 2% in each worker; 1% and 0.4% with a 1 s tick, a 2 s system monitor and a
  1 s memory monitor);
- each worker process would also run numba and BLAS on every core, oversubscribing the
  machine.

:func:`worker_settings` changes these; :func:`local_cluster` applies them to a
``LocalCluster`` and :func:`connect` to a client of an existing scheduler (whose workers
must have been started with the same settings to benefit: see ``docs/deployment.md``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

from dsg_forecast._processes import signal_handled

#: Variables that set how many threads numba, OpenMP and BLAS take in a worker.
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


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
        # the whole environment, replacing dask's; None unsets (dask sets the trim threshold)
        "distributed.nanny.pre-spawn-environ": {
            **dict.fromkeys(THREAD_VARIABLES, threads),
            "MALLOC_TRIM_THRESHOLD_": None,
        },
        "distributed.worker.profile.enabled": False,
        "distributed.worker.memory.spill": False,
        # the blocked-event-loop watchdog ticks every 20 ms by default: idle, that alone cost
        # a LocalCluster's client and scheduler 6% of a core and each worker 2%
        "distributed.admin.tick.interval": "1s",
        # the system monitor (the dashboard's CPU and memory plots) reads psutil every
        # 500 ms, and each worker reads its memory every 100 ms (to pause or restart it
        # near its limit): idle, a two-worker cluster's client and scheduler then spend
        # 2.6% of a core and each worker 1%, against 1% and 0.4% with these
        "distributed.admin.system-monitor.interval": "2s",
        "distributed.worker.memory.monitor-interval": "1s",
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
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set(worker_settings(threads_per_worker)))
        with _ctrl_c_ignored():  # by the worker processes started now: see below
            cluster = stack.enter_context(
                LocalCluster(  # type: ignore[no-untyped-call]  # distributed is not typed
                    n_workers=count,
                    threads_per_worker=threads_per_worker,
                    processes=True,
                    dashboard_address=dashboard_address,
                )
            )
        client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        client.run(_worker_of_the_command)
        yield client


#: What dask's worker logs as it closes with a chunk still computing ("Async instruction
#: for <Task cancelled …> ended with CancelledError"), which happens only then.
CANCELLED_ON_CLOSE = "ended with CancelledError"


def _worker_of_the_command() -> None:
    """Set up a local cluster's worker (in its main thread) to stop only as the command does.

    - SIGTERM is left to the command, as Ctrl-C is (:func:`_ctrl_c_ignored`): a batch
      system's SIGTERM, sent to every process of the job, ended workers under the command,
      whose nanny then logged that it restarted them. The command closes its workers, and a
      worker whose command has gone (even killed outright) ends by itself. (Set here rather
      than inherited, so the command never ignores a SIGTERM while its workers start.)
    - dask's warning of a chunk cancelled as the worker closes is left out: a sweep stopped
      by Ctrl-C had each worker print one such line of 300 characters after the command had
      said it stopped and what is safe on disk. Only that message is left out: the worker's
      other warnings (its memory, a lost connection) still print.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logger = logging.getLogger("distributed.worker.state_machine")
    logger.addFilter(_not_cancelled_on_close)


def _not_cancelled_on_close(record: logging.LogRecord) -> bool:
    """Return whether a worker's log record is other than :data:`CANCELLED_ON_CLOSE`."""
    return CANCELLED_ON_CLOSE not in record.getMessage()


def _ctrl_c_ignored() -> contextlib.AbstractContextManager[None]:
    """Ignore Ctrl-C (SIGINT) while worker processes start, which inherit it.

    A terminal's Ctrl-C goes to every process of the command, the local cluster's workers
    included, and each printed a traceback while the command itself stopped the sweep and
    closed the cluster; so the workers ignore it and leave it to the command.
    """
    return signal_handled(signal.SIGINT, signal.SIG_IGN)


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
