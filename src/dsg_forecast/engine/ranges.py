"""The values each engine parameter may take, checked for batches built by hand.

A scenario file is checked by the schema before it is compiled, so every batch the library
builds from one (a projection, a sweep's draws) already holds valid numbers. A tool that
builds or edits :class:`~dsg_forecast.engine.structure.ModelParameters` itself (``params
.replace(refusal_rate=...)``, then :func:`~dsg_forecast.model.run_batch`) bypasses the
schema: a refusal rate of 1.5 gave negative requests and negative plans without a word.
:func:`check_ranges` applies the schema's rules that the engine relies on (bounds, and
shares that must sum to 1) to every scenario of a batch.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from dsg_forecast.engine.views import one_row
from dsg_forecast.errors import Issue, ScenarioError

#: How far a share's sum may be from 1 (the schema's tolerance: shares typed with rounding).
SUM_TOLERANCE: Final = 1e-6


@dataclass(frozen=True)
class Range:
    """The values one parameter may take: ``low`` (or above it, if ``open``) up to ``high``."""

    low: float
    high: float = math.inf
    open: bool = False
    """Whether ``low`` itself is refused (a growth of −1 would end every amount)."""
    what: str = ""
    """What the values are, for messages."""


#: Each parameter's valid values, as the schema's rules give them.
RANGES: Final[dict[str, Range]] = {
    "opening_stock": Range(0.0, what="a count of plans"),
    "requests_per_year": Range(0.0, what="a number of requests"),
    "requests_growth": Range(-1.0, open=True, what="a growth a year"),
    "request_profile": Range(0.0, what="a seasonal weight"),
    "refusal_rate": Range(0.0, 1.0, what="a share"),
    "plan_rate": Range(0.0, 1.0, what="a share"),
    "assessment_capacity": Range(0.0, what="a capacity (inf: no limit)"),
    "opening_backlog": Range(0.0, what="a number of assessments"),
    "new_plan_ages": Range(0.0, 1.0, what="a share"),
    "new_plan_mix": Range(0.0, 1.0, what="a share"),
    "net_transfer_rate": Range(-1.0, 1.0, what="a share a year"),
    "placement_transfer_rate": Range(-1.0, 1.0, what="a share a year"),
    "ceasing_rate": Range(0.0, 1.0, what="a share a year"),
    "ceasing_profile": Range(0.0, what="a seasonal weight"),
    "transition_rate": Range(0.0, 1.0, what="a share"),
    "places": Range(0.0, what="a number of places (inf: no limit)"),
    "unit_cost": Range(0.0, what="a cost per plan"),
    "place_funding_rate": Range(0.0, what="funding per place"),
    "uplift": Range(-1.0, open=True, what="a growth a year"),
    "other_line_growth": Range(-1.0, open=True, what="a growth a year"),
    "high_needs_block": Range(0.0, what="an allocation"),
    "high_needs_block_growth": Range(-1.0, open=True, what="a growth a year"),
    "import_export_rate": Range(0.0, what="an amount per pupil"),
    "schools_block_transfer": Range(0.0, 1.0, what="a share"),
    "write_off_share": Range(0.0, 1.0, what="a share"),
    "deficit_cap": Range(0.0, what="a deficit cap"),
}

#: What each axis after the scenario's counts, for messages (other parameters: by position).
AXES: Final[dict[str, tuple[str, ...]]] = {
    "opening_stock": ("age", "placement"),
    "new_plan_mix": ("age", "placement"),
    "unit_cost": ("age", "placement"),
    "new_plan_ages": ("age",),
    "ceasing_rate": ("age",),
    "placement_transfer_rate": ("placement",),
    "uplift": ("placement",),
    "request_profile": ("month",),
    "ceasing_profile": ("month",),
    "schools_block_transfer": ("year",),
    "deficit_cap": ("year",),
    "transition_rate": ("rule",),
}

#: Shares that must sum to 1 over their last axis: for every scenario, or (the placement mix
#: of new plans) at every age new plans start at.
SUMS: Final = ("request_profile", "ceasing_profile", "new_plan_ages", "new_plan_mix")


def check_ranges(structure: ModelStructure, params: ModelParameters) -> None:
    """Raise :class:`ScenarioError` naming every parameter outside its valid values.

    Bounds (``RANGES``) and shares that must sum to 1 (``SUMS``: seasonal profiles, the
    ages of new plans, and the placement mix at each age new plans start at), for every
    scenario; a deficit cap only in the years that have one.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        The parameters to check (shapes and finiteness already checked).

    Raises
    ------
    ScenarioError
        One issue per parameter: its name, the first scenario and value at fault, and the
        rule.
    """
    issues = []
    for name, rule in RANGES.items():
        given = getattr(params, name)
        for number, values in enumerate(given if isinstance(given, tuple) else (given,)):
            label = f"{name}[{number}]" if isinstance(given, tuple) else name
            found = _outside(label, one_row(np.asarray(values, dtype=np.float64)), rule, structure)
            issues += [found] if found else []
    for name in SUMS:
        found = _sum_issue(name, params, structure)
        issues += [found] if found else []
    if issues:
        raise ScenarioError(issues)


def _outside(name: str, values: FloatArray, rule: Range, structure: ModelStructure) -> Issue | None:
    """Return an issue for the first value outside ``rule``, or None."""
    below = values <= rule.low if rule.open else values < rule.low
    bad = below | (values > rule.high)
    if name == "deficit_cap":  # NaN where a year has no cap
        bad &= np.broadcast_to(structure.has_cap, values.shape)
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = float(values[where])
    at = _place(structure, name, where)
    if value > rule.high:
        said = f"is above {rule.high:g}; {rule.what} must be at most {rule.high:g}"
    elif rule.open:
        said = f"is {rule.low:g} or below; {rule.what} must be above {rule.low:g}"
    else:
        said = f"is below {rule.low:g}; {rule.what} must be at least {rule.low:g}"
    return Issue(f"params.{name}", f"{value:g} at {at} {said}")


def _place(structure: ModelStructure, name: str, where: tuple[int, ...]) -> str:
    """Say where a value sits: its scenario, then each axis in words where known."""
    words = [f"scenario {where[0]}"]
    axes = AXES.get(name, ())
    for position, index in enumerate(where[1:]):
        axis = axes[position] if position < len(axes) else ""
        if axis == "age":
            words.append(f"age {int(structure.ages[index])}")
        elif axis == "placement":
            words.append(f"placement {structure.placements[index]!r}")
        elif axis == "month":
            words.append(calendar.month_abbr[index + 1])
        elif axis == "year":
            words.append(f"FY {structure.fy_labels[index]}")
        elif axis == "rule":
            moves = (structure.transition_from[index], structure.transition_to[index])
            names = " → ".join(structure.placements[p] for p in moves)
            words.append(f"transition rule {index} ({names})")
        else:
            words.append(f"position {index}")
    return ", ".join(words)


def _sum_issue(name: str, params: ModelParameters, structure: ModelStructure) -> Issue | None:
    """Return an issue for the first share set of ``name`` not summing to 1, or None."""
    values = one_row(np.asarray(getattr(params, name), dtype=np.float64))
    totals = values.sum(axis=-1)
    bad = np.abs(totals - 1.0) > SUM_TOLERANCE
    if name == "new_plan_mix":  # only at the ages new plans start at
        bad, ages = np.broadcast_arrays(bad, one_row(params.new_plan_ages))
        bad = bad & (ages > 0)
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    total = float(np.broadcast_to(totals, bad.shape)[where])
    at = _place(structure, name, where)
    return Issue(f"params.{name}", f"sums to {total:.6g} at {at}; it must sum to 1")
