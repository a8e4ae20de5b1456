"""Write a projection's results to files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from dsg_forecast.errors import OutputError, as_path, check_flags
from dsg_forecast.results import check_projection

if TYPE_CHECKING:
    import pandas as pd

    from dsg_forecast.results import Projection

#: Seconds a results writer waits for another's lock on the folder (a write takes ms).
LOCK_WAIT: Final = 60.0

RESULT_FILES: Final = (
    "ledger.csv", "monthly.csv", "stock.csv", "savings.csv", "savings_by_condition.csv",
    "summary.json",
)  # fmt: skip
"""The files ``write_results`` writes; a folder holding only these is the tool's own."""

#: Suffixes of files a user may mean by ``--out`` (an old Excel workbook, a CSV, a report):
#: a new folder so named would be a silent change of what was asked, so it is refused.
FILE_SUFFIXES: Final = (
    ".xls", ".xlsm", ".xlsb", ".ods", ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml",
    ".txt", ".html", ".htm", ".pdf", ".png", ".svg", ".parquet", ".zip",
)  # fmt: skip


def check_results_folder(directory: str | Path, *, force: bool = False) -> Path:
    """Check a results folder may be written: new, empty, or holding only earlier results.

    Parameters
    ----------
    directory
        The folder.
    force
        Write even into a folder holding other files (they are left alone).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ArgumentTypeError
        If ``directory`` is not a path.
    OutputError
        If the path is a file, a new path whose suffix names a kind of file
        (:data:`FILE_SUFFIXES`: ``results.xls``, ``ledger.csv``; or ``.xlsx``, which
        :func:`~dsg_forecast.reporting.excel.write_excel` writes), or a folder holding files
        the tool did not write (without ``force``).
    """
    check_flags(force=force)
    out = as_path(directory, "a folder's path")
    if out.exists() and not out.is_dir():
        msg = f"{out} is a file; --out takes a folder for CSV results, or FILE.xlsx"
        raise OutputError(msg)
    if not out.exists() and out.suffix.lower() == ".xlsx":  # in Python: write_excel
        msg = (
            f"{out} names a workbook, but write_results writes CSVs into a folder; write a "
            "workbook with dsg_forecast.reporting.excel.write_excel (--out FILE.xlsx)"
        )
        raise OutputError(msg)
    if not out.exists() and out.suffix.lower() in FILE_SUFFIXES:
        msg = (
            f"{out} names a {out.suffix} file, but results are written as CSVs into a folder "
            "or as one workbook FILE.xlsx; give a folder's name, or a name ending in .xlsx"
        )
        raise OutputError(msg)
    existing = next((folder for folder in out.parents if folder.exists()), None)
    if existing is not None and not existing.is_dir():  # the folder would go inside a file
        msg = f"cannot write {out}: {existing} is a file, not a folder"
        raise OutputError(msg)
    if out.is_dir() and not force:
        foreign = sorted(p.name for p in out.iterdir() if p.name not in RESULT_FILES)
        if foreign:
            msg = (
                f"{out} holds files this tool did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder, or add "
                "--force (force=True in Python)"
            )
            raise OutputError(msg)
    return out


def write_results(
    projection: Projection, directory: str | Path, *, force: bool = False
) -> list[Path]:
    """Write ledger, monthly, stock and savings CSVs and a summary JSON into ``directory``.

    Money is in pounds; counts are expected numbers of plans (not rounded). The files are
    written into a hidden folder beside ``directory`` and moved in only once all are
    complete, so a failure (a full disk) or a kill while writing leaves the folder as it
    was. Earlier results in the folder are replaced, other files refused (see
    :func:`check_results_folder`); two writers of one folder at once take turns, so it
    holds the last one's results, whole.

    Parameters
    ----------
    projection
        The projection to write.
    directory
        The folder (created if absent).
    force
        Write into a folder that holds other files too.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        As :func:`check_results_folder` refuses the folder, or if the system will not let
        the folder be made or written (read-only, or not a real folder such as ``/proc``).
    """
    check_projection(projection)
    out = check_results_folder(directory, force=force)
    frames = {
        "ledger.csv": projection.ledger,
        "monthly.csv": projection.monthly,
        "stock.csv": projection.stock,
        "savings.csv": projection.savings,
        "savings_by_condition.csv": projection.savings_by_condition,
    }
    try:  # a folder the system will not let us make (read-only, /proc): said, not a traceback
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot write results into {out}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    with _one_writer_at_a_time(out.parent):
        _write_files(out, frames, projection)
    return [out / name for name in RESULT_FILES]


@contextlib.contextmanager
def _one_writer_at_a_time(folder: Path) -> Iterator[None]:
    """Hold ``folder``, where a results folder goes, locked while it is written; wait if held.

    Two runs writing one results folder at once (a script's runs in parallel, given one
    ``--out``) took each other's staging folders for a killed run's leftovers and removed
    them, or interleaved their files; they take turns (a write takes milliseconds), and the
    last leaves its results, whole. The lock is ``fcntl.flock`` on the folder itself, which
    the system lets go if the writer is killed; Windows, and filesystems that cannot lock a
    folder (some network folders), are written unguarded.
    """
    if sys.platform == "win32":
        yield
        return
    try:
        held = os.open(folder, os.O_RDONLY)
    except OSError:  # not ours to open: the writing below says why
        yield
        return
    try:
        _wait_for_lock(held, folder)
        yield
    finally:
        os.close(held)


def _wait_for_lock(held: int, folder: Path) -> None:
    """Lock ``folder`` (open as ``held``), waiting up to :data:`LOCK_WAIT` for a writer."""
    import fcntl

    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:  # another writer, whose write takes milliseconds
            if time.monotonic() >= deadline:  # not one of ours: said, not a silent hang
                msg = (
                    f"cannot write results into {folder}: another process has held a lock "
                    f"on it for {LOCK_WAIT:.0f} s"
                )
                raise OutputError(msg) from None
            time.sleep(0.05)
        except OSError:  # a filesystem that cannot lock: unguarded
            return


def _write_files(out: Path, frames: dict[str, pd.DataFrame], projection: Projection) -> None:
    """Write the results into ``out`` through a hidden staging folder beside it.

    Every file is written into the staging folder first; only when all are complete do they
    move in (one rename each), so a failure or a kill while writing leaves the folder as it
    was: never a new file beside old ones, never half a file. Staging folders of runs that
    were killed are removed (under :func:`_one_writer_at_a_time`, none is a live run's).
    """
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    except OSError as exc:
        msg = f"cannot write results into {out}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    for stale in out.parent.glob(f".{out.name}.*.part"):
        if stale != staging:
            shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    try:
        for name, frame in frames.items():
            keep_index = name not in {"savings.csv", "savings_by_condition.csv"}
            frame.to_csv(staging / name, index=keep_index)
        summary = json.dumps(projection.summary.to_dict(), indent=1) + "\n"
        (staging / "summary.json").write_text(summary)
        if not out.exists():
            staging.rename(out)  # the whole folder at once
            return
        for name in RESULT_FILES:
            os.replace(staging / name, out / name)
    except OSError as exc:  # a full disk: the folder as it was, said plainly
        msg = f"cannot write results into {out}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
