"""Places API (New) searchText as Google speaks it: error bodies, field masks, page tokens, the request.

Pure functions, no I/O: the aiohttp app (app.py) strings them together, unit tests call them directly.
Error bodies follow google.rpc.Status as the API returns them over REST:
{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT", "details": [...]}}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

SERVICE = "places.googleapis.com"
PROJECT_NUMBER = "000000000000"
MAX_PAGE_SIZE = 20
RESULT_CAP = 60  # a single searchText query never yields more than 60 places

# Fields of the Place resource the API documents; a mask naming anything else is refused.
PLACE_FIELDS = frozenset(
    [
        "accessibilityOptions",
        "addressComponents",
        "addressDescriptor",
        "adrFormatAddress",
        "allowsDogs",
        "attributions",
        "businessStatus",
        "containingPlaces",
        "curbsidePickup",
        "currentOpeningHours",
        "currentSecondaryOpeningHours",
        "delivery",
        "dineIn",
        "displayName",
        "editorialSummary",
        "evChargeAmenitySummary",
        "evChargeOptions",
        "formattedAddress",
        "fuelOptions",
        "generativeSummary",
        "goodForChildren",
        "goodForGroups",
        "goodForWatchingSports",
        "googleMapsLinks",
        "googleMapsUri",
        "iconBackgroundColor",
        "iconMaskBaseUri",
        "id",
        "internationalPhoneNumber",
        "liveMusic",
        "location",
        "menuForChildren",
        "name",
        "nationalPhoneNumber",
        "neighborhoodSummary",
        "outdoorSeating",
        "parkingOptions",
        "paymentOptions",
        "photos",
        "plusCode",
        "postalAddress",
        "priceLevel",
        "priceRange",
        "primaryType",
        "primaryTypeDisplayName",
        "pureServiceAreaBusiness",
        "rating",
        "regularOpeningHours",
        "regularSecondaryOpeningHours",
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
        "shortFormattedAddress",
        "subDestinations",
        "takeout",
        "timeZone",
        "types",
        "userRatingCount",
        "utcOffsetMinutes",
        "viewport",
        "websiteUri",
    ]
)
RESPONSE_FIELDS = frozenset({"places", "nextPageToken", "contextualContents", "routingSummaries", "searchUri"})
REQUEST_FIELDS = frozenset(
    {
        "textQuery",
        "languageCode",
        "regionCode",
        "rankPreference",
        "includedType",
        "openNow",
        "minRating",
        "maxResultCount",
        "pageSize",
        "pageToken",
        "priceLevels",
        "strictTypeFiltering",
        "locationBias",
        "locationRestriction",
        "evOptions",
        "routingParameters",
        "searchAlongRouteParameters",
        "includePureServiceAreaBusinesses",
    }
)
PRICE_LEVEL_VALUES = frozenset(
    {
        "PRICE_LEVEL_UNSPECIFIED",
        "PRICE_LEVEL_FREE",
        "PRICE_LEVEL_INEXPENSIVE",
        "PRICE_LEVEL_MODERATE",
        "PRICE_LEVEL_EXPENSIVE",
        "PRICE_LEVEL_VERY_EXPENSIVE",
    }
)
# Paging may change only these; any other difference from the first request invalidates the token.
PAGING_FIELDS = frozenset({"pageToken", "pageSize", "maxResultCount"})

FIELD_MASK_MISSING = (
    "FieldMask is a required parameter. See https://cloud.google.com/apis/docs/system-parameters on how to "
    "provide it. As an example, you can set the header 'X-Goog-FieldMask' to value 'places.displayName', "
    "'places.id' to ask for the display name and the place id of a place. You can also set the value to '*' in "
    "manual testing to get all the available response fields."
)
API_KEY_INVALID = "API key not valid. Please pass a valid API key."
API_KEY_MISSING = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


class ApiError(Exception):
    """An answer other than 200: the HTTP status and the google.rpc.Status body."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {"error": {"code": code, "message": message, "status": status}}
        if details:
            self.body["error"]["details"] = details


def _error_info(reason: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": metadata,
    }


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def invalid_key() -> ApiError:
    return ApiError(
        400,
        "INVALID_ARGUMENT",
        API_KEY_INVALID,
        [
            _error_info("API_KEY_INVALID", {"service": SERVICE}),
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": API_KEY_INVALID,
            },
        ],
    )


def missing_key() -> ApiError:
    return ApiError(
        403,
        "PERMISSION_DENIED",
        API_KEY_MISSING,
        [_error_info("CREDENTIALS_MISSING", {"service": SERVICE})],
    )


