"""Spending in its lines (place funding, top-ups by phase, fees, other lines by FY), against
hand calculations on MODEL.md §7's worked example and checks that both kernels agree.

The worked example: ages 3..6; special has 28 places from 2024-04 and 32 from 2025-01.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dsg_forecast import ScenarioError, ShapeError, compile_scenario, project
from dsg_forecast.engine import simulate
from dsg_forecast.schema.parsing import scenario_from_mapping

PENNY = 0.005


def projected(data: dict[str, Any], engine: str = "numpy") -> Any:
    return project(scenario_from_mapping(data), savings=False, engine=engine)  # type: ignore[arg-type]


def test_place_funding_is_paid_on_places_not_plans(worked_dict: dict[str, Any]) -> None:
    """£10,000 a special place: 9 months of 28 and 3 of 32 places in 2024-25."""
    worked_dict["costs"]["place_funding"] = {"special": 10_000}
    result = projected(worked_dict)
    ledger = result.ledger
    assert ledger.loc["2024-25", "place_funding"] == pytest.approx(
        10_000 * (9 * 28 + 3 * 32) / 12, abs=PENNY
    )
    assert ledger.loc["2025-26", "place_funding"] == pytest.approx(10_000 * 32, abs=PENNY)
    # placement cost = place funding + top-ups + fees; expenditure rises by place funding alone
    base = projected_without(worked_dict, "place_funding")
    assert (ledger["placement_cost"] - base["placement_cost"]).tolist() == pytest.approx(
        ledger["place_funding"].tolist(), abs=PENNY
    )
    assert ledger["top_up"].tolist() == pytest.approx(base["top_up"].tolist(), abs=PENNY)
    # more plans do not change place funding: twice the requests, the same place funding
    worked_dict["demand"]["requests_per_year"] *= 2
    more = projected(worked_dict).ledger
    assert more["place_funding"].tolist() == pytest.approx(ledger["place_funding"].tolist())
    assert (more["top_up"] > ledger["top_up"]).iloc[1:].all()


def projected_without(data: dict[str, Any], field: str) -> Any:
    costs = {key: value for key, value in data["costs"].items() if key != field}
    return projected({**data, "costs": costs}).ledger


def test_places_lever_moves_place_funding(worked_dict: dict[str, Any]) -> None:
    """Four more special places from 2025-04 add £40,000 a year of place funding."""
    worked_dict["costs"]["place_funding"] = {"special": 10_000}
    worked_dict["interventions"].append(
        {
            "name": "more places",
            "start": "2025-04",
            "effects": [{"lever": "places", "placement": "special", "add": 4}],
        }
    )
    ledger = projected(worked_dict).ledger
    assert ledger.loc["2025-26", "place_funding"] == pytest.approx(10_000 * 36, abs=PENNY)


def test_top_up_by_phase_prices_each_age(worked_dict: dict[str, Any]) -> None:
    """A top-up of £12,000 at 3 (early years) and 4-6 (primary) is the example's unit cost;
    raising the early-years top-up only raises the cost of plans aged 3."""
    costs = worked_dict["costs"]
    costs["top_up"] = {"mainstream": {"early_years": 12_000, "primary": 12_000}}
    del costs["unit_cost"]["mainstream"]
    same = projected(worked_dict)
    assert same.ledger.loc["2024-25", "placement_cost"] == pytest.approx(2_474_966.92, abs=PENNY)
    costs["top_up"] = {"mainstream": {"early_years": 15_000, "primary": 12_000}}
    dearer = projected(worked_dict)
    stock = dearer.stock.xs(3, level="age")["mainstream"]  # plans aged 3, each month
    uplift = np.where(dearer.monthly["financial_year"] == "2024-25", 1.0, np.nan)
    extra = (stock * 3_000 / 12 * uplift).groupby(dearer.monthly["financial_year"]).sum()
    change = dearer.ledger["top_up"] - same.ledger["top_up"]
    assert change.loc["2024-25"] == pytest.approx(extra.loc["2024-25"], rel=1e-9)


def test_fees_are_their_own_line(worked_dict: dict[str, Any]) -> None:
    costs = worked_dict["costs"]
    costs["fees"] = {"inmss": costs["unit_cost"].pop("inmss")}
    ledger = projected(worked_dict).ledger
    assert ledger.loc["2024-25", "placement_cost"] == pytest.approx(2_474_966.92, abs=PENNY)
    assert (ledger["fees"] > 0).all()
    assert (ledger["top_up"] + ledger["fees"]).tolist() == pytest.approx(
        ledger["placement_cost"].tolist(), abs=PENNY
    )


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_both_kernels_price_by_age(worked_dict: dict[str, Any], engine: str) -> None:
    pytest.importorskip("numba")
    costs = worked_dict["costs"]
    costs["top_up"] = {"special": {"early_years": 25_000, "primary": 31_000}}
    costs["fees"] = {"inmss": {"3-4": 55_000, "default": 62_000}}
    del costs["unit_cost"]["special"], costs["unit_cost"]["inmss"]
    costs["place_funding"] = {"special": 10_000}
    structure, params = compile_scenario(scenario_from_mapping(worked_dict))
    assert structure.age_priced
    reference = simulate(structure, params)
    other = simulate(structure, params, engine=engine)  # type: ignore[arg-type]
    for name in ("placement_cost", "fees", "place_funding", "placement_cost_by_placement"):
        np.testing.assert_allclose(getattr(other, name), getattr(reference, name), rtol=1e-12)


def test_other_line_by_year_grows_after_the_last(worked_dict: dict[str, Any]) -> None:
    worked_dict["costs"]["other_lines"] = [
        {"name": "outreach", "per_year": {"2024-25": 100_000, "2025-26": 120_000}, "growth": 0.05}
    ]
    ledger = projected(worked_dict).ledger
    assert ledger["other_cost"].tolist() == pytest.approx([100_000, 120_000, 126_000])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update(fees={"inmss": 60_000}),
            r"costs\.fees\.inmss: 'inmss' already has a cost per plan in costs\.unit_cost",
        ),
        (
            lambda c: c.update(place_funding={"mainstream": 10_000}),
            r"costs\.place_funding\.mainstream: place funding is paid on commissioned places",
        ),
        (
            lambda c: c.update(
                fees={"inmss": c["unit_cost"].pop("inmss")}, place_funding={"inmss": 10_000}
            ),
            r"costs\.place_funding\.inmss: 'inmss' is paid fees",
        ),
        (
            lambda c: (c["unit_cost"].pop("special"), c.update(top_up={"special": {"primary": 1}})),
            r"costs\.top_up\.special: no cost for ages \[3\]; cover them or give a 'default'",
        ),
        (
            lambda c: (
                c["unit_cost"].pop("special"),
                c.update(top_up={"special": {"primary": 1, "4-5": 2, "default": 0}}),
            ),
            r"costs\.top_up\.special\.4-5: age 4 is given more than once",
        ),
        (
            lambda c: (c["unit_cost"].pop("special"), c.update(top_up={"special": {"sixth": 1}})),
            r"costs\.top_up\.special\.sixth: 'sixth' is not a phase",
        ),
    ],
)
def test_cost_rules(worked_dict: dict[str, Any], change: Any, message: str) -> None:
    change(worked_dict["costs"])
    with pytest.raises(ScenarioError, match=message):
        scenario_from_mapping(worked_dict)


def test_prices_by_age_where_the_structure_has_one_price_are_refused(
    worked_dict: dict[str, Any],
) -> None:
    """A placement the structure prices the same at every age must get one price: otherwise
    its cost (plans × the first age's price) would silently be wrong."""
    structure, params = compile_scenario(scenario_from_mapping(worked_dict))
    special = structure.placements.index("special")
    assert not structure.priced_by_age[special]
    cost = params.repeat(3).unit_cost.copy()
    cost[2, -1, special] += 1_000.0
    with pytest.raises(
        ShapeError, match=r"'unit_cost' varies with age in placement 'special' \(scenario 2\)"
    ):
        simulate(structure, params.repeat(3).replace(unit_cost=cost))


@pytest.mark.parametrize("flags", [np.array([1.0, 0.0, 0.0]), np.array([True, False])])
def test_priced_by_age_must_be_one_boolean_a_placement(
    worked_dict: dict[str, Any], flags: np.ndarray
) -> None:
    """Numbers for true/false, or the wrong count, are refused by name, not read as masks."""
    from dataclasses import replace

    structure, params = compile_scenario(scenario_from_mapping(worked_dict))
    bad = replace(structure, priced_by_age=flags)
    with pytest.raises(ShapeError, match=r"structure 'priced_by_age' is .* one per placement"):
        simulate(bad, params)
