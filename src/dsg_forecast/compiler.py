"""Turn a validated :class:`~dsg_forecast.schema.Scenario` into engine arrays.

This is the only place where schema models become arrays (STYLE §2). It reads the
scenario's age bands and step schedules as the schema expanded them when it validated the
scenario (:attr:`Scenario.expanded`), and builds the arrays section by section: the
calendar, demand, transitions, capacity, costs and funding, and the interventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsg_forecast._types import FloatArray, IntArray
from dsg_forecast.engine.structure import EffectSpec, ModelParameters, ModelStructure
from dsg_forecast.errors import ArgumentTypeError
from dsg_forecast.periods import (
    SEPTEMBER,
    calendar_month,
    fy_start_year,
    months_between,
    parse_fy,
    parse_month,
)
from dsg_forecast.schema.scenario import Effect, Scenario


@dataclass(frozen=True, slots=True)
class _Calendar:
    """The months of a projection and the financial years they fall in."""

    months: IntArray
    calendar_month: IntArray
    fy_index: IntArray
    fy_labels: tuple[str, ...]
    months_in_fy: FloatArray
    first_fy: int

    def per_fy(self, mapping: Mapping[str, float]) -> FloatArray:
        """Return amounts by FY label as an array over the projection's FYs (0 where absent)."""
        out = np.zeros(len(self.fy_labels))
        for label, value in mapping.items():
            out[self.fy_labels.index(label)] = value
        return out


def compile_scenario(scenario: Scenario) -> tuple[ModelStructure, ModelParameters]:
    """Return the structure and the parameters (S = 1) of a scenario.

    Parameters
    ----------
    scenario
        A validated scenario.

    Returns
    -------
    structure : ModelStructure
        What every scenario of a batch shares.
    params : ModelParameters
        Every number, with a scenario axis of length 1.

    Raises
    ------
    ArgumentTypeError
        If ``scenario`` is not a :class:`~dsg_forecast.schema.scenario.Scenario` (a mapping
        read from a file must be validated first).

    Examples
    --------
    >>> from dsg_forecast import compile_scenario, load_scenario
    >>> structure, params = compile_scenario(load_scenario("examples/worked_example.yaml"))
    >>> structure.n_months, structure.fy_labels, params.opening_stock.shape
    (36, ('2024-25', '2025-26', '2026-27'), (1, 4, 3))
    """
    if not isinstance(scenario, Scenario):
        msg = (
            f"a projection takes a validated Scenario, not a {type(scenario).__name__}: "
            "load one with dsg_forecast.load_scenario(path), or validate a mapping with "
            "dsg_forecast.schema.scenario_from_mapping(data)"
        )
        raise ArgumentTypeError(msg)
    s = scenario
    calendar = _calendar(s)
    pieces: dict[str, Any] = {}
    for build in (_demand, _transitions, _capacity, _costs, _funding_and_agreement, _interventions):
        pieces.update(build(s, calendar))
    structure_fields = set(ModelStructure.__dataclass_fields__)
    structure = ModelStructure(
        months=calendar.months,
        calendar_month=calendar.calendar_month,
        fy_index=calendar.fy_index,
        fy_labels=calendar.fy_labels,
        months_in_fy=calendar.months_in_fy,
        ages=np.arange(s.ages.min, s.ages.max + 1, dtype=np.int64),
        placements=s.placement_names,
        tiers=np.array([placement.tier for placement in s.placements], dtype=np.int64),
        rollover=(calendar.calendar_month == SEPTEMBER) & (np.arange(len(calendar.months)) > 0),
        **{name: value for name, value in pieces.items() if name in structure_fields},
    )
    numbers: dict[str, Any] = {
        name: value if name == "places" else _as_row(value)
        for name, value in pieces.items()
        if name not in structure_fields
    }
    params = ModelParameters(
        opening_stock=_as_row(_per_age_and_placement(s, s.expanded.opening_stock)),
        net_transfer_rate=_as_row(s.net_transfer_rate),
        placement_transfer_rate=_as_row(
            [s.net_transfer_by_placement.get(name, 0.0) for name in s.placement_names]
        ),
        ceasing_rate=_as_row(_per_age(s, s.expanded.ceasing_rates)),
        ceasing_profile=_as_row(s.ceasing.profile),
        **numbers,
    )
    return structure, params


