"""Remakes docs/report.png: the report page built from the sample inputs of the tests (tests/support/report_sample.py:
two cities over 14 days, three runs), drawn by headless Chromium (Debian's chromium package).

Usage: .venv/bin/python scripts/report_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from restaurant_pipeline.report import city_trends, render_report, run_timelines  # noqa: E402
from tests.support.chromium import screenshot  # noqa: E402
from tests.support.report_sample import GENERATED_AT, ledger_steps, summary_rows  # noqa: E402


def main() -> None:
    page = render_report(
        city_trends(summary_rows(), days=14),
        run_timelines(ledger_steps(), last=3),
        GENERATED_AT,
        "sample data (tests/support/report_sample.py)",
    )
    with tempfile.TemporaryDirectory() as folder:
        html = Path(folder) / "report.html"
        html.write_text(page, encoding="utf-8")
        screenshot(html, REPO / "docs" / "report.png", width=1200, height=1020)
    print(f"wrote {REPO / 'docs' / 'report.png'}")


if __name__ == "__main__":
    main()
