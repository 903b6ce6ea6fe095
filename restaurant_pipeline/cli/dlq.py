"""`restaurant-pipeline dlq list` and `dlq replay`: what failed for good in each dead-letter queue, and putting
it back where it belongs (restaurant_pipeline/operations.py moves the messages)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from restaurant_pipeline import operations
from restaurant_pipeline.cli import common
from restaurant_pipeline.cli.common import AwsOption, JsonOption, StateDirOption, aws_failure, console, errors, fail
from restaurant_pipeline.output import to_json

dlq_app = typer.Typer(help="Dead-letter queues: what failed for good, and putting it back.", no_args_is_help=True)

DlqArgument = Annotated[
    str,
    typer.Argument(
        help=f"The dead-letter queue, as `dlq list` names it: {', '.join(operations.DLQ_NAMES)}. A service's name is "
        "its queue's DLQ; SERVICE-rule holds the events EventBridge could not deliver to that queue; schedule holds "
        "the scheduled runs the Scheduler could not put on the bus.",
        metavar="NAME",
        show_default=False,
    ),
]


@dlq_app.command("list")
def dlq_list(as_json: JsonOption = False, aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """Every DLQ of the stack (each service's, each rule target's, the schedule's): its depth, the age of its oldest
    message, what ends up in it."""
    from botocore.exceptions import BotoCoreError, ClientError

    target = common.resolve_target(aws, state_dir)
    depths = []
    try:
        for dlq in target.dead_letter_queues():
            depth = operations.dlq_depth(target.clients.sqs, dlq.service, dlq.url)
            depth.name, depth.kind, depth.purpose, depth.replays_to = dlq.name, dlq.kind, dlq.purpose, dlq.destination
            depths.append(depth)
    except (ClientError, BotoCoreError) as exc:
        fail(aws_failure(exc))
    if as_json:
        print(to_json([asdict(depth) for depth in depths]))
        return
    table = Table(title="dead-letter queues (replay one: restaurant-pipeline dlq replay NAME)")
    for column in ("name", "messages", "in flight", "oldest", "what ends up here", "queue"):
        table.add_column(column)
    for depth in depths:
        oldest = f"{depth.oldest_age_seconds:.0f}s" if depth.oldest_age_seconds is not None else "-"
        style = "red" if depth.messages else "green"
        table.add_row(
            escape(depth.name or depth.service),
            f"[{style}]{depth.messages}[/]",
            str(depth.in_flight),
            oldest,
            escape(depth.purpose),
            escape(depth.dlq_url),
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    name: DlqArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; move nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what moved (or would) as JSON.")] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Put a DLQ's messages back where they belong (safe to repeat): a service's DLQ into its queue, a rule's DLQ
    (SERVICE-rule) into the queue the rule targets, the schedule's DLQ onto the bus as Collection Requested."""
    from botocore.exceptions import BotoCoreError, ClientError

    if name not in operations.DLQ_NAMES:
        fail(f"unknown dead-letter queue {name!r}; choose one of: {', '.join(operations.DLQ_NAMES)}")
    target = common.resolve_target(aws, state_dir)
    try:
        dlq = target.dead_letter_queue(name)
    except KeyError as exc:
        fail(f"{exc.args[0]} (a local stack started before this version: `local down`, then `local up`)")
    try:
        result = operations.replay(target.clients, dlq, dry_run=dry_run)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        fail(f"replaying {name}: {aws_failure(exc)}; what moved before stays moved, run the replay again")
    if as_json:
        print(to_json(asdict(result)))
        return
    if dry_run:
        console.print(f"{result.moved} message(s) would go from {dlq.url} to {dlq.destination}.", highlight=False)
        for preview in result.previews:
            console.print(f"  {escape(preview)}", highlight=False)
        return
    where = {"rule": f"the {dlq.service} queue", "schedule": f"the bus {dlq.destination}"}.get(
        dlq.kind, f"the {dlq.service} queue"
    )
    if result.method == "invoke-function":  # its queue refused the operator (docs/aws.md, "Dead-letter queues")
        where = f"the {dlq.service} function"
    console.print(f"Moved {result.moved} message(s) back to {where} ({result.method}).", highlight=False)
    if result.run_ids:
        console.print(
            f"Runs started: {', '.join(result.run_ids)} (follow one: restaurant-pipeline runs show RUN_ID)",
            highlight=False,
        )
    if result.skipped:
        errors.print(
            f"[yellow]{result.skipped} message(s) left in {escape(dlq.url)}:[/] not what this queue's producer writes",
            highlight=False,
        )
        for problem in result.problems:
            errors.print(f"  {escape(problem)}", highlight=False)
        if dlq.kind == "schedule":
            errors.print("Start those runs by hand: restaurant-pipeline run" + (" --aws" if aws else ""))
        raise typer.Exit(1)
