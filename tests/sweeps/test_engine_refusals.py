"""What the engine refuses in a sweep or a fit is named as the user made it: the scenario's
number in the sweep and the values it draws, whichever process or chunk ran it."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import dsg_forecast
from dsg_forecast import Scenario, ScenarioError
from dsg_forecast.cli import main
from dsg_forecast.engine import Engine
from dsg_forecast.errors import DsgForecastError, Issue
from dsg_forecast.estimation.calibration import UnreachableTargetError
from dsg_forecast.schema.parsing import scenario_from_mapping
from dsg_forecast.sweeps import SweepSpec, plan_sweep, run_sweep
from dsg_forecast.sweeps.evaluate import check_extremes, evaluate

CEASING = "interventions[0].effects[2].multiply"


@pytest.fixture
def ceasing_dict(worked_dict: dict[str, Any]) -> dict[str, Any]:
    """The worked example with a ceasing multiplier a sweep may drive out of range."""
    worked_dict["interventions"][0]["effects"].append({"lever": "ceasing", "multiply": 1.0})
    return worked_dict


@pytest.fixture
def ceasing_acted_on(ceasing_dict: dict[str, Any]) -> Scenario:
    return scenario_from_mapping(ceasing_dict)


def _spec(high: float, samples: int = 64, **extra: Any) -> SweepSpec:
    parameters = {CEASING: {"dist": "uniform", "low": 0.5, "high": high}, **extra}
    return SweepSpec.model_validate({"parameters": parameters, "samples": samples, "seed": 3})


def test_every_error_pickles_as_itself() -> None:
    """An error raised in a worker process (the numpy engine's pool) or on a dask worker
    reaches the client pickled: a ScenarioError rebuilt from its message alone became one
    issue per character."""
    for module in pkgutil.walk_packages(dsg_forecast.__path__, "dsg_forecast."):
        if not module.name.startswith("dsg_forecast.cli"):
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional dependency (numba, dask) not installed
                continue
    classes, seen = [DsgForecastError], set()
    while classes:
        kind = classes.pop()
        seen.add(kind)
        classes += kind.__subclasses__()
    for kind in seen:
        if issubclass(kind, ScenarioError):
            error = kind([Issue("a.b", "is wrong")], "file.yaml")
        elif kind is UnreachableTargetError:
            error = kind("no transfer reaches it", "special")
        else:
            error = kind("what went wrong")
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is kind and str(again) == str(error), kind
        assert vars(again) == vars(error), kind  # issues, source, placement


def test_a_chunk_names_the_sweeps_scenario_and_its_draws(ceasing_acted_on: Scenario) -> None:
    """The engine counts a batch's scenarios from 0: a chunk's "first: 3" was not the
    sweep's scenario 3, and did not say what it drew."""
    plan = plan_sweep(ceasing_acted_on, _spec(1.0))
    values = np.full((40, 1), 1.0)
    values[[29, 33], 0] = 1000.0
    with pytest.raises(ScenarioError) as caught:
        evaluate(plan.structure, plan.base, plan.maps, values, first=8192)
    message = str(caught.value)
    assert "of 40 scenarios" not in message and "first:" not in message
    assert message.endswith(
        "out of [0, 1] once interventions ['earlier support'] apply; it must stay in range "
        f"(scenario 8221 of the sweep, which draws {CEASING} = 1,000)"
    )


@pytest.mark.parametrize(("engine", "workers"), [("numpy", 2), ("numba", 1)])
def test_a_sweep_the_engine_refuses_names_the_scenario(
    ceasing_acted_on: Scenario, engine: Engine, workers: int
) -> None:
    """Through the numpy engine's process pool the message came back one character an
    issue; each engine names the sweep's scenario and what it drew."""
    if engine == "numba":
        pytest.importorskip("numba")
    spec = _spec(1000.0, samples=96)
    with pytest.raises(ScenarioError) as caught:
        run_sweep(ceasing_acted_on, spec, engine=engine, workers=workers, chunk_size=32)
    (issue,) = caught.value.issues
    assert issue.message.startswith("lever 'ceasing' takes a month's ceasing fraction out of")
    assert "of the sweep, which draws interventions[0].effects[2].multiply = " in issue.message


def test_validate_runs_each_swept_path_at_its_extremes(
    ceasing_dict: dict[str, Any],
    ceasing_acted_on: Scenario,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A draw the scenario's rules accept but the engine refuses passed validate; the sweep
    then stopped at its first chunk."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(ceasing_dict))
    parameters = {CEASING: {"dist": "uniform", "low": 0.5, "high": 1000.0}}
    sweep = {"base": "base.yaml", "samples": 64, "parameters": parameters}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 2
    assert "the highest value the sweep may draw" in capsys.readouterr().err
    check_extremes(plan_sweep(ceasing_acted_on, _spec(1.0)))  # in range: nothing to say
    expected = (
        f"(at parameters[{CEASING}] = 1,000, the highest value the sweep may draw, the other "
        "parameters at the base scenario's values; narrow its distribution)"
    )
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        check_extremes(plan_sweep(ceasing_acted_on, _spec(1000.0)))
    # an unbounded distribution: the extremes of the design's first block of draws
    spec = SweepSpec.model_validate(
        {
            "parameters": {CEASING: {"dist": "lognormal", "median": 20.0, "sigma": 1.0}},
            "samples": 50,
        }
    )
    with pytest.raises(ScenarioError, match="the highest value the sweep may draw"):
        check_extremes(plan_sweep(ceasing_acted_on, spec))


def test_validate_projects_a_scenario_once(
    ceasing_dict: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate`` said "valid scenario" of a file ``run`` then refused: an intervention
    multiplying ceasing by 1,000 breaks a rule only the engine checks. So did a sweep over
    such a base."""
    ceasing_dict["interventions"][0]["effects"][2]["multiply"] = 1000.0
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(ceasing_dict))
    assert main(["validate", str(tmp_path / "base.yaml")]) == 2
    err = capsys.readouterr().err
    assert "base.yaml: 1 problem in the scenario" in err and "it must stay in range" in err
    parameters = {"demand.refusal_rate": {"dist": "uniform", "low": 0.1, "high": 0.2}}
    sweep = {"base": "base.yaml", "samples": 64, "parameters": parameters}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 2
    assert "(the base scenario itself, as its file gives it)" in capsys.readouterr().err


def test_load_sweep_names_a_path_that_is_not_one() -> None:
    """``load_sweep(None)`` ended in pathlib's "expected str, bytes or os.PathLike"."""
    from dsg_forecast.errors import ArgumentTypeError
    from dsg_forecast.sweeps import load_sweep

    with pytest.raises(ArgumentTypeError, match="path is None; give a sweep file's path"):
        load_sweep(None)  # type: ignore[arg-type]
