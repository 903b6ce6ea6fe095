"""IAM sufficiency, proved rather than read (docs/iam.md): every AWS call each function makes, evaluated against the
role policy and the resource policies of the synthesized CloudFormation template.

How the calls are gathered (restaurant_pipeline/local/call_recorder.py records each one: service, operation, the
parameters that name its resource, never content):
- the deployed artifacts in the Lambda sandbox (`local up --artifacts`, recorder preloaded like an internal
  extension), driven through a run to its email, a collection failing on an invalid key, and a file dropped under
  raw/ whose notification is parked in the DLQ then replayed; then a second stack with `[nlp] enabled`, its
  functions in-process workers (which install the recorder themselves);
- in this process, with the recorder installed: `dbt build --target athena` twice (first, then incremental)
  against moto's Athena and Glue, the Glue effect of Athena's DDL stood in for (tests/support/athena_ddl.py), so
  dbt-athena's and pyathena's own clients make every call they make on AWS (GetTableVersions, DeleteTableVersion,
  DeleteTable, the S3 listings of table data ...); the Glue requests Athena makes with the transformer's permissions
  for each DDL, from Athena's documentation; the NLP review models compiling; the transformer's Athena warehouse
  querying; and the collector reading its key from Secrets Manager (the local stack passes the key in the
  environment instead).
What AWS itself does with the roles (the event source mapping, logs, traces) and the deliveries under resource
policies (rules to queues, alarms to the encrypted topic, the schedule to the bus) are evaluated from the template.

A call the deployed policies would deny fails the test with the call, the request, and the statement missing.
EXPECTED_DENIALS lists denials known and accepted, each with its reason: none today (the four the proof first found
were fixed by issue 14). An entry that matches nothing fails too, so the table cannot go stale.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from restaurant_pipeline.local import call_recorder, control
from restaurant_pipeline.model.config import load_config
from services.common.names import ENRICHED_PREFIX
from tests.e2e.drills import (
    EventCapture,
    PlacesControl,
    cli,
    delivered_emails,
    park_a_notification,
    restore_the_topic,
)
from tests.support.athena_ddl import AthenaDdlOnMoto
from tests.support.iam import proof
from tests.support.iam.calls import Call
from tests.support.iam.proof import Expected
from tests.support.iam.template import ResolvedTemplate
from tests.support.local_stack import REPO_ROOT, RunningStack, start_stack, state_folder
from tests.support.synth import synthesize

pytestmark = pytest.mark.e2e

SERVICES = ("collector", "transformer", "notifier")
NLP_ENV = {"PIPELINE__NLP__ENABLED": "true", "PIPELINE__PLACES__LANGUAGE": "en"}


def function(service: str) -> str:
    return f"restaurant-pipeline-{service}"


# Denials the current template makes, each fixed by another item of issue 14 on another branch. Keep the test
# strict: when that branch is merged, empty this table (an entry that no longer matches a denial fails the test).
EXPECTED_DENIALS: tuple[Expected, ...] = ()


# -- the calls ----------------------------------------------------------------------------------------------------


def recorded_calls(stack: RunningStack) -> list[Call]:
    calls = []
    for service in SERVICES:
        log = stack.state_dir / "logs" / f"{service}.log"
        with log.open(encoding="utf-8", errors="replace") as lines:
            calls += [Call.from_record(function(service), r) for r in call_recorder.records_in(lines)]
    return calls


def run_id_of(result: Any) -> str:
    return result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]


def drive_default_scenarios(stack: RunningStack) -> None:
    """A run to its email, a failing collection, a file dropped under raw/ whose notification is parked in the DLQ
    (the topic is gone) then replayed: each path's calls, each checked done."""
    capture = EventCapture(stack)
    result = cli(stack, "run", "--city", "Paris", "--max-restaurants", "20", "--wait", "--timeout", "240")
    [email] = delivered_emails(stack, run_id_of(result))
    assert email.subject.startswith("[restaurant-pipeline] OK Paris")

    places = PlacesControl(stack.info.places_api_base_url)
    places.settings(invalid_key=True)
    failed = cli(stack, "run", "--city", "Lyon", "--max-restaurants", "20")
    assert delivered_emails(stack, run_id_of(failed), timeout=120)
    places.settings(invalid_key=False)

    run_id = park_a_notification(stack, capture, "iam")
    restore_the_topic(stack)
    assert "Moved 1 message(s)" in cli(stack, "dlq", "replay", "notifier").stdout
    assert len(delivered_emails(stack, run_id, timeout=90)) == 1


