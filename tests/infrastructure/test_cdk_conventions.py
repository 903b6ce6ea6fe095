"""CDK conventions: a new app's feature flags, no placeholder deployed by accident, one pinned CLI, clean cfn-lint."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import aws_cdk
import pytest

from cdk import app as cdk_app
from restaurant_pipeline.artifacts.build import locked_versions
from restaurant_pipeline.deploy import CDK_CLI, CDK_CLI_ASSEMBLY_SCHEMA_MAJOR, CDK_CLI_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]


def _locked(name: str) -> str:
    return locked_versions((REPO_ROOT / "requirements.lock").read_text(encoding="utf-8"))[name]


def _recommended_flags() -> dict[str, object]:
    """The flags `cdk init` writes: aws-cdk-lib's recommended-feature-flags.json (the CLI copies it into its init
    templates at build time), read from the JavaScript package inside the installed Python wheel."""
    version = _locked("aws-cdk-lib")
    bundle = Path(aws_cdk.__file__).parent / "_jsii" / f"aws-cdk-lib@{version}.jsii.tgz"
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.load(member))


def test_cdk_json_has_the_feature_flags_a_new_app_gets_for_the_locked_aws_cdk_lib():
    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    recommended = _recommended_flags()
    assert len(recommended) > 50
    missing = {flag: value for flag, value in recommended.items() if context.get(flag) != value}
    assert missing == {}


def test_synthesis_outside_the_cdk_cli_uses_the_flags_of_cdk_json(tmp_path):
    app = cdk_app.create_app(tmp_path)
    for flag, value in _recommended_flags().items():
        assert app.node.try_get_context(flag) == value, flag


def test_the_lambda_code_of_deploy_needs_the_built_zips_and_names_make_package(tmp_path, monkeypatch, capsys):
    """cdk.json gives `auto` (plain `cdk synth` works: tests/infrastructure/test_cdk_cli_synth.py); `deploy` asks for
    `package`, which never falls back to placeholders."""
    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    assert context["lambda_code"] == "auto"
    monkeypatch.setattr("restaurant_pipeline.artifacts.specs.BUILD_DIR", tmp_path / "no-zips-here")
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "cdk.out"))
    assert cdk_app.main(["-c", "lambda_code=package"]) == 2
    error = capsys.readouterr().err
    assert "Lambda artifacts missing" in error and "make package" in error
    assert not (tmp_path / "cdk.out" / "restaurant-pipeline.template.json").exists()


def test_synthesis_stops_when_the_environment_names_another_region_than_pipeline_toml(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "cdk.out"))
    monkeypatch.delenv("PIPELINE__AWS__REGION", raising=False)
    assert cdk_app.main(["-c", "lambda_code=placeholder"]) == 2
    assert "AWS_REGION=us-east-1, but the stack's region is eu-west-3" in capsys.readouterr().err


def test_placeholder_code_is_there_only_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr("restaurant_pipeline.artifacts.specs.BUILD_DIR", tmp_path / "no-zips-here")
    with pytest.raises(cdk_app.ArtifactsMissingError, match="make package"):
        cdk_app.code_provider(cdk_app.DEFAULT_CODE_MODE, tmp_path / "placeholder")
    cdk_app.code_provider("placeholder", tmp_path / "placeholder")
    assert (tmp_path / "placeholder" / "services" / "collector" / "handler.py").is_file()


def test_the_cdk_cli_is_one_exact_version_that_reads_what_aws_cdk_lib_writes(synthesized):
    assert re.fullmatch(r"aws-cdk@\d+\.\d+\.\d+", CDK_CLI) and CDK_CLI.endswith(CDK_CLI_VERSION)
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text(encoding="utf-8"))
    assert int(manifest["version"].split(".")[0]) <= CDK_CLI_ASSEMBLY_SCHEMA_MAJOR
    docs = (REPO_ROOT / "docs" / "aws.md").read_text(encoding="utf-8")
    assert CDK_CLI in docs
    assert re.findall(r"aws-cdk@(?!\d+\.\d+\.\d+)", docs) == [], "docs/aws.md names an unpinned CDK CLI"


def test_cfn_lint_reports_neither_errors_nor_warnings(synthesized):
    from cfnlint.api import lint_all

    for stack in (synthesized.default, synthesized.changed):
        matches = lint_all(stack.template_path.read_text(encoding="utf-8"))
        findings = [str(match) for match in matches if match.rule.id.startswith(("E", "W"))]
        assert findings == [], "\n".join(findings)
