import json

import duckdb
import pytest

from services.transformer.raw_schema import (
    PARTITION_KEYS,
    RAW_COLUMNS,
    HiveTypeError,
    duckdb_columns_struct,
    duckdb_type,
)


def test_nested_hive_types_translate_to_duckdb_spelling():
    assert duckdb_type("array<struct<a:int,b:array<string>>>") == 'STRUCT("a" INTEGER, "b" VARCHAR[])[]'


@pytest.mark.parametrize("bad", ["varchar", "struct<a:int", "array<int>>", "struct<:int>"])
def test_unknown_or_unbalanced_types_are_rejected_with_the_position(bad):
    with pytest.raises(HiveTypeError):
        duckdb_type(bad)


def test_column_names_are_unique_and_partition_is_dt():
    names = [name for name, _ in RAW_COLUMNS]
    assert len(names) == len(set(names))
    assert PARTITION_KEYS == (("dt", "string"),)


def test_duckdb_reads_a_place_line_with_the_declared_types(tmp_path):
    place = {
        "id": "p1",
        "displayName": {"text": "Chez A", "languageCode": "fr"},
        "location": {"latitude": 48.8, "longitude": 2.3},
        "rating": 4.5,
        "userRatingCount": 12,
        "types": ["restaurant"],
        "_collection": {"run_id": "r1", "city": "Paris", "run_cities": ["Paris"], "page": 1, "rectangle": None},
        "somethingNew": "ignored",
    }
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(place) + "\n")
    row = duckdb.sql(
        f"select displayName.text, rating, userRatingCount, _collection.city, types "
        f"from read_json('{path}', format='newline_delimited', columns={duckdb_columns_struct()})"
    ).fetchone()
    assert row == ("Chez A", 4.5, 12, "Paris", ["restaurant"])


def test_dbt_macro_is_generated_from_the_declared_columns():
    from pathlib import Path

    from services.transformer.raw_schema import DBT_MACRO_PATH, render_dbt_macro

    committed = (Path(__file__).resolve().parents[3] / "dbt" / DBT_MACRO_PATH).read_text(encoding="utf-8")
    assert committed == render_dbt_macro(), "run: .venv/bin/python -m services.transformer.raw_schema"
