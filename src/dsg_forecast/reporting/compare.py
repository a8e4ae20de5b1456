"""Scenarios side by side: the ledger, plans by placement, the headlines and a bridge.

:func:`compare` projects two or more scenarios (the first, A, is the reference: usually the
plan) and lines them up by financial year: every ledger line with each later scenario's
difference from A in pounds and per cent, plans by placement at the end of each FY, the
headlines (target, first balanced year, caps, deficits at the override's end and at
balance), and a variance bridge from A to each other scenario
(:func:`dsg_forecast.sweeps.bridge.bridge`). :func:`format_comparison` prints it;
:func:`write_comparison` writes CSV, Excel (one sheet per view), HTML or a chart.

Scenarios over different years are compared over the years they share; with no year in
common, or for a bridge between scenarios whose months, ages or placements differ, the
reason is given.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from dsg_forecast.errors import ArgumentTypeError, DsgForecastError, as_path
from dsg_forecast.io.output import save_workbook, written_atomically
from dsg_forecast.model import project
from dsg_forecast.reporting.labels import count, html_page, label, money, percent
from dsg_forecast.results import Projection
from dsg_forecast.schema import Scenario
from dsg_forecast.sweeps.bridge import OUTPUTS as BRIDGE_OUTPUTS
from dsg_forecast.sweeps.bridge import Bridge, BridgeError, bridge

if TYPE_CHECKING:
    from dsg_forecast.engine import Engine

LINES: Final = (
    "income", "place_funding", "top_up", "fees", "other_cost", "intervention_cost",
    "expenditure", "in_year_balance", "contribution", "cumulative_balance",
    "cumulative_balance_before_contributions",
)  # fmt: skip
"""The ledger lines compared, in order."""

SUFFIXES: Final = (".csv", ".xlsx", ".html", ".png", ".svg")


class CompareError(DsgForecastError, ValueError):
    """The scenarios cannot be compared (fewer than two, or no financial year in common)."""


@dataclass(frozen=True)
class Comparison:
    """Two or more projections lined up by financial year; A is the reference."""

    projections: tuple[Projection, ...]
    letters: tuple[str, ...]
    """``A``, ``B``, ...: how the tables name the scenarios."""
    years: tuple[str, ...]
    """The financial years every scenario projects."""
    ledger: pd.DataFrame
    """Rows (line, FY); a column per scenario, then ``X − A`` and ``X − A %`` for each later
    scenario X. [£]"""
    plans: pd.DataFrame
    """Rows (placement, FY): plans at the end of the FY, same columns."""
    headlines: pd.DataFrame
    """Rows: the summary's measures; a column per scenario (text)."""
    bridges: dict[str, dict[str, Bridge]] = field(default_factory=dict)
    """For each later scenario's letter, its bridge from A by output."""
    notes: tuple[str, ...] = ()
    """What could not be aligned or bridged, and why."""

    @property
    def names(self) -> tuple[str, ...]:
        """Return the scenarios' names."""
        return tuple(p.scenario.name for p in self.projections)


def _check_items(items: object) -> None:
    """Refuse what is not two or more scenarios or projections.

    ``None`` ended at ``len``, and a path inside :func:`~dsg_forecast.project`.
    """
    if isinstance(items, str) or not isinstance(items, Sequence):
        msg = f"items is {items!r}; give a list of scenarios or projections"
        raise ArgumentTypeError(msg)
    if len(items) < 2:
        msg = f"compare needs at least two scenarios; {len(items)} given"
        raise CompareError(msg)
    strange = [type(item).__name__ for item in items if not isinstance(item, Scenario | Projection)]
    if strange:
        msg = f"items holds a {strange[0]}; give scenarios (load_scenario(path)) or projections"
        raise ArgumentTypeError(msg)


