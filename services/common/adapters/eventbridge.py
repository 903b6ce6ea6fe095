"""Adapter: publish contract events on the EventBridge bus.

PutEvents takes at most 10 entries, whose sizes together must stay under 256 KB
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html); an entry's size is what
"Calculating PutEvents event entry size" says (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html,
contracts.envelope.entry_size). Events are sent in order, as many to a request as both limits allow; an event too
large to be sent at all stops the publication before anything is sent, naming it and its size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from contracts.envelope import PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, Event, entry_size

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


class PublishError(RuntimeError):
    """EventBridge refused at least one entry; the caller's record must be retried."""


class EventTooLarge(PublishError):
    """One event is larger than a PutEvents request may carry: it cannot be sent as it is."""


def plan_requests(
    entries: Sequence[PutEventsRequestEntryTypeDef],
    max_entries: int = PUT_EVENTS_MAX_ENTRIES,
    max_bytes: int = PUT_EVENTS_MAX_BYTES,
) -> list[list[PutEventsRequestEntryTypeDef]]:
    """The entries in order, cut into requests of at most `max_entries` whose entry sizes add up to less than
    `max_bytes`. EventTooLarge when one entry alone reaches `max_bytes` (nothing is planned then)."""
    requests: list[list[PutEventsRequestEntryTypeDef]] = []
    current: list[PutEventsRequestEntryTypeDef] = []
    current_bytes = 0
    for entry in entries:
        size = entry_size(entry)
        if size >= max_bytes:
            raise EventTooLarge(
                f"{entry['DetailType']!r} from {entry['Source']} ({_identity(entry)}) is {size:,} bytes as "
                f"EventBridge counts them: a PutEvents request must stay under {max_bytes:,}; it was not sent"
            )
        if current and (len(current) >= max_entries or current_bytes + size >= max_bytes):
            requests.append(current)
            current, current_bytes = [], 0
        current.append(entry)
        current_bytes += size
    if current:
        requests.append(current)
    return requests


class EventPublisher:
    def __init__(self, events_client: EventBridgeClient, bus_name: str) -> None:
        self._client = events_client
        self._bus_name = bus_name

    def publish(self, events: Iterable[Event]) -> None:
        entries = [event.to_entry(self._bus_name) for event in events]
        for chunk in plan_requests(entries):
            response = self._client.put_events(Entries=chunk)
            if response.get("FailedEntryCount"):
                reasons = {e.get("ErrorCode", "?") for e in response["Entries"] if e.get("ErrorCode")}
                raise PublishError(f"EventBridge refused {response['FailedEntryCount']} event(s): {sorted(reasons)}")


def _identity(entry: PutEventsRequestEntryTypeDef) -> str:
    """The run and event ids the detail's metadata names (read on this error path only)."""
    try:
        metadata = json.loads(entry.get("Detail") or "{}").get("metadata") or {}
    except ValueError:
        return "detail not JSON"
    return f"run {metadata.get('correlation_id', '?')}, event {metadata.get('event_id', '?')}"
