"""Sensitivity indices against known answers; goal seek hits its targets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dsg_forecast import Scenario, ScenarioError, project
from dsg_forecast.cli import main
from dsg_forecast.errors import DsgForecastError
from dsg_forecast.sweeps import SweepSpec, plan_sweep
from dsg_forecast.sweeps.goal_seek import (
    ConvergenceError,
    Lever,
    Target,
    parse_target,
    solve,
    solve_probability,
)
from dsg_forecast.sweeps.sensitivity import morris_screening, sobol_indices, tornado

STOCK = {"mainstream": 100.0, "special": 20.0}


@pytest.fixture(scope="module")
def static() -> Scenario:
    """No flows at all: a year's cost is exactly Σ stock × unit cost (linear, known indices)."""
    return Scenario.model_validate(
        {
            "start": "2024-04",
            "end": "2025-03",
            "placements": [
                {"name": "mainstream"},
                {"name": "special", "tier": 2},
                {"name": "ap", "tier": 2},
            ],
            "opening_stock": {name: {10: count} for name, count in STOCK.items()},
            "demand": {
                "requests_per_year": 0,
                "new_plan_ages": {10: 1.0},
                "new_plan_mix": {10: {"mainstream": 1.0}},
            },
            "ceasing": {"rates": {10: 0.0}},
            "costs": {"unit_cost": {"mainstream": 15000, "special": 20000, "ap": 0}},
            "funding": {"high_needs_block": 2_000_000},
            "agreement": {"balance_target": "2024-25"},
        }
    )


COSTS = SweepSpec.model_validate(
    {
        "parameters": {
            "costs.unit_cost.mainstream": {"dist": "uniform", "low": 10000, "high": 20000},
            "costs.unit_cost.special": {"dist": "uniform", "low": 10000, "high": 30000},
            "costs.unit_cost.ap": {"dist": "uniform", "low": 0, "high": 1000},  # no one is in AP
        },
        "seed": 3,
    }
)


def test_sobol_indices_match_the_analytic_answer(static: Scenario) -> None:
    # a linear model: S1 = ST = a_i² Var(x_i) / Σ a_j² Var(x_j), Var = width² / 12
    weights = np.array([100**2 * 10_000**2, 20**2 * 20_000**2, 0.0])
    expected = weights / weights.sum()  # 0.862, 0.138, 0
    frame = sobol_indices(
        static, COSTS, base_samples=2048, outputs=("in_year_balance",), engine="numpy"
    )
    assert len(frame) == 3
    for name, share in zip(COSTS.parameters, expected, strict=True):
        row = frame[frame["parameter"] == name].iloc[0]
        assert row["S1"] == pytest.approx(share, abs=max(0.03, 2 * row["S1_conf"]))
        assert row["ST"] == pytest.approx(share, abs=max(0.03, 2 * row["ST_conf"]))
    assert frame.loc[frame["parameter"] == "costs.unit_cost.ap", "ST"].abs().max() < 1e-9


def test_morris_ranks_the_parameters(static: Scenario) -> None:
    frame = morris_screening(
        static, COSTS, trajectories=20, outputs=("in_year_balance",), engine="numpy"
    )
    mu_star = frame.set_index("parameter")["mu_star"]
    assert mu_star["costs.unit_cost.mainstream"] > mu_star["costs.unit_cost.special"] > 0
    assert mu_star["costs.unit_cost.ap"] == 0


@pytest.mark.parametrize("count", [1, 0, True, 2.5])
def test_one_base_sample_or_trajectory_is_refused(static: Scenario, count: Any) -> None:
    """The ± intervals bootstrap the base samples (trajectories): with one, each would read 0."""
    with pytest.raises(ValueError, match=rf"base_samples is {count!r}; it must be a whole number"):
        sobol_indices(static, COSTS, base_samples=count, engine="numpy")
    with pytest.raises(ValueError, match=rf"trajectories is {count!r}; it must be a whole number"):
        morris_screening(static, COSTS, trajectories=count, engine="numpy")


