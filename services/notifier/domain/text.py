"""Small text helpers for plain-text emails."""

from __future__ import annotations

import re
import shlex
import textwrap
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

INDENT = "   "
WRAP_WIDTH = 100
SAMPLE_VALUE_MAX = 80
DATA_MAX = 1_500  # free text an event carries (an error message), per field
NAME_MAX = 100  # a name an event carries (a city, a place, an object key), in one line
# the schemes a mail client turns into a link (s3:// locations stay as they are: no client opens them)
_URL_SCHEME = re.compile(r"\b(?:(?:https?|ftp|file):(?=//)|(?:mailto|javascript|data):(?=\S))", re.IGNORECASE)


def wrap(text: str, prefix: str) -> list[str]:
    """Prose wrapped for a mail client, continuation lines indented under the first."""
    return textwrap.wrap(
        text,
        width=WRAP_WIDTH,
        initial_indent=prefix,
        subsequent_indent=prefix + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def indented(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line.rstrip()}" for line in text.strip().splitlines() if line.strip()] or [
        f"{prefix}(no message)"
    ]


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def shell_word(text: str) -> str:
    """`text` as one word of a shell command, whatever it holds (single quotes: no expansion, no substitution)."""
    return shlex.quote(text)


def printable(text: str) -> bool:
    """True when every character shows as itself (no control or formatting character, no line break)."""
    return all(unicodedata.category(char)[0] != "C" and char not in "\u2028\u2029" for char in text)


def as_data(text: str, limit: int = DATA_MAX, lines: bool = True) -> str:
    """Text an event carried, shown as data and never as part of the email's own words: control and formatting
    characters (bidi overrides included) made visible as \\uXXXX, links disarmed ("https[:]//…": a mail client
    makes no link of it; the email's links all come from its own templates), at most `limit` characters.
    `lines`: keep line breaks (an error message), else one line (a name)."""
    shown = []
    for char in text:
        if char == "\n" and lines:
            shown.append(char)
        elif char in "\t\r\n":
            shown.append(" ")
        elif unicodedata.category(char)[0] == "C" or char in "\u2028\u2029":
            shown.append(f"\\u{ord(char):04x}")
        else:
            shown.append(char)
    cleaned = _URL_SCHEME.sub(lambda match: match.group(0)[:-1] + "[:]", "".join(shown))
    if len(cleaned) > limit:
        rest = len(cleaned) - limit
        cleaned = cleaned[:limit].rstrip() + f"… ({rest:,} more characters in the logs)"
    return cleaned


def as_name(text: str) -> str:
    """A name an event carried (a city, a place, a key), as data on one line."""
    return as_data(text, NAME_MAX, lines=False)


def when(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration(delta: timedelta) -> str:
    return duration_ms(int(delta.total_seconds() * 1000))


def duration_ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def sample_row(sample: dict[str, Any]) -> str:
    parts = []
    for key, value in sample.items():
        text = " ".join(as_data(str(value), lines=False).split())
        if len(text) > SAMPLE_VALUE_MAX:
            text = text[: SAMPLE_VALUE_MAX - 1] + "…"
        parts.append(f"{as_name(str(key))}={text}")
    return ", ".join(parts) or "(empty row)"
