"""S3ObjectStore.superseded_by on moto's in-process S3: which version a key names now (HeadObject without a version),
so that an older version is accounted and the newest built (issue 24, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from services.transformer.adapters.s3 import S3ObjectStore

BUCKET = "raw-bucket"
KEY = "raw/places/dt=2026-01-01/menu.jsonl"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        yield client


def test_an_older_version_names_the_one_that_replaced_it_and_the_current_one_names_none(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    older = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"1")["VersionId"]
    newer = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"2")["VersionId"]
    store = S3ObjectStore(s3, BUCKET)

    assert store.superseded_by(KEY, older) == newer
    assert store.superseded_by(KEY, newer) is None


def test_a_deleted_key_or_an_unversioned_bucket_replaces_nothing(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"1")
    assert store.superseded_by(KEY, None) is None  # unversioned: one object per key

    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"2")["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key=KEY)  # a delete marker is now current: GET and HEAD answer 404

    assert store.superseded_by(KEY, version) is None
