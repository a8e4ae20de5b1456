"""Scenario-axis views: one value for every scenario is stored once (zero stride).

A batch built with :meth:`~dsg_forecast.engine.structure.ModelParameters.repeat` holds
every parameter as a read-only view with stride 0 along the scenario axis; these helpers
keep such inputs from being materialised, so a sweep pays only for what it varies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dsg_forecast._types import FloatArray


def same_for_all(value: FloatArray) -> bool:
    """Whether an array is a zero-stride view along the scenario axis (one value for all).

    Parameters
    ----------
    value : FloatArray, shape (S, ...)
        An array whose axis 0 is the scenario axis.

    Returns
    -------
    bool
        True when S ≤ 1 or axis 0 has stride 0.
    """
    return value.shape[0] <= 1 or value.strides[0] == 0


def one_row(value: FloatArray) -> FloatArray:
    """Keep one row of a per-scenario array that is one value for every scenario.

    Parameters
    ----------
    value : FloatArray, shape (S, ...)
        An array whose axis 0 is the scenario axis.

    Returns
    -------
    FloatArray, shape (1, ...) or (S, ...)
        Its first row when it is a zero-stride view (:func:`same_for_all`), else itself;
        numpy broadcasting then computes what it alone feeds once.
    """
    return value[:1] if same_for_all(value) else value


def per_scenario(
    function: Callable[..., FloatArray], *arrays: FloatArray, count: int
) -> FloatArray:
    """Apply a row-wise function; if every input is one value for all, compute it once.

    Keeps a batch built with :meth:`ModelParameters.repeat` from materialising products
    such as the new-plan distribution (S, A, P) that are the same for every scenario.

    Parameters
    ----------
    function
        Takes the arrays (each with a scenario axis first) and returns one array.
    *arrays : FloatArray, shape (S, ...) each
        The inputs.
    count
        The number of scenarios S of the result.

    Returns
    -------
    FloatArray, shape (count, ...)
        The function's result, a zero-stride view when it was computed once.
    """
    if all(same_for_all(array) for array in arrays):
        once = function(*(array[:1] for array in arrays))
        return np.broadcast_to(once, (count, *once.shape[1:]))
    return function(*arrays)


def widen(value: FloatArray, count: int) -> FloatArray:
    """Broadcast a 1-row result to every scenario (a zero-stride view).

    Parameters
    ----------
    value : FloatArray, shape (1 or count, ...)
        A result computed once, or one per scenario.
    count
        The number of scenarios S.

    Returns
    -------
    FloatArray, shape (count, ...)
        ``value`` itself, or a zero-stride view of its one row.
    """
    return value if value.shape[0] == count else np.broadcast_to(value, (count, *value.shape[1:]))
