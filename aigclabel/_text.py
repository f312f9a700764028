"""Small helpers for naming values in findings (shared by the record and provider-code checks)."""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["describe_char", "json_type_name", "as_text", "snippet"]


def describe_char(ch: str) -> str:
    """Show a character unambiguously: invisible ones (tab, NBSP) are why the code point is included."""
    return f"{ch!r} (U+{ord(ch):04X})"


def json_type_name(value: object) -> str:
    # Name types in JSON terms: the people reading findings look at JSON, not at Python objects.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def as_text(value: object) -> str:
    """Turn a non-string JSON value into the text a reader would see, so ``fields`` stays ``dict[str, str]``.

    null becomes "" (it carries no value); other values keep their JSON spelling (1 -> "1", true -> "true"),
    which lets a numeric Label 1 still be recognised as "1" once the type finding has been reported.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return str(value)


def snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
