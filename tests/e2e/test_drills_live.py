"""Fault drills on one running local stack: each drill breaks something on purpose and asserts, in numbers, that
nothing was lost, nothing was done twice, and a person was told.

The stack runs the collector with a real-looking API key (AIza + 35 characters) against a Places stub of our
own that accepts only that key, so the last drill can prove the key never leaked. Timeouts are short so that
timeouts and kills are quick to observe: collector 10 s, transformer 20 s.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.events import CollectionRequested
from restaurant_pipeline.local import control
from restaurant_pipeline.places_stub import StubServer
from restaurant_pipeline.places_stub.settings import StubSettings
from tests.e2e.conftest import RunningStack
from tests.e2e.drills import (
    EventCapture,
    PlacesControl,
    cli,
    depth,
    dlq_depths,
    emails,
    ledger_steps,
    marts_fingerprint,
    metric_blobs,
    place_line,
    start_drill_stack,
    state_folder,
    wait_until,
)
from tests.e2e.reliability_report import record
from tests.unit.notifier.builders import eventbridge_body, transform

pytestmark = pytest.mark.e2e

API_KEY = "AIza" + "Dr1llKeyN0tReal_0123456789abcdefghij"[:35]
THIS = "tests/e2e/test_drills_live.py"
COLLECTOR_TIMEOUT = 10
TRANSFORMER_TIMEOUT = 20


@pytest.fixture(scope="module")
def places() -> Iterator[StubServer]:
    with StubServer(StubSettings(api_key=API_KEY, places_per_city=200)) as stub:
        yield stub


@pytest.fixture(scope="module")
def stack(places: StubServer) -> Iterator[RunningStack]:
    with state_folder("drills") as state_dir:
        yield from _running(state_dir, places)


def _running(state_dir: Path, places: StubServer) -> Iterator[RunningStack]:
    running = start_drill_stack(
        state_dir,
        {
            "PIPELINE__TIMEOUTS__COLLECTOR": str(COLLECTOR_TIMEOUT),
            "PIPELINE__TIMEOUTS__TRANSFORMER": str(TRANSFORMER_TIMEOUT),
        },
        places=(places.url, API_KEY),
    )
    try:
        yield running
    finally:
        control.down(state_dir)


@pytest.fixture(scope="module")
def capture(stack: RunningStack) -> EventCapture:
    return EventCapture(stack)


@pytest.fixture
def api(places: StubServer) -> Iterator[PlacesControl]:
    control_ = PlacesControl(places.url)
    control_.reset()
    yield control_
    control_.settings(faults=[], invalid_key=False, latency_ms=0)
    control_.reset()


def request_run(stack: RunningStack, cities: list[str], max_restaurants: int = 20, run_id: str | None = None) -> str:
    run_id = run_id or f"drill-{uuid.uuid4().hex[:10]}"
    request = CollectionRequested(
        cities=cities, max_restaurants=max_restaurants, trigger_source="manual", run_id=run_id
    )
    entry = request.to_entry(stack.info.event_bus, source="restaurant-pipeline.cli")
    assert stack.target.clients.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    return run_id


def raw_keys(stack: RunningStack, containing: str) -> list[str]:
    s3 = stack.target.clients.s3
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.info.bucket, Prefix="raw/places/"):
        keys += [item["Key"] for item in page.get("Contents", []) if containing in item["Key"]]
    return keys


def notified(stack: RunningStack, run_id: str) -> list[dict]:
    return [s for s in stack.target.ledger.steps(run_id) if s["step"] == "NOTIFIED"]


def drop_file(stack: RunningStack, key: str, lines: list[str]) -> None:
    body = ("\n".join(lines) + "\n").encode()
    stack.target.clients.s3.put_object(Bucket=stack.info.bucket, Key=key, Body=body)


def transformed(stack: RunningStack, key: str) -> list[dict]:
    return ledger_steps(stack, "TRANSFORMED", key)


# -- a normal run -----------------------------------------------------------------------------------------------
def test_a_normal_run_sends_one_email_and_leaves_the_audit_clean(stack, capture, api):
    started = time.monotonic()
    result = cli(stack, "run", "--city", "Paris", "--max-restaurants", "20", "--wait", "--timeout", "180")
    run_id = result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]
    elapsed = time.monotonic() - started

    assert len(raw_keys(stack, run_id)) == 1
    assert len(wait_until(lambda: emails(stack, run_id), timeout=30)) == 1
    audit = cli(stack, "audit", "--json", check=False)
    report = json.loads(audit.stdout)
    assert audit.returncode == 0 and report["clean"], report
    record(
        "normal-run",
        "A scheduled or manual run (1 city, 20 places)",
        "Collected, transformed, one email; `audit` clean",
        f"1 raw object, 1 email, audit clean (exit 0) after {elapsed:.1f} s end to end",
        THIS,
        order=10,
        seconds=round(elapsed, 1),
    )


# -- a poison message --------------------------------------------------------------------------------------------
def test_a_poison_message_in_a_batch_of_ten_fails_alone_then_lands_in_the_dlq(stack, capture):
    queue = stack.info.queues["notifier"]
    sqs = stack.target.clients.sqs
    max_receives = 3
    blobs_before = len(metric_blobs(stack, "notifier"))
    run_ids = [f"drill-poison-{uuid.uuid4().hex[:8]}-{i}" for i in range(9)]
    bodies = [eventbridge_body(transform("passed", city="Paris", run_id=r, run_cities=[])) for r in run_ids]
    poison = json.loads(bodies[0])
    poison["detail"]["outcome"] = "exploded"
    poison["detail"]["run_id"] = "drill-poison-message"
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate([*bodies, json.dumps(poison)])]

    assert len(sqs.send_message_batch(QueueUrl=queue.url, Entries=entries).get("Successful", [])) == 10

    wait_until(lambda: depth(stack, queue.dlq_url) == 1, timeout=60, what="the poison message in the notifier DLQ")
    wait_until(lambda: depth(stack, queue.url) == 0, timeout=30, what="the notifier queue drained")
    blobs = metric_blobs(stack, "notifier")[blobs_before:]
    first = next(b for b in blobs if b.get("MalformedMessages"))
    malformed_invocations = [b for b in blobs if b.get("MalformedMessages")]
    sent_per_run = {run_id: len(emails(stack, run_id)) for run_id in run_ids}
    [dead] = sqs.receive_message(QueueUrl=queue.dlq_url, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]

    assert (first.get("MalformedMessages"), first.get("EmailsSent")) == (1, 9)  # one batch item failure
    assert len(malformed_invocations) == max_receives  # received exactly max_receive_count times
    assert sent_per_run == dict.fromkeys(run_ids, 1)  # the nine others: processed once, one email each
    assert json.loads(dead["Body"])["detail"]["outcome"] == "exploded"
    audit = cli(stack, "audit", "--json", check=False)
    report = json.loads(audit.stdout)
    [finding] = report["findings"]["messages in dead-letter queues"]
    assert audit.returncode == 1 and finding.startswith("notifier: 1 message(s)")
    assert "dlq replay notifier" in finding
    record(
        "poison",
        "A poison message in a batch of ten (notifier)",
        "Only the poison fails; the nine others are processed once; the poison goes to the DLQ after "
        "max_receive_count receives; the queue drains; `audit` names it",
        f"first invocation: {first.get('MalformedMessages')} batch item failure, {first.get('EmailsSent')} "
        f"emails; poison received {len(malformed_invocations)} times (max_receive_count {max_receives}), "
        f"then 1 message in the DLQ, source queue 0; 9/9 runs mailed exactly once; audit exit 1: {finding}",
        THIS,
        order=20,
    )
    sqs.purge_queue(QueueUrl=queue.dlq_url)
    wait_until(lambda: depth(stack, queue.dlq_url) == 0, timeout=30)


# -- duplicates ----------------------------------------------------------------------------------------------------
def test_the_same_s3_event_delivered_twice_builds_once_and_mails_once(stack, capture):
    key = f"raw/places/dt=2026-01-02/twice-{uuid.uuid4().hex[:6]}.jsonl"
    ids = [f"ChIJ-twice-{i}" for i in range(5)]
    drop_file(stack, key, [place_line(place_id, f"Twice {place_id}") for place_id in ids])
    [step] = wait_until(lambda: transformed(stack, key), timeout=120, what="the first transform")
    [delivered] = wait_until(lambda: capture.s3_created(key), timeout=30)
    run_id = wait_until(
        lambda: [
            e["detail"]["run_id"]
            for e in capture.of("Transform Completed")
            if any(s["key"] == key for s in e["detail"]["sources"])
        ],
        timeout=30,
    )[0]
    wait_until(lambda: emails(stack, run_id), timeout=30)
    before = marts_fingerprint(stack, ids)
    duplicates_before = sum(b.get("DuplicateObjectEvents") or 0 for b in metric_blobs(stack, "transformer"))
    queue = stack.info.queues["transformer"]

    for attempt in range(2):  # the very S3 event, delivered again twice (at-least-once delivery)
        stack.target.clients.sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=json.dumps(delivered),
            MessageGroupId="dbt",
            MessageDeduplicationId=f"redelivery-{uuid.uuid4().hex}-{attempt}",
        )
    wait_until(
        lambda: (
            sum(b.get("DuplicateObjectEvents") or 0 for b in metric_blobs(stack, "transformer"))
            >= duplicates_before + 2
        ),
        timeout=60,
        what="both redeliveries seen by the transformer",
    )
    wait_until(lambda: depth(stack, queue.url) == 0, timeout=30)
    time.sleep(2)  # noqa: not a condition: give a (wrong) second email the notifier's batching window to appear
    completed = [e for e in capture.of("Transform Completed") if any(s["key"] == key for s in e["detail"]["sources"])]
    after = marts_fingerprint(stack, ids)

    assert step["data"]["outcome"] == "passed"
    assert len(completed) == 1  # one dbt run over this object, one "Transform Completed"
    assert len(emails(stack, run_id)) == 1
    assert after == before
    assert dlq_depths(stack) == {"collector": 0, "transformer": 0, "notifier": 0}
    record(
        "s3-twice",
        "The same S3 event delivered twice more",
        'One dbt run, one "Transform Completed", one email; marts unchanged',
        f"3 deliveries -> {len(completed)} Transform Completed, 2 skipped as duplicates, "
        f"{len(emails(stack, run_id))} email, marts digest unchanged ({after['restaurants']} rows:digest)",
        THIS,
        order=30,
    )


def test_the_collector_invoked_twice_for_one_run_and_city_writes_one_object(stack, capture, api):
    run_id = f"drill-twice-{uuid.uuid4().hex[:8]}"
    request_run(stack, ["Lyon"], 10, run_id)
    request_run(stack, ["Lyon"], 10, run_id)

    completed = wait_until(
        lambda: len(found := capture.of("Collection Completed", lambda d: d["run_id"] == run_id)) == 2 and found,
        timeout=90,
        what="two Collection Completed",
    )
    [key] = raw_keys(stack, run_id)
    wait_until(lambda: notified(stack, run_id), timeout=120, what="the run's email")
    time.sleep(2)  # noqa: a late duplicate S3 event or email would show up within the transformer/notifier batches
    created = capture.s3_created(key)

    assert sorted(e["detail"]["already_collected"] for e in completed) == [False, True]
    assert len(created) == 1
    assert len(emails(stack, run_id)) == 1
    assert api.stats()["search_requests"] == 1  # the second invocation saw the object and asked Google nothing
    record(
        "collector-twice",
        "The collector invoked twice for the same run and city",
        "One object, one S3 event",
        f"2 invocations -> {len(raw_keys(stack, run_id))} object, {len(created)} S3 event, "
        f"{api.stats()['search_requests']} Places request (the second saw the object), 1 email",
        THIS,
        order=31,
    )
