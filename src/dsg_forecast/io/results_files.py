"""Write a projection's results to files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsg_forecast.results import Projection


def write_results(projection: Projection, directory: str | Path) -> list[Path]:
    """Write ledger, monthly, stock and savings CSVs and a summary JSON into ``directory``.

    Money is in pounds; counts are expected numbers of plans (not rounded).

    Parameters
    ----------
    projection
        The projection to write.
    directory
        The folder (created if absent).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(directory)
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
        path = out / name
        keep_index = name not in {"savings.csv", "savings_by_condition.csv"}
        frame.to_csv(path, index=keep_index)
        written.append(path)
    summary = out / "summary.json"
    summary.write_text(json.dumps(projection.summary.to_dict(), indent=1) + "\n")
    written.append(summary)
    return written
