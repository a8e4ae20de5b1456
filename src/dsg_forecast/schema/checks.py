"""The rules across fields of a scenario, one checker per section.

Field-level rules (a rate between 0 and 1, a profile summing to 1, a well-formed month)
live on the fields; rules that tie fields together (a placement name is declared, a mix at
an age sums to 1, transitions out of one placement do not exceed 1, overflow chains do not
loop, ...) live here. Every checker appends to one list of issues, so a user sees every
problem on one screen; and while checking, age bands and step schedules are expanded once,
into :class:`Expanded`, which the compiler reads instead of parsing them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from dsg_forecast.errors import Issue
from dsg_forecast.periods import parse_fy, parse_month
from dsg_forecast.schema.fields import SUM_TOLERANCE, expand_ages, expand_schedule

if TYPE_CHECKING:
    from dsg_forecast.schema.scenario import Effect, OtherLine, Scenario

#: Sections every cross-field rule reads: without them none can be checked.
ESSENTIAL_SECTIONS: Final = frozenset({"start", "end", "ages", "placements"})


@dataclass(frozen=True, slots=True)
class Expanded:
    """A scenario's age bands and step schedules, expanded to single ages and months."""

    opening_stock: dict[str, dict[int, float]] = field(default_factory=dict)
    """Plans by placement and single age (a band's count split over its ages). [plans]"""
    new_plan_ages: dict[int, float] = field(default_factory=dict)
    """Share of new plans at each single age."""
    new_plan_mix: dict[int, dict[str, float]] = field(default_factory=dict)
    """Placement mix of new plans at each single age (a band's mix at every age)."""
    ceasing_rates: dict[int, float] = field(default_factory=dict)
    """Annual ceasing rate at each single age. [fraction yr⁻¹]"""
    transition_ages: tuple[tuple[int, ...], ...] = ()
    """The single ages at which each transition rule acts, in rule order."""
    assessment_capacity: dict[str, float] | None = None
    """Assessment capacity from each month on (``None``: unlimited). [month⁻¹]"""
    places: tuple[dict[str, float], ...] = ()
    """Places of each capacity entry from each month on, in declared order. [places]"""
    unit_price: dict[str, dict[int, float]] = field(default_factory=dict)
    """Each placement's cost per plan at each age, before uplift. [£ plan⁻¹ yr⁻¹]"""
    cost_kind: dict[str, str] = field(default_factory=dict)
    """Whether each placement's cost per plan is a ``top_up`` or ``fees``."""


class _Checker:
    """What every section's checker shares: the scenario, its facts and the issues found."""

    def __init__(self, s: Scenario, issues: list[Issue]) -> None:
        self.s = s
        self.issues = issues
        self.ages = s.age_range
        self.names = s.placement_names
        self.known = set(self.names)
        self.fys = s.financial_years

    def add(self, path: str, message: str) -> None:
        """Note one problem."""
        self.issues.append(Issue(path, message))

    def placement(self, path: str, name: str) -> bool:
        """Whether ``name`` is a declared placement (an issue where it is not)."""
        if name not in self.known:
            self.add(path, _unknown("placement", name, self.names))
            return False
        return True

    def fy(self, path: str, label: str) -> None:
        """Note an issue where a financial year lies outside the projection."""
        if label not in self.fys:
            span = f"{self.fys[0]}..{self.fys[-1]}"
            self.add(path, f"financial year {label} is outside the projection ({span})")

    def ages_of(self, mapping: dict[str, float], path: str, *, split: bool) -> dict[int, float]:
        """Expand a per-age mapping with bands (see :func:`expand_ages`)."""
        return expand_ages(mapping, path, self.ages, self.issues, split=split)

    def schedule(self, path: str, schedule: float | dict[str, float]) -> dict[str, float]:
        """Expand a step schedule: it must start by the projection start, with values ≥ 0."""
        s = self.s
        steps = expand_schedule(schedule, s.start)
        first = min(steps)
        if parse_month(first) > parse_month(s.start):
            self.add(
                path,
                f"the schedule starts in {first}, after the projection start {s.start}; "
                f"give a value from {s.start}",
            )
        for month, value in steps.items():
            if value < 0:
                self.add(f"{path}[{month}]", f"{value} is negative; it must be >= 0")
        return steps


