"""`make bench` = `python -m benchmarks`: every benchmark on local servers, then the report.

Writes benchmarks/results/latest.json and latest.md and regenerates the measured tables of docs/performance.md
between `<!-- bench:start -->` and `<!-- bench:end -->` (left alone when the markers are absent). A benchmark that
fails is reported as "not measured" with its error; the others still run.

    python -m benchmarks            # full sizes (~10-15 min on 2 cores)
    python -m benchmarks --quick    # everything small (~2-3 min)
    python -m benchmarks --only transformer e2e
    python -m benchmarks --only collector_cost --results-dir /tmp/bench --page /tmp/bench/performance.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import collector_bench, e2e_bench, transformer_bench
from benchmarks.harness import machine_info, versions
from benchmarks.report import write_report

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "performance.md"  # its measured tables, between the bench markers
COLLECTOR_QUOTA = 6000  # requests/min: high, so runs stay short (the real default is 600)


def collector(quick: bool) -> dict[str, Any]:
    latencies = (100,) if quick else (50, 100, 200)
    workloads: list[tuple[str, tuple[str, ...], int, int | None, bool]] = [
        ("1,000 places, 1 city", ("Paris",), 1000, 1500, True),
        ("20 cities in parallel", tuple(f"City {i:02d}" for i in range(20)), 40 if quick else 200, None, True),
    ]
    if not quick:
        workloads.insert(1, ("10,000 places, 1 city", ("Paris",), 10_000, 12_000, False))
    cases = []
    for latency in latencies:
        for name, cities, places, per_city, with_baseline in workloads:
            measured = collector_bench.run(
                quota_per_minute=COLLECTOR_QUOTA,
                latency_ms=latency,
                cities=cities,
                max_restaurants=places,
                baseline=with_baseline and (latency == 100 or quick or len(cities) == 1),
                places_per_city=per_city,
            )
            concurrent = measured["concurrent"]
            baseline = measured.get("one_at_a_time")
            cases.append(
                {
                    "workload": name,
                    "latency_ms": latency,
                    "requests": concurrent["requests"],
                    "places": concurrent["places"],
                    "wall_seconds": concurrent["wall_seconds"],
                    "requests_per_minute": concurrent["requests_per_minute"],
                    "rate_over_quota": measured["rate_over_quota"],
                    "throttled_429": concurrent["throttled_429"],
                    "busiest_60s_window": concurrent["busiest_60s_window"],
                    "queries_in_flight": concurrent["queries_in_flight"],
                    "failed_cities": concurrent["failed_cities"],
                    "baseline_wall_seconds": baseline["wall_seconds"] if baseline else None,
                    "speedup": measured.get("speedup"),
                }
            )
    return {
        "quota_per_minute": COLLECTOR_QUOTA,
        "cases": cases,
        "peak_memory": collector_bench.peak_memory(2000 if quick else 10_000),
    }


def collector_cost(quick: bool) -> dict[str, Any]:
    """What a city costs in Places requests (billed and free) and coverage, on the stub's realistic city; and one city
    of 10,000 places at the real default quota (600/min), time-scaled by 4 (collector_bench.measure_quota)."""
    sizes = (1000,) if quick else (1000, 10_000)
    return {
        "runs_per_month": collector_bench.RUNS_PER_MONTH,
        "usd_per_1000": collector_bench.PLACES_USD_PER_1000,
        "cities": [collector_bench.measure_city_cost(places) for places in sizes],
        "quota_run": collector_bench.measure_quota(2000 if quick else 10_000, quota=600, time_scale=4.0),
    }


def transformer(quick: bool) -> dict[str, Any]:
    if quick:
        return transformer_bench.run(
            places=200, history_days=(1, 30), repeats=2, big_file_places=10_000, cold_start_repeats=1
        )
    return transformer_bench.run(places=1000, history_days=(1, 30, 365), repeats=3, big_file_places=100_000)


def e2e(quick: bool) -> dict[str, Any]:
    if quick:
        return e2e_bench.run(restaurants=(20,), burst_files=50)
    return e2e_bench.run(restaurants=(20, 1000), burst_files=1000)


BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "collector": collector,
    "collector_cost": collector_cost,
    "transformer": transformer,
    "e2e": e2e,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, ~2-3 minutes")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--page", type=Path, default=PAGE, help="the Markdown page holding the markers")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"quick": args.quick, "machine": machine_info(), "versions": versions(), "notes": []}
    previous = args.results_dir / "latest.json"
    if args.only and previous.exists():  # a partial rerun keeps the other benchmarks' last results
        kept = json.loads(previous.read_text(encoding="utf-8"))
        for name in BENCHMARKS:
            if name not in args.only and name in kept:
                result[name] = {"measured_at": kept.get("machine", {}).get("date"), **kept[name]}
    failed = []
    for name in args.only or list(BENCHMARKS):
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        measured_at = machine_info()["date"]
        try:
            result[name] = {"measured_at": measured_at, **BENCHMARKS[name](args.quick)}
        except Exception as exc:  # reported as "not measured", the other benchmarks still run
            traceback.print_exc()
            result[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            failed.append(name)
        result[name]["bench_seconds"] = round(time.perf_counter() - began, 1)
        print(f"[bench] {name} done in {result[name]['bench_seconds']} s", file=sys.stderr, flush=True)
    result["total_seconds"] = round(sum(result[name].get("bench_seconds", 0) for name in BENCHMARKS if name in result))
    result["notes"] = notes(result)
    updated = write_report(result, args.results_dir, args.page)
    print(f"[bench] wrote {args.results_dir / 'latest.md'} and latest.json", file=sys.stderr)
    if not updated:
        print(f"[bench] {args.page} has no bench markers: the section is in latest.md", file=sys.stderr)
    return 1 if failed else 0


def notes(result: dict[str, Any]) -> list[str]:
    """What the reader needs beside the tables: limits, what is not measured, what did not help."""
    found = [
        "Measured at: "
        + ", ".join(f"{name} {result[name].get('measured_at')}" for name in BENCHMARKS if name in result)
        + " (`--only` reruns some benchmarks and keeps the others' last figures).",
        "The machine is shared while measuring (2 cores): absolute seconds move by ±50 % between runs; the ratios "
        "are measured side by side.",
        "Transformer changes that the numbers supported: parse at init (worker start / Lambda INIT) instead of on "
        "the first event, and the manifest parsed by `make package` shipped in the artifact (loaded, not parsed, on "
        "a cold start); DuckDB opened once per dbt invocation instead of once per node (keep_open for the "
        "invocation, closed after it: the warm 25-node build went from ~4.1 s to ~1.3 s); no JSON artifacts and no "
        "dbt log lines per build (the results are read in memory: ~0.15-0.3 s); on DuckDB, failing rows stored only "
        "for the tests that failed (re-run with --store-failures), not a table per test per build (~20 % of a warm "
        "invocation); dbt threads 2 on DuckDB (paired: ~0.9x the warm time); test failures stored as views on Athena.",
        "The staging model is a DuckDB table, not a view: for the warm one-object build it changes nothing (paired "
        "1.01x), but every model and test that reads a view re-reads the batch's objects over S3, and a coalesced "
        "build of 298 objects spent 37 s in dbt as a view, 7 s as a table. Tried, did not help: store_failures_as "
        "view on DuckDB (within noise, and the failure samples would need httpfs).",
        "The dbt CLI baseline runs `dbt build` with the profile's defaults (the database opened per node, as a "
        "person running it gets), in a new process, with dbt's partial parsing on.",
    ]
    transformer_result = result.get("transformer") or {}
    ratio = transformer_result.get("warm_over_cli_ratio")
    if ratio is not None and ratio > 0.15:
        found.append(
            f"Warm ÷ CLI is {ratio}: above 0.15. What stands in the way is dbt's own per-node Python (compiling "
            "each node's Jinja, its runtime context and event objects: ~20 ms per node, 32 nodes, profiled), which "
            "runs in both; every cut of the warm path that was measured and kept is listed above, and the CLI "
            "baseline profits from the same project settings. The dbt build alone is the 'daily build after 1 day' row."
        )
    burst = (result.get("e2e") or {}).get("burst") or {}
    if burst.get("files") and burst["files"] < 1000:
        found.append(
            f"The burst is {burst['files']} files, not 1,000 (quick mode or a smaller --burst-files): each dbt "
            "build reads only its batch's objects, so the drain time grows linearly with the files."
        )
    drain = burst.get("drain_after_upload_seconds")
    if drain is not None and drain > 60:
        building = sum(build.get("total_seconds", 0) for build in burst.get("builds", []))
        found.append(
            f"The burst drained {drain} s after its upload, above 60 s, though its {burst.get('dbt_runs')} builds "
            f"took {building:.0f} s in all: the rest is one round trip per object to moto's DynamoDB and S3 (each "
            "object claimed, recorded in the ledger and completed; each of its S3 events acknowledged as a "
            "duplicate, 10 per FIFO batch), tens per second here against milliseconds each on AWS. The upload "
            "itself is bound the same way (moto: ~11 objects a second with notifications)."
        )
    history = transformer_result.get("history_ratio")
    if history is not None and history > 1.3:
        found.append(
            f"History ratio {history} above 1.3: the daily build reads only the new day's objects, but merges "
            "into marts that grow with history (DuckDB MERGE on a year of snapshots)."
        )
    return found


if __name__ == "__main__":
    sys.exit(main())
