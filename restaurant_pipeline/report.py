"""`restaurant-pipeline report`: one self-contained HTML page with each city's trends (city_daily_summary) and a
timeline of the latest runs (the run ledger: each step's outcome and duration).

Self-contained means nothing is fetched when the page is viewed: the data is embedded as JSON and the charts are
drawn by the small SVG renderer inlined below (no chart library, no font, no network). Pure functions here; the CLI
reads the warehouse and the ledger and hands their rows in.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from restaurant_pipeline.ledger_views import quarantined_lines, summarise_runs

TREND_COLUMNS = (
    "city",
    "summary_date",
    "restaurants_seen",
    "new_restaurants",
    "closed_restaurants",
    "average_rating",
    "weighted_rating",
)
# One statement both warehouses read alike (the window is cut in Python: no dialect-specific date arithmetic).
TREND_SQL = f"select {', '.join(TREND_COLUMNS)} from city_daily_summary order by city, summary_date"
GOOD_OUTCOMES = frozenset({"ok", "passed"})
WARNING_OUTCOMES = frozenset({"tests_failed", "mixed", "quarantined"})  # quarantined: passed, lines set aside


def city_trends(rows: Iterable[Mapping[str, Any]], days: int) -> dict[str, list[dict[str, Any]]]:
    """Each city's days among the `days` days ending on the latest day of any city, oldest first."""
    points: list[dict[str, Any]] = [
        {
            "day": _day(row["summary_date"]).isoformat(),
            "restaurants_seen": _int(row["restaurants_seen"]),
            "new_restaurants": _int(row["new_restaurants"]),
            "closed_restaurants": _int(row["closed_restaurants"]),
            "average_rating": _float(row["average_rating"]),
            "weighted_rating": _float(row["weighted_rating"]),
            "city": str(row["city"]),
        }
        for row in rows
    ]
    if not points:
        return {}
    latest = max(date.fromisoformat(point["day"]) for point in points)
    first = (latest - timedelta(days=days - 1)).isoformat()
    trends: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for point in sorted(points, key=lambda p: (p["city"], p["day"])):
        if point["day"] >= first:
            trends[point.pop("city")].append(point)
    return dict(sorted(trends.items()))


def run_timelines(steps: Sequence[Mapping[str, Any]], last: int) -> list[dict[str, Any]]:
    """The `last` newest runs, each with its steps as segments on one time axis (seconds from the run's first step).

    The ledger records when each step ended; a step is drawn from the end of the one it follows: collection from
    the collector's REQUESTED record to the city's COLLECTED (or COLLECTION_FAILED), the transform from the
    collection of its object to TRANSFORMED, the email from the latest of those to NOTIFIED. Queue waits are thus
    part of the step that follows them.
    """
    by_run: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in steps:
        by_run[str(item["run_id"])].append(item)
    timelines = []
    for summary in summarise_runs([dict(item) for item in steps])[:last]:
        items = sorted(by_run[summary["run_id"]], key=lambda item: str(item["at"]))
        origin = _moment(items[0]["at"])
        requested = next((i for i in items if i["step"] == "REQUESTED"), items[0])
        collected_at = {
            str(i.get("data", {}).get("object_key")): i for i in items if i["step"] == "COLLECTED"
        }  # by the raw object it wrote
        segments = []
        last_end: Mapping[str, Any] = requested
        for item in items:
            step = item["step"]
            data = item.get("data") or {}
            if step in ("COLLECTED", "COLLECTION_FAILED"):
                outcome = "ok" if step == "COLLECTED" else str(data.get("category") or "failed")
                segments.append(_segment("collect", str(item["subject"]), requested, item, outcome, origin))
            elif step in ("TRANSFORMED", "TRANSFORM_FAILED"):
                start = collected_at.get(str(item["subject"]), requested)
                city = str(start["subject"]) if start["step"] == "COLLECTED" else _file_name(str(item["subject"]))
                outcome = str(data.get("outcome") or "error") if step == "TRANSFORMED" else "dead_lettered"
                segments.append(_segment("transform", city, start, item, outcome, origin))
            elif step == "NOTIFIED":  # its subject is the run's outcome; "mixed-<hash>" when the cities differ
                outcome = str(item["subject"]).split("-", 1)[0]
                if outcome == "passed" and quarantined_lines(dict(item)):
                    outcome = "quarantined"
                segments.append(_segment("email", "sent", last_end, item, outcome, origin))
            if step != "CITY_OUTCOME":
                last_end = item
        timelines.append(
            {
                "run_id": summary["run_id"],
                "trigger": summary["trigger"],
                "cities": summary["cities"],
                "status": summary["status"],
                "started": summary["started"],
                "seconds": summary["duration_seconds"],
                "segments": segments,
            }
        )
    return timelines


