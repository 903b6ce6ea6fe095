"""What a searchText query finds in the synthetic world.

"<what> in <city>" (also à, near, at, around) searches the city's restaurants, filtered by cuisine when
<what> names one ("sushi in Lyon"); a query that is just a place name ("Paris") finds the city itself, with
its viewport, which is how a client learns the area to split into locationRestriction rectangles.
Results are ordered by relevance and capped at 60, as the API does.
"""

from __future__ import annotations

import re
from typing import Any

from restaurant_pipeline.local.places_stub.protocol import RESULT_CAP, SearchRequest
from restaurant_pipeline.local.places_stub.world import CUISINE_KEYWORDS, build_city, localise, normalise_city

_IN_CITY = re.compile(r"^(?P<what>.+?)\s+(?:in|à|near|at|around)\s+(?P<city>[^,]+)(?:,.*)?$", re.I)


def interpret(text_query: str) -> tuple[str | None, str]:
    """(what, city): what is None when the query names a place rather than things in a place."""
    match = _IN_CITY.match(text_query.strip())
    if match:
        return match.group("what").strip(), match.group("city").strip()
    return None, text_query.split(",")[0].strip()


def _cuisines(what: str) -> set[str] | None:
    wanted: set[str] = set()
    for word in re.findall(r"[\wÀ-ÿ]+", what.casefold()):
        wanted.update(CUISINE_KEYWORDS.get(word, ()))
    return wanted or None


def find_places(request: SearchRequest, seed: int, places_per_city: int | None) -> list[dict[str, Any]]:
    """Every place the query yields, most relevant first, at most RESULT_CAP, as the API words them."""
    return [localise(place, request.language) for place in match_places(request, seed, places_per_city)]


def match_places(request: SearchRequest, seed: int, places_per_city: int | None) -> list[dict[str, Any]]:
    """find_places without the wording for the request's language (the caller localises the page it returns)."""
    what, city_name = interpret(request.text_query)
    key = normalise_city(city_name)
    if not key:
        return []
    city = build_city(seed, key, city_name, places_per_city)
    if what is None:
        lat, lng = city.locality["location"]["latitude"], city.locality["location"]["longitude"]
        if request.rectangle is not None and not request.rectangle.contains(lat, lng):
            return []
        return [city.locality]
    cuisines = _cuisines(what)
    box = request.rectangle
    candidates = (
        (city.restaurants[rank] for rank in city.ranks_within(box.low_lat, box.low_lng, box.high_lat, box.high_lng))
        if box is not None
        else iter(city.restaurants)
    )
    found: list[dict[str, Any]] = []
    for place in candidates:
        if cuisines is not None and place["primaryType"] not in cuisines:
            continue
        if request.included_type and request.included_type not in place["types"]:
            continue
        if request.min_rating is not None and place.get("rating", 0.0) < request.min_rating:
            continue
        if request.price_levels and place.get("priceLevel") not in request.price_levels:
            continue
        found.append(place)
        if len(found) == RESULT_CAP:
            break
    return found
