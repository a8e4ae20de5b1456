"""The self-contained HTML report, as a browser shows it."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from dsg_forecast import Projection, Scenario
from dsg_forecast.cli import main
from dsg_forecast.reporting.html_report import html_report, input_hash


def test_report_is_self_contained(worked_projection: Projection) -> None:
    page = html_report(worked_projection)
    assert page.startswith("<!doctype html>")
    # nothing loaded from elsewhere: charts are embedded, the style inline
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert page.count("data:image/png;base64,") == 4  # balance, in-year, mix, savings
    assert "−£826,967" in page  # cumulative balance, 2024-25 (MODEL.md §7)
    assert 'is <span class="bad">not met</span>' in page
    assert input_hash(worked_projection.scenario) in page
    assert "<td>Intervention: earlier support (condition 3.1)</td>" in page
    assert "from 2025-01, full effect after 3 months: requests" in page
    from dsg_forecast import project

    scenario = worked_projection.scenario
    first = scenario.interventions[0].model_copy(update={"ramp_months": 0})
    at_once = scenario.model_copy(update={"interventions": [first, *scenario.interventions[1:]]})
    assert "from 2025-01, in full at once: requests" in html_report(project(at_once))
    assert "{" not in page.split("<h2>Assumptions</h2>")[1]  # no Python dicts, only words
    assert "<th>In-year balance</th>" in page and "in_year_balance" not in page


def test_placeholders_and_part_years_are_flagged(worked: Scenario) -> None:
    from dsg_forecast import project

    marked = worked.model_copy(update={"placeholders": ["costs.unit_cost"]})
    page = html_report(project(marked))
    assert "<p class='banner'>PLACEHOLDER FIGURES: costs.unit_cost" in page
    later = worked.model_copy(update={"start": "2025-01"})
    page = html_report(project(later))
    assert "2024-25 (part year: 3 months)" in page


def test_input_hash_changes_with_inputs(worked: Scenario) -> None:
    other = worked.model_copy(update={"net_transfer_rate": 0.04})
    assert input_hash(worked) != input_hash(other)
    assert len(input_hash(worked)) == 64


def test_report_command(worked_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(worked_path), "--out", str(out)]) == 0
    assert out.stat().st_size > 50_000


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(worked_projection: Projection, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html_report(worked_projection), encoding="utf-8")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],  # type: ignore[list-item]
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<h2>DSG ledger</h2>" in dom and "−£826,967" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],  # type: ignore[list-item]
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a page with tables and charts, not a blank one


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_printed_report_keeps_every_ledger_column(wiltshire: Scenario, tmp_path: Path) -> None:
    """Issue 10's acceptance: printed to PDF (A4 landscape), no ledger column is cut off."""
    from pypdf import PdfReader

    from dsg_forecast import project
    from dsg_forecast.reporting.html_report import LEDGER_COLUMNS
    from dsg_forecast.reporting.labels import label

    page = tmp_path / "report.html"
    page.write_text(html_report(project(wiltshire)), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
    ]  # fmt: skip
    subprocess.run(
        [CHROMIUM, *flags, f"--print-to-pdf={pdf}", page.as_uri()],  # type: ignore[list-item]
        capture_output=True,
        timeout=120,
        check=True,
    )
    reader = PdfReader(pdf)
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert width > height  # landscape
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    text = unicodedata.normalize("NFKC", text)  # the PDF's "ﬁ" ligature, as two letters
    for column in (*LEDGER_COLUMNS, "within_cap"):
        assert label(column) in text, f"{label(column)!r} is missing from the printed report"
    assert "−£28,250,994" in text  # the plan's 2024-25 in-year deficit, the last rows printed
    assert "EHC plans by placement" in text