def service_disabled() -> ApiError:
    url = f"https://console.developers.google.com/apis/api/{SERVICE}/overview?project={PROJECT_NUMBER}"
    message = (
        f"Places API (New) has not been used in project {PROJECT_NUMBER} before or it is disabled. Enable it by "
        f"visiting {url} then retry. If you enabled this API recently, wait a few minutes for the action to "
        "propagate to our systems and retry."
    )
    return ApiError(
        403,
        "PERMISSION_DENIED",
        message,
        [
            _error_info(
                "SERVICE_DISABLED",
                {
                    "consumer": f"projects/{PROJECT_NUMBER}",
                    "service": SERVICE,
                    "serviceTitle": "Places API (New)",
                    "activationUrl": url,
                    "containerInfo": PROJECT_NUMBER,
                },
            ),
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{"description": "Google developers console API activation", "url": url}],
            },
        ],
    )


def quota_exceeded(period: str, limit: int) -> ApiError:
    """429 RESOURCE_EXHAUSTED; period is "minute" or "day" and is named in the message as Google does."""
    unit = "Minute" if period == "minute" else "Day"
    message = (
        f"Quota exceeded for quota metric 'SearchTextRequest' and limit 'SearchTextRequest per {period}' of "
        f"service '{SERVICE}' for consumer 'project_number:{PROJECT_NUMBER}'."
    )
    return ApiError(
        429,
        "RESOURCE_EXHAUSTED",
        message,
        [
            _error_info(
                "RATE_LIMIT_EXCEEDED",
                {
                    "service": SERVICE,
                    "consumer": f"projects/{PROJECT_NUMBER}",
                    "quota_metric": f"{SERVICE}/search_text_requests",
                    "quota_limit": f"SearchTextRequestPer{unit}PerProject",
                    "quota_limit_value": str(limit),
                    "quota_location": "global",
                    "quota_unit": f"1/{'min' if period == 'minute' else 'd'}/{{project}}",
                },
            ),
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Request a higher quota limit.",
                        "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                    }
                ],
            },
        ],
    )


def unavailable() -> ApiError:
    return ApiError(503, "UNAVAILABLE", "The service is currently unavailable.")


def internal() -> ApiError:
    return ApiError(500, "INTERNAL", "Internal error encountered.")


# --- field masks -----------------------------------------------------------------------------------------

MaskTree = dict[str, Any]  # field -> subtree, or True for "everything below"


def parse_field_mask(raw: str | None) -> MaskTree | bool:
    """The response mask as a tree; True for "*". ApiError (400) when missing or naming unknown fields."""
    if raw is None or not raw.strip():
        raise invalid_argument(FIELD_MASK_MISSING)
    paths = [path.strip() for path in raw.split(",") if path.strip()]
    if "*" in paths:
        return True
    tree: MaskTree = {}
    for path in paths:
        parts = path.split(".")
        top = parts[0]
        if top not in RESPONSE_FIELDS or (top == "places" and len(parts) > 1 and parts[1] not in PLACE_FIELDS):
            raise invalid_argument(
                f"Error expanding 'fields' parameter. Cannot find matching fields for path '{path}'."
            )
        node: Any = tree
        for index, part in enumerate(parts):
            if node is True:
                break
            if index == len(parts) - 1:
                node[part] = True
            else:
                existing = node.get(part)
                if existing is True:
                    break
                node = node.setdefault(part, {})
    return tree


def project(value: Any, tree: MaskTree | bool) -> Any:
    """Keep only the masked paths of `value` (lists are projected element by element)."""
    if tree is True:
        return value
    if isinstance(value, list):
        return [project(item, tree) for item in value]
    if isinstance(value, dict):
        assert isinstance(tree, dict)
        kept = {key: project(value[key], sub) for key, sub in tree.items() if key in value}
        return {key: sub for key, sub in kept.items() if sub != {}}
    return value


def mask_includes(tree: MaskTree | bool, field: str) -> bool:
    return tree is True or (isinstance(tree, dict) and field in tree)


# --- page tokens -----------------------------------------------------------------------------------------


