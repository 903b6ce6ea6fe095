"""The collection domain against hand-written fakes: pagination, the 60 cap, tiling, de-duplication,
all-or-nothing writes and how failures are grouped."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.records import Collection, RawPlace
from services.collector.adapters.spool import PlaceSpool
from services.collector.domain.collect import CollectionPorts, CollectorLimits, collect_cities
from services.collector.domain.model import Failure, Rectangle, RunOutcome
from tests.unit.collector.fakes import VIEWPORT, FakePlacesApi, FakeStore, etag, make_places, run_plan

MASK = "places.id,places.displayName,places.location,nextPageToken"
FIXED_NOW = datetime(2026, 3, 14, 8, 0, 5, tzinfo=UTC)


def collect(api: FakePlacesApi, store: FakeStore, *cities: str, max_restaurants: int = 20, **limits: Any) -> RunOutcome:
    deps = CollectionPorts(api, store, PlaceSpool, MASK, CollectorLimits(**limits), now=lambda: FIXED_NOW)
    return asyncio.run(collect_cities(run_plan(*cities, max_restaurants=max_restaurants), deps))


def lines(store: FakeStore, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(store.objects[key]).decode().splitlines()]


def test_pages_sequentially_with_the_token_until_max_restaurants() -> None:
    api, store = FakePlacesApi(make_places(500)), FakeStore()
    outcome = collect(api, store, "Paris", max_restaurants=50)
    [city] = outcome.collected
    assert (city.places, city.counters.requests, city.counters.pages, city.counters.rectangles) == (50, 3, 3, 0)
    assert [call.get("pageToken") is None for call in api.calls] == [True, False, False]
    assert all(call["pageSize"] == 20 and call["textQuery"] == "restaurants in Paris" for call in api.calls)
    assert len(lines(store, city.object_key)) == 50


def test_stops_when_results_run_out_before_the_cap() -> None:
    api, store = FakePlacesApi(make_places(45)), FakeStore()
    [city] = collect(api, store, "Paris", max_restaurants=500).collected
    assert city.places == 45
    assert [call["textQuery"] for call in api.calls] == ["restaurants in Paris"] * 3  # no viewport, no tiles


def test_a_full_query_leads_to_tiling_the_viewport_until_500_unique_places() -> None:
    api, store = FakePlacesApi(make_places(3000)), FakeStore()
    [city] = collect(api, store, "Paris", max_restaurants=500).collected
    rows = lines(store, city.object_key)
    assert city.places == len(rows) == 500
    assert len({row["id"] for row in rows}) == 500
    assert "Paris" in [call["textQuery"] for call in api.calls]  # the viewport lookup
    assert city.counters.rectangles > 4
    tiled = [row for row in rows if row["_collection"]["rectangle"] is not None]
    assert tiled, "places past the first 60 come from locationRestriction rectangles"
    for row in tiled:  # each place lies inside the rectangle that found it
        box = Rectangle.from_api(row["_collection"]["rectangle"])
        assert box is not None
        location = row["location"]
        assert box.low_lat <= location["latitude"] <= box.high_lat
        assert box.low_lng <= location["longitude"] <= box.high_lng


def test_places_found_twice_are_written_once() -> None:
    # every rectangle query also returns the same few "famous" places (as Google does near edges)
    famous = make_places(5, seed=99)
    for place in famous:
        place["id"] = "famous-" + place["id"]

    class Overlapping(FakePlacesApi):
        async def search_text(self, body: dict[str, Any], field_mask: str, counters: Any) -> dict[str, Any]:
            answer = await super().search_text(body, field_mask, counters)
            if "places" in answer and not body.get("pageToken") and body["textQuery"] != self.city:
                answer = {**answer, "places": famous + answer["places"][: 20 - len(famous)]}
            return answer

    api, store = Overlapping(make_places(2000)), FakeStore()
    [city] = collect(api, store, "Paris", max_restaurants=300).collected
    ids = [row["id"] for row in lines(store, city.object_key)]
    assert len(ids) == len(set(ids)) == 300
    assert sum(identifier.startswith("famous-") for identifier in ids) == 5


def test_only_full_rectangles_are_split() -> None:
    # all places in the south-west quarter: the three other quadrants come back empty and are not split
    south_west = Rectangle(VIEWPORT.low_lat, VIEWPORT.low_lng, 48.85, 2.30)
    api, store = FakePlacesApi(make_places(1000, south_west)), FakeStore()
    collect(api, store, "Paris", max_restaurants=200)
    queried = [
        Rectangle.from_api(call["locationRestriction"]["rectangle"])
        for call in api.calls
        if "locationRestriction" in call and not call.get("pageToken")
    ]
    for box in queried:
        assert box is not None
        parent_empty = box.low_lat >= 48.85 or box.low_lng >= 2.30
        assert not (parent_empty and (box.lat_span < VIEWPORT.lat_span / 2 - 1e-9)), box


def test_collection_metadata_has_exactly_the_documented_keys() -> None:
    api, store = FakePlacesApi(make_places(100)), FakeStore()
    [city] = collect(api, store, "Paris", "Lyon", max_restaurants=70).collected[:1]
    row = lines(store, city.object_key)[0]
    assert set(row["_collection"]) == {
        "run_id",
        "city",
        "run_cities",
        "trigger_source",
        "query",
        "rectangle",
        "page",
        "collected_at",
    }
    assert row["_collection"]["run_cities"] == ["Paris", "Lyon"]
    assert row["_collection"]["page"] == 1
    assert row["_collection"]["collected_at"] == "2026-03-14T08:00:05.000+00:00"
    assert {k: v for k, v in row.items() if k != "_collection"} == api.places[0]  # as the API returned it


def test_the_collection_block_is_the_records_model_and_round_trips() -> None:
    # Every line, tiled ones included (a rectangle), validates as the transformer reads it (contracts/records.py) and
    # dumps back to exactly what was written: a key the collector wrote by hand and the model lacks, or one the model
    # has and the collector left out, would fail here.
    api, store = FakePlacesApi(make_places(100)), FakeStore()
    [city] = collect(api, store, "Paris", "Lyon", max_restaurants=70).collected[:1]
    rows = lines(store, city.object_key)
    assert any(row["_collection"]["rectangle"] for row in rows)
    for row in rows:
        block = Collection.model_validate(row["_collection"])
        assert block.model_dump(mode="json", by_alias=True) == row["_collection"]
        assert RawPlace.model_validate(row).collection == block


def test_a_failure_midway_writes_nothing() -> None:
    api = FakePlacesApi(make_places(3000), failures={7: Failure("api_unavailable", "HTTP 503", True, 503)})
    store = FakeStore()
    outcome = collect(api, store, "Paris", max_restaurants=500)
    assert outcome.collected == []
    [failed] = outcome.failed
    assert (failed.city, failed.failure.category) == ("Paris", "api_unavailable")
    assert failed.counters.requests >= 7  # queries already in flight may have finished their page
    assert store.objects == {} and store.puts == 0
    assert outcome.needs_retry


def test_an_existing_object_is_skipped_without_calling_the_api() -> None:
    api, store = FakePlacesApi(make_places(100)), FakeStore()
    first = collect(api, store, "Paris", max_restaurants=30)
    calls = len(api.calls)
    second = collect(api, store, "Paris", max_restaurants=30)
    assert len(api.calls) == calls
    [city] = second.collected
    assert city.already_collected and city.places == 30
    assert city.object_key == first.collected[0].object_key


def test_a_collected_city_carries_the_etag_of_the_object_written() -> None:
    store = FakeStore()
    [city] = collect(FakePlacesApi(make_places(100)), store, "Paris", max_restaurants=30).collected
    assert city.etag == etag(store.objects[city.object_key]) and city.etag.startswith('"')


def test_an_object_found_already_there_carries_its_own_etag() -> None:
    store = FakeStore()
    [first] = collect(FakePlacesApi(make_places(100)), store, "Paris", max_restaurants=30).collected
    [again] = collect(FakePlacesApi(make_places(100)), store, "Paris", max_restaurants=30).collected
    assert again.already_collected and again.etag == first.etag


class RacedStore(FakeStore):
    """Another delivery of the same run writes the object between the existence check and this put."""

    def put_once(self, key: str, path: Path, metadata: dict[str, str]) -> str | None:
        self.objects[key] = b"written by the other delivery"
        return super().put_once(key, path, metadata)


def test_a_put_that_lost_the_race_carries_the_winner_etag() -> None:
    store = RacedStore()
    [city] = collect(FakePlacesApi(make_places(100)), store, "Paris", max_restaurants=30).collected
    assert city.already_collected and city.etag == etag(b"written by the other delivery")


def test_a_request_wide_failure_is_reported_once_for_the_request() -> None:
    api = FakePlacesApi(make_places(100), failures={1: Failure("api_auth", "bad key", False, 400)})
    outcome = collect(api, FakeStore(), "Paris", "Lyon", "Nice", cities_in_flight=1)
    [failed] = outcome.failed
    assert failed.city is None and failed.failure.category == "api_auth"
    assert set(failed.cities) == {"Paris", "Lyon", "Nice"}
    assert len(api.calls) == 1, "after an invalid key no other city calls the API"
    assert not outcome.needs_retry


def test_other_cities_are_still_written_when_one_fails() -> None:
    api = FakePlacesApi(make_places(100), failures={1: Failure("api_bad_request", "no", False, 400)})
    outcome = collect(api, FakeStore(), "Paris", "Lyon", cities_in_flight=1)
    assert [c.city for c in outcome.collected] == ["Lyon"]
    assert [(f.city, f.failure.category) for f in outcome.failed] == [("Paris", "api_bad_request")]


def test_no_viewport_keeps_the_plain_query_places() -> None:
    api, store = FakePlacesApi(make_places(1000), viewport=None), FakeStore()
    [city] = collect(api, store, "Paris", max_restaurants=200).collected
    assert city.places == 60


def test_request_budgets_stop_a_runaway_city() -> None:
    # 1,000 places on one spot: every rectangle holding it reaches the cap and is split again, down to the smallest
    # tile; a tight counting budget (free requests) stops it first, and the city is written with what it has
    spot = Rectangle(48.85, 2.30, 48.85000001, 2.30000001)
    api, store = FakePlacesApi(make_places(1000, spot)), FakeStore()
    [city] = collect(api, store, "Paris", max_restaurants=1000, counts_per_place=0.02).collected
    limits = CollectorLimits(counts_per_place=0.02)
    assert city.counters.free_requests == limits.count_budget(1000) == 30
    assert city.counters.requests - city.counters.free_requests <= limits.request_budget(1000)
    assert city.places == 60  # what the first query found


@pytest.mark.parametrize("queries_in_flight", [1, 8])
def test_queries_in_flight_never_exceed_the_bound(queries_in_flight: int) -> None:
    active = peak = 0

    class Counting(FakePlacesApi):
        async def search_text(self, body: dict[str, Any], field_mask: str, counters: Any) -> dict[str, Any]:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0)
            try:
                return await super().search_text(body, field_mask, counters)
            finally:
                active -= 1

    collect(
        Counting(make_places(3000)),
        FakeStore(),
        "Paris",
        "Lyon",
        max_restaurants=400,
        queries_in_flight=queries_in_flight,
    )
    assert peak <= queries_in_flight
    if queries_in_flight > 1:
        assert peak > 1, "tiles are searched concurrently"
