"""The Transform Completed event names the first rejected lines of each object (number and bounded reason), so the
notifier can list them without reading the quarantine file (issue 26, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.envelope import EVENT_MAX_BYTES
from contracts.events import REJECTED_LINES_SHOWN, REJECTION_REASON_MAX, RejectedLine, SourceObject
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import transform_objects
from tests.unit.transformer.fakes import BUCKET, DAY, FakeBuilder, FakeMarts, FakeStore, lines, place

KEY = f"raw/places/dt={DAY}/run-1__paris.jsonl"


def transform(store: FakeStore):
    ref = ObjectRef(BUCKET, KEY, "v1", "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "event-1")
    [event] = transform_objects([ref], store=store, builder=FakeBuilder(), marts=FakeMarts())
    return event


def test_the_event_names_each_rejected_line_and_why() -> None:
    store = FakeStore({KEY: lines(place("p1"), extra=[b"{not json\n", b'{"displayName": "no id"}\n'])})

    [source] = transform(store).sources

    assert [r.line for r in source.rejected] == [2, 3]
    assert all(r.reason for r in source.rejected)


def test_only_the_first_ten_rejections_travel_and_the_count_keeps_them_all() -> None:
    store = FakeStore({KEY: lines(place("p1"), extra=[b"{not json\n"] * 25)})

    [source] = transform(store).sources

    assert source.quarantined_lines == 25
    assert [r.line for r in source.rejected] == list(range(2, 2 + REJECTED_LINES_SHOWN))


def test_a_batch_of_ten_objects_with_ten_longest_reasons_each_still_fits_the_bus() -> None:
    from tests.unit.transformer.test_event_fits_the_bus import outcome

    event = outcome(["Paris"], sources=1)
    worst = [
        SourceObject(
            bucket="b",
            key=f"raw/places/dt={DAY}/run__c{i}.jsonl",
            quarantined_lines=99,
            rejected=[RejectedLine.of(n, "\U0001f600" * 1000) for n in range(1, REJECTED_LINES_SHOWN + 1)],
        )
        for i in range(10)  # the transformer's batch size
    ]
    grown = event.model_copy(update={"sources": worst}).bus_size() - event.bus_size()
    assert grown < 35_000 < EVENT_MAX_BYTES // 6
    assert all(0 < len(r.reason) <= REJECTION_REASON_MAX for s in worst for r in s.rejected)