def cross_check(s: Scenario, skip: frozenset[str] = frozenset()) -> tuple[list[Issue], Expanded]:
    """Return every problem across fields, and the scenario's expanded bands and schedules.

    Parameters
    ----------
    s
        A scenario whose sections are valid on their own (or built with
        ``model_construct`` from the valid sections of an invalid file).
    skip
        Sections that are invalid on their own: they are left out, with every rule that
        reads them.

    Returns
    -------
    issues : list of Issue
        Every problem found, in the order of the sections.
    expanded : Expanded
        Age bands and step schedules expanded (sections skipped are left empty).
    """
    issues: list[Issue] = []
    if parse_month(s.end) < parse_month(s.start):
        issues.append(Issue("end", f"end {s.end} is before start {s.start}; it must not be"))
        return issues, Expanded()  # every rule about financial years depends on the span
    if s.ages.max < s.ages.min:
        message = f"max age {s.ages.max} is below min age {s.ages.min}; it must not be"
        issues.append(Issue("ages", message))
        return issues, Expanded()
    check = _Checker(s, issues)
    _check_placements(check)
    parts: dict[str, object] = {}
    if "opening_stock" not in skip:
        parts["opening_stock"] = _check_opening_stock(check)
    if "demand" not in skip:
        parts.update(_check_demand(check))
    for placement in s.net_transfer_by_placement:
        check.placement(f"net_transfer_by_placement.{placement}", placement)
    if "ceasing" not in skip:
        parts["ceasing_rates"] = _check_ceasing(check)
    if "transitions" not in skip:
        parts["transition_ages"] = _check_transitions(check)
    if "capacity" not in skip:
        parts["places"] = _check_capacity(check)
    if "costs" not in skip:
        parts.update(_check_costs(check, capacity_valid="capacity" not in skip))
    if "funding" not in skip:
        _check_funding(check)
    if "agreement" not in skip:
        _check_agreement(check)
    if not skip & {"interventions", "transitions", "capacity"}:
        _check_interventions(check)
    if "actuals_to_date" not in skip:
        _check_actuals(check)
    return issues, Expanded(**parts)  # type: ignore[arg-type]


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> str:
    return f"unknown {kind} {name!r}; the scenario declares {list(known)}"


def _check_sum(check: _Checker, path: str, what: str, values: list[float]) -> None:
    total = math.fsum(values)
    if abs(total - 1.0) > SUM_TOLERANCE:
        check.add(path, f"{what} sums to {total:.6g}; it must sum to 1")


def _check_placements(check: _Checker) -> None:
    seen: set[str] = set()
    for index, name in enumerate(check.names):
        if name in seen:
            check.add(f"placements[{index}].name", f"{name!r} is declared twice")
        seen.add(name)


def _check_opening_stock(check: _Checker) -> dict[str, dict[int, float]]:
    stock: dict[str, dict[int, float]] = {}
    for placement, by_age in check.s.opening_stock.items():
        path = f"opening_stock.{placement}"
        if check.placement(path, placement):
            counts = check.ages_of(by_age, path, split=True)
            for age, count in counts.items():
                if count < 0:
                    check.add(f"{path}[{age}]", f"{count} plans is negative")
            stock[placement] = counts
    return stock


