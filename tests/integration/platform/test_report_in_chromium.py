"""The report page drawn by a real browser (headless Chromium, Debian's package): every chart and every run's
timeline is drawn with the data it was given, offline, and a hostile city name stays text.

Without Chromium these tests skip, except in CI (CI=true), where they fail: .ci/run installs the package, and CI must
never pass without having drawn the page."""

from __future__ import annotations

import math
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.report import city_trends, render_report, run_timelines
from tests.support.chromium import INSTALL_HINT, chromium, dump_dom, required
from tests.support.report_sample import GENERATED_AT, ledger_steps, summary_rows

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _chromium_present() -> None:
    if chromium() is not None:
        return
    if required():
        pytest.fail(f"{INSTALL_HINT}: CI=true, so the report's browser tests fail rather than skip", pytrace=False)
    pytest.skip(f"{INSTALL_HINT}: the page cannot be drawn here")


class Elements(HTMLParser):
    """Every start tag of the drawn DOM, with its attributes and the index of the <svg> it is drawn in (if any)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], int | None]] = []
        self._svg: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._svg = len(self.found)
        self.found.append((tag, {name: value or "" for name, value in attrs}, self._svg))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None

    def all(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [a for t, a, _ in self.found if t == tag and all(a.get(k) == v for k, v in wanted.items())]

    def charts(self) -> Iterator[tuple[dict[str, str], list[tuple[str, dict[str, str]]]]]:
        """Each <svg> of the page with the elements drawn in it."""
        for index, (tag, attrs, _) in enumerate(self.found):
            if tag == "svg":
                yield attrs, [(t, a) for t, a, svg in self.found[index + 1 :] if svg == index]


def _inside(box: tuple[float, float, float, float], x: float, y: float) -> bool:
    left, top, width, height = box
    return math.isfinite(x) and math.isfinite(y) and left <= x <= left + width and top <= y <= top + height


def _marks(svg: dict[str, str], drawn: list[tuple[str, dict[str, str]]]) -> int:
    """How many data marks the browser drew in one chart: a line of two or more points, a day's dot, a step's bar,
    each at finite coordinates inside the chart's box (a NaN from a value the script could not read is no mark)."""
    left, top, width, height = (float(n) for n in svg["viewbox"].split())
    box = (left, top, width, height)
    marks = 0
    for tag, attrs in drawn:
        if tag == "polyline":
            points = [tuple(float(n) for n in pair.split(",")) for pair in attrs["points"].split()]
            marks += len(points) >= 2 and all(_inside(box, x, y) for x, y in points)
        elif tag == "circle":
            marks += _inside(box, float(attrs["cx"]), float(attrs["cy"]))
        elif tag == "rect" and "data-outcome" in attrs:
            x, y, w = float(attrs["x"]), float(attrs["y"]), float(attrs["width"])
            marks += w >= 2 and _inside(box, x, y) and _inside(box, x + w, y)
    return marks


def blank_charts(dom: Elements) -> list[str]:
    """The charts of the page in which the browser drew no mark from data."""
    return [
        svg.get("aria-label", "?") for svg, drawn in dom.charts() if svg.get("role") == "img" and not _marks(svg, drawn)
    ]


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
    assert len(list(dom.charts())) == 3 * len(trends) + len(runs)
    assert blank_charts(dom) == []
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


def test_charts_given_no_values_are_found_blank(tmp_path: Path):
    """The check above can fail: the same cities and runs with every value emptied draw charts with no mark."""
    trends = city_trends(summary_rows(), days=14)
    emptied: dict[str, list[dict[str, Any]]] = {
        city: [
            {**point, "restaurants_seen": None, "weighted_rating": None, "new_restaurants": None} for point in points
        ]
        for city, points in trends.items()
    }
    runs = [{**run, "segments": []} for run in run_timelines(ledger_steps(), last=3)]
    dom = drawn(tmp_path, emptied, runs)

    assert len(blank_charts(dom)) == len(list(dom.charts())) == 3 * len(trends) + len(runs)


def test_a_chart_whose_days_the_script_cannot_read_is_found_blank(tmp_path: Path):
    """A value drawn at NaN coordinates (here a day Date.parse cannot read) is no mark either."""
    points = city_trends(summary_rows(), days=3)["Paris"]
    dom = drawn(tmp_path, {"Paris": [{**point, "day": "not a day"} for point in points]}, [])

    assert len(blank_charts(dom)) == 3


def test_an_empty_warehouse_and_ledger_draw_a_page_that_says_so(tmp_path: Path):
    dom = drawn(tmp_path, {}, [])

    [body] = dom.all("body")
    assert body.get("data-charts-drawn") == "0" and "data-chart-error" not in body
    assert list(dom.charts()) == []


def test_a_city_name_made_of_markup_stays_text(tmp_path: Path):
    hostile = '<img src=x onerror="document.title=1">'
    trends = {hostile: city_trends(summary_rows(), days=3)["Paris"]}
    dom = drawn(tmp_path, trends, [])

    assert dom.all("img") == []
    assert dom.all("div", **{"data-city": hostile})
    assert blank_charts(dom) == []
