"""What a run's outcomes say, read once for the subject and the body: the cities, days, tests and counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import PurePath

from contracts.events import CitySummary, CollectionFailed, TestCounts, TransformCompleted
from services.notifier.domain.outcomes import CityOutcome
from services.notifier.domain.text import safe_path, safe_text, unique


def label(outcome: CityOutcome) -> str:
    if outcome.city:
        return safe_text(outcome.city)
    event = outcome.event
    if isinstance(event, TransformCompleted) and event.sources:
        return safe_path(PurePath(event.sources[0].key).name)
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


def tests_failed_words(tests: TestCounts) -> str:
    """ "2 of 37 tests failed, 6 passed, 29 skipped": the failed (with those that could not run) first, then every
    other count that is not zero, so that the numbers add up to the total."""
    failed = tests.failed + tests.errored
    rest = _other_counts(tests, ("warned", "passed", "skipped"))
    return f"{failed:,} of {tests.total:,} tests failed" + "".join(f", {part}" for part in rest)


def tests_passed_words(tests: TestCounts) -> str:
    """ "31/31 passed", or "6/37 passed, 2 failed, 29 skipped": every count that is not zero, adding up to the total."""
    rest = _other_counts(tests, ("failed", "errored", "warned", "skipped"))
    return f"{tests.passed:,}/{tests.total:,} passed" + "".join(f", {part}" for part in rest)


_COUNT_WORDS = {
    "failed": "failed",
    "errored": "could not run",
    "warned": "warned",
    "passed": "passed",
    "skipped": "skipped",
}


def _other_counts(tests: TestCounts, fields: Sequence[str]) -> list[str]:
    return [f"{getattr(tests, field):,} {_COUNT_WORDS[field]}" for field in fields if getattr(tests, field)]


def summary_for(event: TransformCompleted, city: str | None) -> CitySummary | None:
    for summary in event.city_summaries:
        if city is not None and summary.city.casefold() == city.casefold():
            return summary
    if city is None and len(event.city_summaries) == 1:
        return event.city_summaries[0]
    return None


def collected_by_run(event: TransformCompleted, city: str | None) -> int:
    """The places this run's objects brought for `city` (their valid lines): what this run collected, not the
    day's total in the marts (a second run the same day would otherwise report the union of both)."""
    return sum(
        source.valid_lines
        for source in event.sources
        if city is None or source.city is None or source.city.casefold() == city.casefold()
    )


def restaurants_collected(outcomes: Sequence[CityOutcome]) -> int:
    """What this run collected, over its transformed cities."""
    return sum(
        collected_by_run(outcome.event, outcome.city)
        for outcome in outcomes
        if isinstance(outcome.event, TransformCompleted)
    )


def quarantined(outcomes: Sequence[CityOutcome]) -> tuple[int, int]:
    """(lines set aside, lines read) over the run's distinct transforms."""
    events = transform_events(outcomes)
    return (
        sum(source.quarantined_lines for event in events for source in event.sources),
        sum(source.lines for event in events for source in event.sources),
    )
