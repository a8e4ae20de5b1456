"""A Safety Valve monitoring return: conditions, key measures, their trend and the register.

The DfE's monitoring return, as councils file it (Wiltshire's May 2024 report in
``shared/context`` is one), has four parts, each rated red, amber or green:

- **the conditions**: 1, a positive in-year DSG balance by the target year and every year
  after; 2, the cumulative deficit within each year's cap. :func:`conditions` rates each
  from the plan's projection and, if given, the latest forecast's;
- **the key measures** of each update against the plan (:func:`monitor`);
- **their trend** across the updates kept in one history file (May, August, November, ...);
- **the register** of the other conditions and the risks, each with its owner, the
  council's own RAG and the mitigation (:func:`read_register`).

:func:`monitoring_return` assembles them; :func:`return_markdown` prints them and
:func:`write_return` writes Markdown, HTML, Excel (a sheet per part) or CSV.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from dsg_forecast.errors import Issue, ScenarioError, as_path, check_kind
from dsg_forecast.io.output import save_workbook, written_atomically
from dsg_forecast.io.strict import repeats
from dsg_forecast.reporting.labels import html_page, money
from dsg_forecast.reporting.monitoring import (
    Thresholds,
    check_inputs,
    format_measure,
    monitor,
    read_csv_table,
    row_numbers,
    update_issues,
)

if TYPE_CHECKING:
    from dsg_forecast.results import Projection

RAGS: Final = ("green", "amber", "red")
REGISTER_COLUMNS: Final = ("item", "description", "owner", "rag", "mitigation")
COLOURS: Final = {"green": "#c6efce", "amber": "#ffeb9c", "red": "#ffc7ce"}


@dataclass(frozen=True)
class MonitoringReturn:
    """The parts of a monitoring return, each a table ready to print."""

    title: str
    conditions: pd.DataFrame
    """``condition, test, plan, forecast, rag``."""
    measures: pd.DataFrame
    """Every update's key measures (:func:`monitor`'s columns, ``update`` first)."""
    trend: pd.DataFrame
    """Rows: measures in words; a column per update: the actual and its rating."""
    register: pd.DataFrame
    """The register's latest update: ``item, description, owner, rag, mitigation``."""
    updates: tuple[str, ...]
    """The updates in the history file, in order; the last is the latest."""
    register_update: str = ""
    """The register's update shown (its latest), which may be older than the measures'."""


def _check_same_placements(plan: Projection, forecast: Projection) -> None:
    """Refuse a forecast of other placements than the plan's: it forecasts another plan.

    A forecast is the plan rerun on what has happened since (a later start, other numbers),
    so its placements are the plan's; one of other placements (another council's file, an
    old plan's) would rate the conditions on a projection that is not this plan's.
    """
    ours = plan.scenario.placement_names
    theirs = forecast.scenario.placement_names
    if set(ours) != set(theirs):
        message = (
            f"the forecast's placements ({', '.join(theirs)}) are not the plan's "
            f"({', '.join(ours)}): it forecasts another plan, so the conditions cannot be "
            "rated on it; give the plan rerun on the latest figures"
        )
        raise ScenarioError([Issue("forecast", message)])


def conditions(
    plan: Projection, forecast: Projection | None = None, thresholds: Thresholds | None = None
) -> pd.DataFrame:
    """Rate the agreement's financial conditions on the plan and, if given, the forecast.

    Condition 1 is green when every in-year balance from the target year is at least 0,
    amber when it is missed in the target year by no more than the amber threshold's share
    of that year's expenditure, red otherwise. Condition 2 (one row per cap) is green with
    headroom of at least the amber threshold's share of the cap, amber with less, red over
    the cap. The rating is the forecast's where there is one (the plan's otherwise).

    Parameters
    ----------
    plan
        The plan's projection.
    forecast
        The latest forecast's projection (for example the plan rerun on actuals); its
        placements must be the plan's.
    thresholds
        The amber threshold (default 5%).

    Returns
    -------
    DataFrame
        ``condition, test, plan, forecast, rag``.

    Raises
    ------
    ScenarioError
        If the forecast's placements are not the plan's.
    """
    rules = thresholds or Thresholds()
    if forecast is not None:
        _check_same_placements(plan, forecast)
    rated = forecast or plan
    rows = []
    target = plan.scenario.agreement.balance_target
    if target is not None:
        rows.append(
            {
                "condition": "Condition 1",
                "test": f"Positive in-year DSG balance by {target} and in every year after",
                "plan": _balance_position(plan, target),
                "forecast": _balance_position(forecast, target) if forecast else "-",
                "rag": _balance_rag(rated, target, rules.amber),
            }
        )
    for fy, cap in plan.scenario.agreement.deficit_caps.items():
        rows.append(
            {
                "condition": "Condition 2",
                "test": f"Cumulative deficit not above {money(cap)} at the end of {fy}",
                "plan": _cap_position(plan, fy, cap),
                "forecast": _cap_position(forecast, fy, cap) if forecast else "-",
                "rag": _cap_rag(rated, fy, cap, rules.amber),
            }
        )
    return pd.DataFrame(rows, columns=["condition", "test", "plan", "forecast", "rag"])


