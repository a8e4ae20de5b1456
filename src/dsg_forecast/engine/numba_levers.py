"""Lever paths and the compiled kernel's inputs in one compiled pass.

:func:`~dsg_forecast.engine.prepare.checked_paths` and
:func:`~dsg_forecast.engine.prepare.prepare_inputs` build the month-by-month lever paths
(MODEL.md §4), check their ranges and derive the kernel's inputs with whole-array numpy
operations: readable, and the reference, but each a pass over a scenarios × months array
(on a Wiltshire sweep chunk 25-odd of them, 2.7 µs a scenario on one core).
:func:`prepare_compiled` computes the same numbers with the same operations in the same
order, so the same bits (a test compares every input, and the messages, on random
batches), in one compiled loop over groups of :data:`GROUP` scenarios, and flags each
scenario's range violations as it goes; the messages are those of
:func:`~dsg_forecast.engine.levers.lever_violations`. On the Wiltshire sweep it takes
1.3-1.8 µs a scenario on one core.

As in the numpy path, a lever no varying value reaches is stored once, as a zero-stride
view shared by every scenario, and only the first group computes and checks it (the first
scenario's result stands for all, as one row does in the numpy path). The few inputs
computed per scenario rather than per month (growth and uplift powers, the new-plan
distribution, the ceasing weights) come from the numpy path's own functions.

numba is an optional dependency; this module is imported only by the numba engine.
"""

from __future__ import annotations

import weakref
from typing import Any

import numba
import numpy as np

from dsg_forecast._types import LEVERS, BoolArray, FloatArray, IntArray
from dsg_forecast.engine import levers as numpy_levers
from dsg_forecast.engine.levers import Affine, LeverPaths
from dsg_forecast.engine.prepare import Prepared, per_scenario_inputs
from dsg_forecast.engine.structure import ModelParameters, ModelStructure, check_shapes
from dsg_forecast.engine.views import one_row, same_for_all, widen
from dsg_forecast.errors import Issue, ScenarioError

#: Scenarios a thread takes at a time: its scratch paths (group × months × keys) stay in
#: cache.
GROUP = 32
#: Lever codes (positions in ``LEVERS``) and effect kinds, as the compiled loop reads them.
REQUESTS, REFUSAL, CAPACITY, CEASING, TRANSFERS, TRANSITION, ENTRY_SHIFT, UNIT_COST, PLACES = range(
    len(LEVERS)
)
MULTIPLY, ADD, SHARE = 0, 1, 2  # an add and a share both add ``size × φ``
#: Outputs, each one row per scenario (``wide``) or one row for all.
READY, REQUESTED, CAP, MOVED, CEASE, RATE, COST, ROOM, SHARES, FUNDING = range(10)
#: Columns of the per-scenario range flags: each lever's check of
#: ``levers._range_checks``, then one column per placement transition rules move plans out
#: of (their rates at one age must not add up to more than 1).
FLAGS = (
    ("requests", "falls below 0"),
    ("refusal_rate", "leaves [0, 1]"),
    ("assessment_capacity", "falls below 0"),
    ("transfers", "removes more than the whole stock"),
    ("ceasing", "takes a month's ceasing fraction out of [0, 1]"),
    ("transition", "takes a rate out of [0, 1]"),
    ("unit_cost", "falls below 0"),
    ("places", "falls below 0"),
    ("entry_shift", "takes a share out of [0, 1]"),
)
F_REQUESTS, F_REFUSAL, F_CAPACITY, F_TRANSFERS, F_CEASING, F_RATE, F_COST, F_PLACES, F_SHARE = (
    range(len(FLAGS))
)
SUMS_RULE = "makes rates out of one placement at one age exceed 1"

_COMPILED: Any = None


@numba.njit(nogil=True, cache=True)
def _base_paths(first, count, need, paths, base, steps):  # type: ignore[no-untyped-def]
    """Fill a group's plain levers before any effect, as ``levers._base_paths`` does.

    Only the levers the group needs; always the requests and the refusal rate, which make
    the accepted requests.
    """
    annual, refusal, cap, moved, room = paths
    requests_per_year, growth, refusal_rate, capacity_values, transfer_rate, places = base
    fy_index, capacity_step, place_step = steps
    for g in range(count):
        s = first + g
        for t in range(annual.shape[1]):
            annual[g, t] = requests_per_year[s] * growth[s, fy_index[t]]
            refusal[g, t] = refusal_rate[s]
        if need[F_CAPACITY]:
            for t in range(cap.shape[1]):
                cap[g, t] = capacity_values[s, capacity_step[t]]
        if need[F_TRANSFERS]:
            moved[g, :] = transfer_rate[s]
        for c in range(room.shape[2] if need[F_PLACES] else 0):
            for t in range(room.shape[1]):
                room[g, t, c] = places[s, c, place_step[c, t]]


