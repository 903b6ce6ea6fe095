"""Adapter: the bucket (raw objects in, validated copies and quarantine files out, the versions waiting to be built)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, unquote_plus

from services.transformer.domain.model import (
    InfrastructureError,
    ObjectMissing,
    ObjectTooLarge,
    RawObject,
    StoredVersion,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "NoSuchVersion", "404"}


def key_forms(key: str) -> list[str]:
    """The keys an "Object Created" event's object.key may stand for, in the order they are tried: as given, then
    URL-decoded, then URL-encoded, without repeats.

    S3's notifications to SNS, SQS and Lambda URL-encode the key ("red flower.jpg" becomes "red+flower.jpg",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). The EventBridge
    event's page says only that `object` holds "information about the Amazon S3 object involved in the event"
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html, "Event message detail field"): whether
    its key is encoded is not documented either way. Encoding is tried keeping "/" (path segments) and encoding it,
    since neither page says which.
    """
    return list(dict.fromkeys([key, unquote_plus(key), quote_plus(key, safe="/"), quote_plus(key)]))


@dataclass(frozen=True)
class FoundObject(RawObject):
    """A raw object with the key it was found under (one of key_forms of the key asked for)."""

    key: str = ""


class _Missing(LookupError):
    pass


class S3ObjectStore:
    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def get(self, key: str, version_id: str | None, max_bytes: int) -> FoundObject:
        """The object under `key`, or under the first of its other forms (key_forms) that exists: FoundObject.key
        says which. ObjectMissing when none does. A missing key answers 404 (NoSuchKey) because the transformer
        may list the bucket; without s3:ListBucket S3 answers 403 instead
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions")."""
        forms = key_forms(key)
        for form in forms:
            try:
                return self._get(form, version_id, max_bytes)
            except _Missing:
                continue
        raise ObjectMissing(f"s3://{self._bucket}/{key} (version {version_id}) no longer exists{_also(forms)}")

    def locate(self, key: str, version_id: str | None = None) -> str:
        """The form of `key` (key_forms) the bucket holds, asked with HeadObject; ObjectMissing when none."""
        forms = key_forms(key)
        for form in forms:
            kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": form}
            if version_id and version_id != "null":
                kwargs["VersionId"] = version_id
            try:
                self._s3.head_object(**kwargs)
                return form
            except Exception as exc:
                if not _is_missing(exc):
                    raise InfrastructureError(
                        f"cannot read s3://{self._bucket}/{form}: {exc.__class__.__name__}"
                    ) from exc
        raise ObjectMissing(f"s3://{self._bucket}/{key} (version {version_id}) no longer exists{_also(forms)}")

    def superseded_by(self, key: str, version_id: str | None) -> str | None:
        """The version that replaced `version_id` as the one `key` names now, None when it still is (or the bucket
        keeps no versions, or the key was deleted). Raw objects are never deleted (the bucket policy), so the
        current version is the last one written. HeadObject without a version answers for the current version and says
        its id in x-amz-version-id (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). None
        when the bucket keeps no versions ("null") or the key has no current version (deleted: a delete marker
        answers 404, https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html)."""
        if not version_id or version_id == "null":
            return None  # an unversioned bucket holds one object per key: nothing can have replaced it
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=key)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise InfrastructureError(f"cannot read s3://{self._bucket}/{key}: {exc.__class__.__name__}") from exc
        current = response.get("VersionId")
        if current in (None, "", "null") or current == version_id:
            return None
        return str(current)

    def _get(self, key: str, version_id: str | None, max_bytes: int) -> FoundObject:
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
            return FoundObject(bytes(response["Body"].read()), metadata, key)
        except ObjectTooLarge:
            raise
        except Exception as exc:
            if _is_missing(exc):
                raise _Missing(key) from None
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


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _MISSING or status == 404


def _also(forms: list[str]) -> str:
    others = forms[1:]
    return f" (nor as {', '.join(repr(form) for form in others)})" if others else ""
