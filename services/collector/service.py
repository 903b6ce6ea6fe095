"""The collector's use case, the part between the handler (which parses the SQS record and plans the run,
domain/plan.py) and the domain: what one "Collection Requested" or one direct invocation does.

- parse_request: the SQS body as an EventBridge "Collection Requested" (a bad message is a ContractError: that record
  fails, then goes to the DLQ).
- process_request: record REQUESTED in the ledger, read the Places key, collect every city against the Places API
  (run_collection -> domain/collect.py, through the ports, one rate limiter per invocation), then publish the facts
  (domain/events.py), record the ledger and count the metrics (record_outcome). Raises RetryLater when SQS must
  redeliver (after publishing what is final).
- request_run: a direct invocation (`{"trigger_source": "manual"}`) publishes "Collection Requested" on the bus, as
  the CLI's `run` does; nothing is collected in that invocation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

import aiohttp
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import CLI_SOURCE, CollectionRequested, ContractError, parse_eventbridge_event
from contracts.cities import duplicate_cities_message
from contracts.envelope import describe_validation_error
from contracts.events import CityName, manual_run_id
from services.collector.adapters.pacing import SlidingWindowLimiter
from services.collector.adapters.places_http import PlacesClient, RetryPolicy
from services.collector.domain.collect import CollectionPorts, CollectorLimits, collect_cities
from services.collector.domain.events import outcome_events
from services.collector.domain.model import CityFailed, Counters, Failure, RunOutcome, RunPlan
from services.collector.ports import ApiKeySource, KeyUnavailable, Ledger, Limiter, Publisher, RawObjects, SpoolFactory
from services.collector.settings import CollectorSettings
from services.common.names import Metric
from services.common.redaction import redact_secrets

log = logging.getLogger(__name__)

SERVICE = "collector"
QUOTA_PERIOD_SECONDS = 60.0
# The limiter guarantees the rate where requests leave; Google counts them where they arrive. Pacing over a
# slightly longer window (1% + 50 ms: 60.65 s for a minute) absorbs the jitter in between.
PACE_HEADROOM = 0.01
JITTER_ALLOWANCE_SECONDS = 0.05


def paced_window(quota_window_seconds: float) -> float:
    return quota_window_seconds * (1 + PACE_HEADROOM) + JITTER_ALLOWANCE_SECONDS


class RetryLater(Exception):
    """The record must fail so that SQS redelivers it (a retryable failure met within this invocation)."""


@dataclass
class CollectorDeps:
    """Every adapter a request needs, built by bootstrap.py (once per execution environment by the handler); fakes
    in tests."""

    settings: CollectorSettings
    store: RawObjects
    publisher: Publisher
    ledger: Ledger
    api_key: ApiKeySource
    spool: SpoolFactory
    limits: CollectorLimits | None = None  # None: sized to the pace (CollectorLimits.for_rate)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    metric: Callable[[Metric, float], None] = lambda name, value: None


def parse_request(body: str | bytes | dict[str, Any]) -> tuple[EventBridgeModel, CollectionRequested]:
    """The SQS body as an EventBridge "Collection Requested"; ContractError naming the problem otherwise."""
    envelope = parse_eventbridge_event(body)
    if envelope.detail_type != CollectionRequested.DETAIL_TYPE:
        raise ContractError(
            f"the collector handles {CollectionRequested.DETAIL_TYPE!r} events, got {envelope.detail_type!r}: "
            "check the rule feeding the collector queue"
        )
    return envelope, CollectionRequested.parse_detail(cast(dict[str, Any], envelope.detail))


class ManualRequest(BaseModel):
    """What the original system's users send when they invoke the collector function directly:
    `{"trigger_source": "manual"}`, optionally with "cities" and "max_restaurants"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trigger_source: Literal["manual"] = "manual"
    cities: Annotated[list[CityName], Field(min_length=1, max_length=50)] | None = None
    max_restaurants: Annotated[int, Field(gt=0, le=10_000)] | None = None


DIRECT_PAYLOAD_HINT = (
    'Invoke the collector with {"trigger_source": "manual"}, optionally "cities": ["Paris", …] and '
    '"max_restaurants": N (1-10,000); the schedule and the CLI go through the bus instead.'
)


