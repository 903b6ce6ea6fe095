"""Small hand-written fakes of the notifier's ports (services/notifier/ports.py), and the notifier wired to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.notifier.domain.message import Email
from services.notifier.domain.outcomes import CityOutcome, Delivery, RepeatState, RunRecords
from services.notifier.service import Notifier
from tests.unit.notifier.builders import later


@dataclass
class FakeRunStore:
    runs: dict[str, RunRecords] = field(default_factory=dict)
    # What the other services recorded: the runs the collector requested (None: every run, as most tests assume)
    # and, per run, the transformer's outcomes per object version (None: whatever an event says, as most tests assume).
    requested: set[str] | None = None
    transformed: dict[str, dict[tuple[str, str], frozenset[str]]] | None = None

    def transform_recorded(self, run_id: str, key: str, version: str, outcome: str) -> None:
        """The transformer's step for one object version under a run, as the ledger would hold it."""
        if self.transformed is None:
            self.transformed = {}
        steps = self.transformed.setdefault(run_id, {})
        steps[(key, version)] = steps.get((key, version), frozenset()) | {outcome}

    def record(self, run_id: str, outcome: CityOutcome) -> bool:
        records = self.runs.setdefault(run_id, RunRecords())
        key = (outcome.city or "").casefold()
        current = records.outcomes.get(key)
        if current is not None and (
            outcome.tentative or (not current.tentative and current.produced_at >= outcome.produced_at)
        ):
            return False
        records.outcomes[key] = outcome
        return True

    def load(self, run_id: str) -> RunRecords:
        records = self.runs.get(run_id, RunRecords())
        return RunRecords(
            dict(records.outcomes),
            dict(records.notified),
            records.requested_at,
            requested=self.requested is None or run_id in self.requested,
            transformed=_EveryObject() if self.transformed is None else dict(self.transformed.get(run_id, {})),
        )


class _EveryObject(dict):
    """The ledger of most tests: the transformer built every object version with whatever outcome the event says."""

    def get(self, key: Any, default: Any = None) -> frozenset[str]:
        return frozenset({"passed", "tests_failed", "error"})


@dataclass
class FakeLedger:
    store: FakeRunStore
    steps: list[tuple[str, str, str]] = field(default_factory=list)

    def record(
        self,
        run_id: str,
        step: Any,
        subject: str,
        service: str,
        data: dict | None = None,
        *,
        version: str | None = None,
        variant: str | None = None,
    ) -> bool:
        self.steps.append((run_id, step, subject))
        if step == "NOTIFIED":
            self.store.runs.setdefault(run_id, RunRecords()).notified.setdefault(subject, data["message_id"])
        return True


@dataclass
class FakeRepeats:
    states: dict[str, RepeatState] = field(default_factory=dict)
    broken: bool = False

    def get(self, fingerprint: str) -> RepeatState | None:
        return self.states.get(fingerprint)

    def remember_full(self, fingerprint: str, run_id: str, sent_at: datetime, window: timedelta) -> None:
        if self.broken:
            raise ConnectionError("dynamodb unreachable")
        self.states[fingerprint] = RepeatState(fingerprint, run_id, sent_at, 1, run_id)

    def count_repeat(self, fingerprint: str, run_id: str) -> None:
        state = self.states[fingerprint]
        if state.last_run_id != run_id:
            self.states[fingerprint] = RepeatState(
                fingerprint, state.first_run_id, state.first_sent_at, state.count + 1, run_id
            )


class PublishFailed(RuntimeError):
    pass


@dataclass
class FakeEmailOnce:
    """Behaves like the idempotent sender: one publish per (run, outcome); a failed publish keeps nothing."""

    sent: list[Email] = field(default_factory=list)
    done: dict[tuple[str, str], Delivery] = field(default_factory=dict)
    failures_left: int = 0

    def send_once(self, run_id: str, outcome: str, email: Email) -> Delivery:
        if (run_id, outcome) in self.done:
            previous = self.done[(run_id, outcome)]
            return Delivery(previous.message_id, previous.sent_at, duplicate=True)
        if self.failures_left:
            self.failures_left -= 1
            raise PublishFailed("SNS is down")
        self.sent.append(email)
        delivery = Delivery(f"msg-{len(self.sent)}", "now", duplicate=False)
        self.done[(run_id, outcome)] = delivery
        return delivery


@dataclass
class World:
    notifier: Notifier
    store: FakeRunStore
    ledger: FakeLedger
    repeats: FakeRepeats
    email: FakeEmailOnce
    clock: list[datetime]


def make_world(requested: set[str] | None = None) -> World:
    """The notifier over fresh fakes; its clock is `clock[0]` (tests move it). `requested`: the runs the ledger
    knows were requested (None: every run)."""
    store = FakeRunStore(requested=requested)
    ledger = FakeLedger(store)
    repeats = FakeRepeats()
    email = FakeEmailOnce()
    clock = [later(0)]
    notifier = Notifier(
        outcomes=store,
        repeats=repeats,
        email=email,
        ledger=ledger,
        log_location=".pipeline/logs",
        repeat_window=timedelta(minutes=360),
        clock=lambda: clock[0],
    )
    return World(notifier, store, ledger, repeats, email, clock)
