"""Layer 1: the typed scenario schema (pydantic v2), the only place user input is validated."""

from __future__ import annotations

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
    "Scenario",
    "Transition",
    "WriteOff",
]
