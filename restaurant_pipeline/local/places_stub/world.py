"""A deterministic synthetic world: for any city name, a viewport and a few thousand restaurants.

Everything is derived from (seed, normalised city name) with a string-seeded random.Random, so the same
city gives the same places in every process and on every machine. A few real viewports are known so that
Paris looks like Paris; any other name gets a viewport somewhere on land-ish latitudes from its hash.
Restaurants are dense in the centre and sparse at the edge (spread_locations), and their relevance does not
depend on where they are. Places are shaped like the Places API (New) Place resource (the fields the API
documents, camelCase).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import math
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

# A fixed "now" for review dates, so that answers stay identical from one day to the next.
REFERENCE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Box:
    low_lat: float
    low_lng: float
    high_lat: float
    high_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        return self.low_lat <= lat <= self.high_lat and self.low_lng <= lng <= self.high_lng

    def to_api(self) -> dict[str, dict[str, float]]:
        return {
            "low": {"latitude": self.low_lat, "longitude": self.low_lng},
            "high": {"latitude": self.high_lat, "longitude": self.high_lng},
        }

    @property
    def center(self) -> tuple[float, float]:
        return (self.low_lat + self.high_lat) / 2, (self.low_lng + self.high_lng) / 2


@dataclass(frozen=True)
class KnownCity:
    name: str
    country: str
    postcode: str
    box: Box
    phone_prefix: str
    utc_offset_minutes: int


KNOWN_CITIES: dict[str, KnownCity] = {
    "paris": KnownCity("Paris", "France", "750", Box(48.8156, 2.2242, 48.9022, 2.4699), "01", 60),
    "lyon": KnownCity("Lyon", "France", "690", Box(45.7073, 4.7718, 45.8082, 4.8984), "04", 60),
    "marseille": KnownCity("Marseille", "France", "130", Box(43.1696, 5.2286, 43.3911, 5.5323), "04", 60),
    "bordeaux": KnownCity("Bordeaux", "France", "330", Box(44.8107, -0.6387, 44.9167, -0.5334), "05", 60),
    "toulouse": KnownCity("Toulouse", "France", "310", Box(43.5327, 1.3503, 43.6688, 1.5153), "05", 60),
    "nice": KnownCity("Nice", "France", "060", Box(43.6450, 7.1820, 43.7608, 7.3240), "04", 60),
    "lille": KnownCity("Lille", "France", "590", Box(50.6003, 2.9685, 50.6603, 3.1257), "03", 60),
    "nantes": KnownCity("Nantes", "France", "440", Box(47.1805, -1.6418, 47.2958, -1.4788), "02", 60),
    "strasbourg": KnownCity("Strasbourg", "France", "670", Box(48.4918, 7.6880, 48.6460, 7.8363), "03", 60),
    "london": KnownCity("London", "United Kingdom", "", Box(51.2868, -0.5104, 51.6919, 0.3340), "020", 0),
}

FRENCH_STREETS = ("Rue", "Avenue", "Boulevard", "Place", "Quai", "Impasse", "Passage")
STREET_NAMES = (
    "de la République",
    "Victor Hugo",
    "Jean Jaurès",
    "du Commerce",
    "des Martyrs",
    "Saint-Honoré",
    "de la Paix",
    "Gambetta",
    "Pasteur",
    "des Lilas",
    "du Marché",
    "de Verdun",
    "Voltaire",
    "Molière",
    "des Écoles",
    "de la Gare",
    "Émile Zola",
    "Carnot",
    "du Port",
    "des Tanneurs",
    "Montmartre",
)
FIRST_NAMES = ("Marcel", "Louise", "Jeanne", "Paul", "Henri", "Margot", "Lucien", "Odette", "Nino", "Suzanne")
ADJECTIVES = ("Petit", "Grand", "Vieux", "Bon", "Joli", "Nouveau", "Gros")
NOUNS = ("Zinc", "Comptoir", "Bouchon", "Jardin", "Marché", "Moulin", "Carillon", "Verre", "Pont")

# (primary type, display name in English, name patterns)
CUISINES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("french_restaurant", "French Restaurant", ("Le {adj} {noun}", "Chez {first}", "Bistrot {first}")),
    ("bistro", "Bistro", ("Le {noun} de {first}", "Bistrot du {noun}")),
    ("brasserie", "Brasserie", ("Brasserie {street}", "Brasserie du {noun}")),
    ("italian_restaurant", "Italian Restaurant", ("Trattoria {first}", "Osteria del {noun}", "Da {first}")),
    ("pizza_restaurant", "Pizza Restaurant", ("Pizzeria {first}", "Pizza {noun}")),
    ("japanese_restaurant", "Japanese Restaurant", ("Sushi {first}", "Izakaya {noun}")),
    ("ramen_restaurant", "Ramen Restaurant", ("Ramen {first}",)),
    ("chinese_restaurant", "Chinese Restaurant", ("Le Dragon {adj}", "Jardin de Chine {first}")),
    ("vietnamese_restaurant", "Vietnamese Restaurant", ("Pho {first}", "Saïgon {noun}")),
    ("thai_restaurant", "Thai Restaurant", ("Thaï {noun}", "Bangkok {first}")),
    ("indian_restaurant", "Indian Restaurant", ("Taj {first}", "Le Palais du {noun}")),
    ("lebanese_restaurant", "Lebanese Restaurant", ("Le Cèdre {adj}", "Beyrouth {first}")),
    ("seafood_restaurant", "Seafood Restaurant", ("La Marée {first}", "L'Écailler du {noun}")),
    ("steak_house", "Steak House", ("Le Bœuf {adj}", "Grill {first}")),
    ("hamburger_restaurant", "Hamburger Restaurant", ("Burger {first}", "Big {noun} Burger")),
    ("vegetarian_restaurant", "Vegetarian Restaurant", ("Le Potager de {first}", "Green {noun}")),
    ("creperie", "Creperie", ("Crêperie {first}", "Ty {noun}")),
)
CUISINE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "french": ("french_restaurant", "bistro", "brasserie"),
    "bistro": ("bistro",),
    "bistrot": ("bistro",),
    "brasserie": ("brasserie",),
    "italian": ("italian_restaurant", "pizza_restaurant"),
    "italien": ("italian_restaurant", "pizza_restaurant"),
    "pizza": ("pizza_restaurant",),
    "pizzeria": ("pizza_restaurant",),
    "sushi": ("japanese_restaurant",),
    "japanese": ("japanese_restaurant", "ramen_restaurant"),
    "japonais": ("japanese_restaurant", "ramen_restaurant"),
    "ramen": ("ramen_restaurant",),
    "chinese": ("chinese_restaurant",),
    "chinois": ("chinese_restaurant",),
    "vietnamese": ("vietnamese_restaurant",),
    "thai": ("thai_restaurant",),
    "indian": ("indian_restaurant",),
    "indien": ("indian_restaurant",),
    "lebanese": ("lebanese_restaurant",),
    "libanais": ("lebanese_restaurant",),
    "seafood": ("seafood_restaurant",),
    "steak": ("steak_house",),
    "burger": ("hamburger_restaurant",),
    "burgers": ("hamburger_restaurant",),
    "vegetarian": ("vegetarian_restaurant",),
    "végétarien": ("vegetarian_restaurant",),
    "crêpes": ("creperie",),
    "crepes": ("creperie",),
}

PRICE_LEVELS = (
    (None, 10),
    ("PRICE_LEVEL_INEXPENSIVE", 30),
    ("PRICE_LEVEL_MODERATE", 45),
    ("PRICE_LEVEL_EXPENSIVE", 12),
    ("PRICE_LEVEL_VERY_EXPENSIVE", 3),
)
BUSINESS_STATUSES = (("OPERATIONAL", 93), ("CLOSED_TEMPORARILY", 4), ("CLOSED_PERMANENTLY", 3))

# (rating, French text, English text): the same review in both languages, so `text` can be "translated".
REVIEWS: tuple[tuple[int, str, str], ...] = (
    (
        5,
        "Excellent repas, service impeccable. Je recommande vivement !",
        "Excellent meal, flawless service. Highly recommended!",
    ),
    (
        5,
        "Une adresse incontournable, les plats sont délicieux et généreux.",
        "A must-visit place, the dishes are delicious and generous.",
    ),
    (5, "Accueil chaleureux et cuisine faite maison. Parfait.", "Warm welcome and home-made food. Perfect."),
    (4, "Très bon dans l'ensemble, un peu d'attente le soir.", "Very good overall, a bit of a wait in the evening."),
    (4, "Bonne cuisine, cadre agréable, prix corrects.", "Good food, pleasant setting, fair prices."),
    (4, "Plats savoureux, le dessert était un peu sucré.", "Tasty dishes, the dessert was a little too sweet."),
    (3, "Correct sans plus. Le service était lent.", "Decent but nothing more. The service was slow."),
    (3, "Moyen : bonne entrée mais plat principal fade.", "Average: good starter but a bland main course."),
    (
        2,
        "Déçu, le plat était froid et le serveur peu aimable.",
        "Disappointed, the dish was cold and the waiter unfriendly.",
    ),
    (2, "Trop cher pour la qualité proposée.", "Too expensive for the quality on offer."),
    (1, "À éviter. Attente interminable et commande erronée.", "Avoid. Endless wait and the wrong order."),
    (1, "Très mauvaise expérience, hygiène douteuse.", "Very bad experience, questionable hygiene."),
)
REVIEWER_NAMES = (
    "Marie L.",
    "Thomas Dubois",
    "Camille",
    "Julien M.",
    "Sophie Martin",
    "Lucas B.",
    "Emma Petit",
    "John Smith",
    "Sarah K.",
    "Hugo R.",
    "Léa Bernard",
    "Antoine",
    "Chloé Garnier",
    "David Chen",
)


def normalise_city(name: str) -> str:
    """Case, accents and spaces do not matter: 'Saint-Étienne' and 'saint etienne' are one city."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("-", " ").split())


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()


