"""Turn a parsed mapping into a :class:`Scenario`, and pydantic errors into issues.

The schema owns parsing: whatever the file format (YAML, TOML, JSON, an Excel workbook or
a calibration built in Python), a mapping becomes a scenario here, and every problem comes
back as a :class:`~dsg_forecast.errors.ScenarioError` whose issues name the field path, the
value received and the rule broken.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Set
from typing import Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, ValidationError

from dsg_forecast.errors import Issue, ScenarioError
from dsg_forecast.schema import scenario as scenario_module
from dsg_forecast.schema.checks import ESSENTIAL_SECTIONS, cross_check
from dsg_forecast.schema.scenario import Scenario

#: Parts of a pydantic error location that name a type or validator, not a field.
_TYPE_TAGS: Final = frozenset({"float", "int", "str", "bool", "list", "dict", "tuple", "none"})


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for value in vars(scenario_module).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            for field_name, field in value.model_fields.items():
                names.add(field.alias or field_name)
    return names


#: Errors of a scalar branch of a union (``Growth | dict[str, Growth]``) given the other form.
_SCALAR_KINDS: Final = frozenset({"float_type", "int_type", "string_type", "bool_type"})

#: Kinds pydantic names with their arguments in brackets (``dict[str,float]``,
#: ``function-after[_check_growth(), constrained-float]``), told apart from a key of the
#: file that holds brackets too, such as a swept path ``capacity[0].places[2025-01]``.
_BRACKETED_KINDS: Final = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "union", "tagged-union", "nullable",
     "literal", "definition-ref", "json-or-python", "lax-or-strict", "is-instance", "chain",
     "default", "model", "dataclass", "typed-dict", "generator"}
)  # fmt: skip


def _is_type_tag(part: str) -> bool:
    if part in _TYPE_TAGS or part.startswith(("function-", "constrained-")):
        return True
    return "[" in part and part.partition("[")[0] in _BRACKETED_KINDS


def format_location(loc: tuple[int | str, ...], tags: frozenset[str] = frozenset()) -> str:
    """Turn a pydantic location into a dotted path such as ``interventions[0].start``.

    Parameters
    ----------
    loc
        A pydantic error location.
    tags
        Further parts to leave out: the tags of a model's tagged unions, which name the
        kind validated rather than a key of the file.

    Returns
    -------
    str
        The field path, type and validator tags left out (and pydantic's ``[key]``
        marker: the message names the key).
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_type_tag(part) or part in tags or part == "[key]":  # pydantic: a bad key
            continue
        elif path and not part.isidentifier():
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


