"""The command line, run in-process through ``main`` (and once as a subprocess, as a user would)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dsg_forecast.cli import main
from tests.paths import EXAMPLES, ROOT


@dataclass(frozen=True)
class Ran:
    """What a command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Ran:
    """Run ``dsg-forecast ARGS`` in-process, from the project root, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refuses bad arguments this way
            code = exc.code if isinstance(exc.code, int) else 1
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.mark.slow
def test_the_installed_command_as_a_subprocess(worked_path: Path, tmp_path: Path) -> None:
    """One smoke test of the real process: the module entry point, exit codes, no traceback."""
    ran = subprocess.run(
        [sys.executable, "-m", "dsg_forecast.cli", "run", str(worked_path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["summary"]["target_met"] is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("start: [2024-04\n")
    ran = subprocess.run(
        [sys.executable, "-m", "dsg_forecast.cli", "run", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert ran.returncode == 2
    assert "YAML syntax error" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_run_prints_a_table(worked_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(worked_path)]) == 0
    out = capsys.readouterr().out
    assert "2024-25  2,600,000   2,474,967    2,726,967  -126,967" in out
    assert "Balance target: in-year balance >= 0 from 2025-26: NOT met" in out
    assert "earlier support [3.1]      -7,874  289,093  945,163" in out


@pytest.fixture
def target_after_end(worked_path: Path, tmp_path: Path) -> Path:
    """The worked example with its balance target after the projection's end."""
    path = tmp_path / "short.yaml"
    path.write_text(
        worked_path.read_text().replace("balance_target: 2025-26", "balance_target: 2030-31")
    )
    return path


