"""Issue 24, item 4: `local down` while an invocation runs past the stop grace, then `local up`.

The collector's first Places request is answered only after 60 s (the stack's Places stub, latency_ms; the collector
gives up on a request after 30 s), and the stack stops its workers with a 2 s grace
(PIPELINE_LOCAL_STOP_GRACE_SECONDS): the invocation is still running when the grace ends. Found before the fix:
the collector's message was dropped, `down` said "0 queued messages" and exited 0, and the run stayed "requested"
with no email. Now its message is made visible again before the queues are saved, `down` says so, and after `up`
the run is collected, transformed and mailed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from restaurant_pipeline.local import control
from restaurant_pipeline.local.supervisor import STOP_GRACE_ENV
from tests.e2e.drills import PlacesControl, cli, delivered_emails, wait_until
from tests.support.local_stack import start_stack, state_folder

pytestmark = pytest.mark.e2e

GRACE_SECONDS = 2
PLACES_LATENCY_MS = 60_000  # the stub's maximum: far longer than the grace


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    with state_folder("down-in-flight") as folder:
        try:
            yield folder
        finally:
            control.down(folder)


def test_down_releases_an_invocation_past_the_grace_says_so_and_up_delivers_it_again(state_dir):
    stack = start_stack(state_dir, {STOP_GRACE_ENV: str(GRACE_SECONDS)})
    places = PlacesControl(stack.info.places_api_base_url)
    places.settings(latency_ms=PLACES_LATENCY_MS)
    result = cli(stack, "run", "--city", "Paris", "--max-restaurants", "5")
    run_id = result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]
    # the invocation has started: its first request is in the stub (counted on arrival, answered a minute later)
    wait_until(lambda: places.stats()["search_requests"] >= 1, timeout=60, what="the collector's first request")

    down = cli(stack, "local", "down")

    said = " ".join(down.stdout.split())
    assert "1 message in flight was released and will be delivered again after `local up`." in said, said
    [queued] = re.findall(r"(\d+) queued messages", said)
    assert int(queued) >= 1, said  # the released message is in the snapshot

    restarted = start_stack(state_dir)
    [email] = delivered_emails(restarted, run_id, timeout=180)
    steps = {s["step"] for s in restarted.target.ledger.steps(run_id)}
    assert "NOTIFIED" in steps, steps
    assert run_id in email.subject + email.body
