"""Collector benchmark: what a city costs in Places requests, and how close to the quota the collector runs.

The collector's real code (PlacesClient over aiohttp, the pacer, tiling, spooling) against the Places stub, whose
city is realistic (dense centre, sparse edge) and which counts requests per SKU as Google bills them:
- measure_city_cost: one city of N places collected whole: billed and free requests per 1,000 unique places,
  coverage (unique places found / places the stub's city holds in its viewport), the SKU mix for the bill;
- measure_quota: one city at the real default quota (600/min), time-scaled (the stub's quota window and the
  collector's pace window shortened by the same factor, the latency too): requests per quota window / quota
  (target >= 0.95) and 429s (target 0), measured where the stub receives the requests;
- run: several cities at a high quota with added latency, beside a one-query-at-a-time baseline.

    python -m benchmarks.collector_bench                       # 6 cities x 500 places at 3,000/min, ~1.5 min
    python -m benchmarks.collector_bench --quota 600 --max-restaurants 2000 --no-baseline   # the real quota
    python -m benchmarks.collector_bench --cost 10000          # one city of 10,000 places: its requests
    python -m benchmarks.collector_bench --quota-run 10000 --time-scale 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import machine_info, versions
from restaurant_pipeline.local.places_stub import StubServer, StubSettings, max_in_window
from restaurant_pipeline.local.places_stub.world import build_city, normalise_city
from restaurant_pipeline.local.processes import free_port, stop_process, wait_for_http
from services.collector.adapters.pacing import SlidingWindowLimiter
from services.collector.adapters.places_http import PlacesClient
from services.collector.adapters.spool import PlaceSpool
from services.collector.domain.collect import CollectionPorts, CollectorLimits, collect_cities
from services.collector.domain.model import CityPlan, RunOutcome, RunPlan
from services.collector.service import QUOTA_PERIOD_SECONDS, paced_window

FIELD_MASK = "places.id,places.displayName,places.formattedAddress,places.location,places.rating,nextPageToken"
# Six cities at once: each city starts with one query in flight (its first pages are sequential), so enough
# cities are needed for the demand to exceed the quota from the first second; what is measured is the pacer.
DEFAULT_CITIES = ("Paris", "Lyon", "Marseille", "Bordeaux", "Toulouse", "Nice")
DEFAULT_MAX_RESTAURANTS = 500

# Text Search (New) list prices, USD per 1,000 requests, first monthly volume band (0-100,000), per SKU as the stub
# counts them (restaurant_pipeline/local/places_stub/billing.py). Checked on Google's "Places API Usage and Billing"
# page (https://developers.google.com/maps/documentation/places/web-service/preview-billing): "Text Search (ID
# Only)" $0.00 in every band, triggered only when the mask asks for places.id and/or places.name; "Text Search
# (Basic)", now Pro, $32; "(Advanced)", now Enterprise, $35. Enterprise + Atmosphere ($40) is the figure of
# docs/collector.md, not re-checked there. A request is billed once, at the highest SKU of its mask
# (https://developers.google.com/maps/billing-and-pricing/sku-details/places, "Field mask billing").
PLACES_USD_PER_1000 = {"essentials_ids_only": 0.0, "pro": 32.0, "enterprise": 35.0, "enterprise_atmosphere": 40.0}
RUNS_PER_MONTH = 30  # one run a day


def places_cost_usd(by_sku: dict[str, int]) -> float:
    """What these requests cost at list price, before any free monthly allowance."""
    return sum(count * PLACES_USD_PER_1000[sku] / 1000 for sku, count in by_sku.items())


@dataclass(frozen=True)
class Stored:
    places: int | None
    etag: str | None = None


class DirectoryStore:
    """Raw objects in a local folder: the benchmark measures the API side, not S3."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bucket = "bench"

    def find(self, key: str) -> Stored | None:
        return Stored(None) if (self.root / key).exists() else None

    def put_once(self, key: str, path: Path, metadata: dict[str, str]) -> str | None:
        target = self.root / key
        if target.exists():
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return '"bench"'  # an ETag: nothing reads it here


