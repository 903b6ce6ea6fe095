import gzip
import json
from datetime import UTC, datetime

import pytest

from services.transformer.domain.reading import (
    ObjectLayoutError,
    ObjectRef,
    infer_city,
    quarantine_key,
    raw_day,
    read_places,
    render_validated,
    validated_key,
)

COLLECTION = {
    "run_id": "r1",
    "city": "Paris",
    "run_cities": ["Paris"],
    "trigger_source": "schedule",
    "query": "q",
    "rectangle": None,
    "page": 1,
    "collected_at": "2026-01-01T08:00:00Z",
}
REF = ObjectRef("b", "raw/places/dt=2026-01-01/x.jsonl", None, "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "e1")


def line(**fields):
    return json.dumps({"id": "p1", "_collection": COLLECTION, **fields})


def test_structurally_valid_places_pass_even_with_out_of_range_business_values():
    body = line(rating=9.5, userRatingCount=-3, priceLevel="PRICE_LEVEL_WHATEVER").encode()

    result = read_places("raw/places/dt=2026-01-01/x.jsonl", body)

    assert [number for number, _ in result.places] == [1] and result.rejections == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": 12}', "id: Input should be a valid string"),
        ('{"id": "p", "rating": "4.5"}', "rating"),
        ('{"id": "p", "_collection": {"run_id": "r"}}', "_collection.city: Field required"),
        (line(_collection={**COLLECTION, "collected_at": "yesterday"}), "not an ISO 8601 time"),
        (line(_collection={**COLLECTION, "extra": 1}), "_collection.extra"),
        ("{nope", "invalid JSON"),
        ("42", "not a JSON object"),
    ],
)
def test_each_structural_problem_is_rejected_with_a_reason_naming_it(bad, reason):
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", f"{line()}\n{bad}\n".encode())

    assert len(result.places) == 1
    [rejection] = result.rejections
    assert rejection.line == 2 and reason in rejection.reason and rejection.content == bad


def test_a_response_body_json_file_yields_its_places_by_position():
    body = json.dumps({"places": [{"id": "a"}, {"nope": 1}, {"id": "c"}]}).encode()

    result = read_places("raw/places/dt=2026-01-01/body.json", body)

    assert [n for n, _ in result.places] == [1, 3] and [r.line for r in result.rejections] == [2]


def test_a_broken_gzip_is_one_rejection_keeping_the_bytes():
    result = read_places("raw/places/dt=2026-01-01/x.jsonl.gz", b"plain text")

    assert result.places == [] and "gzip" in (result.problem or "")
    assert result.rejections[0].line is None and result.rejections[0].content == "plain text"


def test_empty_object_is_a_problem_not_a_crash():
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", b"\n\n")

    assert result.problem == "the object is empty: no place to transform"


@pytest.mark.parametrize(
    "key",
    ["raw/places/x.jsonl", "raw/places/dt=2026-13-45/x.jsonl", "raw/places/dt=2026-01-01/x.csv"],
)
def test_keys_outside_the_layout_are_refused_with_the_expected_layout(key):
    with pytest.raises(ObjectLayoutError):
        raw_day(key)


def test_dropped_file_gets_a_stable_run_id_and_the_city_of_a_collector_style_name():
    place = json.dumps({"id": "p1"}).encode()
    ref = ObjectRef("b", "raw/places/dt=2026-01-01/run-1__saint-etienne.jsonl", None, "e", 1, REF.event_time)

    copy = gzip.decompress(render_validated(ref, "run-1__saint-etienne.jsonl", read_places(ref.key, place).places))
    row = json.loads(copy)

    assert row["_collection"]["city"] == "Saint-Etienne" and row["_collection"]["run_id"].startswith("drop-")
    assert row["_collection"]["run_cities"] == [] and row["_collection"]["trigger_source"] == "manual"
    assert row["_source"] == {"key": ref.key, "version": "e", "line": 1, "loaded_at": "2026-01-01 08:00:00.000000"}
    assert infer_city("whatever.jsonl") == "unknown"


def test_derived_keys():
    assert validated_key("2026-01-01", "x.json") == "validated/places/dt=2026-01-01/x.json.jsonl.gz"
    assert validated_key("2026-01-01", "r__paris.jsonl.gz") == "validated/places/dt=2026-01-01/r__paris.jsonl.gz"
    assert quarantine_key(REF.key) == "quarantine/raw/places/dt=2026-01-01/x.jsonl.rejected.jsonl"


def test_the_same_event_maps_to_one_key_and_a_new_upload_to_another():
    again = ObjectRef(**{**REF.__dict__})
    later = ObjectRef(**{**REF.__dict__, "event_time": datetime(2026, 1, 1, 9, tzinfo=UTC)})
    versioned = ObjectRef(**{**REF.__dict__, "version_id": "v2"})

    assert again.idempotency_key == REF.idempotency_key != later.idempotency_key
    assert versioned.idempotency_key == "b/raw/places/dt=2026-01-01/x.jsonl#v2"
