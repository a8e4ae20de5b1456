"""Reusable field types of the scenario schema: months, financial years, ages, profiles."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field
from pydantic import BaseModel as _PydanticBaseModel

from dsg_forecast.errors import Issue
from dsg_forecast.periods import MONTH_NAMES, month_label, parse_fy, parse_month

#: Tolerance on "sums to 1" checks: users type shares such as 0.05 with rounding.
SUM_TOLERANCE: Final = 1e-6


class Model(_PydanticBaseModel):
    """Base of every schema model: frozen, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _to_month(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        if value.day != 1:
            msg = f"{value.isoformat()!r} is not the first day of a month; write 'YYYY-MM'"
            raise ValueError(msg)
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        return month_label(parse_month(value))
    return value


def _check_fy(value: str) -> str:
    parse_fy(value)
    return value


def _to_age_key(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # 3.0 in YAML: an age is whole years
        hint = f"write {int(value)}" if value.is_integer() else "ages are whole years"
        msg = f"{value!r} is not an age or an age band; {hint}"
        raise ValueError(msg)
    if isinstance(value, str):
        return value.strip().replace(" ", "")
    return value


_AGE_KEY_RE: Final = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")


def _check_age_key(value: str) -> str:
    match = _AGE_KEY_RE.match(value)
    if match is None:
        msg = f"{value!r} is not an age or an age band; write 5 or '16-18'"
        raise ValueError(msg)
    if match.group(2) is not None and int(match.group(2)) < int(match.group(1)):
        msg = f"age band {value!r} ends before it starts"
        raise ValueError(msg)
    return value


def is_age_key(text: str) -> bool:
    """Whether ``text`` is an age (``5``) or an age band (``16-18``), spaces aside.

    Parameters
    ----------
    text
        The text, as a file gives it.

    Returns
    -------
    bool
        True for a valid age key.

    Examples
    --------
    >>> is_age_key("16 - 18"), is_age_key("25+"), is_age_key("Total")
    (True, False, False)
    """
    try:
        _check_age_key(text.strip().replace(" ", ""))
    except ValueError:
        return False
    return True


def month_index(name: str) -> int | None:
    """Return a month's index 0..11 from its name (``July``, ``Jul``, any case) or 1..12.

    Parameters
    ----------
    name
        The month as a profile's key or a workbook's row gives it.

    Returns
    -------
    int or None
        0 for January ... 11 for December; None if it names no month.

    Examples
    --------
    >>> month_index("July"), month_index("apr"), month_index("12"), month_index("Janvier")
    (6, 3, 11, None)
    """
    key = name.strip().lower()
    for index, full in enumerate(MONTH_NAMES):
        if key in (full.lower(), full[:3].lower()):
            return index
    if key.isdigit() and 1 <= int(key) <= 12:
        return int(key) - 1
    return None


def _to_profile(value: Any) -> Any:
    """Turn ``"flat"``, a list of 12 weights or a month-name mapping into 12 weights."""
    if isinstance(value, str):
        if value.strip().lower() == "flat":
            return tuple([1.0 / 12.0] * 12)
        msg = f"{value!r} is not a seasonal profile; give 'flat', 12 weights Jan..Dec or a mapping"
        raise ValueError(msg)
    if isinstance(value, Mapping):
        weights = [0.0] * 12
        named: dict[int, Any] = {}
        for key, weight in value.items():
            index = month_index(str(key))
            if index is None:
                msg = f"{key!r} is not a month name; use January..December, Jan..Dec or 1..12"
                raise ValueError(msg)
            if index in named:  # Jul and July: the later would replace the earlier
                msg = (
                    f"{named[index]!r} and {key!r} both name {MONTH_NAMES[index]}; give each "
                    "month once"
                )
                raise ValueError(msg)
            named[index] = key
            weights[index] = weight
        return tuple(weights)
    return value


def _check_profile(value: tuple[float, ...]) -> tuple[float, ...]:
    if any(weight < 0 or not math.isfinite(weight) for weight in value):
        msg = f"weights {list(value)} include a negative or non-finite value; each must be >= 0"
        raise ValueError(msg)
    total = sum(value)
    if abs(total - 1.0) > SUM_TOLERANCE:
        msg = f"weights sum to {total:.6g}; a seasonal profile must sum to 1"
        raise ValueError(msg)
    return value


Month = Annotated[str, BeforeValidator(_to_month)]
"""A month, stored as ``"YYYY-MM"``; a date on the first of a month is accepted."""

FinancialYear = Annotated[str, AfterValidator(_check_fy)]
"""A financial year label such as ``"2024-25"``."""

AgeKey = Annotated[str, BeforeValidator(_to_age_key), AfterValidator(_check_age_key)]
"""A single age (``5``) or an inclusive age band (``"16-18"``)."""

Twelve = tuple[float, float, float, float, float, float, float, float, float, float, float, float]

SeasonalProfile = Annotated[
    Twelve,
    BeforeValidator(_to_profile),
    AfterValidator(_check_profile),
]
"""Twelve non-negative weights, January..December, summing to 1."""

_W: Final = 1.0 / 12.0
FLAT: Final[Twelve] = (_W, _W, _W, _W, _W, _W, _W, _W, _W, _W, _W, _W)

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _check_growth(value: float) -> float:
    """Refuse a growth above 1 a year: almost surely a percentage (10 for 0.10)."""
    if value > 1.0:
        msg = "it must be at most 1 (100% a year): a growth is a fraction a year, 0.10 for 10%"
        raise ValueError(msg)
    return value


Growth = Annotated[float, Field(gt=-1.0, allow_inf_nan=False), AfterValidator(_check_growth)]
"""A fraction a year, above −1 and at most 1 (100% a year)."""

AgeMap = dict[AgeKey, Finite]
"""A per-age mapping whose keys may be single ages or bands."""

Schedule = Finite | dict[Month, Finite]
"""A number that holds throughout, or a step schedule: value from each given month on."""


def age_band(key: str) -> tuple[int, int]:
    """Return the inclusive (first, last) ages of an age key.

    Parameters
    ----------
    key
        A validated age key: ``"5"`` or ``"16-18"``.

    Returns
    -------
    tuple of int
        The first and last age.
    """
    first, _, last = key.partition("-")
    return int(first), int(last or first)


def expand_ages(
    mapping: Mapping[str, float],
    path: str,
    ages: range,
    issues: list[Issue],
    *,
    split: bool,
) -> dict[int, float]:
    """Expand a per-age mapping with bands into single ages.

    Parameters
    ----------
    mapping
        Keys are ages or bands such as ``"16-18"``.
    path
        Field path used in error messages.
    ages
        The ages of the projection.
    issues
        Problems are appended here rather than raised, so all are reported at once.
    split
        For counts and shares of a total, a band's value is split equally over its ages;
        for rates and mixes (``split=False``) every age of the band takes the value.
    """
    out: dict[int, float] = {}
    for key, value in mapping.items():
        first, last = age_band(key)
        if first < ages.start or last > ages.stop - 1:
            issues.append(
                Issue(
                    f"{path}[{key}]",
                    f"age {key} is outside the projection's ages {ages.start}..{ages.stop - 1}",
                )
            )
            continue
        width = last - first + 1
        for age in range(first, last + 1):
            if age in out:
                issues.append(Issue(f"{path}[{key}]", f"age {age} is given more than once"))
            out[age] = value / width if split else value
    return out


def expand_schedule(value: float | Mapping[str, float], start: str) -> dict[str, float]:
    """Return a step schedule as a month → value mapping (a plain number starts at ``start``).

    Parameters
    ----------
    value
        A number, or a mapping of months to values.
    start
        The projection's first month.

    Returns
    -------
    dict of str to float
        Month → value from that month on, in month order.
    """
    if isinstance(value, Mapping):
        return dict(sorted(value.items()))
    return {start: float(value)}
