"""Issue 23, item 5: one error must not stall every transform for an hour.

Failures are classified by type and AWS error code (domain/failures.py). A final one is announced on the first
receive and its message set aside in the dead-letter queue (the next objects are built now); a transient one comes
back after a short backoff, never the queue's hour-long visibility timeout."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from services.transformer.domain.failures import classify, retry_delay_seconds
from services.transformer.domain.model import (
    SET_ASIDE,
    Claim,
    InfrastructureError,
    QueuedMessage,
    RawObject,
    StoredVersion,
)
from services.transformer.domain.reading import validated_key
from services.transformer.handler import process_batch
from services.transformer.service import Coalescing, TransformerDeps
from tests.unit.transformer.fakes import (
    BUCKET,
    DAY,
    FakeBuilder,
    FakeClaims,
    FakeLedger,
    FakeMarts,
    FakePublisher,
    FakeStore,
    lines,
    place,
    s3_event,
    sqs_batch,
)

KEY = f"raw/places/dt={DAY}/run-1__paris.jsonl"
OTHER = f"raw/places/dt={DAY}/run-2__lyon.jsonl"
NOW = datetime(2026, 1, 1, 9, tzinfo=UTC)
HOUR = 3600


def client_error(code: str, operation: str = "GetObject", status: int = 403) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


def wrapped(cause: Exception, message: str = "cannot read s3://bucket/key") -> InfrastructureError:
    """As the adapters raise it: InfrastructureError(...) from the botocore error."""
    try:
        raise InfrastructureError(f"{message}: {cause.__class__.__name__}") from cause
    except InfrastructureError as exc:
        return exc


# -- classification ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidAccessKeyId", "SignatureDoesNotMatch",
     "KMS.AccessDeniedException", "KMS.DisabledException", "NoSuchBucket", "ValidationException"],
)  # fmt: skip
def test_a_denied_permission_a_missing_bucket_or_an_invalid_request_is_final(code):
    assert classify(client_error(code)) == "final"
    assert classify(wrapped(client_error(code))) == "final"  # found along the chain


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", status=503),
        client_error("ThrottlingException", "StartQueryExecution", 400),
        client_error("InternalError", status=500),
        client_error("ServiceUnavailable", status=503),
        client_error("RequestTimeout", status=400),
        EndpointConnectionError(endpoint_url="https://s3.eu-west-3.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://s3.eu-west-3.amazonaws.com"),
        InfrastructureError("dbt could not run: database is locked"),
    ],
    ids=[
        "SlowDown",
        "Throttling",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "connection",
        "read-timeout",
        "dbt",
    ],
)
def test_throttling_server_errors_timeouts_and_unattributed_build_errors_are_transient(error):
    assert classify(error) == "transient"
    assert classify(wrapped(error)) == "transient"


def test_the_message_text_never_decides():
    assert classify(InfrastructureError("AccessDenied: Access Denied (KMS.AccessDeniedException)")) == "transient"


def test_the_backoff_is_short_grows_with_the_receives_and_releases_the_last_receive_at_once():
    assert [retry_delay_seconds(receives, 3) for receives in (1, 2, 3, 4)] == [30, 60, 0, 0]
    assert [retry_delay_seconds(receives, 10) for receives in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        900,
        900,
        900,
        900,
    ]
    assert max(retry_delay_seconds(receives, 50) for receives in range(1, 50)) < HOUR


# -- the use case --------------------------------------------------------------------------------------------------


class FakeQueue:
    """The transformer's queue: the visibility each failed message got, the messages copied to the DLQ."""

    def __init__(self, refuse_copies: bool = False) -> None:
        self.delays: dict[str, int] = {}
        self.dead_letters: list[QueuedMessage] = []
        self.refuse_copies = refuse_copies

    def retry_after(self, delays: list[tuple[QueuedMessage, int]]) -> None:
        self.delays.update({message.message_id: seconds for message, seconds in delays})

    def set_aside(self, message: QueuedMessage) -> None:
        if self.refuse_copies:
            raise InfrastructureError("SendMessage: AccessDenied")
        self.dead_letters.append(message)


class RememberingClaims(FakeClaims):
    """Claims whose completed result is what a later claim finds (as the DynamoDB adapter returns it)."""

    def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim:
        if idempotency_key in self.completed:
            return Claim("done", self.completed[idempotency_key])
        return super().claim(idempotency_key, remaining_ms)

    def release(self, idempotency_key: str, error: Exception) -> None:
        super().release(idempotency_key, error)
        self.done.discard(idempotency_key)
        self.completed.pop(idempotency_key, None)


