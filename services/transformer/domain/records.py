"""The records the transformer reads and writes, declared once; every other form is generated from them.

- `RawPlace`: a place as the collector lands it (the API's object plus `_collection`). STRUCTURE only (id present,
  types right): business ranges (rating 1-5, accepted price levels, ...) are dbt tests on purpose, so an
  out-of-range rating reaches dbt, whose test fails and reports it. Validation (reading.py) uses it.
- `ValidatedPlace`: the same plus `_source` (where the line came from, when it landed): what the transformer writes
  under VALIDATED_PREFIX and what both warehouses read (raw/ itself may hold malformed lines and `{"places": [...]}`
  bodies, which Athena's JSON SerDe cannot read).
- `EnrichedReview`: one scored review, written by the NLP stage under ENRICHED_PREFIX.

Generated from them: RAW_COLUMNS and ENRICHED_COLUMNS (Hive types: the Glue tables of the CDK stack), the DuckDB
`columns={...}` of dbt's local reads (dbt/macros/raw_columns.sql, enriched_columns.sql:
`python -m services.transformer.domain.records` rewrites them; a test fails on drift), and the default Places field
mask (every field of RawPlace but the reviews, which the NLP stage adds, plus nextPageToken).
Adding a Places field to the marts: docs/architecture.md, "Add a Places field".
"""

from __future__ import annotations

import re
import types
import typing
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

TABLE_NAME = "raw_places"
ENRICHED_TABLE_NAME = "enriched_reviews"
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("dt", "string"),)


class _Raw(BaseModel):
    # Unknown fields are kept in the validated copy and simply not read; strict: "4.5" is not a rating.
    model_config = ConfigDict(extra="allow", strict=True)


class LocalizedText(_Raw):
    text: StrictStr | None = None
    languageCode: StrictStr | None = None


class LatLng(_Raw):
    latitude: StrictFloat | StrictInt
    longitude: StrictFloat | StrictInt


class Rectangle(_Raw):
    low: LatLng
    high: LatLng


class Review(_Raw):
    name: StrictStr | None = None
    rating: StrictFloat | StrictInt | None = None
    text: LocalizedText | None = None
    originalText: LocalizedText | None = None
    publishTime: StrictStr | None = None


class Collection(BaseModel):
    """`_collection`, written by the collector with exactly these keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    run_id: StrictStr = Field(min_length=1)
    city: StrictStr = Field(min_length=1)
    run_cities: list[StrictStr]
    trigger_source: StrictStr
    query: StrictStr | None = None
    rectangle: Rectangle | None = None
    page: StrictInt = Field(ge=0)
    collected_at: StrictStr

    @field_validator("collected_at")
    @classmethod
    def _iso_with_zone(cls, value: str) -> str:
        _parse_aware(value)
        return value

    def collected_at_utc(self) -> datetime:
        return _parse_aware(self.collected_at)


class RawPlace(_Raw):
    id: StrictStr = Field(min_length=1)
    displayName: LocalizedText | None = None
    formattedAddress: StrictStr | None = None
    location: LatLng | None = None
    rating: StrictFloat | StrictInt | None = None
    userRatingCount: StrictInt | None = None
    priceLevel: StrictStr | None = None
    businessStatus: StrictStr | None = None
    types: list[StrictStr] | None = None
    primaryType: StrictStr | None = None
    googleMapsUri: StrictStr | None = None
    reviews: list[Review] | None = None
    collection: Collection | None = Field(default=None, alias="_collection")


class _IsoCheck(BaseModel):
    value: AwareDatetime


def _parse_aware(text: str) -> datetime:
    try:
        return _IsoCheck.model_validate({"value": text}).value
    except Exception:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 time with a zone") from None


class Source(BaseModel):
    """`_source`, added by the transformer to each validated line. loaded_at: UTC "YYYY-MM-DD HH:MM:SS.ffffff",
    castable to timestamp by both warehouses."""

    model_config = ConfigDict(extra="forbid")

    key: str
    version: str | None
    line: int
    loaded_at: str


class ValidatedPlace(RawPlace):
    source: Source = Field(alias="_source")


class EnrichedReview(BaseModel):
    """One processed review. status: scored | empty_text | unsupported_language (the last two are kept, counted,
    never sent to an analyzer)."""

    model_config = ConfigDict(extra="forbid")

    review_id: str
    place_id: str
    status: Literal["scored", "empty_text", "unsupported_language"]
    analyzer: str | None
    analyzed_language: str | None
    analyzed_text_source: Literal["original", "text"] | None  # docs/nlp.md, "Which text is scored"
    sentiment_label: Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"] | None
    sentiment_score: float | None  # -1 (negative) .. 1 (positive)
    positive: float | None
    negative: float | None
    neutral: float | None
    mixed: float | None
    key_phrases: list[str]
    themes: list[str]
    scored_at: str  # UTC "YYYY-MM-DD HH:MM:SS.ffffff"


# --- generated forms ---------------------------------------------------------------------------------------


class HiveTypeError(ValueError):
    """A type this module cannot translate."""


def hive_type(annotation: Any) -> str:
    """The Hive (Glue/Athena) type of a field annotation: str -> string, int -> int, float or float|int -> double,
    list[X] -> array<X>, a model -> struct<...> of its fields (by alias), Literal[str...] -> string."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return hive_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {hive_type(arg) for arg in get_args(annotation) if arg is not type(None)}
        if kinds == {"double", "int"}:
            return "double"
        if len(kinds) == 1:
            return kinds.pop()
        raise HiveTypeError(f"{annotation!r}: a union of {sorted(kinds)} has no single Hive type")
    if origin is list:
        return f"array<{hive_type(get_args(annotation)[0])}>"
    if origin is Literal:
        if all(isinstance(value, str) for value in get_args(annotation)):
            return "string"
        raise HiveTypeError(f"{annotation!r}: only string literals are supported")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "struct<" + ",".join(f"{name}:{kind}" for name, kind in hive_columns(annotation)) + ">"
    scalars = {str: "string", int: "int", float: "double", bool: "boolean"}
    if annotation in scalars:
        return scalars[annotation]
    raise HiveTypeError(f"{annotation!r}: no Hive type for it; declare the field with str, int, float, list or a model")


