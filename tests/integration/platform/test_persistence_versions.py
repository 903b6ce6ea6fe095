"""`local up` puts every object version back under its own version id and with its own date, as the transformer saw
it before `local down`: its claims (by version id) still match, and its 24-hour coalescing window
(services/transformer/service.py `_coalesce`) does not take a version saved days ago for a new one.

Against the local stack's moto server (restaurant_pipeline/local/moto_server.py), which a plain PutObject cannot
give a chosen version id or date.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local import persistence
from restaurant_pipeline.local.moto_server import RESTORED_VERSION_PATH
from restaurant_pipeline.local.stack import IDEMPOTENCY_TABLE, LOCAL_CREDENTIALS, StatePaths
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.domain.reading import ObjectRef
from services.transformer.ports import StoredVersion
from tests.conftest import REGION

BUCKET = "restaurant-pipeline-local"
DAY = "raw/places/dt=2026-03-01/"


@pytest.fixture
def clients(moto_endpoint: str) -> AwsClients:
    return AwsClients(region=REGION, endpoint_url=moto_endpoint, credentials=LOCAL_CREDENTIALS)


def _fresh_moto(clients: AwsClients, endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    clients.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    clients.dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _claim_key(version: StoredVersion) -> str:
    """The transformer's claim key of a listed version (what `_coalesce` claims)."""
    ref = ObjectRef(BUCKET, version.key, version.version_id, version.etag, version.size, version.last_modified)
    return ref.idempotency_key


