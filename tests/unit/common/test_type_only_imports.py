"""The boto3 client types (mypy_boto3_<service>, from the dev extra's boto3-stubs) are for mypy only: the Lambda
artifacts do not have them (artifacts/specs.py lists what each function ships; only the three dbt-athena imports
come along in the transformer's), so the code that ships names them under `if TYPE_CHECKING:` alone, and every
annotation that names them stays a string (`from __future__ import annotations`).

Read statically (an import buried in a function counts too), then for real: each adapter imports with every
mypy_boto3 package made unimportable, as in the collector's and the notifier's artifacts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ("contracts", "services")  # what the Lambda artifacts copy from the tree (artifacts/specs.py)
TYPE_ONLY = ("mypy_boto3", "boto3_stubs", "botocore_stubs", "types_")


def _type_only(module: str | None) -> bool:
    return bool(module) and str(module).split(".")[0].startswith(TYPE_ONLY)


def _under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            return True
    return False


def runtime_type_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """`file:line module` for each import of a type-only package outside `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and not _under_type_checking(node, parents):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{path.relative_to(root)}:{node.lineno} {name}" for name in names if _type_only(name)]
    return sorted(found)


def test_shipped_code_imports_the_client_types_under_type_checking_only():
    shipped = sorted(path for folder in SHIPPED for path in (REPO_ROOT / folder).rglob("*.py"))
    assert len(shipped) > 50
    assert [found for path in shipped for found in runtime_type_imports(path)] == []


def test_the_check_finds_an_import_outside_type_checking_wherever_it_is(tmp_path: Path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "import mypy_boto3_s3\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_sqs import SQSClient\n"
        "def f():\n    from mypy_boto3_sns.client import SNSClient\n"
    )
    assert runtime_type_imports(probe, tmp_path) == ["probe.py:2 mypy_boto3_s3", "probe.py:6 mypy_boto3_sns.client"]


def test_every_adapter_imports_without_the_client_types():
    adapters = sorted(
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        for path in (REPO_ROOT / "services").glob("*/adapters/*.py")
        if path.name != "__init__.py"
    )
    script = (
        "import importlib, importlib.abc, sys\n"
        "class Absent(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0].startswith('mypy_boto3'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (not in a Lambda artifact)')\n"
        "sys.meta_path.insert(0, Absent())\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(len(sys.argv) - 1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *adapters], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) == len(adapters) > 10