@numba.njit(nogil=True, cache=True)
def _path_effects(path, lever, key, first, count, program, size, on, phase):  # type: ignore[no-untyped-def]
    """Apply each effect on a plain lever to a group's (G, T) paths, in order, in place.

    Row g is scenario ``first + g``. ``multiply: m`` gives ``v (1 + (m − 1) φ)``, ``add: x``
    gives ``v + x φ`` with ``φ = phase × on``, as ``levers._apply``; an unlimited (inf)
    capacity stays unlimited, as ``levers._apply_capacity``. With ``key`` ≥ 0 only the
    effects on that key act (a capacity entry's places).
    """
    kind, lever_of, intervention, start, columns = program
    for e in range(lever_of.shape[0]):
        if lever_of[e] != lever or (key >= 0 and columns[start[e]] != key):
            continue
        i = intervention[e]
        for g in range(count):
            value, switch = size[first + g, e], on[first + g, i]
            for t in range(path.shape[1]):
                phi = phase[i, t] * switch
                if kind[e] == MULTIPLY:
                    new = path[g, t] * (1.0 + (value - 1.0) * phi)
                else:
                    new = path[g, t] + value * phi
                if not (lever == CAPACITY and np.isinf(path[g, t])):
                    path[g, t] = new


@numba.njit(nogil=True, cache=True)
def _affine_effects(values, lever, months, first, count, program, size, on, phase):  # type: ignore[no-untyped-def]
    """Compose each effect on a keyed lever into a group's scale and shift, (2, G, T', K).

    Row m of the lever is month ``months[m]`` (every month, or each rollover); effect e acts
    on the columns ``columns[start[e]:start[e + 1]]``, as ``levers._compose``.
    """
    kind, lever_of, intervention, start, columns = program
    values[0] = 1.0
    values[1] = 0.0
    step = np.empty(months.shape[0])
    for e in range(lever_of.shape[0]):
        if lever_of[e] != lever:
            continue
        i = intervention[e]
        for g in range(count):
            value, switch = size[first + g, e], on[first + g, i]
            for m in range(months.shape[0]):  # the effect's factor (multiply) or addend (add)
                phi = phase[i, months[m]] * switch
                step[m] = 1.0 + (value - 1.0) * phi if kind[e] == MULTIPLY else value * phi
            for j in range(start[e], start[e + 1]):
                scale, shift = values[0, g, :, columns[j]], values[1, g, :, columns[j]]
                if kind[e] == MULTIPLY:
                    for m in range(months.shape[0]):
                        scale[m] *= step[m]
                        shift[m] *= step[m]
                else:
                    for m in range(months.shape[0]):
                        shift[m] += step[m]


@numba.njit(nogil=True, cache=True)
def _check_rules(first, count, rate, base, slot, sets, flags):  # type: ignore[no-untyped-def]
    """Flag rates out of [0, 1], and rates out of one placement at one age above 1.

    A rule's rate is ``scale × base + shift`` where an effect acts on it, else its base
    (``Affine.apply_all``); a set's rates add as numpy's sum along an axis adds them (the
    first, plus the others added in order).
    """
    set_start, set_rules, set_flag = sets
    full = np.empty(base.shape[1])
    over = np.zeros(flags.shape[1], dtype=np.bool_)
    keyed = np.flatnonzero(slot >= 0)  # the other rules keep their base rate all run
    for g in range(count):
        s = first + g
        outside = False
        for r in range(full.shape[0]):
            full[r] = base[s, r]
            outside |= (full[r] < 0) | (full[r] > 1)
        over[:] = False
        for m in range(rate.shape[2]):
            for rule in keyed:
                j = slot[rule]
                full[rule] = rate[0, g, m, j] * base[s, rule] + rate[1, g, m, j]
                outside |= (full[rule] < 0) | (full[rule] > 1)
            for q in range(set_start.shape[0] - 1):
                rest = 0.0
                for k in range(set_start[q] + 1, set_start[q + 1]):
                    rest += full[set_rules[k]]
                over[set_flag[q]] |= full[set_rules[set_start[q]]] + rest > 1 + 1e-9
        flags[s, F_RATE] = outside
        for q in range(set_flag.shape[0]):
            flags[s, set_flag[q]] = over[set_flag[q]]


@numba.njit(nogil=True, cache=True)
def _outside(values, g, low, high):  # type: ignore[no-untyped-def]
    """Whether any of row g's values (any trailing shape) is below ``low`` or above ``high``."""
    row = values[g].ravel()
    found = False
    for k in range(row.shape[0]):  # no early exit: a branch-free loop the compiler packs
        found |= (row[k] < low) | (row[k] > high)
    return found


