"""The package's shape: layers, no import cycles, the public API (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import dsg_forecast
import dsg_forecast.engine

PACKAGE = Path(dsg_forecast.__file__).parent

#: layer of each top-level module or subpackage
LAYER_OF = {
    "_types": "core", "_version": "core", "_processes": "core", "errors": "core", "periods": "core",
    "schema": "schema", "engine": "engine", "compiler": "compiler",
    "model": "model", "results": "model", "data": "data", "io": "io",
    "estimation": "estimation", "sweeps": "sweeps", "reporting": "reporting", "cli": "cli",
    "": "package",
}  # fmt: skip

#: what each layer may import (besides itself), as docs/ARCHITECTURE.md draws it
ALLOWED = {
    "core": set(),
    "schema": {"core"},
    "engine": {"core"},
    "compiler": {"schema", "engine", "core"},
    "model": {"compiler", "schema", "engine", "core"},
    "data": {"core"},
    "io": {"model", "schema", "core"},
    "estimation": {"data", "io", "model", "compiler", "schema", "engine", "core"},
    "sweeps": {"io", "model", "compiler", "schema", "engine", "core"},
    "reporting": {"estimation", "sweeps", "io", "model", "compiler", "schema", "engine", "core"},
    "cli": set(LAYER_OF.values()) - {"package"},
    "package": set(LAYER_OF.values()) - {"cli", "package"},
}

EXPECTED_PUBLIC_API = {
    "BatchResult",
    "DsgForecastError",
    "Issue",
    "Projection",
    "Scenario",
    "ScenarioError",
    "ShapeError",
    "Summary",
    "SweepResult",
    "__version__",
    "compile_scenario",
    "load_scenario",
    "load_sweep",
    "project",
    "read_stock_csv",
    "run_batch",
    "run_sweep",
    "write_results",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(path: Path) -> set[str]:
    """Every module name a file imports at run time (anywhere in it, not for annotations)."""
    names: set[str] = set()

    def visit(nodes: list[ast.stmt] | list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                # "from package import submodule" imports the submodule (the package's
                # __init__ runs first whatever is imported, so it is not an edge of its own)
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    names.add(full if full in MODULES else node.module)
            visit(list(ast.iter_child_nodes(node)))

    visit(ast.parse(path.read_text()).body)
    return names


def _resolve(name: str) -> str | None:
    """The package module a dotted name refers to (a module, or a name inside one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {_resolve(name) for name in _imported(path) if name.startswith("dsg_forecast")}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    return LAYER_OF[parts[1] if len(parts) > 1 else ""]


def test_no_import_cycle() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_layers_import_only_what_they_may() -> None:
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) != layer(module) and layer(target) not in ALLOWED[layer(module)]
    ]
    assert not wrong, wrong


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        assert layer(module)


def test_engine_never_imports_pandas_pydantic_or_matplotlib() -> None:
    """STYLE rule 1.1: the engine and the ledger see arrays only."""
    for module, path in MODULES.items():
        if layer(module) != "engine":
            continue
        for name in _imported(path):
            assert name.split(".")[0] not in {"pandas", "pydantic", "matplotlib"}, (module, name)


def test_commands_that_never_draw_do_not_import_scipy_stats() -> None:
    """scipy.stats and scipy.special take half a second to import: loading the sweeps'
    modules (for compare or a one-scenario solve) must not pull them in, nor loading the
    fit's module (``validate`` does, to check a ``fit:`` section; only fitting needs
    scipy.optimize); a sweep's first draw does."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import dsg_forecast.sweeps, dsg_forecast.reporting.compare\n"
        "print(sorted(m for m in sys.modules if m in ('scipy.stats', 'scipy.special')))\n"
        "import dsg_forecast.sweeps.fit\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy.')) == [])\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["[]", "True"], ran.stdout


def test_the_graph_sees_a_real_import() -> None:
    """Guard against a parser that finds nothing: a few edges we know exist."""
    graph = import_graph()
    assert "dsg_forecast.engine.structure" in graph["dsg_forecast.compiler"]
    assert "dsg_forecast.engine.numba_kernel" in graph["dsg_forecast.engine.simulate"]


def test_public_api_is_pinned() -> None:
    assert set(dsg_forecast.__all__) == EXPECTED_PUBLIC_API
    for name in dsg_forecast.__all__:
        assert hasattr(dsg_forecast, name), name


def test_engine_api_is_importable() -> None:
    for name in dsg_forecast.engine.__all__:
        assert hasattr(dsg_forecast.engine, name), name


def test_no_module_shadows_the_standard_library() -> None:
    """No module is named like a standard-library module or a builtin (``calendar``,
    ``compile``), except ``io``, the name STYLE.md gives the file edges, and ``__main__``."""
    import builtins
    import sys

    for module in MODULES:
        leaf = module.rpartition(".")[2]
        if leaf in {"io", "__main__"}:
            continue
        assert leaf not in sys.stdlib_module_names, module
        assert not hasattr(builtins, leaf), module


#: the two kernels are one month's arithmetic each, kept whole on purpose
LONG_ALLOWED = {("dsg_forecast.engine.numpy_kernel", "run_numpy"),
                ("dsg_forecast.engine.numba_kernel", "_kernel")}  # fmt: skip


def test_functions_stay_short() -> None:
    """No function outside the two kernels is longer than 80 lines (docstring included)."""
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80 and (module, node.name) not in LONG_ALLOWED:
                    long.append(f"{module}.{node.name}: {length} lines")
    assert not long, long


#: Functions pydantic calls to validate a field (plain ``ValueError`` is what pydantic turns
#: into a ``ScenarioError``'s issue; the schema's own field types).
FIELD_VALIDATORS = "dsg_forecast.schema.fields"
BUILTIN_ERRORS = {"ValueError", "TypeError", "KeyError", "LookupError", "RuntimeError"}


def test_every_refusal_is_a_dsg_forecast_error() -> None:
    """Outside pydantic validators, the library raises its own errors, never a bare builtin:
    ``except DsgForecastError`` catches everything it refuses, and the command line prints
    it on one screen (a bare ``ValueError`` reaching a command was a traceback)."""
    bare = []
    for module, path in MODULES.items():
        if module == FIELD_VALIDATORS:
            continue

        def visit(node: ast.AST, in_validator: bool, module: str = module) -> None:
            if isinstance(node, ast.FunctionDef):
                decorators = [ast.unparse(d) for d in node.decorator_list]
                in_validator = any("validator" in d for d in decorators)
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in BUILTIN_ERRORS
                and not in_validator
            ):
                bare.append(f"{module}:{node.lineno} raises {node.exc.func.id}")
            for child in ast.iter_child_nodes(node):
                visit(child, in_validator)

        visit(ast.parse(path.read_text()), in_validator=False)
    assert not bare, bare
