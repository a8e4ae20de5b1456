"""Where the tests find the project's files (one place, whatever folder a test lives in)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
EXAMPLES: Final = ROOT / "examples"
DATA: Final = Path(__file__).resolve().parent / "data"
#: the shared folder beside the project (as CI lays it out), when it is there
SHARED: Final = ROOT.parent / "shared"
