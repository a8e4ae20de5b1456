"""The monitoring return: conditions rated, bad rows refused, updates kept, the register."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from dsg_forecast import Scenario, ScenarioError, project
from dsg_forecast.errors import ArgumentError, ArgumentTypeError
from dsg_forecast.io import load_scenario
from dsg_forecast.reporting.monitoring import Thresholds, monitor, read_actuals
from dsg_forecast.reporting.monitoring_return import (
    conditions,
    monitoring_return,
    read_register,
    return_markdown,
    write_return,
)
from dsg_forecast.results import Projection
from tests.paths import ROOT


@pytest.fixture(scope="module")
def plan(wiltshire: Scenario) -> Projection:
    return project(wiltshire, savings=False)


@pytest.fixture(scope="module")
def trend() -> Projection:
    return project(load_scenario(ROOT / "examples" / "wiltshire_current_trend_2024.yaml"))


def _csv(tmp_path: Path, text: str, name: str = "actuals.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_conditions_are_rated_on_the_forecast_where_there_is_one(
    plan: Projection, trend: Projection
) -> None:
    on_plan = conditions(plan)
    assert list(on_plan["rag"]) == ["green", "green"]  # balanced by 2028-29; £11.2m headroom
    assert "headroom £11,168,673" in on_plan["plan"].iloc[1]
    off = conditions(plan, trend)
    assert list(off["rag"]) == ["red", "amber"]  # never balances; £2.2m headroom is under 5%
    assert "not balanced in the projection" in off["forecast"].iloc[0]
    assert list(conditions(plan, trend, Thresholds(0.01, 0.02))["rag"]) == ["red", "green"]


def test_a_forecast_of_other_placements_is_refused(plan: Projection) -> None:
    """A forecast of another plan's placements (here the worked example's three) would rate
    Wiltshire's £84.5m cap on a £0.8m deficit: refused, naming both sets."""
    other = project(load_scenario(ROOT / "examples" / "worked_example.yaml"), savings=False)
    message = (
        r"forecast: the forecast's placements \(mainstream, special, inmss\) are not the "
        r"plan's \(mainstream, resourced, "
    )
    with pytest.raises(ScenarioError, match=message):
        conditions(plan, other)
    actuals = read_actuals(ROOT / "examples" / "monitoring" / "wiltshire_key_measures.csv")
    with pytest.raises(ScenarioError, match="it forecasts another plan"):
        monitoring_return(plan, actuals, forecast=other)


def test_thresholds_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(ScenarioError, match="0 <= green <= amber"):
        Thresholds(green=0.05, amber=0.02)
    with pytest.raises(ScenarioError, match="green is nan; it must be a number"):
        Thresholds(green=float("nan"))


def test_rows_without_a_plan_figure_are_refused(plan: Projection, tmp_path: Path) -> None:
    header = "date,measure,value,plan\n"
    unknown = read_actuals(_csv(tmp_path, header + "2024-06,ehcpz,5700,\n"))
    with pytest.raises(ScenarioError, match="'ehcpz' is not a measure the plan forecasts"):
        monitor(plan, unknown)
    late = read_actuals(_csv(tmp_path, header + "2031-06,ehcps,9000,\n"))
    with pytest.raises(ScenarioError, match=r"ehcps at 2031-06 is outside the plan"):
        monitor(plan, late)
    given = read_actuals(_csv(tmp_path, header + "2031-06,ehcps,9000,8800\n"))
    assert monitor(plan, given)["plan_forecast"].iloc[0] == 8800  # the council's figure wins


