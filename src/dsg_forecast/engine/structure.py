"""What the engine consumes: a model structure and numeric parameters, as plain arrays.

:class:`ModelStructure` holds what cannot vary between the scenarios of one batch (the
calendar, the names, which rules and interventions exist and when they start).
:class:`ModelParameters` holds every number that may vary, each with a leading scenario
axis ``S``, so that a sweep can build or perturb them directly, without one
:class:`~dsg_forecast.schema.Scenario` per draw.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from dsg_forecast._types import BoolArray, FloatArray, IntArray, Lever
from dsg_forecast.engine.views import one_row
from dsg_forecast.errors import ArgumentTypeError, Issue, ScenarioError, ShapeError

EffectKind = Literal["multiply", "add", "share"]


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """Where one intervention effect acts; its size is ``ModelParameters.effect_value``."""

    lever: Lever
    kind: EffectKind
    intervention: int
    """Index of the intervention the effect belongs to."""
    targets: tuple[int, ...] = ()
    """Where it acts: the placement (``unit_cost``), the capacity entry (``places``) or every
    transition rule with that ``from`` and ``to`` (``transition``)."""
    source: int = -1
    """For ``entry_shift``: placement moved from."""
    destination: int = -1
    """For ``entry_shift``: placement moved to."""


@dataclass(frozen=True, slots=True, weakref_slot=True)
class ModelStructure:
    """The parts of a model that every scenario of a batch shares."""

    months: IntArray
    """Month numbers (``12 * year + month - 1``), shape (T,)."""
    calendar_month: IntArray
    """Calendar month 1..12 of each projected month, shape (T,)."""
    fy_index: IntArray
    """Financial-year index of each month, shape (T,)."""
    fy_labels: tuple[str, ...]
    """Labels of the financial years, length Y."""
    months_in_fy: FloatArray
    """Projected months in each financial year, shape (Y,)."""
    ages: IntArray
    """Ages ``min..max``, shape (A,). [years]"""
    placements: tuple[str, ...]
    """Placement names, length P."""
    tiers: IntArray
    """Tier of each placement, shape (P,)."""
    rollover: BoolArray
    """Whether month t has a September rollover (every September but the start), (T,)."""
    assessment_months: int
    """Lag L from an accepted request to a ready assessment. [months]"""
    pre_start_calendar_month: IntArray
    """Calendar months of the L months before the start, oldest first, shape (L,)."""
    assessment_capacity_step: IntArray
    """Index into ``ModelParameters.assessment_capacity`` in force in each month, (T,)."""
    transition_from: IntArray
    """Source placement of each transition rule, shape (R,)."""
    transition_to: IntArray
    """Destination placement of each transition rule, shape (R,)."""
    transition_ages: BoolArray
    """Whether a rule acts at each new age, shape (R, A)."""
    capacity_placement: IntArray
    """Placement with places, per capacity entry in declared order, shape (C,)."""
    capacity_overflow: IntArray
    """Overflow placement per capacity entry, shape (C,)."""
    capacity_step: IntArray
    """Index into ``ModelParameters.places[c]`` in force in each month, shape (C, T)."""
    other_lines: tuple[str, ...]
    """Names of other high-needs lines, length L_o."""
    interventions: tuple[str, ...]
    """Intervention names, length I."""
    conditions: tuple[str | None, ...]
    """Agreement condition of each intervention, length I."""
    phase: FloatArray
    """Share of full effect φ of each intervention in each month, shape (I, T)."""
    effects: tuple[EffectSpec, ...]
    """Every intervention effect in the order it applies, length E."""
    write_off_at_end_of: IntArray
    """FY index whose closing deficit each write-off pays a share of, shape (W,)."""
    write_off_paid_in: IntArray
    """FY index in which each write-off is paid, shape (W,)."""
    write_off_replaces_safety_valve: BoolArray
    """Whether Safety Valve instalments stop from the FY each write-off is paid in, (W,)."""
    withhold_safety_valve: bool
    """Whether a Safety Valve instalment is withheld in a FY after one that missed a
    condition (a cap exceeded, or an in-year deficit from the balance target on)."""
    override_end_year: int | None
    """FY index in which the statutory override ends; None if outside the projection."""
    has_cap: BoolArray
    """Whether each FY has a deficit cap, shape (Y,)."""
    balance_target: int | None
    """FY index from which in-year balance must be ≥ 0 (may be ≥ Y); None if no target."""
    high_needs_block_series: bool
    """True if the high needs block is given per FY rather than amount and growth."""
    high_needs_block_last_given: int
    """With a series, the index of its last given FY (later FYs grow from it); else −1."""
    other_line_last_given: IntArray
    """For each other line given by FY, its last given FY's index; −1 for an amount, (L_o,)."""
    cost_kind: IntArray
    """Whether each placement's cost per plan is a top-up (0) or fees (1), shape (P,)."""
    priced_by_age: BoolArray
    """Whether each placement's cost per plan may vary with age, shape (P,). A placement
    not priced by age costs its plans times one price; parameters must then give it the
    same cost per plan at every age (:func:`check_shapes` checks)."""

    @property
    def age_priced(self) -> bool:
        """Whether any placement's cost per plan varies with age."""
        return bool(self.priced_by_age.any())

    @property
    def n_months(self) -> int:
        """Number of projected months T."""
        return int(self.months.shape[0])

    @property
    def n_years(self) -> int:
        """Number of financial years Y."""
        return len(self.fy_labels)


