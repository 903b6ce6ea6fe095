"""Adapter: the bucket (raw objects in, validated copies and quarantine files out, the versions waiting to be built)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.transformer.domain.model import (
    InfrastructureError,
    ObjectMissing,
    ObjectTooLarge,
    RawObject,
    StoredVersion,
)

_MISSING = {"NoSuchKey", "NoSuchVersion", "404"}


class S3ObjectStore:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def get(self, key: str, version_id: str | None, max_bytes: int) -> RawObject:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if version_id and version_id != "null":  # moto (and unversioned buckets) say "null"
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.get_object(**kwargs)
            size = int(response.get("ContentLength") or 0)
            if size > max_bytes:
                response["Body"].close()
                raise ObjectTooLarge(
                    f"s3://{self._bucket}/{key} holds {size:,} bytes, more than one object may "
                    f"({max_bytes // (1024 * 1024)} MiB): split it into several files"
                )
            # GetObject returns the user-defined metadata (x-amz-meta-* headers) as `Metadata`, keys in lower case:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
            metadata = {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}
            return RawObject(bytes(response["Body"].read()), metadata)
        except ObjectTooLarge:
            raise
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

    def waiting_versions(self, prefix: str, since: datetime) -> list[StoredVersion]:
        """ListObjectVersions under `prefix` (1,000 versions a page), those created since `since`, oldest first.
        Delete markers are not objects. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
        """
        found: list[StoredVersion] = []
        try:
            pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket, Prefix=prefix)
            for page in pages:
                for version in page.get("Versions", []):
                    if version["LastModified"] >= since:
                        found.append(
                            StoredVersion(
                                key=version["Key"],
                                version_id=str(version.get("VersionId") or "null"),
                                etag=str(version.get("ETag") or "").strip('"'),
                                size=int(version.get("Size") or 0),
                                last_modified=version["LastModified"],
                            )
                        )
        except Exception as exc:
            raise InfrastructureError(f"cannot list s3://{self._bucket}/{prefix}: {exc.__class__.__name__}") from exc
        return sorted(found, key=lambda v: (v.last_modified, v.key))
