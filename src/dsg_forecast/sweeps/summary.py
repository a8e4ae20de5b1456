"""Summaries of a sweep: probabilities of meeting the conditions and fan-chart quantiles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dsg_forecast.errors import ArgumentError, finite_number

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


#: Scenarios whose outputs the quantiles are computed from exactly; a larger sweep's
#: quantiles come from every k-th scenario (k = ceil(samples / QUANTILE_SAMPLE)), chosen by
#: the scenario's number, so memory stays bounded (about 30 MB) and the result does not
#: depend on how the sweep was chunked. With 262,144 scenarios the standard error of a 5%
#: quantile's probability is 0.04 percentage points.
QUANTILE_SAMPLE = 262_144


@dataclass(frozen=True)
class ChunkCounts:
    """One chunk's share of a summary: its counts and its part of the quantile sample.

    Small (the sample is at most one row in ``stride``), so a dask worker that writes its
    chunk sends only this back (:meth:`SummaryAccumulator.add_counts`).
    """

    counted: int
    target: int
    within: tuple[int, ...]
    """Scenarios within each capped FY's cap."""
    balanced_in: tuple[int, ...]
    """Scenarios first balanced in each FY."""
    kept: np.ndarray[Any, Any]
    """The chunk's rows of the quantile sample, (k, len(values))."""


