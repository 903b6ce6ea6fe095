"""What every service's use case needs from the outside besides its own adapters: the bus and the run ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from contracts.envelope import Event

Step = Literal["REQUESTED", "COLLECTED", "COLLECTION_FAILED", "TRANSFORMED", "CITY_OUTCOME", "NOTIFIED"]


class Publisher(Protocol):
    def publish(self, events: Iterable[Event]) -> None:
        """Put the events on the bus; raises when any is refused (the caller's record is retried)."""
        ...


class Ledger(Protocol):
    def record(
        self, run_id: str, step: Step, subject: str, service: str, data: Mapping[str, Any] | None = None
    ) -> bool:
        """Record a step of a run once; False when the ledger could not be written (never raises)."""
        ...
