"""Labelled results of one projection: pandas frames and a JSON form (MODEL.md §6)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from dsg_forecast.engine.ledger import CONTRIBUTION_SOURCES, INCOME_LINES
from dsg_forecast.errors import ArgumentError, check_kind
from dsg_forecast.periods import month_label

if TYPE_CHECKING:
    from dsg_forecast._types import FloatArray
    from dsg_forecast.engine import FlowResult
    from dsg_forecast.engine.ledger import LedgerArrays
    from dsg_forecast.engine.structure import ModelStructure
    from dsg_forecast.schema.scenario import Scenario

#: Ledger columns, in MODEL.md §6 order.
LEDGER_COLUMNS = (
    "financial_year",
    "income",
    "placement_cost",
    "other_cost",
    "intervention_cost",
    "expenditure",
    "in_year_balance",
    "contribution",
    "cumulative_balance",
    "deficit_cap",
    "within_cap",
)

#: Ledger columns that extend MODEL.md §6: spending and income lines, contributions by
#: source and the balance before them.
LEDGER_EXTRA_COLUMNS = (
    "other_blocks_balance",
    "dsg_in_year_balance",
    "high_needs_cumulative_balance",
    "place_funding",
    "top_up",
    "fees",
    *INCOME_LINES,
    *(f"contribution_{source}" for source in CONTRIBUTION_SOURCES),
    "cumulative_balance_before_contributions",
    *(f"cumulative_{source}" for source in CONTRIBUTION_SOURCES),
)

#: Monthly flow series, in MODEL.md §6 order (stock by placement follows ``stock``).
MONTHLY_SERIES = (
    "requests",
    "assessments",
    "new_plans",
    "ceased",
    "transferred",
    "aged_out",
    "backlog",
    "moves_up",
    "moves_down",
    "overflow",
    "placement_cost",
    "fees",
    "place_funding",
)


@dataclass(frozen=True, slots=True)
class SavingsArrays:
    """Savings by FY: each intervention alone, and groups (each condition, then all)."""

    interventions: tuple[str, ...]
    conditions: tuple[str | None, ...]
    groups: tuple[str, ...]
    gross_alone: FloatArray
    """Fall in placement and other costs, (I, Y). [£]"""
    net_alone: FloatArray
    """Rise in in-year balance, net of the intervention's cost, (I, Y). [£]"""
    gross_group: FloatArray
    """(G, Y). [£]"""
    net_group: FloatArray
    """(G, Y). [£]"""


@dataclass(frozen=True, slots=True)
class Summary:
    """Headline results of a projection (MODEL.md §5–6)."""

    target_met: bool | None
    """In-year balance ≥ 0 in every FY from the balance target; None if no target is set."""
    balance_target: str | None
    first_balanced_year: str | None
    """First FY from which every later FY has in-year balance ≥ 0; None if never."""
    largest_deficit: float
    """Largest closing cumulative deficit (0 if never in deficit). [£]"""
    largest_deficit_year: str | None
    closing_balance: float
    """Cumulative balance at the end of the last FY; negative is a deficit. [£]"""
    headroom: dict[str, float]
    """Cap − deficit for each FY with a cap. [£]"""
    within_all_caps: bool
    """Whether every capped FY is within its cap."""
    override_end_year: str | None = None
    """The FY in which the statutory override ends, if projected."""
    deficit_at_override_end: float | None = None
    """Cumulative deficit at the end of that FY (negative: a surplus). [£]"""
    deficit_at_override_end_before_contributions: float | None = None
    """The same had no contribution been made. [£]"""
    deficit_at_balance: float | None = None
    """Cumulative deficit at the end of the first balanced year. [£]"""
    deficit_at_balance_before_contributions: float | None = None
    """The same had no contribution been made (what the plan's contributions must meet). [£]"""
    target_after_end: bool = False
    """The balance target lies after the projection's last FY, so it cannot be shown met
    (``target_met`` is False): the projection stops short of it, which is not a miss."""

    def target_verdict(self) -> str:
        """Return ``met``, ``NOT met``, ``none set``, or that the projection ends before it."""
        if self.target_met is None:
            return "none set"
        if self.target_after_end:
            return "not reached: the projection ends before it"
        return "met" if self.target_met else "NOT met"

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return {
            "target_met": self.target_met,
            "balance_target": self.balance_target,
            "first_balanced_year": self.first_balanced_year,
            "largest_deficit": self.largest_deficit,
            "largest_deficit_year": self.largest_deficit_year,
            "closing_balance": self.closing_balance,
            "within_all_caps": self.within_all_caps,
            "headroom": dict(self.headroom),
            "override_end_year": self.override_end_year,
            "deficit_at_override_end": self.deficit_at_override_end,
            "deficit_at_override_end_before_contributions": (
                self.deficit_at_override_end_before_contributions
            ),
            "deficit_at_balance": self.deficit_at_balance,
            "deficit_at_balance_before_contributions": self.deficit_at_balance_before_contributions,
            "target_after_end": self.target_after_end,
        }


