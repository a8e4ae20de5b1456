"""A corpus of malformed inputs: each is refused (exit 2) with its place named, no traceback.

Issue 12: an accepted file must mean exactly what it says. Each case changes the worked
example (or its stock CSV) in one way a finance officer's file might go wrong, runs
``dsg-forecast validate`` on it as a user would, and checks the exit code, that no Python
traceback is printed, and that the message names where the problem is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dsg_forecast import ScenarioError
from dsg_forecast.cli import main
from tests.paths import ROOT

WORKED = (ROOT / "examples" / "worked_example.yaml").read_text(encoding="utf-8")
STOCK_CSV = "age,mainstream,special,inmss\n3,10,2,0\n4,20,5,0\n5,30,8,1\n6,40,10,3\n"
INLINE_STOCK = """opening_stock:                       # plans at the start of April 2024, by placement and age
  mainstream: {3: 10, 4: 20, 5: 30, 6: 40}
  special: {3: 2, 4: 5, 5: 8, 6: 10}
  inmss: {5: 1, 6: 3}
"""


def edit(old: str, new: str) -> Callable[[Path], Path]:
    """Return a case writing the worked example with ``old`` replaced by ``new``."""

    def write(folder: Path) -> Path:
        assert old in WORKED, old
        path = folder / "scenario.yaml"
        path.write_text(WORKED.replace(old, new, 1), encoding="utf-8")
        return path

    return write


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    """Return a case writing ``content`` as the file ``name``."""

    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return write


def stock(csv: bytes) -> Callable[[Path], Path]:
    """Return a case: the worked example reading its stock from a CSV with ``csv``."""

    def write(folder: Path) -> Path:
        (folder / "stock.csv").write_bytes(csv)
        path = folder / "scenario.yaml"
        path.write_text(
            WORKED.replace(INLINE_STOCK, "opening_stock: {csv: stock.csv}\n"), encoding="utf-8"
        )
        return path

    return write


def sweep_file(text: str) -> Callable[[Path], Path]:
    """Return a case: a sweep file with ``text`` after ``base:``, the worked example beside it."""

    def write(folder: Path) -> Path:
        (folder / "base.yaml").write_text(WORKED, encoding="utf-8")
        path = folder / "sweep.yaml"
        path.write_text("base: base.yaml\n" + text, encoding="utf-8")
        return path

    return write


SWEPT = "  demand.refusal_rate: {dist: uniform, low: 0.2, high: 0.3}\n"


def _sweep_of_sweep(folder: Path) -> Path:
    """A sweep file whose base is itself a sweep file."""
    sweep_file("parameters:\n" + SWEPT)(folder)
    path = folder / "of_sweep.yaml"
    path.write_text("base: sweep.yaml\nparameters:\n" + SWEPT, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Path]
    names: str
    """Text the message must contain (the field, row, key or file problem)."""


CASES: dict[str, Case] = {
    # -- duplicate keys: the last one would silently win
    "duplicate section": Case(
        edit("net_transfer_rate: 0.03", "net_transfer_rate: 0.03\nnet_transfer_rate: 0.05"),
        "'net_transfer_rate' is given twice in one mapping (lines",
    ),
    "duplicate nested key": Case(
        edit("  refusal_rate: 0.25\n", "  refusal_rate: 0.25\n  refusal_rate: 0.30\n"),
        "'refusal_rate' is given twice",
    ),
    "duplicate stock age": Case(
        edit("mainstream: {3: 10, 4: 20,", "mainstream: {3: 10, 3: 12, 4: 20,"),
        "key 3 is given twice",
    ),
    # -- the same thing named twice in other words: one would replace or add to the other
    "a month named twice in a profile": Case(
        edit("profile: {Jul: 0.5, Aug: 0.5}", "profile: {Jul: 0.5, July: 0.2, Aug: 0.5}"),
        "ceasing.profile: 'Jul' and 'July' both name July; give each month once",
    ),
    "a move and age given by two transition rules": Case(
        edit(
            "  - {from: special, to: mainstream, ages: 6, rate: 0.05}\n",
            "  - {from: special, to: mainstream, ages: 6, rate: 0.05}\n"
            "  - {from: special, to: mainstream, ages: 5-6, rate: 0.02}\n",
        ),
        "transitions[2]: moves 'special' to 'mainstream' at age 6, as transitions[1] does",
    ),
    # the documented form for top_up and fees, under unit_cost, said "a valid number"
    "amounts by year where one number belongs": Case(  # said "Input should be a valid number"
        edit("requests_per_year: 120", "requests_per_year: {2024-25: 120, 2025-26: 130}"),
        "demand.requests_per_year: {'2024-25': 120, '2025-26': 130}: a mapping where one "
        "number belongs",
    ),
    "a unit cost by phase": Case(
        edit("unit_cost: {mainstream: 12000,", "unit_cost: {mainstream: {primary: 12000},"),
        "costs.unit_cost: mainstream is given by phase or age (primary); unit_cost takes one "
        "amount a placement: give amounts by phase under top_up (or fees)",
    ),
    "an age written as a decimal": Case(
        edit("mainstream: {3: 10,", "mainstream: {3.0: 10,"),
        "3.0 is not an age or an age band; write 3",
    ),
    "duplicate key in JSON": Case(
        raw("scenario.json", b'{"name": "a",\n "name": "b"}'),
        "'name' is given twice in one object (it appears at lines 1, 2)",
    ),
    # taken as the text "nan"
    "a condition of NaN": Case(
        edit('condition: "3.1"', "condition: .nan"),
        "interventions[0].condition: nan: input should be a valid string",
    ),
    # an OverflowError from numpy where the tiers became an array
    "a tier past any rank": Case(
        edit("{name: mainstream, tier: 1}", "{name: mainstream, tier: 100000000000000000000}"),
        "placements[0].tier: 100000000000000000000: input should be less than or equal to 100",
    ),
    # -- booleans where numbers belong (YAML 1.1 reads yes/on as true)
    "yes as a rate": Case(edit("refusal_rate: 0.25", "refusal_rate: yes"), "demand.refusal_rate"),
    "on as a count": Case(
        edit("opening_backlog: 12", "opening_backlog: on"), "demand.opening_backlog"
    ),
    "true as a number": Case(
        edit("plan_rate: 0.80", "plan_rate: true"),
        "demand.plan_rate: True is a true/false value where a number",
    ),
    "true in a list": Case(
        edit("[0.05, 0.05, 0.05, 0.05, 0.10", "[true, 0.05, 0.05, 0.05, 0.10"),
        "demand.request_profile[0]",
    ),
    "true and false as swept values": Case(
        sweep_file("parameters:\n  demand.refusal_rate: {values: [true, false]}\n"),
        "parameters.demand.refusal_rate.values[0]: True is a true/false value",
    ),
    # -- numbers as a spreadsheet shows them (YAML reads them as text)
    "a count with a thousands separator": Case(
        edit("requests_per_year: 120", 'requests_per_year: "1,200"'),
        "demand.requests_per_year: '1,200': input should be a valid number, unable to parse "
        "string as a number; write the number alone, without thousands separators or £",
    ),
    "a share as a percentage": Case(
        edit("refusal_rate: 0.25", "refusal_rate: 25%"),
        "demand.refusal_rate: '25%': input should be a valid number, unable to parse string "
        "as a number; a share is a fraction: write 0.25 for 25%",
    ),
    "a sample count in exponent form (YAML text)": Case(
        sweep_file("samples: 1e6\nparameters:\n" + SWEPT),
        "samples: '1e6': input should be a valid integer, unable to parse string as an integer; "
        "YAML reads 1e6 as text: write 1000000",
    ),
    # a sweep of a sweep: its base was read as a scenario (14 missing sections and keys)
    "a sweep whose base is a sweep": Case(
        _sweep_of_sweep,
        "base: sweep.yaml is a sweep file (it has its own base:), not a scenario",
    ),
    "true as a sweep's seed": Case(
        sweep_file("seed: true\nparameters:\n" + SWEPT), "seed: True is a true/false value"
    ),
    "true as a sample count in a sweep section": Case(
        edit(
            "interventions:",
            "sweep:\n  samples: true\n  parameters:\n  " + SWEPT + "interventions:",
        ),
        "sweep.samples: True is a true/false value",
    ),
    "low above high in a swept distribution": Case(
        sweep_file("parameters:\n  demand.refusal_rate: {dist: uniform, low: 0.3, high: 0.2}\n"),
        "1 problem in the scenario:\n  - parameters[demand.refusal_rate]: low 0.3 must be below",
    ),
    "a number where a swept distribution belongs": Case(
        sweep_file("parameters:\n  demand.refusal_rate: 0.2\n"),
        "parameters[demand.refusal_rate]: 0.2: a swept parameter is a distribution, such as",
    ),
    "a misspelt key of a swept distribution": Case(
        sweep_file("parameters:\n  demand.refusal_rate: {dist: uniform, lo: 0.1, high: 0.3}\n"),
        "parameters[demand.refusal_rate].lo: unknown key 'lo'; did you mean 'low'?",
    ),
    "base-60 number": Case(
        edit("requests_per_year: 120", "requests_per_year: 1:30"), "demand.requests_per_year"
    ),
    "number as a true/false field": Case(
        edit(
            "balance_target: 2025-26",
            "balance_target: 2025-26\n  withhold_when_conditions_missed: 1",
        ),
        "withhold_when_conditions_missed",
    ),
    # -- lists whose entries would collide or mean nothing
    "two other lines with one name": Case(
        edit(
            "    - {name: central services, amount: 240000, growth: 0}",
            "    - {name: central services, amount: 240000, growth: 0}\n"
            "    - {name: central services, amount: 100000, growth: 0}",
        ),
        "costs.other_lines[1].name: 'central services' is used twice",
    ),
    "write-offs of more than the deficit": Case(
        edit(
            "    - {share: 0.9, at_end_of: 2025-26, paid_in: 2026-27}",
            "    - {share: 0.9, at_end_of: 2025-26, paid_in: 2026-27}\n"
            "    - {share: 0.5, at_end_of: 2025-26, paid_in: 2026-27}",
        ),
        "agreement.write_offs[1]: write-offs of the deficit at the end of 2025-26 add up to 1.4",
    ),
    "an entry shift to the same placement": Case(
        edit(
            "entry_shift, from: special, to: mainstream", "entry_shift, from: special, to: special"
        ),
        "interventions[0].effects[1]: moves new plans from 'special' to itself",
    ),
    # -- encodings and files
    "Windows-1252 text": Case(
        raw("scenario.yaml", WORKED.replace("§7", "£7").encode("cp1252")),
        "is not UTF-8 text: byte 0xa3 on line",
    ),
    "UTF-16 text": Case(raw("scenario.yaml", WORKED.encode("utf-16")), "is UTF-16 text"),
    "a folder": Case(lambda folder: folder, "is a folder, not a file"),
    "a missing file": Case(lambda folder: folder / "nowhere.yaml", "file not found"),
    "an empty file": Case(raw("scenario.yaml", b""), "the file is empty"),
    "a top-level list": Case(raw("scenario.yaml", b"- 1\n- 2\n"), "must be a mapping"),
    "deep nesting": Case(raw("scenario.yaml", b"a: " + b"[" * 60 + b"]" * 60), "levels deep"),
    "YAML syntax": Case(raw("scenario.yaml", b"start: [2024-04\n"), "YAML syntax error at line"),
    "JSON syntax": Case(raw("scenario.json", b'{"start": }'), "JSON syntax error at line 1"),
    "unknown suffix": Case(raw("scenario.txt", b"start: 2024-04\n"), "unknown file type '.txt'"),
    # -- stock CSVs edited by hand
    "duplicate stock row": Case(
        stock(b"age,mainstream,special\n3,10,2\n3,11,2\n"),
        "row 3: age '3', 'mainstream' is given again",
    ),
    "duplicate stock column": Case(
        stock(b"age,mainstream,mainstream\n3,10,2\n"), "['mainstream'] appear more than once"
    ),
    "extra stock cell": Case(
        stock(b"age,mainstream\n3,10,5\n"), "row 2 has 3 cells; the header has 2"
    ),
    "missing stock cell": Case(
        stock(b"age,mainstream,special\n3,10\n"), "row 2 has 2 cells; the header has 3"
    ),
    "stock text": Case(stock(b"age,mainstream\n3,ten\n"), "row 2, column 'mainstream': 'ten'"),
    "negative stock": Case(stock(b"age,mainstream\n3,-4\n"), "'-4' must be a count"),
    # a spreadsheet's totals row and open band: named as the last column's bad key
    "a totals row in the stock": Case(
        stock(b"age,mainstream\n3,10\nTotal,10\n"),
        "stock.csv row 3, age: 'Total' is not an age or an age band (write 5 or 16-18); "
        "remove a totals row",
    ),
    "an open age band in the stock": Case(
        stock(b"age,mainstream\n3,10\n25+,1\n"), "row 3, age: '25+' is not an age"
    ),
    "a stock count with a thousands separator": Case(
        stock(b'age,mainstream\n3,"1,200"\n'),
        "'1,200' is not a number; write it without thousands separators",
    ),
    "stock without age": Case(stock(b"year,mainstream\n3,10\n"), "needs a column 'age'"),
    "stock separated by semicolons": Case(
        stock(b"age;mainstream\n3;10\n"),
        "found ['age;mainstream'] (one column: separate the columns with commas)",
    ),
    "UTF-16 stock": Case(stock(STOCK_CSV.encode("utf-16")), "stock.csv is UTF-16 text"),
    "empty stock": Case(stock(b"# only a comment\n"), "stock.csv has no rows"),
    "nameless stock column": Case(stock(b"age,,special\n3,1,2\n"), "a column has no name"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_refused_where_it_is(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    path = case.make(tmp_path)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, out
    assert "Traceback" not in out + err
    assert case.names in err, err


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + WORKED.encode("utf-8"))
    assert main(["validate", str(path)]) == 0


RUN_CASES: dict[str, Case] = {
    "a unit cost of 1e308": Case(
        edit("special: 30000,", "special: 1.0e308,"), "costs.unit_cost.special = 1e+308"
    ),
    # growth is at most 1 a year (a percentage typed for a fraction): 1e200, which compounded
    # past the largest number, is refused before anything is projected
    "growth that would compound past the largest number": Case(
        edit("growth: 0.04", "growth: 1.0e200"),
        "funding.growth: '1.0e200': it must be at most 1 (100% a year)",
    ),
    "growth typed as a percentage": Case(
        edit("requests_growth: 0.10", "requests_growth: 10"),
        "demand.requests_growth: 10: it must be at most 1 (100% a year): a growth is a "
        "fraction a year, 0.10 for 10%",
    ),
}


@pytest.mark.parametrize("form", ["table", "json", "csv"])
@pytest.mark.parametrize("name", sorted(RUN_CASES))
def test_numbers_that_overflow_are_refused_in_every_format(
    name: str, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never "never in deficit" from an infinite ledger, never NaN in JSON."""
    case = RUN_CASES[name]
    path = case.make(tmp_path)
    assert main(["run", str(path), "--format", form]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert case.names in err, err


SWEEP = str(ROOT / "examples" / "wiltshire_sweep.yaml")
WORKED_FILE = str(ROOT / "examples" / "worked_example.yaml")
PLAN = str(ROOT / "examples" / "wiltshire_plan_2024.yaml")

ARGUMENT_CASES: dict[str, tuple[list[str], str]] = {
    "probability above 1": (
        ["solve", SWEEP, "--lever", "funding.growth", "--low", "0", "--high", "1",
         "--target", "balance:2028-29", "--probability", "1.5"],
        "--probability: 1.5 must be between 0 and 1",
    ),
    "sensitivity year outside": (
        ["sensitivity", SWEEP, "--method", "tornado", "--year", "2031-32"],
        "--year 2031-32 is outside the projection (2024-25..2028-29)",
    ),
    "tornado year outside": (
        ["plot", "tornado", SWEEP, "--year", "2031-32", "--out", "{tmp}/t.png"],
        "--year 2031-32 is outside the projection",
    ),
    "savings year outside": (
        ["plot", "savings", WORKED_FILE, "--year", "2031-32", "--out", "{tmp}/s.png"],
        "--year 2031-32 is outside the projection (2024-25..2026-27)",
    ),
    "a calendar year where a financial year belongs": (  # was "outside the projection"
        ["plot", "savings", WORKED_FILE, "--year", "2025", "--out", "{tmp}/s.png"],
        "--year 2025 is not a financial year; write it as YYYY-YY, like 2024-25",
    ),
    "origins backwards": (["backtest", "--origins", "2024-2017"], "'2024-2017' runs backwards"),
    # one council twice (by name and by code) counted its forecasts twice
    "a council twice in a backtest": (
        ["backtest", "--council", "Wiltshire", "--council", "865", "--origins", "2020-2021",
         "--method", "pooled"],
        "Wiltshire is given twice ('Wiltshire' and '865'): give each once",
    ),
    "a method twice in a backtest": (
        ["backtest", "--council", "Wiltshire", "--origins", "2020-2021", "--method", "pooled",
         "--method", "pooled"],
        "method 'pooled' is given twice",
    ),
    "origins not years": (["backtest", "--origins", "soon"], "'soon' is not a year"),
    "horizon zero": (["backtest", "--horizon", "0"], "0 is below 1"),
    "origins with nothing to compare": (
        ["backtest", "--origins", "2025-2026", "--council", "Wiltshire"],
        "no forecast could be compared with a count",
    ),
    "unknown sensitivity output": (
        ["sensitivity", SWEEP, "--output", "ehcps"], "argument --output: invalid choice"
    ),
    "five billion samples in memory": (
        ["sweep", SWEEP, "--samples", "5000000000"], "the sweep has 5,000,000,000 scenarios"
    ),
    "a trillion samples": (
        ["sweep", SWEEP, "--samples", "1000000000000", "--out", "{tmp}/out"],
        "samples is 1,000,000,000,000; a sweep runs at most 10,000,000,000",
    ),
    # 1e12 is exact (taken as 1,000,000,000,000), and too many for a sweep to finish
    "samples in exponent form": (
        ["sweep", SWEEP, "--samples", "1e12"],
        "samples is 1,000,000,000,000; a sweep runs at most 10,000,000,000",
    ),
    "samples with thousands marked": (
        ["sweep", SWEEP, "--samples", "1,000"],
        "'1,000' marks thousands with commas; write the number without them (1000)",
    ),
    "image suffix": (
        ["plot", "balance", WORKED_FILE, "--out", "{tmp}/chart.jpg"], "must end in .png or .svg"
    ),
    # an option the chart does not use would be ignored without a word
    "a year for a chart of every year": (
        ["plot", "in-year", WORKED_FILE, "--year", "2024-25", "--out", "{tmp}/i.png"],
        "--year is for savings and tornado charts, not in-year",
    ),
    "samples for a chart of one projection": (
        ["plot", "balance", WORKED_FILE, "--samples", "5", "--out", "{tmp}/b.png"],
        "--samples is for fan charts, not balance",
    ),
    "an unknown tornado output": (
        ["plot", "tornado", SWEEP, "--output", "ehcps", "--out", "{tmp}/t.png"],
        "argument --output: invalid choice",
    ),
    # one base sample or trajectory: every bootstrap resample the same, each interval 0
    "one Sobol base sample": (
        ["sensitivity", SWEEP, "--method", "sobol", "--samples", "1"],
        "--samples is 1; it must be a whole number of at least 2 (the ± intervals bootstrap "
        "the Sobol base samples",
    ),
    "one Morris trajectory": (
        ["sensitivity", SWEEP, "--method", "morris", "--samples", "1"],
        "--samples is 1; it must be a whole number of at least 2",
    ),
    "samples for a tornado": (
        ["sensitivity", SWEEP, "--method", "tornado", "--samples", "50"],
        "--samples does not apply to --method tornado",
    ),
    "a seed for a tornado": (
        ["sensitivity", SWEEP, "--method", "tornado", "--seed", "3"],
        "--seed does not apply to --method tornado",
    ),
    "an output asked twice": (  # ended in a traceback (the library's ValueError)
        ["sensitivity", SWEEP, "--method", "tornado", "--output", "plans", "--output", "plans"],
        "--output plans is given twice; give each output once",
    ),
    # solving one scenario: options of a sweep would be ignored, a sweep file is many
    "samples when solving one scenario": (
        ["solve", PLAN, "--lever", "funding.high_needs_block", "--mode", "shift", "--low",
         "0", "--high", "1e8", "--target", "balance:2028-29", "--samples", "20"],
        "--samples sets the scenarios of a sweep, and without --per-scenario or --probability",
    ),
    "a sweep file without a way to solve it": (
        ["solve", SWEEP, "--lever", "funding.high_needs_block", "--mode", "shift", "--low", "0",
         "--high", "1e8", "--target", "balance:2028-29"],
        "is a sweep file (it names a base scenario): add --per-scenario",
    ),
    # a sweep's results are a folder of Parquet parts; resuming needs that folder
    "a sweep to a CSV file's name": (
        ["sweep", SWEEP, "--samples", "50", "--out", "{tmp}/results.csv"],
        "results.csv names a .csv file, but a sweep's results are a folder of Parquet parts",
    ),
    "resume without a folder": (
        ["sweep", SWEEP, "--samples", "50", "--resume"],
        "resume finishes a sweep streamed to a folder: give that folder as out (--out)",
    ),
    # a grid runs every combination: 100 samples asked would run 5.9 million scenarios
    "samples for a grid": (
        ["sweep", SWEEP, "--samples", "100", "--design", "grid"],
        "samples is 100, but a grid runs every combination of its levels (here 5,859,375",
    ),
    "an infinite lever bound": (
        ["solve", PLAN, "--lever", "funding.high_needs_block", "--mode", "shift",
         "--low=-inf", "--high", "1e8", "--target", "balance:2028-29"],
        "lever 'funding.high_needs_block': low is -inf; it must be a finite number",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ARGUMENT_CASES))
def test_bad_arguments_are_refused_naming_the_argument(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, expected = ARGUMENT_CASES[name]
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert expected in err, err


def _workbook(folder: Path, change: Callable[[Any], None]) -> Path:
    """Write the worked example as an input workbook, then change it as a user might."""
    from openpyxl import load_workbook

    from dsg_forecast.io import load_scenario
    from dsg_forecast.io.workbook import write_workbook

    path = folder / "scenario.xlsx"
    write_workbook(load_scenario(ROOT / "examples" / "worked_example.yaml"), path)
    book = load_workbook(path)
    change(book)
    book.save(path)
    return path


def _delete(name: str) -> Callable[[Any], None]:
    def change(book: Any) -> None:
        del book[name]

    return change


def _relabel(book: Any) -> None:
    book["Demand"]["A3"] = "growth of requests"


def _formula(book: Any) -> None:
    book["Demand"]["B2"] = "=100+20"  # openpyxl saves no value for it


def _merge(book: Any) -> None:
    book["Opening stock"].merge_cells("B2:C2")


def _append(sheet: str, *cells: object) -> Callable[[Any], None]:
    """Return a change adding a row to a sheet below its last."""

    def change(book: Any) -> None:
        book[sheet].append(list(cells))

    return change


def _swap_columns(sheet: str, first: int, second: int) -> Callable[[Any], None]:
    """Return a change swapping two columns of a sheet, headers and all (1-based)."""

    def change(book: Any) -> None:
        for row in book[sheet].iter_rows():
            row[first - 1].value, row[second - 1].value = (
                row[second - 1].value,
                row[first - 1].value,
            )

    return change


def _set(sheet: str, cell: str, value: object) -> Callable[[Any], None]:
    def change(book: Any) -> None:
        book[sheet][cell] = value

    return change


WORKBOOK_CASES: dict[str, tuple[Callable[[Any], None], str]] = {
    # columns are read by position: each of these was read as another column, or not read
    "two columns swapped": (
        _swap_columns("By year", 10, 11),
        "By year!J1: 'council contribution [£]' where the template has 'Safety Valve "
        "contribution [£]'; keep the template's columns in its order",
    ),
    "a column added after the last": (
        _set("Costs", "L1", "source"),
        "Costs!L1: 'source' is not a column of this sheet and would not be read",
    ),
    # the sheet was named, then read by position anyway: an IndexError from a short row
    "the first column deleted": (
        lambda book: book["Ceasing"].delete_cols(1),
        "Ceasing!A1: 'ceasing rate [fraction a year]' where the template has 'age or band'; "
        "keep the template's columns in its order",
    ),
    # each of these was read without a word, the later or the other value ignored
    "a placement overflowing to two placements": (
        _append("Capacity", "special", "2025-09", 36, "mainstream"),
        "Capacity!D4: special overflows to 'mainstream' here and to 'inmss' in row 2; a "
        "placement has one overflow",
    ),
    "a cost per plan and costs by phase": (
        _set("Costs", "K3", 31000),
        "Costs!B3: special has a cost per plan (30000) and costs by phase (other ages); give "
        "one or the other",
    ),
    "an amount by year for a line with a first-year amount": (
        _append("Other lines by year", "central services", "2025-26", 250000),
        "Other lines by year!A2: 'central services' has a first-FY amount on the Other lines sheet",
    ),
    "an amount by year for a line not listed": (
        _append("Other lines by year", "central servises", "2025-26", 250000),
        "Other lines by year!A2: 'central servises' is not on the Other lines sheet",
    ),
    "a month that is not a month": (
        _set("Seasonality", "A2", "Janvier"),
        "Seasonality!A2: 'Janvier' is not a month (Jan to Dec)",
    ),
    "a month given twice": (
        _set("Seasonality", "A3", "January"),
        "Seasonality!A3: 'January' is Jan again (first in row 2)",
    ),
    # a row naming what an earlier row named would silently replace it
    "a field given twice": (
        _append("Demand", "refusal rate [fraction]", 0.3),
        "Demand!A8: 'refusal rate [fraction]' is given again (first in row 4)",
    ),
    "an age of the opening stock twice": (
        _append("Opening stock", 5, 31, 8, 1),
        "Opening stock!A6: '5' is given again (first in row 4)",
    ),
    "a financial year twice": (
        _append("By year", "2024-25", None, None, None, None, None, None, None, None, 400000),
        "By year!A4: '2024-25' is given again (first in row 2)",
    ),
    "a placement's places from one month twice": (
        _append("Capacity", "special", "2025-01", 40, "inmss"),
        "Capacity!A4: 'special', '2025-01' is given again (first in row 3)",
    ),
    "a placement's cost twice": (
        _append("Costs", "special", 31000, None, "unit_cost"),
        "Costs!A6: 'special' is given again (first in row 3)",
    ),
    "an intervention twice": (
        _append("Interventions", "earlier support", "3.2", "2025-04", 0),
        "Interventions!A3: 'earlier support' is given again (first in row 2)",
    ),
    "an intervention's cost in one year twice": (
        _append("Intervention costs", "earlier support", "2025-26", 50000),
        "Intervention costs!A5: 'earlier support', '2025-26' is given again (first in row 3)",
    ),
    "a deleted sheet": (_delete("Ceasing"), "the sheet 'Ceasing' is missing"),
    "a renamed row label": (_relabel, "Demand!A3: 'growth of requests' is not a row"),
    "a formula without a value": (_formula, "Demand!B2 holds a formula (=100+20) with no saved"),
    "merged cells": (_merge, "Opening stock!B2:C2 is merged"),
}


@pytest.mark.parametrize("name", sorted(WORKBOOK_CASES))
def test_an_ambiguous_workbook_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, expected = WORKBOOK_CASES[name]
    path = _workbook(tmp_path, change)
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and expected in err, err


def test_a_file_that_is_not_a_workbook_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.xlsx"
    path.write_text("age,mainstream\n3,10\n")
    assert main(["validate", str(path)]) == 2
    assert "is not an Excel workbook (.xlsx) this tool can read" in capsys.readouterr().err


def test_a_date_where_a_month_belongs_means_its_month(tmp_path: Path) -> None:
    import datetime as dt

    from dsg_forecast.io.workbook import read_workbook

    def dated(book: Any) -> None:
        sheet = book["Scenario"]
        for row in sheet.iter_rows(min_row=2):
            if row[0].value == "first month (YYYY-MM)":
                row[1].value = dt.date(2024, 4, 1)

    assert read_workbook(_workbook(tmp_path, dated)).start == "2024-04"


ACTUALS_CASES: dict[str, tuple[bytes, str]] = {
    "empty actuals": (b"# nothing yet\n", "has no rows"),
    "UTF-16 actuals": ("date,measure,value\n2024-04,ehcps,5696\n".encode("utf-16"), "UTF-16"),
    "NaN actual": (b"date,measure,value\n2024-04,ehcps,nan\n", "'nan' is not a number"),
    "unknown measure": (b"date,measure,value\n2024-04,ehcpz,5696\n", "'ehcpz' is not a measure"),
    "date beyond the plan": (b"date,measure,value\n2031-04,ehcps,9000\n", "outside the plan"),
    "duplicate row": (
        b"date,measure,value\n2024-04,ehcps,5696\n2024-04,ehcps,5700\n",
        "is given again",
    ),
    # pandas would read the second as "date.1" and use the first without a word
    "a column twice": (
        b"date,measure,value,date\n2024-04,ehcps,5696,2024-05\n",
        "the columns ['date'] appear more than once",
    ),
    "a negative count": (
        b"date,measure,value\n2024-04,ehcps,-5\n",
        "value: '-5' for ehcps is not a count",
    ),
    "a count as a percentage": (
        b"date,measure,value\n2024-04,ehcps,5696%\n",
        "value: '5696%' for ehcps is not a count",
    ),
    "a share above 100%": (
        b"date,measure,value\n2024-04,refused_share,150%\n",
        "value: '150%' for refused_share is not a share between 0 and 1",
    ),
    "a per cent written without the sign": (
        b"date,measure,value,plan\n2024-04,within_20_weeks,30.23,40%\n",
        "value: '30.23' for within_20_weeks is not a share between 0 and 1",
    ),
    "a day that does not exist": (
        b"date,measure,value\n2024-04-31,ehcps,5696\n",
        "date: '2024-04-31' is not a date",
    ),
    "a month with more after it": (
        b"date,measure,value\n2024-04xx,ehcps,5696\n",
        "date: '2024-04xx' is not a date",
    ),
    # a period that holds no month ended in an IndexError traceback
    "a period that starts after its date": (
        b"date,measure,value,period_start\n2024-04,requests,398,2024-06\n",
        "row 2, period_start: '2024-06' is after the date '2024-04'; a measure's period runs "
        "from period_start to its date",
    ),
    # a count at a month's end was read at the date and its period silently dropped
    "a period on a count of plans": (
        b"date,measure,value,period_start\n2024-06,share:inmss,6%,2024-04\n",
        "row 2, period_start: '2024-04' for share:inmss, which is counted at the end of its "
        "month (2024-06), not over a period; leave period_start empty",
    ),
}


@pytest.mark.parametrize("name", sorted(ACTUALS_CASES))
def test_bad_actuals_are_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expected = ACTUALS_CASES[name]
    actuals = tmp_path / "actuals.csv"
    actuals.write_bytes(content)
    assert main(["monitor", PLAN, str(actuals)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and expected in err, err


def test_a_register_with_a_column_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("date,measure,value\n2024-04,ehcps,5696\n")
    register = tmp_path / "register.csv"
    register.write_text("item,description,owner,rag,mitigation,rag\nC 3.1,x,,green,,red\n")
    assert main(["monitor", PLAN, str(actuals), "--register", str(register)]) == 2
    assert "the columns ['rag'] appear more than once" in capsys.readouterr().err


def test_a_savings_chart_without_interventions_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid scenario with no interventions: the savings chart ended in a traceback."""
    plain = tmp_path / "no_interventions.yaml"
    text = WORKED.split("\ninterventions:")[0] + "\n"
    plain.write_text(text, encoding="utf-8")
    assert main(["validate", str(plain)]) == 0
    capsys.readouterr()
    assert main(["plot", "savings", str(plain), "--out", str(tmp_path / "s.png")]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "the scenario has no interventions, so there are no savings to draw" in err
    assert not (tmp_path / "s.png").exists()


def test_a_register_item_twice_in_one_update_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ratings for one item in one update: which would the return show? (Both were.)"""
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("date,measure,value\n2024-04,ehcps,5696\n")
    register = tmp_path / "register.csv"
    register.write_text(
        "update,item,description,owner,rag,mitigation\n"
        "May 2024,C 3.1,x,,green,y\nMay 2024,C 3.1,z,,red,w\nNov 2024,C 3.1,x,,amber,y\n"
    )
    assert main(["monitor", PLAN, str(actuals), "--register", str(register)]) == 2
    assert (
        "row 3: 'C 3.1' is given again in May 2024 (first at row 2); each item once per update"
        in capsys.readouterr().err
    )


def test_thresholds_in_the_wrong_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("date,measure,value\n2024-04,ehcps,5696\n")
    args = ["monitor", PLAN, str(actuals), "--green", "0.1", "--amber", "0.05"]
    assert main(args) == 2
    assert "0 <= green <= amber" in capsys.readouterr().err
    # 2 for 2% rated every variance up to 200% green
    args = ["monitor", PLAN, str(actuals), "--green", "2", "--amber", "5"]
    assert main(args) == 2
    assert "green is 2.0, a variance of 200%; write 0.02 for 2%" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"green": "0.02"}, "green is '0.02'; it must be a number"),  # was numpy's TypeError
        ({"amber": float("inf")}, "amber is inf; it must be a number"),
        ({"directions": {"ehcps": "up"}}, "directions {'ehcps': 'up'}: use higher, lower"),
    ],
)
def test_thresholds_in_python_are_checked(settings: dict[str, Any], message: str) -> None:
    from dsg_forecast.reporting.monitoring import Thresholds

    with pytest.raises(ScenarioError, match=re.escape(message)):
        Thresholds(**settings)


