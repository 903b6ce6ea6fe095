"""Shared measuring tools for the benchmarks: repeated timings as median/min/max, machine and version info.

Benchmarks report ratios against a baseline measured side by side in the same run, never absolute
thresholds: these machines are noisy (2 cores).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

VERSIONED = ("duckdb", "dbt-core", "dbt-duckdb", "moto", "boto3", "aiohttp", "aws-lambda-powertools", "pydantic")


@dataclass(frozen=True)
class Stats:
    median: float
    min: float
    max: float
    runs: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def stats(values: list[float]) -> Stats:
    if not values:
        raise ValueError("no measurements")
    return Stats(median=statistics.median(values), min=min(values), max=max(values), runs=len(values))


def time_runs(function: Callable[[], Any], repeats: int, warmup: int = 0) -> Stats:
    """Wall time of `function` in seconds over `repeats` runs (after `warmup` unmeasured ones)."""
    for _ in range(warmup):
        function()
    values = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        values.append(time.perf_counter() - started)
    return stats(values)


def machine_info() -> dict[str, Any]:
    memory_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            kib = int(meminfo.readline().split()[1])
            memory_gib = round(kib / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
    }


def versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
