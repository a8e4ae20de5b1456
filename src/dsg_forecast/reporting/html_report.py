"""One self-contained HTML report of a projection: summary, ledger, charts and assumptions.

Everything is inside the one file (charts are embedded PNGs, the style is inline), so it can
be emailed to councillors or attached to a DfE return and opened anywhere, offline. The
footer records the library version and a SHA-256 hash of the scenario, so a reader can tell
which inputs produced it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from dsg_forecast.reporting.labels import label, placeholder_warning
from dsg_forecast.results import check_projection

if TYPE_CHECKING:
    from dsg_forecast.results import Projection
    from dsg_forecast.schema.scenario import OtherLine, Scenario
    from dsg_forecast.sweeps.summary import SweepSummary

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1b1b1b; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.bad { color: #b00020; font-weight: 600; } .good { color: #1a7f37; font-weight: 600; }
.lead { font-size: 1.05rem; } figure { margin: 1rem 0; } figure img { max-width: 100%; }
footer { margin-top: 3rem; font-size: 0.8rem; color: #666; }
table.assumptions td { text-align: left; white-space: normal; }
.banner { border: 3px solid #b00020; background: #fde7ea; padding: 0.6rem 1rem;
          font-weight: 600; color: #b00020; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9pt; }
  h2 { margin-top: 1rem; break-after: avoid; }
  table { font-size: 7pt; width: 100%; break-inside: auto; }
  th, td { padding: 1px 3px; white-space: normal; }
  tr { break-inside: avoid; }
  .scroll { overflow: visible; }
  figure { display: inline-block; width: 48%; margin: 0.3rem 0; break-inside: avoid; }
}
"""

LEDGER_COLUMNS = (
    "income", "place_funding", "top_up", "fees", "other_cost", "intervention_cost",
    "expenditure", "in_year_balance", "contribution", "cumulative_balance", "deficit_cap",
)  # fmt: skip
"""The report's ledger columns, in order (then "Within cap")."""


def input_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's inputs (as JSON with sorted keys).

    Parameters
    ----------
    scenario
        The scenario.

    Returns
    -------
    str
        64 hexadecimal digits; equal scenarios give equal hashes.
    """
    payload = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _money(value: float) -> str:
    if value != value:  # NaN
        return "-"
    text = f"£{abs(value):,.0f}"
    return f"−{text}" if value < 0 else text


def fy_heading(projection: Projection, k: int) -> str:
    """Return the k-th FY's label, marked when the projection covers only part of it.

    Parameters
    ----------
    projection
        The projection.
    k
        The FY's position.

    Returns
    -------
    str
        ``"2024-25"``, or ``"2023-24 (part year: 3 months)"``.
    """
    fy = projection.structure.fy_labels[k]
    months = int(projection.structure.months_in_fy[k])
    return fy if months == 12 else f"{fy} (part year: {months} months)"


def _ledger_table(projection: Projection) -> str:
    ledger = projection.ledger
    columns = LEDGER_COLUMNS
    head = "".join(
        f"<th>{html.escape(c)}</th>"
        for c in ["Financial year", *(label(c) for c in columns), "Within cap"]
    )
    rows = []
    for k, (_, row) in enumerate(ledger.iterrows()):
        cells = [f"<td>{html.escape(fy_heading(projection, k))}</td>"]
        for column in columns:
            value = float(row[column])
            css = ' class="bad"' if column == "in_year_balance" and value < 0 else ""
            cells.append(f"<td{css}>{_money(value)}</td>")
        within = row["within_cap"]
        flag = (
            "-"
            if pd.isna(within)
            else ('<span class="good">yes</span>' if within else '<span class="bad">NO</span>')
        )
        cells.append(f"<td>{flag}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _plans_table(projection: Projection) -> str:
    """Return plans by placement at the end of each FY (placements in words)."""
    monthly = projection.monthly
    ends = monthly.groupby("financial_year").tail(1).set_index("financial_year")
    years = list(projection.ledger.index)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["Placement", *map(str, years)])
    rows = []
    for placement in [*projection.scenario.placements, None]:
        column = "stock" if placement is None else f"stock_{placement.name}"
        name = "Total" if placement is None else placement.shown
        values = ends.loc[years, column].to_numpy(dtype=float)
        cells = "".join(f"<td>{round(v):,}</td>" for v in values)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _effect(effect: Any, names: dict[str, str]) -> str:
    """One intervention effect in words: lever, placements and size."""
    words = [effect.lever.replace("_", " ")]
    if effect.from_:
        words.append(f"{names.get(effect.from_, effect.from_)} → {names.get(effect.to, effect.to)}")
    if effect.placement:
        words.append(names.get(effect.placement, effect.placement))
    if effect.multiply is not None:
        words.append(f"× {effect.multiply:g}")
    if effect.add is not None:
        words.append(f"+ {effect.add:g}")
    if effect.share is not None:
        words.append(f"share {effect.share:.0%}")
    return " ".join(words)


def _listed(pairs: dict[str, float]) -> str:
    return "; ".join(f"{key} {_money(value)}" for key, value in pairs.items()) or "none"


def _per_plan(costs: dict[str, Any], names: dict[str, str]) -> str:
    """Costs per plan by placement in words; a placement's phases in brackets."""
    parts = []
    for placement, cost in costs.items():
        shown = names.get(placement, placement)
        if isinstance(cost, dict):
            phases = ", ".join(f"{_money(v)} ({k.replace('_', ' ')})" for k, v in cost.items())
            parts.append(f"{shown}: {phases}")
        else:
            parts.append(f"{shown} {_money(float(cost))}")
    return "; ".join(parts) or "none"


