"""The transformer's domain types: what a build reports, what failed, what an analyzer scores, and the errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from contracts.events import ModelRun, ReviewCounts, TestCounts

# The marts a build fills, whose row counts the outcome carries.
MARTS = ("restaurants", "restaurant_daily_snapshots", "city_daily_summary", "city_cuisine_daily_summary")
SAMPLE_ROWS = 5  # failing rows of a test, best rated places of a city: how many the outcome shows
# The columns that say which collection day a failing row belongs to, in the models and tests of dbt/ (staging,
# snapshots, summaries, the current state's latest day). A sample is shown only when one of them names a day of
# the run: a test's stored failures may hold other days' rows (tests without batch_column scan the history).
DAY_COLUMNS = ("collection_date", "snapshot_date", "summary_date", "dt", "last_seen_date")


class InfrastructureError(RuntimeError):
    """S3, the warehouse or dbt itself could not do its part: the SQS record must be retried."""


class ObjectMissing(LookupError):
    """The object (version) named by the event no longer exists."""


class ObjectTooLarge(ValueError):
    """The object is bigger than one object may be (reading.ReadLimits.object_bytes): refused, not downloaded."""


class ObjectUnreadable(InfrastructureError):
    """Reading this one object failed (neither missing nor too large): the failure is the object's, so a final one
    (domain/failures.py) costs that object alone and the rest of its batch is built again at once."""

    def __init__(self, key: str, version_id: str | None, cause: Exception) -> None:
        super().__init__(str(cause) or cause.__class__.__name__)
        self.key = key
        self.version_id = version_id


# The key of a claim's result that marks an object set aside after a final failure (domain/failures.py; its message
# was copied to the dead-letter queue): coalescing skips it (the claim is done), and when a message naming it comes
# back (a replay from the dead-letter queue, or its own message when it failed as another batch's coalesced object)
# the claim is taken back and the object built again (service.TransformBatch).
SET_ASIDE = "set_aside"


@dataclass(frozen=True)
class QueuedMessage:
    """One SQS record of the batch, as much of it as settling its fate needs: changing its visibility (receipt
    handle) or copying it to the dead-letter queue (body, group, id for deduplication)."""

    message_id: str
    receipt_handle: str
    body: str
    receives: int  # ApproximateReceiveCount: 1 on the first delivery
    queue_arn: str  # eventSourceARN: arn:aws:sqs:REGION:ACCOUNT:NAME
    group_id: str | None = None  # MessageGroupId (FIFO queues)


@dataclass(frozen=True)
class RawObject:
    """One raw object's bytes and its user-defined S3 metadata (keys lower case, without x-amz-meta-)."""

    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredVersion:
    """One version of a raw object as the bucket lists it."""

    key: str
    version_id: str
    etag: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class FailedTest:
    name: str
    model: str | None
    severity: Literal["error", "warn"]
    failing_rows: int
    relation: str | None  # where store_failures kept the failing rows
    message: str


@dataclass
class BuildReport:
    outcome: Literal["passed", "tests_failed", "error"]
    models: list[ModelRun] = field(default_factory=list)
    tests: TestCounts = field(default_factory=TestCounts)
    failures: list[FailedTest] = field(default_factory=list)
    error_message: str | None = None
    error_model: str | None = None
    duration_ms: int = 0
    reviews: ReviewCounts | None = None  # the NLP stage's counts, when it ran before the build


SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]


@dataclass(frozen=True)
class Document:
    """One text to score, in a language the analyzer said it supports."""

    key: str  # the review id: results are matched on it
    text: str
    language: str  # as accepted by the analyzer (e.g. "en", "fr", "zh-TW")


@dataclass(frozen=True)
class Analysis:
    key: str
    label: SentimentLabel
    score: float  # -1 (negative) .. 1 (positive): Comprehend positive - negative; VADER its compound score
    positive: float
    negative: float
    neutral: float
    mixed: float = 0.0
    key_phrases: tuple[str, ...] = ()


@dataclass
class AnalysisBatch:
    analyses: list[Analysis] = field(default_factory=list)
    # Documents the analyzer could not score this time (key -> reason): not recorded, so the next run retries them.
    failures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """What claiming an object version found: new (ours to process), done (skip it), busy (another invocation
    holds it: retry later)."""

    state: Literal["new", "done", "busy"]
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class StagedReview:
    review_id: str
    place_id: str
    collection_date: str
    review_text: str | None
    review_language: str | None
    original_text: str | None
    original_language: str | None
