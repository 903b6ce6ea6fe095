"""The facts a collection announces: one Collection Completed per city written (or found written), one Collection
Failed per failure that no retry will follow (not retryable, or the last receive). Pure."""

from __future__ import annotations

from typing import Any

from contracts import CollectionCompleted, CollectionFailed, Event
from services.collector.domain.model import RunOutcome
from services.common.redaction import redact_secrets


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
                free_requests=city.counters.free_requests,
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
        message = redact_secrets(failed.failure.message, secret)
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
