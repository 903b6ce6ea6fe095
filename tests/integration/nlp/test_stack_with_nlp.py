"""The CDK stack with [nlp] enabled: the enriched reviews Glue table and Comprehend for the transformer only.
(The default stack, NLP off, is pinned by tests/infrastructure: one Glue table, no Comprehend.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.records import ENRICHED_COLUMNS
from contracts.records import ENRICHED_TABLE_NAME as TABLE_NAME
from restaurant_pipeline.model.config import load_config
from restaurant_pipeline.node import ensure_node
from services.common.names import ENRICHED_PREFIX

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[3]


def synthesize(outdir: Path, nlp: bool) -> dict[str, Any]:
    ensure_node()  # jsii starts node when aws_cdk loads
    from cdk.app import build_stack, code_provider, create_app

    config = load_config(REPO_ROOT / "pipeline.toml", environ={"PIPELINE__NLP__ENABLED": str(nlp).lower()})
    app: Any = create_app(outdir)
    build_stack(app, config, code_provider("placeholder", outdir / ".placeholder"), construct_id="p", stack_name="p")
    app.synth()
    return dict(json.loads((outdir / "p.template.json").read_text(encoding="utf-8")))


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                found.append((logical_id, statement))
    return found


def test_enabled_nlp_adds_the_enriched_table_and_comprehend_to_the_transformer_role_only(tmp_path: Path):
    template = synthesize(tmp_path, nlp=True)

    tables = [r["Properties"]["TableInput"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Table"]
    [enriched] = [t for t in tables if t["Name"] == TABLE_NAME]
    assert [(c["Name"], c["Type"]) for c in enriched["StorageDescriptor"]["Columns"]] == list(ENRICHED_COLUMNS)
    assert enriched["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert ENRICHED_PREFIX + "dt=${dt}/" in json.dumps(enriched["Parameters"]["storage.location.template"])
    comprehend = [(lid, s) for lid, s in statements(template) if any("comprehend" in a for a in s["Action"])]
    assert len(comprehend) == 1
    logical_id, statement = comprehend[0]
    assert "Transformer" in logical_id
    assert sorted(statement["Action"]) == ["comprehend:BatchDetectKeyPhrases", "comprehend:BatchDetectSentiment"]
    # the stack is in eu-west-3, where Comprehend is not offered: the grant is for the region the stage calls
    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-2"}}
    environment = [
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "NLP_ENABLED" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert [(e["NLP_ENABLED"], e["COMPREHEND_REGION"]) for e in environment] == [("true", "eu-west-2")]


def test_disabled_nlp_has_neither_the_table_nor_comprehend(tmp_path: Path):
    template = synthesize(tmp_path, nlp=False)

    names = [
        r["Properties"]["TableInput"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Table"
    ]
    assert TABLE_NAME not in names
    assert not [s for _, s in statements(template) if any("comprehend" in a for a in s["Action"])]
