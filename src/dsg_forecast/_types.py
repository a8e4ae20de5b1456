"""Array aliases and the canonical axis order, declared once for the whole package."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Axis order of every engine array; the scenario axis is always axis 0, even when S == 1.
AXES: Final = ("scenario", "month", "age", "placement")

Lever = Literal[
    "requests",
    "refusal_rate",
    "assessment_capacity",
    "ceasing",
    "transfers",
    "transition",
    "entry_shift",
    "unit_cost",
    "places",
]
LEVERS: Final[tuple[Lever, ...]] = (
    "requests",
    "refusal_rate",
    "assessment_capacity",
    "ceasing",
    "transfers",
    "transition",
    "entry_shift",
    "unit_cost",
    "places",
)
