"""The scenario: every input of one projection (MODEL.md §1–5), typed and validated.

Field-level rules (a rate between 0 and 1, a profile summing to 1, a well-formed month)
live on the fields; rules that tie fields together (a placement name is declared, a mix at
an age sums to 1, transitions out of one placement do not exceed 1, overflow chains do not
loop, ...) live in :func:`_cross_check`, which collects every problem before raising, so a
user sees them all on one screen.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Set
from typing import Annotated, Any, Final, Self

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from dsg_forecast._types import Lever
from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.periods import fy_label, fy_start_year, parse_fy, parse_month
from dsg_forecast.schema.fields import (
    FLAT,
    SUM_TOLERANCE,
    AgeKey,
    AgeMap,
    FinancialYear,
    Finite,
    Fraction,
    Growth,
    Model,
    Month,
    NonNegative,
    Schedule,
    SeasonalProfile,
    expand_ages,
    expand_schedule,
)

_NAME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_NAMES: Final = frozenset({"default", "total"})


class AgeRange(Model):
    """The ages of the projection, as age at 31 August. [years]"""

    min: Annotated[int, Field(ge=0, le=30)] = 0
    """Youngest age tracked. [years]"""
    max: Annotated[int, Field(ge=0, le=30)] = 25
    """Oldest age tracked; everyone at this age leaves at the September rollover. [years]"""


class Placement(Model):
    """A type of provision, such as mainstream or independent special."""

    name: str
    """Identifier used everywhere else in the scenario (letters, digits, underscores)."""
    tier: int = 1
    """Higher is more specialist; used to count moves up and down."""
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            msg = (
                f"{value!r} is not a placement name; use letters, digits and underscores, "
                "starting with a letter"
            )
            raise ValueError(msg)
        if value in RESERVED_NAMES:
            msg = f"{value!r} is reserved; choose another placement name"
            raise ValueError(msg)
        return value


class Demand(Model):
    """Requests for EHC needs assessment, the assessment pipeline and new plans (§3.3)."""

    requests_per_year: NonNegative
    """EHC needs assessment requests in the first financial year. [requests yr⁻¹]"""
    requests_growth: Growth = 0.0
    """Annual growth of requests. [fraction yr⁻¹]"""
    request_profile: SeasonalProfile = FLAT
    """Seasonality of requests, January..December."""
    refusal_rate: Fraction = 0.0
    """Share of requests refused an assessment. [fraction]"""
    plan_rate: Fraction = 1.0
    """Share of completed assessments that issue a plan. [fraction]"""
    assessment_months: Annotated[int, Field(ge=0, le=36)] = 0
    """Months from an accepted request to a ready assessment. [months]"""
    assessment_capacity: Schedule | None = None
    """Assessments that can be finished in a month; a number or a step schedule;
    ``null`` means unlimited. [assessments month⁻¹]"""
    opening_backlog: NonNegative = 0.0
    """Ready-but-unfinished assessments at the start. [assessments]"""
    new_plan_ages: AgeMap
    """Age profile of new plans; sums to 1 (a band's share is split over its ages)."""
    new_plan_mix: dict[AgeKey, dict[str, Finite]]
    """Placement mix of new plans at each age; each age's mix sums to 1."""


class Ceasing(Model):
    """Plans that cease (§3.2)."""

    rates: AgeMap
    """Annual ceasing rate by age. [fraction yr⁻¹]"""
    profile: SeasonalProfile = FLAT
    """Seasonality of ceasing, January..December."""


class Transition(Model):
    """A move between placements at the September rollover (§3.1c)."""

    from_: Annotated[str, Field(alias="from")]
    to: str
    ages: AgeKey | list[AgeKey]
    """The new ages (after ageing) at which the rule acts: an age, a band or a list."""
    rate: Fraction
    """Share of ``from`` at that age that moves. [fraction]"""


class Capacity(Model):
    """Places in a placement; the excess overflows to another placement (§3.4)."""

    placement: str
    places: Schedule
    """Places, or a step schedule of places from each given month. [places]"""
    overflow: str
    """Where children above the places go."""


class OtherLine(Model):
    """A high-needs expenditure line outside placements (for example central services)."""

    name: str
    amount: Finite
    """Annual amount in the first financial year. [£ yr⁻¹]"""
    growth: Growth = 0.0
    """Annual growth. [fraction yr⁻¹]"""


class Costs(Model):
    """Unit costs, uplifts and other lines (§3.5, §5)."""

    unit_cost: dict[str, NonNegative]
    """Annual cost per child by placement, before uplift. [£ child⁻¹ yr⁻¹]"""
    uplift: Growth | dict[str, Growth] = 0.0
    """Annual uplift: one number, or per placement with an optional ``default``. [fraction yr⁻¹]"""
    other_lines: list[OtherLine] = Field(default_factory=list)


class Funding(Model):
    """Income: the high needs block and other income (§5)."""

    high_needs_block: NonNegative | None = None
    """High needs block in the first financial year. [£ yr⁻¹]"""
    growth: Growth = 0.0
    """Annual growth of the high needs block. [fraction yr⁻¹]"""
    per_year: dict[FinancialYear, NonNegative] | None = None
    """The high needs block for every projected FY, instead of amount and growth. [£ yr⁻¹]"""
    block_transfers: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Transfers from other DSG blocks (for example the schools block), by FY. [£ yr⁻¹]"""
    other_income: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Any other income by FY. [£ yr⁻¹]"""


class WriteOff(Model):
    """A share of the deficit at the end of one FY, paid in a later FY (§5)."""

    share: Fraction
    at_end_of: FinancialYear
    paid_in: FinancialYear


class Agreement(Model):
    """The Safety Valve (or successor) agreement: balance, payments and conditions (§5)."""

    opening_balance: Finite = 0.0
    """Cumulative DSG balance before the first month; negative is a deficit. [£]"""
    contributions: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Safety Valve payments by FY. [£]"""
    write_offs: list[WriteOff] = Field(default_factory=list)
    deficit_caps: dict[FinancialYear, NonNegative] = Field(default_factory=dict)
    """Largest cumulative deficit allowed at the end of each FY. [£]"""
    balance_target: FinancialYear | None = None
    """FY from which every in-year balance must be ≥ 0."""


class ActualsToDate(Model):
    """Year-to-date actuals of a first FY that starts after April (§5). [£]"""

    income: Finite = 0.0
    expenditure: Finite = 0.0


class Effect(Model):
    """One effect of an intervention on a lever (§4)."""

    lever: Lever
    multiply: Finite | None = None
    """At full effect, the value is multiplied by this."""
    add: Finite | None = None
    """At full effect, this is added to the value."""
    share: Fraction | None = None
    """For ``entry_shift``: share of new plans moved from ``from`` to ``to``."""
    placement: str | None = None
    """For ``unit_cost`` and ``places``: the placement."""
    from_: Annotated[str | None, Field(alias="from")] = None
    """For ``transition`` and ``entry_shift``."""
    to: str | None = None


def _number_to_text(value: Any) -> Any:
    """YAML reads ``condition: 3.1`` as a number; a condition label is text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class Intervention(Model):
    """A mitigation: effects on levers from a start month, ramped in, with its own cost."""

    name: str
    condition: Annotated[str | None, BeforeValidator(_number_to_text)] = None
    """The agreement condition it serves, for example ``"3.1"`` (a number is taken as text)."""
    start: Month
    ramp_months: Annotated[int, Field(ge=0, le=120)] = 0
    effects: Annotated[list[Effect], Field(min_length=1)]
    costs: dict[FinancialYear, NonNegative] = Field(default_factory=dict)
    """The intervention's own cost by FY. [£ yr⁻¹]"""


class Scenario(Model):
    """Every input of one projection. See ``docs/scenario-format.md``."""

    name: str = "scenario"
    description: str | None = None
    start: Month
    """First projected month (month 0)."""
    end: Month
    """Last projected month, inclusive."""
    ages: AgeRange = AgeRange()
    placements: Annotated[list[Placement], Field(min_length=1)]
    opening_stock: dict[str, AgeMap]
    """Plans at the start of ``start`` by placement and age. [plans]"""
    demand: Demand
    net_transfer_rate: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Net plans moving in from other councils, as an annual share of the stock. [fraction yr⁻¹]"""
    ceasing: Ceasing
    transitions: list[Transition] = Field(default_factory=list)
    capacity: list[Capacity] = Field(default_factory=list)
    costs: Costs
    funding: Funding
    agreement: Agreement = Agreement()
    interventions: list[Intervention] = Field(default_factory=list)
    actuals_to_date: ActualsToDate | None = None

    @model_validator(mode="after")
    def _check_across_fields(self) -> Self:
        issues = _cross_check(self)
        if issues:
            raise ScenarioError(issues)
        return self

    # -- derived facts used by the compiler and by reports ---------------------------------
    @property
    def placement_names(self) -> tuple[str, ...]:
        """Placement names in declared order."""
        return tuple(placement.name for placement in self.placements)

    @property
    def age_range(self) -> range:
        """Ages ``min..max`` as a range."""
        return range(self.ages.min, self.ages.max + 1)

    @property
    def financial_years(self) -> tuple[str, ...]:
        """Labels of every FY the projection touches, in order."""
        first = fy_start_year(parse_month(self.start))
        last = fy_start_year(parse_month(self.end))
        return tuple(fy_label(year) for year in range(first, last + 1))


# --------------------------------------------------------------------------------------------
# Cross-field rules
# --------------------------------------------------------------------------------------------


#: Sections every cross-field rule reads: without them none can be checked.
ESSENTIAL_SECTIONS: Final = frozenset({"start", "end", "ages", "placements"})


@functools.cache
def _section_adapter(name: str) -> TypeAdapter[Any]:
    """Return a validator for one section of a scenario on its own (built once)."""
    info = Scenario.model_fields[name]
    kind: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(kind)


def cross_check_partial(data: Mapping[str, Any], failed: Set[str]) -> list[Issue]:
    """Return the cross-field problems of a scenario some of whose sections are invalid.

    So that a file's problems all show on one screen: each section not named in ``failed``
    is validated on its own, and every cross-field rule that reads only valid sections is
    applied. Returns nothing when a section every rule reads (span, ages, placements) is
    invalid or missing.
    """
    if failed & ESSENTIAL_SECTIONS:
        return []
    values: dict[str, Any] = {}
    skip = set(failed)
    for name, info in Scenario.model_fields.items():
        if name in failed:
            continue
        if name not in data:
            if info.is_required():
                skip.add(name)
            continue
        try:
            values[name] = _section_adapter(name).validate_python(data[name])
        except ValidationError:
            skip.add(name)
    if skip & ESSENTIAL_SECTIONS:
        return []
    return _cross_check(Scenario.model_construct(**values), frozenset(skip))


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> str:
    return f"unknown {kind} {name!r}; the scenario declares {list(known)}"


def _check_sum(path: str, what: str, values: list[float], issues: list[Issue]) -> None:
    total = math.fsum(values)
    if abs(total - 1.0) > SUM_TOLERANCE:
        issues.append(Issue(path, f"{what} sums to {total:.6g}; it must sum to 1"))


def _cross_check(s: Scenario, skip: frozenset[str] = frozenset()) -> list[Issue]:
    """Return every problem across fields.

    Sections named in ``skip`` (invalid on their own) are left out, with every rule that
    reads them.
    """
    issues: list[Issue] = []
    start, end = parse_month(s.start), parse_month(s.end)
    if end < start:
        issues.append(Issue("end", f"end {s.end} is before start {s.start}; it must not be"))
        return issues  # every rule about financial years depends on the span
    if s.ages.max < s.ages.min:
        issues.append(
            Issue("ages", f"max age {s.ages.max} is below min age {s.ages.min}; it must not be")
        )
        return issues
    ages = s.age_range
    names = s.placement_names
    known = set(names)
    fys = s.financial_years

    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            issues.append(Issue(f"placements[{index}].name", f"{name!r} is declared twice"))
        seen.add(name)

    def check_placement(path: str, name: str) -> bool:
        if name not in known:
            issues.append(Issue(path, _unknown("placement", name, names)))
            return False
        return True

    def check_fy(path: str, label: str, *, within: bool = True) -> None:
        if within and label not in fys:
            issues.append(
                Issue(
                    path,
                    f"financial year {label} is outside the projection ({fys[0]}..{fys[-1]})",
                )
            )

    # opening stock
    if "opening_stock" not in skip:
        for placement, by_age in s.opening_stock.items():
            path = f"opening_stock.{placement}"
            if check_placement(path, placement):
                counts = expand_ages(by_age, path, ages, issues, split=True)
                for age, count in counts.items():
                    if count < 0:
                        issues.append(Issue(f"{path}[{age}]", f"{count} plans is negative"))

    # demand
    if "demand" not in skip:
        demand = s.demand
        shares = expand_ages(demand.new_plan_ages, "demand.new_plan_ages", ages, issues, split=True)
        if any(share < 0 for share in shares.values()):
            issues.append(Issue("demand.new_plan_ages", "shares must be >= 0"))
        _check_sum(
            "demand.new_plan_ages", "age profile of new plans", list(shares.values()), issues
        )
        mixed_ages: set[int] = set()
        for key, mix in demand.new_plan_mix.items():
            path = f"demand.new_plan_mix[{key}]"
            for placement, share in mix.items():
                check_placement(f"{path}.{placement}", placement)
                if share < 0:
                    issues.append(Issue(f"{path}.{placement}", f"share {share} is negative"))
            expanded = expand_ages({key: 0.0}, "demand.new_plan_mix", ages, issues, split=False)
            mixed_ages.update(expanded)
            _check_sum(path, f"entry mix at age {key}", list(mix.values()), issues)
        for age, share in sorted(shares.items()):
            if share > 0 and age not in mixed_ages:
                issues.append(
                    Issue(
                        "demand.new_plan_mix",
                        f"new plans start at age {age} (share {share:g}) "
                        "but no mix is given for it",
                    )
                )
        if demand.assessment_capacity is not None:
            _check_schedule("demand.assessment_capacity", demand.assessment_capacity, s, issues)

    # ceasing
    if "ceasing" not in skip:
        rates = expand_ages(s.ceasing.rates, "ceasing.rates", ages, issues, split=False)
        peak = max(s.ceasing.profile)
        for age, rate in sorted(rates.items()):
            if rate < 0:
                issues.append(Issue(f"ceasing.rates[{age}]", f"rate {rate} is negative"))
            elif rate * peak > 1 + SUM_TOLERANCE:
                issues.append(
                    Issue(
                        f"ceasing.rates[{age}]",
                        f"rate {rate:g} × profile weight {peak:g} = {rate * peak:.4g} of the stock "
                        "would cease in one month; it must be ≤ 1",
                    )
                )

    # transitions
    if "transitions" not in skip:
        outflow: dict[tuple[str, int], float] = {}
        for index, rule in enumerate(s.transitions):
            path = f"transitions[{index}]"
            ok = check_placement(f"{path}.from", rule.from_) & check_placement(
                f"{path}.to", rule.to
            )
            if rule.from_ == rule.to:
                issues.append(Issue(path, f"moves {rule.from_!r} to itself"))
            keys = rule.ages if isinstance(rule.ages, list) else [rule.ages]
            rule_ages = expand_ages(
                dict.fromkeys(keys, 0.0), f"{path}.ages", ages, issues, split=False
            )
            if ok:
                for age in rule_ages:
                    outflow[(rule.from_, age)] = outflow.get((rule.from_, age), 0.0) + rule.rate
        for (placement, age), total in sorted(outflow.items()):
            if total > 1 + SUM_TOLERANCE:
                issues.append(
                    Issue(
                        "transitions",
                        f"rates out of {placement!r} at age {age} sum to {total:.6g}; "
                        "they must not exceed 1",
                    )
                )

    # capacity
    if "capacity" not in skip:
        overflow_of: dict[str, str] = {}
        for index, cap in enumerate(s.capacity):
            path = f"capacity[{index}]"
            ok = check_placement(f"{path}.placement", cap.placement)
            ok &= check_placement(f"{path}.overflow", cap.overflow)
            if cap.placement in overflow_of:
                issues.append(
                    Issue(f"{path}.placement", f"{cap.placement!r} already has a capacity entry")
                )
            if cap.overflow == cap.placement:
                issues.append(Issue(f"{path}.overflow", f"{cap.placement!r} overflows to itself"))
            elif ok:
                overflow_of[cap.placement] = cap.overflow
            _check_schedule(f"{path}.places", cap.places, s, issues, non_negative=True)
        for first in overflow_of:
            chain = [first]
            while chain[-1] in overflow_of:
                nxt = overflow_of[chain[-1]]
                if nxt in chain:
                    loop = " → ".join([*chain[chain.index(nxt) :], nxt])
                    issues.append(Issue("capacity", f"overflow loops: {loop}; a chain must end"))
                    break
                chain.append(nxt)
            else:
                continue
            break

    # costs
    if "costs" not in skip:
        for placement in s.costs.unit_cost:
            check_placement(f"costs.unit_cost.{placement}", placement)
        missing = [name for name in names if name not in s.costs.unit_cost]
        if missing:
            issues.append(Issue("costs.unit_cost", f"no unit cost for placements {missing}"))
        if isinstance(s.costs.uplift, dict):
            for placement in s.costs.uplift:
                if placement != "default":
                    check_placement(f"costs.uplift.{placement}", placement)

    # funding
    if "funding" not in skip:
        funding = s.funding
        if (funding.high_needs_block is None) == (funding.per_year is None):
            issues.append(
                Issue(
                    "funding",
                    "give either high_needs_block (with growth) or per_year, exactly one of them",
                )
            )
        if funding.per_year is not None:
            for label in funding.per_year:
                check_fy(f"funding.per_year[{label}]", label)
            absent = [label for label in fys if label not in funding.per_year]
            if absent:
                issues.append(Issue("funding.per_year", f"no high needs block for {absent}"))
        for field in ("block_transfers", "other_income"):
            for label in getattr(funding, field):
                check_fy(f"funding.{field}[{label}]", label)

    # agreement
    if "agreement" not in skip:
        agreement = s.agreement
        for label in agreement.contributions:
            check_fy(f"agreement.contributions[{label}]", label)
        for label in agreement.deficit_caps:
            check_fy(f"agreement.deficit_caps[{label}]", label)
        for index, write_off in enumerate(agreement.write_offs):
            path = f"agreement.write_offs[{index}]"
            check_fy(f"{path}.at_end_of", write_off.at_end_of)
            check_fy(f"{path}.paid_in", write_off.paid_in)
            if parse_fy(write_off.paid_in) <= parse_fy(write_off.at_end_of):
                issues.append(
                    Issue(
                        path,
                        f"paid in {write_off.paid_in}, which is not after {write_off.at_end_of}; "
                        "a write-off pays a deficit already standing",
                    )
                )

    # interventions
    if not skip & {"interventions", "transitions", "capacity"}:
        transition_keys = {(rule.from_, rule.to) for rule in s.transitions}
        capacity_keys = {cap.placement for cap in s.capacity}
        seen_names: set[str] = set()
        for index, intervention in enumerate(s.interventions):
            path = f"interventions[{index}]"
            if intervention.name in seen_names:
                issues.append(Issue(f"{path}.name", f"{intervention.name!r} is used twice"))
            seen_names.add(intervention.name)
            if parse_month(intervention.start) < start:
                issues.append(
                    Issue(
                        f"{path}.start",
                        f"{intervention.start} is before the projection start {s.start}; "
                        "an intervention cannot act before the start",
                    )
                )
            for label in intervention.costs:
                check_fy(f"{path}.costs[{label}]", label)
            for number, effect in enumerate(intervention.effects):
                _check_effect(
                    f"{path}.effects[{number}]",
                    effect,
                    transition_keys,
                    capacity_keys,
                    names,
                    issues,
                )

    if "actuals_to_date" not in skip and s.actuals_to_date is not None and s.start.endswith("-04"):
        issues.append(
            Issue(
                "actuals_to_date",
                f"the projection starts in April ({s.start}); year-to-date actuals belong to "
                "a first financial year that starts after April",
            )
        )
    return issues


def _check_schedule(
    path: str,
    schedule: float | dict[str, float],
    s: Scenario,
    issues: list[Issue],
    *,
    non_negative: bool = True,
) -> None:
    steps = expand_schedule(schedule, s.start)
    first = min(steps)
    if parse_month(first) > parse_month(s.start):
        issues.append(
            Issue(
                path,
                f"the schedule starts in {first}, after the projection start {s.start}; "
                f"give a value from {s.start}",
            )
        )
    if non_negative:
        for month, value in steps.items():
            if value < 0:
                issues.append(Issue(f"{path}[{month}]", f"{value} is negative; it must be >= 0"))


_KEYED: Final[dict[str, tuple[str, ...]]] = {
    "transition": ("from", "to"),
    "entry_shift": ("from", "to"),
    "unit_cost": ("placement",),
    "places": ("placement",),
}


def _check_effect(
    path: str,
    effect: Effect,
    transition_keys: set[tuple[str, str]],
    capacity_keys: set[str],
    names: tuple[str, ...],
    issues: list[Issue],
) -> None:
    lever = effect.lever
    given = {"from": effect.from_, "to": effect.to, "placement": effect.placement}
    needed = _KEYED.get(lever, ())
    for key, value in given.items():
        if key in needed and value is None:
            issues.append(Issue(path, f"lever {lever!r} needs {key!r}"))
        if key not in needed and value is not None:
            issues.append(Issue(f"{path}.{key}", f"lever {lever!r} takes no {key!r}"))
    if lever == "entry_shift":
        if effect.share is None:
            issues.append(Issue(path, "lever 'entry_shift' needs 'share' (between 0 and 1)"))
        if effect.multiply is not None or effect.add is not None:
            issues.append(Issue(path, "lever 'entry_shift' takes 'share', not multiply or add"))
    else:
        if effect.share is not None:
            issues.append(Issue(f"{path}.share", f"lever {lever!r} takes no 'share'"))
        if (effect.multiply is None) == (effect.add is None):
            issues.append(Issue(path, f"lever {lever!r} needs exactly one of multiply or add"))
        if effect.multiply is not None and effect.multiply < 0:
            issues.append(
                Issue(f"{path}.multiply", f"{effect.multiply} is negative; it must be >= 0")
            )
    for key in ("from", "to", "placement"):
        value = given[key]
        if key in needed and value is not None and value not in names:
            issues.append(Issue(f"{path}.{key}", _unknown("placement", value, names)))
    if (
        lever == "transition"
        and effect.from_ in names
        and effect.to in names
        and (effect.from_, effect.to) not in transition_keys
    ):
        issues.append(
            Issue(path, f"no transition rule from {effect.from_!r} to {effect.to!r} to act on")
        )
    if lever == "places" and effect.placement in names and effect.placement not in capacity_keys:
        issues.append(Issue(path, f"{effect.placement!r} has no capacity entry to act on"))
