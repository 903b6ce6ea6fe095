"""What docs/iam.md says the template does about access it does not prove call by call ("What stays unproven").

S3's server access log delivery and Comprehend are not recorded by the IAM sufficiency test; these pin the template
to the words of the doc, so a change of either fails here rather than leaving the doc wrong.
"""

from __future__ import annotations

from typing import Any

from tests.infrastructure.conftest import Synthesized


def _logical_id(stack: Synthesized, kind: str, **properties: Any) -> str:
    (found,) = [
        name
        for name, resource in stack.resources(kind).items()
        if all(resource["Properties"].get(key) == value for key, value in properties.items())
    ]
    return found


def test_access_logs_are_delivered_through_the_log_bucket_s_policy_not_an_acl(default_stack: Synthesized):
    buckets = default_stack.resources("AWS::S3::Bucket")
    (data_bucket,) = [name for name, bucket in buckets.items() if "LoggingConfiguration" in bucket["Properties"]]
    logging = buckets[data_bucket]["Properties"]["LoggingConfiguration"]
    log_bucket = logging["DestinationBucketName"]["Ref"]
    assert logging["LogFilePrefix"] == "data-bucket/"

    # no ACL anywhere: S3's default Object Ownership (bucket owner enforced) stands, under which ACLs grant nothing
    for resource in default_stack.resources("AWS::S3::Bucket").values():
        assert "AccessControl" not in resource["Properties"]
        assert "OwnershipControls" not in resource["Properties"]

    policy = _logical_id(default_stack, "AWS::S3::BucketPolicy", Bucket={"Ref": log_bucket})
    statements = default_stack.template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
    (delivery,) = [s for s in statements if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery["Effect"] == "Allow" and delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [log_bucket, "Arn"]}, "/data-bucket/*"]]}
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [data_bucket, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_the_default_configuration_grants_no_comprehend_action(default_stack: Synthesized):
    assert not default_stack.config.nlp.enabled
    actions = [
        action
        for policy in default_stack.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert actions and not [action for action in actions if action.startswith("comprehend:")]
