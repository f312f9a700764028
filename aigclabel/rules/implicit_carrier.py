"""The record sits in the normative carrier for the format (TC260 2025 per-format guides)."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.carrier"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the record is stored where the format guide says"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    handler = ctx.handler
    if handler is not None and handler.name == ctx.evidence.format:
        normative = handler.normative_carrier
    else:  # evidence built without its handler (a caller's own): look the format up
        from ..formats import handlers

        normative = {h.name: h.normative_carrier for h in handlers()}.get(ctx.evidence.format, "?")
    for lab in ctx.evidence.labels:
        if lab.normative:
            yield Finding(ID, Level.PASS, f"record in the normative carrier {lab.carrier}", location=lab.location)
        else:
            # Readers accept the variant, so this is a placement problem (ERROR mapped by profile level).
            yield Finding(ID, Level.ERROR,
                          f"record in a non-standard carrier {lab.carrier}; the normative carrier for "
                          f"{ctx.evidence.format.upper()} is {normative}",
                          location=lab.location, expected=normative, actual=lab.carrier)
