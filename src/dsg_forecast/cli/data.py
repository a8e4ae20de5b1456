"""The ``calibrate``, ``forecast`` and ``backtest`` commands: the DfE's data in."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from dsg_forecast.cli._common import at_least, file_name, share, year_span


def _calibrate(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.data import SOURCE
    from dsg_forecast.estimation.calibration import calibrate_detailed
    from dsg_forecast.io.output import check_target
    from dsg_forecast.io.scenario_writer import YAML_SUFFIXES, scenario_to_yaml, write_scenario

    if args.out:  # before any work: an existing file, a name that is not YAML
        check_target(args.out, force=args.force, suffixes=YAML_SUFFIXES)
    result = calibrate_detailed(args.council, args.to, years=args.years, reconciled=args.reconcile)
    reconciled = (
        f" and reconciled to the default forecast of January {args.to + 1}"
        if args.reconcile
        else ""
    )
    header = [
        f"{result.council.name} ({result.council.geography_code}, LA {result.council.old_la_code}) "
        f"calibrated to the January {args.to} census{reconciled} by dsg_forecast.",
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
    if args.out:
        write_scenario(result.scenario, args.out, header, force=args.force)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        stdout.write(scenario_to_yaml(result.scenario, header))
    return 0


def _forecast(args: argparse.Namespace, stdout: TextIO) -> int:
    import warnings

    import pandas as pd

    from dsg_forecast.cli._common import text_table
    from dsg_forecast.data import SOURCE
    from dsg_forecast.estimation.forecasting import ForecastFallbackWarning, forecast_council

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ForecastFallbackWarning)  # printed from the notes
        result = forecast_council(
            args.council, to_year=args.to, horizon=args.years, level=args.level
        )
    forecast, model = result.forecast, result.model
    nothing = float("nan")
    counted = pd.DataFrame({"plans": result.counted, "lower": nothing, "upper": nothing})
    table = pd.concat(
        [
            counted.assign(kind="counted"),
            forecast.rename(columns={"mean": "plans"}).assign(kind="forecast"),
        ]
    )[["kind", "plans", "lower", "upper"]]
    table.index.name = "year"
    if args.out:
        from dsg_forecast.io.output import written_atomically

        with written_atomically(args.out, force=args.force, suffixes=(".csv",)) as partial:
            table.to_csv(partial)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.format == "csv":
        stdout.write(table.to_csv())
        return 0
    council, percent = result.council, f"{args.level:.0%}"
    lines = [
        f"{council.name} ({council.geography_code}, LA {council.old_la_code}): EHC plans at "
        "each January, counted and forecast",
        f"Source: {SOURCE}.",
        _method_line(model, council.old_la_code == "E"),
        *(f"Note: {note}" for note in model.notes_),
        _interval_line(model, percent, args.years),
        "",
    ]
    rows = [
        [str(year), row.kind, f"{row.plans:,.0f}"]
        + ([f"{row.lower:,.0f}", f"{row.upper:,.0f}"] if row.kind == "forecast" else ["", ""])
        for year, row in table.iterrows()
    ]
    header = ["January", "", "plans", f"{percent} low", f"{percent} high"]
    stdout.write("\n".join(lines + text_table(header, rows, left=2)) + "\n")
    return 0


def _interval_line(model: Any, percent: str, years: int) -> str:
    """Say in one line where the intervals come from (and where the backtest stops)."""
    from dsg_forecast.estimation.forecasting import CALIBRATION, spread_year

    tested = max(CALIBRATION)
    beyond = (
        f" Beyond {tested} years ahead the backtest has no errors to calibrate on: there its "
        f"{tested}-year width is grown in proportion to the years, untested."
        if years > tested
        else ""
    )
    read = spread_year(model.last_year_)
    if "interval_scale" in model.params_ and read is not None:
        return (
            f"{percent} intervals from the library's own backtest, scaled by how widely the "
            f"forecasts of a year before missed January {read} across councils "
            f"({model.params_['interval_scale']:.2f} of a typical year's width; "
            f"docs/backtest.md).{beyond}"
        )
    return (
        f"{percent} intervals from the library's own backtest (docs/backtest.md)"
        + ("." if model.method_ == "pooled" else ", or the method's own if wider.")
        + beyond
    )


def _method_line(model: Any, england: bool) -> str:
    """Say in one line how the default forecaster reached its growth."""
    params, last = model.params_, model.last_year_
    if model.method_ != "pooled":
        return f"Method: {model.method_} (the history was too short for the default)."
    if england:
        return (
            f"Method: England's own growth, 0.8 of that into January {last} "
            f"({params['reference_growth']:+.1%}) and 0.2 of that of the last two years "
            f"({params['own_growth']:+.1%} a year), damped by 0.9 a year ahead."
        )
    line = (
        f"Method: England's growth into January {last} ({params['reference_growth']:+.1%}), "
        "and the council's growth relative to it"
    )
    if model.uses_requests_:
        return (
            f"{line}, from its requests of {last - 1} less its decisions not to assess, per "
            f"plan ({params['net_requests_per_plan']:.2f}, England's "
            f"{params['reference_net_requests_per_plan']:.2f}) and its own growth of the last "
            f"two years ({params['own_growth']:+.1%} a year); damped by 0.9 a year ahead."
        )
    return (
        f"{line}, 0.2 of its own growth of the last two years ({params['own_growth']:+.1%} "
        "a year) less England's; damped by 0.9 a year ahead."
    )


def _progress(done: int, total: int) -> None:
    """Show the backtest's progress on one line of a terminal's standard error."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rbacktest: {done} of {total} councils", end=end, file=sys.stderr, flush=True)


