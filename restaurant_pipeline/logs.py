"""Reading a service's structured logs: the local log file, or its CloudWatch log group."""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef

_LEVEL_STYLES = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan", "DEBUG": "dim"}


def is_metric_record(record: object) -> bool:
    """A CloudWatch embedded metric format record (Powertools Metrics writes one per flush to the same stream):
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html"""
    return isinstance(record, dict) and isinstance(record.get("_aws"), dict) and "CloudWatchMetrics" in record["_aws"]


def render_metrics(record: dict[str, Any]) -> Text:
    """An EMF record as one line: its metric values and dimensions."""
    aws: dict[str, Any] = record["_aws"]
    directives = aws.get("CloudWatchMetrics", [])
    names = [metric["Name"] for block in directives for metric in block.get("Metrics", [])]
    dimensions = {name for block in directives for group in block.get("Dimensions", []) for name in group}
    text = Text()
    moment = aws.get("Timestamp")
    if isinstance(moment, int | float):
        text.append(datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + " ", style="dim")
    text.append("METRICS ", style="blue")
    text.append(", ".join(f"{name}={_single(record.get(name))}" for name in names))
    labels = ", ".join(f"{key}={record[key]}" for key in sorted(dimensions) if key in record)
    if labels:
        text.append(f" ({labels})", style="dim")
    return text


def _single(value: Any) -> Any:
    """EMF allows an array of values per metric; Powertools writes one: show it bare."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def render_line(line: str, metrics: bool = False) -> Text | None:
    """A Powertools JSON log line as one readable line; anything else as it is. Metric records (EMF) are not log
    lines: None, unless `metrics` (then one line of values)."""
    line = line.rstrip("\n")
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return Text(line)
    if not isinstance(record, dict):
        return Text(line)
    if is_metric_record(record):
        return render_metrics(record) if metrics else None
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


def _show(console: Console, line: str, metrics: bool) -> bool:
    rendered = render_line(line, metrics)
    if rendered is None:
        return False
    console.print(rendered)
    return True


def tail_local(path: Path, lines: int, follow: bool, console: Console, metrics: bool = False) -> None:
    if not path.exists():
        console.print(f"No log yet at {path}: the service has not started or written anything.")
        if not follow:
            return
        while not path.exists():
            time.sleep(0.5)
    with open(path, encoding="utf-8", errors="replace") as handle:
        shown = deque((line for line in handle if render_line(line, metrics) is not None), maxlen=lines)
        for line in shown:
            _show(console, line, metrics)
        while follow:
            line = handle.readline()
            if line:
                _show(console, line, metrics)
            else:
                time.sleep(0.3)


def tail_aws(
    logs_client: CloudWatchLogsClient, log_group: str, lines: int, follow: bool, console: Console, metrics: bool = False
) -> None:
    start = int((time.time() - 3600) * 1000)
    seen: set[str] = set()
    first = True
    while True:
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": start, "interleaved": True}
        events: list[FilteredLogEventTypeDef] = []
        for page in logs_client.get_paginator("filter_log_events").paginate(**kwargs):
            events.extend(page.get("events", []))
        fresh = [e for e in events if e["eventId"] not in seen]
        for event in fresh:
            seen.add(event["eventId"])
            start = max(start, int(event["timestamp"]))
        fresh = [e for e in fresh if render_line(e["message"], metrics) is not None]
        if first:
            fresh = fresh[-lines:]
            first = False
        for event in fresh:
            _show(console, event["message"], metrics)
        if not follow:
            return
        time.sleep(2)