def test_an_analysis_too_large_to_hold_is_refused(static: Scenario) -> None:
    """A few zeros too many ran out of memory (Morris) or ended inside scipy ("Maximum
    allowed dimension exceeded", Sobol); the message gives the count and the limit."""
    from dsg_forecast.sweeps.sensitivity import MAX_SCENARIOS

    d = len(COSTS.parameters)
    with pytest.raises(DsgForecastError, match=rf"base_samples is 10,000,000, which makes "
                       rf"{10_000_000 * (d + 2):,} scenarios"):  # fmt: skip
        sobol_indices(static, COSTS, base_samples=10_000_000, engine="numpy")
    with pytest.raises(DsgForecastError, match=rf"at most {MAX_SCENARIOS // (d + 1):,}$"):
        morris_screening(static, COSTS, trajectories=10**20, engine="numpy")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"outputs": ("plans_x",)}, r"outputs \['plans_x'\] are not outputs of a sweep"),  # was []
        ({"outputs": "plans"}, r"outputs is 'plans'; give a non-empty sequence"),  # its letters
        ({"outputs": ()}, r"outputs is \(\); give a non-empty sequence"),
        ({"outputs": ("plans", "plans")}, r"give one twice"),  # each row twice
        ({"conf_level": 1.5}, r"conf_level is 1.5; it must be between 0 and 1"),  # SALib's error
        ({"seed": "1"}, r"seed is '1'; it must be a whole number"),  # scipy's error
    ],
)
def test_analysis_options_are_checked(
    static: Scenario, options: dict[str, Any], message: str
) -> None:
    """Each of these gave an empty table without a word, or an error from deep inside."""
    with pytest.raises(ValueError, match=message):
        sobol_indices(static, COSTS, base_samples=4, engine="numpy", **options)
    with pytest.raises(ValueError, match=message):
        morris_screening(static, COSTS, trajectories=4, engine="numpy", **options)
    if "conf_level" not in options and "seed" not in options:
        with pytest.raises(ValueError, match=message):
            tornado(static, COSTS, engine="numpy", **options)


@pytest.mark.parametrize("levels", [1, 3, 0, 2.0, True, 10**20])
def test_morris_levels_are_even(static: Scenario, levels: Any) -> None:
    """One level divided by zero inside SALib; an odd number biases the design."""
    with pytest.raises(ValueError, match=rf"levels is {levels!r}"):
        morris_screening(static, COSTS, trajectories=4, levels=levels, engine="numpy")


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.95, 0.05), (0.5, 0.5), (float("nan"), 0.9), (-0.1, 0.9), (None, 0.9), (0.1, "0.9")],
)
def test_tornado_quantiles_must_be_ordered(static: Scenario, low: Any, high: Any) -> None:
    """Reversed, each parameter's 95th percentile was reported as its low value; None or
    text ended in a TypeError comparing them."""
    with pytest.raises(ValueError, match=r"are quantiles: they must satisfy 0 <= low < high <= 1"):
        tornado(static, COSTS, low=low, high=high, engine="numpy")


def test_tornado_swings_by_hand(static: Scenario) -> None:
    frame = tornado(static, COSTS, outputs=("in_year_balance",), engine="numpy")
    top = frame.iloc[0]
    assert top["parameter"] == "costs.unit_cost.mainstream"
    # 5% and 95% of uniform(10k, 20k) are 10.5k and 19.5k: the year's balance swings 100 × 9k
    assert (top["low_value"], top["high_value"]) == pytest.approx((10_500, 19_500))
    assert top["swing"] == pytest.approx(100 * 9_000)
    assert top["base"] == pytest.approx(2_000_000 - 100 * 15_000 - 20 * 20_000)
    assert list(frame["swing"]) == sorted(frame["swing"], reverse=True)


def test_solve_balance_hits_the_target(worked: Scenario) -> None:
    lever = Lever("demand.requests_per_year", 0.0, 1.0, mode="scale")
    frame = solve(worked, lever, parse_target("balance:2025-26"), engine="numpy", tolerance=1e-9)
    row = frame.iloc[0]
    assert row["status"] == "solved"
    data = worked.model_dump(by_alias=True)
    data["demand"]["requests_per_year"] *= row["solution"]
    ledger = project(Scenario.model_validate(data), savings=False).ledger
    balances = ledger.loc["2025-26":, "in_year_balance"]
    assert (balances >= 0).all()
    assert balances.min() == pytest.approx(0.0, abs=1.0)  # just met: within £1
    assert row["gap_at_solution"] == pytest.approx(balances.min())


