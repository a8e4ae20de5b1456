"""The ``monitor``, ``report`` and ``plot`` commands: what a finance officer sends on."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from dsg_forecast.cli._common import at_least, check_year, file_name


def _plot(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.io.output import check_target
    from dsg_forecast.model import project
    from dsg_forecast.reporting import plotting

    check_target(args.out, force=args.force, suffixes=(".png", ".svg"))
    _check_plot_options(args)
    if args.kind in ("fan", "tornado"):
        from dsg_forecast.sweeps import load_sweep, run_sweep
        from dsg_forecast.sweeps.sensitivity import tornado

        scenario, spec = load_sweep(args.file)
        check_year(args.year, scenario.financial_years, "--year")
        if args.samples:
            spec = _with_samples(spec, args.samples, args.file)
        if args.kind == "fan":
            figure = plotting.cumulative_balance(
                project(scenario, savings=False), run_sweep(scenario, spec).summary()
            )
        else:
            from dsg_forecast.sweeps.describe import parameter_label

            words = {path: parameter_label(scenario, path) for path in spec.parameters}
            rows = tornado(scenario, spec, outputs=(args.output,))
            figure = plotting.tornado(rows, args.output, args.year, words)
    else:
        projection = project(load_scenario(args.file))
        draw = {
            "balance": plotting.cumulative_balance,
            "in-year": plotting.in_year_balance,
            "mix": plotting.placement_mix,
        }
        if args.kind == "savings":
            check_year(args.year, projection.structure.fy_labels, "--year")
            figure = plotting.savings_waterfall(projection, args.year)
        else:
            figure = draw[args.kind](projection)
    plotting.save(figure, args.out, force=args.force)
    stdout.write(f"wrote {args.out}\n")
    return 0


#: The plots each option is for: given to another, it would be ignored without a word.
PLOT_OPTIONS: dict[str, tuple[str, ...]] = {
    "year": ("savings", "tornado"),
    "output": ("tornado",),
    "samples": ("fan",),
}


def _with_samples(spec: Any, samples: int, file: str) -> Any:
    """Return the sweep with ``--samples``, validated (a grid takes no number of samples)."""
    from dsg_forecast.sweeps import spec_from_mapping

    data = {**spec.model_dump(by_alias=True, exclude_unset=True), "samples": samples}
    return spec_from_mapping(data, file)


def _check_plot_options(args: argparse.Namespace) -> None:
    """Refuse an option the chart asked for does not use, naming the charts that do."""
    from dsg_forecast.errors import OutputError

    for option, kinds in PLOT_OPTIONS.items():
        if getattr(args, option) is not None and args.kind not in kinds:
            msg = f"--{option} is for {' and '.join(kinds)} charts, not {args.kind}"
            raise OutputError(msg)
    if args.kind == "tornado" and args.output is None:
        args.output = "in_year_balance"


def _monitor(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.model import project
    from dsg_forecast.reporting.monitoring import Thresholds, read_actuals
    from dsg_forecast.reporting.monitoring_return import (
        monitoring_return,
        read_register,
        return_markdown,
        write_return,
    )

    thresholds = Thresholds(args.green, args.amber)
    plan = project(load_scenario(args.plan), savings=False)
    forecast = project(load_scenario(args.forecast), savings=False) if args.forecast else None
    register = read_register(args.register) if args.register else None
    result = monitoring_return(
        plan, read_actuals(args.actuals), thresholds=thresholds, register=register,
        forecast=forecast,
    )  # fmt: skip
    if args.out:
        out = write_return(result, args.out, force=args.force)
        print(f"wrote {out}", file=sys.stderr)
    else:
        stdout.write(return_markdown(result))
    return 0


def _report(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.io.output import check_target, written_atomically
    from dsg_forecast.model import project
    from dsg_forecast.reporting.html_report import html_report

    check_target(args.out, force=args.force, suffixes=(".html",))
    projection = project(load_scenario(args.file))
    with written_atomically(args.out, force=args.force, suffixes=(".html",)) as partial:
        partial.write_text(html_report(projection), encoding="utf-8")
    stdout.write(f"wrote {args.out}\n")
    return 0


def _management_plan(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.model import project
    from dsg_forecast.reporting.management_plan import write_management_plan

    projection = project(load_scenario(args.file))
    out = write_management_plan(projection, args.out, force=args.force)
    stdout.write(f"wrote {out}\n")
    return 0


def _compare(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.reporting.compare import compare, format_comparison, write_comparison

    scenarios = [load_scenario(file) for file in args.files]
    common = [fy for fy in scenarios[0].financial_years if all(
        fy in other.financial_years for other in scenarios[1:])]  # fmt: skip
    if common:
        check_year(args.year, common, "--year")
    comparison = compare(scenarios, year=args.year, engine=args.engine)
    if args.out:
        out = write_comparison(comparison, args.out, force=args.force)
        stdout.write(f"wrote {out}\n")
    elif args.format == "csv":
        from dsg_forecast.reporting.compare import comparison_frame

        comparison_frame(comparison).to_csv(stdout, index=False)
    else:
        stdout.write(format_comparison(comparison) + "\n")
    return 0


def add_compare(sub: Any) -> None:
    """Register the ``compare`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    cmp = sub.add_parser(
        "compare",
        help="scenarios side by side (the first is the reference), with a variance bridge",
    )
    cmp.add_argument(
        "files", type=file_name, nargs="+", metavar="FILE", help="two or more scenario files"
    )
    cmp.add_argument("--year", help="the FY of the bridge (default: the last FY in common)")
    cmp.add_argument("--format", choices=("table", "csv"), default="table")
    cmp.add_argument("--out", type=file_name, metavar="FILE.csv|.xlsx|.html|.png|.svg")
    cmp.add_argument("--force", action="store_true", help="replace --out if it exists")
    cmp.add_argument("--engine", choices=("numpy", "numba"), default="numpy")
    cmp.set_defaults(handler=_compare)


def add_management_plan(sub: Any) -> None:
    """Register the ``management-plan`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    plan = sub.add_parser(
        "management-plan",
        help="write a projection in the layout of the DfE's DSG management plan template",
    )
    plan.add_argument("file", type=file_name, help="scenario file")
    plan.add_argument("--out", type=file_name, required=True, metavar="PLAN.xlsx")
    plan.add_argument("--force", action="store_true", help="replace --out if it exists")
    plan.set_defaults(handler=_management_plan)


