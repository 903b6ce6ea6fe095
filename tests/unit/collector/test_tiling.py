"""Tiling past the 60-result cap: count with the free ids-only mask, fetch only complete rectangles, lose nothing.

Adversarial layouts against the hand-written fake API (tests/unit/collector/fakes.py), which answers like the
Places API: the 60 cap, pages of 20, tokens bound to the request, locationRestriction with its edges included,
and a field mask of ids only returning ids only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from typing import Any

import pytest

from services.collector.adapters.spool import PlaceSpool
from services.collector.domain.collect import COUNT_FIELD_MASK, CollectionPorts, CollectorLimits, collect_cities
from services.collector.domain.model import RESULT_CAP, Counters, Rectangle, RunOutcome
from services.collector.domain.tiling import Fetch, plan_fetches
from tests.unit.collector.fakes import (
    VIEWPORT,
    FakePlacesApi,
    FakeStore,
    ShuffledFakeApi,
    ids_only,
    make_places,
    run_plan,
)

MASK = "places.id,places.displayName,places.location,places.rating,nextPageToken"
SQUARE = Rectangle(0.0, 0.0, 1.0, 1.0)
MID_LAT = (VIEWPORT.low_lat + VIEWPORT.high_lat) / 2
MID_LNG = (VIEWPORT.low_lng + VIEWPORT.high_lng) / 2


def ids(prefix: str, count: int) -> frozenset[str]:
    return frozenset(f"{prefix}{index}" for index in range(count))


def collect(api: FakePlacesApi, max_restaurants: int, **limits: Any) -> RunOutcome:
    deps = CollectionPorts(api, FakeStore(), PlaceSpool, MASK, CollectorLimits(**limits))
    return asyncio.run(collect_cities(run_plan("Paris", max_restaurants=max_restaurants), deps))


def at(lat: float, lng: float, count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{index}", "location": {"latitude": lat, "longitude": lng}} for index in range(count)]


# --- the plan: which complete rectangles to fetch, in the fewest billed pages ------------------------------------


def test_two_neighbours_whose_places_fit_under_the_cap_are_fetched_as_one_rectangle() -> None:
    south_west, south_east = ids("a", 25), ids("b", 20)  # 45 together: 3 pages, instead of 2 + 1
    plan = plan_fetches(SQUARE, [south_west, south_east, ids("c", 40), ids("d", 40)], seen=set())
    assert Fetch(Rectangle(0.0, 0.0, 0.5, 1.0), south_west | south_east) in plan  # the south half
    assert sum(fetch.pages(set()) for fetch in plan) == 3 + 2 + 2


def test_neighbours_that_would_reach_the_cap_together_are_fetched_apart() -> None:
    plan = plan_fetches(SQUARE, [ids("a", 40), ids("b", 20), ids("c", 40), ids("d", 20)], seen=set())
    assert all(len(fetch.ids) < RESULT_CAP for fetch in plan)
    assert sum(fetch.pages(set()) for fetch in plan) == 6  # 40+20 = 60 would be ambiguous: never merged


def test_all_four_quadrants_are_one_rectangle_when_their_places_fit() -> None:
    [fetch] = plan_fetches(SQUARE, [ids("a", 10), ids("b", 10), ids("c", 10), ids("d", 9)], seen=set())
    assert fetch.rectangle == SQUARE and len(fetch.ids) == 39


def test_a_split_quadrant_is_not_fetched_and_does_not_block_its_neighbours() -> None:
    plan = plan_fetches(SQUARE, [None, ids("b", 5), ids("c", 5), ids("d", 5)], seen=set())
    assert SQUARE.quadrants()[0] not in [fetch.rectangle for fetch in plan]
    assert set().union(*(fetch.ids for fetch in plan)) == ids("b", 5) | ids("c", 5) | ids("d", 5)
    assert sum(fetch.pages(set()) for fetch in plan) == 2  # the north half (10) and the south-east (5)


def test_rectangles_whose_places_were_all_collected_already_are_not_fetched() -> None:
    known = ids("a", 30) | ids("b", 3)
    plan = plan_fetches(SQUARE, [ids("a", 30), ids("b", 3), frozenset(), ids("d", 50)], seen=known)
    assert [fetch.ids for fetch in plan] == [ids("d", 50)]


# --- whole collections on adversarial layouts: no place lost ----------------------------------------------------


@pytest.fixture
def cluster_on_the_split_lines() -> list[dict[str, Any]]:
    """Places exactly on the viewport's two middle lines and at their crossing (on the edges of 2 or 4 quadrants),
    dense enough that every quadrant touching them is split again, plus a sparse background."""
    rng = random.Random(7)
    places = at(MID_LAT, MID_LNG, 20, "crossing")
    places += [
        {"id": f"on-lat-{i}", "location": {"latitude": MID_LAT, "longitude": rng.uniform(2.29, 2.31)}}
        for i in range(150)
    ]
    places += [
        {"id": f"on-lng-{i}", "location": {"latitude": rng.uniform(48.845, 48.855), "longitude": MID_LNG}}
        for i in range(150)
    ]
    return places + make_places(300, seed=3)


def test_places_on_split_lines_and_their_crossing_are_all_collected(
    cluster_on_the_split_lines: list[dict[str, Any]],
) -> None:
    api = FakePlacesApi(cluster_on_the_split_lines)
    [city] = collect(api, max_restaurants=5000).collected
    assert city.places == len(cluster_on_the_split_lines)
    assert api.kept == {place["id"] for place in cluster_on_the_split_lines}


@pytest.mark.parametrize("queries_in_flight", [1, 3, 8])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_place_is_lost_whatever_the_order_queries_finish_in(queries_in_flight: int, seed: int) -> None:
    """Clusters of very different density; answers finish in a shuffled order, so the last quadrant of a
    rectangle to be counted is sometimes one that has to be split (its counted neighbours must still be fetched)."""
    rng = random.Random(seed)
    places = make_places(400, seed=seed)
    for cluster in range(4):
        lat, lng = rng.uniform(48.81, 48.89), rng.uniform(2.21, 2.39)
        places += [
            {
                "id": f"c{cluster}-{i}",
                "location": {"latitude": rng.gauss(lat, 0.002), "longitude": rng.gauss(lng, 0.003)},
            }
            for i in range(rng.randint(80, 300))
        ]
    places = [p for p in places if VIEWPORT.low_lat <= p["location"]["latitude"] <= VIEWPORT.high_lat]
    places = [p for p in places if VIEWPORT.low_lng <= p["location"]["longitude"] <= VIEWPORT.high_lng]
    api = ShuffledFakeApi(places, rng=random.Random(seed))
    [city] = collect(api, max_restaurants=10_000, queries_in_flight=queries_in_flight).collected
    assert api.kept == {place["id"] for place in places}
    assert city.places == len(places)


def test_the_last_quadrant_counted_being_split_still_gets_its_neighbours_fetched() -> None:
    # one at a time, quadrants are counted south-west, south-east, north-west, north-east: the north-east one
    # holds 100 places and is split last; the three others (10 places each) must still be fetched
    places = make_places(100, Rectangle(MID_LAT + 0.001, MID_LNG + 0.001, VIEWPORT.high_lat, VIEWPORT.high_lng))
    for index, quadrant in enumerate(VIEWPORT.quadrants()[:3]):
        places += [{**p, "id": f"q{index}-{p['id']}"} for p in make_places(10, quadrant, seed=index + 10)]
    api = FakePlacesApi(places)
    [city] = collect(api, max_restaurants=1000, queries_in_flight=1).collected
    assert city.places == 130


def test_more_than_60_places_at_one_point_keeps_the_60_the_api_returns_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No rectangle can separate places with the same coordinates: below the smallest tile (~50 m) the collector
    fetches the rectangle as it is, keeps the 60 places Google returns for it, counts it and logs it."""
    food_court = at(48.853, 2.301, 90, "food-court")
    others = make_places(200, seed=5)
    api = FakePlacesApi(food_court + others)
    with caplog.at_level(logging.INFO, logger="services.collector.domain.collect"):
        [city] = collect(api, max_restaurants=1000).collected
    assert len([i for i in api.kept if i.startswith("food-court")]) == RESULT_CAP
    assert {p["id"] for p in others} <= api.kept
    assert city.places == RESULT_CAP + len(others)
    assert "1 rectangles at the cap that could not be split" in caplog.text


