"""What the transformer's use case and domain need from the outside. adapters/ implements them (S3, dbt, the
warehouse's marts, DynamoDB claims, the NLP analyzers); the unit tests hand in small fakes (tests/unit/transformer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from contracts.events import CitySummary
from services.common.ports import Ledger, Publisher, RunHistory
from services.transformer.domain.model import (
    AnalysisBatch,
    BuildReport,
    Claim,
    Document,
    QueuedMessage,
    RawObject,
    StagedReview,
    StoredVersion,
)

__all__ = [
    "Builder",
    "Claims",
    "Ledger",
    "MartReader",
    "MessageQueue",
    "ObjectStore",
    "Publisher",
    "ReviewStaging",
    "RunHistory",
    "ScoreStore",
    "SentimentAnalyzer",
]


class ObjectStore(Protocol):
    """The bucket: read a raw object's version (ObjectMissing when gone), write validated and quarantined copies."""

    def get(self, key: str, version_id: str | None, max_bytes: int) -> RawObject:
        """The object's bytes and user metadata; ObjectMissing when gone, ObjectTooLarge past max_bytes (never read
        whole then)."""
        ...

    def locate(self, key: str, version_id: str | None) -> str:
        """The key the bucket holds the object by: `key` itself, or its URL-decoded or URL-encoded form (an S3 event
        may name either); ObjectMissing when none exists."""
        ...

    def superseded_by(self, key: str, version_id: str | None) -> str | None:
        """The version id the key names now when it is not `version_id` (a newer upload replaced it), else None
        (it is current, the bucket keeps no versions, or the key was deleted)."""
        ...

    def waiting_versions(self, prefix: str, since: datetime) -> list[StoredVersion]:
        """Every version of the objects under `prefix` created since `since`, oldest first."""
        ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class Builder(Protocol):
    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        """Build the marts for those collection days, reading only `objects` (validated keys of those days);
        no objects = every object of the days. InfrastructureError when dbt or the warehouse cannot work."""
        ...


class MartReader(Protocol):
    """What the outcome tells of the marts after a build (and what the NLP stage reads of staging)."""

    def row_counts(self, models: Sequence[str]) -> dict[str, int]: ...

    def failing_rows(self, relation: str, limit: int, days: Sequence[str]) -> list[dict[str, Any]]:
        """Sample rows a failed test kept (store_failures) of the given collection days, as plain JSON values."""
        ...

    def city_summaries(self, pairs: Sequence[tuple[str, str]]) -> list[CitySummary]:
        """The daily summary of each (city, day): counts, ratings, the best rated places, and review sentiment
        with its biggest movers when the NLP stage filled it."""
        ...

    def staged_reviews(self) -> tuple[list[StagedReview], int]:
        """The reviews in staging not scored yet, and how many staged reviews were already scored."""
        ...


class Claims(Protocol):
    """Exactly-once processing per object version."""

    def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim: ...

    def complete(self, idempotency_key: str, result: dict[str, Any]) -> None: ...

    def release(self, idempotency_key: str, error: Exception) -> None: ...


class MessageQueue(Protocol):
    """The transformer's own SQS queue, for the messages of a failed batch (adapters/sqs.py): left alone, a failed
    message stays invisible for the queue's visibility timeout (an hour) and holds back its whole message group."""

    def retry_after(self, delays: Sequence[tuple[QueuedMessage, int]]) -> None:
        """Make each message visible again after its number of seconds (ChangeMessageVisibility)."""
        ...

    def set_aside(self, message: QueuedMessage) -> None:
        """Copy the message to the queue's dead-letter queue (same group; its message id deduplicates), from where
        `dlq replay` brings it back. The caller then acknowledges the original."""
        ...


class ReviewStaging(Protocol):
    def stage_reviews(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        """Build stg_places__reviews (and its tests) for those days only (and only those objects, if any)."""
        ...


class ScoreStore(Protocol):
    def processed_ids(self, days: Sequence[str]) -> set[str]:
        """Review ids already in an enriched object of those days."""
        ...

    def put(self, key: str, body: bytes) -> None: ...


class SentimentAnalyzer(Protocol):
    name: str

    def language_for(self, language_code: str | None) -> str | None:
        """The analyzer's code for a review language ('en-US' -> 'en'), or None when it cannot score it."""
        ...

    def analyze(self, documents: Sequence[Document]) -> AnalysisBatch: ...
