"""moto's server, plus the one local-only request `local up` needs: date a restored object version back and give it
its own version id again.

S3 names each version it stores and dates it itself: "Amazon S3 automatically adds a unique version ID to every
object stored" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersioningEnabledBuckets.html),
and PutObject has no request parameter for a version id or a time
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html); moto likewise draws a random one.
On AWS nothing needs them back: a bucket keeps its versions. moto keeps them in memory only, so `local down` saves
them and `local up` puts them back (local/persistence.py), and a version put back through the S3 API is a new one,
made now. That is not what the services saw: the transformer claims each object version once, by its version id,
and coalesces the versions of a day created in the last 24 hours (services/transformer/service.py `_coalesce`), so
every restored version came back unclaimed and recent, was built again with the next file of its day, and a dropped
file's run (named after its version) was mailed again. With its version id and time back, a restored version is the
one the claims, the ledger and the queued events name, as on AWS.

    POST /_restaurant-pipeline/s3/restored-version
    {"bucket": ..., "key": ..., "version_id": <the id moto just gave it>, "saved_version_id": ...,
     "last_modified": <ISO 8601, or null to keep moto's>}

renames that version (an object version or a delete marker) in moto's memory and dates it back. It is the newest
of its key (the restore puts a key's versions back oldest first), so it is dated after the others even when the
saved times, whole seconds only, are equal: moto lists a key's versions newest first by that time.
Every other request is moto's own. This reaches into moto's models (moto==5.2.5, pinned in requirements.lock);
tests/integration/platform/test_persistence_versions.py fails if that changes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

RESTORED_VERSION_PATH = "/_restaurant-pipeline/s3/restored-version"
_PARTITION = "aws"
_STEP = timedelta(milliseconds=1)  # moto orders a key's versions by their time in milliseconds


class RestoreRefused(ValueError):
    """The request names no such version, or is malformed: the message says which."""


def restore_version(
    bucket: str,
    key: str,
    version_id: str,
    saved_version_id: str,
    last_modified: str | None,
) -> dict[str, str]:
    """Rename one version of `key` from `version_id` to `saved_version_id` and date it `last_modified` (None: keep
    moto's time; never at or before the key's other versions). Returns the version id and the time it now has."""
    from moto.core import DEFAULT_ACCOUNT_ID  # the account of any credentials moto does not know (the stack's)
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID][_PARTITION]
    found = backend.buckets.get(bucket)
    if found is None:
        raise RestoreRefused(f"no bucket {bucket!r}")
    versions = list(found.keys.getlist(key, default=[]))
    version = next((v for v in versions if str(v.version_id) == version_id), None)
    if version is None:
        raise RestoreRefused(f"no version {version_id!r} of {key!r} in {bucket!r}")
    if any(str(v.version_id) == saved_version_id for v in versions if v is not version):
        raise RestoreRefused(f"{key!r} already has a version {saved_version_id!r}")
    when = _naive_utc(last_modified) if last_modified else version.last_modified
    others = [v.last_modified for v in versions if v is not version]
    if others and when <= max(others):
        when = max(others) + _STEP
    version._version_id = saved_version_id
    version.last_modified = when
    return {"version_id": saved_version_id, "last_modified": when.replace(tzinfo=UTC).isoformat()}


def _naive_utc(text: str) -> datetime:
    """moto keeps naive UTC times (moto.core.utils.utcnow)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class WithRestoredVersions:
    """WSGI: the restored-version request here, everything else to moto. (S3 bucket names cannot start with `_`,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html, so the path is no bucket's.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != RESTORED_VERSION_PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, {"error": f"POST {RESTORED_VERSION_PATH}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            fields = ("bucket", "key", "version_id", "saved_version_id")
            missing = [name for name in fields if not isinstance(request.get(name), str)]
            if missing or not isinstance(request.get("last_modified"), str | None):
                raise RestoreRefused(f"missing or not a string: {', '.join(missing) or 'last_modified'}")
            answer = restore_version(
                request["bucket"],
                request["key"],
                request["version_id"],
                request["saved_version_id"],
                request.get("last_modified"),
            )
        except (RestoreRefused, ValueError) as exc:
            return _answer(start_response, 400, {"error": str(exc)})
        return _answer(start_response, 200, answer)


def _answer(start_response: Callable[..., Any], status: int, body: dict[str, str]) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def main(argv: list[str] | None = None) -> None:
    """As `python -m moto.server -H HOST -p PORT` (moto/server.py main), with the restored-version request."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto's own main sets it
    run_simple(args.host, args.port, WithRestoredVersions(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
