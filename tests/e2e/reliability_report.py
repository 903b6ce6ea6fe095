"""The "Reliability" table of docs/reliability.md, produced from what the suite measured.

The drills (tests/e2e/test_drills_*.py) and the fuzz tier (tests/fuzz/) call `record(...)` with the numbers they
measured; each call merges one row into a JSON file (RELIABILITY_RESULTS, default build/reliability/results.json).
`python -m tests.e2e.reliability_report` renders the rows as a Markdown table and writes it between the markers
`<!-- reliability:start -->` and `<!-- reliability:end -->` of docs/reliability.md (`--print` shows it without
writing; `--check` exits 1 when the page's table differs from the results).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "reliability.md"
RESULTS_ENV = "RELIABILITY_RESULTS"
START_MARKER = "<!-- reliability:start -->"
END_MARKER = "<!-- reliability:end -->"

# Promises proven by tests that measure nothing at run time: listed so the table is complete.
STATIC_ROWS: dict[str, dict[str, Any]] = {
    "raw-immutable": {
        "order": 90,
        "scenario": "A pipeline role (or anyone) tries to delete a raw object (AWS)",
        "promise": "No pipeline role can delete raw objects or their versions, or expire them by lifecycle; the "
        "bucket policy denies it to every principal",
        "measured": "Pinned on the synthesized template: each of the 3 function roles carries an explicit Deny of "
        "s3:DeleteObject and s3:DeleteObjectVersion on raw/places/* and of s3:PutLifecycleConfiguration; the "
        "bucket policy (kept with the bucket) denies the same to every principal; no lifecycle rule expires "
        "anything under raw/; only the collector may write raw (tests/infrastructure/test_stack_security.py::"
        "test_pipeline_roles_are_denied_deleting_raw_objects, ::test_the_bucket_policy_denies_everyone_deleting_"
        "raw_objects_and_their_versions, ::test_no_lifecycle_rule_expires_raw_objects_or_their_old_versions, "
        "::test_only_the_collector_may_write_raw)",
        "test": "tests/infrastructure/test_stack_security.py",
    },
}


def results_path() -> Path:
    return Path(os.environ.get(RESULTS_ENV) or REPO_ROOT / "build" / "reliability" / "results.json")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record(key: str, scenario: str, promise: str, measured: str, test: str, order: int = 50, **numbers: Any) -> None:
    """Merge one measured row (newest wins) into the results file."""
    path = results_path()
    with _locked(path):
        rows = load_results(path)
        rows[key] = {
            "order": order,
            "scenario": scenario,
            "promise": promise,
            "measured": measured,
            "test": test,
            "numbers": numbers,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(rows, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        temporary.replace(path)


def load_results(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or results_path()
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of rows; delete it and run the tests again")
    return data


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_table(rows: dict[str, dict[str, Any]]) -> str:
    """Scenario | promise | measured result, in a stable order."""
    merged = {**STATIC_ROWS, **rows}
    ordered = sorted(merged.items(), key=lambda item: (item[1].get("order", 50), item[0]))
    lines = ["| Scenario | Promise | Measured result |", "| --- | --- | --- |"]
    for _, row in ordered:
        lines.append(f"| {_cell(row['scenario'])} | {_cell(row['promise'])} | {_cell(row['measured'])} |")
    stamps = sorted(str(row["recorded_at"]) for row in rows.values() if row.get("recorded_at"))
    if stamps:
        lines.append("")
        lines.append(
            f"_Measured by `make test` (tests/e2e/test_drills_*.py, tests/fuzz/) on the local stack, "
            f"{stamps[0][:10]}; regenerate with `python -m tests.e2e.reliability_report`._"
        )
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, table: str) -> str:
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"no {START_MARKER} ... {END_MARKER} pair: add both markers where the table goes")
    return text[: start + len(START_MARKER)] + "\n" + table + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", type=Path, default=PAGE, help="the Markdown page holding the markers")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the table only")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page's table is not up to date")
    args = parser.parse_args(argv)
    rows = load_results(args.results)
    if not rows:
        print(f"no results in {args.results or results_path()}: run `make test` (or pytest tests/e2e) first")
        return 1
    table = render_table(rows)
    if args.print_only:
        print(table, end="")
        return 0
    try:
        current = args.page.read_text(encoding="utf-8")
        updated = replace_between_markers(current, table)
    except (OSError, ValueError) as exc:
        print(f"error: {args.page}: {exc}", file=sys.stderr)
        return 1
    if args.check:
        return 0 if updated == current else 1
    args.page.write_text(updated, encoding="utf-8")
    print(f"wrote the Reliability table ({len(rows) + len(STATIC_ROWS)} rows) into {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