@numba.njit(nogil=True, cache=True)
def _check(first, count, paths, inputs, checks, slots, sets, calendar_month, flags):  # type: ignore[no-untyped-def]
    """Flag each range a group's levers leave, as ``levers._range_checks`` checks them.

    ``checks[k]`` says whether check k applies and this group computed its lever; flags of
    the others are left False.
    """
    annual, refusal, cap, moved, cease, rate, cost, room, share = paths
    high, low, profile, transition_rate, cheapest = inputs
    for g in range(count):
        s = first + g
        flag = flags[s]
        flag[F_REQUESTS] = checks[F_REQUESTS] and _outside(annual, g, 0.0, np.inf)
        flag[F_REFUSAL] = checks[F_REFUSAL] and _outside(refusal, g, 0.0, 1.0)
        flag[F_CAPACITY] = checks[F_CAPACITY] and _outside(cap, g, 0.0, np.inf)
        flag[F_TRANSFERS] = checks[F_TRANSFERS] and _outside(moved, g, -12.0, np.inf)
        flag[F_PLACES] = checks[F_PLACES] and _outside(room, g, 0.0, np.inf)
        flag[F_SHARE] = checks[F_SHARE] and _outside(share, g, 0.0, 1.0)
        if checks[F_CEASING]:  # scale ≥ 0: the extreme fractions come from the extreme rates
            found = False
            for t in range(cease.shape[2]):
                weight = profile[s, calendar_month[t] - 1]
                highest = cease[0, g, t, 0] * high[s] * weight + cease[1, g, t, 0]
                lowest = cease[0, g, t, 0] * low[s] * weight + cease[1, g, t, 0]
                found |= (highest > 1 + 1e-12) | (lowest < 0)
            flag[F_CEASING] = found
        if checks[F_COST]:  # scale ≥ 0: the cheapest age is the one to check
            found = False
            for t in range(cost.shape[2]):
                for p in range(cheapest.shape[1]):
                    j, base = slots[1][p], cheapest[s, p]
                    found |= (cost[0, g, t, j] * base + cost[1, g, t, j] if j >= 0 else base) < 0
            flag[F_COST] = found
    if checks[F_RATE]:
        _check_rules(first, count, rate, transition_rate, slots[0], sets, flags)


@numba.njit(nogil=True, cache=True)
def _copy_affine(values, g, out, row):  # type: ignore[no-untyped-def]
    """Copy row g of a group's (2, G, T', K) scale and shift to row ``row`` of ``out``."""
    for half in range(2):
        for m in range(values.shape[2]):
            for k in range(values.shape[3]):
                out[half, row, m, k] = values[half, g, m, k]


@numba.njit(nogil=True, cache=True)
def _write(first, count, wide, paths, base, calendar_month, pre_start_month, out):  # type: ignore[no-untyped-def]
    """Write a group's paths and derived inputs to the outputs.

    Each scenario writes its own row of an output that is ``wide``; scenario 0 writes the
    one row of the others.
    """
    annual, refusal, cap, moved, cease, rate, cost, room, share = paths
    requests_per_year, refusal_rate, profile, funding_rate = base
    ready, requests, capacity, transfers, ceasing, rates, costs, places, shares, funding = out
    n_l, n_t, n_c = pre_start_month.shape[0], annual.shape[1], room.shape[2]
    for g in range(count):
        s = first + g
        if wide[READY] or s == 0:
            row = s if wide[READY] else 0
            for k in range(n_l):  # before the start: steady state at the base values
                weight = profile[s, pre_start_month[k] - 1]
                ready[row, k] = requests_per_year[s] * weight * (1.0 - refusal_rate[s])
            for t in range(n_t):
                accepted = annual[g, t] * profile[s, calendar_month[t] - 1] * (1.0 - refusal[g, t])
                ready[row, n_l + t] = accepted
        if wide[REQUESTED] or s == 0:
            row = s if wide[REQUESTED] else 0
            for t in range(n_t):
                requests[row, t] = annual[g, t] * profile[s, calendar_month[t] - 1]
        if wide[CAP] or s == 0:
            capacity[s if wide[CAP] else 0, :] = cap[g, :]
        if wide[MOVED] or s == 0:
            transfers[s if wide[MOVED] else 0, :] = moved[g, :]
        if wide[CEASE] or s == 0:
            _copy_affine(cease, g, ceasing, s if wide[CEASE] else 0)
        if wide[RATE] or s == 0:
            _copy_affine(rate, g, rates, s if wide[RATE] else 0)
        if wide[COST] or s == 0:
            _copy_affine(cost, g, costs, s if wide[COST] else 0)
        if wide[ROOM] or s == 0:
            row = s if wide[ROOM] else 0
            for t in range(n_t):
                for c in range(n_c):
                    places[row, t, c] = room[g, t, c]
        if wide[SHARES] or s == 0:
            row = s if wide[SHARES] else 0
            for t in range(n_t):
                for h in range(share.shape[2]):
                    shares[row, t, h] = share[g, t, h]
        if (wide[FUNDING] or s == 0) and n_c > 0:
            row = s if wide[FUNDING] else 0
            for t in range(n_t):  # entry by entry in declared order (prepare._place_funding)
                total = room[g, t, 0] * funding_rate[s, 0]
                for c in range(1, n_c):
                    total = total + room[g, t, c] * funding_rate[s, c]
                funding[row, t] = total / 12.0


