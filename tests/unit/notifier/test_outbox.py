"""The local outbox: RFC 5322 files, read back in order, drained from the SNS capture queue exactly once."""

from __future__ import annotations

import email.policy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.local.outbox import drain_sns_capture, read_outbox, render_eml, show_outbox, write_eml

SENT = datetime(2026, 11, 25, 8, 2, 20, tzinfo=UTC)
BODY = "✅ All good: Saint-Étienne, 2026-11-25.\n\n   1. Café de l'Été (4.8, 1,234 ratings)\n"


def test_write_eml_writes_an_rfc_5322_message_a_mail_client_can_read(tmp_path):
    path = write_eml(tmp_path, "[restaurant-pipeline] OK Paris", BODY, "msg-1", SENT, to="team@example.com")

    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line endings
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert message["Subject"] == "[restaurant-pipeline] OK Paris"
    assert message["Date"] == "Wed, 25 Nov 2026 08:02:20 +0000"
    assert message["To"] == "team@example.com"
    assert "restaurant-pipeline" in message["From"]
    assert message["Message-ID"] == "<msg-1@sns.local>"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n") == BODY


def test_a_subject_longer_than_78_characters_reads_back_unchanged(tmp_path):
    subject = "[restaurant-pipeline] OK Paris 2026-11-25: 20 restaurants, 31/31 tests passed" + " x" * 8
    write_eml(tmp_path, subject, "b", "m", SENT)
    assert read_outbox(tmp_path)[0].subject == subject


def test_a_very_long_line_is_still_a_valid_message(tmp_path):
    body = "x" * 5000 + "\nend\n"
    path = write_eml(tmp_path, "s", body, "long", SENT)
    assert max(len(line) for line in path.read_bytes().split(b"\r\n")) <= 998
    assert read_outbox(tmp_path)[0].body == body


def test_the_same_message_id_is_never_written_twice(tmp_path):
    first = write_eml(tmp_path, "first", "a", "msg-1", SENT)
    second = write_eml(tmp_path, "second", "b", "msg-1", datetime(2026, 11, 26, tzinfo=UTC))
    assert first == second
    assert [m.subject for m in read_outbox(tmp_path)] == ["first"]


def test_read_outbox_returns_messages_oldest_first(tmp_path):
    write_eml(tmp_path, "later", "b", "m2", datetime(2026, 11, 26, 8, tzinfo=UTC))
    write_eml(tmp_path, "earlier", "a", "m1", datetime(2026, 11, 25, 8, tzinfo=UTC))
    messages = read_outbox(tmp_path)
    assert [m.subject for m in messages] == ["earlier", "later"]
    assert messages[0].sent_at == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert read_outbox(tmp_path / "missing") == []


def test_show_outbox_prints_every_email_or_only_the_last_and_says_when_there_is_none(tmp_path):
    assert "No email in" in show_outbox(tmp_path)
    write_eml(tmp_path, "first subject", "first body", "m1", SENT)
    write_eml(tmp_path, "second subject", BODY, "m2", datetime(2026, 11, 25, 9, tzinfo=UTC))

    everything = show_outbox(tmp_path)
    assert "2 email(s)" in everything and "first body" in everything and "Saint-Étienne" in everything
    last = show_outbox(tmp_path, last=True)
    assert "Subject: second subject" in last and "first body" not in last


def notification(message_id: str, subject: str, message: str) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:eu-west-3:123456789012:restaurant-pipeline-notifications",
            "Subject": subject,
            "Message": message,
            "Timestamp": "2026-11-25T08:02:20.123Z",
        }
    )


@dataclass
class FakeSqs:
    """A queue that hands out its messages and remembers what was deleted."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        batch = [m for m in self.messages if m["ReceiptHandle"] not in self.deleted][: kwargs["MaxNumberOfMessages"]]
        return {"Messages": batch} if batch else {}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.deleted.append(ReceiptHandle)

    def add(self, body: str, message_id: str) -> None:
        n = len(self.messages)
        self.messages.append(
            {"MessageId": message_id, "ReceiptHandle": f"rh-{n}", "Body": body, "Attributes": {"SentTimestamp": "0"}}
        )


def test_drain_writes_one_file_per_notification_and_skips_a_redelivered_one(tmp_path):
    sqs = FakeSqs()
    for n in range(12):  # more than one receive batch
        sqs.add(notification(f"sns-{n}", f"subject {n}", f"body {n}"), f"sqs-{n}")
    sqs.add(notification("sns-3", "subject 3", "body 3"), "sqs-dup")  # SQS delivered it twice

    written = drain_sns_capture(sqs, "url", tmp_path)

    assert written == 12
    assert len(list(tmp_path.glob("*.eml"))) == 12
    assert len(sqs.deleted) == 13
    first = read_outbox(tmp_path)[0]
    assert first.subject == "subject 0" and first.body == "body 0\n"  # a text body ends with a newline
    assert first.sent_at == datetime(2026, 11, 25, 8, 2, 20, 123000, tzinfo=UTC)  # the file name keeps the ms


def test_drain_keeps_a_raw_delivery_too(tmp_path):
    sqs = FakeSqs()
    sqs.add("just the message text", "sqs-raw")
    assert drain_sns_capture(sqs, "url", tmp_path) == 1
    assert read_outbox(tmp_path)[0].body == "just the message text\n"


def test_a_message_is_not_deleted_when_its_file_cannot_be_written(tmp_path):
    sqs = FakeSqs()
    sqs.add(notification("sns-1", "s", "b"), "sqs-1")
    not_a_folder = tmp_path / "outbox"
    not_a_folder.write_text("a file where the outbox folder should be")

    with pytest.raises(OSError):
        drain_sns_capture(sqs, "url", Path(not_a_folder))
    assert sqs.deleted == []


def test_render_eml_shows_one_email_with_its_headers_and_body(tmp_path):
    path = write_eml(tmp_path, "[restaurant-pipeline] OK Paris", BODY, "m1", SENT)
    text = render_eml(path)
    assert text.startswith("From:")
    assert "Subject: [restaurant-pipeline] OK Paris" in text and "Café de l'Été" in text
