"""A "Collection Failed" names the cities it covers; the notifier settles exactly those, no more."""

from __future__ import annotations

from contracts import CollectionFailed
from services.collector.domain.events import outcome_events
from services.collector.domain.model import CityFailed, Counters, Failure, RunOutcome
from services.notifier.domain.outcomes import settled_outcomes, waits_for_run
from tests.unit.collector.fakes import run_plan
from tests.unit.notifier.builders import collection_failed, transform


def test_a_city_failure_covers_that_city() -> None:
    failure = Failure("api_bad_request", "bad query", False, 400)
    outcome = RunOutcome(run_plan("Paris", "Lyon"), failed=[CityFailed("Lyon", failure, Counters(requests=1))])

    [event] = outcome_events(outcome, "bucket")

    assert isinstance(event, CollectionFailed)
    assert event.city == "Lyon" and event.cities == ["Lyon"]


def test_a_request_level_failure_covers_the_cities_left_uncollected() -> None:
    failure = Failure("api_quota_daily", "quota per day", False, 429)
    outcome = RunOutcome(run_plan("Paris", "Lyon", "Nice"), failed=[CityFailed(None, failure, Counters(), ("Lyon",))])

    [event] = outcome_events(outcome, "bucket")

    assert isinstance(event, CollectionFailed)
    assert event.city is None and event.cities == ["Lyon"]
    assert event.run_cities == ["Paris", "Lyon", "Nice"]


def test_the_notifier_settles_exactly_the_covered_cities_of_a_request_level_failure() -> None:
    event = collection_failed("api_quota_daily", city=None, run_cities=["Paris", "Lyon"], cities=["lyon"])

    settled = settled_outcomes(event)

    assert [(o.city, o.kind) for o in settled] == [("Lyon", "collection_failed")]
    assert waits_for_run(event, settled)


def test_an_event_without_cities_from_an_older_producer_still_settles_every_run_city() -> None:
    event = collection_failed("api_auth", city=None, run_cities=["Paris", "Lyon"])

    assert event.cities == []
    assert [o.city for o in settled_outcomes(event)] == ["Paris", "Lyon"]


def test_a_partial_request_failure_waits_for_the_collected_city_then_mails_both(world) -> None:
    failure = collection_failed("api_quota_daily", city=None, run_cities=["Paris", "Lyon"], cities=["Lyon"])

    first = world.notifier.notify(failure)
    assert first.action == "waiting" and first.waiting_for == ["Paris"]
    assert world.email.sent == []

    second = world.notifier.notify(transform("passed", city="Paris", run_cities=["Paris", "Lyon"]))

    assert second.action == "sent"
    assert len(world.email.sent) == 1
    body = world.email.sent[0].body
    assert "Paris" in body and "Lyon" in body