class DenyingStore(FakeStore):
    """GetObject is denied for the keys in `denied` (as S3ObjectStore raises it: InfrastructureError from the
    ClientError)."""

    def __init__(self, objects: dict[str, bytes], denied: set[str], code: str = "AccessDenied") -> None:
        super().__init__(objects)
        self.denied = denied
        self.code = code
        self.reads: list[str] = []

    def get(self, key: str, version_id: str | None, max_bytes: int) -> RawObject:
        self.reads.append(key)
        if key in self.denied:
            raise wrapped(client_error(self.code), f"cannot read s3://{BUCKET}/{key}")
        return super().get(key, version_id, max_bytes)


def deps(store: FakeStore, builder: FakeBuilder | None = None, queue: FakeQueue | None = None) -> TransformerDeps:
    ledger = FakeLedger()
    return TransformerDeps(
        store=store,
        builder=builder or FakeBuilder(),
        marts=FakeMarts(),
        claims=RememberingClaims(),
        publisher=FakePublisher(),
        ledger=ledger,
        runs=ledger,
        coalescing=Coalescing(),
        clock=lambda: NOW,
        queue=queue if queue is not None else FakeQueue(),
    )


def run(wired: TransformerDeps, *keys: str, receives: int = 1) -> Any:
    return process_batch(
        sqs_batch(*(s3_event(k) for k in keys), receives=receives), wired, remaining_ms=lambda: 600_000
    )


def test_a_denied_read_is_announced_on_the_first_receive_set_aside_in_the_dlq_and_acknowledged():
    queue = FakeQueue()
    wired = deps(DenyingStore({KEY: lines(place("p1"))}, denied={KEY}), queue=queue)

    result = run(wired, KEY, receives=1)

    assert result.response == {"batchItemFailures": []}  # acknowledged: the group moves on
    assert result.final and result.set_aside == ["m0"]
    [copy] = queue.dead_letters
    assert (copy.message_id, copy.group_id, copy.receives) == ("m0", "dbt", 1)
    assert copy.queue_arn.endswith(":restaurant-pipeline-transformer.fifo") and KEY in copy.body
    [event] = wired.publisher.events  # announced once, as the last-receive path does
    assert (event.run_id, event.outcome, event.dead_lettered, event.attempts) == ("run-1", "error", True, 1)
    assert "AccessDenied" in event.error.message and "dead-letter queue" in event.error.message
    assert wired.ledger.steps == [("run-1", "TRANSFORM_FAILED", KEY)]
    assert wired.claims.completed[f"{BUCKET}/{KEY}#v1"][SET_ASIDE] is True
    assert queue.delays == {}  # nothing left to retry


def test_a_final_failure_of_one_object_costs_that_object_only_the_rest_is_built_in_the_same_invocation():
    store = DenyingStore(
        {KEY: lines(place("p1")), OTHER: lines(place("p2", city="Lyon", run_id="run-2"))}, denied={KEY}
    )
    builder = FakeBuilder()
    wired = deps(store, builder)

    result = run(wired, KEY, OTHER)

    assert result.response == {"batchItemFailures": []} and result.set_aside == ["m0"]
    assert len(builder.calls) == 1 and builder.calls[0][1] == [validated_key(DAY, "run-2__lyon.jsonl", "v1")]
    outcomes = sorted((e.run_id, e.outcome, e.dead_lettered) for e in wired.publisher.events)
    assert outcomes == [("run-1", "error", True), ("run-2", "passed", False)]


def test_a_denied_object_coalesced_into_another_batch_is_set_aside_and_announced_when_its_own_message_comes():
    store = DenyingStore({KEY: lines(place("p1")), OTHER: lines(place("p2", run_id="run-2"))}, denied={KEY})
    store.versions.append(StoredVersion(KEY, "v1", "e" * 32, 5, datetime(2026, 1, 1, 8, 30, tzinfo=UTC)))
    builder = FakeBuilder()
    queue = FakeQueue()
    wired = deps(store, builder, queue)

    first = run(wired, OTHER)  # KEY waits under the same day: coalesced, denied, set aside; OTHER is built

    assert first.response == {"batchItemFailures": []} and first.set_aside == [] and queue.dead_letters == []
    assert [(e.run_id, e.outcome) for e in wired.publisher.events] == [("run-2", "passed")]
    assert wired.claims.completed[f"{BUCKET}/{KEY}#v1"][SET_ASIDE] is True
    # a later build of the day no longer takes it (its claim is done): no failure loop
    reads = len(store.reads)
    store.objects[f"raw/places/dt={DAY}/later.jsonl"] = lines(place("p3"))
    run(wired, f"raw/places/dt={DAY}/later.jsonl")
    assert KEY not in store.reads[reads:]
    # its own message takes the claim back, fails for good and is announced then
    own = run(wired, KEY)
    assert own.set_aside == ["m0"] and [m.message_id for m in queue.dead_letters] == ["m0"]
    assert [(e.run_id, e.outcome, e.dead_lettered) for e in wired.publisher.events][-1] == ("run-1", "error", True)