def _as_row(values: object) -> FloatArray:
    """Return a value as float64 with a scenario axis of length 1."""
    return np.asarray(values, dtype=np.float64)[None, ...]


def _per_age(s: Scenario, by_age: Mapping[int, float]) -> FloatArray:
    out = np.zeros(s.ages.max - s.ages.min + 1)
    for age, value in by_age.items():
        out[age - s.ages.min] = value
    return out


def _per_age_and_placement(s: Scenario, table: Mapping[str, Mapping[int, float]]) -> FloatArray:
    """Return a ``{placement: {age: value}}`` table as an (A, P) array."""
    out = np.zeros((s.ages.max - s.ages.min + 1, len(s.placements)))
    names = s.placement_names
    for placement, by_age in table.items():
        out[:, names.index(placement)] = _per_age(s, by_age)
    return out


def _schedule(steps: Mapping[str, float] | None, months: IntArray) -> tuple[FloatArray, IntArray]:
    """Return (values per step, step index in force each month) of a step schedule."""
    if steps is None:
        return np.array([np.inf]), np.zeros(months.shape[0], dtype=np.int64)
    step_months = np.array([parse_month(month) for month in steps], dtype=np.int64)
    index = np.searchsorted(step_months, months, side="right") - 1
    return np.array(list(steps.values()), dtype=np.float64), index.astype(np.int64)


def _calendar(s: Scenario) -> _Calendar:
    months = months_between(parse_month(s.start), parse_month(s.end))
    first_fy = fy_start_year(int(months[0]))
    fy_of_month = np.array([fy_start_year(int(m)) for m in months], dtype=np.int64) - first_fy
    fy_labels = s.financial_years
    return _Calendar(
        months=months,
        calendar_month=np.array([calendar_month(int(m)) for m in months], dtype=np.int64),
        fy_index=fy_of_month,
        fy_labels=fy_labels,
        months_in_fy=np.bincount(fy_of_month, minlength=len(fy_labels)).astype(np.float64),
        first_fy=first_fy,
    )