def place_id(seed: int, city_key: str, index: int) -> str:
    """27 characters starting with ChIJ, like Google's place ids."""
    return "ChIJ" + base64.urlsafe_b64encode(_digest("place", seed, city_key, index)).decode()[:23]


def _weighted(rng: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights=weights, k=1)[0]


def _relative_description(when: datetime, language: str) -> str:
    days = max(0, (REFERENCE_TIME - when).days)
    french = language.startswith("fr")
    if days < 7:
        return "il y a une semaine" if french else "a week ago"
    if days < 30:
        weeks = days // 7
        return (
            (f"il y a {weeks} semaines" if french else f"{weeks} weeks ago")
            if weeks > 1
            else ("il y a une semaine" if french else "a week ago")
        )
    if days < 365:
        months = days // 30
        return (
            (f"il y a {months} mois" if french else f"{months} months ago")
            if months > 1
            else ("il y a un mois" if french else "a month ago")
        )
    years = days // 365
    return (
        (f"il y a {years} ans" if french else f"{years} years ago")
        if years > 1
        else ("il y a un an" if french else "a year ago")
    )


@dataclass(frozen=True)
class City:
    key: str
    name: str
    country: str
    box: Box
    locality: dict[str, Any]
    restaurants: tuple[dict[str, Any], ...]  # ordered by relevance, most relevant first
    french: bool
    by_latitude: tuple[tuple[float, ...], tuple[int, ...]] = ((), ())  # sorted latitudes, and each one's rank

    def ranks_within(self, low_lat: float, low_lng: float, high_lat: float, high_lng: float) -> list[int]:
        """The relevance ranks (indexes into `restaurants`) of the places inside a rectangle, edges included, in
        relevance order: a search over the latitude index, not a scan of every place."""
        latitudes, ranks = self.by_latitude
        start, stop = bisect.bisect_left(latitudes, low_lat), bisect.bisect_right(latitudes, high_lat)
        inside = []
        for rank in ranks[start:stop]:
            longitude = self.restaurants[rank]["location"]["longitude"]
            if low_lng <= longitude <= high_lng:
                inside.append(rank)
        inside.sort()
        return inside


