"""Months, financial years and academic years as plain integers.

A month is counted as ``12 * year + (month - 1)`` ("month number"), so that month
arithmetic is integer arithmetic. Financial years run April to March and are labelled
``"2024-25"``; academic years start on 1 September.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

from dsg_forecast._types import IntArray
from dsg_forecast.errors import ArgumentError

MONTH_NAMES: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SEPTEMBER: Final = 9
APRIL: Final = 4

_MONTH_RE: Final = re.compile(r"^(\d{4})-(\d{2})$")
_FY_RE: Final = re.compile(r"^(\d{4})-(\d{2})$")


def month_number(year: int, month: int) -> int:
    """Return the integer month number of ``year``-``month`` (``month`` 1..12).

    Parameters
    ----------
    year
        The calendar year.
    month
        The calendar month, 1..12.

    Returns
    -------
    int
        ``12 × year + month − 1``.
    """
    return 12 * year + (month - 1)


def month_label(number: int) -> str:
    """Return ``"YYYY-MM"`` for a month number.

    Parameters
    ----------
    number
        A month number.

    Returns
    -------
    str
        For example ``"2024-04"``.
    """
    year, zero_based = divmod(number, 12)
    return f"{year:04d}-{zero_based + 1:02d}"


def parse_month(text: str) -> int:
    """Parse ``"YYYY-MM"`` (or ``"YYYY-MM-01"``) into a month number.

    Parameters
    ----------
    text
        For example ``"2024-04"``.

    Returns
    -------
    int
        The month number.

    Raises
    ------
    ArgumentError
        If the text is not a month of that form.
    """
    candidate = text.strip()
    if len(candidate) == 10 and candidate.endswith("-01"):
        candidate = candidate[:7]
    match = _MONTH_RE.match(candidate)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        msg = f"{text!r} is not a month; write it as 'YYYY-MM', for example '2024-04'"
        raise ArgumentError(msg)
    return month_number(int(match.group(1)), int(match.group(2)))


def calendar_month(number: int) -> int:
    """Return the calendar month 1..12 of a month number.

    Parameters
    ----------
    number
        A month number.

    Returns
    -------
    int
        1 for January .. 12 for December.
    """
    return number % 12 + 1


def fy_start_year(number: int) -> int:
    """Return the calendar year in which the financial year of a month starts.

    Parameters
    ----------
    number
        A month number.

    Returns
    -------
    int
        The year of the April that starts its financial year.
    """
    year, zero_based = divmod(number, 12)
    return year if zero_based + 1 >= APRIL else year - 1


def fy_label(start_year: int) -> str:
    """Return the label ``"2024-25"`` of the financial year starting in April ``start_year``.

    Parameters
    ----------
    start_year
        The calendar year of the April the financial year starts in.

    Returns
    -------
    str
        For example ``"2024-25"``.
    """
    return f"{start_year:04d}-{(start_year + 1) % 100:02d}"


def parse_fy(text: str) -> int:
    """Parse a financial-year label such as ``"2024-25"`` into its starting calendar year.

    Parameters
    ----------
    text
        For example ``"2024-25"``.

    Returns
    -------
    int
        The calendar year of its April.

    Raises
    ------
    ArgumentError
        If the label is malformed or its two years are not consecutive.
    """
    match = _FY_RE.match(text.strip())
    if match is None:
        msg = f"{text!r} is not a financial year; write it as 'YYYY-YY', for example '2024-25'"
        raise ArgumentError(msg)
    first, second = int(match.group(1)), int(match.group(2))
    if (first + 1) % 100 != second:
        msg = (
            f"{text!r} is not a financial year: {second:02d} does not follow {first}; "
            f"did you mean '{fy_label(first)}'?"
        )
        raise ArgumentError(msg)
    return first


def months_between(start: int, end: int) -> IntArray:
    """Return the month numbers ``start..end`` inclusive.

    Parameters
    ----------
    start, end
        The first and last month numbers.

    Returns
    -------
    IntArray, shape (T,)
        Every month number from ``start`` to ``end``.
    """
    return np.arange(start, end + 1, dtype=np.int64)
