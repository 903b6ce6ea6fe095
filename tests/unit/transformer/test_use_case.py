"""The transformer's use case with hand-written fakes of its ports (tests/unit/transformer/fakes.py): what a batch
claims, builds, publishes and records, and the outcome it describes, without S3, dbt or a warehouse."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from urllib.parse import quote_plus

from contracts.events import ReviewCounts
from services.common.ports import RunFacts
from services.transformer.domain.limits import (
    ATHENA_QUERY_MAX_BYTES,
    STATEMENT_ROOM_BYTES,
    listed_bytes,
    object_literal,
)
from services.transformer.domain.model import Claim, StoredVersion
from services.transformer.domain.reading import ObjectRef, validated_key
from services.transformer.domain.transform import transform_objects
from services.transformer.handler import process_batch
from services.transformer.service import Coalescing, TransformerDeps
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
NOW = datetime(2026, 1, 1, 9, tzinfo=UTC)
VALIDATED = validated_key(DAY, "run-1__paris.jsonl", "v1")


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

    quarantine = [json.loads(line) for line in store.written[f"quarantine/{KEY}~vv1.rejected.jsonl"][0].splitlines()]
    assert [q["line"] for q in quarantine] == [2, 3] and all(q["reason"] for q in quarantine)
    assert event.outcome == "passed" and event.quarantined_lines == 2 and event.sources[0].valid_lines == 1


def test_an_object_outside_raw_places_layout_is_an_error_without_a_build():
    builder = FakeBuilder()

    [event] = transform(FakeStore(), builder, None, ref("raw/places/no-day-here.jsonl"))

    assert builder.calls == []
    assert event.outcome == "error" and event.error is not None and event.error.phase == "validate"


def test_failed_tests_carry_their_failing_rows_from_the_marts():
    report = passed(outcome="tests_failed", failures=[failed_test(rows=2)])
    marts = FakeMarts(samples=[{"place_id": "p1", "name": None, "collection_date": DAY}])

    [event] = transform(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(report), marts)

    assert event.outcome == "tests_failed"
    [failure] = event.failures
    assert failure.name == "not_null_restaurants_name" and failure.failing_rows == 2
    assert failure.samples == [{"place_id": "p1", "name": None, "collection_date": DAY}]


def test_failing_row_samples_are_only_the_run_s_own_days_rows():
    """A test's stored failures can hold any day's rows: an earlier day's never shows as today's, and a row that
    names no day is not shown at all."""
    report = passed(outcome="tests_failed", failures=[failed_test(rows=3)])
    earlier = {"place_id": "old", "name": None, "collection_date": "2025-12-31"}
    undated = {"place_id": "p?", "name": None}
    marts = FakeMarts(samples=[earlier, undated, {"place_id": "p1", "name": None, "snapshot_date": DAY}])

    [event] = transform(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(report), marts)

    [failure] = event.failures
    assert [sample["place_id"] for sample in failure.samples] == ["p1"]


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
def deps(
    store: FakeStore,
    builder: FakeBuilder | None = None,
    claims: FakeClaims | None = None,
    publisher=None,
    ledger: FakeLedger | None = None,
    coalescing: Coalescing | None = None,
):
    ledger = ledger or FakeLedger()
    return TransformerDeps(
        store=store,
        builder=builder or FakeBuilder(),
        marts=FakeMarts(),
        claims=claims or FakeClaims(),
        publisher=publisher or FakePublisher(),
        ledger=ledger,
        runs=ledger,
        coalescing=coalescing or Coalescing(),
        clock=lambda: NOW,
    )


def test_a_batch_claims_builds_publishes_completes_and_records():
    wired = deps(FakeStore({KEY: lines(place("p1"))}))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": []} and result.error is None
    [event] = wired.publisher.events
    assert event.outcome == "passed"
    assert list(wired.claims.completed.values()) == [{"run_id": "run-1", "outcome": "passed"}]
    assert wired.ledger.steps == [("run-1", "TRANSFORMED", KEY)]


def test_an_outcome_the_ledger_did_not_take_is_not_announced_and_the_batch_is_retried():
    """The notifier refuses an outcome the ledger does not vouch for: announced anyway, a real failure would reach no
    one (only `audit`)."""

    class DownLedger(FakeLedger):
        def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().record(*args, **kwargs)
            return False  # what RunLedger answers when DynamoDB refuses the write

    wired = deps(FakeStore({KEY: lines(place("p1"))}), ledger=DownLedger())

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert wired.publisher.events == []
    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]} and not result.final
    assert "run ledger did not take" in str(result.error)
    assert wired.claims.released == [f"{BUCKET}/{KEY}#v1"]  # built again on the retry


def test_each_object_s_run_is_in_the_ledger_before_its_outcome_is_announced():
    """The notifier mails only events whose run the ledger knows: a dropped file's run is known by this step."""
    dropped = f"raw/places/dt={DAY}/my-file.jsonl"
    wired = deps(FakeStore({dropped: lines(place("p1"))}))
    seen_at_publish: list[tuple[str, str, str]] = []

    class RecordingPublisher(FakePublisher):
        def publish(self, events):  # type: ignore[no-untyped-def]
            seen_at_publish.extend(wired.ledger.steps)
            super().publish(events)

    wired.publisher = RecordingPublisher()
    process_batch(sqs_batch(s3_event(dropped)), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert event.run_id.startswith("drop-")
    assert seen_at_publish == [(event.run_id, "TRANSFORMED", dropped)]


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


def test_a_malformed_message_fails_alone_and_the_events_around_it_are_handled():
    tags = {**s3_event(KEY), "detail-type": "Object Tags Added"}
    wired = deps(FakeStore({KEY: lines(place("p1"))}))

    result = process_batch(sqs_batch(tags, "{not json", s3_event(KEY), tags), wired, remaining_ms=lambda: 60_000)

    # not the FIFO short-circuit: a record that can never succeed must not take the ones after it to the DLQ
    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert result.ignored == 2 and len(wired.publisher.events) == 1


def test_an_object_another_invocation_holds_is_retried_later():
    wired = deps(FakeStore({KEY: lines(place("p1"))}), claims=FakeClaims(busy=[f"{BUCKET}/{KEY}#v1"]))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert wired.publisher.events == []


# -- the last attempt speaks (issue: every failure reaches an email) ----------------------------------------------


def test_an_infrastructure_failure_on_the_last_receive_is_published_as_an_error_before_the_dlq():
    other = f"raw/places/dt={DAY}/run-2__lyon.jsonl"
    store = FakeStore({KEY: lines(place("p1")), other: lines(place("p2", city="Lyon", run_id="run-2"))})
    wired = deps(store, FakeBuilder(error=infrastructure("S3 unreachable: EndpointConnectionError")))

    result = process_batch(sqs_batch(s3_event(KEY), s3_event(other), receives=3), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    events = sorted(wired.publisher.events, key=lambda e: e.run_id)
    assert [(e.run_id, e.outcome, e.dead_lettered, e.attempts) for e in events] == [
        ("run-1", "error", True, 3),
        ("run-2", "error", True, 3),
    ]
    assert events[0].cities == ["Paris"] and [s.key for s in events[0].sources] == [KEY]
    assert "after 3 attempts: S3 unreachable" in events[0].error.message
    assert "dead-letter queue" in events[0].error.message
    assert ("run-1", "TRANSFORM_FAILED", KEY) in wired.ledger.steps


def test_an_earlier_receive_publishes_nothing_the_retry_may_still_succeed():
    wired = deps(FakeStore({KEY: lines(place("p1"))}), FakeBuilder(error=infrastructure()))

    result = process_batch(sqs_batch(s3_event(KEY), receives=2), wired, remaining_ms=lambda: 60_000)

    assert result.error is not None and wired.publisher.events == [] and result.dead_lettered == []


def test_a_failure_before_any_object_was_read_names_the_run_from_the_key():
    class Unreachable(FakeStore):
        def get(self, key, version_id, max_bytes):
            raise infrastructure("cannot read s3://bucket/key: EndpointConnectionError")

    ledger = FakeLedger({"run-1": RunFacts(requested=True, cities=("Paris", "Lyon"))})
    wired = deps(Unreachable(), ledger=ledger)

    process_batch(sqs_batch(s3_event(KEY), receives=3), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert (event.run_id, event.run_cities, event.cities) == ("run-1", ["Paris", "Lyon"], ["Paris"])


def test_when_the_bus_itself_is_down_the_last_attempt_still_fails_cleanly_for_the_dlq():
    wired = deps(FakeStore({KEY: lines(place("p1"))}), publisher=FakePublisher(error=infrastructure("bus down")))

    result = process_batch(sqs_batch(s3_event(KEY), receives=3), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]} and result.dead_lettered == []


# -- coalesced builds -----------------------------------------------------------------------------------------------


def _waiting(store: FakeStore, count: int, size: int = 5, day: str = DAY) -> list[str]:
    keys = []
    for index in range(count):
        key = f"raw/places/dt={day}/drop-{index:03d}.jsonl"
        store.objects[key] = lines(place(f"w{index}"))
        store.versions.append(StoredVersion(key, "v1", "e" * 32, size, datetime(2026, 1, 1, 8, 30, tzinfo=UTC)))
        keys.append(key)
    return keys


def test_one_invocation_builds_every_object_waiting_under_its_days_in_one_build():
    store = FakeStore({KEY: lines(place("p1"))})
    waiting = _waiting(store, 25)
    builder = FakeBuilder()
    wired = deps(store, builder)

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.coalesced == 25 and len(builder.calls) == 1
    [(days, objects)] = builder.calls
    assert days == [DAY] and len(objects) == 26
    assert {s.key for e in wired.publisher.events for s in e.sources} == {KEY, *waiting}
    # the waiting objects' own events, when they come, are duplicates: no second build
    later = process_batch(sqs_batch(*(s3_event(key) for key in waiting[:10])), wired, remaining_ms=lambda: 60_000)
    assert later.duplicates == 10 and len(builder.calls) == 1


def test_coalescing_stops_at_the_object_and_byte_caps():
    store = FakeStore({KEY: lines(place("p1"))})
    _waiting(store, 30, size=100)
    by_count = deps(store, coalescing=Coalescing(max_objects=11))
    assert process_batch(sqs_batch(s3_event(KEY)), by_count, remaining_ms=lambda: 60_000).coalesced == 10

    store = FakeStore({KEY: lines(place("p1"))})
    _waiting(store, 30, size=100)
    by_bytes = deps(store, coalescing=Coalescing(max_bytes=5 + 100 * 7))
    assert process_batch(sqs_batch(s3_event(KEY)), by_bytes, remaining_ms=lambda: 60_000).coalesced == 7


def test_coalescing_stops_when_the_builds_object_list_would_not_fit_in_one_athena_statement():
    """Long keys: the SQL list of the build's objects (domain/limits.py) binds before the object cap does."""
    store = FakeStore({KEY: lines(place("p1"))})
    waiting = _waiting(store, 30)
    per_object = listed_bytes(BUCKET, waiting[0], "v1")
    room = listed_bytes(BUCKET, KEY, "v1") + 12 * per_object + per_object // 2  # the batch's own object, then 12.5 more
    wired = deps(store, coalescing=Coalescing(max_list_bytes=room))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.coalesced == 12
    [(_, objects)] = wired.builder.calls
    assert sum(len(object_literal(BUCKET, key)) + 2 for key in objects) <= room
    # the default leaves the rest of Athena's 262,144 bytes to the statement around the list
    assert Coalescing().max_list_bytes == ATHENA_QUERY_MAX_BYTES - STATEMENT_ROOM_BYTES


def test_an_event_naming_the_url_encoded_key_claims_builds_and_reports_the_object_under_its_real_key():
    real = f"raw/places/dt={DAY}/café au lait+1=2.jsonl"
    store = FakeStore({real: lines(place("p1"))})
    wired = deps(store)
    encoded = quote_plus(real, safe="/")
    assert encoded != real

    result = process_batch(sqs_batch(s3_event(encoded)), wired, remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": []}
    [event] = wired.publisher.events
    assert [s.key for s in event.sources] == [real] and event.outcome == "passed"
    assert wired.claims.completed and all(real in key for key in wired.claims.completed)
    assert store.located == [encoded]
    # a key no encoding changes costs no request
    plain = FakeStore({KEY: lines(place("p1"))})
    process_batch(sqs_batch(s3_event(KEY)), deps(plain), remaining_ms=lambda: 60_000)
    assert plain.located == [] and len(plain.written) == 1


def test_coalescing_leaves_versions_claimed_elsewhere_older_than_the_window_and_other_days():
    store = FakeStore({KEY: lines(place("p1"))})
    [done, busy, fresh] = _waiting(store, 3)
    _waiting(store, 2, day="2026-01-02")
    store.versions.append(
        StoredVersion(f"raw/places/dt={DAY}/old.jsonl", "v1", "e", 5, datetime(2025, 12, 1, tzinfo=UTC))
    )
    claims = FakeClaims(done=[f"{BUCKET}/{done}#v1"], busy=[f"{BUCKET}/{busy}#v1"])
    wired = deps(store, claims=claims)

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.coalesced == 1
    assert {s.key for e in wired.publisher.events for s in e.sources} == {KEY, fresh}


def test_an_infrastructure_failure_releases_the_coalesced_claims_too():
    store = FakeStore({KEY: lines(place("p1"))})
    [waiting] = _waiting(store, 1)
    wired = deps(store, FakeBuilder(error=infrastructure()))

    process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert sorted(wired.claims.released) == sorted([f"{BUCKET}/{KEY}#v1", f"{BUCKET}/{waiting}#v1"])


def test_a_batch_of_objects_built_ahead_builds_what_still_waits_under_their_days():
    store = FakeStore({KEY: lines(place("p1"))})
    [waiting] = _waiting(store, 1)
    wired = deps(store, claims=FakeClaims(done=[f"{BUCKET}/{KEY}#v1"]))

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert (result.duplicates, result.coalesced, result.response) == (1, 1, {"batchItemFailures": []})
    assert {s.key for e in wired.publisher.events for s in e.sources} == {waiting}


def test_a_claim_table_failure_while_coalescing_builds_the_batch_alone_and_frees_what_it_claimed():
    store = FakeStore({KEY: lines(place("p1"))})
    [first, broken, third] = _waiting(store, 3)

    class Flaky(FakeClaims):
        def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim:
            if idempotency_key == f"{BUCKET}/{broken}#v1":
                raise ConnectionError("DynamoDB unreachable")
            return super().claim(idempotency_key, remaining_ms)

    wired = deps(store, claims=Flaky())

    result = process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    assert result.error is None and result.coalesced == 0
    assert {s.key for e in wired.publisher.events for s in e.sources} == {KEY}
    assert sorted(wired.claims.released) == sorted([f"{BUCKET}/{first}#v1", f"{BUCKET}/{third}#v1"])
    assert not {f"{BUCKET}/{first}#v1", f"{BUCKET}/{third}#v1"} & wired.claims.busy  # free for their own messages


# -- one bad object never fails the good ones -------------------------------------------------------------------------


def test_an_object_over_the_size_limit_is_refused_alone_and_the_others_are_built():
    big = f"raw/places/dt={DAY}/big.jsonl"
    store = FakeStore({KEY: lines(place("p1")), big: b"x" * (300 * 1024 * 1024)})
    wired = deps(store)

    result = process_batch(sqs_batch(s3_event(KEY), s3_event(big)), wired, remaining_ms=lambda: 60_000)

    assert result.error is None
    outcomes = {e.sources[0].key: e for e in wired.publisher.events}
    assert outcomes[KEY].outcome == "passed"
    assert outcomes[big].outcome == "error" and "holds 314572800 bytes" in (outcomes[big].sources[0].problem or "")


def test_a_bug_meeting_one_object_costs_that_object_only(monkeypatch):
    from services.transformer.domain import transform

    real = transform.read_object

    def explode_on_bad(ref, name, body, identity, limits, city=None):
        if name.startswith("bad"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(ref, name, body, identity, limits, city)

    monkeypatch.setattr(transform, "read_object", explode_on_bad)
    bad = f"raw/places/dt={DAY}/bad.jsonl"
    store = FakeStore({KEY: lines(place("p1")), bad: lines(place("p2"))})
    wired = deps(store)

    result = process_batch(sqs_batch(s3_event(KEY), s3_event(bad)), wired, remaining_ms=lambda: 60_000)

    assert result.error is None
    outcomes = {e.sources[0].key: e for e in wired.publisher.events}
    assert outcomes[KEY].outcome == "passed" and outcomes[bad].outcome == "error"
    assert "RecursionError" in (outcomes[bad].sources[0].problem or "")
    assert f"quarantine/raw/places/dt={DAY}/bad.jsonl~vv1.rejected.jsonl" in store.written


# -- run identity: a file cannot claim a run ---------------------------------------------------------------------------


def test_a_collector_style_file_of_a_run_never_requested_is_a_dropped_file():
    wired = deps(FakeStore({KEY: lines(place("p1"))}), ledger=FakeLedger({}))

    process_batch(sqs_batch(s3_event(KEY)), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert event.run_id.startswith("drop-") and event.run_cities == []
    assert "run-1 was never requested" in (event.sources[0].identity_note or "")


def test_a_run_already_emailed_cannot_be_reopened_by_another_file_at_its_key():
    facts = RunFacts(requested=True, cities=("Paris",), collected={KEY: "f" * 32}, notified=True)
    wired = deps(FakeStore({KEY: lines(place("p1"))}), ledger=FakeLedger({"run-1": facts}))

    process_batch(sqs_batch(s3_event(KEY, etag="0" * 32)), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert event.run_id.startswith("drop-") and "already emailed" in (event.sources[0].identity_note or "")


def test_the_object_the_collection_wrote_keeps_its_run_when_replayed_after_the_email():
    facts = RunFacts(requested=True, cities=("Paris", "Lyon"), collected={KEY: "e" * 32}, notified=True)
    wired = deps(FakeStore({KEY: lines(place("p1"))}), ledger=FakeLedger({"run-1": facts}))

    process_batch(sqs_batch(s3_event(KEY, etag="e" * 32)), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert (event.run_id, event.run_cities) == ("run-1", ["Paris", "Lyon"]) and event.sources[0].identity_note is None


def test_a_dropped_file_claiming_a_real_run_in_its_lines_gets_a_run_of_its_own():
    facts = RunFacts(requested=True, cities=("Paris",))
    dropped = f"raw/places/dt={DAY}/my-fix.jsonl"
    wired = deps(FakeStore({dropped: lines(place("p1", run_id="run-1"))}), ledger=FakeLedger({"run-1": facts}))

    process_batch(sqs_batch(s3_event(dropped)), wired, remaining_ms=lambda: 60_000)

    [event] = wired.publisher.events
    assert event.run_id.startswith("drop-") and event.run_cities == [] and event.cities == ["Paris"]


def test_an_unreachable_claims_table_on_the_last_receive_is_announced_too():
    class Unreachable(FakeClaims):
        def claim(self, idempotency_key, remaining_ms):
            raise infrastructure("cannot reach the idempotency table: EndpointConnectionError")

    wired = deps(FakeStore({KEY: lines(place("p1"))}), claims=Unreachable())

    early = process_batch(sqs_batch(s3_event(KEY), receives=1), wired, remaining_ms=lambda: 60_000)
    last = process_batch(sqs_batch(s3_event(KEY), receives=3), wired, remaining_ms=lambda: 60_000)

    assert early.response == last.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert early.dead_lettered == []
    [event] = wired.publisher.events
    assert event.dead_lettered and "idempotency table" in event.error.message and event.run_id == "run-1"