def compare(
    items: Sequence[Scenario | Projection],
    *,
    year: str | None = None,
    outputs: tuple[str, ...] = ("in_year_balance", "plans"),
    engine: Engine = "numpy",
) -> Comparison:
    """Line up two or more scenarios by financial year and bridge each to the first.

    Parameters
    ----------
    items
        Scenarios or projections; the first (A) is the reference, usually the plan.
    year
        The FY of the bridges (default: the last FY all scenarios project).
    outputs
        What each bridge explains (see :data:`dsg_forecast.sweeps.bridge.OUTPUTS`).
    engine
        ``"numpy"`` or ``"numba"`` for the bridges' batched runs.

    Returns
    -------
    Comparison
        The ledger, plans and headlines side by side, and the bridges.

    Raises
    ------
    CompareError
        With fewer than two scenarios, no financial year in common, a ``year`` not every
        scenario projects, or ``outputs`` that are not bridge outputs.
    ArgumentTypeError
        If ``items`` is not a list of scenarios and projections.
    """
    _check_items(items)
    _check_outputs(outputs)
    projections = tuple(
        item if isinstance(item, Projection) else project(item, savings=False) for item in items
    )
    letters = tuple(chr(ord("A") + k) for k in range(len(projections)))
    first = [str(fy) for fy in projections[0].ledger.index]
    years = [fy for fy in first if all(fy in p.ledger.index for p in projections)]
    if not years:
        spans = "; ".join(f"{p.scenario.name}: {p.ledger.index[0]}..{p.ledger.index[-1]}"
                          for p in projections)  # fmt: skip
        msg = f"the scenarios have no financial year in common ({spans})"
        raise CompareError(msg)
    notes = []
    if any(list(p.ledger.index) != years for p in projections):
        notes.append(
            f"compared over the financial years all scenarios project: {years[0]}..{years[-1]}"
        )
    bridge_year = _bridge_year(year, years)
    bridges: dict[str, dict[str, Bridge]] = {}
    for letter, other in zip(letters[1:], projections[1:], strict=True):
        try:
            bridges[letter] = bridge(
                projections[0].scenario, other.scenario, bridge_year, outputs=outputs, engine=engine
            )
        except BridgeError as exc:
            notes.append(f"no bridge from A to {letter}: {exc}")
    return Comparison(
        projections=projections,
        letters=letters,
        years=tuple(years),
        ledger=_side_by_side(_ledger_values(projections, years), letters),
        plans=_side_by_side(_plan_values(projections, years), letters),
        headlines=_headlines(projections, letters),
        bridges=bridges,
        notes=tuple(notes),
    )


def _bridge_year(year: str | None, years: list[str]) -> str:
    """Return the bridges' FY: the one asked for (every scenario must project it) or the last."""
    if year is not None and year not in years:  # an argument's mistake, not a scenario's limit
        span = f"{years[0]}..{years[-1]}"
        msg = f"year {year!r} is not a financial year every scenario projects ({span})"
        raise CompareError(msg)
    return year or years[-1]


def _check_outputs(outputs: object) -> None:
    """Refuse bridge outputs that are not outputs (a bare string is read as its letters)."""
    given = list(outputs) if isinstance(outputs, Sequence) and not isinstance(outputs, str) else []
    unknown = [output for output in given if output not in BRIDGE_OUTPUTS]
    if not given or unknown:
        msg = (
            f"outputs {outputs!r}: give a sequence of bridge outputs from {list(BRIDGE_OUTPUTS)}, "
            "such as ('in_year_balance', 'plans')"
        )
        raise CompareError(msg)


def _ledger_values(projections: tuple[Projection, ...], years: list[str]) -> pd.DataFrame:
    """Each ledger line by FY, (line x FY) rows, a column per scenario."""
    rows = pd.MultiIndex.from_product([LINES, years], names=["line", "financial_year"])
    columns = {
        k: p.ledger.loc[years, list(LINES)].to_numpy(dtype=float).T.ravel()
        for k, p in enumerate(projections)
    }
    return pd.DataFrame(columns, index=rows)