def test_bad_rows_are_refused_by_row_and_column(tmp_path: Path) -> None:
    text = (
        "update,date,measure,value,good\n"
        "May,2024-04,ehcps,5696,\n"
        "May,2024-04,ehcps,5700,\n"  # given twice for one update and date
        "May,2024-04,requests,,\n"  # no value
        "May,2024-04,moves_down,nan,\n"  # NaN is not a number
        "May,2024-04,refused_share,15%,sideways\n"
    )
    with pytest.raises(ScenarioError) as caught:
        read_actuals(_csv(tmp_path, text))
    message = str(caught.value)
    assert "row 3: ehcps at 2024-04 is given again (first at row 2)" in message
    assert "row 4, value: a value is needed" in message
    assert "row 5, value: 'nan' is not a number" in message
    assert "row 6, good: 'sideways'" in message


def test_rows_are_named_by_their_line_in_the_file(plan: Projection, tmp_path: Path) -> None:
    """A file's comments and blank lines count: "row 3" for the eleventh line of a file
    with eight lines of sources above its header sent the reader to the wrong row."""
    text = (
        "# sources, two lines\n"
        "# of them\n"
        "update,date,measure,value,plan,note\n"
        "May,2024-04,ehcps,5696,,\n"
        "\n"
        'May,2024-04,requests,398,,"a note\nover two lines"\n'
        "May,2024-04,ehcps,5700,,\n"  # line 8: given again
        "May,2024-04,moves_down,lots,,\n"  # line 9
    )
    with pytest.raises(ScenarioError) as caught:
        read_actuals(_csv(tmp_path, text))
    message = str(caught.value)
    assert "row 8: ehcps at 2024-04 is given again (first at row 4)" in message
    assert "row 9, value: 'lots' is not a number" in message
    # the plan's checks, after reading, name the same rows
    text = "# a source\ndate,measure,value\n\n2024-04,ehcps,5696\n2024-04,no_such,5\n"
    with pytest.raises(ScenarioError, match="actuals row 5: 'no_such' is not a measure"):
        monitor(plan, read_actuals(_csv(tmp_path, text)))
    register = (
        "# the register\nitem,description,owner,rag,mitigation\n"
        "Risk 1,a,b,red,c\n\nRisk 1,a,b,purple,c\n"
    )
    with pytest.raises(ScenarioError) as caught:
        read_register(_csv(tmp_path, register, "r.csv"))
    message = str(caught.value)
    assert "row 5, rag: 'purple'" in message
    assert "row 5: 'Risk 1' is given again (first at row 3)" in message
    register = "item,description,owner,rag,mitigation\n,a,b,red,c\n"  # red for what?
    with pytest.raises(ScenarioError, match="row 2, item: empty; name the condition or risk"):
        read_register(_csv(tmp_path, register, "r.csv"))


def test_a_file_of_actuals_with_no_rows_is_refused(plan: Projection, tmp_path: Path) -> None:
    """A header alone ended in a KeyError from pandas inside the return."""
    with pytest.raises(ScenarioError, match="has a header but no rows"):
        read_actuals(_csv(tmp_path, "# none yet\nupdate,date,measure,value\n\n"))
    # built by a caller: the optional columns may be left out, the others are named
    built = pd.DataFrame({"date": ["2024-04"], "measure": ["ehcps"], "value": [5696.0]})
    assert monitor(plan, built)["rag"].tolist() == ["amber"]
    with pytest.raises(ArgumentError, match=r"the actuals need the columns \['value'\]"):
        monitor(plan, built.drop(columns="value"))
    # built by a caller, no actuals make an empty table with the table's columns
    empty = read_actuals(_csv(tmp_path, "date,measure,value\n2024-04,ehcps,5696\n")).iloc[:0]
    table = monitor(plan, empty)
    assert table.empty and {"measure", "label", "rag"} <= set(table.columns)


