"""dsg_forecast: forecast high-needs spending and the cumulative DSG deficit.

The public API is listed in ``__all__``; see README.md for a tour.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dsg_forecast.compile import compile_scenario
from dsg_forecast.engine import FlowResult, simulate
from dsg_forecast.errors import DsgForecastError, Issue, ScenarioError, ShapeError
from dsg_forecast.inputs import ModelParameters, ModelStructure, concat_parameters
from dsg_forecast.io import load_scenario, read_stock_csv, write_results
from dsg_forecast.ledger import LedgerArrays, build_ledger
from dsg_forecast.model import BatchResult, project, run_batch
from dsg_forecast.results import Projection, Summary
from dsg_forecast.schema import Scenario

try:
    __version__ = version("dsg_forecast")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BatchResult",
    "DsgForecastError",
    "FlowResult",
    "Issue",
    "LedgerArrays",
    "ModelParameters",
    "ModelStructure",
    "Projection",
    "Scenario",
    "ScenarioError",
    "ShapeError",
    "Summary",
    "__version__",
    "build_ledger",
    "compile_scenario",
    "concat_parameters",
    "load_scenario",
    "project",
    "read_stock_csv",
    "run_batch",
    "simulate",
    "write_results",
]
