"""Write the JSON Schema of every bus event under contracts/schemas/ (`make schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.envelope import Event
from contracts.events import BUS_EVENTS

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_file_name(event: type[Event]) -> str:
    return f"{event.DETAIL_TYPE.lower().replace(' ', '-')}.v{event.VERSION}.json"


def render_schema(event: type[Event]) -> str:
    schema = event.model_json_schema()
    schema["$id"] = f"restaurant-pipeline/{schema_file_name(event)}"
    schema["x-detail-type"] = event.DETAIL_TYPE
    schema["x-sources"] = list(event.SOURCES)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_schemas() -> dict[str, str]:
    return {schema_file_name(event): render_schema(event) for event in BUS_EVENTS}


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in expected_schemas().items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote contracts/schemas/{name}")


if __name__ == "__main__":
    main()