def _city_shape(seed: int, key: str, display: str) -> KnownCity:
    known = KNOWN_CITIES.get(key)
    if known is not None:
        return known
    rng = random.Random(f"{seed}:shape:{key}")
    lat = round(rng.uniform(-45.0, 60.0), 4)
    lng = round(rng.uniform(-120.0, 140.0), 4)
    half_lat = rng.uniform(0.04, 0.09)
    half_lng = half_lat / max(0.3, math.cos(math.radians(lat)))
    box = Box(round(lat - half_lat, 4), round(lng - half_lng, 4), round(lat + half_lat, 4), round(lng + half_lng, 4))
    return KnownCity(display, "Synthetica", "", box, "0", round(lng / 15.0) * 60)


# How a city's restaurants spread over its viewport: a dense centre, a few denser neighbourhoods, suburbs thinning
# out, and a sparse edge (parks, water, the outskirts that the viewport still covers). Shares of the places, each
# drawn as a 2-D Gaussian whose spread is a fraction of the viewport's sides; the edge is uniform. Measured on a
# 10 x 10 grid over the viewport (10,000 places): the densest cell holds ~50 times the average cell of the border
# (Paris: 906 against 19), the median cell 28.
CENTRE_SHARE, CENTRE_SPREAD = 0.40, 0.10
HUB_SHARE, HUB_SPREAD, HUBS = 0.30, 0.04, (3, 6)
SUBURB_SHARE, SUBURB_SPREAD = 0.20, 0.28  # the rest (0.10) is the uniform edge
# Some addresses hold several restaurants (a food court, a market hall, a station): same coordinates.
SHARED_ADDRESS_SHARE, SHARED_ADDRESS_SIZE = 0.01, (3, 12)