class StubProcess:
    """The Places stub in its own process (its own CPU, as Google is another machine), with the StubServer methods
    _measure uses: url, reset(), stats() over the stub's /_stub/ controls."""

    def __init__(self, settings: StubSettings) -> None:
        self.settings = settings
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StubProcess:
        port = free_port()
        switches = {
            "--latency-ms": self.settings.latency_ms,
            "--per-minute-quota": self.settings.per_minute_quota,
            "--quota-window-seconds": self.settings.quota_window_seconds,
            "--places-per-city": self.settings.places_per_city,
            "--seed": self.settings.seed,
        }
        arguments = [f"{name}={value}" for name, value in switches.items() if value is not None]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "restaurant_pipeline.local.places_stub", "--port", str(port), *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_for_http(self.url + "/_stub/health", self._process)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            stop_process(self._process)

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self._call("POST", "/_stub/reset")

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_stub/stats"))


def _plan(run_id: str, cities: tuple[str, ...], max_restaurants: int) -> RunPlan:
    return RunPlan(
        run_id=run_id,
        collection_date=date(2026, 1, 1),
        trigger_source="manual",
        run_cities=cities,
        cities=tuple(
            CityPlan(city, f"restaurants in {city}", "fr", max_restaurants, f"raw/{run_id}/{city}.jsonl.gz")
            for city in cities
        ),
        attempt=1,
        max_receive_count=3,
    )


async def _collect(
    url: str,
    plan: RunPlan,
    store: DirectoryStore,
    quota: int,
    limits: CollectorLimits,
    window: float = QUOTA_PERIOD_SECONDS,
) -> RunOutcome:
    limiter = SlidingWindowLimiter(quota, paced_window(window))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limits.queries_in_flight + 2)) as session:
        api = PlacesClient(session, url, "bench-key", limiter, time.monotonic() + 3600)
        return await collect_cities(plan, CollectionPorts(api, store, PlaceSpool, FIELD_MASK, limits))


def _measure(
    stub: StubServer | StubProcess,
    run_id: str,
    cities: tuple[str, ...],
    max_restaurants: int,
    quota: int,
    limits: CollectorLimits,
    window: float = QUOTA_PERIOD_SECONDS,
) -> dict[str, Any]:
    """One collection; `window` is the quota's window in seconds (60, or shorter when time-scaled)."""
    stub.reset()
    with tempfile.TemporaryDirectory(prefix="collector-bench-") as folder:
        started = time.perf_counter()
        outcome = asyncio.run(
            _collect(
                stub.url, _plan(run_id, cities, max_restaurants), DirectoryStore(Path(folder)), quota, limits, window
            )
        )
        wall = time.perf_counter() - started
    stats = stub.stats()
    arrivals = sorted(item["at"] for item in stats["requests"])
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    per_window = (len(arrivals) - 1) / span * window if span else 0.0
    return {
        "wall_seconds": round(wall, 3),
        "requests": stats["search_requests"],
        "by_sku": stats["by_sku"],
        "throttled_429": stats["throttled_429"],
        "places": sum(city.places for city in outcome.collected),
        "failed_cities": [item.city for item in outcome.failed],
        "requests_per_minute": round(per_window, 1),  # per quota window: per minute unless time-scaled
        "busiest_60s_window": max_in_window(arrivals, window),
        "queries_in_flight": limits.queries_in_flight,
    }


def places_in_viewport(city: str, places_per_city: int, seed: int = 0) -> int:
    """How many places the stub's city holds inside its viewport: the denominator of coverage."""
    world = build_city(seed, normalise_city(city), city, places_per_city)
    box = world.box
    return sum(
        1 for place in world.restaurants if box.contains(place["location"]["latitude"], place["location"]["longitude"])
    )


