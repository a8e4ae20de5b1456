"""The ``run``, ``validate``, ``schema`` and ``template`` commands: one scenario in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dsg_forecast.cli._common import file_name

if TYPE_CHECKING:
    from dsg_forecast.results import Projection, Summary
    from dsg_forecast.schema.scenario import Scenario

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
    """Return the ledger, summary and savings as a readable plain-text report (£).

    Parameters
    ----------
    projection
        The projection to print.

    Returns
    -------
    str
        The ledger by FY, the balance target, the largest deficit, headroom to each cap and
        each intervention's net saving, money in whole pounds.
    """
    from dsg_forecast.reporting.labels import placeholder_warning

    warning = placeholder_warning(projection.scenario.placeholders)
    lines = [
        *([f"WARNING: {warning}", ""] if warning else []),
        *_ledger_lines(projection),
        *_summary_lines(projection.summary),
        *_savings_lines(projection),
    ]
    return "\n".join(lines)


def _ledger_lines(projection: Projection) -> list[str]:
    """Return the title and the ledger by FY as aligned text."""
    import pandas as pd  # here, not at the top: --help need not load pandas

    ledger = projection.ledger
    header = ["FY", *(label for _, label in _TABLE_COLUMNS), "within cap"]
    rows = []
    months = projection.structure.months_in_fy
    for k, (fy, row) in enumerate(ledger.iterrows()):
        within = row["within_cap"]
        flag = "-" if pd.isna(within) else ("yes" if within else "NO")
        label = str(fy) if months[k] == 12 else f"{fy} (part year: {int(months[k])} months)"
        rows.append([label, *(_money(float(row[column])) for column, _ in _TABLE_COLUMNS), flag])
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    out = [f"Scenario: {projection.scenario.name}", "", "DSG ledger (£; negative = deficit)"]
    out.append(line(header))
    out.append("  ".join("-" * width for width in widths))
    out.extend(line(row) for row in rows)
    return out


def _summary_lines(summary: Summary) -> list[str]:
    """Return the target, first balanced year, largest deficit, headroom and deficits."""
    out: list[str] = []
    out.append("")
    if summary.target_met is None:
        out.append("Balance target: none set")
    else:
        verdict = summary.target_verdict()
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
    for label, year, after, before in (
        (
            "at the end of the statutory override",
            summary.override_end_year,
            summary.deficit_at_override_end,
            summary.deficit_at_override_end_before_contributions,
        ),
        (
            "when balance is reached",
            summary.first_balanced_year,
            summary.deficit_at_balance,
            summary.deficit_at_balance_before_contributions,
        ),
    ):
        if year is not None and after is not None and before is not None:
            out.append(
                f"Deficit {label} ({year}): {_deficit(after)} after contributions, "
                f"{_deficit(before)} before"
            )
    return out


def _deficit(amount: float) -> str:
    """Return a deficit in pounds, or the surplus it stands for when negative."""
    return f"£{amount:,.0f}" if amount >= 0 else f"none (a surplus of £{-amount:,.0f})"


def _savings_lines(projection: Projection) -> list[str]:
    """Return each intervention's net saving by FY (nothing without interventions)."""
    out: list[str] = []
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
    return out + _delivery_lines(projection)


def _delivery_lines(projection: Projection) -> list[str]:
    """Return net savings against the plan's savings targets (nothing without targets)."""
    import numpy as np

    delivery = projection.savings_delivery
    if delivery.empty:
        return []
    head = ["savings target", "FY", "target", "modelled", "shortfall", "delivered", "rating"]
    body = []
    for record in delivery.to_dict(orient="records"):
        share, rating = float(record["delivered"]), str(record["rating"])
        body.append(
            [
                f"{record['name']} ({record['level']})",
                str(record["financial_year"]),
                *(_money(float(record[key])) for key in ("target", "net_saving", "shortfall")),
                "-" if not np.isfinite(share) else f"{share:.0%}",
                rating.upper() if rating == "red" else rating,
            ]
        )
    sizes = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    out = ["", "Net savings against the plan's targets (£)"]
    for entries in [head, ["-" * size for size in sizes], *body]:
        cells = [*(cell.ljust(size) for cell, size in zip(entries[:2], sizes[:2], strict=True))]
        cells += [cell.rjust(size) for cell, size in zip(entries[2:], sizes[2:], strict=True)]
        out.append("  ".join(cells))
    return out