def _check_demand(check: _Checker) -> dict[str, object]:
    demand = check.s.demand
    shares = check.ages_of(demand.new_plan_ages, "demand.new_plan_ages", split=True)
    if any(share < 0 for share in shares.values()):
        check.add("demand.new_plan_ages", "shares must be >= 0")
    _check_sum(check, "demand.new_plan_ages", "age profile of new plans", list(shares.values()))
    mix_at: dict[int, dict[str, float]] = {}
    for key, mix in demand.new_plan_mix.items():
        path = f"demand.new_plan_mix[{key}]"
        for placement, share in mix.items():
            check.placement(f"{path}.{placement}", placement)
            if share < 0:
                check.add(f"{path}.{placement}", f"share {share} is negative")
        for age in check.ages_of({key: 0.0}, "demand.new_plan_mix", split=False):
            if age in mix_at:
                check.add(path, f"age {age} is given more than once")
            mix_at[age] = dict(mix)
        _check_sum(check, path, f"entry mix at age {key}", list(mix.values()))
    for age, share in sorted(shares.items()):
        if share > 0 and age not in mix_at:
            check.add(
                "demand.new_plan_mix",
                f"new plans start at age {age} (share {share:g}) but no mix is given for it",
            )
    capacity = None
    if demand.assessment_capacity is not None:
        capacity = check.schedule("demand.assessment_capacity", demand.assessment_capacity)
    return {"new_plan_ages": shares, "new_plan_mix": mix_at, "assessment_capacity": capacity}


def _check_ceasing(check: _Checker) -> dict[int, float]:
    ceasing = check.s.ceasing
    rates = check.ages_of(ceasing.rates, "ceasing.rates", split=False)
    peak = max(ceasing.profile)
    for age, rate in sorted(rates.items()):
        if rate < 0:
            check.add(f"ceasing.rates[{age}]", f"rate {rate} is negative")
        elif rate * peak > 1 + SUM_TOLERANCE:
            check.add(
                f"ceasing.rates[{age}]",
                f"rate {rate:g} × profile weight {peak:g} = {rate * peak:.4g} of the stock "
                "would cease in one month; it must be ≤ 1",
            )
    return rates


def _check_transitions(check: _Checker) -> tuple[tuple[int, ...], ...]:
    outflow: dict[tuple[str, int], float] = {}
    first: dict[tuple[str, str, int], int] = {}  # each move and age: the rule giving it
    ages_of_rules: list[tuple[int, ...]] = []
    for index, rule in enumerate(check.s.transitions):
        path = f"transitions[{index}]"
        ok = check.placement(f"{path}.from", rule.from_) & check.placement(f"{path}.to", rule.to)
        if rule.from_ == rule.to:
            check.add(path, f"moves {rule.from_!r} to itself")
        keys = rule.ages if isinstance(rule.ages, list) else [rule.ages]
        rule_ages = check.ages_of(dict.fromkeys(keys, 0.0), f"{path}.ages", split=False)
        ages_of_rules.append(tuple(sorted(rule_ages)))
        repeated = sorted(a for a in rule_ages if (rule.from_, rule.to, a) in first)
        if repeated:  # both would act, their rates added: meant as one, or a replacement?
            earlier = first[(rule.from_, rule.to, repeated[0])]
            check.add(
                path,
                f"moves {rule.from_!r} to {rule.to!r} at age {repeated[0]}, as "
                f"transitions[{earlier}] does; give one rule for each move and age (two "
                "would add their rates)",
            )
        for age in rule_ages:
            first.setdefault((rule.from_, rule.to, age), index)
        if ok:
            for age in rule_ages:
                outflow[(rule.from_, age)] = outflow.get((rule.from_, age), 0.0) + rule.rate
    for (placement, age), total in sorted(outflow.items()):
        if total > 1 + SUM_TOLERANCE:
            check.add(
                "transitions",
                f"rates out of {placement!r} at age {age} sum to {total:.6g}; "
                "they must not exceed 1",
            )
    return tuple(ages_of_rules)


