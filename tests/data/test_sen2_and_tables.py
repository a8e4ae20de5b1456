"""SEN2 loading (against published totals), shipped tables, council lookup, calibration."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from dsg_forecast import load_scenario, project
from dsg_forecast.cli import main
from dsg_forecast.data import Council, CouncilNotFoundError, find_council, table
from dsg_forecast.data.placements import NAMES
from dsg_forecast.data.sen2 import Sen2Error, read_release, tidy
from dsg_forecast.estimation.calibration import CalibrationError, calibrate, calibrate_detailed
from dsg_forecast.estimation.forecasting import ForecastFallbackWarning
from tests.paths import SHARED as SHARED_ROOT

SHARED = SHARED_ROOT / "data" / "sen2"
RELEASE_2025 = SHARED / "education-health-and-care-plans_2025.zip"
RELEASE_2022 = SHARED / "education-health-and-care-plans_2022.zip"
needs_releases = pytest.mark.skipif(
    not RELEASE_2025.is_file(), reason="the DfE release zips live in ../shared/data/sen2"
)


@pytest.fixture(scope="module")
def release_2025() -> object:
    return read_release(RELEASE_2025)


@needs_releases
def test_loader_matches_published_totals(release_2025: object) -> None:
    """Explore Education Statistics, EHC plans 2025: England 638,745; Wiltshire 6,383."""
    caseload = tidy(release_2025, "caseload")  # type: ignore[arg-type]
    plans = caseload[
        (caseload["measure"] == "ehcplans") & (caseload["breakdown"] == "All EHC plans")
    ]
    england = plans[plans["geography_level"] == "National"].set_index("year")["value"]
    assert england[2025] == 638_745
    wiltshire = plans[plans["old_la_code"] == "865"].set_index("year")["value"]
    assert (wiltshire[2023], wiltshire[2024], wiltshire[2025]) == (4_760, 5_536, 6_383)
    # withheld cells are missing and counted; the person-level break is flagged
    assert caseload.attrs["withheld"]["suppressed"] > 0
    assert caseload["value"].isna().sum() >= caseload.attrs["withheld"]["suppressed"]
    assert set(caseload.loc[caseload["year"] >= 2023, "break_in_series"]) == {True}
    assert set(caseload.loc[caseload["year"] < 2023, "break_in_series"]) == {False}


@needs_releases
def test_aggregate_release_and_extracted_folder(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(RELEASE_2022) as archive:
        archive.extractall(tmp_path)
    release = read_release(tmp_path)
    assert release.format == "aggregate"
    frame = tidy(release, "sen2_estab_caseload")
    england = frame[
        (frame["geography_level"] == "National")
        & (frame["breakdown"] == "Total")
        & (frame["breakdown_topic"] == "Total")
        & (frame["measure"] == "Total_all")
    ]
    assert england.set_index("year")["value"][2015] == 240_183  # statements and EHC plans
    assert frame.attrs["withheld"]["not applicable"] > 0


def test_not_a_release(tmp_path: Path) -> None:
    with pytest.raises(Sen2Error, match="neither an SEN2 release zip nor a folder"):
        read_release(tmp_path / "missing.zip")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(Sen2Error, match="holds no SEN2 caseload file"):
        read_release(tmp_path)


@pytest.mark.slow
@needs_releases
def test_shipped_tables_are_what_the_builder_makes(tmp_path: Path) -> None:
    from dsg_forecast.data.build import build

    build(RELEASE_2025, RELEASE_2022, tmp_path)
    for name in ("stock", "totals", "flows", "new_plans", "ceased"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), table(name))


def test_shipped_tables_hold_the_published_figures() -> None:
    """Figures from ../shared/data/README.md, read from the tables shipped in the package."""
    totals = table("totals")
    total = totals[totals["placement"] == "total"]
    england = total[total["old_la_code"] == "E"].set_index("year")["plans"]
    assert (england[2015], england[2025]) == (240_183, 638_745)
    wiltshire = totals[totals["old_la_code"] == "865"]
    independent = wiltshire[wiltshire["placement"] == "independent_special"].set_index("year")[
        "plans"
    ]
    assert (independent[2019], independent[2025]) == (151, 329)
    flows = table("flows")
    wilts = flows[flows["old_la_code"] == "865"].pivot_table(
        index="year", columns="measure", values="value"
    )
    assert (wilts.loc[2023, "new_plans"], wilts.loc[2024, "new_plans"]) == (909, 993)
    assert (wilts.loc[2023, "requests"], wilts.loc[2024, "requests"]) == (1_203, 1_146)
    within = wilts["within_20_weeks_excluding_exceptions"] / wilts["issued_excluding_exceptions"]
    assert (round(100 * within[2022], 1), round(100 * within[2024], 1)) == (14.2, 29.5)
    national = flows[flows["old_la_code"] == "E"].pivot_table(
        index="year", columns="measure", values="value"
    )
    assert (national.loc[2024, "new_plans"], national.loc[2024, "requests"]) == (97_747, 154_489)
    stock = table("stock")
    assert stock[(stock["old_la_code"] == "865") & (stock["year"] == 2024)]["plans"].sum() == 5_536
    assert set(stock["placement"]) == set(NAMES)
    # the census's youngest band, "under 3", is age 2, not merged into age 3
    england_by_age = stock[stock["old_la_code"] == "E"].groupby(["year", "age"])["plans"].sum()
    assert (england_by_age[(2025, 2)], england_by_age[(2025, 3)]) == (533, 4_302)


@pytest.mark.parametrize("query", ["Wiltshire", "wiltshire", "865", "E06000054", "e06000054"])
def test_find_council(query: str) -> None:
    assert find_council(query) == Council("Wiltshire", "E06000054", "865", "South West")


@pytest.mark.parametrize(
    ("query", "suggested"),
    [
        ("Wilshire", "'Wiltshire'"),
        ("bristol", "'Bristol, City of'"),  # any case
        ("Hull", "'Kingston upon Hull, City of'"),  # a word of the name (was no suggestion)
        ("Herefordshire", "'Herefordshire, County of'"),  # (was Hertfordshire first)
    ],
)
def test_unknown_council_suggests(query: str, suggested: str) -> None:
    """A part of a name is never taken for the council (Kingston: Hull or Thames?)."""
    with pytest.raises(CouncilNotFoundError, match=f"did you mean {suggested}"):
        find_council(query)


def test_calibrated_wiltshire_projects_january_2025() -> None:
    """Calibrated to January 2024, a year on it is within 3% of the 6,383 counted."""
    result = project(calibrate("Wiltshire", to_year=2024, years=1), savings=False)
    assert result.monthly.loc["2024-12", "stock"] == pytest.approx(6_383, rel=0.03)


def test_calibration_needs_a_census_with_ages() -> None:
    with pytest.raises(CalibrationError, match="January 2024 and 2025 only"):
        calibrate("Wiltshire", to_year=2023)


# -- a synthetic council whose true rates are known ----------------------------------------
TRUE = {
    "requests": 1000.0, "growth": 0.10, "refusal": 0.2, "plan_rate": 0.9, "ceasing": 0.05,
    "transfer": 0.03, "within_20": 0.8,
}  # fmt: skip


def synthetic_tables() -> dict[str, pd.DataFrame]:
    """Council 999: stock, flows and new plans built from known rates."""
    code = {"geography_code": "E99999999", "old_la_code": "999"}
    stock = []
    for age in range(26):
        for placement, count in (("mainstream", 60.0), ("special", 40.0 if age >= 11 else 20.0)):
            stock.append({**code, "year": 2024, "age": age, "placement": placement, "plans": count})
    stock_frame = pd.DataFrame(stock)
    january_2024 = stock_frame["plans"].sum()
    new_plans = 500.0
    ceased = 0.05 * january_2024  # 5% of each age (by construction below)
    january_2023 = (january_2024 - new_plans + ceased) / (1 + TRUE["transfer"])
    totals = pd.DataFrame(
        [
            {**code, "year": 2023, "placement": "total", "plans": january_2023},
            {**code, "year": 2024, "placement": "total", "plans": january_2024},
        ]
    )
    requests = [TRUE["requests"] / 1.1**k for k in (3, 2, 1, 0)]
    decided = TRUE["requests"] * (1 - TRUE["refusal"])
    flows = [
        {**code, "year": 2020 + i, "measure": "requests", "value": value}
        for i, value in enumerate(requests)
    ]
    flows += [
        {**code, "year": 2023, "measure": measure, "value": value}
        for measure, value in {
            "decided_to_assess": decided,
            "decided_not_to_assess": TRUE["requests"] - decided,
            "assessments": 600.0,
            "assessments_issued": 540.0,
            "assessments_not_issued": 60.0,
            "new_plans": new_plans,
            "ceased": ceased,
            "issued_excluding_exceptions": 500.0,
            "within_20_weeks_excluding_exceptions": 400.0,
            "over_a_year_excluding_exceptions": 0.0,
        }.items()
    ]
    new = [
        {**code, "year": 2023, "age": age, "placement": p, "plans": plans}
        for age, p, plans in (
            (4, "mainstream", 200.0),
            (4, "special", 50.0),
            (11, "special", 250.0),
        )
    ]
    ceased_rows = [
        {**code, "year": 2023, "age": age, "plans": 0.05 * (80.0 if age < 11 else 100.0)}
        for age in range(20)
    ]
    ceased_rows.append({**code, "year": 2023, "age": 20, "plans": 0.05 * 6 * 100.0})
    return {
        "stock": stock_frame,
        "totals": totals,
        "flows": pd.DataFrame(flows),
        "new_plans": pd.DataFrame(new),
        "ceased": pd.DataFrame(ceased_rows),
    }


def test_calibration_recovers_known_rates() -> None:
    council = Council("Synthetic", "E99999999", "999", "Nowhere")
    # the synthetic tables have no England: requests growth falls back, saying so, to the
    # council's own (undamped), which recovers the known rate
    with pytest.warns(ForecastFallbackWarning, match="no reference growth"):
        result = calibrate_detailed(council, 2024, tables=synthetic_tables())
    demand = result.scenario.demand
    assert demand.requests_per_year == TRUE["requests"]
    assert demand.requests_growth == pytest.approx(TRUE["growth"], abs=1e-4)
    assert demand.refusal_rate == pytest.approx(TRUE["refusal"], abs=1e-4)
    assert demand.plan_rate == pytest.approx(TRUE["plan_rate"], abs=1e-4)
    assert result.scenario.net_transfer_rate == pytest.approx(TRUE["transfer"], abs=1e-4)
    rates = result.scenario.ceasing.rates
    assert rates["4"] == pytest.approx(0.05) and rates["20-25"] == pytest.approx(0.05)
    # 80% within 20 weeks, none over a year: 0.8 × 4 + 0.2 × 8 = 4.8 → 5 months, no capacity limit
    assert demand.assessment_months == 5
    assert demand.assessment_capacity is None
    # started at actual ages 4 and 11: half a year younger on the age-at-31-August scale
    assert demand.new_plan_ages == {"3": 0.25, "4": 0.25, "10": 0.25, "11": 0.25}
    # to reception age (4 at 31 August) the census's mix at that age (60 and 20 of 80);
    # from school age, the new plans' own (started at 11, all special: at 10 and 11)
    assert (
        demand.new_plan_mix["3"]
        == demand.new_plan_mix["4"]
        == {
            "mainstream": 0.75,
            "special": 0.25,
        }
    )
    assert demand.new_plan_mix["10"] == demand.new_plan_mix["11"] == {"special": 1.0}
    # at 10 mainstream holds 60 of 80 (0.75), at 11 60 of 100 (0.6): 0.15 / 0.75 = 20% of
    # mainstream moves to special at 11 (80 × 0.75 × 0.2 = 12, taking special to 32 of 80)
    rules = {(r.from_, r.to, r.ages): r.rate for r in result.scenario.transitions}
    assert rules[("mainstream", "special", "11")] == pytest.approx(0.2, abs=1e-4)
    assert len(rules) == 1


def test_calibrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wiltshire.yaml"
    assert main(["calibrate", "Wiltshire", "--to", "2025", "--years", "2", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Wiltshire (E06000054, LA 865) calibrated to the January 2025 census")
    assert "Open Government Licence v3.0" in text
    assert "COSTS AND FUNDING ARE DEFAULTS" in text
    scenario = load_scenario(out)
    assert scenario.start == "2025-01"
    assert sum(sum(by_age.values()) for by_age in scenario.opening_stock.values()) == 6_383
    assert main(["calibrate", "Wilshire"]) == 2
    assert "did you mean 'Wiltshire'" in capsys.readouterr().err


def test_calibrate_reconciled_reaches_the_default_forecast(tmp_path: Path) -> None:
    """Issue 11: `calibrate --reconcile` projects the default forecaster's plans at the next
    January, in total and for each large placement it names, and says so in its notes."""
    from dsg_forecast.estimation.calibration import forecast_targets

    out = tmp_path / "wiltshire-2025.yaml"
    assert main(["calibrate", "Wiltshire", "--to", "2025", "--reconcile", "--out", str(out)]) == 0
    text = out.read_text()
    assert "reconciled to the default forecast of January 2026" in text.splitlines()[0]
    total, placements = forecast_targets(find_council("Wiltshire"), 2025)
    assert set(placements) >= {"special", "mainstream", "independent_special"}
    december = project(load_scenario(out), savings=False).monthly.loc["2025-12"]
    assert december["stock"] == pytest.approx(total, rel=1e-8)
    for placement, forecast in placements.items():
        assert december[f"stock_{placement}"] == pytest.approx(forecast, rel=1e-8)
    assert f"the default forecaster's {total:,.0f} at the end of 2025-12" in text
    plain = calibrate("Wiltshire", to_year=2025)
    assert plain.net_transfer_by_placement == {}  # only when asked


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"reconciled": "no"}, "reconciled is 'no'; it must be True or False"),
        ({"reconciled": 1}, "reconciled is 1; it must be True or False"),
        ({"years": True}, "years is True; it must be a whole number"),
        ({"years": 0}, "years is 0; it must be from 1 to 50 (financial years projected)"),
        ({"to_year": 2025.0}, "to_year is 2025.0; it must be a whole number"),
    ],
)
def test_calibration_refuses_arguments_of_the_wrong_kind(
    arguments: dict[str, object], message: str
) -> None:
    """A string or number where True/False belongs, or a boolean for a year, is refused by
    name rather than read as something else."""
    with pytest.raises(CalibrationError, match=re.escape(message)):
        calibrate("Wiltshire", **{"to_year": 2025, **arguments})  # type: ignore[arg-type]


def test_calibration_refuses_a_withheld_breakdown() -> None:
    """Peterborough's January 2024 census by age and placement is withheld (all zero)."""
    with pytest.raises(CalibrationError, match="sums to 0 plans but its reported total is 2,625"):
        calibrate("Peterborough", to_year=2024)


