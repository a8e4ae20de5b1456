"""Charts for reports (matplotlib, headless; imported only when a chart is drawn).

Each function takes results (never a scenario), draws on a new figure, and returns it;
:func:`save` writes PNG or SVG.

- :func:`cumulative_balance`: the cumulative DSG balance against the caps and the target
  year; a fan (5-95% and 25-75%) when given a sweep's summary;
- :func:`in_year_balance`: the in-year balance by FY;
- :func:`placement_mix`: plans by placement over time;
- :func:`savings_waterfall`: how each condition's interventions move one FY's balance;
- :func:`tornado`: one-at-a-time sensitivity bars;
- :func:`compared_balance`: several scenarios' cumulative balance against the caps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dsg_forecast.errors import ArgumentError, ArgumentTypeError, OutputError, as_path
from dsg_forecast.reporting.labels import label
from dsg_forecast.results import check_projection

if TYPE_CHECKING:
    from dsg_forecast.reporting.compare import Comparison
    from dsg_forecast.results import Projection
    from dsg_forecast.sweeps.summary import SweepSummary

MILLIONS = 1e6


def _figure(width: float = 8.0, height: float = 4.5) -> tuple[Any, Any]:
    import matplotlib as mpl

    mpl.use("Agg")  # headless: no display is needed or used
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    axes.grid(axis="y", alpha=0.3)
    return figure, axes


def check_summary(summary: object) -> None:
    """Refuse a ``summary`` that is neither a sweep's summary nor None.

    Parameters
    ----------
    summary
        What was given as a sweep's summary.

    Raises
    ------
    ArgumentTypeError
        If it is not a :class:`~dsg_forecast.sweeps.summary.SweepSummary` (it ended inside
        the charts: "'str' object has no attribute 'quantiles'").
    """
    if summary is None:
        return
    from dsg_forecast.sweeps import summary as sweep_summary

    if not isinstance(summary, sweep_summary.SweepSummary):
        kind = type(summary).__name__
        msg = f"summary is a {kind}; give a sweep's summary (SweepResult.summary()) or None"
        raise ArgumentTypeError(msg)


def cumulative_balance(
    projection: Projection | None = None, summary: SweepSummary | None = None
) -> Any:
    """Draw the cumulative DSG balance by FY (£m) against the caps; a fan for a sweep.

    Parameters
    ----------
    projection
        The projection to draw (its caps and target are marked).
    summary
        A sweep's summary, drawn as a 5-95% and 25-75% fan.

    Returns
    -------
    matplotlib.figure.Figure
        The chart.

    Raises
    ------
    ArgumentError
        If neither is given.
    ArgumentTypeError
        If ``summary`` is not a sweep's summary.
    """
    check_projection(projection, optional=True)
    if projection is None and summary is None:
        msg = "give a projection, a sweep summary, or both"
        raise ArgumentError(msg)
    check_summary(summary)
    figure, axes = _figure()
    if summary is not None:
        fan = summary.quantiles.loc["cumulative_balance"] / MILLIONS
        years = list(fan.index)
        axes.fill_between(years, fan[0.05], fan[0.95], alpha=0.2, color="tab:blue", label="5-95%")
        axes.fill_between(years, fan[0.25], fan[0.75], alpha=0.35, color="tab:blue", label="25-75%")
        axes.plot(years, fan[0.5], color="tab:blue", label="median")
    if projection is not None:
        ledger = projection.ledger
        axes.plot(
            list(ledger.index),
            ledger["cumulative_balance"] / MILLIONS,
            marker="o",
            color="black",
            label=projection.scenario.name,
        )
        caps = ledger["deficit_cap"].dropna()
        if len(caps):
            axes.scatter(
                list(caps.index),
                -caps / MILLIONS,
                marker="_",
                s=400,
                color="tab:red",
                label="deficit cap",
                zorder=3,
            )
        target = projection.scenario.agreement.balance_target
        if target in ledger.index:
            axes.axvline(
                target, color="tab:green", linestyle="--", label=f"balance target {target}"
            )
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_ylabel("cumulative balance (£m; below 0 = deficit)")
    axes.set_xlabel("financial year")
    axes.set_title("Cumulative DSG balance")
    axes.legend(loc="best", fontsize="small")  # where it hides no line and no cap
    return figure


def in_year_balance(projection: Projection) -> Any:
    """Draw the in-year balance by FY (£m): surpluses green, deficits red.

    Parameters
    ----------
    projection
        The projection to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The chart.
    """
    check_projection(projection)
    figure, axes = _figure()
    balance = projection.ledger["in_year_balance"] / MILLIONS
    colours = ["tab:green" if value >= 0 else "tab:red" for value in balance]
    axes.bar(list(balance.index), balance.to_numpy(), color=colours)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_ylabel("in-year balance (£m)")
    axes.set_xlabel("financial year")
    axes.set_title("In-year DSG balance")
    return figure


def placement_mix(projection: Projection) -> Any:
    """Draw plans by placement at the end of each month (stacked).

    Parameters
    ----------
    projection
        The projection to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The chart.
    """
    check_projection(projection)
    figure, axes = _figure(9, 4.8)
    shown = {p.name: p.shown for p in projection.scenario.placements}
    stock = projection.monthly.filter(like="stock_").rename(columns=lambda c: shown[c[6:]])
    stock = stock.loc[:, stock.sum() > 0]
    months = pd.PeriodIndex(stock.index, freq="M").to_timestamp()
    axes.stackplot(months, stock.to_numpy().T, labels=list(stock.columns), alpha=0.85)
    axes.set_ylabel("plans")
    axes.set_title("Plans by placement")
    # beside the chart, top placement first as in the stack: inside, it covered the top
    # layers (post-16, early years) over the first years
    handles, names = axes.get_legend_handles_labels()
    axes.legend(
        handles[::-1], names[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0),
        fontsize="x-small", frameon=False,
    )  # fmt: skip
    return figure


def savings_waterfall(projection: Projection, year: str | None = None) -> Any:
    """Draw how each intervention moves one FY's in-year balance.

    From the balance without interventions, a bar per intervention's net saving (named, with
    its condition), to the balance with them all; an ``interactions`` bar reconciles the
    two where they differ.

    Parameters
    ----------
    projection
        A projection with interventions.
    year
        The FY (default: the last).

    Returns
    -------
    matplotlib.figure.Figure
        The chart.

    Raises
    ------
    OutputError
        If the scenario has no interventions (there are no savings to draw).
    ArgumentError
        If ``year`` is not a financial year of the projection.
    """
    check_projection(projection)
    by_condition = projection.savings_by_condition
    if by_condition.empty:
        msg = "the scenario has no interventions, so there are no savings to draw"
        raise OutputError(msg)
    ledger = projection.ledger
    year = year or str(ledger.index[-1])
    if year not in [str(fy) for fy in ledger.index]:  # a KeyError from pandas
        msg = (
            f"year is {year!r}; give a financial year of the projection "
            f"({ledger.index[0]} to {ledger.index[-1]})"
        )
        raise ArgumentError(msg)
    rows = by_condition[by_condition["financial_year"] == year].set_index("condition")["net_saving"]
    balances = dict(zip(ledger.index, ledger["in_year_balance"].to_numpy(float), strict=True))
    with_all = float(balances[year])
    without = with_all - float(rows["all"])
    alone = projection.savings
    alone = alone[alone["financial_year"] == year]
    steps = alone["net_saving"].to_numpy(dtype=float)
    interactions = float(rows["all"]) - float(steps.sum())
    names = [
        f"{name} ({condition})" if condition else str(name)
        for name, condition in zip(alone["intervention"], alone["condition"], strict=True)
    ]
    labels = ["without interventions", *names]
    values = [without, *steps]
    if abs(interactions) > 0.5:
        labels.append("interactions")
        values.append(interactions)
    figure, axes = _figure(10, 5.5)
    running = 0.0
    for position, (name, value) in enumerate(zip(labels, values, strict=True)):
        bottom = 0.0 if position == 0 else running
        colour = "grey" if position == 0 else ("tab:green" if value >= 0 else "tab:red")
        axes.bar(name, value / MILLIONS, bottom=bottom / MILLIONS, color=colour)
        running = value if position == 0 else running + value
    axes.bar("with interventions", with_all / MILLIONS, color="black")
    # room above and below the bars: a bar's own end is otherwise the axis's edge, so a
    # waterfall's highest step looked cut off
    axes.use_sticky_edges = False
    axes.margins(y=0.05)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_ylabel("in-year balance (£m)")
    axes.set_title(f"Net savings by intervention, {year}")
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")
    for tick in axes.get_xticklabels():
        tick.set_horizontalalignment("right")
    return figure


def tornado(
    frame: pd.DataFrame,
    output: str = "in_year_balance",
    year: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Draw tornado bars from :func:`dsg_forecast.sweeps.sensitivity.tornado` (one output, FY).

    Parameters
    ----------
    frame
        Tornado data.
    output
        Which output to draw.
    year
        Which FY (default: the last).
    labels
        Each parameter's path → its words (see
        :func:`dsg_forecast.sweeps.describe.parameter_label`); paths without one are shown
        as they are.

    Returns
    -------
    matplotlib.figure.Figure
        The chart.
    """
    rows = frame[frame["output"] == output]
    year = year or str(rows["financial_year"].max())
    rows = rows[rows["financial_year"] == year].sort_values("swing")
    if rows.empty:
        msg = f"no tornado rows for {output} in {year}"
        raise ArgumentError(msg)
    base = float(rows["base"].iloc[0])
    figure, axes = _figure(9, 0.45 * len(rows) + 1.5)
    names = [(labels or {}).get(str(p), str(p)) for p in rows["parameter"]]
    for column, colour in (("at_low", "tab:blue"), ("at_high", "tab:orange")):
        axes.barh(
            names,
            (rows[column] - base).to_numpy() / MILLIONS,
            left=base / MILLIONS,
            color=colour,
            label={"at_low": "at the low value", "at_high": "at the high value"}[column],
        )
    axes.axvline(base / MILLIONS, color="black", linewidth=0.8)
    axes.set_xlabel(f"{label(output)} {year} (£m)")
    # over the whole figure: centred over the bars alone, beside long labels, it ran off
    # the figure's right edge
    figure.suptitle("One at a time: each assumption from its 5% to its 95%")
    axes.legend(loc="best", fontsize="small")
    return figure


