"""Time the engine on the Wiltshire example: batches of S scenarios against a Python loop.

Measured, not asserted. Writes ``benchmarks/README.md`` with the machine and the figures.
Run from the project root: ``python benchmarks/engine.py`` (about a minute).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from _report import machine, write_section

from dsg_forecast import compile_scenario, load_scenario, run_batch

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
LOOP_SCENARIOS = 200


def timed(function, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of ``repeats`` calls after one untimed call, in seconds."""
    function()  # the first call fills caches (lazy imports, the levers' tables)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    plan = ROOT / "examples" / "wiltshire_plan_2024.yaml"
    structure, params = compile_scenario(load_scenario(plan))
    months = structure.n_months
    shape = (
        f"{months} months × {len(structure.ages)} ages × {len(structure.placements)} placements, "
        f"{len(structure.transition_from)} transition rules, "
        f"{len(structure.interventions)} interventions ({len(structure.effects)} effects) on"
    )
    rows = []
    for count in (1, 1_000, 10_000):
        batch = params.repeat(count)
        # a single scenario takes milliseconds, which this shared machine's other core
        # swings by half: more repeats for its median
        repeats = 25 if count == 1 else REPEATS if count < 10_000 else 3
        seconds = timed(lambda batch=batch: run_batch(structure, batch), repeats)
        rows.append((f"batch, S = {count:,}", count, seconds))
        print(rows[-1], file=sys.stderr)

    single = params.repeat(1)

    def loop() -> None:
        for _ in range(LOOP_SCENARIOS):
            run_batch(structure, single)

    seconds = timed(loop, 3)
    rows.append((f"Python loop over S = 1, {LOOP_SCENARIOS} scenarios", LOOP_SCENARIOS, seconds))
    print(rows[-1], file=sys.stderr)

    per_loop = seconds / LOOP_SCENARIOS
    lines = [
        "## Engine: `run_batch` on the Wiltshire example (numpy engine)",
        "",
        "Medians of repeated runs; regenerate with `python benchmarks/engine.py`.",
        "",
        f"Machine: {machine()}.",
        "",
        f"Scenario: `examples/wiltshire_plan_2024.yaml`, {shape}. `run_batch` runs the monthly",
        "flows and the FY ledger, without keeping the full stock cube.",
        "",
        "| run | scenarios | seconds (median) | per scenario (ms) | scenario-months per second | "
        "speed-up over the loop |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, count, secs in rows:
        per = secs / count
        lines.append(
            f"| {label} | {count:,} | {secs:.3f} | {per * 1e3:.3f} | "
            f"{count * months / secs:,.0f} | {per_loop / per:.1f}× |"
        )
    lines += [
        "",
        "The Python loop calls the same engine once per scenario (S = 1); the batch runs all",
        "scenarios in one call, vectorised over the scenario axis, so the per-call overhead of",
        "resolving levers and stepping 60 months is paid once.",
        "",
    ]
    write_section("engine", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
