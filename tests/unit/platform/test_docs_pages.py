"""What the README and docs/ promise about themselves: every command reachable by the pasted-commands test, the
measured tables where their generators write them, the licence pyproject names."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.e2e.reliability_report import END_MARKER, PAGE, START_MARKER
from tests.support.shell_commands import untagged_commands

REPO = Path(__file__).resolve().parents[3]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_command_block_is_tagged_bash_so_the_pasted_commands_test_runs_it():
    found = [hit for page in PAGES for hit in untagged_commands(page.read_text(encoding="utf-8"), page.name)]

    assert found == []


def test_the_reliability_table_lives_in_docs_reliability_md_and_the_readme_links_to_it():
    page = PAGE.read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    assert REPO / "docs" / "reliability.md" == PAGE
    assert page.count(START_MARKER) == page.count(END_MARKER) == 1
    assert START_MARKER not in readme
    assert "(docs/reliability.md)" in readme and "(docs/performance.md)" in readme


def test_the_license_file_is_the_one_pyproject_names():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]["text"]

    assert declared == "MIT"
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_no_page_speaks_of_a_document_its_reader_has_never_seen():
    # the original French design brief the project was built from is not in the repository
    assert [page.name for page in PAGES if "the seed" in page.read_text(encoding="utf-8").lower()] == []
