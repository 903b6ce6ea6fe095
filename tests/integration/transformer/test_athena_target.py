"""The athena target compiles against the local AWS endpoint (moto's Athena + Glue), and every compiled model
and data test parses under sqlglot's athena dialect."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
import sqlglot

from contracts.records import RAW_COLUMNS, TABLE_NAME
from restaurant_pipeline.artifacts.build import ship_dbt_manifest
from services.common.names import GLUE_AUDIT_DATABASE, VALIDATED_PREFIX
from services.transformer.adapters import shipped_manifest
from services.transformer.adapters.dbt_build import default_project_dir
from tests.support.athena import BUCKET, DATABASE, athena_builder

pytestmark = pytest.mark.integration


def test_athena_target_compiles_and_every_model_parses_as_athena_sql(aws: str, tmp_path: Path):
    builder = athena_builder([(TABLE_NAME, RAW_COLUMNS, VALIDATED_PREFIX)], tmp_path / "dbt-athena")

    result = builder.invoke(
        ["compile", "--vars", '{"dts": ["2026-01-01", "2026-01-02"]}', "--exclude", "test_type:unit"]
    )

    assert result.success, result.exception
    compiled = {r.node.name: r.node.compiled_code for r in result.result.results if r.node.compiled_code}
    models = {
        "stg_places__places",
        "restaurants",
        "restaurant_daily_snapshots",
        "city_daily_summary",
        "city_cuisine_daily_summary",
    }
    assert models <= set(compiled)
    assert "from_iso8601_timestamp" in compiled["stg_places__places"]  # the athena dispatch, not DuckDB's
    assert "dt in ('2026-01-01', '2026-01-02')" in compiled["stg_places__places"]
    for sql in compiled.values():
        sqlglot.parse_one(sql, read="athena")  # raises ParseError naming the position
    assert len(compiled) > 20
    # dbt keeps the failing rows of every data test in the audit database the stack creates (never CREATE SCHEMA)
    audit_schemas = {r.node.schema for r in result.result.results if r.node.resource_type == "test"}
    assert audit_schemas == {GLUE_AUDIT_DATABASE} == {f"{DATABASE}_dbt_test__audit"}

    # The marts exist (Iceberg tables in Glue): the incremental branches compile, and parse, too.
    columns = [
        {"Name": "place_id", "Type": "string"},
        {"Name": "loaded_at", "Type": "timestamp"},
        {"Name": "first_seen_closed_date", "Type": "date"},
    ]
    for mart in ("restaurants", "restaurant_daily_snapshots", "city_daily_summary", "city_cuisine_daily_summary"):
        boto3.client("glue").create_table(DatabaseName=DATABASE, TableInput=iceberg_table(mart, columns))
    objects = ["validated/places/dt=2026-01-02/a.jsonl.gz", "validated/places/dt=2026-01-02/it's.jsonl.gz"]
    variables = json.dumps({"dts": ["2026-01-02"], "objects": objects})
    incremental = builder.invoke(["compile", "--vars", variables, "--exclude", "test_type:unit"])
    assert incremental.success, incremental.exception
    sql = {r.node.name: r.node.compiled_code for r in incremental.result.results if r.node.compiled_code}
    assert f'"{DATABASE}"."restaurants"' in sql["restaurants"].replace("awsdatacatalog.", "")
    assert "previous_days" in sql["city_daily_summary"]
    # only the batch's objects (a quote in a key is escaped), filtered on the hidden "$path" column
    uris = f"'s3://{BUCKET}/{objects[0]}', 's3://{BUCKET}/validated/places/dt=2026-01-02/it''s.jsonl.gz'"
    assert f'"$path" in ({uris})' in sql["stg_places__places"]
    assert "e.loaded_at > s.loaded_at" in sql["restaurant_daily_snapshots"]  # an existing newer row is kept
    # the earlier ratings: Athena's date arithmetic, and no read of the history before 30 days ahead of the batch
    assert "date_add('day', -7, sp.last_seen_date)" in sql["restaurants"]
    assert "snapshot_date >= date_add('day', -30, date '2026-01-02')" in sql["restaurants"]
    assert "closed_history" not in sql["restaurants"]  # the table has first_seen_closed_date: read it
    for text in sql.values():
        sqlglot.parse_one(text, read="athena")

    # A restaurants table from before first_seen_closed_date (a deployed stack upgraded): the first build takes it
    # from the places' history instead of reading a column that is not there yet.
    boto3.client("glue").update_table(DatabaseName=DATABASE, TableInput=iceberg_table("restaurants", columns[:2]))
    upgraded = builder.invoke(["compile", "--vars", variables, "--select", "restaurants"])
    assert upgraded.success, upgraded.exception
    [restaurants] = [r.node.compiled_code for r in upgraded.result.results if r.node.name == "restaurants"]
    assert "closed_history" in restaurants and "t.first_seen_closed_date" not in restaurants
    sqlglot.parse_one(restaurants, read="athena")


def iceberg_table(name: str, columns: list[dict[str, str]]) -> dict[str, object]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"table_type": "ICEBERG"},
        "StorageDescriptor": {"Columns": columns, "Location": f"s3://{BUCKET}/warehouse/{name}/"},
    }


def test_the_manifest_make_package_ships_is_loaded_and_compiles_for_the_deployed_bucket(aws: str, tmp_path: Path):
    project = tmp_path / "artifact" / "dbt"
    shutil.copytree(default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs", "shipped-*"))
    ship_dbt_manifest(project)  # as `make package` does, before the bucket exists
    builder = athena_builder([(TABLE_NAME, RAW_COLUMNS, VALIDATED_PREFIX)], tmp_path / "state", project_dir=project)

    objects = ["validated/places/dt=2026-01-02/a.jsonl.gz"]
    result = builder.invoke(["compile", "--vars", json.dumps({"dts": ["2026-01-02"], "objects": objects})])

    assert (builder.parses, builder.manifest_origin) == (0, "shipped manifest loaded")
    assert result.success, result.exception
    sql = {r.node.name: r.node.compiled_code for r in result.result.results if r.node.compiled_code}
    assert f"\"$path\" in ('s3://{BUCKET}/{objects[0]}')" in sql["stg_places__places"]  # the bucket of the run
    # another Glue database names other relations: that deployment parses
    elsewhere = shipped_manifest.load(project, {**builder._environment, "GLUE_DATABASE": "another_database"})
    assert elsewhere.manifest is None
    assert "a different GLUE_DATABASE ('restaurant_pipeline', now 'another_database')" in elsewhere.reason
