"""Warehouse column types generated from the record models (contracts/records.py): the Hive types of the Glue tables,
DuckDB's spelling of the same types for dbt's local reads, and what each numeric type holds.

A model field is translated by its annotation (`hive_type`); a type string is parsed once (`parse_hive_type`) and
rendered for DuckDB (`duckdb_type`). No record is declared here: a new field changes contracts/records.py only.
"""

from __future__ import annotations

import re
import types
import typing
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


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


def duckdb_columns_struct(columns: tuple[tuple[str, str], ...]) -> str:
    """The `columns={...}` argument of DuckDB's read_json: {'id': 'VARCHAR', ...}."""
    items = ", ".join(f"'{name}': '{duckdb_type(hive)}'" for name, hive in columns)
    return "{" + items + "}"


def duckdb_typed_nulls(columns: tuple[tuple[str, str], ...]) -> str:
    """A select list of one typed null per column (`null::VARCHAR as "id", ...`): the columns a line lacks, as
    read_json reads them (null), for a fixture that names only some."""
    return ", ".join(f'null::{duckdb_type(hive)} as "{name}"' for name, hive in columns)
