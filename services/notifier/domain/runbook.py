"""What each failure means and what to do about it: the fix, the commands to paste, where the logs are."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from contracts.events import CollectionFailed, ErrorCategory, TransformCompleted
from services.common.names import PROJECT, log_group_name
from services.notifier.domain.facts import collection_events, transform_events
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import CityOutcome
from services.notifier.domain.text import INDENT, command_word, safe_text, unique, wrap
from services.notifier.domain.wording import CLI


@dataclass(frozen=True)
class CategoryHelp:
    short: str  # fits in a subject
    what: str
    fix: str
    commands: tuple[str, ...] = ()  # each on its own line, ready to copy


def rerun_cities(event: CollectionFailed) -> list[str]:
    """The cities to run again: the failed city, or for a request-level failure the cities it left uncollected (from
    an older collector, every city of the run); empty when the event names none."""
    if event.city:
        return [event.city]
    return list(event.cities or event.run_cities)


def run_again_command(cities: Sequence[str]) -> str:
    """`restaurant-pipeline run --city Lyon --city 'Le Havre'`: the run's own cities, never a bare `run` (which
    collects the configured cities instead); when the cities are unknown, or a name holds a control character or a
    link (it cannot be pasted as it reads), a line that says so."""
    words = [command_word(city) for city in cities]
    if not cities:
        return f"{CLI} run --city CITY   # the failed run's cities are unknown: name each one with --city"
    if any(word is None for word in words):
        return f"# a city name holds control characters or a link: run it again with `{CLI} run --city` yourself"
    return f"{CLI} run" + "".join(f" --city {word}" for word in words)


def category_help(category: ErrorCategory, cities: Sequence[str], max_receive_count: int) -> CategoryHelp:
    """A collection failure category in plain words, and the fix; `cities`: what to run again (rerun_cities)."""
    run_again = run_again_command(cities)
    replay = (f"{CLI} dlq list", f"{CLI} dlq replay collector")
    retried = (
        f"It was retried automatically ({max_receive_count} attempts in all) and failed every time. "
        "Once the API answers again, replay the request from the collector's dead-letter queue "
        "(or, if it is not there, run the city again):"
    )
    if category == "api_auth":
        return CategoryHelp(
            "API key rejected",
            "The Places API rejected the API key: the key is invalid, or it is not allowed to call the API "
            "(permission denied).",
            "Check the key (locally GOOGLE_PLACES_API_KEY; on AWS the secret that `restaurant-pipeline deploy` "
            "stores) and that the Places API (New) is enabled for the key's Google Cloud project "
            "(console: APIs & Services > Library > Places API (New)), and that the key's API restrictions "
            "allow it. This is not retried automatically; once fixed, run again:",
            (run_again,),
        )
    if category == "api_quota_daily":
        return CategoryHelp(
            "daily quota reached",
            "The daily quota of the Places API is used up (HTTP 429, per day).",
            "Collection resumes tomorrow with the next scheduled run. To collect today, raise the quota "
            "(Google Cloud console: Places API (New) > Quotas) and run again:",
            (run_again,),
        )
    if category == "api_quota_minute":
        return CategoryHelp(
            "per-minute quota exceeded",
            "The per-minute quota of the Places API was exceeded (HTTP 429, per minute). If this happens "
            "often, lower [places] requests_per_minute in pipeline.toml.",
            retried,
            (*replay, run_again),
        )
    if category == "api_unavailable":
        return CategoryHelp(
            "Places API unavailable",
            "The Places API did not answer properly (server errors, timeouts or dropped connections).",
            retried,
            (*replay, run_again),
        )
    if category == "api_bad_request":
        return CategoryHelp(
            "request refused",
            "The Places API refused the request as malformed (HTTP 400).",
            "Check [places] in pipeline.toml: the query (it must contain {city}), the language code and the "
            "field mask (valid field names, including places.id and nextPageToken). Then run again:",
            (run_again,),
        )
    return CategoryHelp(
        "internal error",
        "The collector failed inside the pipeline (a bug, or an AWS-side problem such as writing to S3).",
        "Read the collector's logs (below). Once fixed, replay the request from the dead-letter queue, "
        "or run the city again:",
        (*replay, run_again),
    )


# How the transformer names a final failure in its error message (services/transformer/domain/failures.final_cause):
# the AWS error code no retry can cure. The event carries no code of its own (contracts unchanged): its words do.
_FINAL_CODE = re.compile(r"\bAWS error ([A-Za-z0-9_.:-]{1,80}): retrying cannot help")
_ORDINALS = {1: "first", 2: "second", 3: "third"}


def attempts_words(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count:,} attempts"


def given_up_words(event: TransformCompleted, max_receive_count: int, *, short: bool = False) -> str:
    """How the transformer gave up on a dead-lettered event's objects, truthfully: a final failure (an AWS error no
    retry cures, set aside at once: fewer attempts than the queue allows) "failed for good on its first attempt
    (not retried: AccessDenied cannot be cured by retrying)"; retries that ran out "gave up after 3 attempts".
    `short`: for the subject ("failed for good, not retried: AccessDenied")."""
    message = event.error.message if event.error is not None else ""
    match = _FINAL_CODE.search(message)
    code = safe_text(match.group(1)) if match else None
    attempts = event.attempts
    if code is None and (attempts is None or attempts >= max_receive_count):
        return f"gave up after {attempts_words(attempts)}" if attempts else "gave up after all its attempts"
    if attempts is None:
        on = "at once"
    elif attempts in _ORDINALS:
        on = f"on its {_ORDINALS[attempts]} attempt"
    else:
        on = f"on attempt {attempts:,}"
    if short:  # the subject is cut at 100 characters: the verdict first, the code last
        return "failed for good, not retried" + (f": {code}" if code else "")
    not_retried = "not retried" if attempts in (None, 1) else "not retried again"
    cause = f"{code} cannot be cured by retrying" if code else "its cause cannot be cured by retrying"
    return f"failed for good {on} ({not_retried}: {cause})"


def on_aws(context: EmailContext) -> bool:
    """Whether the email is sent by the deployed stack (its logs are CloudWatch console links)."""
    return context.log_location.startswith(("http://", "https://"))


def dbt_command(arguments: str, context: EmailContext) -> str:
    """A dbt command to paste as printed: `restaurant-pipeline dbt` gives dbt the stack's environment itself (the
    local stack's, or with --aws the deployed stack's Athena), from any directory."""
    return f"{CLI} dbt{' --aws' if on_aws(context) else ''} {arguments}"


def test_hint(name: str, model: str | None) -> str:
    """Where to start looking, from the dbt test's name."""
    where = safe_text(model) if model else "the model"
    lowered = name.casefold()
    if lowered.startswith("unique") or "unique_combination" in lowered:
        return (
            f"the same key appears more than once in {where}: a place collected twice in one day, "
            "or a join that multiplies rows."
        )
    if lowered.startswith("not_null"):
        return (
            f"{where} has rows where a required column is empty: the API did not send the field for some places "
            "(is it in the record the field mask is made from, contracts/records.py?) or a "
            "rename in staging is wrong."
        )
    if lowered.startswith("accepted_values"):
        return (
            f"{where} holds a value outside the accepted list: if the API started sending a new legitimate "
            "value, add it to the test's values in the model's .yml."
        )
    if lowered.startswith("relationships"):
        return f"rows of {where} point to keys missing from the parent model: check the join and its filters."
    return f"what the test's SQL returns from {where}; the sample rows above are the first of them."


