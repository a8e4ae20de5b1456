"""dsg_forecast: forecast high-needs spending and the cumulative DSG deficit.

What a user calls: load a scenario, project it, read the result; run a batch of variants
of it; sweep it. The public API is listed in ``__all__``; the engine's names live in
:mod:`dsg_forecast.engine` (see ``docs/ARCHITECTURE.md``), and README.md gives a tour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dsg_forecast._version import __version__
from dsg_forecast.compiler import compile_scenario
from dsg_forecast.errors import DsgForecastError, Issue, ScenarioError, ShapeError
from dsg_forecast.io import load_scenario, read_stock_csv, write_results
from dsg_forecast.model import BatchResult, project, run_batch
from dsg_forecast.results import Projection, Summary
from dsg_forecast.schema import Scenario

if TYPE_CHECKING:
    from dsg_forecast.sweeps import SweepResult, load_sweep, run_sweep

#: Sweeps' entry points, imported on first use (scipy and pyarrow are slow to import).
_LAZY = {"SweepResult": "dsg_forecast.sweeps", "load_sweep": "dsg_forecast.sweeps",
         "run_sweep": "dsg_forecast.sweeps"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'dsg_forecast' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "BatchResult",
    "DsgForecastError",
    "Issue",
    "Projection",
    "Scenario",
    "ScenarioError",
    "ShapeError",
    "Summary",
    "SweepResult",
    "__version__",
    "compile_scenario",
    "load_scenario",
    "load_sweep",
    "project",
    "read_stock_csv",
    "run_batch",
    "run_sweep",
    "write_results",
]
