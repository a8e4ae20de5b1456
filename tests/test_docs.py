"""The documentation keeps up with the code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

from pydantic import BaseModel

import dsg_forecast
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
    assert "dsg-forecast run examples/wiltshire_plan_2024.yaml" in first_screen
    assert 'pip install -e ".[dev]" && python -m pytest -q' in first_screen


def test_ci_runs_the_readme_test_command() -> None:
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


def test_readme_ledger_matches_the_engine() -> None:
    """The ledger shown in the README is what the Wiltshire example prints today."""
    from dsg_forecast import load_scenario, project
    from dsg_forecast.cli.projection import format_table

    table = format_table(project(load_scenario(ROOT / "examples" / "wiltshire_plan_2024.yaml")))
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


def _public_functions() -> list[tuple[str, Any]]:
    """Every public function and method of the package's public modules, with parameters."""
    found = []
    for info in pkgutil.walk_packages(dsg_forecast.__path__, "dsg_forecast."):
        parts = info.name.split(".")[1:]
        if any(part.startswith("_") for part in parts):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != info.name:
                continue
            if inspect.isfunction(value):
                found.append((f"{info.name}.{name}", value))
            elif inspect.isclass(value):
                found.extend(
                    (f"{info.name}.{name}.{method}", function)
                    for method, function in vars(value).items()
                    if not method.startswith("_") and inspect.isfunction(function)
                )
    return [
        (name, function)
        for name, function in found
        if set(inspect.signature(function).parameters) - {"self", "cls"}
    ]


def test_public_functions_document_their_parameters() -> None:
    """numpydoc, as our models do: every public function has a Parameters section."""
    functions = _public_functions()
    assert len(functions) > 100  # the walk found the package
    missing = [
        name
        for name, function in functions
        if "Parameters\n----------" not in (inspect.getdoc(function) or "")
    ]
    assert not missing, missing


def test_docstring_sections_appear_once() -> None:
    for name, function in _public_functions():
        doc = inspect.getdoc(function) or ""
        for section in ("Parameters", "Returns", "Yields", "Raises", "Examples"):
            assert doc.count(f"\n{section}\n---") <= 1, (name, section)
