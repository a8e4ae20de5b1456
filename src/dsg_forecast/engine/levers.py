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
class Affine:
    """A keyed lever: ``value = scale × base + shift`` for the keys an effect acts on.

    Only those keys are stored: ``scale`` and ``shift`` are (S, T', K') with K' the keys
    acted on, and ``slot[k]`` gives key k's column, or −1 where no effect acts (the value
    is then the base). T' is every month, or for transitions only the rollover months.
    """

    scale: FloatArray
    shift: FloatArray
    slot: IntArray

    @property
    def acted_on(self) -> bool:
        """Whether any effect acts on this lever."""
        return bool(self.scale.shape[2])

    def apply(self, base: FloatArray, index: int) -> FloatArray:
        """Return the lever's values (S, K) at time index ``index`` of the stored months."""
        if not self.acted_on:
            return base
        keys = np.flatnonzero(self.slot >= 0)
        out = base.copy()
        columns = self.slot[keys]
        out[:, keys] = self.scale[:, index, columns] * base[:, keys] + self.shift[:, index, columns]
        return out

    def apply_all(self, base: FloatArray) -> FloatArray:
        """Return the lever's values at every stored month, (S, T', K)."""
        out = np.repeat(base[:, None, :], self.scale.shape[1], axis=1)
        if self.acted_on:
            keys = np.flatnonzero(self.slot >= 0)
            columns = self.slot[keys]
            out[:, :, keys] = (
                self.scale[:, :, columns] * base[:, None, keys] + self.shift[:, :, columns]
            )
        return out


@dataclass(frozen=True, slots=True)
class LeverPaths:
    """Month-by-month values of everything interventions can act on; axis 0 is S."""

    annual_requests: FloatArray
    """``R_year (1 + g)^k`` after the ``requests`` lever, (S, T). [requests yr⁻¹]"""
    refusal_rate: FloatArray
    """(S, T). [fraction]"""
    assessment_capacity: FloatArray
    """(S, T); inf is unlimited. [assessments month⁻¹]"""
    net_transfer_rate: FloatArray
    """(S, T). [fraction yr⁻¹]"""
    ceasing: Affine
    """Acts on the month's fraction ``c[a] w_cease[month]``; K = 1."""
    transition: Affine
    """Acts on each rule's rate; K = R; stored for rollover months only (see
    ``ModelStructure.rollover``)."""
    unit_cost: Affine
    """Acts on each placement's base unit cost; K = P."""
    places: FloatArray
    """Places of each capacity entry, (S, T, C). [places]"""
    shift_source: IntArray
    """Placement each entry shift moves new plans from, (H,)."""
    shift_destination: IntArray
    """Placement each entry shift moves new plans to, (H,)."""
    shift_share: FloatArray
    """``share × φ`` of each entry shift in each month, (S, T, H). [fraction]"""

    def ceasing_fraction(self, params: ModelParameters, calendar_month: IntArray) -> FloatArray:
        """Materialise the month's ceasing fraction, (S, T, A) (for checks and tests)."""
        base = (
            params.ceasing_rate[:, None, :]
            * params.ceasing_profile[:, calendar_month - 1][:, :, None]
        )
        return self.ceasing.scale * base + self.ceasing.shift


