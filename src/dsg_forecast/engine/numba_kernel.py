"""The monthly cohort flow compiled with numba: blocks of scenarios, in parallel.

It computes the month of MODEL.md §3 from the same prepared inputs as
:mod:`~dsg_forecast.engine.numpy_kernel`, and its results agree with that kernel to 1e-9
relative (the tests check this, and MODEL.md §7 to the penny). Three things differ in how
the month is computed, none in what it computes:

- **Order.** Within a month the assessment pipeline (step 3a: queue, capacity, plans
  issued) runs *before* ceasing and net transfers (step 2), and ceasing, transfers and new
  plans are then applied in one pass over the stock,
  ``N[a, p] <- N[a, p] (1 − c[a] w) (1 + r / 12) + E d[a] q[a, p]``. The pipeline reads
  only the queue, the requests and the capacity, never the stock, so running it first
  changes nothing; the fused update performs per element the same multiplications and
  addition, in the same order, as the numpy kernel's two steps. Entry shifts are applied
  to the new-plan distribution at the top of the month, which depends only on the month.
- **Sums.** Totals by age are carried through the month (transitions and capacity do not
  change them) and totals by placement, and by placement priced at each age's cost, are
  accumulated while the stock is updated, rather than summed afresh with ``einsum``; an
  intervention on a cost per plan is applied to those totals (``scale × Σ N·price + shift
  × Σ N``) rather than to each age. Only placements priced by age
  (``ModelStructure.priced_by_age``) carry ``Σ N·price``; the others cost their total
  times their one price, as the numpy kernel does (on the Wiltshire plan one placement of
  nine is priced by age; skipping the others' sums took 4-5% off the kernel). So sums
  are added in another order, which is why the two kernels agree to rounding (about 1e-14
  relative) rather than bit for bit. Totals and flows by age, and moves up and down a tier,
  are computed only when every series is kept (``full``): a sweep reads none of them, and
  its month is 2-4% faster without them.
- **Overflow.** When a placement is over its places (step 4), its total and its
  overflow's change in the month (by ``share × total``, the share of its plans that
  moves), but the plans themselves, cell by cell, move at the start of the next month's
  pass, as it reads each age (or before September's rollover, which shifts the ages): the
  same multiplications in the same order as moving them at once, so every cell holds
  what it would, without a pass of its own over the two placements' cells (about 5% of
  the kernel's time on the Wiltshire sweep's chunks: 0-8% in six A/B runs on a noisy
  2-core machine). They move at once where the month's stock is kept
  (``keep_stock``), the census residual by placement runs, or an overflow placement is
  priced by age (its total at its prices needs the moves by age). The numbers are the
  same either way, bit for bit (a test).

**Cells no plan can reach are skipped.** :func:`active_cells` marks the (age, placement)
cells that some scenario of the batch opens with plans in or sends new plans to, and those
plans reach by growing older, by transition rules and by overflow; the others stay 0 in
every month, so the month's pass, the entry shifts and the overflow skip them (on the
Wiltshire plan 69 of 234 cells: a fifth less time on one core, a tenth on two; councils
calibrated from SEN2 leave 23-48% of their cells empty). The results are bit for bit those
of computing every cell. Where every cell holds plans the checks cost 6-10%. Likewise
:func:`joining_cells` marks the cells new plans join in some scenario (on the Wiltshire
plan 73 of the 165 that hold plans), and the others' update leaves out the new-plan term,
``E d[a] q[a, p]``, which is 0 there: 4-5% less time on one core, bit for bit the same.

**Layout.** Scenarios run in blocks of :data:`BLOCK` (64), in parallel over blocks. Within
a block the scenario is the innermost, contiguous axis of every array, and the values one
cell's update reads together (its plans, its share of new plans, its cost per plan) sit
side by side, so each loop over the block is packed arithmetic (AVX2/AVX-512) that the
compiler can prove free of overlapping arrays. A block's state (ages × placements × 32)
stays in cache for all its months. A short last block repeats its last scenario in the
spare lanes, whose results are dropped; every lane does the same operations in the same
order, so a scenario's result never depends on the batch, the block or the lane it runs in
(a test).

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
from dsg_forecast.engine.views import one_row

_COMPILED: Any = None


#: Scenarios computed side by side: the innermost, contiguous axis of a block's state, so
#: every update of a cell is a packed loop over the block. Longer loops spread each cell's
#: fixed cost (its checks, addresses and loop set-up) over more scenarios until the block's
#: state outgrows the core's cache: on this project's AVX-512 machine, the Wiltshire sweep's
#: chunk on one thread against blocks of 32, 16 ran 1.67 times as long, 48 0.89, 64
#: 0.84-0.87, 96 0.86, 128 1.11 and 256 0.99 (a block of 64 holds 250 KB of state).
BLOCK = 64
#: Fields of a block's state by age and placement, of its sums by placement, and of the
#: month's per-scenario factors.
STOCK, JOIN, PRICE = 0, 1, 2
COLUMN, VALUED, RESIDUAL = 0, 1, 2
FACTOR, ENTRANTS, WEIGHT, WEIGHT_SCALE, WEIGHT_SHIFT, RATE = range(6)
CEASED, REMAINING, MOVED_IN, LEVEL = range(6, 10)
LANES = 10


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _overflow_at_age(  # type: ignore[no-untyped-def]
    state, spill, pending, waiting, active, full, overflow, a, only=-1
):
    """Move a block's overflowing plans of age ``a`` out of each full placement.

    Capacity constraints act in their declared order: those still ``waiting`` (or only
    constraint ``only``), each moving ``pending[c]`` (a share per lane) of the age's plans
    in placement ``full[c]`` to ``overflow[c]``. ``spill`` is the age's scratch row.
    """
    for c in range(full.shape[0]):
        if not (waiting[c] if only < 0 else c == only) or not active[a, full[c]]:
            continue
        source, share = state[a, full[c]], pending[c]
        # out of the full placement, then into the overflow: one row of the state in each
        # loop, so the compiler can pack them (for all it knows the rows could be one)
        for b in range(share.shape[0]):
            moved = source[STOCK, b] * share[b]
            spill[b] = moved
            source[STOCK, b] -= moved
        destination = state[a, overflow[c]]
        for b in range(share.shape[0]):
            destination[STOCK, b] += spill[b]


def _kernel(  # type: ignore[no-untyped-def]
    stock0, backlog0, ready, capacity, plan_rate, base_entry,
    shift_source, shift_destination, shift_columns, shift_share,
    rollover, september_index, transition_from, transition_to, rules_start, rules_at,
    transition_rate, rate_scale, rate_shift, rate_slot, is_up, is_down,
    ceasing_rate, cease_weight, cease_scale, cease_shift, cease_slot,
    transfer_rate, placement_rate, capacity_placement, capacity_overflow, places,
    unit_cost, cost_scale, cost_shift, cost_slot, cost_kind, uplift_factor, fy_index, active,
    joins, priced_by_age, full, keep_stock, by_placement,
    out_placement_cost, out_stock_total, out_fees, out_stock_by_placement, out_stock_by_age,
    out_placement_cost_by_placement,
    out_assessments, out_new_plans, out_ceased, out_transferred, out_aged_out,
    out_backlog, out_moves_up, out_moves_down, out_overflow, out_stock,
):  # fmt: skip
    """Run one month after another for each block of scenarios.

    Arguments are ``contract.NUMBA_ARGUMENTS``: inputs are named as the contract's input
    slots, outputs ``out_`` + the output slot. Blocks of ``BLOCK`` scenarios run in
    parallel; within a block every per-scenario value is a vector over the block (the last
    axis), so the loops over it are packed. A short last block repeats its last scenario in
    the spare lanes, whose results are dropped.
    """
    n_s, n_a, n_p = stock0.shape
    n_t = rollover.shape[0]
    n_h = shift_source.shape[0]
    n_c = capacity_placement.shape[0]
    n_r = transition_from.shape[0]
    n_blocks = (n_s + BLOCK - 1) // BLOCK
    # overflowing plans move at the start of the next month's pass, where their cells are
    # read anyway, unless the month's stock is kept, the census residual by placement
    # runs, or an overflow placement is priced by age (its value needs the moves by age)
    defer = not keep_stock and not by_placement
    for c in range(n_c):
        if priced_by_age[capacity_overflow[c]]:
            defer = False
    for block in prange(n_blocks):
        first = block * BLOCK
        used = min(BLOCK, n_s - first)
        lane = np.empty(BLOCK, dtype=np.int64)
        for b in range(BLOCK):
            lane[b] = first + min(b, used - 1)
        # the block's state and its per-scenario inputs, scenarios innermost; the fields
        # a month's update reads together sit side by side (state[a, p]: plans, the
        # distribution of new plans, the cost per plan; sums[p]: plans, plans × cost, net
        # transfers by placement), so the compiler sees they cannot overlap and packs the
        # loops without a run-time check on every cell
        state = np.empty((n_a, n_p, 3, BLOCK))
        sums = np.zeros((n_p, 3, BLOCK))
        lanes = np.zeros((LANES, BLOCK))
        lanes[WEIGHT_SCALE] = 1.0
        at_age = np.zeros((n_a, BLOCK))
        moving = np.empty((rules_at.shape[0], BLOCK))
        base = np.empty((n_a, n_p, BLOCK))
        joining = np.zeros((n_a, BLOCK))
        cease = np.empty((n_a, BLOCK))
        # the uplift of each FY, a twelfth a month: (1 + uplift)^k / 12
        uplift = np.empty((uplift_factor.shape[1], n_p, BLOCK))
        for p in range(n_p):
            for b in range(BLOCK):
                sums[p, RESIDUAL, b] = placement_rate[lane[b], p]
                for y in range(uplift_factor.shape[1]):
                    uplift[y, p, b] = uplift_factor[lane[b], y, p] / 12.0
        for a in range(n_a):
            for b in range(BLOCK):
                cease[a, b] = ceasing_rate[lane[b], a]
            for p in range(n_p):
                for b in range(BLOCK):
                    state[a, p, PRICE, b] = unit_cost[lane[b], a, p]
                    state[a, p, STOCK, b] = 0.0
                    state[a, p, JOIN, b] = 0.0
                    base[a, p, b] = 0.0
                if active[a, p]:  # elsewhere no scenario opens with plans
                    for b in range(BLOCK):
                        state[a, p, STOCK, b] = stock0[lane[b], a, p]
                        at_age[a, b] += state[a, p, STOCK, b]
                if joins[a, p]:  # elsewhere no scenario sends new plans
                    for b in range(BLOCK):
                        base[a, p, b] = base_entry[lane[b], a, p]
                        state[a, p, JOIN, b] = base[a, p, b]
                        joining[a, b] += base[a, p, b]
        queue = np.empty(BLOCK)
        up = np.empty(BLOCK)
        down = np.empty(BLOCK)
        share = np.empty(BLOCK)
        spilled = np.empty(BLOCK)
        cost = np.empty(BLOCK)
        fee = np.empty(BLOCK)
        everyone = np.empty(BLOCK)
        spend = np.empty(BLOCK)
        served = np.empty(BLOCK)
        leaving = np.zeros(BLOCK)
        shares = np.zeros((n_h, BLOCK))
        valued = np.empty(BLOCK)  # plans overflowing, at their new placement's prices
        spilt = np.empty((n_a, BLOCK))
        rates = np.empty((n_r, BLOCK))
        # capacity's overflow: the share of each full placement's plans that moves, per
        # lane, moved into its overflow at the start of the next month's pass
        pending = np.zeros((n_c, BLOCK))
        waiting = np.zeros(n_c, dtype=np.bool_)
        any_waiting = False
        for b in range(BLOCK):
            queue[b] = backlog0[lane[b]]
        for t in range(n_t):
            if n_h > 0:
                moves = 0
                for h in range(n_h):
                    for b in range(BLOCK):
                        now = shift_share[lane[b], t, h]
                        moves += now != shares[h, b]
                        shares[h, b] = now
                if moves > 0 or t == 0:
                    # only the placements a shift moves plans between change, and only
                    # in cells new plans join (elsewhere they stay 0)
                    for a in range(n_a):
                        for p in shift_columns:
                            if joins[a, p]:
                                for b in range(BLOCK):
                                    state[a, p, JOIN, b] = base[a, p, b]
                        for h in range(n_h):
                            if not joins[a, shift_source[h]]:
                                continue
                            source, destination = (
                                state[a, shift_source[h]],
                                state[a, shift_destination[h]],
                            )
                            share_h = shares[h]
                            for b in range(BLOCK):
                                moved = source[JOIN, b] * share_h[b]
                                source[JOIN, b] -= moved
                                destination[JOIN, b] += moved
            # 1. September rollover (overflow still to move moves first: ages shift)
            if rollover[t] and any_waiting:
                for a in range(n_a):
                    _overflow_at_age(
                        state, spilt[a], pending, waiting, active, capacity_placement,
                        capacity_overflow, a,
                    )  # fmt: skip
                waiting[:] = False
                any_waiting = False
            if rollover[t]:
                for b in range(BLOCK):
                    leaving[b] = at_age[n_a - 1, b]
                for a in range(n_a - 1, 0, -1):
                    for b in range(BLOCK):
                        at_age[a, b] = at_age[a - 1, b]
                    for p in range(n_p):
                        if active[a, p]:  # (a cell a year younger that holds plans is active)
                            for b in range(BLOCK):
                                state[a, p, STOCK, b] = state[a - 1, p, STOCK, b]
                for b in range(BLOCK):
                    at_age[0, b] = 0.0
                    up[b] = 0.0
                    down[b] = 0.0
                for p in range(n_p):
                    for b in range(BLOCK):
                        state[0, p, STOCK, b] = 0.0
                # each rule's rate this September, gathered once for every age it acts at
                i = september_index[t]
                for r in range(n_r):
                    j = rate_slot[r]
                    for b in range(BLOCK):
                        level = transition_rate[lane[b], r]
                        if j >= 0:
                            level = rate_scale[lane[b], i, j] * level + rate_shift[lane[b], i, j]
                        rates[r, b] = level
                for a in range(n_a):
                    # rules act on the stock before any moved: what each moves, then the moves
                    for k in range(rules_start[a], rules_start[a + 1]):
                        r = rules_at[k]
                        source = state[a, transition_from[r]]
                        for b in range(BLOCK):
                            moving[k, b] = source[STOCK, b] * rates[r, b]
                    for k in range(rules_start[a], rules_start[a + 1]):
                        r = rules_at[k]
                        source = state[a, transition_from[r]]
                        destination = state[a, transition_to[r]]
                        moved = moving[k]
                        for b in range(BLOCK):
                            source[STOCK, b] -= moved[b]
                            destination[STOCK, b] += moved[b]
                        if full:
                            for b in range(BLOCK):
                                up[b] += moved[b] * is_up[r]
                                down[b] += moved[b] * is_down[r]
                if full:
                    for b in range(used):
                        s = first + b
                        out_aged_out[s, t] = leaving[b]
                        out_moves_up[s, t] = up[b]
                        out_moves_down[s, t] = down[b]
            # 3a. the assessment pipeline (its new plans join in the same pass as ceasing)
            for b in range(BLOCK):
                s = lane[b]
                available_now = queue[b] + ready[s, t]
                served[b] = min(capacity[s, t], available_now)
                queue[b] = available_now - served[b]
                lanes[ENTRANTS, b] = served[b] * plan_rate[s]
                lanes[RATE, b] = transfer_rate[s, t] / 12.0
                lanes[CEASED, b] = 0.0
                lanes[REMAINING, b] = 0.0
                lanes[MOVED_IN, b] = 0.0
                lanes[WEIGHT, b] = cease_weight[s, t]
                if cease_slot[0] >= 0:
                    lanes[WEIGHT_SCALE, b] = cease_scale[s, t, 0]
                    lanes[WEIGHT_SHIFT, b] = cease_shift[s, t, 0]
            # 2 + 3b. ceasing, net transfers and new plans, in one pass over the stock:
            #   N[a, p] <- N[a, p] (1 − c[a] w) (1 + r / 12) + E d[a] q[a, p]
            for p in range(n_p):
                for b in range(BLOCK):
                    sums[p, COLUMN, b] = 0.0
                    sums[p, VALUED, b] = 0.0
            acted_on = cease_slot[0] >= 0
            factor, joiners = lanes[FACTOR], lanes[ENTRANTS]
            for a in range(n_a):
                if any_waiting:  # last month's overflow, as this age's cells are read
                    _overflow_at_age(
                        state, spilt[a], pending, waiting, active, capacity_placement,
                        capacity_overflow, a,
                    )  # fmt: skip
                people, joined = at_age[a], joining[a]
                for b in range(BLOCK):
                    level = cease[a, b] * lanes[WEIGHT, b]
                    if acted_on:
                        level = lanes[WEIGHT_SCALE, b] * level + lanes[WEIGHT_SHIFT, b]
                    lanes[LEVEL, b] = level
                    factor[b] = (1.0 - level) * (1.0 + lanes[RATE, b])
                if full:  # totals and flows by age are read only when every series is kept
                    for b in range(BLOCK):
                        lanes[CEASED, b] += people[b] * lanes[LEVEL, b]
                        lanes[REMAINING, b] += people[b]
                        # the age's total after the month, as the cells' update gives it
                        people[b] = people[b] * factor[b] + joiners[b] * joined[b]
                if by_placement:
                    # the census residual by placement: (1 + r/12)(1 + r_p/12)
                    for b in range(BLOCK):
                        people[b] = 0.0
                    for p in range(n_p):
                        if not active[a, p]:
                            continue
                        cell, sum_p = state[a, p], sums[p]
                        for b in range(BLOCK):
                            kept = cell[STOCK, b] * factor[b]
                            lanes[MOVED_IN, b] += kept * sum_p[RESIDUAL, b]
                            value = kept * (1.0 + sum_p[RESIDUAL, b]) + joiners[b] * cell[JOIN, b]
                            cell[STOCK, b] = value
                            sum_p[COLUMN, b] += value
                            sum_p[VALUED, b] += value * cell[PRICE, b]
                            people[b] += value
                    continue
                for p in range(n_p):
                    if not active[a, p]:  # no plans reach it: it stays 0
                        continue
                    cell, sum_p = state[a, p], sums[p]
                    # one loop per case, each a single pass over the cell (updating the
                    # cell and then adding it to the sums in two loops ran 16% slower)
                    by_age = priced_by_age[p]
                    if joins[a, p] and by_age:
                        for b in range(BLOCK):
                            value = cell[STOCK, b] * factor[b] + joiners[b] * cell[JOIN, b]
                            cell[STOCK, b] = value
                            sum_p[COLUMN, b] += value
                            sum_p[VALUED, b] += value * cell[PRICE, b]
                    elif joins[a, p]:
                        for b in range(BLOCK):
                            value = cell[STOCK, b] * factor[b] + joiners[b] * cell[JOIN, b]
                            cell[STOCK, b] = value
                            sum_p[COLUMN, b] += value
                    elif by_age:  # no new plans join this cell in any scenario
                        for b in range(BLOCK):
                            value = cell[STOCK, b] * factor[b]
                            cell[STOCK, b] = value
                            sum_p[COLUMN, b] += value
                            sum_p[VALUED, b] += value * cell[PRICE, b]
                    else:
                        for b in range(BLOCK):
                            value = cell[STOCK, b] * factor[b]
                            cell[STOCK, b] = value
                            sum_p[COLUMN, b] += value
            waiting[:] = False
            any_waiting = False
            for b in range(BLOCK):
                lanes[REMAINING, b] -= lanes[CEASED, b]
                lanes[MOVED_IN, b] += lanes[REMAINING, b] * lanes[RATE, b]
                spilled[b] = 0.0
            # 4. capacity, in declared order: the totals of the two placements involved
            #    change now; the plans move by age at the start of next month's pass
            for c in range(n_c):
                p = capacity_placement[c]
                q = capacity_overflow[c]
                over = 0
                share = pending[c]
                for b in range(BLOCK):
                    total = sums[p, COLUMN, b]
                    excess = max(total - places[lane[b], t, c], 0.0)
                    share[b] = excess / total if excess > 0.0 else 0.0
                    spilled[b] += excess
                    over += excess > 0.0
                if over == 0:
                    continue
                waiting[c] = True
                any_waiting = True
                for b in range(BLOCK):
                    moved = share[b] * sums[p, COLUMN, b]
                    sums[p, COLUMN, b] -= moved
                    sums[q, COLUMN, b] += moved
                if priced_by_age[p]:
                    for b in range(BLOCK):
                        sums[p, VALUED, b] -= share[b] * sums[p, VALUED, b]
                if defer:
                    continue
                for b in range(BLOCK):
                    valued[b] = 0.0
                for a in range(n_a):
                    if not active[a, p]:  # nothing to move
                        continue
                    spill = spilt[a]
                    _overflow_at_age(
                        state, spill, pending, waiting, active, capacity_placement,
                        capacity_overflow, a, c,
                    )  # fmt: skip
                    if priced_by_age[q]:
                        destination = state[a, q]
                        for b in range(BLOCK):
                            valued[b] += spill[b] * destination[PRICE, b]
                if priced_by_age[q]:
                    for b in range(BLOCK):
                        sums[q, VALUED, b] += valued[b]
                waiting[c] = False
            if not defer:
                any_waiting = False
            # 5. cost of the month, from the placement totals
            k = fy_index[t]
            for b in range(BLOCK):
                cost[b] = 0.0
                fee[b] = 0.0
                everyone[b] = 0.0
            for p in range(n_p):
                j = cost_slot[p]
                sum_p, monthly = sums[p], uplift[k, p]
                by_age = priced_by_age[p]
                if j >= 0:  # an intervention acts on the cost per plan
                    for b in range(BLOCK):
                        scale = cost_scale[lane[b], t, j]
                        shift = cost_shift[lane[b], t, j]
                        if by_age:  # Σ_a N (scale × price[a] + shift)
                            priced = scale * sum_p[VALUED, b] + shift * sum_p[COLUMN, b]
                        else:
                            priced = sum_p[COLUMN, b] * (scale * state[0, p, PRICE, b] + shift)
                        spend[b] = priced * monthly[b]
                elif by_age:
                    for b in range(BLOCK):
                        spend[b] = sum_p[VALUED, b] * monthly[b]
                else:
                    for b in range(BLOCK):
                        spend[b] = sum_p[COLUMN, b] * state[0, p, PRICE, b] * monthly[b]
                for b in range(BLOCK):
                    cost[b] += spend[b]
                    everyone[b] += sum_p[COLUMN, b]
                if cost_kind[p] == 1:
                    for b in range(BLOCK):
                        fee[b] += spend[b]
                if full:
                    for b in range(used):
                        out_stock_by_placement[first + b, t, p] = sums[p, COLUMN, b]
                        out_placement_cost_by_placement[first + b, t, p] = spend[b]
            for b in range(used):
                s = first + b
                out_placement_cost[s, t] = cost[b]
                out_stock_total[s, t] = everyone[b]
                out_fees[s, t] = fee[b]
                if full:
                    for a in range(n_a):
                        out_stock_by_age[s, t, a] = at_age[a, b]
                    out_assessments[s, t] = served[b]
                    out_new_plans[s, t] = lanes[ENTRANTS, b]
                    out_ceased[s, t] = lanes[CEASED, b]
                    out_transferred[s, t] = lanes[MOVED_IN, b]
                    out_backlog[s, t] = queue[b]
                    out_overflow[s, t] = spilled[b]
                if keep_stock:
                    for a in range(n_a):
                        for p in range(n_p):
                            out_stock[s, t, a, p] = state[a, p, STOCK, b]


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
    joins = joining_cells(prepared.entry, paths.shift_source, paths.shift_destination)
    active = active_cells(
        pa.opening_stock, joins, st.transition_from, st.transition_to, rules_start, rules_at,
        st.capacity_placement, st.capacity_overflow,
    )  # fmt: skip
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
        "active": active,
        "joins": joins,
        "priced_by_age": st.priced_by_age,
    }


def active_cells(
    stock0: FloatArray,
    joins: np.ndarray[Any, np.dtype[np.bool_]],
    transition_from: IntArray,
    transition_to: IntArray,
    rules_start: IntArray,
    rules_at: IntArray,
    capacity_placement: IntArray,
    capacity_overflow: IntArray,
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Return the (age, placement) cells that plans can reach in any of the scenarios.

    A cell can hold plans if a scenario opens with plans in it or sends new plans to it
    (directly or by an entry shift), or plans reach it by growing older in the same
    placement, by a transition rule at its age out of a cell that can hold plans, or by
    overflowing at the same age from a placement that can. Every other cell stays exactly
    0 all run, in every scenario, so the kernel skips it.

    Parameters
    ----------
    stock0
        Opening stock, (S, A, P).
    joins
        The cells new plans join (:func:`joining_cells`), (A, P).
    transition_from, transition_to
        Source and destination placement of each transition rule.
    rules_start, rules_at
        Rules by age: those of age ``a`` are ``rules_at[rules_start[a]:rules_start[a + 1]]``.
    capacity_placement, capacity_overflow
        Placements with places, and where their excess goes.

    Returns
    -------
    numpy.ndarray
        (A, P) booleans.
    """
    active = _somewhere(stock0) | joins
    while True:
        before = active.copy()
        active = np.logical_or.accumulate(active, axis=0)  # older, in the same placement
        for a in range(active.shape[0]):
            for r in rules_at[rules_start[a] : rules_start[a + 1]]:
                active[a, transition_to[r]] |= active[a, transition_from[r]]
        for full, overflow in zip(capacity_placement, capacity_overflow, strict=True):
            active[:, overflow] |= active[:, full]
        if (active == before).all():
            return active


def joining_cells(
    entry: FloatArray, shift_source: IntArray, shift_destination: IntArray
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Return the (age, placement) cells new plans join in any of the scenarios.

    New plans join where a scenario's distribution of them is not 0, and where an entry
    shift moves a share of them to; in every other cell the month's update adds nothing.

    Parameters
    ----------
    entry
        New plans' distribution before entry shifts, (S, A, P).
    shift_source, shift_destination
        Placements each entry shift moves new plans from and to.

    Returns
    -------
    numpy.ndarray
        (A, P) booleans.
    """
    joins = _somewhere(entry)
    for source, destination in zip(shift_source, shift_destination, strict=True):
        joins[:, destination] |= joins[:, source]
    return joins


def _somewhere(values: FloatArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Return where any scenario's (S, A, P) values are not 0; one row when all share it."""
    rows = one_row(values)
    return np.asarray((rows != 0).any(axis=0))


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
        "by_placement": bool((params.placement_transfer_rate != 0).any()),
    }
    out = _allocate(sizes, full=full, keep_stock=keep_stock)
    given = {**{k: _read_only(v) for k, v in inputs.items()}, **flags, **out}
    kernel(*(given[slot.name] for slot in NUMBA_ARGUMENTS))
    return out
