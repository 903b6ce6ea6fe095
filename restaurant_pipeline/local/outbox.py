"""The local stack's email: what SNS would send, captured as RFC 5322 .eml files under .pipeline/outbox/.

Locally the SNS topic delivers to an SQS capture queue (SNS -> SQS works on moto). `drain_sns_capture`
turns each notification into one .eml file (deleting the SQS message only once the file is written, and
never writing the same SNS MessageId twice); `read_outbox`, `list_outbox` and `show_outbox` read them back for
`restaurant-pipeline outbox`.

Two kinds of email reach the topic: a run's (the notifier's; its body names the run: a `Run RUN_ID` line and a
footer ending `run RUN_ID`) and an alarm's (CloudWatch's wording, the subject `ALARM: "name" in Region`, or `OK:`,
`INSUFFICIENT_DATA:`). Anything else (a raw delivery) is listed with the runs'.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEFAULT_FROM = "restaurant-pipeline (local SNS) <no-reply@localhost>"
DEFAULT_TO = "subscribers@localhost"
MESSAGE_ID_HEADER = "X-SNS-Message-Id"
RECEIVE_BATCH = 10
RFC_LINE_LIMIT = 998
DEFAULT_LIMIT = 20  # emails a listing shows, newest first
EmailKind = Literal["run", "alarm", "other"]
_ALARM_SUBJECT = re.compile(r'^(ALARM|OK|INSUFFICIENT_DATA): "')
# the notifier's footer (`… · run RUN_ID`) and its second line (`Run RUN_ID, triggered …`); run ids are contracts'
_RUN_FOOTER = re.compile(r"· run ([A-Za-z0-9][A-Za-z0-9._:-]{0,79})\s*$")
_RUN_LINE = re.compile(r"^Run ([A-Za-z0-9][A-Za-z0-9._:-]{0,79})(?:,|\s*$)", re.MULTILINE)


@dataclass(frozen=True)
class OutboxMessage:
    path: Path
    subject: str
    sent_at: datetime
    sender: str
    to: str
    message_id: str
    body: str

    @property
    def kind(self) -> EmailKind:
        if _ALARM_SUBJECT.match(self.subject):
            return "alarm"
        return "run" if self.run_id else "other"

    @property
    def run_id(self) -> str | None:
        """The run this email reports on (None for an alarm's or a raw delivery)."""
        if _ALARM_SUBJECT.match(self.subject):
            return None
        footer = _RUN_FOOTER.search(self.body.rstrip().rsplit("\n", 1)[-1])
        line = footer or _RUN_LINE.search(self.body)
        return line.group(1) if line else None

    def as_record(self) -> dict[str, Any]:
        """What `outbox --json` prints of it (the field names its help gives)."""
        return {
            "sent_at": self.sent_at,
            "kind": self.kind,
            "run_id": self.run_id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "file": str(self.path),
            "message_id": self.message_id,
        }


def _safe_id(message_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip())
    if not safe:
        raise ValueError("an email needs a message id (the SNS MessageId)")
    return safe


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find_eml(outbox_dir: Path, message_id: str) -> Path | None:
    """The file already written for this SNS MessageId, if any."""
    matches = sorted(Path(outbox_dir).glob(f"*-{_safe_id(message_id)}.eml"))
    return matches[0] if matches else None


def write_eml(
    outbox_dir: Path,
    subject: str,
    body: str,
    message_id: str,
    sent_at: datetime,
    to: str = DEFAULT_TO,
    sender: str = DEFAULT_FROM,
) -> Path:
    """Write one RFC 5322 message (text/plain, utf-8); returns its path. Never writes a MessageId twice:
    if a file for it exists, that file's path is returned and nothing is written."""
    outbox_dir = Path(outbox_dir)
    outbox_dir.mkdir(parents=True, exist_ok=True)
    existing = find_eml(outbox_dir, message_id)
    if existing is not None:
        return existing
    sent_at = _utc(sent_at)
    # CRLF line endings, as RFC 5322 wants; headers unfolded up to its hard limit, so `cat` shows one line each.
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=RFC_LINE_LIMIT))
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(sent_at)
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = f"<{_safe_id(message_id)}@sns.local>"
    message[MESSAGE_ID_HEADER] = message_id
    long_lines = any(len(line.encode("utf-8")) > RFC_LINE_LIMIT for line in body.splitlines())
    # 8bit keeps the file readable with `cat`; quoted-printable only when a line is too long for 8bit.
    message.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable" if long_lines else "8bit")
    name = f"{sent_at:%Y%m%dT%H%M%S.%fZ}-{_safe_id(message_id)}.eml"
    path = outbox_dir / name
    partial = outbox_dir / f".{name}.partial"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, path)  # atomic: a crash never leaves half a message under the final name
    return path


