"""The stub's aiohttp application: POST /v1/places:searchText as Google answers it, plus /_stub/ controls.

Order of checks for each searchText request (each one is counted and timestamped first):
API key -> API enabled -> scripted faults -> random 5xx -> per-day quota -> per-minute quota (sliding window)
-> field mask -> body -> page token -> results. `latency_ms` is added to every answer.

Controls (not Google's): GET /_stub/stats, POST /_stub/reset, GET|PUT /_stub/settings, GET /_stub/health.
The stats count answered requests per SKU as Google bills them (billing.py: the most expensive field of the mask).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from restaurant_pipeline.local.places_stub.billing import SKUS, Sku, sku_for_mask
from restaurant_pipeline.local.places_stub.protocol import (
    ApiError,
    internal,
    invalid_argument,
    invalid_key,
    make_page_token,
    mask_includes,
    missing_key,
    parse_field_mask,
    parse_search_request,
    project,
    quota_exceeded,
    read_page_token,
    service_disabled,
    unavailable,
)
from restaurant_pipeline.local.places_stub.search import match_places
from restaurant_pipeline.local.places_stub.settings import Fault, StubSettings
from restaurant_pipeline.local.places_stub.world import localise

SEARCH_PATH = "/v1/places:searchText"
REQUEST_LOG_SIZE = 50_000
GARBAGE = "<html><head><title>502 Bad Gateway</title></head><body>Bad gateway</body></html>"


class StubState:
    """Counters and quota windows; readable from other threads (tests, the StubServer owner)."""

    def __init__(self, settings: StubSettings) -> None:
        self._lock = threading.Lock()
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.search_requests = 0
            self.accepted_today = 0
            self._window: deque[float] = deque()  # monotonic arrival times of accepted requests
            self.log: deque[tuple[float, int, bool]] = deque(maxlen=REQUEST_LOG_SIZE)  # (wall time, status, counted)
            self.statuses: Counter[int] = Counter()
            self.throttled = {"minute": 0, "day": 0}
            self.by_sku: Counter[Sku] = Counter()  # answered 200 requests, per SKU their field mask triggers
            self._rng = random.Random(f"{self.settings.seed}:faults")

    def update(self, changes: dict[str, Any]) -> StubSettings:
        merged = {**self.settings.model_dump(), **changes}
        with self._lock:
            self.settings = StubSettings.model_validate(merged)
            self._rng = random.Random(f"{self.settings.seed}:faults")
        return self.settings

    @property
    def token_secret(self) -> bytes:
        return hashlib.sha256(f"places-stub-token:{self.settings.seed}".encode()).digest()

    def next_index(self) -> int:
        with self._lock:
            index = self.search_requests
            self.search_requests += 1
            return index

    def draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def admit(self, now: float) -> str | None:
        """Count a request against the quotas; the period name ("minute"/"day") if it is over one."""
        settings = self.settings
        with self._lock:
            if settings.per_day_quota is not None and self.accepted_today >= settings.per_day_quota:
                self.throttled["day"] += 1
                return "day"
            while self._window and self._window[0] <= now - settings.quota_window_seconds:
                self._window.popleft()
            if settings.per_minute_quota is not None and len(self._window) >= settings.per_minute_quota:
                self.throttled["minute"] += 1
                return "minute"
            self._window.append(now)
            self.accepted_today += 1
            return None

    def record(self, at: float, status: int, counted: bool, sku: Sku | None = None) -> None:
        with self._lock:
            self.log.append((at, status, counted))
            self.statuses[status] += 1
            if sku is not None:
                self.by_sku[sku] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            log = list(self.log)
            statuses = dict(self.statuses)
            throttled = dict(self.throttled)
            by_sku = {sku: self.by_sku.get(sku, 0) for sku in SKUS}
            total = self.search_requests
        accepted = [at for at, _, counted in log if counted]
        return {
            "search_requests": total,
            "statuses": {str(code): count for code, count in sorted(statuses.items())},
            "throttled_429": statuses.get(429, 0),
            "throttled": throttled,
            "by_sku": by_sku,
            "accepted": len(accepted),
            "max_accepted_in_window": max_in_window(accepted, self.settings.quota_window_seconds),
            "window_seconds": self.settings.quota_window_seconds,
            "requests": [{"at": at, "status": status, "counted": counted} for at, status, counted in log],
        }


STATE = web.AppKey("state", StubState)


def max_in_window(times: list[float], window: float) -> int:
    """The most timestamps found in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _fault_for(faults: list[Fault], index: int) -> Fault | None:
    for fault in faults:
        if index >= fault.after and (fault.times == 0 or index < fault.after + fault.times):
            return fault
    return None


