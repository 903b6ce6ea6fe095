"""Notifier test data, built from the canonical payloads in tests/events/notifier_*.json."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.events import CitySummary, CollectionFailed, ErrorCategory, SourceObject, TransformCompleted
from services.notifier.domain.outcomes import NotifierEvent
from services.notifier.service import parse_notifier_event
from tests.conftest import load_event

RUN_ID = "20261125T080000Z-sched"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FAKE_KEY = "AIza" + "SyD3xAmPlEkEy0123456789abcdefghijkl"  # looks like a Google API key: 39 characters

TRANSFORM_FIXTURES = {
    "passed": "notifier_transform_passed.json",
    "tests_failed": "notifier_transform_tests_failed.json",
    "error": "notifier_transform_error.json",
}


def transform(
    outcome: str = "passed",
    *,
    city: str = "Paris",
    run_id: str = RUN_ID,
    run_cities: list[str] | None = None,
    produced_at: datetime | None = None,
    **updates: Any,
) -> TransformCompleted:
    base = parse_notifier_event(load_event(TRANSFORM_FIXTURES[outcome]))
    assert isinstance(base, TransformCompleted)
    summaries = [CitySummary.model_validate({**summary.model_dump(), "city": city}) for summary in base.city_summaries]
    sources = [
        SourceObject.model_validate(
            {**source.model_dump(), "city": city, "key": source.key.replace("paris", city.lower())}
        )
        for source in base.sources
    ]
    metadata = base.metadata.model_copy(
        update={
            "correlation_id": run_id,
            "event_id": str(uuid.uuid4()),
            "produced_at": produced_at or base.metadata.produced_at,
        }
    )
    fields = {
        **base.model_dump(),
        "metadata": metadata.model_dump(),
        "run_id": run_id,
        "cities": [city],
        "run_cities": [city] if run_cities is None else run_cities,
        "city_summaries": [s.model_dump() for s in summaries],
        "sources": [s.model_dump() for s in sources],
        **updates,
    }
    return TransformCompleted.model_validate(fields)


def collection_failed(
    category: ErrorCategory = "api_auth",
    *,
    city: str | None = "Paris",
    run_id: str = RUN_ID,
    run_cities: list[str] | None = None,
    final_attempt: bool = True,
    produced_at: datetime | None = None,
    **updates: Any,
) -> CollectionFailed:
    base = parse_notifier_event(load_event("notifier_collection_failed.json"))
    assert isinstance(base, CollectionFailed)
    metadata = base.metadata.model_copy(
        update={
            "correlation_id": run_id,
            "event_id": str(uuid.uuid4()),
            "produced_at": produced_at or base.metadata.produced_at,
        }
    )
    fields = {
        **base.model_dump(),
        "metadata": metadata.model_dump(),
        "run_id": run_id,
        "city": city,
        "category": category,
        "run_cities": ([city] if city else []) if run_cities is None else run_cities,
        "final_attempt": final_attempt,
        **updates,
    }
    return CollectionFailed.model_validate(fields)


def eventbridge_body(event: NotifierEvent) -> str:
    """The SQS body: the event as EventBridge delivers it to the notifier queue."""
    template = (
        "notifier_collection_failed.json" if isinstance(event, CollectionFailed) else TRANSFORM_FIXTURES["passed"]
    )
    envelope = load_event(template)
    envelope["id"] = str(uuid.uuid4())
    envelope["detail-type"] = event.DETAIL_TYPE
    envelope["source"] = event.SOURCES[0]
    envelope["detail"] = json.loads(event.detail_json())
    return json.dumps(envelope)


def sqs_event(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    """An SQS event for the Lambda handler, one record per body."""
    template = load_event("notifier_sqs_event.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def later(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
