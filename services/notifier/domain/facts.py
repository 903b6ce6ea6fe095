"""What a run's outcomes say, read once for the subject and the body: the cities, days, tests and counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import PurePath

from contracts.events import CitySummary, CollectionFailed, TransformCompleted
from services.notifier.domain.outcomes import CityOutcome
from services.notifier.domain.text import as_name, unique


def label(outcome: CityOutcome) -> str:
    if outcome.city:
        return as_name(outcome.city)
    event = outcome.event
    if isinstance(event, TransformCompleted) and event.sources:
        return as_name(PurePath(event.sources[0].key).name)
    return "run"


def names(outcomes: Sequence[CityOutcome], limit: int = 3) -> str:
    names = unique(label(outcome) for outcome in outcomes)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" +{len(names) - limit}"


def days_label(days: Sequence[date]) -> str:
    if not days:
        return ""
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()}..{days[-1].isoformat()}"


def transform_events(outcomes: Sequence[CityOutcome]) -> list[TransformCompleted]:
    events: dict[str, TransformCompleted] = {}
    for outcome in outcomes:
        if isinstance(outcome.event, TransformCompleted):
            events.setdefault(outcome.event_id, outcome.event)
    return list(events.values())


def collection_events(outcomes: Sequence[CityOutcome]) -> list[CollectionFailed]:
    events: dict[str, CollectionFailed] = {}
    for outcome in outcomes:
        if isinstance(outcome.event, CollectionFailed):
            events.setdefault(outcome.event_id, outcome.event)
    return list(events.values())


def test_totals(events: Sequence[TransformCompleted]) -> tuple[int, int, int]:
    """(passed, failed, total) over distinct transforms."""
    return (
        sum(e.tests.passed for e in events),
        sum(e.tests.failed + e.tests.errored for e in events),
        sum(e.tests.total for e in events),
    )


def summary_for(event: TransformCompleted, city: str | None) -> CitySummary | None:
    for summary in event.city_summaries:
        if city is not None and summary.city.casefold() == city.casefold():
            return summary
    if city is None and len(event.city_summaries) == 1:
        return event.city_summaries[0]
    return None


def restaurants_seen(outcomes: Sequence[CityOutcome]) -> int:
    total = 0
    for outcome in outcomes:
        if isinstance(outcome.event, TransformCompleted):
            summary = summary_for(outcome.event, outcome.city)
            total += summary.restaurants_seen if summary else 0
    return total
