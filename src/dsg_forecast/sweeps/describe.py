"""Scenario paths in words, and their values as a finance officer reads them.

Sweeps, sensitivity, tornadoes, goal seeks and fits name numbers by path
(``interventions[0].effects[0].multiply``); what they print and draw names them in words
("Earlier support and inclusion: requests ×"), with each value in its unit: pounds, a
percentage, a multiplier or a count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from dsg_forecast.schema.paths import parse_path

if TYPE_CHECKING:
    from dsg_forecast.schema import Scenario

FIELDS: Final[dict[str, str]] = {
    "demand.requests_per_year": "Requests a year",
    "demand.requests_growth": "Requests growth",
    "demand.refusal_rate": "Refusal rate",
    "demand.plan_rate": "Plan rate",
    "demand.assessment_months": "Assessment time (months)",
    "demand.assessment_capacity": "Assessment capacity",
    "demand.opening_backlog": "Opening backlog",
    "demand.new_plan_mix": "New plans' placement",
    "demand.new_plan_ages": "New plans' ages",
    "net_transfer_rate": "Net transfer rate",
    "net_transfer_by_placement": "Net transfer rate by placement",
    "ceasing.rates": "Ceasing rate",
    "costs.unit_cost": "Unit cost",
    "costs.top_up": "Top-up",
    "costs.fees": "Fees",
    "costs.place_funding": "Place funding",
    "costs.uplift": "Price growth",
    "funding.high_needs_block": "High needs block",
    "funding.growth": "High needs block growth",
    "funding.per_year": "High needs block",
    "funding.recoupment": "Recoupment",
    "funding.import_export": "Net pupils imported",
    "funding.import_export_rate": "Import/export rate",
    "funding.block_transfers": "Block transfer",
    "funding.schools_block": "Schools block",
    "funding.schools_block_transfer": "Schools block transfer",
    "funding.other_income": "Other income",
    "funding.other_blocks_balance": "Other blocks' balance",
    "agreement.opening_balance": "Opening balance",
    "agreement.contributions": "DfE contribution",
    "agreement.council_contributions": "Council contribution",
    "agreement.deficit_caps": "Deficit cap",
}
"""Each field's words, keyed by the path without list positions and mapping keys."""

MONEY: Final = (
    "costs.unit_cost", "costs.top_up", "costs.fees", "costs.place_funding",
    "funding.high_needs_block", "funding.per_year", "funding.recoupment",
    "funding.import_export_rate", "funding.block_transfers", "funding.schools_block",
    "funding.other_income", "funding.other_blocks_balance", "agreement",
    "costs.other_lines", "interventions.costs", "interventions.savings_target",
)  # fmt: skip
"""Paths (or their starts) whose values are pounds."""

SHARES: Final = frozenset(
    {"rate", "rates", "growth", "requests_growth", "refusal_rate", "plan_rate", "uplift",
     "share", "net_transfer_rate", "net_transfer_by_placement", "schools_block_transfer"}
)  # fmt: skip
"""Path keys whose values are fractions, shown as percentages."""


def parameter_label(scenario: Scenario, path: str) -> str:
    """Return a scenario path in words.

    Parameters
    ----------
    scenario
        The scenario the path is in (its placements' labels and interventions' names).
    path
        A sweepable path, such as ``costs.fees.inmss`` or
        ``interventions[0].effects[0].multiply``.

    Returns
    -------
    str
        For example "Fees: Independent and non-maintained special" or
        "Earlier support and inclusion: requests ×".
    """
    keys = parse_path(path)
    names = {p.name: p.shown for p in scenario.placements}
    if keys[0] == "interventions" and len(keys) > 1 and keys[1].isdigit():
        return _intervention_label(scenario, keys, names)
    if keys[0] == "costs" and len(keys) > 2 and keys[1] == "other_lines" and keys[2].isdigit():
        line = scenario.costs.other_lines[int(keys[2])].name
        return _first_upper(f"{line}: {keys[-1].replace('_', ' ')}")
    if keys[0] in ("transitions", "capacity") and len(keys) > 1 and keys[1].isdigit():
        return _rule_label(scenario, keys, names)
    for cut in range(len(keys), 0, -1):
        field = ".".join(keys[:cut])
        if field in FIELDS:
            rest = [names.get(key, key.replace("_", " ")) for key in keys[cut:]]
            if field == "ceasing.rates":
                rest = [f"age {key}" for key in rest]
            return FIELDS[field] + (f": {', '.join(rest)}" if rest else "")
    return " ".join(key.replace("_", " ") for key in keys).capitalize()


def _intervention_label(scenario: Scenario, keys: list[str], names: dict[str, str]) -> str:
    number = int(keys[1])
    name = scenario.interventions[number].name if number < len(scenario.interventions) else ""
    name = _first_upper(name)
    if len(keys) > 4 and keys[2] == "effects" and keys[3].isdigit():
        effect = scenario.interventions[number].effects[int(keys[3])]
        what = effect.lever.replace("_", " ")
        if effect.from_:
            to = effect.to or ""
            what += f" {names.get(effect.from_, effect.from_)} → {names.get(to, to)}"
        elif effect.placement:
            what += f" {names.get(effect.placement, effect.placement)}"
        sign = {"multiply": "×", "add": "+", "share": "share"}.get(keys[4], keys[4])
        return f"{name}: {what} {sign}"
    return f"{name}: {' '.join(k.replace('_', ' ') for k in keys[2:])}"


def _rule_label(scenario: Scenario, keys: list[str], names: dict[str, str]) -> str:
    number = int(keys[1])
    if keys[0] == "transitions":
        rule = scenario.transitions[number]
        moves = f"{names.get(rule.from_, rule.from_)} → {names.get(rule.to, rule.to)}"
        return f"Moves {moves}: {' '.join(keys[2:]).replace('_', ' ')}"
    limit = scenario.capacity[number]
    return f"Places: {names.get(limit.placement, limit.placement)} {' '.join(keys[3:])}".strip()


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def format_value(path: str, value: float) -> str:
    """Return a value of the number at ``path`` in its unit.

    Parameters
    ----------
    path
        The path the value is for.
    value
        The value.

    Returns
    -------
    str
        Pounds for money ("£64,000"), a percentage for a rate or share ("4.8%"), "× 0.84"
        for a multiplier, else the number with thousands separators.
    """
    if value != value:
        return "-"
    keys = parse_path(path)
    bare = ".".join(k for k in keys if not k.isdigit())
    if keys[-1] == "multiply":
        return f"× {value:.3g}"
    if bare.startswith(MONEY) or keys[-1] == "amount":
        rounded = round(value)
        return f"-£{-rounded:,}" if rounded < 0 else f"£{rounded:,}"
    if SHARES & set(keys):
        return f"{100 * value:.1f}%"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
