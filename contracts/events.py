"""Every event on the bus, versioned. detail-type and source strings are public names: keep them stable.

Changing a field: add optional fields freely; anything else bumps VERSION and regenerates the schemas
(`make schemas`). tests/unit/contracts checks the committed schemas against these models.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.envelope import Event, EventMetadata

TriggerSource = Literal["schedule", "manual", "replay"]
ErrorCategory = Literal[
    "api_auth",  # invalid key (400 API_KEY_INVALID) or 403 PERMISSION_DENIED: fix the key, no retry
    "api_quota_daily",  # 429 per day: resumes tomorrow, no retry today
    "api_quota_minute",  # 429 per minute: retried with backoff
    "api_unavailable",  # 5xx, timeouts, resets, undocumented bodies: retried
    "api_bad_request",  # any other 400: the request is wrong, no retry
    "internal",  # a bug or an AWS-side failure in the pipeline itself
]
Outcome = Literal["passed", "tests_failed", "error"]

CityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
RunId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")]

# A dropped file's city when nothing says it: not its lines' _collection.city, not the object's city metadata
# (CITY_METADATA_KEY, sent as the x-amz-meta-city header), not a collector-style name (<run>__<city>.jsonl).
UNKNOWN_CITY = "unknown"
CITY_METADATA_KEY = "city"

SCHEDULER_SOURCE = "restaurant-pipeline.scheduler"
CLI_SOURCE = "restaurant-pipeline.cli"
COLLECTOR_SOURCE = "restaurant-pipeline.collector"
TRANSFORMER_SOURCE = "restaurant-pipeline.transformer"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def manual_run_id(now: datetime | None = None) -> str:
    """The run id of a manual run (the CLI's `run`, or the collector invoked directly): its UTC time and 6 random
    hex digits."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"manual-{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class CollectionRequested(Event):
    """Command: collect these cities. Sent by the schedule, the CLI (`run`) or a person with put-events."""

    DETAIL_TYPE: ClassVar[str] = "Collection Requested"
    SOURCES: ClassVar[tuple[str, ...]] = (SCHEDULER_SOURCE, CLI_SOURCE)

    cities: Annotated[list[CityName], Field(min_length=1, max_length=50)]
    max_restaurants: Annotated[int, Field(gt=0, le=10_000)] | None = None
    trigger_source: TriggerSource = "schedule"
    run_id: RunId | None = Field(default=None, description="Set by the CLI; else derived from the event id.")
    metadata: EventMetadata | None = None


class CollectionCompleted(Event):
    """Fact: one city of a run is in raw/ (or already was, on a re-delivery)."""

    DETAIL_TYPE: ClassVar[str] = "Collection Completed"
    SOURCES: ClassVar[tuple[str, ...]] = (COLLECTOR_SOURCE,)

    metadata: EventMetadata
    run_id: RunId
    trigger_source: TriggerSource
    collection_date: date
    city: CityName
    run_cities: list[CityName]
    bucket: str
    object_key: str
    places: int = Field(ge=0)
    requests: int = Field(ge=0, description="Places API requests, billed or not (what the quota counts).")
    free_requests: int = Field(
        ge=0,
        default=0,
        description="Of `requests`: ids-only requests counting rectangles, which Google does not bill.",
    )
    pages: int = Field(ge=0)
    retries: int = Field(ge=0)
    throttled: int = Field(ge=0, description="HTTP 429 answers met (and waited out).")
    rectangles: int = Field(ge=0, description="locationRestriction tiles searched (0: a single query sufficed).")
    duration_ms: int = Field(ge=0)
    already_collected: bool = Field(default=False, description="The object existed: nothing was written.")


class CollectionFailed(Event):
    """Fact: a city (or the whole request, when city is null) could not be collected."""

    DETAIL_TYPE: ClassVar[str] = "Collection Failed"
    SOURCES: ClassVar[tuple[str, ...]] = (COLLECTOR_SOURCE,)

    metadata: EventMetadata
    run_id: RunId
    trigger_source: TriggerSource
    collection_date: date
    city: CityName | None
    run_cities: list[CityName]
    category: ErrorCategory
    message: str = Field(max_length=2000, description="Human words; never contains the API key.")
    retryable: bool
    attempt: int = Field(ge=1, description="SQS receive count of the request.")
    final_attempt: bool = Field(description="No retry will follow (not retryable, or the last receive).")
    http_status: int | None = None
    requests: int = Field(ge=0, default=0)
    cities: list[CityName] = Field(
        default=[],
        description="The cities this failure covers: [city] for a city's failure; for a request-level failure "
        "(city null) the cities not collected. Empty from older producers: then every run city.",
    )


REJECTED_LINES_SHOWN = 10  # the rejected lines a SourceObject names (the quarantine file holds them all)
REJECTION_REASON_MAX = 200  # a rejected line's reason in the event: characters, and bytes as JSON (\u escapes)


class RejectedLine(_Part):
    """One line the transformer set aside: where it was in the raw object, and why (bounded)."""

    line: int | None = Field(default=None, ge=1, description="From 1; null when the whole object was refused.")
    reason: str = Field(max_length=REJECTION_REASON_MAX)

    @classmethod
    def of(cls, line: int | None, reason: str) -> RejectedLine:
        """The line and as much of its reason as REJECTION_REASON_MAX bytes of escaped JSON hold (10 lines of each
        of a batch's 10 objects stay a few tens of KB, whatever characters the reasons hold)."""
        kept = reason[:REJECTION_REASON_MAX]
        while len(json.dumps(kept)) - 2 > REJECTION_REASON_MAX:
            kept = kept[:-1]
        return cls(line=line, reason=kept)


class SourceObject(_Part):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = Field(default=None, ge=0)
    run_id: str | None = None
    city: str | None = None
    lines: int = Field(ge=0, default=0)
    valid_lines: int = Field(ge=0, default=0)
    quarantined_lines: int = Field(ge=0, default=0)
    quarantine_key: str | None = None
    rejected: list[RejectedLine] = Field(
        default=[],
        max_length=REJECTED_LINES_SHOWN,
        description="The first rejected lines (number and reason); quarantined_lines counts them all. Empty from "
        "older producers.",
    )
    problem: str | None = Field(default=None, description="Why the object as a whole yielded nothing, if so.")
    identity_note: str | None = Field(
        default=None,
        description="Why the run the object named was not accepted (it was transformed as a dropped file).",
    )
    superseded_by: str | None = Field(
        default=None,
        description="The version id that replaced this object version under its key before it was built: not "
        "built (the newer version's own event builds it, so the marts hold the newest).",
    )


class ModelRun(_Part):
    name: str
    status: str
    rows_affected: int | None = None
    execution_time_ms: int = Field(ge=0, default=0)


class TestCounts(_Part):
    __test__: ClassVar[bool] = False  # not a pytest class

    total: int = Field(ge=0, default=0)
    passed: int = Field(ge=0, default=0)
    failed: int = Field(ge=0, default=0)
    warned: int = Field(ge=0, default=0)
    errored: int = Field(ge=0, default=0)
    skipped: int = Field(ge=0, default=0)


class TestFailure(_Part):
    __test__: ClassVar[bool] = False  # not a pytest class

    name: str
    model: str | None = None
    severity: Literal["error", "warn"] = "error"
    failing_rows: int = Field(ge=0)
    samples: Annotated[list[dict[str, Any]], Field(max_length=5)] = []
    message: str = ""


class TransformError(_Part):
    phase: Literal["read", "validate", "dbt", "publish", "internal"]
    message: str = Field(max_length=4000)
    model: str | None = None


class RatedRestaurant(_Part):
    place_id: str
    name: str
    rating: float | None = None
    user_rating_count: int | None = None
    address: str | None = None
    cuisine: str | None = Field(default=None, description="restaurants.cuisine: the primary type made readable.")


class RatingMove(_Part):
    """A place whose rating moved over the last 7 days (restaurants.rating_change_7d)."""

    place_id: str
    name: str
    cuisine: str | None = None
    previous: float = Field(description="Its rating on the collection day 7 days before.")
    current: float
    change: float
    user_rating_count_change: int | None = Field(default=None, description="Ratings gained over those 7 days.")


class DayPoint(_Part):
    """One collection day of a city (city_daily_summary), for its trend."""

    day: date
    restaurants_seen: int = Field(ge=0)
    weighted_rating: float | None = None


class SentimentMove(_Part):
    place_id: str
    name: str
    previous: float | None = None
    current: float
    change: float


class CitySummary(_Part):
    city: str
    day: date
    restaurants_seen: int = Field(ge=0)
    new_restaurants: int = Field(ge=0)
    closed_restaurants: int = Field(ge=0)
    average_rating: float | None = None
    weighted_rating: float | None = None
    price_level_mix: dict[str, int] = {}
    top_rated: Annotated[list[RatedRestaurant], Field(max_length=5)] = []
    sentiment_movers: Annotated[list[SentimentMove], Field(max_length=5)] = []
    # NLP stage (pipeline.toml [nlp] enabled): review sentiment of the places seen that day; null when off.
    average_sentiment: float | None = Field(default=None, ge=-1, le=1)
    positive_share: float | None = Field(default=None, ge=0, le=1)
    negative_share: float | None = Field(default=None, ge=0, le=1)
    scored_reviews: int | None = Field(default=None, ge=0)
    unscored_reviews: int | None = Field(default=None, ge=0)
    top_themes: Annotated[list[str], Field(max_length=6)] = []
    # Issue 20: what changed (restaurants mart). Empty from older producers.
    new_places: Annotated[list[RatedRestaurant], Field(max_length=5)] = Field(
        default=[], description="Up to 5 places first seen that day, best rated first."
    )
    rating_movers: Annotated[list[RatingMove], Field(max_length=5)] = Field(
        default=[], description="Up to 5 places seen that day whose rating moved most over the last 7 days."
    )

    # Issue 17: the trend behind the day (city_daily_summary). Empty from older producers.
    trend: Annotated[list[DayPoint], Field(max_length=14)] = Field(
        default=[],
        description="The city's collection days among the 14 days ending on this one, oldest first "
        "(a day without a collection is absent).",
    )
    # Issue 23: a 50-city run's summaries with every list would not fit one EventBridge event (256 KB).
    details_trimmed: bool = Field(
        default=False,
        description="This summary's lists (top_rated, new_places, rating_movers, sentiment_movers, trend, "
        "top_themes, price_level_mix) were left out so that the event fits one EventBridge event; its counts and "
        "ratings are whole. TransformCompleted.trimmed says so in words.",
    )


class ReviewCounts(_Part):
    """What the NLP stage did with the reviews of a transform (reviews kept but not scored are counted here)."""

    analyzer: str
    staged: int = Field(ge=0, description="Reviews in staging for the days built.")
    already_scored: int = Field(ge=0, description="Processed by an earlier run: never scored twice.")
    scored: int = Field(ge=0)
    empty_text: int = Field(ge=0, description="Kept, not scored: no text.")
    unsupported_language: int = Field(
        ge=0, description="Kept, not scored: no text in a language the analyzer supports."
    )
    failed: int = Field(ge=0, description="The analyzer returned an error: retried on the next run.")


class TransformCompleted(Event):
    """Fact: dbt ran over one or more raw objects; the outcome says how the data tests went."""

    DETAIL_TYPE: ClassVar[str] = "Transform Completed"
    SOURCES: ClassVar[tuple[str, ...]] = (TRANSFORMER_SOURCE,)

    metadata: EventMetadata
    run_id: RunId
    run_cities: list[str] = Field(description="Every city the run asked for (empty for a dropped file).")
    cities: list[str] = Field(description="Cities covered by this transform.")
    collection_dates: list[date] = []
    outcome: Outcome
    sources: list[SourceObject]
    models: list[ModelRun] = []
    tests: TestCounts = TestCounts()
    failures: list[TestFailure] = []
    warnings: list[TestFailure] = []
    error: TransformError | None = None
    quarantined_lines: int = Field(ge=0, default=0)
    row_counts: dict[str, int] = {}
    city_summaries: list[CitySummary] = []
    durations_ms: dict[str, int] = {}
    reviews: ReviewCounts | None = Field(default=None, description="NLP stage counts (null when the stage is off).")
    dead_lettered: bool = Field(
        default=False,
        description="The transformer gave up on these objects after its last attempt: their messages are in its "
        "dead-letter queue, to replay once the cause is fixed.",
    )
    attempts: int | None = Field(default=None, ge=1, description="How many times the objects were tried.")
    trimmed: list[str] = Field(
        default=[],
        description="What was left out of this event so that it fits one EventBridge event (PutEvents: under "
        "256 KB), in words: summary lists of some cities, failing-row samples, whole summaries. Empty: nothing was.",
    )


BUS_EVENTS: tuple[type[Event], ...] = (
    CollectionRequested,
    CollectionCompleted,
    CollectionFailed,
    TransformCompleted,
)
