"""The benchmark report is rendered from a stored result (no measuring here: timings are never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import END_MARKER, START_MARKER, aws_estimate, render_section, write_report

SAMPLE = json.loads((Path(__file__).parent / "sample_result.json").read_text())


def test_section_shows_the_date_machine_and_each_measured_figure():
    section = render_section(SAMPLE)

    assert "2026-11-25T20:00:00+00:00" in section and "2 CPUs" in section and "duckdb 1.4.4" in section
    assert "| 1,000 places, 1 city | 100 ms | 50 | 5.20 | 5,800 | 0.967 | 0 | 6.10 | 1.17 |" in section
    assert "142.5 MiB" in section
    assert "1.10 s (1.00-1.30, 3 runs)" in section and "| Warm ÷ CLI | 0.14 | ≤ 0.15: met |" in section
    assert "Daily build after 365 day(s) of history" in section and "≤ 1.3: met" in section
    assert "dbt.cli.main 1.50 s" in section
    assert "| Trigger → email, 20 restaurants | 12.50 s (outcome passed) | ≤ 10 s: **not met** |" in section
    assert "Max concurrent dbt runs (most overlapping wall-clock dbt build intervals" in section
    assert "log) | 1 | 1: met |" in section
    assert "- a note the reader must see" in section


def test_a_benchmark_that_failed_is_reported_as_not_measured_with_its_error():
    section = render_section({**SAMPLE, "e2e": {"error": "stack did not start: port in use"}})

    assert "Not measured: stack did not start: port in use" in section
    assert "Trigger → email" not in section


@pytest.mark.parametrize(("measured", "row_end"), [(2, "log) | 2 | 1: **not met** |"), (None, "log) | n/a | 1: n/a |")])
def test_max_concurrent_dbt_runs_is_judged_against_one_and_unknown_when_not_measured(measured, row_end):
    burst = {**SAMPLE["e2e"]["burst"], "max_concurrent_dbt_runs": measured}

    section = render_section({**SAMPLE, "e2e": {**SAMPLE["e2e"], "burst": burst}})

    assert row_end in section


def test_aws_estimate_grows_with_cities_from_the_measured_node_count():
    rows = {row["cities"]: row for row in aws_estimate(SAMPLE)}

    assert [rows[n]["dbt_builds"] for n in (1, 20, 200)] == [1, 2, 20]
    assert rows[1]["athena_gb_billed"] == pytest.approx(27 * 10 / 1024, abs=0.01)
    assert rows[1]["usd_per_day"] < rows[20]["usd_per_day"] < rows[200]["usd_per_day"]
    assert "| 200 | 200 | 20 |" in render_section(SAMPLE)


def test_the_page_section_is_replaced_between_the_markers_only(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text(f"# Project\n\n## Performance\n{START_MARKER}\nold figures\n{END_MARKER}\n\n## Next\nkept\n")

    assert write_report(SAMPLE, tmp_path / "results", page) is True

    text = page.read_text()
    assert "old figures" not in text and "Warm ÷ CLI" in text
    assert text.startswith("# Project\n\n## Performance\n" + START_MARKER + "\nMeasured by `make bench`")
    assert text.endswith(END_MARKER + "\n\n## Next\nkept\n")
    assert json.loads((tmp_path / "results" / "latest.json").read_text()) == SAMPLE
    assert (tmp_path / "results" / "latest.md").read_text().startswith("## Performance\n\nMeasured by")


def test_a_page_without_markers_is_left_untouched_and_latest_md_still_written(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text("# Project\nno markers yet\n")

    assert write_report(SAMPLE, tmp_path / "results", page) is False

    assert page.read_text() == "# Project\nno markers yet\n"
    assert "Warm ÷ CLI" in (tmp_path / "results" / "latest.md").read_text()


def test_make_bench_writes_its_tables_into_docs_performance_md_not_the_readme(tmp_path):
    from benchmarks.__main__ import PAGE

    assert Path(__file__).resolve().parents[3] / "docs" / "performance.md" == PAGE
    original = PAGE.read_text(encoding="utf-8")
    assert original.count(START_MARKER) == original.count(END_MARKER) == 1  # one pair, nothing else looks like it
    copy = tmp_path / "performance.md"
    copy.write_text(original, encoding="utf-8")
    assert write_report(SAMPLE, tmp_path / "results", copy) is True
    assert copy.read_text(encoding="utf-8").split(END_MARKER)[1] == original.split(END_MARKER)[1]
    assert START_MARKER not in (PAGE.parents[1] / "README.md").read_text(encoding="utf-8")


def test_collector_cost_shows_billed_and_free_requests_coverage_and_the_month_judged_against_issue_16():
    section = render_section(SAMPLE)

    assert "free of charge but use the per-minute quota" in section
    assert "| 1,000 places | 1,000 | 1.0000 | 66 | 118 | 66.0 | 184.0 | $2.31 | $69.21 | n/a |" in section
    assert "| 10,000 places | 9,950 | 0.9950 | 599 | 1,027 | 60.2 | 163.4 | $20.96 | $628.86 | **not met** |" in section
    assert "| 1,626 | 41.50 | 588.3 | 0.981 | 0 | 600 | 10 | met |" in section


def test_the_quota_run_is_not_met_with_a_single_429():
    cost = SAMPLE["collector_cost"]
    run = {**cost["quota_run"], "throttled_429": 1}

    section = render_section({**SAMPLE, "collector_cost": {**cost, "quota_run": run}})

    assert "| 0.981 | 1 | 600 | 10 | **not met** |" in section
