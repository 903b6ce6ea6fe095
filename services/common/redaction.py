"""Secrets never travel in logs, events, emails or exceptions: one function removes them, wherever text leaves.

It removes the secret values it is given (the Places API key the collector read), anything shaped like a Google
API key ("AIza" + 35 characters), and any value given to a key parameter (`key=…`, `api_key: …`, `X-Goog-Api-Key:`).
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
GOOGLE_API_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{35}")
_KEY_PARAMETER = re.compile(r"(?i)(\b(?:api[_-]?key|x-goog-api-key)\s*[=:]\s*|[?&]key=)([^\s&\"',;]+)")


def redact_secrets(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = GOOGLE_API_KEY.sub(REDACTED, text)
    return _KEY_PARAMETER.sub(lambda match: f"{match.group(1)}{REDACTED}", text)
