"""Pure functions: turn one raw object's bytes into its validated copy and its rejected lines (streamed, within
ReadLimits), and name the keys it is written under (never a path or a pattern made of the raw key). No I/O here."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from contracts.columns import INTEGER_RANGES
from contracts.envelope import describe_validation_error
from contracts.events import CITY_METADATA_KEY, UNKNOWN_CITY
from contracts.layout import ObjectLayoutError, raw_day
from contracts.records import LINE_COLUMNS, Collection, RawPlace, Source
from services.common.names import QUARANTINE_PREFIX, RAW_PREFIX, VALIDATED_PREFIX
from services.transformer.domain.records import column_problem

CITY_MAX_LENGTH = 100  # contracts.events.CityName
MiB = 1024 * 1024
_COLLECTOR_NAME = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9._:-]{0,79})__(?P<city>[a-z0-9-]+)\.jsonl(\.gz)?$")


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
    validated: bytes = b""  # the validated copy (gzip JSON lines)
    valid_lines: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    problem: str | None = None  # why the object as a whole yielded nothing
    cities: list[str] = field(default_factory=list)  # of the valid places, in order of appearance
    run_cities: list[str] = field(default_factory=list)  # the run's cities, as its first valid place carries them


DAYS_AHEAD_MAX = 1  # a partition day may be the day after the object landed (UTC: a collector east of UTC), not later


def future_day_problem(day: str, landed: datetime) -> str | None:
    """Why a partition day cannot be the collection day of an object that landed at `landed` (its S3 event time),
    or None. A day later than the day after the landing day (UTC) is refused: its places would be the latest
    collection of every place they name, in the marts for good (raw/places/dt=2099-01-01/ reusing today's ids)."""
    landed_day = (landed if landed.tzinfo else landed.replace(tzinfo=UTC)).astimezone(UTC).date()
    limit = landed_day + timedelta(days=DAYS_AHEAD_MAX)
    if date.fromisoformat(day) <= limit:
        return None
    return (
        f"dt={day} is later than {limit.isoformat()}, the day after the object landed ({landed_day.isoformat()}, "
        f"UTC): a partition day is the day the places were collected, at most {DAYS_AHEAD_MAX} day after the upload. "
        "Nothing was built from it; move the file under raw/places/dt=<the day it was collected>/"
    )


@dataclass(frozen=True)
class ReadLimits:
    """What one raw object may hold (docs/transformer.md, "Limits"). Each breach costs a line or the object, never
    the batch: the line or the object is quarantined with its reason, and the raw object itself is kept as it came.

    Sized against the function's 2,048 MB: an object is streamed (decompressed and validated line by line, the
    validated copy compressed as it is written), so memory holds one line and the compressed output, not the file.
    """

    object_bytes: int = 256 * MiB  # as stored; a bigger object is refused before it is downloaded
    expanded_bytes: int = 512 * MiB  # after gzip: a compression bomb stops here
    lines: int = 1_000_000  # blank lines included: a file of newlines stops here
    line_bytes: int = 1 * MiB  # a place with its five reviews is ~10 KB
    document_bytes: int = 16 * MiB  # a .json response body is parsed whole (a searchText page is ~200 KB)
    depth: int = 32  # a place nests ~5 levels deep
    quarantine_bytes: int = 64 * MiB  # line content copied into one quarantine file; past it, the line number


LIMITS = ReadLimits()
_INT64 = INTEGER_RANGES["bigint"]  # the widest integer either warehouse holds, wherever it is in a line
_CHUNK = 1 * MiB
_PREVIEW = 4096  # what a quarantine record keeps of a line too long to keep whole


@dataclass(frozen=True)
class RunIdentity:
    """Which run an object's places belong to, as the transformer decided it (domain/identity.py).

    collected: the run is the collection the ledger knows wrote this object; otherwise the object is a dropped
    file with a run of its own (run_id "drop-..."), whatever its lines claim.
    """

    run_id: str
    collected: bool
    run_cities: tuple[str, ...] = ()
    note: str | None = None  # why a run the object named was not accepted


class _LineRejected(ValueError):
    pass


class _ObjectRejected(ValueError):
    pass


def day_of(key: str) -> str | None:
    """The collection day of a raw key, or None when the key is outside the layout."""
    try:
        return raw_day(key)[0]
    except ObjectLayoutError:
        return None


def read_object(
    ref: ObjectRef,
    name: str,
    body: bytes,
    identity: RunIdentity,
    limits: ReadLimits = LIMITS,
    city: str | None = None,
) -> ReadResult:
    """Validate one raw object, streaming: valid places go to the validated copy (gzip, `_collection` set from
    `identity`, `_source` added), the others to `rejections` with their reason. `city`: what the object says of
    its city (its metadata), for the lines without collection metadata."""
    result = ReadResult()
    writer = _ValidatedWriter(ref, name, identity, city)
    try:
        if name.endswith(".json"):
            _read_document(_expanded(ref.key, body, limits), result, writer, limits)
        else:
            _read_lines(_expanded(ref.key, body, limits), result, writer, limits)
    except _ObjectRejected as exc:
        result.problem = str(exc)
        result.rejections = [Rejection(None, result.problem, _preview(body))]
        result.valid_lines = 0
        writer = _ValidatedWriter(ref, name, identity)  # nothing of a refused object is kept
    result.validated = writer.close()
    result.cities = writer.cities
    result.run_cities = writer.run_cities
    if result.problem is None:
        if result.lines == 0:
            result.problem = "the object is empty: no place to transform"
        elif result.valid_lines == 0:
            what = "place(s)" if name.endswith(".json") else "line(s)"
            result.problem = f"none of its {result.lines} {what} is a valid place (see the quarantine file)"
    return result


def read_places(key: str, body: bytes, limits: ReadLimits = LIMITS) -> ReadResult:
    """read_object for a key alone (tests, tools): the places of a dropped file, validated."""
    ref = ObjectRef("-", key, None, None, len(body), datetime(1970, 1, 1, tzinfo=UTC))
    name = key.rsplit("/", 1)[-1]
    return read_object(ref, name, body, RunIdentity(dropped_run_id(ref), collected=False), limits)


def _expanded(key: str, body: bytes, limits: ReadLimits) -> Iterator[bytes]:
    """The object's bytes in chunks, decompressed when gzip, stopping at limits.expanded_bytes."""
    stream: Any = gzip.GzipFile(fileobj=io.BytesIO(body)) if key.endswith(".gz") else io.BytesIO(body)
    total = 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            raise _ObjectRejected(f"not a readable gzip file ({exc.__class__.__name__}: {exc})") from None
        if not chunk:
            return
        total += len(chunk)
        if total > limits.expanded_bytes:
            raise _ObjectRejected(
                f"expands to more than {limits.expanded_bytes // MiB} MiB (the limit of one object): "
                "split it into several files"
            )
        yield chunk


def _read_lines(chunks: Iterator[bytes], result: ReadResult, writer: _ValidatedWriter, limits: ReadLimits) -> None:
    budget = _Budget(limits.quarantine_bytes)
    for number, line, length in _split_lines(chunks, limits):
        if not line.strip():
            continue
        result.lines += 1
        if length > limits.line_bytes:
            reason = f"line of {length:,} bytes, longer than the limit of {limits.line_bytes // MiB} MiB"
            result.rejections.append(Rejection(number, reason, budget.take(number, _as_text(line) + " [...]")))
            continue
        try:
            place = _validated(_parse(line, limits))
        except _LineRejected as exc:
            result.rejections.append(Rejection(number, str(exc), budget.take(number, _as_text(line))))
            continue
        writer.write(number, place)
        result.valid_lines += 1


def _split_lines(chunks: Iterator[bytes], limits: ReadLimits) -> Iterator[tuple[int, bytes, int]]:
    """(line number, the line or its first bytes when too long, its full length), never holding a long line."""
    pending = bytearray()
    length = 0
    number = 0
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end == -1 else chunk[start:end]
            length += len(piece)
            if length <= limits.line_bytes:
                pending += piece
            else:  # too long: keep a preview for the quarantine record, count the rest
                del pending[_PREVIEW:]
                pending += piece[: max(0, _PREVIEW - len(pending))]
            if end == -1:
                break
            number += 1
            if number > limits.lines:
                raise _ObjectRejected(f"more than {limits.lines:,} lines (the limit of one object): split it")
            yield number, bytes(pending).rstrip(b"\r"), length
            pending.clear()
            length = 0
            start = end + 1
    if length:
        number += 1
        if number > limits.lines:
            raise _ObjectRejected(f"more than {limits.lines:,} lines (the limit of one object): split it")
        yield number, bytes(pending).rstrip(b"\r"), length


def _read_document(chunks: Iterator[bytes], result: ReadResult, writer: _ValidatedWriter, limits: ReadLimits) -> None:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limits.document_bytes:
            raise _ObjectRejected(
                f"a .json file larger than {limits.document_bytes // MiB} MiB: land big files as .jsonl (one place "
                "per line)"
            )
    if not bytes(body).strip():
        return
    try:
        document = _parse(bytes(body), limits)
    except _LineRejected as exc:
        raise _ObjectRejected(
            f"not JSON ({exc}); a .json file must be a searchText response body {{'places': [...]}}"
        ) from None
    places = document.get("places") if isinstance(document, dict) else None
    if not isinstance(places, list):
        raise _ObjectRejected("a .json file must be a searchText response body with a 'places' array")
    budget = _Budget(limits.quarantine_bytes)
    for number, item in enumerate(places, start=1):
        result.lines += 1
        try:
            place = _validated(item)
        except _LineRejected as exc:
            content = _writable(json.dumps(item, ensure_ascii=False))
            result.rejections.append(Rejection(number, str(exc), budget.take(number, content)))
            continue
        writer.write(number, place)
        result.valid_lines += 1


def _parse(raw: bytes, limits: ReadLimits) -> Any:
    """JSON as both warehouses can hold it: no NaN or Infinity, integers within 64 bits, limited nesting."""
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_int=_int64, parse_float=_finite)
    except UnicodeDecodeError:
        raise _LineRejected("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _LineRejected(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _LineRejected(f"nested deeper than {limits.depth} levels") from None
    if _depth(parsed) > limits.depth:
        raise _LineRejected(f"nested deeper than {limits.depth} levels")
    return parsed


def _no_constant(name: str) -> Any:
    raise _LineRejected(f"{name} is not a JSON number (write null for a missing value)")


def _int64(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > 19 or not _INT64[0] <= int(text) <= _INT64[1]:
        shown = text if len(text) <= 24 else f"{text[:20]}... ({len(digits)} digits)"
        raise _LineRejected(f"integer {shown} does not fit in 64 bits")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _LineRejected(f"number {text[:24]} is too large for a double")
    return value


def _depth(value: Any) -> int:
    """How deep a parsed JSON value nests (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _validated(parsed: Any) -> dict[str, Any]:
    if not isinstance(parsed, dict):
        raise _LineRejected(f"not a JSON object but a {type(parsed).__name__}")
    _refuse_lone_surrogates(parsed)
    try:
        RawPlace.model_validate(parsed)
    except ValidationError as exc:
        raise _LineRejected(describe_validation_error("place", exc)) from None
    # The types are right; the values must also fit the warehouse columns they land in (records.RAW_COLUMNS, the
    # Glue table and DuckDB's read alike): one value neither can hold would fail the whole build of its object.
    problem = column_problem(parsed, LINE_COLUMNS)
    if problem:
        raise _LineRejected(problem)
    return parsed


def _refuse_lone_surrogates(value: Any) -> None:
    """A `\\ud800` escape with no partner parses into a string that is not Unicode: no UTF-8 writer (the validated
    copy, either warehouse) can store it, so its place is refused here, by the field that holds it."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                _refuse_in_text(str(key), path)  # a key is a string too
                stack.append((child, path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, str):
            _refuse_in_text(item, where)


def _refuse_in_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        at = f" at {_writable(where)}" if where else ""
        raise _LineRejected(
            f"lone UTF-16 surrogate \\u{code:04x} in a string{at}: not valid Unicode; the warehouses cannot store it"
        ) from None


def _writable(text: str) -> str:
    """`text` with each lone surrogate written as its escape (the six characters \\ud800): UTF-8 can hold it."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


class _Budget:
    """How much line content one quarantine file copies; past it, the record points at the raw object's line."""

    def __init__(self, limit: int) -> None:
        self._left = limit

    def take(self, number: int, content: str) -> str:
        size = len(content.encode("utf-8", errors="replace"))
        if size > self._left:
            self._left = 0
            return f"[not copied: the quarantine file is full; read line {number} of the raw object]"
        self._left -= size
        return content


def _preview(body: bytes) -> str:
    return _as_text(body[:_PREVIEW]) + (" [...]" if len(body) > _PREVIEW else "")


class _ValidatedWriter:
    """The validated copy, compressed as it is written: one JSON object per line, `_collection` as the run
    identity says, `_source` added. Cities are the `_collection` cities of the places written."""

    def __init__(self, ref: ObjectRef, name: str, identity: RunIdentity, city: str | None = None) -> None:
        self._ref = ref
        self._identity = identity
        self._fallback = default_collection(ref, name, identity, city)
        self._loaded_at = ref.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self._buffer = io.BytesIO()
        self._gzip = gzip.GzipFile(fileobj=self._buffer, mode="wb", mtime=0)
        self.cities: list[str] = []
        self.run_cities: list[str] = []

    def write(self, number: int, place: dict[str, Any]) -> None:
        row = dict(place)
        row["_collection"] = self._collection(place.get("_collection"))
        row["_source"] = Source(
            key=self._ref.key, version=self._ref.version_label, line=number, loaded_at=self._loaded_at
        ).model_dump()
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        self._gzip.write(line.encode("utf-8") + b"\n")
        city = row["_collection"]["city"]
        if city not in self.cities:
            self.cities.append(city)
        if not self.run_cities:
            self.run_cities = list(row["_collection"]["run_cities"])

    def _collection(self, claimed: dict[str, Any] | None) -> dict[str, Any]:
        if not claimed:
            return self._fallback
        collection = dict(claimed)
        collection["run_id"] = self._identity.run_id  # the run is the transformer's decision, not the line's
        if self._identity.collected:
            if self._identity.run_cities:
                collection["run_cities"] = list(self._identity.run_cities)
        else:  # a dropped file: its places are data, its run claims are not
            collection["run_cities"] = []
            collection["trigger_source"] = "manual"
        return collection

    def close(self) -> bytes:
        self._gzip.close()
        return self._buffer.getvalue()


def _as_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def dropped_run_id(ref: ObjectRef) -> str:
    """A run id for a file a person dropped: stable for one object version, so a re-delivery reuses it."""
    digest = hashlib.sha256(ref.idempotency_key.encode()).hexdigest()[:16]
    return f"drop-{digest}"


def infer_city(name: str) -> str:
    """The city of a file without _collection: from a collector-style name (<run>__<city-slug>), else unknown."""
    match = _COLLECTOR_NAME.match(name)
    if not match:
        return UNKNOWN_CITY
    return "-".join(part.capitalize() for part in match.group("city").split("-"))


def collector_run(name: str) -> str | None:
    """The run id a collector-style name carries (<run>__<city-slug>.jsonl[.gz]), else None."""
    match = _COLLECTOR_NAME.match(name)
    return match.group("run") if match else None


def declared_city(metadata: dict[str, str]) -> str | None:
    """The city an object's user metadata names (CITY_METADATA_KEY: `--metadata city=Lyon` with the aws CLI,
    `reprocess --city`), or None when it names none. A value is read as percent-encoding (what `reprocess` writes
    for a name beyond ASCII: S3 metadata travels as HTTP headers) or RFC 2047 (how S3 returns a non-ASCII value it
    was given: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata)."""
    raw = metadata.get(CITY_METADATA_KEY)
    if raw is None:
        return None
    text = raw.strip()
    if text.startswith("=?"):
        from email.header import decode_header, make_header

        with contextlib.suppress(ValueError, LookupError):  # not RFC 2047 after all: read as it is
            text = str(make_header(decode_header(text)))
    city = unquote(text).strip()
    if not city or len(city) > CITY_MAX_LENGTH or city.casefold() == UNKNOWN_CITY:
        return None
    return city


def default_collection(
    ref: ObjectRef, name: str, identity: RunIdentity | None = None, city: str | None = None
) -> dict[str, Any]:
    """`_collection` for a place that came without one: its city from the object's metadata, else the name.
    Built through the contract's model, like the collector's."""
    return Collection(
        run_id=identity.run_id if identity else dropped_run_id(ref),
        city=city or infer_city(name),
        run_cities=list(identity.run_cities) if identity and identity.collected else [],
        trigger_source="manual",
        page=0,
        collected_at=ref.event_time.astimezone(UTC).isoformat(),
    ).model_dump()


_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
NAME_LIMIT = 200


def safe_name(name: str) -> str:
    """A raw object's name as a key part that is never a path or a pattern, one to one: every character but
    letters, digits and `._-` becomes ~XX per UTF-8 byte (so `/`, `*`, `?`, `[`, `%` and `~` itself cannot reach
    DuckDB's globs or a file system), and a name longer than NAME_LIMIT keeps its start and gets `~~` plus a
    digest of the whole name."""
    encoded = "".join(
        ch if ch in _PLAIN else "".join(f"~{byte:02X}" for byte in ch.encode(errors="surrogatepass")) for ch in name
    )
    if len(encoded) <= NAME_LIMIT:
        return encoded
    digest = hashlib.sha256(name.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
    return f"{encoded[: NAME_LIMIT - 34]}~~{digest}"


# Between a name and its version in a derived key: safe_name never writes "~v" (its "~" is always followed by two
# hex digits or by the "~~" of a long name's digest), so (name, version) -> key is one to one.
VERSION_MARK = "~v"


def version_part(version: str | None) -> str:
    """An object version as a key part (safe_name): its version id, else its ETag (ObjectRef.version_label), else
    nothing (no version id is empty)."""
    return safe_name(version or "")


def validated_key(day: str, name: str, version: str | None) -> str:
    """Where the validated copy of one raw object version goes:
    validated/places/dt=<day>/<safe name>~v<version>.jsonl.gz. One key per raw name and version, never shared: two
    versions of one key are two copies, and names that differ only by a suffix (menu.jsonl, menu.jsonl.jsonl.gz)
    stay apart."""
    return f"{VALIDATED_PREFIX}dt={day}/{safe_name(name)}{VERSION_MARK}{version_part(version)}.jsonl.gz"


def quarantine_key(key: str, version: str | None) -> str:
    """Where the rejected lines of a raw object version go:
    quarantine/raw/places/dt=<day>/<safe name>~v<version>.rejected.jsonl (one to one, as validated_key)."""
    day, name = raw_day(key)
    return (
        f"{QUARANTINE_PREFIX}{RAW_PREFIX}dt={day}/{safe_name(name)}{VERSION_MARK}{version_part(version)}.rejected.jsonl"
    )


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
