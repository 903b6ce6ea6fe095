"""The Places stub as a real HTTP server: what a client sees on the wire."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from restaurant_pipeline.local.places_stub import Fault, StubServer
from restaurant_pipeline.local.places_stub.protocol import FIELD_MASK_MISSING
from restaurant_pipeline.local.processes import free_port, stop_process, wait_for_http

pytestmark = pytest.mark.integration

MASK = "places.id,places.displayName,places.location,nextPageToken"


def call(
    url: str, body: dict[str, Any], mask: str | None = MASK, key: str | None = "any-key", method: str = "POST"
) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"}
    if mask is not None:
        headers["X-Goog-FieldMask"] = mask
    if key is not None:
        headers["X-Goog-Api-Key"] = key
    request = urllib.request.Request(
        url + "/v1/places:searchText", data=json.dumps(body).encode(), headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_pages_of_20_up_to_the_cap_of_60_with_tokens(stub: StubServer) -> None:
    body: dict[str, Any] = {"textQuery": "restaurants in Paris", "pageSize": 20}
    ids: list[str] = []
    pages = 0
    while True:
        status, _, answer = call(stub.url, body)
        assert status == 200
        pages += 1
        ids += [place["id"] for place in answer["places"]]
        if "nextPageToken" not in answer:
            break
        body = {**body, "pageToken": answer["nextPageToken"]}
    assert (pages, len(ids), len(set(ids))) == (3, 60, 60)


def test_an_ids_only_request_returns_the_same_places_and_is_counted_as_the_free_sku(stub: StubServer) -> None:
    stub.reset()
    body = {"textQuery": "restaurants in Nantes", "pageSize": 20}
    _, _, billed = call(stub.url, body, mask="places.id,places.rating,nextPageToken")
    _, _, free = call(stub.url, body, mask="places.id,nextPageToken")
    assert [p["id"] for p in free["places"]] == [p["id"] for p in billed["places"]]
    assert all(set(place) == {"id"} for place in free["places"])
    call(stub.url, body, mask=None)  # refused (no mask): not billed
    assert stub.stats()["by_sku"] == {
        "essentials_ids_only": 1,
        "pro": 0,
        "enterprise": 1,
        "enterprise_atmosphere": 0,
    }


def test_only_masked_fields_come_back_and_no_token_unless_masked(stub: StubServer) -> None:
    _, _, answer = call(stub.url, {"textQuery": "restaurants in Lyon"}, mask="places.displayName")
    assert set(answer) == {"places"}
    assert all(set(place) == {"displayName"} for place in answer["places"])


def test_a_missing_field_mask_is_refused_with_googles_message(stub: StubServer) -> None:
    status, _, answer = call(stub.url, {"textQuery": "restaurants in Lyon"}, mask=None)
    assert status == 400
    assert answer == {"error": {"code": 400, "message": FIELD_MASK_MISSING, "status": "INVALID_ARGUMENT"}}


def test_a_token_reused_with_a_different_body_is_refused(stub: StubServer) -> None:
    _, _, answer = call(stub.url, {"textQuery": "restaurants in Paris"})
    token = answer["nextPageToken"]
    status, _, error = call(stub.url, {"textQuery": "restaurants in Lyon", "pageToken": token})
    assert status == 400 and error["error"]["status"] == "INVALID_ARGUMENT"
    status, _, _ = call(stub.url, {"textQuery": "restaurants in Paris", "pageToken": token, "pageSize": 10})
    assert status == 200, "pageSize may change between pages"


def test_the_city_query_returns_its_viewport_and_rectangles_restrict_results(stub: StubServer) -> None:
    _, _, answer = call(stub.url, {"textQuery": "Lyon"}, mask="places.viewport,places.types")
    [city] = answer["places"]
    viewport = city["viewport"]
    low, high = viewport["low"], viewport["high"]
    north_half = {"low": {**low, "latitude": (low["latitude"] + high["latitude"]) / 2}, "high": high}
    _, _, found = call(stub.url, {"textQuery": "restaurants in Lyon", "locationRestriction": {"rectangle": north_half}})
    assert found["places"]
    assert all(place["location"]["latitude"] >= north_half["low"]["latitude"] for place in found["places"])


def test_nothing_found_is_an_empty_object(stub: StubServer) -> None:
    far = {"low": {"latitude": -10, "longitude": -10}, "high": {"latitude": -9, "longitude": -9}}
    status, _, answer = call(stub.url, {"textQuery": "restaurants in Paris", "locationRestriction": {"rectangle": far}})
    assert (status, answer) == (200, {})


def test_the_per_minute_quota_answers_googles_429_and_counts_it(stub: StubServer) -> None:
    stub.update(per_minute_quota=2, retry_after_seconds=3)
    statuses = [call(stub.url, {"textQuery": "restaurants in Nice"})[0] for _ in range(3)]
    status, headers, answer = call(stub.url, {"textQuery": "restaurants in Nice"})
    assert statuses == [200, 200, 429] and status == 429
    assert answer["error"]["status"] == "RESOURCE_EXHAUSTED" and "per minute" in answer["error"]["message"]
    assert answer["error"]["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert headers["Retry-After"] == "3"
    stats = stub.stats()
    assert (stats["search_requests"], stats["throttled_429"], stats["accepted"]) == (4, 2, 2)


def test_the_per_day_quota_names_the_day(stub: StubServer) -> None:
    stub.update(per_day_quota=1)
    call(stub.url, {"textQuery": "restaurants in Nice"})
    status, headers, answer = call(stub.url, {"textQuery": "restaurants in Nice"})
    assert status == 429 and "per day" in answer["error"]["message"] and "Retry-After" not in headers


def test_keys_are_checked_like_google(stub: StubServer) -> None:
    status, _, answer = call(stub.url, {"textQuery": "x"}, key=None)
    assert status == 403 and answer["error"]["status"] == "PERMISSION_DENIED"
    stub.update(api_key="the-key")
    status, _, answer = call(stub.url, {"textQuery": "x"}, key="wrong")
    assert status == 400 and answer["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert call(stub.url, {"textQuery": "restaurants in Nice"}, key="the-key")[0] == 200


def test_added_latency_delays_every_answer(stub: StubServer) -> None:
    stub.update(latency_ms=150)
    started = time.monotonic()
    call(stub.url, {"textQuery": "restaurants in Nice"})
    assert time.monotonic() - started >= 0.15


def test_a_reset_fault_drops_the_connection(stub: StubServer) -> None:
    stub.update(faults=[Fault(kind="reset")])
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        call(stub.url, {"textQuery": "restaurants in Nice"})
    assert call(stub.url, {"textQuery": "restaurants in Nice"})[0] == 200


def test_the_error_rate_answers_5xx_for_about_that_share(stub: StubServer) -> None:
    stub.update(error_rate=0.5, seed=3)
    statuses = [call(stub.url, {"textQuery": "restaurants in Nice"})[0] for _ in range(60)]
    errors = sum(status >= 500 for status in statuses)
    assert 15 <= errors <= 45 and set(statuses) <= {200, 500, 503}


def test_controls_change_settings_and_report_stats_over_http(stub: StubServer) -> None:
    request = urllib.request.Request(
        stub.url + "/_stub/settings", data=json.dumps({"latency_ms": 5}).encode(), method="PUT"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["latency_ms"] == 5
    call(stub.url, {"textQuery": "restaurants in Nice"})
    with urllib.request.urlopen(stub.url + "/_stub/stats", timeout=5) as response:
        stats = json.loads(response.read())
    assert stats["search_requests"] == 1 and stats["statuses"] == {"200": 1}
    bad = urllib.request.Request(stub.url + "/_stub/settings", data=b'{"latency_ms": -1}', method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=5)
    assert refused.value.code == 400


def test_python_dash_m_serves_the_stub_until_stopped(tmp_path: Any) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "restaurant_pipeline.local.places_stub", "--port", str(port), "--latency-ms", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/_stub/health", process, timeout=20)
        status, _, answer = call(url, {"textQuery": "restaurants in Marseille"})
        assert status == 200 and len(answer["places"]) == 20
    finally:
        stop_process(process)
    assert process.returncode is not None