@pytest.mark.parametrize("reader", ["actuals", "register"])
def test_a_row_with_no_update_among_named_ones_is_refused(reader: str, tmp_path: Path) -> None:
    """A history file's row left without its update was shown as an update of its own,
    headed "update", between the named ones."""
    if reader == "actuals":
        text = "update,date,measure,value\nMay 2024,2024-04,ehcps,5696\n,2024-04,requests,398\n"
        read = read_actuals
    else:
        text = "update,item,description,owner,rag,mitigation\nMay 2024,C1,a,,,\n,C2,b,,,\n"
        read = read_register
    with pytest.raises(ScenarioError, match=r"row 3, update: empty where other rows name "
                       r"theirs \(May 2024\); give every row its update"):  # fmt: skip
        read(_csv(tmp_path, text))
    # a file of one update may leave the column out, or every row empty
    read(_csv(tmp_path, text.replace("May 2024,", ",")))


def test_updates_make_a_trend_and_the_register_its_latest_update(
    plan: Projection, tmp_path: Path
) -> None:
    actuals = read_actuals(
        _csv(
            tmp_path,
            "update,date,measure,value\nMay,2024-04,ehcps,5600\n"
            "August,2024-07,ehcps,5900\nNovember,2024-10,ehcps,6300\n",
        )
    )
    register = read_register(
        _csv(
            tmp_path,
            "update,item,description,owner,rag,mitigation\n"
            "May,Risk 1,Backlog,Head of SEND,Amber,Clear it\n"
            "August,Risk 1,Backlog,Head of SEND,red,Clear it faster\n",
            "register.csv",
        )
    )
    result = monitoring_return(plan, actuals, register=register)
    assert result.updates == ("May", "August", "November")
    assert list(result.trend.columns) == ["May", "August", "November"]
    assert str(result.trend["November"].to_dict()["Number of EHCPs"]).endswith("(red)")
    assert list(result.register["rag"]) == ["red"]  # the register's own latest update
    text = return_markdown(result)
    assert "## Key measures (August)" in text and "Clear it faster" in text
    # November's return shows August's register: it says so (it was headed as if current)
    assert result.register_update == "August"
    assert "## Conditions and risks register (as at August)" in text
    out = write_return(result, tmp_path / "return.xlsx")
    assert openpyxl.load_workbook(out).sheetnames[-1] == "Register as at August"


def test_a_register_with_an_unknown_rating_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, "item,description,owner,rag,mitigation\nRisk 1,x,y,purple,z\n", "r.csv")
    with pytest.raises(ScenarioError, match="row 2, rag: 'purple'"):
        read_register(path)
    with pytest.raises(ScenarioError, match=r"needs columns \['owner'"):
        read_register(_csv(tmp_path, "item,description,rag,mitigation\n", "s.csv"))
    with pytest.raises(ScenarioError, match="a folder, not a file"):
        read_register(tmp_path)


def test_a_hash_inside_a_value_is_text_not_a_comment(tmp_path: Path) -> None:
    """pandas' ``comment="#"`` cut a row at any ``#``: a description "Places at school #2"
    lost the rest of its row, its red rating included, without a word. Only whole lines
    starting with ``#`` are comments."""
    text = (
        "# the council's register\n"
        "item,description,owner,rag,mitigation\n"
        "  # an indented comment\n"
        "Risk 2,Places at school #2 delayed,Head of SEND,red,more places\n"
    )
    register = read_register(_csv(tmp_path, text, "r.csv"))
    assert register.loc[0, "description"] == "Places at school #2 delayed"
    assert register.loc[0, "rag"] == "red"
    assert register.loc[0, "mitigation"] == "more places"


def test_an_indented_comment_before_the_header_is_a_comment(tmp_path: Path) -> None:
    """The header check took an indented comment line for the header, so a column named
    twice below it went through (pandas reads the second as ``rag.1``)."""
    text = "  # source, the May report\nitem,description,owner,rag,rag,mitigation\n"
    with pytest.raises(ScenarioError, match=r"the columns \['rag'\] appear more than once"):
        read_register(_csv(tmp_path, text, "r.csv"))


