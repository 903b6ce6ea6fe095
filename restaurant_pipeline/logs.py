"""Reading a service's structured logs: the local log file, or its CloudWatch log group."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

_LEVEL_STYLES = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan", "DEBUG": "dim"}


def render_line(line: str) -> Text:
    """A Powertools JSON log line as one readable line; anything else as it is."""
    line = line.rstrip("\n")
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return Text(line)
    if not isinstance(record, dict):
        return Text(line)
    level = str(record.get("level", ""))
    text = Text()
    text.append(str(record.get("timestamp", ""))[:23] + " ", style="dim")
    text.append(f"{level:<7} ", style=_LEVEL_STYLES.get(level, ""))
    if record.get("correlation_id"):
        text.append(f"[{record['correlation_id']}] ", style="magenta")
    text.append(str(record.get("message", "")))
    extra = {
        k: v
        for k, v in record.items()
        if k
        not in {
            "level",
            "location",
            "message",
            "timestamp",
            "service",
            "correlation_id",
            "cold_start",
            "function_name",
            "function_memory_size",
            "function_arn",
            "function_request_id",
            "xray_trace_id",
            "sampling_rate",
        }
    }
    if extra:
        text.append(" " + json.dumps(extra, default=str), style="dim")
    return text


def tail_local(path: Path, lines: int, follow: bool, console: Console) -> None:
    if not path.exists():
        console.print(f"No log yet at {path}: the service has not started or written anything.")
        if not follow:
            return
        while not path.exists():
            time.sleep(0.5)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in deque(handle, maxlen=lines):
            console.print(render_line(line))
        while follow:
            line = handle.readline()
            if line:
                console.print(render_line(line))
            else:
                time.sleep(0.3)


def tail_aws(logs_client: Any, log_group: str, lines: int, follow: bool, console: Console) -> None:
    start = int((time.time() - 3600) * 1000)
    seen: set[str] = set()
    first = True
    while True:
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": start, "interleaved": True}
        events: list[dict[str, Any]] = []
        for page in logs_client.get_paginator("filter_log_events").paginate(**kwargs):
            events.extend(page.get("events", []))
        fresh = [e for e in events if e["eventId"] not in seen]
        if first:
            fresh = fresh[-lines:]
            first = False
        for event in fresh:
            seen.add(event["eventId"])
            console.print(render_line(event["message"]))
            start = max(start, int(event["timestamp"]))
        if not follow:
            return
        time.sleep(2)
