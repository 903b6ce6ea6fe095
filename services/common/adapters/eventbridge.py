"""Adapter: publish contract events on the EventBridge bus."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts.envelope import Event

PUT_EVENTS_MAX_ENTRIES = 10


class PublishError(RuntimeError):
    """EventBridge refused at least one entry; the caller's record must be retried."""


class EventPublisher:
    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._client = events_client
        self._bus_name = bus_name

    def publish(self, events: Iterable[Event]) -> None:
        entries = [event.to_entry(self._bus_name) for event in events]
        for start in range(0, len(entries), PUT_EVENTS_MAX_ENTRIES):
            chunk = entries[start : start + PUT_EVENTS_MAX_ENTRIES]
            response = self._client.put_events(Entries=chunk)
            if response.get("FailedEntryCount"):
                reasons = {e.get("ErrorCode", "?") for e in response["Entries"] if e.get("ErrorCode")}
                raise PublishError(f"EventBridge refused {response['FailedEntryCount']} event(s): {sorted(reasons)}")
