"""The collector's S3 calls under its deployed role: the existence check must tell a missing raw object from a
present one, although S3 answers 403 (not 404) to a HEAD on a missing key when the caller may not list the bucket.

The role comes from the synthesized template; S3 is moto, with AWS's authorization emulated
(tests/support/iam/s3_authorization.py, on the evaluator the IAM proof uses).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from services.collector.adapters.s3 import RawStore
from tests.infrastructure.conftest import Synthesized
from tests.support.iam.s3_authorization import S3Authorization
from tests.support.iam.template import REGION, ResolvedTemplate

BUCKET = "restaurant-pipeline-data-1a2b3c"
KEY = "raw/places/dt=2026-03-14/run-1__paris.jsonl.gz"


def _data_bucket_id(stack: Synthesized) -> str:
    (logical_id,) = (
        k for k, b in stack.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in b["Properties"]
    )
    return logical_id


@pytest.fixture
def collector_s3(default_stack: Synthesized) -> Iterator[tuple[Any, S3Authorization]]:
    template = ResolvedTemplate(default_stack.template, bindings={_data_bucket_id(default_stack): BUCKET})
    (role,) = (logical for logical in template.of_type("AWS::IAM::Role") if logical.startswith("CollectorRole"))
    policies = template.policies_of_role(role)
    with mock_aws():
        unchecked = boto3.client("s3", region_name=REGION)
        unchecked.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        client = boto3.client("s3", region_name=REGION)
        yield client, S3Authorization(client, unchecked, policies)


def test_under_the_collector_role_a_head_on_a_missing_raw_key_is_403(collector_s3):
    client, _ = collector_s3
    with pytest.raises(ClientError) as error:
        client.head_object(Bucket=BUCKET, Key=KEY)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_existence_check_tells_missing_from_present_under_the_collector_role(collector_s3, tmp_path):
    client, authorization = collector_s3
    store = RawStore(client, BUCKET)
    body = tmp_path / "paris.jsonl.gz"
    body.write_bytes(gzip.compress(b'{"id": "p1"}\n'))

    assert store.find(KEY) is None
    etag = store.put_once(KEY, body, {"places": "20"})
    assert etag == f'"{hashlib.md5(body.read_bytes()).hexdigest()}"'  # quoted, as S3 returns it
    found = store.find(KEY)
    assert found is not None and (found.places, found.size, found.etag) == (20, body.stat().st_size, etag)
    assert store.put_once(KEY, body, {"places": "20"}) is None  # write-once: If-None-Match answers 412

    assert [status for *_, status in authorization.calls] == [200] * len(authorization.calls)
