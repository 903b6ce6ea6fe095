"""Views over the run ledger for operators: run summaries and the audit of what is unaccounted for."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from restaurant_pipeline import operations
from services.common.names import RAW_PREFIX

IN_PROGRESS_GRACE = timedelta(minutes=30)
REFUSED = "REFUSED"  # services/notifier/service.py: an event whose run the ledger did not know


def summarise_runs(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run, newest first."""
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in steps:
        if item["step"] != REFUSED:  # an event the notifier refused is no step of a run (audit lists it)
            by_run[item["run_id"]].append(item)
    runs = []
    for run_id, items in by_run.items():
        items.sort(key=lambda item: item["at"])
        requested = next((i for i in items if i["step"] == "REQUESTED"), None)
        notified = next((i for i in items if i["step"] == "NOTIFIED"), None)
        failed = [i for i in items if i["step"] == "COLLECTION_FAILED"]
        aside = quarantined_lines(notified)
        if notified:
            status = f"notified: {notified['subject']}" + (f", {lines_words(aside)} quarantined" if aside else "")
        elif failed:
            status = "collection failed: " + ", ".join(sorted({str(i["data"].get("category")) for i in failed}))
        elif any(i["step"] == "TRANSFORMED" for i in items):
            status = "transformed"
        elif any(i["step"] == "TRANSFORM_FAILED" for i in items):
            status = "transform failed (messages in the transformer's dead-letter queue)"
        elif any(i["step"] == "COLLECTED" for i in items):
            status = "collected"
        else:
            status = "requested"
        started, ended = items[0]["at"], items[-1]["at"]
        cities = (requested or {}).get("data", {}).get("cities") or sorted(
            {i["subject"] for i in items if i["step"] in ("COLLECTED", "COLLECTION_FAILED") and i["subject"] != "-"}
        )
        runs.append(
            {
                "run_id": run_id,
                "trigger": (requested or {}).get("data", {}).get("trigger"),
                "cities": list(cities),
                "status": status,
                "started": started,
                "ended": ended,
                "duration_seconds": _seconds_between(started, ended),
                "notified": notified is not None,
                "quarantined_lines": aside,
            }
        )
    runs.sort(key=lambda run: run["started"], reverse=True)
    return runs


def quarantined_lines(notified: dict[str, Any] | None) -> int:
    """The lines the run's notified outcome set aside (the notifier records them with NOTIFIED; 0 when an older
    notifier did not)."""
    value = (notified or {}).get("data", {}).get("quarantined_lines")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def lines_words(count: int) -> str:
    return f"{count:,} line" + ("" if count == 1 else "s")


LATEST = "latest"


def find_run(steps: list[dict[str, Any]], reference: str) -> str:
    """The run id `reference` names: `latest` (the newest run), a whole run id, or the start of exactly one.
    LookupError (with what to type instead) when it names none or several."""
    runs = summarise_runs(steps)
    if not runs:
        raise LookupError("the ledger has no run yet: start one with `restaurant-pipeline run`")
    if reference == LATEST:
        return str(runs[0]["run_id"])
    ids = [str(run["run_id"]) for run in runs]
    if reference in ids:
        return reference
    matches = [run_id for run_id in ids if run_id.startswith(reference)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LookupError(f"no run {reference!r} in the ledger; `restaurant-pipeline runs` lists them")
    shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
    raise LookupError(f"{reference!r} starts {len(matches)} run ids ({shown}): type more of it")


def audit_pipeline(target: Any, now: datetime | None = None) -> dict[str, Any]:
    """Everything that should have happened and did not. `clean` is False when anything is unaccounted for."""
    now = now or datetime.now(UTC)
    steps = target.ledger.all_steps()
    transformed = {item["subject"] for item in steps if item["step"] == "TRANSFORMED"}
    never_transformed = []
    for page in target.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=RAW_PREFIX):
        for item in page.get("Contents", []):
            if item["Key"] in transformed:
                continue
            age = now - item["LastModified"].astimezone(UTC)
            if age > timedelta(minutes=2):  # younger ones may still be on their way
                never_transformed.append(f"s3://{target.bucket}/{item['Key']} ({age.total_seconds():.0f}s old)")
    never_notified = []
    in_progress = []
    for run in summarise_runs(steps):
        if run["notified"]:
            continue
        started = datetime.fromisoformat(run["started"])
        if now - started < IN_PROGRESS_GRACE:
            in_progress.append(f"{run['run_id']} ({run['status']})")
        else:
            never_notified.append(f"{run['run_id']} ({run['status']}, started {run['started']})")
    dlq_messages = []
    for dlq in target.dead_letter_queues():  # the services', the rule targets' and the schedule's
        depth = operations.dlq_depth(target.clients.sqs, dlq.name, dlq.url, peek=False)
        if depth.messages or depth.in_flight:
            dlq_messages.append(
                f"{dlq.name}: {depth.messages + depth.in_flight} message(s) in {dlq.url}; "
                f"`restaurant-pipeline dlq replay {dlq.name}`"
            )
    refused = [
        f"{item['data'].get('detail_type', 'event')} for run {item['run_id']} at {item['at']} "
        f"(event {item['subject']}): {item['data'].get('reason', 'no reason recorded')}"
        for item in steps
        if item["step"] == REFUSED
    ]
    findings = {
        "raw objects never transformed": never_transformed,
        "runs never notified": never_notified,
        "messages in dead-letter queues": dlq_messages,
        "events refused by the notifier (forged or unknown run)": refused,
    }
    return {
        "clean": not any(findings.values()),
        "findings": findings,
        "in_progress": in_progress,
        "ledger_steps": len(steps),
    }


def _seconds_between(start: str, end: str) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None
