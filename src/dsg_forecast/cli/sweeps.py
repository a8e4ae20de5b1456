"""The ``sweep``, ``sensitivity`` and ``solve`` commands (thin: arguments → sweeps → text)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dsg_forecast.cli._common import (
    at_least,
    check_year,
    file_name,
    how_stopped,
    named,
    share,
    text_table,
)
from dsg_forecast.errors import DsgForecastError

if TYPE_CHECKING:
    import pandas as pd

    from dsg_forecast.schema.scenario import Scenario
    from dsg_forecast.sweeps import SweepSpec, SweepSummary


def _load(args: argparse.Namespace) -> tuple[Scenario, SweepSpec]:
    from dsg_forecast.sweeps import load_sweep, spec_from_mapping

    scenario, spec = load_sweep(args.file)
    changes: dict[str, Any] = {}
    for option in ("samples", "seed", "design"):
        value = getattr(args, option, None)
        if value is not None:
            changes[option] = value
    data = spec.model_dump(by_alias=True, exclude_unset=True)
    if changes.get("design") == "grid" and "samples" not in changes:
        # the file's number of samples was for its own design; a grid runs every combination
        data.pop("samples", None)
    spec = spec_from_mapping({**data, **changes}, args.file)  # an override may break a rule
    _check_memory(spec, streamed=bool(getattr(args, "out", None)))
    return scenario, spec


#: Memory a scenario of a sweep kept in memory needs (its row of results), with room to
#: spare; a sweep streamed to --out needs the same few hundred MB at any size
#: (benchmarks/README.md). [bytes]
BYTES_PER_SCENARIO = 500


def _check_memory(spec: SweepSpec, *, streamed: bool) -> None:
    """Refuse a sweep kept in memory that would not fit in the memory this machine has free."""
    from dsg_forecast.errors import OutputError
    from dsg_forecast.sweeps.design import scenario_count

    if streamed:  # flat in the number of scenarios
        return
    count = scenario_count(spec)
    needed = count * (BYTES_PER_SCENARIO + 8 * len(spec.parameters))
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on this platform
        return
    if needed > 0.8 * free:
        msg = (
            f"the sweep has {count:,} scenarios, which need about {needed / 1e9:,.1f} GB; this "
            f"machine has {free / 1e9:,.1f} GB free. Stream the results with --out DIR (its "
            "memory does not grow with the sweep) or use fewer --samples (or grid levels)"
        )
        raise OutputError(msg)


@contextlib.contextmanager
def _retries(args: argparse.Namespace) -> Iterator[None]:
    """Set the dask task retries the command was given, for the command."""
    if getattr(args, "retries", None) is None:
        yield
        return
    try:
        import dask
    except ImportError:
        msg = "--retries is for sweeps on dask: pip install 'dsg_forecast[dask]'"
        raise DsgForecastError(msg) from None
    from dsg_forecast.sweeps.evaluate import RETRIES_KEY

    with dask.config.set({RETRIES_KEY: args.retries}):
        yield


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """Yield a dask client if the user asked for one, else None."""
    if getattr(args, "scheduler", None):
        from dsg_forecast.sweeps.cluster import connect

        with contextlib.ExitStack() as stack:
            try:
                client = stack.enter_context(connect(args.scheduler))
            except (OSError, TimeoutError) as exc:  # before anything ran: not "during the sweep"
                msg = (
                    f"could not connect to the dask scheduler at {args.scheduler} ({exc}); "
                    "check the address and that the scheduler is running (docs/deployment.md). "
                    "Nothing was run."
                )
                raise ClusterFailedError(msg) from None
            yield client
    elif getattr(args, "local_cluster", None):
        from dsg_forecast.sweeps.cluster import local_cluster

        with local_cluster(workers=args.local_cluster) as client:
            yield client
    else:
        yield None


def _money_table(frame: pd.DataFrame | pd.Series[Any], scale: float = 1e6) -> str:
    """Return quantiles by FY as text: £m to one decimal, or whole plans (``scale=1``)."""
    import pandas as pd  # here, not at the top: --help need not load pandas

    assert isinstance(frame, pd.DataFrame)
    shown = frame / scale
    shown.columns = [f"{100 * q:g}%" for q in frame.columns]
    shown.index.name = "Financial year"
    if scale == 1.0:
        return str(shown.map(lambda v: f"{v:,.0f}").to_string())
    return str(shown.map(lambda v: f"{v:,.1f}").to_string())


def format_summary(summary: SweepSummary, title: str, target_year: str | None) -> str:
    """Return the sweep's headline probabilities and fan-chart quantiles as text.

    Parameters
    ----------
    summary
        The sweep's summary.
    title
        The heading printed first.
    target_year
        The balance target FY, or ``None`` where the scenario has none.

    Returns
    -------
    str
        The probabilities and the quantiles by FY, money in £m.
    """
    out = [title, ""]
    fys = list(summary.probability_balanced_by.index)
    target = f"in-year balance >= 0 from {target_year}"
    if summary.probability_target_met is None or target_year is None:
        out.append("Balance target: none set")
    elif fys and target_year not in fys:  # after the end: not reached, rather than missed
        out.append(f"Balance target ({target}): not reached, the projection ends in {fys[-1]}")
    else:
        out.append(
            f"Probability of meeting the target ({target}): {summary.probability_target_met:.1%}"
        )
    for fy, within in summary.probability_within_cap.items():
        out.append(f"Probability of staying within the {fy} cap: {within:.1%}")
    balanced = ", ".join(
        f"{fy} {share:.0%}" for fy, share in summary.probability_balanced_by.items()
    )
    out.append(f"Probability of being balanced for good by: {balanced}")
    q = summary.quantiles
    out += ["", "Cumulative balance at the end of each FY (£m; negative = deficit)"]
    out.append(_money_table(q.loc["cumulative_balance"]))
    out += ["", "In-year balance (£m)", _money_table(q.loc["in_year_balance"])]
    out += ["", "Plans at the end of each FY", _money_table(q.loc["plans"], scale=1.0)]
    return "\n".join(out)


class ClusterFailedError(DsgForecastError):
    """A sweep on a dask cluster stopped because the cluster failed."""


def _cluster_failure(exc: BaseException) -> bool:
    """Whether an exception comes from the cluster (dask, its network, a lost worker)."""
    module = type(exc).__module__
    return (
        module.startswith(("distributed", "tornado", "asyncio"))
        or isinstance(exc, TimeoutError | OSError | ConnectionError)
        or type(exc).__name__ in ("KilledWorker", "CancelledError", "FutureCancelledError")
    )


def _resume_command(args: argparse.Namespace, *, cluster: bool = True) -> str:
    """Return the command that finishes this sweep in ``--out``: its options, ``--resume``.

    With ``cluster`` False, without the options that name a dask cluster.
    """
    words = ["dsg-forecast", "sweep", str(args.file), "--out", str(args.out), "--resume"]
    options = ["samples", "seed", "design", "engine", "workers", "chunk_size"]
    if cluster:
        options += ["scheduler", "local_cluster"]
    for name in options:
        if getattr(args, name, None) is not None:
            words += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if cluster and args.write_on_workers:
        words.append("--write-on-workers")
    return shlex.join(words)


def _safe_on_disk(args: argparse.Namespace, spec: SweepSpec) -> str:
    """Say how many of the sweep's scenarios are safely in ``--out``."""
    from dsg_forecast.sweeps.design import scenario_count
    from dsg_forecast.sweeps.store import rows_on_disk

    return (
        f"{rows_on_disk(args.out):,} of {scenario_count(spec):,} scenarios are safely on disk "
        f"in {args.out}"
    )


