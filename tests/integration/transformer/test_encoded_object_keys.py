"""The key of an S3 "Object Created" event, read whether or not it came URL-encoded (services/transformer/adapters/
s3.py key_forms): S3 notifications to SNS, SQS and Lambda encode it, the EventBridge event's documentation says
nothing either way. On moto: each object is put under its real key and asked for under another form of it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError

from services.transformer.adapters.s3 import S3ObjectStore, key_forms
from services.transformer.domain.model import InfrastructureError, ObjectMissing

BUCKET = "restaurant-pipeline-local"
KEYS = [
    "raw/places/dt=2026-01-01/café au lait+1=2.jsonl",
    "raw/places/dt=2026-01-01/run-1__saint-étienne 北京 (2)+x=y.jsonl.gz",
    "raw/places/dt=2026-01-01/100% plain.json",
]
MiB = 1024 * 1024


@pytest.fixture
def s3(aws: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    return client


def encoded(key: str) -> str:
    """As S3 notifications write keys ("red flower.jpg" becomes "red+flower.jpg"), path separators kept."""
    return quote_plus(key, safe="/")


def test_the_forms_tried_are_the_key_then_decoded_then_encoded_without_repeats() -> None:
    key = KEYS[0]
    assert encoded(key) == "raw/places/dt%3D2026-01-01/caf%C3%A9+au+lait%2B1%3D2.jsonl"
    assert key_forms(encoded(key)) == [
        encoded(key),
        key,
        quote_plus(encoded(key), safe="/"),
        quote_plus(encoded(key)),
    ]
    assert key_forms("raw/places/dt=2026-01-01/plain.jsonl")[:2] == [
        "raw/places/dt=2026-01-01/plain.jsonl",
        "raw/places/dt%3D2026-01-01/plain.jsonl",
    ]


@pytest.mark.parametrize("key", KEYS)
def test_an_encoded_key_reads_the_object_under_its_real_key(s3: Any, key: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"real", Metadata={"city": "Lyon"})
    store = S3ObjectStore(s3, BUCKET)

    for given in (encoded(key), quote_plus(key)):  # "/" kept or encoded: neither page says
        assert given != key
        found = store.get(given, None, MiB)
        assert (found.body, found.metadata, found.key) == (b"real", {"city": "Lyon"}, key)
        assert store.locate(given) == key


@pytest.mark.parametrize("key", KEYS)
def test_a_decoded_key_reads_the_object_stored_under_its_encoded_form(s3: Any, key: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=encoded(key), Body=b"stored encoded")
    store = S3ObjectStore(s3, BUCKET)

    found = store.get(key, None, MiB)

    assert (found.body, found.key) == (b"stored encoded", encoded(key))
    assert store.locate(key) == encoded(key)


def test_the_key_as_given_wins_when_it_exists(s3: Any) -> None:
    given = "raw/places/dt=2026-01-01/a+b.jsonl"
    s3.put_object(Bucket=BUCKET, Key=given, Body=b"as given")
    s3.put_object(Bucket=BUCKET, Key="raw/places/dt=2026-01-01/a b.jsonl", Body=b"decoded")

    found = S3ObjectStore(s3, BUCKET).get(given, None, MiB)

    assert (found.body, found.key) == (b"as given", given)


def test_the_version_named_by_the_event_is_read_under_the_real_key(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = KEYS[0]
    first = s3.put_object(Bucket=BUCKET, Key=key, Body=b"first")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"second")
    store = S3ObjectStore(s3, BUCKET)

    found = store.get(encoded(key), first, MiB)

    assert (found.body, found.key) == (b"first", key)
    assert store.locate(encoded(key), first) == key


def test_no_form_of_the_key_exists_then_the_object_is_missing_and_the_forms_are_named(s3: Any) -> None:
    store = S3ObjectStore(s3, BUCKET)
    key = KEYS[0]

    with pytest.raises(ObjectMissing) as raised:
        store.get(key, None, MiB)
    with pytest.raises(ObjectMissing):
        store.locate(encoded(key))

    message = str(raised.value)
    assert f"s3://{BUCKET}/{key}" in message and repr(encoded(key)) in message


class DeniedS3:
    """S3 answering 403 AccessDenied, as it does for a missing key to a caller without s3:ListBucket."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.asked.append(kwargs["Key"])
        error = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        raise ClientError(error, "GetObject")


def test_access_denied_is_not_taken_for_missing_and_no_other_form_is_tried() -> None:
    client = DeniedS3()

    with pytest.raises(InfrastructureError, match="cannot read"):
        S3ObjectStore(client, BUCKET).get(KEYS[0], None, MiB)

    assert client.asked == [KEYS[0]]
