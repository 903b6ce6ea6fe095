"""The environment that points the aws CLI, boto3, DuckDB and dbt at a stack: `restaurant-pipeline local env` (after
which plain `dbt` works too), and what `restaurant-pipeline dbt` runs dbt with (locally, or on the deployed stack's
Athena with --aws)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, StackInfo

# Everything `local env` sets; `local env --unset` clears the same names. The second line is what dbt's profile
# reads besides (dbt/profiles.yml; services.transformer.adapters.dbt_build.dbt_environment says which), and where
# dbt finds the profile, so that plain `dbt` works in dbt/ in that shell (restaurant_pipeline.dbt_command).
LOCAL_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "PIPELINE_STATE_DIR",
    *("DBT_TARGET", "BUCKET_NAME", "NLP_ENABLED", "DUCKDB_EXTENSION_DIRECTORY", "WAREHOUSE_PATH"),
    "DBT_PROFILES_DIR",
    *("DBT_TARGET_PATH", "DBT_LOG_PATH"),  # dbt's target/ and logs/ in the stack's state folder
)


class LocalEnvironmentForAws(RuntimeError):
    """An --aws command run from a shell that `local env` pointed at the local stack."""


def local_variables(info: StackInfo) -> dict[str, str]:
    """The local stack's endpoint, its dummy credentials (moto accepts any) and region, and its state folder (so the
    CLI finds the stack from any directory). The aws CLI and boto3 read AWS_ENDPOINT_URL (botocore 1.31+):
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html"""
    return {
        "AWS_ENDPOINT_URL": info.endpoint_url,
        **LOCAL_CREDENTIALS,
        "AWS_REGION": info.region,
        "AWS_DEFAULT_REGION": info.region,
        "PIPELINE_STATE_DIR": info.state_dir,
    }


def export_lines(variables: Mapping[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def unset_lines() -> str:
    return f"unset {' '.join(LOCAL_VARIABLES)}\n"


def ensure_not_local(environment: Mapping[str, str] | None = None) -> None:
    """Refuse to reach AWS with the local stack's dummy credentials (and its endpoint) still in the environment."""
    environment = os.environ if environment is None else environment
    if environment.get("AWS_ACCESS_KEY_ID") == LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        raise LocalEnvironmentForAws(
            "this shell holds the local stack's environment (AWS_ACCESS_KEY_ID=local, from `restaurant-pipeline "
            'local env`): clear it with `eval "$(restaurant-pipeline local env --unset)"` (or open a new shell), '
            "then run the --aws command again"
        )
