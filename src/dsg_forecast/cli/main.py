"""The ``dsg-forecast`` parser and entry point.

Exit codes: 0 success; 2 a problem with the input (printed on one screen, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from dsg_forecast.cli import data, projection, reports, sweeps
from dsg_forecast.cli._common import EXIT_INPUT
from dsg_forecast.errors import DsgForecastError


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``dsg-forecast``.

    Returns
    -------
    argparse.ArgumentParser
        Every command, in the order ``--help`` lists them.
    """
    parser = argparse.ArgumentParser(
        prog="dsg-forecast",
        description="Forecast high-needs spending and the cumulative DSG deficit.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        projection.add_run,
        projection.add_validate,
        projection.add_schema,
        data.add_calibrate,
        data.add_forecast,
        reports.add_monitor,
        projection.add_template,
        reports.add_report,
        reports.add_management_plan,
        reports.add_compare,
        reports.add_plot,
        data.add_backtest,
        sweeps.add_commands,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        The arguments (default: ``sys.argv[1:]``).
    stdout
        Where a command writes its output (default: ``sys.stdout``); errors go to stderr.

    Returns
    -------
    int
        The exit code: 0 on success, 2 for a problem with the input.
    """
    args = build_parser().parse_args(argv)
    out = stdout if stdout is not None else sys.stdout
    try:
        code: int = args.handler(args, out)
    except DsgForecastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return code
