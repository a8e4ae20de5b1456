"""Read scenario files (YAML, TOML, JSON) and opening-stock CSVs.

Every problem comes back as a :class:`~dsg_forecast.errors.ScenarioError` listing each
issue with its field path, the value received and the rule broken, never as a traceback
from deep inside a parser.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.schema import scenario as scenario_module
from dsg_forecast.schema.scenario import Scenario, cross_check_partial

SUFFIXES: Final = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}

#: Parts of a pydantic error location that name a type or validator, not a field.
_TYPE_TAGS: Final = frozenset({"float", "int", "str", "bool", "list", "dict", "tuple", "none"})


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for value in vars(scenario_module).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            for field_name, field in value.model_fields.items():
                names.add(field.alias or field_name)
    return names


def _is_type_tag(part: str) -> bool:
    return part in _TYPE_TAGS or "[" in part or part.startswith(("function-", "constrained-"))


def format_location(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into a dotted path such as ``interventions[0].start``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_type_tag(part):
            continue
        elif path and not part.isidentifier():
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def issues_from_validation_error(error: ValidationError, prefix: str = "") -> list[Issue]:
    """Convert a pydantic error into issues: path, value received and rule broken."""
    issues: list[Issue] = []
    by_path: dict[str, list[str]] = {}
    known = _all_field_names()
    for entry in error.errors():
        ctx = entry.get("ctx") or {}
        original = ctx.get("error")
        if isinstance(original, ScenarioError):
            issues.extend(original.issues)
            continue
        loc = tuple(entry["loc"])
        path = format_location(loc)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        kind = entry["type"]
        message = entry["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            name = str(loc[-1])
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"unknown key {name!r}{hint}"
        elif kind == "missing":
            message = "is required but missing"
        elif not isinstance(entry["input"], Mapping | list):
            message = f"{_short(entry['input'])}: {message[0].lower()}{message[1:]}"
        by_path.setdefault(path, [])
        if message not in by_path[path]:
            by_path[path].append(message)
    for path, messages in by_path.items():
        issues.append(Issue(path, " — or — ".join(messages)))
    return issues


def parse_scenario_text(text: str, kind: str, source: str = "<text>") -> dict[str, Any]:
    """Parse scenario text of a given kind (``yaml``, ``toml`` or ``json``) into a mapping.

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
            data = yaml.safe_load(text)
        elif kind == "toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([Issue("", f"YAML syntax error{where}: {problem}")], source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue("", f"TOML syntax error: {exc}")], source) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            [Issue("", f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
            source,
        ) from None
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

    Raises
    ------
    ScenarioError
        If the file is missing, or a cell is not a number.
    """
    file = Path(path)
    source = str(file)
    if not file.is_file():
        raise ScenarioError([Issue("opening_stock.csv", f"file not found: {file}")])
    with file.open(newline="", encoding="utf-8-sig") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    header = [name.strip() for name in (reader.fieldnames or [])]
    if "age" not in header:
        raise ScenarioError([Issue("", f"{source}: needs a column 'age'; found columns {header}")])
    long = {"placement", "count"} <= set(header)
    out: dict[str, dict[str, float]] = {}
    issues: list[Issue] = []
    for line_number, raw in enumerate(reader, start=2):
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key}
        age = row["age"]
        cells = (
            {row["placement"]: row["count"]}
            if long
            else {key: value for key, value in row.items() if key != "age"}
        )
        for placement, cell in cells.items():
            try:
                count = float(cell) if cell else 0.0
            except ValueError:
                issues.append(
                    Issue(
                        "",
                        f"{source} row {line_number}, column {placement!r}: "
                        f"{cell!r} is not a number",
                    )
                )
                continue
            if not math.isfinite(count):
                issues.append(Issue("", f"{source} row {line_number}: {cell!r} is not finite"))
                continue
            by_age = out.setdefault(placement, {})
            by_age[age] = by_age.get(age, 0.0) + count
    if issues:
        raise ScenarioError(issues)
    return out


def _resolve_stock_file(data: dict[str, Any], base: Path) -> None:
    stock = data.get("opening_stock")
    if isinstance(stock, Mapping) and set(stock) == {"csv"}:
        data["opening_stock"] = read_stock_csv(base / str(stock["csv"]))


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file (``.yaml``, ``.yml``, ``.toml``, ``.json`` or ``.xlsx``).

    ``opening_stock: {csv: stock.csv}`` reads the stock from a CSV beside the file (see
    :func:`read_stock_csv`). A ``sweep:`` section is ignored here (see
    :func:`dsg_forecast.sweeps.load_sweep`).

    Raises
    ------
    ScenarioError
        Listing every problem found, each with its field path, value and rule.
    """
    file = Path(path)
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
    return scenario_from_data(data, file.parent, str(file))


def scenario_from_data(data: dict[str, Any], folder: Path, source: str) -> Scenario:
    """Validate a parsed scenario whose stock CSV, if any, is relative to ``folder``."""
    try:
        _resolve_stock_file(data, folder)
    except ScenarioError as exc:
        raise ScenarioError(exc.issues, source) from None
    return scenario_from_mapping(data, source)


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML, TOML or JSON file into a mapping (errors as :class:`ScenarioError`)."""
    file = Path(path)
    if not file.is_file():
        raise ScenarioError([Issue("", f"file not found: {file}")], str(file))
    kind = SUFFIXES.get(file.suffix.lower())
    if kind is None:
        raise ScenarioError(
            [Issue("", f"unknown file type {file.suffix!r}; use one of {sorted(SUFFIXES)}")],
            str(file),
        )
    return parse_scenario_text(file.read_text(encoding="utf-8"), kind, str(file))


def scenario_from_mapping(
    data: Mapping[str, Any], source: str | None = None, *, every_problem: bool = True
) -> Scenario:
    """Validate a parsed mapping into a :class:`Scenario`, raising :class:`ScenarioError`.

    With ``every_problem`` (the default), the rules across fields also run on the sections
    that are valid when others are not, so a file's problems all show at once; callers that
    change one value of a valid scenario (sweeps probing their paths) turn it off.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        issues = issues_from_validation_error(exc)
        failed = {str(entry["loc"][0]) for entry in exc.errors() if entry["loc"]}
        if every_problem and failed:
            issues += cross_check_partial(data, failed)
        raise ScenarioError(issues, source) from None
