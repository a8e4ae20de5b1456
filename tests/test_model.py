"""MODEL.md §7: every ledger figure, every month's totals and the savings, to the penny."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from dsg_forecast import Projection, Scenario, ScenarioError, compile_scenario, project, run_batch
from dsg_forecast.cli import main
from dsg_forecast.engine import ENGINES

PENNY = 0.005
MONEY = (
    "income",
    "placement_cost",
    "other_cost",
    "intervention_cost",
    "expenditure",
    "in_year_balance",
    "contribution",
    "cumulative_balance",
)
COUNTS = (
    "new_plans",
    "ceased",
    "transferred",
    "aged_out",
    "backlog",
    "moves_up",
    "moves_down",
    "overflow",
)


@pytest.fixture(scope="module", params=ENGINES)
def result(request: pytest.FixtureRequest, worked: Scenario) -> Projection:
    """The worked example projected by each kernel: both must reproduce it to the penny."""
    if request.param == "numpy":
        projection: Projection = request.getfixturevalue("worked_projection")
        return projection
    pytest.importorskip("numba")
    return project(worked, engine=request.param)


def test_ledger_to_the_penny(result: Projection, expected: dict[str, Any]) -> None:
    ledger = result.ledger
    assert list(ledger.index) == [row["financial_year"] for row in expected["ledger"]]
    for row in expected["ledger"]:
        fy = row["financial_year"]
        for column in MONEY:
            assert ledger.loc[fy, column] == pytest.approx(row[column], abs=PENNY), (fy, column)
        cap = ledger.loc[fy, "deficit_cap"]
        if row["deficit_cap"] is None:
            assert pd.isna(cap)
            assert pd.isna(ledger.loc[fy, "within_cap"])
        else:
            assert cap == row["deficit_cap"]
            assert bool(ledger.loc[fy, "within_cap"]) is row["within_cap"]


def test_printed_ledger_of_model_md(result: Projection) -> None:
    """The table printed in MODEL.md §7, figure by figure."""
    ledger = result.ledger.round(2)
    assert ledger.loc["2024-25", "placement_cost"] == 2_474_966.92
    assert ledger.loc["2024-25", "in_year_balance"] == -126_966.92
    assert ledger.loc["2024-25", "cumulative_balance"] == -826_966.92
    assert ledger.loc["2025-26", "income"] == 2_824_000.00
    assert ledger.loc["2025-26", "placement_cost"] == 2_818_714.26
    assert ledger.loc["2025-26", "cumulative_balance"] == -809_681.18
    assert ledger.loc["2026-27", "income"] == 2_812_160.00
    assert ledger.loc["2026-27", "expenditure"] == 3_370_748.31
    assert ledger.loc["2026-27", "contribution"] == 728_713.06
    assert ledger.loc["2026-27", "cumulative_balance"] == -639_556.42


def test_every_month(result: Projection, expected: dict[str, Any]) -> None:
    monthly = result.monthly
    assert list(monthly.index) == [m["month"] for m in expected["monthly"]]
    for month in expected["monthly"]:
        row = monthly.loc[month["month"]]
        assert row["stock"] == pytest.approx(month["stock"], abs=1e-6), month["month"]
        for placement, count in month["by_placement"].items():
            assert row[f"stock_{placement}"] == pytest.approx(count, abs=1e-6)
        for series in COUNTS:
            assert row[series] == pytest.approx(month[series], abs=1e-6), (month["month"], series)
        assert row["placement_cost"] == pytest.approx(month["placement_cost"], abs=PENNY)


def test_checkpoints_in_model_md(result: Projection) -> None:
    m = result.monthly.round(4)
    assert m.loc["2024-04", "stock"] == 136.5225
    assert list(m.loc["2024-05":"2024-08", "stock_special"]) == [28.0] * 4
    assert list(m.loc["2024-05":"2024-08", "overflow"]) == [0.2971, 1.39, 0.8343, 0.876]
    assert m.loc["2024-09", "stock"] == 116.9994
    assert m.loc["2024-09", "aged_out"] == 47.4191
    assert m.loc["2024-09", "moves_up"] == 2.7092
    assert m.loc["2024-09", "moves_down"] == 0.4702
    assert m.loc["2024-06", "new_plans"] == 6.0
    assert m.loc["2025-03", "new_plans"] == 3.36
    assert m.loc["2026-03", "stock"] == 177.228
    assert m.loc["2027-03", "stock"] == 198.2216


def test_summary(result: Projection) -> None:
    summary = result.summary
    assert summary.target_met is False
    assert summary.first_balanced_year is None
    assert summary.largest_deficit == pytest.approx(826_966.9245, abs=PENNY)
    assert summary.largest_deficit_year == "2024-25"
    assert summary.headroom["2024-25"] == pytest.approx(1_200_000 - 826_966.9245, abs=PENNY)


def test_savings(result: Projection, expected: dict[str, Any]) -> None:
    savings = result.savings
    assert len(savings) == len(expected["savings"])
    for got, want in zip(savings.to_dict(orient="records"), expected["savings"], strict=True):
        assert got["financial_year"] == want["financial_year"]
        assert got["intervention"] == want["intervention"]
        assert got["condition"] == want["condition"]
        assert got["gross_saving"] == pytest.approx(want["gross_saving"], abs=PENNY)
        assert got["net_saving"] == pytest.approx(want["net_saving"], abs=PENNY)
    # one intervention: its condition's group and "all" equal it alone
    by_condition = result.savings_by_condition
    for group in ("3.1", "all"):
        rows = by_condition[by_condition["condition"] == group]
        assert list(rows["gross_saving"]) == pytest.approx(list(savings["gross_saving"]))


def test_cli_json_to_the_penny(
    worked_path: Any, expected: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(worked_path), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) >= {"ledger", "summary", "savings"}
    for got, want in zip(printed["ledger"], expected["ledger"], strict=True):
        for key, value in want.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert got[key] == pytest.approx(value, abs=PENNY), key
            else:
                assert got[key] == value, key
    assert printed["summary"]["target_met"] is False
    assert printed["summary"]["first_balanced_year"] is None
    for got, want in zip(printed["savings"], expected["savings"], strict=True):
        assert got["net_saving"] == pytest.approx(want["net_saving"], abs=PENNY)


def test_levers_resolved_and_checked_once_per_projection(
    worked: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One resolution and one range check for the scenario and all its savings variants."""
    import dsg_forecast.engine.levers as levers
    import dsg_forecast.model as model
    from dsg_forecast.engine import prepare

    calls = {"resolve": 0, "check": 0}

    def counted(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    resolve = counted("resolve", levers.resolve_levers)
    check = counted("check", levers.lever_violations)
    for module in (model, prepare):
        monkeypatch.setattr(module, "resolve_levers", resolve)
        monkeypatch.setattr(module, "lever_violations", check)
    project(worked)
    assert calls == {"resolve": 1, "check": 1}


def test_a_mapping_is_refused_with_the_way_to_validate_it(worked: Scenario) -> None:
    """A dict read from a file is not a scenario until validated: say how, not AttributeError."""
    data = worked.model_dump(by_alias=True)
    with pytest.raises(TypeError, match=r"takes a validated Scenario, not a dict: load one"):
        project(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_a_switch_that_is_not_a_bool_is_refused(worked: Scenario, value: Any) -> None:
    """``savings="no"`` is true in Python: every switch of the API takes True or False only."""
    from dsg_forecast.sweeps import SweepSpec, run_sweep

    with pytest.raises(TypeError, match=rf"savings is {value!r}; it must be True or False"):
        project(worked, savings=value)
    structure, params = compile_scenario(worked)
    with pytest.raises(TypeError, match=rf"keep_stock is {value!r}; it must be True or False"):
        run_batch(structure, params, keep_stock=value)
    spec = SweepSpec.model_validate(
        {"parameters": {"demand.refusal_rate": {"dist": "uniform", "low": 0.2, "high": 0.3}}}
    )
    for name in ("resume", "monthly"):
        with pytest.raises(TypeError, match=rf"{name} is {value!r}; it must be True or False"):
            run_sweep(worked, spec, engine="numpy", **{name: value})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("refusal_rate", float("nan"), r"params\.refusal_rate: nan at \(0,\) \(scenario 0\)"),
        ("unit_cost", float("inf"), r"params\.unit_cost: inf at \(0, 0, 0\)"),
        ("assessment_capacity", float("-inf"), r"every parameter must be finite \(or \+inf"),
    ],
)
def test_run_batch_refuses_parameters_that_are_not_numbers(
    worked: Scenario, field: str, value: float, message: str
) -> None:
    """Arrays built by hand: a NaN would otherwise give NaN results without a word."""
    import numpy as np

    from dsg_forecast import compile_scenario, run_batch

    structure, params = compile_scenario(worked)
    broken = params.replace(**{field: np.full_like(getattr(params, field), value)})
    with pytest.raises(ScenarioError, match=message):
        run_batch(structure, broken)
    # the compiler's own NaN (a year without a deficit cap) and +inf (no limit) are numbers
    unlimited = params.replace(assessment_capacity=np.full_like(params.assessment_capacity, np.inf))
    assert np.isnan(params.deficit_cap).any()
    run_batch(structure, unlimited)
