"""With NLP on, the athena target compiles on moto's Athena + Glue and every review model parses as Athena SQL."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import sqlglot

from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.raw_schema import PARTITION_KEYS, RAW_COLUMNS, VALIDATED_PREFIX
from services.transformer.raw_schema import TABLE_NAME as RAW_TABLE
from services.transformer.sentiment.schema import ENRICHED_COLUMNS, ENRICHED_PREFIX
from services.transformer.sentiment.schema import TABLE_NAME as ENRICHED_TABLE

pytestmark = pytest.mark.integration

BUCKET = "restaurant-pipeline-data"
DATABASE = "restaurant_pipeline"


def test_review_models_compile_for_athena_and_parse_as_athena_sql(aws: str, tmp_path: Path):
    glue = boto3.client("glue")
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for name, columns, prefix in (
        (RAW_TABLE, RAW_COLUMNS, VALIDATED_PREFIX),
        (ENRICHED_TABLE, ENRICHED_COLUMNS, ENRICHED_PREFIX),
    ):
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "PartitionKeys": [{"Name": n, "Type": t} for n, t in PARTITION_KEYS],
                "StorageDescriptor": {
                    "Columns": [{"Name": n, "Type": t} for n, t in columns],
                    "Location": f"s3://{BUCKET}/{prefix}",
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
    env["NLP_ENABLED"] = "true"
    builder = DbtBuilder(default_project_dir(), "athena", env, state_dir=tmp_path / "dbt-athena-nlp")

    result = builder.invoke(["compile", "--vars", '{"dts": ["2026-01-01"]}', "--exclude", "test_type:unit"])

    assert result.success, result.exception
    compiled = {r.node.name: r.node.compiled_code for r in result.result.results if r.node.compiled_code}
    for model in ("stg_places__reviews", "stg_enriched__reviews", "review_sentiments", "restaurants"):
        assert model in compiled
    assert "to_hex(md5(to_utf8(" in compiled["stg_places__reviews"]
    assert f'"{ENRICHED_TABLE}"' in compiled["stg_enriched__reviews"]
    assert "contains(themes, 'food')" in compiled["review_sentiments"]
    for sql in compiled.values():
        sqlglot.parse_one(sql, read="athena")
