"""Preparation shared by both kernels: lever paths, range checks and derived inputs.

Everything here runs once per call of :func:`~dsg_forecast.engine.simulate`, before the
month loop, whichever kernel then runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsg_forecast._types import FloatArray
from dsg_forecast.engine.levers import LeverPaths, lever_violations, resolve_levers
from dsg_forecast.engine.structure import ModelParameters, ModelStructure, check_shapes
from dsg_forecast.engine.views import per_scenario
from dsg_forecast.errors import Issue, ScenarioError


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a kernel reads besides the structure and the parameters; axis 0 is S."""

    paths: LeverPaths
    """Every lever's month-by-month path after the interventions."""
    requests: FloatArray
    """Requests received in each month, (S, T). [requests]"""
    ready: FloatArray
    """Accepted requests of months −L..T−1, (S, L + T); ``ready[:, t]`` becomes a ready
    assessment in month t. [assessments]"""
    entry: FloatArray
    """Where new plans go, ``d[a] q[a, p]`` before entry shifts, (S, A, P). [fraction]"""
    uplift_factor: FloatArray
    """``(1 + uplift[p])^k`` in FY k, (S, Y, P)."""
    cease_weight: FloatArray
    """Seasonal weight of ceasing in each month, (S, T)."""
    place_funding: FloatArray
    """Place funding of the month: each capacity entry's places × its rate / 12, (S, T). [£]"""


def checked_paths(
    structure: ModelStructure, params: ModelParameters, *, check: bool = True
) -> LeverPaths:
    """Resolve the lever paths, checking shapes and lever ranges first if asked.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    check
        Check the parameters' shapes, and that interventions keep every lever in range.

    Returns
    -------
    LeverPaths
        Every lever's path, (S, T, ...).

    Raises
    ------
    ShapeError
        If a parameter's shape does not match the structure.
    ScenarioError
        If an intervention pushes a lever out of its valid range.
    """
    if check:
        check_shapes(structure, params)
    paths = resolve_levers(structure, params)
    if check:
        problems = lever_violations(structure, params, paths)
        if problems:
            raise ScenarioError([Issue("interventions", problem) for problem in problems])
    return paths


def prepare_inputs(
    structure: ModelStructure, params: ModelParameters, paths: LeverPaths
) -> Prepared:
    """Compute, once, the derived inputs both kernels read.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    paths
        The lever paths of these parameters (see :func:`checked_paths`).

    Returns
    -------
    Prepared
        Requests and accepted requests by month, the new-plan distribution, the uplift
        factors and the ceasing weights; inputs the same for every scenario stay
        zero-stride views.
    """
    st, pa = structure, params
    requests = paths.annual_requests * pa.request_profile[:, st.calendar_month - 1]
    entry, uplift_factor, cease_weight = per_scenario_inputs(st, pa)
    return Prepared(
        paths=paths,
        requests=requests,
        ready=_accepted_with_history(st, pa, paths, requests),
        entry=entry,
        uplift_factor=uplift_factor,
        cease_weight=cease_weight,
        place_funding=_place_funding(paths.places, pa.place_funding_rate),
    )


def per_scenario_inputs(
    structure: ModelStructure, params: ModelParameters
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the kernels' inputs that no lever reaches: computed once where shared.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.

    Returns
    -------
    tuple of FloatArray
        The new-plan distribution ``d[a] q[a, p]`` before entry shifts (S, A, P), the uplift
        factors ``(1 + uplift[p])^k`` (S, Y, P) and the ceasing weight of each month (S, T);
        zero-stride views where every scenario shares them.
    """
    st, pa = structure, params
    n_s = pa.n_scenarios
    years = np.arange(st.n_years, dtype=np.float64)

    def uplift_factor(uplift: FloatArray) -> FloatArray:
        # the power only where a placement's uplift differs between scenarios (a sweep
        # varies one or two of them): elementwise, so the same bits as computing them all
        factor = np.empty((uplift.shape[0], st.n_years, uplift.shape[1]))
        factor[:] = (1.0 + uplift[:1, None, :]) ** years[None, :, None]
        varies = (uplift != uplift[:1]).any(axis=0)
        if varies.any():
            factor[:, :, varies] = (1.0 + uplift[:, None, varies]) ** years[None, :, None]
        return factor

    return (
        per_scenario(_entry, pa.new_plan_ages, pa.new_plan_mix, count=n_s),
        per_scenario(uplift_factor, pa.uplift, count=n_s),
        per_scenario(lambda w: w[:, st.calendar_month - 1], pa.ceasing_profile, count=n_s),
    )


def _place_funding(places: FloatArray, rate: FloatArray) -> FloatArray:
    """Return each month's place funding, ``Σ_c places[c] × rate[c] / 12``, (S, T).

    Summed entry by entry in declared order, elementwise, so a scenario's bits never depend
    on its batch (as a matrix product's could); twice as fast as the same sum by ``einsum``
    over the few entries there are.
    """
    if places.shape[2] == 0:
        return np.zeros(places.shape[:2])
    total = places[:, :, 0] * rate[:, None, 0]
    for c in range(1, places.shape[2]):
        total = total + places[:, :, c] * rate[:, None, c]
    return total / 12.0


def _accepted_with_history(
    structure: ModelStructure, params: ModelParameters, paths: LeverPaths, requests: FloatArray
) -> FloatArray:
    """Return accepted requests for months −L..T−1, shape (S, L + T) (MODEL.md §3.3).

    Before the start, the first FY's volume with that calendar month's weight and the base
    refusal rate (steady state; no intervention acts before the start).
    """
    accepted = requests * (1.0 - paths.refusal_rate)
    if structure.assessment_months == 0:
        return accepted
    weights = params.request_profile[:, structure.pre_start_calendar_month - 1]
    before = params.requests_per_year[:, None] * weights * (1.0 - params.refusal_rate[:, None])
    return np.concatenate([before, accepted], axis=1)


def _entry(ages: FloatArray, mix: FloatArray) -> FloatArray:
    """Where new plans go: ``d[a] q[a, p]``, (S, A, P)."""
    return ages[:, :, None] * mix
