"""Adapters on DynamoDB: each takes its boto3 client as an argument.

- OnceOnlyEmailSender: wraps it in Powertools idempotency (DynamoDB, key = run id + outcome), so a duplicate
  or replayed event does not send again, and a failed publish leaves no record (the retry sends).
- RunOutcomeStore: each city's terminal outcome of a run, in the run ledger table (newest event wins).
- RepeatFailureStore: the last full email per failure fingerprint, in the idempotency table.
- UndeliveredNotifications: the publishes SNS refused since the last email that got through, in the idempotency
  table, for the note of the next email (domain/delivery.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from contracts.envelope import ContractError
from services.common.adapters.dynamodb import is_conditional_failure
from services.common.adapters.ledger import run_key
from services.notifier.adapters.sns import DeliveryTrackingSender
from services.notifier.domain.delivery import Undelivered
from services.notifier.domain.message import Email
from services.notifier.domain.outcomes import (
    NOTIFIER_EVENTS,
    CityOutcome,
    Delivery,
    NotifierEvent,
    OutcomeKind,
    RepeatState,
    RunRecords,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)

SERVICE = "notifier"
CITY_OUTCOME_STEP = "CITY_OUTCOME"
NOTIFIED_STEP = "NOTIFIED"
REQUESTED_STEP = "REQUESTED"
# The transformer's steps (services/transformer/service.py): subject the object's key, `version` its version id else
# its ETag, TRANSFORMED's data {"outcome": …}; TRANSFORM_FAILED (dead-lettered) is an error.
TRANSFORMED_STEP = "TRANSFORMED"
TRANSFORM_FAILED_STEP = "TRANSFORM_FAILED"
# Longer than an SQS DLQ can keep a message (14 days): a replay from the DLQ still finds the record.
EMAIL_IDEMPOTENCY_TTL = timedelta(days=15)
EMAIL_KEY_PREFIX = "notifier-email"
REPEAT_KEY_PREFIX = "notifier-repeat#"
UNDELIVERED_KEY = "notifier-undelivered"


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that DynamoDB's string comparison orders moments correctly."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EmailInProgressError(RuntimeError):
    """Another invocation is sending this (run, outcome) right now. Retried: it then finds the result."""


class OnceOnlyEmailSender:
    """One publish per (run id, outcome), whatever the number of deliveries or replays."""

    def __init__(
        self,
        sender: DeliveryTrackingSender,
        dynamodb_client: DynamoDBClient,
        table_name: str,
        expires_after: timedelta = EMAIL_IDEMPOTENCY_TTL,
    ) -> None:
        self._sender = sender
        self._config = IdempotencyConfig(
            event_key_jmespath="[run_id, outcome]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(expires_after.total_seconds()),
            response_hook=_mark_duplicate,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)
        self._publish_once = idempotent_function(
            data_keyword_argument="notification",
            persistence_store=persistence,
            config=self._config,
            key_prefix=EMAIL_KEY_PREFIX,
        )(self._publish)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an interrupted send expire with the invocation instead of blocking for the TTL."""
        self._config.register_lambda_context(context)

    def send_once(self, run_id: str, outcome: str, email: Email) -> Delivery:
        notification = {"run_id": run_id, "outcome": outcome, "subject": email.subject, "body": email.body}
        try:
            result = self._publish_once(notification=notification)
        except IdempotencyAlreadyInProgressError:
            raise EmailInProgressError(
                f"the email for run {run_id} ({outcome}) is being sent by another invocation; "
                "this message is retried and will then find it sent"
            ) from None
        return Delivery(
            message_id=str(result["message_id"]),
            sent_at=str(result["sent_at"]),
            duplicate=bool(result.get("duplicate", False)),
        )

    def _publish(self, notification: dict[str, str]) -> dict[str, Any]:
        email = Email(notification["subject"], notification["body"])
        message_id = self._sender.send(email, notification["run_id"])
        return {"message_id": message_id, "sent_at": _timestamp(datetime.now(UTC))}


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    if isinstance(response, dict):
        return {**response, "duplicate": True}
    return response


class RunOutcomeStore:
    """Items "CITY_OUTCOME#<city>" in the run ledger (pk RUN#<run id>), beside the other services' steps.

    Unlike RunLedger.record (first write wins, failures swallowed), this store must be right to decide when
    a run is complete: the newest event of a city wins (a tentative run-wide failure never replaces an
    outcome, and any city-specific outcome replaces it), and any failure raises so the record is retried.
    """

    def __init__(self, dynamodb_client: DynamoDBClient, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def record(self, run_id: str, outcome: CityOutcome) -> bool:
        """True when stored; False when a newer (or the same) event of that city is already there."""
        if outcome.city is None:
            raise ValueError("only a run city's outcome can be recorded")
        event = outcome.event
        produced_at = _timestamp(outcome.produced_at)
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": run_key(run_id)},
            "sk": {"S": f"{CITY_OUTCOME_STEP}#{outcome.city}"},
            "run_id": {"S": run_id},
            "step": {"S": CITY_OUTCOME_STEP},
            "subject": {"S": outcome.city},
            "service": {"S": SERVICE},
            "at": {"S": datetime.now(UTC).isoformat()},
            "data": {
                "S": json.dumps(
                    {"outcome": outcome.kind, "detail_type": event.DETAIL_TYPE, "event_id": outcome.event_id},
                    sort_keys=True,
                )
            },
            "produced_at": {"S": produced_at},
            "event": {"S": event.detail_json()},
            "tentative": {"BOOL": outcome.tentative},
        }
        if outcome.tentative:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            condition = {
                "ConditionExpression": "attribute_not_exists(sk) OR produced_at < :produced_at OR tentative = :yes",
                "ExpressionAttributeValues": {":produced_at": {"S": produced_at}, ":yes": {"BOOL": True}},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def load(self, run_id: str) -> RunRecords:
        records = RunRecords()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": run_key(run_id)}},
            "ConsistentRead": True,  # read our own write, and the concurrent invocation's
        }
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                self._add(records, item)
            if "LastEvaluatedKey" not in page:
                return records
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _add(records: RunRecords, item: Mapping[str, Any]) -> None:
        step = item.get("step", {}).get("S")
        subject = item.get("subject", {}).get("S", "")
        data = json.loads(item.get("data", {}).get("S") or "{}")
        if step == CITY_OUTCOME_STEP:
            model = NOTIFIER_EVENTS.get(data.get("detail_type", ""))
            if model is None or "event" not in item:
                raise ContractError(f"ledger item {item['sk']['S']} of run {item['pk']['S']} has no known event")
            event: NotifierEvent = model.parse_detail(item["event"]["S"])
            kind: OutcomeKind = data["outcome"]
            records.outcomes[subject.casefold()] = CityOutcome(subject, kind, event)
        elif step == NOTIFIED_STEP:
            records.notified[subject] = str(data.get("message_id", ""))
        elif step in (TRANSFORMED_STEP, TRANSFORM_FAILED_STEP):
            _add_transformed(records, subject, item, data)
        elif step == REQUESTED_STEP:
            records.requested = True
            if "at" not in item:
                return
            try:
                records.requested_at = datetime.fromisoformat(item["at"]["S"])
            except ValueError:
                log.warning("ledger REQUESTED item of %s has an unreadable time", item["pk"]["S"])


