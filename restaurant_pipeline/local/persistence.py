"""What survives `local down` / `local up`: the bucket's objects, the DynamoDB tables and the messages
waiting in the queues and DLQs, under .pipeline/.

moto keeps everything in memory, so `down` snapshots the bucket (latest version of every object), the tables
and the queued messages to disk, and `up` puts them back before S3 notifications are switched on: restored
objects start no run, and a run interrupted by `down` carries on after `up` from its queued messages.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from restaurant_pipeline.local.stack import StatePaths

_TABLE_SUFFIX = ".jsonl"
_QUEUES_FILE = "queues.jsonl"


def snapshot(
    clients: Any, state: StatePaths, bucket: str, tables: list[str], queue_urls: list[str] | None = None
) -> dict[str, int]:
    """Write the bucket, the tables and the queued messages to disk, replacing the previous snapshot only
    once complete."""
    staging = state.root / "snapshot.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "s3").mkdir(parents=True)
    (staging / "tables").mkdir()
    objects = 0
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            target = staging / "s3" / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            body = clients.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"]
            with open(target, "wb") as out:
                shutil.copyfileobj(body, out)
            objects += 1
    items = 0
    for table in tables:
        with open(staging / "tables" / f"{table}{_TABLE_SUFFIX}", "w", encoding="utf-8") as out:
            for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    out.write(json.dumps(item) + "\n")
                    items += 1
    messages = _snapshot_queues(clients.sqs, queue_urls or [], staging / "tables" / _QUEUES_FILE)
    for name in ("s3", "tables"):
        shutil.rmtree(state.root / name, ignore_errors=True)
        (staging / name).rename(state.root / name)
    shutil.rmtree(staging, ignore_errors=True)
    return {"objects": objects, "items": items, "messages": messages}


def _snapshot_queues(sqs: Any, queue_urls: list[str], target: Path, settle_seconds: float = 10.0) -> int:
    """Every message still waiting (or about to be retried) in the queues, without deleting it."""
    deadline = time.monotonic() + settle_seconds
    for url in queue_urls:  # failed messages come back after the short local retry delay: wait for them
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )
            if int(attributes["Attributes"].get("ApproximateNumberOfMessagesNotVisible", 0)) == 0:
                break
            time.sleep(0.2)
    count = 0
    with open(target, "w", encoding="utf-8") as out:
        for url in queue_urls:
            while True:
                response = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=900,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                received = response.get("Messages", [])
                if not received:
                    break
                for message in received:
                    record = {
                        "queue": url.rsplit("/", 1)[-1],
                        "body": message["Body"],
                        "group": message.get("Attributes", {}).get("MessageGroupId"),
                        "id": message["MessageId"],
                        "attributes": message.get("MessageAttributes", {}),
                    }
                    out.write(json.dumps(record) + "\n")
                    count += 1
    return count


def restore(clients: Any, state: StatePaths, bucket: str, queue_urls: list[str] | None = None) -> dict[str, int]:
    """Put the last snapshot back (before bucket notifications are on)."""
    objects = 0
    versions: dict[str, str] = {}  # key -> the version id the restored object got
    if state.s3.is_dir():
        for path in sorted(p for p in state.s3.rglob("*") if p.is_file()):
            key = path.relative_to(state.s3).as_posix()
            with open(path, "rb") as body:
                response = clients.s3.put_object(Bucket=bucket, Key=key, Body=body)
            if response.get("VersionId"):
                versions[key] = str(response["VersionId"])
            objects += 1
    items = 0
    if state.tables.is_dir():
        for path in sorted(state.tables.glob(f"*{_TABLE_SUFFIX}")):
            if path.name == _QUEUES_FILE:
                continue
            table = path.name.removesuffix(_TABLE_SUFFIX)
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    clients.dynamodb.put_item(TableName=table, Item=json.loads(line))
                    items += 1
    messages = _restore_queues(clients.sqs, state.tables / _QUEUES_FILE, queue_urls or [], versions)
    return {"objects": objects, "items": items, "messages": messages}


def _current_version(body: str, versions: dict[str, str]) -> str:
    """A queued S3 event names the object version of the stack that saved it; the restored object is a new
    version of the same bytes. Point the event at it, or the transformer would look for a version that no
    longer exists (found by tests/e2e/test_drills_restart.py: the run ended in "validate failed")."""
    if not versions or '"aws.s3"' not in body:
        return body
    try:
        event = json.loads(body)
        obj = event["detail"]["object"]
        version = versions.get(obj["key"])
    except (ValueError, KeyError, TypeError):
        return body
    if version is None or "version-id" not in obj:
        return body
    obj["version-id"] = version
    return json.dumps(event)


def _restore_queues(sqs: Any, source: Path, queue_urls: list[str], versions: dict[str, str] | None = None) -> int:
    if not source.exists():
        return 0
    by_name = {url.rsplit("/", 1)[-1]: url for url in queue_urls}
    count = 0
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        url = by_name.get(record["queue"])
        if url is None:
            continue  # a queue that no longer exists in the topology
        send: dict[str, Any] = {"QueueUrl": url, "MessageBody": _current_version(record["body"], versions or {})}
        if record.get("attributes"):
            send["MessageAttributes"] = record["attributes"]
        if url.endswith(".fifo"):
            send["MessageGroupId"] = record.get("group") or "restored"
            send["MessageDeduplicationId"] = f"restored-{record['id']}"
        sqs.send_message(**send)
        count += 1
    source.unlink()
    return count
