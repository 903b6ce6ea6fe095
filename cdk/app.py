"""`python -m cdk.app [-c KEY=VALUE]...`: synthesize the stack `restaurant-pipeline` into cdk.out/ (or $CDK_OUTDIR).

The app's context (feature flags) is cdk.json's, whoever runs it: the CDK CLI passes it, and `python -m cdk.app`
and the tests read the same file (`app_context`), so every synthesis uses the flags a deployment uses.

Lambda code (context `lambda_code`, e.g. `-c lambda_code=package`):
  auto         cdk.json's default, so that `npx aws-cdk synth` works as CDK users type it, in a fresh clone too:
               package when the zips exist, else placeholder with a warning (`make synth`: a template to review)
  package      the zips `make package` built under build/lambda/ (what `restaurant-pipeline deploy` asks for);
               stops with "run `make package`" when they are missing
  placeholder  a tiny stand-in per function that raises "deployed without its artifact" (tests, reviews)

Placeholders are never deployed by accident, `npx aws-cdk deploy` by hand included: a template with placeholder code
carries the parameter NoLambdaZipsRunMakePackage, without a default, that no deployment passes (`placeholder_guard`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from restaurant_pipeline.artifacts.specs import ARTIFACTS, artifacts_built
from restaurant_pipeline.model.config import ConfigError, PipelineConfig, deployment_region, load_config
from restaurant_pipeline.model.stack_outputs import STACK_NAME

CodeMode = Literal["package", "placeholder", "auto"]
CODE_MODES: tuple[str, ...] = ("package", "placeholder", "auto")
# Without a `lambda_code` context (cdk.json gives `auto`) the app needs the built zips.
DEFAULT_CODE_MODE: CodeMode = "package"
# A template with placeholder code asks for this parameter and gives it no default: the CDK CLI stops before deploying
# ("The following CloudFormation Parameters are missing a value: NoLambdaZipsRunMakePackage"; with the CDK, "you
# provide the parameter values on the command line": https://docs.aws.amazon.com/cdk/v2/guide/parameters.html), and
# so does CloudFormation itself, which uses a parameter's Default only when one is declared
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html).
PLACEHOLDER_PARAMETER = "NoLambdaZipsRunMakePackage"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

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
                f"placeholder code, for review only (deploying it stops at the parameter {PLACEHOLDER_PARAMETER}).",
                file=sys.stderr,
            )
    if mode == "package":
        missing = [str(spec.zip_path) for spec in ARTIFACTS.values() if not spec.zip_path.is_file()]
        if missing:
            raise ArtifactsMissingError(f"Lambda artifacts missing: {', '.join(missing)}. Run `make package` first.")
        return lambda service: lambda_.Code.from_asset(str(ARTIFACTS[service].zip_path))
    write_placeholder_code(placeholder_dir)
    return lambda service: lambda_.Code.from_asset(str(placeholder_dir))


def uses_placeholder_code(mode: str) -> bool:
    return mode == "placeholder" or (mode == "auto" and not artifacts_built())


def placeholder_guard(stack: object) -> None:
    """The parameter without a default that keeps a template with placeholder functions from being deployed."""
    from aws_cdk import CfnParameter

    CfnParameter(
        stack,  # type: ignore[arg-type]
        PLACEHOLDER_PARAMETER,
        type="String",
        allowed_values=["deploy-placeholder-functions"],
        description="This template has placeholder Lambda code: run `make package`, then `restaurant-pipeline deploy`.",
    )


def app_context(cdk_json: Path = CDK_JSON) -> dict[str, object]:
    """cdk.json's "context": the feature flags `cdk init` writes for the pinned aws-cdk-lib (its
    recommended-feature-flags.json), so synthesis outside the CDK CLI behaves as a deployment does."""
    try:
        data = json.loads(cdk_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{cdk_json}: cannot read the CDK app's context ({exc}); restore it from git") from exc
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise RuntimeError(f'{cdk_json}: "context" must be an object of feature flags')
    return context


def create_app(outdir: str | Path, context: dict[str, object] | None = None) -> object:
    """A CDK App with cdk.json's context (plus `context`) and cdk-nag's checks."""
    from aws_cdk import App

    app = App(outdir=str(outdir), context={**app_context(), **(context or {})})
    apply_nag(app)
    return app


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


def _context_arguments(argv: list[str] | None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m cdk.app", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="e.g. -c lambda_code=auto"
    )
    args = parser.parse_args(argv)
    context: dict[str, object] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--context {item!r}: expected KEY=VALUE")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> int:
    from restaurant_pipeline.node import NodeMissingError, ensure_node

    context = _context_arguments(argv)
    try:
        ensure_node()
    except NodeMissingError as exc:
        print(f"cdk.app: {exc}", file=sys.stderr)
        return 2

    # Under the CDK CLI, CDK_OUTDIR names the output folder; run directly, write ./cdk.out like the CLI.
    app: Any = create_app(os.environ.get("CDK_OUTDIR") or "cdk.out", context)
    outdir = Path(app.outdir)
    mode = str(app.node.try_get_context("lambda_code") or DEFAULT_CODE_MODE)
    try:
        config = load_config()
        deployment_region(config)  # the stack's region is pipeline.toml's; a disagreeing AWS_REGION stops here
        code_for = code_provider(mode, outdir / ".placeholder-lambda")
    except (ArtifactsMissingError, ConfigError, ValueError) as exc:
        print(f"cdk.app: {exc}", file=sys.stderr)
        return 2
    stack = build_stack(app, config, code_for)
    if uses_placeholder_code(mode):
        placeholder_guard(stack)
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
