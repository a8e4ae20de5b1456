"""The exception hierarchy: one base class; concrete errors also subclass a builtin."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard


class DsgForecastError(Exception):
    """Base class of every error raised on purpose by dsg_forecast."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a scenario: where it is and what rule it breaks."""

    path: str
    """Dotted path of the offending field, for example ``demand.new_plan_mix[5]``."""
    message: str
    """What is wrong: the value received and the rule it breaks."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(DsgForecastError, ValueError):
    """A scenario (a file or a Python object) breaks one or more rules.

    ``issues`` lists every problem found, so that a user can fix them all at once.
    """

    def __init__(self, issues: list[Issue] | tuple[Issue, ...], source: str | None = None) -> None:
        self.issues = tuple(issues)
        self.source = source
        head = f"{source}: " if source else ""
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{head}{count} {noun} in the scenario:"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the issues and the source.

        An error raised in a worker process or on a dask worker crosses to the client
        pickled; rebuilt from its message alone, it became one issue per character.
        """
        return (type(self), (self.issues, self.source))

    def in_context(self, context: str) -> ScenarioError:
        """Return this error with ``context`` added to each issue, in brackets.

        Parameters
        ----------
        context
            What led to it, for example the values a sweep drew for the scenario at fault.

        Returns
        -------
        ScenarioError
            The same issues and source, each message ending ``(context)``.
        """
        issues = [Issue(issue.path, f"{issue.message} ({context})") for issue in self.issues]
        return ScenarioError(issues, self.source)


class ShapeError(DsgForecastError, ValueError):
    """Arrays handed to the engine do not have the shapes the model structure implies."""


class OutputError(DsgForecastError, ValueError):
    """An output cannot be written where or as asked (for example a wrong file suffix)."""


class ArgumentError(DsgForecastError, ValueError):
    """An argument given to a function breaks its rule: out of range, unknown, given twice.

    The message names the argument, the value and the rule. It is a ``ValueError``, as
    such checks were before it, and a :class:`DsgForecastError`, so one ``except`` catches
    everything the library refuses (the command line reports these without a traceback).
    """


class ArgumentTypeError(DsgForecastError, TypeError):
    """An argument given to a function is of the wrong kind: text for a number, 1 for True."""


def check_flags(**flags: object) -> None:
    """Refuse a switch that is not True or False (``"no"`` is true in Python).

    Parameters
    ----------
    **flags
        Each switch's name and the value given.

    Raises
    ------
    ArgumentTypeError
        Naming the first switch that is not a bool, and its value.

    Examples
    --------
    >>> check_flags(savings=True, keep_stock=False)
    >>> check_flags(savings="no")
    Traceback (most recent call last):
    ...
    dsg_forecast.errors.ArgumentTypeError: savings is 'no'; it must be True or False
    """
    for name, value in flags.items():
        if not isinstance(value, bool):
            msg = f"{name} is {value!r}; it must be True or False"
            raise ArgumentTypeError(msg)


def check_kind(
    value: object, kind: type | tuple[type, ...], name: str, give: str, *, optional: bool = False
) -> None:
    """Refuse an argument that is not a ``kind`` (or None, where ``optional``).

    Parameters
    ----------
    value
        The argument given.
    kind
        The type it must have (or types, any of them).
    name
        The argument's name, for the message.
    give
        What to give instead, for the message (how to make one).
    optional
        Whether None is allowed.

    Raises
    ------
    ArgumentTypeError
        Naming the argument, the type given and what to give: a path or ``None`` where a
        table belongs ended as an ``AttributeError`` deep inside pandas.

    Examples
    --------
    >>> check_kind("a.csv", dict, "actuals", "a table")
    Traceback (most recent call last):
    ...
    dsg_forecast.errors.ArgumentTypeError: actuals is a str; give a table
    """
    if (value is None and optional) or isinstance(value, kind):
        return
    msg = f"{name} is a {type(value).__name__}; give {give}"
    raise ArgumentTypeError(msg)


def whole_number(value: object) -> TypeGuard[int]:
    """Whether a value is a whole number: an int (numpy's too), not a bool or a float.

    ``True`` is an int to Python and 2.5 compares like one; an argument counting scenarios,
    steps or levels takes neither.

    Parameters
    ----------
    value
        The value given.

    Returns
    -------
    bool
        True for ``3`` or ``numpy.int64(3)``; False for ``True``, ``3.0``, ``"3"``.

    Examples
    --------
    >>> whole_number(3), whole_number(True), whole_number(3.0)
    (True, False, False)
    """
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def finite_number(value: object) -> TypeGuard[float]:
    """Whether a value is a finite number: an int or float, not a bool, text, NaN or inf.

    Parameters
    ----------
    value
        The value given.

    Returns
    -------
    bool
        True for ``0.02`` or ``2``; False for ``"0.02"``, ``True``, ``nan``, ``inf``.

    Examples
    --------
    >>> finite_number(0.02), finite_number("0.02"), finite_number(float("nan"))
    (True, False, False)
    """
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def as_path(value: object, what: str = "a file's path", name: str = "the output") -> Path:
    """Return ``value`` as a Path, refusing what is not a path (``5`` or ``None``).

    A leading ``~`` is the user's home folder, as a shell reads it (and pandas, which had
    written ``write_results(p, "~/results")``'s files to the home folder while the library
    made a folder named ``~`` in the current one and then failed).

    Parameters
    ----------
    value
        The path given.
    what
        What to give instead, for the message.
    name
        What the value is, for the message (``the output``, ``path``).

    Returns
    -------
    Path
        The path.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a str or a path-like object.
    ArgumentError
        If it is empty or only spaces (``""`` is the current folder to ``Path``, where
        results were written).
    """
    if not isinstance(value, str | os.PathLike):
        msg = f"{name} is {value!r}; give {what} (a str or a Path)"
        raise ArgumentTypeError(msg)
    if isinstance(value, str) and not value.strip():
        msg = f"{name} is {value!r}, which is empty; give {what}"
        raise ArgumentError(msg)
    try:
        return Path(value).expanduser()
    except RuntimeError:  # ~someone, who has no home folder here
        msg = f"{name} is {value!r}, but {Path(value).parts[0]} is no home folder here; give {what}"
        raise ArgumentError(msg) from None
