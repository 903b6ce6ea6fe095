"""The walk of docs/architecture.md, "Add a service", performed on a scratch copy of the repository.

A no-op fourth service `echo` is added the way the page says: its package (handler, settings, spec) and its contract
events (Echo Requested in, Echo Replied out), plus the schema files `python -m contracts.generate` writes. Nothing
else is touched, and in the copy the topology routes it, its function gets the environment of its settings model, the
alarms watch its dead-letter queue with its own cause, the synthesized CDK template holds its function, queues, rule
and alarm, the bus accepts Echo Replied only from its role, and its artifact is specified.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.scratch import changed, copy_checkout, digests, run_in_copy

ECHO_SOURCE = "restaurant-pipeline.echo"

# -- what the walk writes ----------------------------------------------------------------------------------------------
CONTRACT = f'''

# -- echo (tests/infrastructure/test_walk_new_service.py) --
class EchoRequested(Event):
    """Command: answer with an Echo Replied."""

    DETAIL_TYPE: ClassVar[str] = "Echo Requested"
    SOURCES: ClassVar[tuple[str, ...]] = (CLI_SOURCE,)

    text: str


class EchoReplied(Event):
    """Fact: the echo service answered."""

    DETAIL_TYPE: ClassVar[str] = "Echo Replied"
    SOURCES: ClassVar[tuple[str, ...]] = ("{ECHO_SOURCE}",)

    text: str


BUS_EVENTS = (*BUS_EVENTS, EchoRequested, EchoReplied)
'''

PACKAGE = {
    "services/echo/__init__.py": "",
    "services/echo/handler.py": '''"""A no-op service: every message succeeds."""


def lambda_handler(event, context):
    return {"batchItemFailures": []}
''',
    "services/echo/settings.py": '''"""The echo's environment."""

from pydantic import Field

from services.common.settings import ServiceSettings


class EchoSettings(ServiceSettings):
    reply_prefix: str = Field(default="echo", alias="ECHO_REPLY_PREFIX")
''',
    "services/echo/spec.py": '''"""The echo service, as the infrastructure builds it."""

from contracts.events import EchoReplied, EchoRequested
from services.common.spec import DashboardMetric, ServiceSpec
from services.echo.settings import EchoSettings

