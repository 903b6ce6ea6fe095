"""Secure by default: encryption, SSL-only policies, scoped roles, raw immutability, cdk-nag (cfn-lint:
test_cdk_conventions.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infrastructure.conftest import Synthesized

DATA_RESOURCE_POLICIES = ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy")


def _statements(document: dict) -> list[dict]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _ssl_only(policy_document: dict) -> bool:
    return any(
        statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in _statements(policy_document)
    )


def _role_statements(stack: Synthesized, role_prefix: str) -> list[dict]:
    statements: list[dict] = []
    for key, policy in stack.resources("AWS::IAM::Policy").items():
        if key.startswith(role_prefix):
            statements.extend(_statements(policy["Properties"]["PolicyDocument"]))
    assert statements, f"no policy for {role_prefix}"
    return statements


def test_every_queue_is_encrypted_and_ssl_only(default_stack):
    queues = default_stack.resources("AWS::SQS::Queue")
    policies = default_stack.resources("AWS::SQS::QueuePolicy").values()
    assert len(queues) == 10  # 3 queues, 3 DLQs, 3 rule-target DLQs, the schedule DLQ
    for key, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]
        guarding = [p for p in policies if {"Ref": key} in p["Properties"]["Queues"]]
        assert guarding and all(_ssl_only(p["Properties"]["PolicyDocument"]) for p in guarding), key


def test_data_bucket_is_versioned_encrypted_private_ssl_only_logged_and_emits_eventbridge_events(default_stack):
    buckets = {
        key: bucket
        for key, bucket in default_stack.resources("AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    }
    assert len(buckets) == 1
    ((key, bucket),) = buckets.items()
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert bucket["DeletionPolicy"] == "Retain"
    prefixes = {rule.get("Prefix") for rule in properties["LifecycleConfiguration"]["Rules"]}
    assert {"quarantine/", "athena-results/"} <= prefixes
    policy = next(
        p
        for p in default_stack.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": key}
    )
    assert _ssl_only(policy["Properties"]["PolicyDocument"])


def _data_bucket(stack: Synthesized) -> tuple[str, dict]:
    ((key, bucket),) = (
        (key, bucket)
        for key, bucket in stack.resources("AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    )
    return key, bucket


@pytest.mark.parametrize("action", ["s3:DeleteObject", "s3:DeleteObjectVersion"])
def test_the_bucket_policy_denies_everyone_deleting_raw_objects_and_their_versions(default_stack, action):
    key, _ = _data_bucket(default_stack)
    (policy,) = (
        p
        for p in default_stack.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": key}
    )
    denies = [
        s
        for s in _statements(policy["Properties"]["PolicyDocument"])
        if s["Effect"] == "Deny"
        and s.get("Principal") in ({"AWS": "*"}, "*")
        and "Condition" not in s
        and action in _as_list(s["Action"])
    ]
    assert [_text(resource) for s in denies for resource in _as_list(s["Resource"])] == [
        "${" + key + ".Arn}/raw/places/*"
    ]
    assert policy.get("DeletionPolicy") == "Retain"  # kept data stays protected after destroy


def test_no_lifecycle_rule_expires_raw_objects_or_their_old_versions(default_stack):
    _, bucket = _data_bucket(default_stack)
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    removing = [
        rule for rule in rules if set(rule) & {"ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration"}
    ]
    assert removing, "derived data has lifecycle rules"
    for rule in removing:
        prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))
        assert prefix and not "raw/places/".startswith(prefix) and not prefix.startswith("raw/"), rule["Id"]


def test_the_dbt_data_prefix_with_old_versions_expiring_is_the_one_dbt_writes_to():
    from cdk.constructs.shared import DBT_DATA_PREFIX

    profiles = (Path(__file__).resolve().parents[2] / "dbt" / "profiles.yml").read_text(encoding="utf-8")
    assert f"'/{DBT_DATA_PREFIX}'" in profiles


def test_topic_is_encrypted_with_a_rotating_key_and_ssl_only(default_stack):
    topic = default_stack.one("AWS::SNS::Topic")["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert default_stack.template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    (policy,) = default_stack.resources("AWS::SNS::TopicPolicy").values()
    assert _ssl_only(policy["Properties"]["PolicyDocument"])


@pytest.mark.parametrize("role", ["Collector", "Transformer", "Notifier"])
def test_pipeline_roles_are_denied_deleting_raw_objects(default_stack, role):
    denies = [s for s in _role_statements(default_stack, f"{role}Role") if s["Effect"] == "Deny"]
    raw_denies = [s for s in denies if "/raw/places/*" in json.dumps(s["Resource"])]
    actions = {action for statement in raw_denies for action in _as_list(statement["Action"])}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= actions
    bucket_actions = {action for statement in denies for action in _as_list(statement["Action"])}
    assert "s3:PutLifecycleConfiguration" in bucket_actions


def test_only_the_collector_may_write_raw(default_stack):
    for role in ("Transformer", "Notifier"):
        denies = [s for s in _role_statements(default_stack, f"{role}Role") if s["Effect"] == "Deny"]
        assert any(
            "s3:PutObject" in _as_list(s["Action"]) and "/raw/places/*" in json.dumps(s["Resource"]) for s in denies
        ), role


def _text(value) -> str:
    """A template value as text: Fn::Join joined, Ref and Fn::GetAtt as ${Name} / ${Name.Attribute}."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(part) for part in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise ValueError(f"unexpected intrinsic {value}")


