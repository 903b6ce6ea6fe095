"""Inside a service, the domain never reaches an adapter: services/<name>/domain/ imports neither
services/*/adapters/ nor services/common/adapters/, directly or through a module it imports (a port, the settings,
contracts). It talks to the outside through the Protocols of ports.py; the adapters implement them and
bootstrap.py wires them in. Every import statement counts, at module level or inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
PROJECT = ("contracts", "services")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for package in PROJECT for path in sorted((root / package).rglob("*.py"))}


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """The project modules `path` imports: `import a.b`, `from a.b import c` (c a module or a name), relative ones."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from a import b`: the module a.b when there is one, else a name of a
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target in known:
                yield node.lineno, target


def layer(name: str) -> str | None:
    """services.<service>.<layer>[...]: "domain", "adapters", "ports", ... (None above that)."""
    parts = name.split(".")
    return parts[2] if parts[0] == "services" and len(parts) > 2 else None


def domain_reaching_adapters(root: Path) -> list[str]:
    """'<domain module> -> ... -> <adapter module> (file:line of the last step)', per domain module reaching one."""
    known = modules(root)
    edges = {name: list(imported(name, path, known)) for name, path in known.items()}
    found = []
    for start in sorted(name for name in known if layer(name) == "domain"):
        seen, queue = {start: [start]}, [start]
        while queue:
            current = queue.pop(0)
            for line, target in edges[current]:
                if target in seen:
                    continue
                seen[target] = [*seen[current], target]
                if layer(target) == "adapters":
                    where = f"{known[current].relative_to(root)}:{line}"
                    found.append(f"{' -> '.join(seen[target])} ({where})")
                    continue
                queue.append(target)
    return found


def test_no_domain_module_imports_an_adapter():
    assert domain_reaching_adapters(REPO_ROOT) == []


def test_the_check_sees_a_domain_module_that_imports_an_adapter_through_a_port(tmp_path):
    """The check itself: a domain module importing an adapter (here through ports.py, inside a function) is named."""
    files = {
        "contracts/__init__.py": "",
        "services/__init__.py": "",
        "services/common/__init__.py": "",
        "services/common/adapters/__init__.py": "",
        "services/common/adapters/ledger.py": "import boto3\n",
        "services/demo/__init__.py": "",
        "services/demo/ports.py": "def ledger():\n    from services.common.adapters import ledger\n",
        "services/demo/domain/__init__.py": "",
        "services/demo/domain/plan.py": "from ..ports import ledger\n",
        "services/demo/domain/clean.py": "from services.demo.domain import plan as _\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert domain_reaching_adapters(tmp_path) == [
        "services.demo.domain.clean -> services.demo.domain.plan -> services.demo.ports -> services.common.adapters"
        ".ledger (services/demo/ports.py:2)",
        "services.demo.domain.plan -> services.demo.ports -> services.common.adapters.ledger"
        " (services/demo/ports.py:2)",
    ]
