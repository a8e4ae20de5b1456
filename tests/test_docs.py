"""The documentation keeps up with the code."""

from __future__ import annotations

import re

from pydantic import BaseModel

from dsg_forecast.schema import scenario as scenario_module
from tests.paths import ROOT


def test_every_schema_field_is_documented() -> None:
    text = (ROOT / "docs" / "scenario-format.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", text))
    for model in vars(scenario_module).values():
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel:
            for name, field in model.model_fields.items():
                key = field.alias or name
                assert key in documented, (
                    f"{model.__name__}.{key} is not in docs/scenario-format.md"
                )


def test_readme_gives_the_two_commands() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])
    assert "dsg-forecast run examples/wiltshire_2024.yaml" in first_screen
    assert 'pip install -e ".[dev]" && python -m pytest -q' in first_screen


def test_ci_runs_the_readme_test_command() -> None:
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


def test_readme_ledger_matches_the_engine() -> None:
    """The ledger shown in the README is what the Wiltshire example prints today."""
    from dsg_forecast import load_scenario, project
    from dsg_forecast.cli.projection import format_table

    table = format_table(project(load_scenario(ROOT / "examples" / "wiltshire_2024.yaml")))
    readme = (ROOT / "README.md").read_text()
    for line in table.splitlines():
        if line.startswith("20"):
            assert line in readme, line


def test_architecture_lists_every_module() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    package = ROOT / "src" / "dsg_forecast"
    for path in package.rglob("*.py"):
        if path.name == "__init__.py" and path.parent != package:
            continue
        assert path.name in text, (
            f"{path.relative_to(package)} is missing from docs/ARCHITECTURE.md"
        )
