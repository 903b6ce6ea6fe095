"""Fault drills on one running local stack: each drill breaks something on purpose and asserts, in numbers, that
nothing was lost, nothing was done twice, and a person was told.

The stack runs the collector with a real-looking API key (AIza + 35 characters) against a Places stub of our
own that accepts only that key, so the last drill can prove the key never leaked. Timeouts are short so that
timeouts and kills are quick to observe: collector 10 s, transformer 20 s.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.events import CollectionRequested
from restaurant_pipeline.local import control
from restaurant_pipeline.local.outbox import read_outbox
from restaurant_pipeline.local.places_stub import StubServer
from restaurant_pipeline.local.places_stub.settings import StubSettings
from restaurant_pipeline.model.alarms import alarm_name
from tests.e2e.drills import (
    EventCapture,
    PlacesControl,
    alarm_emails,
    alarm_status,
    cli,
    completed_for,
    delivered_emails,
    depth,
    dlq_depths,
    drop_file,
    emails,
    ledger_steps,
    log_records,
    logged_at,
    marts_fingerprint,
    metric_blobs,
    place_line,
    query,
    restore_the_topic,
    seconds_until,
    wait_until,
)
from tests.e2e.reliability_report import record
from tests.support.local_stack import RunningStack, start_stack, state_folder
from tests.unit.notifier.builders import eventbridge_body, transform

pytestmark = pytest.mark.e2e

API_KEY = "AIza" + "Dr1llKeyN0tReal_0123456789abcdefghij"[:35]  # shaped like a Google key: 39 characters
BURST = int(os.environ.get("RELIABILITY_BURST", "60"))
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
    running = start_stack(
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


def transformed(stack: RunningStack, key: str) -> list[dict]:
    return ledger_steps(stack, "TRANSFORMED", key)


# -- a normal run ------------------------------------------------------------------------------------------------------
def test_a_normal_run_sends_one_email_and_leaves_the_audit_clean(stack, capture, api):
    started = time.monotonic()
    result = cli(stack, "run", "--city", "Paris", "--max-restaurants", "20", "--wait", "--timeout", "180")
    run_id = result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]
    elapsed = time.monotonic() - started

    assert len(raw_keys(stack, run_id)) == 1
    assert len(delivered_emails(stack, run_id)) == 1
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


# -- a poison message --------------------------------------------------------------------------------------------------
def test_a_poison_message_in_a_batch_of_ten_fails_alone_then_lands_in_the_dlq(stack, capture):
    queue = stack.info.queues["notifier"]
    sqs = stack.target.clients.sqs
    max_receives = 3
    blobs_before = len(metric_blobs(stack, "notifier"))
    run_ids = [f"drill-poison-{uuid.uuid4().hex[:8]}-{i}" for i in range(9)]
    bodies = [eventbridge_body(transform("passed", city="Paris", run_id=r, run_cities=[])) for r in run_ids]
    for run_id, body in zip(run_ids, bodies, strict=True):  # the steps the notifier checks an outcome against
        stack.target.ledger.record(run_id, "REQUESTED", "-", "collector", {"trigger": "manual", "cities": ["Paris"]})
        for source in json.loads(body)["detail"]["sources"]:
            version = source.get("version_id") or source.get("etag")
            stack.target.ledger.record(
                run_id, "TRANSFORMED", source["key"], "transformer", {"outcome": "passed"}, version=version
            )
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
    sent_per_run = {run_id: len(delivered_emails(stack, run_id)) for run_id in run_ids}
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
        f"first invocation: {int(first['MalformedMessages'])} batch item failure, {int(first['EmailsSent'])} "
        f"emails; poison received {len(malformed_invocations)} times (max_receive_count {max_receives}), "
        f"then 1 message in the DLQ, source queue 0; 9/9 runs mailed exactly once; audit exit 1: "
        f'"{finding.split(" in ")[0]}" with the replay command',
        THIS,
        order=20,
    )
    sqs.purge_queue(QueueUrl=queue.dlq_url)
    wait_until(lambda: depth(stack, queue.dlq_url) == 0, timeout=30)


# -- duplicates --------------------------------------------------------------------------------------------------------
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
    # both redeliveries are through the transformer (its metrics say so): a second Transform Completed, and so
    # a second email, could only have been published by those invocations
    completed = [e for e in capture.of("Transform Completed") if any(s["key"] == key for s in e["detail"]["sources"])]
    after = marts_fingerprint(stack, ids)

    assert step["data"]["outcome"] == "passed"
    assert len(completed) == 1  # one dbt run over this object, one "Transform Completed"
    assert len(delivered_emails(stack, run_id)) == 1
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
    # S3 emits its event within put_object, before the collector publishes Collection Completed: all are in
    created = capture.s3_created(key)

    assert sorted(e["detail"]["already_collected"] for e in completed) == [False, True]
    assert len(created) == 1
    assert len(delivered_emails(stack, run_id)) == 1
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


# -- the Places API misbehaving ----------------------------------------------------------------------------------------
def collector_attempts(stack: RunningStack, run_id: str) -> list[dict]:
    return [
        r
        for r in log_records(stack, "collector")
        if r.get("message") == "collection requested" and r.get("correlation_id") == run_id
    ]


def raw_lines(stack: RunningStack, key: str) -> int:
    body = stack.target.clients.s3.get_object(Bucket=stack.info.bucket, Key=key)["Body"].read()
    return len(gzip.decompress(body).splitlines() if key.endswith(".gz") else body.splitlines())


def test_429_per_minute_and_5xx_are_retried_within_the_invocation(stack, capture, api):
    api.settings(faults=[{"kind": "quota_minute", "times": 1}, {"kind": "unavailable", "after": 1, "times": 2}])

    run_id = request_run(stack, ["Nice"], 20)
    wait_until(lambda: notified(stack, run_id), timeout=120, what="the run's email")
    [completed] = [e["detail"] for e in capture.of("Collection Completed", lambda d: d["run_id"] == run_id)]
    stats = api.stats()

    assert stats["statuses"] == {"200": 1, "429": 1, "503": 2}
    assert (completed["retries"], completed["throttled"], completed["places"]) == (3, 1, 20)
    assert completed["duration_ms"] < COLLECTOR_TIMEOUT * 1000
    assert len(collector_attempts(stack, run_id)) == 1  # no SQS redelivery needed
    [key] = raw_keys(stack, run_id)
    assert raw_lines(stack, key) == 20
    assert notified(stack, run_id)[0]["subject"] == "passed"
    record(
        "places-transient",
        "Places API answers 429 per minute, then 503 twice",
        "Bounded retries with backoff inside the function timeout; one complete object; one email",
        f"{stats['search_requests']} requests (1x429, 2x503, 1x200), {completed['retries']} retries in "
        f"{completed['duration_ms'] / 1000:.1f} s (timeout {COLLECTOR_TIMEOUT} s), 1 invocation, 1 object of 20 "
        "places, 1 email (passed)",
        THIS,
        order=40,
    )


def test_5xx_beyond_the_retry_budget_fails_the_invocation_and_the_redelivery_writes_one_object(stack, capture, api):
    api.settings(faults=[{"kind": "unavailable", "times": 5}])

    run_id = request_run(stack, ["Lille"], 20)
    wait_until(lambda: notified(stack, run_id), timeout=120, what="the run's email")
    attempts = collector_attempts(stack, run_id)
    stats = api.stats()

    assert [a["attempt"] for a in attempts] == [1, 2]
    assert 1 <= stats["statuses"].get("503", 0) <= 5 and stats["statuses"]["200"] == 1
    [key] = raw_keys(stack, run_id)  # nothing partial from the failed attempt, one object from the retry
    assert raw_lines(stack, key) == 20
    assert capture.of("Collection Failed", lambda d: d["run_id"] == run_id) == []  # not final: nobody mailed
    assert len(delivered_emails(stack, run_id)) == 1 and notified(stack, run_id)[0]["subject"] == "passed"
    record(
        "places-5xx-redelivery",
        "Places API answers 503 until the invocation's retry budget is spent",
        "The invocation fails without writing; SQS redelivers; the retry writes exactly one object",
        f"attempt 1: {stats['statuses'].get('503', 0)} x 503, nothing written; attempt 2 (SQS redelivery): "
        f"1 request, 1 object of {raw_lines(stack, key)} places; 0 Collection Failed; 1 email (passed)",
        THIS,
        order=41,
    )


def test_a_timing_out_places_api_ends_the_invocation_within_its_timeout(stack, capture, api):
    api.settings(latency_ms=30_000)

    run_id = request_run(stack, ["Rennes"], 20)
    wait_until(lambda: len(collector_attempts(stack, run_id)) >= 2, timeout=60, what="a second attempt")
    api.settings(latency_ms=0)
    wait_until(lambda: notified(stack, run_id), timeout=120, what="the run's email")
    attempts = collector_attempts(stack, run_id)
    first_started = attempts[0]["timestamp"]
    second_started = attempts[1]["timestamp"]
    gap = (datetime.fromisoformat(second_started) - datetime.fromisoformat(first_started)).total_seconds()

    assert gap <= COLLECTOR_TIMEOUT + 3  # the function timeout, the 1 s local retry delay, scheduling slack
    assert len(raw_keys(stack, run_id)) == 1
    assert len(delivered_emails(stack, run_id)) == 1
    record(
        "places-timeout",
        "Places API does not answer (30 s latency)",
        "The request times out inside the function timeout; SQS redelivers; one object",
        f"attempt 1 ended and attempt 2 began {gap:.1f} s after attempt 1 began (function timeout "
        f"{COLLECTOR_TIMEOUT} s); {len(attempts)} attempts, 1 object, 1 email",
        THIS,
        order=42,
        gap_seconds=round(gap, 1),
    )


CAUSE_AND_FIX = {  # what the email must say: the cause in plain words, and the fix
    "api_quota_daily": ("The daily quota of the Places API is used up", "raise the quota"),
    "api_auth": ("The Places API rejected the API key", "Check the key"),
    "api_unavailable": ("The Places API did not answer properly", "restaurant-pipeline dlq replay collector"),
}
LATENCY_TARGET_SECONDS = 60


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("fault", "category"),
    [({"faults": [{"kind": "quota_day", "times": 0}]}, "api_quota_daily"), ({"invalid_key": True}, "api_auth")],
    ids=["quota-per-day", "invalid-key"],
)
def test_a_daily_quota_or_an_invalid_key_is_not_retried_and_mailed_once(stack, capture, api, fault, category):
    api.settings(**fault)
    started = datetime.now(UTC)

    run_id = request_run(stack, ["Paris", "Lyon", "Nantes"], 20)
    wait_until(lambda: notified(stack, run_id), timeout=120, what="the run's email")
    wait_until(lambda: depth(stack, stack.info.queues["collector"].url) == 0, timeout=30)
    failed = [e["detail"] for e in capture.of("Collection Failed", lambda d: d["run_id"] == run_id)]
    stats = api.stats()
    [email] = delivered_emails(stack, run_id)
    [final_attempt] = collector_attempts(stack, run_id)  # the only one: not retried
    latency = seconds_until(logged_at(final_attempt), email)

    assert stats["search_requests"] <= 3  # at most the first page of each city: no retry storm
    assert [(f["category"], f["city"], sorted(f["cities"])) for f in failed] == [
        (category, None, ["Lyon", "Nantes", "Paris"])
    ]
    cause, fix = CAUSE_AND_FIX[category]
    assert cause in words(email.body) and fix in words(email.body)
    assert dlq_depths(stack)["collector"] == 0
    assert alarm_emails(stack, alarm_name("collector-dlq-not-empty"), since=started) == []  # nothing else mailed
    assert latency <= LATENCY_TARGET_SECONDS
    record(
        f"places-{category}",
        "Places API: " + ("quota per day exhausted (429)" if category == "api_quota_daily" else "invalid API key"),
        "No retry storm; the request is not redelivered; exactly one email, naming the cause and the fix, within "
        f"{LATENCY_TARGET_SECONDS} s of the final attempt",
        f"3 cities: {stats['search_requests']} requests in all, 1 invocation, 1 Collection Failed "
        f'({category}, 3 cities), 1 email ("{cause}" / "{fix}") {latency:.1f} s after the final attempt began, '
        "collector DLQ empty, no alarm email",
        THIS,
        order=43 if category == "api_quota_daily" else 44,
        seconds=round(latency, 1),
    )


def test_places_unavailable_on_every_receive_is_mailed_once_and_its_parked_request_raises_the_dlq_alarm(
    stack, capture, api
):
    api.settings(faults=[{"kind": "unavailable", "times": 0}])  # 503 to every request
    started = datetime.now(UTC)
    dlq = stack.info.queues["collector"].dlq_url
    dlq_alarm = alarm_name("collector-dlq-not-empty")

    run_id = request_run(stack, ["Bordeaux"], 20)
    [email] = wait_until(lambda: delivered_emails(stack, run_id), timeout=180, what="the run's email")
    wait_until(lambda: depth(stack, dlq) == 1, timeout=60, what="the request parked in the collector DLQ")
    [alarm] = wait_until(lambda: alarm_emails(stack, dlq_alarm, since=started), timeout=60, what="the DLQ alarm")
    attempts = collector_attempts(stack, run_id)
    final_attempt = logged_at(attempts[-1])
    failed = [e["detail"] for e in capture.of("Collection Failed", lambda d: d["run_id"] == run_id)]

    assert [a["attempt"] for a in attempts] == [1, 2, 3]  # max_receive_count
    assert [(f["category"], f["attempt"]) for f in failed] == [("api_unavailable", 3)]  # said once, at the end
    cause, fix = CAUSE_AND_FIX["api_unavailable"]
    assert cause in words(email.body) and fix in words(email.body)
    assert "dlq replay collector" in words(alarm.body) and "Places API unavailable" in words(alarm.body)
    email_latency, alarm_latency = seconds_until(final_attempt, email), seconds_until(final_attempt, alarm)
    assert email_latency <= LATENCY_TARGET_SECONDS and alarm_latency <= LATENCY_TARGET_SECONDS

    api.settings(faults=[])
    stack.target.clients.sqs.purge_queue(QueueUrl=dlq)  # the operator's choice here: the run is mailed already
    [ok] = wait_until(lambda: alarm_emails(stack, dlq_alarm, "OK", since=started), timeout=60, what="the OK email")
    assert len(delivered_emails(stack, run_id)) == 1 and len(alarm_emails(stack, dlq_alarm, since=started)) == 1
    record(
        "places-api_unavailable",
        "Places API unavailable (503) on every attempt",
        "Retried max_receive_count times; exactly one run email naming the cause and the fix, and the parked "
        f"request raises the collector DLQ alarm, each within {LATENCY_TARGET_SECONDS} s of the final attempt; "
        "the alarm clears once the DLQ is empty",
        f'3 attempts, 1 Collection Failed (api_unavailable, attempt 3), 1 run email ("{cause}", replay command) '
        f"{email_latency:.1f} s after the final attempt began, 1 ALARM email ({dlq_alarm}) {alarm_latency:.1f} s "
        f"after it, 1 OK email {seconds_until(final_attempt, ok):.1f} s after it once the DLQ was emptied",
        THIS,
        order=45,
        seconds=round(email_latency, 1),
        alarm_seconds=round(alarm_latency, 1),
    )


# -- a worker killed ---------------------------------------------------------------------------------------------------
def test_the_transformer_killed_mid_batch_gets_its_message_back_and_rebuilds_identical_marts(stack, capture):
    status = json.loads(cli(stack, "local", "status", "--json").stdout)
    pid = status["processes"]["transformer"]["pid"]
    held = Path(stack.info.logs_dir) / "transformer.inflight.json"
    key = f"raw/places/dt=2026-01-03/killed-{uuid.uuid4().hex[:6]}.jsonl"
    ids = [f"ChIJ-killed-{i:05d}" for i in range(3000)]
    drop_file(
        stack, key, [place_line(place_id, f"Killed {place_id}", 3.0 + i % 20 / 10) for i, place_id in enumerate(ids)]
    )

    wait_until(held.exists, timeout=60, interval=0.005, what="the transformer holding the object's message")
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    [step] = wait_until(lambda: transformed(stack, key), timeout=TRANSFORMER_TIMEOUT + 90, what="the rerun")
    returned_after = time.monotonic() - killed_at
    restarted = json.loads(cli(stack, "local", "status", "--json").stdout)["processes"]["transformer"]
    supervisor_log = (Path(stack.info.logs_dir) / "supervisor.log").read_text(errors="replace")
    [completed] = completed_for(capture, key)
    run_id = completed["detail"]["run_id"]
    after_rerun = marts_fingerprint(stack, ids)

    assert restarted["alive"] and restarted["pid"] != pid
    assert "worker transformer died holding 1 message(s)" in supervisor_log
    assert returned_after >= TRANSFORMER_TIMEOUT - 1  # back after the function timeout, not before
    assert step["data"]["outcome"] == "passed"
    assert query(
        stack, "select count(*), count(distinct place_id) from restaurants where place_id like 'ChIJ-killed-%'"
    ) == [(3000, 3000)]
    assert len(delivered_emails(stack, run_id)) == 1

    # a clean transform of the same data (reprocess: a new object version) leaves the very same marts
    cli(stack, "reprocess", f"s3://{stack.info.bucket}/{key}")
    wait_until(lambda: len(completed_for(capture, key)) == 2, timeout=120, what="the reprocess")
    assert marts_fingerprint(stack, ids) == after_rerun
    assert dlq_depths(stack)["transformer"] == 0
    record(
        "transformer-killed",
        "The transformer killed (kill -9) mid-batch, 3,000 places",
        "The message comes back after the visibility timeout; the rerun yields identical marts",
        f"supervisor restarted the worker; the message came back and was transformed {returned_after:.0f} s after "
        f"the kill (locally: after the {TRANSFORMER_TIMEOUT} s function timeout, AWS: the 6x visibility "
        f"timeout); 3,000 rows, 3,000 distinct; marts digest equal to a clean reprocess "
        f"({after_rerun['restaurants']}); 1 email; DLQ empty",
        THIS,
        order=50,
        seconds=round(returned_after, 1),
    )


# -- SNS down ----------------------------------------------------------------------------------------------------------
def notification_failures(stack: RunningStack) -> int:
    return int(sum(b.get("NotificationFailures") or 0 for b in metric_blobs(stack, "notifier")))


def final_notifier_failure(stack: RunningStack, since: datetime) -> datetime:
    """When the notifier last failed to publish (its logged exception), after `since`."""
    failures = [
        logged_at(r)
        for r in log_records(stack, "notifier")
        if str(r.get("message", "")).startswith("could not notify") and logged_at(r) >= since
    ]
    return max(failures)


def test_a_brief_sns_outage_is_told_by_the_dlq_alarm_and_the_replayed_email_says_it_is_late(stack, capture):
    """SNS refuses the notifier's three attempts, then works again before the alarm fires (AWS: the DLQ alarm's
    5-minute period; a blip, throttling, a permission fixed by the next deploy)."""
    queue = stack.info.queues["notifier"]
    dlq_alarm = alarm_name("notifier-dlq-not-empty")
    started = datetime.now(UTC)
    failures_before = notification_failures(stack)
    stack.target.clients.sns.delete_topic(TopicArn=stack.info.topic_arn)
    key = f"raw/places/dt=2026-01-05/sns-blip-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, key, [place_line("ChIJ-sns-blip", "Chez Hoquet")])

    wait_until(lambda: notification_failures(stack) - failures_before == 3, timeout=120, what="3 refused publishes")
    restore_the_topic(stack)
    final_retry = final_notifier_failure(stack, started)
    wait_until(lambda: depth(stack, queue.dlq_url) == 1, timeout=60, what="the notification parked in the DLQ")
    [alarm] = wait_until(lambda: alarm_emails(stack, dlq_alarm, since=started), timeout=60, what="the DLQ alarm")
    [completed] = completed_for(capture, key)
    run_id = completed["detail"]["run_id"]
    assert emails(stack, run_id) == []  # the run's own email is parked, not lost
    assert "SNS topic missing" in words(alarm.body) and "dlq replay notifier" in words(alarm.body)

    replay = cli(stack, "dlq", "replay", "notifier")
    [late] = delivered_emails(stack, run_id, timeout=60)
    [ok] = wait_until(lambda: alarm_emails(stack, dlq_alarm, "OK", since=started), timeout=60, what="the OK email")

    assert "Moved 1 message(s)" in replay.stdout
    note = words(late.body.split("\n\n", 1)[0])
    assert note.startswith(f"⚠️ This email is late: SNS refused to deliver it at {final_retry:%Y-%m-%d}")
    assert "(3 attempt(s) until" in note and "NotFound" in words(late.body)
    alarm_latency = seconds_until(final_retry, alarm)
    assert alarm_latency <= LATENCY_TARGET_SECONDS
    assert len(alarm_emails(stack, dlq_alarm, since=started)) == 1 and len(delivered_emails(stack, run_id)) == 1
    assert cli(stack, "audit", "--json", check=False).returncode == 0
    record(
        "sns-blip",
        "SNS refusing the notifier's publishes (topic deleted), back before the alarm fires",
        "The notification waits in the notifier DLQ and its alarm mails the cause and the replay command within "
        f"{LATENCY_TARGET_SECONDS} s of the final retry; after `dlq replay notifier`, exactly one run email, "
        "opening with when SNS refused it; the alarm clears",
        f"3 refused publishes; 1 ALARM email ({dlq_alarm}) {alarm_latency:.1f} s after the final retry; after the "
        f'replay, 1 run email opening "This email is late: SNS refused to deliver it at ... (3 attempt(s) ...)", '
        f"1 OK email {seconds_until(final_retry, ok):.1f} s after the final retry; audit exit 0",
        THIS,
        order=60,
        seconds=round(alarm_latency, 1),
    )


def test_an_sns_outage_parks_the_notification_and_once_sns_is_back_the_replay_mails_once_saying_so(stack, capture):
    """SNS still down when the alarm fires: its email cannot get through either (CloudWatch does not retry an
    action); the email that gets through once SNS is back says what happened."""
    queue = stack.info.queues["notifier"]
    dlq_alarm = alarm_name("notifier-dlq-not-empty")
    started = datetime.now(UTC)
    failures_before = notification_failures(stack)
    stack.target.clients.sns.delete_topic(TopicArn=stack.info.topic_arn)
    key = f"raw/places/dt=2026-01-04/sns-down-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, key, [place_line("ChIJ-sns-down", "Chez Panne")])

    wait_until(lambda: depth(stack, queue.dlq_url) == 1, timeout=120, what="the notification in the notifier DLQ")
    status = wait_until(
        lambda: (s := alarm_status(stack, dlq_alarm))["state"] == "ALARM" and s, timeout=60, what="the DLQ alarm"
    )
    [completed] = completed_for(capture, key)
    run_id = completed["detail"]["run_id"]
    failures = notification_failures(stack) - failures_before
    final_retry = final_notifier_failure(stack, started)
    audit = cli(stack, "audit", "--json", check=False)
    findings = json.loads(audit.stdout)["findings"]["messages in dead-letter queues"]

    assert emails(stack, run_id) == [] and alarm_emails(stack, dlq_alarm, since=started) == []  # SNS is down
    assert status["last_action"].startswith("could not publish at ")  # the alarm tried, as CloudWatch would
    assert failures == 3
    assert audit.returncode == 1 and findings[0].startswith("notifier: 1 message(s)")

    restore_the_topic(stack)
    sns_back = datetime.now(UTC)
    replay = cli(stack, "dlq", "replay", "notifier")
    [late] = delivered_emails(stack, run_id, timeout=60)
    wait_until(lambda: depth(stack, queue.url) + depth(stack, queue.dlq_url) == 0, timeout=30)
    wait_until(lambda: alarm_emails(stack, dlq_alarm, "OK", since=started), timeout=60, what="the OK email")

    assert "Moved 1 message(s)" in replay.stdout
    note = words(late.body.split("\n\n", 1)[0])
    assert note.startswith(f"⚠️ This email is late: SNS refused to deliver it at {final_retry:%Y-%m-%d}")
    assert len(delivered_emails(stack, run_id)) == 1
    assert cli(stack, "audit", "--json", check=False).returncode == 0
    record(
        "sns-down",
        "SNS down (topic deleted) for one email, still down when the alarm fires",
        "The notification waits in the notifier DLQ; `audit` says so; the alarm's own email cannot get through "
        "either (as on AWS); once SNS is back, `dlq replay notifier` sends exactly one email, opening with when SNS "
        "refused it",
        f"{failures} failed publishes (max_receive_count 3), 1 message in the DLQ, 0 emails, the DLQ alarm in "
        f'ALARM with its publish refused, audit exit 1 ("{findings[0].split(" in ")[0]}"); SNS back, then the '
        f"replay: exactly 1 email {seconds_until(sns_back, late):.1f} s after SNS came back, opening with the "
        "note; the alarm's OK email; audit exit 0",
        THIS,
        order=61,
    )


# -- a burst -----------------------------------------------------------------------------------------------------------
def build_intervals(events: list[dict]) -> list[tuple[datetime, datetime]]:
    """The dbt builds behind Transform Completed events: the events of one batch share their start."""
    spans = []
    for event in events:
        end = datetime.fromisoformat(event["detail"]["metadata"]["produced_at"])
        spans.append((end - timedelta(milliseconds=event["detail"]["durations_ms"]["total"]), end))
    spans.sort()
    builds: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if builds and start - builds[-1][0] < timedelta(milliseconds=50):
            builds[-1] = (builds[-1][0], max(builds[-1][1], end))
        else:
            builds.append((start, end))
    return builds


def test_a_burst_of_small_files_is_transformed_exactly_once_without_overlapping_builds(stack, capture):
    tag = uuid.uuid4().hex[:6]
    keys = [f"raw/places/dt=2026-02-0{1 + i % 3}/burst-{tag}-{i:04d}.jsonl" for i in range(BURST)]

    def put(index_key: tuple[int, str]) -> None:
        index, key = index_key
        drop_file(stack, key, [place_line(f"ChIJ-burst-{tag}-{index}-{j}", f"Burst {index} {j}") for j in range(2)])

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, enumerate(keys)))
    wait_until(
        lambda: set(keys) <= {s["subject"] for s in ledger_steps(stack, "TRANSFORMED")},
        timeout=120 + BURST,
        interval=1,
        what=f"all {BURST} files transformed",
    )
    elapsed = time.monotonic() - started
    events = [e for e in capture.of("Transform Completed") if any(s["key"] in keys for s in e["detail"]["sources"])]
    builds = build_intervals(events)
    overlaps = [(a, b) for a, b in itertools.pairwise(builds) if b[0] < a[1] - timedelta(milliseconds=5)]
    pattern = f"ChIJ-burst-{tag}-%"
    rows = query(stack, "select count(*), count(distinct place_id) from restaurants where place_id like ?", [pattern])
    snapshots = query(
        stack,
        "select count(*), count(distinct (place_id, snapshot_date)) from restaurant_daily_snapshots "
        "where place_id like ?",
        [pattern],
    )
    outcomes = sorted({e["detail"]["outcome"] for e in events})

    assert len(events) == BURST  # one Transform Completed per dropped file (one run each), none twice
    assert outcomes == ["passed"]
    assert rows == [(2 * BURST, 2 * BURST)] and snapshots == [(2 * BURST, 2 * BURST)]
    assert overlaps == []
    assert dlq_depths(stack) == {"collector": 0, "transformer": 0, "notifier": 0}
    wait_until(lambda: len(read_outbox(Path(stack.info.outbox_dir))) > 0, timeout=5)
    audit = cli(stack, "audit", "--json", check=False)
    assert audit.returncode == 0, audit.stdout
    record(
        "burst",
        f"A burst of {BURST} small files dropped under raw/ at once",
        "All transformed, none in a DLQ, no duplicate rows, dbt runs never overlap, `audit` clean",
        f"{BURST}/{BURST} transformed in {elapsed:.0f} s by {len(builds)} dbt builds (0 overlapping), "
        f"{rows[0][0]} rows / {rows[0][1]} distinct places, DLQs empty, audit exit 0"
        + ("" if BURST >= 1000 else "; `RELIABILITY_BURST=1000` runs it at 1,000"),
        THIS,
        order=70,
        files=BURST,
        seconds=round(elapsed, 1),
        builds=len(builds),
    )


# -- the key -----------------------------------------------------------------------------------------------------------
def test_the_api_key_never_appears_in_logs_events_emails_ledger_or_errors(stack, capture, places):
    state = Path(stack.state_dir)
    dynamodb, sqs = stack.target.clients.dynamodb, stack.target.clients.sqs
    haystacks: dict[str, str] = {}
    for path in state.rglob("*"):
        if path.is_file() and path.suffix not in (".duckdb", ".wal"):
            haystacks[str(path.relative_to(state))] = path.read_bytes().decode("utf-8", errors="replace")
    for message in read_outbox(Path(stack.info.outbox_dir)):  # decoded: bodies may be base64 in the file
        haystacks[f"email {message.subject}"] = message.subject + "\n" + message.body
    capture.drain()
    haystacks["bus events"] = "\n".join(capture.bodies)
    for table in (stack.info.ledger_table, stack.info.idempotency_table):
        items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]
        haystacks[f"table {table}"] = json.dumps(items)
    for queue in stack.info.queues.values():
        for url in (queue.url, queue.dlq_url):
            peeked = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            haystacks[f"queue {url}"] = json.dumps(peeked.get("Messages", []))
    failures = [e["detail"]["message"] for e in capture.of("Collection Failed")]
    leaks = [where for where, text in haystacks.items() if API_KEY in text or API_KEY[4:] in text]
    logs = [name for name in haystacks if name.startswith("logs/")]

    assert places.state is not None and places.state.settings.api_key == API_KEY  # only this key was accepted
    assert len(failures) >= 2  # the invalid-key and daily-quota drills produced error texts to look into
    assert {"logs/collector.log", "logs/transformer.log", "logs/notifier.log"} <= set(logs)
    assert leaks == []
    scanned = sum(len(text) for text in haystacks.values())
    record(
        "secrets",
        "The Places API key (AIza + 35 characters) after every drill above, invalid-key errors included",
        "The key never appears in logs, events, emails, ledger rows, queued messages or exception text",
        f"0 occurrences in {len(haystacks)} places ({scanned / 1e6:.1f} MB: {len(logs)} log files, "
        f"{sum(1 for n in haystacks if n.startswith('email '))} emails, every bus event, both DynamoDB tables, "
        f"every queue and DLQ, {len(failures)} Collection Failed messages)",
        THIS,
        order=80,
    )
