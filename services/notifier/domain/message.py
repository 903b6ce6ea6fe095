"""An email, and what rendering one needs besides the run's outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


@dataclass(frozen=True)
class EmailContext:
    """What the rendering needs besides the events (all optional)."""

    log_location: str = ""  # AWS: CloudWatch console URL prefix; locally: the logs folder
    max_receive_count: int = 3
    requested_at: datetime | None = None  # when the run was requested (from the ledger)
    now: datetime | None = None
    repeat_window: timedelta | None = None
