"""Outputs written safely: never over a user's file, never a partial file under its name."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dsg_forecast import Projection, Scenario, project, write_results
from dsg_forecast.cli import main
from dsg_forecast.errors import ArgumentError, ArgumentTypeError, OutputError
from dsg_forecast.io.output import written_atomically
from tests.paths import ROOT

WORKED = str(ROOT / "examples" / "worked_example.yaml")
SWEEP = str(ROOT / "examples" / "wiltshire_sweep.yaml")

COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "run xlsx": lambda out: ["run", WORKED, "--out", str(out.with_suffix(".xlsx"))],
    "template": lambda out: ["template", str(out.with_suffix(".xlsx"))],
    "report": lambda out: ["report", WORKED, "--out", str(out.with_suffix(".html"))],
    "plot": lambda out: ["plot", "balance", WORKED, "--out", str(out.with_suffix(".png"))],
    "calibrate": lambda out: ["calibrate", "Wiltshire", "--out", str(out.with_suffix(".yaml"))],
    "management-plan": lambda out: [
        "management-plan",
        WORKED,
        "--out",
        str(out.with_suffix(".xlsx")),
    ],
    # a sweep's monthly trajectories were written over any file, of any suffix
    "sweep monthly": lambda out: [
        "sweep", SWEEP, "--samples", "20", "--quiet", "--monthly", str(out.with_suffix(".csv")),
    ],
}  # fmt: skip


def _target(args: list[str]) -> Path:
    for flag in ("--out", "--monthly"):
        if flag in args:
            return Path(args[args.index(flag) + 1])
    return Path(args[1])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_existing_file_is_not_replaced_without_force(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = COMMANDS[name](tmp_path / "budget")
    target = _target(args)
    target.write_text("the officer's own file")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert target.read_text() == "the officer's own file"
    assert main([*args, "--force"]) == 0
    assert target.read_text(errors="replace") != "the officer's own file"


PLAN = str(ROOT / "examples" / "wiltshire_plan_2024.yaml")


@pytest.mark.parametrize(
    ("args", "name", "rule"),
    [
        (["calibrate", "Wiltshire", "--out"], "scenario.json", "must end in .yaml or .yml"),
        (["fit", PLAN, "--out"], "fitted.json", "must end in .yaml or .yml"),
        (["backtest", "--council", "Wiltshire", "--out"], "errors.xlsx", "must end in .csv"),
    ],
    ids=["calibrate", "fit", "backtest"],
)
def test_a_file_of_another_kind_is_refused_before_any_work(
    args: list[str], name: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario written as YAML under ``.json`` would fail to load again; a backtest's
    CSV under ``.xlsx`` would not open. Refused before the fit or backtest runs."""
    target = tmp_path / name
    assert main([*args, str(target)]) == 2
    assert f"{name}' {rule}" in capsys.readouterr().err
    assert not target.exists()


def test_monthly_trajectories_are_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--monthly m.xlsx`` wrote CSV text under a workbook's name."""
    target = tmp_path / "m.xlsx"
    assert main(["sweep", SWEEP, "--samples", "20", "--quiet", "--monthly", str(target)]) == 2
    assert "m.xlsx' must end in .csv" in capsys.readouterr().err
    assert not target.exists()


def test_run_out_existing_user_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12's acceptance: `run --out existing-user-file.xlsx` refuses without --force."""
    budget = tmp_path / "budget.xlsx"
    budget.write_bytes(b"PK\x03\x04 the council's budget")
    assert main(["run", WORKED, "--out", str(budget)]) == 2
    assert "budget.xlsx already exists" in capsys.readouterr().err
    assert budget.read_bytes() == b"PK\x03\x04 the council's budget"


