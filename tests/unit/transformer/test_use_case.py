"""The transformer's use case with hand-written fakes of its ports (tests/unit/transformer/fakes.py): what a batch
claims, builds, publishes and records, and the outcome it describes, without S3, dbt or a warehouse."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from contracts.events import ReviewCounts
from services.transformer.domain.reading import ObjectRef, validated_key
from services.transformer.domain.transform import transform_objects
from services.transformer.service import TransformerDeps, process_batch
from tests.unit.transformer.fakes import (
    BUCKET,
    DAY,
    FakeBuilder,
    FakeClaims,
    FakeLedger,
    FakeMarts,
    FakePublisher,
    FakeStore,
    failed_test,
    infrastructure,
    lines,
    passed,
    place,
    s3_event,
    sqs_batch,
)

KEY = f"raw/places/dt={DAY}/run-1__paris.jsonl"
VALIDATED = validated_key(DAY, "run-1__paris.jsonl")


def ref(key: str = KEY, version: str = "v1") -> ObjectRef:
    return ObjectRef(BUCKET, key, version, "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "event-1")


def transform(store: FakeStore, builder: FakeBuilder | None = None, marts: FakeMarts | None = None, *refs):
    return transform_objects(
        list(refs) or [ref()], store=store, builder=builder or FakeBuilder(), marts=marts or FakeMarts()
    )


# -- the domain: transform_objects ---------------------------------------------------------------------------------
def test_a_clean_object_is_validated_built_once_for_its_day_and_described_from_the_marts():
    store = FakeStore({KEY: lines(place("p1"), place("p2"))})
    builder, marts = FakeBuilder(), FakeMarts()

    [event] = transform(store, builder, marts)

    assert builder.calls == [([DAY], [VALIDATED])]  # only this batch's validated object is read
    validated = gzip.decompress(store.written[VALIDATED][0]).splitlines()
    assert [json.loads(line)["id"] for line in validated] == ["p1", "p2"]
    assert event.outcome == "passed" and event.run_id == "run-1" and event.cities == ["Paris"]
    assert event.row_counts == {"restaurants": 2, "city_daily_summary": 1}
    assert [(s.city, s.day.isoformat()) for s in event.city_summaries] == [("Paris", DAY)]
    assert event.sources[0].valid_lines == 2 and event.quarantined_lines == 0


def test_bad_lines_are_quarantined_with_their_reason_and_the_good_ones_still_built():
    store = FakeStore({KEY: lines(place("p1"), extra=[b"{not json\n", b'{"displayName": "no id"}\n'])})

    [event] = transform(store)

    quarantine = [json.loads(line) for line in store.written[f"quarantine/{KEY}.rejected.jsonl"][0].splitlines()]
    assert [q["line"] for q in quarantine] == [2, 3] and all(q["reason"] for q in quarantine)
    assert event.outcome == "passed" and event.quarantined_lines == 2 and event.sources[0].valid_lines == 1


def test_an_object_outside_raw_places_layout_is_an_error_without_a_build():
    builder = FakeBuilder()

    [event] = transform(FakeStore(), builder, None, ref("raw/places/no-day-here.jsonl"))

    assert builder.calls == []
    assert event.outcome == "error" and event.error is not None and event.error.phase == "validate"


def test_failed_tests_carry_their_failing_rows_from_the_marts():
    report = passed(outcome="tests_failed", failures=[failed_test(rows=2)])
    marts = FakeMarts(samples=[{"place_id": "p1", "name": None}])

    [event] = transform(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(report), marts)

    assert event.outcome == "tests_failed"
    [failure] = event.failures
    assert failure.name == "not_null_restaurants_name" and failure.failing_rows == 2
    assert failure.samples == [{"place_id": "p1", "name": None}]


def test_a_dbt_error_names_the_model_and_the_phase():
    report = passed(outcome="error", error_message="model restaurants: syntax error", error_model="restaurants")

    [event] = transform(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(report))

    assert event.outcome == "error" and event.error is not None
    assert (event.error.phase, event.error.model) == ("dbt", "restaurants")


def test_the_review_counts_of_the_nlp_stage_ride_on_the_outcome():
    counts = ReviewCounts(
        analyzer="vader", staged=3, already_scored=1, scored=2, empty_text=0, unsupported_language=0, failed=0
    )

    [event] = transform(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(passed(reviews=counts)))

    assert event.reviews == counts


def test_one_build_covers_two_runs_and_each_gets_its_own_outcome():
    other = f"raw/places/dt={DAY}/run-2__lyon.jsonl"
    store = FakeStore({KEY: lines(place("p1")), other: lines(place("p2", city="Lyon", run_id="run-2"))})
    builder = FakeBuilder()

    events = transform(store, builder, None, ref(KEY), ref(other))

    assert len(builder.calls) == 1
    assert sorted((e.run_id, e.cities[0]) for e in events) == [("run-1", "Paris"), ("run-2", "Lyon")]


# -- the use case: process_batch -----------------------------------------------------------------------------------
def deps(store: FakeStore, builder: FakeBuilder | None = None, claims: FakeClaims | None = None, publisher=None):
    return TransformerDeps(
        store=store,
        builder=builder or FakeBuilder(),
        marts=FakeMarts(),
        claims=claims or FakeClaims(),
        publisher=publisher or FakePublisher(),
        ledger=FakeLedger(),
    )


def test_a_batch_claims_builds_publishes_completes_and_records():
    wired = deps(FakeStore({KEY: lines(place("p1"))}))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": []} and result.error is None
    [event] = wired.publisher.events
    assert event.outcome == "passed"
    assert list(wired.claims.completed.values()) == [{"run_id": "run-1", "outcome": "passed"}]
    assert wired.ledger.steps == [("run-1", "TRANSFORMED", KEY)]


def test_an_object_already_transformed_is_acknowledged_as_a_duplicate_without_a_build():
    builder = FakeBuilder()
    wired = deps(FakeStore({KEY: lines(place("p1"))}), builder, FakeClaims(done=[f"{BUCKET}/{KEY}#v1"]))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.duplicates == 1 and result.response == {"batchItemFailures": []}
    assert builder.calls == [] and wired.publisher.events == []


def test_an_infrastructure_failure_releases_the_claims_and_fails_the_whole_batch():
    other = f"raw/places/dt={DAY}/run-2__lyon.jsonl"
    store = FakeStore({KEY: lines(place("p1")), other: lines(place("p2", city="Lyon", run_id="run-2"))})
    wired = deps(store, FakeBuilder(error=infrastructure()))

    result = process_batch(sqs_batch(s3_event(KEY), s3_event(other)), wired, remaining_ms=lambda: 60_000)

    assert result.error is not None and "warehouse locked" in str(result.error)
    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert sorted(wired.claims.released) == sorted([f"{BUCKET}/{KEY}#v1", f"{BUCKET}/{other}#v1"])
    assert wired.claims.completed == {} and wired.publisher.events == []


def test_a_malformed_message_fails_with_what_follows_it_in_the_fifo_batch_and_other_events_are_acknowledged():
    tags = {**s3_event(KEY), "detail-type": "Object Tags Added"}
    wired = deps(FakeStore({KEY: lines(place("p1"))}))

    result = process_batch(sqs_batch(tags, s3_event(KEY), "{not json", tags), wired, remaining_ms=lambda: 60_000)

    # FIFO: the records after a failed one are failed too, so that the group's order holds on the retry
    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert result.ignored == 1 and len(wired.publisher.events) == 1


def test_an_object_another_invocation_holds_is_retried_later():
    wired = deps(FakeStore({KEY: lines(place("p1"))}), claims=FakeClaims(busy=[f"{BUCKET}/{KEY}#v1"]))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert wired.publisher.events == []
