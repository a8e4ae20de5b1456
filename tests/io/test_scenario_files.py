"""Loading scenario files: YAML, TOML and JSON agree; stock CSVs; age bands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsg_forecast import Projection, ScenarioError, load_scenario, project, read_stock_csv
from dsg_forecast.schema import Scenario


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def test_yaml_toml_json_give_the_same_scenario(
    worked: Scenario, worked_dict: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "s.json").write_text(json.dumps(worked_dict))
    toml = "\n".join(f'"{key}" = {_toml_value(value)}' for key, value in worked_dict.items())
    (tmp_path / "s.toml").write_text(toml)
    assert load_scenario(tmp_path / "s.json") == worked
    assert load_scenario(tmp_path / "s.toml") == worked


def test_model_dump_round_trip(worked: Scenario) -> None:
    again = Scenario.model_validate(worked.model_dump(by_alias=True))
    assert again == worked


def test_json_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"start": "2024-04",}')
    with pytest.raises(ScenarioError, match=r"JSON syntax error at line 1, column 21"):
        load_scenario(tmp_path / "s.json")


def test_toml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('start = "2024-04\n')
    with pytest.raises(ScenarioError, match=r"TOML syntax error"):
        load_scenario(tmp_path / "s.toml")


def test_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("start: 2024-04")
    with pytest.raises(ScenarioError, match=r"unknown file type '\.txt'"):
        load_scenario(tmp_path / "s.txt")


def test_stock_csv_wide_and_long_agree(
    worked_dict: dict[str, Any], worked_projection: Projection, tmp_path: Path
) -> None:
    (tmp_path / "wide.csv").write_text(
        "# a comment naming the source\nage,mainstream,special,inmss\n"
        "3,10,2,0\n4,20,5,0\n5,30,8,1\n6,40,10,3\n"
    )
    rows = ["age,placement,count"]
    for placement, by_age in worked_dict["opening_stock"].items():
        rows.extend(f"{age},{placement},{count}" for age, count in by_age.items())
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n")
    for name in ("wide.csv", "long.csv"):
        data = dict(worked_dict, opening_stock={"csv": name})
        (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
        loaded = load_scenario(tmp_path / "s.yaml")
        assert project(loaded).ledger.equals(worked_projection.ledger), name


def test_stock_csv_bad_cell(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("age,mainstream\n3,ten\n")
    with pytest.raises(ScenarioError, match=r"row 2, column 'mainstream': 'ten' is not a number"):
        read_stock_csv(tmp_path / "s.csv")


def test_stock_csv_needs_age(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("years,mainstream\n3,1\n")
    with pytest.raises(ScenarioError, match=r"needs a column 'age'"):
        read_stock_csv(tmp_path / "s.csv")


def test_age_bands_split_counts_and_repeat_rates(worked_dict: dict[str, Any]) -> None:
    """A band's count is split over its ages; a band's rate applies at each age."""
    from dsg_forecast import compile_scenario

    worked_dict["opening_stock"]["mainstream"] = {"3-4": 30, "5-6": 70}
    worked_dict["ceasing"]["rates"] = {"3-4": 0.02, "5-6": 0.1}
    scenario = Scenario.model_validate(worked_dict)
    _, params = compile_scenario(scenario)
    assert params.opening_stock[0, :, 0].tolist() == [15.0, 15.0, 35.0, 35.0]
    assert params.ceasing_rate[0].tolist() == [0.02, 0.02, 0.1, 0.1]


def test_profiles_by_name_list_and_flat(worked_dict: dict[str, Any]) -> None:
    worked_dict["ceasing"]["profile"] = "flat"
    assert Scenario.model_validate(worked_dict).ceasing.profile == tuple([1 / 12] * 12)
    worked_dict["ceasing"]["profile"] = {"July": 0.5, "8": 0.5}
    profile = Scenario.model_validate(worked_dict).ceasing.profile
    assert profile[6] == 0.5 and profile[7] == 0.5


def test_wiltshire_opening_stock_matches_sen2(wiltshire: Scenario) -> None:
    """SEN2 2025 release, caseload.csv: Wiltshire had 5,536 plans in January 2024."""
    from dsg_forecast import compile_scenario

    _, params = compile_scenario(wiltshire)
    assert params.opening_stock.sum() == 5536
    assert len(wiltshire.age_range) == 26


def test_unquoted_condition_is_text(worked_dict: dict[str, Any]) -> None:
    worked_dict["interventions"][0]["condition"] = 3.1
    assert Scenario.model_validate(worked_dict).interventions[0].condition == "3.1"


def _message(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("s.toml", 'name = "x"\nstart = ', "TOML syntax error"),
        ("s.json", '{"name": "x",\n "start": }', "JSON syntax error at line 2, column 11"),
        ("s.yaml", "- a\n- b\n", "must be a mapping of sections, got list"),
        (
            "s.yaml",
            "name: x\nplacements:\n\t- mainstream\n",
            "YAML syntax error at line 3, column 1: found character that cannot start any "
            "token: '\\t' (YAML indents with spaces, never tabs)",
        ),
        ("s.yaml", "name: x\nstart: @2024\n", "cannot start any token: '@'"),
        ("s.json", "[1, 2]", "must be a mapping of sections, got list"),
    ],
)
def test_syntax_errors_and_wrong_top_levels_are_named(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    assert expected in _message(tmp_path / name)


def test_a_missing_stock_csv_is_named(worked_dict: dict[str, Any], tmp_path: Path) -> None:
    worked_dict["opening_stock"] = {"csv": "nowhere.csv"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(worked_dict))
    text = _message(tmp_path / "s.yaml")
    assert "opening_stock.csv" in text and "file not found" in text and "nowhere.csv" in text


def test_an_infinite_count_in_a_stock_csv_is_refused(
    worked_dict: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "stock.csv").write_text("age,mainstream,special\n3,10,2\n4,inf,5\n")
    worked_dict["opening_stock"] = {"csv": "stock.csv"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(worked_dict))
    assert "row 3, column 'mainstream': 'inf' must be a count ≥ 0" in _message(tmp_path / "s.yaml")


def test_a_missing_workbook_is_named(tmp_path: Path) -> None:
    assert "file not found" in _message(tmp_path / "plan.xlsx")
