"""Validation holds each value of a raw line to the warehouse column it lands in (issue 24, item 1a): the columns are
declared once (RAW_COLUMNS, contracts/records.py: the Glue table, DuckDB's read and these bounds), so a value either
warehouse cannot hold costs its line, with a reason naming the field, the value and the allowed range."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from contracts.columns import FLOAT_MAX, INTEGER_RANGES, duckdb_type, parse_hive_type
from contracts.records import LINE_COLUMNS, RAW_COLUMNS
from services.transformer.domain.reading import read_places
from services.transformer.domain.records import column_problem

KEY = "raw/places/dt=2026-01-01/drop.jsonl"


def _place(**changes: Any) -> dict[str, Any]:
    place: dict[str, Any] = {
        "id": "p1",
        "displayName": {"text": "Chez A", "languageCode": "fr"},
        "location": {"latitude": 48.8, "longitude": 2.3},
        "rating": 4.5,
        "userRatingCount": 12,
        "reviews": [{"name": "r1", "rating": 5}],
        "_collection": {
            "run_id": "r1",
            "city": "Paris",
            "run_cities": ["Paris"],
            "trigger_source": "schedule",
            "page": 1,
            "collected_at": "2026-01-01T08:00:00Z",
        },
    }
    place.update(changes)
    return place


def _read(*places: dict[str, Any]):
    return read_places(KEY, "".join(json.dumps(p) + "\n" for p in places).encode())


def test_a_count_of_three_billion_costs_its_line_alone_with_the_field_the_value_and_the_range():
    result = _read(_place(id="a"), _place(id="b", userRatingCount=3_000_000_000), _place(id="c"))

    assert result.valid_lines == 2 and result.problem is None
    [rejection] = result.rejections
    assert rejection.line == 2
    assert rejection.reason.startswith("userRatingCount: 3000000000 is out of the range of its warehouse column")
    assert "(int: -2147483648 to 2147483647)" in rejection.reason


@pytest.mark.parametrize(
    ("field", "place", "accepted"),
    [
        ("userRatingCount", _place(userRatingCount=2**31 - 1), True),
        ("userRatingCount", _place(userRatingCount=-(2**31)), True),
        ("userRatingCount", _place(userRatingCount=2**31), False),
        ("userRatingCount", _place(userRatingCount=-(2**31) - 1), False),
        ("_collection.page", _place(_collection={**_place()["_collection"], "page": 2**31 - 1}), True),
        ("_collection.page", _place(_collection={**_place()["_collection"], "page": 2**31}), False),
        ("rating", _place(rating=1.7976931348623157e308), True),
        ("rating", _place(rating=2**63 - 1), True),  # an integer in a double column: readable
        ("location.latitude", _place(location={"latitude": -1.7976931348623157e308, "longitude": 0}), True),
        ("reviews[0].rating", _place(reviews=[{"rating": 2**31}]), True),  # a double, not an int
    ],
)
def test_the_declared_numeric_columns_of_a_place_take_their_edge_values_and_refuse_beyond(field, place, accepted):
    result = _read(place)

    if accepted:
        assert result.valid_lines == 1, result.rejections
    else:
        [rejection] = result.rejections
        assert rejection.reason.startswith(f"{field}: "), rejection.reason


def test_a_double_beyond_the_largest_finite_one_is_refused_when_parsed():
    result = read_places(KEY, json.dumps(_place()).replace('"rating": 4.5', '"rating": 1.8e308').encode())

    [rejection] = result.rejections
    assert "too large for a double" in rejection.reason


@pytest.mark.parametrize("kind", sorted(INTEGER_RANGES))
def test_each_integer_type_holds_its_range_and_nothing_beyond(kind):
    low, high = INTEGER_RANGES[kind]
    columns = (("n", kind),)

    assert column_problem({"n": low}, columns) is None
    assert column_problem({"n": high}, columns) is None
    for outside in (low - 1, high + 1):
        problem = column_problem({"n": outside}, columns)
        assert problem == (
            f"n: {outside} is out of the range of its warehouse column ({kind}: {low} to {high}); "
            "both warehouses would fail to read it"
        )


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("float", FLOAT_MAX, None),
        ("float", -FLOAT_MAX, None),
        (
            "float",
            3.5e38,
            f"n: 3.5e+38 is out of the range of its warehouse column (float: -{FLOAT_MAX} to {FLOAT_MAX})",
        ),
        ("double", 1.7976931348623157e308, None),
        ("double", 7, None),
        ("double", "7", 'n: "7" is not a number (double), the type of its warehouse column'),
        ("double", True, "n: true is not a number (double), the type of its warehouse column"),
        ("int", 1.5, "n: 1.5 is not an integer (int: -2147483648 to 2147483647), the type of its warehouse column"),
        ("int", False, "n: false is not an integer (int: -2147483648 to 2147483647), the type of its warehouse column"),
        ("string", 12, "n: 12 is not a string (string), the type of its warehouse column"),
        ("boolean", 1, "n: 1 is not true or false (boolean), the type of its warehouse column"),
        (
            "array<int>",
            [1, 2**31],
            "n[1]: 2147483648 is out of the range of its warehouse column (int: -2147483648 to "
            "2147483647); both warehouses would fail to read it",
        ),
        (
            "struct<a:struct<b:bigint>>",
            {"a": {"b": 2**63, "other": "not read"}},
            "n.a.b: 9223372036854775808 is out "
            "of the range of its warehouse column (bigint: -9223372036854775808 to 9223372036854775807); both "
            "warehouses would fail to read it",
        ),
        ("struct<a:int>", [1], "n: [1] is not an object, the type of its warehouse column"),
        ("array<string>", "x", 'n: "x" is not an array, the type of its warehouse column'),
        ("int", None, None),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_named_with_its_path(kind, value, problem):
    assert column_problem({"n": value, "unread": 10**30}, (("n", kind),)) == problem


def test_every_scalar_of_the_raw_columns_has_its_bounds_declared():
    def scalars(node):
        kind, detail = node
        if kind == "scalar":
            yield detail
        elif kind == "array":
            yield from scalars(detail)
        else:
            for _, child in detail:
                yield from scalars(child)

    found = {name for _, hive in RAW_COLUMNS for name in scalars(parse_hive_type(hive))}
    assert found <= {*INTEGER_RANGES, "double", "float", "string", "boolean"}
    assert dict(RAW_COLUMNS)["userRatingCount"] == "int"  # the Places API's int32 (what broke the build)
    assert tuple(c for c in RAW_COLUMNS if c[0] != "_source") == LINE_COLUMNS


@pytest.mark.parametrize("kind", sorted(INTEGER_RANGES))
def test_the_bounds_are_those_of_duckdbs_own_read(kind, tmp_path: Path):
    """What validation accepts DuckDB reads with the generated column type; one past either end it fails to read."""
    low, high = INTEGER_RANGES[kind]
    columns = {"n": duckdb_type(kind)}

    def read(value: int) -> Any:
        path = tmp_path / f"{value}.jsonl"
        path.write_text(json.dumps({"n": value}) + "\n")
        return duckdb.sql(
            f"select n from read_json('{path}', format='newline_delimited', columns={columns})"
        ).fetchone()

    assert read(low) == (low,) and read(high) == (high,)
    for outside in (low - 1, high + 1):
        assert column_problem({"n": outside}, (("n", kind),)) is not None
        with pytest.raises(duckdb.Error):
            read(outside)
