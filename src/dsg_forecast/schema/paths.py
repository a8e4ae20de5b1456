"""Dotted paths into a scenario: ``demand.plan_rate``, ``interventions[0].effects[1].share``.

Sweeps, goal seeks, fits and :meth:`Scenario.replace <dsg_forecast.schema.scenario.
Scenario.replace>` name a scenario's values by the same paths: sections and fields joined by
dots, list entries and mapping keys in brackets (``ceasing.rates[16]``,
``agreement.contributions[2025-26]``) or after a dot (``costs.fees.inmss``).
"""

from __future__ import annotations

import re
from typing import Any, Final

from dsg_forecast.errors import Issue, ScenarioError

_TOKEN: Final = re.compile(r"([^.\[\]]+)|\[([^\[\]]+)\]")


def parse_path(path: str) -> list[str]:
    """Split ``a.b[0].c[2024-25]`` into ``["a", "b", "0", "c", "2024-25"]``.

    Parameters
    ----------
    path
        A dotted path such as ``funding.block_transfers[2024-25]``.

    Returns
    -------
    list of str
        Its keys and indices, in order.

    Raises
    ------
    ScenarioError
        If the path is empty or malformed.
    """
    tokens: list[str] = []
    position = 0
    text = path.strip()
    while position < len(text):
        if text[position] == "." and tokens:
            position += 1
        match = _TOKEN.match(text, position)
        if match is None:
            raise ScenarioError(
                [
                    Issue(
                        path,
                        f"{path!r} is not a parameter path; write it like "
                        "'costs.unit_cost.inmss' or 'interventions[0].effects[0].multiply'",
                    )
                ]
            )
        tokens.append((match.group(1) or match.group(2)).strip())
        position = match.end()
    if not tokens:
        raise ScenarioError([Issue(path, "the parameter path is empty")])
    return tokens


def locate(data: Any, tokens: list[str], path: str) -> tuple[Any, Any]:
    """Return (container, key) of the path's leaf in a dumped scenario.

    Parameters
    ----------
    data
        A scenario dumped to plain data (``model_dump(by_alias=True)``).
    tokens
        The path's keys (:func:`parse_path`).
    path
        The path as written, for messages.

    Returns
    -------
    tuple
        The container holding the leaf, and the leaf's key (an index for a list).

    Raises
    ------
    ScenarioError
        If the path does not lead to a value of the scenario.
    """
    node = data
    for depth, token in enumerate(tokens):
        key: Any = token
        if isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                where = ".".join(tokens[:depth]) or "the scenario"
                raise ScenarioError(
                    [Issue(path, f"{where} has {len(node)} entries; {token!r} is not one of them")]
                )
            key = int(token)
        elif not isinstance(node, dict):
            where = ".".join(tokens[:depth])
            raise ScenarioError([Issue(path, f"{where} is a number, not a section")])
        if depth == len(tokens) - 1:
            return node, key
        if isinstance(node, dict) and key not in node:
            raise ScenarioError(
                [
                    Issue(
                        path,
                        f"{'.'.join(tokens[: depth + 1])} is not in the scenario; "
                        f"it has {sorted(map(str, node))}",
                    )
                ]
            )
        node = node[key]
    raise AssertionError("unreachable")  # pragma: no cover
