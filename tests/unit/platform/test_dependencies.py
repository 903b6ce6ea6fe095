"""Dependencies point one way: contracts <- services <- restaurant_pipeline <- cdk, tests and benchmarks.

The Lambda artifacts ship contracts/ and services/ only, so those never import the platform; the platform never
imports the CDK app, which consumes it. Checked on every import statement, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

FORBIDDEN = {
    "contracts": ("services", "restaurant_pipeline", "cdk"),
    "services": ("restaurant_pipeline", "cdk"),
    "restaurant_pipeline": ("cdk",),
}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_what_depends_on_it(package):
    offending = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for line, module in imports(path)
        if module.split(".")[0] in FORBIDDEN[package]
    ]
    assert offending == []
