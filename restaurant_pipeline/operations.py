"""What an operator does to a running pipeline — local or on AWS, through the same AWS APIs.

Trigger a run, follow it, reprocess a file, inspect and replay DLQs. The CLI is a thin layer over these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from contracts.events import CITY_METADATA_KEY, CLI_SOURCE, UNKNOWN_CITY, CollectionRequested, manual_run_id
from services.common.adapters.ledger import RunLedger
from services.common.names import RAW_PREFIX

RAW_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
TERMINAL_STEP = "NOTIFIED"


new_run_id = manual_run_id  # one format for every manual run (contracts/events.py)


def request_collection(
    events_client: Any, bus_name: str, cities: list[str], max_restaurants: int | None, run_id: str | None = None
) -> CollectionRequested:
    """Publish "Collection Requested" (trigger_source manual) on the bus."""
    request = CollectionRequested(
        cities=cities, max_restaurants=max_restaurants, trigger_source="manual", run_id=run_id or new_run_id()
    )
    response = events_client.put_events(Entries=[request.to_entry(bus_name, source=CLI_SOURCE)])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the request: {response['Entries'][0].get('ErrorMessage')}")
    return request


@dataclass
class RunProgress:
    run_id: str
    steps: list[dict[str, Any]] = field(default_factory=list)

    def has(self, step: str) -> bool:
        return any(item["step"] == step for item in self.steps)

    @property
    def notified(self) -> dict[str, Any] | None:
        return next((item for item in self.steps if item["step"] == TERMINAL_STEP), None)

    @property
    def outcome(self) -> str | None:
        notified = self.notified
        return str(notified["subject"]) if notified else None


def follow_run(
    ledger: RunLedger,
    run_id: str,
    timeout_seconds: float,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = 0.3,
) -> RunProgress:
    """Poll the run ledger until the run's notification is recorded, or the time is up."""
    progress = RunProgress(run_id)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_seconds
    while True:
        progress.steps = ledger.steps(run_id)
        for item in progress.steps:
            if item["sk"] not in seen:
                seen.add(item["sk"])
                if on_step:
                    on_step(item)
        if progress.notified or time.monotonic() >= deadline:
            return progress
        time.sleep(poll_seconds)


def raw_key_for(name: str, day: date) -> str:
    if not name.endswith(RAW_SUFFIXES):
        raise ValueError(f"{name}: the transformer reads {', '.join(RAW_SUFFIXES)} files; rename or convert it")
    return f"{RAW_PREFIX}dt={day.isoformat()}/{name}"


def city_metadata(city: str) -> dict[str, str]:
    """The user metadata that tells the transformer a file's city (the lines without collection metadata get it).

    S3 metadata travels as HTTP headers (x-amz-meta-city), so a name beyond ASCII is percent-encoded here and
    decoded by the transformer; `aws s3 cp … --metadata city=Lyon` does the same for an ASCII name.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
    """
    name = city.strip()
    if not name or len(name) > 100:
        raise ValueError(f"--city {city!r}: give the city's name, 1 to 100 characters (e.g. --city Lyon)")
    if name.casefold() == UNKNOWN_CITY:
        raise ValueError(f"--city {city!r}: {UNKNOWN_CITY!r} is what the pipeline says when no city is given")
    return {CITY_METADATA_KEY: quote(name, safe=" -'.,()")}


def reprocess(s3_client: Any, bucket: str, source: str, day: date | None = None, city: str | None = None) -> str:
    """Put a file under raw/places/dt=…/ so the S3 "Object Created" event starts the transformer.

    A local file is uploaded; an s3:// object is copied (onto itself when it already is under raw/places/,
    which makes a new version and a new event). `city` goes into the object's metadata: the city of its lines
    that carry no collection metadata. A copy keeps the city metadata of its source unless `city` is given.
    """
    declared = city_metadata(city) if city is not None else {}
    if source.startswith("s3://"):
        source_bucket, _, source_key = source[len("s3://") :].partition("/")
        if not source_key:
            raise ValueError(f"{source}: expected s3://BUCKET/KEY")
        if source_bucket == bucket and source_key.startswith(RAW_PREFIX) and day is None:
            key = source_key
        else:
            key = raw_key_for(PurePosixPath(source_key).name, day or _day_from_key(source_key))
        kept = s3_client.head_object(Bucket=source_bucket, Key=source_key).get("Metadata") or {}
        kept = {k: v for k, v in kept.items() if k == CITY_METADATA_KEY}
        s3_client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            MetadataDirective="REPLACE",
            Metadata={**kept, **declared, "reprocessed-at": datetime.now(UTC).isoformat()},
        )
        return key
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{source}: no such file (give a local path or an s3:// URI)")
    key = raw_key_for(path.name, day or datetime.now(UTC).date())
    with open(path, "rb") as body:
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=declared)
    return key


