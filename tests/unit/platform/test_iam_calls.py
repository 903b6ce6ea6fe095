"""From a recorded call to the authorization requests AWS makes for it (tests/support/iam/calls.py)."""

from __future__ import annotations

import pytest

from tests.support.iam.calls import Call, Mapper, Unmapped

ACCOUNT = "123456789012"


def needs(
    service: str, operation: str, mapper: Mapper | None = None, error: str | None = None, response=None, **params
):
    call = Call("restaurant-pipeline-transformer", service, operation, "eu-west-3", params, error, response or {})
    return [(n.action, n.resource) for n in (mapper or Mapper(ACCOUNT)).needs(call)]


def test_s3_object_reads_writes_and_listings_name_the_object_or_the_bucket():
    assert needs("s3", "HeadObject", Bucket="b", Key="raw/a") == [("s3:GetObject", "arn:aws:s3:::b/raw/a")]
    assert needs("s3", "GetObject", Bucket="b", Key="k", VersionId="v1") == [
        ("s3:GetObjectVersion", "arn:aws:s3:::b/k")
    ]
    assert needs("s3", "ListObjectsV2", Bucket="b", Prefix="warehouse/") == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert needs("s3", "DeleteObjects", Bucket="b", **{"Delete.Objects.Key": ["x", "y"]}) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/x"),
        ("s3:DeleteObject", "arn:aws:s3:::b/y"),
    ]


def test_a_listing_carries_its_prefix_as_the_s3_prefix_condition_key():
    call = Call("f", "s3", "ListObjectsV2", "eu-west-3", {"Bucket": "b", "Prefix": "raw/places/"})
    [need] = Mapper(ACCOUNT).needs(call)
    assert need.context["s3:prefix"] == "raw/places/"
    assert need.policy_kind == "AWS::S3::BucketPolicy" and need.policy_target == "arn:aws:s3:::b"


def test_a_missing_object_seen_as_404_also_needs_list_bucket_without_a_prefix():
    found = needs("s3", "HeadObject", error="404", Bucket="b", Key="raw/a")
    assert found == [("s3:GetObject", "arn:aws:s3:::b/raw/a"), ("s3:ListBucket", "arn:aws:s3:::b")]


def test_a_glue_table_action_needs_the_table_its_database_and_the_catalog():
    base = f"arn:aws:glue:eu-west-3:{ACCOUNT}"
    assert needs("glue", "DeleteTableVersion", DatabaseName="db", TableName="t", VersionId="1") == [
        ("glue:DeleteTableVersion", f"{base}:catalog"),
        ("glue:DeleteTableVersion", f"{base}:database/db"),
        ("glue:DeleteTableVersion", f"{base}:table/db/t"),
    ]
    assert ("glue:GetDatabases", f"{base}:database/*") in needs("glue", "GetDatabases")
    assert ("glue:GetTables", f"{base}:table/db/*") in needs("glue", "GetTables", DatabaseName="db")


def test_athena_query_calls_name_the_work_group_their_query_was_started_in():
    mapper = Mapper(ACCOUNT)
    group = f"arn:aws:athena:eu-west-3:{ACCOUNT}:workgroup/restaurant-pipeline"

    started = needs(
        "athena", "StartQueryExecution", mapper, response={"QueryExecutionId": "q1"}, WorkGroup="restaurant-pipeline"
    )

    assert started == [("athena:StartQueryExecution", group)]
    assert needs("athena", "GetQueryResults", mapper, QueryExecutionId="q1") == [("athena:GetQueryResults", group)]
    with pytest.raises(Unmapped, match="whose StartQueryExecution was not recorded"):
        needs("athena", "GetQueryExecution", mapper, QueryExecutionId="elsewhere")


def test_publishing_to_an_encrypted_topic_needs_its_kms_key_too():
    key = f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/1"
    mapper = Mapper(ACCOUNT, topic_key=lambda topic: key)

    found = needs("sns", "Publish", mapper, TopicArn="arn:aws:sns:eu-west-3:1:t")

    assert found == [("sns:Publish", "arn:aws:sns:eu-west-3:1:t"), ("kms:GenerateDataKey", key), ("kms:Decrypt", key)]


def test_put_events_names_each_entry_bus_with_its_source_and_detail_type():
    call = Call(
        "f",
        "events",
        "PutEvents",
        "eu-west-3",
        {"Entries.EventBusName": ["restaurant-pipeline"], "Entries.Source": ["s"], "Entries.DetailType": ["d"]},
    )
    [need] = Mapper(ACCOUNT).needs(call)
    assert need.resource == f"arn:aws:events:eu-west-3:{ACCOUNT}:event-bus/restaurant-pipeline"
    assert need.context["events:source"] == "s" and need.context["events:detail-type"] == "d"


def test_a_call_without_a_row_is_refused_not_waved_through():
    with pytest.raises(Unmapped, match="no row for s3 PutBucketPolicy"):
        needs("s3", "PutBucketPolicy", Bucket="b")
    with pytest.raises(Unmapped, match="no rows for service 'lambda'"):
        needs("lambda", "Invoke")
    assert needs("sts", "GetCallerIdentity") == []
