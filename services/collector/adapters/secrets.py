"""Adapter: the Places API key. On AWS from Secrets Manager (cached by Powertools Parameters, re-read every five
minutes so a rotated key is picked up), locally from GOOGLE_PLACES_API_KEY. Never logged, never in an event."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from services.collector.ports import KeyUnavailable
from services.collector.settings import CollectorSettings

SECRET_MAX_AGE_SECONDS = 300


class PlacesApiKey:
    """The key source of the ports (ApiKeySource): call it for the key; KeyUnavailable names what is missing."""

    def __init__(self, settings: CollectorSettings) -> None:
        self._settings = settings

    def __call__(self) -> str:
        settings = self._settings
        if settings.places_api_key_secret_arn:
            try:
                raw = parameters.get_secret(settings.places_api_key_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
            except parameters.exceptions.GetParameterError as exc:
                raise KeyUnavailable(
                    f"The Places API key secret could not be read ({exc.__class__.__name__}); check that it exists "
                    "and that the collector's role may read it."
                ) from None
            return read_secret_value(str(raw))
        local = settings.google_places_api_key
        if local is not None and local.get_secret_value().strip():
            return local.get_secret_value().strip()
        raise KeyUnavailable(
            "No Places API key: set GOOGLE_PLACES_API_KEY (local) or PLACES_API_KEY_SECRET_ARN (AWS, set by the stack)."
        )


def read_secret_value(raw: str) -> str:
    """A Secrets Manager value: the key itself, or JSON holding it under api_key / GOOGLE_PLACES_API_KEY."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise KeyUnavailable("The Places API key secret holds invalid JSON.") from None
        for name in ("api_key", "GOOGLE_PLACES_API_KEY", "key"):
            if isinstance(data, dict) and isinstance(data.get(name), str) and data[name].strip():
                return str(data[name]).strip()
        raise KeyUnavailable(
            "The Places API key secret is JSON without an 'api_key' field: store the key as plain text."
        )
    if not text:
        raise KeyUnavailable("The Places API key secret is empty: put the key in it (restaurant-pipeline deploy).")
    return text
