"""Scenarios as Excel workbooks: write a template (or a scenario) and read it back.

One sheet per section, with units in the headers and a note on each sheet; opening stock is
an age × placement grid. Reading a workbook builds the same mapping a YAML file would give
and validates it the same way; every problem is reported with the sheet and cell it comes
from, for example ``Demand!B5 (demand.refusal_rate): 1.5: input should be less than or
equal to 1``.

Round trip: ``read_workbook(write_workbook(scenario))`` equals ``scenario``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from dsg_forecast.errors import Issue, OutputError, ScenarioError, as_path, check_kind
from dsg_forecast.io.output import save_workbook, written_atomically
from dsg_forecast.schema.checks import PHASES
from dsg_forecast.schema.fields import FLAT, is_age_key, month_index
from dsg_forecast.schema.scenario import Scenario

MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LEVERS: Final = ("requests", "refusal_rate", "assessment_capacity", "ceasing", "transfers",
                 "transition", "entry_shift", "unit_cost", "places")  # fmt: skip

#: Key-value sheets: sheet → [(field path, label with unit, note)].
FIELDS: Final[dict[str, list[tuple[str, str, str]]]] = {
    "Scenario": [
        ("name", "name", ""),
        ("description", "description", ""),
        ("start", "first month (YYYY-MM)", "the first projected month"),
        ("end", "last month (YYYY-MM)", "inclusive"),
        ("ages.min", "youngest age [years]", "age at 31 August"),
        ("ages.max", "oldest age [years]", "everyone this age leaves each September"),
        (
            "net_transfer_rate",
            "net transfer rate [fraction a year]",
            "plans in from other councils, net",
        ),
        (
            "placeholders",
            "placeholder fields (comma-separated)",
            "still to replace with the council's own",
        ),
    ],
    "Demand": [
        ("demand.requests_per_year", "requests in the first FY [a year]", ""),
        ("demand.requests_growth", "requests growth [fraction a year]", "0.05 = 5%"),
        ("demand.refusal_rate", "refusal rate [fraction]", "share refused an assessment"),
        ("demand.plan_rate", "plan rate [fraction]", "share of assessments issuing a plan"),
        ("demand.assessment_months", "assessment lag [months]", "whole months"),
        ("demand.opening_backlog", "opening backlog [assessments]", ""),
    ],
    "Funding": [
        (
            "funding.high_needs_block",
            "high needs block, first FY [£ a year]",
            "blank if given by year",
        ),
        ("funding.growth", "growth of the block [fraction a year]", "by year: after the last"),
        (
            "funding.import_export_rate",
            "import/export rate [£ a pupil a year]",
            "blank: 6000",
        ),
        ("agreement.opening_balance", "opening cumulative balance [£]", "negative = deficit"),
        (
            "agreement.opening_high_needs_balance",
            "of which high needs [£]",
            "blank: all of it",
        ),
        ("agreement.balance_target", "balance target (FY, e.g. 2028-29)", "blank: none"),
        (
            "agreement.withhold_when_conditions_missed",
            "withhold Safety Valve after a missed condition (TRUE/FALSE)",
            "blank: FALSE",
        ),
        (
            "agreement.received_before_start.dfe_safety_valve",
            "Safety Valve received before the start [£]",
            "already in the opening balance",
        ),
        (
            "agreement.received_before_start.council",
            "council contributions before the start [£]",
            "already in the opening balance",
        ),
        (
            "agreement.statutory_override_end",
            "statutory override ends (YYYY-MM)",
            "blank: 2028-03",
        ),
        (
            "actuals_to_date.income",
            "year-to-date actual income [£]",
            "only if starting after April",
        ),
        ("actuals_to_date.expenditure", "year-to-date actual expenditure [£]", ""),
    ],
}

#: Table sheets: sheet → [(column key, header with unit)].
TABLES: Final[dict[str, list[tuple[str, str]]]] = {
    "Placements": [
        ("name", "placement"),
        ("tier", "tier (1 = least specialist)"),
        ("description", "description"),
        ("label", "label (shown in reports)"),
    ],
    "Seasonality": [
        ("month", "month"),
        ("requests", "requests [share]"),
        ("ceasing", "ceasing [share]"),
    ],
    "New plans": [("age", "age")],  # + age share and one mix column per placement
    "Ceasing": [("age", "age or band"), ("rate", "ceasing rate [fraction a year]")],
    "Transitions": [
        ("from", "from"),
        ("to", "to"),
        ("ages", "ages (e.g. 16 or 11-15; 5,7)"),
        ("rate", "rate [fraction]"),
    ],
    "Capacity": [
        ("placement", "placement"),
        ("month", "from month (YYYY-MM)"),
        ("places", "places"),
        ("overflow", "overflow to"),
    ],
    "Assessment capacity": [
        ("month", "from month (YYYY-MM)"),
        ("capacity", "assessments a month (blank sheet: unlimited)"),
    ],
    "Costs": [
        ("placement", "placement (or default)"),
        ("unit_cost", "cost per plan [£ a plan a year]"),
        ("uplift", "uplift [fraction a year]"),
        ("kind", "kind (unit_cost, top_up or fees)"),
        ("place_funding", "place funding [£ a place a year]"),
        *((phase, f"{phase} [£ a plan a year]") for phase in PHASES),
        ("default", "other ages [£ a plan a year]"),
    ],
    "Other lines": [
        ("name", "line"),
        ("amount", "first-FY amount [£ a year] (blank: by year)"),
        ("growth", "growth [fraction a year]"),
    ],
    "Other lines by year": [
        ("name", "line"),
        ("fy", "financial year"),
        ("amount", "amount [£]"),
    ],
    "By year": [
        ("fy", "financial year"),
        ("high_needs_block", "high needs block [£] (if by year)"),
        ("recoupment", "recoupment [£]"),
        ("import_export", "net pupils imported"),
        ("schools_block", "schools block [£]"),
        ("schools_block_transfer", "schools block transfer [share]"),
        ("other_blocks_balance", "other blocks' in-year balance [£]"),
        ("block_transfers", "block transfers [£]"),
        ("other_income", "other income [£]"),
        ("contributions", "Safety Valve contribution [£]"),
        ("council_contributions", "council contribution [£]"),
        ("deficit_cap", "deficit cap [£]"),
    ],
    "Write-offs": [
        ("share", "share [fraction]"),
        ("at_end_of", "of the deficit at the end of (FY)"),
        ("paid_in", "paid in (FY)"),
        ("replaces_safety_valve", "replaces Safety Valve instalments (TRUE/FALSE)"),
    ],
    "Interventions": [
        ("name", "intervention"),
        ("condition", "condition"),
        ("start", "start (YYYY-MM)"),
        ("ramp_months", "ramp [months]"),
    ],
    "Effects": [
        ("intervention", "intervention"),
        ("lever", "lever"),
        ("multiply", "multiply"),
        ("add", "add"),
        ("share", "share"),
        ("placement", "placement"),
        ("from", "from"),
        ("to", "to"),
    ],
    "Intervention costs": [
        ("intervention", "intervention"),
        ("fy", "financial year"),
        ("cost", "cost [£]"),
        ("savings_target", "savings target [£]"),
    ],
}
NOTES: Final[dict[str, str]] = {
    "Opening stock": "Plans at the start of the first month, by age (rows) and placement "
                     "(columns).",
    "New plans": "Share of new plans at each age (sums to 1), then the placement mix at that age "
                 "(each row sums to 1).",
    "Seasonality": "A weight for each month (rows in any order); each column sums to 1.",
    "Effects": f"Levers: {', '.join(LEVERS)}. Give multiply or add (share for entry_shift).",
}  # fmt: skip


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


# -- writing ---------------------------------------------------------------------------------
class _Writer:
    """An openpyxl workbook being written, a sheet at a time."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self.book = Workbook()
        self.book.remove(self.book.active)  # type: ignore[arg-type]

    def table(self, name: str, headers: list[str], rows: Iterable[list[Any]]) -> Any:
        """Add a sheet: a bold, frozen header row, the rows, and the sheet's note if any."""
        from openpyxl.styles import Font

        sheet = self.book.create_sheet(name)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        if name in NOTES:
            sheet.cell(row=1, column=len(headers) + 2, value=NOTES[name]).font = Font(italic=True)
        for column, header in enumerate(headers, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = max(
                12, len(str(header)) + 2
            )
        sheet.freeze_panes = "A2"
        return sheet

    def table_of(self, name: str, rows: Iterable[list[Any]]) -> Any:
        """Add a table sheet whose headers are those of ``TABLES[name]``."""
        return self.table(name, [header for _, header in TABLES[name]], rows)

    @staticmethod
    def fraction_cells(sheet: Any, cells: str, what: str) -> None:
        """Make Excel refuse a value outside 0..1 in these cells, naming the rule."""
        from openpyxl.worksheet.datavalidation import DataValidation

        rule = DataValidation(
            type="decimal", operator="between", formula1="0", formula2="1", allow_blank=True
        )
        rule.error = f"{what} is a fraction between 0 and 1 (0.15 = 15%)"
        rule.errorTitle = "Not a fraction"
        sheet.add_data_validation(rule)
        rule.add(cells)


def write_workbook(scenario: Scenario | None, path: str | Path, *, force: bool = False) -> Path:
    """Write a scenario (or, with ``None``, an empty template) as an input workbook.

    Parameters
    ----------
    scenario
        The scenario to write, or ``None`` for an empty template.
    path
        Where to write the workbook (``.xlsx``).
    force
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        The workbook written.

    Raises
    ------
    OutputError
        If ``path`` does not end in ``.xlsx``.

    Examples
    --------
    >>> import tempfile
    >>> from dsg_forecast import load_scenario
    >>> from dsg_forecast.io.workbook import read_workbook, write_workbook
    >>> scenario = load_scenario("examples/worked_example.yaml")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     book = write_workbook(scenario, f"{folder}/worked.xlsx")
    ...     read_workbook(book) == scenario
    True
    """
    check_kind(
        scenario, Scenario, "scenario", "a Scenario (load_scenario(path)), or None", optional=True
    )
    if not str(path).lower().endswith(".xlsx"):
        msg = f"{str(path)!r} does not end in .xlsx; an input workbook is written as FILE.xlsx"
        raise OutputError(msg)
    data = scenario.model_dump(by_alias=True) if scenario is not None else {}
    writer = _Writer()
    placements = [p["name"] for p in data.get("placements", [])] or ["mainstream", "special"]
    for write in _SHEET_WRITERS:
        write(writer, data, placements)
    target = as_path(path)
    with written_atomically(target, force=force, suffixes=(".xlsx",)) as partial:
        save_workbook(writer.book, partial)
    return target


def _write_fields(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    """Write the key-value sheets: Scenario, Demand and Funding."""
    for sheet_name, fields in FIELDS.items():
        sheet = writer.table(
            sheet_name,
            ["field", "value", "note"],
            [[label, _cell_value(_get(data, field)), note] for field, label, note in fields],
        )
        sheet.column_dimensions["A"].width = 44
        for row, (field_path, label, _) in enumerate(fields, start=2):
            if field_path.endswith(("refusal_rate", "plan_rate")):
                writer.fraction_cells(sheet, f"B{row}", label)


def _cell_value(value: Any) -> Any:
    """Return a field's value as a cell holds it: a list as comma-separated text."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or None
    return value


def _write_placements(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    rows = [
        [p["name"], p.get("tier", 1), p.get("description"), p.get("label")]
        for p in data.get("placements", [])
    ]
    writer.table_of("Placements", rows)


def _write_opening_stock(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    ages = range(data.get("ages", {}).get("min", 0), data.get("ages", {}).get("max", 25) + 1)
    stock = data.get("opening_stock", {})
    writer.table(
        "Opening stock",
        ["age", *placements],
        [[a, *[stock.get(p, {}).get(str(a)) for p in placements]] for a in ages],
    )


def _write_new_plans(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    demand = data.get("demand", {})
    shares = demand.get("new_plan_ages", {})
    mixes = demand.get("new_plan_mix", {})
    keys = list(dict.fromkeys([*shares, *mixes]))
    plans = writer.table(
        "New plans",
        ["age or band", "share of new plans", *placements],
        [[k, shares.get(k), *[mixes.get(k, {}).get(p) for p in placements]] for k in keys],
    )
    writer.fraction_cells(plans, f"B2:{chr(ord('B') + len(placements))}200", "a share")


def _write_seasonality(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    requests = data.get("demand", {}).get("request_profile", FLAT)
    ceasing = data.get("ceasing", {}).get("profile", FLAT)
    rows = [[month, requests[i], ceasing[i]] for i, month in enumerate(MONTHS)]
    writer.fraction_cells(writer.table_of("Seasonality", rows), "B2:C13", "a month's weight")


def _write_ceasing(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    rates = data.get("ceasing", {}).get("rates", {})
    writer.table_of("Ceasing", [[key, value] for key, value in rates.items()])


def _write_transitions(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    rows = [
        [
            t["from"],
            t["to"],
            ",".join(t["ages"]) if isinstance(t["ages"], list) else t["ages"],
            t["rate"],
        ]
        for t in data.get("transitions", [])
    ]
    writer.fraction_cells(writer.table_of("Transitions", rows), "D2:D500", "a transition rate")


def _write_capacity(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    rows = []
    for entry in data.get("capacity", []):
        places = entry["places"]
        if not isinstance(places, dict):
            places = {data["start"]: places}
        rows += [
            [entry["placement"], month, value, entry["overflow"]] for month, value in places.items()
        ]
    writer.table_of("Capacity", rows)


def _write_assessment_capacity(
    writer: _Writer, data: dict[str, Any], placements: list[str]
) -> None:
    assessment = data.get("demand", {}).get("assessment_capacity")
    if assessment is not None and not isinstance(assessment, dict):
        assessment = {data["start"]: assessment}
    writer.table_of("Assessment capacity", [[m, v] for m, v in (assessment or {}).items()])


def _write_costs(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    """Write the Costs sheet: each placement's cost per plan (by phase), kind and uplift."""
    costs = data.get("costs", {})
    uplift = costs.get("uplift", 0.0)
    uplifts = uplift if isinstance(uplift, dict) else {"default": uplift}
    place_funding = costs.get("place_funding", {})
    rows = []
    for p in placements:
        kind = next((k for k in ("unit_cost", "top_up", "fees") if p in costs.get(k, {})), None)
        value = costs.get(kind, {}).get(p) if kind else None
        by_phase = value if isinstance(value, dict) else {}
        odd = [key for key in by_phase if key not in (*PHASES, "default")]
        if odd:
            msg = (
                f"costs.{kind}.{p} is given by age band {odd}, which the workbook cannot hold; "
                "give it by phase (early_years, primary, secondary, post16, post19)"
            )
            raise OutputError(msg)
        amount = None if by_phase else value
        phases = [by_phase.get(phase) for phase in (*PHASES, "default")]
        rows.append([p, amount, uplifts.get(p), kind, place_funding.get(p), *phases])
    if "default" in uplifts:
        rows.append(["default", None, uplifts["default"]])
    writer.table_of("Costs", rows)


def _write_other_lines(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    """Write the Other lines sheet, and the amounts of lines given by year."""
    lines = data.get("costs", {}).get("other_lines", [])
    writer.table_of(
        "Other lines", [[o["name"], o.get("amount"), o.get("growth", 0.0)] for o in lines]
    )
    by_year = [
        [o["name"], fy, amount] for o in lines for fy, amount in (o.get("per_year") or {}).items()
    ]
    writer.table_of("Other lines by year", by_year)


def _write_by_year(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    funding, agreement = data.get("funding", {}), data.get("agreement", {})
    by_year = {
        "high_needs_block": funding.get("per_year") or {},
        "recoupment": funding.get("recoupment", {}),
        "import_export": funding.get("import_export", {}),
        "schools_block": funding.get("schools_block", {}),
        "schools_block_transfer": funding.get("schools_block_transfer", {}),
        "other_blocks_balance": funding.get("other_blocks_balance", {}),
        "block_transfers": funding.get("block_transfers", {}),
        "other_income": funding.get("other_income", {}),
        "contributions": agreement.get("contributions", {}),
        "council_contributions": agreement.get("council_contributions", {}),
        "deficit_cap": agreement.get("deficit_caps", {}),
    }
    years = sorted({fy for values in by_year.values() for fy in values})
    writer.table_of("By year", [[fy, *[by_year[k].get(fy) for k in by_year]] for fy in years])


def _write_write_offs(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    write_offs = data.get("agreement", {}).get("write_offs", [])
    rows = [
        [w["share"], w["at_end_of"], w["paid_in"], w.get("replaces_safety_valve", True)]
        for w in write_offs
    ]
    writer.table_of("Write-offs", rows)


def _write_interventions(writer: _Writer, data: dict[str, Any], placements: list[str]) -> None:
    """Three sheets: Interventions, Effects (with a drop-down of levers), Intervention costs."""
    from openpyxl.worksheet.datavalidation import DataValidation

    interventions = data.get("interventions", [])
    writer.table_of(
        "Interventions",
        [
            [i["name"], i.get("condition"), i["start"], i.get("ramp_months", 0)]
            for i in interventions
        ],
    )
    keys = [key for key, _ in TABLES["Effects"]][1:]
    effects = writer.table_of(
        "Effects",
        [[i["name"], *(e.get(key) for key in keys)] for i in interventions for e in i["effects"]],
    )
    validation = DataValidation(
        type="list", formula1='"' + ",".join(LEVERS) + '"', allow_blank=True
    )
    validation.error = f"choose one of: {', '.join(LEVERS)}"
    effects.add_data_validation(validation)
    validation.add("B2:B200")
    rows = [
        [i["name"], fy, i.get("costs", {}).get(fy), i.get("savings_target", {}).get(fy)]
        for i in interventions
        for fy in sorted({*i.get("costs", {}), *i.get("savings_target", {})})
    ]
    writer.table_of("Intervention costs", rows)


_SHEET_WRITERS: Final = (
    _write_fields,
    _write_placements,
    _write_opening_stock,
    _write_new_plans,
    _write_seasonality,
    _write_ceasing,
    _write_transitions,
    _write_capacity,
    _write_assessment_capacity,
    _write_costs,
    _write_other_lines,
    _write_by_year,
    _write_write_offs,
    _write_interventions,
)
"""One writer per sheet (or group of sheets), in the workbook's sheet order."""


# -- reading ---------------------------------------------------------------------------------
#: The columns that name a row of a sheet: a row naming what an earlier row named would
#: silently replace it, so it is refused (lists such as Transitions or Effects may repeat;
#: placements and other lines given twice are refused by the scenario's own rules).
ROW_KEYS: Final[dict[str, tuple[int, ...]]] = {
    "Scenario": (0,),
    "Demand": (0,),
    "Funding": (0,),
    "Opening stock": (0,),
    "New plans": (0,),
    "Seasonality": (0,),
    "Ceasing": (0,),
    "Capacity": (0, 1),
    "Assessment capacity": (0,),
    "Costs": (0,),
    "Other lines by year": (0, 1),
    "By year": (0,),
    "Interventions": (0,),
    "Intervention costs": (0, 1),
}


class _Reader:
    """Reads sheets, building the scenario mapping and where each value came from."""

    def __init__(self, path: Path) -> None:
        from zipfile import BadZipFile

        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self.book = load_workbook(path, data_only=True)
            formulas = load_workbook(path, data_only=False)
        except (PermissionError, FileNotFoundError) as exc:  # the workbook may be fine
            msg = f"cannot read {path}: {exc.strerror or exc}"
            raise ScenarioError([Issue("", msg)], str(path)) from None
        except (BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
            msg = f"{path} is not an Excel workbook (.xlsx) this tool can read: {exc}"
            raise ScenarioError([Issue("", msg)], str(path)) from None
        self.data: dict[str, Any] = {}
        self.where: dict[str, str] = {}
        self.issues: list[Issue] = _structure_issues(self.book, formulas)
        headers = _header_issues(self.book)
        self.issues += headers
        # a sheet whose columns are not the template's is not read (it is read by
        # position: its cells would be taken for others, or missed)
        self._unreadable = {issue.path for issue in headers}
        self._checked: set[str] = set()

    def rows(self, name: str) -> list[tuple[int, list[Any]]]:
        """Return the rows below a sheet's header that hold a value in their first columns.

        A sheet that is missing, or whose columns are not the template's, has none (an
        issue names it).

        A row naming what an earlier row of the sheet named (:data:`ROW_KEYS`) is an issue,
        noted once however often the sheet is read, and left out.
        """
        if name not in self.book.sheetnames or name in self._unreadable:
            return []
        sheet = self.book[name]
        out = []
        first: dict[tuple[str, ...], int] = {}
        for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            values = [None if isinstance(v, str) and not v.strip() else v for v in row]
            if not any(v is not None for v in values[: len(TABLES.get(name, [])) or 3]):
                continue
            if name in ROW_KEYS:
                columns = ROW_KEYS[name]
                key = tuple(str(values[c]) if c < len(values) else "None" for c in columns)
                if first.setdefault(key, number) != number:
                    if name not in self._checked:
                        named = ", ".join(repr(part) for part in key)
                        message = (
                            f"{self.cell(name, number, 0)}: {named} is given again (first in "
                            f"row {first[key]}); keep one row for it"
                        )
                        self.issues.append(Issue(name, message))
                    continue
            out.append((number, values))
        self._checked.add(name)
        return out

    def cell(self, name: str, row: int, column: int) -> str:
        """Return the address ``Sheet!B5`` of a cell (column counted from 0)."""
        letter = chr(ord("A") + column)
        return f"{name}!{letter}{row}"

    def put(self, path: str, value: Any, cell: str) -> None:
        """Set a field of the mapping, noting the cell it came from (a date means its month)."""
        if isinstance(value, dt.date):
            value = f"{value.year:04d}-{value.month:02d}"
        _put(self.data, path, value)
        self.where[path] = cell

    def section(self, name: str) -> dict[str, Any]:
        """Return the mapping's section ``name``, created empty if absent."""
        section: dict[str, Any] = self.data.setdefault(name, {})
        return section


@functools.cache
def _template_headers() -> dict[str, tuple[str, ...]]:
    """Return each sheet of a template and its header row (every sheet must be kept)."""
    writer = _Writer()
    for write in _SHEET_WRITERS:
        write(writer, {}, ["mainstream", "special"])
    return {sheet.title: tuple(_header(sheet)) for sheet in writer.book.worksheets}


#: Sheets whose columns after the first few are the placements, named by the user.
PLACEMENT_COLUMNS_FROM: Final = {"Opening stock": 1, "New plans": 2}


def _stem(header: Any) -> str:
    """Return a header's words before its unit or note: ``uplift [fraction a year]`` → uplift."""
    text = str(header).strip().lower()
    for mark in (" [", " ("):
        text = text.split(mark, 1)[0]
    return text.strip()


def _header_issues(book: Any) -> list[Issue]:
    """Return columns that are not the template's, in its order: sheets are read by position.

    Headers are compared by their words before any unit or note (``uplift`` stands for
    ``uplift [fraction a year]``), whatever the case. A moved, renamed or inserted column
    would otherwise be read as another (two swapped By year columns swap contributions);
    a column added after the last would be ignored, so it is refused too (notes may stand
    beyond a blank column, as the template's do).
    """
    from openpyxl.utils import get_column_letter

    issues = []
    for name, expected in _template_headers().items():
        if name not in book.sheetnames:
            continue  # named by _structure_issues
        found = _header(book[name])
        fixed = PLACEMENT_COLUMNS_FROM.get(name, len(expected))
        for column, header in enumerate(expected[:fixed]):
            given = found[column] if column < len(found) else None
            if given is None or _stem(given) != _stem(header):
                message = (
                    f"{name}!{get_column_letter(column + 1)}1: {given!r} where the template has "
                    f"{header!r}; keep the template's columns in its order (a sheet is read by "
                    "position)"
                )
                issues.append(Issue(name, message))
                break
        else:
            if name not in PLACEMENT_COLUMNS_FROM and len(found) > len(expected):
                message = (
                    f"{name}!{get_column_letter(len(expected) + 1)}1: {found[len(expected)]!r} "
                    "is not a column of this sheet and would not be read; remove it (a note "
                    "may stand beyond a blank column)"
                )
                issues.append(Issue(name, message))
    return issues


def _structure_issues(book: Any, formulas: Any) -> list[Issue]:
    """Return what makes a workbook ambiguous: missing sheets, merged cells, unsaved formulas."""
    issues = []
    for name in _template_headers():
        if name not in book.sheetnames:
            message = (
                f"the sheet {name!r} is missing; keep every sheet of the template (leave a "
                "table empty for none) so that nothing is read as absent by mistake"
            )
            issues.append(Issue(name, message))
    for sheet in book.worksheets:
        for merged in sheet.merged_cells.ranges:
            message = f"{sheet.title}!{merged.coord} is merged; unmerge it, a value in each cell"
            issues.append(Issue(sheet.title, message))
        for row in formulas[sheet.title].iter_rows():
            for cell in row:
                text = cell.value
                unsaved = sheet[cell.coordinate].value is None
                if isinstance(text, str) and text.startswith("=") and unsaved:
                    message = (
                        f"{sheet.title}!{cell.coordinate} holds a formula ({text}) with no saved "
                        "value; open and save the workbook in Excel, or type the value"
                    )
                    issues.append(Issue(sheet.title, message))
    return issues


def read_workbook(path: str | Path) -> Scenario:
    """Read an input workbook into a validated scenario; errors name sheet and cell.

    Parameters
    ----------
    path
        An input workbook, as :func:`write_workbook` writes it.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Every problem, as ``Sheet!Cell (field path): value: rule``; or that the file is not
        an Excel workbook this tool can read.
    ArgumentTypeError
        If ``path`` is not a path (``None``).
    """
    from dsg_forecast.schema.parsing import scenario_from_mapping

    file = as_path(path, "an input workbook's path (FILE.xlsx)", "path")
    reader = _Reader(file)
    for read in _SHEET_READERS:
        read(reader)
    if reader.issues:
        raise ScenarioError(reader.issues, str(file))
    try:
        return scenario_from_mapping(reader.data, str(file))
    except ScenarioError as exc:
        located = [_locate(issue, reader.where) for issue in exc.issues]
        raise ScenarioError(located, str(file)) from None


def _read_fields(reader: _Reader) -> None:
    """Read the key-value sheets: Scenario, Demand and Funding."""
    for sheet, fields in FIELDS.items():
        by_label = {label: field for field, label, _ in fields}
        for number, row in reader.rows(sheet):
            label, value = row[0], row[1] if len(row) > 1 else None
            if label not in by_label:
                message = (
                    f"{reader.cell(sheet, number, 0)}: {label!r} is not a row of this sheet; "
                    f"keep the template's labels ({', '.join(map(repr, by_label))})"
                )
                reader.issues.append(Issue(sheet, message))
                continue
            if value is not None:
                if by_label[label] == "placeholders":
                    value = [part.strip() for part in str(value).split(",") if part.strip()]
                reader.put(by_label[label], value, reader.cell(sheet, number, 1))
    reader.data.setdefault("ages", {})


def _read_placements(reader: _Reader) -> None:
    placements: list[dict[str, Any]] = []
    for number, row in reader.rows("Placements"):
        entry = {"name": row[0], "tier": row[1] if row[1] is not None else 1}
        if len(row) > 2 and row[2] is not None:
            entry["description"] = row[2]
        if len(row) > 3 and row[3] is not None:
            entry["label"] = row[3]
        reader.where[f"placements[{len(placements)}]"] = reader.cell("Placements", number, 0)
        placements.append(entry)
    reader.data["placements"] = placements


def _read_opening_stock(reader: _Reader) -> None:
    if "Opening stock" not in reader.book.sheetnames:
        return
    header = _header(reader.book["Opening stock"])
    stock: dict[str, dict[str, float]] = {}
    for number, row in reader.rows("Opening stock"):
        if _not_an_age(reader, "Opening stock", number, row[0]):
            continue
        for column, placement in enumerate(header[1:], start=1):
            value = row[column] if column < len(row) else None
            if placement is not None and value is not None:
                stock.setdefault(str(placement), {})[str(row[0])] = value
                where = reader.cell("Opening stock", number, column)
                reader.where[f"opening_stock.{placement}[{row[0]}]"] = where
    for placement in header[1:]:  # a placement column with no plans is still a placement
        if placement is not None:
            stock.setdefault(str(placement), {})
    reader.data["opening_stock"] = stock


def _not_an_age(reader: _Reader, sheet: str, number: int, value: Any) -> bool:
    """Note (and say True) when a row's age is text that is no age: a totals row, ``25+``.

    The schema names it by a key path (``opening_stock.mainstream.Total``), without the cell;
    numbers are left to the schema (``3.5``: whole years).
    """
    if not isinstance(value, str) or is_age_key(value):
        return False
    hint = "; remove a totals row" if value.strip().lower().startswith(("total", "all")) else ""
    message = f"{value!r} is not an age or an age band (write 5 or 16-18){hint}"
    reader.issues.append(Issue(reader.cell(sheet, number, 0), message))
    return True


def _read_new_plans(reader: _Reader) -> None:
    demand = reader.section("demand")
    if "New plans" not in reader.book.sheetnames:
        return
    header = _header(reader.book["New plans"])
    shares: dict[str, float] = {}
    mixes: dict[str, dict[str, float]] = {}
    for number, row in reader.rows("New plans"):
        if _not_an_age(reader, "New plans", number, row[0]):
            continue
        key = str(row[0])
        if row[1] is not None:
            shares[key] = row[1]
            reader.where[f"demand.new_plan_ages[{key}]"] = reader.cell("New plans", number, 1)
        mix = {
            str(header[c]): row[c]
            for c in range(2, len(header))
            if c < len(row) and row[c] is not None
        }
        if mix:
            mixes[key] = mix
            reader.where[f"demand.new_plan_mix[{key}]"] = reader.cell("New plans", number, 2)
    demand["new_plan_ages"], demand["new_plan_mix"] = shares, mixes


def _read_seasonality(reader: _Reader) -> None:
    """Read the weights by the month each row names, in any order (a financial year's too).

    A blank weight is 0. Every month must be named once: rows read in order would give
    April's weight to January if a council lists its months from April.
    """
    seasonality = reader.rows("Seasonality")
    if not seasonality:
        return
    by_month: dict[int, tuple[int, list[Any]]] = {}
    for number, row in seasonality:
        month = month_index(str(row[0]))  # as a profile's keys: July, Jul, any case, 1..12
        if month is None or month in by_month:
            said = "is not a month (Jan to Dec)" if month is None else (
                f"is {MONTHS[month]} again (first in row {by_month[month][0]})"
            )  # fmt: skip
            message = f"{reader.cell('Seasonality', number, 0)}: {row[0]!r} {said}"
            reader.issues.append(Issue("Seasonality", message))
            continue
        by_month[month] = (number, row)
    missing = [MONTHS[m] for m in range(12) if m not in by_month]
    if missing:
        message = f"Seasonality: no row for {', '.join(missing)}; give a weight for each month"
        reader.issues.append(Issue("Seasonality", message))
        return
    rows = [by_month[m][1] for m in range(12)]
    reader.section("demand")["request_profile"] = [row[1] or 0.0 for row in rows]
    reader.section("ceasing")["profile"] = [row[2] or 0.0 for row in rows]
    last = max(number for number, _ in by_month.values())
    reader.where["demand.request_profile"] = f"Seasonality!B2:B{last}"
    reader.where["ceasing.profile"] = f"Seasonality!C2:C{last}"


def _read_ceasing(reader: _Reader) -> None:
    rates = {}
    for number, row in reader.rows("Ceasing"):
        rates[str(row[0])] = row[1]
        reader.where[f"ceasing.rates[{row[0]}]"] = reader.cell("Ceasing", number, 1)
    reader.section("ceasing")["rates"] = rates


def _read_transitions(reader: _Reader) -> None:
    transitions: list[dict[str, Any]] = []
    for number, row in reader.rows("Transitions"):
        ages = [a.strip() for a in str(row[2]).split(",")] if "," in str(row[2]) else row[2]
        reader.where[f"transitions[{len(transitions)}]"] = reader.cell("Transitions", number, 0)
        transitions.append({"from": row[0], "to": row[1], "ages": ages, "rate": row[3]})
    reader.data["transitions"] = transitions


def _read_capacity(reader: _Reader) -> None:
    """Read the Capacity and Assessment capacity sheets: schedules from each month."""
    capacity: dict[str, dict[str, Any]] = {}
    first: dict[str, int] = {}
    for number, row in reader.rows("Capacity"):
        entry = capacity.setdefault(row[0], {"placement": row[0], "places": {}, "overflow": row[3]})
        if entry["overflow"] != row[3]:  # the later one would be ignored
            message = (
                f"{reader.cell('Capacity', number, 3)}: {row[0]} overflows to {row[3]!r} here "
                f"and to {entry['overflow']!r} in row {first[row[0]]}; a placement has one "
                "overflow"
            )
            reader.issues.append(Issue("Capacity", message))
        first.setdefault(row[0], number)
        entry["places"][_month_key(row[1])] = row[2]
        reader.where[f"capacity[{list(capacity).index(row[0])}]"] = reader.cell(
            "Capacity", number, 0
        )
    start = str(reader.data.get("start", ""))[:7]
    for entry in capacity.values():
        entry["places"] = _schedule(entry["places"], start)
    reader.data["capacity"] = list(capacity.values())
    assessment = {_month_key(row[0]): row[1] for _, row in reader.rows("Assessment capacity")}
    schedule = _schedule(assessment, start) if assessment else None
    reader.section("demand")["assessment_capacity"] = schedule


def _read_costs(reader: _Reader) -> None:
    """Read the Costs, Other lines and Other lines by year sheets."""
    costs = reader.section("costs")
    uplift: dict[str, Any] = {}
    keys = [key for key, _ in TABLES["Costs"]]
    for number, row in reader.rows("Costs"):
        cells = dict(zip(keys, row, strict=False))
        placement = cells["placement"]
        if cells.get("uplift") is not None:
            uplift[placement] = cells["uplift"]
            reader.where[f"costs.uplift.{placement}"] = reader.cell("Costs", number, 2)
        if placement == "default":
            continue
        kind = cells.get("kind") or "unit_cost"
        phases = {key: cells[key] for key in (*PHASES, "default") if cells.get(key) is not None}
        if phases and cells.get("unit_cost") is not None:  # which one was meant?
            message = (
                f"{reader.cell('Costs', number, 1)}: {placement} has a cost per plan "
                f"({cells['unit_cost']}) and costs by phase ({_phase_names(phases)}); give one or "
                "the other"
            )
            reader.issues.append(Issue("Costs", message))
        value = phases or cells.get("unit_cost")
        if value is not None:
            costs.setdefault(kind, {})[placement] = value
            reader.where[f"costs.{kind}.{placement}"] = reader.cell("Costs", number, 1)
        if cells.get("place_funding") is not None:
            costs.setdefault("place_funding", {})[placement] = cells["place_funding"]
            where = reader.cell("Costs", number, keys.index("place_funding"))
            reader.where[f"costs.place_funding.{placement}"] = where
    costs["uplift"] = uplift["default"] if set(uplift) == {"default"} else uplift
    costs["other_lines"] = _other_lines(reader)


def _phase_names(phases: Iterable[str]) -> str:
    """Return phases as the Costs sheet's headers name them (``default``: other ages)."""
    return ", ".join("other ages" if phase == "default" else phase for phase in phases)


def _other_lines(reader: _Reader) -> list[dict[str, Any]]:
    """Read the Other lines sheet, with the amounts by year of the lines given no amount.

    A row by year for a line the Other lines sheet does not list, or lists with a first-FY
    amount, would not be read: it is refused.
    """
    lines = reader.rows("Other lines")
    by_year: dict[str, dict[str, Any]] = {}
    for number, row in reader.rows("Other lines by year"):
        line = next((r for _, r in lines if str(r[0]) == str(row[0])), None)
        if line is None or line[1] is not None:
            said = (
                "is not on the Other lines sheet"
                if line is None
                else "has a first-FY amount on the Other lines sheet (leave it blank to give "
                "the line by year)"
            )
            message = f"{reader.cell('Other lines by year', number, 0)}: {row[0]!r} {said}"
            reader.issues.append(Issue("Other lines by year", message))
            continue
        by_year.setdefault(str(row[0]), {})[str(row[1])] = row[2]
    return [
        {"name": r[0], "growth": r[2] or 0.0}
        | ({"amount": r[1]} if r[1] is not None else {"per_year": by_year.get(str(r[0]), {})})
        for _, r in lines
    ]


def _read_by_year(reader: _Reader) -> None:
    """Read the By year and Write-offs sheets: funding and the agreement by FY."""
    funding, agreement = reader.section("funding"), reader.section("agreement")
    columns = {
        "high_needs_block": ("funding", "per_year"),
        "recoupment": ("funding", "recoupment"),
        "import_export": ("funding", "import_export"),
        "schools_block": ("funding", "schools_block"),
        "schools_block_transfer": ("funding", "schools_block_transfer"),
        "other_blocks_balance": ("funding", "other_blocks_balance"),
        "block_transfers": ("funding", "block_transfers"),
        "other_income": ("funding", "other_income"),
        "contributions": ("agreement", "contributions"),
        "council_contributions": ("agreement", "council_contributions"),
        "deficit_cap": ("agreement", "deficit_caps"),
    }
    for heading, (section, key) in columns.items():
        target = funding if section == "funding" else agreement
        position = [k for k, _ in TABLES["By year"]].index(heading)
        values = {}
        for number, row in reader.rows("By year"):
            if position < len(row) and row[position] is not None:
                values[str(row[0])] = row[position]
                where = reader.cell("By year", number, position)
                reader.where[f"{section}.{key}[{row[0]}]"] = where
        if values or key != "per_year":
            target[key] = values
    agreement["write_offs"] = [
        {"share": r[0], "at_end_of": str(r[1]), "paid_in": str(r[2])}
        | ({"replaces_safety_valve": r[3]} if len(r) > 3 and r[3] is not None else {})
        for _, r in reader.rows("Write-offs")
    ]


def _read_interventions(reader: _Reader) -> None:
    """Read the Interventions, Effects and Intervention costs sheets."""
    interventions: dict[str, dict[str, Any]] = {}
    for number, row in reader.rows("Interventions"):
        where = reader.cell("Interventions", number, 0)
        reader.where[f"interventions[{len(interventions)}]"] = where
        interventions[row[0]] = {
            "name": row[0],
            "condition": row[1],
            "start": _month_key(row[2]) if row[2] is not None else None,
            "ramp_months": row[3] or 0,
            "effects": [],
            "costs": {},
        }
    keys = [k for k, _ in TABLES["Effects"]][1:]
    for number, row in reader.rows("Effects"):
        if _known_intervention(reader, interventions, "Effects", number, row[0]):
            effect = {k: v for k, v in zip(keys, row[1:], strict=False) if v is not None}
            interventions[row[0]]["effects"].append(effect)
    for number, row in reader.rows("Intervention costs"):
        if _known_intervention(reader, interventions, "Intervention costs", number, row[0]):
            if row[2] is not None:
                interventions[row[0]]["costs"][str(row[1])] = row[2]
            if len(row) > 3 and row[3] is not None:
                targets = interventions[row[0]].setdefault("savings_target", {})
                targets[str(row[1])] = row[3]
    reader.data["interventions"] = list(interventions.values())
    if "actuals_to_date" not in reader.data:
        reader.data["actuals_to_date"] = None


def _known_intervention(
    reader: _Reader, interventions: dict[str, Any], sheet: str, number: int, name: Any
) -> bool:
    """Whether a row names an intervention of the Interventions sheet (an issue if not)."""
    if name in interventions:
        return True
    message = f"intervention {name!r} is not on the Interventions sheet"
    reader.issues.append(Issue(reader.cell(sheet, number, 0), message))
    return False


_SHEET_READERS: Final = (
    _read_fields,
    _read_placements,
    _read_opening_stock,
    _read_new_plans,
    _read_seasonality,
    _read_ceasing,
    _read_transitions,
    _read_capacity,
    _read_costs,
    _read_by_year,
    _read_interventions,
)
"""One reader per sheet (or group of sheets), in the order the mapping is built."""


def _header(sheet: Any) -> list[Any]:
    """Return the header row up to its first blank cell (a note may stand beyond it)."""
    cells = []
    for cell in sheet[1]:
        if cell.value is None:
            break
        cells.append(cell.value)
    return cells


def _month_key(value: Any) -> str:
    """Return a schedule's month as text: a date typed in the cell means its month."""
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    return str(value)


def _schedule(steps: dict[str, Any], start: str) -> Any:
    """Return a single step from the projection's start as a plain number, as YAML has it."""
    if len(steps) == 1 and next(iter(steps))[:7] == start:
        return next(iter(steps.values()))
    return steps


def _locate(issue: Issue, where: dict[str, str]) -> Issue:
    """Prefix an issue with the sheet and cell its path came from (the nearest known one)."""
    path = issue.path
    candidates = [p for p in where if path == p or path.startswith((p + ".", p + "["))]
    if not candidates:
        candidates = [p for p in where if p.startswith(path)]
    if not candidates:
        return issue
    best = (
        max(candidates, key=len)
        if any(path.startswith(c) for c in candidates)
        else min(candidates, key=len)
    )
    return Issue(f"{where[best]} ({path})", issue.message)