def test_solve_plans_turns_growth_into_requests(worked: Scenario) -> None:
    """'Plans reach 190 by March 2027' becomes a request volume."""
    frame = solve(
        worked,
        Lever("demand.requests_per_year", 0, 400),
        parse_target("plans:2027-03:190"),
        engine="numpy",
        tolerance=1e-10,
    )
    data = worked.model_dump(by_alias=True)
    data["demand"]["requests_per_year"] = frame.iloc[0]["solution"]
    monthly = project(Scenario.model_validate(data), savings=False).monthly
    assert monthly.loc["2027-03", "stock"] == pytest.approx(190, abs=1e-3)


def test_solve_every_scenario_of_a_sweep(worked: Scenario) -> None:
    spec = SweepSpec.model_validate(
        {
            "parameters": {"demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.6}},
            "samples": 64,
            "seed": 5,
        }
    )
    lever = Lever("costs.unit_cost.inmss", 0, 80_000)
    frame = solve(worked, lever, parse_target("cap:2025-26"), spec=spec, engine="numpy")
    solved = frame[frame["status"] == "solved"]
    assert len(solved) + frame.attrs["unsolved"] == 64
    assert len(solved) > 32
    assert (solved["gap_at_solution"] >= 0).all()
    assert (solved["gap_at_solution"] < 1_000).all()  # just within the cap
    # faster growth needs cheaper independent places
    growth = plan_sweep(worked, spec).values[solved.index, 0]
    assert np.corrcoef(growth, solved["solution"])[0, 1] < -0.9


def test_unsolvable_scenarios_are_counted_or_raised(worked: Scenario) -> None:
    lever = Lever("costs.unit_cost.inmss", 0, 60_000)
    frame = solve(worked, lever, parse_target("balance:2025-26"), engine="numpy")
    assert frame.attrs["unsolved"] == 1
    assert frame.iloc[0]["status"] == "met at neither bound"
    assert np.isnan(frame.iloc[0]["solution"])
    with pytest.raises(
        ConvergenceError,
        match=r"no solution for costs\.unit_cost\.inmss between 0 "
        r"and 60000 in 1 scenario\(s\) \(first: 0\)",
    ):
        solve(worked, lever, parse_target("balance:2025-26"), engine="numpy", raise_exceptions=True)


def test_a_plans_target_holds_when_plans_stay_at_or_below_it(worked: Scenario) -> None:
    """Like a cap: fewer requests keep more scenarios within a plans trajectory, and a
    trajectory far below every scenario is met by none (it was 'met by all')."""
    spec = SweepSpec.model_validate(
        {
            "parameters": {"demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.6}},
            "samples": 100,
            "seed": 3,
        }
    )
    lever = Lever("demand.requests_per_year", 0, 400)
    answer = solve_probability(
        worked, spec, lever, parse_target("plans:2027-03:190"), 0.5, engine="numpy"
    )
    assert answer["at_low"] > answer["at_high"] and answer["probability"] >= 0.5
    assert answer["target"] == "at most 190 plans at the end of 2027-03"
    with pytest.raises(ConvergenceError, match=r"reaches at most 0\.0% of scenarios"):
        solve_probability(worked, spec, lever, parse_target("plans:2027-03:5"), 0.5, engine="numpy")


@pytest.mark.parametrize("probability", [None, "0.8", 1.0, float("nan"), 80])
def test_solve_probability_refuses_a_probability_that_is_not_one(
    worked: Scenario, probability: Any
) -> None:
    """``None`` or text ended in "'<' not supported between instances of 'float' and …"."""
    from dsg_forecast.errors import ArgumentError

    spec = SweepSpec.model_validate(
        {"parameters": {"demand.requests_growth": {"dist": "uniform", "low": 0, "high": 0.3}}}
    )
    said = f"probability {probability!r} must be a number between 0 and 1 (0.8 for 80%)"
    with pytest.raises(ArgumentError, match=re.escape(said)):
        solve_probability(
            worked, spec, Lever("costs.unit_cost.special", 10_000, 30_000),
            parse_target("cap:2025-26:700000"), probability, engine="numpy",
        )  # fmt: skip


def test_solve_probability(worked: Scenario) -> None:
    spec = SweepSpec.model_validate(
        {
            "parameters": {"demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.3}},
            "samples": 200,
            "seed": 2,
        }
    )
    target = parse_target("cap:2025-26:700000")
    answer = solve_probability(
        worked, spec, Lever("costs.unit_cost.special", 10_000, 30_000), target, 0.8, engine="numpy"
    )
    assert answer["probability"] >= 0.8
    dearer = solve_probability(
        worked,
        spec,
        Lever("costs.unit_cost.special", answer["solution"] + 20, 30_000),
        target,
        0.01,
        engine="numpy",
    )
    assert dearer["at_low"] < 0.8
    with pytest.raises(ConvergenceError, match="short of 99%"):
        solve_probability(
            worked,
            spec,
            Lever("costs.unit_cost.special", 29_500, 30_000),
            target,
            0.99,
            engine="numpy",
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("balance", r"is not one of balance:FY"),
        ("balance:2025/26", r"'2025/26' is not a financial year"),
        ("plans:2027-13:5", r"'2027-13' is not a month"),
        ("surplus:2025-26", r"is not one of"),
    ],
)
def test_bad_targets(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(text)


def test_targets_outside_the_projection(worked: Scenario) -> None:
    lever = Lever("demand.requests_per_year", 0, 400)
    with pytest.raises(ScenarioError, match=r"2030-31 is outside the projection"):
        solve(worked, lever, parse_target("balance:2030-31"), engine="numpy")
    with pytest.raises(ScenarioError, match=r"2026-27 has no deficit cap; give an amount"):
        solve(worked, lever, parse_target("cap:2026-27"), engine="numpy")


def test_levers_targets_and_search_settings_are_checked(worked: Scenario) -> None:
    """Each was accepted (a mode "scal" set the path to the lever's size, tolerance 0 and no
    steps ran a search that could not stop where asked, "no" raised on failure), taken for
    another (a misspelt kind was a cap) or failed unclearly (an assertion, "None is
    outside the projection")."""
    with pytest.raises(ValueError, match=r"mode 'scal' is not one of \['value', 'scale'"):
        Lever("funding.growth", 0.0, 0.2, mode="scal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"target kind 'balanc' is not one of"):
        Target(kind="balanc", year="2025-26")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a balance target needs a year"):
        Target(kind="balance")
    with pytest.raises(ValueError, match=r"a plans target needs an amount"):
        Target(kind="plans", month="2026-03")
    lever, target = Lever("demand.requests_per_year", 0, 400), parse_target("balance:2025-26")
    for settings, message in (
        ({"tolerance": 0}, "tolerance is 0; it must be between 0 and 1"),
        ({"tolerance": -1.0}, "tolerance is -1.0"),
        ({"max_iterations": 0}, "max_iterations is 0; it must be a whole number"),
        ({"max_iterations": 2.5}, "max_iterations is 2.5"),
    ):
        with pytest.raises(ValueError, match=message):
            solve(worked, lever, target, engine="numpy", **settings)
    with pytest.raises(TypeError, match="raise_exceptions is 'no'; it must be True or False"):
        solve(worked, lever, target, engine="numpy", raise_exceptions="no")  # type: ignore[arg-type]
    # text where a target, lever or sweep belongs ended in an AttributeError
    with pytest.raises(TypeError, match=r"target is 'balance:2025-26'; give a Target, for ex"):
        solve(worked, lever, "balance:2025-26", engine="numpy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"lever is 'funding.growth'; give a Lever, for example"):
        solve(worked, "funding.growth", target, engine="numpy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"spec is 'sweep.yaml'; give a SweepSpec"):
        solve(worked, lever, target, spec="sweep.yaml", engine="numpy")  # type: ignore[arg-type]


def test_lever_bounds_must_be_ordered_and_valid(worked: Scenario) -> None:
    with pytest.raises(ValueError, match="low 2 must be below high 1"):
        Lever("demand.refusal_rate", 2, 1)
    bounds: tuple[tuple[Any, str], ...] = (
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        (False, "False"),
        ("0", "'0'"),  # a bound of text or None ended inside math.isfinite (a TypeError)
        (None, "None"),
    )
    for low, shown in bounds:
        with pytest.raises(ValueError, match=f"low is {shown}; it must be a finite number"):
            Lever("demand.refusal_rate", low, 1)
    with pytest.raises(ValueError, match="high is inf; it must be a finite number"):
        Lever("demand.refusal_rate", 0, float("inf"))
    # the lever's bound, not a sweep's draw ("the sweep draws 1.5" said the solve)
    with pytest.raises(ScenarioError, match=r"demand\.refusal_rate: the solve may set it to 1\.5"):
        solve(
            worked,
            Lever("demand.refusal_rate", 0.0, 1.5),
            parse_target("balance:2025-26"),
            engine="numpy",
        )


# -- the commands ---------------------------------------------------------------------------
@pytest.fixture()
def sweep_file(worked_dict: dict[str, Any], tmp_path: Path) -> Path:
    worked_dict["sweep"] = {
        "parameters": {
            "demand.requests_growth": {"dist": "uniform", "low": 0.0, "high": 0.2},
            "costs.unit_cost.inmss": {
                "dist": "triangular",
                "low": 50000,
                "mode": 60000,
                "high": 75000,
            },
        },
        "samples": 128,
        "seed": 4,
    }
    path = tmp_path / "worked_sweep.yaml"
    path.write_text(yaml.safe_dump(worked_dict))
    return path


def test_sweep_command(
    sweep_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.parquet"
    assert main(["sweep", str(sweep_file), "--engine", "numpy", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "128 scenarios, lhs design, seed 4" in text
    assert "Probability of staying within the 2024-25 cap:" in text
    assert (out / "_manifest.json").is_file()
    # a finished sweep resumes to the same answer; without --resume the folder is refused
    assert (
        main(
            [
                "sweep",
                str(sweep_file),
                "--engine",
                "numpy",
                "--out",
                str(out),
                "--resume",
                "--quiet",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["samples"] == 128
    assert main(["sweep", str(sweep_file), "--engine", "numpy", "--out", str(out), "--quiet"]) == 2
    assert "add --resume" in capsys.readouterr().err
    trajectories = tmp_path / "monthly.csv"
    assert (
        main(
            [
                "sweep",
                str(sweep_file),
                "--engine",
                "numpy",
                "--quiet",
                "--samples",
                "4",
                "--monthly",
                str(trajectories),
            ]
        )
        == 0
    )
    assert len(trajectories.read_text().splitlines()) == 1 + 4 * 36


def test_sensitivity_command(sweep_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "sensitivity",
                str(sweep_file),
                "--method",
                "tornado",
                "--engine",
                "numpy",
                "--year",
                "2026-27",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("output,financial_year,parameter")
    assert all(",2026-27," in line for line in lines[1:])
    assert (
        main(
            [
                "sensitivity",
                str(sweep_file),
                "--method",
                "morris",
                "--samples",
                "6",
                "--engine",
                "numpy",
            ]
        )
        == 0
    )
    assert "ranked by mean |effect|" in capsys.readouterr().out


def test_solve_command(
    sweep_file: Path, worked_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "solve",
                str(worked_path),
                "--lever",
                "demand.requests_per_year",
                "--mode",
                "scale",
                "--low",
                "0",
                "--high",
                "1",
                "--target",
                "balance:2025-26",
                "--engine",
                "numpy",
            ]
        )
        == 0
    )
    assert "is where 'in-year balance >= 0 from 2025-26' is just met" in capsys.readouterr().out
    assert (
        main(
            [
                "solve",
                str(sweep_file),
                "--lever",
                "costs.unit_cost.special",
                "--low",
                "10000",
                "--high",
                "30000",
                "--target",
                "cap:2025-26:700000",
                "--probability",
                "0.5",
                "--engine",
                "numpy",
            ]
        )
        == 0
    )
    assert "of 128 scenarios (asked: 50%)" in capsys.readouterr().out
    assert (
        main(
            [
                "solve",
                str(worked_path),
                "--lever",
                "demand.requests_per_year",
                "--low",
                "0",
                "--high",
                "1",
                "--target",
                "balanse:2025-26",
            ]
        )
        == 2
    )
    assert "is not one of balance:FY" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plans:2026-03:-5", "the amount is -5.0; a number of plans must be a finite number"),
        ("cap:2024-25:-5", "a deficit cap in pounds must be a finite number, at least 0"),
        ("cap:2024-25:nan", "the amount is nan"),
        ("cap:2024-25:84,500,000", "'84,500,000' is not an amount; write it without commas"),
        ("cap:2024-25:abc", "'abc' is not an amount (for example 84500000"),
    ],
)
def test_a_target_amount_that_cannot_hold_or_is_not_a_number(text: str, message: str) -> None:
    """A negative cap or plan count can never hold: the solve ran and said only "met at
    neither bound"; a mistyped amount said Python's "could not convert string to float"."""
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_target(text)
