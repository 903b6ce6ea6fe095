"""A dbt error on validated data costs its object alone (issue 24, item 1): a build that ends in error is built again
in halves until the object it belongs to is cornered; every other object of the batch is built and passes."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime

from services.transformer.domain.model import BuildReport
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import ISOLATION_MAX_BUILDS, transform_objects
from tests.unit.transformer.fakes import BUCKET, DAY, FakeMarts, FakeStore, lines, passed, place


class PoisonedBuilder:
    """dbt as it behaves when one object holds a value no warehouse column can take: any build that reads one of
    the `poisoned` objects ends in error; the others pass."""

    def __init__(self, poisoned: set[str]) -> None:
        self.poisoned = poisoned
        self.calls: list[list[str]] = []

    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        self.calls.append(list(objects))
        bad = [key for key in objects if any(name in key for name in self.poisoned)]
        if bad:
            return BuildReport(outcome="error", error_message="Conversion Error: out of range", error_model="stg")
        return copy.deepcopy(passed())


def refs(count: int) -> tuple[FakeStore, list[ObjectRef]]:
    store, found = FakeStore(), []
    for index in range(count):
        key = f"raw/places/dt={DAY}/drop-{index:03d}.jsonl"
        store.objects[key] = lines(place(f"p{index}"))
        found.append(ObjectRef(BUCKET, key, f"v{index}", "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "e"))
    return store, found


def test_one_bad_object_among_many_fails_alone_and_every_other_object_passes():
    store, batch = refs(40)
    builder = PoisonedBuilder({"drop-017"})

    events = transform_objects(batch, store=store, builder=builder, marts=FakeMarts())

    outcomes = {event.sources[0].key.rsplit("/", 1)[-1]: event.outcome for event in events}
    assert outcomes.pop("drop-017.jsonl") == "error"
    assert set(outcomes.values()) == {"passed"} and len(outcomes) == 39
    assert len(builder.calls) <= 1 + 2 * 6  # one build, then two per halving (40 objects: 6 halvings)
    print(f"\n1 bad object among 40: {len(builder.calls)} builds")


def test_an_error_every_object_shares_stops_at_the_budget_and_fails_them_all():
    store, batch = refs(64)
    builder = PoisonedBuilder({"drop-"})  # a model bug, say: every build fails

    events = transform_objects(batch, store=store, builder=builder, marts=FakeMarts())

    assert {event.outcome for event in events} == {"error"}
    assert len(builder.calls) <= 1 + ISOLATION_MAX_BUILDS


def test_isolation_stops_when_the_time_left_would_not_hold_two_more_builds():
    store, batch = refs(8)
    builder = PoisonedBuilder({"drop-003"})
    from services.transformer.domain.transform import build_and_describe, prepare_objects

    events = build_and_describe(
        prepare_objects(batch, store=store), builder=builder, marts=FakeMarts(), remaining_ms=lambda: 1_000
    )

    assert len(builder.calls) == 1 and {event.outcome for event in events} == {"error"}
