"""The raw place columns, declared once: the Glue table (CDK) and the DuckDB read (dbt, local) both use them.

Types are Hive/Athena type strings (what a Glue column carries). `duckdb_type` translates one into DuckDB's
spelling and `duckdb_columns_struct` renders the `columns={...}` argument of DuckDB's read_json, so both
warehouses read the same explicit types instead of inferring them from whatever the data holds today.

Where the table lives: the transformer validates every raw object (raw/places/dt=.../NAME) and writes its
structurally valid places, normalised to one JSON object per line, to VALIDATED_PREFIX + "dt=.../NAME.jsonl.gz".
The dbt source (and the Glue table `TABLE_NAME`, partition projection on dt) reads that prefix: raw/ itself may
hold malformed lines and `{"places": [...]}` bodies, which Athena's JSON SerDe cannot read, and raw stays
untouched. Everything under VALIDATED_PREFIX is rebuilt from raw by reprocessing.
"""

from __future__ import annotations

import re

TABLE_NAME = "raw_places"
VALIDATED_PREFIX = "validated/places/"

_TEXT = "struct<text:string,languageCode:string>"
_LATLNG = "struct<latitude:double,longitude:double>"

RAW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("displayName", _TEXT),
    ("formattedAddress", "string"),
    ("location", _LATLNG),
    ("rating", "double"),
    ("userRatingCount", "int"),
    ("priceLevel", "string"),
    ("businessStatus", "string"),
    ("types", "array<string>"),
    ("primaryType", "string"),
    ("googleMapsUri", "string"),
    (
        "reviews",
        f"array<struct<name:string,rating:double,text:{_TEXT},publishTime:string>>",
    ),
    (
        "_collection",
        "struct<run_id:string,city:string,run_cities:array<string>,trigger_source:string,query:string,"
        f"rectangle:struct<low:{_LATLNG},high:{_LATLNG}>,page:int,collected_at:string>",
    ),
)

PARTITION_KEYS: tuple[tuple[str, str], ...] = (("dt", "string"),)

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


class HiveTypeError(ValueError):
    """A type string this module cannot translate."""


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