def _add_transformed(records: RunRecords, key: str, item: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    """One transformer step: the outcome it recorded for that object version. A step without a version (written before
    versions were recorded) vouches for no event."""
    version = item.get("version", {}).get("S")
    if not version:
        return
    step = item["step"]["S"]
    outcome = "error" if step == TRANSFORM_FAILED_STEP else str(data.get("outcome") or "")
    if not outcome:
        return
    records.transformed[(key, version)] = records.transformed.get((key, version), frozenset()) | {outcome}


class RepeatFailureStore:
    """Per failure fingerprint: which run got the full email, when, and how many times it happened since.

    Items live in the idempotency table (pk "id" = "notifier-repeat#<fingerprint>") with an `expiration`
    (epoch seconds) so the table's TTL removes them once the window is over.
    """

    def __init__(self, dynamodb_client: DynamoDBClient, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def get(self, fingerprint: str) -> RepeatState | None:
        response = self._client.get_item(
            TableName=self._table, Key={"id": {"S": REPEAT_KEY_PREFIX + fingerprint}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return RepeatState(
            fingerprint=fingerprint,
            first_run_id=item["first_run_id"]["S"],
            first_sent_at=datetime.fromisoformat(item["first_sent_at"]["S"].replace("Z", "+00:00")),
            count=int(item["count"]["N"]),
            last_run_id=item.get("last_run_id", {}).get("S", item["first_run_id"]["S"]),
        )

    def remember_full(self, fingerprint: str, run_id: str, sent_at: datetime, window: timedelta) -> None:
        expiration = int((sent_at + window + timedelta(days=1)).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": REPEAT_KEY_PREFIX + fingerprint},
                "first_run_id": {"S": run_id},
                "first_sent_at": {"S": _timestamp(sent_at)},
                "last_run_id": {"S": run_id},
                "count": {"N": "1"},
                "expiration": {"N": str(expiration)},
            },
        )

    def count_repeat(self, fingerprint: str, run_id: str) -> None:
        """One more occurrence, unless this run was already counted (a retry)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": REPEAT_KEY_PREFIX + fingerprint}},
                UpdateExpression="ADD #count :one SET last_run_id = :run",
                ConditionExpression="attribute_exists(id) AND last_run_id <> :run",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":run": {"S": run_id}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise


class UndeliveredNotifications:
    """One item (id "notifier-undelivered") in the idempotency table: when SNS first and last refused a publish, how
    often, for which runs, and its last words. Cleared by the email that carries the note; expires like an email's
    idempotency record, so a note nobody could send does not linger."""

    def __init__(
        self, dynamodb_client: DynamoDBClient, table_name: str, expires_after: timedelta = EMAIL_IDEMPOTENCY_TTL
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._expires_after = expires_after

    def pending(self) -> Undelivered | None:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": UNDELIVERED_KEY}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return Undelivered(
            first_failed_at=_moment(item["first_failed_at"]["S"]),
            last_failed_at=_moment(item["last_failed_at"]["S"]),
            attempts=int(item["attempts"]["N"]),
            runs=tuple(sorted(item.get("runs", {}).get("SS", []))),
            error=item.get("error", {}).get("S", ""),
        )

    def record(self, run_id: str, at: datetime, error: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"id": {"S": UNDELIVERED_KEY}},
            UpdateExpression="SET first_failed_at = if_not_exists(first_failed_at, :at), last_failed_at = :at, "
            "#error = :error, expiration = :expiration ADD attempts :one, runs :run",
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues={
                ":at": {"S": _timestamp(at)},
                ":error": {"S": error},
                ":expiration": {"N": str(int((at + self._expires_after).timestamp()))},
                ":one": {"N": "1"},
                ":run": {"SS": [run_id]},
            },
        )

    def clear(self, noted: Undelivered) -> None:
        """Forget what the note said, unless SNS refused another publish since it was read (kept for the next)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": UNDELIVERED_KEY}},
                ConditionExpression="last_failed_at = :last",
                ExpressionAttributeValues={":last": {"S": _timestamp(noted.last_failed_at)}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
