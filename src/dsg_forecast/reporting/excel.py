"""Write a projection to an Excel workbook a finance officer can use as it is.

Sheets: ``Summary`` (the headlines and key measures), ``Ledger`` (by financial year, with a
chart of the cumulative balance against the caps), ``Monthly``, ``Stock by placement``,
``Savings`` and ``Savings by condition``. Money has a £ number format, rates a % format,
counts one decimal; header rows are frozen and columns sized to fit.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from dsg_forecast.errors import as_path
from dsg_forecast.io.output import check_target, written_atomically
from dsg_forecast.reporting.labels import label
from dsg_forecast.results import check_projection

if TYPE_CHECKING:
    from dsg_forecast.results import Projection

POUNDS: Final = "£#,##0;[Red]-£#,##0"
COUNT: Final = "#,##0.0"
PERCENT: Final = "0.0%"
COLUMN_WORDS: Final = {
    "financial_year": "Financial year", "month": "Month", "stock": "EHC plans",
    "requests": "Requests", "assessments": "Assessments finished", "new_plans": "New plans",
    "ceased": "Plans ceased", "transferred": "Net transfers in", "aged_out": "Aged out",
    "backlog": "Assessment backlog", "moves_up": "Moves up", "moves_down": "Moves down",
    "overflow": "Overflow (no place)", "intervention": "Intervention", "condition": "Condition",
    "gross_saving": "Gross saving", "net_saving": "Net saving",
    "negative_cap": "Cap (as a balance)",
}  # fmt: skip
"""Column codes of the monthly, savings and stock sheets in words (ledger columns: labels)."""


#: Each sheet's number format of a number, by its column's heading and its row's label.
#: Set per sheet, not guessed from words in the heading: "Net transfers in" counts plans,
#: "Placements" on the Ledger is pounds, and the Summary mixes pounds and plans in one column.
SHEET_FORMATS: Final[dict[str, Callable[[str, str], str]]] = {
    "Summary": lambda heading, row: POUNDS if row.endswith("(£)") else COUNT,
    "Ledger": lambda heading, row: POUNDS,  # every line of the ledger is money
    "Monthly": lambda heading, row: POUNDS if heading.endswith("(£)") else COUNT,
    "Stock by placement": lambda heading, row: PERCENT if heading.startswith("Share") else COUNT,
    "Savings": lambda heading, row: POUNDS,
    "Savings by condition": lambda heading, row: POUNDS,
}


def _format_sheet(sheet: Any, frame: pd.DataFrame, *, index_label: str | None) -> None:
    """Bold, wrapped, frozen headers; each number in its sheet's format; columns sized."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    number_format = SHEET_FORMATS[sheet.title]
    headers = ([index_label] if index_label else []) + [str(c) for c in frame.columns]
    rows = [str(sheet.cell(row=row, column=1).value) for row in range(1, sheet.max_row + 1)]
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=column)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        width = max(len(header), 10) + 2
        for row in range(2, sheet.max_row + 1):
            value = sheet.cell(row=row, column=column).value
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and column > (1 if index_label else 0)
            ):
                sheet.cell(row=row, column=column).number_format = number_format(
                    header, rows[row - 1]
                )
            width = max(width, min(len(str(value)) + 2, 40) if value is not None else 0)
        sheet.column_dimensions[get_column_letter(column)].width = min(width, 42)
    sheet.freeze_panes = "B2" if index_label else "A2"


def _ledger_chart(sheet: Any, rows: int, columns: list[str]) -> None:
    from openpyxl.chart import LineChart, Reference

    chart = LineChart()
    chart.title = "Cumulative DSG balance and the deficit caps (£)"
    chart.y_axis.title = "£"
    chart.x_axis.title = "Financial year"
    chart.height, chart.width = 9, 18
    for name in (label("cumulative_balance"), COLUMN_WORDS["negative_cap"]):
        if name in columns:
            column = columns.index(name) + 2
            data = Reference(sheet, min_col=column, min_row=1, max_row=rows + 1)
            chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=rows + 1))
    sheet.add_chart(chart, f"B{rows + 4}")


def _headline(projection: Projection) -> pd.DataFrame:
    """Return the Summary sheet: the headlines, one measure a row."""
    summary = projection.summary
    monthly = projection.monthly
    return pd.DataFrame(
        {
            "value": [
                projection.scenario.name,
                summary.balance_target or "none",
                "no target" if summary.target_met is None else summary.target_verdict(),
                summary.first_balanced_year or "none in the projection",
                summary.largest_deficit,
                summary.largest_deficit_year or "",
                summary.closing_balance,
                "yes" if summary.within_all_caps else "NO",
                float(monthly["stock"].iloc[-1]),
            ]
        },
        index=pd.Index(
            [
                "scenario",
                "balance target (in-year balance >= 0 from)",
                "balance target",
                "first balanced year",
                "largest deficit (£)",
                "largest deficit at the end of",
                "closing cumulative balance (£)",
                "within every cap",
                "plans at the end of the projection",
            ],
            name="measure",
        ),
    )


