"""Build the compact SEN2 tables shipped inside the package from the DfE's release files.

``python -m dsg_forecast.data.build RELEASE_2025 RELEASE_2022 OUT_DIR`` writes, for England
and every local authority:

- ``councils.csv``: old and new LA codes, names and regions;
- ``stock.parquet``: plans at each January census 2019-2025 by single age (0-25) and
  placement;
- ``totals.parquet``: plans at each January 2010-2025 by placement and in total (2019 on
  from the 2025 release, earlier from the 2022 release; before 2014 statements of SEN
  count as plans);
- ``flows.parquet``: each calendar year's requests, decisions, assessments, new plans,
  ceased plans and 20-week timeliness;
- ``new_plans.parquet``: new plans 2022-2024 by age when the plan started and placement;
- ``ceased.parquet``: ceased plans 2023-2024 by age.

Withheld cells are stored as missing. Source: DfE, Education, health and care plans (SEN2),
Open Government Licence v3.0.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from dsg_forecast.data.placements import COLUMNS, placement_of_establishment
from dsg_forecast.data.sen2 import Release, numbers, read_release, year_of
from dsg_forecast.errors import as_path

GEOGRAPHY = ["geography_code", "old_la_code"]
KEYS = [*GEOGRAPHY, "year"]
MAX_AGE = 25


def _geography(raw: pd.DataFrame) -> pd.DataFrame:
    code = raw["new_la_code"].where(raw["new_la_code"] != "", raw["country_code"])
    national = raw["geographic_level"] == "National"
    keep = national | (raw["geographic_level"] == "Local authority")
    return pd.DataFrame(
        {
            "geography_code": code,
            "old_la_code": raw["old_la_code"].where(~national, "E"),
            "year": year_of(raw["time_period"]),
            "keep": keep,
        },
        index=raw.index,
    )


def _age(label: pd.Series[str]) -> pd.Series[float]:
    """Return the age a SEN2 age label stands for.

    ``age 7`` / ``Aged 7`` → 7; ``age 20 and over`` → 20; ``age 2 and under`` → 2; and
    ``under 3`` → 2 (the census's youngest band, children aged 0 to 2, placed at 2).
    """
    digits = pd.to_numeric(label.str.extract(r"(\d+)", expand=False), errors="coerce")
    below = label.str.strip().str.lower().str.startswith("under ")
    return digits - below.astype(float)


def _placements(raw: pd.DataFrame, mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Sum SEN2 placement columns into placements (the default mapping, or ``mapping``)."""
    table = COLUMNS if mapping is None else mapping
    values, _ = numbers(raw, [column for column in table if column in raw.columns])
    values = values.fillna(0.0)
    names = list(dict.fromkeys(table.values()))
    out = pd.DataFrame(0.0, index=raw.index, columns=names)
    for column, placement in table.items():
        if column in values:
            out[placement] += values[column]
    if mapping is None:
        out["elsewhere"] -= values.get("neet", 0.0)  # ed_elsewhere already counts NEET
    return out


def _by_age_and_placement(
    release: Release, name: str, topic: str, mapping: Mapping[str, str] | None
) -> pd.DataFrame:
    """Plans by single age (``topic``'s breakdown, ages 0-25) and placement, long form."""
    raw = release.table(name)
    raw = raw[raw["breakdown_topic"] == topic]
    geo = _geography(raw)
    wide = _placements(raw, mapping)
    wide[KEYS] = geo[KEYS]
    wide["age"] = _age(raw["breakdown"])
    wide = wide[geo["keep"] & wide["age"].le(MAX_AGE)]  # also drops "unknown" (no age)
    long = wide.melt(id_vars=[*KEYS, "age"], var_name="placement", value_name="plans")
    return long.astype({"age": "int16", "year": "int16", "plans": "float32"})


def stock(release: Release, mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Plans at each January by single age and placement (person-level release).

    ``mapping`` (SEN2 column → placement) replaces the default grouping.

    Parameters
    ----------
    release
        The 2025 release.
    mapping
        SEN2 placement category → model placement (default: the shipped mapping).

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``old_la_code``, ``year``, ``age``, ``placement``, ``plans``.
    """
    return _by_age_and_placement(release, "caseload", "Child or young persons age", mapping)


def totals(release_2025: Release, release_2022: Release) -> pd.DataFrame:
    """Plans at each January by placement and in total, 2010-2025.

    Parameters
    ----------
    release_2025
        The 2025 release (person-level data from 2023 on).
    release_2022
        The 2022 release (aggregate data from 2010).

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``old_la_code``, ``year``, ``placement`` (or ``total``),
        ``plans`` and ``collection``.
    """
    raw = release_2025.table("caseload")
    raw = raw[raw["breakdown_topic"] == "All EHC plans"]
    geo = _geography(raw)
    wide = _placements(raw)
    wide["total"] = numbers(raw, ["ehcplans"])[0]["ehcplans"]
    wide[KEYS] = geo[KEYS]
    recent = wide[geo["keep"]].melt(id_vars=KEYS, var_name="placement", value_name="plans")
    old = release_2022.table("sen2_estab_caseload")
    geo_old = _geography(old)
    counts, _ = numbers(old, ["Total_all"])
    frame = pd.DataFrame(
        {
            **{column: geo_old[column] for column in KEYS},
            "group": old["establishment_group"].str.strip(),
            "type": old["establishment_type"].str.strip(),
            "plans": counts["Total_all"],
        }
    )
    frame = frame[geo_old["keep"] & (frame["year"] < 2019)]
    is_total = frame["type"] == "Total"
    grand = frame[is_total & (frame["group"] == "Total")].assign(placement="total")
    typed = frame[~is_total].assign(placement=frame["type"].map(placement_of_establishment))
    grouped = typed.groupby([*KEYS, "placement"], as_index=False)["plans"].sum(min_count=1)
    earlier = pd.concat([grand[[*KEYS, "placement", "plans"]], grouped])
    both = pd.concat(
        [earlier.assign(collection="aggregate"), recent.assign(collection="person-level")]
    )
    both.loc[both["year"] < 2023, "collection"] = np.where(
        both.loc[both["year"] < 2023, "year"] >= 2019, "2025 release (revised)", "aggregate"
    )
    return both.astype({"year": "int16", "plans": "float32"}).reset_index(drop=True)


def flows(release_2025: Release, release_2022: Release) -> pd.DataFrame:
    """Each calendar year's requests, decisions, assessments, new and ceased plans, timeliness.

    Parameters
    ----------
    release_2025
        The 2025 release (person-level data from 2023 on).
    release_2022
        The 2022 release (aggregate data from 2010).

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``old_la_code``, ``year``, ``measure``, ``value``.
    """
    specs = {
        "requests": ("All requests for EHC needs assessments", {
            "requests_received_in_year": "requests",
            "requests_decided_to_assess": "decided_to_assess",
            "requests_decided_not_to_assess": "decided_not_to_assess",
        }),
        "assessments": ("All EHC needs assessments", {
            "assess_in_year": "assessments",
            "assess_issued": "assessments_issued",
            "assess_not_issued": "assessments_not_issued",
        }),
        "newplans": ("New EHC plans", {"new_ehc_plans": "new_plans"}),
        "ceased_plans": ("All ceased EHC plans", {"total_ceased": "ceased"}),
        "timeliness_20_week": ("All EHC plans issued", {
            "plans_issued_den_ex": "issued_excluding_exceptions",
            "plans_issued_20_weeks_ex": "within_20_weeks_excluding_exceptions",
            "plans_issued_gt20weeks_ltYear_ex": "over_20_weeks_under_a_year_excluding_exceptions",
            "plans_issued_gt_1_year_ex": "over_a_year_excluding_exceptions",
        }),
    }  # fmt: skip
    parts = []
    for file, (breakdown, measures) in specs.items():
        raw = release_2025.table(file)
        raw = raw[raw["breakdown"] == breakdown]
        geo = _geography(raw)
        values, _ = numbers(raw, list(measures))
        values = values.rename(columns=measures)
        values[KEYS] = geo[KEYS]
        parts.append(values[geo["keep"]].melt(id_vars=KEYS, var_name="measure", value_name="value"))
    mi = release_2022.table("sen2_mi")
    geo = _geography(mi)
    old_measures = {
        "InreqEHC": "requests",
        "NewallEHC": "new_plans",
        "AssRefusedEHC": "decided_not_to_assess",
    }
    values, _ = numbers(mi, list(old_measures))
    values = values.rename(columns=old_measures)
    values[KEYS] = geo[KEYS]
    older = values[geo["keep"] & (geo["year"] < 2019)].melt(
        id_vars=KEYS, var_name="measure", value_name="value"
    )
    out = pd.concat([older, *parts], ignore_index=True)
    return out.astype({"year": "int16", "value": "float64"})


def new_plans(release: Release, mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return new plans by age when the plan started and placement (2022 on).

    Parameters
    ----------
    release
        The 2025 release.
    mapping
        SEN2 placement category → model placement (default: the shipped mapping).

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``old_la_code``, ``year``, ``age``, ``placement``, ``plans``.
    """
    return _by_age_and_placement(release, "newplans", "Age when plan started", mapping)


def ceased(release: Release) -> pd.DataFrame:
    """Ceased plans by age when the plan ceased (2023 on); ``age 20 and over`` is age 20.

    Parameters
    ----------
    release
        The 2025 release.

    Returns
    -------
    DataFrame
        Columns ``geography_code``, ``old_la_code``, ``year``, ``age``, ``plans``.
    """
    raw = release.table("ceased_plans")
    raw = raw[raw["breakdown_topic"] == "Age plan ceased"]
    geo = _geography(raw)
    values, _ = numbers(raw, ["total_ceased"])
    frame = pd.DataFrame(
        {
            **{column: geo[column] for column in KEYS},
            "age": _age(raw["breakdown"]),
            "plans": values["total_ceased"],
        }
    )
    frame = frame[geo["keep"] & frame["age"].notna()]
    return frame.astype({"age": "int16", "year": "int16", "plans": "float32"})


def councils(release_2025: Release, release_2022: Release) -> pd.DataFrame:
    """Every council in either release: codes, name (latest), region.

    Parameters
    ----------
    release_2025
        The 2025 release (person-level data from 2023 on).
    release_2022
        The 2022 release (aggregate data from 2010).

    Returns
    -------
    DataFrame
        One row per council: ``geography_code``, ``old_la_code``, ``name``, ``region``.
    """
    rows = []
    for release, table in ((release_2022, "sen2_estab_caseload"), (release_2025, "caseload")):
        raw = release.table(table)
        raw = raw[raw["geographic_level"] == "Local authority"]
        rows.append(raw[["new_la_code", "old_la_code", "la_name", "region_name"]].drop_duplicates())
    both = pd.concat(rows).drop_duplicates(subset=["old_la_code"], keep="last")
    both = both.rename(
        columns={"new_la_code": "geography_code", "la_name": "name", "region_name": "region"}
    )
    england = pd.DataFrame(
        [
            {
                "geography_code": "E92000001",
                "old_la_code": "E",
                "name": "England",
                "region": "England",
            }
        ]
    )
    return pd.concat([england, both.sort_values("name")], ignore_index=True)


def build(release_2025: str | Path, release_2022: str | Path, out: str | Path) -> list[Path]:
    """Write every table; returns the files written.

    Parameters
    ----------
    release_2025, release_2022
        The two releases, as zips or folders of their extracted CSVs.
    out
        The folder to write the tables and ``SOURCE.md`` into.

    Returns
    -------
    list of Path
        The files written.
    """
    recent, older = read_release(release_2025), read_release(release_2022)
    folder = as_path(out, "a folder's path", "out")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    table = councils(recent, older)
    table.to_csv(folder / "councils.csv", index=False)
    written.append(folder / "councils.csv")
    for name, frame in {
        "stock": stock(recent),
        "totals": totals(recent, older),
        "flows": flows(recent, older),
        "new_plans": new_plans(recent),
        "ceased": ceased(recent),
    }.items():
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False, compression="zstd")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 4:
        print("usage: python -m dsg_forecast.data.build RELEASE_2025 RELEASE_2022 OUT_DIR")
        sys.exit(2)
    for path in build(*sys.argv[1:]):
        print(f"{path}: {path.stat().st_size:,} bytes")
