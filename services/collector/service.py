"""Application service: one "Collection Requested" from parse to published facts.

parse_request -> plan_run (pure) -> collect (domain, over the real adapters) -> outcome_events (pure)
-> publish + ledger + metrics. The handler calls `handle_request`; tests can call each step.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from contracts import (
    CollectionCompleted,
    CollectionFailed,
    CollectionRequested,
    ContractError,
    Event,
    parse_eventbridge_event,
)
from services.collector.collect import CollectorLimits, CollectorRun, collect_run
from services.collector.limiter import SlidingWindowLimiter
from services.collector.model import CityFailed, CityPlan, Counters, Failure, RunOutcome, RunPlan
from services.collector.naming import city_slug, collection_date, derive_run_id, object_key
from services.collector.places import Limiter, PlacesClient, RetryPolicy, redact
from services.collector.settings import CollectorSettings
from services.collector.storage import RawStore
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.names import Metric

log = logging.getLogger(__name__)

SERVICE = "collector"
QUOTA_PERIOD_SECONDS = 60.0
# The limiter guarantees the rate where requests leave; Google counts them where they arrive. Pacing over a
# slightly longer window (1% + 50 ms: 60.65 s for a minute) absorbs the jitter in between.
PACE_HEADROOM = 0.01
JITTER_ALLOWANCE_SECONDS = 0.05


def paced_window(quota_window_seconds: float) -> float:
    return quota_window_seconds * (1 + PACE_HEADROOM) + JITTER_ALLOWANCE_SECONDS


class KeyUnavailable(Exception):
    """No API key could be obtained. The message names where it should come from, never a key."""


class RetryLater(Exception):
    """The record must fail so that SQS redelivers it (a retryable failure met within this invocation)."""


def parse_request(body: str | bytes | dict[str, Any]) -> tuple[EventBridgeModel, CollectionRequested]:
    """The SQS body as an EventBridge "Collection Requested"; ContractError naming the problem otherwise."""
    envelope = parse_eventbridge_event(body)
    if envelope.detail_type != CollectionRequested.DETAIL_TYPE:
        raise ContractError(
            f"the collector handles {CollectionRequested.DETAIL_TYPE!r} events, got {envelope.detail_type!r}: "
            "check the rule feeding the collector queue"
        )
    return envelope, CollectionRequested.parse_detail(cast(dict[str, Any], envelope.detail))


def plan_run(
    envelope: EventBridgeModel, request: CollectionRequested, settings: CollectorSettings, attempt: int
) -> RunPlan:
    """What to do: run id, date, and per city its query, language, target and object key. Pure."""
    run_id = request.run_id or derive_run_id(envelope.time, envelope.id)
    day = collection_date(envelope.time)
    plans: list[CityPlan] = []
    slugs: dict[str, str] = {}
    for city in request.cities:
        slug = city_slug(city)
        if slug in slugs:
            log.warning("city %r is the same as %r (both are %r): collected once", city, slugs[slug], slug)
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
        run_cities=tuple(request.cities),
        cities=tuple(plans),
        attempt=max(1, attempt),
        max_receive_count=settings.max_receive_count,
    )


def outcome_events(outcome: RunOutcome, bucket: str, secret: str | None = None) -> list[Event]:
    """The facts to publish. Failed is published when no retry follows: not retryable, or the last receive."""
    plan = outcome.plan
    events: list[Event] = []
    common: dict[str, Any] = {
        "run_id": plan.run_id,
        "trigger_source": plan.trigger_source,
        "collection_date": plan.collection_date,
        "run_cities": list(plan.run_cities),
    }
    for city in outcome.collected:
        events.append(
            CollectionCompleted(
                metadata=CollectionCompleted.make_metadata(plan.run_id),
                **common,
                city=city.city,
                bucket=bucket,
                object_key=city.object_key,
                places=city.places,
                requests=city.counters.requests,
                pages=city.counters.pages,
                retries=city.counters.retries,
                throttled=city.counters.throttled,
                rectangles=city.counters.rectangles,
                duration_ms=city.duration_ms,
                already_collected=city.already_collected,
            )
        )
    for failed in outcome.failed:
        final = not failed.failure.retryable or plan.last_receive
        if not final:
            continue
        message = redact(failed.failure.message, secret)
        if failed.city is None and failed.cities:
            message = f"Cities not collected: {', '.join(failed.cities)}. {message}"
        events.append(
            CollectionFailed(
                metadata=CollectionFailed.make_metadata(plan.run_id),
                **common,
                city=failed.city,
                category=failed.failure.category,
                message=message[:2000],
                retryable=failed.failure.retryable,
                attempt=plan.attempt,
                final_attempt=True,
                http_status=failed.failure.http_status,
                requests=failed.counters.requests,
                cities=[failed.city] if failed.city is not None else list(failed.cities),
            )
        )
    return events


@dataclass
class CollectorServices:
    """The adapters a request needs. Built once per container by the handler; fakes or moto clients in tests."""

    settings: CollectorSettings
    store: RawStore
    publisher: EventPublisher
    ledger: RunLedger
    api_key: Callable[[], str]  # raises KeyUnavailable
    limits: CollectorLimits | None = None  # None: sized to the pace (CollectorLimits.for_rate)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    metric: Callable[[str, float], None] = lambda name, value: None


def make_limiter(settings: CollectorSettings) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(settings.requests_per_minute, paced_window(QUOTA_PERIOD_SECONDS))


async def collect(
    plan: RunPlan, services: CollectorServices, api_key: str, deadline: float, limiter: Limiter | None = None
) -> RunOutcome:
    """Collect every city of the plan against the Places API, one limiter for the whole invocation."""
    settings = services.settings
    limits = services.limits or CollectorLimits.for_rate(settings.requests_per_minute)
    connector = aiohttp.TCPConnector(limit=limits.queries_in_flight + 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = PlacesClient(
            session,
            settings.places_api_base_url,
            api_key,
            limiter or make_limiter(settings),
            deadline,
            services.retry_policy,
        )
        return await collect_run(plan, CollectorRun(api, services.store, settings.field_mask, limits))


def handle_request(
    plan: RunPlan, services: CollectorServices, deadline: float, limiter: Limiter | None = None
) -> RunOutcome:
    """Collect, then publish the facts, record the ledger and the metrics. Raises RetryLater when SQS must
    redeliver (after publishing what is final), PublishError when the bus refuses (the record is retried)."""
    services.ledger.record(
        plan.run_id, "REQUESTED", "-", SERVICE, {"trigger": plan.trigger_source, "cities": list(plan.run_cities)}
    )
    secret: str | None = None
    try:
        secret = services.api_key()
        outcome = asyncio.run(collect(plan, services, secret, deadline, limiter))
    except KeyUnavailable as exc:
        outcome = RunOutcome(plan)
        outcome.failed.append(
            _request_failure(plan, Failure("api_auth", f"{exc} Not retried until a key is configured.", False))
        )
    events = outcome_events(outcome, services.store.bucket, secret)
    services.publisher.publish(events)
    _record(outcome, services, secret)
    if outcome.needs_retry:
        reasons = "; ".join(f"{f.city or 'request'}: {f.failure.category}" for f in outcome.failed)
        raise RetryLater(f"run {plan.run_id}, attempt {plan.attempt}: retryable failure(s) ({reasons})")
    return outcome


def _request_failure(plan: RunPlan, failure: Failure) -> CityFailed:
    return CityFailed(None, failure, Counters(), tuple(city.city for city in plan.cities))


def _record(outcome: RunOutcome, services: CollectorServices, secret: str | None) -> None:
    plan = outcome.plan
    for city in outcome.collected:
        services.ledger.record(
            plan.run_id,
            "COLLECTED",
            city.city,
            SERVICE,
            {"object_key": city.object_key, "places": city.places, "already_collected": city.already_collected},
        )
        services.metric(Metric.PLACES_COLLECTED, 0 if city.already_collected else city.places)
    for failed in outcome.failed:
        services.ledger.record(
            plan.run_id,
            "COLLECTION_FAILED",
            failed.city or "-",
            SERVICE,
            {
                "category": failed.failure.category,
                "message": redact(failed.failure.message, secret)[:1000],
                "attempt": plan.attempt,
                "retryable": failed.failure.retryable,
            },
        )
        services.metric(Metric.COLLECTION_FAILURES, 1)
    counters = [c.counters for c in outcome.collected] + [f.counters for f in outcome.failed]
    services.metric(Metric.PLACES_REQUESTS, sum(c.requests for c in counters))
    services.metric(Metric.RETRIES, sum(c.retries for c in counters))
    services.metric(Metric.THROTTLED_429, sum(c.throttled for c in counters))


def read_secret_value(raw: str) -> str:
    """A Secrets Manager value: the key itself, or JSON holding it under api_key / GOOGLE_PLACES_API_KEY."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise KeyUnavailable("The Places API key secret holds invalid JSON.") from None
        for name in ("api_key", "GOOGLE_PLACES_API_KEY", "key"):
            if isinstance(data, dict) and isinstance(data.get(name), str) and data[name].strip():
                return str(data[name]).strip()
        raise KeyUnavailable(
            "The Places API key secret is JSON without an 'api_key' field: store the key as plain text."
        )
    if not text:
        raise KeyUnavailable("The Places API key secret is empty: put the key in it (restaurant-pipeline deploy).")
    return text
