"""The athena target of every model and data test obeys Athena's rules (tests/support/athena_rules.py): the types its
Iceberg tables store, the functions Athena has, and the query string limit, for the largest batch a build takes.

The SQL is what dbt compiles against moto's Athena and Glue, first build and incremental, NLP stage off and on; the
sources are typed from the Glue tables the stack declares (contracts/records.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from contracts.layout import raw_day
from contracts.records import (
    ENRICHED_COLUMNS,
    ENRICHED_TABLE_NAME,
    PARTITION_KEYS,
    RAW_COLUMNS,
    TABLE_NAME,
)
from services.common.names import ENRICHED_PREFIX, RAW_PREFIX, VALIDATED_PREFIX
from services.transformer.adapters.dbt_build import default_project_dir
from services.transformer.domain.limits import ATHENA_QUERY_MAX_BYTES, STATEMENT_ROOM_BYTES, listed_bytes
from services.transformer.domain.reading import validated_key
from services.transformer.service import Coalescing
from tests.support.athena import DATABASE, athena_builder
from tests.support.athena_ddl import AthenaDdlOnMoto
from tests.support.athena_rules import check, compiled_nodes, glue_catalog, statement_violations

pytestmark = pytest.mark.integration

DAY = "2026-01-02"
# The longest bucket name S3 allows (63 characters): the object list is longest there.
LONG_BUCKET = "restaurant-pipeline-data-123456789012-eu-west-3-a1b2c3d4e5f6789"
MARTS = ("restaurants", "restaurant_daily_snapshots", "city_daily_summary", "city_cuisine_daily_summary")


def glue_tables(nlp: bool) -> list[tuple[str, Any, str]]:
    tables: list[tuple[str, Any, str]] = [(TABLE_NAME, RAW_COLUMNS, VALIDATED_PREFIX)]
    if nlp:
        tables.append((ENRICHED_TABLE_NAME, ENRICHED_COLUMNS, ENRICHED_PREFIX))
    return tables


def compile_and_check(builder: Any, nlp: bool, variables: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Compile every model and data test (a first build), check them; then, the Iceberg marts existing in Glue,
    the incremental branches, checked with the types inferred the first time. (violations, nodes)"""
    catalog = glue_catalog(DATABASE, {name: columns for name, columns, _ in glue_tables(nlp)}, PARTITION_KEYS)
    first = builder.invoke(["compile", "--vars", json.dumps(variables), "--exclude", "test_type:unit"])
    assert first.success, first.exception
    nodes = compiled_nodes(first)
    violations = check(nodes, catalog)
    glue = boto3.client("glue")
    for mart in (*MARTS, *(("review_sentiments",) if nlp else ())):
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": mart,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"table_type": "ICEBERG"},
                "StorageDescriptor": {
                    "Columns": [
                        {"Name": name, "Type": kind.sql("hive").lower()}
                        for name, kind in catalog.tables[f"{DATABASE}.{mart}"].items()
                    ],
                    "Location": f"s3://bucket/warehouse/{mart}/",
                },
            },
        )
    incremental = builder.invoke(["compile", "--vars", json.dumps(variables), "--exclude", "test_type:unit"])
    assert incremental.success, incremental.exception
    incremental_nodes = compiled_nodes(incremental)
    violations += check(incremental_nodes, catalog)
    return violations, nodes + incremental_nodes


@pytest.mark.parametrize("nlp", [False, True], ids=["nlp-off", "nlp-on"])
def test_every_model_and_test_of_the_athena_target_obeys_athena(aws: str, tmp_path: Path, nlp: bool):
    builder = athena_builder(glue_tables(nlp), tmp_path / "dbt", nlp=nlp)

    violations, nodes = compile_and_check(builder, nlp, {"dts": [DAY]})

    assert violations == [], "\n".join(map(str, violations))
    iceberg = {node.name for node in nodes if node.iceberg}
    assert set(MARTS) <= iceberg
    assert ("review_sentiments" in iceberg) is nlp
    assert sum(node.resource_type == "test" for node in nodes) > 20