def spread_locations(rng: random.Random, box: Box, count: int) -> list[tuple[float, float]]:
    """`count` restaurant locations inside `box`, dense in the centre and sparse at the edge (the shares above).
    Draws outside the box are drawn again: nothing piles up on the viewport's edges."""
    span_lat = box.high_lat - box.low_lat
    span_lng = box.high_lng - box.low_lng
    centre_lat, centre_lng = box.center
    hubs = [
        (
            box.low_lat + span_lat * rng.uniform(0.2, 0.8),
            box.low_lng + span_lng * rng.uniform(0.2, 0.8),
            rng.uniform(0.5, 1.5),
        )
        for _ in range(rng.randint(*HUBS))
    ]
    hub_weights = [weight for _, _, weight in hubs]

    def draw() -> tuple[float, float]:
        kind = rng.random()
        if kind < CENTRE_SHARE:
            return rng.gauss(centre_lat, span_lat * CENTRE_SPREAD), rng.gauss(centre_lng, span_lng * CENTRE_SPREAD)
        if kind < CENTRE_SHARE + HUB_SHARE:
            hub_lat, hub_lng, _ = rng.choices(hubs, weights=hub_weights, k=1)[0]
            return rng.gauss(hub_lat, span_lat * HUB_SPREAD), rng.gauss(hub_lng, span_lng * HUB_SPREAD)
        if kind < CENTRE_SHARE + HUB_SHARE + SUBURB_SHARE:
            return rng.gauss(centre_lat, span_lat * SUBURB_SPREAD), rng.gauss(centre_lng, span_lng * SUBURB_SPREAD)
        return rng.uniform(box.low_lat, box.high_lat), rng.uniform(box.low_lng, box.high_lng)

    locations: list[tuple[float, float]] = []
    while len(locations) < count:
        lat, lng = draw()
        lat, lng = round(lat, 7), round(lng, 7)
        if not box.contains(lat, lng):
            continue
        together = rng.randint(*SHARED_ADDRESS_SIZE) if rng.random() < SHARED_ADDRESS_SHARE else 1
        locations.extend([(lat, lng)] * min(together, count - len(locations)))
    return locations


@lru_cache(maxsize=32)
def build_city(seed: int, key: str, display: str, places_per_city: int | None) -> City:
    shape = _city_shape(seed, key, display)
    french = shape.country == "France"
    rng = random.Random(f"{seed}:places:{key}")
    count = places_per_city if places_per_city is not None else 1500 + int.from_bytes(_digest(seed, key)[:2]) % 2501
    center_lat, center_lng = shape.box.center
    locations = spread_locations(random.Random(f"{seed}:layout:{key}"), shape.box, count)
    scored: list[tuple[float, dict[str, Any]]] = []
    for index, (lat, lng) in enumerate(locations):
        place = _restaurant(rng, seed, key, index, shape, lat, lng, french)
        # relevance does not depend on where a place is: a query's top 60 is a fair sample of its rectangle
        relevance = rng.random() + math.log1p(place.get("userRatingCount", 0)) / 10
        scored.append((relevance, place))
    scored.sort(key=lambda item: -item[0])
    locality_id = place_id(seed, key, -1)
    locality = {
        "name": f"places/{locality_id}",
        "id": locality_id,
        "types": ["locality", "political"],
        "formattedAddress": f"{shape.name}, {shape.country}",
        "shortFormattedAddress": shape.name,
        "location": {"latitude": round(center_lat, 7), "longitude": round(center_lng, 7)},
        "viewport": shape.box.to_api(),
        "displayName": {"text": shape.name, "languageCode": "fr" if french else "en"},
        "primaryType": "locality",
        "googleMapsUri": f"https://maps.google.com/?cid={int.from_bytes(_digest('cid', seed, key)[:8])}",
        "utcOffsetMinutes": shape.utc_offset_minutes,
    }
    restaurants = tuple(p for _, p in scored)
    by_latitude = sorted((p["location"]["latitude"], rank) for rank, p in enumerate(restaurants))
    latitude_index = (tuple(lat for lat, _ in by_latitude), tuple(rank for _, rank in by_latitude))
    return City(key, shape.name, shape.country, shape.box, locality, restaurants, french, latitude_index)


