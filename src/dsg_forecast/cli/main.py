"""The ``dsg-forecast`` parser and entry point.

Exit codes: 0 success; 2 a problem with the input (printed on one screen, no traceback);
1 the system refused a read or write (a full disk); 130 stopped by Ctrl-C, 143 by SIGTERM;
141 the reader closed the output early.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from dsg_forecast._processes import signal_handled
from dsg_forecast.cli import data, projection, reports, sweeps
from dsg_forecast.cli._common import (
    EXIT_BROKEN_PIPE,
    EXIT_INPUT,
    EXIT_SYSTEM,
    Stopped,
    how_stopped,
)
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


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # standard output is not a file (a caller's StringIO)
        pass
    finally:
        os.close(devnull)


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
        The exit code: 0 on success, 2 for a problem with the input (an output that cannot
        be written among them), 1 when the system refused a read or write no more
        particular message names, 130 when stopped by Ctrl-C and 143 by SIGTERM, 141 when
        the reader closed the output early (``| head``); never a traceback for these.
    """
    args = build_parser().parse_args(argv)
    out = stdout if stdout is not None else sys.stdout
    try:
        with _terminate_stops():
            code: int = args.handler(args, out)
    except DsgForecastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # read by `| head`, which closed the pipe: nothing is lost
        if out is sys.stdout:
            _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as exc:  # files are written whole or not at all: none half done
        how, status = how_stopped(exc)
        print(f"stopped ({how}): {args.command} did not finish", file=sys.stderr)
        return status
    except OSError as exc:  # the system's refusal (a full disk, say) no writer named: as pip
        print(f"error: {args.command} stopped: {_system_refusal(exc)}", file=sys.stderr)
        return EXIT_SYSTEM
    return code


def _terminate_stops() -> contextlib.AbstractContextManager[None]:
    """Let SIGTERM stop the command as Ctrl-C does, saying what it kept.

    A batch system sends it at a job's time limit, before killing the job.
    """
    return signal_handled(signal.SIGTERM, _stop)


def _stop(signum: int, frame: object) -> None:
    """Raise :class:`Stopped` where the command is (a SIGTERM's handler)."""
    raise Stopped


def _system_refusal(exc: OSError) -> str:
    """Say what the system refused, in its words, and on which file if it says."""
    reason = exc.strerror or str(exc).split("Detail: ")[-1] or type(exc).__name__
    return f"{reason} ({exc.filename})" if exc.filename else reason
