"""A build reads only the objects of its batch, and the latest object of a day still wins across batches."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.support.transformer_stack import DAY, Stack

pytestmark = pytest.mark.integration


def validated(key: str, loaded_at: str, places: dict[str, float]) -> bytes:
    """A validated object (what the transformer writes) whose places have the given ratings."""
    lines = [
        json.dumps(
            {
                "id": place_id,
                "displayName": {"text": f"{place_id} at {loaded_at}", "languageCode": "fr"},
                "location": {"latitude": 45.0, "longitude": 4.0},
                "rating": rating,
                "userRatingCount": 10,
                "businessStatus": "OPERATIONAL",
                "_collection": {
                    "run_id": f"run-{key}",
                    "city": "Lyon",
                    "run_cities": ["Lyon"],
                    "trigger_source": "schedule",
                    "query": "q",
                    "rectangle": None,
                    "page": 1,
                    "collected_at": f"{DAY}T08:00:00Z",
                },
                "_source": {"key": f"raw/places/dt={DAY}/{key}", "version": None, "line": line, "loaded_at": loaded_at},
            }
        )
        for line, (place_id, rating) in enumerate(places.items(), start=1)
    ]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def test_a_batch_reads_only_its_own_objects_not_the_rest_of_the_day(stack: Stack):
    first = stack.drop_fixture("clean_paris.jsonl", key=f"raw/places/dt={DAY}/run-a__paris.jsonl")
    stack.run(stack.s3_messages(1))
    # Poison the day: if the next build opened any object of the day other than its own, it would fail.
    stack.drop(f"validated/places/dt={DAY}/poison.jsonl.gz", b"this is not gzip")

    second = stack.drop_fixture("malformed_lines.jsonl")
    outcome = stack.run(stack.s3_messages(1))

    assert outcome.error is None
    events = stack.published(2)
    assert [e.outcome for e in events] == ["passed", "passed"], [e.error for e in events]
    assert [s.key for s in events[1].sources] == [second]
    # the first object's places are still in the marts, next to the second's
    assert events[1].row_counts["restaurants"] == 6
    sources = stack.query("select source_key, count(*) from restaurant_daily_snapshots group by 1 order by 1")
    assert sources == sorted([(first, 4), (second, 2)])
    assert stack.query("select city, restaurants_seen from city_daily_summary order by 1") == [
        ("Paris", 4),
        ("Toulouse", 2),
    ]


def test_an_older_object_built_after_a_newer_one_does_not_overwrite_it(stack: Stack):
    old, new = f"validated/places/dt={DAY}/old.jsonl.gz", f"validated/places/dt={DAY}/new.jsonl.gz"
    stack.drop(old, validated("old", f"{DAY} 08:00:00", {"p1": 3.0, "p2": 3.5}))
    stack.drop(new, validated("new", f"{DAY} 09:00:00", {"p1": 4.5}))

    assert stack.deps.builder.build([DAY], [new]).outcome == "passed"
    assert stack.deps.builder.build([DAY], [old]).outcome == "passed"  # processed late, e.g. after a retry

    snapshots = stack.query(
        "select place_id, rating, source_key, loaded_at::varchar from restaurant_daily_snapshots order by 1"
    )
    assert snapshots == [
        ("p1", 4.5, f"raw/places/dt={DAY}/new", f"{DAY} 09:00:00"),  # the newer object's row is kept
        ("p2", 3.5, f"raw/places/dt={DAY}/old", f"{DAY} 08:00:00"),  # only the old object holds p2
    ]
    assert stack.query("select place_id, rating from restaurants order by 1") == [("p1", 4.5), ("p2", 3.5)]
    assert stack.query("select restaurants_seen, average_rating from city_daily_summary") == [(2, 4.0)]

    # A newer object still replaces the row, whatever came before.
    newest = f"validated/places/dt={DAY}/newest.jsonl.gz"
    stack.drop(newest, validated("newest", f"{DAY} 10:00:00", {"p1": 2.0}))
    assert stack.deps.builder.build([DAY], [newest]).outcome == "passed"
    assert stack.query("select rating from restaurant_daily_snapshots where place_id = 'p1'") == [(2.0,)]
