"""Hypothesis strategies shared by the property tests: random *valid* scenarios."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dsg_forecast import Scenario
from dsg_forecast.periods import fy_label, fy_start_year, month_label, month_number
from dsg_forecast.schema.parsing import scenario_from_mapping

unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)
positive_weight = st.floats(0.01, 1.0, allow_nan=False)


@st.composite
def weights(draw: st.DrawFn, size: int) -> list[float]:
    """``size`` non-negative weights that sum to exactly 1 (within float rounding)."""
    raw = draw(st.lists(st.floats(0.0, 1.0), min_size=size, max_size=size))
    raw[draw(st.integers(0, size - 1))] += 0.5  # at least one positive
    total = sum(raw)
    return [value / total for value in raw]


@st.composite
def scenario_dicts(draw: st.DrawFn, *, with_interventions: bool = True) -> dict[str, Any]:
    min_age = draw(st.integers(0, 5))
    n_ages = draw(st.integers(1, 5))
    max_age = min_age + n_ages - 1
    ages = list(range(min_age, max_age + 1))
    n_p = draw(st.integers(1, 4))
    names = [f"p{i}" for i in range(n_p)]
    tiers = draw(st.lists(st.integers(1, 4), min_size=n_p, max_size=n_p))
    start = month_number(2024, draw(st.integers(1, 12)))
    end = start + draw(st.integers(0, 40))
    fys = [fy_label(y) for y in range(fy_start_year(start), fy_start_year(end) + 1)]
    money = st.floats(0, 1e7, allow_nan=False)

    stock = {
        name: {age: draw(st.floats(0, 200, allow_nan=False)) for age in ages} for name in names
    }
    entry_ages = draw(weights(n_ages))
    capacity_value = draw(st.one_of(st.none(), st.floats(0, 80, allow_nan=False)))
    demand = {
        "requests_per_year": draw(st.floats(0, 600, allow_nan=False)),
        "requests_growth": draw(st.floats(-0.5, 0.5)),
        "request_profile": draw(weights(12)),
        "refusal_rate": draw(unit),
        "plan_rate": draw(unit),
        "assessment_months": draw(st.integers(0, 4)),
        "assessment_capacity": capacity_value,
        "opening_backlog": draw(st.floats(0, 100, allow_nan=False)),
        "new_plan_ages": dict(zip(ages, entry_ages, strict=True)),
        "new_plan_mix": {age: dict(zip(names, draw(weights(n_p)), strict=True)) for age in ages},
    }
    transitions = []
    if n_p > 1:
        n_rules = draw(st.integers(0, 4))
        moved: set[tuple[str, str, int]] = set()  # one rule for each move and age
        for _ in range(n_rules):
            source, target = draw(st.permutations(names))[:2]
            rule_ages = draw(st.lists(st.sampled_from(ages), min_size=1, max_size=3, unique=True))
            rule_ages = [age for age in rule_ages if (source, target, age) not in moved]
            if not rule_ages:
                continue
            moved.update((source, target, age) for age in rule_ages)
            # rates out of one placement at one age must not exceed 1
            transitions.append(
                {
                    "from": source,
                    "to": target,
                    "ages": rule_ages,
                    "rate": draw(st.floats(0, 1.0 / max(n_rules, 1))),
                }
            )
    capacity = []
    for index, name in enumerate(names[:-1]):  # overflow only to a later placement: no loops
        if draw(st.booleans()):
            places: Any = draw(st.floats(0, 300, allow_nan=False))
            if draw(st.booleans()):
                places = {month_label(start): places, month_label(start + 3): places + 10}
            capacity.append(
                {
                    "placement": name,
                    "places": places,
                    "overflow": draw(st.sampled_from(names[index + 1 :])),
                }
            )
    price = st.floats(0, 100_000, allow_nan=False)
    costs: dict[str, Any] = {"unit_cost": {}, "top_up": {}, "fees": {}}
    for name in names:  # each placement's cost per plan: one amount, or by phase
        kind = draw(st.sampled_from(["unit_cost", "top_up", "fees"]))
        by_phase = {"early_years": draw(price), "primary": draw(price), "default": draw(price)}
        costs[kind][name] = by_phase if kind != "unit_cost" and draw(st.booleans()) else draw(price)
    capped = [cap["placement"] for cap in capacity if cap["placement"] not in costs["fees"]]
    costs["place_funding"] = {name: draw(st.floats(0, 20_000)) for name in capped}
    costs |= {
        "uplift": {"default": draw(st.floats(-0.05, 0.1)), names[0]: draw(st.floats(0, 0.1))},
        "other_lines": [
            {"name": "central", "amount": draw(money), "growth": draw(st.floats(0, 0.1))},
            {"name": "outreach", "per_year": {fys[0]: draw(money)}, "growth": draw(unit)},
        ],
    }
    funding: dict[str, Any] = {
        "growth": draw(st.floats(0, 0.1)),
        "block_transfers": {fy: draw(st.floats(-1e5, 1e5)) for fy in fys if draw(st.booleans())},
        "recoupment": {fy: draw(st.floats(0, 1e5)) for fy in fys if draw(st.booleans())},
        "import_export": {fy: draw(st.integers(-20, 20)) for fy in fys if draw(st.booleans())},
    }
    if draw(st.booleans()):
        funding["high_needs_block"] = draw(money)
    else:  # a series from the first FY, growing after its last given year
        given = draw(st.integers(1, len(fys)))
        funding["per_year"] = {fy: draw(money) for fy in fys[:given]}
    shared = [fy for fy in fys if draw(st.booleans())]
    funding["schools_block"] = {fy: draw(st.floats(0, 1e8)) for fy in shared}
    funding["schools_block_transfer"] = {fy: draw(st.floats(0, 0.01)) for fy in shared}
    write_offs = []
    if len(fys) > 1 and draw(st.booleans()):
        write_offs.append(
            {
                "share": draw(unit),
                "at_end_of": fys[0],
                "paid_in": fys[-1],
                "replaces_safety_valve": draw(st.booleans()),
            }
        )
    agreement = {
        "opening_balance": draw(st.floats(-1e7, 1e6)),
        "contributions": {fy: draw(st.floats(0, 1e6)) for fy in fys if draw(st.booleans())},
        "withhold_when_conditions_missed": draw(st.booleans()),
        "council_contributions": {fy: draw(st.floats(0, 1e6)) for fy in fys if draw(st.booleans())},
        "received_before_start": {
            "dfe_safety_valve": draw(st.floats(0, 1e6)),
            "council": draw(st.floats(0, 1e6)),
        },
        "write_offs": write_offs,
        "deficit_caps": {fy: draw(money) for fy in fys if draw(st.booleans())},
        # a target inside the projection, none, or one after its end (never shown met)
        "balance_target": draw(
            st.one_of(
                st.sampled_from(fys),
                st.none(),
                st.integers(1, 3).map(lambda k: fy_label(fy_start_year(end) + k)),
            )
        ),
    }
    interventions = []
    if with_interventions:
        for number in range(draw(st.integers(0, 2))):
            effects = draw(st.lists(effect(names, transitions, capacity), min_size=1, max_size=3))
            interventions.append(
                {
                    "name": f"i{number}",
                    "condition": draw(st.sampled_from(["3.1", "3.2", None])),
                    "start": month_label(start + draw(st.integers(0, 12))),
                    "ramp_months": draw(st.integers(0, 6)),
                    "effects": effects,
                    "costs": {fy: draw(st.floats(0, 1e5)) for fy in fys if draw(st.booleans())},
                }
            )
    return {
        "name": "random",
        "start": month_label(start),
        "end": month_label(end),
        "ages": {"min": min_age, "max": max_age},
        "placements": [{"name": n, "tier": t} for n, t in zip(names, tiers, strict=True)],
        "opening_stock": stock,
        "demand": demand,
        "net_transfer_rate": draw(st.floats(-0.2, 0.2)),
        "net_transfer_by_placement": {
            name: draw(st.floats(-0.3, 0.3)) for name in names if draw(st.booleans())
        },
        "ceasing": {"rates": {age: draw(unit) for age in ages}, "profile": draw(weights(12))},
        "transitions": transitions,
        "capacity": capacity,
        "costs": costs,
        "funding": funding,
        "agreement": agreement,
        "interventions": interventions,
    }


def effect(
    names: list[str], transitions: list[dict[str, Any]], capacity: list[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Effects whose results stay in range whatever the base value."""
    options: list[st.SearchStrategy[dict[str, Any]]] = [
        st.builds(lambda m: {"lever": "requests", "multiply": m}, st.floats(0, 2)),
        st.builds(lambda m: {"lever": "refusal_rate", "multiply": m}, unit),
        st.builds(lambda m: {"lever": "ceasing", "multiply": m}, unit),
        st.builds(lambda m: {"lever": "transfers", "multiply": m}, st.floats(0, 2)),
        st.builds(lambda m: {"lever": "assessment_capacity", "multiply": m}, st.floats(0, 2)),
        st.builds(
            lambda p, m: {"lever": "unit_cost", "placement": p, "multiply": m},
            st.sampled_from(names),
            st.floats(0, 2),
        ),
    ]
    if len(names) > 1:
        options.append(
            st.builds(
                lambda pair, s: {
                    "lever": "entry_shift",
                    "from": pair[0],
                    "to": pair[1],
                    "share": s,
                },
                st.permutations(names).map(lambda p: p[:2]),
                unit,
            )
        )
    if transitions:
        options.append(
            st.builds(
                lambda rule, m: {
                    "lever": "transition",
                    "from": rule["from"],
                    "to": rule["to"],
                    "multiply": m,
                },
                st.sampled_from(transitions),
                unit,
            )
        )
    if capacity:
        options.append(
            st.builds(
                lambda cap, x: {"lever": "places", "placement": cap["placement"], "add": x},
                st.sampled_from(capacity),
                st.floats(0, 50),
            )
        )
        options.append(
            st.builds(
                lambda cap, m: {"lever": "places", "placement": cap["placement"], "multiply": m},
                st.sampled_from(capacity),
                st.floats(0, 2),
            )
        )
    return st.one_of(options)


def scenarios(*, with_interventions: bool = True) -> st.SearchStrategy[Scenario]:
    """Random valid scenarios."""
    return scenario_dicts(with_interventions=with_interventions).map(scenario_from_mapping)
