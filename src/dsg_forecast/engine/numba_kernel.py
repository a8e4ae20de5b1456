"""The monthly cohort flow compiled with numba: one scenario per parallel iteration.

It computes the month of MODEL.md §3 from the same prepared inputs as
:mod:`~dsg_forecast.engine.numpy_kernel`, and its results agree with that kernel to 1e-9
relative (the tests check this, and MODEL.md §7 to the penny). Two things differ in how the
month is computed, neither in what it computes:

- **Order.** Within a month the assessment pipeline (step 3a: queue, capacity, plans
  issued) runs *before* ceasing and net transfers (step 2), and ceasing, transfers and new
  plans are then applied in one pass over the stock,
  ``N[a, p] <- N[a, p] (1 − c[a] w) (1 + r / 12) + E d[a] q[a, p]``. The pipeline reads
  only the queue, the requests and the capacity, never the stock, so running it first
  changes nothing; the fused update performs per element the same multiplications and
  addition, in the same order, as the numpy kernel's two steps. Entry shifts are applied
  to the new-plan distribution at the top of the month, which depends only on the month.
- **Sums.** Totals by age are carried through the month (transitions and capacity do not
  change them) and totals by placement are accumulated while the stock is updated, rather
  than summed afresh with ``einsum``; so sums are added in another order, which is why the
  two kernels agree to rounding (about 1e-14 relative) rather than bit for bit.

Each scenario's state (ages × placements) stays in cache for all its months and scenarios
run in parallel on every core, which is what makes a million scenarios practical. A
scenario's result never depends on the batch it runs in.

Its arguments are declared once, in :mod:`~dsg_forecast.engine.contract`: the numba
signature, the argument tuple and the outputs read back are all built from that table.
numba is an optional dependency (``pip install "dsg_forecast[jit]"``); this module is
imported only when the numba engine is asked for.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

from dsg_forecast._types import FloatArray, IntArray
from dsg_forecast.engine.contract import (
    ALWAYS_FILLED,
    NUMBA_ARGUMENTS,
    NUMBA_FLAGS,
    NUMBA_INPUTS,
    NUMBA_OUTPUTS,
    Slot,
)
from dsg_forecast.engine.prepare import Prepared
from dsg_forecast.engine.structure import ModelParameters, ModelStructure

_COMPILED: Any = None


def _kernel(  # type: ignore[no-untyped-def]
    stock0, backlog0, ready, capacity, plan_rate, base_entry,
    shift_source, shift_destination, shift_columns, shift_share,
    rollover, september_index, transition_from, transition_to, rules_start, rules_at,
    transition_rate, rate_scale, rate_shift, rate_slot, is_up, is_down,
    ceasing_rate, cease_weight, cease_scale, cease_shift, cease_slot,
    transfer_rate, placement_rate, capacity_placement, capacity_overflow, places,
    unit_cost, cost_scale, cost_shift, cost_slot, cost_kind, uplift_factor, fy_index,
    full, keep_stock, age_priced, by_placement,
    out_placement_cost, out_stock_total, out_fees, out_stock_by_placement, out_stock_by_age,
    out_placement_cost_by_placement,
    out_assessments, out_new_plans, out_ceased, out_transferred, out_aged_out,
    out_backlog, out_moves_up, out_moves_down, out_overflow, out_stock,
):  # fmt: skip
    """One month after another for each scenario; arguments as ``contract.NUMBA_ARGUMENTS``.

    Inputs are named as the contract's input slots, outputs ``out_`` + the output slot.
    """
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
            moved_in = 0.0
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
                if by_placement:
                    # the census residual by placement: (1 + r/12)(1 + r_p/12)
                    at_age[a] = 0.0
                    for p in range(n_p):
                        kept = stock[a, p] * factor
                        moved_in += kept * placement_rate[s, p]
                        value = kept * (1.0 + placement_rate[s, p]) + entrants * shifted[a, p]
                        stock[a, p] = value
                        column[p] += value
                        at_age[a] += value
                    continue
                for p in range(n_p):
                    value = stock[a, p] * factor + entrants * shifted[a, p]
                    stock[a, p] = value
                    column[p] += value
                at_age[a] = at_age[a] * factor + entrants * joining[a]
            remaining -= ceased
            moved_in += remaining * rate
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
            fee = 0.0
            everyone = 0.0
            for p in range(n_p):
                j = cost_slot[p]
                if age_priced:  # each age at its own price
                    scale = 1.0
                    shift = 0.0
                    if j >= 0:
                        scale = cost_scale[s, t, j]
                        shift = cost_shift[s, t, j]
                    priced = 0.0
                    for a in range(n_a):
                        priced += stock[a, p] * (scale * unit_cost[s, a, p] + shift)
                    spend = priced * (uplift_factor[s, k, p] / 12.0)
                else:
                    price = unit_cost[s, 0, p]
                    if j >= 0:
                        price = cost_scale[s, t, j] * price + cost_shift[s, t, j]
                    spend = column[p] * (price * uplift_factor[s, k, p] / 12.0)
                cost += spend
                if cost_kind[p] == 1:
                    fee += spend
                everyone += column[p]
                if full:
                    out_stock_by_placement[s, t, p] = column[p]
                    out_placement_cost_by_placement[s, t, p] = spend
            out_placement_cost[s, t] = cost
            out_stock_total[s, t] = everyone
            out_fees[s, t] = fee
            if full:
                for a in range(n_a):
                    out_stock_by_age[s, t, a] = at_age[a]
                out_assessments[s, t] = served
                out_new_plans[s, t] = entrants
                out_ceased[s, t] = ceased
                out_transferred[s, t] = moved_in
                out_backlog[s, t] = queue
                out_overflow[s, t] = spilled
            if keep_stock:
                for a in range(n_a):
                    for p in range(n_p):
                        out_stock[s, t, a, p] = stock[a, p]


def _numba_type(slot: Slot, *, writable: bool) -> Any:
    """Return the numba type of one argument: "A"-layout arrays, inputs read-only."""
    scalar = {"float64": numba.float64, "int64": numba.int64, "bool": numba.boolean}[slot.dtype]
    if not slot.ndim:
        return scalar
    return numba.types.Array(scalar, slot.ndim, "A", readonly=not writable)


def signature() -> Any:
    """Return the kernel's numba signature, built from the contract's tables."""
    inputs = [_numba_type(slot, writable=False) for slot in (*NUMBA_INPUTS, *NUMBA_FLAGS)]
    outputs = [_numba_type(slot, writable=True) for slot in NUMBA_OUTPUTS]
    return numba.types.void(*inputs, *outputs)


def compiled() -> Any:
    """Return the compiled kernel (compiled once per process, cached on disk).

    One explicit signature: one compilation whether an input is contiguous or a zero-stride
    view shared by every scenario (every input is passed as a read-only view).
    """
    global _COMPILED  # noqa: PLW0603 - compile once per process, on first use
    if _COMPILED is None:
        _COMPILED = numba.njit(
            signature(), parallel=True, cache=True, nogil=True, error_model="numpy"
        )(_kernel)
    return _COMPILED


def _rules_by_age(ages: Any) -> tuple[IntArray, IntArray]:
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


def kernel_inputs(
    structure: ModelStructure, params: ModelParameters, prepared: Prepared
) -> dict[str, Any]:
    """Return the kernel's inputs by name (the names of ``NUMBA_INPUTS``).

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    prepared
        Lever paths and derived inputs (:func:`~dsg_forecast.engine.prepare.prepare_inputs`).

    Returns
    -------
    dict of str to ndarray
        One array per input slot, shaped as the contract says.
    """
    st, pa, paths = structure, params, prepared.paths
    tier_step = st.tiers[st.transition_to] - st.tiers[st.transition_from]
    rules_start, rules_at = _rules_by_age(st.transition_ages)
    return {
        "stock0": pa.opening_stock,
        "backlog0": pa.opening_backlog,
        "ready": prepared.ready,
        "capacity": paths.assessment_capacity,
        "plan_rate": pa.plan_rate,
        "base_entry": prepared.entry,
        "shift_source": paths.shift_source,
        "shift_destination": paths.shift_destination,
        "shift_columns": np.unique(np.concatenate([paths.shift_source, paths.shift_destination])),
        "shift_share": paths.shift_share,
        "rollover": st.rollover,
        "september_index": np.cumsum(st.rollover) - 1,
        "transition_from": st.transition_from,
        "transition_to": st.transition_to,
        "rules_start": rules_start,
        "rules_at": rules_at,
        "transition_rate": pa.transition_rate,
        "rate_scale": paths.transition.scale,
        "rate_shift": paths.transition.shift,
        "rate_slot": paths.transition.slot,
        "is_up": (tier_step > 0).astype(np.float64),
        "is_down": (tier_step < 0).astype(np.float64),
        "ceasing_rate": pa.ceasing_rate,
        "cease_weight": prepared.cease_weight,
        "cease_scale": paths.ceasing.scale,
        "cease_shift": paths.ceasing.shift,
        "cease_slot": paths.ceasing.slot,
        "transfer_rate": paths.net_transfer_rate,
        "placement_rate": pa.placement_transfer_rate / 12.0,
        "capacity_placement": st.capacity_placement,
        "capacity_overflow": st.capacity_overflow,
        "places": paths.places,
        "unit_cost": pa.unit_cost,
        "cost_scale": paths.unit_cost.scale,
        "cost_shift": paths.unit_cost.shift,
        "cost_slot": paths.unit_cost.slot,
        "cost_kind": st.cost_kind,
        "uplift_factor": prepared.uplift_factor,
        "fy_index": st.fy_index,
    }


def _allocate(sizes: dict[str, int], *, full: bool, keep_stock: bool) -> dict[str, FloatArray]:
    """Allocate every output of the contract; outputs not filled get one element per axis."""
    out: dict[str, FloatArray] = {}
    for slot in NUMBA_OUTPUTS:
        if slot.name in ALWAYS_FILLED:  # every cell is written
            out[slot.name] = np.empty(tuple(sizes[axis] for axis in slot.shape))
            continue
        filled = keep_stock if slot.name == "stock" else full
        out[slot.name] = np.zeros(tuple(sizes[axis] if filled else 1 for axis in slot.shape))
    return out


def run_numba(
    structure: ModelStructure,
    params: ModelParameters,
    prepared: Prepared,
    *,
    full: bool,
    keep_stock: bool,
) -> dict[str, FloatArray]:
    """Run the compiled kernel and return its outputs by name (the names of ``NUMBA_OUTPUTS``).

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    prepared
        Lever paths and derived inputs (:func:`~dsg_forecast.engine.prepare.prepare_inputs`).
    full
        Fill every series; with False only ``placement_cost`` and ``stock_total`` are
        filled (what sweeps need), the others have one element per axis.
    keep_stock
        Fill the (S, T, A, P) stock.

    Returns
    -------
    dict of str to FloatArray
        Each output, (S, T, ...).
    """
    kernel = compiled()
    sizes = {
        "S": params.n_scenarios,
        "T": structure.n_months,
        "A": len(structure.ages),
        "P": len(structure.placements),
    }
    inputs = kernel_inputs(structure, params, prepared)
    flags = {
        "full": full,
        "keep_stock": keep_stock,
        "age_priced": structure.age_priced,
        "by_placement": bool((params.placement_transfer_rate != 0).any()),
    }
    out = _allocate(sizes, full=full, keep_stock=keep_stock)
    given = {**{k: _read_only(v) for k, v in inputs.items()}, **flags, **out}
    kernel(*(given[slot.name] for slot in NUMBA_ARGUMENTS))
    return out
