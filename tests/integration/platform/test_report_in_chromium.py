"""The report page drawn by a real browser (headless Chromium, Debian's package): every chart and every run's
timeline is drawn with the data it was given, offline, and a hostile city name stays text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from restaurant_pipeline.report import city_trends, render_report, run_timelines
from tests.support.chromium import INSTALL_HINT, chromium, dump_dom
from tests.support.report_sample import GENERATED_AT, ledger_steps, summary_rows

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium() is None, reason=f"{INSTALL_HINT}: the page cannot be drawn here"),
]


class Elements(HTMLParser):
    """Every start tag of the drawn DOM, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))

    def all(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [a for t, a in self.found if t == tag and all(a.get(k) == v for k, v in wanted.items())]


def drawn(tmp_path: Path, trends: dict, runs: list) -> Elements:
    page = tmp_path / "report.html"
    page.write_text(render_report(trends, runs, GENERATED_AT, "sample"), encoding="utf-8")
    elements = Elements()
    elements.feed(dump_dom(page))
    return elements


def test_the_browser_draws_every_city_chart_and_every_run_timeline_from_the_embedded_data(tmp_path: Path):
    trends = city_trends(summary_rows(), days=14)
    runs = run_timelines(ledger_steps(), last=3)
    dom = drawn(tmp_path, trends, runs)

    [body] = dom.all("body")
    assert "data-chart-error" not in body, body["data-chart-error"]
    assert body["data-charts-drawn"] == str(3 * len(trends) + len(runs))
    for city in trends:
        assert len(dom.all("div", **{"data-city": city})) == 1
    charts = dom.all("svg", **{"data-chart": "restaurants_seen"})
    assert sorted(c["data-points"] for c in charts) == ["13", "14"]
    # Lyon's day without a collection breaks its line in two; Paris's is one line
    lines = dom.all("polyline")
    assert len(lines) == 3 * 3  # (Paris 1 + Lyon 2) for each of the three charts
    assert all(len(line["points"].split()) >= 2 for line in lines)
    assert len(dom.all("circle")) == 3 * (14 + 13)
    for run in runs:
        [timeline] = dom.all("svg", **{"data-run": run["run_id"]})
        assert timeline["data-segments"] == str(len(run["segments"]))
    bars = [rect for rect in dom.all("rect") if "data-outcome" in rect]
    assert len(bars) == sum(len(run["segments"]) for run in runs)
    assert {bar["fill"] for bar in bars if bar["data-outcome"] == "api_quota_daily"} == {"#cf222e"}
    assert all(float(bar["width"]) >= 2 for bar in bars)


def test_an_empty_warehouse_and_ledger_draw_a_page_that_says_so(tmp_path: Path):
    dom = drawn(tmp_path, {}, [])

    [body] = dom.all("body")
    assert body.get("data-charts-drawn") == "0" and "data-chart-error" not in body


def test_a_city_name_made_of_markup_stays_text(tmp_path: Path):
    hostile = '<img src=x onerror="document.title=1">'
    trends = {hostile: city_trends(summary_rows(), days=3)["Paris"]}
    dom = drawn(tmp_path, trends, [])

    assert dom.all("img") == []
    assert dom.all("div", **{"data-city": hostile})