@dataclass(frozen=True, slots=True)
class ModelParameters:
    """Every number that may vary between scenarios; axis 0 is the scenario axis S."""

    opening_stock: FloatArray
    """Plans at the start by age and placement, (S, A, P). [plans]"""
    requests_per_year: FloatArray
    """Requests in the first FY, (S,). [requests yr⁻¹]"""
    requests_growth: FloatArray
    """Annual growth of requests, (S,). [fraction yr⁻¹]"""
    request_profile: FloatArray
    """Seasonal weights of requests, January..December, (S, 12)."""
    refusal_rate: FloatArray
    """Share of requests refused, (S,). [fraction]"""
    plan_rate: FloatArray
    """Share of finished assessments that issue a plan, (S,). [fraction]"""
    assessment_capacity: FloatArray
    """Assessment capacity of each schedule step (inf = unlimited), (S, K). [month⁻¹]"""
    opening_backlog: FloatArray
    """Ready-but-unfinished assessments at the start, (S,). [assessments]"""
    new_plan_ages: FloatArray
    """Age profile of new plans, (S, A); rows sum to 1."""
    new_plan_mix: FloatArray
    """Placement mix of new plans by age, (S, A, P); rows sum to 1 where ages are used."""
    net_transfer_rate: FloatArray
    """Net transfers in, as an annual share of the stock, (S,). [fraction yr⁻¹]"""
    placement_transfer_rate: FloatArray
    """Net transfers into each placement on top of ``net_transfer_rate``, (S, P).
    [fraction yr⁻¹]"""
    ceasing_rate: FloatArray
    """Annual ceasing rate by age, (S, A). [fraction yr⁻¹]"""
    ceasing_profile: FloatArray
    """Seasonal weights of ceasing, January..December, (S, 12)."""
    transition_rate: FloatArray
    """Rate of each transition rule, (S, R). [fraction]"""
    places: tuple[FloatArray, ...]
    """Places of each capacity entry at each schedule step, C arrays of (S, K_c). [places]"""
    unit_cost: FloatArray
    """Annual cost per plan (top-up or fees) before uplift, by age, (S, A, P).
    [£ plan⁻¹ yr⁻¹]"""
    place_funding_rate: FloatArray
    """Place funding per place of each capacity entry (0 where none), (S, C).
    [£ place⁻¹ yr⁻¹]"""
    uplift: FloatArray
    """Annual uplift of unit costs, (S, P). [fraction yr⁻¹]"""
    other_line_amount: FloatArray
    """Other high-needs lines in the first FY, (S, L_o). [£ yr⁻¹]"""
    other_line_growth: FloatArray
    """Growth of other lines, (S, L_o). [fraction yr⁻¹]"""
    other_line_per_year: FloatArray
    """Other lines given by FY (zeros after the last given FY and for amounts),
    (S, L_o, Y). [£ yr⁻¹]"""
    high_needs_block: FloatArray
    """High needs block in the first FY, (S,). [£ yr⁻¹]"""
    high_needs_block_growth: FloatArray
    """Growth of the high needs block, (S,). [fraction yr⁻¹]"""
    high_needs_block_per_year: FloatArray
    """High needs block by FY when given as a series (zeros after the last given FY and
    where none is given), (S, Y). [£ yr⁻¹]"""
    recoupment: FloatArray
    """Place funding deducted from the block for academies and colleges, (S, Y). [£ yr⁻¹]"""
    import_export: FloatArray
    """Net pupils imported (negative: exported), (S, Y). [pupils]"""
    import_export_rate: FloatArray
    """Adjustment per net imported pupil, (S,). [£ pupil⁻¹ yr⁻¹]"""
    schools_block: FloatArray
    """The schools block allocation by FY, (S, Y). [£ yr⁻¹]"""
    schools_block_transfer: FloatArray
    """Share of the schools block transferred to high needs, (S, Y). [fraction]"""
    block_transfers: FloatArray
    """Transfers from other DSG blocks by FY, (S, Y). [£ yr⁻¹]"""
    other_income: FloatArray
    """Other income by FY, (S, Y). [£ yr⁻¹]"""
    actual_income: FloatArray
    """Year-to-date actual income added to the first FY, (S,). [£]"""
    actual_expenditure: FloatArray
    """Year-to-date actual expenditure added to the first FY, (S,). [£]"""
    opening_balance: FloatArray
    """Cumulative DSG balance before the first month, (S,). [£]"""
    opening_high_needs_balance: FloatArray
    """The high-needs part of the opening balance, (S,). [£]"""
    other_blocks_balance: FloatArray
    """In-year balance of the other DSG blocks by FY, (S, Y). [£]"""
    contributions: FloatArray
    """The DfE's Safety Valve instalments by FY, (S, Y). [£]"""
    council_contributions: FloatArray
    """The council's own contributions by FY, (S, Y). [£]"""
    received_before_start: FloatArray
    """Contributions already in the opening balance, Safety Valve then council, (S, 2). [£]"""
    write_off_share: FloatArray
    """Share of each write-off, (S, W). [fraction]"""
    deficit_cap: FloatArray
    """Deficit cap by FY, NaN where none, (S, Y). [£]"""
    effect_value: FloatArray
    """Size of each intervention effect (multiplier, addend or share), (S, E)."""
    intervention_cost: FloatArray
    """Each intervention's own cost by FY, (S, I, Y). [£ yr⁻¹]"""
    intervention_on: FloatArray
    """1 where an intervention is switched on, 0 where off, (S, I)."""

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios S."""
        return int(self.opening_stock.shape[0])

    def take(self, index: IntArray | list[int] | slice) -> ModelParameters:
        """Return the parameters of a subset of scenarios (always keeping the scenario axis).

        Parameters
        ----------
        index
            The scenarios to keep: indices or a slice.

        Returns
        -------
        ModelParameters
            Contiguous copies of those scenarios' parameters.
        """
        if not isinstance(index, slice):
            index = np.asarray(index, dtype=np.int64)
        changes: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                changes[field.name] = tuple(np.ascontiguousarray(v[index]) for v in value)
            else:
                changes[field.name] = np.ascontiguousarray(value[index])
        return replace(self, **changes)  # type: ignore[arg-type]

    def collapsed(self) -> ModelParameters:
        """Return these parameters with one row of every field the same for every scenario.

        A field given to every scenario as one zero-stride row (:meth:`repeat`) keeps that
        one row, so numpy broadcasting computes what it alone feeds once, not once per
        scenario; the result has ``n_scenarios`` 1 unless the opening stock varies.

        Returns
        -------
        ModelParameters
            The same numbers, shared fields one row.
        """
        changes: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                changes[field.name] = tuple(one_row(v) for v in value)
            else:
                changes[field.name] = one_row(value)
        return replace(self, **changes)  # type: ignore[arg-type]

    def repeat(self, count: int) -> ModelParameters:
        """Return ``count`` copies of a single scenario's parameters (S must be 1).

        The copies are read-only zero-stride views, so a batch of a million costs no more
        memory than one scenario; replace the fields that vary (see :meth:`replace`).

        Parameters
        ----------
        count
            The number of copies S.

        Returns
        -------
        ModelParameters
            Zero-stride, read-only views with S = ``count``.

        Raises
        ------
        ShapeError
            If these parameters hold more than one scenario.
        """
        if self.n_scenarios != 1:
            msg = f"repeat needs parameters of one scenario, got S={self.n_scenarios}"
            raise ShapeError(msg)
        changes: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                changes[field.name] = tuple(_repeat_view(v, count) for v in value)
            else:
                changes[field.name] = _repeat_view(value, count)
        return replace(self, **changes)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> ModelParameters:
        """Return a copy with some fields replaced (for sweeps and savings variants).

        Parameters
        ----------
        **changes
            Field name → new array (with the scenario axis first).

        Returns
        -------
        ModelParameters
            A new container; the arrays not named are shared, not copied.
        """
        return replace(self, **changes)  # type: ignore[arg-type]


def _repeat_view(value: FloatArray, count: int) -> FloatArray:
    return np.broadcast_to(value, (count, *value.shape[1:]))


def concat_parameters(parts: list[ModelParameters]) -> ModelParameters:
    """Stack several parameter sets along the scenario axis.

    Parameters
    ----------
    parts
        Parameter sets of one structure.

    Returns
    -------
    ModelParameters
        Their scenarios in order, S = the sum of theirs.

    Raises
    ------
    ArgumentTypeError
        If ``parts`` is not a non-empty list of ``ModelParameters``.
    ShapeError
        If a parameter's shape beyond the scenario axis differs between parts (parts of
        different structures; numpy's "all the input array dimensions …" before).
    """
    _check_parts(parts)
    first = parts[0]
    changes: dict[str, object] = {}
    for field in fields(first):
        values = [getattr(part, field.name) for part in parts]
        _check_same_tail(field.name, values)
        if isinstance(values[0], tuple):
            changes[field.name] = tuple(
                np.concatenate([value[c] for value in values]) for c in range(len(values[0]))
            )
        else:
            changes[field.name] = np.concatenate(values)
    return replace(first, **changes)  # type: ignore[arg-type]


def _check_parts(parts: object) -> None:
    """Refuse parts that are not a non-empty list (or tuple) of ``ModelParameters``."""
    if isinstance(parts, list | tuple) and parts:
        if all(isinstance(part, ModelParameters) for part in parts):
            return
        kinds = sorted({type(part).__name__ for part in parts})
        got = f"a {type(parts).__name__} holding {', '.join(kinds)}"
    elif isinstance(parts, list | tuple):
        got = f"an empty {type(parts).__name__}"
    else:
        got = repr(parts)[:40]
    msg = f"parts is {got}; give a list of ModelParameters (of one structure), at least one"
    raise ArgumentTypeError(msg)


def _check_same_tail(name: str, values: list[Any]) -> None:
    """Refuse a parameter whose shape beyond the scenario axis differs between parts."""
    arrays = [value if isinstance(value, tuple) else (value,) for value in values]
    for number, part in enumerate(arrays[1:], start=1):
        shapes = [np.shape(array)[1:] for array in part]
        wanted = [np.shape(array)[1:] for array in arrays[0]]
        if shapes != wanted:
            msg = (
                f"parameter {name!r} is shaped {shapes} beyond the scenario axis in part "
                f"{number} but {wanted} in part 0: the parts are not of one structure"
            )
            raise ShapeError(msg)


def expected_shapes(structure: ModelStructure) -> dict[str, tuple[int, ...]]:
    """Shape of each parameter without its scenario axis, as the structure implies.

    Parameters
    ----------
    structure
        What every scenario shares.

    Returns
    -------
    dict of str to tuple of int
        Parameter name → shape after the scenario axis.
    """
    a, p = len(structure.ages), len(structure.placements)
    y, r = structure.n_years, len(structure.transition_from)
    return {
        "opening_stock": (a, p),
        "requests_per_year": (),
        "requests_growth": (),
        "request_profile": (12,),
        "refusal_rate": (),
        "plan_rate": (),
        "opening_backlog": (),
        "new_plan_ages": (a,),
        "new_plan_mix": (a, p),
        "net_transfer_rate": (),
        "placement_transfer_rate": (p,),
        "ceasing_rate": (a,),
        "ceasing_profile": (12,),
        "transition_rate": (r,),
        "unit_cost": (a, p),
        "place_funding_rate": (len(structure.capacity_placement),),
        "uplift": (p,),
        "other_line_amount": (len(structure.other_lines),),
        "other_line_growth": (len(structure.other_lines),),
        "other_line_per_year": (len(structure.other_lines), y),
        "high_needs_block": (),
        "high_needs_block_growth": (),
        "high_needs_block_per_year": (y,),
        "recoupment": (y,),
        "import_export": (y,),
        "import_export_rate": (),
        "schools_block": (y,),
        "schools_block_transfer": (y,),
        "block_transfers": (y,),
        "other_income": (y,),
        "actual_income": (),
        "actual_expenditure": (),
        "opening_balance": (),
        "opening_high_needs_balance": (),
        "other_blocks_balance": (y,),
        "contributions": (y,),
        "council_contributions": (y,),
        "received_before_start": (2,),
        "write_off_share": (len(structure.write_off_paid_in),),
        "deficit_cap": (y,),
        "effect_value": (len(structure.effects),),
        "intervention_cost": (len(structure.interventions), y),
        "intervention_on": (len(structure.interventions),),
    }


def check_shapes(structure: ModelStructure, params: ModelParameters) -> None:
    """Raise :class:`ShapeError` naming the first parameter whose shape is wrong.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        The parameters to check.

    Raises
    ------
    TypeError
        If the structure and parameters are not a ``ModelStructure`` and a
        ``ModelParameters`` (given the other way round, say).
    ShapeError
        Naming the parameter, its shape and the shape expected; or a parameter that is not
        a numpy array of float64 numbers (a list, integers, booleans).
    """
    _check_types(structure, params)
    s = params.n_scenarios
    if s < 1:
        msg = "parameters hold no scenario; S must be at least 1"
        raise ShapeError(msg)
    for name, tail in expected_shapes(structure).items():
        got = getattr(params, name).shape
        if got != (s, *tail):
            msg = f"parameter {name!r} has shape {got}, expected {(s, *tail)}"
            raise ShapeError(msg)
    if len(params.places) != len(structure.capacity_placement):
        msg = (
            f"parameter 'places' has {len(params.places)} capacity entries, "
            f"expected {len(structure.capacity_placement)}"
        )
        raise ShapeError(msg)
    # a step schedule may hold steps after the end; it needs at least those the months use
    schedules = [
        ("assessment_capacity", params.assessment_capacity, structure.assessment_capacity_step)
    ]
    schedules += [
        (f"places[{c}]", values, structure.capacity_step[c])
        for c, values in enumerate(params.places)
    ]
    for name, values, step in schedules:
        needed = int(step.max()) + 1
        if values.ndim != 2 or values.shape[0] != s or values.shape[1] < needed:
            msg = (
                f"parameter {name!r} has shape {values.shape}, expected ({s}, K) "
                f"with K >= {needed} schedule steps"
            )
            raise ShapeError(msg)
    _check_one_price(structure, params)


def _check_types(structure: object, params: object) -> None:
    """Refuse containers of the wrong kind, and parameters that are not float64 arrays.

    A list, integers or booleans ended deep inside numpy or numba (a cast error, "no
    matching definition"), and numpy read ``True`` as 1.
    """
    if not isinstance(structure, ModelStructure) or not isinstance(params, ModelParameters):
        msg = (
            f"structure and params are a {type(structure).__name__} and a "
            f"{type(params).__name__}, not a ModelStructure and a ModelParameters: pass "
            "(structure, params) as compile_scenario returns them"
        )
        raise ArgumentTypeError(msg)
    for field in fields(params):
        value = getattr(params, field.name)
        if field.name == "places" and not isinstance(value, tuple):
            msg = (
                f"parameter 'places' is a {type(value).__name__}; give a tuple of float64 "
                "arrays, one for each capacity entry"
            )
            raise ShapeError(msg)
        for number, array in enumerate(value if isinstance(value, tuple) else (value,)):
            name = f"{field.name}[{number}]" if isinstance(value, tuple) else field.name
            if not isinstance(array, np.ndarray):
                msg = (
                    f"parameter {name!r} is a {type(array).__name__}, not a numpy array; give "
                    "np.asarray(value, dtype=float)"
                )
                raise ShapeError(msg)
            if array.dtype != np.float64:
                msg = (
                    f"parameter {name!r} holds {array.dtype} values; give float64 numbers "
                    "(np.asarray(value, dtype=float))"
                )
                raise ShapeError(msg)


def _check_one_price(structure: ModelStructure, params: ModelParameters) -> None:
    """Raise :class:`ShapeError` if a placement not priced by age has prices by age."""
    flags = np.asarray(structure.priced_by_age)
    if flags.dtype != np.bool_ or flags.shape != (len(structure.placements),):
        msg = (
            f"structure 'priced_by_age' is {flags.dtype} of shape {flags.shape}; it must be "
            f"booleans, one per placement ({len(structure.placements)},)"
        )
        raise ShapeError(msg)
    cost = one_row(params.unit_cost)
    for placement in np.flatnonzero(~structure.priced_by_age):
        prices = cost[:, :, placement]  # a view, (S, A): no copy of every placement
        differs = (prices != prices[:, :1]).any(axis=1)
        if differs.any():
            msg = (
                f"parameter 'unit_cost' varies with age in placement "
                f"{structure.placements[placement]!r} (scenario {int(np.argmax(differs))}), "
                "but the structure prices that placement the same at every age "
                "(priced_by_age is False); compile the structure from a scenario that "
                "prices it by age"
            )
            raise ShapeError(msg)


#: Parameters where +inf means "no limit" (assessment capacity, a capacity's places).
UNLIMITED: tuple[str, ...] = ("assessment_capacity", "places")


def check_finite(structure: ModelStructure, params: ModelParameters) -> None:
    """Raise :class:`ScenarioError` naming every parameter that holds a value that is not a number.

    NaN is refused everywhere but in ``deficit_cap`` of a year without a cap (which is how
    the compiler writes "no cap"); +inf only in :data:`UNLIMITED`; -inf nowhere. Arrays built
    by hand for :func:`~dsg_forecast.model.run_batch` would otherwise give NaN results without
    a word.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        The parameters to check (shapes already checked).

    Raises
    ------
    ScenarioError
        One issue per parameter: its name, the first scenario and value at fault.
    """
    issues = []
    for field in fields(params):
        values = getattr(params, field.name)
        for number, given in enumerate(values if isinstance(values, tuple) else (values,)):
            array = np.asarray(given)
            if array.dtype.kind != "f":
                continue
            bad = np.isnan(array) | np.isneginf(array)
            if field.name not in UNLIMITED:
                bad |= np.isposinf(array)
            if field.name == "deficit_cap":
                bad &= np.broadcast_to(structure.has_cap, array.shape)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                name = f"{field.name}[{number}]" if isinstance(values, tuple) else field.name
                message = (
                    f"{array[where]} at {where} (scenario {where[0]}) is not a number the "
                    "model can use; every parameter must be finite"
                    + (" (or +inf: no limit)" if field.name in UNLIMITED else "")
                )
                issues.append(Issue(f"params.{name}", message))
    if issues:
        raise ScenarioError(issues)
