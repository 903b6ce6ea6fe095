"""The transformer's use case over one SQS (FIFO) batch of S3 "Object Created" events.

TransformBatch: parse each record at the edge (an event that is not a raw object is acknowledged; a malformed one
fails alone) -> claim each object version once (Claims; `claim` is the record handler of the handler's batch
processor) -> then `finish`: coalesce (claim the other versions waiting under the same days, up to the caps) -> one
transform over all of them (the domain: validate, one build, describe per run) -> record the ledger (before the
announcement: the notifier mails only runs the ledger knows) -> publish the outcomes -> complete the claims.

An infrastructure failure is classified (domain/failures.py). A transient one releases the claims and fails the
batch's records (one build covered them all): SQS retries them after a short backoff (their visibility is changed:
30 s, 60 s, ...), not after the queue's visibility timeout, an hour that would hold back the whole message group.
On a record's last receive its object is announced as an error before SQS moves the message to the dead-letter
queue, so the failure reaches an email instead of waiting there unseen. A final one (a denied permission, a missing
bucket...) is announced the same way at once, on the first receive, and its messages are copied to the
dead-letter queue and acknowledged: the next objects are built now, and `dlq replay transformer` retries it once a
person has fixed the cause. A final failure reading one object costs that object alone: the rest of the build is
done again without it.
The handler runs it through Powertools' batch processor (handler.process_batch); unit tests call that with fakes,
integration tests with moto-backed adapters (bootstrap.py).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models.s3 import S3EventNotificationEventBridgeDetailModel
from pydantic import ValidationError

from contracts.envelope import ContractError, describe_validation_error, parse_eventbridge_event
from contracts.events import TransformCompleted
from services.common.names import RAW_PREFIX
from services.transformer.domain.failures import FIRST_RETRY_SECONDS, classify, final_cause, retry_delay_seconds
from services.transformer.domain.limits import OBJECT_LIST_MAX_BYTES, listed_bytes
from services.transformer.domain.model import (
    SET_ASIDE,
    InfrastructureError,
    ObjectMissing,
    ObjectUnreadable,
    QueuedMessage,
    RawObject,
    StoredVersion,
)
from services.transformer.domain.reading import ObjectRef, day_of
from services.transformer.domain.transform import (
    Prepared,
    build_and_describe,
    dead_letter_events,
    prepare_objects,
)
from services.transformer.ports import (
    Builder,
    Claims,
    Ledger,
    MartReader,
    MessageQueue,
    ObjectStore,
    Publisher,
    RunHistory,
)

OBJECT_CREATED = "Object Created"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9/._=-]*")
MiB = 1024 * 1024
# S3, DynamoDB and the bus are I/O bound: objects are read, claimed and recorded a few at a time.
IO_THREADS = 8

T = TypeVar("T")
R = TypeVar("R")


class ObjectBusy(RuntimeError):
    """Another invocation is processing this object version right now: retry later."""


@dataclass(frozen=True)
class Coalescing:
    """How far one invocation reaches beyond its batch (restaurant_pipeline/model/topology.py). max_objects 0: off."""

    max_objects: int = 1000
    max_bytes: int = 1024 * MiB
    window: timedelta = timedelta(hours=24)
    max_list_bytes: int = OBJECT_LIST_MAX_BYTES  # the build's object list in its SQL statement (domain/limits.py)


@dataclass
class TransformerDeps:
    """Every adapter a batch needs, built by bootstrap.py (once per execution environment by the handler); fakes in
    tests. With the NLP stage on, `builder` is a ScoringBuilder around dbt (domain/sentiment.py)."""

    store: ObjectStore
    builder: Builder
    marts: MartReader
    claims: Claims
    publisher: Publisher
    ledger: Ledger
    runs: RunHistory | None = None  # what the ledger knows of a run: who may claim it (domain/identity.py)
    coalescing: Coalescing = field(default_factory=Coalescing)
    max_receive_count: int = 3
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # The function's own queue: a failed message's backoff and the copy of a final one to the dead-letter queue.
    # None: failed messages wait the queue's visibility timeout and a final failure is retried like any other.
    queue: MessageQueue | None = None
    retry_backoff_seconds: int = FIRST_RETRY_SECONDS  # the first retry's delay (domain/failures.py), then doubled


@dataclass
class BatchOutcome:
    response: dict[str, Any]
    events: list[TransformCompleted] = field(default_factory=list)
    ignored: int = 0
    duplicates: int = 0
    coalesced: int = 0  # objects built here though their own message had not arrived yet
    error: Exception | None = None  # an infrastructure failure: the batch's claimed records are retried
    dead_lettered: list[TransformCompleted] = field(default_factory=list)  # announced on their last receive
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (SQS message id, why): failed alone
    final: bool = False  # `error` is final (domain/failures.py): no retry can cure it
    set_aside: list[str] = field(default_factory=list)  # message ids copied to the dead-letter queue and acknowledged
    retry_delays: dict[str, int] = field(default_factory=dict)  # message id -> seconds until it is received again


def object_ref_from_body(body: str | dict[str, Any]) -> ObjectRef | None:
    """The object of an S3 "Object Created" event under raw/places/, or None for anything else (acknowledged).

    ContractError when the body is not an EventBridge event or its detail is not an S3 notification.
    """
    event = parse_eventbridge_event(body)
    if event.source != "aws.s3" or event.detail_type != OBJECT_CREATED:
        return None
    raw_detail = event.detail if isinstance(event.detail, dict) else {}
    try:
        detail = S3EventNotificationEventBridgeDetailModel.model_validate(raw_detail)
    except ValidationError as exc:
        raise ContractError(describe_validation_error("S3 Object Created event", exc)) from None
    if not detail.object.key.startswith(RAW_PREFIX):
        return None
    # AWS spells it etag, moto eTag (the Powertools model only knows etag)
    etag = detail.object.etag or raw_detail.get("object", {}).get("eTag") or None
    version = detail.object.version_id if detail.object.version_id not in (None, "", "null") else None
    size = int(detail.object.size) if detail.object.size is not None else None
    time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    return ObjectRef(detail.bucket.name, detail.object.key, version, etag, size, time, event.id)


class TransformBatch:
    """One SQS batch (FIFO, one message group) in two steps around the handler's batch processor: `claim` is its
    record handler (claim each new object; a record that raises fails alone), then `finish` claims the objects
    waiting beside them, runs one transform, publishes, records, and answers the batch's failures."""

    def __init__(self, event: dict[str, Any], deps: TransformerDeps, remaining_ms: Callable[[], int | None]) -> None:
        self.deps, self.remaining_ms = deps, remaining_ms
        self.claimed: list[tuple[ObjectRef, int, str]] = []  # (object, times its message was received, message id)
        self.unclaimable: list[tuple[ObjectRef, int, Exception]] = []
        self.built_ahead: list[ObjectRef] = []  # objects of this batch already built (by a coalesced build)
        self.outcome = BatchOutcome(response={})
        self.records: list[dict[str, Any]] = event.get("Records", [])
        self.messages = {m.message_id: m for m in map(_queued_message, self.records) if m is not None}

    def claim(self, record: SQSRecord) -> None:
        deps, outcome = self.deps, self.outcome
        try:
            ref = object_ref_from_body(record.body)
        except ContractError as exc:
            outcome.malformed.append((record.message_id, str(exc)))
            raise
        if ref is None:
            outcome.ignored += 1
            return
        ref = _as_stored(ref, deps.store)
        receives = int(record.attributes.approximate_receive_count or 1)
        try:
            claim = deps.claims.claim(ref.idempotency_key, self.remaining_ms())
            if claim.state == "done" and (claim.result or {}).get(SET_ASIDE):
                # set aside after a final failure: this message (a replay from the dead-letter queue, or its own
                # message after it failed as another batch's coalesced object) builds it again
                deps.claims.release(ref.idempotency_key, InfrastructureError("taken back after being set aside"))
                claim = deps.claims.claim(ref.idempotency_key, self.remaining_ms())
        except Exception as exc:  # the claims table is unreachable: this record is retried like a failed build
            self.unclaimable.append((ref, receives, exc))
            raise
        if claim.state == "done":
            outcome.duplicates += 1
            self.built_ahead.append(ref)
            return
        if claim.state == "busy":
            raise ObjectBusy(f"{ref.key} is being transformed by another invocation; retrying later")
        self.claimed.append((ref, receives, record.message_id))

    def finish(self, failed: list[str]) -> BatchOutcome:
        """After every record went through `claim`; `failed`: the message ids of the records it failed."""
        deps, outcome, remaining_ms, claimed = self.deps, self.outcome, self.remaining_ms, self.claimed
        failed = list(failed)
        runs = deps.runs.facts if deps.runs is not None else (lambda run_id: None)
        last_unclaimable = [(ref, exc) for ref, receives, exc in self.unclaimable if receives >= deps.max_receive_count]
        if last_unclaimable:
            outcome.error = last_unclaimable[0][1]
            outcome.dead_lettered = _announce_dead_letters(
                [ref for ref, _ in last_unclaimable], last_unclaimable[0][1], deps, runs, []
            )
        refs = [ref for ref, _, _ in claimed]
        # Beside its own objects, a build takes those waiting under the same days. A batch whose objects were all
        # built ahead (a burst's messages after its coalesced build) builds what still waits now, not when a message
        # of it comes up after tens of such batches.
        refs += _coalesce(refs or self.built_ahead, refs, deps, remaining_ms, outcome)
        own = {ref.idempotency_key: (message_id, receives) for ref, receives, message_id in claimed}
        settle = _Settlement(deps, outcome, runs, own, self.messages)
        events: list[TransformCompleted] = []
        while refs:
            started = time.monotonic()
            attempt = _Attempt()
            try:
                events = _transform(refs, deps, runs, attempt, remaining_ms)
                break
            except Exception as exc:
                outcome.error = exc
                outcome.final = classify(exc) == "final"
                culprit = _culprit(exc, refs) if outcome.final else None
                if culprit is not None:
                    # One object cannot be read, and no retry will change that: it alone is set aside; the others
                    # are built again now if the time left allows it (reading failed before the build), else soon.
                    refs = [ref for ref in refs if ref is not culprit]
                    settle.fail(settle.set_aside([culprit], exc, attempt.prepared), exc, attempt.prepared)
                    took_ms = (time.monotonic() - started) * 1000
                    left = remaining_ms()
                    if left is None or left > 2 * took_ms + REBUILD_MARGIN_MS:
                        continue
                    settle.fail(refs, exc, attempt.prepared, delay=0)
                    break
                if outcome.final:
                    own_refs = [ref for ref in refs if ref.idempotency_key in own]
                    kept = settle.set_aside(own_refs, exc, attempt.prepared)
                    settle.fail([ref for ref in refs if ref.idempotency_key not in own] + kept, exc, attempt.prepared)
                else:
                    settle.fail(refs, exc, attempt.prepared)
                break
        outcome.events = events
        failed += settle.failed
        outcome.response = {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
        settle.retry_later(failed)
        return outcome


# A failed read left this much time (on top of twice what the attempt took) before the rest is built again at once.
REBUILD_MARGIN_MS = 30_000


@dataclass
class _Attempt:
    prepared: list[Prepared] = field(default_factory=list)


def _transform(
    refs: list[ObjectRef],
    deps: TransformerDeps,
    runs: Callable[[str], Any],
    attempt: _Attempt,
    remaining_ms: Callable[[], int | None],
) -> list[TransformCompleted]:
    """Validate, build, record, publish, complete the claims: the objects' transform, or the exception that ended it."""
    with ThreadPoolExecutor(IO_THREADS) as pool:
        store = _AttributedStore(deps.store)
        batch = prepare_objects(refs, store=store, runs=runs, mapper=_ordered_map(pool))
        attempt.prepared = batch.objects
        events = build_and_describe(batch, builder=deps.builder, marts=deps.marts, remaining_ms=remaining_ms)
        # per object version: two versions of one key may share a batch, each with its own run and outcome
        by_version = {
            (source.key, source.version_id, source.etag): (e.run_id, e.outcome) for e in events for source in e.sources
        }

        def outcome_of(ref: ObjectRef) -> tuple[str, str]:
            return by_version.get((ref.key, ref.version_id, ref.etag), ("", "error"))

        def record(ref: ObjectRef) -> bool:
            run_id, result = outcome_of(ref)
            # one step per outcome: a retry that ends otherwise (a transient error cured) is vouched for too
            return deps.ledger.record(
                run_id,
                "TRANSFORMED",
                ref.key,
                "transformer",
                {"outcome": result},
                version=ref.version_label,
                variant=result,
            )

        # Recorded before the outcome is announced: the notifier mails an event only when the ledger holds the
        # transformer's step for each object version it names, with its outcome (services/notifier/domain/trust.py).
        # An outcome the ledger did not take would be refused as unverifiable: it is not announced, and retried.
        unrecorded = [ref.key for ref, recorded in zip(refs, pool.map(record, refs), strict=True) if not recorded]
        if unrecorded:
            raise InfrastructureError(
                f"the run ledger did not take the outcome of {len(unrecorded)} object(s) (first: {unrecorded[0]}): "
                "not announced, since the notifier mails only what the ledger vouches for; retried"
            )
        deps.publisher.publish(events)

        def complete(ref: ObjectRef) -> None:
            run_id, result = outcome_of(ref)
            deps.claims.complete(ref.idempotency_key, {"run_id": run_id, "outcome": result})

        list(pool.map(complete, refs))
    return events


class _AttributedStore:
    """The store, whose read failures name the object they belong to (ObjectUnreadable): a final one costs that
    object alone."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def get(self, key: str, version_id: str | None, max_bytes: int) -> RawObject:
        try:
            return self._store.get(key, version_id, max_bytes)
        except ObjectUnreadable:
            raise
        except InfrastructureError as exc:
            raise ObjectUnreadable(key, version_id, exc) from exc

    def locate(self, key: str, version_id: str | None) -> str:
        return self._store.locate(key, version_id)

    def waiting_versions(self, prefix: str, since: datetime) -> list[StoredVersion]:
        return self._store.waiting_versions(prefix, since)

    def superseded_by(self, key: str, version_id: str | None) -> str | None:
        try:
            return self._store.superseded_by(key, version_id)
        except InfrastructureError as exc:
            raise ObjectUnreadable(key, version_id, exc) from exc

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._store.put(key, body, content_type)


def _culprit(exc: Exception, refs: list[ObjectRef]) -> ObjectRef | None:
    if not isinstance(exc, ObjectUnreadable):
        return None
    return next((ref for ref in refs if ref.key == exc.key and ref.version_id == exc.version_id), None)


def _queued_message(record: Any) -> QueuedMessage | None:
    """What settling a record's fate needs of it (None for a record too broken to name)."""
    if not isinstance(record, dict) or not record.get("messageId") or not record.get("receiptHandle"):
        return None
    attributes = record.get("attributes") or {}
    return QueuedMessage(
        message_id=str(record["messageId"]),
        receipt_handle=str(record["receiptHandle"]),
        body=str(record.get("body", "")),
        receives=int(attributes.get("ApproximateReceiveCount") or 1),
        queue_arn=str(record.get("eventSourceARN", "")),
        group_id=attributes.get("MessageGroupId"),
    )


class _Settlement:
    """What becomes of the records of a failed transform: set aside (final) or retried soon (transient)."""

    def __init__(
        self,
        deps: TransformerDeps,
        outcome: BatchOutcome,
        runs: Callable[[str], Any],
        own: dict[str, tuple[str, int]],
        messages: dict[str, QueuedMessage],
    ) -> None:
        self.deps, self.outcome, self.runs, self.own, self.messages = deps, outcome, runs, own, messages
        self.failed: list[str] = []  # message ids to report as failed
        self.delays: dict[str, int] = {}  # message id -> a delay other than the backoff

    def set_aside(self, refs: list[ObjectRef], cause: Exception, prepared: list[Prepared]) -> list[ObjectRef]:
        """Copy the messages of `refs` to the dead-letter queue, mark their claims set aside (coalescing skips them),
        announce their error outcome; the messages are then acknowledged. Returns the refs whose message could not
        be copied (retried instead). A coalesced ref (no message here) is only marked: its own message comes."""
        deps = self.deps
        kept: list[ObjectRef] = []
        announced: list[tuple[ObjectRef, int]] = []
        for ref in refs:
            mine = self.own.get(ref.idempotency_key)
            if mine is not None:
                message = self.messages.get(mine[0])
                try:
                    if deps.queue is None or message is None:
                        raise InfrastructureError("no queue to set the message aside")
                    deps.queue.set_aside(message)
                except Exception:
                    kept.append(ref)
                    continue
                self.outcome.set_aside.append(mine[0])
                announced.append((ref, mine[1]))
            # if this fails, the claim expires: a later build may try the object again, and set it aside again
            with contextlib.suppress(Exception):
                deps.claims.complete(ref.idempotency_key, {"run_id": "", "outcome": "error", SET_ASIDE: True})
        if announced:
            attempts = max(receives for _, receives in announced)
            self.outcome.dead_lettered += _announce_dead_letters(
                [ref for ref, _ in announced], final_cause(cause), deps, self.runs, prepared, attempts=attempts
            )
        return kept

    def fail(self, refs: list[ObjectRef], cause: Exception, prepared: list[Prepared], delay: int | None = None) -> None:
        """Release the claims of `refs` and fail their records: SQS delivers them again after `delay` seconds (the
        backoff of their receive count when None). On a record's last receive its object is announced first."""
        deps = self.deps
        for ref in refs:
            deps.claims.release(ref.idempotency_key, cause)
        last: list[ObjectRef] = []
        for ref in refs:
            mine = self.own.get(ref.idempotency_key)
            if mine is None:
                continue
            self.failed.append(mine[0])
            if delay is not None:
                self.delays[mine[0]] = delay
            if mine[1] >= deps.max_receive_count:
                last.append(ref)
        if last:
            self.outcome.dead_lettered += _announce_dead_letters(last, cause, deps, self.runs, prepared)

    def retry_later(self, failed: list[str]) -> None:
        """Every failed record comes back after a short backoff instead of the queue's visibility timeout."""
        deps = self.deps
        delays = []
        for message_id in dict.fromkeys(failed):
            message = self.messages.get(message_id)
            if message is None:
                continue
            seconds = self.delays.get(
                message_id, retry_delay_seconds(message.receives, deps.max_receive_count, deps.retry_backoff_seconds)
            )
            delays.append((message, seconds))
            self.outcome.retry_delays[message_id] = seconds
        if deps.queue is None or not delays:
            self.outcome.retry_delays.clear()
            return
        try:
            deps.queue.retry_after(delays)
        except Exception:  # they come back after the queue's visibility timeout instead
            self.outcome.retry_delays.clear()


def _coalesce(
    anchors: list[ObjectRef],
    taken: list[ObjectRef],
    deps: TransformerDeps,
    remaining_ms: Callable[[], int | None],
    outcome: BatchOutcome,
) -> list[ObjectRef]:
    """Claim the other raw versions waiting under the days of `anchors` (oldest first, within the caps, `taken`
    counting against them): their own messages, when they come, find them done and are acknowledged as
    duplicates."""
    limits = deps.coalescing
    room = limits.max_objects - len(taken)
    if not anchors or room <= 0 or any(ref.version_id is None for ref in anchors):
        return []  # an unversioned bucket: a listing cannot name the versions its events will name
    budget = limits.max_bytes - sum(ref.size or 0 for ref in taken)
    # The build names every object in one SQL statement, which Athena caps (domain/limits.py): room by bytes too.
    bucket = anchors[0].bucket
    sql_budget = limits.max_list_bytes - sum(listed_bytes(bucket, ref.key, ref.version_label) for ref in taken)
    own = {ref.idempotency_key for ref in anchors}
    days = sorted({day for ref in anchors if (day := day_of(ref.key))})
    since = deps.clock() - limits.window
    waiting: list[ObjectRef] = []
    for day in days:
        for version in deps.store.waiting_versions(f"{RAW_PREFIX}dt={day}/", since):
            ref = ObjectRef(bucket, version.key, version.version_id, version.etag, version.size, version.last_modified)
            if version.version_id != "null" and ref.idempotency_key not in own:
                own.add(ref.idempotency_key)
                waiting.append(ref)

    def claimed(ref: ObjectRef) -> bool:
        return deps.claims.claim(ref.idempotency_key, remaining_ms()).state == "new"

    # One conditional write each, a few at a time (a burst's build claims hundreds; each is a DynamoDB round trip),
    # never more at once than the room left: an object another invocation holds or finished is skipped.
    extra: list[ObjectRef] = []
    failure: Exception | None = None
    position = 0
    with ThreadPoolExecutor(IO_THREADS) as pool:
        while position < len(waiting) and len(extra) < room and failure is None:
            chunk: list[tuple[ObjectRef, int]] = []  # (object, what it adds to the build's object list)
            reserved = sql_reserved = 0
            while position < len(waiting) and len(chunk) < room - len(extra):
                ref = waiting[position]
                position += 1
                listed = listed_bytes(bucket, ref.key, ref.version_label)
                if (ref.size or 0) <= budget - reserved and listed <= sql_budget - sql_reserved:
                    chunk.append((ref, listed))
                    reserved += ref.size or 0
                    sql_reserved += listed
            for (ref, listed), future in [(item, pool.submit(claimed, item[0])) for item in chunk]:
                try:
                    ours = future.result()
                except Exception as exc:  # the claim table failed: coalescing is an optimisation, the batch goes on
                    failure = failure or exc
                    continue
                if ours:
                    extra.append(ref)
                    budget -= ref.size or 0
                    sql_budget -= listed
    if failure is not None:
        for ref in extra:  # claimed for nothing: free them for their own messages
            deps.claims.release(ref.idempotency_key, failure)
        extra = []
    outcome.coalesced = len(extra)
    return extra


def _as_stored(ref: ObjectRef, store: ObjectStore) -> ObjectRef:
    """The event's object under the key the bucket holds it by, so the claim, the ledger and the validated copy name
    the real object. Whether S3's EventBridge events URL-encode keys is not documented either way
    (adapters/s3.py key_forms); a key that no encoding changes (letters, digits, `/._-=`) needs no request."""
    if _PLAIN_KEY.fullmatch(ref.key):
        return ref
    try:
        key = store.locate(ref.key, ref.version_id)
    except (ObjectMissing, InfrastructureError):
        return ref  # missing or unreadable: the read says so (and classifies it), under the key the event named
    return ref if key == ref.key else replace(ref, key=key)


def _announce_dead_letters(
    last: list[ObjectRef],
    cause: Exception,
    deps: TransformerDeps,
    runs: Callable[[str], Any],
    prepared: list[Prepared],
    attempts: int | None = None,
) -> list[TransformCompleted]:
    """The last attempt speaks: an error outcome for the objects whose messages now go to the dead-letter queue.
    If even this cannot be published, the dead-letter queue's alarm is the channel left (monitoring)."""
    events = dead_letter_events(last, cause, attempts=attempts or deps.max_receive_count, runs=runs, prepared=prepared)
    # Recorded before the announcement, which the notifier mails only for a run the ledger knows (the messages go to
    # the dead-letter queue whether or not it can be published).
    for event in events:
        for source in event.sources:
            deps.ledger.record(
                event.run_id,
                "TRANSFORM_FAILED",
                source.key,
                "transformer",
                {"dead_lettered": True, "cause": str(cause)[:500]},
                version=source.version_id or source.etag,
            )
    try:
        deps.publisher.publish(events)
    except Exception:
        return []
    return events


def _ordered_map(pool: ThreadPoolExecutor) -> Callable[[Callable[[T], R], Iterable[T]], Iterator[R]]:
    def mapper(function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return pool.map(function, items)

    return mapper