@needs_releases
def test_placement_mapping_can_be_overridden(release_2025: object) -> None:
    from dsg_forecast.data.build import stock

    mapping = {
        "special_la_maintained": "state_special",
        "special_academy_free": "state_special",
        "special_independent": "independent",
        "special_non_maintained": "independent",
    }
    frame = stock(release_2025, mapping)  # type: ignore[arg-type]
    wiltshire = frame[(frame["old_la_code"] == "865") & (frame["year"] == 2024)]
    by_placement = wiltshire.groupby("placement")["plans"].sum()
    assert set(by_placement.index) == {"state_special", "independent"}
    # SEN2 caseload, Wiltshire, January 2024: 583 + 568 state special, 303 + 24 independent
    assert (by_placement["state_special"], by_placement["independent"]) == (1151, 327)


def test_a_council_measure_that_matches_nothing_is_refused() -> None:
    """A council's name where its code belongs, or a placement misspelt, gave an empty
    result, as if every year had been withheld; another kind of table ended inside pandas."""
    from dsg_forecast.data import plans_by_year, requests_by_year
    from dsg_forecast.errors import ArgumentError, ArgumentTypeError

    totals, flows = table("totals"), table("flows")
    assert len(requests_by_year(flows, "865")) > 5 and len(plans_by_year(totals, "865")) > 5
    with pytest.raises(ArgumentError, match=r"old LA code 'Wiltshire' .*\(Wiltshire's is '865'\)"):
        requests_by_year(flows, "Wiltshire")
    with pytest.raises(ArgumentError, match=r"old LA code 865 .* as text \('865'\)"):
        plans_by_year(totals, 865)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="no placement 'specal' in the totals given"):
        plans_by_year(totals, "865", "specal")
    with pytest.raises(ArgumentTypeError, match=r"flows is a str; give the flows table"):
        requests_by_year("flows", "865")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="totals has no column 'placement'"):
        plans_by_year(flows, "865")


