"""The scenario: every input of one projection (MODEL.md §1–5), typed and validated.

Field-level rules (a rate between 0 and 1, a profile summing to 1, a well-formed month)
live on the fields; rules that tie fields together live in :mod:`~dsg_forecast.schema.checks`,
which collects every problem before raising, so a user sees them all on one screen, and
expands age bands and step schedules once (:attr:`Scenario.expanded`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Self, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from dsg_forecast._types import Lever
from dsg_forecast.errors import ScenarioError
from dsg_forecast.periods import fy_label, fy_start_year, parse_month
from dsg_forecast.schema.checks import Expanded, cross_check
from dsg_forecast.schema.fields import (
    FLAT,
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
)
from dsg_forecast.schema.paths import locate, parse_path

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
    tier: Annotated[int, Field(ge=0, le=100)] = 1
    """Higher is more specialist, a rank from 0 to 100; used to count moves up and down."""
    description: str | None = None
    label: str | None = None
    """The name shown in tables, charts and reports (default: the name in words, for example
    ``independent_special`` → "Independent special")."""

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

    @property
    def shown(self) -> str:
        """Return the placement as readers see it: its label, else its name in words."""
        return self.label or self.name.replace("_", " ").capitalize()


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
    amount: Finite | None = None
    """Annual amount in the first financial year. [£ yr⁻¹]"""
    per_year: dict[FinancialYear, Finite] | None = None
    """The line by FY from the first projected FY, instead of one amount; FYs after the
    last given grow at ``growth``. [£ yr⁻¹]"""
    growth: Growth = 0.0
    """Annual growth. [fraction yr⁻¹]"""


PerPlanCost = NonNegative | dict[str, NonNegative]
"""One annual amount per plan, or amounts by phase (``early_years``, ``primary``,
``secondary``, ``post16``, ``post19``) or age band, with an optional ``default``."""


class Costs(Model):
    """What placements cost, uplifts and other lines (§3.5, §5; ``docs/budget-lines.md``)."""

    unit_cost: dict[str, NonNegative] = Field(default_factory=dict)
    """Annual cost per plan by placement, before uplift: the top-up, as ``top_up`` with one
    amount. [£ plan⁻¹ yr⁻¹]"""
    top_up: dict[str, PerPlanCost] = Field(default_factory=dict)
    """Top-up per plan by placement, optionally by phase or age band. [£ plan⁻¹ yr⁻¹]"""
    fees: dict[str, PerPlanCost] = Field(default_factory=dict)
    """Fees per plan for independent and non-maintained placements (which have no place
    funding), optionally by phase or age band. [£ plan⁻¹ yr⁻¹]"""
    place_funding: dict[str, NonNegative] = Field(default_factory=dict)
    """Place funding per commissioned place per year, paid whether or not the place is
    filled, for placements with a capacity entry (its places). [£ place⁻¹ yr⁻¹]"""
    uplift: Growth | dict[str, Growth] = 0.0
    """Annual uplift of per-plan costs: one number, or per placement with an optional
    ``default``. [fraction yr⁻¹]"""
    other_lines: list[OtherLine] = Field(default_factory=list)

    @field_validator("unit_cost", mode="before")
    @classmethod
    def _one_amount_each(cls, value: Any) -> Any:
        """Point amounts by phase or age to ``top_up`` ("Input should be a valid number")."""
        if isinstance(value, Mapping):
            for placement, amount in value.items():
                if isinstance(amount, Mapping):
                    msg = (
                        f"{placement} is given by phase or age ({', '.join(map(str, amount))})"
                        "; unit_cost takes one amount a placement: give amounts by phase "
                        "under top_up (or fees)"
                    )
                    raise ValueError(msg)
        return value


class Funding(Model):
    """Income: the high needs block and other income (§5)."""

    high_needs_block: NonNegative | None = None
    """High needs block in the first financial year. [£ yr⁻¹]"""
    growth: Growth = 0.0
    """Annual growth of the high needs block. [fraction yr⁻¹]"""
    per_year: dict[FinancialYear, NonNegative] | None = None
    """The high needs block by FY from the first projected FY, instead of one amount; FYs
    after the last given grow at ``growth``. [£ yr⁻¹]"""
    recoupment: dict[FinancialYear, NonNegative] = Field(default_factory=dict)
    """Place funding the ESFA deducts from the block for academies, free schools and FE
    colleges and pays them directly, by FY. [£ yr⁻¹]"""
    import_export: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Net pupils imported from other councils' areas (negative: exported), by FY; the
    block is adjusted by ``import_export_rate`` for each. [pupils]"""
    import_export_rate: NonNegative = 6000.0
    """Adjustment per net imported pupil in the high needs national funding formula's
    import/export factor (default £6,000; check the year's technical note). [£ pupil⁻¹ yr⁻¹]"""
    block_transfers: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Transfers from other DSG blocks (for example the schools block), by FY. [£ yr⁻¹]"""
    schools_block: dict[FinancialYear, NonNegative] = Field(default_factory=dict)
    """The schools block allocation by FY, for transfers given as a share of it. [£ yr⁻¹]"""
    schools_block_transfer: dict[FinancialYear, Fraction] = Field(default_factory=dict)
    """Share of the schools block transferred to high needs, by FY (0.005 = 0.5%)."""
    other_income: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """Any other income by FY. [£ yr⁻¹]"""
    other_blocks_balance: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """In-year balance of the other DSG blocks (schools, central school services, early
    years) by FY, for the whole-DSG view; positive is a surplus. [£ yr⁻¹]"""


class WriteOff(Model):
    """A share of the deficit at the end of one FY, paid in a later FY (§5).

    The 2026 High Needs Stability Grant is one: 90% of the deficit at the end of 2025-26.
    """

    share: Fraction
    at_end_of: FinancialYear
    paid_in: FinancialYear
    replaces_safety_valve: StrictBool = True
    """Safety Valve instalments due from the FY it is paid in on are not paid: the write-off
    already covers the deficit they were to reduce (see ``docs/budget-lines.md``)."""


class ReceivedBeforeStart(Model):
    """Contributions already received before the projection starts, by source. [£]"""

    dfe_safety_valve: Finite = 0.0
    council: Finite = 0.0


class Agreement(Model):
    """The Safety Valve (or successor) agreement: balance, payments and conditions (§5)."""

    opening_balance: Finite = 0.0
    """Cumulative DSG balance before the first month; negative is a deficit. [£]"""
    opening_high_needs_balance: Finite | None = None
    """The high-needs part of the opening balance, where the other blocks hold a balance
    too (default: the whole opening balance). [£]"""
    contributions: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """The DfE's Safety Valve payments (instalments) by FY. [£]"""
    withhold_when_conditions_missed: StrictBool = False
    """Withhold a Safety Valve instalment in a FY after one that missed a condition (a cap
    exceeded, or an in-year deficit from the balance target on)."""
    council_contributions: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """The council's own contributions (general fund or reserves) by FY. [£]"""
    received_before_start: ReceivedBeforeStart = ReceivedBeforeStart()
    """Contributions already in the opening balance, so that the balance before any
    contribution and the cumulative total of each source can be shown. [£]"""
    write_offs: list[WriteOff] = Field(default_factory=list)
    deficit_caps: dict[FinancialYear, NonNegative] = Field(default_factory=dict)
    """Largest cumulative deficit allowed at the end of each FY. [£]"""
    balance_target: FinancialYear | None = None
    """FY from which every in-year balance must be ≥ 0."""
    statutory_override_end: Month = "2028-03"
    """Last month of the statutory override that keeps DSG deficits off councils' general
    accounts (31 March 2028); the deficit at the end of its FY is reported."""


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
    """YAML reads ``condition: 3.1`` as a number; a condition label is text.

    ``.nan`` or ``.inf`` is no label (left a number, it is refused as not text); write a
    label with a trailing zero in quotes (``"3.10"``: YAML reads 3.10 as 3.1).
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
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
    savings_target: dict[FinancialYear, Finite] = Field(default_factory=dict)
    """The plan's own target for the intervention's net saving by FY, to rate delivery
    against. [£ yr⁻¹]"""


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
    net_transfer_by_placement: dict[
        str, Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
    ] = Field(default_factory=dict)
    """Net plans moving into (or out of) each placement beyond ``net_transfer_rate``, as an
    annual share of that placement's stock: the census residual by placement, which
    ``calibration.reconcile`` sets so the projection meets forecasts by placement. The
    two compound, ``(1 + r/12)(1 + r_p/12)``. [fraction yr⁻¹]"""
    ceasing: Ceasing
    transitions: list[Transition] = Field(default_factory=list)
    capacity: list[Capacity] = Field(default_factory=list)
    costs: Costs
    funding: Funding
    agreement: Agreement = Agreement()
    interventions: list[Intervention] = Field(default_factory=list)
    actuals_to_date: ActualsToDate | None = None
    placeholders: list[str] = Field(default_factory=list)
    """Fields whose values are placeholders still to be replaced with the council's own
    (``calibrate`` sets the costs and funding it cannot know); ``validate``, ``run`` and
    ``report`` say so loudly."""

    @field_validator("placeholders")
    @classmethod
    def _placeholders_name_fields(cls, value: list[str]) -> list[str]:
        for path in value:
            if path.split(".")[0] not in cls.model_fields or path.split(".")[0] == "placeholders":
                msg = f"{path!r} is not a field of the scenario (for example 'costs.unit_cost')"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_across_fields(self) -> Self:
        self.expanded  # noqa: B018 - runs every rule across fields once, and keeps the result
        return self

    @functools.cached_property
    def expanded(self) -> Expanded:
        """Age bands and step schedules expanded to single ages and months (computed once).

        Raises
        ------
        ScenarioError
            Listing every rule across fields the scenario breaks (only for a scenario
            built without validation, such as one from ``model_construct``).
        """
        issues, expanded = cross_check(self)
        if issues:
            raise ScenarioError(issues)
        return expanded

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy with ``update`` applied, validated like a file.

        Unlike pydantic's ``model_copy``, the result is validated in full (every field and
        every rule across fields), so a copy cannot hold a value a file could not; prefer
        :meth:`replace`, which takes the dotted paths of sweeps.

        Parameters
        ----------
        update
            Field name → new value (a section as a model or as plain data).
        deep
            Copy nested models too (the result is always a fresh, validated scenario).

        Returns
        -------
        Scenario
            The validated copy.

        Raises
        ------
        ScenarioError
            If the update breaks a rule, naming the field, the value and the rule.
        """
        if not update:
            copied = super().model_copy(deep=deep)
            copied.__dict__.pop("expanded", None)
            return copied
        data = self.model_dump(by_alias=True)
        for name, value in update.items():
            data[name] = value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value
        return cast("Self", _validated(data, "model_copy"))

    def replace(self, changes: Mapping[str, Any]) -> Scenario:
        """Return the scenario with values changed by dotted path, validated like a file.

        Parameters
        ----------
        changes
            Path → new value, with the paths of sweeps: ``{"demand.plan_rate": 0.9,
            "costs.uplift.inmss": 0.08, "agreement.contributions[2025-26]": 5e6}``. An entry
            absent from a mapping (a new FY, placement or age) is added.

        Returns
        -------
        Scenario
            A new, validated scenario; this one is unchanged.

        Raises
        ------
        ScenarioError
            If a path does not name a value of the scenario, or the result breaks a rule.

        Examples
        --------
        >>> from dsg_forecast import load_scenario
        >>> plan = load_scenario("examples/worked_example.yaml")
        >>> plan.replace({"demand.plan_rate": 0.9}).demand.plan_rate
        0.9
        """
        data = self.model_dump(by_alias=True)
        for path, value in changes.items():
            container, key = locate(data, parse_path(path), path)
            container[key] = value
        return _validated(data, "replace")

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


#: Validates a mapping into a Scenario, with every problem as a ScenarioError;
#: ``schema.parsing`` registers :func:`~dsg_forecast.schema.parsing.scenario_from_mapping`
#: here when it is imported (it imports this module, so this one cannot import it).
VALIDATOR: list[Callable[[dict[str, Any], str], Scenario]] = []


def _validated(data: dict[str, Any], source: str) -> Scenario:
    """Validate through the registered validator (importing the package registers it)."""
    return VALIDATOR[0](data, source)
