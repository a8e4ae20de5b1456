"""The monthly cohort flow compiled with numba: one scenario per parallel iteration.

Same inputs (compact lever paths), the same month (MODEL.md §3) and the same order of
operations as :mod:`dsg_forecast.engine.flows`; results agree with the numpy kernel to
1e-9 relative (the tests check it). Each scenario's state (ages × placements) stays in
cache for all its months, and scenarios run in parallel on every core, which is what makes
a million scenarios practical. A scenario's result never depends on the batch it runs in.

numba is an optional dependency (``pip install "dsg_forecast[jit]"``); it is imported only
when this engine is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.engine.flows import _entry, _uplift_factor
from dsg_forecast.engine.levers import LeverPaths
from dsg_forecast.inputs import ModelParameters, ModelStructure, per_scenario

_KERNEL: Any = None


def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _compile() -> Any:
    global _KERNEL  # noqa: PLW0603 - compile once per process, on first use
    if _KERNEL is not None:
        return _KERNEL
    from numba import njit, prange, types

    # One explicit signature: inputs are read-only, layout-agnostic ("A") arrays, outputs
    # writable ones. One compilation, cached on disk, whether an input is contiguous or a
    # zero-stride view shared by every scenario (run_jit passes read-only views of all).
    def array(dtype: Any, dims: int, *, readonly: bool = True) -> Any:
        return types.Array(dtype, dims, "A", readonly=readonly)

    f, i, b = types.float64, types.int64, types.boolean
    inputs = [
        array(f, 3), array(f, 1), array(f, 2), array(f, 2), array(f, 1), array(f, 3),
        array(i, 1), array(i, 1), array(i, 1), array(f, 3),
        array(b, 1), array(i, 1), array(i, 1), array(i, 1), array(i, 1), array(i, 1), array(f, 2),
        array(f, 3), array(f, 3), array(i, 1), array(f, 1), array(f, 1),
        array(f, 2), array(f, 2), array(f, 3), array(f, 3), array(i, 1),
        array(f, 2), array(i, 1), array(i, 1), array(f, 3),
        array(f, 2), array(f, 3), array(f, 3), array(i, 1), array(f, 3), array(i, 1),
        b, b,
    ]  # fmt: skip
    outputs = [array(f, 2, readonly=False)] * 2 + [array(f, 3, readonly=False)] * 3
    outputs += [array(f, 2, readonly=False)] * 9 + [array(f, 4, readonly=False)]
    signature = types.void(*inputs, *outputs)

    @njit(signature, parallel=True, cache=True, nogil=True, error_model="numpy")
    def kernel(  # type: ignore[no-untyped-def]
        stock0, backlog0, ready, capacity, plan_rate, base_entry,
        shift_source, shift_destination, shift_columns, shift_share,
        rollover, september_index, transition_from, transition_to, rules_start, rules_at,
        transition_rate, rate_scale, rate_shift, rate_slot, is_up, is_down,
        ceasing_rate, cease_weight, cease_scale, cease_shift, cease_slot,
        transfer_rate, capacity_placement, capacity_overflow, places,
        unit_cost, cost_scale, cost_shift, cost_slot, uplift_factor, fy_index,
        full, keep_stock,
        out_cost, out_stock_total, out_by_placement, out_by_age, out_cost_by_placement,
        out_assessments, out_new_plans, out_ceased, out_transferred, out_aged_out,
        out_backlog, out_moves_up, out_moves_down, out_overflow, out_stock,
    ):  # fmt: skip
        n_s, n_a, n_p = stock0.shape
        n_t = rollover.shape[0]
        n_r = transition_from.shape[0]
        n_h = shift_source.shape[0]
        n_c = capacity_placement.shape[0]
        for s in prange(n_s):
            stock = stock0[s].copy()
            row = np.empty(n_p)
            column = np.empty(n_p)
            # totals by age: transitions and capacity never change them, so they are carried
            # along rather than summed each month
            at_age = np.empty(n_a)
            for a in range(n_a):
                at_age[a] = 0.0
                for p in range(n_p):
                    at_age[a] += stock[a, p]
            # this scenario's new-plan distribution d[a] q[a, p], contiguous, and its row sums
            # (entry shifts move plans between placements, so they keep the row sums)
            base = np.empty((n_a, n_p))
            joining = np.empty(n_a)
            for a in range(n_a):
                joining[a] = 0.0
                for p in range(n_p):
                    base[a, p] = base_entry[s, a, p]
                    joining[a] += base[a, p]
            # the month's distribution after entry shifts; rebuilt only when the shares change
            # (while an intervention ramps in), else reused
            shifted = base.copy()
            queue = backlog0[s]
            for t in range(n_t):
                if n_h > 0:
                    changed = t == 0
                    for h in range(n_h):
                        if t > 0 and shift_share[s, t, h] != shift_share[s, t - 1, h]:
                            changed = True
                    if changed:
                        # only the placements a shift moves plans between change
                        for a in range(n_a):
                            for p in shift_columns:
                                shifted[a, p] = base[a, p]
                            for h in range(n_h):
                                moved = shifted[a, shift_source[h]] * shift_share[s, t, h]
                                shifted[a, shift_source[h]] -= moved
                                shifted[a, shift_destination[h]] += moved
                # 1. September rollover
                if rollover[t]:
                    leaving = at_age[n_a - 1]
                    for a in range(n_a - 1, 0, -1):
                        at_age[a] = at_age[a - 1]
                        for p in range(n_p):
                            stock[a, p] = stock[a - 1, p]
                    at_age[0] = 0.0
                    for p in range(n_p):
                        stock[0, p] = 0.0
                    up = 0.0
                    down = 0.0
                    if n_r > 0:
                        for a in range(n_a):
                            if rules_start[a] == rules_start[a + 1]:
                                continue
                            for p in range(n_p):
                                row[p] = stock[a, p]  # rules act on the stock before any moved
                            for k in range(rules_start[a], rules_start[a + 1]):
                                r = rules_at[k]
                                rate = transition_rate[s, r]
                                j = rate_slot[r]
                                if j >= 0:
                                    i = september_index[t]
                                    rate = rate_scale[s, i, j] * rate + rate_shift[s, i, j]
                                moved = row[transition_from[r]] * rate
                                stock[a, transition_from[r]] -= moved
                                stock[a, transition_to[r]] += moved
                                up += moved * is_up[r]
                                down += moved * is_down[r]
                    if full:
                        out_aged_out[s, t] = leaving
                        out_moves_up[s, t] = up
                        out_moves_down[s, t] = down
                # 3a. the assessment pipeline (its new plans join in the same pass as ceasing)
                available_now = queue + ready[s, t]
                served = min(capacity[s, t], available_now)
                queue = available_now - served
                entrants = served * plan_rate[s]
                # 2 + 3b. ceasing, net transfers and new plans, in one pass over the stock:
                #   N[a, p] <- N[a, p] (1 − c[a] w) (1 + r / 12) + E d[a] q[a, p]
                rate = transfer_rate[s, t] / 12.0
                ceased = 0.0
                remaining = 0.0
                for p in range(n_p):
                    column[p] = 0.0
                for a in range(n_a):
                    fraction = ceasing_rate[s, a] * cease_weight[s, t]
                    if cease_slot[0] >= 0:
                        fraction = cease_scale[s, t, 0] * fraction + cease_shift[s, t, 0]
                    ceased += at_age[a] * fraction
                    remaining += at_age[a]
                    factor = (1.0 - fraction) * (1.0 + rate)
                    for p in range(n_p):
                        value = stock[a, p] * factor + entrants * shifted[a, p]
                        stock[a, p] = value
                        column[p] += value
                    at_age[a] = at_age[a] * factor + entrants * joining[a]
                remaining -= ceased
                # 4. capacity, in declared order: only the two columns involved change
                spilled = 0.0
                for c in range(n_c):
                    p = capacity_placement[c]
                    q = capacity_overflow[c]
                    total = column[p]
                    excess = max(total - places[s, t, c], 0.0)
                    if excess > 0.0:
                        share = excess / total
                        moved_total = 0.0
                        for a in range(n_a):
                            moved = stock[a, p] * share
                            stock[a, p] -= moved
                            stock[a, q] += moved
                            moved_total += moved
                        column[p] -= moved_total
                        column[q] += moved_total
                    spilled += excess
                # 5. cost of the month, from the placement totals
                k = fy_index[t]
                cost = 0.0
                everyone = 0.0
                for p in range(n_p):
                    price = unit_cost[s, p]
                    j = cost_slot[p]
                    if j >= 0:
                        price = cost_scale[s, t, j] * price + cost_shift[s, t, j]
                    spend = column[p] * (price * uplift_factor[s, k, p] / 12.0)
                    cost += spend
                    everyone += column[p]
                    if full:
                        out_by_placement[s, t, p] = column[p]
                        out_cost_by_placement[s, t, p] = spend
                out_cost[s, t] = cost
                out_stock_total[s, t] = everyone
                if full:
                    for a in range(n_a):
                        out_by_age[s, t, a] = at_age[a]
                    out_assessments[s, t] = served
                    out_new_plans[s, t] = entrants
                    out_ceased[s, t] = ceased
                    out_transferred[s, t] = remaining * rate
                    out_backlog[s, t] = queue
                    out_overflow[s, t] = spilled
                if keep_stock:
                    for a in range(n_a):
                        for p in range(n_p):
                            out_stock[s, t, a, p] = stock[a, p]

    _KERNEL = kernel
    return kernel


def _rules_by_age(ages: Any) -> tuple[Any, Any]:
    """Transition rules indexed by age (CSR): rules of age a are ``at[start[a]:start[a+1]]``."""
    ages_of_rules = ages.T  # (A, R)
    counts = ages_of_rules.sum(axis=1)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    at = np.flatnonzero(ages_of_rules.ravel()) % max(ages.shape[0], 1)
    return start, at.astype(np.int64)


def _read_only(value: Any) -> Any:
    """Return a read-only view: the kernel's one signature takes read-only inputs."""
    view = np.asarray(value).view()
    view.flags.writeable = False
    return view


