"""How the compiled kernel's time grows with each dimension of a scenario, measured in one run.

A synthetic scenario (every number a labelled benchmark input, not a council's) is varied one
dimension at a time from a base of 60 months, 26 ages, 9 placements, 24 transition rules and
7 interventions (the Wiltshire plan's sizes): months, ages, placements, transition rules and
interventions. Each row times the kernel alone (levers already resolved) on 16,384 scenarios
whose intervention sizes vary, as in a sweep, and the lever resolution before it. Writes its
section of ``benchmarks/README.md``.

Run from the project root: ``python benchmarks/scaling.py`` (about two minutes).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from _report import machine, write_section

SCENARIOS = 16_384
BASE = {"months": 60, "ages": 26, "placements": 9, "rules": 24, "interventions": 7}
VARIED = {
    "months": (12, 36, 60, 120, 240),
    "ages": (6, 13, 26, 31),  # 31 ages (0-30) is the schema's most
    "placements": (3, 6, 9, 18, 36),
    "rules": (0, 12, 24, 48, 96),
    "interventions": (0, 7, 14, 28),
}


def synthetic(months: int, ages: int, placements: int, rules: int, interventions: int) -> Any:
    """Return a valid scenario of the given sizes (benchmark inputs, not real figures)."""
    from dsg_forecast import Scenario
    from dsg_forecast.periods import month_label, month_number

    names = [f"p{k}" for k in range(placements)]
    every = f"0-{ages - 1}"
    data: dict[str, Any] = {
        "start": "2024-04",
        "end": month_label(month_number(2024, 4) + months - 1),
        "ages": {"min": 0, "max": ages - 1},
        "placements": [{"name": n, "tier": 1 + k % 4} for k, n in enumerate(names)],
        "opening_stock": {n: {every: 10.0 * ages} for n in names},
        "demand": {
            "requests_per_year": 1_000,
            "plan_rate": 0.8,
            "new_plan_ages": {every: 1.0},
            "new_plan_mix": {every: dict.fromkeys(names, 1.0 / placements)},
        },
        "ceasing": {"rates": {every: 0.05}},
        # one rule per (source, age) pair at most, so rates out of a placement stay below 1
        "transitions": [
            {
                "from": names[k % placements],
                "to": names[(k + 1) % placements],
                "ages": (k // placements) % ages,
                "rate": 0.05,
            }
            for k in range(rules)
        ],
        "costs": {"unit_cost": {n: 10_000.0 + 1_000 * k for k, n in enumerate(names)}},
        "funding": {"high_needs_block": 1e7},
        "interventions": [
            {
                "name": f"i{k}",
                "start": "2024-09",
                "ramp_months": 6,
                "effects": [
                    {"lever": "unit_cost", "placement": names[k % placements], "multiply": 0.98}
                ],
            }
            for k in range(interventions)
        ],
    }
    return Scenario.model_validate(data)


#: Timed runs of each row; the best is kept (the machine is shared: single runs spike).
ROUNDS = 5


def measure(sizes: dict[str, int]) -> tuple[float, float]:
    """Return (kernel, lever resolution) seconds per scenario for one scenario's sizes."""
    from dsg_forecast import compile_scenario
    from dsg_forecast.engine.numba_kernel import run_numba
    from dsg_forecast.engine.prepare import checked_paths, prepare_inputs
    from dsg_forecast.sweeps import SweepSpec, plan_sweep
    from dsg_forecast.sweeps.parameters import apply_values

    scenario = synthetic(**sizes)
    if sizes["interventions"]:  # vary the first intervention's size, as a sweep does
        spec = SweepSpec.model_validate(
            {"parameters": {"interventions[0].effects[0].multiply": {"dist": "uniform",
             "low": 0.9, "high": 1.0}}, "samples": SCENARIOS, "seed": 1}
        )  # fmt: skip
        plan = plan_sweep(scenario, spec)
        structure = plan.structure
        params = apply_values(plan.base, list(plan.maps), plan.values)
    else:
        structure, base = compile_scenario(scenario)
        params = base.repeat(SCENARIOS)
    small = params.take(slice(0, 64))
    run_numba(structure, small, prepare_inputs(structure, small, checked_paths(structure, small)),
              full=False, keep_stock=False)  # fmt: skip
    levers = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        prepared = prepare_inputs(structure, params, checked_paths(structure, params))
        levers = min(levers, time.perf_counter() - start)
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run_numba(structure, params, prepared, full=False, keep_stock=False)
        best = min(best, time.perf_counter() - start)
    return best / SCENARIOS, levers / SCENARIOS


def main() -> None:
    import numba

    numba.set_num_threads(1)  # one core: the other core's load does not enter the kernel
    lines = [
        "## Scaling: the kernel's time by the size of a scenario",
        "",
        f"Machine: {machine()}.",
        "",
        "A synthetic scenario (benchmark inputs, not a council's), varied one dimension at a "
        "time from the Wiltshire plan's sizes (60 months, 26 ages, 9 placements, 24 rules, 7 "
        f"interventions); {SCENARIOS:,} scenarios a row, the first intervention's size varying "
        "as in a sweep. Kernel: the compiled month on one thread, levers already resolved "
        "(best of five; on both cores it bounced between two speeds as the shared machine's "
        "other core came and went); "
        "levers: resolving and checking them (numpy, one thread; best of five). The cells "
        "column is ages × placements × months: the kernel's work should follow it, and its "
        "time per cell-month should stay flat. Every intervention here acts on the cost per "
        "plan, which the first one's varying size makes differ by scenario, so each further "
        "effect is a pass over a scenarios × months array and the levers grow with the "
        "interventions; an effect on a lever no varying value reaches is resolved once for "
        "all scenarios. A sweep resolves levers on every core, a chunk per thread.",
        "",
        "| varied | value | cells × months | kernel µs/scenario | ns per cell-month | "
        "levers µs/scenario |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, values in VARIED.items():
        for value in values:
            sizes = {**BASE, name: value}
            kernel, levers = measure(sizes)
            cells = sizes["ages"] * sizes["placements"] * sizes["months"]
            lines.append(
                f"| {name} | {value} | {cells:,} | {1e6 * kernel:.2f} | "
                f"{1e9 * kernel / cells:.2f} | {1e6 * levers:.2f} |"
            )
            print(lines[-1], file=sys.stderr)
    lines += ["", "Regenerate with `python benchmarks/scaling.py`."]
    write_section("scaling", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
