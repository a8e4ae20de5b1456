"""Derive the Wiltshire example's SEN2-based inputs from the DfE release zip.

Source: Department for Education, "Education, health and care plans" (SEN2), reporting
year 2025 release, ``education-health-and-care-plans_2025.zip`` (files ``caseload.csv``,
``newplans.csv``, ``ceased_plans.csv``), Open Government Licence v3.0. A copy ships with
this project's shared data (``../shared/data/sen2``).

Writes ``wiltshire_stock_2024-01.csv`` (plans at the January 2024 census by single age and
placement group) and prints the new-plan age profile and mix (calendar 2023) and ceasing
rates by age (plans ceased in calendar 2023 / January 2024 stock) that
``examples/wiltshire_plan_2024.yaml`` and ``examples/wiltshire_current_trend_2024.yaml`` quote.

Run from the project root: ``python examples/data/make_wiltshire_inputs.py``.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
ZIP = (
    HERE.parents[1] / ".." / "shared" / "data" / "sen2" / "education-health-and-care-plans_2025.zip"
)
LA = "865"  # Wiltshire's old LA code (new code E06000054)

#: SEN2 columns summed into each of the example's placements (they add up to ``ehcplans``).
GROUPS = {
    "mainstream": [
        "mainstream_la_maintained",
        "mainstream_academy",
        "mainstream_free_school",
        "mainstream_independent",
    ],
    "resourced": [
        "mainstream_la_maintained_resourced_provision",
        "mainstream_la_maintained_senunit",
        "mainstream_academy_resourced_provision",
        "mainstream_academy_senunit",
        "mainstream_free_school_resourced_provision",
        "mainstream_free_school_senunit",
    ],
    "special": ["special_la_maintained", "special_academy_free"],
    "inmss": ["special_independent", "special_non_maintained"],
    "ap": ["ap_pru_total"],
    "post16": ["general_fe_tertiary_colleges", "ukrlp_provider"],
    "sppi": ["specialist_post_16_institutions"],
    "early_years": ["nm_early_years"],
    "elsewhere": ["ed_elsewhere", "placement_unknown"],
}


def number(cell: str) -> float:
    """SEN2 marks suppressed or not-applicable cells with letters; count them as 0 here."""
    try:
        return float(cell)
    except ValueError:
        return 0.0


def rows(archive: zipfile.ZipFile, name: str, period: str) -> list[dict[str, str]]:
    member = next(m for m in archive.namelist() if m.endswith(f"data/{name}"))
    with archive.open(member) as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig"))
        return [r for r in reader if r["old_la_code"] == LA and r["time_period"] == period]


def age_of(label: str) -> int | None:
    text = label.removeprefix("age ").replace(" and over", "").replace(" and under", "")
    return int(text) if text.isdigit() else None


def main() -> None:
    archive = zipfile.ZipFile(sys.argv[1] if len(sys.argv) > 1 else ZIP)
    stock_rows = [
        r
        for r in rows(archive, "caseload.csv", "202324")
        if r["breakdown_topic"] == "Child or young persons age"
    ]
    stock = {age: dict.fromkeys(GROUPS, 0.0) for age in range(26)}
    for r in stock_rows:
        age = age_of(r["breakdown"])
        assert age is not None and age <= 25, r["breakdown"]
        for group, columns in GROUPS.items():
            stock[age][group] = sum(number(r[c]) for c in columns)
        assert sum(stock[age].values()) == number(r["ehcplans"]), (age, r["ehcplans"])
    out = HERE / "wiltshire_stock_2024-01.csv"
    with out.open("w", newline="") as handle:
        handle.write(
            "# Wiltshire (LA 865) EHC plans at the January 2024 census by age and placement.\n"
        )
        handle.write(
            "# Source: DfE SEN2 'Education, health and care plans' 2025 release, caseload.csv,\n"
        )
        handle.write("# time_period 202324; Open Government Licence v3.0.\n")
        writer = csv.writer(handle)
        writer.writerow(["age", *GROUPS])
        for age in range(26):
            writer.writerow([age, *(int(stock[age][g]) for g in GROUPS)])
    total = sum(sum(v.values()) for v in stock.values())
    print(f"wrote {out.name}: {total:.0f} plans")

    new = [
        r
        for r in rows(archive, "newplans.csv", "2023")
        if r["breakdown_topic"] == "Age when plan started"
    ]
    counts = {}
    for r in new:
        age = age_of(r["breakdown"]) if "20 and over" not in r["breakdown"] else 20
        if age is None:
            continue
        counts[age] = {g: sum(number(r[c]) for c in cols) for g, cols in GROUPS.items()}
        # the 'mainstream_total' family already excludes nothing: resourced sits inside it
    all_new = sum(number(r["new_ehc_plans"]) for r in new)
    print(f"new plans, calendar 2023: {all_new:.0f}")
    print(
        "new_plan_ages:",
        {a: round(sum(c.values()) / all_new, 4) for a, c in sorted(counts.items())},
    )
    for age, c in sorted(counts.items()):
        total_age = sum(c.values())
        print(f"  mix at {age}:", {g: round(v / total_age, 3) for g, v in c.items() if v})

    ceased = [
        r
        for r in rows(archive, "ceased_plans.csv", "2023")
        if r["breakdown_topic"] == "Age plan ceased"
    ]
    for r in sorted(ceased, key=lambda r: age_of(r["breakdown"]) or 20):
        age = age_of(r["breakdown"]) or 20
        ages = range(20, 26) if "20 and over" in r["breakdown"] else [age]
        base = sum(sum(stock[a].values()) for a in ages)
        print(
            f"  ceasing {r['breakdown']}: {r['total_ceased']} / {base:.0f} = "
            f"{number(r['total_ceased']) / base:.3f}"
        )


if __name__ == "__main__":
    main()