def _rates(value: float | dict[str, float], names: dict[str, str]) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{names.get(k, k)} {v:.1%}" for k, v in value.items()) or "none"
    return f"{value:.1%} a year"


def _other_line(line: OtherLine) -> str:
    if line.amount is not None:
        return f"{line.name} {_money(line.amount)}, growing {line.growth:.1%} a year"
    return f"{line.name} ({_listed(line.per_year or {})})"


def _assumptions(scenario: Scenario) -> str:
    """Return the main inputs as a table, in words a finance officer would check."""
    demand, costs = scenario.demand, scenario.costs
    funding, agreement = scenario.funding, scenario.agreement
    names = {p.name: p.shown for p in scenario.placements}
    stock = sum(sum(by_age.values()) for by_age in scenario.opening_stock.values())
    given = demand.assessment_capacity
    if isinstance(given, dict):
        capacity = "; ".join(f"{v:g} a month from {k}" for k, v in given.items())
    else:
        capacity = "unlimited" if given is None else f"{given:g} a month"
    limits = "; ".join(
        f"{names.get(c.placement, c.placement)} (overflow to {names.get(c.overflow, c.overflow)})"
        for c in scenario.capacity
    )
    block = (
        f"{_money(funding.high_needs_block)} growing {funding.growth:.1%} a year"
        if funding.high_needs_block is not None
        else f"given by year, growing {funding.growth:.1%} a year after"
    )
    rows = [
        ("Projection", f"{scenario.start} to {scenario.end}; ages {scenario.ages.min} to "
                       f"{scenario.ages.max}"),
        ("Placements", "; ".join(names.values())),
        ("Opening stock", f"{stock:,.0f} plans"),
        ("Requests", f"{demand.requests_per_year:,.0f} in the first year, growing "
                     f"{demand.requests_growth:.1%} a year"),
        ("Decisions", f"{demand.refusal_rate:.1%} refused an assessment; "
                      f"{demand.plan_rate:.1%} of assessments issue a plan"),
        ("Assessments", f"{demand.assessment_months} months; capacity "
                        f"{capacity}; opening backlog "
                        f"{demand.opening_backlog:,.0f}"),
        ("Net transfers", f"{scenario.net_transfer_rate:.1%} of the stock a year"),
        ("Moves and places", f"{len(scenario.transitions)} transition rules; capacity limits: "
                             f"{limits or 'none'}"),
        ("Top-ups per plan", _per_plan({**costs.unit_cost, **costs.top_up}, names)),
        ("Fees per plan", _per_plan(dict(costs.fees), names)),
        ("Place funding per place", _per_plan(dict(costs.place_funding), names)),
        ("Price growth", _rates(costs.uplift, names)),
        ("Other lines", "; ".join(_other_line(line) for line in costs.other_lines) or "none"),
        ("High needs block", block),
        ("Opening balance", _money(agreement.opening_balance)),
        ("DfE Safety Valve contributions", _listed(agreement.contributions)),
        ("Council contributions", _listed(agreement.council_contributions)),
        ("Deficit caps", _listed(agreement.deficit_caps)),
        ("Balance target", agreement.balance_target or "none"),
    ]  # fmt: skip
    rows += [
        (f"Intervention: {i.name}" + (f" (condition {i.condition})" if i.condition else ""),
         f"from {i.start}, "
         + (f"full effect after {i.ramp_months} months: " if i.ramp_months else "in full at once: ")
         + "; ".join(_effect(e, names) for e in i.effects))
        for i in scenario.interventions
    ]  # fmt: skip
    body = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>"
        for name, value in rows
    )
    return (
        "<table class='assumptions'><thead><tr><th>Assumption</th><th>Value</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _headline(projection: Projection) -> str:
    """Return the summary: the target, the largest deficit and the headroom to each cap."""
    headline = projection.summary
    if headline.target_met is None:
        target = "No balance target is set."
    else:
        verdict = (
            '<span class="good">met</span>'
            if headline.target_met
            else "not reached: the projection ends before it"
            if headline.target_after_end
            else '<span class="bad">not met</span>'
        )
        target = (
            f"The balance target (in-year balance ≥ 0 from {headline.balance_target}) is {verdict}."
        )
    deficit = (
        f"The largest deficit is {_money(headline.largest_deficit)} at the end of "
        f"{headline.largest_deficit_year}."
        if headline.largest_deficit_year
        else "The balance is never in deficit."
    )
    caps = " ".join(
        f"Headroom to the {fy} cap: {_money(value)}." for fy, value in headline.headroom.items()
    )
    return f"{target} {deficit} {caps}"


def _charts(projection: Projection, summary: SweepSummary | None) -> str:
    """Return the charts, each embedded as a PNG."""
    from dsg_forecast.reporting import plotting

    figures = [
        ("Cumulative DSG balance", plotting.cumulative_balance(projection, summary)),
        ("In-year balance", plotting.in_year_balance(projection)),
        ("Plans by placement", plotting.placement_mix(projection)),
    ]
    if not projection.savings_by_condition.empty:
        figures.append(("Savings by condition", plotting.savings_waterfall(projection)))
    return "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{_png(figure)}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
        for title, figure in figures
    )