def _check_capacity(check: _Checker) -> tuple[dict[str, float], ...]:
    overflow_of: dict[str, str] = {}
    places: list[dict[str, float]] = []
    for index, cap in enumerate(check.s.capacity):
        path = f"capacity[{index}]"
        ok = check.placement(f"{path}.placement", cap.placement)
        ok &= check.placement(f"{path}.overflow", cap.overflow)
        if cap.placement in overflow_of:
            check.add(f"{path}.placement", f"{cap.placement!r} already has a capacity entry")
        if cap.overflow == cap.placement:
            check.add(f"{path}.overflow", f"{cap.placement!r} overflows to itself")
        elif ok:
            overflow_of[cap.placement] = cap.overflow
        places.append(check.schedule(f"{path}.places", cap.places))
    _check_overflow_loops(check, overflow_of)
    return tuple(places)


def _check_overflow_loops(check: _Checker, overflow_of: dict[str, str]) -> None:
    """One issue for the first overflow chain that loops back on itself."""
    for first in overflow_of:
        chain = [first]
        while chain[-1] in overflow_of:
            following = overflow_of[chain[-1]]
            if following in chain:
                loop = " → ".join([*chain[chain.index(following) :], following])
                check.add("capacity", f"overflow loops: {loop}; a chain must end")
                return
            chain.append(following)


#: School phases by age at 31 August (MODEL.md §1: 4 is Reception, 11 is Year 7).
PHASES: Final[dict[str, tuple[int, int]]] = {
    "early_years": (0, 3),
    "primary": (4, 10),
    "secondary": (11, 15),
    "post16": (16, 18),
    "post19": (19, 25),
}
_COST_FIELDS: Final = ("unit_cost", "top_up", "fees")


def _check_costs(check: _Checker, *, capacity_valid: bool) -> dict[str, object]:
    """Check what placements cost; return each placement's cost per plan by age and kind."""
    costs = check.s.costs
    price: dict[str, dict[int, float]] = {}
    kind: dict[str, str] = {}
    for name in _COST_FIELDS:
        for placement, value in getattr(costs, name).items():
            path = f"costs.{name}.{placement}"
            if not check.placement(path, placement):
                continue
            if placement in kind:
                where = f"costs.{kind[placement]}"
                check.add(path, f"{placement!r} already has a cost per plan in {where}")
                continue
            kind[placement] = name
            price[placement] = _per_plan(check, path, value)
    missing = [name for name in check.names if name not in kind]
    if missing:
        check.add("costs", f"no cost per plan (unit_cost, top_up or fees) for placements {missing}")
    capacity = {cap.placement for cap in check.s.capacity}
    for placement in costs.place_funding:
        path = f"costs.place_funding.{placement}"
        if not check.placement(path, placement):
            continue
        if kind.get(placement) == "fees":
            check.add(
                path, f"{placement!r} is paid fees; fee-paid placements have no place funding"
            )
        elif capacity_valid and placement not in capacity:
            check.add(
                path,
                f"place funding is paid on commissioned places; give {placement!r} a capacity "
                "entry (its places)",
            )
    if isinstance(costs.uplift, dict):
        for placement in costs.uplift:
            if placement != "default":
                check.placement(f"costs.uplift.{placement}", placement)
    named: set[str] = set()
    for index, line in enumerate(costs.other_lines):
        _check_other_line(check, f"costs.other_lines[{index}]", line)
        if line.name in named:
            check.add(f"costs.other_lines[{index}].name", f"{line.name!r} is used twice")
        named.add(line.name)
    return {
        "unit_price": price,
        "cost_kind": {p: "fees" if k == "fees" else "top_up" for p, k in kind.items()},
    }


