"""A dropped file knows its city: its object's `city` metadata (x-amz-meta-city, set by `reprocess --city` or
`aws s3 cp --metadata city=…`) names the city of its lines without collection metadata; "unknown" only when
nothing says."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.events import UNKNOWN_CITY
from services.transformer.domain.reading import ObjectRef, declared_city, validated_key
from services.transformer.domain.transform import transform_objects
from tests.unit.transformer.fakes import BUCKET, DAY, FakeBuilder, FakeMarts, FakeStore, lines, place

DROPPED = f"raw/places/dt={DAY}/my-export.jsonl"


def bare(place_id: str) -> dict[str, Any]:
    """A place as a person exports it: no `_collection`."""
    row = place(place_id)
    del row["_collection"]
    return row


def transform(store: FakeStore):
    ref = ObjectRef(BUCKET, DROPPED, "v1", "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "event-1")
    [event] = transform_objects([ref], store=store, builder=FakeBuilder(), marts=FakeMarts())
    validated = gzip.decompress(store.written[validated_key(DAY, "my-export.jsonl", "v1")][0]).splitlines()
    return event, [json.loads(line)["_collection"]["city"] for line in validated]


def test_the_objects_city_metadata_names_the_city_of_its_lines_without_collection_metadata():
    store = FakeStore({DROPPED: lines(bare("p1"), bare("p2"))}, metadata={DROPPED: {"city": "Lyon"}})

    event, cities = transform(store)

    assert cities == ["Lyon", "Lyon"]
    assert event.cities == ["Lyon"] and event.sources[0].city == "Lyon"


def test_a_line_that_carries_its_own_city_keeps_it():
    store = FakeStore({DROPPED: lines(place("p1", city="Paris"), bare("p2"))}, metadata={DROPPED: {"city": "Lyon"}})

    event, cities = transform(store)

    assert cities == ["Paris", "Lyon"] and sorted(event.cities) == ["Lyon", "Paris"]


def test_without_metadata_nor_a_collector_style_name_the_city_is_unknown():
    event, cities = transform(FakeStore({DROPPED: lines(bare("p1"))}))

    assert cities == [UNKNOWN_CITY] and event.sources[0].city == UNKNOWN_CITY


@pytest.mark.parametrize(
    ("value", "city"),
    [
        ("Lyon", "Lyon"),
        ("  New York ", "New York"),
        ("Saint-%C3%89tienne", "Saint-Étienne"),  # what `reprocess --city` writes beyond ASCII
        ("=?UTF-8?B?U2FpbnQtw4l0aWVubmU=?=", "Saint-Étienne"),  # RFC 2047, as S3 returns a non-ASCII value
        ("", None),
        ("unknown", None),
        ("x" * 101, None),
    ],
)
def test_the_city_metadata_is_read_as_percent_encoding_or_rfc_2047(value: str, city: str | None):
    assert declared_city({"city": value}) == city
    assert declared_city({}) is None
