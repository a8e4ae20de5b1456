"""Calibrate Wiltshire from the DfE's SEN2 statistics and check a year ahead against reality.

Calibrates to the January 2024 census (stock by age and placement; the 2023 flows of
requests, assessments, new plans and ceased plans), projects a year, and compares the plans
projected for January 2025 with the 6,383 the January 2025 census counted.

Source: DfE, Education, health and care plans (SEN2), 2025 release, OGL v3.0 (shipped with
the package). Run from the project root: ``python examples/wiltshire_from_data.py``.
"""

from __future__ import annotations

from dsg_forecast import project
from dsg_forecast.data import council_rows
from dsg_forecast.estimation.calibration import calibrate_detailed

calibration = calibrate_detailed("Wiltshire", to_year=2024, years=1)
for note in calibration.notes:
    value = "(by age)" if isinstance(note.value, dict) else note.value
    print(f"{note.field:<28} {value!s:<12} {note.method} [{note.years}]")

result = project(calibration.scenario, savings=False)
projected = result.monthly.loc["2024-12", "stock"]  # the end of December: the January census
totals = council_rows("totals", calibration.council)
actual = totals[(totals["placement"] == "total") & (totals["year"] == 2025)]["plans"].iloc[0]
print(
    f"\nplans in January 2025: projected {projected:,.0f}, counted {actual:,.0f} "
    f"({projected / actual - 1:+.1%})"
)

by_placement = result.monthly.loc["2024-12"].filter(like="stock_").rename(lambda c: c[6:])
counted = totals[totals["year"] == 2025].set_index("placement")["plans"]
print("\nby placement, January 2025:")
shown = {p.name: p.shown for p in calibration.scenario.placements}  # placements in words
for placement, value in by_placement.items():
    name = shown[str(placement)]
    print(f"  {name:<26} projected {value:7,.0f}   counted {counted.get(placement, 0):7,.0f}")