def failed_test_commands(name: str, model: str | None, context: EmailContext) -> list[tuple[str, str]]:
    """(what it shows, the command) for a failed test: its failing rows as the warehouse holds them now, its SQL,
    and the rows of its model. A name that is not one plain word gets no command (it would not be what it looks
    like)."""
    commands = []
    test = command_word(name)
    if test is not None:
        commands.append(("its failing rows", dbt_command(f"show --select {test}", context)))
        commands.append(("its SQL", dbt_command(f"compile --select {test}", context)))
    table = command_word(model) if model else None
    if table is not None:
        commands.append((f"rows of {safe_text(model or '')}", dbt_command(f"show --select {table}", context)))
    return commands


def what_to_do(outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    failing = [o for o in outcomes if o.kind != "passed"]
    if not failing:
        return []
    lines = ["What to do"]
    reprocess: list[str] = []
    unquotable = 0
    transform_failed = False
    given_up: list[str] = []
    for event in transform_events(failing):
        if event.dead_lettered:
            given_up.append(given_up_words(event, context.max_receive_count))
            continue
        transform_failed = True
        for source in event.sources:
            word = command_word(f"s3://{source.bucket}/{source.key}")
            if word is not None:
                reprocess.append(word)
            else:  # a command with invisible characters would not be what it looks like: none is offered
                unquotable += 1
    if given_up:
        lines.extend(
            wrap(
                f"The transformer could not work (the cause is above) and {'; '.join(unique(given_up))}: the "
                "objects' messages are in its dead-letter queue, nothing is lost. Once the cause is fixed, "
                "replay them:",
                INDENT,
            )
        )
        lines.extend(f"{INDENT}  {command}" for command in (f"{CLI} dlq list", f"{CLI} dlq replay transformer"))
    if transform_failed:
        lines.append(f"{INDENT}Once the data or the model is fixed, reprocess the raw object(s):")
        for uri in unique(reprocess):
            lines.append(f"{INDENT}  {CLI} reprocess {uri}")
        if unquotable:
            lines.append(
                f"{INDENT}  ({unquotable} key(s) hold control characters or links: find them with `{CLI} runs`)"
            )
        lines.append(
            f"{INDENT}If the transformer's message went to its dead-letter queue: `{CLI} dlq replay transformer`."
        )
    for failed in collection_events(failing):
        help_ = category_help(failed.category, rerun_cities(failed), context.max_receive_count)
        who = safe_text(failed.city) if failed.city else "the run"
        lines.extend(wrap(f"{who}: {help_.fix}", INDENT))
        lines.extend(f"{INDENT}  {command}" for command in help_.commands)
    lines.append("")
    return lines


def log_link(log_location: str, service: str) -> str:
    """Where a person reads a service's logs: a CloudWatch console URL, or the local log file."""
    if not log_location:
        return f"`{CLI} logs {service}`"
    if log_location.startswith(("http://", "https://")):
        # The console's fragment escapes "%" as "$25": "/" becomes "$252F". The prefix may end at the log
        # groups page or already include "/aws/lambda/" (what the CDK stack sets).
        group = log_group_name(service)
        folder = "/aws/lambda/"
        if log_location.endswith(console_escape(folder)):
            return log_location + console_escape(group.removeprefix(folder))
        return log_location + console_escape(group)
    return str(PurePath(log_location) / f"{service}.log")


def console_escape(text: str) -> str:
    return urllib.parse.quote(text, safe="").replace("%", "$25")


def logs_section(outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    services: list[str] = []
    for outcome in outcomes:
        services.append("collector" if isinstance(outcome.event, CollectionFailed) else "transformer")
    ordered = unique([*services, "collector", "transformer", "notifier"])
    lines = ["Logs"]
    for service in ordered:
        lines.append(f"{INDENT}{service}: {log_link(context.log_location, service)}")
    lines.append(f"{INDENT}or: `{CLI} logs SERVICE`, and `{CLI} runs` for every step of this run.")
    lines.append("")
    return lines


def footer(run_id: str) -> list[str]:
    return ["--", f"{PROJECT} · one email per run outcome · run {safe_text(run_id)}"]
