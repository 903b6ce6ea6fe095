"""What DynamoDB's answers mean, for the adapters that write conditionally."""

from __future__ import annotations


def is_conditional_failure(exc: Exception) -> bool:
    """A conditional write refused because its condition did not hold (the item was already there, or changed)."""
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
