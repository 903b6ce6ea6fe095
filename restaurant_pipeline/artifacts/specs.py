"""What goes into each Lambda artifact, for which platform, and where the builder puts it. No CDK import here.

Each function gets only the distributions its code imports (the collector and notifier need far fewer than
the transformer) plus the project packages it runs: its spec says which (services/<name>/spec.py). Versions are
pinned by requirements.lock.

Two platforms, one builder (restaurant_pipeline/artifacts/build.py):
- `LAMBDA`: what `make package` builds and `deploy` uploads: Linux arm64 wheels for CPython 3.12;
- the host: the same file list, exclusions and shipped dbt manifest, with wheels for this machine's interpreter,
  run by the local stack's Lambda sandbox (`local up --artifacts`, restaurant_pipeline/local/sandbox.py). Only the
  wheels differ, plus what stands in for Athena on the host: the transformer's DuckDB warehouse (dbt-duckdb), with
  its shipped manifest parsed for the `local` dbt target instead of `athena`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.common.spec import ServiceSpec, service_specs
from services.transformer.spec import ARTIFACT_PROJECT_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "build" / "lambda"
HOST_BUILD_DIR = REPO_ROOT / "build" / "lambda-host"
LOCK_FILE = REPO_ROOT / "requirements.lock"

# The Lambda platform: Python 3.12 on Graviton (arm64). 3.13 is not possible yet: dbt-athena pins
# mmh3<4.2, which publishes no cp313 manylinux aarch64 wheel (measured with `make package`).
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

# Lambda limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
# 50 MB for a zip uploaded directly, 250 MB unzipped in every case. CDK uploads through S3, where only the
# unzipped limit binds; we still report both.
ZIP_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024

_COMMON = ("pydantic", "aws-lambda-powertools", "boto3")

# The runtime interface client AWS's own Python base images run (https://pypi.org/project/awslambdaric/ is its
# source; https://docs.aws.amazon.com/lambda/latest/dg/python-image.html#python-image-clients). It belongs to the
# Lambda runtime, not to a function: on the host it goes to the sandbox's runtime folder (LAMBDA_RUNTIME_DIR).
RUNTIME_INTERFACE_CLIENT = ("awslambdaric",)

DbtTarget = Literal["athena", "local"]


@dataclass(frozen=True)
class ArtifactSpec:
    service: str
    distributions: tuple[str, ...]  # names as in pyproject [project] dependencies
    packages: tuple[str, ...]  # project folders copied as-is (Python packages or data folders)
    # Distributions the host artifact adds: what stands in on this machine for an AWS service the function uses.
    host_distributions: tuple[str, ...] = ()

    @property
    def zip_path(self) -> Path:
        return BUILD_DIR / f"{self.service}.zip"

    @property
    def directory(self) -> Path:
        return BUILD_DIR / self.service


@dataclass(frozen=True)
class Platform:
    """Where an artifact runs. `pip_target_args` make pip pick that platform's wheels from any interpreter."""

    name: Literal["lambda", "host"]
    build_dir: Path
    python_version: str  # "3.12"
    pip_target_args: tuple[str, ...]  # --platform/--python-version/--implementation, or () for the pip's own
    dbt_target: DbtTarget  # the dbt output the shipped manifest is parsed for
    zip_level: int  # 9: the smallest upload; 1: the fastest local build
    description: str
    # The interpreter on this machine that runs the artifact (the host's sandbox): its own pip picks the wheels and
    # it compiles the bytecode. "" for Lambda: this interpreter's pip picks them with pip_target_args.
    python: str = ""

    def zip_path(self, service: str) -> Path:
        return self.build_dir / f"{service}.zip"

    def marker_environment(self) -> dict[str, str]:
        """The values of requirements.lock's environment markers (`; python_full_version < '3.13'`) there."""
        from packaging.markers import default_environment

        environment = {key: str(value) for key, value in default_environment().items()}  # the host: this machine
        if self.name == "lambda":
            environment |= {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"}
            environment |= {"os_name": "posix", "implementation_name": "cpython"}
        environment |= {"python_version": self.python_version, "python_full_version": f"{self.python_version}.0"}
        return environment


LAMBDA = Platform(
    name="lambda",
    build_dir=BUILD_DIR,
    python_version=LAMBDA_PYTHON_VERSION,
    pip_target_args=(
        "--platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
    ),
    dbt_target="athena",
    zip_level=9,
    description=f"Linux arm64 ({LAMBDA_PLATFORM}) / CPython {LAMBDA_PYTHON_VERSION}",
)


def _artifact(service: ServiceSpec) -> ArtifactSpec:
    """A service's artifact, from its spec: the common distributions and folders, then its own."""
    return ArtifactSpec(
        service.name,
        (*_COMMON, *service.distributions),
        ("contracts", "services/__init__.py", "services/common", f"services/{service.name}", *service.extra_folders),
        host_distributions=service.host_distributions,
    )


ARTIFACTS: dict[str, ArtifactSpec] = {service.name: _artifact(service) for service in service_specs()}

# Never shipped to AWS: the CLI, the local scheduler and the local warehouse.
LOCAL_ONLY_DISTRIBUTIONS = ("typer", "rich", "croniter", "dbt-duckdb", "duckdb", "duckdb-ext-httpfs")

# The dbt project: dbt/ in the repository, shipped under another name, ARTIFACT_PROJECT_DIR (dbt_project/), because
# at the artifact's root dbt/ is dbt-core's own package (pip installs it there): merged into it, the project's files
# (its tests/, macros/ ...) would sit among dbt-core's modules, and the shipped manifest's fingerprint would hash
# dbt-core too. The transformer looks for it there (services/transformer/adapters/dbt_build.default_project_dir).
DBT_PROJECT = "dbt"
RENAMED_IN_ARTIFACT = {DBT_PROJECT: ARTIFACT_PROJECT_DIR}

# Left out of every artifact: caches wherever they are (by folder name), and dbt's own build output, logs and user
# file by their exact path from the project folder (the repository's or the artifact's). A folder named `logs` or
# `target` elsewhere is code and ships (botocore/data/logs is the CloudWatch Logs model boto3 needs).
# (dbt_packages/ ships: dbt needs the packages `dbt deps` installed, and Lambda cannot download them.)
EXCLUDED_PARTS = (".pytest_cache",)
EXCLUDED_PATHS = tuple(
    f"{folder}/{name}" for folder in (DBT_PROJECT, ARTIFACT_PROJECT_DIR) for name in ("target", "logs", ".user.yml")
)

# Type information, never read at run time, left out of every artifact (pip installs it with the distributions that
# depend on it: dbt-athena requires boto3-stubs[athena,glue,lakeformation,sts]):
# - PEP 561 stub-only packages, folders named `<package>-stubs` (boto3-stubs, botocore-stubs, s3transfer-stubs from
#   types-s3transfer): no import statement can name them; their distribution's .dist-info goes with them;
# - every `.pyi` stub file, wherever it is (the interpreter imports .py and extension modules only).
# The `mypy_boto3_<service>` packages are modules, not stubs: dbt-athena imports mypy_boto3_athena, _glue and
# _lakeformation when it loads (dbt/adapters/athena/impl.py, connections.py, lakeformation.py), so those ship; one that
# no shipped module imports (mypy_boto3_sts) is left out with its .dist-info (build.strip_type_information).
STUB_PACKAGE_SUFFIX = "-stubs"
STUB_FILE_SUFFIX = ".pyi"
TYPED_CLIENT_PREFIX = "mypy_boto3_"
# The repository's bytecode caches are never copied; the artifact's own bytecode, compiled by the build for the
# platform's Python, is shipped (build.compile_bytecode).
BYTECODE_CACHE = "__pycache__"


def artifacts_built() -> bool:
    return all(spec.zip_path.is_file() for spec in ARTIFACTS.values())
