"""dsg_forecast: forecast high-needs spending and the cumulative DSG deficit.

What a user calls: load a scenario, project it, read the result; run a batch of variants
of it; sweep it. The public API is listed in ``__all__``; the engine's names live in
:mod:`dsg_forecast.engine` (see ``docs/ARCHITECTURE.md``), and README.md gives a tour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dsg_forecast._version import __version__
from dsg_forecast.errors import DsgForecastError, Issue, ScenarioError, ShapeError

if TYPE_CHECKING:
    from dsg_forecast.compiler import compile_scenario
    from dsg_forecast.io import load_scenario, read_stock_csv, write_results
    from dsg_forecast.model import BatchResult, project, run_batch
    from dsg_forecast.results import Projection, Summary
    from dsg_forecast.schema import Scenario
    from dsg_forecast.sweeps import SweepResult, load_sweep, run_sweep

#: Public names and the module each comes from, imported on first use: ``import
#: dsg_forecast`` (and ``dsg-forecast --help``) then loads neither pandas, pydantic nor scipy
#: until a name that needs them is used.
_LAZY = {
    "compile_scenario": "dsg_forecast.compiler",
    "load_scenario": "dsg_forecast.io",
    "read_stock_csv": "dsg_forecast.io",
    "write_results": "dsg_forecast.io",
    "BatchResult": "dsg_forecast.model",
    "project": "dsg_forecast.model",
    "run_batch": "dsg_forecast.model",
    "Projection": "dsg_forecast.results",
    "Summary": "dsg_forecast.results",
    "Scenario": "dsg_forecast.schema",
    "SweepResult": "dsg_forecast.sweeps",
    "load_sweep": "dsg_forecast.sweeps",
    "run_sweep": "dsg_forecast.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once imported, an ordinary attribute
        return value
    msg = f"module 'dsg_forecast' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
