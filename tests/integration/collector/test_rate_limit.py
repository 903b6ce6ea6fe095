"""Pacing against a real server: the stub enforces a quota of 20 per 1 s window (a minute shrunk to a second)
and counts what it receives; the collector's real service and adapters run with a limiter of the same rate."""

from __future__ import annotations

import json
import time

import pytest

from restaurant_pipeline.local.places_stub import max_in_window
from services.collector.adapters.pacing import SlidingWindowLimiter
from services.collector.bootstrap import bootstrap
from services.collector.domain.plan import plan_run
from services.collector.service import paced_window, parse_request, process_request
from services.collector.settings import CollectorSettings
from tests.integration.collector.conftest import Collector

pytestmark = pytest.mark.integration

RATE, WINDOW = 20, 1.0


def test_the_collector_never_exceeds_the_quota_in_any_window(collector: Collector) -> None:
    collector.stub.update(per_minute_quota=RATE, quota_window_seconds=WINDOW)
    body = collector.sqs_event({"cities": ["Paris", "Lyon"], "max_restaurants": 400})["Records"][0]["body"]
    settings = CollectorSettings.from_env()
    app = bootstrap(settings)  # the function's wiring, from this environment
    envelope, request = parse_request(body)
    plan = plan_run(request, envelope.time, envelope.id, settings, attempt=1)
    limiter = SlidingWindowLimiter(RATE, paced_window(WINDOW))  # what production does, for a 1 s window

    outcome = process_request(plan, app.deps, time.monotonic() + 60, limiter=limiter)

    stats = collector.stub.stats()
    arrivals = sorted(item["at"] for item in stats["requests"])
    assert stats["throttled_429"] == 0, json.dumps(stats["throttled"])
    busiest = max_in_window(arrivals, WINDOW)
    assert busiest <= RATE
    assert busiest >= 0.9 * RATE, f"at most {busiest} requests in a window: the pacer wastes the quota"
    assert len(arrivals) >= 3 * RATE, "long enough to span several windows"
    assert sum(city.places for city in outcome.collected) == 800
