"""`restaurant-pipeline local env` gives a shell everything plain dbt needs (issue 26, item 6): after
`eval "$(restaurant-pipeline local env)"`, `cd dbt && dbt show --select city_daily_summary` reads the stack's
warehouse with the offline httpfs extension, the stack's bucket and the local target. `--unset` clears it all."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.local.stack import StatePaths, new_stack_info
from services.transformer.adapters.dbt_build import default_project_dir, duckdb_extension_directory


def exported(output: str) -> dict[str, str]:
    variables = {}
    for line in output.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        variables[name] = value
    return variables


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    state = StatePaths(tmp_path / "my state")
    state.root.mkdir()
    state.stack_file.write_text(new_stack_info("http://127.0.0.1:4599", state, bucket="my-bucket").to_json())
    return state.root


def test_local_env_exports_what_dbts_profile_reads_for_the_local_stack_and_unset_clears_it(state_dir: Path):
    runner = CliRunner()
    result = runner.invoke(cli.app, ["local", "env", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    variables = exported(result.stdout)
    project = str(default_project_dir())
    assert variables["DBT_TARGET"] == "local"
    assert variables["WAREHOUSE_PATH"] == str(StatePaths(state_dir).warehouse)
    assert variables["DUCKDB_EXTENSION_DIRECTORY"] == duckdb_extension_directory()
    assert variables["BUCKET_NAME"] == "my-bucket"
    assert variables["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert variables["NLP_ENABLED"] in ("true", "false")
    assert variables["DBT_PROFILES_DIR"] == project
    assert "DBT_PROJECT_DIR" not in variables  # `local up` hands it to the functions: the artifact's project wins
    # dbt's target/ and logs/ in the stack's state folder, never in the (installed, shared) project
    assert variables["DBT_TARGET_PATH"] == str(state_dir / "dbt-cli" / "target")
    assert variables["DBT_LOG_PATH"] == str(state_dir / "dbt-cli" / "logs")
    unset = runner.invoke(cli.app, ["local", "env", "--unset"]).stdout.split()
    assert unset[0] == "unset"
    assert sorted(unset[1:]) == sorted(variables)
