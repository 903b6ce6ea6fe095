"""Adapter: the bucket (raw objects in, validated copies and quarantine files out)."""

from __future__ import annotations

from typing import Any

from services.transformer.domain.model import InfrastructureError, ObjectMissing

_MISSING = {"NoSuchKey", "NoSuchVersion", "404"}


class S3ObjectStore:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def get(self, key: str, version_id: str | None) -> bytes:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if version_id and version_id != "null":  # moto (and unversioned buckets) say "null"
            kwargs["VersionId"] = version_id
        try:
            return bytes(self._s3.get_object(**kwargs)["Body"].read())
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in _MISSING:
                raise ObjectMissing(f"s3://{self._bucket}/{key} (version {version_id}) no longer exists") from None
            raise InfrastructureError(f"cannot read s3://{self._bucket}/{key}: {exc.__class__.__name__}") from exc

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
        except Exception as exc:
            raise InfrastructureError(f"cannot write s3://{self._bucket}/{key}: {exc.__class__.__name__}") from exc
