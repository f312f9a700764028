"""An audible label: a voice prompt with both elements, or the rhythm prompt (Morse "AI", ·− ··)."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "explicit.audio"
SCOPE = "explicit"
KINDS = frozenset({"audio"})
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "voice prompt or Morse rhythm prompt at the start, end or a suitable middle position"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    # Detection of the rhythm and voice prompts is not implemented yet: say so, never pass it.
    yield Finding(ID, Level.NOT_CHECKED,
                  "the audible (explicit) label could not be checked: prompt detection for audio is not "
                  "available in this version",
                  expected="a voice prompt or the rhythm prompt ·− ·· (Morse 'AI')")
