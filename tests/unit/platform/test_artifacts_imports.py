"""The artifact builder's modules import one another one way only (issue 25): build.py never reaches back into
host.py, not even inside a function, so neither needs the other half-initialised to load."""

from __future__ import annotations

import ast
from pathlib import Path

import restaurant_pipeline.artifacts as artifacts

PACKAGE = "restaurant_pipeline.artifacts"
FOLDER = Path(artifacts.__file__).parent


def _imports_within_package(path: Path) -> set[str]:
    """The sibling modules a module imports anywhere in it (module level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}."):
            found.add((node.module or "").removeprefix(f"{PACKAGE}.").split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix(f"{PACKAGE}.").split(".")[0]
                for alias in node.names
                if alias.name.startswith(f"{PACKAGE}.")
            )
    return found - {path.stem}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph as a path (first module repeated at the end), or []."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str]:
        state[module] = "open"
        for other in sorted(graph.get(module, set())):
            if state.get(other) == "open":
                return [*path[path.index(other) :], other] if other in path else [module, other]
            if other not in state:
                found = visit(other, [*path, other])
                if found:
                    return found
        state[module] = "done"
        return []

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return []


def test_the_artifact_modules_import_one_another_without_a_cycle():
    graph = {path.stem: _imports_within_package(path) for path in sorted(FOLDER.glob("*.py"))}

    assert graph["host"] >= {"build"}, "the check reads the imports it is meant to (host.py builds with build.py)"
    assert _cycle(graph) == [], f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_cycle_finder_names_a_cycle_through_a_lazy_import():
    assert _cycle({"build": {"host"}, "host": {"build", "specs"}, "specs": set()}) == ["build", "host", "build"]