def _balance_position(projection: Projection, target: str) -> str:
    ledger = projection.ledger
    if target not in ledger.index:
        return "target year not projected"
    in_year = float(ledger["dsg_in_year_balance"].to_dict()[target])
    first = projection.summary.first_balanced_year
    balanced = f"balanced from {first}" if first else "not balanced in the projection"
    return f"in-year balance {money(in_year)} in {target}; {balanced}"


def _balance_rag(projection: Projection, target: str, amber: float) -> str:
    ledger = projection.ledger
    if target not in ledger.index:
        return "-"
    if projection.summary.target_met:
        return "green"
    in_year = float(ledger["dsg_in_year_balance"].to_dict()[target])
    spend = float(ledger["expenditure"].to_dict()[target])
    return "amber" if in_year >= -amber * spend else "red"


def _cap_position(projection: Projection, fy: str, cap: float) -> str:
    ledger = projection.ledger
    if fy not in ledger.index:
        return "year not projected"
    deficit = -float(ledger["cumulative_balance"].to_dict()[fy])
    return f"deficit {money(deficit)}; headroom {money(cap - deficit)}"


def _cap_rag(projection: Projection, fy: str, cap: float, amber: float) -> str:
    ledger = projection.ledger
    if fy not in ledger.index:
        return "-"
    headroom = cap + float(ledger["cumulative_balance"].to_dict()[fy])
    if headroom < 0:
        return "red"
    return "green" if headroom >= amber * cap else "amber"


def read_register(path: str | Path) -> pd.DataFrame:
    """Read a register of conditions and risks: the council's own RAG for each.

    Parameters
    ----------
    path
        A CSV with columns ``item, description, owner, rag, mitigation`` and optionally
        ``update`` (as in the actuals' history file). ``rag`` is green, amber, red, or empty
        where the council has not rated an item.

    Returns
    -------
    DataFrame
        One row per item and update.

    Raises
    ------
    ScenarioError
        Naming the file, row and column of a missing column, an item with no name, an
        unknown rating, an item given twice in one update (which rating would the return
        show?), or a row with no update among rows that name theirs.
    """
    file = as_path(path, "the register CSV's path", "path")
    frame = read_csv_table(file, "register")
    missing = [c for c in REGISTER_COLUMNS if c not in frame]
    if missing:
        raise ScenarioError([Issue("register", f"{file} needs columns {missing}")])
    if "update" not in frame:
        frame["update"] = ""
    issues = update_issues(frame, file, "register")
    for row, item in zip(row_numbers(frame), frame["item"], strict=True):
        if not item.strip():  # a rating of nothing the return could name
            message = f"{file} row {row}, item: empty; name the condition or risk it rates"
            issues.append(Issue("register", message))
    for row, rag in zip(row_numbers(frame), frame["rag"], strict=True):
        if rag.strip() and rag.strip().lower() not in RAGS:
            message = f"{file} row {row}, rag: {rag!r}; use green, amber, red or leave it empty"
            issues.append(Issue("register", message))
    keys = list(zip(frame["update"].str.strip(), frame["item"].str.strip(), strict=True))
    rows = row_numbers(frame)
    for position, earlier in repeats(keys, first=0).items():
        update, item = keys[position]
        row, first = rows[position], rows[earlier]
        message = (
            f"{file} row {row}: {item!r} is given again{' in ' + update if update else ''} "
            f"(first at row {first}); each item once per update"
        )
        issues.append(Issue("register", message))
    if issues:
        raise ScenarioError(issues)
    frame["rag"] = frame["rag"].str.strip().str.lower()
    return frame


