"""The notifier's use case: a message from its queue -> at most one email per (run, outcome), once the run is done.

`parse_notifier_event` parses the SQS body at the edge (a bad message is a ContractError: that record fails, then
goes to the DLQ), then `Notifier.notify` decides with the pure domain and acts through the ports (ports.py; adapters/
implements them on AWS, the unit tests hand in small fakes). No boto3, no environment here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from contracts.envelope import ContractError, parse_eventbridge_event
from services.notifier.domain.body import render_repeat_email, render_run_email
from services.notifier.domain.facts import quarantined
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import (
    NOTIFIER_EVENTS,
    CityOutcome,
    NotifierEvent,
    RunProgress,
    RunRecords,
    failure_fingerprint,
    repeat_of,
    run_outcome,
    settled_outcomes,
    waits_for_run,
)
from services.notifier.domain.trust import refusal
from services.notifier.ports import EmailOnce, Ledger, OutcomeStore, RepeatStore

log = logging.getLogger(__name__)

Action = Literal["sent", "summarised", "duplicate", "already_notified", "waiting", "not_final", "refused"]


@dataclass(frozen=True)
class NotifyResult:
    action: Action
    run_id: str
    outcome: str | None = None
    message_id: str | None = None
    subject: str | None = None
    waiting_for: list[str] = field(default_factory=list)
    reason: str | None = None  # why an event was refused


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
        records = self.outcomes.load(run_id)
        reason = refusal(event, records)
        if reason is not None:
            return self._refuse(event, reason)
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
            outcomes = settled
        return self._send(run_id, outcomes, records)

    def _refuse(self, event: NotifierEvent, reason: str) -> NotifyResult:
        """Not mailed; recorded under the run it claims so that `restaurant-pipeline audit` lists it."""
        self.ledger.record(
            event.run_id,
            "REFUSED",
            event.metadata.event_id[:200],
            "notifier",
            {"detail_type": event.DETAIL_TYPE, "reason": reason, "produced_at": event.metadata.produced_at},
        )
        return NotifyResult("refused", event.run_id, reason=reason)

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
            {
                "message_id": delivery.message_id,
                "subject": email.subject,
                "summary": bool(repeat),
                "quarantined_lines": quarantined(outcomes)[0],  # `restaurant-pipeline runs` says a run set lines aside
            },
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


def parse_notifier_event(body: str | bytes | dict[str, Any]) -> NotifierEvent:
    """An SQS body (an EventBridge event) as one of the events the notifier handles; ContractError if not."""
    envelope = parse_eventbridge_event(body)
    model = NOTIFIER_EVENTS.get(envelope.detail_type)
    if model is None:
        raise ContractError(
            f"the notifier handles {sorted(NOTIFIER_EVENTS)}, not detail-type {envelope.detail_type!r}: "
            "check the rule that routes events to the notifier queue"
        )
    if envelope.source not in model.SOURCES:
        raise ContractError(f"{envelope.detail_type!r} cannot come from {envelope.source!r}; allowed: {model.SOURCES}")
    if not isinstance(envelope.detail, dict):
        raise ContractError(f"{envelope.detail_type!r}: detail must be a JSON object")
    return model.parse_detail(envelope.detail)