def _listing(clients: AwsClients) -> list[tuple[str, str, bool, bool, datetime]]:
    """(key, version id, is latest, is a delete marker, last modified), as ListObjectVersions gives them."""
    page = clients.s3.list_object_versions(Bucket=BUCKET)
    versions = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"]) for v in page.get("Versions", [])]
    markers = [
        (m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"]) for m in page.get("DeleteMarkers", [])
    ]
    return sorted(versions + markers)


def _date_back(state: StatePaths, days: int) -> None:
    """The snapshot as if saved `days` ago: every version's date moved back (a `local down` days before `up`)."""
    folder = state.root / json.loads((state.root / persistence.POINTER_FILE).read_text())["snapshot"]
    lines = (folder / "objects.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    for record in records:
        moved = datetime.fromisoformat(record["last_modified"]) - timedelta(days=days)
        record["last_modified"] = moved.isoformat()
    (folder / "objects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_restored_versions_keep_their_ids_dates_and_order_and_the_transformer_s_claims(
    clients: AwsClients, moto_endpoint: str, tmp_path: Path
) -> None:
    state = StatePaths(tmp_path / "state")
    state.make()
    _fresh_moto(clients, moto_endpoint)
    for body in (b"first", b"second"):  # two versions of one key within one second: the newer stays the latest
        clients.s3.put_object(Bucket=BUCKET, Key=f"{DAY}twice.jsonl", Body=body)
    clients.s3.put_object(Bucket=BUCKET, Key=f"{DAY}once.jsonl", Body=b"once")
    clients.s3.put_object(Bucket=BUCKET, Key=f"{DAY}deleted.jsonl", Body=b"gone")
    clients.s3.delete_object(Bucket=BUCKET, Key=f"{DAY}deleted.jsonl")
    claims = ObjectClaims(clients.dynamodb, IDEMPOTENCY_TABLE)
    built = S3ObjectStore(clients.s3, BUCKET).waiting_versions(DAY, datetime.now(UTC) - timedelta(1))
    for version in built:  # what the transformer does once it has built a version
        key = _claim_key(version)
        claims.claim(key, 60_000)
        claims.complete(key, {"run_id": "run-1", "outcome": "passed"})
    before = _listing(clients)

    persistence.snapshot(clients, state, BUCKET, [IDEMPOTENCY_TABLE])
    _fresh_moto(clients, moto_endpoint)  # moto forgets everything, as on `local down`
    persistence.restore(clients, state, BUCKET)

    assert _listing(clients) == before
    [latest] = [version for key, version, is_latest, _, _ in before if key == f"{DAY}twice.jsonl" and is_latest]
    assert clients.s3.get_object(Bucket=BUCKET, Key=f"{DAY}twice.jsonl")["VersionId"] == latest
    assert clients.s3.get_object(Bucket=BUCKET, Key=f"{DAY}twice.jsonl", VersionId=latest)["Body"].read() == b"second"
    fresh = ObjectClaims(clients.dynamodb, IDEMPOTENCY_TABLE)  # a new execution environment: no local cache
    restored = S3ObjectStore(clients.s3, BUCKET).waiting_versions(DAY, datetime.now(UTC) - timedelta(1))
    states = {(v.key, v.version_id): fresh.claim(_claim_key(v), 60_000).state for v in restored}
    assert len(built) == 4 and states == {(v.key, v.version_id): "done" for v in built}


def test_a_version_saved_days_ago_is_not_new_after_up(clients: AwsClients, moto_endpoint: str, tmp_path: Path) -> None:
    """The coalescing window goes by LastModified: a restore that dated every version `now` made a whole old bucket
    look like the last 24 hours' uploads."""
    state = StatePaths(tmp_path / "state")
    state.make()
    _fresh_moto(clients, moto_endpoint)
    clients.s3.put_object(Bucket=BUCKET, Key=f"{DAY}old.jsonl", Body=b"old")
    saved_at = clients.s3.list_object_versions(Bucket=BUCKET)["Versions"][0]["LastModified"]
    persistence.snapshot(clients, state, BUCKET, [])
    _date_back(state, days=3)
    _fresh_moto(clients, moto_endpoint)

    persistence.restore(clients, state, BUCKET)

    [version] = clients.s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert version["LastModified"] == saved_at - timedelta(days=3)
    assert S3ObjectStore(clients.s3, BUCKET).waiting_versions(DAY, datetime.now(UTC) - timedelta(hours=24)) == []


def test_the_restored_version_request_says_what_it_cannot_do(clients: AwsClients, moto_endpoint: str) -> None:
    _fresh_moto(clients, moto_endpoint)
    version = clients.s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")["VersionId"]

    def ask(**body: Any) -> tuple[int, str]:
        request = urllib.request.Request(
            moto_endpoint + RESTORED_VERSION_PATH, data=json.dumps(body).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())["version_id"]
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())["error"]

    common = {"bucket": BUCKET, "key": "k", "last_modified": None}
    assert ask(**common, version_id="nope", saved_version_id="v1") == (400, f"no version 'nope' of 'k' in '{BUCKET}'")
    assert ask(**common, version_id=version) == (400, "missing or not a string: saved_version_id")
    assert ask(**common, version_id=version, saved_version_id="v1") == (200, "v1")
    assert clients.s3.get_object(Bucket=BUCKET, Key="k", VersionId="v1")["Body"].read() == b"x"


def test_a_server_without_the_request_restores_with_new_ids_and_says_so(
    clients: AwsClients, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Another moto (no restored-version request): every object still comes back, under moto's ids, and `up` logs
    what that costs instead of failing."""
    state = StatePaths(tmp_path / "state")
    state.make()
    _fresh_moto(clients, moto_endpoint)
    for name in ("a", "b"):
        clients.s3.put_object(Bucket=BUCKET, Key=f"{DAY}{name}.jsonl", Body=name.encode())
    saved = {v["VersionId"] for v in clients.s3.list_object_versions(Bucket=BUCKET)["Versions"]}
    persistence.snapshot(clients, state, BUCKET, [])
    _fresh_moto(clients, moto_endpoint)
    monkeypatch.setattr(persistence, "RESTORED_VERSION_PATH", "/_restaurant-pipeline/no-such-request")

    with caplog.at_level("WARNING", logger=persistence.__name__):
        assert persistence.restore(clients, state, BUCKET)["objects"] == 2

    restored = {v["VersionId"] for v in clients.s3.list_object_versions(Bucket=BUCKET)["Versions"]}
    assert len(restored) == 2 and not restored & saved
    [warning] = [r.getMessage() for r in caplog.records if r.name == persistence.__name__]
    assert warning.startswith("2 restored object versions have new version ids") and "\n" not in warning
