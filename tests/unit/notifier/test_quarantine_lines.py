"""A quarantine email gives what a reader needs to act (issue 26, item 5): the whole quarantine location however
long (escaped, never cut), each rejected line's number and reason (the first 10, then "and N more"), and the
command that prints the quarantine file, locally and on AWS."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import RejectedLine
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from services.notifier.domain.text import WRAP_WIDTH
from tests.unit.notifier.builders import transform

LOCAL = EmailContext(log_location=".pipeline/logs", now=datetime(2026, 11, 25, 8, 3, tzinfo=UTC))
AWS = EmailContext(log_location="https://console.aws.amazon.com/cloudwatch/home#logsV2:log-groups/log-group/")
LONG_NAME = "paris-" + "x" * 150 + "-from the partner feed.jsonl"
Q_KEY = f"quarantine/raw/places/dt=2026-11-25/{LONG_NAME}.rejected.jsonl"


def quarantined_event(count: int, rejected: list[RejectedLine], outcome: str = "passed", **source_updates):
    event = transform(outcome)
    updates = {"lines": count + 5, "valid_lines": 5, "quarantined_lines": count, "quarantine_key": Q_KEY}
    source = event.sources[0].model_copy(update={**updates, "rejected": rejected, **source_updates})
    return event.model_copy(update={"sources": [source], "quarantined_lines": count})


def body_of(event, context: EmailContext = LOCAL) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), context).body


def test_the_quarantine_location_is_shown_whole_on_a_line_of_its_own_when_long() -> None:
    event = quarantined_event(3, [])
    bucket = event.sources[0].bucket

    lines = body_of(event).splitlines()

    whole = f"s3://{bucket}/{Q_KEY}"
    assert whole in [line.strip() for line in lines]  # not cut, not broken at its spaces: on its own line
    assert "more characters in the logs" not in "\n".join(lines)
    assert any("3 line(s) of" in line and len(line) <= WRAP_WIDTH for line in lines)


def test_each_rejected_line_is_listed_with_its_reason_the_first_ten_then_how_many_more() -> None:
    rejected = [RejectedLine(line=n, reason=f"not JSON (reason {n})") for n in range(2, 12)]

    body = body_of(quarantined_event(25, rejected))

    for n in range(2, 12):
        assert f"line {n}: not JSON (reason {n})" in body
    assert "and 15 more" in body


def test_a_reason_is_data_escaped_and_disarmed() -> None:
    rejected = [RejectedLine(line=7, reason="bad\u202eevil see https://evil.example\nnext")]

    body = body_of(quarantined_event(1, rejected))

    assert "line 7: bad\\u202eevil see https[:]//evil.example next" in body
    assert "and " not in body.split("line 7:")[1].splitlines()[0]


def test_locally_the_command_sets_the_local_environment_then_prints_the_file() -> None:
    event = quarantined_event(1, [RejectedLine(line=2, reason="no id")])
    uri = f"'s3://{event.sources[0].bucket}/{Q_KEY}'"  # quoted: the key holds spaces

    body = body_of(event, LOCAL)

    assert f'eval "$(restaurant-pipeline local env)" && aws s3 cp {uri} -' in body


def test_on_aws_the_command_is_the_plain_aws_cli() -> None:
    event = quarantined_event(1, [RejectedLine(line=2, reason="no id")])
    uri = f"'s3://{event.sources[0].bucket}/{Q_KEY}'"

    body = body_of(event, AWS)

    assert f"    aws s3 cp {uri} -" in body and "local env" not in body


def test_a_quarantine_key_with_a_control_character_gets_no_command_and_is_shown_escaped_whole() -> None:
    key = Q_KEY.replace("partner", "part\u202ener")
    event = quarantined_event(1, [], quarantine_key=key)

    body = body_of(event)

    assert "aws s3 cp" not in body and "no command to print it" in body
    assert key.replace("\u202e", "\\u202e") in body


def test_a_failed_transform_lists_its_quarantined_lines_too() -> None:
    event = quarantined_event(2, [RejectedLine(line=4, reason="no id")], outcome="tests_failed")

    assert "line 4: no id" in body_of(event)
