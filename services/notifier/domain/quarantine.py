"""The lines of an email about an object's quarantined lines: where they are (the whole path, never cut), the first
rejected lines with their reasons, and the command that prints the quarantine file."""

from __future__ import annotations

from contracts.events import SourceObject
from services.notifier.domain.message import EmailContext
from services.notifier.domain.text import DATA_MAX, INDENT, command_word, safe_path, safe_text, wrap_paths
from services.notifier.domain.wording import CLI

LOCAL_ENV = f'eval "$({CLI} local env)"'  # points the aws CLI at the local stack (docs/local.md)


def render_quarantine_lines(source: SourceObject, context: EmailContext) -> list[str]:
    count = source.quarantined_lines
    if not count:
        return []
    key = safe_path(source.key)
    location = safe_path(f"s3://{source.bucket}/{source.quarantine_key}") if source.quarantine_key else None
    where = f" in {location}" if location else ""
    lines = wrap_paths(f"⚠ {count:,} line(s) of {key} set aside{where}", INDENT, key, *([location] if location else []))
    for rejected in source.rejected:
        at = f"line {rejected.line:,}" if rejected.line else "the whole object"
        lines.append(f"{INDENT}  {at}: {safe_text(rejected.reason, DATA_MAX)}")
    if source.rejected and count > len(source.rejected):
        lines.append(f"{INDENT}  and {count - len(source.rejected):,} more")
    if source.quarantine_key:
        lines.extend(_print_command(f"s3://{source.bucket}/{source.quarantine_key}", context))
    return lines


def _print_command(uri: str, context: EmailContext) -> list[str]:
    word = command_word(uri)
    if word is None:  # a command with invisible characters would not be what it looks like: none is offered
        return [f"{INDENT}  (the quarantine key holds control characters or links: no command to print it)"]
    command = f"aws s3 cp {word} -"
    log_location = context.log_location
    if log_location and not log_location.startswith(("http://", "https://")):  # the local stack: its logs folder
        return [f"{INDENT}  Every set-aside line with its reason and content:", f"{INDENT}    {LOCAL_ENV} && {command}"]
    lines = [f"{INDENT}  Every set-aside line with its reason and content:", f"{INDENT}    {command}"]
    if not log_location:  # where the pipeline runs is not known: both ways
        lines.append(f"{INDENT}  (on the local stack, first: {LOCAL_ENV})")
    return lines
