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
`python -m services.transformer.domain.records` rewrites them; a test fails on drift), the bounds validation holds a
line to (`column_problem`: a value its warehouse column cannot hold, 3,000,000,000 in the 32-bit `int` of
userRatingCount, costs its line instead of failing the whole build), and the default Places field mask (every field
of RawPlace but the reviews, which the NLP stage adds, plus nextPageToken).
Adding a Places field to the marts: docs/architecture.md, "Add a Places field".
"""

from __future__ import annotations

import json
import re
import types
import typing
from datetime import datetime
from functools import cache
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
# The columns a raw line's values land in: all of RAW_COLUMNS but `_source`, which the transformer writes itself.
LINE_COLUMNS: tuple[tuple[str, str], ...] = tuple(column for column in RAW_COLUMNS if column[0] != "_source")
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
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

# What each numeric column type holds, the same in both warehouses. Athena (Hive DDL names, the Glue tables): TINYINT,
# SMALLINT, INT and BIGINT are 8-, 16-, 32- and 64-bit signed integers (-2^(n-1) to 2^(n-1)-1); FLOAT is 32-bit, at
# most 3.40282346638528860e+38; DOUBLE 64-bit IEEE 754 (https://docs.aws.amazon.com/athena/latest/ug/data-types.html).
# DuckDB's TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT and DOUBLE (duckdb_type) have the same widths, and its read_json
# fails the whole read on a value its column cannot hold ("Failed to cast value to numerical: 3000000000").
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
FLOAT_MAX = 3.4028234663852886e38  # the largest finite 32-bit float; a double is any finite Python float

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# A Hive type, parsed: ("scalar", name) | ("array", element) | ("struct", ((field, type), ...)).
HiveNode = tuple[str, Any]


def duckdb_type(hive_type: str) -> str:
    """Translate a Hive type string (`array<struct<a:int>>`) into DuckDB's (`STRUCT("a" INTEGER)[]`)."""
    return _duckdb(parse_hive_type(hive_type))


@cache
def parse_hive_type(hive_type: str) -> HiveNode:
    """The tree of a Hive type string; HiveTypeError names what is wrong and where."""
    parsed, rest = _parse(hive_type.replace(" ", ""))
    if rest:
        raise HiveTypeError(f"unexpected {rest!r} after a complete type in {hive_type!r}")
    return parsed


def _parse(text: str) -> tuple[HiveNode, str]:
    if text.startswith("array<"):
        inner, rest = _parse(text[len("array<") :])
        return ("array", inner), _expect(rest, ">")
    if text.startswith("struct<"):
        rest = text[len("struct<") :]
        fields = []
        while True:
            match = _IDENT.match(rest)
            if not match:
                raise HiveTypeError(f"expected a field name at {rest!r}")
            name = match.group(0)
            field_type, rest = _parse(_expect(rest[match.end() :], ":"))
            fields.append((name, field_type))
            if rest.startswith(","):
                rest = rest[1:]
                continue
            return ("struct", tuple(fields)), _expect(rest, ">")
    match = _IDENT.match(text)
    if not match or match.group(0) not in _SCALARS:
        raise HiveTypeError(f"unknown type at {text!r}; known scalars: {', '.join(sorted(_SCALARS))}")
    return ("scalar", match.group(0)), text[match.end() :]


def _expect(text: str, token: str) -> str:
    if not text.startswith(token):
        raise HiveTypeError(f"expected {token!r} at {text!r}")
    return text[len(token) :]


def _duckdb(node: HiveNode) -> str:
    kind, detail = node
    if kind == "array":
        return f"{_duckdb(detail)}[]"
    if kind == "struct":
        return "STRUCT(" + ", ".join(f'"{name}" {_duckdb(child)}' for name, child in detail) + ")"
    return _SCALARS[detail]


def column_problem(row: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> str | None:
    """Why a parsed JSON object cannot be read with these warehouse columns (a value of the wrong type, or out of its
    type's range: 3000000000 in an `int`), naming the field, the value and what the column holds; None when both
    warehouses can read every value. Keys without a column are not read by either warehouse, so never a problem."""
    for name, hive in columns:
        if name in row:
            problem = _value_problem(row[name], parse_hive_type(hive), name)
            if problem:
                return problem
    return None


def _value_problem(value: Any, node: HiveNode, where: str) -> str | None:
    if value is None:  # every column is nullable
        return None
    kind, detail = node
    if kind == "array":
        if not isinstance(value, list):
            return _wrong_type(value, "an array", where)
        for index, item in enumerate(value):
            problem = _value_problem(item, detail, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if kind == "struct":
        if not isinstance(value, dict):
            return _wrong_type(value, "an object", where)
        for name, child in detail:
            if name in value:
                problem = _value_problem(value[name], child, f"{where}.{name}")
                if problem:
                    return problem
        return None
    if detail in INTEGER_RANGES:
        low, high = INTEGER_RANGES[detail]
        if isinstance(value, bool) or not isinstance(value, int):
            return _wrong_type(value, f"an integer ({detail}: {low} to {high})", where)
        if not low <= value <= high:
            return (
                f"{where}: {value} is out of the range of its warehouse column ({detail}: {low} to {high}); "
                "both warehouses would fail to read it"
            )
        return None
    if detail in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _wrong_type(value, f"a number ({detail})", where)
        if detail == "float" and abs(value) > FLOAT_MAX:
            return f"{where}: {value} is out of the range of its warehouse column (float: -{FLOAT_MAX} to {FLOAT_MAX})"
        return None
    if detail == "boolean" and not isinstance(value, bool):
        return _wrong_type(value, "true or false (boolean)", where)
    if detail in ("string", "date", "timestamp") and not isinstance(value, str):
        return _wrong_type(value, f"a string ({detail})", where)
    return None


def _wrong_type(value: Any, expected: str, where: str) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{where}: {shown} is not {expected}, the type of its warehouse column"


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
