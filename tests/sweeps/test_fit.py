"""Fitting a plan to its published figures: known lever values are recovered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dsg_forecast import ScenarioError, project
from dsg_forecast.cli import main
from dsg_forecast.schema.parsing import scenario_from_mapping
from dsg_forecast.sweeps.fit import FitError, FitSpec, _Problem, check_fit, fit, load_fit
from dsg_forecast.sweeps.parameters import with_values


def published(data: dict[str, Any], growth: float, special: float) -> list[dict[str, Any]]:
    """The figures a scenario made with these values prints: the targets of a fit."""
    truth = with_values(
        scenario_from_mapping(data),
        {"demand.requests_growth": growth, "costs.unit_cost.special": special},
    )
    result = project(truth, savings=False)
    ledger, monthly = result.ledger, result.monthly
    balances = ledger["in_year_balance"]
    return [
        {"output": "in_year_balance", "year": fy, "value": float(balances[fy])}
        for fy in ledger.index
    ] + [{"output": "plans", "month": "2026-03", "value": float(monthly["stock"]["2026-03"])}]


LEVERS = [
    {"path": "demand.requests_growth", "low": 0.0, "high": 0.3},
    {"path": "costs.unit_cost.special", "low": 10_000, "high": 60_000},
]


def test_fit_recovers_known_levers(worked_dict: dict[str, Any]) -> None:
    spec = FitSpec.model_validate(
        {"levers": LEVERS, "targets": published(worked_dict, 0.07, 27_000)}
    )
    result = fit(scenario_from_mapping(worked_dict), spec, engine="numpy")
    fitted = dict(zip(result.levers["path"], result.levers["fitted"], strict=True))
    assert fitted["demand.requests_growth"] == pytest.approx(0.07, rel=1e-5)
    assert fitted["costs.unit_cost.special"] == pytest.approx(27_000, rel=1e-5)
    assert result.success
    assert result.targets["met"].all()
    # the fitted scenario is a valid scenario that prints the targets
    ledger = project(result.scenario, savings=False).ledger
    assert ledger.loc["2024-25", "in_year_balance"] == pytest.approx(
        spec.targets[0].value, rel=1e-6
    )
    assert result.scenario.demand.requests_growth == pytest.approx(0.07, rel=1e-5)


def test_an_unreachable_target_is_refused(worked_dict: dict[str, Any]) -> None:
    """No special unit cost below £40,000 balances 2024-25: the fit says so."""
    spec = FitSpec.model_validate(
        {
            "levers": [{"path": "costs.unit_cost.special", "low": 20_000, "high": 40_000}],
            "targets": [{"output": "in_year_balance", "year": "2024-25", "value": 500_000}],
        }
    )
    with pytest.raises(FitError, match=r"in_year_balance 2024-25: wanted 500,000") as info:
        fit(scenario_from_mapping(worked_dict), spec, engine="numpy")
    assert "levers at a bound" in str(info.value)
    assert "costs.unit_cost.special = 20,000" in str(info.value)
    result = fit(scenario_from_mapping(worked_dict), spec, engine="numpy", raise_exceptions=False)
    assert not result.success
    assert bool(result.levers["at_bound"].iloc[0])


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"output": "plans", "year": "2024-25", "value": 1}, "a 'plans' target needs a month"),
        ({"output": "incom", "year": "2024-25", "value": 1}, "unknown output 'incom'"),
        ({"output": "income", "month": "2024-05", "value": 1}, "needs a financial year"),
    ],
)
def test_targets_are_checked(target: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FitSpec.model_validate({"levers": LEVERS, "targets": [target]})


def test_a_target_outside_the_projection(worked_dict: dict[str, Any]) -> None:
    spec = FitSpec.model_validate(
        {"levers": LEVERS, "targets": [{"output": "income", "year": "2030-31", "value": 1}]}
    )
    with pytest.raises(ScenarioError, match=r"fit\.targets\[0\]\.year: financial year 2030-31"):
        fit(scenario_from_mapping(worked_dict), spec, engine="numpy")


def test_fit_command(
    worked_dict: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dict(
        worked_dict, fit={"levers": LEVERS, "targets": published(worked_dict, 0.07, 27_000)}
    )
    source = tmp_path / "plan.yaml"
    source.write_text(yaml.safe_dump(data))
    scenario, spec = load_fit(source)
    assert len(spec.levers) == 2 and scenario.name == worked_dict["name"]
    out = tmp_path / "fitted.yaml"
    assert main(["fit", str(source), "--out", str(out), "--engine", "numpy"]) == 0
    printed = capsys.readouterr().out
    assert "Requests growth" in printed and "In-year balance 2024-25" in printed
    from dsg_forecast import load_scenario

    assert load_scenario(out).demand.requests_growth == pytest.approx(0.07, rel=1e-5)
    # an existing file is not replaced
    assert main(["fit", str(source), "--out", str(out), "--engine", "numpy"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_prior_weight_keeps_free_levers_near_their_priors(worked_dict: dict[str, Any]) -> None:
    """Two unit costs and one target: many solutions; the prior picks the nearest to it."""
    levers = [
        {"path": "costs.unit_cost.special", "low": 10_000, "high": 60_000, "prior": 30_000},
        {"path": "costs.unit_cost.mainstream", "low": 5_000, "high": 20_000, "prior": 12_000},
    ]
    target = [{"output": "in_year_balance", "year": "2024-25", "value": -200_000}]
    scenario = scenario_from_mapping(worked_dict)
    plain = fit(scenario, FitSpec.model_validate({"levers": levers, "targets": target}))
    held = fit(
        scenario,
        FitSpec.model_validate({"levers": levers, "targets": target, "prior_weight": 1e-4}),
    )
    assert plain.success and held.success
    priors = [30_000, 12_000]
    spans = [50_000, 15_000]

    def distance(result: Any) -> float:
        moved = (result.levers["fitted"] - priors) / spans
        return float((moved**2).sum())

    assert distance(held) <= distance(plain) + 1e-12


def test_a_boolean_in_a_fit_section_is_refused_by_name(
    worked_dict: dict[str, Any], tmp_path: Path
) -> None:
    """``tolerance: yes`` would be read as 1; it is refused, naming where it is."""
    targets = [{"output": "income", "year": "2024-25", "value": 1, "tolerance": True}]
    source = tmp_path / "plan.yaml"
    source.write_text(yaml.safe_dump(dict(worked_dict, fit={"levers": LEVERS, "targets": targets})))
    with pytest.raises(ScenarioError, match=r"fit\.targets\[0\]\.tolerance: True is a true/false"):
        load_fit(source)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"levers": [{"path": "net_transfer_rate", "low": 0.1, "high": 0.0}]},
            "low 0.1 must be below high 0.0",
        ),
        ({"prior_weight": -1}, "greater than or equal to 0"),
        (  # 0.5 for 0.05: the fit pulled the lever to its bound without a word
            {"levers": [{"path": "funding.growth", "low": 0.03, "high": 0.08, "prior": 0.5}]},
            r"prior 0.5 is outside the bounds 0.03..0.08",
        ),
        (
            {"levers": [*LEVERS, {**LEVERS[0], "high": 0.5}]},
            rf"levers\[{len(LEVERS)}\] repeats the path {LEVERS[0]['path']} of levers\[0\]",
        ),
        (
            {
                "targets": [
                    {"output": "income", "year": "2024-25", "value": 1},
                    {"output": "income", "year": "2024-25", "value": 2},
                ]
            },
            r"targets\[1\] repeats income 2024-25 of targets\[0\] \(wanted 1 and 2\)",
        ),
        (
            {"targets": [{"output": "income", "year": "2024-25", "value": 1, "tolerance": 0}]},
            "greater than 0",
        ),
        (
            {
                "targets": [
                    {
                        "output": "income",
                        "year": "2024-25",
                        "value": 1,
                        "tolerance": 0.1,
                        "within": 5,
                    }
                ]
            },
            r"give tolerance \(a share of the figure\) or within \(an amount\), not both",
        ),
    ],
)
def test_fit_specs_are_checked(spec: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "levers": LEVERS,
        "targets": [{"output": "income", "year": "2024-25", "value": 1}],
    } | spec
    with pytest.raises(ValueError, match=message):
        FitSpec.model_validate(data)


def test_a_target_within_an_amount(
    worked_dict: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A figure near 0 (an in-year balance to break even) is met within an amount: as a
    share of the figure its tolerance would be a few pence."""
    targets = published(worked_dict, 0.07, 27_000)
    wanted = targets[1]["value"]
    targets[1] = {"output": "in_year_balance", "year": "2025-26", "value": wanted + 30_000,
                  "within": 50_000}  # fmt: skip
    spec = FitSpec.model_validate({"levers": LEVERS, "targets": targets})
    result = fit(scenario_from_mapping(worked_dict), spec, engine="numpy")
    row = result.targets.iloc[1]
    assert row["within"] == 50_000 and row["tolerance"] != row["tolerance"]  # NaN: no share
    assert row["met"] == (abs(row["residual"]) <= 50_000)
    assert result.targets["within"].iloc[0] == pytest.approx(0.001 * abs(targets[0]["value"]))
    source = tmp_path / "plan.yaml"
    source.write_text(yaml.safe_dump(dict(worked_dict, fit={"levers": LEVERS, "targets": targets})))
    assert main(["fit", str(source)]) in (0, 2)
    out = capsys.readouterr().out
    assert "±£50,000" in out  # the amount, not a share
    assert main(["fit", str(source), "--format", "json"]) in (0, 2)
    payload = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    assert payload["targets"][1]["tolerance"] is None and payload["targets"][1]["within"] == 50_000


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_a_bound_that_breaks_a_rule_is_named_as_the_fits(worked_dict: dict[str, Any]) -> None:
    """A lever's bound the scenario cannot take was called "the sweep draws 1.5"."""
    scenario = scenario_from_mapping(worked_dict)
    spec = FitSpec.model_validate(
        {
            "levers": [{"path": "demand.refusal_rate", "low": 0.0, "high": 1.5}],
            "targets": published(worked_dict, 0.07, 27_000)[:1],
        }
    )
    with pytest.raises(ScenarioError, match=r"refusal_rate: the fit may set it to 1\.5, which"):
        fit(scenario, spec, engine="numpy")