def _per_plan(check: _Checker, path: str, value: float | dict[str, float]) -> dict[int, float]:
    """Expand a per-plan cost (one amount, or by phase or age band) to every age."""
    if not isinstance(value, dict):
        return dict.fromkeys(check.ages, float(value))
    bands = {
        key: (f"{PHASES[key][0]}-{PHASES[key][1]}" if key in PHASES else key)
        for key in value
        if key != "default"
    }
    by_age: dict[int, float] = {}
    for key, band in bands.items():
        try:
            first, _, last = band.partition("-")
            span = range(int(first), int(last or first) + 1)
        except ValueError:
            phases = ", ".join(PHASES)
            check.add(f"{path}.{key}", f"{key!r} is not a phase ({phases}), an age or an age band")
            continue
        if key not in PHASES and (span.start < check.ages.start or span.stop > check.ages.stop):
            ages = f"{check.ages.start}..{check.ages.stop - 1}"
            check.add(f"{path}.{key}", f"age {key} is outside the projection's ages {ages}")
            continue
        for age in span:
            if age in by_age:
                check.add(f"{path}.{key}", f"age {age} is given more than once")
            by_age[age] = float(value[key])
    default = value.get("default")
    uncovered = [age for age in check.ages if age not in by_age]
    if uncovered and default is None:
        check.add(path, f"no cost for ages {uncovered}; cover them or give a 'default'")
    return {age: by_age.get(age, float(default or 0.0)) for age in check.ages}


def _check_other_line(check: _Checker, path: str, line: OtherLine) -> None:
    if (line.amount is None) == (line.per_year is None):
        check.add(path, "give either amount (with growth) or per_year, exactly one of them")
    if line.per_year is not None:
        for label in line.per_year:
            check.fy(f"{path}.per_year[{label}]", label)
        if check.fys[0] not in line.per_year:
            check.add(f"{path}.per_year", f"no amount for {check.fys[0]}, the first FY")


def _check_funding(check: _Checker) -> None:
    funding = check.s.funding
    if (funding.high_needs_block is None) == (funding.per_year is None):
        check.add(
            "funding", "give either high_needs_block (with growth) or per_year, exactly one of them"
        )
    if funding.per_year is not None:
        for label in funding.per_year:
            check.fy(f"funding.per_year[{label}]", label)
        given = [label for label in check.fys if label in funding.per_year]
        if check.fys[0] not in funding.per_year:
            check.add("funding.per_year", f"no high needs block for {check.fys[0]}, the first FY")
        elif given:
            last = check.fys.index(given[-1])
            gaps = [label for label in check.fys[:last] if label not in funding.per_year]
            if gaps:
                check.add(
                    "funding.per_year",
                    f"no high needs block for {gaps}, between given years; give every FY up "
                    "to the last (later FYs grow at funding.growth)",
                )
    names = ("recoupment", "import_export", "block_transfers", "schools_block")
    for name in (*names, "schools_block_transfer", "other_income", "other_blocks_balance"):
        for label in getattr(funding, name):
            check.fy(f"funding.{name}[{label}]", label)
    for label in funding.schools_block_transfer:
        if label not in funding.schools_block:
            check.add(
                f"funding.schools_block_transfer[{label}]",
                f"a share of the schools block needs funding.schools_block[{label}]",
            )


def _check_agreement(check: _Checker) -> None:
    agreement = check.s.agreement
    for label in agreement.contributions:
        check.fy(f"agreement.contributions[{label}]", label)
    for label in agreement.council_contributions:
        check.fy(f"agreement.council_contributions[{label}]", label)
    for label in agreement.deficit_caps:
        check.fy(f"agreement.deficit_caps[{label}]", label)
    written_off: dict[str, float] = {}
    for index, write_off in enumerate(agreement.write_offs):
        path = f"agreement.write_offs[{index}]"
        check.fy(f"{path}.at_end_of", write_off.at_end_of)
        check.fy(f"{path}.paid_in", write_off.paid_in)
        total = written_off.get(write_off.at_end_of, 0.0) + write_off.share
        written_off[write_off.at_end_of] = total
        if total > 1 + SUM_TOLERANCE:
            check.add(
                path,
                f"write-offs of the deficit at the end of {write_off.at_end_of} add up to "
                f"{total:.6g} of it; they cannot pay more than the deficit (at most 1)",
            )
        if parse_fy(write_off.paid_in) <= parse_fy(write_off.at_end_of):
            check.add(
                path,
                f"paid in {write_off.paid_in}, which is not after {write_off.at_end_of}; "
                "a write-off pays a deficit already standing",
            )


