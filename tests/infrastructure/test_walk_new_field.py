"""docs/architecture.md's walk "Add a Places field to the `restaurants` mart", measured rather than claimed (issue 25,
item 6): on a scratch copy of the repository, add `nationalPhoneNumber` (a string Google's Text Search returns) end to
end, by hand in as few files as the layout allows, run the generator, then in the copy: the drift tests pass, the
field mask the collector would send asks for it, and a real dbt build on DuckDB (the transformer's own path: raw
object, S3 event, validation, build) puts a raw line's value in the `restaurants` mart.

The files are measured, not listed: every file of the copy is hashed before; what the walk writes itself is
hand-edited, whatever else changed after `python -m contracts.generate` is regenerated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.infrastructure, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
MAX_HAND_EDITED = 5  # the record, the staging model, the mart, the mart's yml, one test
PHONE = "01 42 96 56 70"


@dataclass(frozen=True)
class Edit:
    """Insert `text` before the one line of `path` equal to `before` (a new file when `before` is None)."""

    path: str
    before: str | None
    text: str


TEST_FILE = "tests/integration/transformer/test_national_phone_number.py"
EDITS = (
    Edit(
        "contracts/records.py",
        "    reviews: list[Review] | None = Field(",
        '    nationalPhoneNumber: StrictStr | None = Field(default=None, description="Phone number, national format.")',
    ),
    Edit(
        "dbt/models/staging/stg_places__places.sql",
        '        "_collection".run_id as run_id,',
        "        nationalPhoneNumber as national_phone_number,",
    ),
    Edit("dbt/models/staging/stg_places__places.sql", "    run_id,", "    national_phone_number,"),
    Edit("dbt/models/marts/restaurants.sql", "    c.first_seen_closed_date,", "    c.national_phone_number,"),
    Edit(
        "dbt/models/marts/_marts__models.yml",
        "      - name: first_seen_closed_date",
        "      - name: national_phone_number\n"
        "        description: Latest phone number in national format (Places nationalPhoneNumber).",
    ),
    Edit(
        TEST_FILE,
        None,
        f'''"""nationalPhoneNumber, collected, reaches the restaurants mart."""

import json

import pytest

from tests.support.transformer_stack import Stack

pytestmark = pytest.mark.integration


def test_a_national_phone_number_reaches_the_restaurants_mart(stack: Stack):
    place = {{
        "id": "p1",
        "displayName": {{"text": "Chez A", "languageCode": "fr"}},
        "location": {{"latitude": 48.86, "longitude": 2.34}},
        "businessStatus": "OPERATIONAL",
        "nationalPhoneNumber": "{PHONE}",
        "_collection": {{
            "run_id": "walk",
            "city": "Paris",
            "run_cities": ["Paris"],
            "trigger_source": "manual",
            "page": 1,
            "collected_at": "2026-01-01T08:00:00Z",
        }},
    }}
    stack.drop("raw/places/dt=2026-01-01/walk.jsonl", (json.dumps(place) + "\\n").encode())
    assert stack.run(stack.s3_messages(1)).error is None
    [event] = stack.published(1)
    assert event.outcome == "passed", (event.error, event.failures)
    assert stack.query("select national_phone_number from restaurants") == [("{PHONE}",)]
''',
    ),
)


def copy_checkout(target: Path) -> None:
    """The repository's files as a developer has them: tracked and not ignored ones, from the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def apply(root: Path, edit: Edit) -> None:
    path = root / edit.path
    if edit.before is None:
        assert not path.exists(), f"{edit.path} exists already"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit.text, encoding="utf-8")
        return
    lines = path.read_text(encoding="utf-8").split("\n")
    found = [index for index, line in enumerate(lines) if line == edit.before]
    assert len(found) == 1, f"{edit.path}: expected one line {edit.before!r}, found {len(found)}"
    lines.insert(found[0], edit.text)
    path.write_text("\n".join(lines), encoding="utf-8")


def run(root: Path, *args: str, timeout: float = 240) -> str:
    """A command in the copy, importing the copy's packages (its root first on sys.path, before the editable
    install's finder, which maps them to this checkout)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PIPELINE_CONFIG", None)
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed in the copy:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_adding_a_places_field_to_the_restaurants_mart_touches_at_most_five_files(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    copy_checkout(copy)
    before = digests(copy)

    for edit in EDITS:
        apply(copy, edit)
    hand_edited = sorted({edit.path for edit in EDITS})
    after_hand = digests(copy)
    run(copy, sys.executable, "-m", "contracts.generate")
    after = digests(copy)
    regenerated = sorted(name for name in after if after[name] != after_hand.get(name))
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert sorted({*hand_edited, *regenerated}) == changed  # nothing else moved

    report = (
        f"hand-edited ({len(hand_edited)}): {', '.join(hand_edited)}\n"
        f"regenerated by `python -m contracts.generate` ({len(regenerated)}): {', '.join(regenerated)}"
    )
    print(f"\nAdd a Places field (nationalPhoneNumber) to the restaurants mart:\n{report}")
    assert len(hand_edited) <= MAX_HAND_EDITED, report
    assert "dbt/macros/raw_columns.sql" in regenerated and "dbt/models/staging/_places__sources.yml" in regenerated

    # What the collector would send: the mask generated from the record (pipeline.toml leaves field_mask unset).
    mask = run(
        copy,
        sys.executable,
        "-c",
        "import contracts, pathlib; from restaurant_pipeline.model.config import load_config; "
        "print(contracts.__file__); print(','.join(load_config(pathlib.Path('pipeline.toml')).effective_field_mask))",
    ).split()
    assert Path(mask[0]).is_relative_to(copy), f"imported {mask[0]}, not the copy's"
    assert "places.nationalPhoneNumber" in mask[1].split(","), report

    # The drift tests (generated files, schemas), the dbt unit tests (their raw fixtures do not name the field), then
    # the walk's own test: a real build puts the value in the mart.
    run(
        copy,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit/transformer/test_records.py",
        "tests/unit/platform/test_contracts.py",
        "tests/integration/transformer/test_history.py::test_dbt_unit_tests_pass_against_the_built_warehouse",
        TEST_FILE,
    )
