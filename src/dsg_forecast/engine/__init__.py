"""The engine: arrays in, arrays out; never imports pandas, pydantic or matplotlib.

Layer 2 of the package (see ``docs/ARCHITECTURE.md``). :func:`simulate` runs the monthly
cohort flow (MODEL.md §3) with either kernel, :func:`build_ledger` turns its monthly cost
into the DSG ledger (MODEL.md §5), :func:`build_balances` only its balances and summary
(what a sweep keeps); each takes a :class:`ModelStructure` (what every
scenario shares) and :class:`ModelParameters` (every number, scenario axis first).
"""

from __future__ import annotations

from dsg_forecast.engine.contract import FlowResult, MonthlyCosts
from dsg_forecast.engine.ledger import (
    BalanceArrays,
    LedgerArrays,
    build_balances,
    build_ledger,
    fy_totals,
)
from dsg_forecast.engine.levers import Affine, LeverPaths, lever_violations, resolve_levers
from dsg_forecast.engine.prepare import Prepared, checked_paths, prepare_inputs
from dsg_forecast.engine.simulate import (
    ENGINES,
    Engine,
    check_engine,
    numba_available,
    simulate,
    simulate_costs,
)
from dsg_forecast.engine.structure import (
    EffectSpec,
    ModelParameters,
    ModelStructure,
    check_finite,
    check_shapes,
    concat_parameters,
)

__all__ = [
    "ENGINES",
    "Affine",
    "BalanceArrays",
    "EffectSpec",
    "Engine",
    "FlowResult",
    "LedgerArrays",
    "LeverPaths",
    "ModelParameters",
    "ModelStructure",
    "MonthlyCosts",
    "Prepared",
    "build_balances",
    "build_ledger",
    "check_engine",
    "check_finite",
    "check_shapes",
    "checked_paths",
    "concat_parameters",
    "fy_totals",
    "lever_violations",
    "numba_available",
    "prepare_inputs",
    "resolve_levers",
    "simulate",
    "simulate_costs",
]