def _check_interventions(check: _Checker) -> None:
    s = check.s
    transition_keys = {(rule.from_, rule.to) for rule in s.transitions}
    capacity_keys = {cap.placement for cap in s.capacity}
    seen_names: set[str] = set()
    for index, intervention in enumerate(s.interventions):
        path = f"interventions[{index}]"
        if intervention.name in seen_names:
            check.add(f"{path}.name", f"{intervention.name!r} is used twice")
        seen_names.add(intervention.name)
        if parse_month(intervention.start) < parse_month(s.start):
            check.add(
                f"{path}.start",
                f"{intervention.start} is before the projection start {s.start}; "
                "an intervention cannot act before the start",
            )
        for label in intervention.costs:
            check.fy(f"{path}.costs[{label}]", label)
        for label in intervention.savings_target:
            check.fy(f"{path}.savings_target[{label}]", label)
        for number, effect in enumerate(intervention.effects):
            _check_effect(
                check, f"{path}.effects[{number}]", effect, transition_keys, capacity_keys
            )


def _check_actuals(check: _Checker) -> None:
    s = check.s
    if s.actuals_to_date is not None and s.start.endswith("-04"):
        check.add(
            "actuals_to_date",
            f"the projection starts in April ({s.start}); year-to-date actuals belong to "
            "a first financial year that starts after April",
        )


_KEYED: Final[dict[str, tuple[str, ...]]] = {
    "transition": ("from", "to"),
    "entry_shift": ("from", "to"),
    "unit_cost": ("placement",),
    "places": ("placement",),
}


def _check_effect(
    check: _Checker,
    path: str,
    effect: Effect,
    transition_keys: set[tuple[str, str]],
    capacity_keys: set[str],
) -> None:
    lever, names = effect.lever, check.names
    given = {"from": effect.from_, "to": effect.to, "placement": effect.placement}
    needed = _KEYED.get(lever, ())
    for key, value in given.items():
        if key in needed and value is None:
            check.add(path, f"lever {lever!r} needs {key!r}")
        if key not in needed and value is not None:
            check.add(f"{path}.{key}", f"lever {lever!r} takes no {key!r}")
    _check_effect_size(check, path, effect)
    for key in ("from", "to", "placement"):
        value = given[key]
        if key in needed and value is not None and value not in names:
            check.add(f"{path}.{key}", _unknown("placement", value, names))
    if lever == "entry_shift" and effect.from_ is not None and effect.from_ == effect.to:
        check.add(path, f"moves new plans from {effect.from_!r} to itself")
    if (
        lever == "transition"
        and effect.from_ in names
        and effect.to in names
        and (effect.from_, effect.to) not in transition_keys
    ):
        check.add(path, f"no transition rule from {effect.from_!r} to {effect.to!r} to act on")
    if lever == "places" and effect.placement in names and effect.placement not in capacity_keys:
        check.add(path, f"{effect.placement!r} has no capacity entry to act on")


def _check_effect_size(check: _Checker, path: str, effect: Effect) -> None:
    """Check the size: a share for an entry shift, else one of multiply (≥ 0) or add."""
    lever = effect.lever
    if lever == "entry_shift":
        if effect.share is None:
            check.add(path, "lever 'entry_shift' needs 'share' (between 0 and 1)")
        if effect.multiply is not None or effect.add is not None:
            check.add(path, "lever 'entry_shift' takes 'share', not multiply or add")
        return
    if effect.share is not None:
        check.add(f"{path}.share", f"lever {lever!r} takes no 'share'")
    if (effect.multiply is None) == (effect.add is None):
        check.add(path, f"lever {lever!r} needs exactly one of multiply or add")
    if effect.multiply is not None and effect.multiply < 0:
        check.add(f"{path}.multiply", f"{effect.multiply} is negative; it must be >= 0")
