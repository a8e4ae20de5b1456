"""Real data: the DfE's SEN2 statistics, read, shipped compactly, and used to calibrate.

``sen2`` reads the release files councils download; the package ships the tables the
library needs (``tables/``, built by :mod:`dsg_forecast.data.build` from the 2025 and 2022
releases) so that calibration, examples and tests run offline.

Source: Department for Education, "Education, health and care plans" (SEN2), reporting
years 2022 and 2025, released under the Open Government Licence v3.0.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from dsg_forecast.errors import ArgumentError, ArgumentTypeError, DsgForecastError

TABLES = ("stock", "totals", "flows", "new_plans", "ceased")
SOURCE = (
    "Department for Education, Education, health and care plans (SEN2), 2025 and 2022 "
    "releases; Open Government Licence v3.0"
)


class CouncilNotFoundError(DsgForecastError, LookupError):
    """No council matches the name or code given."""


@dataclass(frozen=True)
class Council:
    """A local authority (or England), as the SEN2 tables name it."""

    name: str
    geography_code: str
    """New (ONS) code, for example ``E06000054``."""
    old_la_code: str
    """Old three-digit LA code, for example ``865``; ``E`` for England."""
    region: str


@cache
def table(name: str) -> pd.DataFrame:
    """One of the shipped tables: ``stock``, ``totals``, ``flows``, ``new_plans``, ``ceased``."""
    if name not in TABLES:
        msg = f"no shipped table {name!r}; the tables are {list(TABLES)}"
        raise ArgumentError(msg)
    with resources.as_file(resources.files(__package__) / "tables" / f"{name}.parquet") as path:
        return pd.read_parquet(path)


@cache
def councils() -> pd.DataFrame:
    """Every council in the shipped tables, with its codes and region."""
    with resources.as_file(resources.files(__package__) / "tables" / "councils.csv") as path:
        return pd.read_csv(path, dtype=str)


def find_council(query: str) -> Council:
    """Find a council by name (any case), old LA code (``865``) or new code (``E06000054``).

    Parameters
    ----------
    query
        A name (any case; close names are suggested), an old LA code or a new code.

    Returns
    -------
    Council
        The council's codes, latest name and region.

    Raises
    ------
    CouncilNotFoundError
        With the closest names, if nothing matches.
    ArgumentTypeError
        If ``query`` is not text.
    """
    if not isinstance(query, str):  # 865 (Wiltshire's old code) had no attribute strip
        msg = f"council is {query!r}; give its name or code as text, for example '865'"
        raise ArgumentTypeError(msg)
    frame = councils()
    text = query.strip()
    match = frame[
        (frame["old_la_code"] == text)
        | (frame["geography_code"].str.upper() == text.upper())
        | (frame["name"].str.casefold() == text.casefold())
    ]
    if match.empty:
        close = _close_names(text, frame["name"].tolist())
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        msg = f"no council called or coded {query!r} in the SEN2 tables{hint}"
        raise CouncilNotFoundError(msg)
    row = match.iloc[0]
    return Council(row["name"], row["geography_code"], row["old_la_code"], row["region"])


def _close_names(text: str, names: list[str]) -> list[str]:
    """Return up to three names a query may mean: those holding its words, then similar ones.

    ``Hull`` finds "Kingston upon Hull, City of" and ``herefordshire`` "Herefordshire,
    County of" (similar spelling alone offered Hertfordshire).
    """
    words = re.findall(r"\w+", text.casefold())
    holding = [
        name for name in names if words and all(
            re.search(rf"\b{re.escape(word)}\b", name.casefold()) for word in words
        )
    ]  # fmt: skip
    folded = {name.casefold(): name for name in names}
    similar = difflib.get_close_matches(text.casefold(), list(folded), n=3, cutoff=0.6)
    return list(dict.fromkeys([*holding, *(folded[name] for name in similar)]))[:3]


def council_rows(
    name: str, council: Council, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Rows of a table for one council (the shipped table, or ``tables[name]``).

    Parameters
    ----------
    name
        A shipped table: ``stock``, ``totals``, ``flows``, ``new_plans`` or ``ceased``.
    council
        The council.
    tables
        Tables to read instead of the shipped ones (same names and columns).

    Returns
    -------
    DataFrame
        The table's rows for the council.
    """
    frame = table(name) if tables is None else tables[name]
    return frame[frame["old_la_code"] == council.old_la_code]