def compared_balance(comparison: Comparison) -> Any:
    """Draw each compared scenario's cumulative DSG balance (£m) against the caps.

    Parameters
    ----------
    comparison
        What :func:`dsg_forecast.reporting.compare.compare` returned.

    Returns
    -------
    matplotlib.figure.Figure
        The chart: a line per scenario (A first) and the caps as marks: red where every
        scenario has the same caps, else each scenario's in its line's colour.
    """
    figure, axes = _figure()
    years = list(comparison.years)
    caps: list[dict[str, float]] = []
    colours = []
    for letter, projection in zip(comparison.letters, comparison.projections, strict=True):
        ledger = projection.ledger.loc[years]
        (line,) = axes.plot(
            years,
            ledger["cumulative_balance"] / MILLIONS,
            marker="o",
            label=f"{letter}: {projection.scenario.name}",
        )
        colours.append(line.get_color())
        caps.append({str(fy): float(cap) for fy, cap in ledger["deficit_cap"].dropna().items()})
    # one set of marks where the caps agree (the usual case: one agreement); where they
    # differ, the tightest alone would pass for every scenario's, so each gets its own
    shared = all(own == caps[0] for own in caps)
    for letter, colour, own in zip(comparison.letters, colours, caps, strict=True):
        if own and not (shared and letter != comparison.letters[0]):
            axes.scatter(
                list(own),
                [-cap / MILLIONS for cap in own.values()],
                marker="_",
                s=400,
                color="tab:red" if shared else colour,
                label="deficit cap" if shared else f"{letter}: deficit cap",
                zorder=3,
            )
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_ylabel("cumulative balance (£m; below 0 = deficit)")
    axes.set_xlabel("financial year")
    axes.set_title("Cumulative DSG balance, scenarios compared")
    axes.legend(loc="best", fontsize="small")  # where it hides no line and no cap
    return figure


def save(figure: Any, path: str | Path, *, force: bool = False) -> Path:
    """Write a figure as PNG or SVG (by the file's suffix) and close it.

    Parameters
    ----------
    figure
        A matplotlib figure.
    path
        A ``.png`` or ``.svg`` file.
    force
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib.pyplot as plt

    from dsg_forecast.io.output import written_atomically

    target = as_path(path)
    try:
        with written_atomically(target, force=force, suffixes=(".png", ".svg")) as partial:
            figure.savefig(partial, dpi=120, format=target.suffix.lower()[1:])
    finally:
        plt.close(figure)
    return target
