"""Each of Athena's rules (tests/support/athena_rules.py) refuses its failing example, naming the node and the column
or the function, and lets the Athena-correct form through."""

from __future__ import annotations

import pytest

from tests.support.athena_rules import AthenaCatalog, CompiledNode, check, functions_called, glue_catalog

RAW = {"raw_places": [("id", "string"), ("loaded_at", "string"), ("names", "array<string>")]}


def catalog() -> AthenaCatalog:
    return glue_catalog("db", RAW, [("dt", "string")])


def iceberg_model(select: str) -> CompiledNode:
    return CompiledNode(
        "snapshots", "model", f"select {select} from awsdatacatalog.db.raw_places", "db.snapshots", True
    )


@pytest.mark.parametrize(
    ("column", "refused"),
    [
        ("cast(loaded_at as timestamp)", "TIMESTAMP is timestamp(3) in Athena; Iceberg stores timestamp(6) only"),
        ("cast(loaded_at as timestamp(3))", "timestamp(3) in Athena"),
        ("cast(loaded_at as timestamp(9))", "timestamp(9) in Athena"),
        (
            "cast(loaded_at as timestamp(6) with time zone)",
            "only timestamp without time zone can be created in an Iceberg table",
        ),
        ("cast(1 as tinyint)", "TINYINT is not supported for Iceberg tables in Athena"),
        ("cast(1 as smallint)", "SMALLINT is not supported for Iceberg tables in Athena"),
        ("cast(id as char(3))", "CHAR(3) is not supported for Iceberg tables in Athena"),
        ("cast(loaded_at as time)", "TIME is not supported for Iceberg tables in Athena"),
        ("array[cast(loaded_at as timestamp)]", "ARRAY(TIMESTAMP): TIMESTAMP is timestamp(3)"),
        ("null", "its type could not be inferred: cast it explicitly"),
    ],
)
def test_an_iceberg_model_column_athena_cannot_store_is_refused_with_the_model_and_the_column(column, refused):
    [violation] = check([iceberg_model(f"{column} as loaded_at")], catalog())

    assert (violation.node, violation.rule) == ("snapshots", "iceberg type")
    assert violation.detail.startswith("column loaded_at: ") and refused in violation.detail


def test_the_types_an_iceberg_table_stores_pass():
    columns = [
        "cast(loaded_at as timestamp(6)) as loaded_at",
        "cast(from_iso8601_timestamp(loaded_at) at time zone 'UTC' as timestamp(6)) as collected_at",
        "cast(dt as date) as day",
        "cast(1 as bigint) as n",
        "cast(1 as integer) as i",
        "cast(1.5 as double) as d",
        "cast(1.5 as decimal(10, 2)) as m",
        "id",
        "names",
        "'literal' as note",
        "true as flag",
    ]

    assert check([iceberg_model(", ".join(columns))], catalog()) == []


def test_a_view_may_hold_any_type_but_its_types_reach_the_iceberg_model_that_selects_from_it():
    view = CompiledNode(
        "stg", "model", "select cast(loaded_at as timestamp) as loaded_at from awsdatacatalog.db.raw_places", "db.stg"
    )
    mart = CompiledNode("mart", "model", "select loaded_at from awsdatacatalog.db.stg", "db.mart", iceberg=True)

    [violation] = check([view, mart], catalog())

    assert violation.node == "mart" and "column loaded_at" in violation.detail and "timestamp(3)" in violation.detail


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("select list_contains(names, 'a') from t", "list_contains() is DuckDB's, not Athena's: use contains"),
        ("select * from read_json('s3://b/k.jsonl')", "read_json() is DuckDB's"),
        ("select strftime(now(), '%Y') from t", "strftime() is DuckDB's, not Athena's: use date_format"),
        ("select id::varchar from t", "'::' casts are DuckDB's"),
        ("select frobnicate(id) from t", "frobnicate() is not a function this check knows Athena has"),
    ],
)
def test_a_function_athena_does_not_have_is_refused(sql, refused):
    [violation] = check([CompiledNode("a_test", "test", sql)], catalog())

    assert (violation.node, violation.rule) == ("a_test", "function") and refused in violation.detail


def test_calls_are_read_as_written_and_a_table_alias_with_columns_is_no_call():
    sql = "select coalesce(contains(t.a, 'x'), false) from t cross join unnest(t.r) as item (review)"

    assert functions_called(sql) == {"coalesce", "contains", "unnest"}
