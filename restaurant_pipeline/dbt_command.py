"""`restaurant-pipeline dbt ARGS…`: the dbt CLI in dbt/, with the environment the transformer gives it.

dbt reads its profile from the environment (dbt/profiles.yml uses env_var); the transformer's
`dbt_environment` says which variables for which target, and is the one place that does. Locally the stack's
names come from .pipeline/stack.json (target `local`: the DuckDB warehouse, S3 on moto; `--target athena` compiles
against moto's Athena and Glue); with --aws from the deployed stack's outputs (target `athena`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from restaurant_pipeline.local.stack import StackInfo
from restaurant_pipeline.stack_environment import local_variables

# Set for every invocation: dbt finds dbt/profiles.yml and the project wherever the command is run from.
PROFILES_DIR_VARIABLE = "DBT_PROFILES_DIR"
PROJECT_DIR_VARIABLE = "DBT_PROJECT_DIR"


class DbtNotFound(RuntimeError):
    pass


def project_dir() -> Path:
    from services.transformer.spec import default_project_dir

    return default_project_dir()


def local_dbt_variables(info: StackInfo, nlp_enabled: bool | None) -> dict[str, str]:
    """What `restaurant-pipeline dbt` runs dbt with locally, and what `local env` exports: the stack's endpoint,
    credentials, region and state folder, everything dbt reads (the target, the warehouse file, the offline httpfs
    extension, the bucket, the NLP switch; None leaves the switch out), and the profile's folder, so that plain
    `cd dbt && dbt show --select city_daily_summary` works in that shell. Not DBT_PROJECT_DIR: `local up` passes it
    on to the functions (it would replace an artifact's shipped project)."""
    from services.transformer.spec import dbt_environment

    return {
        **local_variables(info),
        **dbt_environment(
            target="local",
            bucket=info.bucket,
            warehouse_path=info.warehouse_path,
            endpoint_url=info.endpoint_url,
            nlp_enabled=nlp_enabled,
        ),
        PROFILES_DIR_VARIABLE: str(project_dir()),
        # dbt's target/ and logs/ in the stack's state folder, not in the project (read-only in an installed copy,
        # and shared by every stack): the environment variables of dbt's --target-path and --log-path flags
        # (dbt-core 1.11, dbt/cli/params.py)
        "DBT_TARGET_PATH": str(Path(info.state_dir) / "dbt-cli" / "target"),
        "DBT_LOG_PATH": str(Path(info.state_dir) / "dbt-cli" / "logs"),
    }


def aws_dbt_variables(
    *, region: str, bucket: str, workgroup: str, results_s3: str, glue_database: str, nlp_enabled: bool
) -> dict[str, str]:
    from services.transformer.spec import dbt_environment

    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **dbt_environment(
            target="athena",
            bucket=bucket,
            athena_workgroup=workgroup,
            athena_results_s3=results_s3,
            glue_database=glue_database,
            nlp_enabled=nlp_enabled,
        ),
    }


def dbt_executable() -> str:
    """The dbt of this installation (next to this Python), else the first on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise DbtNotFound("dbt is not installed next to this Python nor on PATH: run `make install`")
    return found


def dbt_invocation(args: Sequence[str], variables: Mapping[str, str]) -> tuple[list[str], dict[str, str], Path]:
    """(argv, environment, working directory) of `dbt ARGS…` in the project."""
    project = project_dir()
    environment = {
        **os.environ,
        **variables,
        PROFILES_DIR_VARIABLE: str(project),
        PROJECT_DIR_VARIABLE: str(project),
    }
    return [dbt_executable(), *args], environment, project


def run_dbt(args: Sequence[str], variables: Mapping[str, str]) -> int:
    """dbt's own exit code: 0 success, 1 a model or test failed, 2 dbt itself could not run."""
    argv, environment, project = dbt_invocation(args, variables)
    return subprocess.run(argv, env=environment, cwd=project, check=False).returncode