def test_an_unquoted_comma_or_a_file_that_is_not_a_csv_is_refused(tmp_path: Path) -> None:
    """A note or description holding an unquoted comma, or a YAML file given as the
    actuals, ended in a pandas traceback; each is refused naming the file and the row."""
    text = "date,measure,value,note\n2024-04,ehcps,5696,higher, but improving\n"
    with pytest.raises(ScenarioError, match="row 2 has 5 cells where the header names 4; a "):
        read_actuals(_csv(tmp_path, text))
    quoted = 'date,measure,value,note\n2024-04,ehcps,5696,"higher, but improving"\n'
    assert read_actuals(_csv(tmp_path, quoted, "q.csv")).loc[0, "note"] == "higher, but improving"
    plan_file = ROOT / "examples" / "wiltshire_plan_2024.yaml"
    with pytest.raises(ScenarioError, match="cells where the header names"):
        read_actuals(plan_file)
    with pytest.raises(ScenarioError, match="check its quotes"):
        read_register(_csv(tmp_path, 'item,description,owner,rag,mitigation\n"Risk 1,x\n', "u.csv"))


def test_spend_to_date_by_line_against_the_plan(plan: Projection, tmp_path: Path) -> None:
    """Plan against actuals by line: the lines of a whole FY add up to its expenditure."""
    lines = ("place_funding", "top_up", "fees", "other_lines", "mitigations")
    rows = "".join(f"2025-03,spend:{line},1000000,2024-04\n" for line in lines)
    table = monitor(plan, read_actuals(_csv(tmp_path, "date,measure,value,period_start\n" + rows)))
    expenditure = float(plan.ledger["expenditure"].to_dict()["2024-25"])
    assert float(table["plan_forecast"].sum()) == pytest.approx(expenditure, abs=0.01)
    place = float(plan.ledger["place_funding"].to_dict()["2024-25"])
    assert float(table["plan_forecast"].iloc[0]) == pytest.approx(place, abs=0.01)
    assert list(table["label"])[:3] == [
        "Spend: place funding",
        "Spend: top-ups",
        "Spend: independent fees",
    ]
    total = read_actuals(
        _csv(tmp_path, "date,measure,value,period_start\n2025-03,spend,1,2024-04\n")
    )
    assert float(monitor(plan, total)["plan_forecast"].iloc[0]) == pytest.approx(expenditure)


def odd(value: object) -> Any:
    """Pass a value of the wrong kind on purpose (for the type checker)."""
    return value


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (monitor, "actuals is a str; give the table read_actuals"),
        (
            lambda plan, path: monitor(odd(None), path),
            "the plan is a NoneType; give its projection",
        ),
        (
            lambda plan, path: monitor(plan, read_actuals(path), thresholds=odd(0.02)),
            "thresholds is a float; give Thresholds(green, amber)",
        ),
        (
            lambda plan, path: monitoring_return(plan, read_actuals(path), register=path),
            "register is a str; give the table read_register(path) returns",
        ),
        (
            lambda plan, path: monitoring_return(
                plan, read_actuals(path), forecast=odd("trend.yaml")
            ),
            "forecast is a str; give its projection, or None",
        ),
        (lambda plan, path: read_actuals(odd(None)), "path is None; give the actuals CSV's path"),
        (lambda plan, path: read_register(odd(5)), "path is 5; give the register CSV's path"),
        (lambda plan, path: return_markdown(odd(path)), "result is a str; give what monitoring"),
        (lambda plan, path: write_return(odd(None), path), "result is a NoneType; give what"),
    ],
)
def test_arguments_of_the_wrong_kind_are_named(plan: Projection, call: Any, expected: str) -> None:
    """A file's path where the actuals belong ended in "'str' object has no attribute
    'columns'"; None for a path, in pathlib's "expected str, bytes or os.PathLike"."""
    path = ROOT / "examples" / "monitoring" / "wiltshire_key_measures.csv"
    with pytest.raises(ArgumentTypeError, match=re.escape(expected)):
        call(plan, str(path))
