"""`sql --aws` and `dbt --aws` on a deployed stack: every name from the stack outputs (moto's CloudFormation stands
in for the deployed stack, moto's Athena and Glue for Athena; moto runs no SQL, so the Athena rows are queued on it
with its own API and the test checks what was sent and what came back)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from contracts.records import RAW_COLUMNS, TABLE_NAME
from restaurant_pipeline import cli
from restaurant_pipeline.model.stack_outputs import (
    OUTPUT_BUCKET,
    OUTPUT_GLUE_DATABASE,
    OUTPUT_RESULTS,
    OUTPUT_WORKGROUP,
    REQUIRED_OUTPUTS,
)
from services.common.names import VALIDATED_PREFIX
from tests.conftest import REGION

pytestmark = pytest.mark.integration

DEPLOYED = {
    OUTPUT_BUCKET: "deployed-data-bucket",
    OUTPUT_WORKGROUP: "deployed-workgroup",
    OUTPUT_RESULTS: "s3://deployed-data-bucket/athena-results/",
    OUTPUT_GLUE_DATABASE: "deployed_database",
}


@pytest.fixture
def deployed(aws: str) -> str:
    """A stack whose outputs name the deployed bucket, work group, results location and Glue database."""
    outputs = {
        key: DEPLOYED.get(key, f"https://sqs.{REGION}.amazonaws.com/123456789012/{key}") for key in REQUIRED_OUTPUTS
    }
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="restaurant-pipeline", TemplateBody=json.dumps(template))
    boto3.client("s3").create_bucket(
        Bucket=DEPLOYED[OUTPUT_BUCKET], CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("athena").create_work_group(Name=DEPLOYED[OUTPUT_WORKGROUP])
    return aws


def queue_athena_rows(endpoint: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """What moto's Athena answers to the next query (its documented /moto-api/static/athena/query-results)."""
    names = [{"Data": [{"VarCharValue": name} for name, _ in columns]}]  # Athena's header row
    body = {
        "region": REGION,
        "results": [
            {
                "rows": names + [{"Data": [{"VarCharValue": value} for value in row]} for row in rows],
                "column_info": [{"Name": name, "Label": name, "Type": kind} for name, kind in columns],
            }
        ],
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results", data=json.dumps(body).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


def executions() -> list[dict]:
    athena = boto3.client("athena")
    ids = athena.list_query_executions(WorkGroup=DEPLOYED[OUTPUT_WORKGROUP])["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def test_sql_aws_runs_the_statement_in_the_stacks_work_group_and_database_and_prints_the_rows(deployed: str):
    queue_athena_rows(deployed, [("city", "varchar"), ("restaurants_seen", "integer")], [["Paris", "20"]])
    statement = "select city, restaurants_seen from city_daily_summary"

    result = CliRunner().invoke(cli.app, ["sql", "--aws", "--json", statement])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"city": "Paris", "restaurants_seen": 20}]
    [execution] = executions()
    assert execution["Query"] == statement
    assert execution["QueryExecutionContext"]["Database"] == DEPLOYED[OUTPUT_GLUE_DATABASE]


def test_sql_aws_sends_nothing_but_a_read_only_statement(deployed: str):
    result = CliRunner().invoke(cli.app, ["sql", "--aws", "/* tidy up */ drop table restaurants"])

    assert result.exit_code == 1
    assert "only read-only statements" in result.output and "'drop'" in result.output
    assert executions() == []


def test_an_aws_command_refuses_the_local_stacks_dummy_credentials(deployed: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")

    result = CliRunner().invoke(cli.app, ["sql", "--aws", "select 1"])

    assert result.exit_code == 1 and "local env --unset" in result.output
    assert executions() == []


@pytest.mark.slow
def test_dbt_aws_compiles_for_the_deployed_glue_database_with_the_athena_target(deployed: str, tmp_path: Path):
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": DEPLOYED[OUTPUT_GLUE_DATABASE]})
    glue.create_table(
        DatabaseName=DEPLOYED[OUTPUT_GLUE_DATABASE],
        TableInput={
            "Name": TABLE_NAME,
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in RAW_COLUMNS],
                "Location": f"s3://{DEPLOYED[OUTPUT_BUCKET]}/{VALIDATED_PREFIX}",
            },
        },
    )

    dbt_args = ["compile", "--select", "stg_places__places", "--vars", "{dts: [2026-01-01]}"]

    result = CliRunner().invoke(cli.app, ["dbt", "--aws", *dbt_args, "--target-path", str(tmp_path)])

    assert result.exit_code == 0, result.output
    [compiled] = (tmp_path / "compiled").rglob("stg_places__places.sql")
    sql = compiled.read_text(encoding="utf-8")
    assert f'"{DEPLOYED[OUTPUT_GLUE_DATABASE]}"."{TABLE_NAME}"' in sql
    assert "from_iso8601_timestamp" in sql  # the athena dispatch of the staging model, not DuckDB's
