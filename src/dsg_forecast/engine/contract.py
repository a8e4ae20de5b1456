"""What a kernel takes and returns, declared once.

:class:`FlowResult` is what :func:`~dsg_forecast.engine.simulate` returns whichever kernel
runs. :data:`NUMBA_INPUTS`, :data:`NUMBA_FLAGS` and :data:`NUMBA_OUTPUTS` are the compiled
kernel's argument list in order: its numba signature, the tuple of arguments handed to it
and the output arrays read back are all built from these tables (a test checks them
against the compiled function). Shapes use S scenarios, T months, A ages, P placements,
R transition rules, H entry shifts, C capacity entries, Y financial years, L the
assessment lag, T9 the rollover months and K the keys an intervention acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from dsg_forecast._types import FloatArray

Dtype = Literal["float64", "int64", "bool"]


@dataclass(frozen=True, slots=True)
class FlowResult:
    """Month-by-month results of the kernel; axis 0 is the scenario axis S."""

    stock: FloatArray | None
    """Plans at the end of each month by age and placement, (S, T, A, P), if kept. [plans]"""
    stock_by_placement: FloatArray
    """(S, T, P). [plans]"""
    stock_by_age: FloatArray
    """(S, T, A). [plans]"""
    requests: FloatArray
    """Requests for assessment received in the month, (S, T). [requests]"""
    assessments: FloatArray
    """Assessments finished (served from the queue) in the month, (S, T). [assessments]"""
    new_plans: FloatArray
    """(S, T). [plans]"""
    ceased: FloatArray
    """(S, T). [plans]"""
    transferred: FloatArray
    """Net plans transferred in (negative: out), (S, T). [plans]"""
    aged_out: FloatArray
    """(S, T). [plans]"""
    backlog: FloatArray
    """Ready-but-unfinished assessments at the end of the month, (S, T). [assessments]"""
    moves_up: FloatArray
    """Transitions to a higher tier, (S, T). [plans]"""
    moves_down: FloatArray
    """Transitions to a lower tier, (S, T). [plans]"""
    overflow: FloatArray
    """Plans moved by capacity limits, (S, T). [plans]"""
    placement_cost: FloatArray
    """Cost of plans (top-ups and fees), (S, T). [£]"""
    placement_cost_by_placement: FloatArray
    """(S, T, P). [£]"""
    fees: FloatArray
    """The part of ``placement_cost`` paid as fees (independent and non-maintained), (S, T).
    [£]"""
    place_funding: FloatArray
    """Place funding of commissioned places, paid whether or not they are filled; not in
    ``placement_cost``, (S, T). [£]"""


@dataclass(frozen=True, slots=True)
class MonthlyCosts:
    """What a sweep needs from the flows: the month's spending and plans; axis 0 is S."""

    placement_cost: FloatArray
    """Cost of plans (top-ups and fees), (S, T). [£]"""
    fees: FloatArray
    """The part of ``placement_cost`` paid as fees, (S, T). [£]"""
    place_funding: FloatArray
    """Place funding of commissioned places, (S, T). [£]"""
    stock_total: FloatArray
    """Plans at the end of each month, (S, T). [plans]"""


@dataclass(frozen=True, slots=True)
class Slot:
    """One argument of the compiled kernel."""

    name: str
    dtype: Dtype
    shape: tuple[str, ...]
    """Symbolic shape; ``()`` for a scalar flag."""
    doc: str = ""

    @property
    def ndim(self) -> int:
        """Number of dimensions (0 for a scalar)."""
        return len(self.shape)


