"""The Places stub's pure parts: the synthetic world, field masks, page tokens, request validation."""

from __future__ import annotations

from typing import Any

import pytest

from restaurant_pipeline.local.places_stub import max_in_window
from restaurant_pipeline.local.places_stub.billing import sku_for_mask
from restaurant_pipeline.local.places_stub.protocol import (
    FIELD_MASK_MISSING,
    RESULT_CAP,
    ApiError,
    make_page_token,
    parse_field_mask,
    parse_search_request,
    project,
    read_page_token,
    request_fingerprint,
)
from restaurant_pipeline.local.places_stub.search import find_places, interpret
from restaurant_pipeline.local.places_stub.world import build_city, normalise_city

SECRET = b"s" * 32


def search(body: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    return find_places(parse_search_request(body), seed, None)


def test_the_same_city_gives_the_same_places_and_another_seed_another_world() -> None:
    first = build_city(0, "paris", "Paris", None)
    build_city.cache_clear()
    again = build_city(0, "paris", "Paris", None)
    other = build_city(1, "paris", "Paris", None)
    assert first.restaurants == again.restaurants
    assert first.restaurants[0]["id"] != other.restaurants[0]["id"]
    assert 1500 <= len(first.restaurants) <= 4000


def test_restaurants_look_like_places_and_lie_inside_the_city_viewport() -> None:
    city = build_city(0, "lyon", "Lyon", None)
    statuses = {place["businessStatus"] for place in city.restaurants}
    assert statuses == {"OPERATIONAL", "CLOSED_TEMPORARILY", "CLOSED_PERMANENTLY"}
    assert {place.get("priceLevel") for place in city.restaurants} >= {
        "PRICE_LEVEL_INEXPENSIVE",
        "PRICE_LEVEL_MODERATE",
        "PRICE_LEVEL_EXPENSIVE",
        "PRICE_LEVEL_VERY_EXPENSIVE",
        None,
    }
    for place in city.restaurants:
        assert place["id"].startswith("ChIJ") and len(place["id"]) == 27
        assert place["name"] == f"places/{place['id']}"
        assert city.box.contains(place["location"]["latitude"], place["location"]["longitude"])
        assert "restaurant" in place["types"]
        if "rating" in place:
            assert 1.0 <= place["rating"] <= 5.0 and place["userRatingCount"] >= 1


def test_restaurants_are_dense_in_the_centre_and_sparse_at_the_edge() -> None:
    city = build_city(0, "paris", "Paris", 5_000)
    box = city.box
    cells: dict[tuple[int, int], int] = {}
    for place in city.restaurants:
        lat, lng = place["location"]["latitude"], place["location"]["longitude"]
        row = min(9, int((lat - box.low_lat) / (box.high_lat - box.low_lat) * 10))
        column = min(9, int((lng - box.low_lng) / (box.high_lng - box.low_lng) * 10))
        cells[row, column] = cells.get((row, column), 0) + 1
    border = [cells.get((r, c), 0) for r in range(10) for c in range(10) if r in (0, 9) or c in (0, 9)]
    centre = cells.get((4, 4), 0) + cells.get((4, 5), 0) + cells.get((5, 4), 0) + cells.get((5, 5), 0)
    assert len(city.restaurants) == 5_000
    assert centre / 4 > 20 * (sum(border) / len(border))  # the centre is far denser than the edge
    assert min(border) > 0  # but the edge is not empty
    on_the_edges = [
        p
        for p in city.restaurants
        if p["location"]["latitude"] in (box.low_lat, box.high_lat)
        or p["location"]["longitude"] in (box.low_lng, box.high_lng)
    ]
    assert on_the_edges == []  # nothing clamped onto the viewport's border


def test_some_restaurants_share_an_address_and_relevance_ignores_location() -> None:
    city = build_city(0, "lyon", "Lyon", 4000)
    spots = [(p["location"]["latitude"], p["location"]["longitude"]) for p in city.restaurants]
    assert len(set(spots)) < len(spots)
    top = spots[:400]  # the most relevant tenth is spread like the whole city, not gathered in one corner
    north = sum(1 for lat, _ in top if lat > city.box.center[0]) / len(top)
    everyone = sum(1 for lat, _ in spots if lat > city.box.center[0]) / len(spots)
    assert abs(north - everyone) < 0.08


@pytest.mark.parametrize(
    ("mask", "sku"),
    [
        ("places.id,nextPageToken", "essentials_ids_only"),
        ("places.id,places.name", "essentials_ids_only"),
        ("places.id,places.displayName,places.location,nextPageToken", "pro"),
        ("places.id,places.location,places.rating,nextPageToken", "enterprise"),
        ("places.id,places.rating,places.reviews", "enterprise_atmosphere"),
        ("*", "enterprise_atmosphere"),
        ("places", "enterprise_atmosphere"),
    ],
)
def test_a_request_is_billed_at_the_most_expensive_field_of_its_mask(mask: str, sku: str) -> None:
    assert sku_for_mask(parse_field_mask(mask)) == sku


def test_any_city_name_gets_a_world() -> None:
    assert normalise_city(" Saint-Étienne ") == "saint etienne"
    places = search({"textQuery": "restaurants in Zanzibarville"})
    assert len(places) == RESULT_CAP


def test_reviews_come_in_the_requested_language_with_the_original_kept() -> None:
    french = search({"textQuery": "restaurants in Paris", "languageCode": "fr"})
    english = search({"textQuery": "restaurants in Paris", "languageCode": "en"})
    reviews_fr = [r for p in french for r in p.get("reviews", [])]
    reviews_en = [r for p in english for r in p.get("reviews", [])]
    assert reviews_fr and all(r["text"]["languageCode"] == "fr" for r in reviews_fr)
    assert all(r["text"]["languageCode"] == "en" for r in reviews_en)
    assert {r["originalText"]["languageCode"] for r in reviews_fr} == {"fr", "en"}
    review = reviews_fr[0]
    assert set(review) == {
        "name",
        "relativePublishTimeDescription",
        "rating",
        "text",
        "originalText",
        "authorAttribution",
        "publishTime",
    }
    assert set(review["authorAttribution"]) == {"displayName", "uri", "photoUri"}


def test_a_query_is_capped_at_60_and_a_rectangle_restricts_it() -> None:
    everything = search({"textQuery": "restaurants in Paris"})
    assert len(everything) == RESULT_CAP
    box = {"low": {"latitude": 48.85, "longitude": 2.30}, "high": {"latitude": 48.86, "longitude": 2.32}}
    inside = search({"textQuery": "restaurants in Paris", "locationRestriction": {"rectangle": box}})
    assert inside
    for place in inside:
        assert 48.85 <= place["location"]["latitude"] <= 48.86
        assert 2.30 <= place["location"]["longitude"] <= 2.32


def test_the_city_itself_comes_back_with_its_viewport() -> None:
    assert interpret("Paris") == (None, "Paris")
    assert interpret("restaurants in Rio de Janeiro") == ("restaurants", "Rio de Janeiro")
    [city] = search({"textQuery": "Paris"})
    assert "locality" in city["types"]
    assert city["viewport"]["low"] == {"latitude": 48.8156, "longitude": 2.2242}


def test_a_cuisine_in_the_query_filters_the_results() -> None:
    assert {p["primaryType"] for p in search({"textQuery": "sushi in Paris"})} == {"japanese_restaurant"}


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_a_missing_field_mask_is_googles_400(raw: str | None) -> None:
    with pytest.raises(ApiError) as raised:
        parse_field_mask(raw)
    assert raised.value.code == 400 and raised.value.body["error"]["message"] == FIELD_MASK_MISSING


def test_an_unknown_field_in_the_mask_is_refused() -> None:
    with pytest.raises(ApiError, match=r"places\.flavour"):
        parse_field_mask("places.id,places.flavour")


def test_only_masked_fields_are_returned() -> None:
    place = search({"textQuery": "restaurants in Paris", "languageCode": "fr"})[0]
    answer = {"places": [place], "nextPageToken": "t"}
    assert project(answer, parse_field_mask("places.id,places.displayName.text")) == {
        "places": [{"id": place["id"], "displayName": {"text": place["displayName"]["text"]}}]
    }
    assert project(answer, parse_field_mask("places.reviews.rating"))["places"][0]["reviews"][0] == {
        "rating": place["reviews"][0]["rating"]
    }
    assert project(answer, parse_field_mask("*")) == answer


def test_a_page_token_only_works_for_the_request_that_returned_it() -> None:
    body = {"textQuery": "restaurants in Paris", "languageCode": "fr", "pageSize": 20}
    token = make_page_token(SECRET, request_fingerprint(body), 20)
    assert read_page_token(SECRET, token, request_fingerprint({**body, "pageSize": 10, "pageToken": token})) == 20
    for changed in ({**body, "languageCode": "en"}, {**body, "textQuery": "restaurants in Lyon"}):
        with pytest.raises(ApiError, match="pageToken"):
            read_page_token(SECRET, token, request_fingerprint(changed))
    with pytest.raises(ApiError):
        read_page_token(b"x" * 32, token, request_fingerprint(body))  # forged (another secret)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "text_query"),
        ({"textQuery": "x", "color": "red"}, 'Unknown name "color"'),
        ({"textQuery": "x", "pageSize": -1}, "page_size"),
        ({"textQuery": "x", "locationRestriction": {"circle": {}}}, "rectangle"),
        (
            {
                "textQuery": "x",
                "locationRestriction": {
                    "rectangle": {"low": {"latitude": 2, "longitude": 0}, "high": {"latitude": 1, "longitude": 1}}
                },
            },
            "low.latitude",
        ),
    ],
)
def test_invalid_requests_are_refused_naming_the_problem(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(ApiError, match=problem) as raised:
        parse_search_request(body)
    assert raised.value.code == 400


def test_page_size_is_clamped_to_20() -> None:
    assert parse_search_request({"textQuery": "x", "pageSize": 50}).page_size == 20
    assert parse_search_request({"textQuery": "x"}).page_size == 20


def test_max_in_window_counts_a_half_open_window() -> None:
    assert max_in_window([0.0, 0.5, 1.0, 1.5], 1.0) == 2
    assert max_in_window([0.0, 0.1, 0.2, 5.0], 1.0) == 3
    assert max_in_window([], 60.0) == 0
