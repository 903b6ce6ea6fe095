"""The use case with small hand-written fakes for its stores and its email port (no AWS)."""

from __future__ import annotations

import pytest

from tests.unit.notifier.builders import collection_failed, later, transform
from tests.unit.notifier.fakes import PublishFailed


def test_a_single_city_run_sends_its_email_and_records_notified(world):
    result = world.notifier.notify(transform("passed"))

    assert result.action == "sent" and result.outcome == "passed"
    assert [e.subject for e in world.email.sent] == [
        "[restaurant-pipeline] OK Paris 2026-11-25: 20 restaurants, 31/31 tests passed"
    ]
    assert ("20261125T080000Z-sched", "NOTIFIED", "passed") in world.ledger.steps


def test_a_duplicated_event_sends_one_email(world):
    event = transform("passed")
    world.notifier.notify(event)
    second = world.notifier.notify(event)

    assert second.action == "already_notified"
    assert len(world.email.sent) == 1


def test_a_two_city_run_waits_for_the_second_city_then_sends_one_combined_email(world):
    cities = ["Paris", "Lyon"]
    first = world.notifier.notify(transform("passed", city="Paris", run_cities=cities))
    assert first.action == "waiting" and first.waiting_for == ["Lyon"]
    assert world.email.sent == []

    second = world.notifier.notify(transform("tests_failed", city="Lyon", run_cities=cities))

    assert second.action == "sent"
    assert len(world.email.sent) == 1
    assert "1/2 cities OK; TESTS FAILED: Lyon" in world.email.sent[0].subject


def test_a_collection_failure_that_will_be_retried_sends_nothing(world):
    result = world.notifier.notify(collection_failed("api_unavailable", final_attempt=False))
    assert result.action == "not_final" and world.email.sent == []


def test_a_failed_publish_fails_the_call_and_the_retry_sends_exactly_once(world):
    world.email.failures_left = 1
    event = collection_failed("api_auth")
    with pytest.raises(PublishFailed):
        world.notifier.notify(event)
    assert world.email.sent == [] and world.repeats.states == {}

    assert world.notifier.notify(event).action == "sent"
    assert world.notifier.notify(event).action == "already_notified"
    assert len(world.email.sent) == 1


def test_the_same_failure_in_a_later_run_within_the_window_is_summarised_then_mailed_in_full_after(world):
    world.notifier.notify(collection_failed("api_quota_daily", run_id="run-1"))
    world.clock[0] = later(60)
    summary = world.notifier.notify(collection_failed("api_quota_daily", run_id="run-2"))
    world.clock[0] = later(120)
    again = world.notifier.notify(collection_failed("api_quota_daily", run_id="run-3"))
    world.clock[0] = later(361)
    full = world.notifier.notify(collection_failed("api_quota_daily", run_id="run-4"))

    assert [summary.action, again.action, full.action] == ["summarised", "summarised", "sent"]
    assert "same failure as run run-1" in world.email.sent[1].body
    assert "It has happened 3 times since then" in world.email.sent[2].body
    assert "REPEAT" not in world.email.sent[3].subject


def test_a_different_failure_is_mailed_in_full(world):
    world.notifier.notify(collection_failed("api_quota_daily", run_id="run-1"))
    result = world.notifier.notify(collection_failed("api_auth", run_id="run-2"))
    assert result.action == "sent"


def test_remembering_the_failure_may_fail_without_failing_the_sent_email(world):
    world.repeats.broken = True
    assert world.notifier.notify(collection_failed("api_auth")).action == "sent"


def test_a_reprocess_that_changes_the_outcome_sends_a_new_email_for_the_run(world):
    world.notifier.notify(transform("tests_failed", produced_at=later(2)))
    result = world.notifier.notify(transform("passed", produced_at=later(30)))
    assert result.action == "sent" and len(world.email.sent) == 2


def test_a_late_older_event_does_not_replace_a_newer_outcome(world):
    world.notifier.notify(transform("passed", produced_at=later(30)))
    result = world.notifier.notify(transform("tests_failed", produced_at=later(2)))
    assert result.action == "already_notified" and len(world.email.sent) == 1


def test_a_city_specific_outcome_replaces_a_run_wide_failure_recorded_before_it(world):
    cities = ["Paris", "Lyon", "Nice"]
    world.notifier.notify(collection_failed("api_quota_daily", city=None, run_cities=cities, produced_at=later(3)))
    # Every city is settled (tentatively) by the run-wide failure: one email went out.
    assert len(world.email.sent) == 1
    world.notifier.notify(transform("passed", city="Paris", run_cities=cities, produced_at=later(1)))

    assert len(world.email.sent) == 2  # the run's outcome changed: Paris was in fact collected
    assert "1/3 cities OK; NOT COLLECTED: Lyon, Nice" in world.email.sent[1].subject
