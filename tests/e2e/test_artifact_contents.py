"""What the built artifacts hold: the host artifacts (`make package-host`, the same builder and file list as the AWS
zips; pip picks this machine's wheels), inspected as the Lambda sandbox unzips them.

The dbt project sits in dbt_project/, apart from dbt-core's dbt/ package, with its shipped manifest, and the
transformer's own code finds it there with nothing but the artifact on its path. No type information ships: no
stub-only package, no .pyi file, and of the mypy_boto3 packages only those dbt-athena imports when it loads.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from restaurant_pipeline.artifacts.host import ensure_host_artifacts, sandbox_python
from restaurant_pipeline.model.config import load_config
from services.transformer.adapters.shipped_manifest import ARTIFACT_PROJECT_DIR, MANIFEST_FILE, SHIPPED_DIR

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def task_roots() -> dict[str, Path]:
    return ensure_host_artifacts(load_config().nlp.enabled).task_roots


def test_no_artifact_ships_type_information(task_roots: dict[str, Path]):
    for service, root in task_roots.items():
        tops = [path.name for path in root.iterdir()]
        assert not [name for name in tops if name.endswith("-stubs")], service
        assert not [name for name in tops if name.startswith(("boto3_stubs", "botocore_stubs", "types_"))], service
        assert not list(root.rglob("*.pyi")), service
        typed_clients = {name for name in tops if name.startswith("mypy_boto3_") and name.isidentifier()}
        # dbt-athena imports these three when it loads; nothing else imports one
        expected = (
            {"mypy_boto3_athena", "mypy_boto3_glue", "mypy_boto3_lakeformation"} if service == "transformer" else set()
        )
        assert typed_clients == expected, service


def test_the_dbt_project_is_its_own_folder_and_the_transformer_finds_it_there(task_roots: dict[str, Path]):
    root = task_roots["transformer"]
    project = root / ARTIFACT_PROJECT_DIR
    assert (project / "dbt_project.yml").is_file() and (project / "profiles.yml").is_file()
    assert (project / SHIPPED_DIR / MANIFEST_FILE).is_file()
    # dbt/ is dbt-core's package, with nothing of the project in it
    assert (root / "dbt" / "version.py").is_file()
    assert not (root / "dbt" / "dbt_project.yml").exists() and not (root / "dbt" / "models").exists()

    # the artifact's own module, run with the artifact alone on its path (-S: no site-packages), as Lambda would
    found = subprocess.run(
        [
            sandbox_python().executable,
            "-S",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from services.transformer.adapters.dbt_build import default_project_dir; print(default_project_dir())",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip() == str(project)
