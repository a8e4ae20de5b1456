"""Resolve parameters and intervention effects into month-by-month paths (MODEL.md §4).

Every lever value is an affine function of its base value, so effects compose in the order
they are listed: ``multiply: m`` gives ``v × (1 + (m − 1)·φ)``, ``add: x`` gives ``v + x·φ``,
where ``φ`` is the intervention's share of full effect in that month.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dsg_forecast._types import BoolArray, FloatArray, IntArray
from dsg_forecast.engine.structure import EffectSpec, ModelParameters, ModelStructure
from dsg_forecast.engine.views import one_row, same_for_all, widen


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
        """Return the lever's values at time index ``index`` of the stored months.

        The keys are the last axis of ``base``; a middle axis (ages, for unit costs) takes
        the same scale and shift.

        Parameters
        ----------
        base : FloatArray, shape (S, K) or (S, A, K)
            The lever's base values.
        index
            Which stored month (every month, or for transitions each rollover month).

        Returns
        -------
        FloatArray, shaped as ``base``
            ``scale × base + shift`` for the keys acted on, the base elsewhere.
        """
        if not self.acted_on:
            return base
        keys = np.flatnonzero(self.slot >= 0)
        out = base.copy()
        columns = self.slot[keys]
        scale, shift = self.scale[:, index, columns], self.shift[:, index, columns]
        if base.ndim == 3:
            scale, shift = scale[:, None, :], shift[:, None, :]
        out[..., keys] = scale * base[..., keys] + shift
        return out

    def apply_all(self, base: FloatArray) -> FloatArray:
        """Return the lever's values at every stored month, (S, T', K).

        Parameters
        ----------
        base : FloatArray, shape (S, K)
            The lever's base values.

        Returns
        -------
        FloatArray, shape (S, T', K)
            The values in every stored month.
        """
        rows = max(base.shape[0], self.scale.shape[0])
        wide = np.broadcast_to(base, (rows, base.shape[1]))
        out = np.repeat(wide[:, None, :], self.scale.shape[1], axis=1)
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
        """Materialise the month's ceasing fraction, (S, T, A) (for checks and tests).

        Parameters
        ----------
        params
            The parameters the paths were resolved from.
        calendar_month : IntArray, shape (T,)
            Calendar month 1..12 of each projected month.

        Returns
        -------
        FloatArray, shape (S, T, A)
            The share of the stock at each age that ceases in each month.
        """
        base = (
            params.ceasing_rate[:, None, :]
            * params.ceasing_profile[:, calendar_month - 1][:, :, None]
        )
        return self.ceasing.scale * base + self.ceasing.shift


def _factor(effect: EffectSpec, size: FloatArray, phi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return (multiplier, addend), each (S, T), of one effect in every month."""
    if effect.kind == "multiply":
        return 1.0 + (size[:, None] - 1.0) * phi, np.zeros((1, 1))
    return np.ones((1, 1)), size[:, None] * phi


def _apply(value: FloatArray, effect: EffectSpec, size: FloatArray, phi: FloatArray) -> FloatArray:
    """Apply one multiply or add effect to a full (S, T) path."""
    if effect.kind == "add":
        return value + size[:, None] * phi
    return value * (1.0 + (size[:, None] - 1.0) * phi)


def _apply_capacity(
    value: FloatArray, effect: EffectSpec, size: FloatArray, phi: FloatArray
) -> FloatArray:
    """As :func:`_apply`, but unlimited (inf) capacity stays unlimited."""
    with np.errstate(invalid="ignore"):  # inf × 0
        out = _apply(value, effect, size, phi)
    return np.where(np.isinf(value), value, out)


def affine_slots(keys: int, targets: list[tuple[int, ...]]) -> IntArray:
    """Return each key's column in a keyed lever, in order of first use (−1: no effect).

    Parameters
    ----------
    keys
        How many keys the lever has (1 for ceasing, R rules, P placements).
    targets
        The keys each effect on the lever acts on, in the order the effects apply.

    Returns
    -------
    IntArray, shape (keys,)
        ``Affine.slot``.
    """
    slot = np.full(keys, -1, dtype=np.int64)
    acted = 0
    for key in (k for group in targets for k in group):
        if slot[key] < 0:
            slot[key] = acted
            acted += 1
    return slot


def _affine(keys: int, targets: list[tuple[int, ...]], months: int, rows: int) -> Affine:
    """Return an identity affine over the keys ``targets`` name (in order of first use)."""
    slot = affine_slots(keys, targets)
    acted = int((slot >= 0).sum())
    return Affine(np.ones((rows, months, acted)), np.zeros((rows, months, acted)), slot)


def uniform(column: FloatArray) -> FloatArray:
    """Return one row of a per-scenario column whose values are all the same, else it all.

    Parameters
    ----------
    column : FloatArray, shape (S,)
        One value per scenario.

    Returns
    -------
    FloatArray, shape (1,) or (S,)
        Its first row when every scenario has the same value, else the column.
    """
    if same_for_all(column) or bool((column == column[0]).all()):
        return column[:1]
    return column


def resolve_levers(structure: ModelStructure, params: ModelParameters) -> LeverPaths:
    """Return every lever's path after the interventions' effects, in the order listed.

    Paths fed only by parameters that are the same for every scenario are computed once
    and returned as zero-stride views, so a sweep pays only for what it varies.

    Parameters
    ----------
    structure
        What every scenario shares (the interventions' effects and phase-in).
    params
        Numbers with a leading scenario axis S.

    Returns
    -------
    LeverPaths
        Every lever's month-by-month path, scenario axis first.
    """
    st = structure
    n_s, n_t = params.n_scenarios, st.n_months
    pa = params.collapsed()
    phis, sizes, targets, rows = _effect_inputs(st, pa)
    septembers = np.flatnonzero(st.rollover)

    paths = _base_paths(st, pa)
    affines = {
        "ceasing": _affine(1, targets["ceasing"], n_t, rows["ceasing"]),
        "transition": _affine(
            pa.transition_rate.shape[1], targets["transition"], len(septembers), rows["transition"]
        ),
        "unit_cost": _affine(pa.unit_cost.shape[-1], targets["unit_cost"], n_t, rows["unit_cost"]),
    }
    places = _base_places(st, pa, rows["places"])
    sources: list[int] = []
    destinations: list[int] = []
    shares: list[FloatArray] = []

    for e, effect in enumerate(st.effects):
        size = sizes[e]
        phi = phis[effect.intervention]
        if effect.lever == "entry_shift":
            sources.append(effect.source)
            destinations.append(effect.destination)
            shares.append(widen(size[:, None] * phi, rows["entry_shift"]))
        elif effect.lever == "places":
            (c,) = effect.targets
            places[:, :, c] = _apply(places[:, :, c], effect, size, phi)
        elif effect.lever in affines:
            if effect.lever == "transition":  # rules act only at the September rollovers
                phi = phi[:, septembers]
            _compose(affines[effect.lever], effect, size, phi)
        elif effect.lever == "assessment_capacity":
            paths[effect.lever] = _apply_capacity(paths[effect.lever], effect, size, phi)
        else:
            paths[effect.lever] = _apply(paths[effect.lever], effect, size, phi)

    def wide_affine(affine: Affine) -> Affine:
        return Affine(widen(affine.scale, n_s), widen(affine.shift, n_s), affine.slot)

    return LeverPaths(
        annual_requests=widen(paths["requests"], n_s),
        refusal_rate=widen(paths["refusal_rate"], n_s),
        assessment_capacity=widen(paths["assessment_capacity"], n_s),
        net_transfer_rate=widen(paths["transfers"], n_s),
        ceasing=wide_affine(affines["ceasing"]),
        transition=wide_affine(affines["transition"]),
        unit_cost=wide_affine(affines["unit_cost"]),
        places=widen(places, n_s),
        shift_source=np.array(sources, dtype=np.int64),
        shift_destination=np.array(destinations, dtype=np.int64),
        shift_share=widen(np.stack(shares, axis=2) if shares else np.zeros((1, n_t, 0)), n_s),
    )


def _effect_inputs(
    structure: ModelStructure, pa: ModelParameters
) -> tuple[list[FloatArray], list[FloatArray], dict[str, list[tuple[int, ...]]], dict[str, int]]:
    """Return the phase-ins, the effects' sizes, and the keys and rows of each keyed lever.

    Sizes and phase-ins keep one row where they are the same for every scenario, so a lever
    acted on only by such effects is computed once however many other effects vary.
    """
    on = [uniform(pa.intervention_on[:, i]) for i in range(pa.intervention_on.shape[1])]
    phis = [structure.phase[i][None, :] * column[:, None] for i, column in enumerate(on)]
    sizes = [uniform(pa.effect_value[:, e]) for e in range(len(structure.effects))]
    targets: dict[str, list[tuple[int, ...]]] = {
        "ceasing": [], "transition": [], "unit_cost": [], "places": [], "entry_shift": []
    }  # fmt: skip
    rows = dict.fromkeys(targets, 1)
    for e, effect in enumerate(structure.effects):
        if effect.lever in targets:
            targets[effect.lever].append(effect.targets or (0,))
            width = max(sizes[e].shape[0], phis[effect.intervention].shape[0])
            rows[effect.lever] = max(rows[effect.lever], width)
    return phis, sizes, targets, rows


def yearly_growth(rate: FloatArray, n_years: int) -> FloatArray:
    """Return ``(1 + rate)^k`` for each scenario's rate and FY k = 0..Y−1, (S, Y).

    Parameters
    ----------
    rate : FloatArray, shape (S,)
        Annual growth of each scenario.
    n_years
        Financial years Y.

    Returns
    -------
    FloatArray, shape (S, Y)
        The growth factor of each FY.
    """
    years = np.arange(n_years, dtype=np.float64)
    growth: FloatArray = (1.0 + rate[:, None]) ** years
    return growth


def rule_sets(structure: ModelStructure) -> list[tuple[int, list[IntArray]]]:
    """Return the sets of transition rules whose rates must add up to at most 1.

    For each placement rules move plans out of, the sets of its rules that act at one age
    (MODEL.md §3.1c).

    Parameters
    ----------
    structure
        What every scenario shares (the rules and the ages they act at).

    Returns
    -------
    list of (int, list of IntArray)
        Each source placement, in increasing order, with the rule indices of each distinct
        set (sets acting at no age left out).
    """
    found = []
    for source in np.unique(structure.transition_from):
        rules = np.flatnonzero(structure.transition_from == source)
        sets = np.unique(structure.transition_ages[rules].T, axis=0)  # (distinct, rules)
        found.append((int(source), [rules[chosen] for chosen in sets if chosen.any()]))
    return found


def _base_paths(structure: ModelStructure, pa: ModelParameters) -> dict[str, FloatArray]:
    """Return the month-by-month paths of the plain levers before any intervention."""
    ones = np.ones(structure.n_months)
    # (1 + g)^k once a FY, then for each month its FY's: the same numbers, 12 times fewer powers
    growth = yearly_growth(pa.requests_growth, structure.n_years)[:, structure.fy_index]
    return {
        "requests": pa.requests_per_year[:, None] * growth,
        "refusal_rate": pa.refusal_rate[:, None] * ones,
        "assessment_capacity": pa.assessment_capacity[:, structure.assessment_capacity_step],
        "transfers": pa.net_transfer_rate[:, None] * ones,
    }


def _base_places(structure: ModelStructure, pa: ModelParameters, rows: int) -> FloatArray:
    """Return the places of each capacity entry in each month, (rows, T, C).

    ``rows`` is 1, or S where a ``places`` effect varies by scenario.
    """
    place_rows = max([values.shape[0] for values in pa.places] + [rows])
    places = np.empty((place_rows, structure.n_months, len(pa.places)))
    for c, values in enumerate(pa.places):
        places[:, :, c] = values[:, structure.capacity_step[c]]
    return places


def _compose(affine: Affine, effect: EffectSpec, size: FloatArray, phi: FloatArray) -> None:
    """Compose one multiply or add effect onto the keys it acts on, in place."""
    multiplier, addend = _factor(effect, size, phi)
    slots = affine.slot[list(effect.targets or (0,))]
    if len(slots) and bool((np.diff(slots) == 1).all()):
        # a run of neighbouring keys: views, worked on in place (no copies)
        run = slice(int(slots[0]), int(slots[-1]) + 1)
        scale, shift = affine.scale[:, :, run], affine.shift[:, :, run]
        if effect.kind == "multiply":
            np.multiply(scale, multiplier[:, :, None], out=scale)
            np.multiply(shift, multiplier[:, :, None], out=shift)
        else:
            np.add(shift, addend[:, :, None], out=shift)
        return
    if effect.kind == "multiply":
        affine.scale[:, :, slots] *= multiplier[:, :, None]
        affine.shift[:, :, slots] *= multiplier[:, :, None]
    else:
        affine.shift[:, :, slots] += addend[:, :, None]


def _collapse_paths(paths: LeverPaths) -> LeverPaths:
    """Keep one row of every path that is the same for every scenario."""
    one = one_row

    def affine(value: Affine) -> Affine:
        return Affine(one(value.scale), one(value.shift), value.slot)

    return LeverPaths(
        annual_requests=one(paths.annual_requests),
        refusal_rate=one(paths.refusal_rate),
        assessment_capacity=one(paths.assessment_capacity),
        net_transfer_rate=one(paths.net_transfer_rate),
        ceasing=affine(paths.ceasing),
        transition=affine(paths.transition),
        unit_cost=affine(paths.unit_cost),
        places=one(paths.places),
        shift_source=paths.shift_source,
        shift_destination=paths.shift_destination,
        shift_share=one(paths.shift_share),
    )


def lever_violations(
    structure: ModelStructure, params: ModelParameters, paths: LeverPaths
) -> list[str]:
    """Describe every lever path that leaves its valid range, naming the interventions.

    Interventions can push a valid base value out of range (a refusal rate above 1, a
    negative unit cost); this is checked once, before the kernel runs, without
    materialising any (S, T, A) array.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        The parameters the paths were resolved from.
    paths
        The resolved paths.

    Returns
    -------
    list of str
        One message per lever out of range, naming the interventions acting on it and, in a
        batch, how many scenarios break it; empty when every lever stays in range.
    """
    problems: list[str] = []
    n_s = paths.annual_requests.shape[0]
    rows = _collapse_paths(paths)
    pa = params.collapsed()

    for lever, bad, rule in _range_checks(structure, pa, rows):
        flagged = np.asarray(bad.reshape(bad.shape[0], -1).any(axis=1))
        message = violation(structure, n_s, lever, flagged, rule)
        if message:
            problems.append(message)
    return problems


def violation(
    structure: ModelStructure, n_s: int, lever: str, flagged: BoolArray, rule: str
) -> str | None:
    """Describe one range check's failures, naming the interventions acting on the lever.

    Parameters
    ----------
    structure
        What every scenario shares (the interventions and their effects).
    n_s
        How many scenarios were checked.
    lever
        The lever checked.
    flagged : BoolArray, shape (S,) or (1,)
        The scenarios that break the rule; one row stands for every scenario.
    rule
        What the lever does wrong, as a phrase ("leaves [0, 1]").

    Returns
    -------
    str or None
        The message; None when no scenario breaks the rule.
    """
    if flagged.shape[0] == 1 and n_s > 1:  # one row stands for every scenario
        flagged = np.broadcast_to(flagged, (n_s,))
    count = int(flagged.sum())
    if not count:
        return None
    names = sorted(
        {structure.interventions[e.intervention] for e in structure.effects if e.lever == lever}
    )
    acting = f" once interventions {names} apply" if names else ""
    where = "" if n_s == 1 else f" in {count} of {n_s} scenarios (first: {int(np.argmax(flagged))})"
    return f"lever {lever!r} {rule}{where}{acting}; it must stay in range"


def _range_checks(
    structure: ModelStructure, pa: ModelParameters, rows: LeverPaths
) -> Iterator[tuple[str, BoolArray, str]]:
    """Yield (lever, where it is out of range, the rule) for every check that can fail."""
    # validated base values can leave their range only through an effect; a multiply
    # (by a factor >= 0) cannot take a value below 0
    acted = {effect.lever for effect in structure.effects}
    added = {effect.lever for effect in structure.effects if effect.kind == "add"}
    if "requests" in added:
        yield ("requests", rows.annual_requests < 0, "falls below 0")
    if "refusal_rate" in acted:
        yield ("refusal_rate", (rows.refusal_rate < 0) | (rows.refusal_rate > 1), "leaves [0, 1]")
    if "assessment_capacity" in added:
        yield ("assessment_capacity", rows.assessment_capacity < 0, "falls below 0")
    if "transfers" in acted:
        yield ("transfers", rows.net_transfer_rate < -12, "removes more than the whole stock")
    # ceasing: scale ≥ 0, so the month's extreme fractions come from the extreme rates
    if rows.ceasing.acted_on:
        weights = pa.ceasing_profile[:, structure.calendar_month - 1]  # (S, T)
        rates = pa.ceasing_rate
        scale, shift = rows.ceasing.scale[:, :, 0], rows.ceasing.shift[:, :, 0]
        highest = scale * rates.max(axis=1, initial=0.0)[:, None] * weights + shift
        lowest = scale * rates.min(axis=1, initial=0.0)[:, None] * weights + shift
        yield (
            "ceasing",
            (highest > 1 + 1e-12) | (lowest < 0),
            "takes a month's ceasing fraction out of [0, 1]",
        )
    if rows.transition.acted_on:
        transition = rows.transition.apply_all(pa.transition_rate)  # (S, Septembers, R)
        yield ("transition", (transition < 0) | (transition > 1), "takes a rate out of [0, 1]")
        # rates out of one placement at one age must not exceed 1 (MODEL.md §3.1c)
        # (sums over each distinct set of rules that share an age, not a matrix product:
        # a handful of additions, and no BLAS threads to wake for every chunk)
        for _, sets in rule_sets(structure):
            out = np.stack(
                [transition[:, :, rules].sum(axis=2) for rules in sets], axis=2
            )  # (S, Septembers, distinct sets)
            yield (
                "transition",
                out > 1 + 1e-9,
                "makes rates out of one placement at one age exceed 1",
            )
    if "unit_cost" in added:
        # scale ≥ 0 (a multiply ≥ 0, or an add's 1), so the cheapest age is the one to check
        cost = rows.unit_cost.apply_all(pa.unit_cost.min(axis=1))
        yield ("unit_cost", cost < 0, "falls below 0")
    if "places" in added:
        yield ("places", rows.places < 0, "falls below 0")
    yield (
        "entry_shift",
        (rows.shift_share < 0) | (rows.shift_share > 1),
        "takes a share out of [0, 1]",
    )
