from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsg_forecast import Projection, Scenario, load_scenario, project
from tests.paths import DATA, EXAMPLES


@pytest.fixture(scope="session")
def worked_path() -> Path:
    return EXAMPLES / "worked_example.yaml"


@pytest.fixture(scope="session")
def worked(worked_path: Path) -> Scenario:
    return load_scenario(worked_path)


@pytest.fixture()
def worked_dict(worked_path: Path) -> dict[str, Any]:
    """The worked example as a fresh, mutable mapping (for making bad variants)."""
    data: dict[str, Any] = yaml.safe_load(worked_path.read_text())
    return data


@pytest.fixture(scope="session")
def worked_projection(worked: Scenario) -> Projection:
    """The worked example projected once for the whole test run (treat it as read-only)."""
    return project(worked)


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "worked_example_expected.json").read_text())
    return data


@pytest.fixture(scope="session")
def wiltshire() -> Scenario:
    """The Wiltshire plan example: the richest shipped scenario (every budget line, seven
    interventions, capacity and overflow)."""
    return load_scenario(EXAMPLES / "wiltshire_plan_2024.yaml")


@pytest.fixture
def wiltshire_dict(wiltshire: Scenario) -> dict[str, Any]:
    """The Wiltshire example as a fresh mapping, its stock CSV read in."""
    data: dict[str, Any] = wiltshire.model_dump(by_alias=True, mode="json", exclude_unset=True)
    return data
