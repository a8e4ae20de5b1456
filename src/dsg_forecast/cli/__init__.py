"""The ``dsg-forecast`` command line: thin glue from arguments to io, model and io again.

One module per group of commands (:mod:`~dsg_forecast.cli.projection`,
:mod:`~dsg_forecast.cli.data`, :mod:`~dsg_forecast.cli.reports`,
:mod:`~dsg_forecast.cli.sweeps`), assembled by :mod:`~dsg_forecast.cli.main`.
"""

from __future__ import annotations

from dsg_forecast.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
