"""Reading and writing files: scenarios in, results out."""

from __future__ import annotations

from dsg_forecast.io.results_files import write_results
from dsg_forecast.io.scenario_files import load_scenario, read_stock_csv

__all__ = ["load_scenario", "read_stock_csv", "write_results"]
