"""deploy/destroy: preflight failures, the commands run, the key stored once, outputs parsed. No AWS, no network:
botocore Stubber answers for AWS and a recording runner stands in for the CDK CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from restaurant_pipeline.deploy import (
    CDK_CLI,
    DeployError,
    StackNotFoundError,
    check_aws_credentials,
    check_node,
    deploy,
    describe_deployment,
    destroy,
    empty_bucket,
    stack_outputs,
)
from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.stack_outputs import REQUIRED_OUTPUTS, output_key

REGION = "eu-west-3"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:PlacesApiKey-abc123"
API_KEY = "AIzaSy-test-key-never-printed"


@pytest.fixture(autouse=True)
def _no_region_in_the_environment(monkeypatch):
    """The stack's region is pipeline.toml's; an AWS_REGION of the machine running the tests must not leak in."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "PIPELINE__AWS__REGION"):
        monkeypatch.delenv(name, raising=False)


def _client(service: str):
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def _outputs() -> dict[str, str]:
    values = {key: f"value-of-{key}" for key in REQUIRED_OUTPUTS}
    values["PlacesApiKeySecretArn"] = SECRET_ARN
    values["BucketName"] = "restaurant-pipeline-data-1"
    values["AccessLogsBucketName"] = "restaurant-pipeline-logs-1"
    return values


def _stack(outputs: dict[str, str], name: str = "restaurant-pipeline") -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": name,
                "CreationTime": "2025-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def _missing(stubber: Stubber, name: str) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        http_status_code=400,
        expected_params={"StackName": name},
    )


class FakeSession:
    """Hands out the pre-stubbed clients deploy() asks for."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, name: str) -> Any:
        return self.clients[name]


# What `python -m cdk.app` writes that deploy reads: the template's bootstrap rule (as the real one: see
# test_the_bootstrap_version_the_template_needs_is_read_from_its_rule).
TEMPLATE = {
    "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
    "Rules": {
        "CheckBootstrapVersion": {
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]},
                    "AssertDescription": "CDK bootstrap stack version 6 required.",
                }
            ]
        }
    },
}


class RecordingRunner:
    """Stands in for subprocess.run: records each command; the synthesis writes TEMPLATE to CDK_OUTDIR."""

    def __init__(self, fail_on: str | None = None, log: list[str] | None = None) -> None:
        self.commands: list[list[str]] = []
        self.envs: list[dict[str, str]] = []
        self.fail_on = fail_on
        self.log = log if log is not None else []  # shared with FakeSecrets: the order of what happened

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        env = kwargs["env"]
        self.envs.append(env)
        if "cdk.app" in command:
            self.log.append("synth")
            outdir = Path(env["CDK_OUTDIR"])
            outdir.mkdir(parents=True, exist_ok=True)
            (outdir / "restaurant-pipeline.template.json").write_text(json.dumps(TEMPLATE), encoding="utf-8")
        elif "restaurant_pipeline.artifacts" not in command:
            self.log.append(" ".join(p for p in command if "ScheduleState=" in p or p in ("deploy", "bootstrap")))
        code = 1 if self.fail_on and self.fail_on in command else 0
        return subprocess.CompletedProcess(command, code, "", "")


def _toolkit(version: str = "30") -> dict[str, Any]:
    return _stack({"BootstrapVersion": version}, "CDKToolkit")


class FakeSecrets:
    """The stack's secret: created empty; put_secret_value gives it an AWSCURRENT version."""

    def __init__(self, stored: bool = False, log: list[str] | None = None) -> None:
        self.values: list[str] = ["stored-before"] if stored else []
        self.log = log if log is not None else []

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        assert SecretId == SECRET_ARN
        return {"ARN": SecretId, "VersionIdsToStages": {"v1": ["AWSCURRENT"]}} if self.values else {"ARN": SecretId}

    def put_secret_value(self, SecretId: str, SecretString: str) -> dict[str, Any]:
        assert SecretId == SECRET_ARN
        self.values.append(SecretString)
        self.log.append("put_secret_value")
        return {"ARN": SecretId, "VersionId": "v2"}


