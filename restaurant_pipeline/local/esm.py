"""An emulation of Lambda's SQS event source mapping, for running a function against a queue on moto.

The function is invoked through an `Invoke`: `in_process(handler)` calls a handler imported into this process;
the Lambda sandbox (sandbox.py, `local up --artifacts`) hands the event to the deployed artifact through the
Runtime API instead.

What it reproduces (what the handlers rely on):
- AWS-shaped SQS events: messageId, receiptHandle, body, attributes (ApproximateReceiveCount, SentTimestamp,
  MessageGroupId for FIFO, ...), messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion;
- batch size and batching window;
- ReportBatchItemFailures: records named in batchItemFailures stay on the queue, the others are deleted;
  a handler that raises or overruns its timeout fails the whole batch, and so does a response naming an item that
  is not in the batch (empty, null or unknown itemIdentifier), as Lambda does
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting);
- visibility timeout, and redrive to the DLQ after maxReceiveCount (done by the queue itself, as on AWS);
- a Lambda context whose remaining time honours the function timeout.

One difference, on purpose: a failed message becomes visible again after `retry_delay_seconds` (a few seconds)
instead of the queue's full visibility timeout (6 x the function timeout, up to an hour), so retries and DLQ
moves happen while a person watches. The queue's own VisibilityTimeout is still what AWS would have.
A message whose visibility the function changed itself during the invocation (ChangeMessageVisibility[Batch]: the
transformer's backoff, services/transformer/adapters/sqs.py) keeps it, as on AWS, where the visibility last set is
the one that ends (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
The mapping sees those calls only for a handler invoked in this process (`in_process`, which watches botocore's
calls while the handler runs); a function in the Lambda sandbox (`--artifacts`) gets the short retry delay for
every failed message.
Likewise a worker that dies mid-batch (killed, out of memory) never reports its batch: the supervisor makes the
messages it held (kept in `inflight_file`) visible again after the function timeout when it restarts the
worker, where AWS would see them again after the full visibility timeout.

The mapping never holds a message it could not record. Before invoking, it writes the batch's receipt handles to
`inflight_file` (under the state folder). When that write fails because the disk is full (OSError ENOSPC or EDQUOT,
told by errno, never by the message's text), the batch goes back to the queue at once (ChangeMessageVisibility with
VisibilityTimeout 0, the minimum: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html)
instead of waiting out the queue's visibility timeout (up to an hour, with a FIFO message group stuck behind it);
the mapping sends a `StateDiskFull` metric line to the stack's signals queue (the disk cannot take a log line:
moto, in memory, can), which the local alarm `restaurant-pipeline-local-disk-full` reads (local/alarms.py), and it
stops receiving until a probe of the same size can be written there again, so that a full disk does not spend the
messages' receives and send them to the dead-letter queue. A failure to write Lambda's metric line after an
invocation (the log on the same disk) never keeps the batch's outcome from being applied either.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Invocation:
    """What one invocation gave back: the function's response, or why it failed as a whole; and the receipt handles
    whose visibility the function changed itself (known only for in-process invocations)."""

    response: Any = None
    error: str | None = None
    visibility_changed: frozenset[str] = frozenset()


VISIBILITY_OPERATIONS = ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch")
_watch_lock = threading.Lock()
_watch: dict[str, Any] = {"installed": False, "handles": None}  # handles: a set while a handler runs


def _install_visibility_watch() -> None:
    """Wrap botocore's one method every client call goes through (as call_recorder.py does), once per process: while
    a handler runs (`_watching`), the receipt handles its successful visibility changes name are noted."""
    from botocore.client import BaseClient

    client_class: Any = BaseClient  # _make_api_call is not in botocore's type stubs
    with _watch_lock:
        if _watch["installed"]:
            return
        original = client_class._make_api_call

        def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            response = original(self, operation_name, api_params)
            handles = _watch["handles"]
            if handles is not None and operation_name in VISIBILITY_OPERATIONS:
                params = api_params or {}
                if operation_name == "ChangeMessageVisibility":
                    handles.add(str(params.get("ReceiptHandle")))
                else:
                    done = {entry.get("Id") for entry in (response or {}).get("Successful", [])}
                    handles.update(
                        str(e.get("ReceiptHandle")) for e in params.get("Entries", []) if e.get("Id") in done
                    )
            return response

        client_class._make_api_call = _make_api_call
        _watch["installed"] = True


class _Watching:
    """The visibility changes made while the block runs (one invocation at a time per process)."""

    def __enter__(self) -> set[str]:
        handles: set[str] = set()
        _watch["handles"] = handles
        return handles

    def __exit__(self, *exc: object) -> None:
        _watch["handles"] = None


Invoke = Callable[[dict[str, Any], "MappingSettings"], Invocation]

SQS_MAX_BATCH = 10


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and the handlers read."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    region: str = "eu-west-3"
    account_id: str = "123456789012"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# How soon a failed message comes back locally (AWS: the queue's visibility timeout, or the delay the function sets):
# seconds instead of minutes, so a local retry is seen while one watches. The transformer's own backoff is shortened
# to the same (its RETRY_BACKOFF_SECONDS, restaurant_pipeline/local/stack.py).
LOCAL_RETRY_DELAY_SECONDS = 3


@dataclass(frozen=True)
class MappingSettings:
    function_name: str
    queue_url: str
    queue_arn: str
    timeout_seconds: int
    batch_size: int = 10
    batching_window_seconds: int = 0
    memory_mb: int = 512
    region: str = "eu-west-3"
    fifo: bool = False
    retry_delay_seconds: int = LOCAL_RETRY_DELAY_SECONDS
    poll_wait_seconds: int = 1
    # Where the receipt handles of the batch being processed are kept, so that the supervisor can make them
    # visible again if this worker dies mid-batch ("" = not kept). See LocalStack._release_inflight.
    inflight_file: str = ""
    # Where the mapping sends its own metric lines when the disk cannot take them ("" = only logged).
    signals_queue_url: str = ""
    # How often a mapping stopped by a full disk tries to write there again.
    disk_probe_seconds: float = 5.0


# The mapping's own metric when it cannot record a message on the state folder's disk, sent as an EMF line
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
POLLER_NAMESPACE = "RestaurantPipeline/LocalStack"
DISK_FULL_METRIC = "StateDiskFull"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_PROBE_SECONDS = MappingSettings.disk_probe_seconds  # how often a mapping stopped by a full disk writes again


def disk_full(exc: BaseException) -> bool:
    """The disk (or the user's quota) is full: told by errno, whatever the message says."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def disk_full_line(function_name: str, path: str, at: float | None = None) -> str:
    """One StateDiskFull data point as an EMF line: the function whose mapping could not write, and where."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int((time.time() if at is None else at) * 1000),
                "CloudWatchMetrics": [
                    {"Namespace": POLLER_NAMESPACE, "Dimensions": [[]], "Metrics": [{"Name": DISK_FULL_METRIC}]}
                ],
            },
            DISK_FULL_METRIC: 1,
            "FunctionName": function_name,
            "Path": path,
        }
    )


def write_record(path: Path, text: str) -> None:
    """Write a small file atomically (a temporary file, then os.replace); the temporary is removed on failure."""
    temporary = path.with_suffix(".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@dataclass
class BatchResult:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    handler_error: str | None = None


def load_handler(spec: str) -> Handler:
    """'package.module:function' -> the function."""
    module_name, _, function_name = spec.partition(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, function_name)
    return handler


def in_process(handler: Handler) -> Invoke:
    """Invoke a handler imported into this process, with a Lambda context that honours the function timeout."""

    _install_visibility_watch()

    def invoke(event: dict[str, Any], settings: MappingSettings) -> Invocation:
        context = LambdaContext(
            function_name=settings.function_name,
            timeout_seconds=settings.timeout_seconds,
            memory_limit_in_mb=settings.memory_mb,
            region=settings.region,
        )
        with _Watching() as changed:
            try:
                response = handler(event, context)
            except Exception as exc:  # an unhandled error fails the whole batch, as on AWS
                return Invocation(error=f"{exc.__class__.__name__}: {exc}", visibility_changed=frozenset(changed))
        if context.get_remaining_time_in_millis() == 0:
            return Invocation(
                error=f"Task timed out after {settings.timeout_seconds} seconds", visibility_changed=frozenset(changed)
            )
        return Invocation(response=response, visibility_changed=frozenset(changed))

    return invoke


def failed_items(response: Any, message_ids: list[str]) -> set[str] | None:
    """The message ids a partial batch response names, or None when Lambda would fail the whole batch."""
    if not response:
        return set()
    if not isinstance(response, dict):
        return None
    items = response.get("batchItemFailures") or []
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


def to_lambda_record(message: MessageTypeDef, settings: MappingSettings) -> dict[str, Any]:
    attributes = dict(message.get("Attributes", {}))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": settings.queue_arn,
        "awsRegion": settings.region,
    }


class EventSourceMapping:
    """Polls one queue and invokes one function like Lambda's SQS poller (one poller: concurrency 1)."""

    def __init__(
        self,
        sqs: SQSClient,
        invoke: Invoke,
        settings: MappingSettings,
        report: Callable[[bool], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._invoke = invoke
        self.settings = settings
        # Called once per invocation with whether it failed as a whole: Lambda's own Invocations and Errors metrics.
        self._report = report or (lambda failed: None)
        self._stop = threading.Event()
        self.invocations = 0
        self.released = 0  # messages given back at once because they could not be recorded
        self._disk_full: OSError | None = None  # set while the state folder's disk cannot take the record
        self._probe_size = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep polling: a poller never dies of one bad batch or a blip of the endpoint
                log.exception("event source mapping %s: poll failed", self.settings.function_name)
                self._stop.wait(1.0)

    def receive_batch(self) -> list[MessageTypeDef]:
        """Up to batch_size messages; with a batching window, gather until it closes or the batch is full."""
        settings = self.settings
        messages = self._receive(settings.batch_size, settings.poll_wait_seconds)
        if not messages or settings.fifo:  # FIFO event sources have no batching window
            return messages
        window_ends = time.monotonic() + settings.batching_window_seconds
        while len(messages) < settings.batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            wait = min(1, math.floor(remaining))
            got = self._receive(settings.batch_size - len(messages), wait)
            messages.extend(got)
            if not got and wait == 0:
                break
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=min(SQS_MAX_BATCH, count),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[MessageTypeDef] = response.get("Messages", [])
        return messages

    def poll_once(self) -> BatchResult:
        if self._disk_full is not None and not self._room_again():
            self._signal_disk_full(self._disk_full)  # still full: the alarm stays in ALARM
            self._stop.wait(self.settings.disk_probe_seconds)
            return BatchResult()
        messages = self.receive_batch()
        if not messages:
            return BatchResult()
        return self.invoke(messages)

    def invoke(self, messages: list[MessageTypeDef]) -> BatchResult:
        settings = self.settings
        event = {"Records": [to_lambda_record(message, settings) for message in messages]}
        try:
            self._hold(messages)
        except OSError as exc:  # never hold a message that could not be recorded: it goes back at once
            self._make_visible_now(messages)
            if not disk_full(exc):
                raise
            self._on_disk_full(exc, "record the batch it received")
            return BatchResult(received=len(messages), failed=len(messages), handler_error=f"not invoked: {exc}")
        self.invocations += 1
        result = BatchResult(received=len(messages))
        outcome = self._invoke(event, settings)
        message_ids = [message["MessageId"] for message in messages]
        reported = failed_items(outcome.response, message_ids) if outcome.error is None else None
        if outcome.error is None and reported is None:
            outcome = Invocation(error=f"invalid partial batch response: {str(outcome.response)[:300]}")
        if outcome.error is not None:
            result.handler_error = outcome.error
            log.error("function %s failed its batch: %s", settings.function_name, outcome.error)
        try:
            self._report(outcome.error is not None)
        except OSError as exc:  # Lambda's metric line could not be logged: the batch's outcome still applies
            if disk_full(exc):
                self._on_disk_full(exc, "log the invocation's metrics")
            else:
                log.exception("function %s: could not report the invocation's metrics", settings.function_name)
        failed_ids = set(message_ids) if reported is None else reported
        done = [message for message in messages if message["MessageId"] not in failed_ids]
        retry = [message for message in messages if message["MessageId"] in failed_ids]
        self._delete(done)
        # the local shortcut for the queue's visibility timeout; a visibility the function set itself stands
        self._make_visible_soon([m for m in retry if m["ReceiptHandle"] not in outcome.visibility_changed])
        self._release()
        result.succeeded, result.failed = len(done), len(retry)
        return result

    def _hold(self, messages: list[MessageTypeDef]) -> None:
        if self.settings.inflight_file:
            text = json.dumps([m["ReceiptHandle"] for m in messages])
            self._probe_size = len(text)
            write_record(Path(self.settings.inflight_file), text)

    # -- a full disk -------------------------------------------------------------------------------------------
    def _on_disk_full(self, exc: OSError, what: str) -> None:
        first = self._disk_full is None
        self._disk_full = exc
        if first:
            log.error(
                "function %s: could not %s: %s (errno %s); its messages are visible again, and this mapping stops "
                "receiving until %s can be written again",
                self.settings.function_name,
                what,
                os.strerror(exc.errno or 0),
                errno.errorcode.get(exc.errno or 0, exc.errno),
                self._record_folder(exc),
            )
        self._signal_disk_full(exc)

    def _record_folder(self, exc: OSError) -> str:
        path = exc.filename or self.settings.inflight_file
        return str(Path(str(path)).parent) if path else "the state folder"

    def _signal_disk_full(self, exc: OSError) -> None:
        """The StateDiskFull data point, through the signals queue: the disk cannot take a log line."""
        if not self.settings.signals_queue_url:
            return
        try:
            self._sqs.send_message(
                QueueUrl=self.settings.signals_queue_url,
                MessageBody=disk_full_line(self.settings.function_name, self._record_folder(exc)),
            )
        except Exception:  # the alarm misses a point; the log says why (if the disk lets it)
            log.exception("function %s: could not signal the full disk", self.settings.function_name)

    def _room_again(self) -> bool:
        """Write a probe the size of the record that failed where the record goes; True (and the mapping polls
        again) once it fits."""
        if self.settings.inflight_file:
            try:
                write_record(Path(self.settings.inflight_file), " " * max(2, self._probe_size))
            except OSError as exc:
                if not disk_full(exc):
                    raise
                self._disk_full = exc
                return False
            self._release()
        log.info("function %s: the state folder can be written again; polling again", self.settings.function_name)
        self._disk_full = None
        return True

    def _release(self) -> None:
        if self.settings.inflight_file:
            Path(self.settings.inflight_file).unlink(missing_ok=True)

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), SQS_MAX_BATCH):
            chunk = messages[start : start + SQS_MAX_BATCH]
            self._sqs.delete_message_batch(
                QueueUrl=self.settings.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _make_visible_soon(self, messages: list[MessageTypeDef]) -> None:
        self._change_visibility(messages, self.settings.retry_delay_seconds)

    def _make_visible_now(self, messages: list[MessageTypeDef]) -> None:
        """Messages the function never saw go back at once: VisibilityTimeout 0 (the API's minimum)."""
        self._change_visibility(messages, 0)
        self.released += len(messages)

    def _change_visibility(self, messages: list[MessageTypeDef], seconds: int) -> None:
        for start in range(0, len(messages), SQS_MAX_BATCH):
            chunk = messages[start : start + SQS_MAX_BATCH]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.settings.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                    for i, m in enumerate(chunk)
                ],
            )
