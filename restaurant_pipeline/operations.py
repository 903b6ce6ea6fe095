"""What an operator does to a running pipeline — local or on AWS, through the same AWS APIs.

Trigger a run, follow it, reprocess a file, inspect and replay DLQs. The CLI is a thin layer over these.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from contracts.envelope import ContractError, parse_eventbridge_event
from contracts.events import CITY_METADATA_KEY, CLI_SOURCE, UNKNOWN_CITY, CollectionRequested, manual_run_id
from restaurant_pipeline.model.topology import SERVICES
from services.common.adapters.ledger import RunLedger
from services.common.names import RAW_PREFIX, function_name

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from restaurant_pipeline.aws import AwsClients

RAW_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
TERMINAL_STEP = "NOTIFIED"


new_run_id = manual_run_id  # one format for every manual run (contracts/events.py)


def request_collection(
    events_client: EventBridgeClient,
    bus_name: str,
    cities: list[str],
    max_restaurants: int | None,
    run_id: str | None = None,
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


def reprocess(s3_client: S3Client, bucket: str, source: str, day: date | None = None, city: str | None = None) -> str:
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


DlqKind = Literal["service", "rule", "schedule"]
RULE_SUFFIX = "-rule"
SCHEDULE_DLQ = "schedule"
# What `dlq replay` takes: a service's own DLQ (its name), the DLQ of the EventBridge rule that feeds it
# ("<service>-rule"), and the EventBridge Scheduler's ("schedule"). `dlq list` shows the same names.
DLQ_NAMES: tuple[str, ...] = (*SERVICES, *(f"{service}{RULE_SUFFIX}" for service in SERVICES), SCHEDULE_DLQ)


@dataclass(frozen=True)
class DeadLetterQueue:
    """One dead-letter queue of a stack: what ends up in it, and where `dlq replay` puts it back."""

    name: str  # one of DLQ_NAMES
    kind: DlqKind
    service: str  # the service its messages are for (the schedule's requests are the collector's)
    url: str
    arn: str
    destination: str  # the queue URL its messages go back to, or the bus name (schedule)
    destination_arn: str = ""  # the queue's ARN (StartMessageMoveTask needs both ARNs)
    message_group_id: str | None = None  # a FIFO destination's message group (the route's)

    @property
    def purpose(self) -> str:
        if self.kind == "rule":
            return f"events EventBridge could not deliver to the {self.service} queue; replay sends them to it"
        if self.kind == "schedule":
            return "scheduled Collection Requested the Scheduler could not put on the bus; replay puts them on it"
        return f"{self.service} messages that failed every receive; replay moves them back to its queue"


@dataclass
class DlqDepth:
    service: str
    dlq_url: str
    messages: int
    in_flight: int
    oldest_age_seconds: float | None
    name: str = ""  # the name `dlq replay` takes (DLQ_NAMES)
    kind: str = "service"
    purpose: str = ""
    replays_to: str = ""


def dlq_depth(sqs_client: SQSClient, service: str, dlq_url: str, peek: bool = True) -> DlqDepth:
    attributes = sqs_client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    visible = int(attributes.get("ApproximateNumberOfMessages", 0))
    in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    oldest = None
    if visible and peek:
        oldest = _oldest_age(sqs_client, dlq_url)
    return DlqDepth(service, dlq_url, visible, in_flight, oldest)


def _oldest_age(sqs_client: SQSClient, queue_url: str) -> float | None:
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
    service: str  # the DLQ's name as `dlq replay` took it
    method: str  # "StartMessageMoveTask" | "receive-send-delete" | "send-to-queue" | "put-events" | "dry-run"
    moved: int = 0
    task_handle: str | None = None
    previews: list[str] = field(default_factory=list)
    destination: str = ""
    skipped: int = 0  # messages left in the DLQ: they are not what this DLQ's producer writes (reasons below)
    problems: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)  # schedule: the runs the replayed requests start


def replay_dlq(
    sqs_client: SQSClient,
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


def replay(clients: AwsClients, dlq: DeadLetterQueue, dry_run: bool = False, limit: int | None = None) -> ReplayResult:
    """Replay one dead-letter queue to where its messages belong (see DeadLetterQueue.purpose)."""
    if dlq.service == NOTIFIER and dlq.kind in ("service", "rule") and not dry_run:
        result = replay_notifier(clients.sqs, lambda: clients.client("lambda"), dlq, limit=limit)
    elif dlq.kind == "service":
        result = replay_dlq(
            clients.sqs,
            dlq.name,
            dlq.destination,
            dlq.destination_arn,
            dlq.url,
            dlq.arn,
            dry_run=dry_run,
            limit=limit,
        )
    elif dry_run:
        result = _preview(clients.sqs, dlq)
    elif dlq.kind == "rule":
        result = replay_rule_dlq(clients.sqs, dlq, limit=limit)
    else:
        result = replay_schedule_dlq(clients.sqs, clients.events, dlq, limit=limit)
    result.destination = dlq.destination
    return result


def _preview(sqs_client: SQSClient, dlq: DeadLetterQueue) -> ReplayResult:
    response = sqs_client.receive_message(
        QueueUrl=dlq.url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    )
    depth = dlq_depth(sqs_client, dlq.name, dlq.url, peek=False)
    previews = [m["Body"][:200] for m in response.get("Messages", [])]
    return ReplayResult(dlq.name, "dry-run", moved=depth.messages, previews=previews)


def replay_rule_dlq(sqs_client: SQSClient, dlq: DeadLetterQueue, limit: int | None = None) -> ReplayResult:
    """Send the events of a rule-target DLQ to the queue the rule targets, as EventBridge would have.

    EventBridge puts the event it could not deliver in the DLQ, with RULE_ARN, TARGET_ARN, ERROR_CODE,
    ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS as message attributes
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html). The body, the event, is sent as
    is; those attributes are not (the rule's target never gets them). StartMessageMoveTask cannot do this: it only
    redrives queues that are DLQs of other SQS queues (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
    APIReference/API_StartMessageMoveTask.html). A FIFO queue needs a MessageGroupId (the route's, as on its rule
    target) and takes the event id as MessageDeduplicationId, so a replay repeated within SQS's 5-minute
    deduplication interval does not send an event twice
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
    """
    fifo = dlq.destination.endswith(".fifo")
    if fifo and not dlq.message_group_id:
        raise ValueError(f"{dlq.destination} is a FIFO queue: its route must name a message group")

    def send(message: MessageTypeDef) -> None:
        event = parse_eventbridge_event(message["Body"])
        entry: dict[str, Any] = {"QueueUrl": dlq.destination, "MessageBody": message["Body"]}
        if fifo:
            entry["MessageGroupId"] = dlq.message_group_id
            entry["MessageDeduplicationId"] = event.id[:128]
        sqs_client.send_message(**entry)

    return _drain(sqs_client, dlq, "send-to-queue", send, limit)


NOTIFIER = "notifier"


def replay_notifier(
    sqs_client: SQSClient, lambda_client: Callable[[], LambdaClient], dlq: DeadLetterQueue, limit: int | None = None
) -> ReplayResult:
    """The notifier's dead letters (its own DLQ's, its rule's): sent back to its queue where that is allowed (the
    local stack), else handed to the notifier function itself.

    On AWS the notifier queue's policy admits its EventBridge rule alone (cdk/stack.py): a SendMessage by anyone
    else, the operator replaying included, is refused with AccessDenied. The bus would not take the events back either:
    it accepts the transformer's and the collector's sources from their roles only (cdk/constructs/shared.py). So each
    message goes through a receive -> deliver -> delete loop (no move task, whose sends the queue policy would stop
    out of sight), and once a send is refused the rest are given to the function as its SQS event source gives them:
    an Invoke (RequestResponse) with one record in the SQS event shape (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html),
    deleted from the DLQ only when the function reported no failure for it (a partial batch response,
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). The notifier checks each event
    against the ledger as it checks any: a dead letter of a real outcome is mailed, anything else is refused.
    """
    fifo = dlq.destination.endswith(".fifo")
    mode = {"method": "receive-send-delete"}

    def send(message: MessageTypeDef) -> None:
        entry: dict[str, Any] = {"QueueUrl": dlq.destination, "MessageBody": message["Body"]}
        if fifo:
            entry["MessageGroupId"] = dlq.message_group_id or message["Attributes"].get("MessageGroupId", "replay")
            entry["MessageDeduplicationId"] = f"replay-{message['MessageId']}"
        sqs_client.send_message(**entry)

    def deliver(message: MessageTypeDef) -> None:
        if mode["method"] == "receive-send-delete":
            try:
                send(message)
                return
            except Exception as exc:
                if not _access_denied(exc):
                    raise
                mode["method"] = "invoke-function"
        _invoke_notifier(lambda_client(), dlq, message)

    result = _drain(sqs_client, dlq, "receive-send-delete", deliver, limit)
    result.method = mode["method"]
    return result


def _invoke_notifier(lambda_client: LambdaClient, dlq: DeadLetterQueue, message: MessageTypeDef) -> None:
    region = dlq.destination_arn.split(":")[3] if dlq.destination_arn.count(":") >= 5 else ""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1", **(message.get("Attributes") or {})},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", hashlib.md5(message["Body"].encode()).hexdigest()),
        "eventSource": "aws:sqs",
        "eventSourceARN": dlq.destination_arn,
        "awsRegion": region,
    }
    name = function_name(NOTIFIER)
    response = lambda_client.invoke(
        FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps({"Records": [record]}).encode()
    )
    body: Any = response.get("Payload")  # boto3's is a StreamingBody; read as bytes whatever a client hands back
    payload = body.read() if hasattr(body, "read") else body
    if response.get("FunctionError"):
        raise RuntimeError(f"{name} failed on message {message['MessageId']}: {str(payload)[:300]}")
    answer = json.loads(payload or b"{}")
    if answer.get("batchItemFailures"):
        raise RuntimeError(
            f"{name} could not handle message {message['MessageId']} (see `restaurant-pipeline logs notifier --aws`); "
            "it stays in the dead-letter queue"
        )


def _access_denied(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return "AccessDenied" in str(response.get("Error", {}).get("Code", ""))


def replay_schedule_dlq(
    sqs_client: SQSClient, events_client: EventBridgeClient, dlq: DeadLetterQueue, limit: int | None = None
) -> ReplayResult:
    """Put the schedule's failed requests on the bus again: "Collection Requested", trigger_source "replay".

    The Scheduler's dead-letter event is "a JSON payload containing invocation details" with ERROR_CODE,
    ERROR_MESSAGE, EXECUTION_ID, IS_PAYLOAD_TRUNCATED, SCHEDULED_TIME, SCHEDULE_ARN and TARGET_ARN as message
    attributes (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html). The page's
    example is a universal target's request parameters; for this templated PutEvents target it does not show the
    body, so the request is read from any of: the schedule's input (the detail), a PutEvents request entry
    ({"Detail": …}) or a PutEvents request ({"Entries": [{"Detail": …}]}). A message whose body is none of those,
    or that the Scheduler truncated, stays in the DLQ and is reported: start that run with `restaurant-pipeline run`.

    The event names the CLI as its source (the bus accepts the scheduler's source from the schedule's role only:
    cdk/constructs/shared.py) and a run id derived from the dead-letter event (its EXECUTION_ID, else its message
    id), so replaying one failed schedule twice starts the same run: the collector's deterministic keys make the
    second a no-op.
    """

    def put(message: MessageTypeDef) -> None:
        request = scheduled_request(message)
        response = events_client.put_events(Entries=[request.to_entry(dlq.destination, source=CLI_SOURCE)])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the request: {response['Entries'][0].get('ErrorMessage')}")
        assert request.run_id is not None
        result.run_ids.append(request.run_id)

    result = ReplayResult(dlq.name, "put-events")
    return _drain(sqs_client, dlq, "put-events", put, limit, result)


def scheduled_request(message: MessageTypeDef) -> CollectionRequested:
    """The Collection Requested to put on the bus for one schedule dead-letter message; ContractError if the message
    does not hold one."""
    attributes = {k: v.get("StringValue", "") for k, v in (message.get("MessageAttributes") or {}).items()}
    if attributes.get("IS_PAYLOAD_TRUNCATED", "").lower() == "true":
        raise ContractError("the Scheduler truncated this request (IS_PAYLOAD_TRUNCATED): its cities are not all there")
    try:
        body = json.loads(message["Body"])
    except ValueError:
        raise ContractError("the body is not JSON") from None
    detail: Any = body
    if isinstance(body, dict) and isinstance(body.get("Entries"), list) and body["Entries"]:
        detail = body["Entries"][0].get("Detail") if isinstance(body["Entries"][0], dict) else None
    elif isinstance(body, dict) and "Detail" in body:
        detail = body["Detail"]
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            raise ContractError("its Detail is not JSON") from None
    if not isinstance(detail, dict):
        raise ContractError("the body holds no Collection Requested detail")
    original = CollectionRequested.parse_detail(detail)
    return CollectionRequested(
        cities=original.cities,
        max_restaurants=original.max_restaurants,
        trigger_source="replay",
        run_id=original.run_id or replay_run_id(message, attributes),
    )


def replay_run_id(message: MessageTypeDef, attributes: dict[str, str]) -> str:
    """replay-<the scheduled time, else when the message was sent>-<6 hex digits of the execution id>."""
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(attributes.get("SCHEDULED_TIME", "").replace("Z", "+00:00"))
    except ValueError:
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        if sent and str(sent).isdigit():
            moment = datetime.fromtimestamp(int(sent) / 1000, UTC)
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    identity = attributes.get("EXECUTION_ID") or str(message.get("MessageId", ""))
    return f"replay-{moment:%Y%m%dT%H%M%SZ}-{hashlib.sha256(identity.encode()).hexdigest()[:6]}"


_SKIPPED_REASONS_KEPT = 10


def _drain(
    sqs_client: SQSClient,
    dlq: DeadLetterQueue,
    method: str,
    deliver: Callable[[MessageTypeDef], None],
    limit: int | None,
    result: ReplayResult | None = None,
) -> ReplayResult:
    """Receive, deliver, delete: a message is deleted only after its delivery was accepted (an interrupted replay
    repeats at worst, never loses). A message `deliver` refuses (ContractError) is left in the DLQ, visible again at
    the end, and counted as skipped with its reason."""
    result = result or ReplayResult(dlq.name, method)
    refused: dict[str, str] = {}  # MessageId -> receipt handle
    while limit is None or result.moved < limit:
        response = sqs_client.receive_message(
            QueueUrl=dlq.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = []
        for message in response.get("Messages", []):
            if message["MessageId"] in refused:  # seen again after its visibility ran out: keep its newest handle
                refused[message["MessageId"]] = message["ReceiptHandle"]
            else:
                messages.append(message)
        if not messages:
            break
        for message in messages:
            try:
                deliver(message)
            except ContractError as exc:
                refused[message["MessageId"]] = message["ReceiptHandle"]
                if len(result.problems) < _SKIPPED_REASONS_KEPT:
                    result.problems.append(f"{message['MessageId']}: {str(exc)[:300]}")
                continue
            sqs_client.delete_message(QueueUrl=dlq.url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
    for handle in refused.values():  # visible again now, not after the receive's 60 s
        sqs_client.change_message_visibility(QueueUrl=dlq.url, ReceiptHandle=handle, VisibilityTimeout=0)
    result.skipped = len(refused)
    return result


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
