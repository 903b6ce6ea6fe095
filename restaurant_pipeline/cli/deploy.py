"""`restaurant-pipeline deploy` and `destroy`: the questions (the API key, hidden; the email) asked here, the work
done by restaurant_pipeline/deploy.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from restaurant_pipeline.cli.common import USAGE_ERROR, fail, refuse_local_environment
from restaurant_pipeline.model.config import ConfigError, load_config

NO_EMAIL = "none"  # the answer to the email prompt that subscribes no address


def deploy(
    api_key_file: Annotated[
        str | None,
        typer.Option(
            "--api-key-file",
            metavar="FILE",
            help="Read the Places API key from FILE ('-': standard input). Never on the command line: it would stay "
            "in the shell's history. Without it, a hidden prompt asks (Enter keeps the stored key).",
            show_default=False,
        ),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email",
            envvar="NOTIFICATION_EMAIL",
            help="Who gets the emails. Default: pipeline.toml's, else the address the deployed stack has.",
        ),
    ] = None,
    no_email: Annotated[
        bool, typer.Option("--no-email", help="Subscribe no address (removes the current one).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No questions (automation).")] = False,
) -> None:
    """Deploy the stack to the AWS account of your credentials; asks for the API key and the email."""
    from restaurant_pipeline import deploy as deployment

    try:  # before any question: an installed copy cannot deploy, whatever the answers
        deployment.require_checkout()
    except deployment.NotACheckout as exc:
        fail(str(exc), USAGE_ERROR)
    refuse_local_environment()
    api_key: str | None = None
    if api_key_file is not None:
        try:
            api_key = read_api_key(api_key_file)
        except (OSError, ValueError) as exc:
            fail(str(exc))
    elif not yes:
        typed = typer.prompt(
            "Google Places API key (hidden; Enter keeps the stored one)",
            hide_input=True,
            default="",
            show_default=False,
        )
        api_key = typed.strip() or None
    if no_email:
        email = ""
    elif email is None and not yes:
        try:
            current = deployment.current_email(load_config())
        except ConfigError as exc:
            fail(str(exc))
        answer = typer.prompt(
            f"Notification email ({NO_EMAIL!r} for none)", default=current or NO_EMAIL, show_default=True
        )
        email = "" if answer.strip().lower() == NO_EMAIL else answer
    try:
        deployment.deploy(api_key=api_key, email=email)
    except deployment.DeployError as exc:
        fail(str(exc))


def read_api_key(source: str) -> str:
    """The key from a file, or from standard input for '-': its first line, without surrounding blanks."""
    if source == "-":
        text = sys.stdin.readline()
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"--api-key-file {source}: no such file")
        text = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    key = text.strip()
    if not key:
        where = "standard input" if source == "-" else source
        raise ValueError(f"--api-key-file: {where} holds no key (expected the key on its first line)")
    return key


def destroy(
    delete_data: Annotated[bool, typer.Option("--delete-data", help="Also delete the data bucket.")] = False,
    bucket: Annotated[
        list[str] | None,
        typer.Option(
            "--bucket",
            help="With --delete-data: delete this bucket kept by an earlier destroy, not the stack (repeatable).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (automation).")] = False,
) -> None:
    """Remove the stack; the data bucket is kept unless --delete-data. Exits 1, with one line saying what AWS refused
    and what to do, when something could not be deleted."""
    from botocore.exceptions import BotoCoreError, ClientError

    from restaurant_pipeline import deploy as deployment

    refuse_local_environment()
    if not yes:
        what = f"the buckets {', '.join(bucket)}" if bucket else "the restaurant-pipeline stack"
        typer.confirm(f"Destroy {what}?", abort=True)
    try:
        summary = deployment.destroy(keep_data=not delete_data, buckets=bucket or ())
    except deployment.DeployError as exc:
        fail(str(exc))
    except (ClientError, BotoCoreError) as exc:  # an AWS error destroy() does not expect: one line all the same
        fail(deployment.aws_failure(exc, "destroy"))
    if summary.remaining:
        raise typer.Exit(1)