#: A number in scientific notation, which YAML 1.1 reads as text without a decimal point.
_SCIENTIFIC: Final = re.compile(r"^\s*[+-]?\d+(\.\d*)?[eE][+-]?\d+\s*$")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def issues_from_validation_error(
    error: ValidationError,
    prefix: str = "",
    tags: frozenset[str] = frozenset(),
    known: frozenset[str] | None = None,
) -> list[Issue]:
    """Convert a pydantic error into issues: path, value received and rule broken.

    Parameters
    ----------
    error
        A pydantic validation error.
    prefix
        A path put before every issue's path (for example ``sweep``).
    tags
        Parts of the errors' locations to leave out (:func:`format_location`).
    known
        The keys a misspelt key is compared with (by default every key of a scenario).

    Returns
    -------
    list of Issue
        One issue per field, with a suggestion for a misspelt key.
    """
    issues: list[Issue] = []
    by_path: dict[str, list[str]] = {}
    wrong_form: dict[str, set[str]] = {}
    keys = frozenset(_all_field_names()) if known is None else known
    for entry in error.errors():
        ctx = entry.get("ctx") or {}
        original = ctx.get("error")
        if isinstance(original, ScenarioError):
            issues.extend(original.issues)
            continue
        loc = tuple(entry["loc"])
        path = format_location(loc, tags)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        kind = entry["type"]
        message = entry["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            name = str(loc[-1])
            close = difflib.get_close_matches(name, keys - {name}, n=1)  # (valid elsewhere)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"unknown key {name!r}{hint}"
        elif kind == "missing":
            message = "is required but missing"
        elif not isinstance(entry["input"], Mapping | list):
            message = f"{_short(entry['input'])}: {message[0].lower()}{message[1:]}"
            if kind == "int_parsing" and _SCIENTIFIC.match(str(entry["input"])):
                number = float(entry["input"])
                whole = f"{int(number)}" if number.is_integer() else "a whole number"
                message += f"; YAML reads {str(entry['input']).strip()} as text: write {whole}"
            elif kind in ("float_parsing", "int_parsing"):
                message += _spreadsheet_hint(str(entry["input"]).strip())
        elif kind in _SCALAR_KINDS:
            # a mapping or list where a number (or a mapping) may stand: the number's branch
            # of the union failed on it; said only if nothing inside the mapping is wrong
            if kind in ("float_type", "int_type"):  # was "Input should be a valid number"
                shape = "a mapping" if isinstance(entry["input"], Mapping) else "a list"
                message = f"{_short(entry['input'])}: {shape} where one number belongs"
            wrong_form.setdefault(path, set()).add(message)
        by_path.setdefault(path, [])
        if message not in by_path[path]:
            by_path[path].append(message)
    for path, said in by_path.items():
        deeper = any(other.startswith((f"{path}.", f"{path}[")) for other in by_path)
        kept = [m for m in said if not (deeper and m in wrong_form.get(path, set()))]
        if kept:
            issues.append(Issue(path, " — or — ".join(kept)))
    return issues


def _spreadsheet_hint(text: str) -> str:
    """Say how to write a number typed as a spreadsheet shows it (1,200, £64,000, 15%).

    >>> _spreadsheet_hint("15%")
    '; a share is a fraction: write 0.15 for 15%'
    >>> _spreadsheet_hint("£64,000")
    '; write the number alone, without thousands separators or £'
    """
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            share = None
        if share is not None:
            return f"; a share is a fraction: write {share:g} for {text}"
    if any(mark in text for mark in ",£"):
        return "; write the number alone, without thousands separators or £"
    return ""


BOOLEAN_FIELDS: Final = frozenset({"withhold_when_conditions_missed", "replaces_safety_valve"})
"""The only fields whose values are true or false; anywhere else a boolean is refused."""


def boolean_issues(data: Any, path: str = "") -> list[Issue]:
    """Return an issue for every true/false value where a number or text belongs.

    YAML 1.1 reads ``yes``, ``no``, ``on`` and ``off`` as booleans, and a validator would
    quietly take ``true`` as the number 1: both change a file's meaning without a word.

    Parameters
    ----------
    data
        A parsed mapping (or any part of one).
    path
        Where ``data`` sits, for messages.

    Returns
    -------
    list[Issue]
        One per misplaced boolean, naming its field.
    """
    issues: list[Issue] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, bool):
                if str(key) not in BOOLEAN_FIELDS:
                    issues.append(
                        Issue(
                            f"{path}.{key}" if path else str(key),
                            f"{value!r} is a true/false value where a number or text belongs "
                            "(in YAML, yes/no/on/off are true/false: write the number, or "
                            "quote the text)",
                        )
                    )
            elif not isinstance(value, _LEAVES):  # a number or text holds no boolean
                issues += boolean_issues(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list | tuple):
        for number, value in enumerate(data):
            if isinstance(value, bool):
                issues.append(
                    Issue(
                        f"{path}[{number}]",
                        f"{value!r} is a true/false value where a number belongs",
                    )
                )
            elif not isinstance(value, _LEAVES):
                issues += boolean_issues(value, f"{path}[{number}]")
    return issues


#: Values :func:`boolean_issues` need not look inside (a bool is an int: tested first).
_LEAVES: Final = (int, float, str, type(None))


def scenario_from_mapping(
    data: Mapping[str, Any], source: str | None = None, *, every_problem: bool = True
) -> Scenario:
    """Validate a parsed mapping into a :class:`Scenario`, raising :class:`ScenarioError`.

    With ``every_problem`` (the default), the rules across fields also run on the sections
    that are valid when others are not, so a file's problems all show at once; callers that
    change one value of a valid scenario (sweeps probing their paths) turn it off.

    Parameters
    ----------
    data
        The parsed sections.
    source
        Where the mapping came from, for messages.
    every_problem
        Also run the rules across fields on the valid sections when others are invalid.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Listing every problem found.
    """
    stray = boolean_issues(data)
    if stray:
        raise ScenarioError(stray, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        issues = issues_from_validation_error(exc)
        failed = {str(entry["loc"][0]) for entry in exc.errors() if entry["loc"]}
        if every_problem and failed:
            issues += cross_check_partial(data, failed)
        raise ScenarioError(issues, source) from None


scenario_module.VALIDATOR[:] = [scenario_from_mapping]


@functools.cache
def _section_adapter(name: str) -> TypeAdapter[Any]:
    """Return a validator for one section of a scenario on its own (built once)."""
    info = Scenario.model_fields[name]
    kind: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(kind)


def cross_check_partial(data: Mapping[str, Any], failed: Set[str]) -> list[Issue]:
    """Return the cross-field problems of a scenario some of whose sections are invalid.

    So that a file's problems all show on one screen: each section not named in ``failed``
    is validated on its own, and every cross-field rule that reads only valid sections is
    applied. Returns nothing when a section every rule reads (span, ages, placements) is
    invalid or missing.

    Parameters
    ----------
    data
        The parsed sections.
    failed
        The sections that failed validation on their own.

    Returns
    -------
    list of Issue
        The problems across the valid sections.
    """
    if failed & ESSENTIAL_SECTIONS:
        return []
    values: dict[str, Any] = {}
    skip = set(failed)
    for name, info in Scenario.model_fields.items():
        if name in failed:
            continue
        if name not in data:
            if info.is_required():
                skip.add(name)
            continue
        try:
            values[name] = _section_adapter(name).validate_python(data[name])
        except ValidationError:
            skip.add(name)
    if skip & ESSENTIAL_SECTIONS:
        return []
    issues, _ = cross_check(Scenario.model_construct(**values), frozenset(skip))
    return issues
