"""When SNS refuses a publish, the next email that gets through says so, once; the note never stops an email."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.adapters.sns import DeliveryTrackingSender
from services.notifier.domain.delivery import Undelivered
from services.notifier.domain.message import Email

T0 = datetime(2026, 1, 6, 12, 0, 3, tzinfo=UTC)


@dataclass
class FakeSns:
    down: bool = False
    sent: list[Email] = field(default_factory=list)

    def send(self, email: Email) -> str:
        if self.down:
            raise RuntimeError("An error occurred (NotFound) when calling the Publish operation: Topic does not exist")
        self.sent.append(email)
        return f"id-{len(self.sent)}"


@dataclass
class FakeUndelivered:
    note: Undelivered | None = None
    broken: bool = False

    def pending(self) -> Undelivered | None:
        if self.broken:
            raise ConnectionError("DynamoDB unreachable")
        return self.note

    def record(self, run_id: str, at: datetime, error: str) -> None:
        if self.broken:
            raise ConnectionError("DynamoDB unreachable")
        if self.note is None:
            self.note = Undelivered(at, at, 1, (run_id,), error)
        else:
            runs = tuple(sorted({*self.note.runs, run_id}))
            self.note = Undelivered(self.note.first_failed_at, at, self.note.attempts + 1, runs, error)

    def clear(self, noted: Undelivered) -> None:
        if self.note is not None and self.note.last_failed_at == noted.last_failed_at:
            self.note = None


def sender(sns: FakeSns, store: FakeUndelivered, times: list[datetime]) -> DeliveryTrackingSender:
    clock = iter(times)
    return DeliveryTrackingSender(sns, store, clock=lambda: next(clock))  # type: ignore[arg-type]


def test_a_refused_publish_is_remembered_and_raised_then_the_delivered_email_opens_with_the_note_once():
    sns, store = FakeSns(down=True), FakeUndelivered()
    tracked = sender(sns, store, [T0, T0 + timedelta(seconds=2)])
    for _ in range(2):
        with pytest.raises(RuntimeError):
            tracked.send(Email("s", "the run's email\n"), "run-a")
    sns.down = False

    tracked.send(Email("s", "the run's email\n"), "run-a")
    tracked.send(Email("s", "the next email\n"), "run-b")

    late, after = sns.sent
    assert late.body.startswith("⚠️ This email is late: SNS refused to deliver it at 2026-01-06 12:00:03 UTC")
    text = " ".join(late.body.split())
    assert "(2 attempt(s) until 2026-01-06 12:00:05 UTC)" in text and "Topic does not exist" in text
    assert late.body.endswith("the run's email\n")
    assert after.body == "the next email\n"
    assert store.note is None


def test_the_note_names_another_run_when_the_email_that_gets_through_is_not_the_refused_one():
    sns, store = FakeSns(), FakeUndelivered(Undelivered(T0, T0, 3, ("run-lost",), "NotFound"))

    sender(sns, store, []).send(Email("s", "body\n"), "run-next")

    text = " ".join(sns.sent[0].body.split())
    assert text.startswith("⚠️ An earlier notification could not be delivered: SNS refused it at 2026-01-06")
    assert "the email of run(s) run-lost" in text


def test_a_broken_note_store_never_stops_an_email_nor_hides_the_sns_error():
    sns, store = FakeSns(), FakeUndelivered(broken=True)
    tracked = sender(sns, store, [T0])

    assert tracked.send(Email("s", "body\n"), "run-a") == "id-1"
    sns.down = True
    with pytest.raises(RuntimeError, match="Topic does not exist"):
        tracked.send(Email("s", "body\n"), "run-b")
    assert [e.body for e in sns.sent] == ["body\n"]