def plans_by_year(totals: pd.DataFrame, code: str, placement: str = "total") -> dict[int, float]:
    """Return a council's plans at each January, year → count (withheld years left out).

    Parameters
    ----------
    totals
        The ``totals`` table (or rows of it).
    code
        The council's old LA code (``"E"`` for England).
    placement
        ``total`` or a placement's name.

    Returns
    -------
    dict of int to float
        Plans counted at each January census.
    """
    rows = _council_measure(totals, "totals", code, "placement", placement, "plans")
    return {
        int(year): float(plans)
        for year, plans in zip(rows["year"], rows["plans"], strict=True)
        if np.isfinite(plans)
    }


def requests_by_year(flows: pd.DataFrame, code: str) -> dict[int, float]:
    """Return a council's requests for an EHC needs assessment in each calendar year.

    Parameters
    ----------
    flows
        The ``flows`` table (or rows of it).
    code
        The council's old LA code (``"E"`` for England).

    Returns
    -------
    dict of int to float
        Requests in each calendar year (withheld years left out).
    """
    return _measure_by_year(flows, code, "requests")


def refused_by_year(flows: pd.DataFrame, code: str) -> dict[int, float]:
    """Return a council's decisions not to assess (requests refused) in each calendar year.

    Parameters
    ----------
    flows
        The ``flows`` table (or rows of it).
    code
        The council's old LA code (``"E"`` for England).

    Returns
    -------
    dict of int to float
        Decisions not to assess in each calendar year (withheld years left out).
    """
    return _measure_by_year(flows, code, "decided_not_to_assess")


def _measure_by_year(flows: pd.DataFrame, code: str, measure: str) -> dict[int, float]:
    rows = _council_measure(flows, "flows", code, "measure", measure, "value")
    return {
        int(year): float(value)
        for year, value in zip(rows["year"], rows["value"], strict=True)
        if np.isfinite(value)
    }


def _council_measure(
    rows: pd.DataFrame, name: str, code: object, column: str, value: str, numbers: str
) -> pd.DataFrame:
    """Return a council's rows of one measure (or placement), refusing what matches nothing.

    A council's name where its code belongs, or a placement misspelt, gave no rows and so an
    empty result, as if the years had all been withheld; a table of another kind ended in a
    ``TypeError`` or ``KeyError`` inside pandas.
    """
    if not isinstance(rows, pd.DataFrame):
        kind = type(rows).__name__
        msg = f"{name} is a {kind}; give the {name} table: dsg_forecast.data.table({name!r})"
        raise ArgumentTypeError(msg)
    missing = [c for c in ("old_la_code", column, "year", numbers) if c not in rows.columns]
    if missing:
        msg = f"{name} has no column {missing[0]!r}; give the {name} table (or rows of it)"
        raise ArgumentError(msg)
    council = rows["old_la_code"] == code if isinstance(code, str) else None
    if council is None or not council.any():
        found = None
        if isinstance(code, str):
            with contextlib.suppress(CouncilNotFoundError):
                found = find_council(code).old_la_code
        hint = f" ({code}'s is {found!r})" if found and found != code else ""
        if isinstance(code, int) and not isinstance(code, bool):
            hint = f" as text ({str(code)!r})"
        msg = (
            f"no rows for old LA code {code!r} in the {name} given; give a council's old LA "
            f"code{hint}, as find_council(name).old_la_code gives it"
        )
        raise ArgumentError(msg)
    measure = rows[column] == value
    if not measure.any():
        choices = sorted(str(v) for v in rows[column].unique())
        msg = f"no {column} {value!r} in the {name} given; the {column}s are {choices}"
        raise ArgumentError(msg)
    return rows[council & measure]


__all__ = [
    "SOURCE",
    "TABLES",
    "Council",
    "CouncilNotFoundError",
    "council_rows",
    "councils",
    "find_council",
    "plans_by_year",
    "refused_by_year",
    "requests_by_year",
    "table",
]
