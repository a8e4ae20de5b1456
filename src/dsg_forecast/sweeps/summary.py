"""Summaries of a sweep: probabilities of meeting the conditions and fan-chart quantiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
METRICS = ("in_year_balance", "cumulative_balance", "plans")


@dataclass(frozen=True)
class SweepSummary:
    """Headline probabilities and quantiles of a sweep."""

    samples: int
    probability_target_met: float | None
    """Share of scenarios meeting the balance target; None if the scenario sets none."""
    probability_within_cap: pd.Series[float]
    """Share of scenarios within each capped FY's cap."""
    probability_balanced_by: pd.Series[float]
    """Share of scenarios whose first balanced year is this FY or earlier."""
    quantiles: pd.DataFrame
    """Rows (metric, FY); columns the quantiles (fan-chart data). [£ or plans]"""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        table = self.quantiles.reset_index()
        table.columns = [str(column) for column in table.columns]
        return {
            "samples": self.samples,
            "probability_target_met": self.probability_target_met,
            "probability_within_cap": {k: float(v) for k, v in self.probability_within_cap.items()},
            "probability_balanced_by": {
                k: float(v) for k, v in self.probability_balanced_by.items()
            },
            "quantiles": table.to_dict(orient="records"),
        }


def summarize(
    read: Callable[[list[str]], pd.DataFrame],
    fy_labels: Sequence[str],
    capped_years: Sequence[str],
    *,
    has_target: bool,
    quantiles: Sequence[float] = QUANTILES,
) -> SweepSummary:
    """Summarise a sweep from the columns it needs, read in one pass.

    ``read(columns)`` returns those columns for every scenario (from memory or Parquet).
    Only the outputs are read, never the parameters: about 17 numbers a scenario.

    Parameters
    ----------
    read
        Returns the named columns for every scenario.
    fy_labels
        The financial years.
    capped_years
        The FYs with a deficit cap.
    has_target
        Whether the scenario has a balance target.
    quantiles
        The quantiles of each output by FY.

    Returns
    -------
    SweepSummary
        The probabilities of meeting the target and each cap, and the quantiles.
    """
    columns = [f"{metric}[{fy}]" for metric in METRICS for fy in fy_labels]
    columns += [f"within_cap[{fy}]" for fy in capped_years] + ["first_balanced_year"]
    if has_target:
        columns.append("target_met")
    frame = read(columns)
    samples = len(frame)
    target = float(frame["target_met"].astype(bool).mean()) if has_target else None
    within = {fy: float(frame[f"within_cap[{fy}]"].astype(bool).mean()) for fy in capped_years}
    first = frame["first_balanced_year"]
    balanced = {
        fy: float(first.isin(set(fy_labels[: position + 1])).mean())
        for position, fy in enumerate(fy_labels)
    }
    keys = [(metric, fy) for metric in METRICS for fy in fy_labels]
    table = pd.DataFrame(
        [np.quantile(frame[f"{metric}[{fy}]"].to_numpy(dtype=np.float64), quantiles)
         for metric, fy in keys],
        index=pd.MultiIndex.from_tuples(keys, names=["metric", "financial_year"]),
        columns=pd.Index(list(quantiles), name="quantile"),
    )  # fmt: skip
    return SweepSummary(
        samples=samples,
        probability_target_met=target,
        probability_within_cap=pd.Series(within, dtype=float, name="probability_within_cap"),
        probability_balanced_by=pd.Series(balanced, dtype=float, name="probability_balanced_by"),
        quantiles=table,
    )
