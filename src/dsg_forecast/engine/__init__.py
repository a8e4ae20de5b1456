"""The pure-numpy engine: never imports pandas, pydantic or matplotlib (STYLE rule 1.1)."""

from __future__ import annotations

from dsg_forecast.engine.flows import FlowResult, simulate
from dsg_forecast.engine.levers import Affine, LeverPaths, resolve_levers

__all__ = ["Affine", "FlowResult", "LeverPaths", "resolve_levers", "simulate"]