def test_a_replay_from_the_dlq_builds_the_object_again_once_the_cause_is_fixed():
    store = DenyingStore({KEY: lines(place("p1"))}, denied={KEY})
    builder = FakeBuilder()
    wired = deps(store, builder)
    run(wired, KEY)
    assert builder.calls == []

    store.denied.clear()  # a person fixed the permission, then ran `dlq replay transformer`
    replayed = run(wired, KEY)

    assert replayed.response == {"batchItemFailures": []} and replayed.duplicates == 0
    assert len(builder.calls) == 1 and wired.publisher.events[-1].outcome == "passed"


def test_a_final_build_failure_no_object_can_be_blamed_for_sets_the_batch_aside():
    denied = wrapped(client_error("AccessDeniedException", "StartQueryExecution", 400), "athena")
    queue = FakeQueue()
    wired = deps(
        FakeStore({KEY: lines(place("p1")), OTHER: lines(place("p2", run_id="run-2"))}),
        FakeBuilder(error=denied),
        queue,
    )

    result = run(wired, KEY, OTHER)

    assert result.response == {"batchItemFailures": []} and sorted(result.set_aside) == ["m0", "m1"]
    assert sorted(m.message_id for m in queue.dead_letters) == ["m0", "m1"]
    assert sorted((e.run_id, e.outcome, e.dead_lettered) for e in wired.publisher.events) == [
        ("run-1", "error", True),
        ("run-2", "error", True),
    ]


def test_when_the_copy_to_the_dlq_fails_the_message_is_retried_soon_and_nothing_is_announced():
    queue = FakeQueue(refuse_copies=True)
    wired = deps(DenyingStore({KEY: lines(place("p1"))}, denied={KEY}), queue=queue)

    result = run(wired, KEY)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert wired.publisher.events == [] and queue.delays == {"m0": 30}
    assert f"{BUCKET}/{KEY}#v1" in wired.claims.released


@pytest.mark.parametrize(("receives", "delay"), [(1, 30), (2, 60)])
def test_a_transient_failure_comes_back_after_a_short_backoff_never_the_hour(receives, delay):
    throttled = wrapped(client_error("ThrottlingException", "StartQueryExecution", 400), "athena")
    queue = FakeQueue()
    wired = deps(
        FakeStore({KEY: lines(place("p1")), OTHER: lines(place("p2", run_id="run-2"))}),
        FakeBuilder(error=throttled),
        queue,
    )

    result = run(wired, KEY, OTHER, receives=receives)

    assert not result.final and result.set_aside == [] and queue.dead_letters == []
    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert queue.delays == {"m0": delay, "m1": delay} == result.retry_delays
    assert wired.publisher.events == []  # the retry may still succeed


def test_a_transient_failure_on_the_last_receive_is_announced_and_released_to_the_dlq_at_once():
    queue = FakeQueue()
    wired = deps(
        FakeStore({KEY: lines(place("p1"))}), FakeBuilder(error=InfrastructureError("warehouse locked")), queue
    )

    result = run(wired, KEY, receives=3)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert queue.delays == {"m0": 0}  # SQS moves it to the DLQ on the next receive (redrive), not an hour later
    [event] = wired.publisher.events
    assert (event.outcome, event.dead_lettered, event.attempts) == ("error", True, 3)


def test_records_failing_alone_get_the_backoff_too():
    queue = FakeQueue()
    busy = RememberingClaims(busy=[f"{BUCKET}/{KEY}#v1"])
    wired = deps(FakeStore({KEY: lines(place("p1"))}), queue=queue)
    wired.claims = busy

    result = run(wired, KEY)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]} and queue.delays == {"m0": 30}
