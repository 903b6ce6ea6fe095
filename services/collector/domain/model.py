"""The collector's domain types: what a run asks for, what a city yields, and how a failure is classified."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.events import ErrorCategory, TriggerSource

RESULT_CAP = 60  # one searchText query yields at most 60 places (3 pages of 20)
PAGE_SIZE = 20

# Categories that concern the whole request (the key, the project's daily quota): every city would meet
# the same answer, so the request stops and one request-level "Collection Failed" (city=None) is published.
REQUEST_WIDE: frozenset[ErrorCategory] = frozenset({"api_auth", "api_quota_daily"})
RETRYABLE: frozenset[ErrorCategory] = frozenset({"api_quota_minute", "api_unavailable", "internal"})


@dataclass(frozen=True)
class Rectangle:
    """A locationRestriction rectangle (a viewport): low = south-west corner, high = north-east corner."""

    low_lat: float
    low_lng: float
    high_lat: float
    high_lng: float

    def to_api(self) -> dict[str, dict[str, float]]:
        return {
            "low": {"latitude": self.low_lat, "longitude": self.low_lng},
            "high": {"latitude": self.high_lat, "longitude": self.high_lng},
        }

    @classmethod
    def from_api(cls, viewport: Any) -> Rectangle | None:
        """A Place's `viewport` as the API returns it, or None when it is not one."""
        try:
            low, high = viewport["low"], viewport["high"]
            rectangle = cls(
                float(low["latitude"]), float(low["longitude"]), float(high["latitude"]), float(high["longitude"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        if rectangle.low_lat >= rectangle.high_lat or rectangle.low_lng >= rectangle.high_lng:
            return None
        return rectangle

    @property
    def lat_span(self) -> float:
        return self.high_lat - self.low_lat

    @property
    def lng_span(self) -> float:
        return self.high_lng - self.low_lng

    def union(self, other: Rectangle) -> Rectangle:
        """The smallest rectangle holding both (for two neighbours: exactly the two together)."""
        return Rectangle(
            min(self.low_lat, other.low_lat),
            min(self.low_lng, other.low_lng),
            max(self.high_lat, other.high_lat),
            max(self.high_lng, other.high_lng),
        )

    def quadrants(self) -> tuple[Rectangle, Rectangle, Rectangle, Rectangle]:
        """Four equal parts that share edges (a place on an edge may come back twice: de-duplicated by id)."""
        mid_lat = (self.low_lat + self.high_lat) / 2
        mid_lng = (self.low_lng + self.high_lng) / 2
        return (
            Rectangle(self.low_lat, self.low_lng, mid_lat, mid_lng),
            Rectangle(self.low_lat, mid_lng, mid_lat, self.high_lng),
            Rectangle(mid_lat, self.low_lng, self.high_lat, mid_lng),
            Rectangle(mid_lat, mid_lng, self.high_lat, self.high_lng),
        )


@dataclass(frozen=True)
class CityPlan:
    """One city of a run, with its effective query, language and target."""

    city: str
    query: str
    language: str
    max_restaurants: int
    object_key: str


@dataclass(frozen=True)
class RunPlan:
    """A "Collection Requested" turned into what the collector will do."""

    run_id: str
    collection_date: date
    trigger_source: TriggerSource
    run_cities: tuple[str, ...]
    cities: tuple[CityPlan, ...]
    attempt: int
    max_receive_count: int

    @property
    def last_receive(self) -> bool:
        return self.attempt >= self.max_receive_count


@dataclass
class Counters:
    """What talking to the API cost, for one city."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    throttled: int = 0
    rectangles: int = 0  # rectangles fetched with the billed mask
    free_requests: int = 0  # of `requests`: ids-only requests counting rectangles (not billed by Google)
    counted: int = 0  # rectangles counted with the ids-only mask


@dataclass(frozen=True)
class Failure:
    """A classified failure: category, human words (never the key), whether retrying can help."""

    category: ErrorCategory
    message: str
    retryable: bool
    http_status: int | None = None

    @property
    def request_wide(self) -> bool:
        return self.category in REQUEST_WIDE


class CollectionError(Exception):
    """Raised inside collection with its classification attached."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class CityCollected:
    city: str
    object_key: str
    places: int
    counters: Counters
    duration_ms: int
    already_collected: bool = False
    etag: str | None = None  # the raw object's, as S3 returned it; None when not known (written by someone else)


@dataclass(frozen=True)
class CityFailed:
    city: str | None  # None: the whole request (request-wide categories)
    failure: Failure
    counters: Counters
    cities: tuple[str, ...] = ()  # for a request-level failure: the cities it left uncollected


@dataclass
class RunOutcome:
    plan: RunPlan
    collected: list[CityCollected] = field(default_factory=list)
    failed: list[CityFailed] = field(default_factory=list)

    @property
    def needs_retry(self) -> bool:
        """True when the SQS record must fail so that SQS redelivers it (a retryable failure)."""
        return any(item.failure.retryable for item in self.failed)

    @property
    def total_requests(self) -> int:
        return sum(c.counters.requests for c in self.collected) + sum(f.counters.requests for f in self.failed)
