"""Run many variants of one scenario in a single vectorised engine call.

The engine takes a model structure (shared) and parameters with a leading scenario axis,
so a batch needs no Scenario object per variant. This is what sweeps build on.

Run from the project root: ``python examples/batch_of_scenarios.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsg_forecast import compile_scenario, load_scenario, run_batch

HERE = Path(__file__).parent

structure, params = compile_scenario(load_scenario(HERE / "wiltshire_plan_2024.yaml"))

# 2,000 variants: requests growth between 0% and 10%, INMSS unit cost ±15%
count = 2_000
rng = np.random.default_rng(20240416)
growth = rng.uniform(0.0, 0.10, count)
inmss = structure.placements.index("inmss")
unit_cost = params.unit_cost.repeat(count, axis=0)  # (scenario, age, placement)
unit_cost[:, :, inmss] *= rng.uniform(0.85, 1.15, count)[:, None]
batch = params.repeat(count).replace(requests_growth=growth, unit_cost=unit_cost)

result = run_batch(structure, batch)
final = result.ledger.cumulative_balance[:, -1] / 1e6
in_year = result.ledger.in_year_balance[:, -1] / 1e6
print(f"{count} scenarios, {structure.n_months} months each")
print(
    f"cumulative balance at the end of {structure.fy_labels[-1]} (£m): "
    f"5%={np.percentile(final, 5):.1f}  median={np.median(final):.1f}  "
    f"95%={np.percentile(final, 95):.1f}"
)
print(f"share of scenarios balancing in {structure.fy_labels[-1]}: {(in_year >= 0).mean():.1%}")
print(
    "correlation of requests growth with the final deficit: "
    f"{np.corrcoef(growth, -final)[0, 1]:.2f}"
)