def measure_city_cost(places: int, city: str = "Paris", quota: int = 600) -> dict[str, Any]:
    """One city of `places` places, collected whole (max_restaurants = places), the collector sized for `quota`
    as in production; the stub answers at once and without a quota (cost does not depend on speed)."""
    limits = CollectorLimits.for_rate(quota)
    with StubServer(StubSettings(places_per_city=places)) as stub:
        _measure(stub, "warmup", (city,), 1, 60_000, limits)  # builds the synthetic city outside the measurement
        measured = _measure(stub, "cost", (city,), places, 60_000, limits)
    holds = places_in_viewport(city, places)
    by_sku = measured["by_sku"]
    free = by_sku.get("essentials_ids_only", 0)
    found = measured["places"]
    return {
        "city_places": holds,
        "places": found,
        "coverage": round(found / holds, 4) if holds else None,
        "requests": measured["requests"],
        "billed_requests": sum(by_sku.values()) - free,
        "free_requests": free,
        "by_sku": by_sku,
        "billed_per_1000_places": round((sum(by_sku.values()) - free) / found * 1000, 1) if found else None,
        "requests_per_1000_places": round(measured["requests"] / found * 1000, 1) if found else None,
        "usd_per_run": round(places_cost_usd(by_sku), 2),
        "usd_per_month": round(places_cost_usd(by_sku) * RUNS_PER_MONTH, 2),
        "requests_per_month": measured["requests"] * RUNS_PER_MONTH,  # free or not, each one uses quota
        "queries_in_flight": limits.queries_in_flight,
        "wall_seconds": measured["wall_seconds"],
    }


def measure_quota(
    places: int = 10_000,
    quota: int = 600,
    time_scale: float = 4.0,
    latency_ms: int = 300,
    city: str = "Paris",
) -> dict[str, Any]:
    """One city of `places` places at `quota` requests/min, every duration divided by `time_scale`: the stub's quota
    window (60 s / scale) and the collector's pace window alike, and the stub's added latency (Google answers in
    ~0.3 s). The collector is sized for `quota` as in production (queries in flight for its pace); the stub runs in
    its own process, so that serving does not take the collector's CPU (a time-scaled pace is 4x the real one)."""
    window = QUOTA_PERIOD_SECONDS / time_scale
    settings = StubSettings(
        latency_ms=round(latency_ms / time_scale),
        per_minute_quota=quota,
        quota_window_seconds=window,
        places_per_city=places,
    )
    limits = CollectorLimits.for_rate(quota)
    with StubProcess(settings) as stub:
        _measure(stub, "warmup", (city,), 1, quota, limits, window)
        measured = _measure(stub, "quota", (city,), places, quota, limits, window)
    return {
        "places": measured["places"],
        "quota_per_minute": quota,
        "time_scale": time_scale,
        "window_seconds": window,
        "latency_ms": settings.latency_ms,
        "requests": measured["requests"],
        "wall_seconds": measured["wall_seconds"],
        "requests_per_window": measured["requests_per_minute"],
        "rate_over_quota": round(measured["requests_per_minute"] / quota, 3),
        "throttled_429": measured["throttled_429"],
        "busiest_window": measured["busiest_60s_window"],
        "queries_in_flight": limits.queries_in_flight,
        "failed_cities": measured["failed_cities"],
    }


