"""Stream a sweep's results to a Parquet dataset, with a manifest, and resume it.

The dataset is a folder (``sweep.parquet/``) holding one ``part-NNNNNN.parquet`` file per
chunk and ``_manifest.json`` (input hash, seed, design, samples, chunk size, library
version). A part is written to a hidden temporary name (``.part-…tmp``) and renamed, so a
crash never leaves a half-written part; a resumed sweep skips the parts already there and
ends with results identical to an uninterrupted run. Parquet readers skip names that
start with ``_`` or ``.``, so ``pandas.read_parquet("sweep.parquet")`` reads the parts
alone, even while a sweep is writing (a manifest named ``manifest.json``, as sweeps wrote
it before, made pyarrow try to read it as a part).

While a sweep writes to a local folder it holds an advisory lock on the folder's hidden
``.lock`` file, so a second sweep into the same folder (two started at once, or a
``--resume`` while the first still runs) is refused rather than mixing its parts into the
first's. The system lets the lock go when the sweep ends, however it ends (a crash, a
kill), and the file stays. URLs (object stores), filesystems that cannot lock and Windows
write unguarded.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from dsg_forecast.errors import (
    ArgumentError,
    ArgumentTypeError,
    DsgForecastError,
    as_path,
    check_kind,
)

MANIFEST = "_manifest.json"
#: The file a sweep writing to a local folder holds locked (hidden: readers skip it).
LOCK = ".lock"
#: The manifest's name in sweeps written before: still read and resumed.
OLD_MANIFEST = "manifest.json"
#: Manifest fields that must match for a sweep to resume.
RESUME_KEYS = ("seed", "design", "samples", "chunk_size", "engine", "input_hash")
#: The manifest's field of the library version that computed the parts: a resumed sweep
#: must be computed by the same.
VERSION = "dsg_forecast"


class SweepStoreError(DsgForecastError, ValueError):
    """A sweep's output folder cannot be used as asked."""


class SweepWriteError(SweepStoreError):
    """A part of a sweep's results could not be written (a full disk, lost permissions).

    The parts written before it are whole, so the sweep can be resumed once the cause is
    mended.
    """


class UnfinishedSweepWarning(UserWarning):
    """A sweep's folder was read before the sweep finished: some of its scenarios are missing.

    It is still writing, or it was stopped (``--resume`` finishes it); statistics of the rows
    read describe the scenarios computed so far only.
    """


#: Suffixes of single files a user may mean by ``--out`` (a CSV, a workbook): a sweep's
#: results are a folder of Parquet parts, and a new folder so named would be a silent change
#: of what was asked.
FILE_SUFFIXES = (
    ".csv", ".tsv", ".xlsx", ".xls", ".xlsm", ".ods", ".json", ".yaml", ".yml", ".toml",
    ".txt", ".html", ".htm", ".feather", ".arrow", ".zip",
)  # fmt: skip


def filesystem(location: str | Path) -> tuple[pafs.FileSystem, str]:
    """Return the filesystem and the path within it of a folder or URL.

    A local path, or a ``file://`` URL, is a local folder. Other URLs go through pyarrow's
    filesystems (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, with their credentials as
    pyarrow finds them), or through fsspec for the schemes only fsspec knows (``memory://``,
    and any with an fsspec package installed).

    Parameters
    ----------
    location
        A folder, or a URL of one.

    Returns
    -------
    tuple of pyarrow.fs.FileSystem and str
        The filesystem and the folder's path in it.

    Raises
    ------
    SweepStoreError
        If the URL's scheme has no filesystem here, naming the package to install.
    ArgumentTypeError
        If ``location`` is not a path or URL (``None``, ``5``: they had named folders
        "None" and "5").
    ArgumentError
        If it is empty (``""`` had been the current folder).
    """
    as_path(location, "a folder's path or URL", "a sweep's folder")
    text = str(location)
    if "://" not in text or text.startswith("file://"):
        local = Path(text.removeprefix("file://")).expanduser().absolute()
        return pafs.LocalFileSystem(), local.as_posix()
    try:
        found, path = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        pass
    else:
        return found, path.rstrip("/")
    try:
        import fsspec
        from pyarrow.fs import FSSpecHandler, PyFileSystem
    except ImportError:  # pragma: no cover - fsspec comes with dask
        msg = f"{text}: to write sweeps to this URL, pip install fsspec (and its package for it)"
        raise SweepStoreError(msg) from None
    try:
        store, path = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError) as exc:
        msg = f"{text}: no filesystem for this URL here ({exc})"
        raise SweepStoreError(msg) from None
    return PyFileSystem(FSSpecHandler(store)), str(path).rstrip("/")


