"""One entry point to the monthly cohort flow, whichever kernel runs it (MODEL.md §3).

:func:`simulate` checks and prepares the inputs once (:mod:`~dsg_forecast.engine.prepare`,
or for the numba engine the same numbers from one compiled pass,
:mod:`~dsg_forecast.engine.numba_levers`) and hands them to a kernel:
:mod:`~dsg_forecast.engine.numpy_kernel` (vectorised over scenarios, the readable
reference) or :mod:`~dsg_forecast.engine.numba_kernel` (compiled, parallel over scenarios).
The kernels are leaves: they import the shared helpers, never each other or this module.
"""

from __future__ import annotations

from typing import Literal

from dsg_forecast._types import FloatArray
from dsg_forecast.engine.contract import FlowResult, MonthlyCosts
from dsg_forecast.engine.levers import LeverPaths
from dsg_forecast.engine.numpy_kernel import run_numpy
from dsg_forecast.engine.prepare import Prepared, checked_paths, prepare_inputs
from dsg_forecast.engine.structure import ModelParameters, ModelStructure
from dsg_forecast.errors import ArgumentError

Engine = Literal["numpy", "numba"]
ENGINES: tuple[Engine, ...] = ("numpy", "numba")


def numba_available() -> bool:
    """Whether numba can be imported (the ``jit`` extra is installed)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def check_engine(engine: str) -> None:
    """Refuse an engine that is not one of :data:`ENGINES`, or numba when it is missing.

    Parameters
    ----------
    engine
        The engine's name.

    Raises
    ------
    ArgumentError
        Naming the engines there are.
    ImportError
        If the numba engine is asked for without numba installed.
    """
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; choose one of {list(ENGINES)}"
        raise ArgumentError(msg)
    if engine == "numba" and not numba_available():
        msg = 'engine "numba" needs numba; install it with: pip install "dsg_forecast[jit]"'
        raise ImportError(msg)


def simulate(
    structure: ModelStructure,
    params: ModelParameters,
    *,
    keep_stock: bool = True,
    check: bool = True,
    engine: Engine = "numpy",
    paths: LeverPaths | None = None,
) -> FlowResult:
    """Run the monthly cohort flow for every scenario at once.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    keep_stock
        Keep the full (S, T, A, P) stock; turn off for large sweeps.
    check
        Check shapes and that interventions keep every lever in range. Turn off only for
        inputs already checked.
    engine
        ``"numpy"`` (vectorised over scenarios) or ``"numba"`` (compiled, parallel over
        scenarios; needs the ``jit`` extra). They agree to 1e-9 relative.
    paths
        Lever paths already resolved (and checked) for these parameters; resolved here
        when not given (with ``engine="numba"`` by the compiled pass of
        :mod:`~dsg_forecast.engine.numba_levers`, the same numbers bit for bit).

    Returns
    -------
    FlowResult
        Every monthly series; axis 0 is the scenario axis.

    Raises
    ------
    ShapeError
        If a parameter's shape does not match the structure.
    ScenarioError
        If an intervention pushes a lever out of its valid range.
    ValueError
        If ``engine`` is not one of ``ENGINES``.
    ImportError
        If ``engine="numba"`` and numba is not installed.

    Examples
    --------
    >>> from dsg_forecast import compile_scenario, load_scenario
    >>> structure, params = compile_scenario(load_scenario("examples/worked_example.yaml"))
    >>> flows = simulate(structure, params)
    >>> flows.stock_by_placement.shape  # (S, T, P)
    (1, 36, 3)
    """
    check_engine(engine)
    if engine == "numba" and paths is None:  # the levers resolved in the same compiled pass
        from dsg_forecast.engine.numba_levers import prepare_compiled

        prepared = prepare_compiled(structure, params, check=check)
    else:
        if paths is None:
            paths = checked_paths(structure, params, check=check)
        prepared = prepare_inputs(structure, params, paths)
    if engine == "numpy":
        return run_numpy(structure, params, prepared, keep_stock=keep_stock)
    from dsg_forecast.engine.numba_kernel import run_numba

    out = run_numba(structure, params, prepared, full=True, keep_stock=keep_stock)
    return _flows_from_kernel(out, prepared, keep_stock=keep_stock)


def _flows_from_kernel(
    out: dict[str, FloatArray], prepared: Prepared, *, keep_stock: bool
) -> FlowResult:
    """Return the compiled kernel's outputs, and the series prepared before it, as flows."""
    from_kernel = {
        name: out[name]
        for name in FlowResult.__dataclass_fields__
        if name not in {"stock", "requests", "place_funding"}
    }
    return FlowResult(
        stock=out["stock"] if keep_stock else None,
        requests=prepared.requests,
        place_funding=prepared.place_funding,
        **from_kernel,
    )


def simulate_costs(
    structure: ModelStructure,
    params: ModelParameters,
    *,
    check: bool = True,
    engine: Engine = "numpy",
) -> MonthlyCosts:
    """Return only the month's spending and total plans, each (S, T).

    What a sweep needs from the flows; with ``engine="numba"`` nothing else is computed or
    stored.

    Parameters
    ----------
    structure
        What every scenario shares.
    params
        Numbers with a leading scenario axis S.
    check
        As for :func:`simulate`.
    engine
        As for :func:`simulate`.

    Returns
    -------
    MonthlyCosts
        The cost of plans (and its part paid as fees), place funding and plans at the end
        of each month.
    """
    check_engine(engine)
    if engine == "numpy":
        paths = checked_paths(structure, params, check=check)
        prepared = prepare_inputs(structure, params, paths)
        flows = run_numpy(structure, params, prepared, keep_stock=False)
        return MonthlyCosts(
            flows.placement_cost,
            flows.fees,
            flows.place_funding,
            flows.stock_by_placement.sum(axis=2),
        )
    from dsg_forecast.engine.numba_kernel import run_numba
    from dsg_forecast.engine.numba_levers import prepare_compiled

    prepared = prepare_compiled(structure, params, check=check, requests=False)
    out = run_numba(structure, params, prepared, full=False, keep_stock=False)
    return MonthlyCosts(
        out["placement_cost"], out["fees"], prepared.place_funding, out["stock_total"]
    )