def _sts_ok() -> tuple[Any, Stubber]:
    sts = _client("sts")
    stubber = Stubber(sts)
    stubber.add_response(
        "get_caller_identity",
        {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/me", "UserId": "AIDA"},
    )
    stubber.activate()
    return sts, stubber


def test_missing_credentials_fail_early_with_the_fix(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    sts = boto3.Session(region_name=REGION).client("sts")
    with pytest.raises(DeployError, match=r"No AWS credentials found\. Run `aws configure`"):
        check_aws_credentials(sts, REGION)


def test_rejected_credentials_say_they_are_invalid_or_expired():
    sts = _client("sts")
    with Stubber(sts) as stubber:
        stubber.add_client_error("get_caller_identity", "ExpiredToken", "The security token included is expired")
        with pytest.raises(DeployError, match=r"\(ExpiredToken\): they are invalid or expired"):
            check_aws_credentials(sts, REGION)


def test_missing_node_fails_early_with_the_fix():
    from restaurant_pipeline.node import NodeMissingError

    def no_node() -> str:
        raise NodeMissingError("node was not found: CDK needs it. Run `make install` ...")

    with pytest.raises(DeployError, match="node was not found"):
        check_node(no_node)


def test_first_deploy_without_a_key_is_refused_before_anything_runs():
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    stubber = Stubber(cloudformation)
    _missing(stubber, "restaurant-pipeline")
    stubber.activate()
    runner = RecordingRunner()
    with pytest.raises(DeployError, match="First deployment: the Places API key is required"):
        deploy(
            None,
            None,
            config=parse_config({}),
            session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=FakeSecrets()),
            run=runner,
            echo=lambda _: None,
            find_node=lambda: "/usr/bin/node",
        )
    assert runner.commands == []


@pytest.mark.parametrize(
    ("key", "email", "problem"),
    [("   ", None, "key is empty"), ("abc def", None, "contains spaces"), ("k", "not-an-email", "not an email")],
)
def test_bad_inputs_are_named(key, email, problem):
    with pytest.raises(DeployError, match=problem):
        deploy(key, email, config=parse_config({}), session=FakeSession(), echo=lambda _: None)


def test_deploy_packages_bootstraps_deploys_then_stores_the_key_and_prints_next_steps(tmp_path):
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    _missing(cfn, "restaurant-pipeline")  # first deploy
    _missing(cfn, "CDKToolkit")  # not bootstrapped yet
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.activate()
    log: list[str] = []
    secrets = FakeSecrets(log=log)
    node = tmp_path / "bin" / "node"
    npx_cli = tmp_path / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"
    for path in (node, npx_cli):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    printed: list[str] = []
    runner = RecordingRunner(log=log)

    outputs = deploy(
        API_KEY,
        "data-team@example.com",
        config=parse_config({}),
        session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=secrets),
        run=runner,
        echo=printed.append,
        find_node=lambda: str(node),
        assembly_dir=tmp_path / "cdk.out",
    )

    assert outputs["PlacesApiKeySecretArn"] == SECRET_ARN
    package, synth, bootstrap, cdk_deploy, _enable = runner.commands
    assert package[1:] == ["-m", "restaurant_pipeline.artifacts"]
    assert synth[1:] == ["-m", "cdk.app", "--context", "lambda_code=package"]  # the zips, never placeholders
    assert bootstrap[:5] == [str(node), str(npx_cli), "--yes", CDK_CLI, "bootstrap"]
    assert bootstrap[5] == f"aws://123456789012/{REGION}"
    assert cdk_deploy[3:7] == [CDK_CLI, "deploy", "--app", str(tmp_path / "cdk.out")]  # the assembly synthesized
    assert "restaurant-pipeline" in cdk_deploy
    assert secrets.values == [API_KEY]
    env = runner.envs[-1]
    assert env["PIPELINE__NOTIFICATIONS__EMAIL"] == "data-team@example.com"
    assert env["CDK_DEFAULT_ACCOUNT"] == "123456789012" and env["CDK_DEFAULT_REGION"] == REGION
    assert env["PATH"].split(":")[0] == str(node.parent)
    text = "\n".join(printed)
    assert "Confirm the subscription" in text and "data-team@example.com" in text
    assert "restaurant-pipeline run --aws" in text
    assert API_KEY not in text and all(API_KEY not in " ".join(c) for c in runner.commands)
    assert all(API_KEY not in value for value in env.values())
    cfn.assert_no_pending_responses()


