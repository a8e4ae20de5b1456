"""The DSG ledger by financial year (MODEL.md §5): arrays in, arrays out.

Annual amounts (funding, other lines, intervention costs) fall one twelfth in each
projected month, so a partial first or last FY carries only its projected months' share.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Final

import numpy as np

from dsg_forecast._types import BoolArray, FloatArray, IntArray
from dsg_forecast.engine.contract import FlowResult, MonthlyCosts
from dsg_forecast.engine.structure import ModelParameters, ModelStructure, check_shapes
from dsg_forecast.errors import ArgumentError, ShapeError

#: Income lines, in the order of :func:`annual_income_lines`; income is the block less recoupment
#: plus the others.
INCOME_LINES: Final = (
    "high_needs_block",
    "recoupment",
    "import_export",
    "block_transfers",
    "other_income",
)

#: Sources of contributions, in the order of ``LedgerArrays.contribution_by_source``.
CONTRIBUTION_SOURCES: Final = ("dfe_safety_valve", "council", "write_off")


@dataclass(frozen=True, slots=True)
class LedgerArrays:
    """The FY ledger and its summary; axis 0 is the scenario axis S, axis 1 the FY."""

    income: FloatArray
    """(S, Y). [£]"""
    placement_cost: FloatArray
    """Place funding, top-ups and fees, (S, Y). [£]"""
    other_cost: FloatArray
    """(S, Y). [£]"""
    intervention_cost: FloatArray
    """(S, Y). [£]"""
    expenditure: FloatArray
    """(S, Y). [£]"""
    in_year_balance: FloatArray
    """Income − expenditure; positive is a surplus, (S, Y). [£]"""
    contribution: FloatArray
    """Every contribution: Safety Valve, council and write-offs, (S, Y). [£]"""
    cumulative_balance: FloatArray
    """Closing cumulative DSG balance; negative is a deficit, (S, Y). [£]"""
    other_blocks_balance: FloatArray
    """In-year balance of the other DSG blocks, (S, Y). [£]"""
    dsg_in_year_balance: FloatArray
    """The whole DSG's in-year balance: high needs plus the other blocks; the balance
    target is tested on it, (S, Y). [£]"""
    high_needs_cumulative_balance: FloatArray
    """The high-needs part of the cumulative balance (what a write-off pays a share of),
    (S, Y). [£]"""
    place_funding: FloatArray
    """Place funding of commissioned places, part of ``placement_cost``, (S, Y). [£]"""
    top_up: FloatArray
    """Top-ups per plan, part of ``placement_cost``, (S, Y). [£]"""
    fees: FloatArray
    """Fees per plan (independent and non-maintained), part of ``placement_cost``, (S, Y).
    [£]"""
    income_by_line: FloatArray
    """Income lines (``INCOME_LINES``; recoupment a deduction shown positive), (S, 5, Y). [£]"""
    contribution_by_source: FloatArray
    """Contributions by source (``CONTRIBUTION_SOURCES``), (S, 3, Y). [£]"""
    cumulative_balance_before_contributions: FloatArray
    """The closing balance had no contribution been made, those received before the start
    included, (S, Y). [£]"""
    cumulative_contribution_by_source: FloatArray
    """Each source's contributions to date, those received before the start included,
    (S, 3, Y). [£]"""
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
    structure: ModelStructure,
    params: ModelParameters,
    placement_cost: FloatArray,
    *,
    fees: FloatArray | None = None,
    place_funding: FloatArray | None = None,
    check: bool = True,
) -> LedgerArrays:
    """Return the FY ledger from the monthly placement cost (S, T) and the parameters.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    placement_cost : FloatArray, shape (S, T)
        Monthly cost of plans (top-ups and fees) from :func:`~dsg_forecast.engine.simulate`.
        [£]
    fees : FloatArray, shape (S, T), optional
        The part of ``placement_cost`` paid as fees; needed when a placement is fee-paid.
        [£]
    place_funding : FloatArray, shape (S, T), optional
        Monthly place funding (``FlowResult.place_funding``); needed when a placement has
        place funding. [£]
    check
        Check the inputs' kinds and shapes first (False: straight from a checked simulate).

    Returns
    -------
    LedgerArrays
        Income and spending by line, expenditure, balances, contributions by source and
        caps by FY, and the summary (target met, first balanced year, largest deficit),
        scenario axis first.

    Raises
    ------
    ValueError
        If the scenario has fee-paid placements or place funding and the matching monthly
        series is not given.
    ArgumentTypeError
        If ``structure``, ``params`` are not a ModelStructure, a ModelParameters.
    ShapeError
        If a parameter, or a monthly series, is not of the shape the structure implies.

    Examples
    --------
    >>> from dsg_forecast import compile_scenario, load_scenario
    >>> from dsg_forecast.engine import build_ledger, simulate
    >>> structure, params = compile_scenario(load_scenario("examples/worked_example.yaml"))
    >>> ledger = build_ledger(structure, params, simulate(structure, params).placement_cost)
    >>> ledger.cumulative_balance.round(2)
    array([[-826966.92, -809681.18, -639556.42]])
    """
    st, pa = structure, _collapsed(check, structure, params, placement_cost, fees, place_funding)
    found = _balances(st, pa, placement_cost, fees, place_funding)  # shared values once
    spending, by_source, balance = found["spending"], found["by_source"], found["balance"]
    whole = found["whole"]
    ledger = LedgerArrays(
        income=found["income"],
        placement_cost=spending["placement"],
        other_cost=spending["other"],
        intervention_cost=spending["own_cost"],
        expenditure=found["expenditure"],
        in_year_balance=balance,
        contribution=by_source[:, 0] + by_source[:, 2] + by_source[:, 1],
        cumulative_balance=found["cumulative"],
        other_blocks_balance=np.broadcast_to(pa.other_blocks_balance, balance.shape).copy(),
        dsg_in_year_balance=whole,
        high_needs_cumulative_balance=found["high_needs"],
        place_funding=spending["place_funding"],
        top_up=spending["top_up"],
        fees=spending["fees"],
        income_by_line=np.stack(found["lines"], axis=1) * (st.months_in_fy / 12.0),
        contribution_by_source=by_source,
        **_before_and_to_date(pa, whole, by_source),
        **_caps_and_summary(st, pa, whole, found["cumulative"]),
    )
    return _every_scenario(ledger, params.n_scenarios)


def ledger_of(
    structure: ModelStructure, params: ModelParameters, costs: FlowResult | MonthlyCosts
) -> LedgerArrays:
    """Return :func:`build_ledger` of the costs the engine has just computed for ``params``.

    They are the engine's own, of parameters it checked, so they are not checked again.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        The parameters ``costs`` were computed from.
    costs
        :func:`~dsg_forecast.engine.simulate`'s or ``simulate_costs``' result.

    Returns
    -------
    LedgerArrays
        As :func:`build_ledger` returns it.
    """
    return build_ledger(
        structure,
        params,
        costs.placement_cost,
        fees=costs.fees,
        place_funding=costs.place_funding,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class BalanceArrays:
    """The balances and summary a sweep keeps of the ledger; axis 0 is the scenario axis S.

    Each field is the :class:`LedgerArrays` field of the same name, bit for bit.
    """

    in_year_balance: FloatArray
    """Income − expenditure; positive is a surplus, (S, Y). [£]"""
    cumulative_balance: FloatArray
    """Closing cumulative DSG balance; negative is a deficit, (S, Y). [£]"""
    within_cap: BoolArray
    """Deficit ≤ cap (True where no cap), (S, Y)."""
    target_met: BoolArray
    """Every FY from the balance target to the end has in-year balance ≥ 0, (S,)."""
    first_balanced_year: IntArray
    """First FY index from which every later in-year balance is ≥ 0; −1 if none, (S,)."""
    largest_deficit: FloatArray
    """Largest closing deficit over the FYs (0 if never in deficit), (S,). [£]"""
    largest_deficit_year: IntArray
    """FY index of the largest deficit; −1 if never in deficit, (S,)."""


#: The summary fields :class:`BalanceArrays` takes from ``_caps_and_summary``.
_SUMMARY: Final = (
    "within_cap",
    "target_met",
    "first_balanced_year",
    "largest_deficit",
    "largest_deficit_year",
)


def build_balances(
    structure: ModelStructure,
    params: ModelParameters,
    placement_cost: FloatArray,
    *,
    fees: FloatArray | None = None,
    place_funding: FloatArray | None = None,
    check: bool = True,
) -> BalanceArrays:
    """Return only the balances and summary of :func:`build_ledger`, the same bits.

    What a sweep keeps of each scenario: the lines by source, the income lines and the
    totals to date are not built, and a value every scenario shares stays one row, seen by
    every scenario through a zero-stride view (read-only) rather than copied to each.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    placement_cost : FloatArray, shape (S, T)
        Monthly cost of plans, as for :func:`build_ledger`. [£]
    fees : FloatArray, shape (S, T), optional
        As for :func:`build_ledger`. [£]
    place_funding : FloatArray, shape (S, T), optional
        As for :func:`build_ledger`. [£]
    check
        As for :func:`build_ledger`.

    Returns
    -------
    BalanceArrays
        In-year and cumulative balances, caps met, and the summary, by scenario.

    Raises
    ------
    ValueError
        As :func:`build_ledger` raises it (``ArgumentTypeError`` and ``ShapeError`` too).
    """
    st, pa = structure, _collapsed(check, structure, params, placement_cost, fees, place_funding)
    found = _balances(st, pa, placement_cost, fees, place_funding)
    summary = _caps_and_summary(st, pa, found["whole"], found["cumulative"])
    n_s = params.n_scenarios

    def every(value: Any) -> Any:
        return np.broadcast_to(value, (n_s, *value.shape[1:])) if value.shape[0] != n_s else value

    return BalanceArrays(
        in_year_balance=every(found["balance"]),
        cumulative_balance=every(found["cumulative"]),
        **{name: every(summary[name]) for name in _SUMMARY},
    )


def _balances(
    structure: ModelStructure,
    params: ModelParameters,
    placement_cost: FloatArray,
    fees: FloatArray | None,
    place_funding: FloatArray | None,
) -> dict[str, Any]:
    """Return spending, income and the balances by FY, the contributions carried forward.

    ``params`` collapsed: a value every scenario shares is one row, and so is what only
    such values reach.
    """
    st, pa = structure, params
    spending = _spending(st, pa, placement_cost, fees, place_funding)
    lines = np.broadcast_arrays(*annual_income_lines(st, pa))
    income = _income(st, list(lines))
    expenditure = spending["placement"] + spending["other"] + spending["own_cost"]
    # year-to-date actuals of a first FY that starts after April
    income[:, 0] += pa.actual_income
    expenditure[:, 0] += pa.actual_expenditure
    balance = income - expenditure
    by_source, cumulative, high_needs = _cumulative(st, pa, balance)
    return {
        "spending": spending,
        "lines": lines,
        "income": income,
        "expenditure": expenditure,
        "balance": balance,
        "whole": balance + pa.other_blocks_balance,
        "by_source": by_source,
        "cumulative": cumulative,
        "high_needs": high_needs,
    }


def _collapsed(
    check: bool,
    structure: ModelStructure,
    params: ModelParameters,
    placement_cost: FloatArray,
    fees: FloatArray | None,
    place_funding: FloatArray | None,
) -> ModelParameters:
    """Return ``params.collapsed()``, with ``check`` refusing inputs of the wrong kind or shape.

    A scenario given where the structure belongs ended in an ``AttributeError``, and a
    monthly series of another shape than (S, T) in numpy's ``AxisError``.
    """
    if not check:
        return params.collapsed()
    check_shapes(structure, params)
    wanted = (params.n_scenarios, structure.n_months)
    series = {"placement_cost": placement_cost, "fees": fees, "place_funding": place_funding}
    for name, value in series.items():
        if value is None and name != "placement_cost":
            continue
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            got = (
                type(value).__name__
                if not isinstance(value, np.ndarray)
                else f"{value.dtype} array"
            )
            msg = f"{name} is of type {got}; give a float array of monthly amounts, shape {wanted}"
            raise ShapeError(msg)
        if value.shape != wanted:
            msg = (
                f"{name} has shape {value.shape}; it must be {wanted} (scenarios, months), "
                "as simulate returns it"
            )
            raise ShapeError(msg)
    return params.collapsed()


def _every_scenario(ledger: LedgerArrays, n_s: int) -> LedgerArrays:
    """Give every line one row per scenario (a line no varying value reaches has one)."""
    changes = {
        field.name: np.repeat(value, n_s, axis=0)
        for field in fields(ledger)
        if field.name != "has_cap"
        and (value := getattr(ledger, field.name)).shape[0] == 1
        and n_s > 1
    }
    return replace(ledger, **changes) if changes else ledger


def _caps_and_summary(
    structure: ModelStructure, params: ModelParameters, balance: FloatArray, cumulative: FloatArray
) -> dict[str, Any]:
    """Return the caps, headroom, whether the target is met, and the largest deficit."""
    deficit = -cumulative
    caps = params.deficit_cap
    with np.errstate(invalid="ignore"):
        within = np.where(structure.has_cap[None, :], deficit <= caps, True)
    met, first = _balance_tests(structure, balance)
    worst = np.argmax(deficit, axis=1)
    largest = np.maximum(0.0, deficit[np.arange(deficit.shape[0]), worst])
    return {
        "deficit_cap": caps,
        "within_cap": within,
        "has_cap": structure.has_cap,
        "headroom": caps - deficit,
        "target_met": met,
        "first_balanced_year": first.astype(np.int64),
        "largest_deficit": largest,
        "largest_deficit_year": np.where(largest > 0, worst, -1).astype(np.int64),
    }


def _before_and_to_date(
    params: ModelParameters, balance: FloatArray, by_source: FloatArray
) -> dict[str, Any]:
    """Return the balance before any contribution and each source's total to date.

    Both count the contributions received before the start (``received_before_start``).
    """
    received = params.received_before_start  # (S, 2): Safety Valve, council
    totals = np.cumsum(by_source, axis=2)
    totals[:, :2] += received[:, :, None]
    opening = params.opening_balance - received.sum(axis=1)
    return {
        "cumulative_balance_before_contributions": opening[:, None] + np.cumsum(balance, axis=1),
        "cumulative_contribution_by_source": totals,
    }


def _spending(
    structure: ModelStructure,
    params: ModelParameters,
    placement_cost: FloatArray,
    fees: FloatArray | None,
    place_funding: FloatArray | None,
) -> dict[str, FloatArray]:
    """Return spending by line and FY, (S, Y) each.

    Placements (place funding, top-ups, fees), other lines and interventions' own cost;
    annual amounts fall one twelfth in each projected month of their FY.
    """
    st, pa = structure, params
    if fees is None:
        if st.cost_kind.any():
            msg = "the scenario has fee-paid placements; pass fees= (FlowResult.fees)"
            raise ArgumentError(msg)
        fees = np.zeros_like(placement_cost)
    if place_funding is None:
        if (pa.place_funding_rate != 0).any():
            msg = "the scenario has place funding; pass place_funding= (FlowResult.place_funding)"
            raise ArgumentError(msg)
        place_funding = np.zeros_like(placement_cost)
    share = st.months_in_fy / 12.0  # (Y,)
    per_plan = fy_totals(st, placement_cost)
    fees_fy = fy_totals(st, fees)
    places_fy = fy_totals(st, place_funding)
    return {
        "placement": per_plan + places_fy,
        "place_funding": places_fy,
        "top_up": per_plan - fees_fy,
        "fees": fees_fy,
        "other": _other_lines(st, pa).sum(axis=1) * share,
        "own_cost": (pa.intervention_cost * pa.intervention_on[:, :, None]).sum(axis=1) * share,
    }


def other_line_costs(structure: ModelStructure, params: ModelParameters) -> FloatArray:
    """Return each other high-needs line's cost in each FY, (S, L_o, Y). [£]

    The lines' annual amounts, times the share of each FY projected; they add up to the
    ledger's ``other_cost``.

    Parameters
    ----------
    structure, params
        The compiled scenario.

    Returns
    -------
    FloatArray
        Cost by scenario, line (in ``structure.other_lines`` order) and FY.
    """
    costs: FloatArray = _other_lines(structure, params) * (structure.months_in_fy / 12.0)
    return costs


def _other_lines(structure: ModelStructure, params: ModelParameters) -> FloatArray:
    """Return each other line's annual amount by FY, (S, L_o, Y). [£ yr⁻¹]

    An amount grows from the first FY; a series grows after its last given FY.
    """
    st, pa = structure, params
    k = np.arange(st.n_years, dtype=np.float64)
    growth = 1.0 + pa.other_line_growth[:, :, None]
    amounts: FloatArray = pa.other_line_amount[:, :, None] * growth**k
    last = st.other_line_last_given  # (L_o,)
    if not (last >= 0).any():
        return amounts
    series = pa.other_line_per_year
    lines = np.arange(last.shape[0])
    anchor = series[:, lines, np.maximum(last, 0)][:, :, None]
    after = np.maximum(k[None, :] - last[:, None], 0.0)  # (L_o, Y)
    grown = np.where(k[None, :] <= last[:, None], series, anchor * growth**after)
    out: FloatArray = np.where((last >= 0)[None, :, None], grown, amounts)
    return out


def _income(structure: ModelStructure, lines: list[FloatArray]) -> FloatArray:
    """Return income by FY, (S, Y): the block less recoupment plus the other lines. [£]"""
    block, recoupment, imports, transfers, other = lines
    share = structure.months_in_fy / 12.0  # (Y,)
    income: FloatArray = (block - recoupment + imports + transfers + other) * share
    return income


def _high_needs_block(structure: ModelStructure, params: ModelParameters) -> FloatArray:
    """Return the gross high needs block by FY, (S, Y).

    An amount grown at the block's growth from the first FY, or a series whose FYs after the
    last given grow from it at the same rate.
    """
    st, pa = structure, params
    k = np.arange(st.n_years, dtype=np.float64)
    growth = 1.0 + pa.high_needs_block_growth[:, None]
    if not st.high_needs_block_series:
        return pa.high_needs_block[:, None] * growth**k
    last = st.high_needs_block_last_given
    grown = pa.high_needs_block_per_year[:, last, None] * growth ** np.maximum(k - last, 0.0)
    return np.where(k <= last, pa.high_needs_block_per_year, grown)


def annual_income_lines(structure: ModelStructure, params: ModelParameters) -> list[FloatArray]:
    """Return the income lines for whole FYs, in the order of ``INCOME_LINES``.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.

    Returns
    -------
    list of FloatArray, each shape (S, Y)
        The gross high needs block, recoupment (a deduction, shown positive), the
        import/export adjustment, transfers from other blocks and other income, each an
        annual amount (multiply by the FY's share of projected months for the ledger). [£]
    """
    st, pa = structure, params
    return [
        _high_needs_block(st, pa),
        pa.recoupment,
        pa.import_export * pa.import_export_rate[:, None],
        pa.block_transfers + pa.schools_block * pa.schools_block_transfer,
        pa.other_income,
    ]


def _cumulative(
    structure: ModelStructure, params: ModelParameters, balance: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return contributions by source (S, 3, Y) and the closing DSG and high-needs balances.

    Carried forward one FY at a time: a write-off pays its share of the high-needs deficit
    standing at the end of an earlier FY, and whether a Safety Valve instalment is withheld
    depends on whether the FY before missed a condition (tested on the whole DSG). Safety
    Valve instalments stop from the FY a write-off that replaces them is paid in.
    """
    st, pa = structure, params
    n_s, n_y = balance.shape
    whole = balance + pa.other_blocks_balance  # the DSG's in-year balance
    by_source = np.zeros((n_s, len(CONTRIBUTION_SOURCES), n_y))
    cumulative = np.empty_like(balance)
    high_needs = np.empty_like(balance)
    previous, previous_hn = pa.opening_balance.copy(), pa.opening_high_needs_balance.copy()
    replacing = st.write_off_paid_in[st.write_off_replaces_safety_valve]
    stop = int(replacing.min()) if replacing.size else n_y
    missed = np.zeros(n_s, dtype=np.bool_)  # whether the FY before missed a condition
    for y in range(n_y):
        safety_valve = pa.contributions[:, y] if y < stop else np.zeros(n_s)
        if st.withhold_safety_valve:
            safety_valve = np.where(missed, 0.0, safety_valve)
        written_off = np.zeros(n_s)
        for w in np.flatnonzero(st.write_off_paid_in == y):
            standing = np.maximum(0.0, -high_needs[:, st.write_off_at_end_of[w]])
            written_off = written_off + pa.write_off_share[:, w] * standing
        council = pa.council_contributions[:, y]
        by_source[:, 0, y] = safety_valve
        by_source[:, 1, y] = council
        by_source[:, 2, y] = written_off
        paid = safety_valve + written_off + council
        cumulative[:, y] = previous + whole[:, y] + paid
        high_needs[:, y] = previous_hn + balance[:, y] + paid
        previous, previous_hn = cumulative[:, y], high_needs[:, y]
        missed = _missed_a_condition(structure, params, y, whole[:, y], cumulative[:, y])
    return by_source, cumulative, high_needs


def _missed_a_condition(
    structure: ModelStructure,
    params: ModelParameters,
    year: int,
    balance: FloatArray,
    cumulative: FloatArray,
) -> BoolArray:
    """Return whether FY ``year`` missed a condition: its cap, or balance from the target."""
    missed = np.zeros(balance.shape[0], dtype=np.bool_)
    if structure.has_cap[year]:
        missed |= -cumulative > params.deficit_cap[:, year]
    target = structure.balance_target
    if target is not None and year >= target:
        missed |= balance < 0.0
    return missed


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
