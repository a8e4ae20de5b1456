"""Write a projection's results to files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Final

from dsg_forecast.errors import OutputError
from dsg_forecast.io.output import written_atomically

if TYPE_CHECKING:
    from dsg_forecast.results import Projection

RESULT_FILES: Final = (
    "ledger.csv", "monthly.csv", "stock.csv", "savings.csv", "savings_by_condition.csv",
    "summary.json",
)  # fmt: skip
"""The files ``write_results`` writes; a folder holding only these is the tool's own."""


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
    OutputError
        If the path is a file, or a folder holding files the tool did not write (without
        ``force``).
    """
    out = Path(directory)
    if out.exists() and not out.is_dir():
        msg = f"{out} is a file; --out takes a folder for CSV results, or FILE.xlsx"
        raise OutputError(msg)
    if out.is_dir() and not force:
        foreign = sorted(p.name for p in out.iterdir() if p.name not in RESULT_FILES)
        if foreign:
            msg = (
                f"{out} holds files this tool did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder, or add "
                "--force"
            )
            raise OutputError(msg)
    return out


def write_results(
    projection: Projection, directory: str | Path, *, force: bool = False
) -> list[Path]:
    """Write ledger, monthly, stock and savings CSVs and a summary JSON into ``directory``.

    Money is in pounds; counts are expected numbers of plans (not rounded). Each file is
    written whole or not at all; earlier results in the folder are replaced, other files
    refused (see :func:`check_results_folder`).

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
    """
    out = check_results_folder(directory, force=force)
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "ledger.csv": projection.ledger,
        "monthly.csv": projection.monthly,
        "stock.csv": projection.stock,
        "savings.csv": projection.savings,
        "savings_by_condition.csv": projection.savings_by_condition,
    }
    written: list[Path] = []
    for name, frame in frames.items():
        keep_index = name not in {"savings.csv", "savings_by_condition.csv"}
        with written_atomically(out / name, force=True) as partial:
            frame.to_csv(partial, index=keep_index)
        written.append(out / name)
    with written_atomically(out / "summary.json", force=True) as partial:
        partial.write_text(json.dumps(projection.summary.to_dict(), indent=1) + "\n")
    written.append(out / "summary.json")
    return written