def add_monitor(sub: Any) -> None:
    """Register the ``monitor`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    mon = sub.add_parser("monitor", help="key measures against the plan, rated red/amber/green")
    mon.add_argument("plan", type=file_name, help="the plan's scenario file")
    mon.add_argument(
        "actuals",
        type=file_name,
        help="CSV of dated key measures, every update (date, measure, value, ...)",
    )
    mon.add_argument(
        "--out",
        type=file_name,
        metavar="report.md|.html|.xlsx|.csv",
        help="default: print Markdown",
    )
    mon.add_argument("--green", type=float, default=0.02, help="variance rated green (0.02 = 2%%)")
    mon.add_argument("--amber", type=float, default=0.05, help="variance rated amber")
    mon.add_argument(
        "--forecast", type=file_name, metavar="FILE", help="the latest forecast's scenario file"
    )
    mon.add_argument(
        "--register", type=file_name, metavar="REGISTER.csv", help="conditions and risks, rated"
    )
    mon.add_argument("--force", action="store_true", help="replace --out if it exists")
    mon.set_defaults(handler=_monitor)


def add_report(sub: Any) -> None:
    """Register the ``report`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    report = sub.add_parser("report", help="one self-contained HTML report of a projection")
    report.add_argument("file", type=file_name, help="scenario file")
    report.add_argument("--out", type=file_name, required=True, metavar="report.html")
    report.add_argument("--force", action="store_true", help="replace --out if it exists")
    report.set_defaults(handler=_report)


def add_plot(sub: Any) -> None:
    """Register the ``plot`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    plot = sub.add_parser("plot", help="draw a chart as PNG or SVG")
    plot.add_argument(
        "kind",
        choices=["balance", "in-year", "mix", "savings", "fan", "tornado"],
        help="fan and tornado take a sweep; the others a scenario",
    )
    plot.add_argument(
        "file", type=file_name, help="a scenario file (a sweep file for fan and tornado)"
    )
    plot.add_argument("--out", type=file_name, required=True, metavar="FILE.png|FILE.svg")
    plot.add_argument("--force", action="store_true", help="replace --out if it exists")
    plot.add_argument("--year", help="the FY of a savings waterfall or a tornado")
    plot.add_argument(
        "--output",
        choices=["in_year_balance", "cumulative_balance", "plans"],
        help="the tornado's output (default in_year_balance)",
    )
    plot.add_argument("--samples", type=at_least(1), help="scenarios for a fan chart")
    plot.set_defaults(handler=_plot)
