"""The IAM proof's policy evaluator (tests/support/iam/evaluator.py) on small hand-written policies, each answer
checked against AWS's documented evaluation logic, and the gaps of moto's evaluator it works around."""

from __future__ import annotations

import json

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from tests.support.iam.evaluator import Policy, Request, UnsupportedPolicy, evaluate

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/collector"
BUCKET = "arn:aws:s3:::data"


def policy(*statements: dict, name: str = "role policy") -> Policy:
    return Policy(name, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource, **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ask(action: str, resource: str, principal: str = ROLE, **context) -> Request:
    return Request(action, resource, principal, context)


def test_an_allow_grants_and_nothing_else_does():
    identity = [policy(allow("s3:GetObject", f"{BUCKET}/raw/*"))]

    assert evaluate(ask("s3:GetObject", f"{BUCKET}/raw/a.json"), identity).allowed
    refused = evaluate(ask("s3:PutObject", f"{BUCKET}/raw/a.json"), identity)
    assert not refused.allowed and "implicit deny" in refused.reason
    assert not evaluate(ask("s3:GetObject", f"{BUCKET}/validated/a.json"), identity).allowed


def test_an_explicit_deny_wins_over_any_allow_and_is_named():
    identity = [
        policy(
            allow(["s3:PutObject", "s3:DeleteObject"], f"{BUCKET}/*"),
            deny("s3:DeleteObject", f"{BUCKET}/raw/places/*", Sid="RawIsImmutable"),
        )
    ]

    decision = evaluate(ask("s3:DeleteObject", f"{BUCKET}/raw/places/dt=2026-01-01/a.jsonl"), identity)

    assert not decision.allowed
    assert decision.denied_by is not None and decision.denied_by.statement["Sid"] == "RawIsImmutable"
    assert decision.reason == "explicitly denied by statement 'RawIsImmutable' of role policy"
    assert evaluate(ask("s3:DeleteObject", f"{BUCKET}/validated/a.jsonl"), identity).allowed


def test_wildcards_in_actions_and_resources_and_actions_compare_case_insensitively():
    identity = [policy(allow("glue:Get*", "arn:aws:glue:eu-west-3:1:table/db/*"), allow("S3:getobject", "*"))]

    assert evaluate(ask("glue:GetTables", "arn:aws:glue:eu-west-3:1:table/db/t1"), identity).allowed
    assert not evaluate(ask("glue:DeleteTable", "arn:aws:glue:eu-west-3:1:table/db/t1"), identity).allowed
    assert not evaluate(ask("glue:GetTable", "arn:aws:glue:eu-west-3:1:table/other/t1"), identity).allowed
    assert evaluate(ask("s3:GetObject", f"{BUCKET}/x"), identity).allowed


def test_a_dot_or_a_question_mark_in_a_pattern_means_what_iam_says_not_what_a_regex_says():
    identity = [policy(allow("s3:GetObject", f"{BUCKET}/day.json"), allow("s3:PutObject", f"{BUCKET}/v?/*"))]

    assert not evaluate(ask("s3:GetObject", f"{BUCKET}/dayXjson"), identity).allowed  # a regex '.' would match
    assert evaluate(ask("s3:PutObject", f"{BUCKET}/v1/a"), identity).allowed
    assert not evaluate(ask("s3:PutObject", f"{BUCKET}/v/a"), identity).allowed  # '?' is exactly one character


def test_an_allow_whose_condition_does_not_hold_is_skipped_not_a_deny():
    identity = [
        policy(
            allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["raw/places/*"]}}),
            allow("s3:ListBucket", BUCKET),
        )
    ]

    assert evaluate(ask("s3:ListBucket", BUCKET, **{"s3:prefix": "quarantine/"}), identity).allowed


def test_moto_alone_denies_an_allow_whose_condition_does_not_hold_which_is_why_it_is_wrapped():
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": BUCKET,
                "Condition": {"StringEquals": {"k": "a"}},
            },
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
        ],
    }

    moto = IAMPolicy(json.dumps(document)).is_action_permitted("s3:ListBucket", BUCKET, None, {"k": "b"})

    assert moto == PermissionResult.DENIED  # when this fails, moto learnt AWS's rule: the wrapper can shrink
    assert evaluate(ask("s3:ListBucket", BUCKET, k="b"), [Policy("p", document)]).allowed


def test_moto_alone_ignores_a_string_like_condition_and_an_absent_key_which_the_wrapper_does_not():
    document = {
        "Version": "2012-10-17",
        "Statement": [allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "raw/*"}})],
    }
    moto = IAMPolicy(json.dumps(document))

    assert (
        moto.is_action_permitted("s3:ListBucket", BUCKET, None, {"s3:prefix": "other/"}) == PermissionResult.PERMITTED
    )
    assert moto.is_action_permitted("s3:ListBucket", BUCKET, None, {}) == PermissionResult.PERMITTED
    assert not evaluate(ask("s3:ListBucket", BUCKET, **{"s3:prefix": "other/"}), [Policy("p", document)]).allowed
    assert not evaluate(ask("s3:ListBucket", BUCKET), [Policy("p", document)]).allowed


def test_list_bucket_conditioned_on_s3_prefix_allows_only_that_prefix_and_not_a_listing_without_one():
    identity = [policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["raw/places/*"]}}))]

    assert evaluate(ask("s3:ListBucket", BUCKET, **{"s3:prefix": "raw/places/dt=2026-01-01/a"}), identity).allowed
    refused = evaluate(ask("s3:ListBucket", BUCKET, **{"s3:prefix": "validated/"}), identity)
    assert not refused.allowed
    assert refused.near_misses and "s3:prefix" in refused.near_misses[0][1]
    # a HeadObject's existence check carries no s3:prefix: an absent key makes StringLike false
    assert not evaluate(ask("s3:ListBucket", BUCKET), identity).allowed