def _plan_values(projections: tuple[Projection, ...], years: list[str]) -> pd.DataFrame:
    """Plans by placement at the end of each FY; a placement a scenario lacks is blank."""
    shown: dict[str, str] = {}
    for p in projections:
        for placement in p.scenario.placements:
            shown.setdefault(placement.name, placement.shown)
    # two placements of different names may share a label (one scenario's 'sppi' and
    # another's 'specialist_post16', both "Specialist post-16"): they are kept apart, so
    # each is named too (its rows under one label made the tables ragged)
    labels = list(shown.values())
    shown = {
        name: f"{words} ({name})" if labels.count(words) > 1 else words
        for name, words in shown.items()
    }
    columns_wanted = [*(f"stock_{name}" for name in shown), "stock"]
    rows = pd.MultiIndex.from_product(
        [[*shown.values(), "Total"], years], names=["placement", "financial_year"]
    )
    columns = {}
    for k, p in enumerate(projections):
        ends = p.monthly.groupby("financial_year").tail(1).set_index("financial_year")
        values = [
            ends.loc[years, column].to_numpy(dtype=float)
            if column in ends
            else np.full(len(years), np.nan)
            for column in columns_wanted
        ]
        columns[k] = np.concatenate(values)
    return pd.DataFrame(columns, index=rows)


def _side_by_side(values: pd.DataFrame, letters: tuple[str, ...]) -> pd.DataFrame:
    """Add each later scenario's difference from A, in units and as a share of A.

    A balance's share is left blank: its base can be near zero or change sign.
    """
    out = values.set_axis(list(letters), axis=1)
    lines = out.index.get_level_values(0)
    is_balance = np.array(["balance" in str(line) for line in lines])
    for letter in letters[1:]:
        difference = out[letter] - out["A"]
        out[f"{letter} − A"] = difference
        share = difference / out["A"].abs().where(out["A"] != 0)
        out[f"{letter} − A %"] = share.where(~is_balance)
    return out


def _headlines(projections: tuple[Projection, ...], letters: tuple[str, ...]) -> pd.DataFrame:
    rows: dict[str, list[str]] = {}

    def put(measure: str, k: int, value: str) -> None:
        rows.setdefault(measure, ["-"] * len(projections))[k] = value

    for k, p in enumerate(projections):
        s = p.summary
        met = "-" if s.target_met is None else ("yes" if s.target_met else "no")
        met = "after the end" if s.target_after_end else met
        put(
            "Balance target met", k, f"{met} (from {s.balance_target})" if s.balance_target else met
        )
        put("First balanced year", k, s.first_balanced_year or "none")
        put("Largest deficit", k, f"{money(s.largest_deficit)} ({s.largest_deficit_year})"
            if s.largest_deficit_year else "none")  # fmt: skip
        for fy, headroom in s.headroom.items():
            put(f"Headroom to the {fy} cap", k, money(headroom))
        if s.override_end_year and s.deficit_at_override_end is not None:
            put("Deficit at the end of the statutory override", k,
                f"{money(s.deficit_at_override_end)} ({s.override_end_year})")  # fmt: skip
        if s.deficit_at_balance_before_contributions is not None:
            put("Deficit at balance, before contributions", k,
                money(s.deficit_at_balance_before_contributions))  # fmt: skip
        put("Closing cumulative balance", k, money(s.closing_balance))
    return pd.DataFrame(rows, index=list(letters)).T


def format_comparison(comparison: Comparison) -> str:
    """Return the comparison as plain text: headlines, the ledger, plans and the bridges.

    Parameters
    ----------
    comparison
        What :func:`compare` returned.

    Returns
    -------
    str
        Aligned tables; money in whole pounds, plans whole, differences in £ and %.
    """
    c = comparison
    out = ["Comparing " + "; ".join(f"{x} = {n}" for x, n in zip(c.letters, c.names, strict=True))]
    out += [f"Note: {note}" for note in c.notes]
    out += ["", "Headlines", *_table(c.headlines.reset_index().to_numpy().tolist(),
                                     ["", *c.letters])]  # fmt: skip
    out += ["", "DSG ledger (£; negative = deficit)"]
    out += _table(_by_year(c.ledger, money, label), ["", "", *c.years], left=2)
    out += ["", "EHC plans at the end of each financial year"]
    out += _table(_by_year(c.plans, count, str), ["", "", *c.years], left=2)
    for letter, bridges in c.bridges.items():
        for output, steps in bridges.items():
            out += ["", *_bridge_lines(steps, letter, output)]
    return "\n".join(out)


