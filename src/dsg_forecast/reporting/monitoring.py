"""Monitoring against plan: the key-measures table of a Safety Valve monitoring report.

Given a plan (a projection) and actuals (dated key measures), build the table "key measure |
plan forecast | actual | same period last year (change)" with a red, amber or green rating.
The plan figure is read from the **monthly** projection at the actual's date (or summed over
the actual's period, for flows), so seasonality is honoured; the naive pro-rata figure
(the FY-end figure scaled by the share of the year gone) is shown beside it, because that
is what monitoring reports often print and what seasonality makes misleading.

Actuals are a CSV with columns ``date`` (``YYYY-MM-DD`` or ``YYYY-MM``: the end of that
month), ``measure``, ``value`` and optionally ``period_start`` (for flows; default the
start of the date's financial year; shown beside a rate or a target; refused for a count at
the month's end), ``plan`` (the council's own agreed figure, which wins
over the projection's, or a figure the plan sets rather than forecasts, such as a
timeliness target), ``last_year``, ``update`` (the monitoring update a row belongs to: one
history file keeps every update), ``good`` (which way is better: ``higher``, ``lower``,
``either``, or ``neutral`` for a change the council intends, which is not rated) and
``note``. Measures:

=================================  =================================================  =======
measure                            plan figure                                         kind
=================================  =================================================  =======
``ehcps``                          plans at the end of the month                       stock
``stock:P`` (``P+Q`` to add)       plans in placement(s) at the end of the month       stock
``share:P`` (``P+Q`` to add)       share of plans in placement(s)                      share
``requests``, ``new_plans``,       the projection's monthly flow summed over the       flow
``moves_up``, ``moves_down``,      period
``ceased``
``spend``                          all high-needs spending over the period [£]          flow
``spend:L`` for a line L           that line over the period: ``place_funding``,        flow
                                   ``top_up``, ``fees``, ``other_lines`` or
                                   ``mitigations`` [£]
anything else                      the ``plan`` column (a target); no projection       given
=================================  =================================================  =======

RAG: a measure's variance from plan is taken in its bad direction (more EHCPs, requests,
spend or independent placements is worse; fewer plans within 20 weeks or moves down is
worse; the "no to assess" share is neutral by default) and rated green within ``green``
(default 2%), amber within ``amber`` (5%), else red. A row with no plan figure (an unknown
measure, or a date outside the plan, without a ``plan`` figure) is refused, not left
unrated.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, cast

import numpy as np
import pandas as pd

from dsg_forecast._types import FloatArray
from dsg_forecast.errors import (
    ArgumentError,
    Issue,
    ScenarioError,
    as_path,
    check_kind,
    finite_number,
)
from dsg_forecast.io.strict import (
    csv_rows,
    long_rows,
    read_text,
    repeated_columns,
    repeats,
    without_comment_lines,
)
from dsg_forecast.periods import fy_start_year, month_label, month_number, parse_month
from dsg_forecast.reporting.labels import money

if TYPE_CHECKING:
    from dsg_forecast.results import Projection

Direction = Literal["lower", "higher", "either", "neutral"]
DIRECTION_WORDS: Final = ("lower", "higher", "either", "neutral")

#: Which way is better for each measure (``lower``: more is worse; ``neutral``: not rated,
#: for a change the council intends, such as more decisions "not to assess").
DIRECTIONS: Final[dict[str, Direction]] = {
    "ehcps": "lower", "requests": "lower", "new_plans": "lower", "spend": "lower",
    "moves_up": "lower", "moves_down": "higher", "ceased": "higher",
    "within_20_weeks": "higher", "refused_share": "neutral",
    "share:independent_special+non_maintained_special": "lower",
}  # fmt: skip
FLOWS: Final = ("requests", "new_plans", "moves_up", "moves_down", "ceased")

#: Each known measure in words, as the monitoring return prints it.
MEASURE_LABELS: Final[dict[str, str]] = {
    "ehcps": "Number of EHCPs",
    "requests": "EHC needs assessment requests",
    "new_plans": "New EHCPs issued",
    "ceased": "EHCPs ceased",
    "moves_up": 'Moves "up" provision',
    "moves_down": 'Moves "down" provision',
    "refused_share": 'Requests decided "no to assess"',
    "within_20_weeks": "Plans issued within 20 weeks",
    "spend": "High-needs spend",
}


@dataclass(frozen=True)
class Thresholds:
    """Variance from plan, in the bad direction, that turns green to amber and amber to red."""

    green: float = 0.02
    amber: float = 0.05
    directions: Mapping[str, Direction] | None = None

    def __post_init__(self) -> None:
        for name, value in (("green", self.green), ("amber", self.amber)):
            if not finite_number(value):  # typed float, given anything: "0.02" ended in numpy
                msg = f"{name} is {value!r}; it must be a number (0.02 for 2%)"
                raise ScenarioError([Issue("thresholds", msg)])
            if value > 1:  # 2 for 2%: every variance up to 200% rated green
                msg = f"{name} is {value!r}, a variance of {value:.0%}; write 0.02 for 2%"
                raise ScenarioError([Issue("thresholds", msg)])
        unknown = {k: v for k, v in (self.directions or {}).items() if v not in DIRECTION_WORDS}
        if unknown:
            msg = f"directions {unknown}: use higher, lower, either or neutral"
            raise ScenarioError([Issue("thresholds", msg)])
        if not 0 <= self.green <= self.amber:
            msg = (
                f"green {self.green} and amber {self.amber}: they must satisfy "
                "0 <= green <= amber (a variance rated green is smaller than one rated amber)"
            )
            raise ScenarioError([Issue("thresholds", msg)])

    def direction(self, measure: str) -> Direction:
        """Which way is better for a measure.

        Parameters
        ----------
        measure
            A measure's name, as in the actuals CSV.

        Returns
        -------
        str
            ``higher`` or ``lower`` is better, or ``either`` (the distance either way is rated).
        """
        table = {**DIRECTIONS, **(self.directions or {})}
        if measure in table:
            return table[measure]
        if measure.startswith("spend"):
            return "lower"
        if measure.startswith(("share:", "stock:")):
            placements = measure.split(":", 1)[1]
            return "lower" if any(p in placements for p in ("independent", "inmss")) else "either"
        return "either"

    def rate(self, measure: str, plan: float, actual: float, good: Direction | None = None) -> str:
        """``green``, ``amber``, ``red``, ``neutral``, or ``-`` where there is no plan figure.

        Parameters
        ----------
        measure
            A measure's name.
        plan
            The plan's figure.
        actual
            The actual figure.
        good
            Which way is better, if the actuals say (it overrides the defaults).

        Returns
        -------
        str
            The rating of the variance in the bad direction against the thresholds;
            ``neutral`` for a measure whose movement is not rated.
        """
        direction = good or self.direction(measure)
        if direction == "neutral":
            return "neutral"
        if not (np.isfinite(plan) and np.isfinite(actual)) or plan == 0:
            return "-"
        variance = (actual - plan) / abs(plan)
        bad = {"lower": variance, "higher": -variance, "either": abs(variance)}[direction]
        if bad <= self.green:
            return "green"
        return "amber" if bad <= self.amber else "red"


def read_actuals(path: str | Path) -> pd.DataFrame:
    """Read an actuals CSV (see the module's description).

    Parameters
    ----------
    path
        The CSV: ``date, measure, value``, optionally ``period_start``, ``plan``,
        ``last_year``, ``update`` (the monitoring update a row belongs to, such as
        "May 2024": one history file keeps them all), ``good`` (``higher``, ``lower``,
        ``either`` or ``neutral``: which way is better) and ``note``.

    Returns
    -------
    DataFrame
        One row per actual, every optional column present.

    Raises
    ------
    ScenarioError
        Naming the row and column of anything that is not as expected, and any measure
        given twice for the same update and date.
    """
    file = as_path(path, "the actuals CSV's path", "path")
    frame = read_csv_table(file, "actuals")
    missing = set(ACTUALS_COLUMNS) - set(frame.columns)
    if missing:
        raise ScenarioError([Issue("actuals", f"{file} needs columns {sorted(missing)}")])
    for column in OPTIONAL_ACTUALS_COLUMNS:
        if column not in frame:
            frame[column] = ""
    if frame.empty:
        message = f"{file} has a header but no rows: a monitoring return needs an actual"
        raise ScenarioError([Issue("actuals", message)])
    issues = _number_issues(frame, file) + _month_issues(frame, file) + _row_issues(frame, file)
    issues += _range_issues(frame, file) + update_issues(frame, file, "actuals")
    if issues:
        raise ScenarioError(issues)
    return frame


#: The actuals' columns every row needs, and those it may leave out (empty).
ACTUALS_COLUMNS: Final = ("date", "measure", "value")
OPTIONAL_ACTUALS_COLUMNS: Final = ("period_start", "plan", "last_year", "update", "good", "note")


def read_csv_table(file: Path, what: str) -> pd.DataFrame:
    """Read a CSV of text cells, refusing what pandas would read wrongly or not at all.

    Whole-line ``#`` comments are skipped (a ``#`` inside a value is text); a file with no
    rows, a header that names a column twice, a row with more cells than the header (an
    unquoted comma) or text pandas cannot parse is refused, naming the file and the row.

    Parameters
    ----------
    file
        The CSV.
    what
        The input it is, for messages (``actuals``, ``register``).

    Returns
    -------
    DataFrame
        Every cell as text; an empty cell, or a cell a short row lacks, is ``""``.

    Raises
    ------
    ScenarioError
        Naming the file, and the row where there is one.
    """
    text = without_comment_lines(read_text(file, what))
    if not text.strip():
        raise ScenarioError([Issue(what, f"{file} has no rows")])
    twice = repeated_columns(text)
    if twice:
        message = f"{file}: the columns {twice} appear more than once; keep one of each"
        raise ScenarioError([Issue(what, message)])
    long = [
        Issue(
            what,
            f"{file} row {row} has {cells} cells where the header names {width}; a value "
            "holding a comma (a note, a description) must be in double quotes",
        )
        for row, cells, width in long_rows(text)
    ]
    if long:
        raise ScenarioError(long)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:  # an unclosed quote
        message = f"{file} cannot be read as a CSV ({exc}); check its quotes"
        raise ScenarioError([Issue(what, message)]) from None
    frame = frame.fillna("")
    frame.attrs["rows"] = [line for line, _ in csv_rows(text)[1:]]
    return frame


def row_numbers(frame: pd.DataFrame) -> list[int]:
    """Return the row of its file each row of ``frame`` came from, for messages.

    :func:`read_csv_table` keeps the line of the file each row starts on (in
    ``frame.attrs["rows"]``), so a message points at the row a text editor or a
    spreadsheet shows, comments and blank lines included; a frame built otherwise (or
    since filtered) counts its rows from 2, below a header.

    Parameters
    ----------
    frame
        Rows read from a CSV, or built by a caller.

    Returns
    -------
    list of int
        One number per row.
    """
    lines = frame.attrs.get("rows")
    if isinstance(lines, list) and len(lines) == len(frame):
        return lines
    return list(range(2, len(frame) + 2))


def update_issues(frame: pd.DataFrame, file: Path, what: str) -> list[Issue]:
    """Return rows with no ``update`` in a file where other rows name theirs.

    One file may keep every monitoring update (``May 2024``, ``November 2024``) or a single
    one with no ``update`` column; a row left empty among named ones belongs to none of
    them, and was shown as an update of its own.

    Parameters
    ----------
    frame
        The file's rows, as :func:`read_csv_table` reads them.
    file
        The file, for messages.
    what
        The input it is (``actuals``, ``register``).

    Returns
    -------
    list of Issue
        One per row left empty; none when every row or no row names its update.
    """
    updates = frame["update"].str.strip()
    named = list(dict.fromkeys(u for u in updates if u))
    if not named or all(updates):
        return []
    return [
        Issue(
            what,
            f"{file} row {row}, update: empty where other rows name theirs "
            f"({', '.join(named)}); give every row its update",
        )
        for row, update in zip(row_numbers(frame), updates, strict=True)
        if not update
    ]


def _number_issues(frame: pd.DataFrame, file: Path) -> list[Issue]:
    issues = []
    for column in ("value", "plan", "last_year"):
        for row, text in zip(row_numbers(frame), frame[column], strict=True):
            if not text.strip() and column == "value":
                issues.append(Issue("actuals", f"{file} row {row}, value: a value is needed"))
            elif text.strip():
                try:
                    number = float(text.strip().rstrip("%"))
                except ValueError:
                    number = float("nan")
                if not np.isfinite(number):
                    message = f"{file} row {row}, {column}: {text!r} is not a number"
                    if any(mark in text for mark in ",£"):  # as a spreadsheet shows money
                        message += "; write it without thousands separators or £ (5696)"
                    issues.append(Issue("actuals", message))
    return issues


def _month_issues(frame: pd.DataFrame, file: Path) -> list[Issue]:
    issues = []
    for column in ("date", "period_start"):
        for row, text in zip(row_numbers(frame), frame[column], strict=True):
            if text.strip():
                try:
                    parse_month(text.strip()[:7])
                    if len(text.strip()) > 7:  # a day: a whole date, not a month and more
                        datetime.date.fromisoformat(text.strip())
                except ValueError as exc:
                    detail = (
                        f"{text.strip()!r} is not a date; write YYYY-MM-DD or YYYY-MM"
                        if len(text.strip()) > 7
                        else str(exc)
                    )
                    issues.append(Issue("actuals", f"{file} row {row}, {column}: {detail}"))
    return issues


#: Measures that count plans or requests (at least 0, never a percentage) and shares
#: (between 0 and 1, or 0% and 100%).
COUNTS: Final = frozenset({"ehcps", "requests", "new_plans", "moves_up", "moves_down", "ceased"})
SHARES: Final = frozenset({"refused_share", "within_20_weeks"})


def _range_issues(frame: pd.DataFrame, file: Path) -> list[Issue]:
    """Return figures a measure cannot take: a negative count, a share beyond 0..1."""
    issues = []
    for row, record in zip(row_numbers(frame), frame.itertuples(index=False), strict=True):
        measure = str(record.measure).strip()
        count = measure in COUNTS or measure.startswith("stock:")
        share = measure in SHARES or measure.startswith("share:")
        for column in ("value", "plan", "last_year") if count or share else ():
            text = str(getattr(record, column)).strip()
            try:
                number = _number(text)
            except ValueError:  # not a number: _number_issues names it
                continue
            if not np.isfinite(number):  # left empty (or named by _number_issues)
                continue
            where = f"{file} row {row}, {column}: {text!r} for {measure}"
            if count and (text.endswith("%") or number < 0):
                issues.append(Issue("actuals", f"{where} is not a count (a number, at least 0)"))
            elif share and not 0 <= number <= 1:
                message = (
                    f"{where} is not a share between 0 and 1 (0% and 100%); "
                    "write 1.5% for one and a half per cent"
                )
                issues.append(Issue("actuals", message))
    return issues


def _period_issue(start: str, date: str, where: str) -> list[Issue]:
    """Return a period that starts after its date (it would hold no month)."""
    if not start.strip():
        return []
    try:
        first, last = parse_month(start.strip()[:7]), parse_month(date.strip()[:7])
    except ValueError:  # not a month: _month_issues names it
        return []
    if first <= last:
        return []
    message = (
        f"{where}, period_start: {start.strip()!r} is after the date {date.strip()!r}; a "
        "measure's period runs from period_start to its date"
    )
    return [Issue("actuals", message)]


def _row_issues(frame: pd.DataFrame, file: Path) -> list[Issue]:
    """Return problems of whole rows: an unknown direction, a measure given twice."""
    issues = []
    for row, record in zip(row_numbers(frame), frame.itertuples(index=False), strict=True):
        good = str(record.good).strip()
        if good and good not in ("higher", "lower", "either", "neutral"):
            message = (
                f"{file} row {row}, good: {good!r}; use higher, lower, either or neutral "
                "(which way is better)"
            )
            issues.append(Issue("actuals", message))
        issues += _period_issue(str(record.period_start), str(record.date), f"{file} row {row}")
    columns = (frame[name].astype(str).str.strip() for name in ("update", "measure", "date"))
    keys = list(zip(*columns, strict=True))
    rows = row_numbers(frame)
    for position, earlier in repeats(keys, first=0).items():
        _, measure, date = keys[position]
        row, first = rows[position], rows[earlier]
        message = (
            f"{file} row {row}: {measure} at {date} is given again (first at row {first}); "
            "each measure once per update and date"
        )
        issues.append(Issue("actuals", message))
    return issues


def _number(text: str) -> float:
    text = text.strip()
    if not text:
        return float("nan")
    return float(text.rstrip("%")) / 100 if text.endswith("%") else float(text)


SPEND_LINES: Final = ("place_funding", "top_up", "fees", "other_lines", "mitigations")
"""The spending lines monitored one by one (``spend:L``); ``spend`` is their sum."""


def _monthly_spend(projection: Projection) -> pd.DataFrame:
    """Return each month's spending by line, and in total.

    Place funding, top-ups and fees fall as the months do; the other lines and the
    mitigations' own costs are a twelfth of their FY each month.
    """
    monthly = projection.monthly
    ledger = projection.ledger
    counts = monthly.groupby("financial_year").size()
    fy = monthly["financial_year"]
    lines = pd.DataFrame(
        {
            "place_funding": monthly["place_funding"],
            "top_up": monthly["placement_cost"] - monthly["fees"],
            "fees": monthly["fees"],
            "other_lines": fy.map((ledger["other_cost"] / counts).to_dict()),
            "mitigations": fy.map((ledger["intervention_cost"] / counts).to_dict()),
        },
        index=monthly.index,
    ).astype(float)
    lines["total"] = lines.sum(axis=1)
    return lines


def _refusal_path(projection: Projection) -> FloatArray:
    """Return the plan's refusal rate each month, interventions included."""
    from dsg_forecast.compiler import compile_scenario
    from dsg_forecast.engine.levers import resolve_levers

    structure, params = compile_scenario(projection.scenario)
    return np.asarray(resolve_levers(structure, params).refusal_rate[0], dtype=np.float64)


def _plan_figures(
    measure: str,
    month: str,
    period: list[str],
    monthly: pd.DataFrame,
    spend: pd.DataFrame,
    refusal: FloatArray,
) -> tuple[str, float, float]:
    """Return a measure's kind and the plan's figure for it, read from the monthly plan.

    Stocks and shares are read at the month, flows summed over the period; the naive pro
    rata figure (a straight line through the financial year) is returned beside it. Both
    are NaN where the plan does not cover the month or period.
    """
    months = list(monthly.index)
    end = parse_month(month)
    fy_start = month_number(fy_start_year(end), 4)
    in_plan = month in months and all(m in months for m in period)
    plan = float("nan")
    pro_rata = float("nan")
    fy_months = [m for m in months if fy_start_year(parse_month(m)) == fy_start_year(end)]
    share_of_year = (end - fy_start + 1) / 12
    kind = "given"
    if measure == "ehcps" or measure.startswith(("stock:", "share:")):
        kind = "stock"
        if measure == "ehcps":
            series = monthly["stock"]
        else:
            placements = measure.split(":", 1)[1].split("+")
            unknown = [p for p in placements if f"stock_{p}" not in monthly]
            if unknown:
                raise ScenarioError(
                    [Issue("actuals", f"measure {measure!r}: unknown placements {unknown}")]
                )
            series = sum(monthly[f"stock_{p}"] for p in placements)  # type: ignore[assignment]
            if measure.startswith("share:"):
                series = series / monthly["stock"]
        if month in months:
            plan = float(series[month])
            if fy_months:
                opening = float(series[fy_months[0]])
                closing = float(series[fy_months[-1]])
                pro_rata = opening + (closing - opening) * share_of_year
    elif measure == "refused_share":
        kind = "rate"
        if month in months:
            plan = float(refusal[months.index(month)])
    elif measure in FLOWS or measure == "spend" or measure.removeprefix("spend:") in SPEND_LINES:
        kind = "flow"
        if measure.startswith("spend"):
            series = spend["total" if measure == "spend" else measure.removeprefix("spend:")]
        else:
            series = monthly[measure]
        if in_plan:
            plan = float(series[period].sum())
        if fy_months and len(fy_months) == 12:
            pro_rata = float(series[fy_months].sum()) * len(period) / 12
    return kind, plan, pro_rata


def monitor(
    projection: Projection, actuals: pd.DataFrame, thresholds: Thresholds | None = None
) -> pd.DataFrame:
    """Build the key-measures table: plan forecast, pro rata, actual, last year, change, RAG.

    Parameters
    ----------
    projection
        The plan's projection.
    actuals
        The actuals, as :func:`read_actuals` returns them.
    thresholds
        Variances rated green and amber (default 2% and 5%).

    Returns
    -------
    DataFrame
        One row per actual: update, measure (and in words), date, period, plan forecast,
        pro rata, actual, variance (and in %), same period last year, change on last year,
        which way is good and the RAG rating. A plan figure the council gives wins over
        the projection's.

    Raises
    ------
    ScenarioError
        If a measure names a placement the plan lacks, no plan figure rates a row (an
        unknown measure, a date past the plan) or a month-end count has a ``period_start``.
    ArgumentError
        If ``actuals`` lacks a date, measure or value column (the others may be left out).
    """
    actuals = _with_every_column(projection, actuals, thresholds)
    rules = thresholds or Thresholds()
    monthly = projection.monthly
    spend = _monthly_spend(projection)
    refusal = _refusal_path(projection)
    shown = {p.name: p.shown for p in projection.scenario.placements}
    rows, issues = [], []
    for number, (_, record) in zip(row_numbers(actuals), actuals.iterrows(), strict=True):
        measure = str(record["measure"]).strip()
        month, period, start_text = _period(record)
        kind, plan, pro_rata = _plan_figures(measure, month, period, monthly, spend, refusal)
        if start_text and kind == "stock":
            issues.append(_stock_period_issue(number, measure, month, start_text))
            continue
        given = _number(str(record["plan"]))
        good = str(record.get("good", "")).strip() or None
        if np.isfinite(given):
            plan = given
        elif kind == "given" or (month not in monthly.index and good != "neutral"):
            # an unknown measure, or a date past the plan: no figure to rate against
            issues.append(_no_plan_issue(number, measure, month, kind, list(monthly.index)))
            continue
        actual = _number(str(record["value"]))
        last = _number(str(record["last_year"]))
        direction = cast("Direction", good) if good else rules.direction(measure)
        rows.append(
            {
                "update": str(record.get("update", "")).strip(),
                "measure": measure,
                "label": measure_label(measure, shown),
                "date": month,
                # a flow's period, or the period a row gives for a rate or a target
                "period": f"{period[0]} to {period[-1]}"
                if kind == "flow" or (start_text and len(period) > 1)
                else month,
                "plan_forecast": plan,
                "pro_rata": pro_rata,
                "actual": actual,
                "variance": actual - plan,
                "variance_pc": _percent(actual - plan, plan),
                "same_period_last_year": last,
                "change_on_last_year": actual - last,
                "good": direction,
                "rag": rules.rate(measure, plan, actual, direction),
                "note": str(record.get("note", "")).strip(),
            }
        )
    if issues:
        raise ScenarioError(issues)
    return pd.DataFrame(rows, columns=list(MONITOR_COLUMNS))


#: The key-measures table's columns (:func:`monitor`), in order.
MONITOR_COLUMNS: Final = (
    "update", "measure", "label", "date", "period", "plan_forecast", "pro_rata", "actual",
    "variance", "variance_pc", "same_period_last_year", "change_on_last_year", "good", "rag",
    "note",
)  # fmt: skip


def check_inputs(plan: object, actuals: object, thresholds: object = None) -> None:
    """Refuse a plan that is not a projection, actuals that are not a table, and so on.

    Parameters
    ----------
    plan, actuals, thresholds
        As :func:`monitor` takes them.

    Raises
    ------
    ArgumentTypeError
        Naming the argument and what to give (a file's path where the actuals belong
        ended in "'str' object has no attribute 'columns'").
    """
    from dsg_forecast.results import Projection

    check_kind(plan, Projection, "the plan", "its projection, dsg_forecast.project(scenario)")
    check_kind(actuals, pd.DataFrame, "actuals", "the table read_actuals(path) returns")
    check_kind(thresholds, Thresholds, "thresholds", "Thresholds(green, amber)", optional=True)


def _percent(part: float, whole: float) -> float:
    """Return ``part`` as a percentage of ``whole`` (NaN where ``whole`` is 0 or NaN)."""
    return 100 * part / whole if np.isfinite(whole) and whole else np.nan


def _with_every_column(
    projection: Projection, actuals: pd.DataFrame, thresholds: Thresholds | None
) -> pd.DataFrame:
    """Return the actuals with the optional columns a caller left out, empty.

    The arguments are checked (:func:`check_inputs`); the date, measure and value columns
    are needed (:class:`ArgumentError` names those missing).
    """
    check_inputs(projection, actuals, thresholds)
    missing = sorted(set(ACTUALS_COLUMNS) - set(actuals.columns))
    if missing:
        message = f"the actuals need the columns {missing} (read_actuals reads them from a CSV)"
        raise ArgumentError(message)
    return actuals.assign(**{c: "" for c in OPTIONAL_ACTUALS_COLUMNS if c not in actuals})


def _period(record: pd.Series) -> tuple[str, list[str], str]:
    """Return a row's month, the months of its period, and its ``period_start`` as given."""
    month = month_label(parse_month(str(record["date"]).strip()[:7]))
    end = month_number(int(month[:4]), int(month[5:]))
    start_text = str(record["period_start"]).strip()
    start = parse_month(start_text[:7]) if start_text else month_number(fy_start_year(end), 4)
    return month, [month_label(m) for m in range(start, end + 1)], start_text


def _stock_period_issue(row: int, measure: str, month: str, start: str) -> Issue:
    """Refuse a period on a count of plans at a month's end: it would be silently dropped."""
    message = (
        f"actuals row {row}, period_start: {start!r} for {measure}, which is counted at the "
        f"end of its month ({month}), not over a period; leave period_start empty (it is "
        f"for flows: {', '.join(FLOWS)}, spend)"
    )
    return Issue("actuals", message)


def _no_plan_issue(row: int, measure: str, month: str, kind: str, months: list[str]) -> Issue:
    """Explain why a row has no plan figure: an unknown measure, or a date outside the plan."""
    if kind == "given":
        known = [*MEASURE_LABELS, "refused_share", "stock:P", "share:P"]
        message = (
            f"actuals row {row}: {measure!r} is not a measure the plan forecasts "
            f"({', '.join(dict.fromkeys(known))}); correct the name, or give the plan's "
            "figure in the plan column"
        )
    else:
        message = (
            f"actuals row {row}: {measure} at {month} is outside the plan "
            f"({months[0]}..{months[-1]}); give the plan's figure in the plan column"
        )
    return Issue("actuals", message)


def measure_label(measure: str, placements: Mapping[str, str] | None = None) -> str:
    """Return a measure in words ("Share of EHCPs in Independent special", ...).

    Parameters
    ----------
    measure
        The measure's code, as in the actuals CSV.
    placements
        Placement names → labels, for ``stock:`` and ``share:`` measures.

    Returns
    -------
    str
        The measure as the monitoring return prints it.
    """
    if measure in MEASURE_LABELS:
        return MEASURE_LABELS[measure]
    if measure.startswith("spend:"):
        line = measure.removeprefix("spend:")
        lines = {"top_up": "top-ups", "fees": "independent fees", "other_lines": "other lines"}
        return f"Spend: {lines.get(line, line.replace('_', ' '))}"
    if measure.startswith(("stock:", "share:")):
        kind, names = measure.split(":", 1)
        words = " and ".join(
            (placements or {}).get(n, n.replace("_", " ")) for n in names.split("+")
        )
        return f"Share of EHCPs in {words}" if kind == "share" else f"EHCPs in {words}"
    return measure.replace("_", " ").capitalize()


def format_measure(measure: str, value: float) -> str:
    """Return a measure's figure as a return prints it: shares in %, money in £, counts whole.

    Parameters
    ----------
    measure
        The measure's code.
    value
        Its figure (NaN for none).

    Returns
    -------
    str
        The figure, or "-".
    """
    if not np.isfinite(value):
        return "-"
    if measure.startswith("share:") or measure.endswith(("_share", "_weeks")):
        return f"{100 * value:.2f}%"
    if measure.startswith("spend"):
        return money(value)
    return f"{value:,.0f}"


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """Return the table as Markdown, figures formatted as a report would print them.

    Parameters
    ----------
    table
        The key-measures table from :func:`monitor`.
    title
        The heading.

    Returns
    -------
    str
        A Markdown table: counts whole, shares in %, money in £.
    """
    show = format_measure
    lines = [
        f"## {title}",
        "",
        "| key measure | period | plan forecast | pro rata | actual | "
        "same period last year (change) | RAG |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for _, row in table.iterrows():
        measure = str(row["measure"])
        change = row["change_on_last_year"]
        last = show(measure, row["same_period_last_year"])
        if np.isfinite(change):
            sign = "+" if change >= 0 else "−"
            last += f" ({sign}{show(measure, abs(change))})"
        lines.append(
            f"| {measure} | {row['period']} | {show(measure, row['plan_forecast'])} | "
            f"{show(measure, row['pro_rata'])} | {show(measure, row['actual'])} | {last} | "
            f"{str(row['rag']).upper()} |"
        )
    return "\n".join(lines) + "\n"
