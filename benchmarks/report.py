"""The benchmark report: latest.json -> latest.md and docs/performance.md's measured tables (between its markers).

Pure functions of the result dict (no measuring here), so tests can render a report from a stored JSON result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from services.common.spec import service_specs

START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"

# AWS list prices the project uses (docs/aws.md, "What it costs"); us-east-1 list prices, Paris is 0-20 % higher.
LAMBDA_GB_SECOND_USD = 0.0000133  # arm64
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
ATHENA_TB_USD = 5.0
ATHENA_MIN_BYTES_PER_QUERY = 10 * 1024**2
# Assumptions the local stack cannot measure, stated in the report beside the figures they drive.
ATHENA_SECONDS_PER_QUERY = 1.5  # typical latency of a small Athena DML/SELECT (queue + plan + run)
ATHENA_THREADS = 4  # dbt/profiles.yml, athena target
# Each function's memory, as its spec declares it (services/<name>/spec.py).
FUNCTION_MEMORY_GB = {spec.name: spec.memory_mb / 1024 for spec in service_specs()}
PLACES_PER_PAGE = 20
PLACES_QUOTA_PER_MINUTE = 600
OBJECTS_PER_TRANSFORMER_BATCH = 10  # the transformer route's batch size (FIFO)
CITY_COUNTS = (1, 20, 200)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _stat(value: Any) -> str:
    """A Stats dict as 'median (min-max, n runs)'."""
    if not isinstance(value, dict) or "median" not in value:
        return _num(value)
    return f"{value['median']:.2f} s ({value['min']:.2f}-{value['max']:.2f}, {value['runs']} runs)"


def _target(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**not met**")


def aws_estimate(result: dict[str, Any], restaurants_per_city: int = 20) -> list[dict[str, Any]]:
    """Per-day Lambda GB-s, Athena bytes billed and cost for 1, 20 and 200 cities, on paper.

    From the measurements: the number of dbt nodes per build (each one Athena query), the notifier and collector
    shapes; from assumptions (stated in the report): Athena latency per query, 10 MB billed minimum per query.
    """
    transformer = result.get("transformer") or {}
    nodes = int(transformer.get("nodes_per_build") or 30)
    cold = transformer.get("cold_start") or {}
    cold_start = float(cold.get("import_seconds") or 3.0) + float(cold.get("dbt_import_seconds") or 0.0)
    manifest = float(cold.get("shipped_manifest_seconds") or cold.get("parse_seconds") or 3.0)
    rows = []
    for cities in CITY_COUNTS:
        requests = cities * math.ceil(restaurants_per_city / PLACES_PER_PAGE)
        collector_seconds = 1.0 + requests / (PLACES_QUOTA_PER_MINUTE / 60)  # quota-bound pace, plus start
        builds = math.ceil(cities / OBJECTS_PER_TRANSFORMER_BATCH)  # one object per city, batched by 10
        build_seconds = math.ceil(nodes / ATHENA_THREADS) * ATHENA_SECONDS_PER_QUERY
        transformer_seconds = cold_start + manifest + builds * build_seconds
        notifier_seconds = 1.0 * builds
        gb_seconds = (
            FUNCTION_MEMORY_GB["collector"] * collector_seconds
            + FUNCTION_MEMORY_GB["transformer"] * transformer_seconds
            + FUNCTION_MEMORY_GB["notifier"] * notifier_seconds
        )
        invocations = 1 + 2 * builds
        athena_bytes = builds * nodes * ATHENA_MIN_BYTES_PER_QUERY
        lambda_usd = gb_seconds * LAMBDA_GB_SECOND_USD + invocations * LAMBDA_REQUEST_USD
        athena_usd = athena_bytes / 1024**4 * ATHENA_TB_USD
        rows.append(
            {
                "cities": cities,
                "places_requests": requests,
                "dbt_builds": builds,
                "lambda_gb_seconds": round(gb_seconds, 1),
                "athena_gb_billed": round(athena_bytes / 1024**3, 2),
                "lambda_usd_per_day": round(lambda_usd, 4),
                "athena_usd_per_day": round(athena_usd, 4),
                "usd_per_day": round(lambda_usd + athena_usd, 4),
            }
        )
    return rows


def _collector_section(collector: dict[str, Any]) -> list[str]:
    lines = ["### Collector (Places stub with added latency, the collector's real code)", ""]
    if collector.get("error"):
        return [*lines, f"Not measured: {collector['error']}", ""]
    quota = collector.get("quota_per_minute")
    lines += [
        f"Quota configured: {_num(quota)} requests/min on the stub and in the collector (kept high so runs stay short; "
        "the pacer is the same code at 600/min). Target: requests/min ÷ quota ≥ 0.95 when the workload is "
        "quota-bound, 0 × 429; with a high quota a small workload is latency-bound instead.",
        "",
        "| Workload | Stub latency | Requests | Wall (s) | Req/min | ÷ quota | 429s | One at a time (s) | Speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in collector.get("cases", []):
        lines.append(
            f"| {case['workload']} | {case['latency_ms']} ms | {_num(case['requests'])} | {_num(case['wall_seconds'])} "
            f"| {_num(case['requests_per_minute'], 0)} | {_num(case['rate_over_quota'], 3)} "
            f"| {_num(case['throttled_429'])} | {_num(case.get('baseline_wall_seconds'))} "
            f"| {_num(case.get('speedup'))} |"
        )
    memory = collector.get("peak_memory")
    if memory:
        lines += [
            "",
            f"Peak memory collecting {_num(memory['places'])} places in one city (a separate process, VmHWM): "
            f"**{_num(memory['peak_rss_mib'], 1)} MiB**, of which {_num(memory.get('growth_mib'), 1)} MiB during the "
            "run, an upper bound: the Places stub (its synthetic city and answers) runs in the same process. The "
            f"places are spooled to a gzip file, then streamed to S3; the Lambda has "
            f"{int(FUNCTION_MEMORY_GB['collector'] * 1024)} MB.",
        ]
    return [*lines, ""]


def _collector_cost_section(cost: dict[str, Any]) -> list[str]:
    lines = ["### Collector: what a city costs in Places requests (the stub's realistic city)", ""]
    if cost.get("error"):
        return [*lines, f"Not measured: {cost['error']}", ""]
    runs = cost.get("runs_per_month", 30)
    lines += [
        "One city collected whole by the collector's real code, the stub counting each request at the SKU its field "
        "mask triggers (the bench's mask is Enterprise, as the default). Counting requests (place ids only, the "
        "Text Search Essentials IDs Only SKU) are free of charge but use the per-minute quota like any other. "
        f"Cost: list price of the first volume band, {runs} runs a month, before any free monthly allowance "
        '(docs/collector.md, "What it costs"). Coverage: unique places found ÷ places the stub\'s city holds in its '
        "viewport. Target (issue 16, for the city of 10,000): billed requests per 1,000 places ≤ 60 with coverage "
        "≥ 99 %.",
        "",
        "| City | Places found | Coverage | Billed requests | Free (IDs only) | Billed per 1,000 places "
        "| All per 1,000 places | Places $ per run | Places $ per month | Billed ≤ 60 / 1,000, coverage ≥ 99 % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for city in cost.get("cities", []):
        billed = city.get("billed_per_1000_places")
        coverage = city.get("coverage")
        judged = billed is not None and coverage is not None and city["city_places"] >= 10_000  # the city
        met = billed <= 60 and coverage >= 0.99 if judged else None
        lines.append(
            f"| {_num(city['city_places'])} places | {_num(city['places'])} | {_num(coverage, 4)} "
            f"| {_num(city['billed_requests'])} | {_num(city['free_requests'])} | {_num(billed, 1)} "
            f"| {_num(city.get('requests_per_1000_places'), 1)} | ${_num(city.get('usd_per_run'))} "
            f"| ${_num(city.get('usd_per_month'))} | {_target(met)} |"
        )
    run = cost.get("quota_run")
    if run:
        ratio = run.get("rate_over_quota")
        met = None if ratio is None else ratio >= 0.95 and run.get("throttled_429") == 0
        lines += [
            "",
            f"One city of {_num(run['places'])} places at the real default quota "
            f"({_num(run['quota_per_minute'])}/min), "
            f"time-scaled by {_num(run['time_scale'], 0)}: the stub's quota window and the collector's pace window are "
            f"{_num(run['window_seconds'], 1)} s, the stub's latency {_num(run['latency_ms'])} ms (~0.3 s ÷ "
            f"{_num(run['time_scale'], 0)}); the stub runs in its own process. Target: requests per window ÷ quota "
            "≥ 0.95 and zero 429.",
            "",
            "| Requests | Wall (s) | Requests per window | ÷ quota | 429s | Busiest window | Queries in flight "
            "| Target |",
            "|---|---|---|---|---|---|---|---|",
            f"| {_num(run['requests'])} | {_num(run['wall_seconds'])} | {_num(run['requests_per_window'], 1)} "
            f"| {_num(ratio, 3)} | {_num(run['throttled_429'])} | {_num(run['busiest_window'])} "
            f"| {_num(run['queries_in_flight'])} | {_target(met)} |",
        ]
    return [*lines, ""]


def _transformer_section(transformer: dict[str, Any]) -> list[str]:
    lines = ["### Transformer (DuckDB target on the moto server, in process)", ""]
    if transformer.get("error"):
        return [*lines, f"Not measured: {transformer['error']}", ""]
    ratio = transformer.get("warm_over_cli_ratio")
    history = transformer.get("history_ratio")
    cold = transformer.get("cold_start") or {}
    lines += [
        "| Measure | Value | Target |",
        "|---|---|---|",
        f"| Warm invocation (read, validate, dbt build on the parsed manifest, summaries, publish), "
        f"{_num(transformer.get('places_per_day'))} places | {_stat(transformer.get('warm_invocation_seconds'))} | |",
        f"| Same `dbt build` through the dbt CLI (new process: import, parse, build) "
        f"| {_stat(transformer.get('dbt_cli_build_seconds'))} | |",
        f"| Warm ÷ CLI | {_num(ratio)} | ≤ 0.15: {_target(ratio is not None and ratio <= 0.15)} |",
        f"| dbt nodes per build (models + tests) | {_num(transformer.get('nodes_per_build'))} | |",
    ]
    for days, value in (transformer.get("daily_build_seconds") or {}).items():
        lines.append(f"| Daily build after {days} day(s) of history | {_stat(value)} | |")
    met = history is not None and history <= 1.3
    lines.append(f"| Longest history ÷ 1 day | {_num(history)} | ≤ 1.3: {_target(met)} |")
    big = transformer.get("big_file") or {}
    if big:
        lines.append(
            f"| One file of {_num(big.get('places'))} places, one invocation | {_num(big.get('seconds'))} s "
            f"({_num(big.get('places_per_second'), 0)} places/s) | |"
        )
    if cold:
        lines.append(
            f"| Cold start: import the handler module | {_num(cold.get('import_seconds'))} s | cut: lazy imports |"
        )
        lines.append(
            f"| Cold start: import dbt (at init, deferred by the handler) | {_num(cold.get('dbt_import_seconds'))} s "
            "| |"
        )
        lines.append(
            f"| Cold start: load the dbt manifest shipped in the artifact (at init, Athena target) "
            f"| {_num(cold.get('shipped_manifest_seconds'))} s | cut: manifest shipped |"
        )
        lines.append(
            f"| Cold start without it: parse the dbt project (at init, Athena target) "
            f"| {_num(cold.get('parse_seconds'))} s | |"
        )
        heaviest = ", ".join(
            f"{name} {seconds:.2f} s" for name, seconds in cold.get("heaviest_imports", [])[:5] if seconds >= 0.01
        )
        if heaviest:
            lines.append(f"| Heaviest imports (cumulative, `-X importtime`) | {heaviest} | |")
    return [*lines, ""]


def _e2e_section(e2e: dict[str, Any], nodes_per_build: int | None = None) -> list[str]:
    lines = ["### End to end (local stack: moto, Places stub, the three workers)", ""]
    if e2e.get("error"):
        return [*lines, f"Not measured: {e2e['error']}", ""]
    lines += ["| Measure | Value | Target |", "|---|---|---|"]
    for run in e2e.get("runs", []):
        seconds = run.get("trigger_to_email_seconds")
        target = _target(seconds is not None and seconds <= 10) if run["restaurants"] == 20 else ""
        lines.append(
            f"| Trigger → email, {_num(run['restaurants'])} restaurants | {_num(seconds)} s "
            f"(outcome {run.get('outcome')}) | {'≤ 10 s: ' + target if target else ''} |"
        )
    burst = e2e.get("burst")
    if burst:
        concurrent = burst.get("max_concurrent_dbt_runs")
        runs = burst.get("dbt_runs")
        drain = burst.get("drain_after_upload_seconds")
        sizes = ", ".join(str(build["objects"]) for build in burst.get("builds", []))
        lines += [
            f"| Burst of {_num(burst['files'])} files under raw/places/: upload (10 at a time, as `aws s3 cp "
            f"--recursive`) | {_num(burst.get('upload_seconds'))} s | |",
            f"| … drained (every file transformed) after the upload ended | {_num(drain)} s "
            f"(from the first upload: {_num(burst.get('drain_seconds'))} s) | ≤ 60 s: "
            f"{_target(None if drain is None else drain <= 60)} |",
            f"| dbt builds for the burst (objects in each: {sizes or 'n/a'}) | {_num(runs)} | "
            f"≤ 5: {_target(None if runs is None else runs <= 5)} |",
            f"| Max concurrent dbt runs (most overlapping wall-clock dbt build intervals, from the transformer's "
            f"log) | {_num(concurrent)} | 1: {_target(None if concurrent is None else concurrent == 1)} |",
        ]
        if runs:
            nodes = nodes_per_build or 30
            queries = runs * nodes
            minutes = runs * math.ceil(nodes / ATHENA_THREADS) * ATHENA_SECONDS_PER_QUERY / 60
            per_batch = math.ceil(burst["files"] / OBJECTS_PER_TRANSFORMER_BATCH)
            lines.append(
                f"| On AWS, on paper: Athena queries for the burst ({nodes} per build, {ATHENA_SECONDS_PER_QUERY} s "
                f"each, {ATHENA_THREADS} threads) | {_num(queries)} queries, ~{minutes:.1f} min (one build per FIFO "
                f"batch of {OBJECTS_PER_TRANSFORMER_BATCH}: {_num(per_batch * nodes)} queries, "
                f"~{per_batch * math.ceil(nodes / ATHENA_THREADS) * ATHENA_SECONDS_PER_QUERY / 60:.0f} min) | |"
            )
    return [*lines, ""]


def _aws_section(result: dict[str, Any]) -> list[str]:
    rows = aws_estimate(result)
    nodes = (result.get("transformer") or {}).get("nodes_per_build")
    lines = [
        "### On AWS, on paper (20 restaurants per city, one run a day)",
        "",
        f"From the measured dbt nodes per build ({_num(nodes)}: each one Athena query, billed at least 10 MB), "
        f"the measured cold start, and assumptions this machine cannot measure: {ATHENA_SECONDS_PER_QUERY} s per "
        f"Athena query with {ATHENA_THREADS} dbt threads, the Places quota of {PLACES_QUOTA_PER_MINUTE}/min pacing "
        f"the collector, one raw object per city and {OBJECTS_PER_TRANSFORMER_BATCH} objects per dbt build. "
        "Prices: docs/aws.md (Lambda arm64 $0.0000133/GB-s, Athena $5/TB), before free tiers.",
        "",
        "| Cities | Places requests | dbt builds | Lambda GB-s | Athena GB billed | Lambda $/day | Athena $/day "
        "| Total $/day |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['cities']} | {_num(row['places_requests'])} | {row['dbt_builds']} "
            f"| {_num(row['lambda_gb_seconds'], 1)} "
            f"| {_num(row['athena_gb_billed'])} | ${row['lambda_usd_per_day']:.4f} | ${row['athena_usd_per_day']:.4f} "
            f"| ${row['usd_per_day']:.4f} |"
        )
    lines += ["", "Places API requests are billed separately (docs/aws.md): they dominate beyond the free cap.", ""]
    return lines


def render_section(result: dict[str, Any]) -> str:
    """docs/performance.md's measured section (without the markers) from one `python -m benchmarks` result."""
    machine = result.get("machine", {})
    versions = ", ".join(f"{name} {version}" for name, version in sorted((result.get("versions") or {}).items()))
    lines = [
        f"Measured by `make bench` on {machine.get('date', 'an unknown date')}"
        f"{' (quick mode: small sizes)' if result.get('quick') else ''}: "
        f"{machine.get('cpus', '?')} CPUs, {machine.get('memory_gib', '?')} GiB, {machine.get('platform', '?')}, "
        f"Python {machine.get('python', '?')}; {versions}. Medians over several runs with min-max; ratios are "
        f"measured side by side in the same run. Total bench time: {_num(result.get('total_seconds'), 0)} s.",
        "",
    ]
    lines += _collector_section(result.get("collector") or {"error": "not run"})
    lines += _collector_cost_section(result.get("collector_cost") or {"error": "not run"})
    lines += _transformer_section(result.get("transformer") or {"error": "not run"})
    nodes = (result.get("transformer") or {}).get("nodes_per_build")
    lines += _e2e_section(result.get("e2e") or {"error": "not run"}, int(nodes) if nodes else None)
    lines += _aws_section(result)
    notes = result.get("notes") or []
    if notes:
        lines += ["### Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines).rstrip() + "\n"


def replace_between_markers(text: str, section: str) -> str | None:
    """`text` with `section` between the bench markers; None when the markers are not there (or out of order)."""
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        return None
    return text[: start + len(START_MARKER)] + "\n" + section + text[end:]


def write_report(result: dict[str, Any], results_dir: Path, page: Path | None) -> bool:
    """Write latest.json and latest.md; regenerate the page's section (docs/performance.md). True when it was."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    section = render_section(result)
    (results_dir / "latest.md").write_text("## Performance\n\n" + section, encoding="utf-8")
    if page is None or not page.exists():
        return False
    updated = replace_between_markers(page.read_text(encoding="utf-8"), section)
    if updated is None:
        return False
    page.write_text(updated, encoding="utf-8")
    return True
