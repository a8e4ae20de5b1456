"""The compiled kernel's argument list is declared once, and the kernel agrees with it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from dsg_forecast import Scenario, compile_scenario
from dsg_forecast.engine import checked_paths, prepare_inputs
from dsg_forecast.engine.contract import (
    NUMBA_ARGUMENTS,
    NUMBA_FLAGS,
    NUMBA_INPUTS,
    NUMBA_OUTPUTS,
    FlowResult,
)

numba_kernel = pytest.importorskip("dsg_forecast.engine.numba_kernel")


def test_python_parameters_follow_the_table() -> None:
    """Inputs and flags by their names, outputs as ``out_`` + their names, in order."""
    names = list(inspect.signature(numba_kernel._kernel).parameters)
    declared = [slot.name for slot in (*NUMBA_INPUTS, *NUMBA_FLAGS)]
    declared += [f"out_{slot.name}" for slot in NUMBA_OUTPUTS]
    assert names == declared


def test_compiled_signature_follows_the_table() -> None:
    kernel = numba_kernel.compiled()
    (signature,) = kernel.nopython_signatures
    assert len(signature.args) == len(NUMBA_ARGUMENTS)
    dtypes = {"float64": "float64", "int64": "int64", "bool": "bool"}
    for slot, numba_type in zip(NUMBA_ARGUMENTS, signature.args, strict=True):
        if slot.ndim == 0:
            assert str(numba_type) == dtypes[slot.dtype], slot.name
            continue
        assert numba_type.ndim == slot.ndim, slot.name
        assert str(numba_type.dtype) == dtypes[slot.dtype], slot.name
        assert numba_type.mutable == (slot in NUMBA_OUTPUTS), slot.name


def test_inputs_built_for_the_kernel_match_the_table(wiltshire: Scenario) -> None:
    structure, params = compile_scenario(wiltshire)
    prepared = prepare_inputs(structure, params, checked_paths(structure, params))
    inputs = numba_kernel.kernel_inputs(structure, params, prepared)
    assert list(inputs) == [slot.name for slot in NUMBA_INPUTS]
    for slot in NUMBA_INPUTS:
        value = np.asarray(inputs[slot.name])
        assert value.ndim == slot.ndim, slot.name
        kind = {"float64": np.float64, "int64": np.int64, "bool": np.bool_}[slot.dtype]
        assert value.dtype == kind, slot.name


def test_outputs_cover_the_flow_result() -> None:
    """Every series of FlowResult but those prepared before the kernel is an output."""
    outputs = {slot.name for slot in NUMBA_OUTPUTS}
    series = set(FlowResult.__dataclass_fields__) - {"requests", "place_funding"}
    assert series <= outputs
    assert outputs - series == {"stock_total"}
