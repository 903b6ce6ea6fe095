"""Synthesize the CDK app once per session: no Docker, no network (placeholder Lambda code, no bundling).

Two stacks in one app, one jsii start-up: `default` from the repository's pipeline.toml, and `changed` from a
pipeline.toml with another schedule, an email, other timeouts and the extras switched off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.model.config import PipelineConfig, load_config
from restaurant_pipeline.node import ensure_node
from tests.support.synth import SynthesisFailed, synthesize


def pytest_configure(config: pytest.Config) -> None:
    """Node on PATH before the test modules here import aws_cdk (jsii starts node when it loads)."""
    ensure_node()


REPO_ROOT = Path(__file__).resolve().parents[2]

CHANGED_TOML = """
[collection]
cities = ["Lyon", { name = "Marseille", max_restaurants = 40 }]

[schedule]
expression = "rate(12 hours)"

[notifications]
email = "data-team@example.com"

[retries]
max_receive_count = 5

[timeouts]
collector = 120
transformer = 900
notifier = 30

[aws]
bus_archive_retention_days = 0
athena_bytes_scanned_cutoff_mb = 200
dashboard = false
tracing = false
"""


@dataclass
class Synthesized:
    config: PipelineConfig
    template: dict[str, Any]
    assertions: Any  # aws_cdk.assertions.Template
    template_path: Path

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.template["Resources"].items() if value["Type"] == kind}

    def one(self, kind: str, **properties: Any) -> dict[str, Any]:
        matches = [
            resource
            for resource in self.resources(kind).values()
            if all(resource["Properties"].get(key) == value for key, value in properties.items())
        ]
        assert len(matches) == 1, f"expected one {kind} with {properties}, found {len(matches)}"
        return matches[0]


@dataclass
class SynthesizedApp:
    outdir: Path
    default: Synthesized
    changed: Synthesized
    validation_report: dict[str, Any]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    from aws_cdk.assertions import Template

    outdir = tmp_path_factory.mktemp("cdk.out")
    changed_file = tmp_path_factory.mktemp("changed") / "pipeline.toml"
    changed_file.write_text(CHANGED_TOML, encoding="utf-8")
    configs = {
        "default": load_config(REPO_ROOT / "pipeline.toml", environ={}),
        "changed": load_config(changed_file, environ={}),
    }
    try:
        templates = synthesize(outdir, configs)
    except SynthesisFailed as exc:
        pytest.fail(str(exc))

    def load(name: str) -> Synthesized:
        path = outdir / f"pipeline-{name}.template.json"
        return Synthesized(configs[name], templates[name], Template.from_json(templates[name]), path)

    return SynthesizedApp(
        outdir=outdir,
        default=load("default"),
        changed=load("changed"),
        validation_report=json.loads((outdir / "validation-report.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="session")
def default_stack(synthesized: SynthesizedApp) -> Synthesized:
    return synthesized.default


@pytest.fixture(scope="session")
def changed_stack(synthesized: SynthesizedApp) -> Synthesized:
    return synthesized.changed
