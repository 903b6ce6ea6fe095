"""What survives `local down` / `local up`: the bucket's objects and the DynamoDB tables, under .pipeline/.

moto keeps everything in memory, so `down` snapshots the bucket (latest version of every object) and the
tables to disk, and `up` puts them back before S3 notifications are switched on: restored objects start no run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from restaurant_pipeline.local.stack import StatePaths

_TABLE_SUFFIX = ".jsonl"


def snapshot(clients: Any, state: StatePaths, bucket: str, tables: list[str]) -> dict[str, int]:
    """Write the bucket and the tables to disk, replacing the previous snapshot only once complete."""
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
    for name in ("s3", "tables"):
        shutil.rmtree(state.root / name, ignore_errors=True)
        (staging / name).rename(state.root / name)
    shutil.rmtree(staging, ignore_errors=True)
    return {"objects": objects, "items": items}


def restore(clients: Any, state: StatePaths, bucket: str) -> dict[str, int]:
    """Put the last snapshot back (before bucket notifications are on)."""
    objects = 0
    if state.s3.is_dir():
        for path in sorted(p for p in state.s3.rglob("*") if p.is_file()):
            key = path.relative_to(state.s3).as_posix()
            with open(path, "rb") as body:
                clients.s3.put_object(Bucket=bucket, Key=key, Body=body)
            objects += 1
    items = 0
    if state.tables.is_dir():
        for path in sorted(state.tables.glob(f"*{_TABLE_SUFFIX}")):
            table = path.name.removesuffix(_TABLE_SUFFIX)
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    clients.dynamodb.put_item(TableName=table, Item=json.loads(line))
                    items += 1
    return {"objects": objects, "items": items}


def snapshot_exists(state: StatePaths) -> bool:
    return any(Path(state.s3).rglob("*")) if state.s3.is_dir() else False
