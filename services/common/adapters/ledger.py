"""Adapter: the run ledger, a DynamoDB table where each service records its step of a run.

Items: pk = "RUN#<run_id>", sk = "<STEP>#<subject>" (e.g. "COLLECTED#Paris") or, for a step about one version of
an S3 object, "<STEP>#<key>#<version>" (version id, else ETag), plus `at`, `service`, `data`, `subject` and `version`.
Writes are idempotent (the first record of a step wins) and never block the pipeline: a failed write is
logged, counted, and reported as False.

A sort key is at most 1,024 bytes (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html,
"Partition keys and sort keys") and an S3 key alone may take 1,024 bytes of UTF-8
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html): a sort key that would be longer is
"<STEP>#sha256:<digest of subject and version>" instead, while `subject` and `version` keep them whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from services.common.adapters.dynamodb import is_conditional_failure
from services.common.ports import RunFacts, Step

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)


SORT_KEY_MAX_BYTES = 1024


def run_key(run_id: str) -> str:
    return f"RUN#{run_id}"


def step_key(step: str, subject: str, version: str | None = None, variant: str | None = None) -> str:
    """The item's sort key: the step, its subject and (when given) the subject's version and the step's variant; a
    digest of them when that would pass DynamoDB's 1,024 bytes."""
    key = f"{step}#{subject}" if version is None else f"{step}#{subject}#{version}"
    if variant is not None:
        key = f"{key}#{variant}"
    if len(key.encode("utf-8")) <= SORT_KEY_MAX_BYTES:
        return key
    # unambiguous: a "#" inside the key cannot fake another (key, version, variant)
    named = json.dumps([subject, version] if variant is None else [subject, version, variant])
    return f"{step}#sha256:{hashlib.sha256(named.encode('utf-8')).hexdigest()}"


class RunLedger:
    def __init__(self, dynamodb_client: DynamoDBClient, table_name: str | None, on_failure: Any = None) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._on_failure = on_failure  # e.g. a metrics callback; called with the exception
        self.failures = 0

    def record(
        self,
        run_id: str,
        step: Step,
        subject: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        version: str | None = None,
        variant: str | None = None,
    ) -> bool:
        """Record a step once (per version of its subject, when given). True when written or already there; False when
        the ledger is unreachable."""
        if not self._table:
            return False
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": run_key(run_id)},
            "sk": {"S": step_key(step, subject, version, variant)},
            "run_id": {"S": run_id},
            "step": {"S": step},
            "subject": {"S": subject},
            "service": {"S": service},
            "at": {"S": datetime.now(UTC).isoformat()},
            "data": {"S": json.dumps(dict(data or {}), default=str, sort_keys=True)},
        }
        if version is not None:
            item["version"] = {"S": version}
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)")
        except Exception as exc:  # a ledger problem must never fail the pipeline's own work
            if is_conditional_failure(exc):
                return True
            self.failures += 1
            log.warning("ledger write failed for run %s step %s: %s", run_id, step, exc.__class__.__name__)
            if self._on_failure is not None:
                self._on_failure(exc)
            return False
        return True

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Every recorded step of a run, oldest first."""
        if not self._table:
            return []
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": run_key(run_id)}},
        }
        while True:
            page = self._client.query(**kwargs)
            items.extend(_plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda item: item["at"])

    def facts(self, run_id: str) -> RunFacts | None:
        """The run's REQUESTED, COLLECTED and NOTIFIED steps, as RunFacts (one query)."""
        if not self._table:
            return None
        steps = self.steps(run_id)
        requested = [step for step in steps if step["step"] == "REQUESTED"]
        cities = tuple(requested[0].get("data", {}).get("cities") or ()) if requested else ()
        collected = {
            str(step["data"]["object_key"]): str(step["data"].get("etag") or "")
            for step in steps
            if step["step"] == "COLLECTED" and step.get("data", {}).get("object_key")
        }
        notified = any(step["step"] == "NOTIFIED" for step in steps)
        return RunFacts(requested=bool(requested), cities=cities, collected=collected, notified=notified)

    def all_steps(self) -> list[dict[str, Any]]:
        """Every step of every run (a scan: fine for an operator command, never on a hot path)."""
        if not self._table:
            return []
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._client.scan(**kwargs)
            items.extend(_plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda item: item["at"])


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    plain = {key: next(iter(value.values())) for key, value in item.items()}
    if isinstance(plain.get("data"), str):
        plain["data"] = json.loads(plain["data"])
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in plain.items()}
