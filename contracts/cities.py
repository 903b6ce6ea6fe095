"""A city's identity: the one name under which it is collected, awaited and reported; a rule of Collection Requested's
cities, so it lives with the contracts, where the collector, config loading and the CLI all read it.

Two spellings are the same city when they have the same slug (accents, case, punctuation and spaces do not count,
and a slug keeps 60 characters, so names that differ only past that are one city). The slug names the raw object
(`<run>__<slug>.jsonl.gz`), so the collector can only collect such names once; a run must then await them once too.
Config loading and the CLI refuse such duplicates (duplicate_cities), and a request that carries them anyway (an
event put by hand) is collected and awaited under its first spelling (services/collector/domain/plan.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

SLUG_LENGTH = 60


def city_slug(city: str) -> str:
    """ASCII, lower case, dashes: 'Saint-Étienne' -> 'saint-etienne'. A name with no ASCII letters gets a
    stable digest instead ('北京' -> 'city-…')."""
    decomposed = unicodedata.normalize("NFKD", city.strip().casefold())
    ascii_only = decomposed.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if not slug:
        slug = "city-" + hashlib.sha256(city.strip().casefold().encode()).hexdigest()[:12]
    return slug[:SLUG_LENGTH]


def duplicate_cities(cities: Iterable[str]) -> list[tuple[str, str, str]]:
    """(first spelling, later spelling, their slug) for every name that is a city already named."""
    first: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []
    for city in cities:
        slug = city_slug(city)
        if slug in first:
            found.append((first[slug], city, slug))
        else:
            first[slug] = city
    return found


def duplicate_cities_message(cities: Iterable[str]) -> str | None:
    """What is wrong with a list of cities that names one city twice, naming both spellings; None when none is."""
    duplicates = duplicate_cities(cities)
    if not duplicates:
        return None
    pairs = "; ".join(f"{one!r} and {other!r} are both {slug!r}" for one, other, slug in duplicates)
    return (
        f"each city once: {pairs} (accents, case, punctuation and anything past {SLUG_LENGTH} characters do not "
        "tell cities apart). Keep one spelling of each."
    )
