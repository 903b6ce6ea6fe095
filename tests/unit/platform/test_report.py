"""`restaurant-pipeline report`: what the page is built from (each city's trend window, each run's steps as timed
segments) and that the page needs nothing from the network. The page drawn in a browser: tests/integration/
platform/test_report_in_chromium.py."""

from __future__ import annotations

import json
import re

from restaurant_pipeline.report import city_trends, render_report, run_timelines
from tests.support.report_sample import GENERATED_AT, ledger_steps, summary_rows


def test_trends_keep_each_citys_days_within_the_window_ending_on_the_latest_day_oldest_first():
    trends = city_trends(summary_rows(), days=14)

    assert list(trends) == ["Lyon", "Paris"]
    assert trends["Paris"][0]["day"] == "2026-11-17" and trends["Paris"][-1]["day"] == "2026-11-30"
    assert len(trends["Paris"]) == 14  # the day 40 days back is outside the window
    assert len(trends["Lyon"]) == 13 and "2026-11-23" not in [p["day"] for p in trends["Lyon"]]
    assert city_trends([], days=14) == {}


def test_each_run_becomes_its_steps_with_outcome_and_duration_newest_run_first():
    runs = run_timelines(ledger_steps(), last=2)

    assert [run["run_id"] for run in runs] == ["sched-r3", "sched-r2"]
    latest = {(s["step"], s["label"]): s for s in runs[0]["segments"]}
    # collection from the collector's REQUESTED record; a transform from the collection of its object
    assert latest[("collect", "Lyon")] == {
        "step": "collect",
        "label": "Lyon",
        "start": 0.0,
        "end": 31.0,
        "outcome": "api_quota_daily",
        "level": "fail",
    }
    assert (latest[("transform", "Paris")]["start"], latest[("transform", "Paris")]["end"]) == (8.0, 13.0)
    # the email from the step it follows (the last one before it), its outcome the run's
    assert latest[("email", "sent")] == {
        "step": "email",
        "label": "sent",
        "start": 31.0,
        "end": 32.5,
        "outcome": "mixed",
        "level": "warn",
    }
    assert runs[0]["seconds"] == 32.5
    tests_failed = [s for s in runs[1]["segments"] if s["outcome"] == "tests_failed"]
    assert [s["step"] for s in tests_failed] == ["transform", "email"] and {s["level"] for s in tests_failed} == {
        "warn"
    }


def test_the_page_embeds_its_data_and_loads_nothing_from_the_network():
    trends = city_trends(summary_rows(), days=14)
    page = render_report(trends, run_timelines(ledger_steps(), last=5), GENERATED_AT, "sample")

    embedded = page.split('<script id="report-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["trends"] == trends
    assert not re.search(r"""\b(src|href)\s*=|url\(|@import|<link|fetch\(|XMLHttpRequest""", page, re.IGNORECASE)
    # the one URL is the SVG namespace name, which browsers never fetch
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_a_value_cannot_close_the_script_that_holds_the_data():
    hostile = "</script><img src=x onerror=alert(1)>"
    page = render_report({hostile: []}, [], GENERATED_AT, hostile)

    assert "<img" not in page and page.count("</script>") == 2  # the data block and the renderer