# -- systematic cases: every numeric field, every section, every format and encoding -------

NUMERIC_LINES = re.findall(r"^(\s*([a-z_]+): -?[0-9.]+)", WORKED, re.M)
SECTIONS = re.findall(r"^([a-z_]+):", WORKED, re.M)


@pytest.mark.parametrize("word", ["yes", "on", "true"])
@pytest.mark.parametrize(("line", "field"), NUMERIC_LINES, ids=[f for _, f in NUMERIC_LINES])
def test_a_yes_or_true_in_any_number_field_is_refused(
    line: str, field: str, word: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(WORKED.replace(line, line.split(":")[0] + f": {word}", 1), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err, err


@pytest.mark.parametrize("section", SECTIONS)
def test_a_section_given_twice_is_refused(
    section: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second copy (here a harmless repeat of its first line) would silently win."""
    first = next(line for line in WORKED.splitlines() if line.startswith(f"{section}:"))
    path = tmp_path / "scenario.yaml"
    path.write_text(WORKED + "\n" + first + "\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert f"the key '{section}' is given twice in one mapping" in capsys.readouterr().err


def _as_json() -> str:
    import json

    from dsg_forecast.io.scenario_files import parse_scenario_text

    return json.dumps(parse_scenario_text(WORKED, "yaml"), indent=1, default=str)


@pytest.mark.parametrize("section", SECTIONS)
def test_a_json_key_given_twice_is_refused(
    section: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _as_json()
    text = text.replace(f'\n "{section}":', f'\n "{section}": null,\n "{section}":', 1)
    path = tmp_path / "scenario.json"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert f"the key '{section}' is given twice in one object" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-16", "is UTF-16 text"), ("utf-16-le", "is not UTF-8 text"),
     ("utf-32", "is UTF-32 text"), ("cp1252", "is not UTF-8 text: byte 0xa3")],
)  # fmt: skip
def test_text_that_is_not_utf8_is_refused_in_every_format(
    suffix: str, encoding: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = {".yaml": "name: £ plan\n", ".json": '{"name": "£ plan"}', ".toml": 'name = "£ plan"\n'}
    path = tmp_path / f"scenario{suffix}"
    path.write_bytes(text[suffix].encode(encoding))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err
