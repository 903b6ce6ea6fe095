"""`local down` / `local up` keep the stack's state exactly, for any key and any queue, against moto's server.

Keys are data: a key with `../`, glob characters or 1,024 bytes of UTF-8 round-trips and writes nothing outside the
state folder. Every message of every queue comes back, FIFO queues included (more than one receive's worth, with
their group and deduplication ids). A save that fails keeps the previous snapshot and leaves moto as it was.
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local import persistence
from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, StatePaths
from tests.conftest import REGION

BUCKET = "restaurant-pipeline-local"
TABLE = "restaurant-pipeline-ledger"
STANDARD, FIFO = "restaurant-pipeline-notifier-dlq", "restaurant-pipeline-transformer-dlq.fifo"

# Any Unicode but what moto's XML listing cannot carry: control characters (moto answers 500 or drops "\r"; AWS
# asks for EncodingType=url for them, which botocore sets by itself), surrogates (not UTF-8) and unassigned code
# points (U+FFFE breaks moto's XML).
KEY_CHARACTERS = st.characters(exclude_categories=("Cc", "Cs", "Cn"))
HOSTILE_KEYS = [
    "../../outside-the-state-folder",
    "raw/places/dt=2026-01-01/../../../../etc/passwd",
    "/absolute/key",
    "raw/places/dt=2026-01-01/*.jsonl",
    "raw/places/dt=2026-01-01/[ab]?.jsonl.gz",
    "x" * 1024,  # the longest key S3 allows: far past a file name's 255 bytes
    "é" * 512,  # 1,024 bytes of UTF-8
    "\U0001f355" * 256,  # 1,024 bytes, four per character
    ".",
    "..",
    "a//b/./c",
    "[bold]markup[/]",
]
keys = st.one_of(
    st.sampled_from(HOSTILE_KEYS),
    st.text(KEY_CHARACTERS, min_size=1, max_size=60).filter(lambda key: len(key.encode()) <= 1024),
)
# what an SQS body may hold (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
BODY_CHARACTERS = st.characters(exclude_categories=("Cc", "Cs", "Cn"), include_characters="\t\n")
bodies = st.text(BODY_CHARACTERS, min_size=1, max_size=80)


@pytest.fixture
def clients(moto_endpoint: str) -> AwsClients:
    return AwsClients(region=REGION, endpoint_url=moto_endpoint, credentials=LOCAL_CREDENTIALS)


def _fresh_moto(clients: AwsClients, endpoint: str) -> list[str]:
    """An empty moto with the resources a snapshot needs: the versioned bucket, a table, a standard and a FIFO
    queue shaped like the stack's (content-based deduplication). Returns the queue urls."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    clients.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    clients.dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    standard = clients.sqs.create_queue(QueueName=STANDARD)["QueueUrl"]
    fifo = clients.sqs.create_queue(
        QueueName=FIFO, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    return [standard, fifo]


def _bucket_state(clients: AwsClients) -> dict[str, list[tuple[bytes, str, dict[str, str]]]]:
    """key -> its versions oldest first: (body, content type, metadata)."""
    state: dict[str, list[tuple[bytes, str, dict[str, str]]]] = defaultdict(list)
    for page in clients.s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for version in page.get("Versions", []):
            got = clients.s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
            state[version["Key"]].insert(0, (got["Body"].read(), got["ContentType"], got["Metadata"]))
    return dict(state)


def _drain(clients: AwsClients, url: str) -> list[tuple[Any, ...]]:
    """Every message of a queue, in the order received: (body, string attributes, group, deduplication id)."""
    messages: list[tuple[Any, ...]] = []
    while True:
        received = clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not received:
            return messages
        for message in received:
            attributes = {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
            system = message.get("Attributes", {})
            messages.append(
                (message["Body"], attributes, system.get("MessageGroupId"), system.get("MessageDeduplicationId"))
            )
        clients.sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        )


def _table_items(clients: AwsClients) -> list[dict[str, Any]]:
    return sorted(clients.dynamodb.scan(TableName=TABLE)["Items"], key=lambda item: item["pk"]["S"])


def _only_snapshot_files(root: Path, there_before: set[str]) -> None:
    """Nothing a key names: besides what was there, the pointer and one snapshot folder of fixed names, its blobs
    named by a SHA-256."""
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        if relative[0] in there_before or relative == (persistence.POINTER_FILE,):
            continue
        assert relative[0].startswith("snapshot-"), path
        if len(relative) == 1:
            continue
        if len(relative) == 2:
            assert relative[1] in {"blobs", "objects.jsonl", "tables.jsonl", "queues.jsonl", "manifest.json"}, path
        else:
            assert relative[1] == "blobs" and len(relative) == 3 and len(relative[2]) == 64, path


objects = st.dictionaries(
    keys,
    st.lists(
        st.tuples(st.binary(max_size=300), st.sampled_from(["application/x-ndjson", "text/plain; a=b"])),
        min_size=1,
        max_size=2,
    ),
    max_size=6,
)
fifo_messages = st.lists(st.tuples(bodies, st.sampled_from(["g1", "g2", "g3"])), max_size=24)
standard_messages = st.lists(st.tuples(bodies, bodies), max_size=12)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    objects=objects,
    fifo=fifo_messages,
    standard=standard_messages,
    metadata=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)
