"""Which Text Search SKU a request's field mask triggers, so that the stub can count requests as Google bills them.

Google bills each Text Search (New) request once, at the most expensive SKU among the fields of its mask
(https://developers.google.com/maps/billing-and-pricing/sku-details/places, "Field mask billing"). A mask of
`places.id` and/or `places.name` only is the IDs-only SKU ("Text Search Essentials IDs Only"), priced $0.00 in every
volume band (https://developers.google.com/maps/documentation/places/web-service/preview-billing, "SKU: Text Search
(ID Only)": triggered only when the mask asks for places.id and/or places.name). Which field falls in which tier
and the prices: docs/collector.md, "What it costs".
"""

from __future__ import annotations

from typing import Literal

from restaurant_pipeline.local.places_stub.protocol import MaskTree

Sku = Literal["essentials_ids_only", "pro", "enterprise", "enterprise_atmosphere"]
SKUS: tuple[Sku, ...] = ("essentials_ids_only", "pro", "enterprise", "enterprise_atmosphere")
FREE_SKUS: frozenset[Sku] = frozenset({"essentials_ids_only"})

IDS_ONLY_FIELDS = frozenset({"id", "name"})
ENTERPRISE_FIELDS = frozenset(
    {
        "currentOpeningHours",
        "currentSecondaryOpeningHours",
        "internationalPhoneNumber",
        "nationalPhoneNumber",
        "priceLevel",
        "priceRange",
        "rating",
        "regularOpeningHours",
        "regularSecondaryOpeningHours",
        "userRatingCount",
        "websiteUri",
    }
)
ATMOSPHERE_FIELDS = frozenset(
    {
        "allowsDogs",
        "curbsidePickup",
        "delivery",
        "dineIn",
        "editorialSummary",
        "evChargeAmenitySummary",
        "evChargeOptions",
        "fuelOptions",
        "generativeSummary",
        "goodForChildren",
        "goodForGroups",
        "goodForWatchingSports",
        "liveMusic",
        "menuForChildren",
        "neighborhoodSummary",
        "outdoorSeating",
        "parkingOptions",
        "paymentOptions",
        "reservable",
        "restroom",
        "reviewSummary",
        "reviews",
        "servesBeer",
        "servesBreakfast",
        "servesBrunch",
        "servesCocktails",
        "servesCoffee",
        "servesDessert",
        "servesDinner",
        "servesLunch",
        "servesVegetarianFood",
        "servesWine",
        "takeout",
    }
)


def sku_for_mask(mask: MaskTree | bool) -> Sku:
    """The SKU a parsed field mask (protocol.parse_field_mask) is billed at; "*" asks for every field."""
    if mask is True or not isinstance(mask, dict):
        return "enterprise_atmosphere"
    places = mask.get("places")
    if places is True:
        return "enterprise_atmosphere"
    fields = set(places) if isinstance(places, dict) else set()
    other_responses = set(mask) - {"places", "nextPageToken"}
    if fields & ATMOSPHERE_FIELDS:
        return "enterprise_atmosphere"
    if fields & ENTERPRISE_FIELDS:
        return "enterprise"
    if fields - IDS_ONLY_FIELDS or other_responses:
        return "pro"
    return "essentials_ids_only"
