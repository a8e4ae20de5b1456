"""The analysis in docs/sweeps.md: how likely is the illustrative Wiltshire plan to balance?

1. Sweep its uncertain assumptions and read off the probabilities of meeting the agreement's
   conditions and the fan of cumulative balances.
2. Rank the assumptions that matter most for 2028-29 (Sobol indices, SALib).
3. Ask what must change to reach 80% confidence, one lever at a time.

Run from the project root: ``python examples/wiltshire_sweep_analysis.py [--samples N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dsg_forecast.sweeps import load_sweep, run_sweep
from dsg_forecast.sweeps.goal_seek import (
    ConvergenceError,
    Lever,
    parse_target,
    solve,
    solve_probability,
)
from dsg_forecast.sweeps.sensitivity import sobol_indices

HERE = Path(__file__).parent

parser = argparse.ArgumentParser()
parser.add_argument("--samples", type=int, default=20_000)
parser.add_argument("--sobol", type=int, default=2048, help="Sobol base samples")
arguments = parser.parse_args()

scenario, spec = load_sweep(HERE / "wiltshire_sweep.yaml")
spec = spec.model_copy(update={"samples": arguments.samples})

# %% 1. The sweep
result = run_sweep(scenario, spec)
summary = result.summary()
print(f"## 1. {summary.samples:,} scenarios")
print(f"P(in-year balance >= 0 from 2028-29) = {summary.probability_target_met:.1%}")
for fy, share in summary.probability_within_cap.items():
    print(f"P(within the {fy} cap of £84.5m) = {share:.1%}")
print("\nCumulative balance at the end of each FY (£m):")
print((summary.quantiles.loc["cumulative_balance"] / 1e6).round(1).to_string())
print("\nIn-year balance (£m):")
print((summary.quantiles.loc["in_year_balance"] / 1e6).round(1).to_string())
print("\nPlans at the end of each FY:")
print(summary.quantiles.loc["plans"].round(0).to_string())

# %% 2. What matters most for 2028-29
indices = sobol_indices(scenario, spec, base_samples=arguments.sobol)
for output in ("in_year_balance", "cumulative_balance"):
    chosen = indices[(indices["output"] == output) & (indices["financial_year"] == "2028-29")]
    print(f"\n## 2. Sobol indices, {output} 2028-29")
    print(
        chosen.sort_values("ST", ascending=False)
        .drop(columns=["output", "financial_year"])
        .round(3)
        .to_string(index=False)
    )
first_year = indices[
    (indices["output"] == "cumulative_balance") & (indices["financial_year"] == "2024-25")
]
print("\n## 2b. Sobol indices, cumulative_balance 2024-25 (the cap year)")
print(
    first_year.sort_values("ST", ascending=False)
    .drop(columns=["output", "financial_year"])
    .round(3)
    .to_string(index=False)
)

# %% 3. What must change to reach 80% confidence, one lever at a time
target = parse_target("balance:2028-29")
levers = [
    Lever("demand.requests_per_year", 0.0, 1.0, mode="scale"),
    Lever("costs.fees.inmss", 0.0, 1.0, mode="scale"),
    Lever("funding.growth", 0.0, 0.5, mode="value"),
    Lever("funding.high_needs_block", 0.0, 150_000_000, mode="shift"),
]
print("\n## 3. One lever at a time, for 80% of scenarios to balance from 2028-29")
small = spec.model_copy(update={"samples": min(arguments.samples, 2_000)})
for lever in levers:
    try:
        answer = solve_probability(scenario, small, lever, target, 0.8)
        print(
            f"{lever.path} ({lever.mode}): {answer['solution']:.6g} "
            f"-> {answer['probability']:.1%} of {answer['scenarios']:,} scenarios"
        )
    except ConvergenceError as exc:
        print(f"{lever.path} ({lever.mode}): not reachable: {exc}")

# the same question scenario by scenario: extra high-needs funding each needs to balance
needed = solve(
    scenario, Lever("funding.high_needs_block", 0.0, 150_000_000, mode="shift"), target, spec=small
)
print("\nExtra high needs block from 2024-25 each scenario needs to balance from 2028-29 (£m):")
extra = (needed["solution"] / 1e6).describe(percentiles=[0.05, 0.5, 0.8, 0.95])
print(extra.round(1).to_string())
print(f"scenarios without a solution below £150m: {needed.attrs['unsolved']}")