def _fault_error(kind: str, settings: StubSettings) -> ApiError:
    errors = {
        "invalid_key": invalid_key,
        "permission_denied": service_disabled,
        "unavailable": unavailable,
        "internal": internal,
        "quota_minute": lambda: quota_exceeded("minute", settings.per_minute_quota or 600),
        "quota_day": lambda: quota_exceeded("day", settings.per_day_quota or 100_000),
        "bad_request": lambda: invalid_argument("Invalid JSON payload received."),
    }
    return errors[kind]()


def _json_error(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error.body, status=error.code, headers=headers)


async def search_text(request: web.Request) -> web.StreamResponse:
    state: StubState = request.app[STATE]
    settings = state.settings
    arrived = time.monotonic()
    wall = time.time()
    index = state.next_index()
    counted = False
    response: web.StreamResponse
    try:
        response, counted, sku = await _answer(request, state, settings, index, arrived)
    except ConnectionResetError:
        state.record(wall, 0, False)
        raise
    state.record(wall, response.status, counted, sku)  # now, not after the latency: stats never miss a request
    if settings.latency_ms:
        await asyncio.sleep(settings.latency_ms / 1000)
    return response


async def _answer(
    request: web.Request, state: StubState, settings: StubSettings, index: int, arrived: float
) -> tuple[web.StreamResponse, bool, Sku | None]:
    """The answer, whether it counted against the quota, and the SKU it is billed at (None: not billed)."""
    key = request.headers.get("X-Goog-Api-Key") or request.query.get("key")
    if not key:
        return _json_error(missing_key()), False, None
    if settings.invalid_key or (settings.api_key is not None and key != settings.api_key):
        return _json_error(invalid_key()), False, None
    if settings.api_disabled:
        return _json_error(service_disabled()), False, None
    fault = _fault_for(settings.faults, index)
    if fault is not None:
        if fault.kind == "garbage":
            return web.Response(text=GARBAGE, status=200, content_type="text/html"), False, None
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("stub: connection reset on purpose")
        return _json_error(_fault_error(fault.kind, settings), _retry_after(fault.kind, settings)), False, None
    if settings.error_rate and state.draw() < settings.error_rate:
        return _json_error(unavailable() if state.draw() < 0.5 else internal()), False, None
    over = state.admit(arrived)
    if over is not None:
        limit = settings.per_day_quota if over == "day" else settings.per_minute_quota
        return _json_error(quota_exceeded(over, limit or 0), _retry_after(f"quota_{over}", settings)), False, None
    try:
        mask = parse_field_mask(
            request.headers.get("X-Goog-FieldMask") or request.query.get("fields") or request.query.get("$fields")
        )
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError as exc:
            raise invalid_argument(f"Invalid JSON payload received. {exc}") from None
        search = parse_search_request(body)
        offset = read_page_token(state.token_secret, search.page_token, search.fingerprint) if search.page_token else 0
    except ApiError as error:
        return _json_error(error), True, None
    results = match_places(search, settings.seed, settings.places_per_city)
    page = [localise(place, search.language) for place in results[offset : offset + search.page_size]]
    answer: dict[str, Any] = {}
    if page:
        answer["places"] = page
    following = offset + search.page_size
    if following < len(results) and mask_includes(mask, "nextPageToken"):
        answer["nextPageToken"] = make_page_token(state.token_secret, search.fingerprint, following)
    return web.json_response(project(answer, mask)), True, sku_for_mask(mask)


def _retry_after(kind: str, settings: StubSettings) -> dict[str, str] | None:
    if kind == "quota_minute" and settings.retry_after_seconds is not None:
        return {"Retry-After": str(settings.retry_after_seconds)}
    return None


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats())


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"reset": True})


async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].settings.model_dump())


async def put_settings(request: web.Request) -> web.Response:
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of settings to change")
        updated = request.app[STATE].update(changes)
    except (ValueError, ValidationError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(updated.model_dump())


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "service": "places-stub"})


def create_app(settings: StubSettings | None = None, state: StubState | None = None) -> web.Application:
    app = web.Application()
    app[STATE] = state or StubState(settings or StubSettings())
    app.router.add_post(SEARCH_PATH, search_text)
    app.router.add_get("/_stub/stats", stats)
    app.router.add_post("/_stub/reset", reset)
    app.router.add_get("/_stub/settings", get_settings)
    app.router.add_put("/_stub/settings", put_settings)
    app.router.add_get("/_stub/health", health)
    return app
