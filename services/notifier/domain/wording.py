"""How each outcome is said, in one table: change a word here and every subject, headline and section follows.

SNS rules (measured): the Subject is ASCII only, at most 100 characters, no line breaks; emoji go in the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.names import PROJECT
from services.notifier.domain.outcomes import OutcomeKind

SUBJECT_PREFIX = f"[{PROJECT}]"
CLI = PROJECT  # the command-line tool the emails tell people to run


@dataclass(frozen=True)
class Wording:
    tag: str  # in subjects: ASCII, upper case
    headline: str  # the body's first line, before ": <where>."
    section: str  # a section's title, before " · <city · day>"


WORDING: dict[OutcomeKind, Wording] = {
    "passed": Wording("OK", "✅ All good", "✅"),
    "tests_failed": Wording("TESTS FAILED", "⚠️ Data tests failed", "⚠️ Data tests failed"),
    "error": Wording("ERROR", "❌ The transform failed", "❌ The transform failed"),
    "collection_failed": Wording("NOT COLLECTED", "❌ Not collected", "❌ Not collected"),
}
MIXED = Wording("PARTIAL", "❌ Partly done", "")
# A passed outcome that set lines aside: never "OK / All good" when part of the input is in quarantine/.
QUARANTINED = Wording("QUARANTINED", "⚠️ Built, but lines were set aside", "⚠️")
REPEAT_TAG = "REPEAT"

TRIGGER_WORDS = {
    "schedule": "started by the schedule",
    "manual": "started by hand (restaurant-pipeline run)",
    "replay": "a replay",
}

PHASE_WORDS = {
    "read": "reading the raw object",
    "validate": "validating the raw object",
    "dbt": "dbt",
    "publish": "publishing the outcome",
    "internal": "the transformer itself",
}