def test_a_rectangle_that_fills_up_between_count_and_fetch_is_split_and_nothing_is_lost() -> None:
    """Places may appear between the free count and the billed fetch: a fetch that comes back at the cap is not
    trusted as complete; the rectangle is split and counted again."""
    base = make_places(300, seed=8)
    opening = Rectangle(48.811, 2.211, 48.813, 2.214)  # a new food hall: 120 places appear at once
    newcomers = [{**p, "id": "new-" + p["id"]} for p in make_places(120, opening, seed=9)]

    class Growing(FakePlacesApi):
        async def search_text(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]:
            box = Rectangle.from_api(body.get("locationRestriction", {}).get("rectangle"))
            if not ids_only(field_mask) and box is not None and _holds(box, opening) and len(self.places) == 300:
                self.places = self.places + newcomers  # they open as the rectangle holding them is fetched
            return await super().search_text(body, field_mask, counters)

    api = Growing(base)
    [city] = collect(api, max_restaurants=10_000, queries_in_flight=1).collected
    assert len(api.places) == 420, "the newcomers appeared during the collection"
    assert api.kept == {p["id"] for p in base + newcomers}
    assert city.places == 420
    assert max(api.billed_rectangle_answers) == RESULT_CAP  # the fetch that came back full, then split


def _holds(outer: Rectangle, inner: Rectangle) -> bool:
    return (
        outer.low_lat <= inner.low_lat
        and outer.low_lng <= inner.low_lng
        and outer.high_lat >= inner.high_lat
        and outer.high_lng >= inner.high_lng
    )


# --- what it costs ---------------------------------------------------------------------------------------------


def test_counting_uses_the_ids_only_mask_and_billed_requests_only_fetch_complete_rectangles() -> None:
    api = FakePlacesApi(make_places(3000, seed=4))
    [city] = collect(api, max_restaurants=3000).collected
    assert city.places == 3000
    counts = [mask for mask in api.masks if mask == COUNT_FIELD_MASK]
    assert counts and city.counters.free_requests == len(counts)
    assert city.counters.requests == len(api.calls)
    assert api.billed_rectangle_answers and max(api.billed_rectangle_answers) < RESULT_CAP


def test_billed_requests_per_1000_places_stay_near_the_floor_of_50() -> None:
    api = FakePlacesApi(make_places(3000, seed=6))
    [city] = collect(api, max_restaurants=3000).collected
    billed = city.counters.requests - city.counters.free_requests
    assert len(api.billed_calls()) == billed
    per_thousand = billed / city.places * 1000
    assert math.ceil(3000 / 20) / 3 <= per_thousand <= 66  # floor 50; before counting (billed tiling) it was ~90
