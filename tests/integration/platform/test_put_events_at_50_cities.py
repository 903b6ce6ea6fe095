"""A run at the maximum, 50 cities with 100-character names and every list of its events full, published on moto's
EventBridge by the real publisher: every PutEvents request within the documented limits (10 entries; entry sizes,
computed as https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html says, under 256 KB), every
event delivered to SQS under the queues' 262,144-byte maximum message size. Prints what the requests weigh.

moto does not enforce the size limit: the sizes are measured here, against the documented formula and limits."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest

from contracts.envelope import EVENT_MAX_BYTES, PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, Event, entry_size
from contracts.events import CitySummary, ModelRun, TestCounts, TransformCompleted
from services.collector.domain.events import outcome_events
from services.collector.domain.model import (
    CityCollected,
    CityFailed,
    CityPlan,
    Counters,
    Failure,
    RunOutcome,
    RunPlan,
)
from services.collector.domain.plan import object_key
from services.common.adapters.eventbridge import EventPublisher
from services.common.ports import RunFacts
from services.transformer.domain.model import BuildReport, FailedTest
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import dead_letter_events, transform_objects
from tests.support.fifty_cities import DAY, MAX_CITIES, RUN_ID, city_names, failing_rows, long_name, maximal_summary
from tests.unit.transformer.fakes import FakeBuilder, FakeStore, place

BUS = "restaurant-pipeline"
BUCKET = "restaurant-pipeline-local"
SQS_MAX_MESSAGE_BYTES = 262_144  # SetQueueAttributes MaximumMessageSize default (the stack keeps it)
SOURCES = ["restaurant-pipeline.collector", "restaurant-pipeline.transformer"]
REQUEST_ID = "N4N7GDK58NMKJ12R"
DAY_TIME = datetime(2026, 1, 1, 8, tzinfo=UTC)


@dataclass
class Recorded:
    """Each PutEvents request the publisher made: its entries and its HTTP body as sent."""

    entries: list[list[dict[str, Any]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


def recording_client(recorded: Recorded) -> Any:
    client = boto3.client("events")

    def params(params: dict[str, Any], **_: Any) -> None:
        recorded.entries.append(list(params["Entries"]))

    def sent(request: Any, **_: Any) -> None:
        recorded.bodies.append(bytes(request.body or b""))

    client.meta.events.register("provide-client-params.events.PutEvents", params)
    client.meta.events.register("before-send.events.PutEvents", sent)
    return client


# -- the events the services publish for such a run -----------------------------------------------------------------
def collector_plan(cities: list[str]) -> RunPlan:
    return RunPlan(
        run_id=RUN_ID,
        collection_date=DAY,
        trigger_source="manual",
        run_cities=tuple(cities),
        cities=tuple(
            CityPlan(city, f"restaurants in {city}", "fr", 10_000, object_key(RUN_ID, DAY, city)) for city in cities
        ),
        attempt=3,
        max_receive_count=3,
    )


def counters() -> Counters:
    return Counters(requests=99_999, pages=99_999, retries=999, throttled=999, rectangles=9_999, free_requests=9_999)


def collector_outcomes(cities: list[str]) -> dict[str, list[Event]]:
    """What the collector publishes for one request (services/collector/domain/events.py): every city collected;
    every city failed on the last attempt with the longest message; the whole request failed."""
    plan = collector_plan(cities)
    message = long_name("HTTP 503 from the Places API: ", 2_500)  # cut to 2,000 characters by the collector
    return {
        "collector: 50 x Collection Completed": outcome_events(
            RunOutcome(
                plan,
                collected=[
                    CityCollected(city.city, city.object_key, 10_000, counters(), 3_600_000) for city in plan.cities
                ],
            ),
            BUCKET,
        ),
        "collector: 50 x Collection Failed": outcome_events(
            RunOutcome(
                plan,
                failed=[
                    CityFailed(city.city, Failure("api_unavailable", message, True, 503), counters())
                    for city in plan.cities
                ],
            ),
            BUCKET,
        ),
        "collector: 1 x Collection Failed (request)": outcome_events(
            RunOutcome(
                plan,
                failed=[CityFailed(None, Failure("api_quota_daily", message, False, 429), counters(), tuple(cities))],
            ),
            BUCKET,
        ),
    }


@dataclass
class MaximalMarts:
    """The marts of such a run: each city's summary with every list full, and full failing-row samples."""

    def row_counts(self, models: list[str]) -> dict[str, int]:
        return {model: 500_000 for model in models}

    def failing_rows(self, relation: str, limit: int, days: list[str]) -> list[dict[str, Any]]:
        return failing_rows(limit)

    def city_summaries(self, pairs: list[tuple[str, str]]) -> list[CitySummary]:
        return [maximal_summary(city, date.fromisoformat(day)) for city, day in pairs]

    def staged_reviews(self) -> tuple[list[Any], int]:
        return [], 0