def _rows(frame: pd.DataFrame, number: Any, name: Any) -> list[list[str]]:
    """Return a side-by-side frame's rows as text: name, FY, then each figure formatted."""
    columns = [str(column) for column in frame.columns]
    keys: list[tuple[str, str]] = [(str(a), str(b)) for a, b in frame.index]
    rows = []
    for (line, fy), values in zip(keys, frame.to_numpy(dtype=float), strict=True):
        cells = [
            percent(value) if column.endswith("%") else number(value)
            for column, value in zip(columns, values, strict=True)
        ]
        rows.append([name(line), fy, *cells])
    return rows


def _by_year(frame: pd.DataFrame, number: Any, name: Any) -> list[list[str]]:
    """Return a side-by-side frame as text rows: per line, a row per column, FYs across."""
    rows = []
    years = list(dict.fromkeys(str(fy) for _, fy in frame.index))
    for line in dict.fromkeys(line for line, _ in frame.index):
        block = frame.xs(line, level=0).loc[years]
        named = False  # the line's name goes on its first row shown
        for column in block.columns:
            values = block[column].to_numpy(dtype=float)
            if np.isnan(values).all():
                continue  # a balance's share, or a placement this scenario does not have
            shown = percent if str(column).endswith("%") else number
            rows.append(["" if named else name(line), str(column), *map(shown, values)])
            named = True
    return rows


def _bridge_lines(steps: Bridge, letter: str, output: str) -> list[str]:
    number = count if output == "plans" else money
    title = f"Bridge {steps.year}: {_BRIDGED.get(output, label(output))}, A to {letter}"
    rows = [["A", number(steps.start)]]
    rows += [[f"  {driver}", number(effect)] for driver, effect in
             zip(steps.steps["driver"], steps.steps["effect"], strict=True)]  # fmt: skip
    rows += [[letter, number(steps.end)], ["difference", number(steps.total)]]
    return [title, *_table(rows, ["", ""])[2:]]  # no header: the title says it


_BRIDGED: Final = {"in_year_balance": "in-year balance", "plans": "EHC plans at the year's end"}


