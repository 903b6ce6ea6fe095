"""Notifications SNS refused: what the next email that gets through says about them. Pure.

When SNS itself fails (the topic deleted, its KMS key or the notifier's permissions broken), no email can say so:
the notifier's dead-letter queue alarm is the channel meanwhile. The first email that gets through afterwards (the
replayed one, or the next run's) opens with a note: when delivery failed, how often, for which runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.notifier.domain.message import Email
from services.notifier.domain.text import DATA_MAX, safe_text, wrap

CLI = "restaurant-pipeline"


@dataclass(frozen=True)
class Undelivered:
    """The publishes SNS refused since the last email that got through."""

    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    runs: tuple[str, ...]
    error: str  # the last refusal, in SNS's words (secret-free)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def undelivered_note(undelivered: Undelivered, run_id: str) -> list[str]:
    """The lines that open the email now being sent for `run_id`."""
    late = run_id in undelivered.runs
    others = [safe_text(run) for run in undelivered.runs if run != run_id]
    if late:
        opening = (
            f"⚠️ This email is late: SNS refused to deliver it at {stamp(undelivered.first_failed_at)} "
            f"({undelivered.attempts} attempt(s) until {stamp(undelivered.last_failed_at)})."
        )
    else:
        opening = (
            f"⚠️ An earlier notification could not be delivered: SNS refused it at "
            f"{stamp(undelivered.first_failed_at)} ({undelivered.attempts} attempt(s) until "
            f"{stamp(undelivered.last_failed_at)})."
        )
    lines = wrap(opening, "")
    if others:
        lines += wrap(f"Also not delivered then: the email of run(s) {', '.join(others)}.", "")
    lines += wrap(f"SNS said: {safe_text(undelivered.error, DATA_MAX)}", "")
    lines += wrap(
        "Meanwhile the notifier's dead-letter queue alarm was the channel. Emails still waiting there: "
        f"`{CLI} dlq list`; send them now: `{CLI} dlq replay notifier` (each is sent once).",
        "",
    )
    return [*lines, ""]


def with_undelivered_note(email: Email, undelivered: Undelivered | None, run_id: str) -> Email:
    if undelivered is None:
        return email
    return replace(email, body="\n".join(undelivered_note(undelivered, run_id)) + "\n" + email.body)
