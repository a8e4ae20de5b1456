"""Turn a validated :class:`~dsg_forecast.schema.Scenario` into engine arrays.

This is the only place where schema models become arrays (STYLE §2).
"""

from __future__ import annotations

import numpy as np

from dsg_forecast._types import FloatArray, IntArray
from dsg_forecast.engine.structure import EffectSpec, ModelParameters, ModelStructure
from dsg_forecast.errors import Issue
from dsg_forecast.periods import (
    SEPTEMBER,
    calendar_month,
    fy_start_year,
    months_between,
    parse_fy,
    parse_month,
)
from dsg_forecast.schema.fields import age_band, expand_ages, expand_schedule
from dsg_forecast.schema.scenario import Scenario


def _schedule(
    value: float | dict[str, float] | None, start: str, months: IntArray
) -> tuple[FloatArray, IntArray]:
    """Return (values per step, step index in force each month) of a step schedule."""
    if value is None:
        return np.array([np.inf]), np.zeros(months.shape[0], dtype=np.int64)
    steps = expand_schedule(value, start)
    step_months = np.array([parse_month(month) for month in steps], dtype=np.int64)
    index = np.searchsorted(step_months, months, side="right") - 1
    return np.array(list(steps.values()), dtype=np.float64), index.astype(np.int64)