def _backtest(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.estimation.backtest import ALL_METHODS, LAST_YEAR, backtest

    if args.out:  # before minutes of work: an existing file, a name that is not a CSV
        from dsg_forecast.io.output import check_target

        check_target(args.out, force=args.force, suffixes=(".csv",))
    result = backtest(
        councils_to_test=args.council or None,
        origins=args.origins,
        # a horizon past the last census compares nothing: no need to count up to it
        horizons=tuple(range(1, min(args.horizon, max(LAST_YEAR - args.origins.start, 1)) + 1)),
        methods=tuple(args.method or ALL_METHODS),
        first_year=args.first_year,
        pool=args.pool,
        workers=args.jobs,
        progress=_progress,
    )
    if args.out:
        from dsg_forecast.io.output import written_atomically

        with written_atomically(args.out, force=args.force, suffixes=(".csv",)) as partial:
            result.errors.to_csv(partial, index=False)
        print(f"every forecast and its error in {args.out}", file=sys.stderr)
    if result.errors.empty:
        from dsg_forecast.errors import OutputError

        if len(result.skipped):
            msg = f"no forecast could be made: {_reasons(result.skipped)}"
        else:
            msg = (
                f"no forecast could be compared with a count: origins {args.origins.start}.."
                f"{args.origins.stop - 1} with horizons up to {args.horizon} reach no January "
                "after the origin up to 2025"
            )
        raise OutputError(msg)
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
                f"\n{len(result.skipped)} forecasts could not be made: {_reasons(result.skipped)}\n"
            )
    return 0


def _reasons(skipped: Any, shown: int = 3) -> str:
    """Say why forecasts could not be made: the commonest reasons, each with its count."""
    counts = skipped["reason"].value_counts()
    said = "; ".join(f"{reason} ({count})" for reason, count in counts.head(shown).items())
    others = len(counts) - shown
    return said + (f"; and {others} other reason{'s' if others > 1 else ''}" if others > 0 else "")


def add_calibrate(sub: Any) -> None:
    """Register the ``calibrate`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    calibrate = sub.add_parser("calibrate", help="build a council's scenario from SEN2 data")
    calibrate.add_argument("council", help="name, old LA code (865) or new code (E06000054)")
    calibrate.add_argument(
        "--to", type=int, default=2024, help="January census year (2024 or 2025)"
    )
    calibrate.add_argument(
        "--years", type=at_least(1), default=5, help="financial years to project"
    )
    calibrate.add_argument(
        "--reconcile",
        action="store_true",
        help="reach the default forecast of the next January in total and for the large "
        "placements (the backtest's best)",
    )
    calibrate.add_argument(
        "--out", type=file_name, metavar="FILE", help="write the scenario YAML here"
    )
    calibrate.add_argument("--force", action="store_true", help="replace --out if it exists")
    calibrate.set_defaults(handler=_calibrate)


def add_forecast(sub: Any) -> None:
    """Register the ``forecast`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    forecast = sub.add_parser(
        "forecast", help="a council's plans at the next Januarys, with calibrated intervals"
    )
    forecast.add_argument("council", help="name, old LA code (865) or new code (E06000054)")
    forecast.add_argument(
        "--to", type=int, default=None, help="last January census read (default: the latest)"
    )
    forecast.add_argument("--years", type=at_least(1), default=3, help="Januarys ahead")
    forecast.add_argument(
        "--level", type=share, default=0.8, help="coverage of the intervals (default 0.8)"
    )
    forecast.add_argument("--format", choices=["table", "csv"], default="table")
    forecast.add_argument(
        "--out", type=file_name, metavar="CSV", help="also write the table as CSV"
    )
    forecast.add_argument("--force", action="store_true", help="replace --out if it exists")
    forecast.set_defaults(handler=_forecast)


def add_backtest(sub: Any) -> None:
    """Register the ``backtest`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    back = sub.add_parser("backtest", help="forecast past Januarys and compare with the counts")
    back.add_argument("--council", action="append", help="a council (repeat; default: all)")
    back.add_argument(
        "--origins",
        type=year_span,
        default=range(2017, 2025),
        help="first-last origin January, e.g. 2017-2024",
    )
    back.add_argument("--horizon", type=at_least(1), default=3, help="years ahead (default 3)")
    back.add_argument(
        "--method",
        action="append",
        choices=[  # backtest.ALL_METHODS, without importing it (a test checks)
            "pooled",
            "ets",
            "arima",
            "loglinear",
            "last_growth",
            "mean_growth",
            "pooled_without_requests",
            "cohort",
            "cohort_reconciled",
        ],
        help="methods to test (repeat; default: all)",
    )
    back.add_argument("--first-year", type=int, default=2015, help="first January of each history")
    back.add_argument("--pool", action="store_true", help="shrink growth towards the region's")
    back.add_argument(
        "--jobs", type=at_least(1), default=os.cpu_count() or 1,
        help="processes to run councils in (default: one per core)",
    )  # fmt: skip
    back.add_argument("--format", choices=["table", "csv"], default="table")
    back.add_argument(
        "--out", type=file_name, metavar="CSV", help="write every forecast and its error"
    )
    back.add_argument("--force", action="store_true", help="replace --out if it exists")
    back.set_defaults(handler=_backtest)
