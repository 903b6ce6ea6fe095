"""The records are declared once (contracts/records.py); the Glue columns, DuckDB's read types, the dbt macros, the
raw source's column list and the default field mask are generated from them (contracts/generate.py)."""

import json
from typing import Literal

import duckdb
import pytest
from pydantic import BaseModel

from contracts.columns import HiveTypeError, duckdb_columns_struct, duckdb_type, hive_columns
from contracts.generate import BEGIN, DBT_DIR, END, SOURCES_YML, GenerationError, expected_dbt_files, render_sources
from contracts.records import DEFAULT_FIELD_MASK, PARTITION_KEYS, RAW_COLUMNS, RawPlace, ValidatedPlace
from restaurant_pipeline.model.config import parse_config


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
        f"from read_json('{path}', format='newline_delimited', columns={duckdb_columns_struct(RAW_COLUMNS)})"
    ).fetchone()
    assert row == ("Chez A", 4.5, 12, "Paris", ["restaurant"])


@pytest.mark.parametrize("path", sorted(expected_dbt_files()))
def test_the_generated_dbt_files_match_the_records(path):
    committed = (DBT_DIR / path).read_text(encoding="utf-8")
    assert committed == expected_dbt_files()[path], f"dbt/{path} drifted from the records: run `make schemas`"


def test_the_raw_source_lists_every_raw_column_with_its_description():
    text = (DBT_DIR / SOURCES_YML).read_text(encoding="utf-8")
    block = text[text.index(BEGIN) : text.index(END)]
    listed = [line.split("- name: ", 1)[1] for line in block.splitlines() if "- name: " in line]
    assert listed == [name for name, _ in (*RAW_COLUMNS, *PARTITION_KEYS)]
    assert block.count("description: ") == len(listed)


def test_a_raw_column_without_a_description_is_refused_by_name(monkeypatch):
    field = ValidatedPlace.model_fields["googleMapsUri"]  # what the warehouses read
    monkeypatch.setattr(field, "description", None)
    current = (DBT_DIR / SOURCES_YML).read_text(encoding="utf-8")
    with pytest.raises(GenerationError, match="'googleMapsUri' has no description"):
        render_sources(current)


def test_the_generated_block_of_the_raw_source_cannot_be_lost_silently():
    with pytest.raises(GenerationError, match="missing; put them back"):
        render_sources("version: 2\n")


def test_a_staging_fixture_gets_every_column_it_does_not_name_as_null():
    # The fixture macro of the staging unit tests, rendered as dbt would with a call block of two columns.
    macro = expected_dbt_files()["macros/raw_columns.sql"].split("{% macro raw_places_fixture() -%}\n", 1)[1]
    sql = macro.split("{%- endmacro %}")[0].replace(
        "{{ caller() }}", "select 'p1' as id, {'city': 'Lyon'} as _collection"
    )
    rows = duckdb.sql(sql)
    assert rows.columns == [*(name for name, _ in RAW_COLUMNS), "dt"]
    [row] = rows.fetchall()
    values = dict(zip(rows.columns, row, strict=True))
    assert values["id"] == "p1" and values["_collection"]["city"] == "Lyon" and values["_collection"]["page"] is None
    assert values["googleMapsUri"] is None and values["dt"] is None


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