def test_a_bare_timestamp_cast_is_refused_naming_the_model_and_the_column(aws: str, tmp_path: Path):
    """The cast the first Athena build would have failed on, put back in a copy of the project."""
    project = tmp_path / "dbt"
    shutil.copytree(default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs", "shipped-*"))
    staging = project / "models" / "staging" / "stg_places__places.sql"
    fixed = staging.read_text(encoding="utf-8")
    assert "{{ text_timestamp('\"_source\".loaded_at') }} as loaded_at" in fixed
    staging.write_text(
        fixed.replace("{{ text_timestamp('\"_source\".loaded_at') }}", 'cast("_source".loaded_at as timestamp)'),
        encoding="utf-8",
    )
    builder = athena_builder(glue_tables(False), tmp_path / "state", project_dir=project)

    violations, _ = compile_and_check(builder, False, {"dts": [DAY]})

    refused = {(v.node, v.rule, v.detail.split(":")[0]) for v in violations}
    assert ("restaurant_daily_snapshots", "iceberg type", "column loaded_at") in refused
    # refused in the first build's SQL and the incremental one's, for that column only
    details = {v.detail for v in violations if v.node == "restaurant_daily_snapshots"}
    assert len(details) == 1 and len([v for v in violations if v.node == "restaurant_daily_snapshots"]) == 2
    [detail] = details
    assert "timestamp(3) in Athena; Iceberg stores timestamp(6) only" in detail


# A version id as S3 writes them (32 URL-safe characters): part of each validated copy's name.
VERSION = "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"


def test_the_largest_batch_coalescing_allows_compiles_to_statements_athena_accepts(aws: str, tmp_path: Path):
    """1,024-byte raw keys (S3's longest), the longest bucket name, as many objects as the caps allow: every
    compiled statement stays under Athena's query string limit."""
    caps = Coalescing()
    taken = largest_batch([long_key(index) for index in range(caps.max_objects)])
    listed = sum(listed_bytes(LONG_BUCKET, key, VERSION) for key in taken)
    assert 0 < len(taken) < caps.max_objects  # the byte budget, not the object cap, is what binds here
    objects = [validated_key(*raw_day(key), VERSION) for key in taken]
    builder = athena_builder(glue_tables(True), tmp_path / "dbt", nlp=True, bucket=LONG_BUCKET)

    violations, nodes = compile_and_check(builder, True, {"dts": [DAY], "objects": objects})

    assert violations == [], "\n".join(map(str, violations))
    sizes = sorted(((len(node.sql.encode()), node.name) for node in nodes), reverse=True)
    largest, name = sizes[0]
    assert name in ("stg_places__places", "stg_places__reviews")  # the statements that hold the list
    room = largest - listed
    print(
        f"\n{len(taken)} objects with 1,024-byte keys: largest statement {name} {largest:,} bytes "
        f"(list {listed:,}, the rest {room:,}); Athena's limit {ATHENA_QUERY_MAX_BYTES:,}"
    )
    assert room < STATEMENT_ROOM_BYTES  # the room domain/limits.py keeps for the rest of the statement
    # dbt-athena wraps a view in `create or replace view <relation> as` (under 200 bytes): still inside the room
    assert largest + 200 <= ATHENA_QUERY_MAX_BYTES


def test_a_statement_over_the_limit_is_refused():
    sql = "select 1 where 'x' in (" + ", ".join(["'" + "k" * 1000 + "'"] * 300) + ")"

    [violation] = statement_violations("stg_places__places", sql)

    assert violation.rule == "query size" and "over Athena's 262,144" in violation.detail


def largest_batch(keys: list[str]) -> list[str]:
    """What _coalesce takes of these keys: objects while their list fits (tests/unit/transformer covers _coalesce)."""
    caps, taken, listed = Coalescing(), [], 0
    for key in keys[: caps.max_objects]:
        if listed + listed_bytes(LONG_BUCKET, key, VERSION) > caps.max_list_bytes:
            break
        taken.append(key)
        listed += listed_bytes(LONG_BUCKET, key, VERSION)
    return taken


def long_key(index: int) -> str:
    prefix = f"{RAW_PREFIX}dt={DAY}/"
    name_length = 1024 - len(prefix.encode()) - len(".jsonl")
    name = f"{index:04d}-" + "é" * ((name_length - 5) // 2)
    key = f"{prefix}{name}.jsonl"
    assert len(key.encode()) == 1024 and raw_day(key)  # S3's longest key, in the raw layout
    return key


def test_a_build_whose_statement_athena_would_refuse_fails_on_the_stand_in_and_the_largest_batch_builds(
    aws: str, tmp_path: Path
):
    """dbt build --target athena through the Athena stand-in, which refuses a query string over 262,144 bytes as
    Athena does: all 1,000 objects the object cap allows fail; the batch the byte budget takes builds."""
    keys = [long_key(index) for index in range(Coalescing().max_objects)]
    objects = [validated_key(*raw_day(key), VERSION) for key in keys]
    builder = athena_builder(glue_tables(False), tmp_path / "dbt", bucket=LONG_BUCKET)
    taken = largest_batch(keys)

    def build(objects: list[str]) -> Any:
        variables = json.dumps({"dts": [DAY], "objects": objects})
        with AthenaDdlOnMoto(aws):
            return builder.invoke(["build", "--threads", "1", "--vars", variables, "--exclude", "test_type:unit"])

    refused = build(objects)
    assert not refused.success
    assert any("InvalidRequestException" in str(r.message) for r in refused.result.results if r.status == "error")
    built = build([validated_key(*raw_day(key), VERSION) for key in taken])
    assert built.success, built.exception
    assert all(r.status in ("success", "pass") for r in built.result.results)
