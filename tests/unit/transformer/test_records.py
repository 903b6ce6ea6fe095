"""The records are declared once (services/transformer/domain/records.py); the Glue columns, DuckDB's read types,
the dbt macros and the default field mask are generated from them."""

import json
from pathlib import Path
from typing import Literal

import duckdb
import pytest
from pydantic import BaseModel

from restaurant_pipeline.config import parse_config
from services.transformer.domain.records import (
    DBT_MACROS,
    DEFAULT_FIELD_MASK,
    PARTITION_KEYS,
    RAW_COLUMNS,
    HiveTypeError,
    RawPlace,
    duckdb_columns_struct,
    duckdb_type,
    hive_columns,
    render_dbt_macro,
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


@pytest.mark.parametrize("path", sorted(DBT_MACROS))
def test_the_dbt_macros_are_generated_from_the_records(path):
    committed = (Path(__file__).resolve().parents[3] / "dbt" / path).read_text(encoding="utf-8")
    assert committed == render_dbt_macro(path), "run: .venv/bin/python -m services.transformer.domain.records"


def test_a_model_gives_its_hive_columns_by_alias_in_declaration_order():
    class Inner(BaseModel):
        text: str | None = None

    class Record(BaseModel):
        key: str
        count: int | None = None
        score: float | int | None = None
        tags: list[str] = []
        inner: Inner | None = None
        kind: Literal["a", "b"] = "a"

    assert hive_columns(Record) == (
        ("key", "string"),
        ("count", "int"),
        ("score", "double"),
        ("tags", "array<string>"),
        ("inner", "struct<text:string>"),
        ("kind", "string"),
    )


def test_a_field_without_a_hive_type_is_refused_by_name():
    class Record(BaseModel):
        when: bytes

    with pytest.raises(HiveTypeError, match="bytes"):
        hive_columns(Record)


def test_the_default_field_mask_is_every_field_of_the_raw_place_but_the_reviews():
    fields = {f"places.{field.alias or name}" for name, field in RawPlace.model_fields.items()}
    assert set(DEFAULT_FIELD_MASK) == (fields - {"places.reviews", "places._collection"}) | {"nextPageToken"}
    assert parse_config({}).effective_field_mask == list(DEFAULT_FIELD_MASK)
    assert [name for name, _ in RAW_COLUMNS][-2:] == ["_collection", "_source"]
