"""The DSG ledger by financial year (MODEL.md §5): arrays in, arrays out.

Annual amounts (funding, other lines, intervention costs) fall one twelfth in each
projected month, so a partial first or last FY carries only its projected months' share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsg_forecast._types import BoolArray, FloatArray, IntArray
from dsg_forecast.engine.structure import ModelParameters, ModelStructure


@dataclass(frozen=True, slots=True)
class LedgerArrays:
    """The FY ledger and its summary; axis 0 is the scenario axis S, axis 1 the FY."""

    income: FloatArray
    """(S, Y). [£]"""
    placement_cost: FloatArray
    """(S, Y). [£]"""
    other_cost: FloatArray
    """(S, Y). [£]"""
    intervention_cost: FloatArray
    """(S, Y). [£]"""
    expenditure: FloatArray
    """(S, Y). [£]"""
    in_year_balance: FloatArray
    """Income − expenditure; positive is a surplus, (S, Y). [£]"""
    contribution: FloatArray
    """Safety Valve payments and write-offs, (S, Y). [£]"""
    cumulative_balance: FloatArray
    """Closing cumulative DSG balance; negative is a deficit, (S, Y). [£]"""
    deficit_cap: FloatArray
    """Deficit cap, NaN where none, (S, Y). [£]"""
    within_cap: BoolArray
    """Deficit ≤ cap (True where no cap; see ``has_cap``), (S, Y)."""
    has_cap: BoolArray
    """Whether each FY has a cap, (Y,)."""
    headroom: FloatArray
    """Cap − deficit, NaN where no cap, (S, Y). [£]"""
    target_met: BoolArray
    """Every FY from the balance target to the end has in-year balance ≥ 0, (S,)."""
    first_balanced_year: IntArray
    """First FY index from which every later in-year balance is ≥ 0; −1 if none, (S,)."""
    largest_deficit: FloatArray
    """Largest closing deficit over the FYs (0 if never in deficit), (S,). [£]"""
    largest_deficit_year: IntArray
    """FY index of the largest deficit; −1 if never in deficit, (S,)."""


def fy_totals(structure: ModelStructure, monthly: FloatArray) -> FloatArray:
    """Sum a monthly series (S, T) into financial years (S, Y).

    The months of an FY are contiguous, so this is a segmented sum (no BLAS matmul, whose
    blocking could make a scenario's result depend on the batch it runs in).

    Parameters
    ----------
    structure
        What every scenario shares (the FY of each month).
    monthly : FloatArray, shape (S, T)
        A monthly series.

    Returns
    -------
    FloatArray, shape (S, Y)
        Its sum over each financial year's projected months.
    """
    starts = np.flatnonzero(np.diff(structure.fy_index, prepend=-1))
    return np.add.reduceat(monthly, starts, axis=1)


def build_ledger(
    structure: ModelStructure, params: ModelParameters, placement_cost: FloatArray
) -> LedgerArrays:
    """Return the FY ledger from the monthly placement cost (S, T) and the parameters.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    placement_cost : FloatArray, shape (S, T)
        Monthly placement cost from :func:`~dsg_forecast.engine.simulate`. [£]

    Returns
    -------
    LedgerArrays
        Income, expenditure, balances, contributions and caps by FY, and the summary
        (target met, first balanced year, largest deficit), scenario axis first.

    Examples
    --------
    >>> from dsg_forecast import compile_scenario, load_scenario
    >>> from dsg_forecast.engine import build_ledger, simulate
    >>> structure, params = compile_scenario(load_scenario("examples/worked_example.yaml"))
    >>> ledger = build_ledger(structure, params, simulate(structure, params).placement_cost)
    >>> ledger.cumulative_balance.round(2)
    array([[-826966.92, -809681.18, -639556.42]])
    """
    st, pa = structure, params
    k = np.arange(st.n_years, dtype=np.float64)
    share = st.months_in_fy / 12.0  # (Y,)

    if st.high_needs_block_series:
        block = pa.high_needs_block_per_year
    else:
        block = pa.high_needs_block[:, None] * (1.0 + pa.high_needs_block_growth[:, None]) ** k
    income = (block + pa.block_transfers + pa.other_income) * share
    other = (pa.other_line_amount[:, :, None] * (1.0 + pa.other_line_growth[:, :, None]) ** k).sum(
        axis=1
    ) * share
    own_cost = (pa.intervention_cost * pa.intervention_on[:, :, None]).sum(axis=1) * share
    placement = fy_totals(st, placement_cost)
    expenditure = placement + other + own_cost
    # year-to-date actuals of a first FY that starts after April
    income[:, 0] += pa.actual_income
    expenditure[:, 0] += pa.actual_expenditure
    balance = income - expenditure

    contribution, cumulative = _cumulative(st, pa, balance)
    deficit = -cumulative
    caps = pa.deficit_cap
    with np.errstate(invalid="ignore"):
        within = np.where(st.has_cap[None, :], deficit <= caps, True)
    headroom = caps - deficit
    met, first = _balance_tests(st, balance)
    worst = np.argmax(deficit, axis=1)
    largest = np.maximum(0.0, deficit[np.arange(deficit.shape[0]), worst])
    return LedgerArrays(
        income=income,
        placement_cost=placement,
        other_cost=other,
        intervention_cost=own_cost,
        expenditure=expenditure,
        in_year_balance=balance,
        contribution=contribution,
        cumulative_balance=cumulative,
        deficit_cap=caps,
        within_cap=within,
        has_cap=st.has_cap,
        headroom=headroom,
        target_met=met,
        first_balanced_year=first.astype(np.int64),
        largest_deficit=largest,
        largest_deficit_year=np.where(largest > 0, worst, -1).astype(np.int64),
    )


def _cumulative(
    structure: ModelStructure, params: ModelParameters, balance: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return contributions (payments and write-offs) and the closing balance, (S, Y) each.

    A write-off pays its share of the deficit standing at the end of an earlier FY, so the
    balance is carried forward one FY at a time.
    """
    st, pa = structure, params
    contribution = pa.contributions.copy()
    cumulative = np.empty_like(balance)
    previous = pa.opening_balance.copy()
    for y in range(st.n_years):
        for w in np.flatnonzero(st.write_off_paid_in == y):
            standing = np.maximum(0.0, -cumulative[:, st.write_off_at_end_of[w]])
            contribution[:, y] += pa.write_off_share[:, w] * standing
        cumulative[:, y] = previous + balance[:, y] + contribution[:, y]
        previous = cumulative[:, y]
    return contribution, cumulative


def _balance_tests(structure: ModelStructure, balance: FloatArray) -> tuple[BoolArray, IntArray]:
    """Return whether the target is met (S,) and the first balanced FY (S,; −1 if none).

    A FY is balanced from when every later in-year balance is ≥ 0 too.
    """
    nonnegative = balance >= 0.0
    suffix_ok = np.flip(np.logical_and.accumulate(np.flip(nonnegative, axis=1), axis=1), axis=1)
    first = np.where(suffix_ok.any(axis=1), np.argmax(suffix_ok, axis=1), -1)
    target = structure.balance_target
    if target is None or target >= structure.n_years:
        met = np.zeros(balance.shape[0], dtype=np.bool_)
    else:
        met = suffix_ok[:, target]
    return met, first
