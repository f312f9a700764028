"""The record is in the file header, before the media payload ("file metadata" per the standard)."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.in-header"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the record precedes the media payload"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    for lab in ctx.evidence.labels:
        if lab.before_payload is False:
            yield Finding(ID, Level.ERROR, f"record {lab.carrier} comes after the media payload",
                          location=lab.location, expected="before the payload", actual="after the payload")
        elif lab.before_payload:
            yield Finding(ID, Level.PASS, "record precedes the media payload", location=lab.location)
