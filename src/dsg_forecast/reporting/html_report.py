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
ul.assumptions { columns: 2; font-size: 0.85rem; }
"""


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


def _ledger_table(projection: Projection) -> str:
    ledger = projection.ledger
    columns = ["income", "placement_cost", "other_cost", "intervention_cost", "expenditure",
               "in_year_balance", "contribution", "cumulative_balance", "deficit_cap"]  # fmt: skip
    head = "".join(
        f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in ["FY", *columns, "within cap"]
    )
    rows = []
    for fy, row in ledger.iterrows():
        cells = [f"<td>{html.escape(str(fy))}</td>"]
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


def _effect(effect: Any) -> str:
    """One intervention effect in words: lever, key and size."""
    words = [effect.lever]
    if effect.from_:
        words.append(f"{effect.from_}→{effect.to}")
    if effect.placement:
        words.append(effect.placement)
    if effect.multiply is not None:
        words.append(f"×{effect.multiply}")
    if effect.add is not None:
        words.append(f"+{effect.add}")
    if effect.share is not None:
        words.append(f"share {effect.share}")
    return " ".join(words)


def _listed(pairs: dict[str, float]) -> str:
    return ", ".join(f"{key} {_money(value)}" for key, value in pairs.items()) or "none"


def _other_line(line: OtherLine) -> str:
    if line.amount is not None:
        return f"{line.name} {_money(line.amount)}"
    return f"{line.name} ({_listed(line.per_year or {})})"


def _assumptions(scenario: Scenario) -> str:
    """List the main inputs, in words a finance officer would check."""
    demand, costs = scenario.demand, scenario.costs
    funding, agreement = scenario.funding, scenario.agreement
    stock = sum(sum(by_age.values()) for by_age in scenario.opening_stock.values())
    capacity = "unlimited" if demand.assessment_capacity is None else demand.assessment_capacity
    limits = ", ".join(f"{c.placement} (overflow to {c.overflow})" for c in scenario.capacity)
    block = (
        f"{_money(funding.high_needs_block)} growing {funding.growth:.1%} a year"
        if funding.high_needs_block is not None
        else "given by year"
    )
    items = [
        f"Projection {scenario.start} to {scenario.end}; "
        f"ages {scenario.ages.min}-{scenario.ages.max}",
        f"Placements: {', '.join(p.name for p in scenario.placements)}",
        f"Opening stock: {stock:,.0f} plans",
        f"Requests in the first year: {demand.requests_per_year:,.0f}, growing "
        f"{demand.requests_growth:.1%} a year; {demand.refusal_rate:.1%} refused; "
        f"{demand.plan_rate:.1%} of assessments issue a plan",
        f"Assessment takes {demand.assessment_months} months; capacity {capacity}; "
        f"opening backlog {demand.opening_backlog:,.0f}",
        f"Net transfers: {scenario.net_transfer_rate:.1%} of the stock a year",
        f"Transition rules: {len(scenario.transitions)}; capacity limits: {limits or 'none'}",
        f"Unit costs: {_listed(costs.unit_cost)}",
        f"Top-ups: {costs.top_up or 'none'}; fees: {costs.fees or 'none'}",
        f"Place funding per place: {_listed(costs.place_funding)}",
        f"Uplift: {costs.uplift}",
        f"Other lines: {', '.join(_other_line(line) for line in costs.other_lines) or 'none'}",
        f"High needs block: {block}",
        f"Opening balance: {_money(agreement.opening_balance)}; "
        f"contributions: {_listed(agreement.contributions)}",
        f"Deficit caps: {_listed(agreement.deficit_caps)}",
        f"Balance target: {agreement.balance_target or 'none'}",
    ]
    items += [
        f"Intervention “{i.name}” (condition {i.condition or '-'}): from {i.start}, ramp "
        f"{i.ramp_months} months: {'; '.join(_effect(e) for e in i.effects)}"
        for i in scenario.interventions
    ]
    return (
        "<ul class='assumptions'>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
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
    """
    from dsg_forecast._version import __version__

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
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(scenario.name)}: DSG forecast</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description or "")}</p>
<h2>Summary</h2>
<p class="lead">{target_deficit_caps}</p>{sweep_html}
<h2>DSG ledger</h2>
<p>Pounds; negative balances are deficits. Contributions count towards the cumulative balance,
not the in-year test.</p>
{_ledger_table(projection)}
<h2>Charts</h2>
{charts}
{savings_html}
<h2>Assumptions</h2>
{_assumptions(scenario)}
<footer>Made by dsg_forecast {html.escape(__version__)} on {generated}. Scenario input hash
(SHA-256): <code>{input_hash(scenario)}</code>.</footer>
</body></html>
"""