def _factor(effect: EffectSpec, size: FloatArray, phi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return (multiplier, addend), each (S, T), of one effect in every month."""
    if effect.kind == "multiply":
        return 1.0 + (size[:, None] - 1.0) * phi, np.zeros_like(phi)
    return np.ones_like(phi), size[:, None] * phi


def _apply(value: FloatArray, multiplier: FloatArray, addend: FloatArray) -> FloatArray:
    """Apply an effect to a full (S, T) path; unlimited (inf) values stay unlimited."""
    with np.errstate(invalid="ignore"):  # inf × 0
        out = value * multiplier + addend
    return np.where(np.isinf(value), value, out)


def _affine(keys: int, targets: list[tuple[int, ...]], months: int, n_s: int) -> Affine:
    """Return an identity affine over the keys ``targets`` name (in order of first use)."""
    slot = np.full(keys, -1, dtype=np.int64)
    acted = 0
    for key in (k for group in targets for k in group):
        if slot[key] < 0:
            slot[key] = acted
            acted += 1
    return Affine(np.ones((n_s, months, acted)), np.zeros((n_s, months, acted)), slot)


def resolve_levers(structure: ModelStructure, params: ModelParameters) -> LeverPaths:
    """Return every lever's path after the interventions' effects, in the order listed."""
    st, pa = structure, params
    k = st.fy_index.astype(np.float64)
    n_s, n_t = pa.n_scenarios, st.n_months
    shape = (n_s, n_t)
    phi_all = st.phase[None, :, :] * pa.intervention_on[:, :, None]  # (S, I, T)
    targets: dict[str, list[tuple[int, ...]]] = {"ceasing": [], "transition": [], "unit_cost": []}
    for effect in st.effects:
        if effect.lever in targets:
            targets[effect.lever].append(effect.targets or (0,))
    septembers = np.flatnonzero(st.rollover)

    annual_requests = pa.requests_per_year[:, None] * (1.0 + pa.requests_growth[:, None]) ** k
    refusal = np.broadcast_to(pa.refusal_rate[:, None], shape).copy()
    capacity = pa.assessment_capacity[:, st.assessment_capacity_step]
    transfers = np.broadcast_to(pa.net_transfer_rate[:, None], shape).copy()
    ceasing = _affine(1, targets["ceasing"], n_t, n_s)
    transition = _affine(pa.transition_rate.shape[1], targets["transition"], len(septembers), n_s)
    unit_cost = _affine(pa.unit_cost.shape[1], targets["unit_cost"], n_t, n_s)
    places = np.empty((n_s, n_t, len(pa.places)))
    for c, values in enumerate(pa.places):
        places[:, :, c] = values[:, st.capacity_step[c]]
    sources: list[int] = []
    destinations: list[int] = []
    shares: list[FloatArray] = []

    for e, effect in enumerate(st.effects):
        size = pa.effect_value[:, e]
        phi = phi_all[:, effect.intervention, :]
        if effect.lever == "entry_shift":
            sources.append(effect.source)
            destinations.append(effect.destination)
            shares.append(size[:, None] * phi)
            continue
        multiplier, addend = _factor(effect, size, phi)
        match effect.lever:
            case "requests":
                annual_requests = _apply(annual_requests, multiplier, addend)
            case "refusal_rate":
                refusal = _apply(refusal, multiplier, addend)
            case "assessment_capacity":
                capacity = _apply(capacity, multiplier, addend)
            case "transfers":
                transfers = _apply(transfers, multiplier, addend)
            case "places":
                (c,) = effect.targets
                places[:, :, c] = _apply(places[:, :, c], multiplier, addend)
            case "ceasing" | "transition" | "unit_cost":
                affine = {"ceasing": ceasing, "transition": transition, "unit_cost": unit_cost}[
                    effect.lever
                ]
                if effect.lever == "transition":
                    multiplier, addend = multiplier[:, septembers], addend[:, septembers]
                columns = affine.slot[list(effect.targets or (0,))]
                affine.scale[:, :, columns] *= multiplier[:, :, None]
                affine.shift[:, :, columns] *= multiplier[:, :, None]
                affine.shift[:, :, columns] += addend[:, :, None]
    return LeverPaths(
        annual_requests=annual_requests,
        refusal_rate=refusal,
        assessment_capacity=capacity,
        net_transfer_rate=transfers,
        ceasing=ceasing,
        transition=transition,
        unit_cost=unit_cost,
        places=places,
        shift_source=np.array(sources, dtype=np.int64),
        shift_destination=np.array(destinations, dtype=np.int64),
        shift_share=np.stack(shares, axis=2) if shares else np.zeros((n_s, n_t, 0)),
    )


def lever_violations(
    structure: ModelStructure, params: ModelParameters, paths: LeverPaths
) -> list[str]:
    """Describe every lever path that leaves its valid range, naming the interventions.

    Interventions can push a valid base value out of range (a refusal rate above 1, a
    negative unit cost); this is checked once, before the kernel runs, without
    materialising any (S, T, A) array.
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
        acting = f" once interventions {names} apply" if names else ""
        where = (
            "" if n_s == 1 else f" in {count} of {n_s} scenarios (first: {int(np.argmax(flagged))})"
        )
        problems.append(f"lever {lever!r} {rule}{where}{acting}; it must stay in range")

    check("requests", paths.annual_requests < 0, "falls below 0")
    check("refusal_rate", (paths.refusal_rate < 0) | (paths.refusal_rate > 1), "leaves [0, 1]")
    check("assessment_capacity", paths.assessment_capacity < 0, "falls below 0")
    check("transfers", paths.net_transfer_rate < -12, "removes more than the whole stock")
    # ceasing: scale ≥ 0, so the month's extreme fractions come from the extreme rates
    if paths.ceasing.acted_on:
        weights = params.ceasing_profile[:, structure.calendar_month - 1]  # (S, T)
        rates = params.ceasing_rate
        scale, shift = paths.ceasing.scale[:, :, 0], paths.ceasing.shift[:, :, 0]
        highest = scale * rates.max(axis=1, initial=0.0)[:, None] * weights + shift
        lowest = scale * rates.min(axis=1, initial=0.0)[:, None] * weights + shift
        check(
            "ceasing",
            (highest > 1 + 1e-12) | (lowest < 0),
            "takes a month's ceasing fraction out of [0, 1]",
        )
    if paths.transition.acted_on:
        transition = paths.transition.apply_all(params.transition_rate)  # (S, Septembers, R)
        check("transition", (transition < 0) | (transition > 1), "takes a rate out of [0, 1]")
        # rates out of one placement at one age must not exceed 1 (MODEL.md §3.1c)
        ages = structure.transition_ages.astype(np.float64)
        for source in np.unique(structure.transition_from):
            rules = structure.transition_from == source
            out = transition[:, :, rules] @ ages[rules]  # (S, Septembers, A)
            check(
                "transition", out > 1 + 1e-9, "makes rates out of one placement at one age exceed 1"
            )
    if paths.unit_cost.acted_on:
        cost = paths.unit_cost.apply_all(params.unit_cost)
        check("unit_cost", cost < 0, "falls below 0")
    check("places", paths.places < 0, "falls below 0")
    check(
        "entry_shift",
        (paths.shift_share < 0) | (paths.shift_share > 1),
        "takes a share out of [0, 1]",
    )
    return problems
