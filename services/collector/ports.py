"""What the collector's use case and domain need from the outside. adapters/ implements them (aiohttp against the
Places API, S3, a gzip spool file, a pacer); the unit tests hand in small fakes (tests/unit/collector/fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from services.collector.domain.model import Counters, Failure
from services.common.ports import Ledger, Publisher

__all__ = [
    "ApiKeySource",
    "KeyUnavailable",
    "Ledger",
    "Limiter",
    "PlacesApi",
    "Publisher",
    "RawObjects",
    "Spool",
    "SpoolFactory",
    "Stored",
]


class PlacesApi(Protocol):
    """Text Search, one page per call; `fatal` is set once a failure concerns the whole request (the key, the day's
    quota), and every later call raises it."""

    fatal: Failure | None

    async def search_text(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]: ...


class Stored(Protocol):
    @property
    def places(self) -> int | None: ...

    @property
    def etag(self) -> str | None: ...


class RawObjects(Protocol):
    """The raw objects: find one that exists, write one only if none exists (write-once). put_once returns the
    written object's ETag, None when an object was there already."""

    def find(self, key: str) -> Stored | None: ...

    def put_once(self, key: str, path: Path, metadata: dict[str, str]) -> str | None: ...


class Spool(Protocol):
    """Where a city's places go as they arrive, until the city is complete and written in one put."""

    path: Path
    lines: int

    def write(self, place: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Spool: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


SpoolFactory = Callable[[], Spool]


class Limiter(Protocol):
    """Paces requests to the quota: `acquire` returns when one more request may leave, and a grant to give back to
    `done` once the request is answered (it counts against the quota from its answer: adapters/pacing.py)."""

    async def acquire(self) -> Any: ...

    def done(self, grant: Any) -> None: ...


class KeyUnavailable(Exception):
    """No API key could be obtained. The message names where it should come from, never a key."""


ApiKeySource = Callable[[], str]  # the Places API key, or KeyUnavailable