@example(  # every hostile key at once, two versions each, and FIFO groups longer than one receive
    objects={
        key: [(b"old", "text/plain; a=b"), (key.encode() + b"\x00\xff", "application/x-ndjson")] for key in HOSTILE_KEYS
    },
    fifo=[(f"[bold]{i}[/]", f"g{i % 2 + 1}") for i in range(24)],
    standard=[("../x", "[/]"), ("*?[]", "\u00e9\U0001f355")],
    metadata="kept",
)
def test_any_key_body_and_queue_content_survives_save_and_restore_byte_for_byte(
    clients: AwsClients,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    objects: dict[str, list[tuple[bytes, str]]],
    fifo: list[tuple[str, str]],
    standard: list[tuple[str, str]],
    metadata: str,
) -> None:
    outer = tmp_path_factory.mktemp("outer")
    state = StatePaths(outer / "state")
    state.make()
    there_before = {path.name for path in state.root.iterdir()}
    standard_url, fifo_url = _fresh_moto(clients, moto_endpoint)
    for key, versions in objects.items():
        for body, content_type in versions:
            clients.s3.put_object(
                Bucket=BUCKET, Key=key, Body=body, ContentType=content_type, Metadata={"note": metadata}
            )
    for i, (body, group) in enumerate(fifo):
        clients.sqs.send_message(
            QueueUrl=fifo_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=f"d-{i}"
        )
    for body, attribute in standard:
        clients.sqs.send_message(
            QueueUrl=standard_url,
            MessageBody=body,
            MessageAttributes={"why": {"DataType": "String", "StringValue": attribute}},
        )
    clients.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "../../run"}, "blob": {"B": b"\x00\xff"}})
    before = _bucket_state(clients)
    items_before = _table_items(clients)

    counts = persistence.snapshot(clients, state, BUCKET, [TABLE], [standard_url, fifo_url])
    standard_url, fifo_url = _fresh_moto(clients, moto_endpoint)  # moto forgets everything, as on `local down`
    restored = persistence.restore(clients, state, BUCKET, [standard_url, fifo_url])

    assert (
        counts
        == restored
        == {"objects": sum(map(len, objects.values())), "items": 1, "messages": len(fifo) + len(standard)}
    )
    assert _bucket_state(clients) == before
    assert _table_items(clients) == items_before
    fifo_after = _drain(clients, fifo_url)
    for group in ("g1", "g2", "g3"):  # FIFO: every message, in order within its group, with its ids
        sent = [(body, {}, group, f"d-{i}") for i, (body, g) in enumerate(fifo) if g == group]
        assert [m for m in fifo_after if m[2] == group] == sent
    assert sorted(_drain(clients, standard_url)) == sorted((body, {"why": why}, None, None) for body, why in standard)
    assert [path.name for path in outer.iterdir()] == ["state"]  # nothing beside the state folder
    _only_snapshot_files(state.root, there_before)