def test_a_target_after_the_end_is_not_reached_rather_than_missed(
    target_after_end: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A projection that stops before its balance target has not missed it: it says so."""
    path = target_after_end
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "from 2030-31: not reached: the projection ends before it" in out
    assert main(["run", str(path), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["target_met"] is False and summary["target_after_end"] is True


def test_a_sweep_of_a_target_after_the_end_says_so(
    target_after_end: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = target_after_end.parent / "sweep.yaml"
    sweep.write_text(
        "base: short.yaml\nparameters:\n"
        "  demand.refusal_rate: {dist: uniform, low: 0.2, high: 0.3}\n"
    )
    assert main(["sweep", str(sweep), "--samples", "40", "--engine", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "from 2030-31): not reached, the projection ends in 2026-27" in out


def test_run_csv(worked_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(worked_path), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("financial_year,income,placement_cost")
    assert len(lines) == 4


def test_run_out_writes_csvs(worked_path: Path, tmp_path: Path) -> None:
    assert main(["run", str(worked_path), "--out", str(tmp_path)]) == 0
    for name in ("ledger.csv", "monthly.csv", "stock.csv", "savings.csv", "summary.json"):
        assert (tmp_path / name).is_file(), name
    ledger = pd.read_csv(tmp_path / "ledger.csv", index_col="financial_year")
    assert ledger.loc["2026-27", "cumulative_balance"] == pytest.approx(-639_556.42, abs=0.005)
    stock = pd.read_csv(tmp_path / "stock.csv", index_col=["month", "age"])
    assert stock.shape == (36 * 4, 3)
    assert json.loads((tmp_path / "summary.json").read_text())["target_met"] is False


def test_validate_ok(worked_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(worked_path)]) == 0
    assert "valid scenario 'MODEL.md worked example'" in capsys.readouterr().out


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Scenario"
    assert {"start", "end", "placements", "demand"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("start: 2024-04\nend: [2027-03\n", "YAML syntax error at line 3, column 1"),
        ("- just\n- a list\n", "the top of a scenario file must be a mapping"),
    ],
)
def test_bad_files_exit_2_without_traceback(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    done = run_cli("run", str(path))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) < 25  # one screen


def test_unknown_key_and_mix_exit_2(worked_path: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(worked_path.read_text())
    data["demand"]["refusal_rat"] = data["demand"].pop("refusal_rate")
    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump(data))
    done = run_cli("validate", str(tmp_path / "unknown.yaml"))
    assert done.returncode == 2
    assert (
        "demand.refusal_rat: unknown key 'refusal_rat'; did you mean 'refusal_rate'?" in done.stderr
    )

    data = yaml.safe_load(worked_path.read_text())
    data["demand"]["new_plan_mix"][5] = {"mainstream": 0.52, "special": 0.4, "inmss": 0.1}
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(data))
    done = run_cli("run", str(tmp_path / "mix.yaml"))
    assert done.returncode == 2
    assert "entry mix at age 5 sums to 1.02; it must sum to 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    done = run_cli("run", str(tmp_path / "nowhere.yaml"))
    assert done.returncode == 2
    assert "file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_stock_csv_exits_2(worked_path: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(worked_path.read_text())
    data["opening_stock"] = {"csv": "absent.csv"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    done = run_cli("run", str(tmp_path / "s.yaml"))
    assert done.returncode == 2
    assert "opening_stock.csv: file not found" in done.stderr


def test_all_errors_of_a_file_on_one_screen(worked_path: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(worked_path.read_text())
    data["demand"]["refusal_rate"] = 1.25
    data["costs"]["unit_cost"]["inmss"] = -5
    data["placements"][0]["tier"] = "high"
    (tmp_path / "multi.yaml").write_text(yaml.safe_dump(data))
    done = run_cli("run", str(tmp_path / "multi.yaml"))
    assert done.returncode == 2
    assert "3 problems in the scenario" in done.stderr
    assert "demand.refusal_rate: 1.25" in done.stderr
    assert "costs.unit_cost.inmss: -5" in done.stderr
    assert "placements[0].tier: 'high'" in done.stderr


def test_validate_checks_a_sweep_file(capsys: pytest.CaptureFixture[str]) -> None:
    sweep = EXAMPLES / "wiltshire_sweep.yaml"
    assert main(["validate", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "valid sweep of 10 parameters (demand.requests_growth, " in out
    assert "lhs design, 10,000 samples, seed 20240416" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"levers": {4: {"high": True}}}, "fit.levers[4].high: True is a true/false value"),
        ({"levers": {0: {"path": "demand.nope"}}}, "demand.nope is not in the scenario"),
        ({"targets": {1: {"year": "2031-32"}}}, "2031-32 is outside the projection"),
        ({"targets": {3: {"value": "£5"}}}, "fit.targets[3].value: '£5'"),
    ],
)
def test_validate_checks_a_fit_section(
    tmp_path: Path, change: dict[str, dict[int, dict[str, object]]], message: str
) -> None:
    """``validate`` said a file whose ``fit:`` section ``fit`` refuses was valid (it left the
    section out, as ``run`` does); it checks the section as ``fit`` does, without fitting."""
    data = yaml.safe_load((EXAMPLES / "wiltshire_plan_2024.yaml").read_text())
    data["opening_stock"]["csv"] = str(EXAMPLES / data["opening_stock"]["csv"])
    for section, entries in change.items():
        for number, values in entries.items():
            data["fit"][section][number].update(values)
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    done = run_cli("validate", str(tmp_path / "plan.yaml"))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_says_a_fit_section_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "wiltshire_plan_2024.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid scenario 'Wiltshire Safety Valve plan 2024 (reconstructed)'" in out
    assert "valid fit: section, 8 levers and 4 targets" in out


def test_validate_names_a_bad_swept_value(tmp_path: Path) -> None:
    base = EXAMPLES / "worked_example.yaml"
    sweep = {
        "base": str(base),
        "samples": 50,
        "parameters": {"demand.refusal_rate": {"dist": "uniform", "low": 0.5, "high": 1.5}},
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    done = run_cli("validate", str(tmp_path / "sweep.yaml"))
    assert done.returncode == 2
    assert "demand.refusal_rate" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--workers", "0", "argument --workers: 0 is below 1; it must be at least 1"),
        ("--samples", "0", "argument --samples: 0 is below 1; it must be at least 1"),
        ("--chunk-size", "-4", "argument --chunk-size: -4 is below 1; it must be at least 1"),
        ("--local-cluster", "0", "argument --local-cluster: 0 is below 1; it must be at least 1"),
        (
            "--local-cluster",
            "1000",
            f"argument --local-cluster: 1000 is above {os.cpu_count() or 1}; it must be at most "
            f"{os.cpu_count() or 1} (the cores of this machine: one worker process a core)",
        ),
        ("--retries", "-1", "argument --retries: -1 is below 0; it must be at least 0"),
        ("--seed", "-1", "argument --seed: -1 is below 0; it must be at least 0"),
        ("--samples", "many", "argument --samples: 'many' is not a whole number"),
        ("--samples", "2.5", "argument --samples: '2.5' is not a whole number"),
        ("--samples", "1,5", "argument --samples: '1,5' is not a whole number"),
        ("--seed", "1e-3", "argument --seed: '1e-3' is not a whole number"),
        ("--seed", "nan", "argument --seed: 'nan' is not a whole number"),
        ("--seed", "1e99999999", "'1e99999999' is larger than any count this tool takes"),
    ],
)
def test_sweep_counts_are_checked(option: str, value: str, message: str) -> None:
    sweep = EXAMPLES / "wiltshire_sweep.yaml"
    done = run_cli("sweep", str(sweep), option, value, "--quiet")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("text", "number"),
    [("1000000", 1_000_000), ("1_000_000", 1_000_000), ("1e6", 1_000_000), ("1E6", 1_000_000),
     (" 2.5e5 ", 250_000), ("1.0", 1), ("-1e3", -1000)],
)  # fmt: skip
def test_counts_may_be_written_as_powers_of_ten(text: str, number: int) -> None:
    """``--samples 1e6`` was refused as "not a whole number"; it is one, exactly."""
    from dsg_forecast.cli._common import whole_number_text

    assert whole_number_text(text) == number


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["run", "", "--format", "json"], "file"),
        (["run", "{plan}", "--out", ""], "--out"),
        (["validate", " "], "file"),
        (["monitor", "{plan}", "{actuals}", "--register", ""], "--register"),
        (["monitor", "{plan}", "{actuals}", "--forecast", ""], "--forecast"),
        (["template", "{tmp}/t.xlsx", "--scenario", ""], "--scenario"),
        (["calibrate", "Wiltshire", "--out", ""], "--out"),
        (["sweep", "{sweep}", "--monthly", ""], "--monthly"),
        (["sweep", "{sweep}", "--scheduler", ""], "--scheduler"),
        (["compare", "{plan}", ""], "FILE"),
    ],
)
def test_an_empty_name_is_refused_not_ignored(
    command: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty file name (``--register "$UNSET"``) was taken as no file: the monitoring
    return went out without its register, a calibration printed instead of writing."""
    names = {
        "{plan}": str(EXAMPLES / "wiltshire_plan_2024.yaml"),
        "{actuals}": str(EXAMPLES / "monitoring" / "wiltshire_key_measures.csv"),
        "{sweep}": str(EXAMPLES / "wiltshire_sweep.yaml"),
        "{tmp}": str(tmp_path),
    }
    for placeholder, name in names.items():
        command = [part.replace(placeholder, name) for part in command]
    with pytest.raises(SystemExit) as exited:
        main(command)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: " in error
    assert "is empty; give" in error or "is only spaces; give" in error
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["run", "{plan}", "--out", "-"], "--out"),
        (["calibrate", "Wiltshire", "--out", "-"], "--out"),
        (["sweep", "{plan}", "--out", "-"], "--out"),
        (["validate", "-"], "file"),
    ],
)
def test_a_dash_is_not_made_a_file(
    command: list[str],
    option: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``run --out -`` (to a shell user, standard output) made a folder named "-"."""
    monkeypatch.chdir(tmp_path)
    plan = str(EXAMPLES / "wiltshire_plan_2024.yaml")
    with pytest.raises(SystemExit) as exited:
        main([part.replace("{plan}", plan) for part in command])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: '-' (a shell's standard input or output) is not read" in error
    assert not list(tmp_path.iterdir())


def test_writing_on_workers_without_a_cluster_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sweep = EXAMPLES / "wiltshire_sweep.yaml"
    command = ["sweep", str(sweep), "--samples", "64", "--out", str(tmp_path / "out")]
    assert main([*command, "--write-on-workers", "--quiet", "--engine", "numpy"]) == 2
    error = capsys.readouterr().err
    assert "writing on the workers needs an output (--out) and a dask cluster" in error
    assert not (tmp_path / "out").exists()  # refused before any folder was made


def test_a_sensitivity_too_large_names_samples(capsys: pytest.CaptureFixture[str]) -> None:
    """The library's limit, named as the user typed it (--samples, not base_samples)."""
    sweep = str(EXAMPLES / "wiltshire_sweep.yaml")
    assert main(["sensitivity", sweep, "--samples", "10000000"]) == 2
    error = capsys.readouterr().err
    assert "--samples is 10,000,000, which makes 120,000,000 scenarios (Sobol: samples" in error
    assert "give --samples of at most 1,398,101" in error


def test_output_read_by_head_ends_quietly(worked_path: Path) -> None:
    """``dsg-forecast validate plan.yaml | head -1`` ended in a BrokenPipeError traceback
    when head closed the pipe before the second line."""

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    assert main(["validate", str(worked_path)], stdout=ClosedPipe()) == 141


def test_a_system_refusal_no_writer_names_is_one_line(
    worked_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError from deep inside a library (a full temporary folder, a permission taken
    away) ended in its traceback; it is one line in the system's words, on its file, status
    1 (as pip says an OSError)."""
    import dsg_forecast.io

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(13, "Permission denied", "/srv/plans/wiltshire.yaml")

    monkeypatch.setattr(dsg_forecast.io, "load_scenario", refused)
    assert main(["run", str(worked_path)]) == 1
    said = "error: run stopped: Permission denied (/srv/plans/wiltshire.yaml)\n"
    assert capsys.readouterr().err == said


def test_sigterm_stops_a_command_as_ctrl_c_does(
    worked_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch system's SIGTERM (a job's time limit) ended a command with no word of what it
    kept; it stops as Ctrl-C stops it, status 143, and the handler before is put back."""
    import os
    import signal
    import time

    import dsg_forecast.io

    def terminated(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises first

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(dsg_forecast.io, "load_scenario", terminated)
    assert main(["run", str(worked_path)]) == 143
    assert capsys.readouterr().err == "stopped (terminated, SIGTERM): run did not finish\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_worker_processes_leave_signals_to_the_command() -> None:
    """A forked worker inherited the command's handlers, so Ctrl-C and SIGTERM raised in
    the middle of its work and printed a traceback beside the command's message."""
    import multiprocessing
    import signal

    from dsg_forecast._processes import leave_signals_to_parent

    with multiprocessing.Pool(1, initializer=leave_signals_to_parent) as pool:
        handlers = pool.apply(_signal_handlers)
    assert handlers == (signal.SIG_IGN, signal.SIG_DFL)


def _signal_handlers() -> tuple[object, object]:
    import signal

    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
