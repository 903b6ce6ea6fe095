"""Only events the ledger vouches for are mailed (docs/notifier.md, "Which events are mailed"): a Collection Failed of a
requested run, a Transform Completed whose every object version the transformer recorded under its run with its
outcome. A forged outcome is refused, recorded for `audit`, and settles nothing: the real one is still mailed."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import TransformCompleted
from services.notifier.domain.trust import version_label
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import dead_letter_events
from tests.unit.notifier.builders import RUN_ID, collection_failed, later, transform
from tests.unit.notifier.fakes import World, make_world


def test_a_forged_transform_completed_for_a_run_never_requested_is_refused_recorded_and_not_mailed():
    world = a_verified_ledger(requested=set())

    result = world.notifier.notify(transform("passed", run_id="forged-run"))

    assert result.action == "refused"
    assert result.reason is not None and "recorded no step" in result.reason and "forged-run" in result.reason
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


def recorded(world: World, event: TransformCompleted, outcome: str | None = None) -> None:
    """The transformer's steps for the event's objects, under its run, as the transformer writes them."""
    for source in event.sources:
        label = version_label(source)
        assert label is not None
        world.store.transform_recorded(event.run_id, source.key, label, outcome or event.outcome)


def a_verified_ledger(requested: set[str] | None = None) -> World:
    world = make_world(requested=requested)
    world.store.transformed = {}  # nothing recorded by the transformer until a test says so
    return world


def test_a_forged_passed_sent_before_the_real_failure_is_refused_and_the_real_failure_is_mailed():
    world = a_verified_ledger()
    real = transform("error", produced_at=later(5))
    forged = transform("passed", produced_at=later(1), sources=[s.model_dump() for s in real.sources])

    forged_result = world.notifier.notify(forged)  # before the transformer even recorded its step
    recorded(world, real)
    real_result = world.notifier.notify(real)

    assert forged_result.action == "refused"
    assert forged_result.reason is not None and "recorded no step" in forged_result.reason
    assert real_result.action == "sent"
    assert real_result.outcome == "error"
    assert len(world.email.sent) == 1 and "error" in world.email.sent[0].subject.lower()
    assert ("20261125T080000Z-sched", "REFUSED") in [(run, step) for run, step, _ in world.ledger.steps]


def test_a_forged_passed_sent_after_the_transformer_recorded_the_real_failure_is_refused():
    world = a_verified_ledger()
    real = transform("tests_failed")
    recorded(world, real)
    forged = transform("passed", sources=[s.model_dump() for s in real.sources])

    result = world.notifier.notify(forged)

    assert result.action == "refused"
    assert result.reason is not None and "tests_failed" in result.reason and "not 'passed'" in result.reason
    assert world.email.sent == []
    assert world.store.runs.get(RUN_ID) is None  # no city outcome settled by it
    assert world.notifier.notify(real).action == "sent"


def test_a_transform_naming_another_version_of_a_recorded_key_is_refused():
    world = a_verified_ledger()
    real = transform("passed")
    recorded(world, real)
    other = real.sources[0].model_copy(update={"version_id": "another-version"})
    forged = transform("passed", sources=[other.model_dump()])

    result = world.notifier.notify(forged)

    assert result.action == "refused"
    assert result.reason is not None and "another-version" in result.reason
    assert world.email.sent == []


def test_every_object_an_event_names_must_be_vouched_for():
    world = a_verified_ledger()
    real = transform("passed")
    recorded(world, real)
    unknown = real.sources[0].model_copy(update={"key": "raw/places/dt=2026-11-25/lyon-forged.jsonl"})
    forged = transform("passed", sources=[real.sources[0].model_dump(), unknown.model_dump()])

    assert world.notifier.notify(forged).action == "refused"
    assert world.email.sent == []


def test_an_event_naming_no_object_is_refused():
    world = a_verified_ledger()

    result = world.notifier.notify(transform("passed", sources=[]))

    assert result.action == "refused"
    assert result.reason is not None and "names no object" in result.reason


def test_an_object_without_version_id_is_checked_against_its_etag():
    world = a_verified_ledger()
    unversioned = transform("passed").sources[0].model_copy(update={"version_id": None})
    event = transform("passed", sources=[unversioned.model_dump()])
    world.store.transform_recorded(RUN_ID, unversioned.key, unversioned.etag or "", "passed")

    assert world.notifier.notify(event).action == "sent"


def test_a_dead_lettered_object_s_error_is_vouched_for_by_its_transform_failed_step():
    world = a_verified_ledger()
    event = transform("error", dead_lettered=True)
    recorded(world, event, "error")  # TRANSFORM_FAILED reads as "error"

    assert world.notifier.notify(event).action == "sent"


def test_a_dropped_file_s_outcome_is_mailed_when_the_transformer_recorded_its_object_under_that_run():
    world = a_verified_ledger(requested=set())
    event = transform("passed", run_id="drop-0123456789abcdef", run_cities=[])
    recorded(world, event)

    assert world.notifier.notify(event).action == "sent"


def test_a_transform_naming_an_object_the_transformer_recorded_under_another_run_is_refused():
    world = a_verified_ledger(requested=set())
    event = transform("passed", run_id="drop-0123456789abcdef", run_cities=[])
    source = event.sources[0]
    world.store.transform_recorded("drop-fedcba9876543210", source.key, version_label(source) or "", "passed")

    assert world.notifier.notify(event).action == "refused"
    assert world.email.sent == []


def test_a_requested_run_does_not_vouch_for_a_transform_outcome_the_transformer_never_recorded():
    world = a_verified_ledger(requested={RUN_ID})

    result = world.notifier.notify(transform("passed"))

    assert result.action == "refused"
    assert world.email.sent == []


def test_the_notifier_reads_an_object_s_version_as_the_transformer_records_it():
    """The transformer records its step under ObjectRef.version_label and announces the same object as a SourceObject:
    both sides must name one version alike, versioned or not."""
    key = "raw/places/dt=2026-11-25/run-1__paris.jsonl"
    refs = [
        ObjectRef("bucket", key, "3HL4kqtJlcpXroDTDmJ", "d41d8cd98f00b204e9800998ecf8427e", 5, datetime.now(UTC)),
        ObjectRef("bucket", key, None, "d41d8cd98f00b204e9800998ecf8427e", 5, datetime.now(UTC)),
    ]
    for ref in refs:
        [event] = dead_letter_events([ref], RuntimeError("boom"), attempts=3)
        assert [version_label(source) for source in event.sources] == [ref.version_label]
