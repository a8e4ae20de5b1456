"""Where a sweep's time goes: each stage of a chunk, timed inside a whole sweep on one core.

Runs the Wiltshire sweep (``examples/wiltshire_sweep.yaml``) streamed to Parquet, in this
process, with one worker and one numba thread, and times every stage each chunk passes
through by the CPU time of the thread that runs it (the Parquet writer runs on a thread of
its own). The stages' CPU per scenario, added up, is what two cores must share: a million
scenarios in 5 seconds on two cores leaves 10 µs of CPU a scenario for all of them.
Writes its section of ``benchmarks/README.md``.

Run from the project root: ``python benchmarks/stages.py`` (about ten seconds).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["NUMBA_NUM_THREADS"] = "1"  # before numba loads: one core, one thread

from _report import machine, write_section

SWEEP = "examples/wiltshire_sweep.yaml"
#: The chunk a million-scenario sweep takes on two threads (``default_chunk_size``: the
#: largest a numba sweep uses unless told).
CHUNK = 8_192
KERNEL = "the compiled kernel (the months)"
#: (module, attribute, stage): the functions each chunk passes through, in order (the
#: first chunk is labelled through pandas, the others straight into Arrow: one stage).
STAGES = (
    ("dsg_forecast.sweeps.evaluate", "design_rows", "draw the design"),
    ("dsg_forecast.sweeps.evaluate", "_check_draws", "check the draws against the rules"),
    ("dsg_forecast.sweeps.evaluate", "apply_values", "set the parameters from the draws"),
    (
        "dsg_forecast.engine.numba_levers",
        "prepare_compiled",
        "resolve and range-check the levers, prepare the kernel's inputs (compiled)",
    ),
    ("dsg_forecast.engine.numba_kernel", "run_numba", KERNEL),
    ("dsg_forecast.sweeps.evaluate", "build_balances", "the ledger (balances, caps)"),
    ("dsg_forecast.sweeps.evaluate", "_chunk_counts", "the summary's counts"),
    ("dsg_forecast.sweeps.evaluate", "to_frame", "label the results (Arrow table)"),
    ("dsg_forecast.sweeps.evaluate", "to_table", "label the results (Arrow table)"),
    ("dsg_forecast.sweeps.store", "SweepStore.write_table", "write Parquet (its own thread)"),
)

_spent: dict[str, float] = defaultdict(float)
_lock = threading.Lock()


def _timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``function`` to add the CPU its thread spends in it to ``stage``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            with _lock:
                _spent[stage] += time.thread_time() - start

    return wrapper


def _instrument() -> None:
    """Put a timer around every stage (by module attribute, as the callers look them up)."""
    import importlib

    for module_name, attribute, stage in STAGES:
        owner: Any = importlib.import_module(module_name)
        *classes, name = attribute.split(".")
        for part in classes:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(stage, getattr(owner, name)))


def measure(samples: int, chunk: int) -> dict[str, Any]:
    """Run the sweep once to warm up, then once timed; return the stages' CPU."""
    from dsg_forecast.sweeps import load_sweep, run_sweep

    scenario, spec = load_sweep(SWEEP)
    run_sweep(scenario, spec.model_copy(update={"samples": 256}), engine="numba", workers=1)
    _instrument()
    _spent.clear()
    timed = spec.model_copy(update={"samples": samples})
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_sweep(
            scenario, timed, engine="numba", workers=1, chunk_size=chunk,
            out=Path(folder) / "sweep.parquet",
        )  # fmt: skip
        # the process's CPU: the summary runs its columns on threads of its own, and
        # nothing else runs by now
        summary_start = time.process_time()
        result.summary()
        _spent["the summary (once, at the end)"] += time.process_time() - summary_start
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "stages": dict(_spent)}


def main(samples: int, chunk: int) -> None:
    found = measure(samples, chunk)
    per = 1e6 / samples
    stages = found["stages"]
    total = found["cpu"] * per
    lines = [
        "## Stages: where a sweep's time goes",
        "",
        f"Machine: {machine()}.",
        "",
        f"The Wiltshire sweep (`{SWEEP}`), {samples:,} scenarios in chunks of {chunk:,}, "
        "streamed to Parquet, run in one process with one worker and one numba thread; each "
        "stage timed by the CPU of the thread that runs it, inside the whole sweep. "
        f"The whole run took {found['wall']:.2f} s and {found['cpu']:.2f} CPU seconds "
        f"({total:.1f} µs a scenario).",
        "",
        "| stage | CPU µs per scenario | share |",
        "| --- | ---: | ---: |",
    ]
    named = 0.0
    for stage in dict.fromkeys(stage for _, _, stage in STAGES):
        value = stages.get(stage, 0.0) * per
        named += value
        lines.append(f"| {stage} | {value:.2f} | {value / total:.0%} |")
    summary = stages.get("the summary (once, at the end)", 0.0) * per
    named += summary
    rest = total - named
    lines += [
        f"| the summary (once, at the end) | {summary:.2f} | {summary / total:.0%} |",
        f"| everything else (planning the sweep, bookkeeping, threads) | {rest:.2f} | "
        f"{rest / total:.0%} |",
        f"| **the whole sweep** | **{total:.2f}** | **100%** |",
        "",
        "A million scenarios in 5 seconds on two cores leaves 10 µs of CPU a scenario for "
        f"everything; the sweep spends {total:.1f}, of which the compiled kernel "
        f"{stages.get(KERNEL, 0.0) * per:.1f}. Regenerate with "
        "`python benchmarks/stages.py` (about ten seconds; `--samples` and `--chunk` to change "
        "the sizes).",
    ]
    body = "\n".join(lines)
    write_section("stages", body)
    print(body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=262_144)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    arguments = parser.parse_args()
    main(arguments.samples, arguments.chunk)
    sys.exit(0)