class SummaryAccumulator:
    """Counts and a bounded sample of a sweep's outputs, fed a chunk at a time.

    The probabilities are exact counts; the quantiles are exact up to
    :data:`QUANTILE_SAMPLE` scenarios and from a systematic sample of that size beyond.
    Chunks may come in any order and of any size: nothing depends on either.

    Parameters
    ----------
    fy_labels
        The financial years.
    capped_years
        The FYs with a deficit cap.
    has_target
        Whether the scenario has a balance target.
    samples
        The scenarios in the sweep.
    """

    def __init__(
        self,
        fy_labels: Sequence[str],
        capped_years: Sequence[str],
        *,
        has_target: bool,
        samples: int,
    ) -> None:
        self.fy_labels = tuple(fy_labels)
        self.capped_years = tuple(capped_years)
        self.has_target = has_target
        self.keys = [(metric, fy) for metric in METRICS for fy in self.fy_labels]
        self.values = [f"{metric}[{fy}]" for metric, fy in self.keys]
        self.capped = [f"within_cap[{fy}]" for fy in self.capped_years]
        self.columns = [*self.values, *self.capped, "first_balanced_year"]
        if has_target:
            self.columns.append("target_met")
        self.stride = max(1, -(-samples // QUANTILE_SAMPLE))
        self.counted = 0
        self.target = 0
        self.within = dict.fromkeys(self.capped_years, 0)
        self.balanced_in = dict.fromkeys(self.fy_labels, 0)
        # the quantile sample, filled in place as chunks come (any order): one array of the
        # rows the stride keeps, column by column in memory (each output's values side by
        # side), so the summary reads one column at a time and never copies it all
        self.sample = np.empty((-(-samples // self.stride), len(self.values)), order="F")
        self.sampled = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Count one chunk's scenarios and keep its share of the quantile sample.

        Parameters
        ----------
        frame
            The chunk's rows (at least :attr:`columns`), index ``sample``.
        """
        first = pd.Categorical(frame["first_balanced_year"], categories=self.fy_labels)
        counts = self.counts(
            frame.index.to_numpy(),
            frame[self.values].to_numpy(dtype=np.float64),
            frame[self.capped].to_numpy(dtype=bool),
            frame["target_met"].to_numpy(dtype=bool) if self.has_target else None,
            np.asarray(first.codes, dtype=np.int64),
        )
        self.add_counts(counts)

    def counts(
        self,
        samples: np.ndarray[Any, Any],
        values: np.ndarray[Any, Any],
        within_cap: np.ndarray[Any, Any],
        target_met: np.ndarray[Any, Any] | None,
        first_balanced: np.ndarray[Any, Any],
    ) -> ChunkCounts:
        """Return one chunk's counts and sample rows, from its arrays, without adding them.

        Parameters
        ----------
        samples : ndarray, shape (n,)
            The scenarios' numbers.
        values : ndarray, shape (n, len(values))
            The outputs by FY, columns as :attr:`values`.
        within_cap : ndarray of bool, shape (n, len(capped_years))
            Whether each capped FY is within its cap.
        target_met : ndarray of bool, shape (n,), or None
            Whether the balance target is met (None: the scenario sets none).
        first_balanced : ndarray of int, shape (n,)
            The first balanced FY's index, −1 for none.

        Returns
        -------
        ChunkCounts
            What :meth:`add_counts` adds.
        """
        target = (
            int(np.count_nonzero(target_met)) if self.has_target and target_met is not None else 0
        )
        balanced = np.bincount(first_balanced[first_balanced >= 0], minlength=len(self.fy_labels))
        return ChunkCounts(
            counted=len(samples),
            target=target,
            within=tuple(int(np.count_nonzero(within_cap[:, c])) for c in range(len(self.within))),
            balanced_in=tuple(int(balanced[y]) for y in range(len(self.fy_labels))),
            kept=np.asarray(values[samples % self.stride == 0], dtype=np.float64),
        )

    def add_counts(self, counts: ChunkCounts) -> None:
        """Add one chunk's counts and sample rows (made by :meth:`counts`, here or on a worker).

        Parameters
        ----------
        counts
            The chunk's share.
        """
        self.counted += counts.counted
        self.target += counts.target
        for fy, count in zip(self.capped_years, counts.within, strict=True):
            self.within[fy] += count
        for fy, count in zip(self.fy_labels, counts.balanced_in, strict=True):
            self.balanced_in[fy] += count
        rows = len(counts.kept)
        if self.sampled + rows > len(self.sample):  # more scenarios than the sweep said
            self.sample = np.asfortranarray(
                np.concatenate([self.sample[: self.sampled], counts.kept])
            )
        else:
            self.sample[self.sampled : self.sampled + rows] = counts.kept
        self.sampled += rows

    def result(self, quantiles: Sequence[float] = QUANTILES) -> SweepSummary:
        """Return the summary of the chunks added so far.

        Parameters
        ----------
        quantiles
            The quantiles of each output by FY.

        Returns
        -------
        SweepSummary
            The probabilities of meeting the target and each cap, and the quantiles.
        """
        check_quantiles(quantiles)
        counted = self.counted
        sample = self.sample[: self.sampled]
        by_column = _quantiles_by_column(sample, quantiles) if counted else np.nan
        table = pd.DataFrame(
            by_column,
            index=pd.MultiIndex.from_tuples(self.keys, names=["metric", "financial_year"]),
            columns=pd.Index(list(quantiles), name="quantile"),
        )
        share = 1.0 / counted if counted else np.nan
        running = np.cumsum([self.balanced_in[fy] for fy in self.fy_labels]) * share
        return SweepSummary(
            samples=counted,
            probability_target_met=self.target * share if self.has_target else None,
            probability_within_cap=pd.Series(
                {fy: self.within[fy] * share for fy in self.capped_years},
                dtype=float,
                name="probability_within_cap",
            ),
            probability_balanced_by=pd.Series(
                dict(zip(self.fy_labels, running, strict=True)),
                dtype=float,
                name="probability_balanced_by",
            ),
            quantiles=table,
        )


def _quantiles_by_column(sample: np.ndarray[Any, Any], quantiles: Sequence[float]) -> Any:
    """Return each column's quantiles, (columns, quantiles): a column at a time, on every core.

    Each column copies one output's sample (2 MB), not the whole 30 MB; numpy's partition
    releases the GIL, so the columns run side by side (at the end of a sweep, when nothing
    else runs; the same numbers as one after another).
    """

    def column(j: int) -> Any:
        return np.quantile(sample[:, j], quantiles)

    columns = range(sample.shape[1])
    with ThreadPoolExecutor(max_workers=max(1, min(len(columns), os.cpu_count() or 1))) as pool:
        return np.array(list(pool.map(column, columns)))


def check_quantiles(quantiles: object) -> None:
    """Refuse quantiles the summary cannot give: each a number in [0, 1], given once.

    Parameters
    ----------
    quantiles
        The quantiles asked for.

    Raises
    ------
    ArgumentError
        Naming the quantiles (a bare number or text, 1.5, 95 for 0.95, one given twice).

    Examples
    --------
    >>> check_quantiles((0.05, 0.5, 0.95))
    >>> check_quantiles((5, 50, 95))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dsg_forecast.errors.ArgumentError: quantiles (5, 50, 95) must be numbers between 0 and 1 ...
    """
    values = (
        list(quantiles)
        if isinstance(quantiles, Sequence) and not isinstance(quantiles, str)
        else None
    )
    if not values or not all(finite_number(q) and 0.0 <= q <= 1.0 for q in values):
        msg = (
            f"quantiles {quantiles!r} must be numbers between 0 and 1 (0.95 for the 95th "
            "percentile)"
        )
        raise ArgumentError(msg)
    if len(set(values)) < len(values):
        msg = f"quantiles {quantiles!r} give one twice; give each once"
        raise ArgumentError(msg)


def summarize(
    parts: Callable[[list[str]], Iterable[pd.DataFrame]],
    fy_labels: Sequence[str],
    capped_years: Sequence[str],
    *,
    has_target: bool,
    samples: int,
    quantiles: Sequence[float] = QUANTILES,
) -> SweepSummary:
    """Summarise a sweep in one pass over its results, in bounded memory.

    ``parts(columns)`` yields those columns for every scenario, a chunk at a time (from
    memory or Parquet), each indexed by ``sample``. Only the outputs are read, never the
    parameters: about 17 numbers a scenario (see :class:`SummaryAccumulator`).

    Parameters
    ----------
    parts
        Yields the named columns for every scenario, a chunk at a time.
    fy_labels
        The financial years.
    capped_years
        The FYs with a deficit cap.
    has_target
        Whether the scenario has a balance target.
    samples
        The scenarios in the sweep.
    quantiles
        The quantiles of each output by FY.

    Returns
    -------
    SweepSummary
        The probabilities of meeting the target and each cap, and the quantiles.
    """
    accumulator = SummaryAccumulator(
        fy_labels, capped_years, has_target=has_target, samples=samples
    )
    for frame in parts(accumulator.columns):
        accumulator.add(frame)
    return accumulator.result(quantiles)