NUMBA_INPUTS: Final[tuple[Slot, ...]] = (
    Slot("stock0", "float64", ("S", "A", "P"), "opening stock"),
    Slot("backlog0", "float64", ("S",), "opening backlog"),
    Slot("ready", "float64", ("S", "L+T"), "accepted requests, months -L..T-1"),
    Slot("capacity", "float64", ("S", "T"), "assessment capacity (inf: unlimited)"),
    Slot("plan_rate", "float64", ("S",), "share of assessments that issue a plan"),
    Slot("base_entry", "float64", ("S", "A", "P"), "d[a] q[a, p] before entry shifts"),
    Slot("shift_source", "int64", ("H",), "placement each entry shift moves from"),
    Slot("shift_destination", "int64", ("H",), "placement each entry shift moves to"),
    Slot("shift_columns", "int64", ("H'",), "placements any entry shift touches"),
    Slot("shift_share", "float64", ("S", "T", "H"), "share x phi of each entry shift"),
    Slot("rollover", "bool", ("T",), "September rollover months"),
    Slot("september_index", "int64", ("T",), "column of each rollover month"),
    Slot("transition_from", "int64", ("R",), "source placement of each rule"),
    Slot("transition_to", "int64", ("R",), "destination placement of each rule"),
    Slot("rules_start", "int64", ("A+1",), "rules of age a: rules_at[start[a]:start[a+1]]"),
    Slot("rules_at", "int64", ("sum R_a",), "rule indices grouped by age"),
    Slot("transition_rate", "float64", ("S", "R"), "base rate of each rule"),
    Slot("rate_scale", "float64", ("S", "T9", "K"), "transition lever scale"),
    Slot("rate_shift", "float64", ("S", "T9", "K"), "transition lever shift"),
    Slot("rate_slot", "int64", ("R",), "column of each rule in the lever, or -1"),
    Slot("is_up", "float64", ("R",), "1 where a rule moves up a tier"),
    Slot("is_down", "float64", ("R",), "1 where a rule moves down a tier"),
    Slot("ceasing_rate", "float64", ("S", "A"), "annual ceasing rate by age"),
    Slot("cease_weight", "float64", ("S", "T"), "seasonal ceasing weight of each month"),
    Slot("cease_scale", "float64", ("S", "T", "K"), "ceasing lever scale"),
    Slot("cease_shift", "float64", ("S", "T", "K"), "ceasing lever shift"),
    Slot("cease_slot", "int64", ("1",), "0 where an effect acts on ceasing, else -1"),
    Slot("transfer_rate", "float64", ("S", "T"), "net transfer rate per year"),
    Slot("placement_rate", "float64", ("S", "P"), "net transfer rate by placement per month"),
    Slot("capacity_placement", "int64", ("C",), "placement with places"),
    Slot("capacity_overflow", "int64", ("C",), "where the excess goes"),
    Slot("places", "float64", ("S", "T", "C"), "places of each capacity entry"),
    Slot("unit_cost", "float64", ("S", "A", "P"), "base cost per plan by age"),
    Slot("cost_scale", "float64", ("S", "T", "K"), "unit cost lever scale"),
    Slot("cost_shift", "float64", ("S", "T", "K"), "unit cost lever shift"),
    Slot("cost_slot", "int64", ("P",), "column of each placement in the lever, or -1"),
    Slot("cost_kind", "int64", ("P",), "1 where a placement is paid fees, 0 top-ups"),
    Slot("uplift_factor", "float64", ("S", "Y", "P"), "(1 + uplift)^k by FY"),
    Slot("fy_index", "int64", ("T",), "FY of each month"),
    Slot("active", "bool", ("A", "P"), "cells plans can reach (the others stay 0: skipped)"),
    Slot("joins", "bool", ("A", "P"), "cells new plans join (the others skip that term)"),
    Slot("priced_by_age", "bool", ("P",), "placements whose cost per plan varies with age"),
)
"""Read-only inputs of the compiled kernel, in argument order."""

NUMBA_FLAGS: Final[tuple[Slot, ...]] = (
    Slot("full", "bool", (), "fill every series, not only cost and total stock"),
    Slot("keep_stock", "bool", (), "fill the (S, T, A, P) stock"),
    Slot("by_placement", "bool", (), "a placement has its own net transfer rate"),
)
"""Scalar switches, after the inputs."""

NUMBA_OUTPUTS: Final[tuple[Slot, ...]] = (
    Slot("placement_cost", "float64", ("S", "T"), "always filled"),
    Slot("stock_total", "float64", ("S", "T"), "always filled"),
    Slot("fees", "float64", ("S", "T"), "always filled"),
    Slot("stock_by_placement", "float64", ("S", "T", "P")),
    Slot("stock_by_age", "float64", ("S", "T", "A")),
    Slot("placement_cost_by_placement", "float64", ("S", "T", "P")),
    Slot("assessments", "float64", ("S", "T")),
    Slot("new_plans", "float64", ("S", "T")),
    Slot("ceased", "float64", ("S", "T")),
    Slot("transferred", "float64", ("S", "T")),
    Slot("aged_out", "float64", ("S", "T")),
    Slot("backlog", "float64", ("S", "T")),
    Slot("moves_up", "float64", ("S", "T")),
    Slot("moves_down", "float64", ("S", "T")),
    Slot("overflow", "float64", ("S", "T")),
    Slot("stock", "float64", ("S", "T", "A", "P"), "filled with keep_stock"),
)
"""Writable outputs, after the flags; only ``placement_cost`` and ``stock_total`` are
filled unless ``full``."""

#: Outputs filled whatever the flags say.
ALWAYS_FILLED: Final = frozenset({"placement_cost", "stock_total", "fees"})

NUMBA_ARGUMENTS: Final[tuple[Slot, ...]] = (*NUMBA_INPUTS, *NUMBA_FLAGS, *NUMBA_OUTPUTS)
"""Every argument of the compiled kernel, in order."""
