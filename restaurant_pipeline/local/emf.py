"""CloudWatch embedded metric format (EMF) lines in the local logs: read them, and write Lambda's own metrics.

On AWS, Lambda turns each EMF line a function logs into metrics, and Lambda itself publishes Invocations and Errors
per function. Locally the services' Powertools lines land in .pipeline/logs/<service>.log, and the event source
mapping emulation writes one EMF line per invocation with Lambda's two metrics beside them, so that the local alarm
evaluator (alarms.py) reads every metric the same way.
Format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common.names import FUNCTION_ERRORS, FUNCTION_INVOCATIONS, LAMBDA_NAMESPACE


@dataclass(frozen=True)
class Datapoint:
    at: datetime
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by key
    value: float


def datapoints(record: Mapping[str, Any]) -> list[Datapoint]:
    """The metric values of one EMF record (an empty list for any other record). A metric added several times in one
    invocation is a list of values: each is a data point, as CloudWatch counts them."""
    aws = record.get("_aws")
    if not isinstance(aws, dict):
        return []
    try:
        at = datetime.fromtimestamp(int(aws["Timestamp"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError):
        return []
    points = []
    for directive in aws.get("CloudWatchMetrics") or []:
        namespace = str(directive.get("Namespace", ""))
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = tuple(sorted((str(key), str(record.get(key, ""))) for key in dimension_set))
            for metric in directive.get("Metrics") or []:
                name = str(metric.get("Name", ""))
                values = record.get(name)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        points.append(Datapoint(at, namespace, name, dimensions, float(value)))
    return points


def lambda_metrics_line(function_name: str, failed: bool, at: datetime | None = None) -> str:
    """One invocation's AWS/Lambda Invocations and Errors (an invocation that failed as a whole: an exception, a
    timeout, an invalid response; batch item failures are not errors), as an EMF line."""
    moment = at or datetime.now(UTC)
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(moment.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": LAMBDA_NAMESPACE,
                        "Dimensions": [["FunctionName"]],
                        "Metrics": [
                            {"Name": FUNCTION_INVOCATIONS, "Unit": "Count"},
                            {"Name": FUNCTION_ERRORS, "Unit": "Count"},
                        ],
                    }
                ],
            },
            "FunctionName": function_name,
            FUNCTION_INVOCATIONS: 1,
            FUNCTION_ERRORS: 1 if failed else 0,
        }
    )


class LogTail:
    """The EMF data points appended to these log files since the last read (all of them on the first)."""

    MARKER = '"_aws"'

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = sorted(Path(path) for path in paths)
        self._offsets: dict[Path, int] = {}

    def read(self) -> Iterator[Datapoint]:
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[Datapoint]:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        offset = self._offsets.get(path, 0)
        if size < offset:  # truncated or replaced: from the start
            offset = 0
        if size == offset:
            return
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(size - offset)
        complete = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        self._offsets[path] = offset + complete
        for raw in chunk[:complete].splitlines():
            line = raw.decode("utf-8", errors="replace")
            if self.MARKER not in line or not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield from datapoints(record)
