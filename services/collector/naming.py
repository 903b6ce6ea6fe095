"""Deterministic names: the run id of a request and the raw object key of a city.

Both derive from the request only (never from the wall clock at write time), so a re-delivered message
maps to the same run id and the same keys, and the conditional write turns the repeat into a no-op.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, date, datetime

from services.common.names import RAW_PREFIX

OBJECT_SUFFIX = ".jsonl.gz"


def derive_run_id(event_time: datetime, event_id: str) -> str:
    """A run id from the EventBridge event itself: its time (UTC) and a digest of its id."""
    moment = event_time.astimezone(UTC) if event_time.tzinfo else event_time.replace(tzinfo=UTC)
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:10]
    return f"{moment:%Y%m%dT%H%M%SZ}-{digest}"


def collection_date(event_time: datetime) -> date:
    """The UTC date of the request: the dt= partition of everything the run writes."""
    moment = event_time.astimezone(UTC) if event_time.tzinfo else event_time.replace(tzinfo=UTC)
    return moment.date()


def city_slug(city: str) -> str:
    """ASCII, lower case, dashes: 'Saint-Étienne' -> 'saint-etienne'. A name with no ASCII letters gets a
    stable digest instead ('北京' -> 'city-…')."""
    decomposed = unicodedata.normalize("NFKD", city.strip().casefold())
    ascii_only = decomposed.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if not slug:
        slug = "city-" + hashlib.sha256(city.strip().casefold().encode()).hexdigest()[:12]
    return slug[:60]


def object_key(run_id: str, day: date, city: str) -> str:
    return f"{RAW_PREFIX}dt={day.isoformat()}/{run_id}__{city_slug(city)}{OBJECT_SUFFIX}"
