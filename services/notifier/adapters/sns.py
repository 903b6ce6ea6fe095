"""Adapter: the SNS topic that emails the subscribers (on AWS an email subscription; locally the outbox)."""

from __future__ import annotations

from typing import Any

from services.notifier.domain.message import Email


class SnsEmailSender:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def send(self, email: Email) -> str:
        """Publish; returns the SNS MessageId. Any failure raises (the record is retried)."""
        response = self._client.publish(TopicArn=self._topic_arn, Subject=email.subject, Message=email.body)
        return str(response["MessageId"])
