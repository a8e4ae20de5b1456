"""Read scenario files (YAML, TOML, JSON) and opening-stock CSVs.

Every problem comes back as a :class:`~dsg_forecast.errors.ScenarioError` listing each
issue with its field path, the value received and the rule broken, never as a traceback
from deep inside a parser.
"""

from __future__ import annotations

import csv
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from dsg_forecast.errors import Issue, ScenarioError, as_path
from dsg_forecast.io.strict import (
    MAX_DEPTH,
    check_depth,
    load_json,
    load_yaml,
    read_text,
    without_comment_lines,
)
from dsg_forecast.schema.fields import is_age_key
from dsg_forecast.schema.parsing import scenario_from_mapping
from dsg_forecast.schema.scenario import Scenario

SUFFIXES: Final = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}


def parse_scenario_text(text: str, kind: str, source: str = "<text>") -> dict[str, Any]:
    """Parse scenario text of a given kind (``yaml``, ``toml`` or ``json``) into a mapping.

    Parameters
    ----------
    text
        The file's text.
    kind
        ``yaml``, ``toml`` or ``json``.
    source
        The file's name, for messages.

    Returns
    -------
    dict
        The parsed sections, not yet validated.

    Raises
    ------
    ScenarioError
        If the text is empty, is not valid syntax, or is not a mapping at the top.
    """
    if not text.strip():
        raise ScenarioError(
            [
                Issue(
                    "",
                    "the file is empty; a scenario needs at least start, end, "
                    "placements, opening_stock, demand, ceasing, costs and "
                    "funding",
                )
            ],
            source,
        )
    try:
        if kind == "yaml":
            data = load_yaml(text)
        elif kind == "toml":
            data = tomllib.loads(text)
        else:
            data = load_json(text)
    except ScenarioError as exc:
        raise ScenarioError(exc.issues, source) from None
    except RecursionError:
        msg = f"the file nests more than {MAX_DEPTH} levels deep; a scenario nests about six"
        raise ScenarioError([Issue("", msg)], source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if mark and "cannot start any token" in problem:  # libyaml does not say which
            lines = text.splitlines() or [""]
            found = lines[min(mark.line, len(lines) - 1)][mark.column : mark.column + 1]
            tab = " (YAML indents with spaces, never tabs)" if found == "\t" else ""
            problem = f"{problem}: {found!r}{tab}" if found else problem
        raise ScenarioError([Issue("", f"YAML syntax error{where}: {problem}")], source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue("", f"TOML syntax error: {exc}")], source) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            [Issue("", f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
            source,
        ) from None
    check_depth(data, source)
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ScenarioError(
            [Issue("", f"the top of a scenario file must be a mapping of sections, got {got}")],
            source,
        )
    return data


def read_stock_csv(path: str | Path) -> dict[str, dict[str, float]]:
    """Read opening stock from a CSV into ``{placement: {age: count}}``.

    Two layouts are accepted: wide (a column ``age``, then one column per placement) and
    long (columns ``age``, ``placement`` and ``count``). Ages may be bands such as
    ``16-18``. Lines starting with ``#`` are comments (use them for the source).

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    dict
        Placement → age (or band) → plans.

    Raises
    ------
    ScenarioError
        If the file is missing, or a cell is not a number.
    ArgumentTypeError
        If ``path`` is not a path.
    """
    file = as_path(path, "a file's path", "path")
    source = str(file)
    text = read_text(file, "opening_stock.csv")
    numbered = [
        (number, line)
        for number, line in enumerate(without_comment_lines(text).splitlines(), start=1)
        if line.strip()
    ]
    if not numbered:
        raise ScenarioError([Issue("opening_stock.csv", f"{source} has no rows")])
    rows = list(csv.reader([line for _, line in numbered]))
    header = [name.strip() for name in rows[0]]
    issues = _header_issues(header, source)
    if issues:
        raise ScenarioError(issues)
    long = {"placement", "count"} <= set(header)
    out: dict[str, dict[str, float]] = {}
    seen: dict[tuple[str, str], int] = {}
    for (line_number, _), cells in zip(numbered[1:], rows[1:], strict=True):
        if len(cells) != len(header):
            issues.append(_ragged(source, line_number, len(cells), len(header)))
            continue
        row = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        age = row["age"]
        if not is_age_key(age):  # named by row, not as the last column's bad key
            hint = "; remove a totals row" if age.lower().startswith(("total", "all")) else ""
            message = (
                f"{source} row {line_number}, age: {age!r} is not an age or an age band "
                f"(write 5 or 16-18){hint}"
            )
            issues.append(Issue("opening_stock.csv", message))
            continue
        values = (
            {row["placement"]: row["count"]}
            if long
            else {key: value for key, value in row.items() if key != "age"}
        )
        for placement, cell in values.items():
            if (age, placement) in seen:
                message = (
                    f"{source} row {line_number}: age {age!r}, {placement!r} is given again "
                    f"(first at row {seen[(age, placement)]}); each once"
                )
                issues.append(Issue("opening_stock.csv", message))
                continue
            seen[(age, placement)] = line_number
            count = _count(cell, source, line_number, placement, issues)
            if count is not None:
                out.setdefault(placement, {})[age] = count
    if issues:
        raise ScenarioError(issues)
    return out


def _header_issues(header: list[str], source: str) -> list[Issue]:
    """Return what is wrong with a stock CSV's header: no age column, a column twice."""
    issues = []
    if "age" not in header:
        message = f"{source}: needs a column 'age'; found {header}"
        if len(header) == 1 and any(mark in header[0] for mark in ";\t"):
            message += " (one column: separate the columns with commas)"
        issues.append(Issue("opening_stock.csv", message))
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        message = f"{source}: the columns {repeated} appear more than once; keep one of each"
        issues.append(Issue("opening_stock.csv", message))
    if "" in header:
        issues.append(Issue("opening_stock.csv", f"{source}: a column has no name"))
    return issues


def _ragged(source: str, line: int, cells: int, expected: int) -> Issue:
    message = f"{source} row {line} has {cells} cells; the header has {expected}"
    return Issue("opening_stock.csv", message)


def _count(cell: str, source: str, line: int, placement: str, issues: list[Issue]) -> float | None:
    """Return a stock cell as a number (empty: 0), or note why it is not one."""
    try:
        count = float(cell) if cell else 0.0
    except ValueError:
        message = f"{source} row {line}, column {placement!r}: {cell!r} is not a number"
        if "," in cell:
            message += "; write it without thousands separators"
        issues.append(Issue("opening_stock.csv", message))
        return None
    if not math.isfinite(count) or count < 0:
        message = f"{source} row {line}, column {placement!r}: {cell!r} must be a count ≥ 0"
        issues.append(Issue("opening_stock.csv", message))
        return None
    return count


def _resolve_stock_file(data: dict[str, Any], base: Path) -> None:
    stock = data.get("opening_stock")
    if isinstance(stock, Mapping) and set(stock) == {"csv"}:
        data["opening_stock"] = read_stock_csv(base / str(stock["csv"]))


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file (``.yaml``, ``.yml``, ``.toml``, ``.json`` or ``.xlsx``).

    ``opening_stock: {csv: stock.csv}`` reads the stock from a CSV beside the file (see
    :func:`read_stock_csv`). ``sweep:`` and ``fit:`` sections are ignored here (see
    :func:`dsg_forecast.sweeps.load_sweep` and :func:`dsg_forecast.sweeps.fit.load_fit`).

    Parameters
    ----------
    path
        The scenario file.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Listing every problem found, each with its field path, value and rule.
    ArgumentTypeError
        If ``path`` is not a path.

    Examples
    --------
    >>> from dsg_forecast import load_scenario
    >>> scenario = load_scenario("examples/worked_example.yaml")
    >>> scenario.start, scenario.end, scenario.placement_names
    ('2024-04', '2027-03', ('mainstream', 'special', 'inmss'))
    """
    file = as_path(path, "a file's path", "path")
    if file.suffix.lower() == ".xlsx":
        if not file.is_file():
            raise ScenarioError([Issue("", f"file not found: {file}")], str(file))
        from dsg_forecast.io.workbook import read_workbook

        return read_workbook(file)
    data = read_mapping(file)
    if "base" in data:
        raise ScenarioError(
            [
                Issue(
                    "base",
                    "this is a sweep file (it names a base scenario); run it with "
                    "'dsg-forecast sweep', or load it with dsg_forecast.sweeps.load_sweep",
                )
            ],
            str(file),
        )
    data.pop("sweep", None)
    data.pop("fit", None)
    return scenario_from_data(data, file.parent, str(file))


def scenario_from_data(data: dict[str, Any], folder: Path, source: str) -> Scenario:
    """Validate a parsed scenario whose stock CSV, if any, is relative to ``folder``.

    Parameters
    ----------
    data
        The parsed sections.
    folder
        The folder an ``opening_stock: {csv: ...}`` file is read from.
    source
        The file's name, for messages.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Listing every problem found.
    """
    try:
        _resolve_stock_file(data, folder)
    except ScenarioError as exc:
        raise ScenarioError(exc.issues, source) from None
    return scenario_from_mapping(data, source)


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML, TOML or JSON file into a mapping (errors as :class:`ScenarioError`).

    Parameters
    ----------
    path
        A ``.yaml``, ``.yml``, ``.toml`` or ``.json`` file.

    Returns
    -------
    dict
        The parsed sections, not yet validated.

    Raises
    ------
    ScenarioError
        If the file is missing, of an unknown type, empty or not valid syntax.
    """
    file = as_path(path, "a file's path", "path")
    if file.is_dir():
        raise ScenarioError([Issue("", f"{file} is a folder, not a file")], str(file))
    kind = SUFFIXES.get(file.suffix.lower())
    if kind is None:
        raise ScenarioError(
            [Issue("", f"unknown file type {file.suffix!r}; use one of {sorted(SUFFIXES)}")],
            str(file),
        )
    return parse_scenario_text(read_text(file), kind, str(file))
