"""Deploy and destroy the AWS stack, and read its outputs for the CLI's --aws mode.

`deploy` checks what it needs first (AWS credentials, node, the region), builds the Lambda zips (`make package`),
synthesizes the stack once (cdk.out/), bootstraps CDK in the account/region when needed (or stops with the upgrade
command when CDKToolkit is older than the template needs), runs `npx aws-cdk@<CDK_CLI_VERSION> deploy` on that
assembly (the CDK CLI comes from the npm registry, at one pinned version) with the schedule off until the Places API
key is in Secrets Manager, stores the key, turns the schedule on, and prints the next steps.
`destroy` deletes the stack; the data bucket (and its access-log bucket) is kept unless keep_data=False.

The CLI (restaurant_pipeline/cli/deploy.py) prompts for the key (hidden) and the email and calls these.
Nothing here logs, prints or raises with the API key in it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restaurant_pipeline.model.config import ConfigError, PipelineConfig, deployment_region, load_config
from restaurant_pipeline.model.stack_outputs import (
    OUTPUT_ACCESS_LOGS_BUCKET,
    OUTPUT_BUCKET,
    OUTPUT_BUS,
    OUTPUT_DASHBOARD,
    OUTPUT_EMAIL,
    OUTPUT_GLUE_DATABASE,
    OUTPUT_IDEMPOTENCY_TABLE,
    OUTPUT_LEDGER_TABLE,
    OUTPUT_REGION,
    OUTPUT_RESULTS,
    OUTPUT_SCHEDULE,
    OUTPUT_SCHEDULE_DLQ,
    OUTPUT_SECRET,
    OUTPUT_TOPIC,
    OUTPUT_WORKGROUP,
    SCHEDULE_STATE_PARAMETER,
    STACK_NAME,
    output_key,
)
from restaurant_pipeline.model.topology import SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent
# The CDK command-line tool, one exact version: a new CLI can change what `deploy` and `bootstrap` do, so it moves
# only when we move it. 2.1148.1 is built against aws-cdk-lib 2.275.0 (requirements.lock) and reads cloud assembly
# schema 55 (its npm metadata: devDependencies aws-cdk-lib 2.275.0, @aws-cdk/cloud-assembly-schema >=55.5.0); a CLI
# older than the schema aws-cdk-lib writes refuses the assembly. tests/infrastructure/test_cdk_conventions.py checks it.
CDK_CLI_VERSION = "2.1148.1"
CDK_CLI_ASSEMBLY_SCHEMA_MAJOR = 55
CDK_CLI = f"aws-cdk@{CDK_CLI_VERSION}"
BOOTSTRAP_STACK = "CDKToolkit"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

Runner = Callable[..., subprocess.CompletedProcess[str]]
Echo = Callable[[str], None]


class DeployError(RuntimeError):
    """Deployment cannot go on; the message says what is missing and how to fix it."""


class StackNotFoundError(DeployError):
    pass


# What `deploy` reads from the tree beside the package: the CDK app and its settings (synthesis runs `python -m
# cdk.app` in REPO_ROOT) and the pins the Lambda zips are built from. A checkout has them; an installed copy
# (`pip install .`: REPO_ROOT is then site-packages) has none, as pyproject.toml leaves cdk/ out of the wheel.
CHECKOUT_FILES = ("cdk.json", "cdk/app.py", "requirements.lock")


class NotACheckout(DeployError):
    """`deploy` was run from an installed copy: it builds and synthesizes from a checkout of the repository."""


def require_checkout(root: Path | None = None) -> Path:
    """The repository `deploy` builds from (REPO_ROOT), or NotACheckout saying how to get one."""
    root = root or REPO_ROOT
    missing = [name for name in CHECKOUT_FILES if not (root / name).is_file()]
    if missing:
        raise NotACheckout(
            "deploy builds the Lambda zips and synthesizes the CDK app from a checkout of the repository, and this is "
            f"an installed copy ({root} has no {', '.join(missing)}): clone the repository, then in the clone run "
            "make install && .venv/bin/restaurant-pipeline deploy"
        )
    return root


# What to do about an AWS error, by its code. AccessDenied's message names the action refused and the principal
# ("User: … is not authorized to perform: ACTION on resource: …":
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html), so it is kept in the line.
# Credentials refused or expired: the common errors of AWS APIs (ExpiredTokenException, InvalidClientTokenId,
# RequestExpired, SignatureDoesNotMatch…: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/
# CommonErrors.html). Throttling: the codes boto3 retries as such before giving up
# (https://docs.aws.amazon.com/boto3/latest/guide/retries.html).
_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "AllAccessDisabled"}
)
_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
_THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"}
)
_MESSAGE_CHARS = 400


def aws_failure(exc: Exception, doing: str, permission: str | None = None, again: str = "run destroy again") -> str:
    """One line for an AWS error: what was being done, the API call and the error code AWS answered, AWS's message
    (whitespace folded, cut at 400 characters) and what to do. For a botocore ClientError or BotoCoreError."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):  # BotoCoreError: no answer from AWS (network, endpoint, credentials chain)
        detail = " ".join(str(exc).split())[:_MESSAGE_CHARS]
        return (
            f"{doing} failed: {exc.__class__.__name__}: {detail}. Check the network and the credentials "
            f"(`aws sts get-caller-identity`), then {again}."
        )
    code = _error_code(exc)
    message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:_MESSAGE_CHARS]
    if code in _DENIED:
        needed = f" need {permission}" if permission else " lack the permission AWS names"
        advice = f"your credentials{needed}: use credentials that have it (those that deployed the stack), then "
        advice += again
    elif code in _CREDENTIALS:
        advice = (
            f"the credentials are invalid or expired: refresh them (`aws configure` or `aws sso login`), then {again}"
        )
    elif code in _THROTTLED:
        advice = f"AWS is throttling the calls: wait a minute, then {again}"
    else:
        advice = f"fix what AWS says, then {again} (it is safe to repeat)"
    said = f": {message}" if message else ""
    return f"{doing} failed: {exc.operation_name} answered {code}{said}. What to do: {advice}."


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
    region: str