def run_jit(
    structure: ModelStructure,
    params: ModelParameters,
    paths: LeverPaths,
    ready: FloatArray,
    *,
    full: bool,
    keep_stock: bool,
) -> dict[str, FloatArray]:
    """Run the compiled kernel; returns the output arrays by name.

    With ``full=False`` only ``placement_cost`` and ``stock_total`` are filled (what sweeps
    need); the other series are left unallocated (shape with S = 0 rows is avoided by
    allocating them with zero size).
    """
    kernel = _compile()
    st, pa = structure, params
    n_s, n_t = pa.n_scenarios, st.n_months
    n_a, n_p = len(st.ages), len(st.placements)
    tier_step = st.tiers[st.transition_to] - st.tiers[st.transition_from]
    uplift_factor = per_scenario(_uplift_factor(st), pa.uplift, count=n_s)
    entry = per_scenario(_entry, pa.new_plan_ages, pa.new_plan_mix, count=n_s)
    cease_weight = per_scenario(
        lambda w: w[:, st.calendar_month - 1], pa.ceasing_profile, count=n_s
    )

    def series(*shape: int, wanted: bool = True) -> FloatArray:
        return np.zeros(shape if wanted else (1,) * len(shape))

    out = {
        "placement_cost": np.empty((n_s, n_t)),
        "stock_total": np.empty((n_s, n_t)),
        "stock_by_placement": series(n_s, n_t, n_p, wanted=full),
        "stock_by_age": series(n_s, n_t, n_a, wanted=full),
        "placement_cost_by_placement": series(n_s, n_t, n_p, wanted=full),
        "assessments": series(n_s, n_t, wanted=full),
        "new_plans": series(n_s, n_t, wanted=full),
        "ceased": series(n_s, n_t, wanted=full),
        "transferred": series(n_s, n_t, wanted=full),
        "aged_out": series(n_s, n_t, wanted=full),
        "backlog": series(n_s, n_t, wanted=full),
        "moves_up": series(n_s, n_t, wanted=full),
        "moves_down": series(n_s, n_t, wanted=full),
        "overflow": series(n_s, n_t, wanted=full),
        "stock": series(n_s, n_t, n_a, n_p, wanted=keep_stock),
    }

    inputs = (
        pa.opening_stock, pa.opening_backlog, ready, paths.assessment_capacity, pa.plan_rate,
        entry, paths.shift_source, paths.shift_destination,
        np.unique(np.concatenate([paths.shift_source, paths.shift_destination])),
        paths.shift_share,
        st.rollover, np.cumsum(st.rollover) - 1, st.transition_from, st.transition_to,
        *_rules_by_age(st.transition_ages), pa.transition_rate,
        paths.transition.scale, paths.transition.shift,
        paths.transition.slot, (tier_step > 0).astype(np.float64),
        (tier_step < 0).astype(np.float64), pa.ceasing_rate, cease_weight,
        paths.ceasing.scale, paths.ceasing.shift, paths.ceasing.slot,
        paths.net_transfer_rate, st.capacity_placement, st.capacity_overflow, paths.places,
        pa.unit_cost, paths.unit_cost.scale, paths.unit_cost.shift, paths.unit_cost.slot,
        uplift_factor, st.fy_index,
    )  # fmt: skip
    outputs = (
        "placement_cost", "stock_total", "stock_by_placement", "stock_by_age",
        "placement_cost_by_placement", "assessments", "new_plans", "ceased", "transferred",
        "aged_out", "backlog", "moves_up", "moves_down", "overflow", "stock",
    )  # fmt: skip
    kernel(*map(_read_only, inputs), full, keep_stock, *(out[name] for name in outputs))
    return out
