"""Synthesize the CDK app for tests: no Docker, no network (placeholder Lambda code, no bundling), several stacks in
one app for one jsii start-up (about 15 s)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.node import ensure_node


class SynthesisFailed(RuntimeError):
    pass


def synthesize(outdir: Path, configs: Mapping[str, PipelineConfig]) -> dict[str, dict[str, Any]]:
    """One stack per config (construct id `pipeline-<name>`), with cdk.json's feature flags and cdk-nag, as in a
    deployment; each template by name."""
    ensure_node()  # jsii starts node when aws_cdk loads
    from cdk.app import build_stack, code_provider, create_app

    app: Any = create_app(outdir)
    code_for = code_provider("placeholder", outdir / ".placeholder-lambda")
    for name, config in configs.items():
        build_stack(app, config, code_for, construct_id=f"pipeline-{name}", stack_name=f"restaurant-pipeline-{name}")
    try:
        app.synth()
    except Exception as exc:  # show the validation report, not a jsii stack trace
        report = outdir / "validation-report.json"
        detail = report.read_text(encoding="utf-8") if report.exists() else ""
        raise SynthesisFailed(f"synthesis failed: {exc}\n{detail[:20000]}") from None
    return {
        name: json.loads((outdir / f"pipeline-{name}.template.json").read_text(encoding="utf-8")) for name in configs
    }
