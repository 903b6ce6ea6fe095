"""Domain rules: what an event settles, when a run is complete, its outcome key, repeated failures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from contracts.envelope import ContractError
from contracts.events import TransformError
from services.notifier.domain.outcomes import (
    RepeatState,
    RunProgress,
    failure_fingerprint,
    repeat_of,
    run_outcome,
    settled_outcomes,
    waits_for_run,
)
from services.notifier.service import parse_notifier_event
from tests.conftest import load_event
from tests.unit.notifier.builders import collection_failed, later, transform

WINDOW = timedelta(minutes=360)


def test_parses_both_event_kinds_from_their_eventbridge_envelopes():
    assert parse_notifier_event(load_event("notifier_transform_passed.json")).outcome == "passed"
    assert parse_notifier_event(load_event("notifier_collection_failed.json")).category == "api_auth"


def test_a_malformed_body_is_a_contract_error_naming_the_problem():
    with pytest.raises(ContractError, match="EventBridge event"):
        parse_notifier_event("{not json")
    envelope = load_event("notifier_transform_passed.json")
    envelope["detail-type"] = "Collection Completed"
    with pytest.raises(ContractError, match="not detail-type 'Collection Completed'"):
        parse_notifier_event(envelope)
    envelope = load_event("notifier_transform_passed.json")
    del envelope["detail"]["outcome"]
    with pytest.raises(ContractError, match="outcome"):
        parse_notifier_event(json.dumps(envelope))


def test_a_collection_failure_that_will_be_retried_settles_nothing():
    assert settled_outcomes(collection_failed("api_quota_minute", final_attempt=False)) == []


def test_a_whole_request_failure_settles_every_city_of_the_run():
    event = collection_failed("api_auth", city=None, run_cities=["Paris", "Lyon"])
    assert [(o.city, o.kind) for o in settled_outcomes(event)] == [
        ("Paris", "collection_failed"),
        ("Lyon", "collection_failed"),
    ]


def test_city_spelling_follows_the_run_and_a_dropped_file_is_sent_alone():
    event = transform("passed", city="paris", run_cities=["Paris"])
    assert [o.city for o in settled_outcomes(event)] == ["Paris"]
    dropped = transform("passed", run_cities=[])
    assert not waits_for_run(dropped, settled_outcomes(dropped))


def test_a_run_is_complete_only_when_every_city_has_a_terminal_outcome():
    paris = settled_outcomes(transform("passed", city="Paris", run_cities=["Paris", "Lyon"]))[0]
    progress = RunProgress("r", ("Paris", "Lyon"), {"paris": paris})
    assert progress.missing == ["Lyon"] and not progress.complete
    lyon = settled_outcomes(collection_failed(city="Lyon", run_cities=["Paris", "Lyon"]))[0]
    progress = RunProgress("r", ("Paris", "Lyon"), {"paris": paris, "lyon": lyon})
    assert progress.complete and [o.city for o in progress.ordered()] == ["Paris", "Lyon"]


def test_run_outcome_is_the_kind_for_uniform_runs_and_a_stable_digest_for_mixed_ones():
    passed = settled_outcomes(transform("passed", city="Paris"))
    failed = settled_outcomes(collection_failed(city="Lyon"))
    assert run_outcome(passed) == "passed"
    mixed = run_outcome(passed + failed)
    assert mixed.startswith("mixed-") and mixed == run_outcome(failed + passed)
    fixed = settled_outcomes(transform("passed", city="Lyon"))
    assert run_outcome(passed + fixed) == "passed"


def test_the_same_failure_has_the_same_fingerprint_whatever_the_numbers_in_its_message():
    def error(message: str):
        return settled_outcomes(transform("error", error=TransformError(phase="dbt", model="m", message=message)))

    assert failure_fingerprint(error("line 12: bad at 08:00:01")) == failure_fingerprint(
        error("line 14: bad at 09:13:44")
    )
    assert failure_fingerprint(error("column a missing")) != failure_fingerprint(error("column b missing"))
    assert failure_fingerprint(settled_outcomes(collection_failed("api_auth"))) != failure_fingerprint(
        settled_outcomes(collection_failed("api_quota_daily"))
    )
    assert failure_fingerprint(settled_outcomes(transform("passed"))) is None


def state(first_run: str = "run-1", minutes: float = 0, count: int = 1, last_run: str | None = None) -> RepeatState:
    return RepeatState("fp", first_run, later(minutes), count, last_run or first_run)


def test_a_failure_within_the_window_is_a_repeat_counted_since_the_full_email():
    repeat = repeat_of(state(count=2, last_run="run-2"), "run-3", later(120), WINDOW)
    assert repeat is not None
    assert (repeat.first_run_id, repeat.first_sent_at, repeat.occurrences) == ("run-1", later(0), 3)


def test_no_repeat_without_history_after_the_window_with_a_zero_window_or_for_the_first_run_itself():
    assert repeat_of(None, "run-2", later(1), WINDOW) is None
    assert repeat_of(state(), "run-2", later(361), WINDOW) is None
    assert repeat_of(state(), "run-2", later(1), timedelta(0)) is None
    assert repeat_of(state(), "run-1", later(1), WINDOW) is None  # a retry of the full email stays full


def test_a_retried_summary_is_not_counted_twice():
    repeat = repeat_of(state(count=3, last_run="run-3"), "run-3", later(10), WINDOW)
    assert repeat is not None and repeat.occurrences == 3


def test_an_event_as_moto_delivers_it_without_an_account_parses_like_the_aws_one():
    moto = parse_notifier_event(load_event("notifier_transform_passed_moto.json"))
    aws = parse_notifier_event(load_event("notifier_transform_passed.json"))
    assert moto == aws
