"""The athena target compiles against the local AWS endpoint (moto's Athena + Glue), and every compiled model
and data test parses under sqlglot's athena dialect."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import sqlglot

from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.raw_schema import PARTITION_KEYS, RAW_COLUMNS, TABLE_NAME, VALIDATED_PREFIX

pytestmark = pytest.mark.integration

BUCKET = "restaurant-pipeline-data"
DATABASE = "restaurant_pipeline"


def test_athena_target_compiles_and_every_model_parses_as_athena_sql(aws: str, tmp_path: Path):
    glue = boto3.client("glue")
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(  # what the CDK stack declares, from the same RAW_COLUMNS
        DatabaseName=DATABASE,
        TableInput={
            "Name": TABLE_NAME,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in PARTITION_KEYS],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in RAW_COLUMNS],
                "Location": f"s3://{BUCKET}/{VALIDATED_PREFIX}",
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
            },
        },
    )
    env = dbt_environment(
        target="athena",
        bucket=BUCKET,
        athena_workgroup="primary",
        athena_results_s3=f"s3://{BUCKET}/athena-results/",
        glue_database=DATABASE,
    )
    builder = DbtBuilder(default_project_dir(), "athena", env, state_dir=tmp_path / "dbt-athena")

    result = builder.invoke(
        ["compile", "--vars", '{"dts": ["2026-01-01", "2026-01-02"]}', "--exclude", "test_type:unit"]
    )

    assert result.success, result.exception
    compiled = {r.node.name: r.node.compiled_code for r in result.result.results if r.node.compiled_code}
    models = {"stg_places__places", "restaurants", "restaurant_daily_snapshots", "city_daily_summary"}
    assert models <= set(compiled)
    assert "from_iso8601_timestamp" in compiled["stg_places__places"]  # the athena dispatch, not DuckDB's
    assert "dt in ('2026-01-01', '2026-01-02')" in compiled["stg_places__places"]
    for sql in compiled.values():
        sqlglot.parse_one(sql, read="athena")  # raises ParseError naming the position
    assert len(compiled) > 20

    # The marts exist (Iceberg tables in Glue): the incremental branches compile, and parse, too.
    for mart in ("restaurants", "restaurant_daily_snapshots", "city_daily_summary"):
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": mart,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"table_type": "ICEBERG"},
                "StorageDescriptor": {
                    "Columns": [{"Name": "place_id", "Type": "string"}],
                    "Location": f"s3://{BUCKET}/warehouse/{mart}/",
                },
            },
        )
    incremental = builder.invoke(["compile", "--vars", '{"dts": ["2026-01-02"]}', "--exclude", "test_type:unit"])
    assert incremental.success, incremental.exception
    sql = {r.node.name: r.node.compiled_code for r in incremental.result.results if r.node.compiled_code}
    assert f'"{DATABASE}"."restaurants"' in sql["restaurants"].replace("awsdatacatalog.", "")
    assert "previous_days" in sql["city_daily_summary"]
    for text in sql.values():
        sqlglot.parse_one(text, read="athena")
