"""Stream a sweep's results to a Parquet dataset, with a manifest, and resume it.

The dataset is a folder (``sweep.parquet/``) holding one ``part-NNNNNN.parquet`` file per
chunk and ``manifest.json`` (input hash, seed, design, samples, chunk size, library
version). A part is written to a temporary name and renamed, so a crash never leaves a
half-written part; a resumed sweep skips the parts already there and ends with results
identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from dsg_forecast.errors import DsgForecastError

MANIFEST = "manifest.json"
#: Manifest fields that must match for a sweep to resume.
RESUME_KEYS = ("seed", "design", "samples", "chunk_size", "engine", "input_hash")


class SweepStoreError(DsgForecastError, ValueError):
    """A sweep's output folder cannot be used as asked."""


class SweepStore:
    """A Parquet dataset of one sweep's per-scenario results."""

    def __init__(self, path: str | Path, manifest: dict[str, Any], *, resume: bool) -> None:
        self.path = Path(path)
        self.manifest = manifest
        manifest_file = self.path / MANIFEST
        if self.path.exists() and not resume and any(self.path.iterdir()):
            msg = (
                f"{self.path} already holds a sweep; add --resume to finish it, or choose "
                "another --out"
            )
            raise SweepStoreError(msg)
        if (
            resume
            and not manifest_file.is_file()
            and self.path.is_dir()
            and any(self.path.iterdir())
        ):
            msg = (
                f"cannot resume {self.path}: it holds files but no {MANIFEST}, so they are not "
                "a sweep this tool wrote; choose another --out"
            )
            raise SweepStoreError(msg)
        if resume and manifest_file.is_file():
            previous = json.loads(manifest_file.read_text())
            for key in RESUME_KEYS:
                if previous.get(key) != manifest.get(key):
                    if key == "input_hash":
                        detail = "the scenario or the sweep specification has changed since"
                    else:
                        detail = (
                            f"its {key} is {previous.get(key)!r} but this sweep's is "
                            f"{manifest.get(key)!r}"
                        )
                    msg = f"cannot resume {self.path}: {detail}; it is a different sweep"
                    raise SweepStoreError(msg)
        self.path.mkdir(parents=True, exist_ok=True)
        manifest_file.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for leftover in self.path.glob("*.tmp"):
            leftover.unlink()

    def _part(self, number: int) -> Path:
        return self.path / f"part-{number:06d}.parquet"

    def done(self) -> set[int]:
        """Numbers of the chunks already written."""
        return {int(part.stem.split("-")[1]) for part in self.path.glob("part-*.parquet")}

    def write(self, number: int, frame: pd.DataFrame) -> None:
        """Write one chunk atomically.

        Parameters
        ----------
        number
            The chunk's number.
        frame
            The chunk's results.
        """
        final = self._part(number)
        temporary = final.with_suffix(".tmp")
        frame.to_parquet(temporary, engine="pyarrow", index=True)
        os.replace(temporary, final)

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
        parts = sorted(self.path.glob("part-*.parquet"))
        if not parts:
            msg = f"{self.path} holds no results yet"
            raise SweepStoreError(msg)
        for part in parts:
            yield pd.read_parquet(part, columns=columns, engine="pyarrow")


def read_sweep(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a sweep's results from its Parquet folder.

    Parameters
    ----------
    path
        The folder a sweep streamed to.
    columns
        The columns to read (default: all).

    Returns
    -------
    DataFrame
        One row per scenario, index ``sample``.
    """
    folder = Path(path)
    if not (folder / MANIFEST).is_file():
        msg = f"{folder} is not a sweep folder (no {MANIFEST})"
        raise SweepStoreError(msg)
    store = SweepStore.__new__(SweepStore)
    store.path = folder
    store.manifest = json.loads((folder / MANIFEST).read_text())
    return store.read(columns)