def test_the_schedule_is_created_off_and_enabled_only_once_the_key_is_stored(tmp_path):
    log: list[str] = []
    deploy(
        API_KEY,
        None,
        config=parse_config({}),
        session=_session_for_first_deploy(FakeSecrets(log=log)),
        run=RecordingRunner(log=log),
        echo=lambda _: None,
        find_node=_node(tmp_path),
        assembly_dir=tmp_path / "cdk.out",
        build_artifacts=False,
    )
    assert log == [
        "synth",
        "bootstrap",
        "deploy restaurant-pipeline:ScheduleState=DISABLED",
        "put_secret_value",
        "deploy restaurant-pipeline:ScheduleState=ENABLED",
    ]


def test_a_redeploy_with_the_key_already_stored_keeps_the_schedule_on_and_the_key(tmp_path):
    log: list[str] = []
    secrets = FakeSecrets(stored=True, log=log)
    deploy(
        None,
        None,
        config=parse_config({}),
        session=_session_for_redeploy(secrets),
        run=RecordingRunner(log=log),
        echo=lambda _: None,
        find_node=_node(tmp_path),
        assembly_dir=tmp_path / "cdk.out",
        build_artifacts=False,
    )
    assert log == ["synth", "deploy restaurant-pipeline:ScheduleState=ENABLED"]
    assert secrets.values == ["stored-before"]


def test_a_stack_whose_secret_never_got_the_key_asks_for_it_before_deploying(tmp_path):
    runner = RecordingRunner()
    with pytest.raises(DeployError, match="No Places API key was ever stored"):
        deploy(
            None,
            None,
            config=parse_config({}),
            session=_session_for_redeploy(FakeSecrets(stored=False), toolkit=False),
            run=runner,
            echo=lambda _: None,
            find_node=_node(tmp_path),
            assembly_dir=tmp_path / "cdk.out",
            build_artifacts=False,
        )
    assert runner.commands == []


def _node(tmp_path) -> Any:
    node = tmp_path / "bin" / "node"
    node.parent.mkdir(exist_ok=True)
    node.write_text("")
    (tmp_path / "bin" / "npx").write_text("")
    return lambda: str(node)


def _session_for_first_deploy(secrets: FakeSecrets) -> FakeSession:
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    _missing(cfn, "restaurant-pipeline")
    _missing(cfn, "CDKToolkit")
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.activate()
    return FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=secrets)


def _session_for_redeploy(secrets: FakeSecrets, toolkit: bool = True) -> FakeSession:
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    if toolkit:
        cfn.add_response("describe_stacks", _toolkit(), {"StackName": "CDKToolkit"})
        cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.activate()
    return FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=secrets)


def test_an_old_bootstrap_stack_stops_the_deploy_with_the_command_that_upgrades_it(tmp_path):
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.add_response("describe_stacks", _toolkit(version="5"), {"StackName": "CDKToolkit"})
    cfn.activate()
    runner = RecordingRunner()
    with pytest.raises(DeployError) as error:
        deploy(
            None,
            None,
            config=parse_config({}),
            session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=FakeSecrets(stored=True)),
            run=runner,
            echo=lambda _: None,
            find_node=_node(tmp_path),
            build_artifacts=False,
            assembly_dir=tmp_path / "cdk.out",
        )
    message = str(error.value)
    assert "CDKToolkit) in aws://123456789012/eu-west-3 is version 5; this stack needs version 6 or later" in message
    assert f"npx --yes {CDK_CLI} bootstrap aws://123456789012/eu-west-3" in message
    assert [command for command in runner.commands if "deploy" in command] == []


def test_the_bootstrap_version_the_template_needs_is_read_from_its_rule(default_stack):
    from restaurant_pipeline.deploy import required_bootstrap_version

    assert required_bootstrap_version(default_stack.template) == 6  # "CDK bootstrap stack version 6 required"
    assert required_bootstrap_version(TEMPLATE) == 6
    assert required_bootstrap_version({}) is None


def test_a_failed_cdk_deploy_stops_before_the_key_is_stored(tmp_path):
    node = tmp_path / "bin" / "node"
    node.parent.mkdir()
    node.write_text("")
    (tmp_path / "bin" / "npx").write_text("")
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.add_response("describe_stacks", _toolkit(), {"StackName": "CDKToolkit"})
    cfn.activate()
    secrets = FakeSecrets(stored=True)
    runner = RecordingRunner(fail_on="deploy")
    with pytest.raises(DeployError, match="cdk deploy failed"):
        deploy(
            API_KEY,
            None,
            config=parse_config({}),
            session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=secrets),
            run=runner,
            echo=lambda _: None,
            find_node=lambda: str(node),
            assembly_dir=tmp_path / "cdk.out",
            build_artifacts=False,
        )
    # already bootstrapped: no bootstrap, straight to deploy with the npx beside node
    assert [c[:4] for c in runner.commands[1:]] == [[str(tmp_path / "bin" / "npx"), "--yes", CDK_CLI, "deploy"]]
    assert secrets.values == ["stored-before"]  # the new key was not stored