def request_run(payload: Any, deps: CollectorDeps) -> dict[str, Any]:
    """A direct invocation starts a run as the CLI's `run` does: it publishes "Collection Requested" (source
    restaurant-pipeline.cli, trigger_source manual, a manual run id) on the bus, whose rule brings it back to this
    function through its queue; nothing is collected in this invocation. Returns the run id and the cities.
    ContractError names what is wrong with the payload."""
    try:
        manual = ManualRequest.model_validate(payload)
    except ValidationError as exc:
        raise ContractError(f"{describe_validation_error('direct invocation', exc)} {DIRECT_PAYLOAD_HINT}") from None
    cities = list(manual.cities or deps.settings.cities)
    if not cities:
        raise ContractError(
            "no cities: the payload names none and the function has no COLLECTION_CITIES (pipeline.toml's "
            '[collection] cities, set at deploy). Add "cities": ["Paris"] to the payload, or redeploy.'
        )
    problem = duplicate_cities_message(cities)
    if problem:
        raise ContractError(f"cities: {problem}")
    run_id = manual_run_id()
    request = CollectionRequested(
        metadata=CollectionRequested.make_metadata(run_id, source=CLI_SOURCE),
        cities=cities,
        max_restaurants=manual.max_restaurants,
        trigger_source="manual",
        run_id=run_id,
    )
    deps.publisher.publish([request])
    return {"run_id": run_id, "cities": list(request.cities), "max_restaurants": request.max_restaurants}


def make_limiter(settings: CollectorSettings) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(settings.requests_per_minute, paced_window(QUOTA_PERIOD_SECONDS))


async def run_collection(
    plan: RunPlan, deps: CollectorDeps, api_key: str, deadline: float, limiter: Limiter | None = None
) -> RunOutcome:
    """Collect every city of the plan against the Places API, one limiter for the whole invocation."""
    settings = deps.settings
    limits = deps.limits or CollectorLimits.for_rate(settings.requests_per_minute)
    connector = aiohttp.TCPConnector(limit=limits.queries_in_flight + 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = PlacesClient(
            session,
            settings.places_api_base_url,
            api_key,
            limiter or make_limiter(settings),
            deadline,
            deps.retry_policy,
        )
        ports = CollectionPorts(api, deps.store, deps.spool, settings.field_mask, limits)
        return await collect_cities(plan, ports)


def process_request(plan: RunPlan, deps: CollectorDeps, deadline: float, limiter: Limiter | None = None) -> RunOutcome:
    """Collect, then publish the facts, record the ledger and the metrics. Raises RetryLater when SQS must
    redeliver (after publishing what is final), PublishError when the bus refuses (the record is retried)."""
    deps.ledger.record(
        plan.run_id, "REQUESTED", "-", SERVICE, {"trigger": plan.trigger_source, "cities": list(plan.run_cities)}
    )
    secret: str | None = None
    try:
        secret = deps.api_key()
        outcome = asyncio.run(run_collection(plan, deps, secret, deadline, limiter))
    except KeyUnavailable as exc:
        outcome = RunOutcome(plan)
        outcome.failed.append(
            _request_failure(plan, Failure("api_auth", f"{exc} Not retried until a key is configured.", False))
        )
    deps.publisher.publish(outcome_events(outcome, deps.settings.bucket_name, secret))
    record_outcome(outcome, deps.ledger, deps.metric, secret)
    if outcome.needs_retry:
        reasons = "; ".join(f"{f.city or 'request'}: {f.failure.category}" for f in outcome.failed)
        raise RetryLater(f"run {plan.run_id}, attempt {plan.attempt}: retryable failure(s) ({reasons})")
    return outcome


def _request_failure(plan: RunPlan, failure: Failure) -> CityFailed:
    return CityFailed(None, failure, Counters(), tuple(city.city for city in plan.cities))


def record_outcome(
    outcome: RunOutcome, ledger: Ledger, metric: Callable[[Metric, float], None], secret: str | None
) -> None:
    """The run's steps in the ledger (COLLECTED per city with its object's key and ETag, COLLECTION_FAILED per
    failure, the message redacted) and the collector's metrics."""
    plan = outcome.plan
    for city in outcome.collected:
        ledger.record(
            plan.run_id,
            "COLLECTED",
            city.city,
            SERVICE,
            {
                "object_key": city.object_key,
                "places": city.places,
                "already_collected": city.already_collected,
                # the transformer's run-identity check compares a dropped object's ETag with it (services/transformer/
                # domain/identity.py): only the object this collection wrote keeps a run that was already emailed
                **({"etag": city.etag} if city.etag else {}),
            },
        )
        metric(Metric.PLACES_COLLECTED, 0 if city.already_collected else city.places)
    for failed in outcome.failed:
        ledger.record(
            plan.run_id,
            "COLLECTION_FAILED",
            failed.city or "-",
            SERVICE,
            {
                "category": failed.failure.category,
                "message": redact_secrets(failed.failure.message, secret)[:1000],
                "attempt": plan.attempt,
                "retryable": failed.failure.retryable,
            },
        )
        metric(Metric.COLLECTION_FAILURES, 1)
    counters = [c.counters for c in outcome.collected] + [f.counters for f in outcome.failed]
    metric(Metric.PLACES_REQUESTS, sum(c.requests for c in counters))
    metric(Metric.RETRIES, sum(c.retries for c in counters))
    metric(Metric.THROTTLED_429, sum(c.throttled for c in counters))