def _allows(statements: list[dict], action: str, resource_suffix: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and any(_text(resource).endswith(resource_suffix) for resource in _as_list(statement["Resource"]))
        for statement in statements
    )


def test_the_transformer_may_expire_the_table_versions_dbt_athena_leaves(default_stack):
    # dbt-athena's expire_glue_table_versions calls glue:DeleteTableVersion, one version at a time
    statements = _role_statements(default_stack, "TransformerRole")
    assert _allows(statements, "glue:DeleteTableVersion", ":table/restaurant_pipeline/*")
    assert _allows(statements, "glue:GetTableVersions", ":table/restaurant_pipeline/*")


def test_the_transformer_has_athena_s_default_database_access_and_creates_no_database_of_its_own(default_stack):
    statements = _role_statements(default_stack, "TransformerRole")
    # Athena's documented requirement for any query in the Glue catalog
    for action in ("glue:GetDatabase", "glue:CreateDatabase"):
        assert _allows(statements, action, ":database/default")
        assert _allows(statements, action, ":catalog")
    # both pipeline databases are the stack's: read, never created (so neither is CREATE SCHEMA'd by dbt)
    for database in ("restaurant_pipeline", "restaurant_pipeline_dbt_test__audit"):
        assert _allows(statements, "glue:GetDatabase", f":database/{database}")
        assert not _allows(statements, "glue:CreateDatabase", f":database/{database}")
        assert _allows(statements, "glue:CreateTable", f":table/{database}/*")
        assert _allows(statements, "glue:GetTable", f":database/{database}")  # a table's ancestors too


def test_no_allow_statement_uses_a_wildcard_action(default_stack):
    offenders = []
    for kind in ("AWS::IAM::Policy", *DATA_RESOURCE_POLICIES):
        for key, resource in default_stack.resources(kind).items():
            for statement in _statements(resource["Properties"]["PolicyDocument"]):
                if statement["Effect"] == "Allow" and any("*" in a for a in _as_list(statement["Action"])):
                    offenders.append((key, statement["Action"]))
    assert offenders == []


def test_allow_statements_on_everything_are_only_xray(default_stack):
    for key, policy in default_stack.resources("AWS::IAM::Policy").items():
        for statement in _statements(policy["Properties"]["PolicyDocument"]):
            if statement["Effect"] == "Allow" and statement["Resource"] == "*":
                assert set(_as_list(statement["Action"])) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, key


def test_each_function_has_its_own_role(default_stack):
    roles = {
        f["Properties"]["Role"]["Fn::GetAtt"][0] for f in default_stack.resources("AWS::Lambda::Function").values()
    }
    assert len(roles) == 3


def test_only_the_collector_reads_the_places_key(default_stack):
    readers = [
        key
        for key, policy in default_stack.resources("AWS::IAM::Policy").items()
        if "secretsmanager:GetSecretValue" in json.dumps(policy["Properties"]["PolicyDocument"])
    ]
    assert len(readers) == 1 and readers[0].startswith("CollectorRole")


def test_cdk_nag_aws_solutions_passes_and_every_acknowledgment_has_a_reason(synthesized):
    # The session fixture's synthesis raises on any unacknowledged AwsSolutions finding (see the test below);
    # here: what was acknowledged, and why.
    acknowledged: dict[str, str] = {}
    for name in ("default", "changed"):
        metadata = json.loads((synthesized.outdir / f"pipeline-{name}.metadata.json").read_text(encoding="utf-8"))
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] != "aws:cdk:acknowledged-rules":
                    continue
                for rule, reason in entry["data"].items():
                    if "AwsSolutions-" in rule:
                        acknowledged[f"{path} {rule}"] = reason
    rules = {key.split("AwsSolutions-")[1].split("[")[0] for key in acknowledged}
    assert rules == {"S1", "SMG4", "SQS3", "IAM5", "L1"}
    for key, reason in acknowledged.items():
        assert len(reason.split()) >= 5, key


def test_cdk_nag_stops_synthesis_on_an_unacknowledged_finding(tmp_path):
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from cdk.app import apply_nag

    app = App(outdir=str(tmp_path))
    apply_nag(app)
    stack = Stack(app, "careless")
    sqs.Queue(stack, "NoDlqNoSsl")
    with pytest.raises(Exception, match=r"AwsSolutions-SQS3(.|\n)*AwsSolutions-SQS4"):
        app.synth()


def test_the_transformer_may_list_the_glue_databases_as_dbt_athena_does(default_stack):
    """dbt-athena lists the catalog's databases (glue:GetDatabases, recorded by tests/e2e/test_iam_sufficiency.py),
    which AWS authorizes on the catalog and database/*, not on one database (the SHOW DATABASES example of
    https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html)."""
    statements = [s for s in _role_statements(default_stack, "TransformerRole") if s["Effect"] == "Allow"]

    listing = [s for s in statements if "glue:GetDatabases" in _as_list(s["Action"])]

    resources = [json.dumps(r) for s in listing for r in _as_list(s["Resource"])]
    assert any(r.endswith(':database/*"]]}') for r in resources), resources
    assert any(r.endswith(':catalog"]]}') for r in resources), resources
    assert all(_as_list(s["Action"]) == ["glue:GetDatabases"] for s in listing if "database/*" in json.dumps(s))
