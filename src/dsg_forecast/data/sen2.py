"""Read the DfE's "Education, health and care plans" (SEN2) releases into tidy tables.

Two formats are supported, as councils download them from Explore Education Statistics:

- the person-level collection (reporting year 2025 release: ``caseload.csv``,
  ``newplans.csv``, ``requests.csv``, ``assessments.csv``, ``timeliness_20_week.csv``,
  ``ceased_plans.csv``, ...), and
- the older aggregate collection (reporting year 2022 release: ``sen2_estab_caseload.csv``,
  ``sen2_age_caseload.csv``, ``sen2_mi.csv``, ...),

either as the release zip or as its extracted folder. Cells the DfE withholds or marks
(``x`` suppressed, ``c`` confidential, ``z`` not applicable, ``u`` low reliability,
``:`` not available) become missing values and are counted. Years follow the data guidance:
a stock is counted at the January census of the time period's second calendar year
(``202324`` is January 2024, year 2024); a flow is for the calendar year named. The
collection moved to person level in 2023, so values from 2023 on are flagged
``break_in_series``.

Source: Department for Education, Education, health and care plans (SEN2), Open
Government Licence v3.0.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from dsg_forecast.errors import DsgForecastError, as_path, check_kind

#: Markers the DfE uses for values it does not publish.
MARKERS: Final = {
    "x": "suppressed",
    "c": "confidential",
    "z": "not applicable",
    "u": "low reliability",
    ":": "not available",
    "low": "rounds to zero",
}
#: The first January (and calendar year) of the person-level collection.
PERSON_LEVEL_FROM: Final = 2023

#: Columns that describe a row rather than count something.
ID_COLUMNS: Final = (
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "new_la_code", "old_la_code", "la_name",
    "breakdown_topic", "breakdown", "characteristic_age", "establishment_type",
    "establishment_group",
)  # fmt: skip

Format = Literal["person-level", "aggregate"]


class Sen2Error(DsgForecastError, ValueError):
    """A file is not an SEN2 release this library can read."""


@dataclass
class Release:
    """An SEN2 release: its format and its data files (as text, unparsed)."""

    source: str
    format: Format
    files: dict[str, pd.DataFrame] = field(repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """One data file as read (every cell text), by file name without ``.csv``.

        Parameters
        ----------
        name
            The data file's name without ``.csv``.

        Returns
        -------
        DataFrame
            Every cell as text.

        Raises
        ------
        Sen2Error
            If the release has no such file, naming those it has.
        """
        if name not in self.files:
            msg = f"{self.source} has no file {name}.csv; it has {sorted(self.files)}"
            raise Sen2Error(msg)
        return self.files[name]


def _read_csv(handle: Any, name: str) -> pd.DataFrame:
    """Read one of a release's CSVs as text, saying which one pandas could not read."""
    try:
        return pd.read_csv(handle, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        msg = f"{name} is not an SEN2 data file this tool can read ({reason})"
        raise Sen2Error(msg) from None


def read_release(path: str | Path) -> Release:
    """Read an SEN2 release zip, or a folder holding its extracted CSVs.

    Parameters
    ----------
    path
        The release zip, or the folder of its extracted CSVs.

    Returns
    -------
    Release
        The release's data files, read on demand.

    Raises
    ------
    Sen2Error
        If the path does not exist, holds no SEN2 data files, or a CSV pandas cannot read.
    ArgumentTypeError
        If ``path`` is not a path (``None``).
    ArgumentError
        If it is empty (the current folder, whose CSVs were read as a release's).
    """
    where = as_path(path, "an SEN2 release zip or folder", "path")  # "": the current folder
    files: dict[str, pd.DataFrame] = {}
    if where.is_file() and zipfile.is_zipfile(where):
        with zipfile.ZipFile(where) as archive:
            for member in archive.namelist():
                name = Path(member).name
                if member.endswith(".csv") and "/data/" in f"/{member}":
                    with archive.open(member) as raw:
                        files[name.removesuffix(".csv")] = _read_csv(raw, f"{where}:{member}")
    elif where.is_dir():
        for csv in sorted(where.rglob("*.csv")):
            if "supporting-files" not in csv.parts:
                with csv.open("rb") as raw:
                    files[csv.stem] = _read_csv(raw, str(csv))
    else:
        msg = f"{where} is neither an SEN2 release zip nor a folder of its CSVs"
        raise Sen2Error(msg)
    if "caseload" in files:
        kind: Format = "person-level"
    elif "sen2_estab_caseload" in files:
        kind = "aggregate"
    else:
        msg = (
            f"{where} holds no SEN2 caseload file (caseload.csv or sen2_estab_caseload.csv); "
            f"found {sorted(files) or 'no CSV files'}"
        )
        raise Sen2Error(msg)
    return Release(str(where), kind, files)


def year_of(time_period: pd.Series[str]) -> pd.Series[int]:
    """``202324`` → 2024 (the January census), ``2023`` → 2023 (a calendar year).

    Parameters
    ----------
    time_period
        The releases' ``time_period`` column.

    Returns
    -------
    Series of int
        The census year or calendar year of each row.
    """
    text = time_period.astype(str).str.strip()
    six = text.str.len() == 6
    return pd.Series(
        np.where(six, text.str[:4].astype(int) + 1, text.astype(int)),
        index=text.index,
        dtype="int64",
    )


def numbers(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Convert text cells to numbers; markers become NaN and are counted by meaning.

    Parameters
    ----------
    frame
        A data file as read (text cells).
    columns
        The columns to convert.

    Returns
    -------
    frame : DataFrame
        The frame with those columns as floats.
    markers : dict of str to int
        How many cells each kind of marker (withheld, not applicable, ...) stood in.
    """
    counts: dict[str, int] = {}
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        text = frame[column].str.strip()
        for marker, meaning in MARKERS.items():
            hits = int((text == marker).sum())
            if hits:
                counts[meaning] = counts.get(meaning, 0) + hits
        out[column] = pd.to_numeric(text.where(~text.isin([*MARKERS, ""])), errors="coerce")
    return out, counts


def tidy(release: Release, name: str) -> pd.DataFrame:
    """One data file as a tidy long table.

    Columns: ``geography_level, geography_code, old_la_code, geography_name, year,
    breakdown_topic, breakdown, measure, value, break_in_series``. Missing values are
    withheld or not applicable cells; ``attrs["withheld"]`` counts them by meaning.

    Parameters
    ----------
    release
        The release.
    name
        The data file's name without ``.csv``.

    Returns
    -------
    DataFrame
        One row per council, year and measure, values as numbers; values from 2023 on are
        flagged ``break_in_series``.
    """
    check_kind(release, Release, "release", "a release: read_release(path)")
    check_kind(name, str, "name", "a data file's name without .csv")
    raw = release.table(name)
    ids = [column for column in ID_COLUMNS if column in raw.columns]
    measures = [column for column in raw.columns if column not in ids]
    values, counts = numbers(raw, measures)
    code = raw.get("new_la_code", pd.Series("", index=raw.index)).where(
        lambda c: c != "", raw.get("region_code", pd.Series("", index=raw.index))
    )
    code = code.where(code != "", raw["country_code"])
    name_column = raw.get("la_name", pd.Series("", index=raw.index))
    name_column = name_column.where(name_column != "", raw.get("region_name", ""))
    name_column = name_column.where(name_column != "", raw["country_name"])
    # aggregate files name the grouping of an establishment type, or break down by age
    topic = raw.get("breakdown_topic", raw.get("establishment_group", "age"))
    breakdown = raw.get("breakdown", raw.get("characteristic_age", raw.get("establishment_type")))
    base = pd.DataFrame(
        {
            "geography_level": raw["geographic_level"],
            "geography_code": code,
            "old_la_code": raw.get("old_la_code", ""),
            "geography_name": name_column,
            "year": year_of(raw["time_period"]),
            "breakdown_topic": topic,
            "breakdown": breakdown,
        }
    )
    long = base.join(values).melt(
        id_vars=list(base.columns), value_vars=measures, var_name="measure", value_name="value"
    )
    long["break_in_series"] = long["year"] >= PERSON_LEVEL_FROM
    long.attrs["withheld"] = counts
    return long
