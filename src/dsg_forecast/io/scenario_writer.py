"""Write a scenario to YAML, with comments (for calibrated scenarios: how each input was set)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from dsg_forecast.errors import as_path
from dsg_forecast.io.output import written_atomically
from dsg_forecast.schema.scenario import Scenario


def _plain(value: Any) -> Any:
    """Age keys as numbers, tuples as lists: YAML a person would write."""
    if isinstance(value, dict):
        return {
            (int(key) if isinstance(key, str) and key.isdigit() else key): _plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def scenario_to_yaml(scenario: Scenario, header: Sequence[str] = ()) -> str:
    """Return the scenario as YAML text, preceded by ``header`` lines as comments.

    Parameters
    ----------
    scenario
        The scenario to write.
    header
        Lines written first, each as a ``#`` comment (sources, notes).

    Returns
    -------
    str
        YAML that :func:`dsg_forecast.load_scenario` reads back to the same scenario.
    """
    data = _plain(scenario.model_dump(by_alias=True, exclude_none=True))
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return comments + body


#: The names a scenario is written under: YAML text under another suffix (``.json``) would
#: be read as that format, and fail, when the file is loaded again.
YAML_SUFFIXES: Final = (".yaml", ".yml")


def write_scenario(
    scenario: Scenario, path: str | Path, header: Sequence[str] = (), *, force: bool = False
) -> Path:
    """Write the scenario as YAML (loadable by :func:`dsg_forecast.load_scenario`).

    Parameters
    ----------
    scenario
        The scenario to write.
    path
        The YAML file to write.
    header
        Lines written first, each as a ``#`` comment.
    force
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    OutputError
        If ``path`` does not end in ``.yaml`` or ``.yml``, or exists (without ``force``).
    """
    target = as_path(path)
    text = scenario_to_yaml(scenario, header)
    with written_atomically(target, force=force, suffixes=YAML_SUFFIXES) as partial:
        partial.write_text(text, encoding="utf-8")
    return target