def test_a_release_that_is_no_path_or_unreadable_is_said(tmp_path: Path) -> None:
    """``read_release("")`` read every CSV under the current folder as a release's (ending in
    pandas' ParserError on the first it could not parse), ``None`` ended in pathlib, a CSV
    pandas cannot read in its own error, and ``tidy`` given no release in an AttributeError."""
    from dsg_forecast.errors import ArgumentError, ArgumentTypeError

    with pytest.raises(ArgumentError, match="path is '', which is empty; give an SEN2 release"):
        read_release("")
    with pytest.raises(ArgumentTypeError, match="path is None; give an SEN2 release"):
        read_release(None)  # type: ignore[arg-type]
    (tmp_path / "caseload.csv").write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(Sen2Error, match=r"caseload\.csv is not an SEN2 data file this tool can"):
        read_release(tmp_path)
    with pytest.raises(ArgumentTypeError, match="release is a str; give a release"):
        tidy("release.zip", "caseload")  # type: ignore[arg-type]


def test_requests_coefficients_takes_a_year() -> None:
    from dsg_forecast.errors import ArgumentTypeError
    from dsg_forecast.estimation.forecasting import requests_coefficients

    with pytest.raises(ArgumentTypeError, match="last_year is '2024'; give a year"):
        requests_coefficients("2024")