def test_absent_keys_follow_aws_rules_for_negated_operators_ifexists_null_and_set_qualifiers():
    def holds(condition: dict, **context) -> bool:
        return evaluate(
            ask("sqs:SendMessage", "q", **context), [policy(allow("sqs:SendMessage", "q", Condition=condition))]
        ).allowed

    assert holds({"StringNotEquals": {"aws:SourceAccount": "999"}})  # absent: a negated operator holds
    assert not holds({"StringEquals": {"aws:SourceAccount": "999"}})
    assert holds({"StringEqualsIfExists": {"aws:SourceAccount": "999"}})
    assert not holds({"StringEqualsIfExists": {"aws:SourceAccount": "999"}}, **{"aws:SourceAccount": "1"})
    assert holds({"Null": {"aws:SourceAccount": "true"}})
    assert not holds({"Null": {"aws:SourceAccount": "false"}})
    assert holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}})  # vacuously true
    assert not holds({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}})
    assert holds({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, **{"aws:TagKeys": ["b", "a"]})
    assert not holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, **{"aws:TagKeys": ["b", "a"]})
    assert holds({"StringEquals": {"k": ["x", "y"]}}, k="y")  # several values: OR
    assert not holds({"StringNotEquals": {"k": ["x", "y"]}}, k="y")  # negated: NOR
    assert not holds({"StringEquals": {"k": "x"}, "Bool": {"aws:SecureTransport": "true"}}, k="x")  # AND


def test_a_bucket_policy_deny_applies_to_the_role_and_its_allow_for_another_principal_does_not():
    bucket_policy = policy(
        deny(
            "s3:*",
            [BUCKET, f"{BUCKET}/*"],
            Principal={"AWS": "*"},
            Condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        deny("s3:DeleteObject*", f"{BUCKET}/raw/*", Principal={"AWS": "*"}, Sid="ProtectRaw"),
        allow("s3:GetObject", f"{BUCKET}/*", Principal={"Service": "logging.s3.amazonaws.com"}),
        name="bucket policy",
    )
    identity = [policy(allow(["s3:GetObject", "s3:DeleteObject"], f"{BUCKET}/*"))]
    secure = {"aws:SecureTransport": "true"}

    assert evaluate(ask("s3:GetObject", f"{BUCKET}/raw/a", **secure), identity, bucket_policy).allowed
    assert not evaluate(
        ask("s3:GetObject", f"{BUCKET}/raw/a", **{"aws:SecureTransport": "false"}), identity, bucket_policy
    ).allowed
    protected = evaluate(ask("s3:DeleteObject", f"{BUCKET}/raw/a", **secure), identity, bucket_policy)
    assert not protected.allowed and protected.denied_by.statement["Sid"] == "ProtectRaw"
    assert not evaluate(ask("s3:GetObject", f"{BUCKET}/raw/a", **secure), [], bucket_policy).allowed


def test_a_queue_policy_lets_only_the_named_rule_send_through_events():
    queue = "arn:aws:sqs:eu-west-3:123456789012:collector"
    rule = "arn:aws:events:eu-west-3:123456789012:rule/restaurant-pipeline/to-collector"
    queue_policy = policy(
        allow(
            "sqs:SendMessage",
            queue,
            Principal={"Service": "events.amazonaws.com"},
            Condition={"ArnEquals": {"aws:SourceArn": rule}},
        ),
        name="queue policy",
    )

    def send(principal: str, source: str) -> bool:
        return evaluate(ask("sqs:SendMessage", queue, principal, **{"aws:SourceArn": source}), [], queue_policy).allowed

    assert send("events.amazonaws.com", rule)
    assert not send("events.amazonaws.com", rule.replace("to-collector", "another"))
    assert not send("sns.amazonaws.com", rule)


def test_a_key_policy_must_allow_directly_or_delegate_to_the_account_whose_iam_policy_then_decides():
    key = "arn:aws:kms:eu-west-3:123456789012:key/1234"
    key_policy = policy(
        allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            "*",
            Principal={"Service": "cloudwatch.amazonaws.com"},
            Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        ),
        name="key policy",
    )
    publisher = [policy(allow(["kms:GenerateDataKey", "kms:Decrypt"], key))]

    assert evaluate(ask("kms:GenerateDataKey", key), publisher, key_policy, key_policy=True).allowed
    assert not evaluate(ask("kms:GenerateDataKey", key), [], key_policy, key_policy=True).allowed
    cloudwatch = ask("kms:GenerateDataKey", key, "cloudwatch.amazonaws.com", **{"aws:SourceAccount": ACCOUNT})
    assert evaluate(cloudwatch, [], key_policy, key_policy=True).allowed
    no_key_access = policy(allow("kms:Decrypt", "*", Principal={"Service": "events.amazonaws.com"}))
    assert not evaluate(ask("kms:GenerateDataKey", key), publisher, no_key_access, key_policy=True).allowed


def test_what_it_cannot_decide_it_refuses_instead_of_guessing():
    with pytest.raises(UnsupportedPolicy, match="NotResource"):
        evaluate(ask("s3:GetObject", "x"), [policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "y"})])
    with pytest.raises(UnsupportedPolicy, match="IpAddress"):
        evaluate(
            ask("s3:GetObject", "x", **{"aws:SourceIp": "1.2.3.4"}),
            [policy(allow("s3:GetObject", "x", Condition={"IpAddress": {"aws:SourceIp": "1.0.0.0/8"}}))],
        )
