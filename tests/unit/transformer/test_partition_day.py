"""A partition day is the day the places were collected: at most the day after the object landed, in UTC (issue 24,
item 7). A file under raw/places/dt=2099-01-01/ reusing today's place ids would otherwise be the latest collection
of those places in the marts for good. It is refused unread, its reason in quarantine/, nothing built for it, and the
outcome (then the email) says why and how to fix it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from services.transformer.domain.reading import ObjectRef, future_day_problem, validated_key
from services.transformer.domain.transform import transform_objects
from tests.unit.transformer.fakes import BUCKET, DAY, FakeBuilder, FakeMarts, FakeStore, lines, place

LANDED = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)  # DAY, late in the evening (UTC)
FUTURE = "raw/places/dt=2099-01-01/run-1__paris.jsonl"
TODAY = f"raw/places/dt={DAY}/run-1__paris.jsonl"


def ref(key: str, landed: datetime = LANDED) -> ObjectRef:
    return ObjectRef(BUCKET, key, "v1", "etag", 10, landed, "event-1")


def test_an_object_under_a_day_far_after_its_landing_is_refused_quarantined_and_nothing_is_built_for_it():
    store = FakeStore({FUTURE: lines(place("p1"), place("p2"))})
    builder = FakeBuilder()

    [event] = transform_objects([ref(FUTURE)], store=store, builder=builder, marts=FakeMarts())

    assert builder.calls == []  # no build, no day 2099-01-01 anywhere
    assert not any("2099-01-01" in key for key in store.written if not key.startswith("quarantine/"))
    assert event.outcome == "error" and event.error is not None and event.error.phase == "validate"
    assert event.collection_dates == [] and event.city_summaries == []
    [source] = event.sources
    assert source.valid_lines == 0 and source.quarantine_key == f"quarantine/{FUTURE}~vv1.rejected.jsonl"
    reason = (
        "dt=2099-01-01 is later than 2026-01-02, the day after the object landed (2026-01-01, UTC): a partition day "
        "is the day the places were collected, at most 1 day after the upload. Nothing was built from it; move the "
        "file under raw/places/dt=<the day it was collected>/"
    )
    assert source.problem == reason and reason in event.error.message
    [record] = [json.loads(line) for line in store.written[source.quarantine_key][0].splitlines()]
    assert record["source_key"] == FUTURE and record["line"] is None and record["reason"] == reason


def test_the_email_says_why_the_object_was_refused_and_how_to_fix_it():
    store = FakeStore({FUTURE: lines(place("p1"))})
    [event] = transform_objects([ref(FUTURE)], store=store, builder=FakeBuilder(), marts=FakeMarts())

    email = render_run_email(event.run_id, settled_outcomes(event), EmailContext())

    body = " ".join(email.body.split())
    assert "dt=2099-01-01 is later than 2026-01-02, the day after the object landed" in body
    assert "move the file under raw/places/dt=<the day it was collected>/" in body
    assert email.subject.startswith("[restaurant-pipeline] ERROR")


def test_a_refused_object_costs_itself_alone_the_batch_s_good_object_is_built():
    store = FakeStore({FUTURE: lines(place("p9")), TODAY: lines(place("p1"))})
    builder = FakeBuilder()

    [event] = transform_objects([ref(TODAY), ref(FUTURE)], store=store, builder=builder, marts=FakeMarts())

    assert builder.calls == [([DAY], [validated_key(DAY, "run-1__paris.jsonl", "v1")])]
    assert event.outcome == "passed" and [d.isoformat() for d in event.collection_dates] == [DAY]
    refused = next(source for source in event.sources if source.key == FUTURE)
    assert refused.problem and "dt=2099-01-01" in refused.problem


WEST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("day", "landed", "refused"),
    [
        ("2026-01-02", datetime(2026, 1, 1, 0, 0, tzinfo=UTC), False),  # tomorrow (UTC): a collector east of UTC
        ("2026-01-03", datetime(2026, 1, 1, 23, 59, tzinfo=UTC), True),
        ("2026-01-01", datetime(2026, 1, 1, 23, 59, tzinfo=UTC), False),
        ("2025-06-30", datetime(2026, 1, 1, 12, 0, tzinfo=UTC), False),  # an old day put again: reprocessing
        ("2026-01-03", datetime(2026, 1, 1, 23, 30, tzinfo=WEST), False),  # that is 2026-01-02 04:30 UTC
        ("2026-01-04", datetime(2026, 1, 1, 23, 30, tzinfo=WEST), True),
        ("2026-01-02", datetime(2026, 1, 1, 1, 0), False),  # a naive time is UTC
        ("2026-01-03", datetime(2026, 1, 1, 1, 0), True),
    ],
)
def test_the_limit_is_the_day_after_the_landing_day_in_utc(day: str, landed: datetime, refused: bool):
    assert (future_day_problem(day, landed) is not None) is refused