def test_a_fifo_queue_holding_more_than_one_receive_is_saved_whole(
    clients: AwsClients, moto_endpoint: str, tmp_path: Path
) -> None:
    """A received FIFO message blocks its group: reading without deleting saw only the first receive's messages."""
    state = StatePaths(tmp_path / "state")
    state.make()
    queues = _fresh_moto(clients, moto_endpoint)
    for i in range(35):
        clients.sqs.send_message(
            QueueUrl=queues[1], MessageBody=f"poison {i}", MessageGroupId="transformer", MessageDeduplicationId=f"d{i}"
        )

    assert persistence.snapshot(clients, state, BUCKET, [TABLE], queues)["messages"] == 35
    queues = _fresh_moto(clients, moto_endpoint)
    persistence.restore(clients, state, BUCKET, queues)

    assert [m[0] for m in _drain(clients, queues[1])] == [f"poison {i}" for i in range(35)]


def test_a_failed_save_keeps_the_previous_snapshot_and_leaves_moto_as_it_was(
    clients: AwsClients, moto_endpoint: str, tmp_path: Path
) -> None:
    state = StatePaths(tmp_path / "state")
    state.make()
    standard_url, fifo_url = _fresh_moto(clients, moto_endpoint)
    clients.s3.put_object(Bucket=BUCKET, Key="raw/first", Body=b"first")
    persistence.snapshot(clients, state, BUCKET, [TABLE], [standard_url, fifo_url])
    first = json.loads((state.root / persistence.POINTER_FILE).read_text())["snapshot"]
    clients.s3.put_object(Bucket=BUCKET, Key="raw/second", Body=b"second")
    for i in range(12):
        clients.sqs.send_message(
            QueueUrl=fifo_url, MessageBody=f"f{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
        clients.sqs.send_message(QueueUrl=standard_url, MessageBody=f"s{i}")
    (state.root / f"{persistence.POINTER_FILE}.tmp").mkdir()  # the pointer cannot be written: the last step fails

    with pytest.raises(persistence.SaveFailed, match="could not make the new snapshot current: IsADirectoryError"):
        persistence.snapshot(clients, state, BUCKET, [TABLE], [standard_url, fifo_url])

    assert json.loads((state.root / persistence.POINTER_FILE).read_text())["snapshot"] == first
    assert sorted(p.name for p in state.root.iterdir() if p.name.startswith("snapshot")) == sorted(
        [first, persistence.POINTER_FILE, f"{persistence.POINTER_FILE}.tmp"]
    )
    assert [m[0] for m in _drain(clients, fifo_url)] == [f"f{i}" for i in range(12)]  # sent back, in order
    assert sorted(m[0] for m in _drain(clients, standard_url)) == sorted(f"s{i}" for i in range(12))  # visible now


def test_a_claim_in_progress_at_down_is_not_restored_so_its_message_finds_the_object_free(
    clients: AwsClients, moto_endpoint: str, tmp_path: Path
) -> None:
    """An invocation running at `down` does not outlive the stack; its message is released and comes back. Its
    claim, restored "in progress", held the object busy past the local retries, into the dead-letter queue."""
    state = StatePaths(tmp_path / "state")
    state.make()
    queues = _fresh_moto(clients, moto_endpoint)
    done = {"pk": {"S": "transformer.object#done"}, "status": {"S": "COMPLETED"}, "data": {"S": "{}"}}
    running = {"pk": {"S": "transformer.object#running"}, "status": {"S": "INPROGRESS"}, "expiration": {"N": "9"}}
    for item in (done, running):
        clients.dynamodb.put_item(TableName=TABLE, Item=item)

    persistence.snapshot(clients, state, BUCKET, [TABLE], queues)
    queues = _fresh_moto(clients, moto_endpoint)
    restored = persistence.restore(clients, state, BUCKET, queues)

    assert restored["items"] == 1 and _table_items(clients) == [done]