def request_fingerprint(body: dict[str, Any]) -> str:
    """What a page token is bound to: every parameter except the paging ones."""
    bound = {key: value for key, value in body.items() if key not in PAGING_FIELDS}
    return hashlib.sha256(json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def make_page_token(secret: bytes, fingerprint: str, offset: int) -> str:
    payload = json.dumps({"f": fingerprint, "o": offset}, separators=(",", ":")).encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return "AUac" + base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def read_page_token(secret: bytes, token: str, fingerprint: str) -> int:
    """The offset a token points at; 400 if it is forged or was issued for a different request."""
    problem = invalid_argument(
        "Invalid pageToken: it is malformed, or the request's other parameters differ from the request that "
        "returned it (only pageToken and pageSize may change between pages)."
    )
    if not token.startswith("AUac"):
        raise problem
    try:
        raw = base64.urlsafe_b64decode(token[4:] + "=" * (-len(token[4:]) % 4))
    except (ValueError, TypeError):
        raise problem from None
    payload, mac = raw[:-16], raw[-16:]
    if not hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest()[:16]):
        raise problem
    try:
        data = json.loads(payload)
    except ValueError:
        raise problem from None
    if data.get("f") != fingerprint or not isinstance(data.get("o"), int):
        raise problem
    return int(data["o"])


# --- the request -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rectangle:
    low_lat: float
    low_lng: float
    high_lat: float
    high_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        return self.low_lat <= lat <= self.high_lat and self.low_lng <= lng <= self.high_lng


@dataclass(frozen=True)
class SearchRequest:
    text_query: str
    language: str | None
    page_size: int
    page_token: str | None
    rectangle: Rectangle | None
    included_type: str | None
    min_rating: float | None
    price_levels: frozenset[str]
    fingerprint: str


def _latlng(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, dict):
        raise invalid_argument(f"Invalid {where}: expected an object with latitude and longitude.")
    lat, lng = value.get("latitude", 0.0), value.get("longitude", 0.0)
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        raise invalid_argument(f"Invalid {where}: latitude and longitude must be numbers.")
    if not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise invalid_argument(f"Invalid {where}: latitude must be in [-90, 90] and longitude in [-180, 180].")
    return float(lat), float(lng)


def parse_search_request(body: Any) -> SearchRequest:
    """Validate a searchText body the way the API does; ApiError (400) naming the problem."""
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected an object.")
    for key in body:
        if key not in REQUEST_FIELDS:
            raise invalid_argument(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
    text_query = body.get("textQuery")
    if not isinstance(text_query, str) or not text_query.strip():
        raise invalid_argument("Empty text_query.")
    page_size = body.get("pageSize", body.get("maxResultCount", 0)) or 0
    if not isinstance(page_size, int) or page_size < 0:
        raise invalid_argument("page_size must be a non-negative integer.")
    page_size = MAX_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
    if "locationBias" in body and "locationRestriction" in body:
        raise invalid_argument("Only one of location_bias and location_restriction can be set.")
    rectangle = None
    restriction = body.get("locationRestriction")
    if restriction is not None:
        if not isinstance(restriction, dict) or set(restriction) != {"rectangle"}:
            raise invalid_argument("location_restriction must be a rectangle viewport.")
        box = restriction["rectangle"]
        if not isinstance(box, dict):
            raise invalid_argument("Invalid location_restriction.rectangle.")
        low = _latlng(box.get("low"), "location_restriction.rectangle.low")
        high = _latlng(box.get("high"), "location_restriction.rectangle.high")
        if low[0] > high[0]:
            raise invalid_argument("Invalid viewport: low.latitude must be less than or equal to high.latitude.")
        rectangle = Rectangle(low[0], low[1], high[0], high[1])
    price_levels = body.get("priceLevels", [])
    if not isinstance(price_levels, list) or any(level not in PRICE_LEVEL_VALUES for level in price_levels):
        raise invalid_argument(f"Invalid price_levels: expected values among {sorted(PRICE_LEVEL_VALUES)}.")
    min_rating = body.get("minRating")
    if min_rating is not None and (not isinstance(min_rating, int | float) or not 0 <= min_rating <= 5):
        raise invalid_argument("min_rating must be between 0 and 5.")
    token = body.get("pageToken") or None
    if token is not None and not isinstance(token, str):
        raise invalid_argument("Invalid pageToken.")
    language = body.get("languageCode")
    return SearchRequest(
        text_query=text_query.strip(),
        language=language if isinstance(language, str) and language else None,
        page_size=page_size,
        page_token=token,
        rectangle=rectangle,
        included_type=body.get("includedType") or None,
        min_rating=float(min_rating) if min_rating is not None else None,
        price_levels=frozenset(price_levels),
        fingerprint=request_fingerprint(body),
    )