SPEC = ServiceSpec(
    name="echo",
    order=40,
    handler="services.echo.handler:lambda_handler",
    description="answers every Echo Requested",
    consumes=(EchoRequested,),
    publishes=(EchoReplied,),
    settings_model=EchoSettings,
    settings=lambda config, topology, resources: {"reply_prefix": "echo: "},
    dlq_cause="an echo request failed on every receive (this service cannot fail: look for a broken deployment).",
    timeout_seconds=lambda config: 30,
    memory_mb=128,
    batch_size=1,
    batching_window_seconds=0,
    capabilities=("publish_events",),
    metrics=(DashboardMetric("EchoesSent", "echoes sent"),),
)
''',
}
SCHEMAS = {"contracts/schemas/echo-requested.v1.json", "contracts/schemas/echo-replied.v1.json"}

# -- what the copy is asked, in a process of its own -------------------------------------------------------------------
PROBE = """
import json, sys
from pathlib import Path

from restaurant_pipeline.model.alarms import pipeline_alarms
from restaurant_pipeline.artifacts.specs import ARTIFACTS
from restaurant_pipeline.model.config import load_config
from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment
from tests.support.synth import synthesize

config = load_config(Path("pipeline.toml"), environ={})
topology = build_topology(config, "bucket")
resources = StackResources(bucket="bucket", bus_name="bus", topic_arn="arn:topic", idempotency_table="idem",
                           ledger_table="ledger")
template = synthesize(Path(sys.argv[1]), {"walk": config})["walk"]
print(json.dumps({
    "routes": [route.service for route in topology.routes],
    "echo_route": {"pattern": topology.route("echo").event_pattern, "bus": topology.route("echo").bus},
    "environment": service_environment(config, topology, resources)["echo"],
    "alarms": {alarm.name: alarm.description for alarm in pipeline_alarms(topology).all},
    "artifact": [list(ARTIFACTS["echo"].distributions), list(ARTIFACTS["echo"].packages)],
    "template": template,
}))
"""


def _walk(copy: Path) -> None:
    """The walk: the package, the contract, the regenerated schemas."""
    for name, text in PACKAGE.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(text, encoding="utf-8")
    with (copy / "contracts/events.py").open("a", encoding="utf-8") as events:
        events.write(CONTRACT)
    run_in_copy(copy, sys.executable, "-m", "contracts.generate")


def _resources(template: dict[str, Any], kind: str, **properties: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (key, resource)
        for key, resource in template["Resources"].items()
        if resource["Type"] == kind
        and all(resource["Properties"].get(name) == value for name, value in properties.items())
    ]


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], dict[str, Any], Path]:
    copy = tmp_path_factory.mktemp("walk") / "repo"
    copy_checkout(copy)
    before = digests(copy)
    _walk(copy)
    touched = changed(before, digests(copy))
    probe = copy.parent / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    answer = run_in_copy(copy, sys.executable, str(probe), str(copy.parent / "cdk.out"))
    return touched, json.loads(answer.strip().splitlines()[-1]), copy


def test_a_new_service_is_its_package_and_its_contract(walked):
    touched, _, _ = walked
    package, schemas = touched - SCHEMAS, touched & SCHEMAS
    print("walk touched:", *sorted(package), "generated:", *sorted(schemas), sep="\n  ")
    assert package == {*PACKAGE, "contracts/events.py"}
    assert schemas == SCHEMAS


def test_the_new_service_is_routed_configured_and_alarmed(walked):
    _, answer, _ = walked
    assert answer["routes"] == ["collector", "transformer", "notifier", "echo"]
    assert answer["echo_route"] == {
        "pattern": {"source": ["restaurant-pipeline.cli"], "detail-type": ["Echo Requested"]},
        "bus": "custom",
    }
    environment = answer["environment"]
    assert environment["ECHO_REPLY_PREFIX"] == "echo: "
    assert environment["POWERTOOLS_SERVICE_NAME"] == "echo" and environment["BUCKET_NAME"] == "bucket"
    dlq_alarm = answer["alarms"]["restaurant-pipeline-echo-dlq-not-empty"]
    assert "this service cannot fail" in dlq_alarm
    assert "restaurant-pipeline-echo-errors" in answer["alarms"]
    distributions, packages = answer["artifact"]
    assert "services/echo" in packages and "services/collector" not in packages
    assert "pydantic" in distributions


def test_the_template_deploys_the_new_service_and_its_bus_source_only_from_its_role(walked):
    _, answer, _ = walked
    template = answer["template"]
    [(_, function)] = _resources(template, "AWS::Lambda::Function", FunctionName="restaurant-pipeline-echo")
    assert function["Properties"]["Handler"] == "services.echo.handler.lambda_handler"
    assert function["Properties"]["MemorySize"] == 128
    assert function["Properties"]["Environment"]["Variables"]["ECHO_REPLY_PREFIX"] == "echo: "
    for queue in ("restaurant-pipeline-echo", "restaurant-pipeline-echo-dlq", "restaurant-pipeline-echo-rule-dlq"):
        assert len(_resources(template, "AWS::SQS::Queue", QueueName=queue)) == 1, queue
    [(_, rule)] = _resources(template, "AWS::Events::Rule", Name="restaurant-pipeline-to-echo")
    assert rule["Properties"]["EventPattern"]["detail-type"] == ["Echo Requested"]
    assert len(_resources(template, "AWS::CloudWatch::Alarm", AlarmName="restaurant-pipeline-echo-dlq-not-empty")) == 1
    role = function["Properties"]["Role"]
    [statement] = [
        resource["Properties"]["Statement"]
        for _, resource in _resources(template, "AWS::Events::EventBusPolicy")
        if resource["Properties"]["Statement"]["Condition"]["ForAnyValue:StringEquals"]["events:source"]
        == [ECHO_SOURCE]
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == role


def test_the_new_service_is_in_the_wheel(walked, tmp_path):
    """setup.py finds the packages: the new one ships in `pip install .` with no list to edit."""
    _, _, copy = walked
    out = tmp_path / "wheel"
    built = subprocess.run(
        [str(Path(sys.executable).parent / "uv"), "build", "--wheel", "--out-dir", str(out), str(copy)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    [wheel] = out.glob("restaurant_pipeline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {name for name in PACKAGE if name.endswith(".py")} <= names