def test_deploy_and_destroy_stop_when_the_environment_names_another_region_than_pipeline_toml(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    runner = RecordingRunner()
    with pytest.raises(DeployError, match=r"AWS_REGION=us-east-1, but the stack's region is eu-west-3"):
        deploy(API_KEY, None, config=parse_config({}), session=FakeSession(), run=runner, echo=lambda _: None)
    with pytest.raises(DeployError, match=r"AWS_REGION=us-east-1, but the stack's region is eu-west-3"):
        destroy(config=parse_config({}), session=FakeSession(), echo=lambda _: None, wait=False)
    assert runner.commands == []


def test_deploy_bootstraps_deploys_and_reads_outputs_in_pipeline_toml_s_region(tmp_path):
    config = parse_config({"aws": {"region": "eu-central-1"}})
    sts, _ = _sts_ok()
    cloudformation = boto3.client(
        "cloudformation", region_name="eu-central-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    cfn = Stubber(cloudformation)
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    _missing(cfn, "CDKToolkit")
    cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
    cfn.activate()
    node = tmp_path / "bin" / "node"
    node.parent.mkdir()
    node.write_text("")
    (tmp_path / "bin" / "npx").write_text("")
    runner = RecordingRunner()
    deploy(
        None,
        None,
        config=config,
        session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=FakeSecrets(stored=True)),
        run=runner,
        echo=lambda _: None,
        find_node=lambda: str(node),
        assembly_dir=tmp_path / "cdk.out",
        build_artifacts=False,
    )
    _synth, bootstrap, cdk_deploy = runner.commands
    assert bootstrap[-1] == "aws://123456789012/eu-central-1" and "deploy" in cdk_deploy
    for env in runner.envs:
        assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"], env["CDK_DEFAULT_REGION"]) == ("eu-central-1",) * 3
    cfn.assert_no_pending_responses()


def _redeploy(tmp_path, email: str | None, config_email: str, deployed_email: str | None) -> RecordingRunner:
    """A redeploy of a stack whose outputs name `deployed_email` (or no address)."""
    outputs = _outputs() | ({"NotificationEmail": deployed_email} if deployed_email else {})
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    cfn = Stubber(cloudformation)
    cfn.add_response("describe_stacks", _stack(outputs), {"StackName": "restaurant-pipeline"})
    cfn.add_response("describe_stacks", _toolkit(), {"StackName": "CDKToolkit"})
    cfn.add_response("describe_stacks", _stack(outputs), {"StackName": "restaurant-pipeline"})
    cfn.activate()
    secrets = FakeSecrets(stored=True)
    node = tmp_path / "bin" / "node"
    node.parent.mkdir()
    node.write_text("")
    (tmp_path / "bin" / "npx").write_text("")
    runner = RecordingRunner()
    deploy(
        API_KEY,
        email,
        config=parse_config({"notifications": {"email": config_email}}),
        session=FakeSession(sts=sts, cloudformation=cloudformation, secretsmanager=secrets),
        run=runner,
        echo=lambda _: None,
        find_node=lambda: str(node),
        assembly_dir=tmp_path / "cdk.out",
        build_artifacts=False,
    )
    return runner


def test_a_redeploy_given_no_address_keeps_the_subscription_the_stack_has(tmp_path):
    runner = _redeploy(tmp_path, email=None, config_email="", deployed_email="ops@example.com")
    assert runner.envs[-1]["PIPELINE__NOTIFICATIONS__EMAIL"] == "ops@example.com"


@pytest.mark.parametrize(
    ("given", "config_email", "subscribed"),
    [
        ("", "team@example.com", ""),  # an explicit empty address removes the subscription
        ("new@example.com", "team@example.com", "new@example.com"),  # the address given wins
        (None, "team@example.com", "team@example.com"),  # then pipeline.toml's
    ],
)
def test_the_address_subscribed_by_a_redeploy(tmp_path, given, config_email, subscribed):
    runner = _redeploy(tmp_path, email=given, config_email=config_email, deployed_email="ops@example.com")
    assert runner.envs[-1]["PIPELINE__NOTIFICATIONS__EMAIL"] == subscribed


def test_stack_outputs_are_parsed_and_a_missing_stack_is_explained():
    cloudformation = _client("cloudformation")
    with Stubber(cloudformation) as stubber:
        stubber.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
        _missing(stubber, "restaurant-pipeline")
        outputs = stack_outputs(cloudformation, "restaurant-pipeline")
        assert outputs[output_key("collector", "QueueUrl")] == "value-of-CollectorQueueUrl"
        with pytest.raises(StackNotFoundError, match=r"not found in eu-west-3\. Deploy it with"):
            stack_outputs(cloudformation, "restaurant-pipeline")


def test_describe_deployment_has_the_local_status_shape():
    described = describe_deployment(_outputs())
    assert described["bucket"] == "restaurant-pipeline-data-1"
    assert set(described["queues"]) == {"collector", "transformer", "notifier"}
    assert described["queues"]["transformer"] == {
        "url": "value-of-TransformerQueueUrl",
        "dlq_url": "value-of-TransformerDlqUrl",
        "rule_dlq_url": "value-of-TransformerRuleDlqUrl",
    }
    with pytest.raises(DeployError, match="redeploy"):
        describe_deployment({"BucketName": "b"})


DATA, LOGS = "restaurant-pipeline-data-1", "restaurant-pipeline-logs-1"


class FakeS3:
    """Versioned buckets as destroy sees them. The data bucket's policy denies deleting raw/ objects until it is
    deleted; `late[bucket]` times, an access-log object lands in the bucket right after it was emptied (S3 delivers
    server access logs late)."""

    def __init__(self, late: dict[str, int] | None = None) -> None:
        self.versions = {
            DATA: [("raw/places/dt=2025-01-01/a.jsonl.gz", "v1"), ("quarantine/x", "m1")],
            LOGS: [("data-bucket/2025-01-01-00-00-00-A", "v1")],
        }
        self.late = dict(late or {})
        self.policies = {DATA, LOGS}  # both have one (SSL only; raw protection on the data bucket)
        self.logging = {DATA}
        self.calls: list[str] = []

    def put_bucket_logging(self, Bucket: str, BucketLoggingStatus: dict) -> dict:
        assert BucketLoggingStatus == {}
        self.calls.append(f"stop logging {Bucket}")
        self.logging.discard(Bucket)
        return {}

    def delete_bucket_policy(self, Bucket: str) -> dict:
        if Bucket not in self.policies:
            raise ClientError({"Error": {"Code": "NoSuchBucketPolicy", "Message": ""}}, "DeleteBucketPolicy")
        self.calls.append(f"delete policy {Bucket}")
        self.policies.discard(Bucket)
        return {}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_object_versions"
        versions = self.versions

        class Paginator:
            def paginate(self, Bucket: str) -> list[dict]:
                items = [{"Key": key, "VersionId": version} for key, version in versions[Bucket]]
                return [{"Versions": items}]

        return Paginator()

    def delete_objects(self, Bucket: str, Delete: dict) -> dict:
        objects = Delete["Objects"]
        if Bucket == DATA and Bucket in self.policies and any(o["Key"].startswith("raw/") for o in objects):
            return {"Errors": [{"Key": o["Key"], "Code": "AccessDenied"} for o in objects]}
        gone = {(o["Key"], o["VersionId"]) for o in objects}
        self.versions[Bucket] = [item for item in self.versions[Bucket] if item not in gone]
        if self.late.get(Bucket):
            self.late[Bucket] -= 1
            self.versions[Bucket].append((f"data-bucket/late-{self.late[Bucket]}", "v9"))
        return {"Deleted": objects}

    def delete_bucket(self, Bucket: str) -> dict:
        if self.versions[Bucket]:
            raise ClientError({"Error": {"Code": "BucketNotEmpty", "Message": "not empty"}}, "DeleteBucket")
        del self.versions[Bucket]
        self.calls.append(f"delete {Bucket}")
        return {}


def _destroy_stack(s3: FakeS3, printed: list[str], sleeps: list[float]) -> Any:
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
        cfn.add_response("delete_stack", {}, {"StackName": "restaurant-pipeline"})
        summary = destroy(
            keep_data=False,
            config=parse_config({}),
            session=FakeSession(sts=sts, cloudformation=cloudformation, s3=s3),
            echo=printed.append,
            wait=False,
            sleep=sleeps.append,
        )
        cfn.assert_no_pending_responses()
    return summary


def test_destroy_keeps_the_data_bucket_by_default():
    sts, _ = _sts_ok()
    cloudformation = _client("cloudformation")
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", _stack(_outputs()), {"StackName": "restaurant-pipeline"})
        cfn.add_response("delete_stack", {}, {"StackName": "restaurant-pipeline"})
        printed: list[str] = []
        destroy(
            config=parse_config({}),
            session=FakeSession(sts=sts, cloudformation=cloudformation),
            echo=printed.append,
            wait=False,
        )
        cfn.assert_no_pending_responses()
    text = "\n".join(printed)
    assert f"Kept (with your data): s3://{DATA}, s3://{LOGS}." in text
    assert f"restaurant-pipeline destroy --delete-data --bucket {DATA} --bucket {LOGS}" in text


def test_destroy_with_delete_data_lifts_the_raw_protection_then_empties_every_version_and_deletes_both():
    s3, printed, sleeps = FakeS3(), [], []
    summary = _destroy_stack(s3, printed, sleeps)
    assert s3.calls == [
        f"stop logging {DATA}",
        f"delete policy {DATA}",
        f"delete {DATA}",
        f"stop logging {LOGS}",
        f"delete policy {LOGS}",
        f"delete {LOGS}",
    ]
    assert summary.deleted == [(DATA, 2), (LOGS, 1)] and summary.remaining == [] and sleeps == []
    assert f"Deleted s3://{DATA} (2 object versions)." in printed


def test_late_access_log_deliveries_are_emptied_again_then_the_bucket_is_deleted():
    s3, printed, sleeps = FakeS3(late={LOGS: 2}), [], []
    summary = _destroy_stack(s3, printed, sleeps)
    assert summary.deleted == [(DATA, 2), (LOGS, 3)] and summary.remaining == []
    assert sleeps == [30.0, 30.0]
    assert any("objects arrived after it was emptied (S3 delivers access logs late)" in line for line in printed)
    assert f"Deleted s3://{LOGS} (3 object versions)." in printed


def test_a_bucket_that_keeps_refilling_is_reported_with_the_command_that_finishes_the_job():
    s3, printed, sleeps = FakeS3(late={LOGS: 100}), [], []
    summary = _destroy_stack(s3, printed, sleeps)  # no exception: a summary
    assert summary.deleted == [(DATA, 2)]
    assert [bucket for bucket, _ in summary.remaining] == [LOGS]
    text = "\n".join(printed)
    assert f"Deleted s3://{DATA} (2 object versions)." in text
    assert f"Still there: s3://{LOGS}: objects kept arriving after 5 attempts (late S3 access-log deliveries)" in text
    assert f"`restaurant-pipeline destroy --delete-data --bucket {LOGS}`" in text
    assert len(sleeps) == 4


def test_buckets_kept_by_an_earlier_destroy_are_deleted_by_name_without_the_stack():
    sts, _ = _sts_ok()
    s3 = FakeS3()
    summary = destroy(
        keep_data=False,
        buckets=[DATA, LOGS],
        config=parse_config({}),
        session=FakeSession(sts=sts, s3=s3),  # no cloudformation: the stack is gone
        echo=lambda _: None,
        sleep=lambda _: None,
    )
    assert summary.deleted == [(DATA, 2), (LOGS, 1)]
    with pytest.raises(DeployError, match="add --delete-data"):
        destroy(buckets=[DATA], config=parse_config({}), session=FakeSession(sts=_sts_ok()[0]), echo=lambda _: None)


def test_an_object_that_cannot_be_deleted_is_reported():
    s3 = _client("s3")
    with Stubber(s3) as stubber:
        stubber.add_response(
            "list_object_versions",
            {"Versions": [{"Key": "k", "VersionId": "v"}], "IsTruncated": False},
            {"Bucket": "b"},
        )
        stubber.add_response(
            "delete_objects", {"Errors": [{"Key": "k", "Code": "AccessDenied"}]}, {"Bucket": "b", "Delete": ANY}
        )
        with pytest.raises(DeployError, match=r"Could not delete 1 object\(s\) in b \(first: k: AccessDenied\)"):
            empty_bucket(s3, "b")