def _manifest_in(names: list[str]) -> str | None:
    """Return the manifest's name among a folder's names (the old name too), or None."""
    return next((name for name in (MANIFEST, OLD_MANIFEST) if name in names), None)


#: A part's name: ``part-`` and its chunk's number.
_PART: Final = re.compile(r"part-(\d{6,})\.parquet")
#: The option that sets each key a resumed sweep must keep, and what it is called.
_OPTIONS: Final = {
    "seed": ("--seed", "seed"),
    "design": ("--design", "design"),
    "samples": ("--samples", "number of scenarios"),
    "engine": ("--engine", "engine"),
}


def _other_draws(key: str, before: object, now: object) -> str:
    """Say that a sweep's ``key`` differs from the one in the folder, and how to resume it."""
    option, called = _OPTIONS[key]
    said = f"its {called} is {before!r} but this sweep's is {now!r} ({option})"
    if before is None:
        return said
    return f"{said}. Resume it with {option} {before}, or write this one to another --out"


class SweepStore:
    """A Parquet dataset of one sweep's per-scenario results, in a folder or at a URL."""

    #: The open lock file's descriptor while this sweep writes (see :meth:`release`).
    _held: int | None = None

    def __init__(self, path: str | Path, manifest: dict[str, Any], *, resume: bool) -> None:
        self.location = str(path)
        self.fs, self.root = filesystem(path)
        self.manifest = manifest
        suffix = PurePosixPath(self.root).suffix.lower()
        if suffix in FILE_SUFFIXES and not self._exists():
            msg = (
                f"{self.location} names a {suffix} file, but a sweep's results are a folder of "
                "Parquet parts (for example sweep.parquet); give a folder's name (read it as "
                "one table with dsg_forecast.sweeps.read_sweep or pandas.read_parquet)"
            )
            raise SweepStoreError(msg)
        names = self._names()  # (a file where the folder belongs is refused here)
        # locked before the folder is looked at again: of two sweeps started at once into
        # one folder, the second is refused here, not after both have found it empty (a
        # folder of other files is refused below, and is left without a lock file)
        if not names or _manifest_in(names) is not None:
            self._lock()
        try:
            self._start(resume)
        except BaseException:
            self.release()
            raise

    def _start(self, resume: bool) -> None:
        """Check the folder holds nothing or this sweep, and write the manifest."""
        manifest = self.manifest
        names = self._names()
        if names and not resume and _manifest_in(names) is None:
            msg = (
                f"{self.location} already holds files ({', '.join(names[:3])}"
                f"{', …' if len(names) > 3 else ''}) and is not a sweep's folder; choose "
                "another --out (a sweep writes a folder of its own)"
            )
            raise SweepStoreError(msg)
        found = _manifest_in(names)
        if names and not resume and found is not None:
            raise SweepStoreError(self._taken(json.loads(self._read_text(found))))
        if resume and names and found is None:
            msg = (
                f"cannot resume {self.location}: it holds files but no {MANIFEST}, so they are "
                "not a sweep this tool wrote; choose another --out"
            )
            raise SweepStoreError(msg)
        if resume and found is not None:
            self._check_same_sweep(json.loads(self._read_text(found)))
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        try:  # a place the system will not let us write (read-only, /proc): said plainly
            self.fs.create_dir(self.root, recursive=True)
            with self.fs.open_output_stream(f"{self.root}/{found or MANIFEST}") as stream:
                stream.write(text.encode())
        except OSError as exc:
            msg = f"cannot write the sweep to {self.location}: {exc}"
            raise SweepStoreError(msg) from None
        for leftover in names:
            if leftover.endswith(".tmp"):
                # a worker of the interrupted sweep may still be finishing this part: it
                # can be renamed into place (or go) between the listing and here
                with contextlib.suppress(FileNotFoundError):
                    self.fs.delete_file(f"{self.root}/{leftover}")

    def _taken(self, previous: dict[str, Any]) -> str:
        """Say what a folder given to a new sweep holds already, and what to do.

        "Add --resume" had been said of any sweep there, and was then refused for a
        different one.
        """
        manifest = self.manifest
        differs = [
            _OPTIONS[key][0]
            for key in RESUME_KEYS
            if key in _OPTIONS and previous.get(key) != manifest.get(key)
        ]
        if not differs and previous.get("input_hash") != manifest.get("input_hash"):
            differs = ["the scenario or sweep file"]  # (the hash covers the options too)
        if differs:
            return (
                f"{self.location} already holds a different sweep (it differs in "
                f"{', '.join(differs)}); choose another --out"
            )
        done, samples = self.rows(), manifest.get("samples")
        if isinstance(samples, int) and done >= samples:
            return (
                f"{self.location} already holds this sweep, finished ({done:,} scenarios): "
                "add --resume to summarise it without computing it again (in Python, "
                "read_sweep reads it), or choose another --out to run it again"
            )
        of = f" of {samples:,}" if isinstance(samples, int) else ""
        return (
            f"{self.location} already holds this sweep, {done:,}{of} scenarios done; add "
            "--resume (resume=True in Python) to finish it, or choose another --out"
        )

    def _check_same_sweep(self, previous: dict[str, Any]) -> None:
        """Refuse to resume a folder whose manifest describes another sweep, saying how."""
        manifest = self.manifest
        for key in RESUME_KEYS:
            if previous.get(key) != manifest.get(key):
                if key == "input_hash":
                    msg = (
                        f"cannot resume {self.location}: the scenario or the sweep "
                        "specification has changed since; it is a different sweep"
                    )
                elif key == "chunk_size":  # the same results, but parts cut otherwise
                    msg = (
                        f"cannot resume {self.location} in chunks of {manifest.get(key)!r}: "
                        f"its parts hold chunks of {previous.get(key)!r}; resume without "
                        "--chunk-size (a resumed sweep keeps its own)"
                    )
                else:
                    detail = _other_draws(key, previous.get(key), manifest.get(key))
                    msg = f"cannot resume {self.location}, a different sweep: {detail}"
                raise SweepStoreError(msg)
        # parts computed by two versions, whose numbers may differ, would be one sweep's
        # results without a word (folders whose manifest gave no version still resume)
        began, now = previous.get(VERSION), manifest.get(VERSION)
        if began is not None and now is not None and began != now:
            msg = (
                f"cannot resume {self.location}: its parts were computed by dsg_forecast "
                f"{began} and this is {now}, whose numbers may differ; run the sweep again to "
                f"another --out, or finish it with dsg_forecast {began}"
            )
            raise SweepStoreError(msg)

    def _lock(self) -> None:
        """Take the folder's lock for this sweep, or refuse if another sweep holds it.

        Only a local folder is locked (``fcntl.flock``, on the hidden :data:`LOCK` file); a
        URL, a folder on a filesystem that cannot lock, or Windows, is written unguarded.
        """
        if sys.platform == "win32" or not isinstance(self.fs, pafs.LocalFileSystem):
            return
        import fcntl

        try:
            self.fs.create_dir(self.root, recursive=True)
            held = os.open(f"{self.root}/{LOCK}", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a place the system will not let us write: the manifest says so
            return
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(held)
            msg = (
                f"another sweep is writing to {self.location} now (it holds {LOCK} there): "
                "wait for it to end, or stop it; then --resume (resume=True in Python) "
                "finishes that sweep, or choose another --out for this one"
            )
            raise SweepStoreError(msg) from None
        except OSError:  # a filesystem without locks (some network folders)
            os.close(held)
            return
        self._held = held

    def release(self) -> None:
        """Let the folder's lock go: the sweep has stopped writing (idempotent)."""
        held, self._held = self._held, None
        if held is not None:
            import fcntl

            # unlocked first: worker processes forked during the run share the open file,
            # and the lock would last until the last of them had closed it
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)

    def __enter__(self) -> SweepStore:
        """Return the store, whose folder's lock :meth:`release` lets go on leaving."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Let the folder's lock go (see :meth:`release`)."""
        self.release()

    def __del__(self) -> None:
        """Let the folder's lock go if the store is dropped without a run."""
        self.release()

    def __getstate__(self) -> dict[str, Any]:
        """Return the store's state to send to a dask worker, without the client's lock."""
        state = dict(self.__dict__)
        state.pop("_held", None)
        return state

    @classmethod
    def existing(cls, path: str | Path) -> SweepStore:
        """Return the store at ``path`` to read, writing and checking nothing.

        Parameters
        ----------
        path
            The folder, or URL.

        Returns
        -------
        SweepStore
            The store (its manifest, if it has one, in ``manifest``; else empty).
        """
        store = cls.__new__(cls)
        store.location = str(path)
        store.fs, store.root = filesystem(path)
        found = _manifest_in(store._names())
        store.manifest = json.loads(store._read_text(found)) if found else {}
        return store

    def _exists(self) -> bool:
        """Return whether anything is at the folder's path yet."""
        return bool(self.fs.get_file_info(self.root).type != pafs.FileType.NotFound)

    def _names(self) -> list[str]:
        """Return the names in the folder (none if it does not exist)."""
        info = self.fs.get_file_info(self.root)
        if info.type == pafs.FileType.NotFound:
            return []
        if info.type != pafs.FileType.Directory:
            msg = f"{self.location} is a file, not a folder for a sweep's results"
            raise SweepStoreError(msg)
        listed = self.fs.get_file_info(pafs.FileSelector(self.root))
        return sorted(entry.base_name for entry in listed if entry.base_name != LOCK)

    def _read_text(self, name: str) -> str:
        with self.fs.open_input_stream(f"{self.root}/{name}") as stream:
            return bytes(stream.read()).decode()

    def _parts(self) -> list[str]:
        """Return the parts' names, refusing a file named like one that is not one.

        A reader of the folder (this one, or pandas) would take ``part-1 copy.parquet`` as
        results.
        """
        names = [n for n in self._names() if n.startswith("part-") and n.endswith(".parquet")]
        for name in names:
            if not _PART.fullmatch(name):
                msg = (
                    f"{self.location} holds {name}, which is not a part this tool wrote (a "
                    "sweep's parts are part-NNNNNN.parquet) but would be read as results; "
                    "move it out of the folder"
                )
                raise SweepStoreError(msg)
        return names

    def _read_part(self, name: str, read: Callable[[str], Any]) -> Any:
        """Return ``read`` of a part's path, saying so if the part is not whole.

        A part the system will not let us read, or that went as it was read, may be whole:
        that is said without the advice to delete it.
        """
        try:
            return read(f"{self.root}/{name}")
        except (PermissionError, FileNotFoundError) as exc:
            msg = f"cannot read {self.location}/{name}: {exc.strerror or exc}"
            raise SweepStoreError(msg) from None
        except (pa.ArrowInvalid, OSError) as exc:
            reason = str(exc).split(". ")[0].split(": ")[-1]
            msg = (
                f"{self.location}/{name} is not a whole part of this sweep ({reason}): it was "
                "damaged, or not written by this tool. Delete it, and --resume (resume=True "
                "in Python) computes its scenarios again"
            )
            raise SweepStoreError(msg) from None

    def done(self) -> set[int]:
        """Numbers of the chunks already written, each checked whole.

        Each part's footer is read and its scenarios counted against its chunk's (from the
        manifest), so a damaged or foreign part stops a resumed sweep with its name rather
        than its results.
        """
        size, samples = self.manifest.get("chunk_size"), self.manifest.get("samples")
        numbers = set()
        for name in self._parts():
            number = int(name[len("part-") : -len(".parquet")])
            rows = self._read_part(
                name, lambda where: pq.read_metadata(where, filesystem=self.fs).num_rows
            )
            expected = min(size, samples - number * size) if size and samples else rows
            if expected <= 0:
                msg = (
                    f"{self.location}/{name} is a chunk beyond this sweep's {samples:,} "
                    "scenarios: it is not a part of this sweep; move it out of the folder"
                )
                raise SweepStoreError(msg)
            if rows != expected:
                msg = (
                    f"{self.location}/{name} holds {rows:,} scenarios where its chunk has "
                    f"{expected:,}: it is not a part of this sweep. Delete it, and --resume "
                    "(resume=True in Python) computes its scenarios again"
                )
                raise SweepStoreError(msg)
            numbers.add(number)
        return numbers

    @staticmethod
    def table(frame: pd.DataFrame) -> pa.Table:
        """Return a chunk's table as it is written (the index ``sample`` kept as a column).

        Parameters
        ----------
        frame
            The chunk's results.

        Returns
        -------
        pyarrow.Table
            The table, with the pandas metadata that rebuilds ``frame`` on reading.
        """
        return pa.Table.from_pandas(frame, preserve_index=True)

    def write_table(self, number: int, table: pa.Table) -> None:
        """Write one chunk's table: to a temporary name of its own, then renamed into place.

        Parameters
        ----------
        number
            The chunk's number.
        table
            The chunk's results (see :meth:`table`).
        """
        final = f"{self.root}/part-{number:06d}.parquet"
        # a name of its own: a chunk still running from an interrupted sweep may write the
        # same part as the sweep that resumes it (the same rows), and must not share a file;
        # hidden (a leading dot), so a Parquet reader of the folder never meets half a part
        temporary = f"{self.root}/.part-{number:06d}.{uuid.uuid4().hex}.tmp"
        # dictionary-encode only the labels and flags: scenarios' money rarely repeats, and
        # trying a dictionary on every float column took two thirds of a write (and made
        # the files larger)
        labels = [field.name for field in table.schema if not pa.types.is_floating(field.type)]
        try:
            pq.write_table(table, temporary, filesystem=self.fs, use_dictionary=labels)
            self.fs.move(temporary, final)
        except OSError as exc:  # a full disk, a folder taken away: said plainly, no half part
            with contextlib.suppress(OSError):
                self.fs.delete_file(temporary)
            reason = str(exc).split("Detail: ")[-1]  # pyarrow's "Error writing bytes…" first
            msg = f"cannot write part {number} of the sweep to {self.location}: {reason}"
            raise SweepWriteError(msg) from None

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Read the results (all, or some columns), ordered by sample.

        Parameters
        ----------
        columns
            The columns to read (default: all).

        Returns
        -------
        DataFrame
            One row per scenario, index ``sample``.
        """
        return pd.concat(list(self.parts(columns))).sort_index()

    def parts(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Yield the results one part (chunk) at a time, in chunk order.

        Parameters
        ----------
        columns
            The columns to read (default: all).

        Yields
        ------
        DataFrame
            One chunk's rows, index ``sample``.
        """
        parts = self._parts()
        if not parts:
            msg = f"{self.location} holds no results yet"
            raise SweepStoreError(msg)
        self._check_columns(columns, parts[0])
        for name in parts:
            table = self._read_part(
                name,
                lambda where: pq.read_table(
                    where, columns=columns, filesystem=self.fs, use_pandas_metadata=True
                ),
            )
            yield table.to_pandas()

    def _check_columns(self, columns: object, part: str) -> None:
        """Refuse columns the results do not have (see :func:`check_columns`)."""
        if columns is not None:
            read = self._read_part(part, lambda where: pq.read_schema(where, filesystem=self.fs))
            check_columns(columns, read.names, self.location)

    def rows(self) -> int:
        """Return the scenarios in the whole parts (from the files' metadata).

        Said when a sweep stops, so it counts what is safe and refuses nothing: a file that
        is not a whole part is not counted.
        """
        total = 0
        for name in self._names():
            with contextlib.suppress(pa.ArrowInvalid, OSError):
                if _PART.fullmatch(name):
                    where = f"{self.root}/{name}"
                    total += pq.read_metadata(where, filesystem=self.fs).num_rows
        return total