def monitoring_return(
    plan: Projection,
    actuals: pd.DataFrame,
    *,
    thresholds: Thresholds | None = None,
    register: pd.DataFrame | None = None,
    forecast: Projection | None = None,
) -> MonitoringReturn:
    """Assemble a monitoring return from the plan, the actuals' history and the register.

    Parameters
    ----------
    plan
        The plan's projection.
    actuals
        Every update's key measures (:func:`~dsg_forecast.reporting.monitoring.read_actuals`).
    thresholds
        Green and amber thresholds.
    register
        The conditions and risks register (:func:`read_register`), if any; its latest update
        is shown.
    forecast
        The latest forecast's projection, if any, for the conditions' position.

    Returns
    -------
    MonitoringReturn
        The conditions, each update's measures, the trend and the register.

    Raises
    ------
    ArgumentTypeError
        If an argument is not of its kind (a file's path where a table belongs).
    """
    check_inputs(plan, actuals, thresholds)
    check_kind(register, pd.DataFrame, "register", "the table read_register(path) returns",
               optional=True)  # fmt: skip
    from dsg_forecast.results import Projection

    check_kind(forecast, Projection, "forecast", "its projection, or None", optional=True)
    table = monitor(plan, actuals, thresholds)
    updates = tuple(dict.fromkeys(table["update"])) if len(table) else ("",)
    latest = updates[-1]
    trend = pd.DataFrame(index=pd.Index(list(dict.fromkeys(table["label"])), name="measure"))
    for update in updates:
        rows = table[table["update"] == update]
        cells = {
            label: f"{format_measure(measure, actual)} ({rag})"
            for label, measure, actual, rag in zip(
                rows["label"], rows["measure"], rows["actual"], rows["rag"], strict=True
            )
        }
        trend[update or "update"] = pd.Series(cells)
    chosen, newest = pd.DataFrame(columns=list(REGISTER_COLUMNS)), ""
    if register is not None and len(register):
        newest = list(dict.fromkeys(register["update"]))[-1]  # the register's latest update
        in_latest = register[register["update"] == newest]
        chosen = in_latest[list(REGISTER_COLUMNS)].reset_index(drop=True)
    title = f"Safety Valve monitoring: {plan.scenario.name}" + (f", {latest}" if latest else "")
    return MonitoringReturn(
        title=title,
        conditions=conditions(plan, forecast, thresholds),
        measures=table,
        trend=trend.fillna("-"),
        register=chosen,
        updates=updates,
        register_update=str(newest).strip(),
    )


def _measure_rows(measures: pd.DataFrame) -> list[list[str]]:
    rows = []
    for record in measures.to_dict("records"):
        measure = str(record["measure"])
        last = format_measure(measure, float(record["same_period_last_year"]))
        change = float(record["change_on_last_year"])
        if np.isfinite(change):
            last += f" ({'+' if change >= 0 else '−'}{format_measure(measure, abs(change))})"
        rag = str(record["rag"])
        rating = "not rated (intended)" if rag == "neutral" else rag.upper()
        rows.append([str(record["label"]), str(record["period"]),
                     format_measure(measure, float(record["plan_forecast"])),
                     format_measure(measure, float(record["pro_rata"])),
                     format_measure(measure, float(record["actual"])), last, rating])  # fmt: skip
    return rows


MEASURE_HEADER: Final = ["Key measure", "Period", "Plan forecast", "Pro rata", "Actual",
                         "Same period last year (change)", "RAG"]  # fmt: skip


def _check_result(result: object) -> None:
    check_kind(result, MonitoringReturn, "result", "what monitoring_return(plan, actuals) gives")


def _parts(result: MonitoringReturn) -> list[tuple[str, list[str], list[list[str]]]]:
    """Return each part as (heading, header, rows) of text."""
    conditions_rows = [
        [str(r["condition"]), str(r["test"]), str(r["plan"]), str(r["forecast"]),
         str(r["rag"]).upper()]
        for r in result.conditions.to_dict("records")
    ]  # fmt: skip
    trend = result.trend
    trend_rows = [
        [str(k), *map(str, v)] for k, v in zip(trend.index, trend.to_numpy(), strict=True)
    ]
    blank = {"rag": "not rated", "owner": "-"}
    register_rows = [
        [
            (str(r[c]).upper() if c == "rag" else str(r[c])) or blank.get(c, "-")
            for c in REGISTER_COLUMNS
        ]
        for r in result.register.to_dict("records")
    ]
    measures = result.measures
    per_update = [
        (f"Key measures ({update})" if update else "Key measures", MEASURE_HEADER,
         _measure_rows(measures[measures["update"] == update]))
        for update in result.updates
    ]  # fmt: skip
    trend_part = ("Trend across updates", ["Key measure", *result.trend.columns], trend_rows)
    return [
        ("Conditions", ["Condition", "Test", "Plan", "Forecast", "RAG"], conditions_rows),
        *per_update,
        *([trend_part] if len(result.updates) > 1 else []),
        # the update it is as at: a May register beside November's measures says so
        ("Conditions and risks register"
         + (f" (as at {result.register_update})" if result.register_update else ""),
         ["Item", "Description", "Owner", "RAG", "Mitigation"], register_rows),
    ]  # fmt: skip


