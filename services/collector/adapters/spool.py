"""A city's places spooled to a gzip NDJSON temp file while they arrive, so that the object is written in
one put at the end (nothing partial ever reaches S3) without holding every place in memory twice."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any


class PlaceSpool:
    def __init__(self, directory: str | None = None) -> None:
        handle, name = tempfile.mkstemp(prefix="places-", suffix=".jsonl.gz", dir=directory)
        self.path = Path(name)
        self._file: IO[bytes] = os.fdopen(handle, "wb")
        # mtime=0: the same places give the same bytes (no timestamp in the gzip header)
        self._gzip: gzip.GzipFile | None = gzip.GzipFile(fileobj=self._file, mode="wb", mtime=0)
        self.lines = 0

    def write(self, place: dict[str, Any]) -> None:
        if self._gzip is None:
            raise RuntimeError("the spool is closed")
        self._gzip.write(json.dumps(place, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        self.lines += 1

    def close(self) -> None:
        """Finish the gzip stream; the file stays until the spool is discarded."""
        if self._gzip is not None:
            self._gzip.close()
            self._gzip = None
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> PlaceSpool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()