def check_columns(columns: object, names: Sequence[str], where: str) -> None:
    """Refuse columns a sweep's results do not have, naming them, before any is read.

    pyarrow's error for a misspelt column had been taken for a damaged part, with the
    advice to delete it; in memory, pandas' ``KeyError`` named neither the results nor
    their columns, and a single name in place of a list gave a Series.

    Parameters
    ----------
    columns
        The columns asked for: a list of names, or None for all.
    names
        The results' columns (their index, ``sample``, too).
    where
        The results, for the message (a folder, or "the sweep's results").

    Raises
    ------
    ArgumentTypeError
        If ``columns`` is not a list (or tuple) of names.
    ArgumentError
        If a name is not a column, with the nearest one and every column.
    """
    if columns is None:
        return
    if isinstance(columns, str) or not isinstance(columns, list | tuple):
        msg = f"columns is {columns!r}; give a list of column names, or None for all"
        raise ArgumentTypeError(msg)
    for column in columns:
        check_kind(column, str, "each of columns", "a column's name")
        if column not in names:
            close = difflib.get_close_matches(column, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"{where}: no column {column!r}{hint}; the columns are {', '.join(names)}"
            raise ArgumentError(msg)


def read_sweep(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a sweep's results from its Parquet folder (or URL).

    Parameters
    ----------
    path
        The folder, or URL, a sweep streamed to.
    columns
        The columns to read (default: all).

    Returns
    -------
    DataFrame
        One row per scenario, index ``sample``.

    Warns
    -----
    UnfinishedSweepWarning
        If the folder holds fewer scenarios than its sweep (still writing, or stopped).
    """
    store = SweepStore.existing(path)
    if not store.manifest:
        msg = (
            f"{path} is not a sweep folder (no {MANIFEST})"
            if store._exists()
            else f"{path}: no such folder (a sweep streams to the folder given as out or --out)"
        )
        raise SweepStoreError(msg)
    table = store.read(columns)
    samples = store.manifest.get("samples")
    if isinstance(samples, int) and len(table) < samples:  # read as if it were the sweep
        message = (
            f"{path} holds {len(table):,} of its sweep's {samples:,} scenarios: the sweep has "
            "not finished (it is still writing, or was stopped: --resume finishes it)"
        )
        warnings.warn(message, UnfinishedSweepWarning, stacklevel=2)
    return table


def sweep_manifest(path: str | Path) -> dict[str, Any] | None:
    """Return the manifest of the sweep in a folder (or at a URL), or None if it has none.

    Parameters
    ----------
    path
        The folder, or URL.

    Returns
    -------
    dict or None
        The manifest.
    """
    return SweepStore.existing(path).manifest or None


def rows_on_disk(path: str | Path) -> int:
    """Return the scenarios in a sweep folder's (or URL's) finished parts.

    Parameters
    ----------
    path
        The folder, or URL.

    Returns
    -------
    int
        Scenarios safely written (0 where there is nothing).
    """
    return SweepStore.existing(path).rows()