def _restaurant(
    rng: random.Random, seed: int, key: str, index: int, shape: KnownCity, lat: float, lng: float, french: bool
) -> dict[str, Any]:
    pid = place_id(seed, key, index)
    primary, primary_label, patterns = rng.choice(CUISINES)
    street = f"{rng.choice(FRENCH_STREETS)} {rng.choice(STREET_NAMES)}"
    name = rng.choice(patterns).format(
        adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS), first=rng.choice(FIRST_NAMES), street=rng.choice(NOUNS)
    )
    number = rng.randint(1, 180)
    if french:
        postcode = f"{shape.postcode}{rng.randint(1, 20):02d}"
        address = f"{number} {street}, {postcode} {shape.name}, {shape.country}"
    else:
        address = f"{number} {street}, {shape.name}, {shape.country}"
    cid = int.from_bytes(_digest("cid", seed, key, index)[:8])
    place: dict[str, Any] = {
        "name": f"places/{pid}",
        "id": pid,
        "types": [primary, "restaurant", "food", "point_of_interest", "establishment"],
        "nationalPhoneNumber": f"{shape.phone_prefix} " + " ".join(str(rng.randint(10, 99)) for _ in range(4)),
        "formattedAddress": address,
        "shortFormattedAddress": f"{number} {street}, {shape.name}",
        "location": {"latitude": lat, "longitude": lng},
        "googleMapsUri": f"https://maps.google.com/?cid={cid}",
        "utcOffsetMinutes": shape.utc_offset_minutes,
        "businessStatus": _weighted(rng, BUSINESS_STATUSES),
        "displayName": {"text": name, "languageCode": "fr" if french else "en"},
        "primaryTypeDisplayName": {"text": primary_label, "languageCode": "en-US"},
        "primaryType": primary,
    }
    if rng.random() < 0.6:
        place["websiteUri"] = (
            f"https://www.{''.join(ch for ch in name.lower() if ch.isalnum())[:20] or 'resto'}.example"
        )
    price = _weighted(rng, PRICE_LEVELS)
    if price is not None:
        place["priceLevel"] = price
    if rng.random() < 0.95:  # a few new places have no rating yet
        rating = round(min(5.0, max(1.0, rng.gauss(4.2, 0.45))), 1)
        count = max(1, int(rng.lognormvariate(5.0, 1.2)))
        place["rating"] = rating
        place["userRatingCount"] = count
        place["reviews"] = [_review(rng, pid, rating, i) for i in range(min(5, count))]
    return place


def _review(rng: random.Random, pid: str, place_rating: float, index: int) -> dict[str, Any]:
    stars = int(min(5, max(1, round(rng.gauss(place_rating, 1.0)))))
    candidates = [review for review in REVIEWS if review[0] == stars]
    _, french_text, english_text = rng.choice(candidates)
    original_language = "fr" if rng.random() < 0.7 else "en"
    published = REFERENCE_TIME - timedelta(
        days=rng.randint(2, 900), seconds=rng.randint(0, 86_399), microseconds=rng.randint(0, 999_999)
    )
    author_id = int.from_bytes(_digest("author", pid, index)[:8]) % 10**20
    review_id = base64.urlsafe_b64encode(_digest("review", pid, index)).decode()[:32]
    return {
        "name": f"places/{pid}/reviews/{review_id}",
        "relativePublishTimeDescription": "",  # filled in per request language
        "rating": stars,
        "text": {"text": "", "languageCode": ""},
        "originalText": {
            "text": french_text if original_language == "fr" else english_text,
            "languageCode": original_language,
        },
        "_texts": {"fr": french_text, "en": english_text},
        "authorAttribution": {
            "displayName": rng.choice(REVIEWER_NAMES),
            "uri": f"https://www.google.com/maps/contrib/{author_id}/reviews",
            "photoUri": f"https://lh3.googleusercontent.com/a-/ALV-{review_id[:20]}=s128-c0x00000000-cc-rp-mo",
        },
        "publishTime": published.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def localise(place: dict[str, Any], language: str | None) -> dict[str, Any]:
    """The place as the API would answer it for `languageCode`: review text translated, dates described."""
    reviews = place.get("reviews")
    if not reviews:
        return place
    wanted = (language or "en").split("-")[0].lower()
    localised = []
    for review in reviews:
        texts = review["_texts"]
        target = wanted if wanted in texts else review["originalText"]["languageCode"]
        published = datetime.strptime(review["publishTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        item = {key: value for key, value in review.items() if key != "_texts"}
        item["text"] = {"text": texts[target], "languageCode": target}
        item["relativePublishTimeDescription"] = _relative_description(published, target)
        localised.append(item)
    return {**place, "reviews": localised}
