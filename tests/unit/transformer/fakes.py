"""Small hand-written fakes of the transformer's ports (services/transformer/ports.py), for unit tests."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from contracts.envelope import Event
from contracts.events import CitySummary, ModelRun, TestCounts
from services.common.ports import RunFacts
from services.transformer.domain.model import (
    BuildReport,
    Claim,
    FailedTest,
    InfrastructureError,
    ObjectMissing,
    ObjectTooLarge,
    RawObject,
    StoredVersion,
)

DAY = "2026-01-01"
BUCKET = "restaurant-pipeline-data"


def place(place_id: str, city: str = "Paris", run_id: str = "run-1", rating: float = 4.2) -> dict[str, Any]:
    return {
        "id": place_id,
        "displayName": {"text": f"Chez {place_id}", "languageCode": "fr"},
        "rating": rating,
        "userRatingCount": 10,
        "_collection": {
            "run_id": run_id,
            "city": city,
            "run_cities": [city],
            "trigger_source": "schedule",
            "query": f"restaurants in {city}",
            "rectangle": None,
            "page": 1,
            "collected_at": f"{DAY}T08:00:00Z",
        },
    }


def lines(*places: dict[str, Any], extra: Iterable[bytes] = ()) -> bytes:
    return b"".join([*(json.dumps(p).encode() + b"\n" for p in places), *extra])


class FakeStore:
    """The bucket: objects by (key, version); what the transformer writes is kept in `written`."""

    def __init__(
        self, objects: Mapping[str, bytes] | None = None, metadata: Mapping[str, dict[str, str]] | None = None
    ) -> None:
        self.objects = dict(objects or {})
        self.metadata = dict(metadata or {})  # user-defined S3 metadata per key
        self.written: dict[str, tuple[bytes, str]] = {}
        self.versions: list[StoredVersion] = []  # what a listing of raw/ returns (coalesced builds)
        self.located: list[str] = []  # the keys asked for with locate (a HeadObject each on S3)
        self.current: dict[str, str] = {}  # key -> the version id it names now (none: not versioned)

    def get(self, key: str, version_id: str | None, max_bytes: int) -> bytes:
        if key not in self.objects:
            raise ObjectMissing(f"{key} (version {version_id}) no longer exists")
        if len(self.objects[key]) > max_bytes:
            raise ObjectTooLarge(f"{key} holds {len(self.objects[key])} bytes")
        return RawObject(self.objects[key], dict(self.metadata.get(key, {})))

    def locate(self, key: str, version_id: str | None) -> str:
        self.located.append(key)
        for form in (key, unquote_plus(key), quote_plus(key, safe="/")):
            if form in self.objects:
                return form
        raise ObjectMissing(f"{key} (version {version_id}) does not exist")

    def superseded_by(self, key: str, version_id: str | None) -> str | None:
        current = self.current.get(key)
        return current if current and version_id and current != version_id else None

    def waiting_versions(self, prefix: str, since: datetime) -> list[StoredVersion]:
        return [v for v in self.versions if v.key.startswith(prefix) and v.last_modified >= since]

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.written[key] = (body, content_type)


@dataclass
class FakeBuilder:
    """Returns the report it is given; remembers what it was asked to build."""

    report: BuildReport | None = None
    error: Exception | None = None
    calls: list[tuple[list[str], list[str]]] = field(default_factory=list)

    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        self.calls.append((list(days), list(objects)))
        if self.error is not None:
            raise self.error
        return copy.deepcopy(self.report or passed())


def passed(**changes: Any) -> BuildReport:
    models = [ModelRun(name=name, status="success") for name in ("restaurants", "city_daily_summary")]
    report = BuildReport(outcome="passed", models=models, tests=TestCounts(total=3, passed=3))
    for name, value in changes.items():
        setattr(report, name, value)
    return report


def failed_test(name: str = "not_null_restaurants_name", rows: int = 2) -> FailedTest:
    return FailedTest(name, "restaurants", "error", rows, '"main"."audit"."t"', f"Got {rows} results")


@dataclass
class FakeMarts:
    rows: dict[str, int] = field(default_factory=lambda: {"restaurants": 2, "city_daily_summary": 1})
    samples: list[dict[str, Any]] = field(
        default_factory=lambda: [{"place_id": "p1", "name": None, "collection_date": DAY}]
    )
    asked: list[Any] = field(default_factory=list)

    def row_counts(self, models: Sequence[str]) -> dict[str, int]:
        self.asked.append(("row_counts", list(models)))
        return {model: self.rows.get(model, 0) for model in models}

    def failing_rows(self, relation: str, limit: int, days: Sequence[str]) -> list[dict[str, Any]]:
        """Every sample, whatever its day (the warehouse filters by day; the domain must not rely on it alone)."""
        self.asked.append(("failing_rows", relation, limit))
        return self.samples[:limit]

    def city_summaries(self, pairs: Sequence[tuple[str, str]]) -> list[CitySummary]:
        self.asked.append(("city_summaries", list(pairs)))
        return [
            CitySummary(
                city=city, day=date.fromisoformat(day), restaurants_seen=2, new_restaurants=2, closed_restaurants=0
            )
            for city, day in pairs
        ]

    def staged_reviews(self) -> tuple[list[Any], int]:
        return [], 0


class FakeClaims:
    """Claims as the table keeps them: done (completed), busy (claimed, not completed yet), or free."""

    def __init__(self, done: Iterable[str] = (), busy: Iterable[str] = ()) -> None:
        self.done = set(done)
        self.busy = set(busy)
        self.completed: dict[str, dict[str, Any]] = {}
        self.released: list[str] = []

    def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim:
        if idempotency_key in self.done:
            return Claim("done", {})
        if idempotency_key in self.busy:
            return Claim("busy")
        self.busy.add(idempotency_key)
        return Claim("new")

    def complete(self, idempotency_key: str, result: dict[str, Any]) -> None:
        self.busy.discard(idempotency_key)
        self.done.add(idempotency_key)
        self.completed[idempotency_key] = result

    def release(self, idempotency_key: str, error: Exception) -> None:
        self.busy.discard(idempotency_key)
        self.released.append(idempotency_key)


class FakePublisher:
    def __init__(self, error: Exception | None = None) -> None:
        self.events: list[Event] = []
        self.error = error

    def publish(self, events: Iterable[Event]) -> None:
        if self.error is not None:
            raise self.error
        self.events.extend(events)


class FakeLedger:
    """The run ledger: the steps recorded, and the runs it knows (None: no ledger to ask)."""

    def __init__(self, runs: Mapping[str, RunFacts] | None = None) -> None:
        self.steps: list[tuple[str, str, str]] = []
        self.versions: list[tuple[str, str | None]] = []  # (subject, version) of each step
        self.runs = runs

    def facts(self, run_id: str) -> RunFacts | None:
        if self.runs is None:
            return None
        return self.runs.get(run_id, RunFacts(requested=False))

    def record(
        self,
        run_id: str,
        step: str,
        subject: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        version: str | None = None,
        variant: str | None = None,
    ) -> bool:
        self.steps.append((run_id, step, subject))
        self.versions.append((subject, version))
        return True


def s3_event(
    key: str, version: str = "v1", bucket: str = BUCKET, size: int = 5, etag: str = "e" * 32
) -> dict[str, Any]:
    """An EventBridge "Object Created" from S3, as AWS spells it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": f"{DAY}T08:00:05Z",
        "region": "eu-west-3",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "version-id": version, "sequencer": "00"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def sqs_batch(*bodies: Any, receives: int = 1) -> dict[str, Any]:
    """SQS records of the FIFO queue, as the event source mapping hands them to the function."""
    return {
        "Records": [
            {
                "messageId": f"m{index}",
                "receiptHandle": f"h{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": str(receives),
                    "MessageGroupId": "dbt",
                    "SequenceNumber": str(index),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:restaurant-pipeline-transformer.fifo",
                "awsRegion": "eu-west-3",
            }
            for index, body in enumerate(bodies)
        ]
    }


def infrastructure(message: str = "warehouse locked") -> InfrastructureError:
    return InfrastructureError(message)