def _day_from_key(key: str) -> date:
    for part in PurePosixPath(key).parts:
        if part.startswith("dt="):
            try:
                return date.fromisoformat(part[3:])
            except ValueError:
                break
    return datetime.now(UTC).date()


@dataclass
class DlqDepth:
    service: str
    dlq_url: str
    messages: int
    in_flight: int
    oldest_age_seconds: float | None


def dlq_depth(sqs_client: Any, service: str, dlq_url: str, peek: bool = True) -> DlqDepth:
    attributes = sqs_client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    visible = int(attributes.get("ApproximateNumberOfMessages", 0))
    in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    oldest = None
    if visible and peek:
        oldest = _oldest_age(sqs_client, dlq_url)
    return DlqDepth(service, dlq_url, visible, in_flight, oldest)


def _oldest_age(sqs_client: Any, queue_url: str) -> float | None:
    """Peek without consuming: receive with visibility 0 (the message stays available)."""
    response = sqs_client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
    )
    stamps = [int(m["Attributes"]["SentTimestamp"]) for m in response.get("Messages", [])]
    if not stamps:
        return None
    return max(0.0, time.time() - min(stamps) / 1000)


@dataclass
class ReplayResult:
    service: str
    method: str  # "StartMessageMoveTask" | "receive-send-delete" | "dry-run"
    moved: int = 0
    task_handle: str | None = None
    previews: list[str] = field(default_factory=list)


def replay_dlq(
    sqs_client: Any,
    service: str,
    queue_url: str,
    queue_arn: str,
    dlq_url: str,
    dlq_arn: str,
    dry_run: bool = False,
    limit: int | None = None,
) -> ReplayResult:
    """Move messages from a DLQ back to its source queue.

    StartMessageMoveTask where the endpoint has it (AWS; standard queues). Elsewhere (moto; FIFO queues) a
    receive -> send -> delete loop that deletes a message only after its copy was accepted, so an
    interrupted replay duplicates at worst and never loses. Replaying an empty DLQ is a no-op.
    """
    fifo = queue_url.endswith(".fifo")
    if dry_run:
        response = sqs_client.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        )
        depth = dlq_depth(sqs_client, service, dlq_url, peek=False)
        previews = [m["Body"][:200] for m in response.get("Messages", [])]
        return ReplayResult(service, "dry-run", moved=depth.messages, previews=previews)
    if not fifo:
        try:
            task = sqs_client.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
            depth = dlq_depth(sqs_client, service, dlq_url, peek=False)
            return ReplayResult(service, "StartMessageMoveTask", moved=depth.messages, task_handle=task["TaskHandle"])
        except Exception as exc:
            if not _not_implemented(exc):
                raise
    moved = 0
    while limit is None or moved < limit:
        response = sqs_client.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            send: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                send["MessageGroupId"] = message["Attributes"].get("MessageGroupId", "replay")
                send["MessageDeduplicationId"] = f"replay-{message['MessageId']}"
            sqs_client.send_message(**send)
            sqs_client.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return ReplayResult(service, "receive-send-delete", moved=moved)


def _not_implemented(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("NotImplemented", "InternalFailure", "UnsupportedOperation") or status in (500, 501)


_QUIET_KEYS = frozenset({"event_id", "detail_type", "message_id", "summary", "subject"})


def describe_step(item: dict[str, Any]) -> str:
    """One readable line for a ledger step (identifiers and false flags left out)."""
    data = item.get("data") or {}
    details = ", ".join(
        f"{k}={v}"
        for k, v in data.items()
        if k not in _QUIET_KEYS and v is not False and not isinstance(v, dict | list)
    )
    subject = "" if item.get("subject") in ("-", None) else f" {item['subject']}"
    return f"{item['step'].lower()}{subject}" + (f" ({details})" if details else "")