def write_excel(projection: Projection, path: str | Path, *, force: bool = False) -> Path:
    """Write the projection's results to an ``.xlsx`` workbook; returns the path.

    Parameters
    ----------
    projection
        The projection to write.
    path
        The ``.xlsx`` file to write.
    force
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        The workbook written (sheets: Summary, Ledger with a chart, Monthly, Stock by
        placement, Savings, Savings by condition).

    Raises
    ------
    ArgumentTypeError
        If ``path`` is not a path.
    OutputError
        If the file may not be written (see :func:`~dsg_forecast.io.output.check_target`).
    """
    check_projection(projection)
    target = as_path(path)
    ledger = projection.ledger.copy()
    ledger["within_cap"] = [
        "" if pd.isna(value) else ("yes" if value else "NO") for value in ledger["within_cap"]
    ]
    ledger["negative_cap"] = -ledger["deficit_cap"]  # on the balance's scale, for the chart
    monthly = projection.monthly
    stock = monthly.filter(like="stock_").rename(columns=lambda c: c.removeprefix("stock_"))
    shares = stock.div(stock.sum(axis=1), axis=0).add_prefix("share ")
    headline = _headline(projection)
    shown = {p.name: p.shown for p in projection.scenario.placements}
    words = {**COLUMN_WORDS, **{f"stock_{n}": f"Plans: {s}" for n, s in shown.items()}}
    words.update(shown)
    words.update({f"share {n}": f"Share: {s}" for n, s in shown.items()})
    words.update({"placement_cost": "Placements (£)", "fees": "Independent fees (£)",
                  "place_funding": "Place funding (£)"})  # fmt: skip
    sheets = {
        "Summary": (headline, "Measure"),
        "Ledger": (ledger.rename(columns=label), "Financial year"),
        "Monthly": (monthly.rename(columns=lambda c: words.get(c, label(c))), "Month"),
        "Stock by placement": (stock.join(shares).rename(columns=words), "Month"),
        "Savings": (projection.savings.rename(columns=words), None),
        "Savings by condition": (projection.savings_by_condition.rename(columns=words), None),
    }
    check_target(target, force=force, suffixes=(".xlsx",))
    # inside the block: openpyxl keeps each sheet in a temporary file while it builds, so a
    # full disk can stop it there too, and is said of this workbook
    with written_atomically(target, force=force, suffixes=(".xlsx",)) as partial:
        buffer = io.BytesIO()  # built in memory, then written to disk in one go
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            for name, (frame, index_label) in sheets.items():
                frame.to_excel(
                    writer, sheet_name=name, index=index_label is not None, index_label=index_label
                )
                _format_sheet(writer.sheets[name], frame, index_label=index_label)
            columns = [label(c) for c in ledger.columns]
            _ledger_chart(writer.sheets["Ledger"], len(ledger), columns)
        partial.write_bytes(buffer.getvalue())
    return target


def new_book() -> Any:
    """Return an empty openpyxl workbook (without the sheet every new workbook has)."""
    from openpyxl import Workbook

    book = Workbook()
    for default in list(book.worksheets):
        book.remove(default)
    return book


def table_sheet(
    book: Any,
    title: str,
    header: list[str],
    rows: list[list[Any]],
    *,
    width: int = 18,
    number_format: Callable[[str], str | None] | None = None,
) -> Any:
    """Add a sheet: a bold, frozen header, the rows (NaN left empty), sized columns.

    Parameters
    ----------
    book
        The openpyxl workbook.
    title
        The sheet's name (cut to Excel's 31 characters).
    header
        The column headings.
    rows
        The cells.
    width
        Width of every column but the first (which is 44).
    number_format
        Column heading → the number format of its numbers (``None``: leave them).

    Returns
    -------
    openpyxl.worksheet.worksheet.Worksheet
        The sheet.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title[:31])
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([None if isinstance(v, float) and v != v else v for v in row])
    for column, heading in enumerate(header, start=1):
        fmt = number_format(heading) if number_format else None
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                    cell.number_format = fmt
        sheet.column_dimensions[get_column_letter(column)].width = 44 if column == 1 else width
    sheet.freeze_panes = "B2"
    return sheet