def read_eml(path: Path) -> OutboxMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(Path(path).read_bytes())
    date = message.get("Date")
    sent_at: datetime | None
    try:  # the file name keeps the microseconds the Date header (RFC 5322) cannot
        sent_at = datetime.strptime(Path(path).name.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        sent_at = None
    try:
        sent_at = sent_at or (_utc(email.utils.parsedate_to_datetime(str(date))) if date else None)
    except (TypeError, ValueError):
        sent_at = None
    if sent_at is None:
        sent_at = datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return OutboxMessage(
        path=Path(path),
        subject=str(message.get("Subject", "")).strip(),
        sent_at=sent_at,
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        message_id=str(message.get(MESSAGE_ID_HEADER) or message.get("Message-ID", "")),
        body=body.replace("\r\n", "\n"),
    )


def read_outbox(outbox_dir: Path) -> list[OutboxMessage]:
    """Every captured email, oldest first."""
    folder = Path(outbox_dir)
    if not folder.is_dir():
        return []
    messages = [read_eml(path) for path in folder.glob("*.eml")]
    return sorted(messages, key=lambda m: (m.sent_at, m.path.name))


def _from_sqs(message: MessageTypeDef) -> tuple[str, str, str, datetime]:
    """(message id, subject, body, sent at) of an SNS notification delivered to SQS."""
    body = message.get("Body", "")
    try:
        notification = json.loads(body)
    except json.JSONDecodeError:
        notification = None
    if isinstance(notification, dict) and notification.get("Type") == "Notification" and "Message" in notification:
        timestamp = notification.get("Timestamp")
        sent_at = datetime.fromisoformat(timestamp) if timestamp else datetime.now(UTC)
        return (
            str(notification.get("MessageId") or message["MessageId"]),
            str(notification.get("Subject") or "(no subject)"),
            str(notification["Message"]),
            sent_at,
        )
    # Raw message delivery (or anything else): keep it, under the SQS message id.
    sent_ms = message.get("Attributes", {}).get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else datetime.now(UTC)
    return str(message["MessageId"]), "(no subject: raw message delivery)", str(body), sent_at


def drain_sns_capture(
    sqs_client: SQSClient,
    queue_url: str,
    outbox_dir: Path,
    to: str = DEFAULT_TO,
    wait_seconds: int = 0,
) -> int:
    """Move every notification waiting in the capture queue into the outbox. Returns the new files written.

    A message is deleted only after its file exists; a redelivered message (same SNS MessageId) is deleted
    without writing a second file.
    """
    written = 0
    while True:
        response = sqs_client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=RECEIVE_BATCH,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["SentTimestamp"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return written
        for message in messages:
            message_id, subject, body, sent_at = _from_sqs(message)
            if find_eml(outbox_dir, message_id) is None:
                write_eml(Path(outbox_dir), subject, body, message_id, sent_at, to=to)
                written += 1
            sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        wait_seconds = 0  # only the first receive waits


def render_outbox(messages: list[OutboxMessage]) -> str:
    """Emails as a person reads them in a terminal: headers, then the body."""
    blocks = []
    for index, message in enumerate(messages, start=1):
        rule = f"── {index}/{len(messages)} · {message.sent_at:%Y-%m-%d %H:%M:%S} UTC "
        blocks.append(
            "\n".join(
                [
                    rule.ljust(100, "─"),
                    f"From:    {message.sender}",
                    f"To:      {message.to}",
                    f"Subject: {message.subject}",
                    f"File:    {message.path}",
                    "",
                    message.body.rstrip(),
                ]
            )
        )
    return "\n\n".join(blocks) + "\n"


def render_eml(path: Path) -> str:
    """One captured email as text (headers, then the body)."""
    message = read_eml(path)
    return render_outbox([message]).split("\n", 1)[1]  # without the "1/1" rule


def select_emails(
    messages: list[OutboxMessage], *, alarms: bool = False, run: str | None = None
) -> list[OutboxMessage]:
    """The emails a listing is about, newest first: a run's (a unique start of its id will do), the alarms', or by
    default every email but the alarms'. LookupError when `run` names no run, or several."""
    if run is not None:
        run_ids = {m.run_id for m in messages if m.run_id}
        matches = [run] if run in run_ids else sorted(r for r in run_ids if r.startswith(run))
        if not matches:
            raise LookupError(f"no email of a run {run!r} in the outbox; `restaurant-pipeline outbox` lists the runs'")
        if len(matches) > 1:
            shown = ", ".join(matches[:3]) + (", …" if len(matches) > 3 else "")
            raise LookupError(f"{run!r} starts {len(matches)} run ids ({shown}); give more of it")
        chosen = [m for m in messages if m.run_id == matches[0]]
    else:
        chosen = [m for m in messages if (m.kind == "alarm") == alarms]
    return sorted(chosen, key=lambda m: (m.sent_at, m.path.name), reverse=True)


def _nothing(outbox_dir: Path, alarms: bool, others: int = 0) -> str:
    """What a listing says when it has nothing to show; `others`: how many emails of the other kind there are."""
    if alarms:
        return f"No alarm email in {outbox_dir}: no alarm has changed state.\n"
    what = f"run email in {outbox_dir} yet ({others} alarm email(s): `restaurant-pipeline outbox --alarms`)"
    return (
        f"No {what if others else f'email in {outbox_dir} yet'}. One arrives when a run finishes: "
        "`restaurant-pipeline run --wait`, or `restaurant-pipeline demo`.\n"
    )


def list_outbox(outbox_dir: Path, *, alarms: bool = False, limit: int = DEFAULT_LIMIT) -> str:
    """The text of `restaurant-pipeline outbox [--alarms] [--limit N]`: one line per email, newest first, at most
    `limit` (0: all), then how many more there are and how to see them."""
    messages = read_outbox(outbox_dir)
    emails = select_emails(messages, alarms=alarms)
    if not emails:
        return _nothing(outbox_dir, alarms, len(messages))
    shown = emails[:limit] if limit else emails
    what = "alarm emails" if alarms else "run emails"
    other = "the runs' without --alarms" if alarms else "the alarms' with --alarms"
    run_width = 0 if alarms else max(len(m.run_id or "-") for m in shown) + 2  # an alarm belongs to no run
    lines = [
        f"{len(shown)} of {len(emails)} {what} in {outbox_dir}, newest first ({other}):",
        f"{'SENT (UTC)':<21}{'' if alarms else 'RUN':<{run_width}}SUBJECT",
    ]
    for message in shown:
        run = "" if alarms else message.run_id or "-"
        lines.append(f"{message.sent_at:%Y-%m-%d %H:%M:%S}  {run:<{run_width}}{message.subject}")
    more = len(emails) - len(shown)
    one = "--alarms --last" if alarms else "--last` or `--run RUN_ID"
    if more:
        lines.append(
            f"… {more} older not shown: `restaurant-pipeline outbox{' --alarms' if alarms else ''} --limit "
            f"{len(emails)}` lists them all"
        )
    lines.append(f"In full: `restaurant-pipeline outbox {one}`.")
    return "\n".join(lines) + "\n"


def show_outbox(outbox_dir: Path, last: bool = False, *, alarms: bool = False, run: str | None = None) -> str:
    """The emails in full, newest first: every one but the alarms' (`alarms`: only those), or a run's (`run`);
    `last`: only the newest of them. LookupError when `run` names no run of the outbox, or several."""
    messages = read_outbox(outbox_dir)
    emails = select_emails(messages, alarms=alarms, run=run)
    if not emails:
        return _nothing(outbox_dir, alarms, len(messages))
    if last:
        return render_outbox(emails[:1])
    whose = f" of run {emails[0].run_id}" if run is not None else " (alarms)" if alarms else ""
    header = f"{len(emails)} email(s){whose} in {outbox_dir}, newest first\n\n"
    return header + render_outbox(emails)
