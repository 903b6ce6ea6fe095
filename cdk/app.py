"""`python -m cdk.app`: synthesize the stack `restaurant-pipeline` into cdk.out/ (or $CDK_OUTDIR).

Lambda code (context `lambda_code`, e.g. `-c lambda_code=package`):
  package      the zips `make package` built under build/lambda/ (what `restaurant-pipeline deploy` uses);
               fails with the fix when they are missing
  placeholder  a tiny stand-in per function that raises "deployed without its artifact" (tests, reviews)
  auto         package when the zips exist, else placeholder with a warning (the default, `make synth`)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import cdk  # noqa: F401  (puts node on PATH before aws_cdk starts jsii)
from cdk.outputs import STACK_NAME
from restaurant_pipeline.artifacts.specs import ARTIFACTS, artifacts_built
from restaurant_pipeline.config import PipelineConfig, load_config

CodeMode = Literal["package", "placeholder", "auto"]
CODE_MODES: tuple[str, ...] = ("package", "placeholder", "auto")

_PLACEHOLDER_HANDLER = '''"""Placeholder: this function was synthesized without its artifact."""


def lambda_handler(event, context):
    raise RuntimeError(
        "restaurant-pipeline: this function was deployed without its code. "
        "Run `make package`, then `restaurant-pipeline deploy`."
    )
'''


class ArtifactsMissingError(RuntimeError):
    pass


def write_placeholder_code(folder: Path) -> Path:
    """A minimal importable tree with the handlers' module paths, each raising a clear error."""
    (folder / "services").mkdir(parents=True, exist_ok=True)
    (folder / "services" / "__init__.py").write_text("", encoding="utf-8")
    for service in ARTIFACTS:
        package = folder / "services" / service
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
        (package / "handler.py").write_text(_PLACEHOLDER_HANDLER, encoding="utf-8")
    return folder


def code_provider(mode: str, placeholder_dir: Path) -> Callable[[str], object]:
    from aws_cdk import aws_lambda as lambda_

    if mode not in CODE_MODES:
        raise ValueError(f"lambda_code={mode!r}: use one of {', '.join(CODE_MODES)}")
    if mode == "auto":
        mode = "package" if artifacts_built() else "placeholder"
        if mode == "placeholder":
            print(
                "cdk.app: no Lambda artifacts under build/lambda/ (run `make package`): the template uses "
                "placeholder code and must not be deployed as is.",
                file=sys.stderr,
            )
    if mode == "package":
        missing = [str(spec.zip_path) for spec in ARTIFACTS.values() if not spec.zip_path.is_file()]
        if missing:
            raise ArtifactsMissingError(f"Lambda artifacts missing: {', '.join(missing)}. Run `make package` first.")
        return lambda service: lambda_.Code.from_asset(str(ARTIFACTS[service].zip_path))
    write_placeholder_code(placeholder_dir)
    return lambda service: lambda_.Code.from_asset(str(placeholder_dir))


def build_stack(
    app: object,
    config: PipelineConfig,
    code_for: Callable[[str], object],
    construct_id: str = STACK_NAME,
    stack_name: str = STACK_NAME,
):
    from aws_cdk import Environment

    from cdk.stack import RestaurantPipelineStack

    return RestaurantPipelineStack(
        app,  # type: ignore[arg-type]
        construct_id,
        stack_name=stack_name,
        description="restaurant-pipeline: Places API -> S3 -> dbt on Athena -> email (choreographed)",
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=config.aws.region),
        config=config,
        code_for=code_for,  # type: ignore[arg-type]
    )


def apply_nag(app: object) -> None:
    """cdk-nag's AwsSolutions pack as a validation plugin: synthesis fails on any unacknowledged finding."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))  # type: ignore[arg-type]


def main() -> int:
    from cdk.node import NodeMissingError, ensure_node

    try:
        ensure_node()
    except NodeMissingError as exc:
        print(f"cdk.app: {exc}", file=sys.stderr)
        return 2
    from aws_cdk import App

    # Under the CDK CLI, CDK_OUTDIR names the output folder; run directly, write ./cdk.out like the CLI.
    app = App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    apply_nag(app)
    outdir = Path(app.outdir)
    mode = str(app.node.try_get_context("lambda_code") or "auto")
    config = load_config()
    try:
        code_for = code_provider(mode, outdir / ".placeholder-lambda")
    except (ArtifactsMissingError, ValueError) as exc:
        print(f"cdk.app: {exc}", file=sys.stderr)
        return 2
    build_stack(app, config, code_for)
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