def local_environment(stack: RunningStack) -> dict[str, str]:
    """The resource names the local functions get, under the variable names the template's functions get."""
    info = stack.info
    return {
        "BUCKET_NAME": info.bucket,
        "EVENT_BUS_NAME": info.event_bus,
        "IDEMPOTENCY_TABLE_NAME": info.idempotency_table,
        "LEDGER_TABLE_NAME": info.ledger_table,
        "TOPIC_ARN": info.topic_arn,
    }


def in_process_calls(moto_endpoint: str, bucket: str, nlp: bool) -> tuple[list[Call], dict[str, str]]:
    """The athena target compiling, the Athena warehouse querying, the collector reading its secret: recorded in
    this process against a freshly reset moto, as the transformer and the collector make them on AWS."""
    from contracts.records import ENRICHED_COLUMNS, RAW_COLUMNS, TABLE_NAME
    from contracts.records import ENRICHED_TABLE_NAME as ENRICHED_TABLE
    from services.collector.adapters.secrets import PlacesApiKey
    from services.collector.settings import CollectorSettings
    from services.common.names import VALIDATED_PREFIX
    from services.transformer.adapters.warehouse import AthenaWarehouse
    from tests.support.athena import DATABASE, athena_builder

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=10)
    records: dict[str, list[dict[str, Any]]] = {"transformer": [], "collector": []}
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory(prefix="restaurant-pipeline-iam-") as state:
        for name, value in {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_DEFAULT_REGION": "eu-west-3",
            "AWS_REGION": "eu-west-3",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(name, value)
        tables = [(TABLE_NAME, RAW_COLUMNS, VALIDATED_PREFIX)]
        if nlp:
            tables.append((ENRICHED_TABLE, ENRICHED_COLUMNS, ENRICHED_PREFIX))
        builder = athena_builder(tables, Path(state), nlp=nlp, bucket=bucket, workgroup="restaurant-pipeline")
        secret = boto3.client("secretsmanager").create_secret(Name="places-key", SecretString="not-a-real-key")["ARN"]
        variables = json.dumps({"dts": ["2026-01-02"], "objects": [f"{VALIDATED_PREFIX}dt=2026-01-02/a.jsonl.gz"]})
        with AthenaDdlOnMoto(moto_endpoint, on_athena_glue=records["transformer"].append):
            call_recorder.install(records["transformer"].append)
            try:
                if nlp:  # the review models compile against the catalog (their build makes the same kinds of calls)
                    result = builder.invoke(["compile", "--vars", variables, "--exclude", "test_type:unit"])
                    assert result.success, result.exception
                else:  # a first build, then an incremental one: views, Iceberg tables, tests kept as views
                    for _ in range(2):
                        build = ["build", "--threads", "1", "--vars", variables, "--exclude", "test_type:unit"]
                        result = builder.invoke(build)
                        assert result.success, result.exception
                warehouse = AthenaWarehouse(
                    boto3.client("athena"),
                    database=DATABASE,
                    workgroup="restaurant-pipeline",
                    results_s3=f"s3://{bucket}/athena-results/",
                )
                warehouse.query("select 1")
                call_recorder.install(records["collector"].append)
                settings = CollectorSettings.model_construct(
                    places_api_key_secret_arn=secret, google_places_api_key=None
                )
                assert PlacesApiKey(settings)() == "not-a-real-key"
            finally:
                call_recorder.uninstall()
    calls = [Call.from_record(function(s), r) for s, found in records.items() for r in found]
    return calls, {"PLACES_API_KEY_SECRET_ARN": secret}


# -- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The stack as `deploy` would synthesize it, from the repository's pipeline.toml, with NLP off and on."""
    configs = {
        "default": load_config(REPO_ROOT / "pipeline.toml", environ={}),
        "nlp": load_config(REPO_ROOT / "pipeline.toml", environ=NLP_ENV),
    }
    return synthesize(tmp_path_factory.mktemp("cdk.out"), configs)


@pytest.fixture(scope="module")
def proved(templates: dict[str, dict[str, Any]], moto_endpoint: str) -> Iterator[dict[str, Any]]:
    """Both stacks driven with every function recording its calls, then the in-process calls."""
    found: dict[str, Any] = {}
    saved = os.environ.get(call_recorder.RECORD_ENV)
    os.environ[call_recorder.RECORD_ENV] = "1"  # start_stack's supervisor, and so each function, inherits it
    try:
        # The default stack runs the artifacts in the sandbox (the recorder preloaded); the NLP stack runs in-process
        # workers (the worker installs the recorder): both ways of recording are exercised.
        scenarios = (("default", {}, drive_default_scenarios, True), ("nlp", NLP_ENV, drive_nlp_run, False))
        for name, extra, drive, artifacts in scenarios:
            with state_folder(f"iam-{name}") as state_dir:
                stack = start_stack(state_dir, extra_env=extra, artifacts=artifacts)
                try:
                    drive(stack)
                finally:
                    control.down(state_dir)
                found[name] = (recorded_calls(stack), local_environment(stack))
    finally:
        if saved is None:
            os.environ.pop(call_recorder.RECORD_ENV, None)
        else:
            os.environ[call_recorder.RECORD_ENV] = saved
    for name in ("default", "nlp"):
        calls, environment = found[name]
        more, secret = in_process_calls(moto_endpoint, environment["BUCKET_NAME"], nlp=name == "nlp")
        template = ResolvedTemplate(templates[name])
        for service in SERVICES:
            template.bind_environment(function(service), {**environment, **secret})
        found[name] = (calls + more, template)
    yield found


def drive_nlp_run(stack: RunningStack) -> None:
    result = cli(stack, "run", "--city", "Lyon", "--max-restaurants", "20", "--wait", "--timeout", "240")
    [email] = delivered_emails(stack, run_id_of(result))
    assert "Review sentiment:" in email.body


def all_checks(template: ResolvedTemplate, calls: list[Call]) -> dict[str, list[proof.Check]]:
    platform = [c for service in SERVICES for c in proof.platform_checks(template, function(service))]
    return {
        "recorded": proof.recorded_checks(template, calls),
        "platform": platform + proof.delivery_checks(template),
    }


def unexpected_denials(template: ResolvedTemplate, checks: list[proof.Check]) -> str:
    unexpected, _ = proof.split(proof.evaluate_checks(template, checks), EXPECTED_DENIALS)
    return proof.report("calls the deployed policies would deny", unexpected) if unexpected else ""


# -- the proof ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "nlp"])
def test_every_call_each_function_makes_is_allowed_by_its_role_and_the_resource_policies(proved, name):
    calls, template = proved[name]

    checks = proof.recorded_checks(template, calls)

    problems = unexpected_denials(template, checks)
    assert not problems, problems


@pytest.mark.parametrize("name", ["default", "nlp"])
def test_what_lambda_and_the_services_do_for_the_stack_is_allowed_too(proved, name):
    calls, template = proved[name]

    checks = all_checks(template, calls)["platform"]

    problems = unexpected_denials(template, checks)
    assert not problems, problems
    kinds = proof.summary(checks)
    assert kinds["events.amazonaws.com"] == 6  # 3 rules x (queue + target DLQ)
    assert kinds["cloudwatch.amazonaws.com"] >= 3 * 10  # every alarm: the topic and its key (2 actions)
    assert kinds["the schedule"] == 2


def test_the_recording_saw_every_function_on_each_path_it_takes(proved):
    """The proof is only as good as what was recorded: each function's expected operations are there."""
    calls, _ = proved["default"]
    seen = {(c.function.rsplit("-", 1)[1], c.service, c.operation) for c in calls}

    must = {
        ("collector", "s3", "PutObject"),
        ("collector", "events", "PutEvents"),
        ("collector", "dynamodb", "PutItem"),
        ("collector", "secretsmanager", "GetSecretValue"),
        ("transformer", "s3", "GetObject"),
        ("transformer", "s3", "PutObject"),
        ("transformer", "events", "PutEvents"),
        ("transformer", "dynamodb", "UpdateItem"),
        ("transformer", "glue", "GetTables"),
        ("transformer", "glue", "GetTableVersions"),
        ("transformer", "glue", "DeleteTableVersion"),
        ("transformer", "glue", "DeleteTable"),
        ("transformer", "s3", "ListObjectsV2"),
        ("transformer", "athena", "StartQueryExecution"),
        ("transformer", "athena", "GetQueryResults"),
        ("notifier", "sns", "Publish"),
        ("notifier", "dynamodb", "Query"),
    }
    assert must <= seen, sorted(must - seen)
    nlp_calls, _ = proved["nlp"]
    enriched = [c for c in nlp_calls if c.operation == "PutObject" and c.params["Key"].startswith(ENRICHED_PREFIX)]
    assert enriched and all(c.function == function("transformer") for c in enriched)
    failed_publish = [c for c in calls if c.operation == "Publish" and c.error]
    assert failed_publish, "the DLQ scenario's failing Publish was recorded"
    assert all("SecretString" not in str(c.params) and "Message" not in c.params for c in calls)


def test_each_expected_denial_is_still_a_denial(proved):
    """EXPECTED_DENIALS cannot go stale: once the fix is merged, its entry must go."""
    findings = []
    for calls, template in proved.values():
        for checks in all_checks(template, calls).values():
            findings += proof.evaluate_checks(template, checks)

    _, stale = proof.split(findings, EXPECTED_DENIALS)

    assert not stale, "EXPECTED_DENIALS entries no denial matches any more (remove them):\n" + "\n".join(
        f"  {e.who} {e.action} {e.resource}" for e in stale
    )