def test_a_full_disk_leaves_no_partial_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12's acceptance: a write that fails half way leaves nothing under the name."""
    real_write = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        real_write(self, data[: len(data) // 2])  # half the workbook made it to disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    out = tmp_path / "results.xlsx"
    assert main(["run", WORKED, "--out", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


MONITORING = ROOT / "examples" / "monitoring"
#: Every writer of the command line, its file larger than the child's file-size limit.
WRITERS: dict[str, Callable[[Path], list[str]]] = {
    **{name: command for name, command in COMMANDS.items() if name != "sweep monthly"},
    "sweep monthly": lambda out: [
        "sweep", SWEEP, "--samples", "20", "--quiet", "--engine", "numpy",
        "--monthly", str(out.with_suffix(".csv")),
    ],
    "run folder": lambda out: ["run", WORKED, "--out", str(out)],
    "compare xlsx": lambda out: ["compare", WORKED, PLAN, "--out", str(out.with_suffix(".xlsx"))],
    "monitor xlsx": lambda out: [
        "monitor", PLAN, str(MONITORING / "wiltshire_key_measures.csv"),
        "--register", str(MONITORING / "wiltshire_register.csv"),
        "--out", str(out.with_suffix(".xlsx")),
    ],
    "backtest csv": lambda out: [
        "backtest", "--council", "Wiltshire", "--method", "last_growth", "--method",
        "mean_growth", "--method", "loglinear", "--jobs", "1", "--out",
        str(out.with_suffix(".csv")),
    ],
    "sweep parts": lambda out: [
        "sweep", SWEEP, "--samples", "200", "--quiet", "--engine", "numpy", "--out", str(out),
    ],
}  # fmt: skip
#: The child: files may not grow past 4 KB (as a full disk, for any writer), and going past
#: is an error (EFBIG) rather than the signal that would end the process.
FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from dsg_forecast.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_on_a_full_disk_says_so_and_leaves_nothing(name: str, tmp_path: Path) -> None:
    """A write that fails for want of room: one message, status 2, nothing left behind (a
    results folder had ended in an OSError traceback, and the management plan and other
    workbooks in a second traceback from openpyxl's zip file as the program ended)."""
    import subprocess
    import sys

    out = tmp_path / "out" / "budget"
    out.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *WRITERS[name](out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(said) == 1 and "too large" in said[0], done.stderr
    assert done.returncode in (1, 2), done.stderr  # 2 where a writer says which file
    left = sorted(p.name for p in out.parent.rglob("*"))
    if name == "sweep parts":  # its manifest and lock, which fit; the scenarios safe: none
        assert left == [".lock", "_manifest.json", "budget"] and "0 of 200 scenarios" in said[0]
    else:
        assert left == []


def test_a_results_folder_of_other_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.docx").write_text("the officer's notes")
    assert main(["run", WORKED, "--out", str(folder)]) == 2
    assert "holds files this tool did not write (notes.docx)" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.docx"]
    empty = tmp_path / "fresh"
    assert main(["run", WORKED, "--out", str(empty)]) == 0
    assert main(["run", WORKED, "--out", str(empty)]) == 0  # its own results are replaced
    assert not [p for p in empty.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("name", ["results.xls", "ledger.csv", "summary.json", "plan.ods"])
def test_a_file_name_is_not_made_a_results_folder(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --out results.xls`` meant a workbook (or a CSV file): a folder of CSVs so named
    would be a silent change of what was asked."""
    out = tmp_path / name
    assert main(["run", WORKED, "--out", str(out)]) == 2
    suffix = out.suffix
    assert (
        f"{out} names a {suffix} file, but results are written as CSVs into a folder or as "
        "one workbook FILE.xlsx" in capsys.readouterr().err
    )
    assert not out.exists()
    dotted = tmp_path / "results.2024"  # a folder's name with a dot in it is still a folder
    assert main(["run", WORKED, "--out", str(dotted)]) == 0
    assert (dotted / "ledger.csv").is_file()


def test_write_results_does_not_make_a_folder_named_like_a_workbook(
    worked_projection: Projection, tmp_path: Path
) -> None:
    """In Python, ``write_results(p, "results.xlsx")`` made a folder of CSVs so named."""
    out = tmp_path / "results.xlsx"
    with pytest.raises(OutputError, match="names a workbook, but write_results writes CSVs"):
        write_results(worked_projection, out)
    assert not out.exists()


@pytest.mark.parametrize("path", [None, 5, True, ["out.xlsx"]])
def test_an_output_that_is_not_a_path_is_refused(worked_projection: Projection, path: Any) -> None:
    """``write_excel(p, None)`` and ``write_results(p, 5)`` ended in pathlib's "expected str,
    bytes or os.PathLike object", naming no argument; a summary that is not a sweep's ended
    inside the HTML report's charts."""
    from dsg_forecast.reporting.excel import write_excel
    from dsg_forecast.reporting.html_report import html_report

    with pytest.raises(ArgumentTypeError, match=rf"the output is {re.escape(repr(path))}; give"):
        write_excel(worked_projection, path)
    with pytest.raises(ArgumentTypeError, match="give a folder's path"):
        write_results(worked_projection, path)
    if path is not None:  # None: no sweep, the report's default
        with pytest.raises(ArgumentTypeError, match="give a sweep's summary"):
            html_report(worked_projection, summary=path)


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_output_is_refused(
    worked_projection: Projection, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_results(p, "")`` wrote the results into the current folder (``Path("")`` is
    it), and ``"   "`` made a folder named by three spaces."""
    from dsg_forecast.errors import ArgumentError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentError, match=rf"the output is '{path}', which is empty; give"):
        write_results(worked_projection, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda tmp: tmp / "plain.txt" / "out.xlsx", "is a file, not a folder"),
        (lambda tmp: tmp / "missing" / "out.xlsx", "does not exist"),
        (lambda tmp: tmp, "is a folder; give a file name"),
    ],
    ids=["under a file", "no folder", "a folder"],
)
def test_impossible_targets_are_refused_before_any_work(
    where: Callable[[Path], Path],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "plain.txt").write_text("x")
    target = where(tmp_path)
    args = ["report", WORKED, "--out", str(target.with_suffix(".html"))]
    if target == tmp_path:
        args = ["plot", "balance", WORKED, "--out", str(tmp_path)]
        message = "must end in .png or .svg"
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["report", WORKED, "--out", str(folder / "r.html")]) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        folder.chmod(0o700)


def test_a_folder_inside_a_file_or_that_cannot_be_made_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --out afile/results`` and a sweep's ``--out`` under a file (or in ``/proc``)
    ended in a FileNotFoundError or pyarrow's OSError traceback."""
    import os

    (tmp_path / "afile").write_text("a user's file\n")
    assert main(["run", WORKED, "--out", str(tmp_path / "afile" / "results")]) == 2
    assert "afile is a file, not a folder" in capsys.readouterr().err
    sweep = str(ROOT / "examples" / "wiltshire_sweep.yaml")
    out = str(tmp_path / "afile" / "s.parquet")
    assert main(["sweep", sweep, "--samples", "50", "--out", out, "--quiet"]) == 2
    assert "cannot write the sweep to" in capsys.readouterr().err
    if os.path.isdir("/proc/self"):  # a folder the system will not let anyone make
        assert main(["run", WORKED, "--out", "/proc/dsg-results"]) == 2
        assert "cannot write results into /proc/dsg-results" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "a user's file\n"


def _killed(code: str, tmp_path: Path) -> None:
    """Run ``code`` in a fresh interpreter that kills itself with SIGKILL where it says."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal\n"
        "def die(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n" + code
    )
    ran = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False)
    assert ran.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_killed_run_out_leaves_no_result(tmp_path: Path) -> None:
    """Issue 12: `run --out DIR` killed while writing leaves no new file that could be taken
    for a result, and earlier results untouched."""
    fresh, earlier = tmp_path / "fresh", tmp_path / "earlier"
    assert main(["run", WORKED, "--out", str(earlier)]) == 0
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}
    for folder in (fresh, earlier):
        _killed(  # killed as it writes the last file, the summary
            "import json\n"
            "json.dumps = die\n"
            "from dsg_forecast.cli import main\n"
            f"main(['run', {WORKED!r}, '--out', {str(folder)!r}])\n",
            tmp_path,
        )
    assert not fresh.exists()
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before
    # the hidden staging folders are not results, and the next run clears them
    assert len(list(tmp_path.glob(".*.part"))) == 2
    for folder in (fresh, earlier):
        assert main(["run", WORKED, "--out", str(folder)]) == 0
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_file_made_while_an_output_is_written_is_not_replaced(
    hard_links: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target is checked absent before the work; a file the user saved under its name
    while a long command ran (a report, a sensitivity analysis) was then replaced. It is
    left as it is and the command says so (with or without hard links on the filesystem)."""
    if not hard_links:

        def no_links(source: Any, destination: Any) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "report.html"
    with (
        pytest.raises(OutputError, match=re.escape(f"{target} was made while this command")),
        written_atomically(target) as partial,
    ):
        partial.write_text("the report")
        target.write_text("the officer's notes")
    assert target.read_text() == "the officer's notes"
    assert list(tmp_path.iterdir()) == [target]
    with written_atomically(target, force=True) as partial:  # asked to replace it: replaced
        partial.write_text("the report")
    assert target.read_text() == "the report"
    fresh = tmp_path / "fresh.html"
    with written_atomically(fresh) as partial:
        partial.write_text("the report")
    assert fresh.read_text() == "the report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.html", "report.html"]


def test_a_path_from_the_home_folder_is_read_and_written_there(
    worked_projection: Projection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_results(p, "~/results")`` made a folder named "~" in the current folder and
    then failed (pandas, writing its files, read "~" as the home folder). A leading ``~``
    is the home folder wherever the library takes a path, as a shell reads it."""
    from dsg_forecast import load_scenario
    from dsg_forecast.reporting.excel import write_excel

    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir()
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    written = write_results(worked_projection, "~/results")
    assert written[0] == home / "results" / "ledger.csv" and written[0].is_file()
    assert write_excel(worked_projection, "~/results.xlsx") == home / "results.xlsx"
    (home / "plan.yaml").write_text(Path(WORKED).read_text())
    assert load_scenario("~/plan.yaml") == load_scenario(WORKED)
    said = "the output is '~nobody-here-at-all/r', but ~nobody-here-at-all is no home folder here"
    with pytest.raises(ArgumentError, match=re.escape(said)):
        write_results(worked_projection, "~nobody-here-at-all/r")
    assert list(here.iterdir()) == []


def test_two_runs_writing_one_folder_at_once_leave_one_runs_results(
    worked: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs into one results folder at once (a script's runs in parallel, one --out): the
    second removed the first's staging folder as a killed run's leftover, so the first ended
    in "No such file or directory", or their files interleaved, one run's ledger beside the
    other's summary. They take turns: the folder holds one run's results, whole."""
    import threading
    import time

    demand = worked.demand.model_copy(update={"requests_per_year": 240.0})
    other = worked.model_copy(update={"name": "another run", "demand": demand})
    projections = {"first": project(worked), "second": project(other)}
    closing = {name: p.summary.to_dict()["closing_balance"] for name, p in projections.items()}
    assert closing["first"] != closing["second"]  # (the folder tells which run wrote it)
    out = tmp_path / "results"
    written = pd.DataFrame.to_csv

    def slow_to_csv(frame: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)  # as a larger projection's files take a while
        return written(frame, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", slow_to_csv)
    failed: list[BaseException] = []

    def write(name: str) -> None:
        try:
            write_results(projections[name], out)
        except BaseException as exc:  # reported by the assertion below
            failed.append(exc)

    for _ in range(3):
        first = threading.Thread(target=write, args=("first",))
        second = threading.Thread(target=write, args=("second",))
        first.start()
        time.sleep(0.03)  # the first is writing its files
        second.start()
        first.join()
        second.join()
        assert failed == []
        # one run's files, whole: the summary and the ledger are the same run's
        summary = json.loads((out / "summary.json").read_text())
        last = next(name for name, value in closing.items() if value == summary["closing_balance"])
        assert summary == json.loads(json.dumps(projections[last].summary.to_dict()))
        ledger = pd.read_csv(out / "ledger.csv", index_col=0)
        expected = projections[last].ledger
        np.testing.assert_allclose(ledger["cumulative_balance"], expected["cumulative_balance"])
        assert not list(tmp_path.glob(".*.part"))


def test_a_lock_held_elsewhere_is_waited_for_and_then_said(
    worked_projection: Projection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A results writer waits for another's lock on the folder (a write takes milliseconds),
    but not for ever: a lock some other program keeps is said, not a silent hang."""
    import fcntl

    from dsg_forecast.io import results_files

    monkeypatch.setattr(results_files, "LOCK_WAIT", 0.3)
    held = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        said = f"cannot write results into {tmp_path}: another process has held a lock on it"
        with pytest.raises(OutputError, match=re.escape(said)):
            write_results(worked_projection, tmp_path / "results")
        assert list(tmp_path.iterdir()) == []
    finally:
        os.close(held)
    assert write_results(worked_projection, tmp_path / "results")[0].is_file()


@pytest.mark.slow
def test_a_killed_sweep_leaves_only_whole_parts(tmp_path: Path) -> None:
    """Issue 12: a sweep killed while writing a part leaves whole parts only; --resume ends
    with the results of an uninterrupted run."""
    from dsg_forecast.sweeps import UnfinishedSweepWarning, load_sweep, read_sweep, run_sweep

    sweep_file = ROOT / "examples" / "wiltshire_sweep.yaml"
    out = tmp_path / "sweep"
    _killed(  # killed half way through writing the third part
        "import dsg_forecast.sweeps.store as store\n"
        "real = store.SweepStore.write_table\n"
        "calls = []\n"
        "def third(self, number, table):\n"
        "    calls.append(number)\n"
        "    if len(calls) == 3:\n"
        "        with open(f'{self.root}/part-{number:06d}.parquet.tmp', 'wb') as half:\n"
        "            half.write(b'PAR1 half a part')\n"
        "        die()\n"
        "    real(self, number, table)\n"
        "store.SweepStore.write_table = third\n"
        "from dsg_forecast.sweeps import load_sweep, run_sweep\n"
        f"scenario, spec = load_sweep({str(sweep_file)!r})\n"
        "spec = spec.model_copy(update={'samples': 500})\n"
        f"run_sweep(scenario, spec, engine='numpy', out={str(out)!r}, chunk_size=100,"
        " workers=1)\n",
        tmp_path,
    )
    assert list(out.glob("*.tmp"))  # the half-written part is under a temporary name
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == ["part-000000.parquet", "part-000001.parquet"]
    with pytest.warns(UnfinishedSweepWarning, match="holds 200 of its sweep's 500 scenarios"):
        assert len(read_sweep(out)) == 200  # the whole parts, and nothing else
    scenario, spec = load_sweep(sweep_file)
    spec = spec.model_copy(update={"samples": 500})
    resumed = run_sweep(scenario, spec, engine="numpy", out=out, chunk_size=100, resume=True)
    whole = run_sweep(scenario, spec, engine="numpy", chunk_size=100)
    pd.testing.assert_frame_equal(resumed.table, whole.table)
