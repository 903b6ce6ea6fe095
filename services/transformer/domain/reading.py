"""Pure functions: turn one raw object's bytes into valid places and rejected lines, and render the validated
copy and the quarantine file. No I/O here."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from contracts.envelope import describe_validation_error
from services.common.names import QUARANTINE_PREFIX, VALIDATED_PREFIX
from services.transformer.domain.records import RawPlace

UNKNOWN_CITY = "unknown"
_KEY = re.compile(r"^raw/places/dt=(?P<day>\d{4}-\d{2}-\d{2})/(?P<name>.+)$")
_COLLECTOR_NAME = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9._:-]{0,79})__(?P<city>[a-z0-9-]+)\.jsonl(\.gz)?$")
SUPPORTED_SUFFIXES = (".jsonl.gz", ".jsonl", ".json")


class ObjectLayoutError(ValueError):
    """The key does not follow raw/places/dt=YYYY-MM-DD/NAME(.jsonl|.jsonl.gz|.json)."""


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object version named by an "Object Created" event."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    event_time: datetime
    event_id: str = ""

    @property
    def idempotency_key(self) -> str:
        """bucket/key#version: a re-delivered event maps to the same key, a new upload to a new one.

        Unversioned buckets (moto; version-id "null") have no version: the etag plus the EventBridge event id and
        time stand in, so the same content uploaded again is transformed again while a duplicate delivery of one
        event (same id, same time) is not. (moto repeats one event id for every upload and has 1 s times: two
        uploads of identical content within one second count as one there.)
        """
        version = self.version_id or f"{self.etag or ''}:{self.event_id}:{self.event_time.isoformat()}"
        return f"{self.bucket}/{self.key}#{version}"

    @property
    def version_label(self) -> str | None:
        return self.version_id or self.etag


@dataclass(frozen=True)
class Rejection:
    line: int | None  # from 1; None when the whole object is unreadable
    reason: str
    content: str


@dataclass
class ReadResult:
    places: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    problem: str | None = None  # why the object as a whole yielded nothing


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


def read_places(key: str, body: bytes) -> ReadResult:
    """Split an object into places (with their line number) and rejected lines (with the reason)."""
    result = ReadResult()
    if key.endswith(".gz"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            result.problem = f"not a readable gzip file ({exc.__class__.__name__}: {exc})"
            result.rejections.append(Rejection(None, result.problem, _as_text(body)))
            return result
    if not body.strip():
        result.problem = "the object is empty: no place to transform"
        return result
    if key.endswith(".json"):
        return _read_response_body(body, result)
    for number, raw_line in enumerate(body.splitlines(), start=1):
        if not raw_line.strip():
            continue
        result.lines += 1
        _accept(result, number, raw_line)
    if not result.places and result.problem is None:
        result.problem = f"none of its {result.lines} line(s) is a valid place (see the quarantine file)"
    return result


def _read_response_body(body: bytes, result: ReadResult) -> ReadResult:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problem = f"not JSON ({exc}); a .json file must be a searchText response body {{'places': [...]}}"
        result.rejections.append(Rejection(None, result.problem, _as_text(body)))
        return result
    places = document.get("places") if isinstance(document, dict) else None
    if not isinstance(places, list):
        result.problem = "a .json file must be a searchText response body with a 'places' array"
        result.rejections.append(Rejection(None, result.problem, _as_text(body)))
        return result
    for number, item in enumerate(places, start=1):
        result.lines += 1
        _accept(result, number, json.dumps(item, ensure_ascii=False).encode(), parsed=item)
    if not result.places and result.problem is None:
        result.problem = f"none of its {result.lines} place(s) is valid (see the quarantine file)"
    return result


def _accept(result: ReadResult, number: int, raw_line: bytes, parsed: Any = None) -> None:
    text = _as_text(raw_line)
    if parsed is None:
        try:
            parsed = json.loads(raw_line)
        except UnicodeDecodeError:
            result.rejections.append(Rejection(number, "not UTF-8 text", text))
            return
        except json.JSONDecodeError as exc:
            result.rejections.append(Rejection(number, f"invalid JSON: {exc.msg} at column {exc.colno}", text))
            return
    if not isinstance(parsed, dict):
        result.rejections.append(Rejection(number, f"not a JSON object but a {type(parsed).__name__}", text))
        return
    try:
        RawPlace.model_validate(parsed)
    except ValidationError as exc:
        result.rejections.append(Rejection(number, describe_validation_error("place", exc), text))
        return
    result.places.append((number, parsed))


def _as_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def dropped_run_id(ref: ObjectRef) -> str:
    """A run id for a file a person dropped: stable for one object version, so a re-delivery reuses it."""
    digest = hashlib.sha256(ref.idempotency_key.encode()).hexdigest()[:16]
    return f"drop-{digest}"


def infer_city(name: str) -> str:
    """The city of a file without _collection: from a collector-style name (<run>__<city-slug>), else unknown."""
    match = _COLLECTOR_NAME.match(name.rsplit("/", 1)[-1])
    if not match:
        return UNKNOWN_CITY
    return "-".join(part.capitalize() for part in match.group("city").split("-"))


def default_collection(ref: ObjectRef, name: str) -> dict[str, Any]:
    return {
        "run_id": dropped_run_id(ref),
        "city": infer_city(name),
        "run_cities": [],
        "trigger_source": "manual",
        "query": None,
        "rectangle": None,
        "page": 0,
        "collected_at": ref.event_time.astimezone(UTC).isoformat(),
    }


def validated_key(day: str, name: str) -> str:
    flat = name.replace("/", "__")
    return f"{VALIDATED_PREFIX}dt={day}/{flat if flat.endswith('.jsonl.gz') else flat + '.jsonl.gz'}"


def quarantine_key(key: str) -> str:
    return f"{QUARANTINE_PREFIX}{key}.rejected.jsonl"


def render_validated(ref: ObjectRef, name: str, places: list[tuple[int, dict[str, Any]]]) -> bytes:
    """The validated copy: one JSON object per line, `_collection` always present, `_source` added."""
    fallback = default_collection(ref, name)
    loaded_at = ref.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    lines = []
    for number, place in places:
        row = dict(place)
        row["_collection"] = row.get("_collection") or fallback
        row["_source"] = {"key": ref.key, "version": ref.version_label, "line": number, "loaded_at": loaded_at}
        lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    text = "".join(line + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def render_quarantine(ref: ObjectRef, rejections: list[Rejection]) -> bytes:
    records = [
        {
            "source_key": ref.key,
            "source_version": ref.version_label,
            "line": rejection.line,
            "reason": rejection.reason,
            "content": rejection.content,
        }
        for rejection in rejections
    ]
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
