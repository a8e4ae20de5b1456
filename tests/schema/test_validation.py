"""Every validation rule, with its message pinned: the field path, the value and the rule."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dsg_forecast import ScenarioError
from dsg_forecast.schema import Scenario
from dsg_forecast.schema.checks import ESSENTIAL_SECTIONS
from dsg_forecast.schema.parsing import cross_check_partial, scenario_from_mapping


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_mapping(data)
    return "\n".join(str(issue) for issue in info.value.issues)


def expect(data: dict[str, Any], pattern: str) -> None:
    text = problems(data)
    assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"


def test_valid_worked_example_has_no_problems(worked_dict: dict[str, Any]) -> None:
    scenario_from_mapping(worked_dict)


# -- field rules ------------------------------------------------------------------------------
def test_unknown_key_is_named_with_a_suggestion(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["refusal_rat"] = worked_dict["demand"].pop("refusal_rate")
    expect(
        worked_dict,
        r"demand\.refusal_rat: unknown key 'refusal_rat'; did you mean 'refusal_rate'\?",
    )


def test_missing_section(worked_dict: dict[str, Any]) -> None:
    del worked_dict["demand"]
    expect(worked_dict, r"^demand: is required but missing")


def test_rate_above_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["refusal_rate"] = 1.5
    expect(worked_dict, r"demand\.refusal_rate: 1\.5: input should be less than or equal to 1")


def test_a_growth_written_as_a_percentage(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["requests_growth"] = 10
    expect(
        worked_dict,
        r"demand\.requests_growth: 10: it must be at most 1 \(100% a year\): a growth is a "
        r"fraction a year, 0\.10 for 10%",
    )


def test_a_mapping_where_a_number_may_stand_names_only_what_is_wrong_inside(
    worked_dict: dict[str, Any],
) -> None:
    """``uplift`` is a number or a mapping: given a mapping with one bad entry, the number's
    branch failing on the mapping is not reported (it read "costs.uplift: Input should be a
    valid number"); given neither form, both are."""
    worked_dict["costs"]["uplift"] = {"default": "x", "inmss": 0.05}
    text = problems(worked_dict)
    assert text == (
        "costs.uplift.default: 'x': input should be a valid number, unable to parse string "
        "as a number"
    )
    worked_dict["costs"]["uplift"] = [0.02]
    expect(
        worked_dict,
        r"^costs\.uplift: \[0\.02\]: a list where one number belongs — or — Input should be "
        r"a valid dictionary$",
    )


def test_negative_unit_cost(worked_dict: dict[str, Any]) -> None:
    worked_dict["costs"]["unit_cost"]["inmss"] = -5
    expect(worked_dict, r"costs\.unit_cost\.inmss: -5: input should be greater than or equal to 0")


def test_bad_month(worked_dict: dict[str, Any]) -> None:
    worked_dict["start"] = "2024-13"
    expect(worked_dict, r"start: '2024-13': '2024-13' is not a month; write it as 'YYYY-MM'")


def test_month_not_first_day(worked_dict: dict[str, Any]) -> None:
    import datetime as dt

    worked_dict["start"] = dt.date(2024, 4, 15)
    expect(worked_dict, r"start: .*'2024-04-15' is not the first day of a month")


def test_malformed_financial_year(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["contributions"] = {"2024-26": 1.0}
    expect(
        worked_dict,
        r"'2024-26' is not a financial year: 26 does not follow 2024; did you mean '2024-25'\?",
    )


def test_financial_year_label_form(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["balance_target"] = "2025/26"
    expect(worked_dict, r"agreement\.balance_target: '2025/26': '2025/26' is not a financial year")


def test_profile_must_sum_to_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["request_profile"] = [0.1] * 12
    expect(
        worked_dict,
        r"demand\.request_profile: .*weights sum to 1\.2; a seasonal profile must sum to 1",
    )


def test_profile_negative_weight(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["profile"] = {"Jul": 1.5, "Aug": -0.5}
    expect(worked_dict, r"ceasing\.profile: .*negative or non-finite value; each must be >= 0")


def test_profile_bad_month_name(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["profile"] = {"Julember": 1.0}
    expect(worked_dict, r"ceasing\.profile: .*'Julember' is not a month name")


def test_age_key_form(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["rates"] = {"five": 0.1}
    expect(worked_dict, r"'five' is not an age or an age band")


def test_age_band_backwards(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["rates"] = {"6-3": 0.1}
    expect(worked_dict, r"age band '6-3' ends before it starts")


def test_placement_name_form(worked_dict: dict[str, Any]) -> None:
    worked_dict["placements"][0]["name"] = "main stream"
    expect(worked_dict, r"placements\[0\]\.name: 'main stream': .*is not a placement name")


def test_reserved_placement_name(worked_dict: dict[str, Any]) -> None:
    worked_dict["placements"][0]["name"] = "default"
    expect(worked_dict, r"'default' is reserved")


def test_intervention_needs_an_effect(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"][0]["effects"] = []
    expect(worked_dict, r"interventions\[0\]\.effects: .*at least 1 item")


# -- cross-field rules ----------------------------------------------------------------------------
def test_entry_mix_sums_to_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["new_plan_mix"][5] = {"mainstream": 0.52, "special": 0.4, "inmss": 0.1}
    expect(
        worked_dict,
        r"demand\.new_plan_mix\[5\]: entry mix at age 5 sums to 1\.02; it must sum to 1",
    )


def test_age_profile_sums_to_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["new_plan_ages"] = {3: 0.5, 4: 0.3, 5: 0.1}
    expect(
        worked_dict,
        r"demand\.new_plan_ages: age profile of new plans sums to 0\.9; it must sum to 1",
    )


def test_entry_age_without_mix(worked_dict: dict[str, Any]) -> None:
    del worked_dict["demand"]["new_plan_mix"][5]
    expect(worked_dict, r"new plans start at age 5 \(share 0\.2\) but no mix is given for it")


def test_unknown_placement_in_mix(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["new_plan_mix"][3] = {"mainstrem": 0.9, "special": 0.1}
    expect(
        worked_dict,
        r"demand\.new_plan_mix\[3\]\.mainstrem: unknown placement 'mainstrem'; the scenario "
        r"declares \['mainstream', 'special', 'inmss'\]",
    )


def test_mix_bands_that_overlap(worked_dict: dict[str, Any]) -> None:
    """Two mix entries for one age would leave the age's mix ambiguous."""
    mix = worked_dict["demand"]["new_plan_mix"]
    first = next(iter(mix))
    mix[f"{first}-{first}"] = dict(mix[first])
    expect(
        worked_dict,
        rf"demand\.new_plan_mix\[{first}-{first}\]: age {first} is given more than once",
    )


def test_expanded_bands_and_schedules(worked: Scenario) -> None:
    """The schema expands bands once; a copy with changes works them out again."""
    expanded = worked.expanded
    assert set(expanded.opening_stock) <= set(worked.placement_names)
    assert sum(expanded.new_plan_ages.values()) == pytest.approx(1.0)
    assert len(expanded.places) == len(worked.capacity)
    changed = worked.model_copy(update={"ages": worked.ages.model_copy(update={"max": 30})})
    assert changed.expanded is not expanded  # worked out again for the copy
    assert changed.expanded.ceasing_rates == expanded.ceasing_rates


def test_changes_from_python_are_validated(worked: Scenario) -> None:
    """Issue 12: a change made in Python is checked like a file (model_copy and replace)."""
    with pytest.raises(ScenarioError, match=r"demand\.plan_rate: 1\.7"):
        worked.replace({"demand.plan_rate": 1.7})
    demand = worked.demand.model_copy(update={"plan_rate": 1.7})  # a section, not checked
    with pytest.raises(ScenarioError, match=r"demand\.plan_rate"):
        worked.model_copy(update={"demand": demand})  # but the scenario is
    with pytest.raises(ScenarioError, match="unit_cost"):
        worked.replace({"costs.unit_cost.special": -5})
    with pytest.raises(ScenarioError, match="did you mean 'plan_rate'"):
        worked.replace({"demand.plan_rat": 0.9})
    changed = worked.replace({"demand.plan_rate": 0.9, "agreement.contributions[2026-27]": 1})
    assert changed.demand.plan_rate == 0.9 and worked.demand.plan_rate == 0.8
    assert changed.agreement.contributions["2026-27"] == 1


def test_unknown_placement_in_stock(worked_dict: dict[str, Any]) -> None:
    worked_dict["opening_stock"]["ap"] = {3: 1}
    expect(worked_dict, r"opening_stock\.ap: unknown placement 'ap'")


def test_stock_age_outside_range(worked_dict: dict[str, Any]) -> None:
    worked_dict["opening_stock"]["mainstream"][9] = 4
    expect(
        worked_dict,
        r"opening_stock\.mainstream\[9\]: age 9 is outside the projection's ages 3\.\.6",
    )


def test_age_given_twice(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["rates"] = {"3-4": 0.0, 4: 0.02, 5: 0.04, 6: 0.12}
    expect(worked_dict, r"ceasing\.rates\[4\]: age 4 is given more than once")


def test_negative_stock(worked_dict: dict[str, Any]) -> None:
    worked_dict["opening_stock"]["inmss"][5] = -1
    expect(worked_dict, r"opening_stock\.inmss\[5\]: -1\.0 plans is negative")


def test_ceasing_fraction_above_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["rates"][6] = 3.0
    expect(
        worked_dict,
        r"ceasing\.rates\[6\]: rate 3 × profile weight 0\.5 = 1\.5 of the stock would cease in one month; it must be ≤ 1",
    )


def test_transitions_out_of_one_placement_above_one(worked_dict: dict[str, Any]) -> None:
    worked_dict["transitions"].append(
        {"from": "mainstream", "to": "inmss", "ages": 5, "rate": 0.95}
    )
    expect(
        worked_dict,
        r"transitions: rates out of 'mainstream' at age 5 sum to 1\.05; they must not exceed 1",
    )


def test_transition_to_itself(worked_dict: dict[str, Any]) -> None:
    worked_dict["transitions"][0]["to"] = "mainstream"
    expect(worked_dict, r"transitions\[0\]: moves 'mainstream' to itself")


def test_transition_rate_bounds(worked_dict: dict[str, Any]) -> None:
    worked_dict["transitions"][0]["rate"] = 1.2
    expect(worked_dict, r"transitions\[0\]\.rate: 1\.2: input should be less than or equal to 1")


def test_overflow_loop(worked_dict: dict[str, Any]) -> None:
    worked_dict["capacity"].append({"placement": "inmss", "places": 10, "overflow": "special"})
    expect(worked_dict, r"capacity: overflow loops: special → inmss → special; a chain must end")


def test_overflow_to_itself(worked_dict: dict[str, Any]) -> None:
    worked_dict["capacity"][0]["overflow"] = "special"
    expect(worked_dict, r"capacity\[0\]\.overflow: 'special' overflows to itself")


def test_two_capacity_entries_for_one_placement(worked_dict: dict[str, Any]) -> None:
    worked_dict["capacity"].append({"placement": "special", "places": 5, "overflow": "mainstream"})
    expect(worked_dict, r"capacity\[1\]\.placement: 'special' already has a capacity entry")


def test_schedule_starting_late(worked_dict: dict[str, Any]) -> None:
    worked_dict["capacity"][0]["places"] = {"2025-01": 32}
    expect(
        worked_dict,
        r"capacity\[0\]\.places: the schedule starts in 2025-01, after the projection start 2024-04",
    )


def test_negative_places(worked_dict: dict[str, Any]) -> None:
    worked_dict["capacity"][0]["places"] = {"2024-04": -3}
    expect(worked_dict, r"capacity\[0\]\.places\[2024-04\]: -3\.0 is negative")


def test_missing_unit_cost(worked_dict: dict[str, Any]) -> None:
    del worked_dict["costs"]["unit_cost"]["inmss"]
    expect(
        worked_dict,
        r"costs: no cost per plan \(unit_cost, top_up or fees\) for placements \['inmss'\]",
    )


def test_unknown_uplift_placement(worked_dict: dict[str, Any]) -> None:
    worked_dict["costs"]["uplift"]["insms"] = 0.05
    expect(worked_dict, r"costs\.uplift\.insms: unknown placement 'insms'")


def test_end_before_start(worked_dict: dict[str, Any]) -> None:
    worked_dict["end"] = "2024-03"
    expect(worked_dict, r"end: end 2024-03 is before start 2024-04; it must not be")


def test_min_age_above_max(worked_dict: dict[str, Any]) -> None:
    worked_dict["ages"] = {"min": 6, "max": 3}
    expect(worked_dict, r"ages: max age 3 is below min age 6")


def test_funding_needs_exactly_one_source(worked_dict: dict[str, Any]) -> None:
    worked_dict["funding"]["per_year"] = {"2024-25": 1, "2025-26": 1, "2026-27": 1}
    expect(worked_dict, r"funding: give either high_needs_block \(with growth\) or per_year")


def test_funding_series_starts_at_the_first_year(worked_dict: dict[str, Any]) -> None:
    del worked_dict["funding"]["high_needs_block"]
    worked_dict["funding"]["per_year"] = {"2025-26": 1, "2026-27": 1}
    expect(worked_dict, r"funding\.per_year: no high needs block for 2024-25, the first FY")


def test_funding_series_has_no_gaps(worked_dict: dict[str, Any]) -> None:
    del worked_dict["funding"]["high_needs_block"]
    worked_dict["funding"]["per_year"] = {"2024-25": 1, "2026-27": 1}
    expect(
        worked_dict,
        r"funding\.per_year: no high needs block for \['2025-26'\], between given years",
    )


def test_a_schools_block_share_needs_the_schools_block(worked_dict: dict[str, Any]) -> None:
    worked_dict["funding"]["schools_block_transfer"] = {"2025-26": 0.005}
    expect(
        worked_dict,
        r"funding\.schools_block_transfer\[2025-26\]: a share of the schools block needs "
        r"funding\.schools_block\[2025-26\]",
    )


def test_year_outside_projection(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["contributions"]["2030-31"] = 5
    expect(
        worked_dict,
        r"agreement\.contributions\[2030-31\]: financial year 2030-31 is outside the projection \(2024-25\.\.2026-27\)",
    )


def test_write_off_paid_before_it_stands(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["write_offs"][0]["paid_in"] = "2025-26"
    expect(worked_dict, r"agreement\.write_offs\[0\]: paid in 2025-26, which is not after 2025-26")


def test_intervention_before_start(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"][0]["start"] = "2024-01"
    expect(
        worked_dict,
        r"interventions\[0\]\.start: 2024-01 is before the projection start 2024-04; an "
        r"intervention cannot act before the start",
    )


def test_duplicate_intervention_name(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"].append(dict(worked_dict["interventions"][0]))
    expect(worked_dict, r"interventions\[1\]\.name: 'earlier support' is used twice")


@pytest.mark.parametrize(
    ("effect", "pattern"),
    [
        ({"lever": "requests"}, r"lever 'requests' needs exactly one of multiply or add"),
        ({"lever": "requests", "multiply": 0.8, "add": 1}, r"needs exactly one of multiply or add"),
        ({"lever": "requests", "multiply": -0.5}, r"multiply: -0\.5 is negative"),
        ({"lever": "entry_shift", "from": "special", "to": "mainstream"}, r"needs 'share'"),
        (
            {
                "lever": "entry_shift",
                "from": "special",
                "to": "mainstream",
                "share": 0.2,
                "multiply": 2,
            },
            r"takes 'share', not multiply or add",
        ),
        ({"lever": "entry_shift", "share": 0.2}, r"lever 'entry_shift' needs 'from'"),
        ({"lever": "unit_cost", "multiply": 0.9}, r"lever 'unit_cost' needs 'placement'"),
        (
            {"lever": "unit_cost", "placement": "nowhere", "multiply": 0.9},
            r"placement: unknown placement 'nowhere'",
        ),
        (
            {"lever": "requests", "placement": "special", "multiply": 0.9},
            r"\.placement: lever 'requests' takes no 'placement'",
        ),
        ({"lever": "requests", "share": 0.5, "multiply": 1}, r"lever 'requests' takes no 'share'"),
        (
            {"lever": "transition", "from": "inmss", "to": "special", "multiply": 0.5},
            r"no transition rule from 'inmss' to 'special' to act on",
        ),
        (
            {"lever": "places", "placement": "mainstream", "add": 5},
            r"'mainstream' has no capacity entry to act on",
        ),
        ({"lever": "teleport", "multiply": 1}, r"lever: 'teleport': input should be 'requests'"),
    ],
)
def test_effect_rules(worked_dict: dict[str, Any], effect: dict[str, Any], pattern: str) -> None:
    worked_dict["interventions"][0]["effects"] = [effect]
    expect(worked_dict, r"interventions\[0\]\.effects\[0\].*" + pattern)


def test_actuals_to_date_only_after_april(worked_dict: dict[str, Any]) -> None:
    worked_dict["actuals_to_date"] = {"income": 1.0, "expenditure": 2.0}
    expect(worked_dict, r"actuals_to_date: the projection starts in April \(2024-04\)")


def test_all_problems_reported_at_once(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["new_plan_mix"][5] = {"mainstream": 0.52, "special": 0.4, "inmss": 0.1}
    worked_dict["transitions"][0]["to"] = "mainstream"
    worked_dict["agreement"]["contributions"]["2030-31"] = 5
    with pytest.raises(ScenarioError) as info:
        scenario_from_mapping(worked_dict)
    assert len(info.value.issues) == 3
    assert str(info.value).startswith("3 problems in the scenario:")


def test_intervention_pushing_a_rate_out_of_range_is_caught(worked_dict: dict[str, Any]) -> None:
    from dsg_forecast import project

    worked_dict["interventions"][0]["effects"] = [{"lever": "refusal_rate", "add": 0.9}]
    with pytest.raises(
        ScenarioError,
        match=r"lever .refusal_rate. leaves \[0, 1\] once interventions \[.earlier support.\] apply",
    ):
        project(scenario_from_mapping(worked_dict))


# -- every problem on one screen: cross-field rules run even where a section is invalid ------


def test_cross_field_problems_show_beside_field_errors(worked_dict: dict[str, Any]) -> None:
    worked_dict["demand"]["requets_growth"] = worked_dict["demand"].pop("requests_growth")
    worked_dict["transitions"][0]["rate"] = 1.5
    worked_dict["costs"]["unit_cost"]["speical"] = 1
    worked_dict["funding"]["block_transfers"] = {"2031-32": 5}
    text = problems(worked_dict)
    assert "demand.requets_growth: unknown key" in text
    assert "transitions[0].rate: 1.5" in text
    assert "costs.unit_cost.speical: unknown placement 'speical'" in text
    assert "funding.block_transfers[2031-32]: financial year 2031-32 is outside" in text
    # the invalid sections' own cross-field rules are left out rather than guessed at:
    # the interventions refer to transitions, which are invalid
    assert "interventions" not in text


def test_a_missing_section_does_not_invent_problems(worked_dict: dict[str, Any]) -> None:
    del worked_dict["costs"]
    worked_dict["transitions"][0]["to"] = "specail"
    text = problems(worked_dict)
    assert "costs: is required but missing" in text
    assert "transitions[0].to: unknown placement 'specail'" in text
    assert "no unit cost" not in text


def test_no_cross_field_checks_without_span_or_placements(worked_dict: dict[str, Any]) -> None:
    worked_dict["start"] = "2024-13"
    worked_dict["costs"]["unit_cost"]["speical"] = 1
    text = problems(worked_dict)
    assert text.startswith("start:")
    assert "speical" not in text


@pytest.mark.parametrize(
    "section",
    [
        name
        for name in Scenario.model_fields
        if name not in ESSENTIAL_SECTIONS and name not in {"name", "description"}
    ],
)
def test_skipping_a_section_finds_nothing_in_a_valid_scenario(
    wiltshire_dict: dict[str, Any], section: str
) -> None:
    scenario_from_mapping(wiltshire_dict)  # the mapping is valid as a whole
    assert cross_check_partial(wiltshire_dict, {section}) == []
    if section != "costs":  # and the rules still run over the sections not skipped
        wiltshire_dict["costs"]["fees"]["speical"] = 1.0
        (issue,) = cross_check_partial(wiltshire_dict, {section})
        assert issue.path == "costs.fees.speical"


@pytest.mark.parametrize(
    ("section", "field", "value", "pattern"),
    [
        (
            "funding",
            "recoupment",
            {"2024-25": -1},
            r"funding\.recoupment\[2024-25\]: -1: input should be greater than or equal to 0",
        ),
        (
            "funding",
            "import_export_rate",
            -6000,
            r"funding\.import_export_rate: -6000: input should be greater than or equal to 0",
        ),
        (
            "funding",
            "schools_block_transfer",
            {"2025-26": 1.5},
            r"funding\.schools_block_transfer\[2025-26\]: 1\.5: input should be less than or equal to 1",
        ),
        (
            "funding",
            "other_blocks_balance",
            {"2030-31": 1},
            r"funding\.other_blocks_balance\[2030-31\]: financial year 2030-31 is outside the projection",
        ),
        (
            "agreement",
            "council_contributions",
            {"2030-31": 1},
            r"agreement\.council_contributions\[2030-31\]: financial year 2030-31 is outside",
        ),
        (
            "agreement",
            "statutory_override_end",
            "2028-13",
            r"agreement\.statutory_override_end: .*is not a month",
        ),
        (
            "agreement",
            "received_before_start",
            {"dfe_safety_valve": "lots"},
            r"agreement\.received_before_start\.dfe_safety_valve: 'lots'",
        ),
        (
            "agreement",
            "withhold_when_conditions_missed",
            "sometimes",
            r"agreement\.withhold_when_conditions_missed: 'sometimes'",
        ),
        (
            "costs",
            "place_funding",
            {"special": -10},
            r"costs\.place_funding\.special: -10: input should be greater than or equal to 0",
        ),
        (
            "costs",
            "other_lines",
            [{"name": "x", "amount": 1, "per_year": {"2024-25": 1}}],
            r"costs\.other_lines\[0\]: give either amount \(with growth\) or per_year",
        ),
        (
            "costs",
            "other_lines",
            [{"name": "x", "per_year": {"2025-26": 1}}],
            r"costs\.other_lines\[0\]\.per_year: no amount for 2024-25, the first FY",
        ),
        (
            "costs",
            "top_up",
            {"special": {"20-22": 1, "default": 1}},
            r"costs\.top_up\.special\.20-22: age 20-22 is outside the projection's ages 3\.\.6",
        ),
    ],
)
def test_budget_line_inputs_are_checked(
    worked_dict: dict[str, Any], section: str, field: str, value: Any, pattern: str
) -> None:
    if section == "costs" and field == "top_up":
        del worked_dict["costs"]["unit_cost"]["special"]
    worked_dict[section][field] = value
    expect(worked_dict, pattern)


def test_a_write_off_flag_and_a_savings_target_are_checked(worked_dict: dict[str, Any]) -> None:
    worked_dict["agreement"]["write_offs"][0]["replaces_safety_valve"] = "maybe"
    worked_dict["interventions"][0]["savings_target"] = {"2031-32": 1}
    text = problems(worked_dict)
    assert "agreement.write_offs[0].replaces_safety_valve: 'maybe'" in text
    assert "interventions[0].savings_target[2031-32]: financial year 2031-32 is outside" in text


def test_placeholders_must_name_fields(worked_dict: dict[str, Any]) -> None:
    worked_dict["placeholders"] = ["costz.unit_cost"]
    expect(worked_dict, r"placeholders.*'costz\.unit_cost' is not a field of the scenario")
