"""Write output files safely: never over a user's file, never a partial file under its name.

:func:`written_atomically` hands out a temporary path beside the target; whatever is
written there is moved onto the target (``os.replace``, atomic on one filesystem) only when
the writer finishes without error. A failure, a full disk or a killed process leaves the
target as it was and no partial file under its name.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dsg_forecast.errors import OutputError, as_path, check_flags


@contextmanager
def written_atomically(
    path: str | Path, *, force: bool = False, suffixes: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Yield a temporary path to write; move it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path
        The file to write.
    force
        Replace ``path`` if it exists (default: refuse, naming the file).
    suffixes
        The suffixes allowed for ``path`` (for example ``(".xlsx",)``); empty allows any.

    Yields
    ------
    Path
        A temporary file in the same folder, to be written in full.

    Raises
    ------
    OutputError
        If the suffix is not allowed, ``path`` exists and ``force`` is not set, its folder
        does not exist, or the file cannot be written.
    """
    target = check_target(path, force=force, suffixes=suffixes)
    folder = target.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        msg = f"cannot write {target}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.chmod(partial, 0o666 & ~_umask())  # mkstemp makes it private; a result is not
        if force:
            os.replace(partial, target)
        else:
            _move_unless_made_meanwhile(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        msg = f"cannot write {target}: {exc.strerror or exc}"
        raise OutputError(msg) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _move_unless_made_meanwhile(partial: Path, target: Path) -> None:
    """Move ``partial`` onto ``target`` unless a file of that name was made while it was written.

    The target was checked absent before the work; a command that runs for minutes (a
    report of a sweep, a tornado chart) could otherwise replace a file the user saved under
    that name meanwhile. A hard link cannot replace a file, so the move fails rather
    than replaces; a filesystem without hard links is checked just before the move instead.
    """
    made_meanwhile = (
        f"{target} was made while this command was writing it, and is left as it is; nothing "
        "was written: run again with another name, or add --force (force=True in Python) to "
        "replace it"
    )
    try:
        os.link(partial, target)
    except FileExistsError:
        raise OutputError(made_meanwhile) from None
    except OSError:  # no hard links here (FAT, some network folders)
        if target.exists():
            raise OutputError(made_meanwhile) from None
        os.replace(partial, target)
        return
    partial.unlink()


def save_workbook(book: Any, path: Path) -> None:
    """Save an openpyxl workbook to ``path`` (a temporary file) in one write.

    openpyxl writes into a zip file it leaves open when a write fails (a full disk), and
    the zip file's finaliser then fails again as the program ends, printing a traceback
    after the command's own message; the workbook is built in memory instead (as
    :mod:`~dsg_forecast.reporting.excel` builds its own), then written at once.

    Parameters
    ----------
    book : openpyxl.Workbook
        The workbook.
    path
        Where to write it (from :func:`written_atomically`).
    """
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())


def check_target(path: str | Path, *, force: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """Check that ``path`` may be written, before any work is done; return it.

    Parameters
    ----------
    path
        The file to write.
    force
        Whether an existing file may be replaced.
    suffixes
        The suffixes allowed (empty: any).

    Returns
    -------
    Path
        The target.

    Raises
    ------
    ArgumentTypeError
        If ``path`` is not a path, or ``force`` not True or False (``force="no"`` would
        replace the file).
    OutputError
        If the suffix is not allowed, the path is a folder, the file exists and ``force`` is
        not set, its folder does not exist, or the folder is not writable.
    """
    check_flags(force=force)
    target = as_path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        allowed = " or ".join(suffixes)
        msg = f"{str(path)!r} must end in {allowed}"
        raise OutputError(msg)
    if target.is_dir():
        msg = f"{target} is a folder; give a file name"
        raise OutputError(msg)
    if target.exists() and not force:
        msg = (
            f"{target} already exists; choose another name or add --force (force=True in "
            "Python) to replace it"
        )
        raise OutputError(msg)
    folder = target.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        msg = f"cannot write {target}: {folder} {what}"
        raise OutputError(msg)
    if not os.access(folder, os.W_OK):
        msg = f"cannot write {target}: the folder {folder} is read-only"
        raise OutputError(msg)
    return target


def _umask() -> int:
    """Return the process's file-creation mask (reading it means setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
