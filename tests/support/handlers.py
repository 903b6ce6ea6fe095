"""Handlers used by the platform tests (not services): they record what they were given."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingHandler:
    """Succeeds for every record except those whose body contains `poison`; remembers every call."""

    poison: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(event)
        self.contexts.append(context)
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if self.poison is not None and self.poison in record["body"]
        ]
        return {"batchItemFailures": failures}

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for call in self.calls for record in call["Records"]]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(record["body"]) for record in self.records]


class CrashingHandler:
    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")
