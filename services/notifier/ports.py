"""What the notifier's use case needs from the outside (adapters/ implements them on AWS; tests hand in fakes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from services.common.ports import Ledger
from services.notifier.domain.delivery import Undelivered
from services.notifier.domain.message import Email
from services.notifier.domain.outcomes import CityOutcome, Delivery, RepeatState, RunRecords

__all__ = ["EmailOnce", "Ledger", "OutcomeStore", "RepeatStore", "UndeliveredStore"]


class OutcomeStore(Protocol):
    """Each city's final outcome of a run, and what was already mailed for it."""

    def record(self, run_id: str, outcome: CityOutcome) -> bool: ...
    def load(self, run_id: str) -> RunRecords: ...


class RepeatStore(Protocol):
    """The last full email per failure fingerprint, so a repeat gets a short email."""

    def get(self, fingerprint: str) -> RepeatState | None: ...
    def remember_full(self, fingerprint: str, run_id: str, sent_at: datetime, window: timedelta) -> None: ...
    def count_repeat(self, fingerprint: str, run_id: str) -> None: ...


class EmailOnce(Protocol):
    """Sends an email at most once per (run, outcome), whatever the number of deliveries."""

    def send_once(self, run_id: str, outcome: str, email: Email) -> Delivery: ...


class UndeliveredStore(Protocol):
    """The publishes SNS refused since the last email that got through."""

    def pending(self) -> Undelivered | None: ...
    def record(self, run_id: str, at: datetime, error: str) -> None: ...
    def clear(self, noted: Undelivered) -> None: ...
