"""A `\\ud800` escape with no partner (a lone UTF-16 surrogate) is valid JSON but not Unicode: no UTF-8 writer can
hold it. It costs its line alone (quarantined, with a reason naming it), never the file (issue 24, item 10)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from services.transformer.domain.reading import ObjectRef, quarantine_key, read_places, validated_key
from services.transformer.domain.transform import transform_objects
from tests.unit.transformer.fakes import BUCKET, DAY, FakeBuilder, FakeMarts, FakeStore, lines, place

LONE = '{"id": "x", "displayName": {"text": "\\ud800"}}'
REASON = "lone UTF-16 surrogate \\ud800 in a string at displayName.text: not valid Unicode"
KEY = f"raw/places/dt={DAY}/x.jsonl"


def test_a_lone_surrogate_costs_its_line_and_the_other_lines_are_validated():
    paired = {**place("p3"), "displayName": {"text": "\U0001f600"}}  # written as the pair \ud83d\ude00: valid
    body = lines(place("p1"), extra=[LONE.encode() + b"\n", json.dumps(paired).encode() + b"\n"])

    result = read_places(KEY, body)

    validated = [json.loads(row) for row in gzip.decompress(result.validated).splitlines()]
    assert [row["id"] for row in validated] == ["p1", "p3"] and result.problem is None
    assert validated[1]["displayName"]["text"] == "\U0001f600"
    [rejection] = result.rejections
    assert rejection.line == 2 and REASON in rejection.reason and rejection.content == LONE


def test_a_lone_surrogate_in_a_key_or_a_list_is_refused_too():
    body = b'{"id": "a", "\\udfff": 1}\n{"id": "b", "types": ["ok", "\\udbff"]}\n'

    result = read_places(KEY, body)

    assert result.valid_lines == 0
    assert [(r.line, "lone UTF-16 surrogate" in r.reason) for r in result.rejections] == [(1, True), (2, True)]
    assert "\\udbff in a string at types[1]" in result.rejections[1].reason


def test_in_a_json_response_body_the_place_is_quarantined_with_its_content_escaped():
    body = b'{"places": [{"id": "a"}, {"id": "b", "displayName": {"text": "\\ud800"}}]}'

    result = read_places(f"raw/places/dt={DAY}/body.json", body)

    assert result.valid_lines == 1
    [rejection] = result.rejections
    assert rejection.line == 2 and REASON in rejection.reason
    assert "\\ud800" in rejection.content and rejection.content.encode("utf-8")  # writable as it is


def test_through_the_use_case_two_lines_are_built_and_line_two_is_quarantined():
    body = lines(place("p1"), extra=[LONE.encode() + b"\n", json.dumps(place("p3")).encode() + b"\n"])
    store = FakeStore({KEY: body})
    ref = ObjectRef(BUCKET, KEY, "v1", "etag", len(body), datetime(2026, 1, 1, 8, tzinfo=UTC), "event-1")

    transform_objects([ref], store=store, builder=FakeBuilder(), marts=FakeMarts())

    built = gzip.decompress(store.written[validated_key(DAY, "x.jsonl", "v1")][0]).splitlines()
    assert [json.loads(row)["id"] for row in built] == ["p1", "p3"]
    [record] = [json.loads(row) for row in store.written[quarantine_key(KEY, "v1")][0].splitlines()]
    assert record["line"] == 2 and REASON in record["reason"] and record["content"] == LONE
