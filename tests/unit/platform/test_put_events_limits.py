"""PutEvents limits: at most 10 entries a request, and entry sizes adding up to less than 256 KB, each entry's size
computed as "Calculating PutEvents event entry size" says
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html). moto checks only the count, so a
hand-written client here refuses what AWS documents it refuses, with its own reading of the formula."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.envelope import PUT_EVENTS_MAX_BYTES, entry_size
from contracts.events import CollectionFailed
from services.common.adapters.eventbridge import EventPublisher, EventTooLarge, PublishError, plan_requests

KB = 1024


def documented_size(entry: dict[str, Any]) -> int:
    """The page's Java getSize, line by line: Time 14 bytes if set; Source, DetailType, Detail and each Resources
    entry by their UTF-8 bytes."""
    size = 0
    if entry.get("Time") is not None:
        size += 14
    size += len(entry["Source"].encode("utf-8"))
    size += len(entry["DetailType"].encode("utf-8"))
    if entry.get("Detail") is not None:
        size += len(entry["Detail"].encode("utf-8"))
    for resource in entry.get("Resources") or []:
        if resource is not None:
            size += len(resource.encode("utf-8"))
    return size


class DocumentedEventsClient:
    """PutEvents refusing a request of more than 10 entries or of entry sizes totalling 256 KB or more."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if len(Entries) > 10:
            raise ValueError(f"ValidationException: {len(Entries)} entries, at most 10")
        total = sum(documented_size(entry) for entry in Entries)
        if total >= 256 * KB:
            raise ValueError(f"ValidationException: the total entry size {total:,} is not less than 256 KB")
        self.requests.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def failed_event(message_bytes: int, run_id: str = "run-1") -> CollectionFailed:
    """A real contract event whose detail is about `message_bytes` larger than an empty one."""
    return CollectionFailed(
        metadata=CollectionFailed.make_metadata(run_id),
        run_id=run_id,
        trigger_source="schedule",
        collection_date="2026-01-01",
        city="Paris",
        run_cities=["Paris", "X" * 100] + ["Y" * 100] * (message_bytes // 103),
        category="internal",
        message="boom",
        retryable=False,
        attempt=1,
        final_attempt=True,
    )


def test_the_entry_size_is_the_documented_formula() -> None:
    entry = {
        "Source": "restaurant-pipeline.collector",
        "DetailType": "Collection Failed",
        "Detail": json.dumps({"city": "Saint-Étienne 東京"}, ensure_ascii=False),
        "Resources": ["arn:aws:s3:::bucket", None],
        "Time": 1_767_225_600,
        "EventBusName": "restaurant-pipeline",  # not counted
    }
    expected = 14 + 29 + 17 + len('{"city": "Saint-Étienne 東京"}'.encode()) + 19
    assert documented_size(entry) == expected == entry_size(entry)
    assert entry_size({"Source": "s", "DetailType": "t"}) == 2  # no Time, no Detail, no Resources


def test_ten_entries_of_30_kb_go_in_two_requests_each_under_256_kb() -> None:
    """The case that failed before: 10 entries of 30 KB each were one request of about 300 KB."""
    events = [failed_event(30 * KB, run_id=f"run-{i}") for i in range(10)]
    assert all(30 * KB <= event.entry_size() < 31 * KB for event in events)
    client = DocumentedEventsClient()

    EventPublisher(client, "restaurant-pipeline").publish(events)

    sizes = [sum(documented_size(e) for e in request) for request in client.requests]
    assert [len(request) for request in client.requests] == [8, 2]
    assert all(size < 256 * KB for size in sizes)
    sent = [json.loads(e["Detail"])["run_id"] for request in client.requests for e in request]
    assert sent == [f"run-{i}" for i in range(10)]  # all of them, in order


def test_small_entries_still_go_ten_to_a_request() -> None:
    events = [failed_event(0, run_id=f"run-{i}") for i in range(23)]
    client = DocumentedEventsClient()

    EventPublisher(client, "restaurant-pipeline").publish(events)

    assert [len(request) for request in client.requests] == [10, 10, 3]


def test_a_request_stops_just_under_the_limit() -> None:
    entry = {"Source": "s", "DetailType": "t", "Detail": "x" * 1000}
    exact = {"Source": "s", "DetailType": "t", "Detail": "x" * (PUT_EVENTS_MAX_BYTES - 1 - 2 - 1002)}
    assert entry_size(entry) + entry_size(exact) == PUT_EVENTS_MAX_BYTES - 1
    assert plan_requests([entry, exact]) == [[entry, exact]]  # one byte under the limit: together
    bigger = {**exact, "Detail": exact["Detail"] + "x"}
    assert plan_requests([entry, bigger]) == [[entry], [bigger]]  # at the limit: apart


def test_an_event_too_large_for_any_request_is_refused_by_name_and_size_and_nothing_is_sent() -> None:
    small = failed_event(0, run_id="run-small")
    huge = failed_event(300 * KB, run_id="run-huge")
    client = DocumentedEventsClient()

    with pytest.raises(EventTooLarge) as raised:
        EventPublisher(client, "restaurant-pipeline").publish([small, huge])

    message = str(raised.value)
    assert "'Collection Failed'" in message and "run run-huge" in message and str(huge.metadata.event_id) in message
    assert f"{huge.entry_size():,} bytes" in message and f"{PUT_EVENTS_MAX_BYTES:,}" in message
    assert isinstance(raised.value, PublishError)  # the caller's record is retried, as for any refusal
    assert client.requests == []  # not even the small one: no half-published outcome
