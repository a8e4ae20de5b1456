"""Parameters in words and values in their units: what a finance officer reads."""

from __future__ import annotations

import re

import pytest

from dsg_forecast import Scenario
from dsg_forecast.cli import main
from dsg_forecast.sweeps.describe import format_value, parameter_label
from tests.paths import ROOT

PLAN = ROOT / "examples" / "wiltshire_plan_2024.yaml"


@pytest.mark.parametrize(
    ("path", "words", "value", "shown"),
    [
        ("demand.plan_rate", "Plan rate", 0.5612, "56.1%"),
        ("demand.requests_growth", "Requests growth", 0.05, "5.0%"),
        ("costs.fees.inmss", "Fees: Independent and non-maintained special", 64_000, "£64,000"),
        ("interventions[0].effects[0].multiply", "Earlier support and inclusion: requests ×",
         0.84, "× 0.84"),
        ("agreement.contributions[2025-26]", "DfE contribution: 2025-26", 1.1e7, "£11,000,000"),
        ("ceasing.rates[16]", "Ceasing rate: age 16", 0.03, "3.0%"),
        ("costs.uplift.inmss", "Price growth: Independent and non-maintained special", 0.03,
         "3.0%"),
        ("transitions[7].rate", "Moves Mainstream → Special: rate", 0.03, "3.0%"),
        ("capacity[0].places", "Places: Special", 1151, "1,151"),
        ("funding.high_needs_block", "High needs block", 86_471_600.0, "£86,471,600"),
    ],
)  # fmt: skip
def test_paths_read_as_words(
    wiltshire: Scenario, path: str, words: str, value: float, shown: str
) -> None:
    assert parameter_label(wiltshire, path) == words
    assert format_value(path, value) == shown


def test_no_command_prints_money_in_scientific_notation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lever = ["--lever", "funding.high_needs_block", "--mode", "shift", "--low", "0"]
    args = ["solve", str(PLAN), *lever, "--high", "150000000", "--target", "balance:2027-28"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("High needs block increased by £") and not re.search(r"\de[+-]\d", out)
