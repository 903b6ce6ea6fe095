"""A dead-lettered transform is worded as it happened (issue 24, item 8): a final failure the transformer set aside
on its first attempt is not "gave up after 1 attempts ... after its retries"; retries that ran out say how many.

The events are the transformer's own (dead_letter_events, final_cause): the wording follows what it publishes."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from contracts.events import TransformCompleted
from services.notifier.domain.body import render_repeat_email, render_run_email
from services.notifier.domain.message import Email, EmailContext
from services.notifier.domain.outcomes import Repeat, settled_outcomes
from services.notifier.domain.subject import SUBJECT_MAX
from services.transformer.domain.failures import final_cause
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import dead_letter_events

KEY = "raw/places/dt=2026-11-25/my-export.jsonl"
REF = ObjectRef("restaurant-pipeline-data", KEY, "v1", "etag", 10, datetime(2026, 11, 25, 8, 0, tzinfo=UTC))


def dead_lettered(cause: Exception, attempts: int) -> TransformCompleted:
    (event,) = dead_letter_events([REF], cause, attempts=attempts)
    return event


def final_access_denied() -> Exception:
    client_error = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
    try:
        raise RuntimeError(f"could not read s3://restaurant-pipeline-data/{KEY}: ClientError") from client_error
    except RuntimeError as exc:
        return final_cause(exc)


def email(event: TransformCompleted, max_receive_count: int = 3) -> Email:
    context = EmailContext(max_receive_count=max_receive_count)
    return render_run_email(event.run_id, settled_outcomes(event), context)


def test_a_final_failure_on_the_first_attempt_says_it_failed_for_good_and_why_it_was_not_retried() -> None:
    mail = email(dead_lettered(final_access_denied(), attempts=1))

    assert mail.subject.endswith("ERROR unknown 2026-11-25: transform failed for good, not retried: AccessDenied")
    assert len(mail.subject) <= SUBJECT_MAX
    body = " ".join(mail.body.split())  # the runbook's sentence is wrapped
    assert (
        "The transformer could not work (the cause is above) and failed for good on its first attempt "
        "(not retried: AccessDenied cannot be cured by retrying): the objects' messages are in its dead-letter queue"
    ) in body
    for untrue in ("1 attempts", "gave up", "after its retries"):
        assert untrue not in mail.subject and untrue not in body


def test_retries_that_ran_out_say_how_many_attempts_were_made() -> None:
    mail = email(dead_lettered(RuntimeError("database is locked"), attempts=3))

    assert mail.subject.endswith(": transform gave up after 3 attempts")
    body = " ".join(mail.body.split())
    assert "could not work (the cause is above) and gave up after 3 attempts: the objects' messages" in body
    assert "failed for good" not in body and "after its retries" not in body


def test_a_single_attempt_allowed_is_one_attempt_not_one_attempts() -> None:
    mail = email(dead_lettered(RuntimeError("database is locked"), attempts=1), max_receive_count=1)

    assert mail.subject.endswith(": transform gave up after 1 attempt")
    assert "1 attempts" not in mail.body


def test_the_repeat_summary_words_a_final_failure_the_same_way() -> None:
    event = dead_lettered(final_access_denied(), attempts=1)
    repeat = Repeat("earlier-run", datetime(2026, 11, 24, 8, 0, tzinfo=UTC), occurrences=2)

    mail = render_repeat_email(event.run_id, settled_outcomes(event), repeat, EmailContext())

    assert (
        "the transformer failed for good on its first attempt (not retried: AccessDenied cannot be cured by "
        "retrying); messages in its dead-letter queue"
    ) in mail.body
