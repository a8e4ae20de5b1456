"""The pure-numpy engine: never imports pandas, pydantic or matplotlib (STYLE rule 1.1)."""

from __future__ import annotations

from dsg_forecast.engine.flows import ENGINES, Engine, FlowResult, simulate, simulate_costs
from dsg_forecast.engine.levers import Affine, LeverPaths, resolve_levers

__all__ = [
    "ENGINES",
    "Affine",
    "Engine",
    "FlowResult",
    "LeverPaths",
    "resolve_levers",
    "simulate",
    "simulate_costs",
]
