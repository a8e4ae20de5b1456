"""Words and number formats for what a finance officer reads.

Column codes (``in_year_balance``) stay in files and in the Python API; tables, workbooks,
charts and reports show the words here. Money is whole pounds with thousands separators,
plans are whole, shares are percentages; one-page HTML outputs share one plain style.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Final

LEDGER_LABELS: Final[dict[str, str]] = {
    "income": "Income",
    "high_needs_block": "High needs block (gross)",
    "recoupment": "Recoupment",
    "import_export": "Import/export adjustment",
    "block_transfers": "Transfers from other blocks",
    "other_income": "Other income",
    "placement_cost": "Placements",
    "place_funding": "Place funding",
    "top_up": "Top-ups",
    "fees": "Independent fees",
    "other_cost": "Other high-needs lines",
    "intervention_cost": "Mitigation costs",
    "expenditure": "Expenditure",
    "in_year_balance": "In-year balance",
    "dsg_in_year_balance": "In-year balance (whole DSG)",
    "other_blocks_balance": "Other blocks' balance",
    "contribution": "Contributions",
    "contribution_dfe_safety_valve": "DfE Safety Valve contribution",
    "contribution_council": "Council contribution",
    "contribution_write_off": "Write-off",
    "cumulative_balance": "Cumulative balance",
    "cumulative_balance_before_contributions": "Cumulative balance before contributions",
    "cumulative_dfe_safety_valve": "DfE Safety Valve received to date",
    "cumulative_council": "Council contributions to date",
    "cumulative_write_off": "Write-offs to date",
    "high_needs_cumulative_balance": "Cumulative balance (high needs)",
    "deficit_cap": "Deficit cap",
    "within_cap": "Within cap",
    "plans": "EHC plans",
    "negative_cap": "Cap (as a balance)",
}
"""Each ledger column (and ``plans``) in words."""


def label(code: str) -> str:
    """Return a column code in words (its entry in ``LEDGER_LABELS``, else the code spaced).

    Parameters
    ----------
    code
        A column code such as ``in_year_balance``.

    Returns
    -------
    str
        The words, such as "In-year balance".
    """
    return LEDGER_LABELS.get(code, code.replace("_", " ").capitalize())


def placeholder_warning(placeholders: list[str]) -> str | None:
    """Return the warning a scenario with placeholder figures carries, or None.

    Parameters
    ----------
    placeholders
        The scenario's ``placeholders`` (field paths).

    Returns
    -------
    str or None
        One sentence naming the fields, for the top of every output.
    """
    if not placeholders:
        return None
    fields = ", ".join(placeholders)
    return (
        f"PLACEHOLDER FIGURES: {fields} are defaults, not this council's figures; every "
        "amount that depends on them is illustrative until they are replaced"
    )


def money(value: float) -> str:
    """Return pounds as a finance officer writes them: "£1,234,567", "−£5", "-" if none.

    Parameters
    ----------
    value
        Pounds (NaN for no figure).

    Returns
    -------
    str
        Whole pounds with thousands separators and a minus sign for a deficit.
    """
    if value != value:
        return "-"
    rounded = round(value)
    return f"-£{-rounded:,.0f}" if rounded < 0 else f"£{rounded:,.0f}"


def count(value: float) -> str:
    """Return a number of plans, whole, with thousands separators ("-" if none).

    Parameters
    ----------
    value
        A count (NaN for no figure).

    Returns
    -------
    str
        The count rounded to a whole number.
    """
    return "-" if value != value else f"{round(value):,.0f}"


def percent(value: float, digits: int = 1) -> str:
    """Return a share as a percentage ("6.0%"; "-" if none).

    Parameters
    ----------
    value
        A share (0.06 for 6%), NaN for none.
    digits
        Decimal places.

    Returns
    -------
    str
        The percentage.
    """
    return "-" if value != value else f"{value * 100:.{digits}f}%"


#: The style of the one-page HTML outputs (comparison, monitoring return): plain tables
#: that print on A4 landscape.
PAGE_STYLE: Final = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;"
    "margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 6px;font-size:0.85em;"
    "vertical-align:top}td.n{text-align:right}@page{size:A4 landscape;margin:12mm}"
    "@media print{body{margin:0}svg{max-width:100%;height:auto}}"
)


def html_page(title: str, body: Iterable[str]) -> str:
    """Return a self-contained HTML page: ``title`` (escaped) and ``body`` (HTML as given).

    Parameters
    ----------
    title
        The page's title, in words.
    body
        The page's HTML, in pieces.

    Returns
    -------
    str
        The page, styled with :data:`PAGE_STYLE`.
    """
    head = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head><body>"
    )
    return "\n".join([head, *body, "</body></html>"])