def _table(rows: list[list[Any]], header: list[str], left: int = 1) -> list[str]:
    """Return rows as aligned text: the first ``left`` columns to the left, numbers right."""
    cells = [[str(x) for x in header], *[[str(x) for x in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for number, row in enumerate(cells):
        text = "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        lines.append(text.rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def write_comparison(comparison: Comparison, path: str | Path, *, force: bool = False) -> Path:
    """Write a comparison as CSV, Excel, HTML or a chart, by the file's suffix.

    Parameters
    ----------
    comparison
        What :func:`compare` returned.
    path
        ``.csv`` (the ledger and plans, long), ``.xlsx`` (a sheet per view), ``.html`` (one
        page) or ``.png``/``.svg`` (the cumulative balance of each scenario against the caps).
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
    """
    target = as_path(path)
    suffix = target.suffix.lower()
    with written_atomically(target, force=force, suffixes=SUFFIXES) as partial:
        if suffix == ".csv":
            _csv_frame(comparison).to_csv(partial, index=False, encoding="utf-8")
        elif suffix == ".xlsx":
            _write_excel(comparison, partial)
        elif suffix == ".html":
            partial.write_text(comparison_html(comparison), encoding="utf-8")
        else:
            from dsg_forecast.reporting.plotting import compared_balance

            figure = compared_balance(comparison)
            figure.savefig(partial, dpi=120, format=suffix[1:])
            import matplotlib.pyplot as plt

            plt.close(figure)
    return target


def comparison_frame(comparison: Comparison) -> pd.DataFrame:
    """Return the ledger and plans side by side as one long table (what ``.csv`` holds).

    Parameters
    ----------
    comparison
        What :func:`compare` returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``Line, Financial year``, a column per scenario and the differences.
    """
    return _csv_frame(comparison)


def _csv_frame(comparison: Comparison) -> pd.DataFrame:
    ledger = comparison.ledger.reset_index()
    ledger["line"] = ledger["line"].map(label)
    plans = comparison.plans.reset_index().rename(columns={"placement": "line"})
    plans["line"] = "EHC plans: " + plans["line"]
    numbers = [column for column in ledger.columns if column not in ("line", "financial_year")]
    for frame, digits in ((ledger, 2), (plans, 1)):  # pence; plans to a tenth
        for column in numbers:
            frame[column] = frame[column].round(4 if str(column).endswith("%") else digits)
    both = pd.concat([ledger, plans], ignore_index=True)
    return both.rename(columns={"line": "Line", "financial_year": "Financial year"})


def _write_excel(comparison: Comparison, path: Path) -> None:
    from dsg_forecast.reporting.excel import PERCENT, POUNDS, new_book, table_sheet

    book = new_book()
    c = comparison
    sheets = {
        "Headlines": c.headlines.reset_index().rename(columns={"index": "Measure"}),
        "Ledger": _csv_frame(c).iloc[: len(c.ledger)],
        "Plans": c.plans.reset_index().rename(
            columns={"placement": "Placement", "financial_year": "Financial year"}
        ),
        "Bridge": _bridge_frame(c),
    }
    for title, frame in sheets.items():
        whole = "#,##0" if title == "Plans" else POUNDS

        def number_format(heading: str, whole: str = whole) -> str:
            return PERCENT if heading.endswith("%") else whole

        table_sheet(
            book,
            title,
            [str(x) for x in frame.columns],
            [list(values) for values in frame.itertuples(index=False)],
            number_format=number_format,
        )
    save_workbook(book, path)


def _bridge_frame(comparison: Comparison) -> pd.DataFrame:
    rows = []
    for letter, bridges in comparison.bridges.items():
        for output, steps in bridges.items():
            rows.append((letter, steps.year, label(output), "A", steps.start))
            for driver, effect in zip(steps.steps["driver"], steps.steps["effect"], strict=True):
                rows.append((letter, steps.year, label(output), driver, float(effect)))
            rows.append((letter, steps.year, label(output), letter, steps.end))
    return pd.DataFrame(rows, columns=["Scenario", "Financial year", "Figure", "Step", "Value"])


def comparison_html(comparison: Comparison) -> str:
    """Return the comparison as one self-contained HTML page (prints on A4 landscape).

    Parameters
    ----------
    comparison
        What :func:`compare` returned.

    Returns
    -------
    str
        The page: headlines, the ledger, plans, the bridges and the balance chart (SVG).
    """
    import io

    from dsg_forecast.reporting.plotting import compared_balance

    c = comparison
    figure = compared_balance(c)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    import matplotlib.pyplot as plt

    plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    parts = [
        "<h1>Scenarios compared</h1><ul>",
        *(
            f"<li><b>{x}</b>: {html.escape(n)}</li>"
            for x, n in zip(c.letters, c.names, strict=True)
        ),
        "</ul>",
        *(f"<p><i>{html.escape(note)}</i></p>" for note in c.notes),
        "<h2>Headlines</h2>",
        _html_table(c.headlines.reset_index().to_numpy().tolist(), ["", *c.letters]),
        "<h2>Cumulative DSG balance</h2>",
        svg,
        "<h2>DSG ledger (£; negative = deficit)</h2>",
        _html_table(_rows(c.ledger, money, label), ["Line", "FY", *map(str, c.ledger.columns)]),
        "<h2>EHC plans at the end of each financial year</h2>",
        _html_table(_rows(c.plans, count, str), ["Placement", "FY", *map(str, c.plans.columns)]),
    ]
    for letter, bridges in c.bridges.items():
        for output, steps in bridges.items():
            number = count if output == "plans" else money
            rows = [["A", number(steps.start)]]
            rows += [[d, number(e)] for d, e in zip(steps.steps["driver"], steps.steps["effect"],
                                                   strict=True)]  # fmt: skip
            rows += [[letter, number(steps.end)]]
            parts += [f"<h2>Bridge {steps.year}: {label(output).lower()}, A to {letter}</h2>",
                      _html_table(rows, ["Step", "Value"])]  # fmt: skip
    return html_page(f"Comparison: {' / '.join(c.names)}", parts)


def _html_table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            text = html.escape(str(cell))
            numeric = k > 0 and (text[:1].isdigit() or text[:2] in ("-£", "£") or text[:1] == "-")
            cells.append(f"<td class='n'>{text}</td>" if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


__all__ = [
    "CompareError",
    "Comparison",
    "compare",
    "comparison_frame",
    "comparison_html",
    "format_comparison",
    "write_comparison",
]
