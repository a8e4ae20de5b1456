"""Layer 1: the typed scenario schema (pydantic v2), the only place user input is validated."""

from __future__ import annotations

from dsg_forecast.schema.parsing import (
    format_location,
    issues_from_validation_error,
    scenario_from_mapping,
)
from dsg_forecast.schema.scenario import (
    ActualsToDate,
    AgeRange,
    Agreement,
    Capacity,
    Ceasing,
    Costs,
    Demand,
    Effect,
    Funding,
    Intervention,
    OtherLine,
    Placement,
    ReceivedBeforeStart,
    Scenario,
    Transition,
    WriteOff,
)

__all__ = [
    "ActualsToDate",
    "AgeRange",
    "Agreement",
    "Capacity",
    "Ceasing",
    "Costs",
    "Demand",
    "Effect",
    "Funding",
    "Intervention",
    "OtherLine",
    "Placement",
    "ReceivedBeforeStart",
    "Scenario",
    "Transition",
    "WriteOff",
    "format_location",
    "issues_from_validation_error",
    "scenario_from_mapping",
]
