"""Adapter: the raw objects in S3. Conditional writes make a re-delivered request a no-op."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONTENT_TYPE = "application/gzip"
CONFLICT_RETRIES = 3


@dataclass(frozen=True)
class StoredObject:
    key: str
    places: int | None  # from the object's metadata; None if it was written by something else
    size: int
    etag: str | None = None  # as S3 returns it, quoted


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class RawStore:
    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def find(self, key: str) -> StoredObject | None:
        """The object at `key` if it exists, so a re-delivered request skips the city (no Places request).

        Asked with a ListObjectsV2 on the key itself, not a HEAD: the collector's role may list raw/ only
        (s3:ListBucket with an s3:prefix condition), and a HEAD or GET carries no prefix, so that grant does not
        apply to it and S3 answers a missing key with 403, not 404 (HeadObject, "Permissions":
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). A listing with Prefix=key is what the
        grant covers (s3:prefix: https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html);
        the key sorts first among the keys it prefixes. Only an object that exists is then read with a HEAD (its
        metadata: the place count), which s3:GetObject allows. Write-once does not rest on this check: the write is
        conditional (If-None-Match: *) either way.
        """
        listing = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        contents = listing.get("Contents", [])
        if not contents or contents[0].get("Key") != key:
            return None
        head = self._s3.head_object(Bucket=self.bucket, Key=key)
        places = head.get("Metadata", {}).get("places")
        return StoredObject(
            key, int(places) if places and places.isdigit() else None, int(head["ContentLength"]), head.get("ETag")
        )

    def put_once(self, key: str, path: Path, metadata: dict[str, str]) -> str | None:
        """Write the file at `key` unless an object is already there. The written object's ETag (quoted, as the
        PutObject response carries it: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, "Response
        Syntax"); None when it existed (412 PreconditionFailed, counted as success: S3 emits no second "Object
        Created"). This, not find(), is what makes raw write-once
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)."""
        for _ in range(CONFLICT_RETRIES):
            try:
                with path.open("rb") as body:
                    response = self._s3.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        IfNoneMatch="*",
                        ContentType=CONTENT_TYPE,
                        Metadata=metadata,
                    )
                return str(response["ETag"])
            except ClientError as exc:
                if _status(exc) == 412 or _code(exc) == "PreconditionFailed":
                    return None
                if _status(exc) == 409 or _code(exc) == "ConditionalRequestConflict":
                    continue  # a concurrent conditional write on the same key: ask again
                raise
        raise RuntimeError(
            f"S3 kept answering 409 ConditionalRequestConflict for {key}: another writer is busy with it"
        )