def _savings_frame(
    keys: Mapping[str, tuple[str | None, ...]],
    gross: FloatArray | None,
    net: FloatArray | None,
    fys: tuple[str, ...],
) -> pd.DataFrame:
    """One row per (row of ``gross``, FY): ``financial_year``, the keys, gross and net."""
    columns = ["financial_year", *keys, "gross_saving", "net_saving"]
    if gross is None or net is None:
        return pd.DataFrame(columns=columns)
    n_years = len(fys)
    data: dict[str, Any] = {"financial_year": list(fys) * gross.shape[0]}
    for name, values in keys.items():
        data[name] = [value for value in values for _ in range(n_years)]
    data["gross_saving"] = gross.ravel()
    data["net_saving"] = net.ravel()
    return pd.DataFrame(data, columns=columns)


#: Delivery ratings of a saving against its target: green from 100%, amber from 80%.
DELIVERY_THRESHOLDS: Final = {"green": 1.0, "amber": 0.8}


def _delivery_rating(delivered: float) -> str:
    """Rate the share of a savings target delivered (``-`` where it cannot be rated)."""
    if not np.isfinite(delivered):
        return "-"
    for rating, share in DELIVERY_THRESHOLDS.items():
        if delivered >= share - 1e-12:
            return rating
    return "red"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with NaN turned into None (JSON null)."""
    out: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                clean[str(key)] = None
            elif isinstance(value, np.generic):
                clean[str(key)] = value.item()
            else:
                clean[str(key)] = value
        out.append(clean)
    return out


@dataclass(frozen=True)
class Projection:
    """The result of projecting one scenario.

    Frames are built from the engine arrays on demand; the arrays are kept in ``flows``
    and ``ledger_arrays`` for users who want them unlabelled.
    """

    scenario: Scenario
    structure: ModelStructure
    flows: FlowResult
    """Engine output with S = 1."""
    ledger_arrays: LedgerArrays
    """Ledger arrays with S = 1."""
    savings_arrays: SavingsArrays | None

    @classmethod
    def from_arrays(
        cls,
        scenario: Scenario,
        structure: ModelStructure,
        flows: FlowResult,
        ledger: LedgerArrays,
        savings: SavingsArrays | None,
    ) -> Projection:
        """Wrap engine arrays (S = 1) in a labelled result."""
        return cls(scenario, structure, flows, ledger, savings)

    # -- frames --------------------------------------------------------------------------
    @property
    def months(self) -> list[str]:
        """Month labels ``"YYYY-MM"`` of the projection."""
        return [month_label(int(m)) for m in self.structure.months]

    @property
    def ledger(self) -> pd.DataFrame:
        """The DSG ledger, one row per financial year (index ``financial_year``). [£]"""
        led = self.ledger_arrays
        caps = led.deficit_cap[0]
        frame = pd.DataFrame(
            {
                "financial_year": list(self.structure.fy_labels),
                "income": led.income[0],
                "placement_cost": led.placement_cost[0],
                "other_cost": led.other_cost[0],
                "intervention_cost": led.intervention_cost[0],
                "expenditure": led.expenditure[0],
                "in_year_balance": led.in_year_balance[0],
                "contribution": led.contribution[0],
                "cumulative_balance": led.cumulative_balance[0],
                "deficit_cap": caps,
                "within_cap": pd.array(
                    [
                        bool(w) if has else None
                        for w, has in zip(led.within_cap[0], led.has_cap, strict=True)
                    ],
                    dtype="boolean",
                ),
                "other_blocks_balance": led.other_blocks_balance[0],
                "dsg_in_year_balance": led.dsg_in_year_balance[0],
                "high_needs_cumulative_balance": led.high_needs_cumulative_balance[0],
                "place_funding": led.place_funding[0],
                "top_up": led.top_up[0],
                "fees": led.fees[0],
                **{line: led.income_by_line[0, i] for i, line in enumerate(INCOME_LINES)},
                **{
                    f"contribution_{source}": led.contribution_by_source[0, i]
                    for i, source in enumerate(CONTRIBUTION_SOURCES)
                },
                "cumulative_balance_before_contributions": (
                    led.cumulative_balance_before_contributions[0]
                ),
                **{
                    f"cumulative_{source}": led.cumulative_contribution_by_source[0, i]
                    for i, source in enumerate(CONTRIBUTION_SOURCES)
                },
            }
        )
        return frame.set_index("financial_year")

    @property
    def monthly(self) -> pd.DataFrame:
        """Monthly series (index ``month``): stock, stock by placement, flows, cost."""
        fl = self.flows
        data: dict[str, Any] = {
            "financial_year": [self.structure.fy_labels[k] for k in self.structure.fy_index],
            "stock": fl.stock_by_placement[0].sum(axis=1),
        }
        for p, name in enumerate(self.structure.placements):
            data[f"stock_{name}"] = fl.stock_by_placement[0, :, p]
        for series in MONTHLY_SERIES:
            data[series] = getattr(fl, series)[0]
        frame = pd.DataFrame(data, index=pd.Index(self.months, name="month"))
        return frame

    @property
    def stock(self) -> pd.DataFrame:
        """Stock at the end of each month by age (rows ``month``, ``age``) and placement."""
        cube = self.flows.stock
        if cube is None:  # pragma: no cover - project() always keeps the stock
            msg = "this projection was run without keeping the stock by age"
            raise ArgumentError(msg)
        n_t, n_a, n_p = cube.shape[1:]
        index = pd.MultiIndex.from_product(
            [self.months, self.structure.ages.tolist()], names=["month", "age"]
        )
        return pd.DataFrame(
            cube[0].reshape(n_t * n_a, n_p),
            index=index,
            columns=pd.Index(self.structure.placements, name="placement"),
        )

    @property
    def stock_by_age(self) -> pd.DataFrame:
        """Total stock at the end of each month by age (rows ``month``, columns ages)."""
        return pd.DataFrame(
            self.flows.stock_by_age[0],
            index=pd.Index(self.months, name="month"),
            columns=pd.Index(self.structure.ages.tolist(), name="age"),
        )

    @property
    def savings(self) -> pd.DataFrame:
        """Each intervention's saving alone against no interventions, by FY. [£]

        Columns: ``financial_year, intervention, condition, gross_saving, net_saving``.
        The gross saving is the fall in placement and other costs; the net saving is the
        rise in in-year balance, so it is net of the intervention's own cost.
        """
        sv = self.savings_arrays
        if sv is None:
            return _savings_frame({"intervention": (), "condition": ()}, None, None, ())
        keys = {"intervention": sv.interventions, "condition": sv.conditions}
        return _savings_frame(keys, sv.gross_alone, sv.net_alone, self.structure.fy_labels)

    @property
    def savings_by_condition(self) -> pd.DataFrame:
        """Savings of each condition's interventions together, then of all, by FY. [£]

        Columns: ``financial_year, condition, gross_saving, net_saving``; the condition
        ``"all"`` is every intervention together. Interactions make these differ from the
        sum of the single-intervention savings.
        """
        sv = self.savings_arrays
        if sv is None:
            return _savings_frame({"condition": ()}, None, None, ())
        keys = {"condition": sv.groups}
        return _savings_frame(keys, sv.gross_group, sv.net_group, self.structure.fy_labels)

    @property
    def savings_delivery(self) -> pd.DataFrame:
        """Modelled net savings against the plan's savings targets, by FY. [£]

        One row per intervention and FY with a target (``level`` ``intervention``), then per
        condition and FY (``level`` ``condition``: its interventions' targets added up,
        against their net saving together). Columns: ``level, name, financial_year, target,
        net_saving, shortfall`` (target − saving; negative when the target is beaten),
        ``delivered`` (saving / target) and ``rating``: ``green`` from 100% delivered,
        ``amber`` from 80%, else ``red``.
        """
        columns = ["level", "name", "financial_year", "target", "net_saving"]
        rows: list[tuple[str, str, str, float, float]] = []
        targets: dict[tuple[str, str], float] = {}
        saving = self.savings.set_index(["intervention", "financial_year"])["net_saving"]
        for intervention in self.scenario.interventions:
            for fy, target in intervention.savings_target.items():
                net = float(saving[(intervention.name, fy)])
                rows.append(("intervention", intervention.name, fy, target, net))
                if intervention.condition is not None:
                    key = (intervention.condition, fy)
                    targets[key] = targets.get(key, 0.0) + target
        grouped = self.savings_by_condition.set_index(["condition", "financial_year"])
        group_saving = grouped["net_saving"]
        for (condition, fy), target in targets.items():
            rows.append(("condition", condition, fy, target, float(group_saving[(condition, fy)])))
        frame = pd.DataFrame(rows, columns=columns)
        frame["shortfall"] = frame["target"] - frame["net_saving"]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["delivered"] = frame["net_saving"] / frame["target"]
        frame["rating"] = [_delivery_rating(share) for share in frame["delivered"]]
        return frame

    @property
    def summary(self) -> Summary:
        """Target met, first balanced year, largest deficit and headroom to each cap."""
        led = self.ledger_arrays
        labels = self.structure.fy_labels
        target = self.scenario.agreement.balance_target
        first = int(led.first_balanced_year[0])
        worst = int(led.largest_deficit_year[0])
        headroom = {labels[y]: float(led.headroom[0, y]) for y in np.flatnonzero(led.has_cap)}
        return Summary(
            target_met=None if target is None else bool(led.target_met[0]),
            balance_target=target,
            first_balanced_year=labels[first] if first >= 0 else None,
            largest_deficit=float(led.largest_deficit[0]),
            largest_deficit_year=labels[worst] if worst >= 0 else None,
            closing_balance=float(led.cumulative_balance[0, -1]),
            headroom=headroom,
            within_all_caps=bool(led.within_cap[0].all()),
            **self._deficits_at("override_end", self.structure.override_end_year),
            **self._deficits_at("balance", first if first >= 0 else None),
            target_after_end=target is not None and target not in labels,
        )

    def _deficits_at(self, name: str, year: int | None) -> dict[str, Any]:
        """Return the deficit at the end of one FY, after and before contributions."""
        led = self.ledger_arrays
        after = None if year is None else -float(led.cumulative_balance[0, year])
        before = (
            None if year is None else -float(led.cumulative_balance_before_contributions[0, year])
        )
        out: dict[str, Any] = {
            f"deficit_at_{name}": after,
            f"deficit_at_{name}_before_contributions": before,
        }
        if name == "override_end":
            out["override_end_year"] = None if year is None else self.structure.fy_labels[year]
        return out

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self, *, monthly: bool = False) -> dict[str, Any]:
        """Return ledger, summary and savings (and optionally monthly) as JSON-ready values.

        Parameters
        ----------
        monthly
            Also include every month's series.

        Returns
        -------
        dict
            ``ledger``, ``summary`` and ``savings`` (and ``monthly``), with MODEL.md §6's field
            names; NaN becomes ``None``.
        """
        ledger = self.ledger.reset_index()
        ledger["within_cap"] = (
            ledger["within_cap"].astype(object).where(ledger["within_cap"].notna(), None)
        )
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "ledger": _records(ledger),
            "summary": self.summary.to_dict(),
            "savings": _records(self.savings),
            "savings_by_condition": _records(self.savings_by_condition),
            "savings_delivery": _records(self.savings_delivery),
        }
        if monthly:
            out["monthly"] = _records(self.monthly.reset_index())
        return out

    def to_json(self, *, monthly: bool = False, indent: int | None = 1) -> str:
        """Return :meth:`to_dict` as a JSON string.

        Parameters
        ----------
        monthly
            Also include every month's series.
        indent
            JSON indentation (``None``: one line).

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(monthly=monthly), indent=indent, allow_nan=False)


def check_projection(value: object, name: str = "projection", *, optional: bool = False) -> None:
    """Refuse what is not a :class:`Projection` (a scenario is the usual mistake).

    Parameters
    ----------
    value
        What was given.
    name
        The argument's name, for the message.
    optional
        Whether None is allowed.

    Raises
    ------
    ArgumentTypeError
        Naming the argument and the type given: a scenario, or the path and the projection
        given in each other's places, ended in "'Scenario' object has no attribute
        'ledger'" inside the writer or chart.
    """
    give = "a projection: dsg_forecast.project(scenario)"
    check_kind(value, Projection, name, give, optional=optional)
