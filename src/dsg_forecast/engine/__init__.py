"""The pure-numpy engine: never imports pandas, pydantic or matplotlib (STYLE rule 1.1)."""

from __future__ import annotations

from dsg_forecast.engine.flows import FlowResult, simulate
from dsg_forecast.engine.levers import LeverPaths, resolve_levers

__all__ = ["FlowResult", "LeverPaths", "resolve_levers", "simulate"]
