"""How long a command takes to start: each command run as a user runs it, best of seven.

``dsg-forecast --help`` is the interpreter and the command's own imports; ``validate`` adds
the schema (pydantic); ``run`` adds pandas and numpy, the projection and printing it;
``compare`` and a one-scenario ``solve`` add the sweeps' batches (and ``solve`` numba). The
imports each needs are timed with ``python -X importtime``. Writes its section of
``benchmarks/README.md``.

Run from the project root: ``python benchmarks/startup.py`` (about ten seconds).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from _report import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
PLAN = "examples/wiltshire_plan_2024.yaml"
TREND = "examples/wiltshire_current_trend_2024.yaml"
SOLVE = "--lever demand.plan_rate --low 0.5612 --high 0.936 --target balance:2028-29"
COMMANDS = {
    "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
    "dsg-forecast --help": [sys.executable, "-m", "dsg_forecast.cli", "--help"],
    f"dsg-forecast validate {PLAN}": [sys.executable, "-m", "dsg_forecast.cli", "validate", PLAN],
    f"dsg-forecast run {PLAN}": [sys.executable, "-m", "dsg_forecast.cli", "run", PLAN],
    f"dsg-forecast compare {PLAN} {TREND}": [
        sys.executable, "-m", "dsg_forecast.cli", "compare", PLAN, TREND,
    ],
    f"dsg-forecast solve {PLAN} {SOLVE}": [
        sys.executable, "-m", "dsg_forecast.cli", "solve", PLAN, *SOLVE.split(),
    ],
}  # fmt: skip
REPEATS = 7


def best_of(command: list[str]) -> float:
    """Return the fastest of :data:`REPEATS` runs, in seconds."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def import_seconds(command: list[str]) -> float:
    """Return the time the command spends importing modules (``-X importtime``), the
    least of :data:`REPEATS` runs (one run's figure swings by a third on this machine)."""
    timed = [command[0], "-X", "importtime", *command[1:]]
    best = float("inf")
    for _ in range(REPEATS):
        ran = subprocess.run(timed, cwd=ROOT, capture_output=True, text=True, check=True)
        total = 0
        for line in ran.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
            if match:  # top-level imports only: one space before the name
                total += int(match.group(1))
        best = min(best, total / 1e6)
    return best


def main() -> None:
    lines = [
        "## Startup: how long a command takes before it does anything",
        "",
        f"Machine: {machine()}.",
        "",
        "Each command as a user runs it (a fresh interpreter), fastest of seven; the imports "
        "are the command's top-level imports as `python -X importtime` counts them, least of "
        "seven (it slows them a little).",
        "",
        "| command | seconds | of which imports |",
        "| --- | ---: | ---: |",
    ]
    for name, command in COMMANDS.items():
        seconds = best_of(command)
        imports = import_seconds(command)
        lines.append(f"| `{name}` | {seconds:.2f} | {imports:.2f} |")
        print(name, seconds, imports, file=sys.stderr)
    lines += [
        "",
        "`import dsg_forecast` loads names on first use, and each command imports what it "
        "needs when it runs, so `--help` loads neither pandas, pydantic nor scipy. A projection "
        "needs pydantic (the schema) and pandas (its results); those two are most of `run`'s "
        "start. `compare` and a one-scenario `solve` run batches through the sweeps' machinery "
        "but never draw a design, so they do not import scipy.stats (half a second; a test "
        "checks it); `solve` also compiles its batches with numba. `validate` checks the "
        "plan's `fit:` section without importing scipy (only fitting needs scipy.optimize), "
        "and reads YAML with libyaml's parser: on this machine it took 1.2 s before both. "
        "Regenerate with "
        "`python benchmarks/startup.py`.",
    ]
    write_section("startup", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