def _savings_table(projection: Projection) -> str:
    """Net savings by condition and FY, or nothing where there are no interventions."""
    savings = projection.savings_by_condition
    if savings.empty:
        return ""
    table = savings.pivot(index="condition", columns="financial_year", values="net_saving")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["condition", *table.columns])
    body = "".join(
        "<tr><td>"
        + html.escape(str(condition))
        + "</td>"
        + "".join(f"<td>{_money(float(v))}</td>" for v in row)
        + "</tr>"
        for condition, row in table.iterrows()
    )
    return (
        f"<h2>Net savings by condition</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def html_report(projection: Projection, summary: SweepSummary | None = None) -> str:
    """Return the report as one self-contained HTML document.

    Parameters
    ----------
    projection
        The projection to report.
    summary
        A sweep's summary, to add its fan to the balance chart and its probability of
        meeting the target.

    Returns
    -------
    str
        The HTML document (charts embedded; nothing fetched when it is opened).

    Raises
    ------
    ArgumentTypeError
        If ``summary`` is neither a sweep's summary nor None (it ended inside the charts).
    """
    check_projection(projection)
    from dsg_forecast._version import __version__
    from dsg_forecast.reporting.plotting import check_summary

    check_summary(summary)
    scenario = projection.scenario
    target_deficit_caps = _headline(projection)
    charts = _charts(projection, summary)
    savings_html = _savings_table(projection)
    sweep_html = ""
    if summary is not None and summary.probability_target_met is not None:
        sweep_html = (
            f"<p>Across {summary.samples:,} scenarios of the sweep, the target is met in "
            f"{summary.probability_target_met:.1%} of them.</p>"
        )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    warning = placeholder_warning(scenario.placeholders)
    banner = f"<p class='banner'>{html.escape(warning)}</p>" if warning else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(scenario.name)}: DSG forecast</title><style>{STYLE}</style></head>
<body>
{banner}<h1>{html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description or "")}</p>
<h2>Summary</h2>
<p class="lead">{target_deficit_caps}</p>{sweep_html}
<h2>DSG ledger</h2>
<p>Pounds; negative balances are deficits. Contributions count towards the cumulative balance,
not the in-year test.</p>
{_ledger_table(projection)}
<h2>EHC plans by placement at the end of each financial year</h2>
{_plans_table(projection)}
<h2>Charts</h2>
{charts}
{savings_html}
<h2>Assumptions</h2>
{_assumptions(scenario)}
<footer>Made by dsg_forecast {html.escape(__version__)} on {generated}. Scenario input hash
(SHA-256): <code>{input_hash(scenario)}</code>.</footer>
</body></html>
"""