def _interrupted(args: argparse.Namespace, spec: SweepSpec, exc: BaseException) -> str:
    """Say, in one paragraph, what happened, what is safe on disk and how to finish."""
    what = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if not args.out:
        return (
            f"the dask cluster at {args.scheduler} failed during the sweep ({what}). Nothing "
            "was saved, as the sweep had no --out; run it again with --out DIR, which can be "
            "resumed after a failure."
        )
    return (
        f"the dask cluster at {args.scheduler} failed during the sweep ({what}). "
        f"{_safe_on_disk(args, spec)}. When the cluster is back, finish the sweep with:\n  "
        f"{_resume_command(args)}\nor on this machine with:\n  "
        f"{_resume_command(args, cluster=False)}"
    )


def _unwritten(args: argparse.Namespace, spec: SweepSpec, exc: Exception) -> str:
    """Say what could not be written, what is safe on disk and how to finish."""
    return (
        f"{exc}. {_safe_on_disk(args, spec)}. Once it can be written again (room made on the "
        f"disk, say), finish the sweep with:\n  {_resume_command(args)}"
    )


def _stopped(args: argparse.Namespace, spec: SweepSpec, how: str) -> str:
    """Say, in one paragraph, what a stopped sweep kept and how to finish it."""
    if not args.out:
        from dsg_forecast.sweeps.design import scenario_count

        return (
            f"stopped ({how}): the sweep of {scenario_count(spec):,} scenarios did not finish, "
            "and nothing was kept, as it had no --out. With --out DIR a sweep keeps its "
            "results as it goes, and --resume finishes it."
        )
    return (
        f"stopped ({how}): {_safe_on_disk(args, spec)}. Finish the sweep with:\n  "
        f"{_resume_command(args)}"
    )


