"""`destroy` when AWS says no: every refusal (AccessDenied on DeleteStack, on DescribeStacks, while waiting, while
emptying a bucket; expired credentials, throttling, a missing profile) is one line naming what was being done, the
API call, the error code and what to do, and the command exits 1. Never a traceback. No AWS, no network: botocore
Stubber answers for AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.deploy import DeployError, destroy
from restaurant_pipeline.model.config import parse_config

REGION = "eu-west-3"
STACK = "restaurant-pipeline"
DATA, LOGS = "restaurant-pipeline-data-1", "restaurant-pipeline-logs-1"
DENIED = (
    "User: arn:aws:iam::123456789012:user/reader is not authorized to perform: cloudformation:DeleteStack on "
    f"resource: arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1 because no identity-based policy allows "
    "the cloudformation:DeleteStack action"
)


@pytest.fixture(autouse=True)
def _no_aws_environment(monkeypatch):
    """pipeline.toml's region, and no credentials or profile of the machine running the tests."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "PIPELINE__AWS__REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


class Session:
    """Hands out the stubbed clients destroy asks for."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, name: str) -> Any:
        return self.clients[name]


def stubbed(service: str, *calls: tuple[str, Any]) -> Any:
    """A client answering `calls` in order: (operation, response dict) or (operation, (code, message))."""
    made = client(service)
    stubber = Stubber(made)
    for operation, answer in calls:
        if isinstance(answer, tuple):
            code, message = answer
            stubber.add_client_error(operation, service_error_code=code, service_message=message, http_status_code=403)
        else:
            stubber.add_response(operation, answer)
    stubber.activate()
    return made


IDENTITY = ("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/reader"})
STACK_OUTPUTS = (
    "describe_stacks",
    {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": "2025-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [
                    {"OutputKey": "BucketName", "OutputValue": DATA},
                    {"OutputKey": "AccessLogsBucketName", "OutputValue": LOGS},
                ],
            }
        ]
    },
)


def run_destroy(cloudformation: Any, s3: Any = None, **options: Any) -> Any:
    return destroy(
        config=parse_config({}),
        session=Session(sts=stubbed("sts", IDENTITY), cloudformation=cloudformation, s3=s3),
        echo=lambda _: None,
        sleep=lambda _: None,
        **options,
    )


@pytest.mark.parametrize(
    ("calls", "wait", "expected"),
    [
        (
            [STACK_OUTPUTS, ("delete_stack", ("AccessDenied", DENIED))],
            False,
            [
                f"Deleting stack {STACK} in {REGION} failed: DeleteStack answered AccessDenied: User: ",
                "not authorized to perform: cloudformation:DeleteStack",
                "What to do: your credentials need cloudformation:DeleteStack",
                "then run destroy again.",
            ],
        ),
        (
            [("describe_stacks", ("AccessDenied", "not authorized to perform: cloudformation:DescribeStacks"))],
            False,
            [
                f"Reading stack {STACK} in {REGION} failed: DescribeStacks answered AccessDenied",
                "your credentials need cloudformation:DescribeStacks",
            ],
        ),
        (
            [
                STACK_OUTPUTS,
                ("delete_stack", ("ExpiredToken", "The security token included in the request is expired")),
            ],
            False,
            ["DeleteStack answered ExpiredToken", "refresh them (`aws configure` or `aws sso login`)"],
        ),
        (
            [STACK_OUTPUTS, ("delete_stack", ("Throttling", "Rate exceeded"))],
            False,
            ["DeleteStack answered Throttling: Rate exceeded", "wait a minute, then run destroy again"],
        ),
        (
            [STACK_OUTPUTS, ("delete_stack", {}), ("describe_stacks", ("AccessDenied", "no DescribeStacks for you"))],
            True,
            [
                f"Waiting for the deletion of stack {STACK} in {REGION} failed: DescribeStacks answered AccessDenied",
                "your credentials need cloudformation:DescribeStacks",
            ],
        ),
    ],
    ids=["delete-denied", "describe-denied", "expired-credentials", "throttled", "waiting-denied"],
)
def test_an_aws_refusal_while_deleting_the_stack_is_one_line_with_the_call_the_code_and_the_fix(calls, wait, expected):
    with pytest.raises(DeployError) as raised:
        run_destroy(stubbed("cloudformation", *calls), wait=wait)

    line = str(raised.value)
    assert "\n" not in line
    for part in expected:
        assert part in line


def test_a_bucket_that_cannot_be_emptied_is_reported_with_the_call_the_code_and_the_fix():
    s3 = stubbed(
        "s3",
        ("put_bucket_logging", {}),
        ("delete_bucket_policy", {}),
        ("list_object_versions", ("AccessDenied", "Access Denied")),
        ("put_bucket_logging", {}),
        ("delete_bucket_policy", {}),
        ("list_object_versions", {"IsTruncated": False}),
        ("delete_bucket", {}),
    )
    cloudformation = stubbed("cloudformation", STACK_OUTPUTS, ("delete_stack", {}))

    summary = run_destroy(cloudformation, s3, keep_data=False, wait=False)

    assert summary.deleted == [(LOGS, 0)]
    [(bucket, why)] = summary.remaining
    assert bucket == DATA
    assert "ListObjectVersions answered AccessDenied: Access Denied" in why
    assert "use credentials that have it" in why and "0 object versions deleted so far" in why
    later = f"Once that is fixed, delete what is left with `restaurant-pipeline destroy --delete-data --bucket {DATA}`."
    assert summary.lines()[-1] == later


def invoke_destroy(monkeypatch: pytest.MonkeyPatch, **clients: Any) -> Any:
    """`restaurant-pipeline destroy --yes` through the CLI, boto3's sessions handing out the stubbed clients."""
    monkeypatch.setattr(boto3, "Session", lambda **_: Session(**clients))
    return CliRunner().invoke(cli.app, ["destroy", "--yes"], env={"COLUMNS": "400"})


def test_the_cli_exits_1_with_one_line_when_delete_stack_is_denied(monkeypatch):
    result = invoke_destroy(
        monkeypatch,
        sts=stubbed("sts", IDENTITY),
        cloudformation=stubbed("cloudformation", STACK_OUTPUTS, ("delete_stack", ("AccessDenied", DENIED))),
    )

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: Deleting stack restaurant-pipeline in eu-west-3 failed: DeleteStack answered")
    assert "AccessDenied" in errors[0] and "your credentials need cloudformation:DeleteStack" in errors[0]


def test_the_cli_exits_1_with_one_line_when_the_aws_profile_does_not_exist(monkeypatch):
    """Not an answer from AWS: botocore's own ProfileNotFound, before any call."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-for-this-test")

    result = CliRunner().invoke(cli.app, ["destroy", "--yes"], env={"COLUMNS": "400"})

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "ProfileNotFound" in errors[0] and "no-such-profile-for-this-test" in errors[0]
