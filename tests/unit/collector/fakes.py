"""Small hand-written stand-ins for the collector's collaborators (no network, no patching)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from services.collector.domain.model import (
    RESULT_CAP,
    CityPlan,
    CollectionError,
    Counters,
    Failure,
    Rectangle,
    RunPlan,
)

VIEWPORT = Rectangle(48.80, 2.20, 48.90, 2.40)


def make_places(count: int, area: Rectangle = VIEWPORT, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"place-{index:05d}",
            "displayName": {"text": f"Restaurant {index}", "languageCode": "fr"},
            "location": {
                "latitude": rng.uniform(area.low_lat, area.high_lat),
                "longitude": rng.uniform(area.low_lng, area.high_lng),
            },
        }
        for index in range(count)
    ]


@dataclass
class FakePlacesApi:
    """searchText semantics that matter to the collector: the 60 cap, pages of pageSize, tokens bound to the
    query, locationRestriction, and a city-name query answering the city with its viewport."""

    places: list[dict[str, Any]]
    city: str = "Paris"
    viewport: Rectangle | None = VIEWPORT
    failures: dict[int, Failure] = field(default_factory=dict)  # call number (1-based) -> failure
    calls: list[dict[str, Any]] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)  # the field mask of each call
    kept: set[str] = field(default_factory=set)  # every id a billed call returned
    billed_rectangle_answers: list[int] = field(default_factory=list)  # places matching each billed rectangle query
    fatal: Failure | None = None

    def billed_calls(self) -> list[dict[str, Any]]:
        """The calls Google bills: every mask but place ids only."""
        return [call for call, mask in zip(self.calls, self.masks, strict=True) if not ids_only(mask)]

    async def search_text(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]:
        answer = await self._answer(body, field_mask, counters)
        if "places" in answer and ids_only(field_mask):  # the mask decides what comes back
            answer = {**answer, "places": [{"id": place["id"]} for place in answer["places"]]}
        elif body["textQuery"] != self.city:
            self.kept.update(place["id"] for place in answer.get("places", []))
        return answer

    async def _answer(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]:
        self.calls.append(body)
        self.masks.append(field_mask)
        counters.requests += 1
        failure = self.failures.get(len(self.calls))
        if failure is not None:
            if failure.request_wide:
                self.fatal = failure
            raise CollectionError(failure)
        if body["textQuery"] == self.city:
            if self.viewport is None:
                return {}
            return {"places": [{"id": "city", "types": ["locality", "political"], "viewport": self.viewport.to_api()}]}
        restriction = body.get("locationRestriction", {}).get("rectangle")
        found = [p for p in self.places if restriction is None or _inside(p, restriction)][:RESULT_CAP]
        if restriction is not None and not body.get("pageToken") and not ids_only(field_mask):
            self.billed_rectangle_answers.append(len(found))
        unbound = {k: v for k, v in body.items() if k != "pageToken"}
        offset = 0
        if body.get("pageToken"):
            token = json.loads(body["pageToken"])
            assert token["query"] == unbound, "a page token reused with a different request"
            offset = token["offset"]
        size = body.get("pageSize", 20)
        page = found[offset : offset + size]
        answer: dict[str, Any] = {"places": page} if page else {}
        if offset + size < len(found):
            answer["nextPageToken"] = json.dumps({"query": unbound, "offset": offset + size})
        return answer


@dataclass
class ShuffledFakeApi(FakePlacesApi):
    """The same answers, finishing in a shuffled order (each waits a random number of event-loop turns)."""

    rng: random.Random = field(default_factory=random.Random)

    async def search_text(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]:
        for _ in range(self.rng.randint(0, 6)):
            await asyncio.sleep(0)
        return await super().search_text(body, field_mask, counters)


def ids_only(field_mask: str) -> bool:
    return {path.strip() for path in field_mask.split(",")} <= {"places.id", "places.name", "nextPageToken"}


def _inside(place: dict[str, Any], rectangle: dict[str, Any]) -> bool:
    lat, lng = place["location"]["latitude"], place["location"]["longitude"]
    low, high = rectangle["low"], rectangle["high"]
    return low["latitude"] <= lat <= high["latitude"] and low["longitude"] <= lng <= high["longitude"]


@dataclass(frozen=True)
class Stored:
    places: int | None
    etag: str | None = None


@dataclass
class FakeStore:
    bucket: str = "bucket"
    objects: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    puts: int = 0

    def find(self, key: str) -> Stored | None:
        if key not in self.objects:
            return None
        places = self.metadata.get(key, {}).get("places")
        return Stored(int(places) if places else None, etag(self.objects[key]))

    def put_once(self, key: str, path: Path, metadata: dict[str, str]) -> str | None:
        self.puts += 1
        if key in self.objects:
            return None
        self.objects[key] = path.read_bytes()
        self.metadata[key] = metadata
        return etag(self.objects[key])


def etag(content: bytes) -> str:
    """As S3 answers for a single-part object under SSE-S3: the content's MD5 in hex, quoted."""
    return f'"{hashlib.md5(content).hexdigest()}"'  # S3's checksum, not a security use


def run_plan(*cities: str, max_restaurants: int = 20, attempt: int = 1, max_receive_count: int = 3) -> RunPlan:
    return RunPlan(
        run_id="run-1",
        collection_date=date(2026, 3, 14),
        trigger_source="manual",
        run_cities=tuple(cities),
        cities=tuple(
            CityPlan(city, f"restaurants in {city}", "fr", max_restaurants, f"raw/places/dt=2026-03-14/run-1__{city}")
            for city in cities
        ),
        attempt=attempt,
        max_receive_count=max_receive_count,
    )
