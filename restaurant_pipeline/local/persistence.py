"""What survives `local down` / `local up`: the bucket's objects, the DynamoDB tables and the messages waiting in
the queues and DLQs, under .pipeline/.

moto keeps everything in memory, so `down` saves a snapshot to disk and `up` puts it back before S3 notifications
are switched on: restored objects start no run, and a run interrupted by `down` carries on after `up` from its
queued messages.

A snapshot is one folder, `.pipeline/snapshot-<time>/`, named by the pointer file `.pipeline/snapshot.json`:
- `blobs/<sha256>`: each object body once, named by the digest of its bytes. An object key is data, never a path:
  a key may hold `../`, glob characters or 1,024 bytes of UTF-8 (the S3 limit,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html), and no key decides where a file goes;
- `objects.jsonl`: every version of every object, oldest first per key, with its exact key, version id, date
  (LastModified), content type, content encoding and user metadata, and the digest of its body (a key whose latest
  version is a delete marker is saved as such). `up` gives each version its saved id and date back
  (local/moto_server.py): the transformer's claims name versions by id and its coalescing goes by date, so a
  restored version that came back as a new one was built again, and a dropped file's run mailed again;
- `tables.jsonl`: every item of the stack's tables; `queues.jsonl`: every message of every queue, with its message
  attributes and, in a FIFO queue, its MessageGroupId and MessageDeduplicationId;
- `manifest.json`, written last: the counts.

All or nothing: the snapshot is written into `snapshot.tmp/` and becomes the current one only when complete, by
atomically replacing the pointer file (os.replace). A save that fails leaves the previous snapshot current, raises
`SaveFailed` naming what failed, and leaves moto as it found it (messages visible again, FIFO messages sent back).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from restaurant_pipeline.local.moto_server import RESTORED_VERSION_PATH
from restaurant_pipeline.local.stack import StatePaths

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
    )

    from restaurant_pipeline.aws import AwsClients

log = logging.getLogger(__name__)

FORMAT = 2
POINTER_FILE = "snapshot.json"  # {"snapshot": folder name, "messages_restored": bool}
STAGING = "snapshot.tmp"
_OBJECTS, _TABLES, _QUEUES, _MANIFEST, _BLOBS = (
    "objects.jsonl",
    "tables.jsonl",
    "queues.jsonl",
    "manifest.json",
    "blobs",
)
# the object attributes a restore puts back (get_object's answer name -> put_object's parameter, the same; mypy checks
# each name against GetObject's answer)
ObjectAttribute = Literal["ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl"]
_OBJECT_ATTRIBUTES: tuple[ObjectAttribute, ...] = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
)
_VISIBILITY_WHILE_SAVING = 900
_CHUNK = 1 << 20


class SaveFailed(RuntimeError):
    """The snapshot could not be written; the previous one is still current and moto still holds the state."""


@dataclass
class _QueueRead:
    """What a save took from the queues, to give back if the save fails."""

    visible_again: dict[str, list[str]] = field(default_factory=dict)  # standard queue url -> receipt handles
    drained: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # FIFO (url, record) deleted from moto


# -- save ----------------------------------------------------------------------------------------------------------
def snapshot(
    clients: AwsClients, state: StatePaths, bucket: str, tables: list[str], queue_urls: list[str] | None = None
) -> dict[str, int]:
    """Write the bucket, the tables and the queued messages as a new snapshot, current only once complete.
    Raises SaveFailed (the previous snapshot stays current) when any part fails."""
    staging = state.root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    taken = _QueueRead()
    step = "prepare the snapshot folder"
    try:
        (staging / _BLOBS).mkdir(parents=True)
        step = f"save the objects of bucket {bucket}"
        objects = _save_objects(clients.s3, bucket, staging)
        step = "save the tables"
        items = _save_tables(clients.dynamodb, tables, staging / _TABLES)
        step = "save the queued messages"
        messages = _save_queues(clients.sqs, queue_urls or [], staging / _QUEUES, taken)
        counts = {"objects": objects, "items": items, "messages": messages}
        step = "write the manifest"
        _write_durably(
            staging / _MANIFEST,
            json.dumps({"format": FORMAT, "bucket": bucket, "saved_at": _now(), "counts": counts}),
        )
        step = "make the new snapshot current"
        _switch_to(state.root, staging)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _give_back(clients.sqs, taken)
        raise SaveFailed(f"could not {step}: {type(exc).__name__}: {exc}") from exc
    _remove_older_snapshots(state.root)
    return counts


def _save_objects(s3: S3Client, bucket: str, staging: Path) -> int:
    """Every version of every object (the local bucket is versioned), oldest first per key."""
    count = 0
    with open(staging / _OBJECTS, "w", encoding="utf-8") as out:
        for key, versions in _versions_by_key(s3, bucket):
            for version in reversed(versions):  # the listing gives each key's versions newest first
                record: dict[str, Any] = {"key": key, "version_id": version.get("VersionId"), "latest": False}
                if version.get("DeleteMarker"):
                    record["delete_marker"] = True
                else:
                    response = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
                    record["blob"], record["size"] = _store_blob(response["Body"], staging / _BLOBS)
                    record["metadata"] = response.get("Metadata") or {}
                    record.update({name: response[name] for name in _OBJECT_ATTRIBUTES if response.get(name)})
                    count += 1
                record["latest"] = bool(version.get("IsLatest"))
                if version.get("LastModified"):
                    record["last_modified"] = version["LastModified"].isoformat()
                out.write(json.dumps(record) + "\n")
        _sync(out)
    return count


def _versions_by_key(s3: S3Client, bucket: str) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    """(key, its versions and delete markers newest first). A delete marker between two versions is not kept:
    the listing gives markers apart from versions, so only the latest state of a key is known to be a marker."""
    current_key: str | None = None
    current: list[Mapping[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries: list[Mapping[str, Any]] = [
            *page.get("Versions", []),
            *({**marker, "DeleteMarker": True} for marker in page.get("DeleteMarkers", []) if marker.get("IsLatest")),
        ]
        entries.sort(key=lambda entry: (entry["Key"], not entry.get("IsLatest")))  # stable: newest first per key
        for entry in entries:
            if entry["Key"] != current_key:
                if current_key is not None:
                    yield current_key, current
                current_key, current = entry["Key"], []
            current.append(entry)
    if current_key is not None:
        yield current_key, current


def _store_blob(body: Any, folder: Path) -> tuple[str, int]:
    """Stream the body into the blob folder under the SHA-256 of its bytes (an identical body is kept once)."""
    digest = hashlib.sha256()
    size = 0
    temporary = folder / f".incoming-{os.getpid()}"
    with open(temporary, "wb") as out:
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        _sync(out)
    name = digest.hexdigest()
    temporary.replace(folder / name)
    return name, size


def _save_tables(dynamodb: DynamoDBClient, tables: list[str], target: Path) -> int:
    count = 0
    with open(target, "w", encoding="utf-8") as out:
        for table in tables:
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    out.write(json.dumps({"table": table, "item": _encode(item)}) + "\n")
                    count += 1
        _sync(out)
    return count


def _save_queues(
    sqs: SQSClient, queue_urls: list[str], target: Path, taken: _QueueRead, settle_seconds: float = 10.0
) -> int:
    """Every message of every queue. A standard queue is read without deleting (each message received once with a
    long visibility timeout, then made visible again). A FIFO queue cannot be read that way: a received message
    blocks the rest of its message group until it is deleted or visible again
    (https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned), so reading a FIFO queue without deleting
    saw only the first receive's messages. A FIFO queue is therefore drained (received then deleted, in order); a
    save that fails later sends the drained messages back (`_give_back`). FIFO queues go last, so that nothing but
    writing the snapshot itself can fail after a FIFO message left moto."""
    _wait_for_inflight(sqs, queue_urls, settle_seconds)
    count = 0
    ordered = [url for url in queue_urls if not _fifo(url)] + [url for url in queue_urls if _fifo(url)]
    with open(target, "w", encoding="utf-8") as out:
        for url in ordered:
            for message in _read_queue(sqs, url, taken):
                out.write(json.dumps(message) + "\n")
                count += 1
            out.flush()
        _sync(out)
    for url, handles in taken.visible_again.items():  # the snapshot holds them; moto keeps them too, visible
        _make_visible(sqs, url, handles)
    taken.visible_again.clear()
    return count


def _wait_for_inflight(sqs: SQSClient, queue_urls: list[str], settle_seconds: float) -> None:
    """Failed messages come back after the short local retry delay: wait for them (not past settle_seconds)."""
    deadline = time.monotonic() + settle_seconds
    for url in queue_urls:
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )
            if int(attributes["Attributes"].get("ApproximateNumberOfMessagesNotVisible", 0)) == 0:
                break
            time.sleep(0.2)


def _read_queue(sqs: SQSClient, url: str, taken: _QueueRead) -> Iterator[dict[str, Any]]:
    fifo = _fifo(url)
    name = url.rsplit("/", 1)[-1]
    while True:
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=_VISIBILITY_WHILE_SAVING,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return
        records = [_record_of(message, name) for message in received]
        if not fifo:  # noted before they are written: a failed write still makes them visible again
            taken.visible_again.setdefault(url, []).extend(message["ReceiptHandle"] for message in received)
        yield from records
        if not fifo:
            continue
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)
        ]
        deleted = {
            entry["Id"] for entry in sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Successful", [])
        }
        taken.drained.extend((url, record) for i, record in enumerate(records) if str(i) in deleted)
        if len(deleted) < len(received):
            raise RuntimeError(f"could not take {len(received) - len(deleted)} message(s) out of {name}")


def _record_of(message: MessageTypeDef, queue: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "queue": queue,
        "id": message["MessageId"],
        "body": message["Body"],
        "attributes": _encode(message.get("MessageAttributes", {})),
        "group": attributes.get("MessageGroupId"),
        "deduplication_id": attributes.get("MessageDeduplicationId"),
    }


def _make_visible(sqs: SQSClient, url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _give_back(sqs: SQSClient, taken: _QueueRead) -> None:
    """After a failed save: what the save took from moto goes back. FIFO messages are sent again in the order
    they were read (behind any message of the queue the save had not reached yet), with their group and
    deduplication ids: moto forgets a deduplication id once its message is deleted."""
    for url, handles in taken.visible_again.items():
        with suppress(Exception):  # they come back anyway when the visibility timeout ends
            _make_visible(sqs, url, handles)
    for url, record in taken.drained:
        _send(sqs, url, record, body=record["body"])


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
        _sync(out)


def _switch_to(root: Path, staging: Path) -> None:
    """The complete snapshot becomes current in one atomic step: the pointer file is replaced (os.replace)."""
    folder = root / f"snapshot-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    staging.rename(folder)
    pointer = root / f"{POINTER_FILE}.tmp"
    try:
        _write_durably(pointer, json.dumps({"snapshot": folder.name, "messages_restored": False}))
        os.replace(pointer, root / POINTER_FILE)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _remove_older_snapshots(root: Path) -> None:
    current = _current_snapshot(root)
    for folder in root.glob("snapshot-*"):
        if folder.is_dir() and folder != current:
            shutil.rmtree(folder, ignore_errors=True)
    for legacy in ("s3", "tables"):  # the layout before snapshots: keys as file paths
        shutil.rmtree(root / legacy, ignore_errors=True)


def _sync(out: Any) -> None:
    out.flush()
    os.fsync(out.fileno())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fifo(url: str) -> bool:
    return url.endswith(".fifo")


def _encode(value: Any) -> Any:
    """JSON for DynamoDB items and message attributes: bytes (B, BS, BinaryValue) as {"__bytes__": base64}."""
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {key: _encode(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_encode(inner) for inner in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {key: _decode(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_decode(inner) for inner in value]
    return value


# -- restore -------------------------------------------------------------------------------------------------------
def _current_snapshot(root: Path) -> Path | None:
    pointer = root / POINTER_FILE
    if not pointer.is_file():
        return None
    folder = root / json.loads(pointer.read_text(encoding="utf-8"))["snapshot"]
    return folder if folder.is_dir() else None


def last_saved(state: StatePaths) -> str | None:
    """When the current snapshot was saved (ISO 8601, UTC), or None when there is none."""
    folder = _current_snapshot(state.root)
    if folder is None or not (folder / _MANIFEST).is_file():
        return None
    return str(json.loads((folder / _MANIFEST).read_text(encoding="utf-8")).get("saved_at"))


def restore(clients: AwsClients, state: StatePaths, bucket: str, queue_urls: list[str] | None = None) -> dict[str, int]:
    """Put the current snapshot back (before bucket notifications are on). Its messages are restored once: a stack
    that dies without `down` does not replay them on the next `up`."""
    folder = _current_snapshot(state.root)
    if folder is None:
        return _restore_legacy(clients, state, bucket, queue_urls)
    pointer = json.loads((state.root / POINTER_FILE).read_text(encoding="utf-8"))
    objects, versions = _restore_objects(clients.s3, bucket, folder)
    items = 0
    for record in _records(folder / _TABLES):
        item = _decode(record["item"])
        if _claimed_by_a_stopped_invocation(item):
            continue
        clients.dynamodb.put_item(TableName=record["table"], Item=item)
        items += 1
    messages = 0
    if not pointer.get("messages_restored"):
        messages = _restore_queues(clients.sqs, _records(folder / _QUEUES), queue_urls or [], versions)
        temporary = state.root / f"{POINTER_FILE}.tmp"
        _write_durably(temporary, json.dumps({**pointer, "messages_restored": True}))
        os.replace(temporary, state.root / POINTER_FILE)
    return {"objects": objects, "items": items, "messages": messages}


def _claimed_by_a_stopped_invocation(item: dict[str, Any]) -> bool:
    """An idempotency record still INPROGRESS (Powertools' `status` attribute): the invocation that wrote it was
    running at `down` and did not outlive the stack; its messages were made visible again and come back after `up`.
    Restored, the claim would hold its object "busy" until its in-progress expiry (the function's time left, up to
    its timeout), longer than the local retries last: the object would reach the dead-letter queue instead of being
    built. On AWS a claim outlives its invocation only until that same deadline, when the function is stopped."""
    return item.get("status") == {"S": "INPROGRESS"}


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _restore_objects(s3: S3Client, bucket: str, folder: Path) -> tuple[int, dict[tuple[str, str | None], str]]:
    """Each saved version put back in order, then the delete markers, each with its saved version id and time
    again (moto_server.py). Returns the count and (key, saved version id or None for the latest) -> the restored
    version id: the saved one, or moto's new one when the server could not take the saved one back."""
    count = 0
    versions: dict[tuple[str, str | None], str] = {}
    renamer = _VersionRenamer(s3, bucket)
    for record in _records(folder / _OBJECTS):
        key = record["key"]
        if record.get("delete_marker"):
            renamer.rename(key, s3.delete_object(Bucket=bucket, Key=key).get("VersionId"), record)
            continue
        extra: dict[str, Any] = {name: record[name] for name in _OBJECT_ATTRIBUTES if record.get(name)}
        with open(folder / _BLOBS / record["blob"], "rb") as body:
            response = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=record.get("metadata", {}), **extra)
        restored = renamer.rename(key, response.get("VersionId"), record)
        if restored:
            versions[(key, record.get("version_id"))] = restored
            if record.get("latest"):
                versions[(key, None)] = restored
        count += 1
    if renamer.refused:
        log.warning(
            "%d restored object versions have new version ids and today's date (%s): the transformer sees them as "
            "new objects, and a file dropped on their day builds them again",
            renamer.refused,
            renamer.reason,
        )
    return count, versions


