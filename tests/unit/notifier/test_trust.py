"""Only events whose run the ledger knows are mailed (docs/notifier.md, "Which events are mailed")."""

from __future__ import annotations

from tests.unit.notifier.builders import RUN_ID, collection_failed, transform
from tests.unit.notifier.fakes import make_world


def test_a_forged_transform_completed_for_a_run_never_requested_is_refused_recorded_and_not_mailed():
    world = make_world(requested=set())

    result = world.notifier.notify(transform("passed", run_id="forged-run"))

    assert result.action == "refused"
    assert result.reason is not None and "never requested" in result.reason
    assert world.email.sent == []
    assert [(run, step) for run, step, _ in world.ledger.steps] == [("forged-run", "REFUSED")]


def test_a_forged_collection_failed_is_refused_and_records_no_city_outcome():
    world = make_world(requested=set())

    result = world.notifier.notify(collection_failed("api_auth", run_id="forged-run", run_cities=["Paris", "Lyon"]))

    assert result.action == "refused"
    assert world.email.sent == []
    assert world.store.runs.get("forged-run") is None


def test_an_event_of_a_requested_run_is_mailed():
    world = make_world(requested={RUN_ID})

    assert world.notifier.notify(collection_failed("api_auth")).action == "sent"


def test_a_dropped_file_s_outcome_is_mailed_when_the_transformer_recorded_its_object_under_that_run():
    world = make_world(requested=set())
    event = transform("passed", run_id="drop-0123456789abcdef", run_cities=[])
    world.store.transformed["drop-0123456789abcdef"] = {event.sources[0].key}

    assert world.notifier.notify(event).action == "sent"


def test_a_transform_naming_an_object_the_transformer_recorded_under_another_run_is_refused():
    world = make_world(requested=set())
    event = transform("passed", run_id="drop-0123456789abcdef", run_cities=[])
    world.store.transformed["drop-fedcba9876543210"] = {event.sources[0].key}

    assert world.notifier.notify(event).action == "refused"
    assert world.email.sent == []
