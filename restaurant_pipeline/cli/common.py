"""What every command group of the CLI shares: the two consoles, the error line and its exit codes, the options
that several groups take, and the one way a command finds its stack (local or deployed).

`resolve_target` is called through this module (`common.resolve_target(...)`), never imported by name, so a test
that swaps it for a fake stack reaches every command at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from restaurant_pipeline.local import control
from restaurant_pipeline.model.topology import SERVICES
from restaurant_pipeline.output import console_for

console = console_for()
errors = console_for(stderr=True)

AwsOption = Annotated[bool, typer.Option("--aws", help="Act on the deployed stack instead of the local one.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of text.")]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=control.STATE_DIR_ENV,
        help="The local stack's state folder (stack.json, warehouse, outbox, logs).",
        show_default=".pipeline",
    ),
]
ServiceArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")]

USAGE_ERROR = 2  # click's exit code for a command line that is wrong (the user's to fix), as for a bad --date


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and exit. The message is text, never markup: a key, a city or an error
    quoting `[/]` prints as written, and on one line (the terminal folds a long one; rich does not break it)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def resolve_target(aws: bool, state_dir: Path | None, code: int = 1) -> Any:
    """The stack a command acts on (restaurant_pipeline.target); exits with `code` when there is none."""
    from restaurant_pipeline.target import resolve

    try:
        return resolve(aws, state_dir)
    except (control.StackNotRunning, RuntimeError) as exc:
        fail(str(exc), code)


def refuse_local_environment() -> None:
    from restaurant_pipeline.stack_environment import LocalEnvironmentForAws, ensure_not_local

    try:
        ensure_not_local()
    except LocalEnvironmentForAws as exc:
        fail(str(exc))


def check_service(name: str) -> str:
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of: {', '.join(SERVICES)}")
    return name


def cells(*values: object) -> list[str]:
    """Table cells from data (run ids, cities, keys, statuses): printed as written, never read as rich markup."""
    return [escape(str(value)) for value in values]


def aws_failure(exc: Exception) -> str:
    """One line for an AWS error met by a command (dlq, reprocess): the call, the code, the message."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name} failed ({error.get('Code', 'error')}): {error.get('Message', '')}".rstrip(": ")
    return f"{exc.__class__.__name__}: {exc}"
