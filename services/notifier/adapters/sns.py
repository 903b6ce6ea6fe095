"""Adapter: the SNS topic that emails the subscribers (on AWS an email subscription; locally the outbox).

`DeliveryTrackingSender` remembers each publish SNS refuses (UndeliveredStore), so that the next email that gets
through opens with a note about it (domain/delivery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.common.redaction import redact_secrets
from services.notifier.domain.delivery import Undelivered, with_undelivered_note
from services.notifier.domain.message import Email
from services.notifier.ports import UndeliveredStore

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

log = logging.getLogger(__name__)
ERROR_MAX = 300


class SnsEmailSender:
    def __init__(self, sns_client: SNSClient, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def send(self, email: Email) -> str:
        """Publish; returns the SNS MessageId. Any failure raises (the record is retried)."""
        response = self._client.publish(TopicArn=self._topic_arn, Subject=email.subject, Message=email.body)
        return str(response["MessageId"])


class DeliveryTrackingSender:
    """Publishes through SNS; a refusal is remembered (then raised: the record is retried, then parked in the DLQ),
    and the next email that gets through says so. The note never stops an email: a store that fails is logged."""

    def __init__(
        self,
        sns: SnsEmailSender,
        undelivered: UndeliveredStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sns = sns
        self._undelivered = undelivered
        self._clock = clock

    def send(self, email: Email, run_id: str) -> str:
        pending = self._pending()
        try:
            message_id = self._sns.send(with_undelivered_note(email, pending, run_id))
        except Exception as exc:
            self._remember(run_id, exc)
            raise
        if pending is not None:
            try:
                self._undelivered.clear(pending)
            except Exception as exc:  # the email is out; the next one repeats the note at worst
                log.warning("could not clear the undelivered-notification note: %s", exc)
        return message_id

    def _pending(self) -> Undelivered | None:
        try:
            return self._undelivered.pending()
        except Exception as exc:
            log.warning("could not read the undelivered-notification note; sending without it: %s", exc)
            return None

    def _remember(self, run_id: str, exc: Exception) -> None:
        error = redact_secrets(f"{exc.__class__.__name__}: {exc}")[:ERROR_MAX]
        try:
            self._undelivered.record(run_id, self._clock(), error)
        except Exception as store_exc:
            log.warning("could not remember that SNS refused the email of run %s: %s", run_id, store_exc)
