"""What the collector needs in the Places field mask, checked where the mask is configured (pipeline.toml) and where
the function reads it (PLACES_FIELD_MASK): places.id (places are de-duplicated by id) and nextPageToken (or
pagination stops at 20 places). "*" asks for every field, those included."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.records import missing_paths

REQUIRED_PATHS = {
    "places.id": "places are de-duplicated by id",
    "nextPageToken": "pagination stops at 20 places without it",
}


def field_mask_problems(paths: Iterable[str]) -> list[str]:
    """Why the mask cannot work, one sentence per missing path; empty when it can."""
    return [
        f"the field mask must include {path} ({REQUIRED_PATHS[path]})" for path in missing_paths(paths, REQUIRED_PATHS)
    ]