def test_a_bound_the_engine_refuses_is_named_before_the_fit_starts(
    worked_dict: dict[str, Any],
) -> None:
    """A lever value the schema takes may still drive a month's ceasing out of [0, 1] once
    the interventions apply: ``validate`` passed such a fit, and ``fit`` then refused it in
    the words of the solver's batch ("in 1 of 9 scenarios (first: 4)")."""
    targets = published(worked_dict, 0.07, 27_000)[:1]
    worked_dict["interventions"][0]["effects"].append({"lever": "ceasing", "multiply": 1.0})
    scenario = scenario_from_mapping(worked_dict)
    ceasing = {"path": "interventions[0].effects[2].multiply", "low": 0.5, "high": 1000.0}
    spec = FitSpec.model_validate({"levers": [LEVERS[0], ceasing], "targets": targets})
    expected = (
        r"out of \[0, 1\] once interventions \['earlier support'\] apply; it must stay in range "
        r"\(at fit\.levers\[1\] \(interventions\[0\]\.effects\[2\]\.multiply\) = 1,000, its high "
        r"bound, the other levers at their start; narrow its bounds\)"
    )
    with pytest.raises(ScenarioError, match=expected):
        check_fit(scenario, spec)
    with pytest.raises(ScenarioError, match=expected):
        fit(scenario, spec, engine="numpy")
    # values the solver tries are named with the rule they break, the batch's row found
    inside = FitSpec.model_validate(
        {"levers": [LEVERS[0], {**ceasing, "high": 1.0}], "targets": targets}
    )
    problem = _Problem(scenario, inside, "numpy")
    with pytest.raises(ScenarioError) as caught:
        problem.outputs(np.array([[0.1, 1.0], [0.1, 1000.0]]))
    message = str(caught.value)
    assert "in 1 of 2 scenarios" not in message
    assert (
        "it must stay in range (when the fit tried demand.requests_growth = 0.1, "
        "interventions[0].effects[2].multiply = 1,000, inside the levers' bounds; narrow them)"
    ) in message