def return_markdown(result: MonitoringReturn) -> str:
    """Return the monitoring return as Markdown: a heading and a table per part.

    Parameters
    ----------
    result
        What :func:`monitoring_return` gave.

    Returns
    -------
    str
        The four parts; an empty register is left out.

    Raises
    ------
    ArgumentTypeError
        If ``result`` is not a monitoring return.
    """
    _check_result(result)
    lines = [f"# {result.title}", ""]
    for heading, header, rows in _parts(result):
        if not rows:
            continue
        lines += [f"## {heading}", "", "| " + " | ".join(header) + " |",
                  "| " + " | ".join("---" for _ in header) + " |"]  # fmt: skip
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def return_html(result: MonitoringReturn) -> str:
    """Return the monitoring return as one HTML page, ratings coloured.

    Parameters
    ----------
    result
        What :func:`monitoring_return` gave.

    Returns
    -------
    str
        A self-contained page that prints on A4 landscape.

    Raises
    ------
    ArgumentTypeError
        If ``result`` is not a monitoring return.
    """
    _check_result(result)
    parts = [f"<h1>{html.escape(result.title)}</h1>"]
    for heading, header, rows in _parts(result):
        if not rows:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2><table><tr>")
        parts.append("".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            cells = []
            for cell in row:
                rag = _rag_of(cell)
                style = f" style='background-color: {COLOURS[rag]}'" if rag else ""
                cells.append(f"<td{style}>{html.escape(cell)}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    return html_page(result.title, parts)


def write_return(result: MonitoringReturn, path: str | Path, *, force: bool = False) -> Path:
    """Write the return as Markdown, HTML, Excel (a sheet per part) or CSV (the measures).

    Parameters
    ----------
    result
        What :func:`monitoring_return` gave.
    path
        ``.md``, ``.html``, ``.xlsx`` or ``.csv``.
    force
        Replace ``path`` if it exists.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    OutputError
        If the suffix is not one of these, or the file exists and ``force`` is not set.
    ArgumentTypeError
        If ``result`` is not a monitoring return or ``path`` not a path.
    """
    _check_result(result)
    suffix = as_path(path).suffix.lower()
    with written_atomically(
        path, force=force, suffixes=(".md", ".html", ".xlsx", ".csv")
    ) as partial:
        if suffix == ".md":
            partial.write_text(return_markdown(result), encoding="utf-8")
        elif suffix == ".html":
            partial.write_text(return_html(result), encoding="utf-8")
        elif suffix == ".csv":
            pd.DataFrame(_measure_rows(result.measures), columns=MEASURE_HEADER).to_csv(
                partial, index=False
            )
        else:
            _write_excel(result, partial)
    return as_path(path)


def _rag_of(cell: str) -> str | None:
    """Return the rating a cell shows ("AMBER", "5,696 (amber)"), or None."""
    text = cell.strip().lower()
    if text in RAGS:
        return text
    found = re.search(r"\((green|amber|red)\)$", text)
    return found.group(1) if found else None


def _write_excel(result: MonitoringReturn, path: Path) -> None:
    from openpyxl.styles import PatternFill

    from dsg_forecast.reporting.excel import new_book, table_sheet

    book = new_book()
    for heading, header, rows in _parts(result):
        if not rows:
            continue
        # a sheet's name holds 31 characters: the register's is shortened
        title = heading.replace("Conditions and risks register", "Register")
        title = title.replace("(", "").replace(")", "")
        sheet = table_sheet(book, title, header, [list(row) for row in rows], width=28)
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                rag = _rag_of(str(cell.value))
                if rag:
                    cell.fill = PatternFill("solid", fgColor=COLOURS[rag][1:])
    save_workbook(book, path)