def compile_scenario(scenario: Scenario) -> tuple[ModelStructure, ModelParameters]:
    """Return the structure and the parameters (S = 1) of a scenario.

    Parameters
    ----------
    scenario
        A validated scenario.

    Returns
    -------
    structure, parameters
        What :func:`dsg_forecast.engine.simulate` takes.
    """
    s = scenario
    months = months_between(parse_month(s.start), parse_month(s.end))
    first_fy = fy_start_year(int(months[0]))
    fy_of_month = np.array([fy_start_year(int(m)) for m in months], dtype=np.int64) - first_fy
    fy_labels = s.financial_years
    n_years = len(fy_labels)
    months_in_fy = np.bincount(fy_of_month, minlength=n_years).astype(np.float64)
    cal = np.array([calendar_month(int(m)) for m in months], dtype=np.int64)
    ages = np.arange(s.ages.min, s.ages.max + 1, dtype=np.int64)
    age_range = s.age_range
    names = s.placement_names
    pindex = {name: i for i, name in enumerate(names)}
    fy_index = {label: i for i, label in enumerate(fy_labels)}
    n_a, n_p = len(ages), len(names)
    unused: list[Issue] = []  # the schema has already reported every problem

    def per_age(mapping: dict[str, float], *, split: bool) -> FloatArray:
        out = np.zeros(n_a)
        for age, value in expand_ages(mapping, "", age_range, unused, split=split).items():
            out[age - s.ages.min] = value
        return out

    def per_fy(mapping: dict[str, float]) -> FloatArray:
        out = np.zeros(n_years)
        for label, value in mapping.items():
            out[fy_index[label]] = value
        return out

    stock = np.zeros((n_a, n_p))
    for placement, by_age in s.opening_stock.items():
        stock[:, pindex[placement]] = per_age(by_age, split=True)

    demand = s.demand
    mix = np.zeros((n_a, n_p))
    for key, row in demand.new_plan_mix.items():
        first, last = age_band(key)
        for placement, share in row.items():
            mix[first - s.ages.min : last - s.ages.min + 1, pindex[placement]] = share
    lag = demand.assessment_months
    pre_start = np.array(
        [calendar_month(int(months[0]) - lag + i) for i in range(lag)], dtype=np.int64
    )
    capacity_values, capacity_step = _schedule(demand.assessment_capacity, s.start, months)

    # transitions
    n_r = len(s.transitions)
    t_from = np.array([pindex[rule.from_] for rule in s.transitions], dtype=np.int64)
    t_to = np.array([pindex[rule.to] for rule in s.transitions], dtype=np.int64)
    t_ages = np.zeros((n_r, n_a), dtype=np.bool_)
    for r, rule in enumerate(s.transitions):
        keys = rule.ages if isinstance(rule.ages, list) else [rule.ages]
        for key in keys:
            first, last = age_band(key)
            t_ages[r, first - s.ages.min : last - s.ages.min + 1] = True
    rules_of: dict[tuple[str, str], list[int]] = {}
    for r, rule in enumerate(s.transitions):
        rules_of.setdefault((rule.from_, rule.to), []).append(r)

    # capacity
    places: list[FloatArray] = []
    steps: list[IntArray] = []
    for cap in s.capacity:
        values, step = _schedule(cap.places, s.start, months)
        places.append(values[None, :])
        steps.append(step)
    capacity_index = {cap.placement: c for c, cap in enumerate(s.capacity)}

    # costs
    unit_cost = np.array([s.costs.unit_cost[name] for name in names], dtype=np.float64)
    if isinstance(s.costs.uplift, dict):
        fallback = s.costs.uplift.get("default", 0.0)
        uplift = np.array([s.costs.uplift.get(name, fallback) for name in names])
    else:
        uplift = np.full(n_p, s.costs.uplift)

    # funding and agreement
    funding = s.funding
    series = funding.per_year is not None
    agreement = s.agreement
    caps = np.full(n_years, np.nan)
    for label, cap_value in agreement.deficit_caps.items():
        caps[fy_index[label]] = cap_value
    target = None
    if agreement.balance_target is not None:
        target = max(0, parse_fy(agreement.balance_target) - first_fy)

    # interventions
    n_i = len(s.interventions)
    phase = np.zeros((n_i, len(months)))
    effects: list[EffectSpec] = []
    effect_values: list[float] = []
    costs = np.zeros((n_i, n_years))
    for i, intervention in enumerate(s.interventions):
        t0 = parse_month(intervention.start)
        elapsed = (months - t0 + 1).astype(np.float64)
        ramp = intervention.ramp_months
        ramped = np.ones_like(elapsed) if ramp == 0 else np.minimum(1.0, elapsed / ramp)
        phase[i] = np.where(months >= t0, ramped, 0.0)
        costs[i] = per_fy(intervention.costs)
        for effect in intervention.effects:
            lever = effect.lever
            if lever == "entry_shift":
                assert effect.from_ is not None and effect.to is not None
                assert effect.share is not None
                spec = EffectSpec(
                    lever, "share", i, source=pindex[effect.from_], destination=pindex[effect.to]
                )
                effect_values.append(effect.share)
            else:
                targets: tuple[int, ...] = ()
                if lever == "transition":
                    assert effect.from_ is not None and effect.to is not None
                    targets = tuple(rules_of[(effect.from_, effect.to)])
                elif lever == "unit_cost":
                    assert effect.placement is not None
                    targets = (pindex[effect.placement],)
                elif lever == "places":
                    assert effect.placement is not None
                    targets = (capacity_index[effect.placement],)
                if effect.multiply is not None:
                    spec = EffectSpec(lever, "multiply", i, targets=targets)
                    effect_values.append(effect.multiply)
                else:
                    assert effect.add is not None
                    spec = EffectSpec(lever, "add", i, targets=targets)
                    effect_values.append(effect.add)
            effects.append(spec)

    actuals = s.actuals_to_date
    structure = ModelStructure(
        months=months,
        calendar_month=cal,
        fy_index=fy_of_month,
        fy_labels=fy_labels,
        months_in_fy=months_in_fy,
        ages=ages,
        placements=names,
        tiers=np.array([placement.tier for placement in s.placements], dtype=np.int64),
        rollover=(cal == SEPTEMBER) & (np.arange(len(months)) > 0),
        assessment_months=lag,
        pre_start_calendar_month=pre_start,
        assessment_capacity_step=capacity_step,
        transition_from=t_from,
        transition_to=t_to,
        transition_ages=t_ages,
        capacity_placement=np.array([pindex[cap.placement] for cap in s.capacity], dtype=np.int64),
        capacity_overflow=np.array([pindex[cap.overflow] for cap in s.capacity], dtype=np.int64),
        capacity_step=(np.stack(steps) if steps else np.zeros((0, len(months)), dtype=np.int64)),
        other_lines=tuple(line.name for line in s.costs.other_lines),
        interventions=tuple(intervention.name for intervention in s.interventions),
        conditions=tuple(intervention.condition for intervention in s.interventions),
        phase=phase,
        effects=tuple(effects),
        write_off_at_end_of=np.array(
            [fy_index[w.at_end_of] for w in agreement.write_offs], dtype=np.int64
        ),
        write_off_paid_in=np.array(
            [fy_index[w.paid_in] for w in agreement.write_offs], dtype=np.int64
        ),
        has_cap=~np.isnan(caps),
        balance_target=target,
        high_needs_block_series=series,
    )

    def as_row(values: object) -> FloatArray:
        return np.asarray(values, dtype=np.float64)[None, ...]

    params = ModelParameters(
        opening_stock=as_row(stock),
        requests_per_year=as_row(demand.requests_per_year),
        requests_growth=as_row(demand.requests_growth),
        request_profile=as_row(demand.request_profile),
        refusal_rate=as_row(demand.refusal_rate),
        plan_rate=as_row(demand.plan_rate),
        assessment_capacity=as_row(capacity_values),
        opening_backlog=as_row(demand.opening_backlog),
        new_plan_ages=as_row(per_age(demand.new_plan_ages, split=True)),
        new_plan_mix=as_row(mix),
        net_transfer_rate=as_row(s.net_transfer_rate),
        ceasing_rate=as_row(per_age(s.ceasing.rates, split=False)),
        ceasing_profile=as_row(s.ceasing.profile),
        transition_rate=as_row([rule.rate for rule in s.transitions]),
        places=tuple(places),
        unit_cost=as_row(unit_cost),
        uplift=as_row(uplift),
        other_line_amount=as_row([line.amount for line in s.costs.other_lines]),
        other_line_growth=as_row([line.growth for line in s.costs.other_lines]),
        high_needs_block=as_row(funding.high_needs_block or 0.0),
        high_needs_block_growth=as_row(funding.growth),
        high_needs_block_per_year=as_row(per_fy(funding.per_year or {})),
        block_transfers=as_row(per_fy(funding.block_transfers)),
        other_income=as_row(per_fy(funding.other_income)),
        actual_income=as_row(actuals.income if actuals else 0.0),
        actual_expenditure=as_row(actuals.expenditure if actuals else 0.0),
        opening_balance=as_row(agreement.opening_balance),
        contributions=as_row(per_fy(agreement.contributions)),
        write_off_share=as_row([w.share for w in agreement.write_offs]),
        deficit_cap=as_row(caps),
        effect_value=as_row(effect_values),
        intervention_cost=as_row(costs),
        intervention_on=np.ones((1, n_i)),
    )
    return structure, params