def run(
    quota_per_minute: int = 3000,
    latency_ms: int = 100,
    cities: tuple[str, ...] | list[str] = DEFAULT_CITIES,
    max_restaurants: int = DEFAULT_MAX_RESTAURANTS,
    queries_in_flight: int | None = None,
    baseline: bool = True,
    places_per_city: int | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns (and the CLI prints) a dict of results."""
    cities = tuple(cities)
    settings = StubSettings(
        latency_ms=latency_ms,
        per_minute_quota=quota_per_minute,
        quota_window_seconds=60.0,
        places_per_city=places_per_city,
    )
    sized = CollectorLimits.for_rate(quota_per_minute)  # what the collector does in production
    in_flight = queries_in_flight or sized.queries_in_flight
    concurrent_limits = CollectorLimits(queries_in_flight=in_flight, cities_in_flight=len(cities))
    serial_limits = CollectorLimits(queries_in_flight=1, cities_in_flight=1)
    with StubServer(settings) as stub:
        for city in cities:  # build the synthetic cities once, outside the measurements
            _measure(stub, "warmup", (city,), 1, quota_per_minute, serial_limits)
        concurrent = _measure(stub, "concurrent", cities, max_restaurants, quota_per_minute, concurrent_limits)
        serial = (
            _measure(stub, "serial", cities, max_restaurants, quota_per_minute, serial_limits) if baseline else None
        )
    ratio = concurrent["requests_per_minute"] / quota_per_minute
    results: dict[str, Any] = {
        "benchmark": "collector",
        "config": {
            "quota_per_minute": quota_per_minute,
            "latency_ms": latency_ms,
            "cities": list(cities),
            "max_restaurants": max_restaurants,
            "queries_in_flight": in_flight,
        },
        "concurrent": concurrent,
        "rate_over_quota": round(ratio, 3),
        "targets": {
            "rate_over_quota_at_least_0.95": ratio >= 0.95,
            "zero_429": concurrent["throttled_429"] == 0,
            "busiest_window_within_quota": concurrent["busiest_60s_window"] <= quota_per_minute,
        },
        "machine": machine_info(),
        "versions": versions(),
    }
    if serial is not None:
        results["one_at_a_time"] = serial
        results["speedup"] = round(serial["wall_seconds"] / concurrent["wall_seconds"], 2)
    return results


MEMORY_PROBE = """
import json, sys
from benchmarks.collector_bench import run
def high_water_kib():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1])
places = int(sys.argv[1])
before = high_water_kib()
result = run(quota_per_minute=60000, latency_ms=0, cities=["Paris"], max_restaurants=places, baseline=False,
             places_per_city=places + 500)
print(json.dumps({"before_kib": before, "peak_kib": high_water_kib(), "places": result["concurrent"]["places"]}))
"""


def peak_memory(places: int = 10_000) -> dict[str, Any]:
    """Peak resident memory of a new process collecting `places` places of one city (stub in the same process).

    `peak_rss_mib` is the process high-water mark (Python, aiohttp, the stub's synthetic world and its answers, the
    collector); `growth_mib` is how much it rose during the run (stub world + collection together).
    """
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(places)], capture_output=True, text=True, check=True, timeout=600
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "places": probe["places"],
        "peak_rss_mib": round(probe["peak_kib"] / 1024, 1),
        "growth_mib": round((probe["peak_kib"] - probe["before_kib"]) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collector_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quota", type=int, default=3000, help="requests per minute (stub quota = collector pace)")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--cities", nargs="+", default=list(DEFAULT_CITIES))
    parser.add_argument(
        "--max-restaurants", type=int, default=DEFAULT_MAX_RESTAURANTS, help="per city; more means more requests"
    )
    parser.add_argument(
        "--in-flight", type=int, default=None, help="queries in flight (default: sized to the quota, as in production)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-request-at-a-time run")
    parser.add_argument("--cost", type=int, metavar="PLACES", help="only: one city of PLACES places, its requests")
    parser.add_argument("--quota-run", type=int, metavar="PLACES", help="only: one city of PLACES at --quota")
    parser.add_argument("--time-scale", type=float, default=4.0, help="with --quota-run: durations divided by this")
    args = parser.parse_args(argv)
    if args.cost or args.quota_run:
        results = (
            measure_city_cost(args.cost)
            if args.cost
            else measure_quota(args.quota_run, quota=args.quota, time_scale=args.time_scale)
        )
        print(json.dumps(results, indent=2))
        return results
    results = run(
        quota_per_minute=args.quota,
        latency_ms=args.latency_ms,
        cities=args.cities,
        max_restaurants=args.max_restaurants,
        queries_in_flight=args.in_flight,
        baseline=not args.no_baseline,
    )
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
