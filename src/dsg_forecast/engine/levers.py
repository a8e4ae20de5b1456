"""Resolve parameters and intervention effects into month-by-month paths (MODEL.md §4).

Every lever value is an affine function of its base value, so effects compose in the order
they are listed: ``multiply: m`` gives ``v × (1 + (m − 1)·φ)``, ``add: x`` gives ``v + x·φ``,
where ``φ`` is the intervention's share of full effect in that month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsg_forecast._types import FloatArray, IntArray
from dsg_forecast.inputs import EffectSpec, ModelParameters, ModelStructure


@dataclass(frozen=True, slots=True)
class EntryShift:
    """A resolved ``entry_shift``: share of new plans moved from one placement to another."""

    source: int
    destination: int
    share: FloatArray
    """``share × φ`` in each month, shape (S, T). [fraction]"""


@dataclass(frozen=True, slots=True)
class LeverPaths:
    """Month-by-month values of everything interventions can act on; axis 0 is S."""

    annual_requests: FloatArray
    """``R_year (1 + g)^k`` after the ``requests`` lever, (S, T). [requests yr⁻¹]"""
    refusal_rate: FloatArray
    """(S, T). [fraction]"""
    assessment_capacity: FloatArray
    """(S, T); inf is unlimited. [assessments month⁻¹]"""
    ceasing_fraction: FloatArray
    """``c[a] × w_cease[month]`` after the ``ceasing`` lever, (S, T, A). [fraction month⁻¹]"""
    net_transfer_rate: FloatArray
    """(S, T). [fraction yr⁻¹]"""
    transition_rate: FloatArray
    """(S, T, R). [fraction]"""
    unit_cost: FloatArray
    """Base unit cost after the ``unit_cost`` lever, (S, T, P). [£ child⁻¹ yr⁻¹]"""
    places: tuple[FloatArray, ...]
    """Places of each capacity entry, C arrays of (S, T). [places]"""
    entry_shifts: tuple[EntryShift, ...]


def _apply(value: FloatArray, effect: EffectSpec, size: FloatArray, phi: FloatArray) -> FloatArray:
    """Apply one multiply/add effect; ``size`` is (S,), ``phi`` (S, T) broadcast to ``value``."""
    extra = value.ndim - phi.ndim
    phi_b = phi.reshape(phi.shape + (1,) * extra)
    size_b = size.reshape(size.shape + (1,) * (value.ndim - 1))
    if effect.kind == "multiply":
        with np.errstate(invalid="ignore"):  # inf capacity × 0 stays unlimited below
            out = value * (1.0 + (size_b - 1.0) * phi_b)
        return np.where(np.isinf(value), value, out)
    return value + size_b * phi_b


def resolve_levers(structure: ModelStructure, params: ModelParameters) -> LeverPaths:
    """Return every lever's path after the interventions' effects, in the order listed."""
    st, pa = structure, params
    k = st.fy_index.astype(np.float64)
    cal0: IntArray = st.calendar_month - 1
    phi_all = st.phase[None, :, :] * pa.intervention_on[:, :, None]  # (S, I, T)

    annual_requests = pa.requests_per_year[:, None] * (1.0 + pa.requests_growth[:, None]) ** k
    s_count = pa.n_scenarios
    t_count = st.n_months
    refusal = np.broadcast_to(pa.refusal_rate[:, None], (s_count, t_count)).copy()
    capacity = pa.assessment_capacity[:, st.assessment_capacity_step]
    ceasing = pa.ceasing_rate[:, None, :] * pa.ceasing_profile[:, cal0][:, :, None]
    transfers = np.broadcast_to(pa.net_transfer_rate[:, None], (s_count, t_count)).copy()
    transition = np.broadcast_to(
        pa.transition_rate[:, None, :], (s_count, t_count, pa.transition_rate.shape[1])
    ).copy()
    unit_cost = np.broadcast_to(
        pa.unit_cost[:, None, :], (s_count, t_count, pa.unit_cost.shape[1])
    ).copy()
    places = [values[:, st.capacity_step[c]] for c, values in enumerate(pa.places)]
    shifts: list[EntryShift] = []

    for e, effect in enumerate(st.effects):
        size = pa.effect_value[:, e]
        phi = phi_all[:, effect.intervention, :]
        match effect.lever:
            case "requests":
                annual_requests = _apply(annual_requests, effect, size, phi)
            case "refusal_rate":
                refusal = _apply(refusal, effect, size, phi)
            case "assessment_capacity":
                capacity = _apply(capacity, effect, size, phi)
            case "ceasing":
                ceasing = _apply(ceasing, effect, size, phi)
            case "transfers":
                transfers = _apply(transfers, effect, size, phi)
            case "transition":
                rules = list(effect.targets)
                transition[:, :, rules] = _apply(transition[:, :, rules], effect, size, phi)
            case "unit_cost":
                (p,) = effect.targets
                unit_cost[:, :, p] = _apply(unit_cost[:, :, p], effect, size, phi)
            case "places":
                (c,) = effect.targets
                places[c] = _apply(places[c], effect, size, phi)
            case "entry_shift":
                shifts.append(EntryShift(effect.source, effect.destination, size[:, None] * phi))
    return LeverPaths(
        annual_requests=annual_requests,
        refusal_rate=refusal,
        assessment_capacity=capacity,
        ceasing_fraction=ceasing,
        net_transfer_rate=transfers,
        transition_rate=transition,
        unit_cost=unit_cost,
        places=tuple(places),
        entry_shifts=tuple(shifts),
    )


def lever_violations(structure: ModelStructure, paths: LeverPaths) -> list[str]:
    """Describe every lever path that leaves its valid range, naming the interventions.

    Interventions can push a valid base value out of range (a refusal rate above 1, a
    negative unit cost); this is checked once, before the kernel runs.
    """
    problems: list[str] = []
    n_s = paths.annual_requests.shape[0]

    def check(lever: str, bad: np.ndarray, rule: str) -> None:
        flagged = bad.reshape(bad.shape[0], -1).any(axis=1)
        count = int(flagged.sum())
        if not count:
            return
        names = sorted(
            {structure.interventions[e.intervention] for e in structure.effects if e.lever == lever}
        )
        where = (
            "" if n_s == 1 else f" in {count} of {n_s} scenarios (first: {int(np.argmax(flagged))})"
        )
        problems.append(
            f"lever {lever!r} {rule}{where} once interventions {names} apply; "
            "change their effects so it stays in range"
        )

    check("requests", paths.annual_requests < 0, "falls below 0")
    check("refusal_rate", (paths.refusal_rate < 0) | (paths.refusal_rate > 1), "leaves [0, 1]")
    check("assessment_capacity", paths.assessment_capacity < 0, "falls below 0")
    check(
        "ceasing",
        (paths.ceasing_fraction < 0) | (paths.ceasing_fraction > 1),
        "takes a month's ceasing fraction out of [0, 1]",
    )
    check("transfers", paths.net_transfer_rate < -12, "removes more than the whole stock")
    if paths.transition_rate.shape[2]:
        rates = paths.transition_rate
        check("transition", (rates < 0) | (rates > 1), "takes a rate out of [0, 1]")
        # rates out of one placement at one age must not exceed 1 (MODEL.md §3.1c); rules
        # act only at a September rollover, so only those months need checking
        september = rates[:, structure.rollover, :]
        ages = structure.transition_ages.astype(np.float64)
        for source in np.unique(structure.transition_from):
            rules = structure.transition_from == source
            out = september[:, :, rules] @ ages[rules]  # (S, Septembers, A)
            check(
                "transition", out > 1 + 1e-9, "makes rates out of one placement at one age exceed 1"
            )
    check("unit_cost", paths.unit_cost < 0, "falls below 0")
    for places in paths.places:
        check("places", places < 0, "falls below 0")
    for shift in paths.entry_shifts:
        check("entry_shift", (shift.share < 0) | (shift.share > 1), "takes a share out of [0, 1]")
    return problems