def hive_columns(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(name, Hive type) per field of the model, in declaration order, named as in the JSON (aliases)."""
    return tuple((field.alias or name, hive_type(field.annotation)) for name, field in model.model_fields.items())


RAW_COLUMNS: tuple[tuple[str, str], ...] = hive_columns(ValidatedPlace)
ENRICHED_COLUMNS: tuple[tuple[str, str], ...] = hive_columns(EnrichedReview)
ENRICHED_PARTITION_KEYS = PARTITION_KEYS

# Collected only when the NLP stage is on (restaurant_pipeline.config adds it to the mask); never in the default.
NLP_FIELDS = ("reviews",)
DEFAULT_FIELD_MASK: tuple[str, ...] = (
    *(
        f"places.{field.alias or name}"
        for name, field in RawPlace.model_fields.items()
        if (field.alias or name) not in NLP_FIELDS and not (field.alias or name).startswith("_")
    ),
    "nextPageToken",
)


_SCALARS = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "float": "FLOAT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def duckdb_type(hive_type: str) -> str:
    """Translate a Hive type string (`array<struct<a:int>>`) into DuckDB's (`STRUCT("a" INTEGER)[]`)."""
    parsed, rest = _parse(hive_type.replace(" ", ""))
    if rest:
        raise HiveTypeError(f"unexpected {rest!r} after a complete type in {hive_type!r}")
    return parsed


def _parse(text: str) -> tuple[str, str]:
    if text.startswith("array<"):
        inner, rest = _parse(text[len("array<") :])
        return f"{inner}[]", _expect(rest, ">")
    if text.startswith("struct<"):
        rest = text[len("struct<") :]
        fields = []
        while True:
            match = _IDENT.match(rest)
            if not match:
                raise HiveTypeError(f"expected a field name at {rest!r}")
            name = match.group(0)
            field_type, rest = _parse(_expect(rest[match.end() :], ":"))
            fields.append(f'"{name}" {field_type}')
            if rest.startswith(","):
                rest = rest[1:]
                continue
            return f"STRUCT({', '.join(fields)})", _expect(rest, ">")
    match = _IDENT.match(text)
    if not match or match.group(0) not in _SCALARS:
        raise HiveTypeError(f"unknown type at {text!r}; known scalars: {', '.join(sorted(_SCALARS))}")
    return _SCALARS[match.group(0)], text[match.end() :]


def _expect(text: str, token: str) -> str:
    if not text.startswith(token):
        raise HiveTypeError(f"expected {token!r} at {text!r}")
    return text[len(token) :]


def duckdb_columns_struct(columns: tuple[tuple[str, str], ...] = RAW_COLUMNS) -> str:
    """The `columns={...}` argument of DuckDB's read_json: {'id': 'VARCHAR', ...}."""
    items = ", ".join(f"'{name}': '{duckdb_type(hive)}'" for name, hive in columns)
    return "{" + items + "}"


DBT_MACROS = {
    "macros/raw_columns.sql": ("raw_places_duckdb_columns", RAW_COLUMNS),
    "macros/enriched_columns.sql": ("enriched_reviews_duckdb_columns", ENRICHED_COLUMNS),
}


def render_dbt_macro(path: str) -> str:
    """A dbt macro returning the DuckDB read's column types, generated from the columns declared above."""
    macro, columns = DBT_MACROS[path]
    return (
        "{#- Generated by `python -m services.transformer.domain.records` from the records: do not edit.\n"
        "    tests/unit/transformer/test_records.py fails when this file and the records drift apart. -#}\n"
        f"{{% macro {macro}() -%}}\n"
        f"{duckdb_columns_struct(columns)}\n"
        "{%- endmacro %}\n"
    )


if __name__ == "__main__":
    from pathlib import Path

    project = Path(__file__).resolve().parents[3] / "dbt"
    for relative in DBT_MACROS:
        (project / relative).write_text(render_dbt_macro(relative), encoding="utf-8")
        print(f"wrote {project / relative}")
