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
NAME_MAX = 100  # a name an event carries (a city, a place), in one line
PATH_MAX = 10_000  # a path (an object key, an s3:// location) is never cut: S3 keys hold at most 1,024 bytes
_KEEP_TOGETHER = "\0"  # stands for a path's spaces while prose is wrapped (safe_text never leaves a NUL)
# What a mail client turns into a link: a web, file or mail scheme, a script or data URL, a "www." host.
# s3:// locations stay as they are (no client opens them). The scheme is disarmed wherever it starts ("xhttps://"
# included: a client may link from the "h"); "mailto:", "javascript:" and "data:" only as words ("metadata:" stays).
_LINK = re.compile(
    r"(?:https?|ftp|file):(?=//)|\b(?:mailto|javascript|data|vbscript):(?=\S)|\bwww\.(?=\S)", re.IGNORECASE
)
# An e-mail address, which mail clients make a mailto link of even without the scheme: its "@" becomes "[@]".
_MAIL_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-]+(?:\.[\w-]+)+)")
_ELLIPSIS = "…"


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


def safe_path(value: object) -> str:
    """An object key or an s3:// location as safe_text shows it (escaped, links disarmed), but whole: a path
    that was cut is no use to the reader who has to find the object."""
    return safe_text(value, PATH_MAX)


def wrap_paths(text: str, prefix: str, *paths: str) -> list[str]:
    """Prose wrapped like wrap(), where each of `paths` (as safe_path shows it) stays whole on one line: a long one
    goes onto the next line, never cut and never broken at its spaces."""
    for path in paths:
        text = text.replace(path, path.replace(" ", _KEEP_TOGETHER))
    return [line.replace(_KEEP_TOGETHER, " ") for line in wrap(text, prefix)]


def indented(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line.rstrip()}" for line in text.strip().splitlines() if line.strip()] or [
        f"{prefix}(no message)"
    ]


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def shell_word(text: str) -> str:
    """`text` as one word of a shell command, whatever it holds (single quotes: no expansion, no substitution)."""
    return shlex.quote(text)


def safe_text(value: object, limit: int = NAME_MAX, *, keep_lines: bool = False) -> str:
    """The one way text that came with an event (a place, an address, a city, a cuisine, a key, a run id, a test
    name, an error message from dbt or AWS) enters an email: shown as data, never as the email's own words.

    - control, formatting and invisible characters (C0/C1 controls, bidi marks, embeddings, overrides and isolates
      U+200E/U+200F/U+202A-U+202E/U+2066-U+2069, zero-width characters, line and paragraph separators) are shown
      as \\uXXXX, so a name cannot reorder or hide the text around it;
    - line breaks and tabs become spaces (`keep_lines`: "\\n" is kept, for an error message whose lines the caller
      indents one by one);
    - links are disarmed ("https[:]//…", "mailto[:]…", "www[.]…", "name[@]host.example": a mail client links none
      of them; the email's links all come from its own templates); s3:// locations stay readable;
    - at most `limit` characters, then an ellipsis and how many more the logs hold.
    """
    shown = []
    for char in str(value):
        if char == "\n" and keep_lines:
            shown.append(char)
        elif char in "\t\r\n":
            shown.append(" ")
        elif unicodedata.category(char)[0] == "C" or char in "\u2028\u2029":
            shown.append(f"\\u{ord(char):04x}")
        else:
            shown.append(char)
    cleaned = _MAIL_AT.sub("[@]", _LINK.sub(_disarm, "".join(shown)))
    if len(cleaned) > limit:
        rest = len(cleaned) - limit
        cleaned = cleaned[:limit].rstrip() + f"{_ELLIPSIS} ({rest:,} more characters in the logs)"
    return cleaned


def _disarm(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[:-1] + ("[.]" if text.endswith(".") else "[:]")


def command_word(text: str) -> str | None:
    """`text` as one word of a command to paste, or None when it holds anything safe_text would change (a control
    character, a line break, a link): such a command would not be what it looks like, so none is offered."""
    return shell_word(text) if safe_text(text, limit=len(text) + 1) == text else None


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
        text = " ".join(safe_text(value, DATA_MAX).split())
        if len(text) > SAMPLE_VALUE_MAX:
            text = text[: SAMPLE_VALUE_MAX - 1] + _ELLIPSIS
        parts.append(f"{safe_text(key)}={text}")
    return ", ".join(parts) or "(empty row)"