def _demand(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build requests, the assessment pipeline and where new plans go (MODEL.md §3.3)."""
    demand, expanded = s.demand, s.expanded
    lag = demand.assessment_months
    start = int(calendar.months[0])
    capacity_values, capacity_step = _schedule(expanded.assessment_capacity, calendar.months)
    mix = {
        placement: {age: row.get(placement, 0.0) for age, row in expanded.new_plan_mix.items()}
        for placement in s.placement_names
    }
    return {
        "assessment_months": lag,
        "pre_start_calendar_month": np.array(
            [calendar_month(start - lag + i) for i in range(lag)], dtype=np.int64
        ),
        "assessment_capacity_step": capacity_step,
        "requests_per_year": demand.requests_per_year,
        "requests_growth": demand.requests_growth,
        "request_profile": demand.request_profile,
        "refusal_rate": demand.refusal_rate,
        "plan_rate": demand.plan_rate,
        "assessment_capacity": capacity_values,
        "opening_backlog": demand.opening_backlog,
        "new_plan_ages": _per_age(s, expanded.new_plan_ages),
        "new_plan_mix": _per_age_and_placement(s, mix),
    }


def _transitions(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build the moves between placements at the September rollover (MODEL.md §3.1c)."""
    names = s.placement_names
    ages = np.zeros((len(s.transitions), s.ages.max - s.ages.min + 1), dtype=np.bool_)
    for r, rule_ages in enumerate(s.expanded.transition_ages):
        ages[r, [age - s.ages.min for age in rule_ages]] = True
    return {
        "transition_from": np.array([names.index(r.from_) for r in s.transitions], dtype=np.int64),
        "transition_to": np.array([names.index(r.to) for r in s.transitions], dtype=np.int64),
        "transition_ages": ages,
        "transition_rate": [rule.rate for rule in s.transitions],
    }


def _capacity(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build the places of each limited placement and where the excess goes (MODEL.md §3.4)."""
    names = s.placement_names
    places: list[FloatArray] = []
    steps: list[IntArray] = []
    for schedule in s.expanded.places:
        values, step = _schedule(schedule, calendar.months)
        places.append(values[None, :])
        steps.append(step)
    return {
        "capacity_placement": np.array([names.index(c.placement) for c in s.capacity], np.int64),
        "capacity_overflow": np.array([names.index(c.overflow) for c in s.capacity], np.int64),
        "capacity_step": (
            np.stack(steps) if steps else np.zeros((0, len(calendar.months)), dtype=np.int64)
        ),
        "places": tuple(places),
    }


def _costs(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build costs per plan by age, place funding, uplifts and other lines (§3.5, §5)."""
    names, costs, expanded = s.placement_names, s.costs, s.expanded
    if isinstance(costs.uplift, dict):
        fallback = costs.uplift.get("default", 0.0)
        uplift = [costs.uplift.get(name, fallback) for name in names]
    else:
        uplift = [costs.uplift] * len(names)
    price = _per_age_and_placement(s, expanded.unit_price)
    lines = costs.other_lines
    last_given = [
        max((calendar.fy_labels.index(label) for label in line.per_year), default=-1)
        if line.per_year is not None
        else -1
        for line in lines
    ]
    return {
        "other_lines": tuple(line.name for line in lines),
        "other_line_last_given": np.array(last_given, dtype=np.int64),
        "cost_kind": np.array(
            [expanded.cost_kind[name] == "fees" for name in names], dtype=np.int64
        ),
        "priced_by_age": (price != price[:1]).any(axis=0),
        "unit_cost": price,
        "place_funding_rate": [costs.place_funding.get(cap.placement, 0.0) for cap in s.capacity],
        "uplift": uplift,
        "other_line_amount": [line.amount or 0.0 for line in lines],
        "other_line_growth": [line.growth for line in lines],
        "other_line_per_year": np.array(
            [calendar.per_fy(line.per_year or {}) for line in lines]
        ).reshape(len(lines), len(calendar.fy_labels)),
    }


def _funding_and_agreement(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build income and the agreement: payments, write-offs, caps, target (MODEL.md §5)."""
    funding, agreement = s.funding, s.agreement
    caps = np.full(len(calendar.fy_labels), np.nan)
    for label, cap_value in agreement.deficit_caps.items():
        caps[calendar.fy_labels.index(label)] = cap_value
    target = None
    if agreement.balance_target is not None:
        target = max(0, parse_fy(agreement.balance_target) - calendar.first_fy)
    actuals = s.actuals_to_date
    fy_of = calendar.fy_labels.index
    write_offs = agreement.write_offs
    return {
        "write_off_at_end_of": np.array([fy_of(w.at_end_of) for w in write_offs], np.int64),
        "write_off_paid_in": np.array([fy_of(w.paid_in) for w in write_offs], np.int64),
        "write_off_replaces_safety_valve": np.array(
            [w.replaces_safety_valve for w in write_offs], dtype=np.bool_
        ),
        "withhold_safety_valve": agreement.withhold_when_conditions_missed,
        "override_end_year": _fy_of_month(calendar, agreement.statutory_override_end),
        "has_cap": ~np.isnan(caps),
        "balance_target": target,
        "high_needs_block_series": funding.per_year is not None,
        "high_needs_block_last_given": max(
            (calendar.fy_labels.index(label) for label in funding.per_year or {}), default=-1
        ),
        "high_needs_block": funding.high_needs_block or 0.0,
        "high_needs_block_growth": funding.growth,
        "high_needs_block_per_year": calendar.per_fy(funding.per_year or {}),
        "recoupment": calendar.per_fy(funding.recoupment),
        "import_export": calendar.per_fy(funding.import_export),
        "import_export_rate": funding.import_export_rate,
        "schools_block": calendar.per_fy(funding.schools_block),
        "schools_block_transfer": calendar.per_fy(funding.schools_block_transfer),
        "block_transfers": calendar.per_fy(funding.block_transfers),
        "other_income": calendar.per_fy(funding.other_income),
        "actual_income": actuals.income if actuals else 0.0,
        "actual_expenditure": actuals.expenditure if actuals else 0.0,
        "opening_balance": agreement.opening_balance,
        "opening_high_needs_balance": (
            agreement.opening_balance
            if agreement.opening_high_needs_balance is None
            else agreement.opening_high_needs_balance
        ),
        "other_blocks_balance": calendar.per_fy(funding.other_blocks_balance),
        "contributions": calendar.per_fy(agreement.contributions),
        "council_contributions": calendar.per_fy(agreement.council_contributions),
        "received_before_start": [
            agreement.received_before_start.dfe_safety_valve,
            agreement.received_before_start.council,
        ],
        "write_off_share": [w.share for w in write_offs],
        "deficit_cap": caps,
    }


def _fy_of_month(calendar: _Calendar, month: str) -> int | None:
    """Return the index of the FY a month falls in, or None outside the projection."""
    index = fy_start_year(parse_month(month)) - calendar.first_fy
    return index if 0 <= index < len(calendar.fy_labels) else None


def _interventions(s: Scenario, calendar: _Calendar) -> dict[str, Any]:
    """Build each intervention's phase-in, effects and own cost (MODEL.md §4)."""
    months = calendar.months
    phase = np.zeros((len(s.interventions), len(months)))
    effects: list[EffectSpec] = []
    sizes: list[float] = []
    for i, intervention in enumerate(s.interventions):
        t0 = parse_month(intervention.start)
        elapsed = (months - t0 + 1).astype(np.float64)
        ramp = intervention.ramp_months
        ramped = np.ones_like(elapsed) if ramp == 0 else np.minimum(1.0, elapsed / ramp)
        phase[i] = np.where(months >= t0, ramped, 0.0)
        for effect in intervention.effects:
            spec, size = _effect(s, effect, i)
            effects.append(spec)
            sizes.append(size)
    return {
        "interventions": tuple(intervention.name for intervention in s.interventions),
        "conditions": tuple(intervention.condition for intervention in s.interventions),
        "phase": phase,
        "effects": tuple(effects),
        "effect_value": sizes,
        "intervention_cost": np.array(
            [calendar.per_fy(intervention.costs) for intervention in s.interventions]
        ).reshape(len(s.interventions), len(calendar.fy_labels)),
        "intervention_on": np.ones(len(s.interventions)),
    }


def _effect(s: Scenario, effect: Effect, intervention: int) -> tuple[EffectSpec, float]:
    """Return where one effect acts, and its size (a share, a multiplier or an addend)."""
    names, lever = s.placement_names, effect.lever
    if lever == "entry_shift":
        assert effect.from_ is not None and effect.to is not None and effect.share is not None
        source, destination = names.index(effect.from_), names.index(effect.to)
        return EffectSpec(lever, "share", intervention, source=source, destination=destination), (
            effect.share
        )
    targets: tuple[int, ...] = ()
    if lever == "transition":
        targets = tuple(
            r
            for r, rule in enumerate(s.transitions)
            if (rule.from_, rule.to) == (effect.from_, effect.to)
        )
    elif lever == "unit_cost":
        assert effect.placement is not None
        targets = (names.index(effect.placement),)
    elif lever == "places":
        capacity = [cap.placement for cap in s.capacity]
        assert effect.placement is not None
        targets = (capacity.index(effect.placement),)
    if effect.multiply is not None:
        return EffectSpec(lever, "multiply", intervention, targets=targets), effect.multiply
    assert effect.add is not None
    return EffectSpec(lever, "add", intervention, targets=targets), effect.add
