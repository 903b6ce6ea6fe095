"""Two rules of the import graph, checked on every import statement (at module level or inside a function).

Inside a service, the domain never reaches an adapter: services/<name>/domain/ imports neither
services/*/adapters/ nor services/common/adapters/, directly or through a module it imports (a port, the settings,
contracts). It talks to the outside through the Protocols of ports.py; the adapters implement them and
bootstrap.py wires them in.

Between services, only contracts/ and the specs: a module outside services/<x>/ (restaurant_pipeline/, cdk/,
services/common/, another service) imports services.<x> only through services.<x>.spec, the service's declared
surface; services.common is shared by all. contracts/ imports nothing of services/, restaurant_pipeline/ or cdk/.
tests/ and benchmarks/ are exempt: they test and measure the internals on purpose."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
PROJECT = ("contracts", "services")
# Every package the service boundary is checked in (tests/ and benchmarks/ exempt: the docstring says why).
BOUNDED = ("contracts", "services", "restaurant_pipeline", "cdk")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path, packages: tuple[str, ...] = PROJECT) -> dict[str, Path]:
    return {module_name(path, root): path for package in packages for path in sorted((root / package).rglob("*.py"))}


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


def service(name: str) -> str | None:
    """services.<service>[...] -> "<service>"; None outside services/ and for services.common, which is shared."""
    parts = name.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 and parts[1] != "common" else None


def allowed(importer: str, target: str) -> bool:
    """May `importer` import `target`? A service's own modules, services.common, a service's spec (and its empty
    package), anything outside services/; contracts/ only contracts/ (and outside packages)."""
    if importer.split(".")[0] == "contracts":
        return target.split(".")[0] not in BOUNDED[1:]
    owner = service(target)
    if owner is None or owner == service(importer):
        return True
    return target in (f"services.{owner}", f"services.{owner}.spec")


def reaching_into_services(root: Path) -> list[str]:
    """'<importer> -> <target> (file:line)', per import of another service's internals or a contract's import of
    the project."""
    known = modules(root, BOUNDED)
    return [
        f"{name} -> {target} ({path.relative_to(root)}:{line})"
        for name, path in known.items()
        for line, target in imported(name, path, known)
        if not allowed(name, target)
    ]


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


def test_outside_a_service_only_its_spec_is_imported():
    assert reaching_into_services(REPO_ROOT) == []


def test_the_check_sees_imports_of_another_services_internals(tmp_path):
    """The check itself: the CLI, the infrastructure, another service and contracts reaching into a service are
    named; its spec, services.common and a service's own modules are not."""
    files = {
        "contracts/__init__.py": "",
        "contracts/layout.py": "from services.common import names\n",
        "services/__init__.py": "",
        "services/common/__init__.py": "",
        "services/common/names.py": "",
        "services/demo/__init__.py": "",
        "services/demo/spec.py": "from services.demo.domain import plan\n",
        "services/demo/domain/__init__.py": "",
        "services/demo/domain/plan.py": "from ..adapters import store\nfrom services.common import names\n",
        "services/demo/adapters/__init__.py": "",
        "services/demo/adapters/store.py": "",
        "services/other/__init__.py": "",
        "services/other/service.py": "from services.demo import spec\nfrom services.demo.domain.plan import x\n",
        "restaurant_pipeline/__init__.py": "",
        "restaurant_pipeline/cli.py": "def run():\n    import services.demo.adapters.store as store\n",
        "cdk/__init__.py": "",
        "cdk/stack.py": "from services.demo.spec import SPEC\nfrom services.demo import spec\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert reaching_into_services(tmp_path) == [
        "contracts.layout -> services.common.names (contracts/layout.py:1)",
        "services.other.service -> services.demo.domain.plan (services/other/service.py:2)",
        "restaurant_pipeline.cli -> services.demo.adapters.store (restaurant_pipeline/cli.py:2)",
    ]


def test_the_raw_layout_contract_spells_the_raw_prefix_of_the_services():
    """contracts/layout.py writes the prefix out (contracts/ imports no service): it must be RAW_PREFIX."""
    from contracts.layout import RAW_LAYOUT_PREFIX
    from services.common.names import RAW_PREFIX

    assert RAW_LAYOUT_PREFIX == RAW_PREFIX
