"""Record every AWS API call this process makes: one JSON line per call, for the IAM sufficiency proof.

Self-contained on purpose (the standard library and botocore only): the Lambda sandbox loads this file before the
runtime starts (SandboxSpec.preload, like a Lambda internal extension), where the repository is not importable and
only /tmp is writable. It wraps `botocore.client.BaseClient._make_api_call`, the one method every botocore client
goes through, so it sees the calls of every client, including those dbt-athena and pyathena create from their own
boto3 sessions. Each call is written as one line to file descriptor 2 (the function's log: .pipeline/logs/<service>.log
locally), or handed to the sink given to `install`:

    {"aws_api_call": {"service": "s3", "operation": "PutObject", "region": "eu-west-3",
                      "params": {"Bucket": "...", "Key": "...", "IfNoneMatch": "*"}, "error": null}}

Only the parameters needed to name the resource a call touches (and the condition keys the policies use) are kept,
from a fixed list below: never a value that may hold a secret or data (SecretString, message bodies, item
attributes, query strings). It is switched on by the environment variable RECORD_ENV, which only tests set.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

RECORD_ENV = "RESTAURANT_PIPELINE_RECORD_AWS_CALLS"
MARKER = "aws_api_call"

# Top-level request parameters kept as they are: resource names and condition-key values, never content.
KEPT = (
    "Bucket",
    "Key",
    "Prefix",
    "Delimiter",
    "VersionId",
    "IfNoneMatch",
    "CopySource",
    "QueueUrl",
    "QueueName",
    "TableName",
    "IndexName",
    "TopicArn",
    "TargetArn",
    "EventBusName",
    "SecretId",
    "VersionStage",
    "WorkGroup",
    "QueryExecutionId",
    "DatabaseName",
    "Name",
    "CatalogName",
    "CatalogId",
    "TablesToDelete",
    "KeyId",
    "LanguageCode",
)
# Nested parameters: (path, name in the record). A path step "[]" maps over a list.
NESTED = (
    (("Entries", "[]", "EventBusName"), "Entries.EventBusName"),
    (("Entries", "[]", "Source"), "Entries.Source"),
    (("Entries", "[]", "DetailType"), "Entries.DetailType"),
    (("Delete", "Objects", "[]", "Key"), "Delete.Objects.Key"),
    (("TableInput", "Name"), "TableInput.Name"),
    (("DatabaseInput", "Name"), "DatabaseInput.Name"),
    (("QueryExecutionContext", "Database"), "QueryExecutionContext.Database"),
    (("QueryExecutionContext", "Catalog"), "QueryExecutionContext.Catalog"),
    (("ResultConfiguration", "OutputLocation"), "ResultConfiguration.OutputLocation"),
    (("RequestItems", "{}"), "RequestItems.TableNames"),
    (("TransactItems", "[]", "*", "TableName"), "TransactItems.TableName"),
)
# Response fields kept: what later calls refer to (a query id names its work group only at StartQueryExecution).
KEPT_RESPONSE = ("QueryExecutionId",)

Sink = Callable[[dict[str, Any]], None]
_lock = threading.Lock()
_state: dict[str, Any] = {"original": None, "sink": None}
_ignored: set[int] = set()


def _pick(value: Any, path: tuple[str, ...]) -> Any:
    if not path:
        return value
    step, rest = path[0], path[1:]
    if step == "[]":
        if not isinstance(value, list):
            return None
        picked = [_pick(item, rest) for item in value]
        return [item for item in picked if item is not None] or None
    if step == "{}":
        return sorted(value) if isinstance(value, dict) else None
    if step == "*":  # the single key of a union (TransactItems: {"Put": {...}} or {"Update": {...}} ...)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        return _pick(next(iter(value.values())), rest)
    if not isinstance(value, dict) or step not in value:
        return None
    return _pick(value[step], rest)


def summarize(service: str, operation: str, region: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """The record of one call: service, operation, region and the kept parameters (never content)."""
    kept: dict[str, Any] = {}
    for name in KEPT:
        value = params.get(name)
        if isinstance(value, str | int | bool) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            kept[name] = value
        elif name == "CopySource" and isinstance(value, dict):
            kept[name] = {k: v for k, v in value.items() if k in ("Bucket", "Key", "VersionId")}
    for path, name in NESTED:
        value = _pick(params, path)
        if value is not None:
            kept[name] = value
    return {"service": service, "operation": operation, "region": region, "params": kept, "error": None}


def _write_stderr(record: dict[str, Any]) -> None:
    line = json.dumps({MARKER: record}, sort_keys=True, default=str) + "\n"
    os.write(2, line.encode("utf-8"))  # one write per line: lines of concurrent threads do not interleave


def install(sink: Sink | None = None) -> None:
    """Record every botocore API call of this process from now on (idempotent; the last sink wins)."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    client_class: Any = BaseClient  # _make_api_call is not in botocore's type stubs

    with _lock:
        _state["sink"] = sink or _write_stderr
        if _state["original"] is not None:
            return
        original = client_class._make_api_call
        _state["original"] = original

        def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if id(self) in _ignored:
                return original(self, operation_name, api_params)
            model = self.meta.service_model
            record = summarize(model.service_name, operation_name, self.meta.region_name, api_params or {})
            try:
                response = original(self, operation_name, api_params)
            except ClientError as exc:
                record["error"] = str(exc.response.get("Error", {}).get("Code") or "ClientError")
                raise
            except Exception as exc:
                record["error"] = type(exc).__name__
                raise
            else:
                if isinstance(response, dict):
                    kept = {name: response[name] for name in KEPT_RESPONSE if isinstance(response.get(name), str)}
                    if kept:
                        record["response"] = kept
                return response
            finally:
                _state["sink"](record)

        client_class._make_api_call = _make_api_call


def uninstall() -> None:
    with _lock:
        original = _state["original"]
        if original is None:
            return
        from botocore.client import BaseClient

        client_class: Any = BaseClient
        client_class._make_api_call = original
        _state["original"] = None
        _state["sink"] = None


def requested() -> bool:
    return os.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes")


def install_if_requested() -> bool:
    """Install when RECORD_ENV is set to a true value (what the sandbox preload and the workers call)."""
    if requested():
        install()
        return True
    return False


def ignore(client: Any) -> None:
    """Never record this client's calls: the local event source mapping's own SQS client, which stands in for
    Lambda's poller in the worker process, is not the function's code."""
    _ignored.add(id(client))


def records_in(lines: Any) -> list[dict[str, Any]]:
    """The call records among log lines (other lines, JSON or not, are skipped)."""
    found = []
    for line in lines:
        text = line.strip() if isinstance(line, str) else line.decode("utf-8", "replace").strip()
        if MARKER not in text or not text.startswith("{"):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get(MARKER), dict):
            found.append(document[MARKER])
    return found


def preload() -> None:
    """The Lambda sandbox's preload entry point (SandboxSpec.preload): runs before the runtime starts."""
    install_if_requested()