# --- preflight --------------------------------------------------------------------------------------------


def check_aws_credentials(sts_client: Any, region: str) -> Identity:
    """sts get-caller-identity, or a DeployError saying how to configure credentials."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        identity = sts_client.get_caller_identity()
    except NoCredentialsError:
        raise DeployError(
            "No AWS credentials found. Run `aws configure` (or `aws sso login` / set AWS_PROFILE), then retry."
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DeployError(
            f"AWS refused the credentials ({code}): they are invalid or expired. "
            "Refresh them (`aws configure` or `aws sso login`), then retry."
        ) from None
    except BotoCoreError as exc:
        raise DeployError(
            f"Could not reach AWS STS in {region} ({exc.__class__.__name__}): check the network."
        ) from None
    return Identity(account=identity["Account"], arn=identity["Arn"], region=region)


def check_node(find_node: Callable[[], str] | None = None) -> str:
    """The node binary CDK will use, or a DeployError naming the fix."""
    from restaurant_pipeline.node import NodeMissingError, ensure_node

    try:
        node = (find_node or ensure_node)()
    except NodeMissingError as exc:
        raise DeployError(str(exc)) from None
    npx_command(node)  # raises when npx is missing too
    return node


def npx_command(node: str) -> list[str]:
    """How to run npx with this node: npm's npx-cli.js beside it (the venv's node wheel ships npx that way),
    else an npx executable beside node or on PATH."""
    cli = Path(node).parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js"
    if cli.is_file():
        return [node, str(cli)]
    beside = Path(node).with_name("npx")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("npx")
    if found:
        return [found]
    raise DeployError(f"npx was not found next to {node} nor on PATH: install Node.js 20+ (it ships npx).")


def validate_inputs(api_key: str | None, email: str | None) -> None:
    if api_key is not None:
        if not api_key.strip():
            raise DeployError("The Places API key is empty: paste the key from the Google Cloud console.")
        if any(ch.isspace() for ch in api_key.strip()):
            raise DeployError("The Places API key contains spaces: paste it again, without quotes or spaces.")
    if email and not _EMAIL.match(email.strip()):
        raise DeployError(f"{email!r} is not an email address (expected e.g. data-team@example.com).")


# --- outputs ----------------------------------------------------------------------------------------------


def stack_outputs(cloudformation_client: Any, stack_name: str = STACK_NAME) -> dict[str, str]:
    """OutputKey -> OutputValue of a deployed stack; StackNotFoundError when it is not there."""
    from botocore.exceptions import ClientError

    try:
        response = cloudformation_client.describe_stacks(StackName=stack_name)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            region = cloudformation_client.meta.region_name
            raise StackNotFoundError(
                f"Stack {stack_name} not found in {region}. Deploy it with `restaurant-pipeline deploy` "
                "(or set pipeline.toml [aws] region to the region it lives in)."
            ) from None
        raise
    stacks = response.get("Stacks", [])
    if not stacks:
        raise StackNotFoundError(f"Stack {stack_name} not found. Deploy it with `restaurant-pipeline deploy`.")
    return {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}


def describe_deployment(outputs: Mapping[str, str]) -> dict[str, Any]:
    """The deployed names in the shape of `local status --json` (what the CLI's --aws mode needs)."""
    missing = [key for key in (OUTPUT_BUCKET, OUTPUT_BUS, OUTPUT_TOPIC) if key not in outputs]
    if missing:
        raise DeployError(f"The stack has no outputs {missing}: it is from another version; redeploy it.")
    return {
        "region": outputs.get(OUTPUT_REGION),
        "bucket": outputs[OUTPUT_BUCKET],
        "access_logs_bucket": outputs.get(OUTPUT_ACCESS_LOGS_BUCKET),
        "event_bus": outputs[OUTPUT_BUS],
        "topic_arn": outputs[OUTPUT_TOPIC],
        "idempotency_table": outputs.get(OUTPUT_IDEMPOTENCY_TABLE),
        "ledger_table": outputs.get(OUTPUT_LEDGER_TABLE),
        "places_api_key_secret_arn": outputs.get(OUTPUT_SECRET),
        "athena_workgroup": outputs.get(OUTPUT_WORKGROUP),
        "athena_results_s3": outputs.get(OUTPUT_RESULTS),
        "glue_database": outputs.get(OUTPUT_GLUE_DATABASE),
        "schedule": outputs.get(OUTPUT_SCHEDULE),
        "schedule_dlq_url": outputs.get(OUTPUT_SCHEDULE_DLQ),
        "dashboard": outputs.get(OUTPUT_DASHBOARD),
        "queues": {
            service: {
                "url": outputs.get(output_key(service, "QueueUrl")),
                "dlq_url": outputs.get(output_key(service, "DlqUrl")),
                "rule_dlq_url": outputs.get(output_key(service, "RuleDlqUrl")),
            }
            for service in SERVICES
        },
        "functions": {service: outputs.get(output_key(service, "FunctionName")) for service in SERVICES},
        "log_groups": {service: outputs.get(output_key(service, "LogGroupName")) for service in SERVICES},
    }


# --- deploy / destroy -------------------------------------------------------------------------------------


def cdk_command(npx: Sequence[str], action: str, assembly: Path, *extra: str) -> list[str]:
    """The CDK CLI on the cloud assembly `deploy` synthesized (a directory as --app: no second synthesis)."""
    return [*npx, "--yes", CDK_CLI, action, "--app", str(assembly), *extra]


def synth_command() -> list[str]:
    """The app with the built zips (never placeholders); CDK_OUTDIR names the assembly folder."""
    return [sys.executable, "-m", "cdk.app", "--context", "lambda_code=package"]


def required_bootstrap_version(template: Mapping[str, Any]) -> int | None:
    """The CDKToolkit version a synthesized template needs, from its CheckBootstrapVersion rule: CloudFormation
    refuses the template when the environment's BootstrapVersion is one of the listed (older) versions."""
    rule = template.get("Rules", {}).get("CheckBootstrapVersion", {})
    too_old: list[int] = []
    for assertion in rule.get("Assertions", []):
        contains = assertion.get("Assert", {}).get("Fn::Not", [{}])[0].get("Fn::Contains", [])
        if len(contains) == 2 and contains[1] == {"Ref": "BootstrapVersion"}:
            too_old.extend(int(version) for version in contains[0])
    return max(too_old) + 1 if too_old else None


def bootstrap_version(cloudformation_client: Any) -> int | None:
    """The CDKToolkit stack's BootstrapVersion output in this account and region; None when it is not there."""
    outputs = _deployed_outputs(cloudformation_client, BOOTSTRAP_STACK)
    if outputs is None:
        return None
    value = outputs.get("BootstrapVersion", "0")
    return int(value) if value.isdigit() else 0


def bootstrap_command(npx: Sequence[str], account: str, region: str) -> list[str]:
    return [*npx, "--yes", CDK_CLI, "bootstrap", f"aws://{account}/{region}"]


def _region(config: PipelineConfig) -> str:
    try:
        return deployment_region(config)
    except ConfigError as exc:
        raise DeployError(str(exc)) from None


def _session(region: str, session: Any | None) -> Any:
    if session is not None:
        return session
    import boto3

    return boto3.Session(region_name=region)


def _deployed_outputs(cloudformation_client: Any, stack_name: str = STACK_NAME) -> dict[str, str] | None:
    try:
        return stack_outputs(cloudformation_client, stack_name)
    except StackNotFoundError:
        return None


def choose_email(given: str | None, config: PipelineConfig, deployed: Mapping[str, str] | None) -> str:
    """The address to subscribe: the one given ("" removes the subscription), else pipeline.toml's
    [notifications] email, else the one the deployed stack subscribes (a redeploy never drops it unasked)."""
    if given is not None:
        return given.strip()
    return config.notifications.email or (deployed or {}).get(OUTPUT_EMAIL, "")


def current_email(config: PipelineConfig | None = None, session: Any | None = None) -> str:
    """What `deploy` subscribes when given no address: the default shown at the prompt. Best effort: without
    credentials or a stack, pipeline.toml's (deploy itself then says what is wrong)."""
    from botocore.exceptions import BotoCoreError, ClientError

    config = config or load_config()
    if config.notifications.email:
        return config.notifications.email
    try:
        cloudformation = _session(_region(config), session).client("cloudformation")
        return choose_email(None, config, _deployed_outputs(cloudformation))
    except (BotoCoreError, ClientError, DeployError):
        return ""


def deploy(
    api_key: str | None,
    email: str | None,
    *,
    config: PipelineConfig | None = None,
    session: Any | None = None,
    run: Runner = subprocess.run,
    echo: Echo = print,
    find_node: Callable[[], str] | None = None,
    build_artifacts: bool = True,
    assembly_dir: Path | None = None,
) -> dict[str, str]:
    """Deploy (or update) the stack; return its outputs.

    api_key: the Places API key to store (None keeps the one in the secret; required on the first deploy).
    email: the address subscribed to the notification topic; None: pipeline.toml's [notifications] email, else the
        one the deployed stack subscribes (kept); "": no email.
    """
    require_checkout()
    config = config or load_config()
    region = _region(config)
    validate_inputs(api_key, email)

    aws = _session(region, session)
    identity = check_aws_credentials(aws.client("sts"), region)
    node = check_node(find_node)
    cloudformation = aws.client("cloudformation")
    secretsmanager = aws.client("secretsmanager")
    deployed = _deployed_outputs(cloudformation)
    email = choose_email(email, config, deployed)
    key_stored = deployed is not None and api_key_stored(secretsmanager, deployed[OUTPUT_SECRET])
    if api_key is None and not key_stored:
        raise DeployError(
            "First deployment: the Places API key is required (the collector cannot run without it)."
            if deployed is None
            else "No Places API key was ever stored in the stack's secret: give it (prompt, --api-key-file)."
        )
    # The schedule stays off until the key is in the secret (a run without it would only fail).
    schedule = "ENABLED" if key_stored else "DISABLED"
    echo(f"Deploying {STACK_NAME} to account {identity.account}, region {region} ...")

    env = {
        **os.environ,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "CDK_DEFAULT_ACCOUNT": identity.account,
        "CDK_DEFAULT_REGION": region,
        "PIPELINE__NOTIFICATIONS__EMAIL": email,
        "PATH": os.pathsep.join([str(Path(node).parent), os.environ.get("PATH", "")]),
    }
    if build_artifacts:
        echo("Building the Lambda artifacts (make package) ...")
        build = [sys.executable, "-m", "restaurant_pipeline.artifacts"]
        _run(run, build, env, "Building the Lambda artifacts failed (see above).")
    assembly = assembly_dir or REPO_ROOT / "cdk.out"
    echo(f"Synthesizing the stack into {assembly} ...")
    _run(run, synth_command(), {**env, "CDK_OUTDIR": str(assembly)}, "Synthesizing the stack failed (see above).")
    template = json.loads((assembly / f"{STACK_NAME}.template.json").read_text(encoding="utf-8"))
    npx = npx_command(node)
    check_bootstrap(cloudformation, template, npx, identity, run, env, echo)
    _cdk_deploy(run, npx, env, schedule, assembly)
    outputs = stack_outputs(cloudformation, STACK_NAME)
    if api_key is not None:
        store_api_key(secretsmanager, outputs[OUTPUT_SECRET], api_key)
        echo("Places API key stored in Secrets Manager.")
    if schedule == "DISABLED":
        echo("Enabling the daily schedule now that the key is stored ...")
        _cdk_deploy(run, npx, env, "ENABLED", assembly)
    for line in next_steps(outputs, email, region, (deployed or {}).get(OUTPUT_EMAIL)):
        echo(line)
    return outputs


def check_bootstrap(
    cloudformation_client: Any,
    template: Mapping[str, Any],
    npx: Sequence[str],
    identity: Identity,
    run: Runner,
    env: Mapping[str, str],
    echo: Echo,
) -> None:
    """Bootstrap a new environment; stop, printing the command that upgrades it, when CDKToolkit is older than the
    template needs (its CheckBootstrapVersion rule would make CloudFormation refuse the deployment)."""
    command = bootstrap_command(npx, identity.account, identity.region)
    current = bootstrap_version(cloudformation_client)
    if current is None:
        echo(f"Bootstrapping CDK in aws://{identity.account}/{identity.region} (once per account and region) ...")
        _run(
            run, command, env, "CDK bootstrap failed: your credentials need permission to create the CDKToolkit stack."
        )
        return
    required = required_bootstrap_version(template)
    if required is not None and current < required:
        printable = " ".join(["npx", *command[command.index("--yes") :]])
        raise DeployError(
            f"The CDK bootstrap stack (CDKToolkit) in aws://{identity.account}/{identity.region} is version {current}; "
            f"this stack needs version {required} or later. Upgrade it in place (its bucket and roles are kept), "
            f"then deploy again:\n  {printable}"
        )


def _cdk_deploy(run: Runner, npx: Sequence[str], env: Mapping[str, str], schedule: str, assembly: Path) -> None:
    _run(
        run,
        cdk_command(
            npx,
            "deploy",
            assembly,
            STACK_NAME,
            "--require-approval",
            "never",
            "--parameters",
            f"{STACK_NAME}:{SCHEDULE_STATE_PARAMETER}={schedule}",
        ),
        env,
        "cdk deploy failed (CloudFormation's reason is printed above; "
        "`aws cloudformation describe-stack-events --stack-name restaurant-pipeline` has the details).",
    )


def api_key_stored(secretsmanager_client: Any, secret_arn: str) -> bool:
    """Whether the stack's secret holds a value (it is created empty; `deploy` puts the key in it). DescribeSecret
    lists the versions with their staging labels, never the value."""
    from botocore.exceptions import ClientError

    try:
        secret = secretsmanager_client.describe_secret(SecretId=secret_arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DeployError(
            f"Reading the API key secret {secret_arn} failed ({code}); your credentials need "
            "secretsmanager:DescribeSecret."
        ) from None
    return any("AWSCURRENT" in stages for stages in secret.get("VersionIdsToStages", {}).values())


def store_api_key(secretsmanager_client: Any, secret_arn: str, api_key: str) -> None:
    from botocore.exceptions import ClientError

    try:
        secretsmanager_client.put_secret_value(SecretId=secret_arn, SecretString=api_key.strip())
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DeployError(
            f"Storing the API key in {secret_arn} failed ({code}). Retry `restaurant-pipeline deploy`; "
            "your credentials need secretsmanager:PutSecretValue."
        ) from None


def next_steps(outputs: Mapping[str, str], email: str, region: str, previous_email: str | None = None) -> list[str]:
    lines = ["", f"Deployed. Bucket: {outputs.get(OUTPUT_BUCKET)}  Bus: {outputs.get(OUTPUT_BUS)}", "Next:"]
    if email and email == previous_email:
        lines.append(f"  1. Emails still go to {email} (confirm the subscription AWS sent, if not done yet).")
    elif email:
        lines.append(
            f"  1. Confirm the subscription: AWS sent 'AWS Notification - Subscription Confirmation' to {email}."
        )
    else:
        lines.append(
            "  1. No email subscribed: rerun `restaurant-pipeline deploy --email you@example.com` to get mails."
        )
    lines.append("  2. Trigger a first run now: restaurant-pipeline run --aws --wait")
    lines.append(f"  3. Watch it: restaurant-pipeline logs collector --aws --follow (region {region})")
    if outputs.get(OUTPUT_DASHBOARD):
        lines.append(
            f"  Dashboard: https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{outputs[OUTPUT_DASHBOARD]}"
        )
    return lines


# Emptying a bucket and deleting it can race with S3's server access-log deliveries, which are best effort and may
# arrive hours after the request they log (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html,
# "Best-effort server log delivery"): the log bucket refills after it was emptied. So: retry, then say what is left.
BUCKET_DELETE_ATTEMPTS = 5
BUCKET_RETRY_SECONDS = 30.0


@dataclass
class DestroySummary:
    deleted: list[tuple[str, int]] = field(default_factory=list)  # bucket, object versions deleted
    kept: list[str] = field(default_factory=list)  # kept on purpose (no --delete-data)
    remaining: list[tuple[str, str]] = field(default_factory=list)  # bucket, why it is still there
    refilled: list[str] = field(default_factory=list)  # of those, the buckets late access logs kept refilling

    def lines(self) -> list[str]:
        lines = [f"Deleted s3://{bucket} ({count} object versions)." for bucket, count in self.deleted]
        if self.kept:
            lines.append(f"Kept (with your data): {', '.join(f's3://{b}' for b in self.kept)}.")
            lines.append(f"Delete them later with `{_delete_buckets_command(self.kept)}`.")
        for bucket, reason in self.remaining:
            lines.append(f"Still there: s3://{bucket}: {reason}")
        if self.remaining:
            later = _delete_buckets_command([bucket for bucket, _ in self.remaining])
            if self.refilled:
                lines.append(f"Delete what is left later (late deliveries stop within hours) with `{later}`.")
            else:
                lines.append(f"Once that is fixed, delete what is left with `{later}`.")
        return lines


def _delete_buckets_command(buckets: Sequence[str]) -> str:
    return "restaurant-pipeline destroy --delete-data " + " ".join(f"--bucket {bucket}" for bucket in buckets)


def destroy(
    keep_data: bool = True,
    *,
    buckets: Sequence[str] = (),
    config: PipelineConfig | None = None,
    session: Any | None = None,
    echo: Echo = print,
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DestroySummary:
    """Delete the stack. The data bucket and its access logs stay unless keep_data is False.

    buckets: delete these (kept by an earlier destroy) instead of the stack's; only with keep_data False.
    An AWS error stops it as a DeployError of one line (aws_failure), or, for a bucket, becomes a line of the
    summary's `remaining`; never a traceback.
    """
    try:
        config = config or load_config()
    except ConfigError as exc:
        raise DeployError(str(exc)) from None
    region = _region(config)
    aws = _session(region, session)
    check_aws_credentials(aws.client("sts"), region)
    if buckets and keep_data:
        raise DeployError("Naming buckets means deleting them: add --delete-data.")
    if not buckets:
        buckets = _delete_stack(aws.client("cloudformation"), region, echo, wait)
    if keep_data:
        summary = DestroySummary(kept=list(buckets))
    else:
        summary = delete_buckets(aws.client("s3"), buckets, echo=echo, sleep=sleep)
    for line in summary.lines():
        echo(line)
    return summary


def _delete_stack(cloudformation: Any, region: str, echo: Echo, wait: bool) -> list[str]:
    """Delete the stack; return the buckets it keeps (data first, then its access logs). An AWS error is a
    DeployError of one line (aws_failure)."""
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    where = f"stack {STACK_NAME} in {region}"
    try:
        outputs = stack_outputs(cloudformation, STACK_NAME)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(aws_failure(exc, f"Reading {where}", "cloudformation:DescribeStacks")) from None
    echo(f"Deleting {where} ...")
    try:
        cloudformation.delete_stack(StackName=STACK_NAME)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(aws_failure(exc, f"Deleting {where}", "cloudformation:DeleteStack")) from None
    if wait:
        try:
            cloudformation.get_waiter("stack_delete_complete").wait(
                StackName=STACK_NAME, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
            )
        except WaiterError as exc:
            last: Any = exc.last_response or {}
            if last.get("Error"):  # the waiter's DescribeStacks was refused (permission, credentials, throttling)
                refused = ClientError(last, "DescribeStacks")
                raise DeployError(
                    aws_failure(refused, f"Waiting for the deletion of {where}", "cloudformation:DescribeStacks")
                ) from None
            status = (last.get("Stacks") or [{}])[0].get("StackStatus", "timeout")
            raise DeployError(
                f"The stack was not deleted ({status}): `aws cloudformation "
                "describe-stack-events --stack-name restaurant-pipeline` names the resource that failed; fix it, "
                "then run destroy again."
            ) from None
        except (ClientError, BotoCoreError) as exc:
            raise DeployError(
                aws_failure(exc, f"Waiting for the deletion of {where}", "cloudformation:DescribeStacks")
            ) from None
    echo("Stack deleted.")
    return [outputs[key] for key in (OUTPUT_BUCKET, OUTPUT_ACCESS_LOGS_BUCKET) if outputs.get(key)]


def delete_buckets(
    s3_client: Any,
    buckets: Sequence[str],
    *,
    echo: Echo = print,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = BUCKET_DELETE_ATTEMPTS,
    retry_seconds: float = BUCKET_RETRY_SECONDS,
) -> DestroySummary:
    """Empty (every version) and delete each bucket, in order; a bucket that refills is emptied again, up to
    `attempts` times, then reported as remaining (never a traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError

    summary = DestroySummary()
    for bucket in buckets:
        deleted = 0
        try:
            # No new access logs for it, and lift the policy that denies everyone deleting raw objects
            # (cdk/constructs/shared.py): deleting them is what was asked.
            s3_client.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
            _delete_policy(s3_client, bucket)
            for attempt in range(1, attempts + 1):
                deleted += empty_bucket(s3_client, bucket)
                try:
                    s3_client.delete_bucket(Bucket=bucket)
                except ClientError as exc:
                    if _error_code(exc) != "BucketNotEmpty" or attempt == attempts:
                        raise
                    echo(
                        f"s3://{bucket}: objects arrived after it was emptied (S3 delivers access logs late); "
                        f"emptying it again in {retry_seconds:.0f} s ({attempt}/{attempts - 1}) ..."
                    )
                    sleep(retry_seconds)
                    continue
                summary.deleted.append((bucket, deleted))
                break
        except ClientError as exc:
            if _error_code(exc) == "BucketNotEmpty":
                why = f"objects kept arriving after {attempts} attempts (late S3 access-log deliveries)"
                summary.refilled.append(bucket)
            else:
                why = aws_failure(exc, "Emptying and deleting it", again="run the command below").rstrip(".")
            summary.remaining.append((bucket, f"{why}; {deleted} object versions deleted so far."))
        except BotoCoreError as exc:
            why = aws_failure(exc, "Emptying and deleting it", again="run the command below").rstrip(".")
            summary.remaining.append((bucket, f"{why}; {deleted} object versions deleted so far."))
        except DeployError as exc:
            summary.remaining.append((bucket, f"{exc} {deleted} object versions deleted so far."))
    return summary


def _delete_policy(s3_client: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3_client.delete_bucket_policy(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucketPolicy":
            raise


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


def empty_bucket(s3_client: Any, bucket: str) -> int:
    """Delete every object version and delete marker of a (versioned) bucket; return how many."""
    deleted = 0
    paginator = s3_client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
        ]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = s3_client.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise DeployError(
                    f"Could not delete {len(errors)} object(s) in {bucket} (first: {first.get('Key')}: "
                    f"{first.get('Code')}). Check your permissions, then rerun destroy --delete-data."
                )
            deleted += len(chunk)
    return deleted


def _run(run: Runner, command: Sequence[str], env: Mapping[str, str], failure: str) -> None:
    result = run(list(command), cwd=str(REPO_ROOT), env=dict(env), check=False)
    if result.returncode != 0:
        raise DeployError(f"{failure} (exit code {result.returncode})")