def _segment(
    step: str,
    label: str,
    start: Mapping[str, Any],
    end: Mapping[str, Any],
    outcome: str,
    origin: datetime,
) -> dict[str, Any]:
    begin = max(0.0, (_moment(start["at"]) - origin).total_seconds())
    finish = max(begin, (_moment(end["at"]) - origin).total_seconds())
    level = "ok" if outcome in GOOD_OUTCOMES else "warn" if outcome in WARNING_OUTCOMES else "fail"
    return {
        "step": step,
        "label": label,
        "start": round(begin, 3),
        "end": round(finish, 3),
        "outcome": outcome,
        "level": level,
    }


def render_report(
    trends: Mapping[str, list[dict[str, Any]]],
    runs: Sequence[Mapping[str, Any]],
    generated_at: datetime,
    source: str,
) -> str:
    """The page. Every text reaches the DOM through textContent (a city or a run id cannot inject markup), and
    the embedded JSON escapes `<` so no value can close its script element."""
    data = {"trends": trends, "runs": list(runs), "generated_at": generated_at.isoformat(), "source": source}
    embedded = json.dumps(data, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    title = f"restaurant-pipeline report · {generated_at:%Y-%m-%d %H:%M} UTC"
    return (
        PAGE.replace("{{title}}", html.escape(title))
        .replace("{{source}}", html.escape(source))
        .replace("{{data}}", embedded)
    )


def _file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d2630; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
  h3 { font-size: 14px; margin: 16px 0 4px; }
  .muted { color: #5b6773; }
  .city { display: flex; flex-wrap: wrap; gap: 16px; }
  .chart { border: 1px solid #d8dee4; border-radius: 6px; padding: 6px 8px; }
  .chart .label { font-size: 12px; color: #5b6773; }
  svg text { font: 11px system-ui, sans-serif; fill: #5b6773; }
  table { border-collapse: collapse; margin-top: 8px; }
  td, th { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
  .ok { color: #1a7f37; } .warn { color: #9a6700; } .fail { color: #cf222e; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
  #error { color: #cf222e; font-weight: bold; }
</style>
</head>
<body>
<h1>{{title}}</h1>
<p class="muted">Data: {{source}}. Self-contained: nothing on this page is fetched from the network.</p>
<p id="error" hidden></p>
<noscript><p>The charts are drawn by the script embedded in this page: allow scripts for this file.</p></noscript>
<h2>Per-city trends</h2>
<div id="trends"></div>
<h2>Runs</h2>
<p class="legend muted">Each bar is one step, from the end of the step it follows to the moment it recorded its own
(queue waits count in the step that follows them):
<span><i style="background:#2da44e"></i>passed / done</span><span><i style="background:#d4a72c"></i>tests failed</span>
<span><i style="background:#cf222e"></i>failed</span></p>
<div id="runs"></div>
<script id="report-data" type="application/json">{{data}}</script>
<script>
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";  // the SVG namespace name, not a download
  var COLORS = { ok: "#2da44e", warn: "#d4a72c", fail: "#cf222e" };
  var drawn = 0;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(name, text, parent, cls) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(svg, x, y, text, anchor) {
    var node = el("text", { x: x, y: y, "text-anchor": anchor || "start" }, svg);
    node.textContent = text;
    return node;
  }
  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  // A line chart over days: one point per day with a value; a day without a collection breaks the line.
  function lineChart(parent, title, points, key, digits, color) {
    var width = 340, height = 140, left = 44, right = 12, top = 12, bottom = 26;
    var box = html("div", null, parent, "chart");
    html("div", title, box, "label");
    var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" }, box);
    svg.setAttribute("aria-label", title);
    var values = points.filter(function (p) { return p[key] !== null && p[key] !== undefined; });
    svg.setAttribute("data-chart", key);
    svg.setAttribute("data-points", String(values.length));
    if (!values.length) { label(svg, width / 2, height / 2, "no data", "middle"); return; }
    var first = Date.parse(points[0].day), last = Date.parse(points[points.length - 1].day);
    var span = Math.max(last - first, 86400000);
    var low = Math.min.apply(null, values.map(function (p) { return p[key]; }));
    var high = Math.max.apply(null, values.map(function (p) { return p[key]; }));
    if (high === low) { high += 1; low -= 1; }
    function x(day) { return left + (Date.parse(day) - first) / span * (width - left - right); }
    function y(value) { return top + (high - value) / (high - low) * (height - top - bottom); }
    el("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: "#d8dee4" }, svg);
    el("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#d8dee4" }, svg);
    label(svg, left - 4, y(high) + 4, fmt(high, digits), "end");
    label(svg, left - 4, y(low) + 4, fmt(low, digits), "end");
    label(svg, left, height - 8, points[0].day, "start");
    label(svg, width - right, height - 8, points[points.length - 1].day, "end");
    var run = [], previous = null;
    function flush() {
      if (run.length > 1) {
        el("polyline", { points: run.join(" "), fill: "none", stroke: color, "stroke-width": 2 }, svg);
      }
      run = [];
    }
    values.forEach(function (p) {
      var day = Date.parse(p.day);
      if (previous !== null && day - previous > 86400000) flush();  // a gap: no collection in between
      run.push(x(p.day).toFixed(1) + "," + y(p[key]).toFixed(1));
      var dot = el("circle", { cx: x(p.day), cy: y(p[key]), r: 3, fill: color }, svg);
      el("title", {}, dot).textContent = p.day + ": " + fmt(p[key], digits);
      previous = day;
    });
    flush();
    drawn += 1;
  }

  function drawTrends(root, trends) {
    var cities = Object.keys(trends);
    if (!cities.length) { html("p", "No day in city_daily_summary yet: run the pipeline once.", root, "muted"); }
    cities.forEach(function (city) {
      var points = trends[city], latest = points[points.length - 1];
      html("h3", city + " · " + points.length + " day(s), latest " + latest.day + ": " +
        latest.restaurants_seen + " restaurants, weighted rating " + fmt(latest.weighted_rating, 2), root);
      var row = html("div", null, root, "city");
      row.setAttribute("data-city", city);
      lineChart(row, "Restaurants seen", points, "restaurants_seen", 0, "#0969da");
      lineChart(row, "Weighted rating", points, "weighted_rating", 2, "#8250df");
      lineChart(row, "New restaurants", points, "new_restaurants", 0, "#1a7f37");
    });
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  // One row per run: its steps as bars on a shared time axis (seconds from the run's first step).
  function drawRuns(root, runs) {
    if (!runs.length) { html("p", "No run in the ledger yet.", root, "muted"); return; }
    var longest = Math.max.apply(null, runs.map(function (run) {
      return Math.max.apply(null, [1].concat(run.segments.map(function (s) { return s.end; })));
    }));
    var width = 900, left = 170, right = 170, lane = 16;  // right: room for the label after the longest bar
    runs.forEach(function (run) {
      var title = run.run_id + " · " + (run.trigger || "?") + " · " + run.cities.join(", ") + " · " +
        seconds(run.seconds) + " · " + run.status;
      html("h3", title, root);
      var height = Math.max(1, run.segments.length) * (lane + 4) + 22;
      var svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img" }, root);
      svg.setAttribute("aria-label", "timeline of run " + run.run_id);
      svg.setAttribute("data-run", run.run_id);
      svg.setAttribute("data-segments", String(run.segments.length));
      function x(t) { return left + t / longest * (width - left - right); }
      run.segments.forEach(function (s, i) {
        var y = 4 + i * (lane + 4);
        label(svg, left - 6, y + 12, s.step + " · " + s.label, "end");
        var bar = el("rect", { x: x(s.start), y: y, width: Math.max(2, x(s.end) - x(s.start)), height: lane,
          rx: 3, fill: COLORS[s.level] || COLORS.fail }, svg);
        bar.setAttribute("data-outcome", s.outcome);
        el("title", {}, bar).textContent = s.step + " " + s.label + ": " + s.outcome + ", " +
          seconds(s.end - s.start) + " (ended at +" + seconds(s.end) + ")";
        label(svg, x(s.end) + 6, y + 12, s.outcome + " " + seconds(s.end - s.start));
      });
      el("line", { x1: left, y1: height - 18, x2: width - right, y2: height - 18, stroke: "#d8dee4" }, svg);
      label(svg, left, height - 4, "0 s", "start");
      label(svg, width - right, height - 4, seconds(longest), "middle");
      drawn += 1;
    });
  }

  try {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    drawTrends(document.getElementById("trends"), data.trends);
    drawRuns(document.getElementById("runs"), data.runs);
    document.body.setAttribute("data-charts-drawn", String(drawn));
  } catch (error) {
    var box = document.getElementById("error");
    box.hidden = false;
    box.textContent = "The charts could not be drawn: " + error;
    document.body.setAttribute("data-chart-error", String(error));
  }
})();
</script>
</body>
</html>
"""
