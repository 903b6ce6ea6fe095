"""What goes into each Lambda artifact, and where `make package` puts it. No CDK import here.

Each function gets only the distributions its code imports (the collector and notifier need far fewer than
the transformer) plus the project packages it runs. Versions are pinned by requirements.lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "lambda"
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


@dataclass(frozen=True)
class ArtifactSpec:
    service: str
    distributions: tuple[str, ...]  # names as in pyproject [project] dependencies
    packages: tuple[str, ...]  # project folders copied as-is (Python packages or data folders)

    @property
    def zip_path(self) -> Path:
        return BUILD_DIR / f"{self.service}.zip"

    @property
    def directory(self) -> Path:
        return BUILD_DIR / self.service


ARTIFACTS: dict[str, ArtifactSpec] = {
    "collector": ArtifactSpec(
        "collector",
        (*_COMMON, "aiohttp"),
        ("contracts", "services/__init__.py", "services/common", "services/collector"),
    ),
    "transformer": ArtifactSpec(
        "transformer",
        # dbt on Athena only: dbt-duckdb, duckdb and its httpfs extension are the local target's.
        (*_COMMON, "dbt-core", "dbt-athena-community", "vadersentiment"),
        ("contracts", "services/__init__.py", "services/common", "services/transformer", "dbt"),
    ),
    "notifier": ArtifactSpec(
        "notifier",
        _COMMON,
        ("contracts", "services/__init__.py", "services/common", "services/notifier"),
    ),
}

# Never shipped: the CLI, the local scheduler and the local warehouse.
LOCAL_ONLY_DISTRIBUTIONS = ("typer", "rich", "croniter", "dbt-duckdb", "duckdb", "duckdb-ext-httpfs")

# Left out of every artifact: caches wherever they are (by folder name), and dbt's own build output, logs and user
# file by their exact path from the artifact's root. A folder named `logs` or `target` elsewhere is code and ships
# (botocore/data/logs is the CloudWatch Logs model boto3 needs). (dbt/dbt_packages/ ships: dbt needs the packages
# `dbt deps` installed, and Lambda cannot download them.)
EXCLUDED_PARTS = ("__pycache__", ".pytest_cache")
EXCLUDED_PATHS = ("dbt/target", "dbt/logs", "dbt/.user.yml")


def artifacts_built() -> bool:
    return all(spec.zip_path.is_file() for spec in ARTIFACTS.values())
