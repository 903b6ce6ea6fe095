"""A restart is invisible (issue 24, item 4): after `local down` and `local up`, a new file dropped on a day that
already holds built objects is built once, alone; no restored object is built again and no run is mailed twice.

The transformer coalesces: each build claims every version of its days created in the last 24 hours that holds no
claim yet (services/transformer/service.py `_coalesce`). A restore that gave the restored versions no claim had them
all built again with the new file, and the runs of the dropped files mailed again under new run ids.
Its own stack: the test stops and restarts it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from restaurant_pipeline.local import control
from tests.e2e.drills import cli, delivered_emails, depth, drop_file, emails, ledger_steps, log_records, place_line
from tests.support.local_stack import RunningStack, running_stack, start_stack, wait_until

pytestmark = pytest.mark.e2e


def test_local_down_then_up_builds_only_the_new_file_and_mails_nothing_twice():
    with running_stack("restart-integrity") as stack:
        ran = cli(stack, "run", "--city", "Paris", "--max-restaurants", "5", "--wait", "--json")
        run_id = json.loads(ran.stdout)["run_id"]
        collected = _collected_keys(stack, run_id)
        day = collected[0].split("/dt=", 1)[1].split("/", 1)[0]
        before = f"raw/places/dt={day}/dropped-before-restart.jsonl"
        drop_file(stack, before, [place_line("ChIJ-restart-before", "Avant Relance", 4.2)])
        dropped_run = _mailed_run_of(stack, before)
        built_before = _builds(stack)
        mailed_before = len(emails(stack))

        control.down(stack.state_dir)
        restarted = start_stack(stack.state_dir)  # running_stack's `local down` stops this one
        after = f"raw/places/dt={day}/dropped-after-restart.jsonl"
        drop_file(restarted, after, [place_line("ChIJ-restart-after", "Apres Relance", 4.4)])
        new_run = _mailed_run_of(restarted, after)
        _settled(restarted)
        built_after = _builds(restarted) - built_before

        restored = [*collected, before]
        assert built_before[after] == 0 and all(built_before[key] == 1 for key in restored), built_before
        mailed_after = len(emails(restarted)) - mailed_before
        per_run = [len(emails(restarted, run)) for run in (run_id, dropped_run, new_run)]
        # the new file once and no restored object again; one new email; each run mailed once
        assert (dict(built_after), mailed_after, per_run) == ({after: 1}, 1, [1, 1, 1])


def _collected_keys(stack: RunningStack, run_id: str) -> list[str]:
    keys = sorted(
        step["data"]["object_key"]
        for step in stack.target.ledger.steps(run_id)
        if step["step"] == "COLLECTED" and step.get("data", {}).get("object_key")
    )
    assert keys, f"run {run_id} collected nothing"
    return keys


def _mailed_run_of(stack: RunningStack, key: str) -> str:
    """The run id the transformer gave the dropped file `key`, once that run's email is in the outbox."""
    [step] = wait_until(lambda: ledger_steps(stack, "TRANSFORMED", key), timeout=180, what=f"{key} transformed")
    run_id = str(step["pk"]).removeprefix("RUN#")
    wait_until(
        lambda: [s for s in stack.target.ledger.steps(run_id) if s["step"] == "NOTIFIED"],
        timeout=120,
        what=f"run {run_id} notified",
    )
    delivered_emails(stack, run_id)
    return run_id


def _settled(stack: RunningStack) -> None:
    """Nothing left to build or to mail: every service's queue and the email capture queue are empty."""
    queues = [queue.url for queue in stack.info.queues.values()] + [stack.info.email_capture_queue_url]
    wait_until(lambda: all(depth(stack, url) == 0 for url in queues), timeout=120, what="every queue drained")


def _builds(stack: RunningStack) -> Counter[str]:
    """How many builds took each object: the transformer's "transform completed" log records (its log is appended
    to across restarts)."""
    records: list[dict[str, Any]] = log_records(stack, "transformer")
    return Counter(
        key for record in records if record.get("message") == "transform completed" for key in record["objects"]
    )
