"""The monthly cohort-flow kernel in numpy (MODEL.md §3): the readable reference.

One month, in this order: September rollover (aged out, ageing, transitions), ceasing, net
transfers, the assessment pipeline and new plans, capacity with overflow, and the month's
placement cost. Every step is vectorised over the scenario, age and placement axes; the
only Python loops are over months, over capacity entries (their order matters) and over
entry-shift effects (their order matters). Reductions use ``einsum``, which is faster than
``sum`` over these short axes and, unlike a BLAS matmul, gives a scenario the same bits
whatever the batch it runs in.
"""

from __future__ import annotations

import numpy as np

from dsg_forecast.engine.contract import FlowResult
from dsg_forecast.engine.prepare import Prepared
from dsg_forecast.engine.structure import ModelParameters, ModelStructure


def run_numpy(
    structure: ModelStructure,
    params: ModelParameters,
    prepared: Prepared,
    *,
    keep_stock: bool,
) -> FlowResult:
    """Run the monthly cohort flow of every scenario at once, vectorised over scenarios.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    prepared
        Lever paths and derived inputs (:func:`~dsg_forecast.engine.prepare.prepare_inputs`).
    keep_stock
        Keep the full (S, T, A, P) stock.

    Returns
    -------
    FlowResult
        Every monthly series, (S, T, ...).
    """
    st, pa, paths = structure, params, prepared.paths
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

    ready_all = prepared.ready  # ready(t) = column t
    uplift_factor = prepared.uplift_factor  # (S, Y, P)
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
    cease_weight = prepared.cease_weight
    base_entry = prepared.entry  # where new plans go: d[a] q[a, p], shape (S, A, P)
    n_shifts = len(paths.shift_source)

    placement_rate = pa.placement_transfer_rate / 12.0  # (S, P)
    per_placement = bool((placement_rate != 0).any())
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
        if per_placement:
            # the census residual by placement: (1 + r/12)(1 + r_p/12)
            kept = np.einsum("sap->sp", stock)
            transferred[:, t] += np.einsum("sp,sp->s", kept, placement_rate)
            stock *= (1.0 + placement_rate)[:, None, :]
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
        price = paths.unit_cost.apply(pa.unit_cost, t)  # (S, A, P)
        uplifted = uplift_factor[:, st.fy_index[t], :]
        cost_by_placement[:, t] = placed * (price[:, 0, :] * uplifted / 12.0)
        if st.age_priced:  # those placements' plans each at their age's price
            priced = st.priced_by_age
            cost_by_placement[:, t, priced] = np.einsum(
                "sap,sap->sp", stock[:, :, priced], price[:, :, priced]
            ) * (uplifted[:, priced] / 12.0)
        if stock_out is not None:
            stock_out[:, t] = stock

    return FlowResult(
        stock=stock_out,
        stock_by_placement=by_placement,
        stock_by_age=by_age,
        requests=prepared.requests,
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
        fees=np.einsum("stp,p->st", cost_by_placement, st.cost_kind.astype(np.float64)),
        place_funding=prepared.place_funding,
    )
