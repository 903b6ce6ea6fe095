"""Small text helpers for plain-text emails."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

INDENT = "   "
WRAP_WIDTH = 100
SAMPLE_VALUE_MAX = 80


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
    """`text` as one word of a shell command."""
    return text if text.replace("-", "").replace("_", "").isalnum() else '"' + text.replace('"', '\\"') + '"'


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
        text = " ".join(str(value).split())
        if len(text) > SAMPLE_VALUE_MAX:
            text = text[: SAMPLE_VALUE_MAX - 1] + "…"
        parts.append(f"{key}={text}")
    return ", ".join(parts) or "(empty row)"
