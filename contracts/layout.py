"""Where a raw object lands, the contract between whoever writes raw/places/ (the collector, a person dropping a file,
the CLI's `reprocess`) and the transformer that reads it: raw/places/dt=YYYY-MM-DD/NAME, NAME ending in one of
SUPPORTED_SUFFIXES. The day is the collection day, the partition every table is read by (docs/architecture.md).

The prefix is services/common/names.py's RAW_PREFIX, written out here because contracts/ imports nothing from the
services; tests/unit/platform/test_layering.py holds the two equal.
"""

from __future__ import annotations

import re
from datetime import datetime

RAW_LAYOUT_PREFIX = "raw/places/"
SUPPORTED_SUFFIXES = (".jsonl.gz", ".jsonl", ".json")
_KEY = re.compile(rf"^{re.escape(RAW_LAYOUT_PREFIX)}dt=(?P<day>\d{{4}}-\d{{2}}-\d{{2}})/(?P<name>.+)\Z", re.DOTALL)


class ObjectLayoutError(ValueError):
    """The key does not follow raw/places/dt=YYYY-MM-DD/NAME(.jsonl|.jsonl.gz|.json)."""


def raw_day(key: str) -> tuple[str, str]:
    """(day, name) of a raw key; ObjectLayoutError names the expected layout."""
    match = _KEY.match(key)
    if not match:
        raise ObjectLayoutError(
            f"{key!r} is not under raw/places/dt=YYYY-MM-DD/: put raw files at raw/places/dt=<day>/<name>"
        )
    day, name = match.group("day"), match.group("name")
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise ObjectLayoutError(f"{key!r}: dt={day} is not a calendar day") from None
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise ObjectLayoutError(f"{key!r}: unsupported file type; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return day, name