class _VersionRenamer:
    """Gives a restored version its saved version id and time back, through the local server's restored-version
    request (restaurant_pipeline/local/moto_server.py): S3 names and dates every version it stores, and the
    transformer's claims and its 24-hour coalescing window go by that name and date
    (services/transformer/service.py `_coalesce`). A server that refuses (another moto) is asked no more: the
    restore goes on with moto's ids, and says so."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._url = f"{str(s3.meta.endpoint_url).rstrip('/')}{RESTORED_VERSION_PATH}"
        self._bucket = bucket
        self.refused = 0
        self.reason = ""

    def rename(self, key: str, version_id: str | None, record: dict[str, Any]) -> str | None:
        saved = record.get("version_id")
        if not version_id or not saved or saved == "null":
            return version_id  # an unversioned bucket
        if self.reason:
            self.refused += 1
            return version_id
        request = {
            "bucket": self._bucket,
            "key": key,
            "version_id": version_id,
            "saved_version_id": saved,
            "last_modified": record.get("last_modified"),  # None in a snapshot from before times were saved
        }
        try:
            _post_json(self._url, request)
        except (OSError, ValueError) as exc:
            self.reason = f"the server refused to give them their saved ids back: {exc}"
            self.refused += 1
            return version_id
        return str(saved)


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body` as JSON; the answer's JSON. An error answer raises OSError with the server's message."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        detail = " ".join(exc.read().decode("utf-8", "replace").split())[:200]  # one line in the log
        raise OSError(f"HTTP {exc.code} {detail}") from None


def _restore_legacy(
    clients: AwsClients, state: StatePaths, bucket: str, queue_urls: list[str] | None
) -> dict[str, int]:
    """A snapshot written before this format: s3/ holds each object at its key as a path, tables/ the items."""
    objects = 0
    versions: dict[tuple[str, str | None], str] = {}
    if state.s3.is_dir():
        for path in sorted(p for p in state.s3.rglob("*") if p.is_file()):
            key = path.relative_to(state.s3).as_posix()
            with open(path, "rb") as body:
                response = clients.s3.put_object(Bucket=bucket, Key=key, Body=body)
            if response.get("VersionId"):
                versions[(key, None)] = str(response["VersionId"])
            objects += 1
    items = 0
    if state.tables.is_dir():
        for path in sorted(state.tables.glob("*.jsonl")):
            if path.name == "queues.jsonl":
                continue
            for record in _records(path):
                clients.dynamodb.put_item(TableName=path.name.removesuffix(".jsonl"), Item=record)
                items += 1
    queues = state.tables / "queues.jsonl"
    messages = _restore_queues(clients.sqs, _records(queues), queue_urls or [], versions)
    queues.unlink(missing_ok=True)
    return {"objects": objects, "items": items, "messages": messages}


def _current_version(body: str, versions: dict[tuple[str, str | None], str]) -> str:
    """A queued S3 event names the object version of the stack that saved it; the restored object has that
    version id again, unless the server could not give it back (_VersionRenamer): then it is a new version of the
    same bytes. Point the event at it, or the transformer would look for a version that no longer exists (found by
    tests/e2e/test_drills_restart.py: the run ended in "validate failed")."""
    if not versions or '"aws.s3"' not in body:
        return body
    try:
        event = json.loads(body)
        obj = event["detail"]["object"]
        key = obj["key"]
        version = versions.get((key, obj.get("version-id"))) or versions.get((key, None))
    except (ValueError, KeyError, TypeError):
        return body
    if version is None or "version-id" not in obj:
        return body
    obj["version-id"] = version
    return json.dumps(event)


def _restore_queues(
    sqs: SQSClient,
    records: Iterator[dict[str, Any]],
    queue_urls: list[str],
    versions: dict[tuple[str, str | None], str] | None = None,
) -> int:
    by_name = {url.rsplit("/", 1)[-1]: url for url in queue_urls}
    count = 0
    seen: set[tuple[str, str]] = set()
    for record in records:
        url = by_name.get(record["queue"])
        if url is None:
            continue  # a queue that no longer exists in the topology
        deduplication_id = record.get("deduplication_id")
        if deduplication_id and (url, deduplication_id) in seen:
            # Two saved messages with one deduplication id (sent more than 5 minutes apart, or the same body in a
            # queue with content-based deduplication): sent again within the interval, the second would be
            # dropped as a duplicate. It keeps its place with a derived id instead.
            record = {**record, "deduplication_id": f"{deduplication_id[:100]}-restored-{count}"}
        seen.add((url, record.get("deduplication_id") or ""))
        _send(sqs, url, record, body=_current_version(record["body"], versions or {}))
        count += 1
    return count


def _send(sqs: SQSClient, url: str, record: dict[str, Any], body: str) -> None:
    send: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
    if record.get("attributes"):
        send["MessageAttributes"] = _decode(record["attributes"])
    if _fifo(url):
        send["MessageGroupId"] = record.get("group") or "restored"
        send["MessageDeduplicationId"] = record.get("deduplication_id") or f"restored-{record['id']}"
    sqs.send_message(**send)
