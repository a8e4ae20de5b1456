"""The ``dsg-forecast`` command: thin glue from arguments to io, model and io again.

Exit codes: 0 success; 2 a problem with the input (printed on one screen, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd

from dsg_forecast.cli_sweeps import add_commands as add_sweep_commands
from dsg_forecast.cli_sweeps import at_least
from dsg_forecast.errors import DsgForecastError

if TYPE_CHECKING:
    from dsg_forecast.results import Projection

EXIT_INPUT = 2

_TABLE_COLUMNS = (
    ("income", "income"),
    ("placement_cost", "placements"),
    ("expenditure", "expenditure"),
    ("in_year_balance", "in-year"),
    ("contribution", "contribution"),
    ("cumulative_balance", "cumulative"),
    ("deficit_cap", "cap"),
)


def _money(value: float) -> str:
    if value != value:  # NaN: no figure
        return "-"
    return f"{value:,.0f}"


def format_table(projection: Projection) -> str:
    """Return the ledger, summary and savings as a readable plain-text report (£)."""
    ledger = projection.ledger
    header = ["FY", *(label for _, label in _TABLE_COLUMNS), "within cap"]
    rows = []
    for fy, row in ledger.iterrows():
        within = row["within_cap"]
        flag = "-" if pd.isna(within) else ("yes" if within else "NO")
        rows.append([str(fy), *(_money(float(row[column])) for column, _ in _TABLE_COLUMNS), flag])
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    out = [f"Scenario: {projection.scenario.name}", "", "DSG ledger (£; negative = deficit)"]
    out.append(line(header))
    out.append("  ".join("-" * width for width in widths))
    out.extend(line(row) for row in rows)

    summary = projection.summary
    out.append("")
    if summary.target_met is None:
        out.append("Balance target: none set")
    else:
        verdict = "met" if summary.target_met else "NOT met"
        out.append(f"Balance target: in-year balance >= 0 from {summary.balance_target}: {verdict}")
    out.append(f"First balanced year: {summary.first_balanced_year or 'none in the projection'}")
    if summary.largest_deficit_year is None:
        out.append("Largest deficit: none (never in deficit)")
    else:
        out.append(
            f"Largest deficit: £{summary.largest_deficit:,.0f} at the end of "
            f"{summary.largest_deficit_year}"
        )
    for fy, headroom in summary.headroom.items():
        out.append(f"Headroom to the {fy} cap: £{headroom:,.0f}")

    savings = projection.savings
    if not savings.empty:
        fys = list(projection.ledger.index)
        table = savings.pivot(index="intervention", columns="financial_year", values="net_saving")
        together = projection.savings_by_condition
        together = together[together["condition"] == "all"].set_index("financial_year")
        names = list(dict.fromkeys(savings["intervention"]))
        condition = dict(zip(savings["intervention"], savings["condition"], strict=True))
        labels = [f"{name} [{condition[name]}]" if condition[name] else name for name in names]
        body = [
            [label, *(_money(float(table.loc[name, fy])) for fy in fys)]
            for label, name in zip(labels, names, strict=True)
        ]
        body.append(
            ["all together", *(_money(float(together.loc[fy, "net_saving"])) for fy in fys)]
        )
        head = ["intervention [condition]", *fys]
        sizes = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        out.append("")
        out.append("Net savings against no interventions (£; after each one's own cost)")
        for entries in [head, ["-" * size for size in sizes], *body]:
            cells = [entries[0].ljust(sizes[0])]
            cells += [cell.rjust(size) for cell, size in zip(entries[1:], sizes[1:], strict=True)]
            out.append("  ".join(cells))
    return "\n".join(out)


def _run(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario, write_results
    from dsg_forecast.model import project

    projection = project(load_scenario(args.file))
    if args.format == "json":
        stdout.write(projection.to_json() + "\n")
    elif args.format == "csv":
        stdout.write(projection.ledger.to_csv())
    else:
        stdout.write(format_table(projection) + "\n")
    if args.out and str(args.out).lower().endswith(".xlsx"):
        from dsg_forecast.io.excel import write_excel

        write_excel(projection, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    elif args.out:
        written = write_results(projection, args.out)
        names = ", ".join(path.name for path in written)
        print(f"wrote {names} to {args.out}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario

    if Path(args.file).suffix.lower() != ".xlsx":
        from dsg_forecast.io.scenario_files import read_mapping

        data = read_mapping(args.file)
        if "base" in data or "sweep" in data:
            return _validate_sweep(args, stdout)
    scenario = load_scenario(args.file)
    stdout.write(
        f"{args.file}: valid scenario {scenario.name!r}, {scenario.start} to {scenario.end}, "
        f"{len(scenario.placements)} placements, ages {scenario.ages.min}..{scenario.ages.max}, "
        f"{len(scenario.interventions)} interventions\n"
    )
    return 0


def _validate_sweep(args: argparse.Namespace, stdout: TextIO) -> int:
    """Check a sweep: its base scenario, every swept path and every value the design draws."""
    from dsg_forecast.sweeps import load_sweep, plan_sweep

    scenario, spec = load_sweep(args.file)
    plan_sweep(scenario, spec)
    stdout.write(
        f"{args.file}: valid sweep of {len(spec.parameters)} parameters "
        f"({', '.join(spec.parameters)}), {spec.design} design, {spec.samples:,} samples, "
        f"seed {spec.seed}, over scenario {scenario.name!r}\n"
    )
    return 0


def _schema(_args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.schema import Scenario

    stdout.write(json.dumps(Scenario.model_json_schema(by_alias=True), indent=1) + "\n")
    return 0


def _calibrate(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.data import SOURCE
    from dsg_forecast.data.calibrate import calibrate_detailed
    from dsg_forecast.io.scenario_writer import scenario_to_yaml

    result = calibrate_detailed(args.council, args.to, years=args.years)
    header = [
        f"{result.council.name} ({result.council.geography_code}, LA {result.council.old_la_code}) "
        f"calibrated to the January {args.to} census by dsg_forecast.",
        f"Source: {SOURCE}.",
        "How each input was set (years used in brackets):",
    ]
    header += [
        f"  {note.field}: {note.value if not isinstance(note.value, dict) else '(table below)'} "
        f"- {note.method}" + (f" [{note.years}]" if note.years else "")
        for note in result.notes
    ]
    header += [
        "",
        "COSTS AND FUNDING ARE DEFAULTS: replace them with the council's own figures.",
        "",
    ]
    text = scenario_to_yaml(result.scenario, header)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        stdout.write(text)
    return 0


def _backtest(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.backtest import backtest

    first, _, last = args.origins.partition("-")
    origins = range(int(first), int(last or first) + 1)
    result = backtest(
        councils_to_test=args.council or None,
        origins=origins,
        horizons=tuple(range(1, args.horizon + 1)),
        methods=tuple(
            args.method or ("ets", "arima", "loglinear", "last_growth", "mean_growth", "cohort")
        ),
        first_year=args.first_year,
        pool=args.pool,
    )
    if args.out:
        result.errors.to_csv(args.out, index=False)
        print(f"every forecast and its error in {args.out}", file=sys.stderr)
    summary = result.summary()
    if args.format == "csv":
        stdout.write(summary.to_csv())
    else:
        stdout.write(
            "Backtest of plans at each January: errors in % of the count "
            "(bias > 0 over-forecasts)\n"
        )
        stdout.write(summary.to_string() + "\n")
        if len(result.skipped):
            stdout.write(
                f"\n{len(result.skipped)} forecasts could not be made "
                "(see --out for every forecast made)\n"
            )
    return 0


def _plot(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast import plotting
    from dsg_forecast.io import load_scenario
    from dsg_forecast.model import project

    if args.kind in ("fan", "tornado"):
        from dsg_forecast.sweeps import load_sweep, run_sweep
        from dsg_forecast.sweeps.sensitivity import tornado

        scenario, spec = load_sweep(args.file)
        if args.samples:
            spec = spec.model_copy(update={"samples": args.samples})
        if args.kind == "fan":
            figure = plotting.cumulative_balance(
                project(scenario, savings=False), run_sweep(scenario, spec).summary()
            )
        else:
            figure = plotting.tornado(tornado(scenario, spec), args.output, args.year)
    else:
        projection = project(load_scenario(args.file))
        draw = {
            "balance": plotting.cumulative_balance,
            "in-year": plotting.in_year_balance,
            "mix": plotting.placement_mix,
        }
        if args.kind == "savings":
            figure = plotting.savings_waterfall(projection, args.year)
        else:
            figure = draw[args.kind](projection)
    plotting.save(figure, args.out)
    stdout.write(f"wrote {args.out}\n")
    return 0


def _monitor(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.model import project
    from dsg_forecast.monitoring import Thresholds, monitor, read_actuals, to_markdown

    projection = project(load_scenario(args.plan), savings=False)
    table = monitor(projection, read_actuals(args.actuals), Thresholds(args.green, args.amber))
    title = f"Key measures against the plan ({projection.scenario.name})"
    out = str(args.out or "")
    if out.endswith(".xlsx"):
        table.to_excel(out, index=False, sheet_name="Key measures")
    elif out.endswith(".csv"):
        table.to_csv(out, index=False)
    elif out.endswith(".html"):
        colours = {"green": "#c6efce", "amber": "#ffeb9c", "red": "#ffc7ce"}
        styled = table.style.map(
            lambda v: f"background-color: {colours.get(v, '')}", subset=["rag"]
        )
        body = styled.format(precision=2, na_rep="-").hide(axis="index").to_html()
        Path(out).write_text(
            f"<!doctype html><meta charset='utf-8'><title>{title}</title><h2>{title}</h2>{body}",
            encoding="utf-8",
        )
    elif out:
        Path(out).write_text(to_markdown(table, title), encoding="utf-8")
    else:
        stdout.write(to_markdown(table, title))
    if out:
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.model import project
    from dsg_forecast.report import html_report

    projection = project(load_scenario(args.file))
    Path(args.out).write_text(html_report(projection), encoding="utf-8")
    stdout.write(f"wrote {args.out}\n")
    return 0


def _template(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.io.workbook import write_workbook

    scenario = load_scenario(args.scenario) if args.scenario else None
    write_workbook(scenario, args.out)
    stdout.write(f"wrote {args.out}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``dsg-forecast``."""
    parser = argparse.ArgumentParser(
        prog="dsg-forecast",
        description="Forecast high-needs spending and the cumulative DSG deficit.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="project a scenario and print its DSG ledger")
    run.add_argument("file", help="scenario file (.yaml, .yml, .toml or .json)")
    run.add_argument("--format", choices=["table", "json", "csv"], default="table")
    run.add_argument(
        "--out",
        metavar="DIR|FILE.xlsx",
        help="also write ledger, monthly, stock and savings: CSVs in DIR, or one Excel workbook",
    )
    run.set_defaults(handler=_run)
    validate = sub.add_parser(
        "validate", help="check a scenario (or sweep) file and list every problem"
    )
    validate.add_argument("file")
    validate.set_defaults(handler=_validate)
    schema = sub.add_parser("schema", help="print the JSON Schema of a scenario file")
    schema.set_defaults(handler=_schema)
    calibrate = sub.add_parser("calibrate", help="build a council's scenario from SEN2 data")
    calibrate.add_argument("council", help="name, old LA code (865) or new code (E06000054)")
    calibrate.add_argument(
        "--to", type=int, default=2024, help="January census year (2024 or 2025)"
    )
    calibrate.add_argument(
        "--years", type=at_least(1), default=5, help="financial years to project"
    )
    calibrate.add_argument("--out", metavar="FILE", help="write the scenario YAML here")
    calibrate.set_defaults(handler=_calibrate)
    mon = sub.add_parser("monitor", help="key measures against the plan, rated red/amber/green")
    mon.add_argument("plan", help="the plan's scenario file")
    mon.add_argument("actuals", help="CSV of dated key measures (date, measure, value, ...)")
    mon.add_argument("--out", metavar="report.md|.html|.xlsx|.csv", help="default: print Markdown")
    mon.add_argument("--green", type=float, default=0.02, help="variance rated green (0.02 = 2%%)")
    mon.add_argument("--amber", type=float, default=0.05, help="variance rated amber")
    mon.set_defaults(handler=_monitor)
    template = sub.add_parser(
        "template", help="write an input workbook (empty, or from a scenario)"
    )
    template.add_argument("out", metavar="scenario.xlsx")
    template.add_argument("--scenario", help="fill the workbook from this scenario file")
    template.set_defaults(handler=_template)
    report = sub.add_parser("report", help="one self-contained HTML report of a projection")
    report.add_argument("file", help="scenario file")
    report.add_argument("--out", required=True, metavar="report.html")
    report.set_defaults(handler=_report)
    plot = sub.add_parser("plot", help="draw a chart as PNG or SVG")
    plot.add_argument(
        "kind",
        choices=["balance", "in-year", "mix", "savings", "fan", "tornado"],
        help="fan and tornado take a sweep; the others a scenario",
    )
    plot.add_argument("file", help="a scenario file (a sweep file for fan and tornado)")
    plot.add_argument("--out", required=True, metavar="FILE.png|FILE.svg")
    plot.add_argument("--year", help="the FY of a savings waterfall or a tornado")
    plot.add_argument("--output", default="in_year_balance", help="the tornado's output")
    plot.add_argument("--samples", type=at_least(1), help="scenarios for a fan chart")
    plot.set_defaults(handler=_plot)
    back = sub.add_parser("backtest", help="forecast past Januarys and compare with the counts")
    back.add_argument("--council", action="append", help="a council (repeat; default: all)")
    back.add_argument(
        "--origins", default="2016-2024", help="first-last origin January, e.g. 2016-2024"
    )
    back.add_argument("--horizon", type=int, default=3, help="years ahead (1-3)")
    back.add_argument(
        "--method",
        action="append",
        choices=["ets", "arima", "loglinear", "last_growth", "mean_growth", "cohort"],
        help="methods to test (repeat; default: all)",
    )
    back.add_argument("--first-year", type=int, default=2015, help="first January of each history")
    back.add_argument("--pool", action="store_true", help="shrink growth towards the region's")
    back.add_argument("--format", choices=["table", "csv"], default="table")
    back.add_argument("--out", metavar="CSV", help="write every forecast and its error")
    back.set_defaults(handler=_backtest)
    add_sweep_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    out = stdout if stdout is not None else sys.stdout
    try:
        code: int = args.handler(args, out)
    except DsgForecastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
