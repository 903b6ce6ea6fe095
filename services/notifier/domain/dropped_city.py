"""The lines an email adds when a dropped file's city is unknown: nothing said which city its places are in
(no `_collection.city` on its lines, no `city` metadata on the object, no collector-style name), so they are in
the marts under "unknown". The lines say how to name the city and put the file again."""

from __future__ import annotations

from pathlib import PurePath

from contracts.events import CITY_METADATA_KEY, UNKNOWN_CITY, TransformCompleted
from services.notifier.domain.text import INDENT, command_word, safe_path, wrap
from services.notifier.domain.wording import CLI


def render_unknown_city_lines(event: TransformCompleted) -> list[str]:
    unknown = [source for source in event.sources if source.city == UNKNOWN_CITY and source.valid_lines]
    if not unknown:
        return []
    files = "1 file" if len(unknown) == 1 else f"{len(unknown)} files"
    lines = wrap(
        f"⚠ The city of {files} is unknown: its places carry no `_collection.city` and the object no "
        f'`{CITY_METADATA_KEY}` metadata, so they are in the tables under city "{UNKNOWN_CITY}". '
        "Put the file again with its city (CITY below):",
        INDENT,
    )
    for source in unknown:
        uri = command_word(f"s3://{source.bucket}/{source.key}")
        name = command_word(PurePath(source.key).name)
        if uri is None or name is None:  # a command would not be what it looks like: the key is named, as data
            lines.append(
                f"{INDENT}  {safe_path(f's3://{source.bucket}/{source.key}')} (its key holds control "
                f"characters or a link: find it with `{CLI} runs`)"
            )
            continue
        lines.append(f"{INDENT}  {CLI} reprocess {uri} --city CITY")
        lines.append(f"{INDENT}  or: aws s3 cp {name} {uri} --metadata {CITY_METADATA_KEY}=CITY")
    return lines
