"""Project a scenario from Python: the ledger, the summary, monthly series and savings.

Run from the project root: ``python examples/python_api.py``.
"""

from __future__ import annotations

from pathlib import Path

from dsg_forecast import load_scenario, project

HERE = Path(__file__).parent

scenario = load_scenario(HERE / "wiltshire_plan_2024.yaml")
result = project(scenario)

# %% The DSG ledger by financial year (pounds; negative balances are deficits)
print(
    (result.ledger[["income", "expenditure", "in_year_balance", "cumulative_balance"]] / 1e6)
    .round(1)
    .to_string()
)

# %% Headlines
summary = result.summary
print(
    f"\nbalance target met: {summary.target_met}; "
    f"first balanced year: {summary.first_balanced_year}"
)
print(
    f"largest deficit: £{summary.largest_deficit / 1e6:.1f}m "
    f"at the end of {summary.largest_deficit_year}"
)

# %% Monthly series: plans at the end of each January (the SEN2 census month)
monthly = result.monthly
january = monthly[monthly.index.str.endswith("-01")]
print("\nplans in January:", january["stock"].round(0).to_dict())

# %% Each intervention's net saving by FY (£m), and all of them together
savings = result.savings.pivot(index="intervention", columns="financial_year", values="net_saving")
print("\n", (savings / 1e6).round(2).to_string())

# %% A what-if: independent special school fees rise 8% a year, not the plan's 3%
# (`replace` takes the dotted paths of sweeps and validates the result like a file)
dearer = project(scenario.replace({"costs.uplift.inmss": 0.08}), savings=False)
extra = dearer.ledger["expenditure"] - result.ledger["expenditure"]
print("\nextra spend if INMSS fees rise 8% a year (£m):", (extra / 1e6).round(2).to_dict())
