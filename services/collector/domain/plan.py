"""A request's plan: its run id, its day, and per city the query, language, target and raw object key.

Names are deterministic: they derive from the request only (never from the wall clock at write time), so a
re-delivered message maps to the same run id and the same keys, and the conditional write turns the repeat into a
no-op.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, date, datetime

from contracts.cities import city_slug
from contracts.events import CollectionRequested
from services.collector.domain.model import CityPlan, RunPlan
from services.collector.settings import CollectorSettings
from services.common.names import RAW_PREFIX

log = logging.getLogger(__name__)

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


def object_key(run_id: str, day: date, city: str) -> str:
    return f"{RAW_PREFIX}dt={day.isoformat()}/{run_id}__{city_slug(city)}{OBJECT_SUFFIX}"


def plan_run(
    request: CollectionRequested, event_time: datetime, event_id: str, settings: CollectorSettings, attempt: int
) -> RunPlan:
    """What to do: run id, date, and per city its query, language, target and object key. Pure."""
    run_id = request.run_id or derive_run_id(event_time, event_id)
    day = collection_date(event_time)
    plans: list[CityPlan] = []
    slugs: dict[str, str] = {}
    for city in request.cities:
        slug = city_slug(city)
        if slug in slugs:  # config and the CLI refuse this; an event put by hand may still carry it
            log.warning(
                "city %r is the same as %r (both are %r): collected and awaited once, as %r",
                city,
                slugs[slug],
                slug,
                slugs[slug],
            )
            continue
        slugs[slug] = city
        override = settings.override_for(city)
        plans.append(
            CityPlan(
                city=city,
                query=(override.query or settings.query_template).replace("{city}", city),
                language=override.language or settings.language,
                max_restaurants=request.max_restaurants or override.max_restaurants or settings.default_max_restaurants,
                object_key=object_key(run_id, day, city),
            )
        )
    return RunPlan(
        run_id=run_id,
        collection_date=day,
        trigger_source=request.trigger_source,
        # the cities the run awaits are the ones it collects: one spelling per city (cities.py)
        run_cities=tuple(plan.city for plan in plans),
        cities=tuple(plans),
        attempt=max(1, attempt),
        max_receive_count=settings.max_receive_count,
    )
