"""Coalesced builds and run identity on the moto-backed transformer with real dbt and DuckDB: one invocation builds
every raw version waiting under its day (ListObjectVersions on a versioned bucket), the waiting objects' own events are
acknowledged as duplicates, and a dropped file never takes a run or a collection's place rows."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3

from services.common.adapters.ledger import RunLedger
from services.transformer.service import Coalescing
from tests.support.transformer_stack import BUCKET, DAY, Stack
from tests.unit.transformer.fakes import place


def _place(place_id: str, name: str, run_id: str, city: str = "Paris") -> bytes:
    """One complete place (every field the staging tests expect), collected by `run_id`."""
    complete = place(place_id, city, run_id, rating=4.0) | {
        "displayName": {"text": name, "languageCode": "fr"},
        "formattedAddress": "1 Rue A, 75001 Paris",
        "location": {"latitude": 48.861, "longitude": 2.341},
        "priceLevel": "PRICE_LEVEL_MODERATE",
        "businessStatus": "OPERATIONAL",
        "types": ["restaurant"],
        "primaryType": "french_restaurant",
        "googleMapsUri": f"https://maps.google.com/?cid={place_id}",
    }
    return (json.dumps(complete) + "\n").encode()


def _versioned(stack: Stack) -> None:
    stack.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def test_one_invocation_builds_the_whole_burst_and_the_rest_of_the_events_are_duplicates(stack: Stack):
    _versioned(stack)
    keys = [f"raw/places/dt={DAY}/burst-{index:02d}.jsonl" for index in range(30)]
    for index, key in enumerate(keys):
        stack.drop(key, _place(f"p{index}", f"Place {index}", "x"))
    messages = stack.s3_messages(30)

    first = stack.run(messages[:10])
    rest = [stack.run(messages[start : start + 10]) for start in (10, 20)]

    assert first.error is None and first.coalesced == 20
    assert stack.deps.builder.builds == 1  # type: ignore[attr-defined]
    assert [outcome.duplicates for outcome in rest] == [10, 10]
    assert sorted(s.key for e in stack.published(30) for s in e.sources) == keys
    assert stack.query("select count(*) from restaurants") == [(30,)]


def test_the_cap_splits_a_burst_into_several_builds_and_nothing_is_built_twice(stack: Stack):
    _versioned(stack)
    stack.deps = replace(stack.deps, coalescing=Coalescing(max_objects=12))
    keys = [f"raw/places/dt={DAY}/burst-{index:02d}.jsonl" for index in range(30)]
    for index, key in enumerate(keys):
        stack.drop(key, _place(f"p{index}", f"Place {index}", "x"))
    messages = stack.s3_messages(30)

    outcomes = [stack.run(messages[start : start + 10]) for start in (0, 10, 20)]

    built = sorted(s.key for e in stack.published(30) for s in e.sources)
    assert built == keys  # each object once
    assert stack.deps.builder.builds == 3  # type: ignore[attr-defined]
    # 10 own + 2 waiting; then 2 duplicates, 8 own + 4 waiting; then 4 duplicates, 6 own and nothing left
    assert [(o.coalesced, o.duplicates) for o in outcomes] == [(2, 0), (4, 2), (0, 4)]


def test_a_dropped_file_never_outranks_what_a_collection_recorded_for_the_day(stack: Stack):
    ledger = RunLedger(boto3.client("dynamodb"), "ledger")
    ledger.record("run-1", "REQUESTED", "-", "collector", {"cities": ["Paris"], "trigger": "schedule"})
    stack.deps = replace(stack.deps, runs=ledger)
    collected = f"raw/places/dt={DAY}/run-1__paris.jsonl"
    stack.drop(collected, _place("p1", "Chez Collected", "run-1"))
    stack.run(stack.s3_messages(1))
    # later the same day, a file without collection metadata reuses the place id with another name and city
    forged = json.loads(_place("p1", "Forged", "-"))
    del forged["_collection"]
    stack.drop(f"raw/places/dt={DAY}/later.jsonl", json.dumps(forged).encode())
    stack.run(stack.s3_messages(1))

    first, second = stack.published(2)
    assert first.run_id == "run-1" and second.run_id.startswith("drop-")
    assert stack.query("select name, city from restaurants") == [("Chez Collected", "Paris")]
    assert stack.query("select name, run_id from restaurant_daily_snapshots") == [("Chez Collected", "run-1")]


def test_a_file_naming_a_run_the_pipeline_never_started_is_transformed_as_a_dropped_file(stack: Stack):
    stack.deps = replace(stack.deps, runs=RunLedger(boto3.client("dynamodb"), "ledger"))
    key = f"raw/places/dt={DAY}/run-forged__paris.jsonl"
    stack.drop(key, _place("p1", "Somewhere", "run-forged"))

    stack.run(stack.s3_messages(1))

    [event] = stack.published(1)
    assert event.run_id.startswith("drop-") and event.run_cities == []
    assert "run-forged was never requested" in (event.sources[0].identity_note or "")
    assert stack.query("select distinct run_id from restaurant_daily_snapshots") == [(event.run_id,)]