def _resolve(  # type: ignore[no-untyped-def]
    requests_per_year, growth, request_profile, refusal_rate, capacity_values, transfer_rate,
    places_values, place_funding_rate, ceasing_high, ceasing_low, ceasing_profile,
    transition_rate, cheapest, size, on, phase, fy_index, calendar_month, pre_start_month,
    capacity_step, place_step, septembers, kind, lever_of, intervention, start, columns,
    rate_slot, cost_slot, set_start, set_rules, set_flag, wide, checks, compute,
    ready, requests, capacity, transfers, ceasing, rates, costs, places, shares, funding, flags,
):  # fmt: skip
    """Resolve, check and derive every scenario's inputs, a group of scenarios at a time.

    Each group's paths are worked on in scratch arrays (group × months × keys) that stay in
    cache; every scenario's ranges are checked, then the paths written out.
    """
    n_s, n_t = size.shape[0], fy_index.shape[0]
    n_c = place_step.shape[0]
    every = np.arange(n_t)
    program = (kind, lever_of, intervention, start, columns)
    for group in range((n_s + GROUP - 1) // GROUP):
        first = group * GROUP
        count = min(GROUP, n_s - first)
        annual = np.empty((GROUP, n_t))
        refusal = np.empty((GROUP, n_t))
        cap = np.empty((GROUP, n_t))
        moved = np.empty((GROUP, n_t))
        room = np.empty((GROUP, n_t, n_c))
        share = np.zeros((GROUP, n_t, shares.shape[2]))
        cease = np.empty((2, GROUP, n_t, ceasing.shape[3]))
        rate = np.empty((2, GROUP, septembers.shape[0], rates.shape[3]))
        cost = np.empty((2, GROUP, n_t, costs.shape[3]))
        # the levers this group needs: the first group every lever, the others those a
        # varying value reaches (in the order of the flags: F_REQUESTS is the requests
        # lever, and so on); each plain lever's base path, then each effect in order
        need = compute | (first == 0)
        _base_paths(
            first, count, need, (annual, refusal, cap, moved, room),
            (requests_per_year, growth, refusal_rate, capacity_values, transfer_rate,
             places_values), (fy_index, capacity_step, place_step),
        )  # fmt: skip
        if need[F_REQUESTS]:
            _path_effects(annual, REQUESTS, -1, first, count, program, size, on, phase)
        if need[F_REFUSAL]:
            _path_effects(refusal, REFUSAL, -1, first, count, program, size, on, phase)
        if need[F_CAPACITY]:
            _path_effects(cap, CAPACITY, -1, first, count, program, size, on, phase)
        if need[F_TRANSFERS]:
            _path_effects(moved, TRANSFERS, -1, first, count, program, size, on, phase)
        for c in range(n_c if need[F_PLACES] else 0):
            _path_effects(room[:, :, c], PLACES, c, first, count, program, size, on, phase)
        if need[F_CEASING]:
            _affine_effects(cease, CEASING, every, first, count, program, size, on, phase)
        if need[F_RATE]:
            _affine_effects(rate, TRANSITION, septembers, first, count, program, size, on, phase)
        if need[F_COST]:
            _affine_effects(cost, UNIT_COST, every, first, count, program, size, on, phase)
        for e in range(lever_of.shape[0] if need[F_SHARE] else 0):
            if lever_of[e] == ENTRY_SHIFT:
                i, h = intervention[e], columns[start[e]]
                for g in range(count):
                    for t in range(n_t):
                        share[g, t, h] = size[first + g, e] * (phase[i, t] * on[first + g, i])
        paths = (annual, refusal, cap, moved, cease, rate, cost, room, share)
        _check(
            first, count, paths,
            (ceasing_high, ceasing_low, ceasing_profile, transition_rate, cheapest),
            checks & need, (rate_slot, cost_slot), (set_start, set_rules, set_flag), calendar_month,
            flags,
        )  # fmt: skip
        _write(
            first, count, wide, paths,
            (requests_per_year, refusal_rate, request_profile, place_funding_rate),
            calendar_month, pre_start_month,
            (ready, requests, capacity, transfers, ceasing, rates, costs, places, shares, funding),
        )  # fmt: skip


#: The compiled function's arguments in order: name, dtype and dimensions; inputs are
#: read-only views of any layout (zero-stride where shared), outputs C-contiguous.
INPUTS = (
    ("requests_per_year", "f", 1), ("growth", "f", 2), ("request_profile", "f", 2),
    ("refusal_rate", "f", 1), ("capacity_values", "f", 2), ("transfer_rate", "f", 1),
    ("places_values", "f", 3), ("place_funding_rate", "f", 2), ("ceasing_high", "f", 1),
    ("ceasing_low", "f", 1), ("ceasing_profile", "f", 2), ("transition_rate", "f", 2),
    ("cheapest", "f", 2), ("size", "f", 2), ("on", "f", 2), ("phase", "f", 2),
    ("fy_index", "i", 1), ("calendar_month", "i", 1), ("pre_start_month", "i", 1),
    ("capacity_step", "i", 1), ("place_step", "i", 2), ("septembers", "i", 1),
    ("kind", "i", 1), ("lever_of", "i", 1), ("intervention", "i", 1), ("start", "i", 1),
    ("columns", "i", 1), ("rate_slot", "i", 1), ("cost_slot", "i", 1), ("set_start", "i", 1),
    ("set_rules", "i", 1), ("set_flag", "i", 1), ("wide", "b", 1), ("checks", "b", 1),
    ("compute", "b", 1),
)  # fmt: skip
OUTPUTS = (
    ("ready", "f", 2), ("requests", "f", 2), ("capacity", "f", 2), ("transfers", "f", 2),
    ("ceasing", "f", 4), ("rates", "f", 4), ("costs", "f", 4), ("places", "f", 3),
    ("shares", "f", 3), ("funding", "f", 2), ("flags", "b", 2),
)  # fmt: skip
_SCALARS = {"f": numba.float64, "i": numba.int64, "b": numba.boolean}


def compiled() -> Any:
    """Return the compiled resolver (compiled once per process for one signature, cached).

    One thread: a sweep already runs its chunks side by side, each on one thread, and the
    pass is a fifth of the kernel's time; compiled serially it also compiles in half the
    time (13 s against 29 on this project's machine, once, then cached on disk).
    """
    global _COMPILED  # noqa: PLW0603 - compile once per process, on first use
    if _COMPILED is None:
        arguments = [
            numba.types.Array(_SCALARS[dtype], ndim, "A", readonly=True)
            for _, dtype, ndim in INPUTS
        ] + [numba.types.Array(_SCALARS[dtype], ndim, "C") for _, dtype, ndim in OUTPUTS]
        _COMPILED = numba.njit(
            numba.types.void(*arguments), cache=True, nogil=True, error_model="numpy"
        )(_resolve)
    return _COMPILED


def prepare_compiled(
    structure: ModelStructure, params: ModelParameters, *, check: bool = True, requests: bool = True
) -> Prepared:
    """Resolve the levers, check their ranges and derive the compiled kernel's inputs.

    The same numbers as :func:`~dsg_forecast.engine.prepare.checked_paths` followed by
    :func:`~dsg_forecast.engine.prepare.prepare_inputs`, bit for bit, in one compiled pass.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    check
        Check the parameters' shapes, and that interventions keep every lever in range.
    requests
        Also return the requests received in each month (the flows report them; a sweep
        does not need them, and gets an empty array).

    Returns
    -------
    Prepared
        As :func:`~dsg_forecast.engine.prepare.prepare_inputs` returns it, except that the
        yearly requests and refusal rates (inputs of ``ready``) are not kept: their paths
        are empty arrays.

    Raises
    ------
    ShapeError
        If a parameter's shape does not match the structure.
    ScenarioError
        If an intervention pushes a lever out of its valid range.
    """
    st, pa = structure, params
    if check:
        check_shapes(st, pa)
    program = _program_of(st)
    inputs = _inputs(st, pa, program)
    wide, compute, checked = _layout(st, pa, program, requests=requests)
    out = _outputs(st, pa, program, wide)
    inputs.update(wide=wide, compute=compute)
    given = [_read_only(inputs[name], dtype) for name, dtype, _ in INPUTS]
    compiled()(*given, *(out[name] for name, _, _ in OUTPUTS))
    if check:
        flags = out["flags"]
        for column in np.flatnonzero(~checked):  # the first scenario's result stands for all
            flags[:, column] = flags[0, column]
        if not checked[F_RATE]:
            flags[:, len(FLAGS) :] = flags[0, len(FLAGS) :]
        problems = _messages(st, pa.n_scenarios, flags, program["sources"])
        if problems:
            raise ScenarioError([Issue("interventions", problem) for problem in problems])
    return _prepared(st, pa, program, out, requests=requests)


#: Each structure's program, by the structure's identity (it depends on nothing else, and a
#: sweep passes one structure for every chunk); an entry goes when its structure does.
_PROGRAMS: dict[int, tuple[weakref.ref[ModelStructure], dict[str, Any]]] = {}


def _program_of(structure: ModelStructure) -> dict[str, Any]:
    """Return :func:`_program` of ``structure``, built once per structure object.

    Its arrays are read-only: every batch of the structure shares them.
    """
    key = id(structure)
    found = _PROGRAMS.get(key)
    if found is not None and found[0]() is structure:
        return found[1]
    program = _program(structure)
    for value in (*program.values(), *program["slots"].values()):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    _PROGRAMS[key] = (weakref.ref(structure, lambda _: _PROGRAMS.pop(key, None)), program)
    return program


def _program(structure: ModelStructure) -> dict[str, Any]:
    """Return the effects as the compiled loop reads them, and what it checks.

    Besides each effect's lever, kind, intervention and keys: the keyed levers' columns,
    the range checks that apply, and the sets of transition rules whose rates must add up to
    at most 1.
    """
    st = structure
    targets: dict[str, list[tuple[int, ...]]] = {"ceasing": [], "transition": [], "unit_cost": []}
    for effect in st.effects:
        if effect.lever in targets:
            targets[effect.lever].append(effect.targets or (0,))
    keys = {"ceasing": 1, "transition": len(st.transition_from), "unit_cost": len(st.placements)}
    slots = {
        lever: numpy_levers.affine_slots(keys[lever], found) for lever, found in targets.items()
    }
    kinds = {"multiply": MULTIPLY, "add": ADD, "share": SHARE}
    columns: list[list[int]] = []
    shifts = 0
    for effect in st.effects:
        if effect.lever in slots:
            columns.append([int(k) for k in slots[effect.lever][list(effect.targets or (0,))]])
        elif effect.lever == "places":
            columns.append([effect.targets[0]])
        elif effect.lever == "entry_shift":
            columns.append([shifts])
            shifts += 1
        else:
            columns.append([])
    acted = {effect.lever for effect in st.effects}
    added = {effect.lever for effect in st.effects if effect.kind == "add"}
    checks = np.zeros(len(FLAGS), dtype=np.bool_)
    checks[[F_REQUESTS, F_CAPACITY, F_COST, F_PLACES]] = [
        lever in added for lever in ("requests", "assessment_capacity", "unit_cost", "places")
    ]
    checks[[F_REFUSAL, F_TRANSFERS, F_CEASING, F_RATE]] = [
        lever in acted for lever in ("refusal_rate", "transfers", "ceasing", "transition")
    ]
    checks[F_SHARE] = True
    sources, set_rules, set_start, set_flag = _rule_sets(st)
    return {
        "kind": np.array([kinds[e.kind] for e in st.effects], dtype=np.int64),
        "lever_of": np.array([LEVERS.index(e.lever) for e in st.effects], dtype=np.int64),
        "intervention": np.array([e.intervention for e in st.effects], dtype=np.int64),
        "start": np.cumsum([0] + [len(c) for c in columns], dtype=np.int64),
        "columns": np.array([k for c in columns for k in c], dtype=np.int64),
        "slots": slots,
        "shifts": shifts,
        "checks": checks,
        "sources": sources,
        "set_rules": set_rules,
        "set_start": set_start,
        "set_flag": set_flag,
    }


def _rule_sets(structure: ModelStructure) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Return the sets of transition rules whose rates must add up to at most 1.

    Returns the placements rules move plans out of and, for each set of rules out of one
    placement that act at one age, its rules (CSR) and the flag column of its placement.
    """
    found = numpy_levers.rule_sets(structure)
    rules_of_sets = [rules for _, sets in found for rules in sets]
    flag_of_sets = [len(FLAGS) + column for column, (_, sets) in enumerate(found) for _ in sets]
    start = np.cumsum([0] + [len(rules) for rules in rules_of_sets], dtype=np.int64)
    every = np.concatenate(rules_of_sets) if rules_of_sets else np.zeros(0)
    sources = np.array([source for source, _ in found], dtype=np.int64)
    return sources, every.astype(np.int64), start, np.array(flag_of_sets, dtype=np.int64)


def _varies(value: FloatArray) -> bool:
    """Whether a per-scenario input holds more than one row of values."""
    return not same_for_all(value)


def _inputs(
    structure: ModelStructure, params: ModelParameters, program: dict[str, Any]
) -> dict[str, Any]:
    """Return the compiled loop's inputs by name (``wide`` apart), each S rows or one."""
    st, pa = structure, params
    n_s = pa.n_scenarios
    growth = numpy_levers.yearly_growth(one_row(pa.requests_growth), st.n_years)
    widest = max([values.shape[1] for values in pa.places], default=1)
    if all(same_for_all(values) for values in pa.places):
        places = np.zeros((1, len(pa.places), widest))
        for c, values in enumerate(pa.places):
            places[0, c, : values.shape[1]] = values[0]
    else:
        places = np.zeros((n_s, len(pa.places), widest))
        for c, values in enumerate(pa.places):
            places[:, c, : values.shape[1]] = values
    rates = one_row(pa.ceasing_rate)
    cheapest = one_row(pa.unit_cost).min(axis=1) if program["checks"][F_COST] else np.zeros((1, 0))
    found = {
        "requests_per_year": pa.requests_per_year, "growth": growth,
        "request_profile": pa.request_profile, "refusal_rate": pa.refusal_rate,
        "capacity_values": pa.assessment_capacity, "transfer_rate": pa.net_transfer_rate,
        "places_values": places, "place_funding_rate": pa.place_funding_rate,
        "ceasing_high": rates.max(axis=1, initial=0.0),
        "ceasing_low": rates.min(axis=1, initial=0.0), "ceasing_profile": pa.ceasing_profile,
        "transition_rate": pa.transition_rate, "cheapest": cheapest, "size": pa.effect_value,
        "on": pa.intervention_on, "phase": st.phase, "fy_index": st.fy_index,
        "calendar_month": st.calendar_month, "pre_start_month": st.pre_start_calendar_month,
        "capacity_step": st.assessment_capacity_step, "place_step": st.capacity_step,
        "septembers": np.flatnonzero(st.rollover),
        "rate_slot": program["slots"]["transition"], "cost_slot": program["slots"]["unit_cost"],
    }  # fmt: skip
    for name in ("kind", "lever_of", "intervention", "start", "columns", "checks"):
        found[name] = program[name]
    for name in ("set_start", "set_rules", "set_flag"):
        found[name] = program[name]
    per_scenario = {name for name, _, _ in INPUTS[:15]}
    return {
        name: widen(value, n_s) if name in per_scenario else value for name, value in found.items()
    }


def _layout(
    structure: ModelStructure, params: ModelParameters, program: dict[str, Any], *, requests: bool
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Return which outputs need a row per scenario, which levers every group computes, etc.

    The third array says which range checks can differ between scenarios. A lever (in the
    order of ``FLAGS``) varies when a varying base value or the size or switch of a varying
    effect reaches it; a check that applies varies also when the other values it reads vary
    (the ceasing rates, the transition rules' base rates, the unit costs). Every group
    computes the levers that vary, are checked differently, or feed an output with a row per
    scenario; only the first group computes the others (scenario 0's values stand for all,
    as one row stands for all in the numpy path).
    """
    pa = params
    on = [not same_for_all(numpy_levers.uniform(pa.intervention_on[:, i]))
          for i in range(pa.intervention_on.shape[1])]  # fmt: skip
    acted = {
        LEVERS.index(e.lever)
        for k, e in enumerate(structure.effects)
        if on[e.intervention] or not same_for_all(numpy_levers.uniform(pa.effect_value[:, k]))
    }
    varies = np.zeros(len(FLAGS), dtype=np.bool_)
    base = {
        F_REQUESTS: (pa.requests_per_year, pa.requests_growth, pa.request_profile),
        F_REFUSAL: (pa.refusal_rate,), F_CAPACITY: (pa.assessment_capacity,),
        F_TRANSFERS: (pa.net_transfer_rate,), F_PLACES: pa.places,
    }  # fmt: skip
    for column, lever in enumerate((REQUESTS, REFUSAL, CAPACITY, TRANSFERS, CEASING, TRANSITION,
                                    UNIT_COST, PLACES, ENTRY_SHIFT)):  # fmt: skip
        varies[column] = lever in acted or any(_varies(v) for v in base.get(column, ()))
    checked = varies.copy()
    applies = program["checks"]  # a check that does not apply varies with nothing
    checked[F_CEASING] |= applies[F_CEASING] and (
        _varies(pa.ceasing_rate) or _varies(pa.ceasing_profile)
    )
    checked[F_RATE] |= applies[F_RATE] and _varies(pa.transition_rate)
    checked[F_COST] |= applies[F_COST] and _varies(pa.unit_cost)
    wide = np.zeros(10, dtype=np.bool_)
    wide[READY] = varies[F_REQUESTS] or varies[F_REFUSAL]
    wide[REQUESTED] = requests and varies[F_REQUESTS]
    for output, column in (
        (CAP, F_CAPACITY), (MOVED, F_TRANSFERS), (CEASE, F_CEASING), (RATE, F_RATE),
        (COST, F_COST), (ROOM, F_PLACES), (SHARES, F_SHARE),
    ):  # fmt: skip
        wide[output] = varies[column]
    wide[FUNDING] = varies[F_PLACES] or _varies(pa.place_funding_rate)
    compute = checked.copy()
    compute[[F_REQUESTS, F_REFUSAL]] |= wide[READY] or wide[REQUESTED]
    compute[F_PLACES] |= wide[FUNDING]
    return wide, compute, checked


def _outputs(
    structure: ModelStructure, params: ModelParameters, program: dict[str, Any], wide: BoolArray
) -> dict[str, Any]:
    """Allocate the compiled loop's outputs: one row, or one per scenario (``wide``)."""
    st = structure
    n_s, n_t = params.n_scenarios, st.n_months
    rows = [n_s if flag else 1 for flag in wide]
    acted = {lever: int((slot >= 0).sum()) for lever, slot in program["slots"].items()}
    septembers = int(st.rollover.sum())
    return {
        "ready": np.empty((rows[READY], st.assessment_months + n_t)),
        "requests": np.empty((rows[REQUESTED], n_t)),
        "capacity": np.empty((rows[CAP], n_t)),
        "transfers": np.empty((rows[MOVED], n_t)),
        "ceasing": np.empty((2, rows[CEASE], n_t, acted["ceasing"])),
        "rates": np.empty((2, rows[RATE], septembers, acted["transition"])),
        "costs": np.empty((2, rows[COST], n_t, acted["unit_cost"])),
        "places": np.empty((rows[ROOM], n_t, len(st.capacity_placement))),
        "shares": np.empty((rows[SHARES], n_t, program["shifts"])),
        "funding": np.zeros((rows[FUNDING], n_t)),
        "flags": np.zeros((n_s, len(FLAGS) + len(program["sources"])), dtype=np.bool_),
    }


def _messages(
    structure: ModelStructure, n_s: int, flags: BoolArray, sources: IntArray
) -> list[str]:
    """Return the range violations' messages, in the order the numpy checks give them."""
    order = [*range(F_COST), *(len(FLAGS) + k for k in range(len(sources))), F_COST, F_PLACES,
             F_SHARE]  # fmt: skip
    problems = []
    for column in order:
        lever, rule = FLAGS[column] if column < len(FLAGS) else ("transition", SUMS_RULE)
        message = numpy_levers.violation(structure, n_s, lever, flags[:, column], rule)
        if message:
            problems.append(message)
    return problems


def _prepared(
    structure: ModelStructure,
    params: ModelParameters,
    program: dict[str, Any],
    out: dict[str, Any],
    *,
    requests: bool,
) -> Prepared:
    """Return the compiled loop's outputs as the numpy path's ``Prepared``."""
    n_s = params.n_scenarios
    released = np.empty((0, 0))
    slots = program["slots"]

    def affine(values: FloatArray, lever: str) -> Affine:
        return Affine(widen(values[0], n_s), widen(values[1], n_s), slots[lever])

    effects = [e for e in structure.effects if e.lever == "entry_shift"]
    paths = LeverPaths(
        annual_requests=released,
        refusal_rate=released,
        assessment_capacity=widen(out["capacity"], n_s),
        net_transfer_rate=widen(out["transfers"], n_s),
        ceasing=affine(out["ceasing"], "ceasing"),
        transition=affine(out["rates"], "transition"),
        unit_cost=affine(out["costs"], "unit_cost"),
        places=widen(out["places"], n_s),
        shift_source=np.array([e.source for e in effects], dtype=np.int64),
        shift_destination=np.array([e.destination for e in effects], dtype=np.int64),
        shift_share=widen(out["shares"], n_s),
    )
    entry, uplift_factor, cease_weight = per_scenario_inputs(structure, params)
    return Prepared(
        paths=paths,
        requests=widen(out["requests"], n_s) if requests else released,
        ready=widen(out["ready"], n_s),
        entry=entry,
        uplift_factor=uplift_factor,
        cease_weight=cease_weight,
        place_funding=widen(out["funding"], n_s),
    )


def _read_only(value: Any, dtype: str) -> Any:
    """Return a read-only array view of the signature's dtype (its inputs are read-only)."""
    kinds: dict[str, Any] = {"f": np.float64, "i": np.int64, "b": np.bool_}
    view: np.ndarray[Any, Any] = np.asarray(value, dtype=kinds[dtype]).view()
    view.flags.writeable = False
    return view