def _run(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario, write_results
    from dsg_forecast.model import project
    from dsg_forecast.reporting.labels import placeholder_warning

    _check_out(args.out, args.force)
    projection = project(load_scenario(args.file))
    warning = placeholder_warning(projection.scenario.placeholders)
    if warning and args.format != "table":
        print(f"WARNING: {warning}", file=sys.stderr)
    if args.format == "json":
        stdout.write(projection.to_json() + "\n")
    elif args.format == "csv":
        stdout.write(projection.ledger.to_csv())
    else:
        stdout.write(format_table(projection) + "\n")
    if args.out and str(args.out).lower().endswith(".xlsx"):
        from dsg_forecast.reporting.excel import write_excel

        write_excel(projection, args.out, force=args.force)
        print(f"wrote {args.out}", file=sys.stderr)
    elif args.out:
        written = write_results(projection, args.out, force=args.force)
        names = ", ".join(path.name for path in written)
        print(f"wrote {names} to {args.out}", file=sys.stderr)
    return 0


def _check_out(out: str | None, force: bool) -> None:
    """Check ``run --out`` before projecting: a workbook file, or a folder for CSVs."""
    if not out:
        return
    if str(out).lower().endswith(".xlsx"):
        from dsg_forecast.io.output import check_target

        check_target(out, force=force, suffixes=(".xlsx",))
    else:
        from dsg_forecast.io.results_files import check_results_folder

        check_results_folder(out, force=force)


def _validate(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario

    data: dict[str, Any] = {}  # a workbook has no sweep: or fit: section
    if Path(args.file).suffix.lower() != ".xlsx":
        from dsg_forecast.io.scenario_files import read_mapping

        data = read_mapping(args.file)
        if "base" in data or "sweep" in data:
            code = _validate_sweep(args, stdout)
            return _validate_fit(args, stdout) if "fit" in data and "base" not in data else code
    scenario = load_scenario(args.file)
    _check_it_runs(scenario, str(args.file))
    stdout.write(
        f"{args.file}: valid scenario {scenario.name!r}, {scenario.start} to {scenario.end}, "
        f"{len(scenario.placements)} placements, ages {scenario.ages.min}..{scenario.ages.max}, "
        f"{len(scenario.interventions)} interventions\n"
    )
    from dsg_forecast.reporting.labels import placeholder_warning

    warning = placeholder_warning(scenario.placeholders)
    if warning:
        stdout.write(f"WARNING: {warning}\n")
    if "fit" in data:
        return _validate_fit(args, stdout)
    return 0


def _check_it_runs(scenario: Scenario, source: str) -> None:
    """Project the scenario once (about 10 ms), for what only the engine checks.

    A lever an intervention drives out of its range passed ``validate``, then stopped
    ``run``.
    """
    from dsg_forecast.errors import ScenarioError
    from dsg_forecast.model import project

    try:
        project(scenario, savings=False)
    except ScenarioError as exc:
        raise ScenarioError(exc.issues, exc.source or source) from None


def _validate_fit(args: argparse.Namespace, stdout: TextIO) -> int:
    """Check a scenario's ``fit:`` section as ``dsg-forecast fit`` checks it, without fitting."""
    from dsg_forecast.sweeps.fit import check_fit, load_fit

    scenario, spec = load_fit(args.file)
    check_fit(scenario, spec)
    stdout.write(
        f"{args.file}: valid fit: section, {len(spec.levers)} levers and "
        f"{len(spec.targets)} targets\n"
    )
    return 0


def _validate_sweep(args: argparse.Namespace, stdout: TextIO) -> int:
    """Check a sweep: its base scenario, every swept path and every value the design draws."""
    from dsg_forecast.sweeps import load_sweep, plan_sweep
    from dsg_forecast.sweeps.evaluate import check_extremes

    scenario, spec = load_sweep(args.file)
    check_extremes(plan_sweep(scenario, spec))
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


def _template(args: argparse.Namespace, stdout: TextIO) -> int:
    from dsg_forecast.io import load_scenario
    from dsg_forecast.io.output import check_target
    from dsg_forecast.io.workbook import write_workbook

    check_target(args.out, force=args.force, suffixes=(".xlsx",))
    scenario = load_scenario(args.scenario) if args.scenario else None
    write_workbook(scenario, args.out, force=args.force)
    stdout.write(f"wrote {args.out}\n")
    return 0


def add_run(sub: Any) -> None:
    """Register the ``run`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    run = sub.add_parser("run", help="project a scenario and print its DSG ledger")
    run.add_argument("file", type=file_name, help="scenario file (.yaml, .yml, .toml or .json)")
    run.add_argument("--format", choices=["table", "json", "csv"], default="table")
    run.add_argument(
        "--out",
        type=file_name,
        metavar="DIR|FILE.xlsx",
        help="also write ledger, monthly, stock and savings: CSVs in DIR, or one Excel workbook",
    )
    run.add_argument("--force", action="store_true", help="replace --out if it exists")
    run.set_defaults(handler=_run)


def add_validate(sub: Any) -> None:
    """Register the ``validate`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    validate = sub.add_parser(
        "validate", help="check a scenario (or sweep) file and list every problem"
    )
    validate.add_argument("file", type=file_name)
    validate.set_defaults(handler=_validate)


def add_schema(sub: Any) -> None:
    """Register the ``schema`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    schema = sub.add_parser("schema", help="print the JSON Schema of a scenario file")
    schema.set_defaults(handler=_schema)


def add_template(sub: Any) -> None:
    """Register the ``template`` command.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    template = sub.add_parser(
        "template", help="write an input workbook (empty, or from a scenario)"
    )
    template.add_argument("out", type=file_name, metavar="scenario.xlsx")
    template.add_argument(
        "--scenario", type=file_name, help="fill the workbook from this scenario file"
    )
    template.add_argument("--force", action="store_true", help="replace the file if it exists")
    template.set_defaults(handler=_template)
