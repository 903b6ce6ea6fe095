"""Adapter: exactly-once effects per S3 object version, on Powertools idempotency's DynamoDB persistence layer.

Powertools' decorators make ONE function call idempotent; here one dbt run covers several objects, so the
handler uses the same persistence layer (same table layout, key = hash of bucket/key#version-or-etag) in the
same three steps the decorator takes: save INPROGRESS before the work, COMPLETED after it, delete on failure
(so that the SQS retry runs the work again).

Records found COMPLETED are kept in the execution environment's local cache (Powertools' use_local_cache): a
burst's duplicate events and the versions a coalesced build already took are answered without DynamoDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)

from services.transformer.domain.model import Claim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FUNCTION_KEY = "transformer.object"
LOCAL_CACHE_ITEMS = 20_000  # object versions (~200 bytes each): a burst of files, many times over


class ObjectClaims:
    def __init__(
        self, dynamodb_client: DynamoDBClient, table_name: str, expires_after_seconds: int = 7 * 24 * 3600
    ) -> None:
        self._layer = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)
        self._layer.configure(
            IdempotencyConfig(
                event_key_jmespath="object",
                expires_after_seconds=expires_after_seconds,
                use_local_cache=True,
                local_cache_max_items=LOCAL_CACHE_ITEMS,
            ),
            key_prefix=FUNCTION_KEY,
        )

    @staticmethod
    def _data(idempotency_key: str) -> dict[str, str]:
        return {"object": idempotency_key}

    def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim:
        """new: ours to process. done: already processed (skip). busy: another invocation holds it."""
        data = self._data(idempotency_key)
        try:
            self._layer.save_inprogress(data, remaining_time_in_millis=remaining_ms)
            return Claim("new")
        except IdempotencyItemAlreadyExistsError as exc:
            record = exc.old_data_record
            if record is None:
                try:
                    record = self._layer.get_record(data)
                except IdempotencyItemNotFoundError:
                    return self.claim(idempotency_key, remaining_ms)  # deleted meanwhile: try again
            if record is not None and record.status == "COMPLETED":
                return Claim("done", record.response_json_as_dict())
            return Claim("busy")

    def complete(self, idempotency_key: str, result: dict[str, Any]) -> None:
        self._layer.save_success(self._data(idempotency_key), result)

    def release(self, idempotency_key: str, error: Exception) -> None:
        self._layer.delete_record(self._data(idempotency_key), error)