def run_sweep_command(args: argparse.Namespace, stdout: TextIO) -> int:
    """``dsg-forecast sweep``.

    Parameters
    ----------
    args
        The parsed command line.
    stdout
        Where the command writes its output.

    Returns
    -------
    int
        The exit code (0 on success).
    """
    from dsg_forecast.sweeps import Progress, run_sweep
    from dsg_forecast.sweeps.store import SweepWriteError

    scenario, spec = _load(args)
    if args.monthly is not None:  # before any work: an existing file, a wrong suffix
        from dsg_forecast.io.output import check_target

        check_target(args.monthly, force=args.force, suffixes=(".csv",))
    progress = None if args.quiet else Progress(sys.stderr)
    try:
        with _retries(args), _client(args) as client:
            result = run_sweep(
                scenario,
                spec,
                out=args.out,
                resume=args.resume,
                chunk_size=args.chunk_size,
                engine=args.engine,
                workers=args.workers,
                client=client,
                progress=progress,
                monthly=args.monthly is not None,
                write_on_workers=args.write_on_workers,
            )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (a batch system's time limit)
        if progress is not None:
            progress.stop()
        how, status = how_stopped(exc)
        print(_stopped(args, spec, how), file=sys.stderr)
        return status
    except SweepWriteError as exc:
        if progress is not None:
            progress.stop()
        raise SweepWriteError(_unwritten(args, spec, exc)) from None
    except Exception as exc:
        if args.scheduler is None or not _cluster_failure(exc):
            raise
        raise ClusterFailedError(_interrupted(args, spec, exc)) from None
    if args.monthly is not None and result.monthly is not None:
        from dsg_forecast.io.output import written_atomically

        with written_atomically(args.monthly, force=args.force, suffixes=(".csv",)) as partial:
            result.monthly.to_csv(partial)
        print(f"monthly trajectories in {args.monthly}", file=sys.stderr)
    summary = result.summary()
    if args.format == "json":
        stdout.write(json.dumps(summary.to_dict(), indent=1) + "\n")
        return 0
    title = (
        f"Sweep of {scenario.name}: {summary.samples:,} scenarios, {spec.design} design, "
        f"seed {spec.seed}"
    )
    stdout.write(format_summary(summary, title, scenario.agreement.balance_target) + "\n")
    if args.out:
        print(f"per-scenario results in {args.out}", file=sys.stderr)
    return 0


def _sensitivity_options_apply(args: argparse.Namespace) -> bool:
    """Say (False) when ``--samples`` or ``--seed`` cannot mean what they would say.

    A tornado moves each parameter to its 5th and 95th percentiles: it draws nothing, so
    both would be ignored; Sobol and Morris need at least two base samples or trajectories.
    An ``--output`` given twice would show its rows twice.
    """
    from dsg_forecast.sweeps.sensitivity import check_resamples

    twice = sorted({output for output in args.output or () if args.output.count(output) > 1})
    if twice:
        print(
            f"error: --output {', '.join(twice)} is given twice; give each output once",
            file=sys.stderr,
        )
        return False
    if args.method == "tornado":
        stray = [f"--{name}" for name in ("samples", "seed") if getattr(args, name) is not None]
        if stray:
            print(
                f"error: {' and '.join(stray)} {'do' if len(stray) > 1 else 'does'} not apply "
                "to --method tornado, which moves each parameter to its 5th and 95th "
                "percentiles and draws nothing; use --method sobol or morris to sample",
                file=sys.stderr,
            )
            return False
        return True
    if args.samples is not None:
        what = "base samples" if args.method == "sobol" else "trajectories"
        try:
            check_resamples("--samples", args.samples, f"{args.method.title()} {what}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return False
    return True


def run_sensitivity_command(args: argparse.Namespace, stdout: TextIO) -> int:
    """``dsg-forecast sensitivity``.

    Parameters
    ----------
    args
        The parsed command line.
    stdout
        Where the command writes its output.

    Returns
    -------
    int
        The exit code (0 on success).
    """
    from dsg_forecast.sweeps import sensitivity

    if not _sensitivity_options_apply(args):
        return 2
    scenario, spec = _load(args)
    check_year(args.year, scenario.financial_years, "--year")
    outputs = tuple(args.output or ("in_year_balance", "cumulative_balance"))
    if args.samples and args.method in ("sobol", "morris"):  # named as the user typed it
        extra = 2 if args.method == "sobol" else 1
        formula = f"{args.method.title()}: samples × (parameters + {extra})"
        sensitivity.check_size("--samples", args.samples, len(spec.parameters) + extra, formula)
    if args.method == "sobol":
        frame = sensitivity.sobol_indices(
            scenario, spec, base_samples=args.samples or 1024, outputs=outputs, engine=args.engine
        )
        key = "ST"
    elif args.method == "morris":
        frame = sensitivity.morris_screening(
            scenario, spec, trajectories=args.samples or 50, outputs=outputs, engine=args.engine
        )
        key = "mu_star"
    else:
        frame = sensitivity.tornado(scenario, spec, outputs=outputs, engine=args.engine)
        key = "swing"
    if args.year:
        frame = frame[frame["financial_year"] == args.year]
    if args.format == "csv":
        stdout.write(frame.to_csv(index=False))
    elif args.format == "json":
        stdout.write(frame.to_json(orient="records", indent=1) + "\n")
    else:
        stdout.write(format_sensitivity(frame, key, scenario))
    return 0


_SENSITIVITY_HEADERS: dict[str, str] = {
    "S1": "First-order (S1)", "S1_conf": "± (95%)", "ST": "Total (ST)", "ST_conf": "± (95%)",
    "mu": "Mean effect", "mu_star": "Mean |effect|", "sigma": "Spread", "mu_star_conf": "± (95%)",
    "low_value": "Low value", "high_value": "High value", "at_low": "At low", "at_high": "At high",
    "base": "Base", "swing": "Swing",
}  # fmt: skip


def format_sensitivity(frame: pd.DataFrame, key: str, scenario: Scenario) -> str:
    """Return sensitivity results as text: parameters in words, values in their units.

    Parameters
    ----------
    frame
        Sobol, Morris or tornado rows (``output, financial_year, parameter, ...``).
    key
        The column each table is ranked by.
    scenario
        The base scenario (for the parameters' words).

    Returns
    -------
    str
        A table per output and FY, ranked.
    """
    from dsg_forecast.reporting.labels import count, label, money
    from dsg_forecast.sweeps.describe import format_value, parameter_label

    out = []
    for (output, fy), group in frame.groupby(["output", "financial_year"], sort=False):
        out.append(f"\n{label(str(output))} {fy} (ranked by {_SENSITIVITY_HEADERS[key].lower()})")
        ranked = group.sort_values(key, ascending=False)
        figure = count if output == "plans" else money
        columns = [c for c in ranked.columns if c in _SENSITIVITY_HEADERS]
        rows = []
        for record in ranked.to_dict("records"):
            path = str(record["parameter"])
            cells = [parameter_label(scenario, path)]
            for column in columns:
                value = float(record[column])
                if column in ("low_value", "high_value"):
                    cells.append(format_value(path, value))
                elif column.startswith("S"):
                    cells.append(f"{value:.2f}")
                else:
                    cells.append(figure(value))
            rows.append(cells)
        out += text_table(["Parameter", *(_SENSITIVITY_HEADERS[c] for c in columns)], rows)
    return "\n".join(out) + "\n"


def _fit_tables(scenario: Scenario, spec: Any, result: Any) -> list[str]:
    """Return a fit's levers and targets as text: parameters in words, values in units."""
    from dsg_forecast.reporting.labels import count, label, money
    from dsg_forecast.sweeps.describe import format_value, parameter_label

    levers = []
    for r in result.levers.to_dict("records"):
        path = str(r["path"])
        values = [format_value(path, float(r[c])) for c in ("low", "high", "start", "fitted")]
        levers.append([parameter_label(scenario, path), *values, "yes" if r["at_bound"] else ""])
    targets = []
    for r, target in zip(result.targets.to_dict("records"), spec.targets, strict=True):
        figure = count if target.output == "plans" else money
        where = target.month if target.output == "plans" else target.year
        off, within = (  # a target given within an amount is off by an amount
            (f"{float(r['relative']):+.2%}", f"{float(r['tolerance']):.2%}")
            if target.within is None
            else (("+" if round(float(r["residual"])) > 0 else "") + figure(float(r["residual"])),
                  f"±{figure(float(r['within']))}")
        )  # fmt: skip
        targets.append([
            f"{label(target.output)} {where}", figure(float(r["wanted"])),
            figure(float(r["fitted"])), off, within, "yes" if r["met"] else "NO",
        ])  # fmt: skip
    return [
        *text_table(["Parameter", "Low", "High", "Start", "Fitted", "At a bound"], levers),
        "",
        *text_table(["Target", "Wanted", "Fitted", "Off by", "Tolerance", "Met"], targets),
    ]


def run_fit_command(args: argparse.Namespace, stdout: TextIO) -> int:
    """Run ``dsg-forecast fit``: choose the levers so the projection meets the targets.

    Parameters
    ----------
    args
        The parsed command line.
    stdout
        Where the command writes its output.

    Returns
    -------
    int
        The exit code (0 on success).
    """
    from dsg_forecast.io.output import check_target
    from dsg_forecast.io.scenario_writer import YAML_SUFFIXES, write_scenario
    from dsg_forecast.sweeps.fit import fit, load_fit

    out = Path(args.out) if args.out else None
    if out is not None:  # before the fit: an existing file, a name that is not YAML
        check_target(out, force=args.force, suffixes=YAML_SUFFIXES)
    scenario, spec = load_fit(args.file)
    result = fit(scenario, spec, engine=args.engine)
    if args.format == "json":
        payload = {
            "levers": result.levers.to_dict(orient="records"),
            "targets": [  # JSON has no NaN: a target given within an amount has no share
                {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
                for row in result.targets.to_dict(orient="records")
            ],
            "success": result.success,
            "evaluations": result.evaluations,
        }
        stdout.write(json.dumps(payload, indent=1) + "\n")
    else:
        stdout.write(f"Fit of {scenario.name!r} ({result.evaluations} engine calls)\n\n")
        stdout.write("\n".join(_fit_tables(scenario, spec, result)) + "\n")
    if out is not None:
        header = [f"{scenario.name}, fitted by dsg-forecast fit to the targets of {args.file}:"]
        header += [
            f"  {row.path} = {row.fitted:.6g} (FITTED; was {row.start:.6g})"
            for row in result.levers.itertuples()
        ]
        write_scenario(result.scenario, out, header, force=args.force)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _lever_words(scenario: Scenario, lever: Any) -> str:
    """Return a goal-seek lever in words: its parameter and how it is moved."""
    from dsg_forecast.sweeps.describe import parameter_label

    how = {"scale": "scaled by", "shift": "increased by", "value": "set to"}[lever.mode]
    return f"{parameter_label(scenario, lever.path)} {how}"


def _lever_value(lever: Any, value: float) -> str:
    """Return a lever's value in its unit: a multiplier, or the parameter's unit."""
    from dsg_forecast.sweeps.describe import format_value

    if lever.mode == "scale":
        return f"× {value:.4g}"
    return format_value(lever.path, value)


def _one_scenario_to_solve(args: argparse.Namespace) -> Scenario | None:
    """Load the one scenario ``solve FILE`` solves, or say why not (None).

    ``--samples`` and ``--seed`` set a sweep's scenarios, and a sweep file names many
    scenarios: without ``--per-scenario`` or ``--probability`` either would leave it unclear
    what to solve, so both are refused rather than ignored.
    """
    from dsg_forecast.errors import ScenarioError
    from dsg_forecast.io import load_scenario

    modes = "add --per-scenario to solve each scenario of the sweep, or --probability P"
    stray = [f"--{name}" for name in ("samples", "seed") if getattr(args, name) is not None]
    if stray:
        print(
            f"error: {' and '.join(stray)} {'set' if len(stray) > 1 else 'sets'} the "
            "scenarios of a sweep, and without "
            f"--per-scenario or --probability solve solves the one scenario in {args.file}; "
            f"{modes}, or leave {' and '.join(stray)} out",
            file=sys.stderr,
        )
        return None
    try:
        return load_scenario(args.file)
    except ScenarioError as exc:
        if not any(issue.path == "base" for issue in exc.issues):
            raise
    print(
        f"error: {args.file} is a sweep file (it names a base scenario): {modes} for one "
        "value meeting the target in that share of them; to solve the base scenario alone, "
        "give the base scenario's file",
        file=sys.stderr,
    )
    return None


def run_solve_command(args: argparse.Namespace, stdout: TextIO) -> int:
    """``dsg-forecast solve``.

    Parameters
    ----------
    args
        The parsed command line.
    stdout
        Where the command writes its output.

    Returns
    -------
    int
        The exit code (0 on success).
    """
    from dsg_forecast.sweeps.goal_seek import Lever, parse_target, solve, solve_probability

    try:
        lever = Lever(args.lever, args.low, args.high, args.mode)
        target = parse_target(args.target)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.probability is not None or args.per_scenario:
        scenario, spec = _load(args)
    else:
        loaded = _one_scenario_to_solve(args)
        if loaded is None:
            return 2
        scenario, spec = loaded, None
    if args.probability is not None:
        assert spec is not None
        answer = solve_probability(
            scenario, spec, lever, target, args.probability, engine=args.engine
        )
        if args.format == "json":
            stdout.write(json.dumps(answer, indent=1) + "\n")
        else:
            stdout.write(
                f"{_lever_words(scenario, lever)} {_lever_value(lever, answer['solution'])} "
                f"makes '{answer['target']}' hold in {answer['probability']:.1%} of "
                f"{answer['scenarios']:,} scenarios (asked: {args.probability:.0%})\n"
            )
        return 0
    frame = solve(scenario, lever, target, spec=spec, engine=args.engine)
    if args.format == "csv":
        stdout.write(frame.to_csv())
    elif args.format == "json":
        stdout.write(frame.reset_index().to_json(orient="records", indent=1) + "\n")
    elif spec is None:
        row = frame.iloc[0]
        if row["status"] == "solved":
            stdout.write(
                f"{_lever_words(scenario, lever)} {_lever_value(lever, float(row['solution']))} "
                f"is where '{target.describe()}' is just met\n"
            )
        else:
            stdout.write(
                f"no solution for {_lever_words(scenario, lever)} between "
                f"{_lever_value(lever, lever.low)} and {_lever_value(lever, lever.high)}: the "
                f"target is {row['status']}\n"
            )
    else:
        solved = frame["solution"].dropna()
        stdout.write(
            f"{_lever_words(scenario, lever)}: {len(solved):,} of {len(frame):,} scenarios "
            f"solved; {frame.attrs['unsolved']:,} have no solution between "
            f"{_lever_value(lever, lever.low)} and {_lever_value(lever, lever.high)}\n"
        )
        if len(solved):
            quantiles = solved.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
            stdout.write(
                "solution quantiles: "
                + ", ".join(
                    f"{100 * q:g}%: {_lever_value(lever, float(v))}"
                    for q, v in zip(quantiles.index.to_numpy(dtype=float), quantiles, strict=True)
                )
                + "\n"
            )
    return 0


def add_commands(sub: Any) -> None:
    """Register the sweep commands on the main parser's subparsers.

    Parameters
    ----------
    sub
        The main parser's subparsers (what ``ArgumentParser.add_subparsers`` returns).
    """
    _add_sweep(sub)
    _add_sensitivity(sub)
    _add_solve(sub)
    _add_fit(sub)


def _common(parser: argparse.ArgumentParser, *, samples_help: str) -> None:
    """Add the arguments every sweep command takes."""
    parser.add_argument(
        "file", type=file_name, help="a scenario file with a sweep: section, or a sweep file"
    )
    parser.add_argument("--samples", type=at_least(1), help=samples_help)
    parser.add_argument("--seed", type=at_least(0), help="override the sweep's seed")
    parser.add_argument("--engine", choices=["numba", "numpy"], help="default: numba if installed")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")


def _add_sweep(sub: Any) -> None:
    """Register the ``sweep`` command."""
    sweep = sub.add_parser(
        "sweep", help="run many scenarios: probabilities and fan-chart quantiles"
    )
    _common(sweep, samples_help="override the number of scenarios")
    sweep.add_argument("--design", choices=["mc", "lhs", "sobol", "grid"])
    sweep.add_argument(
        "--workers",
        type=at_least(1),
        help="processes for the numpy engine, threads for numba (default: all cores)",
    )
    sweep.add_argument(
        "--scheduler",
        type=named("the scheduler's address, for example tcp://host:8786"),
        metavar="ADDRESS",
        help="run on a dask scheduler",
    )
    sweep.add_argument(
        "--retries",
        type=at_least(0),
        help="on dask, times a chunk is run again when its worker is lost (default 3)",
    )
    cores = os.cpu_count() or 1
    sweep.add_argument(
        "--local-cluster",
        type=at_least(1, cores, " (the cores of this machine: one worker process a core)"),
        metavar="K",
        help=f"start a dask LocalCluster of K workers (at most {cores}, one a core)",
    )
    sweep.add_argument(
        "--chunk-size", type=at_least(1), help="scenarios per chunk (results do not depend on it)"
    )
    sweep.add_argument(
        "--out",
        type=file_name,
        metavar="DIR",
        help="stream per-scenario results to a Parquet folder",
    )
    sweep.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    sweep.add_argument(
        "--write-on-workers",
        action="store_true",
        help="with --out on a dask cluster: each worker writes its own chunks (--out must be "
        "reachable from every worker: a shared folder or an object store's URL)",
    )
    sweep.add_argument(
        "--monthly",
        type=file_name,
        metavar="CSV",
        help="also write every scenario's monthly plans and cost (sweeps of up to 100,000)",
    )
    sweep.add_argument(
        "--force", action="store_true", help="replace the --monthly CSV if it exists"
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress line")
    sweep.set_defaults(handler=run_sweep_command)


def _add_sensitivity(sub: Any) -> None:
    """Register the ``sensitivity`` command."""
    sens = sub.add_parser("sensitivity", help="which assumptions matter (Sobol, Morris, tornado)")
    _common(sens, samples_help="Sobol base samples (1024) or Morris trajectories (50)")
    sens.add_argument("--method", choices=["sobol", "morris", "tornado"], default="sobol")
    sens.add_argument(
        "--output",
        action="append",
        choices=["in_year_balance", "cumulative_balance", "plans"],
        help="outputs to analyse (repeat; default in_year_balance and cumulative_balance)",
    )
    sens.add_argument("--year", help="show one financial year only, for example 2028-29")
    sens.set_defaults(handler=run_sensitivity_command, output=None)


def _add_solve(sub: Any) -> None:
    """Register the ``solve`` command."""
    solve = sub.add_parser("solve", help="what must change for a target to hold")
    _common(solve, samples_help="override the sweep's number of scenarios")
    solve.add_argument(
        "--lever", required=True, help="dotted path, for example demand.requests_per_year"
    )
    solve.add_argument("--mode", choices=["value", "scale", "shift"], default="value")
    solve.add_argument("--low", type=float, required=True)
    solve.add_argument("--high", type=float, required=True)
    solve.add_argument(
        "--target", required=True, help="balance:FY, cap:FY, cap:FY:AMOUNT or plans:YYYY-MM:COUNT"
    )
    solve.add_argument(
        "--per-scenario", action="store_true", help="solve every scenario of the sweep"
    )
    solve.add_argument(
        "--probability",
        type=share,
        help="one lever value meeting the target in this share of the sweep",
    )
    solve.set_defaults(handler=run_solve_command)


def _add_fit(sub: Any) -> None:
    """Register the ``fit`` command."""
    fit = sub.add_parser("fit", help="choose levers so a plan reproduces its published figures")
    fit.add_argument(
        "file", type=file_name, help="a scenario file with a fit: section (levers and targets)"
    )
    fit.add_argument("--engine", choices=["numba", "numpy"], help="default: numba if installed")
    fit.add_argument("--format", choices=["table", "json"], default="table")
    fit.add_argument(
        "--out", type=file_name, metavar="FILE.yaml", help="write the fitted scenario here"
    )
    fit.add_argument("--force", action="store_true", help="replace --out if it exists")
    fit.set_defaults(handler=run_fit_command)
