"""The monthly cohort-flow kernel (MODEL.md §3): arrays in, arrays out, no I/O.

One month, in this order: September rollover (aged out, ageing, transitions), ceasing, net
transfers, the assessment pipeline and new plans, capacity with overflow, and the month's
placement cost. Every step is vectorised over the scenario, age and placement axes; the
only Python loops are over months, over capacity entries (their order matters) and over
entry-shift effects (their order matters). Reductions use ``einsum``, which is faster than
``sum`` over these short axes and, unlike a BLAS matmul, gives a scenario the same bits
whatever the batch it runs in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.engine.levers import LeverPaths, lever_violations, resolve_levers
from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.inputs import ModelParameters, ModelStructure, check_shapes, per_scenario


@dataclass(frozen=True, slots=True)
class FlowResult:
    """Month-by-month results of the kernel; axis 0 is the scenario axis S."""

    stock: FloatArray | None
    """Plans at the end of each month by age and placement, (S, T, A, P), if kept. [plans]"""
    stock_by_placement: FloatArray
    """(S, T, P). [plans]"""
    stock_by_age: FloatArray
    """(S, T, A). [plans]"""
    requests: FloatArray
    """Requests for assessment received in the month, (S, T). [requests]"""
    assessments: FloatArray
    """Assessments finished (served from the queue) in the month, (S, T). [assessments]"""
    new_plans: FloatArray
    """(S, T). [plans]"""
    ceased: FloatArray
    """(S, T). [plans]"""
    transferred: FloatArray
    """Net plans transferred in (negative: out), (S, T). [plans]"""
    aged_out: FloatArray
    """(S, T). [plans]"""
    backlog: FloatArray
    """Ready-but-unfinished assessments at the end of the month, (S, T). [assessments]"""
    moves_up: FloatArray
    """Transitions to a higher tier, (S, T). [plans]"""
    moves_down: FloatArray
    """Transitions to a lower tier, (S, T). [plans]"""
    overflow: FloatArray
    """Plans moved by capacity limits, (S, T). [plans]"""
    placement_cost: FloatArray
    """(S, T). [£]"""
    placement_cost_by_placement: FloatArray
    """(S, T, P). [£]"""


Engine = Literal["numpy", "numba"]
ENGINES: tuple[Engine, ...] = ("numpy", "numba")


def _prepare(structure: ModelStructure, params: ModelParameters, *, check: bool) -> LeverPaths:
    if check:
        check_shapes(structure, params)
    paths = resolve_levers(structure, params)
    if check:
        problems = lever_violations(structure, params, paths)
        if problems:
            raise ScenarioError([Issue("interventions", problem) for problem in problems])
    return paths


def _jit_or_error() -> None:
    from dsg_forecast.engine import jit

    if not jit.available():
        msg = 'engine "numba" needs numba; install it with: pip install "dsg_forecast[jit]"'
        raise ImportError(msg)


def simulate(
    structure: ModelStructure,
    params: ModelParameters,
    *,
    keep_stock: bool = True,
    check: bool = True,
    engine: Engine = "numpy",
) -> FlowResult:
    """Run the monthly cohort flow for every scenario at once.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    keep_stock
        Keep the full (S, T, A, P) stock; turn off for large sweeps.
    check
        Check shapes and that interventions keep every lever in range. Turn off only for
        inputs already checked.
    engine
        ``"numpy"`` (vectorised over scenarios) or ``"numba"`` (compiled, parallel over
        scenarios; needs the ``jit`` extra). They agree to 1e-9 relative.

    Raises
    ------
    ShapeError
        If a parameter's shape does not match the structure.
    ScenarioError
        If an intervention pushes a lever out of its valid range.
    """
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; choose one of {list(ENGINES)}"
        raise ValueError(msg)
    paths = _prepare(structure, params, check=check)
    if engine == "numpy":
        return _run(structure, params, paths, keep_stock=keep_stock)
    _jit_or_error()
    from dsg_forecast.engine.jit import run_jit

    ready = _accepted_with_history(structure, params, paths)
    out = run_jit(structure, params, paths, ready, full=True, keep_stock=keep_stock)
    return FlowResult(
        stock=out["stock"] if keep_stock else None,
        stock_by_placement=out["stock_by_placement"],
        stock_by_age=out["stock_by_age"],
        requests=paths.annual_requests * params.request_profile[:, structure.calendar_month - 1],
        assessments=out["assessments"],
        new_plans=out["new_plans"],
        ceased=out["ceased"],
        transferred=out["transferred"],
        aged_out=out["aged_out"],
        backlog=out["backlog"],
        moves_up=out["moves_up"],
        moves_down=out["moves_down"],
        overflow=out["overflow"],
        placement_cost=out["placement_cost"],
        placement_cost_by_placement=out["placement_cost_by_placement"],
    )


def simulate_costs(
    structure: ModelStructure,
    params: ModelParameters,
    *,
    check: bool = True,
    engine: Engine = "numpy",
) -> tuple[FloatArray, FloatArray]:
    """Return only the monthly placement cost and total stock, each (S, T).

    What a sweep needs from the flows; with ``engine="numba"`` nothing else is computed or
    stored.
    """
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; choose one of {list(ENGINES)}"
        raise ValueError(msg)
    paths = _prepare(structure, params, check=check)
    if engine == "numpy":
        flows = _run(structure, params, paths, keep_stock=False)
        return flows.placement_cost, flows.stock_by_placement.sum(axis=2)
    _jit_or_error()
    from dsg_forecast.engine.jit import run_jit

    ready = _accepted_with_history(structure, params, paths)
    out = run_jit(structure, params, paths, ready, full=False, keep_stock=False)
    return out["placement_cost"], out["stock_total"]


def _accepted_with_history(
    structure: ModelStructure, params: ModelParameters, paths: LeverPaths
) -> FloatArray:
    """Return accepted requests for months −L..T−1, shape (S, L + T) (MODEL.md §3.3).

    Before the start, the first FY's volume with that calendar month's weight and the base
    refusal rate (steady state; no intervention acts before the start).
    """
    requests = paths.annual_requests * params.request_profile[:, structure.calendar_month - 1]
    accepted = requests * (1.0 - paths.refusal_rate)
    if structure.assessment_months == 0:
        return accepted
    weights = params.request_profile[:, structure.pre_start_calendar_month - 1]
    before = params.requests_per_year[:, None] * weights * (1.0 - params.refusal_rate[:, None])
    return np.concatenate([before, accepted], axis=1)


def _uplift_factor(structure: ModelStructure) -> Callable[[FloatArray], FloatArray]:
    """``(1 + uplift[p])^k`` for every FY k, (S, Y, P)."""
    years = np.arange(structure.n_years, dtype=np.float64)
    return lambda uplift: (1.0 + uplift[:, None, :]) ** years[None, :, None]


def _entry(ages: FloatArray, mix: FloatArray) -> FloatArray:
    """Where new plans go: ``d[a] q[a, p]``, (S, A, P)."""
    return ages[:, :, None] * mix


def _run(
    structure: ModelStructure,
    params: ModelParameters,
    paths: LeverPaths,
    *,
    keep_stock: bool,
) -> FlowResult:
    st, pa = structure, params
    n_s, n_t = pa.n_scenarios, st.n_months
    n_a, n_p = len(st.ages), len(st.placements)
    shape_st = (n_s, n_t)

    stock_out = np.empty((n_s, n_t, n_a, n_p)) if keep_stock else None
    by_placement = np.empty((n_s, n_t, n_p))
    by_age = np.empty((n_s, n_t, n_a))
    cost_by_placement = np.empty((n_s, n_t, n_p))
    new_plans = np.empty(shape_st)
    assessments = np.empty(shape_st)
    ceased = np.zeros(shape_st)
    transferred = np.empty(shape_st)
    aged_out = np.zeros(shape_st)
    backlog = np.empty(shape_st)
    moves_up = np.zeros(shape_st)
    moves_down = np.zeros(shape_st)
    overflow = np.zeros(shape_st)

    requests = paths.annual_requests * pa.request_profile[:, st.calendar_month - 1]
    ready_all = _accepted_with_history(st, pa, paths)  # ready(t) = column t
    uplift_factor = per_scenario(_uplift_factor(st), pa.uplift, count=n_s)  # (S, Y, P)
    september_index = np.cumsum(st.rollover) - 1  # column of each rollover month

    # transitions: flows (S, A, R) map onto placements through (R, P) = to − from
    n_r = len(st.transition_from)
    eye = np.eye(n_p)
    transition_delta = eye[st.transition_to] - eye[st.transition_from]  # (R, P)
    tier_step = st.tiers[st.transition_to] - st.tiers[st.transition_from]
    is_up = (tier_step > 0).astype(np.float64)
    is_down = (tier_step < 0).astype(np.float64)
    rule_ages = st.transition_ages.T.astype(np.float64)  # (A, R)
    ceasing_any = bool((pa.ceasing_rate != 0).any()) or paths.ceasing.acted_on
    cease_weight = per_scenario(
        lambda w: w[:, st.calendar_month - 1], pa.ceasing_profile, count=n_s
    )
    # where new plans go: d[a] q[a, p], shape (S, A, P)
    base_entry = per_scenario(_entry, pa.new_plan_ages, pa.new_plan_mix, count=n_s)
    n_shifts = len(paths.shift_source)

    stock = pa.opening_stock.copy()  # (S, A, P)
    queue = pa.opening_backlog.copy()
    for t in range(n_t):
        # 1. September rollover
        if st.rollover[t]:
            aged_out[:, t] = np.einsum("sp->s", stock[:, -1, :])
            stock[:, 1:, :] = stock[:, :-1, :]
            stock[:, 0, :] = 0.0
            if n_r:
                rates = paths.transition.apply(pa.transition_rate, int(september_index[t]))
                moved = stock[:, :, st.transition_from] * rates[:, None, :] * rule_ages
                # einsum, not BLAS matmul: a row's result must not depend on the batch size
                stock += np.einsum("sar,rp->sap", moved, transition_delta)
                per_rule = np.einsum("sar->sr", moved)
                moves_up[:, t] = np.einsum("sr,r->s", per_rule, is_up)
                moves_down[:, t] = np.einsum("sr,r->s", per_rule, is_down)
        # 2. ceasing, then net transfers: one pass over the stock, N × (1 − c[a]) × (1 + r/12);
        #    the counts come from the by-age totals
        at_age = np.einsum("sap->sa", stock)
        rate = paths.net_transfer_rate[:, t] / 12.0
        if ceasing_any:
            fraction = pa.ceasing_rate * cease_weight[:, t, None]  # (S, A)
            if paths.ceasing.acted_on:
                fraction = paths.ceasing.scale[:, t, :] * fraction + paths.ceasing.shift[:, t, :]
            ceased[:, t] = np.einsum("sa,sa->s", at_age, fraction)
            remaining = at_age.sum(axis=1) - ceased[:, t]
            stock *= ((1.0 - fraction) * (1.0 + rate[:, None]))[:, :, None]
        else:
            remaining = at_age.sum(axis=1)
            stock *= (1.0 + rate)[:, None, None]
        transferred[:, t] = remaining * rate
        # 3. assessment pipeline and new plans
        available = queue + ready_all[:, t]
        served = np.minimum(paths.assessment_capacity[:, t], available)
        queue = available - served
        entrants = served * pa.plan_rate
        entry = base_entry
        if n_shifts:
            # shifting a share of the mix at every age shifts the same share of d[a] q[a, p]
            entry = base_entry.copy()
            for h in range(n_shifts):
                source, destination = paths.shift_source[h], paths.shift_destination[h]
                moved_share = entry[:, :, source] * paths.shift_share[:, t, h, None]
                entry[:, :, source] -= moved_share
                entry[:, :, destination] += moved_share
        stock += entrants[:, None, None] * entry
        assessments[:, t] = served
        new_plans[:, t] = entrants
        backlog[:, t] = queue
        # 4. capacity, in declared order
        for c in range(len(st.capacity_placement)):
            p = st.capacity_placement[c]
            q = st.capacity_overflow[c]
            total = np.einsum("sa->s", stock[:, :, p])
            excess = np.maximum(total - paths.places[:, t, c], 0.0)
            share = np.divide(excess, total, out=np.zeros_like(total), where=total > 0)
            moved_cap = stock[:, :, p] * share[:, None]
            stock[:, :, p] -= moved_cap
            stock[:, :, q] += moved_cap
            overflow[:, t] += excess
        # 5. cost of the month
        placed = np.einsum("sap->sp", stock)
        by_placement[:, t] = placed
        by_age[:, t] = np.einsum("sap->sa", stock)
        unit_cost = paths.unit_cost.apply(pa.unit_cost, t)
        cost_by_placement[:, t] = placed * (unit_cost * uplift_factor[:, st.fy_index[t], :] / 12.0)
        if stock_out is not None:
            stock_out[:, t] = stock

    return FlowResult(
        stock=stock_out,
        stock_by_placement=by_placement,
        stock_by_age=by_age,
        requests=requests,
        assessments=assessments,
        new_plans=new_plans,
        ceased=ceased,
        transferred=transferred,
        aged_out=aged_out,
        backlog=backlog,
        moves_up=moves_up,
        moves_down=moves_down,
        overflow=overflow,
        placement_cost=cost_by_placement.sum(axis=2),
        placement_cost_by_placement=cost_by_placement,
    )
