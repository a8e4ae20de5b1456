"""``python -m dsg_forecast.cli``: the same as the ``dsg-forecast`` command."""

from __future__ import annotations

import sys

from dsg_forecast.cli.main import main

sys.exit(main())