def transformer_outcomes(cities: list[str]) -> dict[str, list[Event]]:
    """What the transformer publishes for the run's 50 objects (services/transformer/domain/transform.py): the
    build's outcome, tests failed with samples; and the dead-letter announcement of the same objects."""
    keys = [object_key(RUN_ID, DAY, city) for city in cities]
    store = FakeStore(
        {
            key: gzip.compress(json.dumps(place(f"p{i}", city, RUN_ID)).encode())
            for i, (key, city) in enumerate(zip(keys, cities, strict=True))
        }
    )
    refs = [ObjectRef(BUCKET, key, "v" * 32, "e" * 32, 9_999_999, DAY_TIME, REQUEST_ID) for key in keys]
    report = BuildReport(
        outcome="tests_failed",
        models=[ModelRun(name=f"model_{i}", status="success", rows_affected=500_000) for i in range(20)]
        + [ModelRun(name="city_daily_summary", status="success")],
        tests=TestCounts(total=60, passed=50, failed=10),
        failures=[
            FailedTest(f"not_null_restaurants_{i}" + "_x" * 40, "restaurants", "error", 99_999, "audit.t", "y" * 3_000)
            for i in range(10)
        ],
    )
    facts = RunFacts(requested=True, cities=tuple(cities))
    outcome = transform_objects(
        refs, store=store, builder=FakeBuilder(report), marts=MaximalMarts(), runs=lambda run_id: facts
    )
    dead = dead_letter_events(refs, RuntimeError("z" * 5_000), attempts=3, runs=lambda run_id: facts)
    return {"transformer: Transform Completed": list(outcome), "transformer: dead-lettered": list(dead)}


def provision() -> tuple[Any, str]:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="published")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="published", EventBusName=BUS, EventPattern=json.dumps({"source": SOURCES}))
    events.put_targets(Rule="published", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def delivered(sqs: Any, url: str, count: int) -> list[bytes]:
    bodies: list[bytes] = []
    while len(bodies) < count:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        messages = response.get("Messages", [])
        assert messages, f"{len(bodies)} of {count} events delivered"
        for message in messages:
            bodies.append(message["Body"].encode("utf-8"))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.mark.usefixtures("aws")
def test_a_50_city_run_publishes_within_put_events_limits_and_every_event_reaches_its_queue() -> None:
    cities = city_names(MAX_CITIES)
    assert len(cities) == 50 and all(len(city) == 100 for city in cities)
    sqs, url = provision()
    groups = {**collector_outcomes(cities), **transformer_outcomes(cities)}
    [outcome] = groups["transformer: Transform Completed"]
    assert isinstance(outcome, TransformCompleted) and outcome.outcome == "tests_failed"
    assert len(outcome.city_summaries) == 50 and len(outcome.sources) == 50 and outcome.trimmed
    assert outcome.bus_size() <= EVENT_MAX_BYTES
    untrimmed = outcome.model_copy(
        update={"city_summaries": [maximal_summary(c) for c in sorted(cities)], "trimmed": []}
    ).entry_size()
    assert untrimmed > PUT_EVENTS_MAX_BYTES  # what the outcome would have been: more than PutEvents takes

    lines = [
        f"PutEvents at {len(cities)} cities, 100-character names (entry size as EventBridge computes it; HTTP body "
        f"as boto3 sent it). Transform Completed before trimming: {untrimmed:,} bytes; after: {outcome.bus_size():,}, "
        f"{sum(not s.details_trimmed for s in outcome.city_summaries)} of 50 cities with their lists.",
    ]
    requests = request_bytes = 0
    published = 0
    for name, events in groups.items():
        recorded = Recorded()
        EventPublisher(recording_client(recorded), BUS).publish(events)
        published += len(events)
        assert sum(len(entries) for entries in recorded.entries) == len(events)
        for index, (entries, body) in enumerate(zip(recorded.entries, recorded.bodies, strict=True), start=1):
            sizes = [entry_size(entry) for entry in entries]
            assert len(entries) <= PUT_EVENTS_MAX_ENTRIES
            assert sum(sizes) < PUT_EVENTS_MAX_BYTES
            requests, request_bytes = requests + 1, request_bytes + sum(sizes)
            lines.append(
                f"  {name}: request {index}: {len(entries)} entries, {sum(sizes):,} bytes of entries "
                f"(largest {max(sizes):,}), HTTP body {len(body):,} bytes"
            )

    lines.append(f"  {published} events in {requests} requests, {request_bytes:,} bytes of entries in all")
    bodies = delivered(sqs, url, published)
    largest = max(len(body) for body in bodies)
    estimated = {event.metadata.event_id: event.delivered_size(BUS) for events in groups.values() for event in events}
    lines.append(
        f"  {published} events delivered to SQS by moto; the largest message body: {largest:,} bytes "
        f"(Transform Completed estimated at {outcome.delivered_size(BUS):,})"
    )
    print("\n" + "\n".join(lines))
    assert largest < SQS_MAX_MESSAGE_BYTES
    for body in bodies:  # the estimate the transformer bounds its events with is not below what moto delivers
        event_id = json.loads(body)["detail"]["metadata"]["event_id"]
        assert len(body) <= estimated[event_id]
    kinds = sorted(json.loads(body)["detail-type"] for body in bodies)
    assert kinds.count("Collection Completed") == 50 and kinds.count("Transform Completed") == 2
