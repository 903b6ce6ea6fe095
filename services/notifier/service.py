"""The notifier's one use case: given an event, send the run's email once, when the run is complete.

Talks to storage and SNS only through the ports below (adapters.py implements them on AWS; the unit tests
hand in small fakes). No boto3, no environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from services.notifier.emails import Email, EmailContext, render_repeat_email, render_run_email
from services.notifier.outcomes import (
    CityOutcome,
    Delivery,
    NotifierEvent,
    RepeatState,
    RunProgress,
    RunRecords,
    failure_fingerprint,
    repeat_of,
    run_outcome,
    settled_outcomes,
    waits_for_run,
)

log = logging.getLogger(__name__)

Action = Literal["sent", "summarised", "duplicate", "already_notified", "waiting", "not_final"]


class OutcomeStore(Protocol):
    def record(self, run_id: str, outcome: CityOutcome) -> bool: ...
    def load(self, run_id: str) -> RunRecords: ...


class RepeatStore(Protocol):
    def get(self, fingerprint: str) -> RepeatState | None: ...
    def remember_full(self, fingerprint: str, run_id: str, sent_at: datetime, window: timedelta) -> None: ...
    def count_repeat(self, fingerprint: str, run_id: str) -> None: ...


class EmailOnce(Protocol):
    def send_once(self, run_id: str, outcome: str, email: Email) -> Delivery: ...


class Ledger(Protocol):
    def record(
        self, run_id: str, step: Any, subject: str, service: str, data: dict[str, Any] | None = None
    ) -> bool: ...


@dataclass(frozen=True)
class NotifyResult:
    action: Action
    run_id: str
    outcome: str | None = None
    message_id: str | None = None
    subject: str | None = None
    waiting_for: list[str] = field(default_factory=list)


@dataclass
class Notifier:
    outcomes: OutcomeStore
    repeats: RepeatStore
    email: EmailOnce
    ledger: Ledger
    log_location: str = ""
    max_receive_count: int = 3
    repeat_window: timedelta = timedelta(hours=6)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def notify(self, event: NotifierEvent) -> NotifyResult:
        run_id = event.run_id
        settled = settled_outcomes(event)
        if not settled:
            return NotifyResult("not_final", run_id)  # a retry of the collection follows
        if waits_for_run(event, settled):
            for outcome in settled:
                self.outcomes.record(run_id, outcome)
            records = self.outcomes.load(run_id)
            progress = RunProgress(run_id, tuple(event.run_cities), records.outcomes)
            if not progress.complete:
                return NotifyResult("waiting", run_id, waiting_for=progress.missing)
            outcomes = progress.ordered()
        else:
            records = self.outcomes.load(run_id)
            outcomes = settled
        return self._send(run_id, outcomes, records)

    def _send(self, run_id: str, outcomes: list[CityOutcome], records: RunRecords) -> NotifyResult:
        outcome = run_outcome(outcomes)
        if outcome in records.notified:
            return NotifyResult("already_notified", run_id, outcome, records.notified[outcome])
        now = self.clock()
        context = EmailContext(
            log_location=self.log_location,
            max_receive_count=self.max_receive_count,
            requested_at=records.requested_at,
            now=now,
            repeat_window=self.repeat_window,
        )
        fingerprint = failure_fingerprint(outcomes)
        repeat = None
        if fingerprint is not None:
            repeat = repeat_of(self.repeats.get(fingerprint), run_id, now, self.repeat_window)
        email = (
            render_repeat_email(run_id, outcomes, repeat, context)
            if repeat
            else render_run_email(run_id, outcomes, context)
        )
        delivery = self.email.send_once(run_id, outcome, email)
        self.ledger.record(
            run_id,
            "NOTIFIED",
            outcome,
            "notifier",
            {"message_id": delivery.message_id, "subject": email.subject, "summary": bool(repeat)},
        )
        if delivery.duplicate:
            return NotifyResult("duplicate", run_id, outcome, delivery.message_id, email.subject)
        if fingerprint is not None:
            self._remember(fingerprint, run_id, now, summarised=repeat is not None)
        action: Action = "summarised" if repeat else "sent"
        return NotifyResult(action, run_id, outcome, delivery.message_id, email.subject)

    def _remember(self, fingerprint: str, run_id: str, now: datetime, summarised: bool) -> None:
        # The email is out: a failure here must not fail the record (its retry would be a duplicate).
        try:
            if summarised:
                self.repeats.count_repeat(fingerprint, run_id)
            else:
                self.repeats.remember_full(fingerprint, run_id, now, self.repeat_window)
        except Exception as exc:
            log.warning("could not remember failure %s of run %s: %s", fingerprint, run_id, exc)
