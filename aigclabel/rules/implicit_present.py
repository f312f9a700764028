"""The file carries an implicit label: a metadata record whose key contains AIGC."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.record-present"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the file metadata holds an AIGC record"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    labels = ctx.evidence.labels
    if not labels and ctx.evidence.info.get("implicit_carrier") is False:
        yield Finding(ID, Level.INFO, "no implicit carrier is defined for plain text; the explicit notice alone is "
                      "required (a sidecar NAME.aigc.json may carry the record)")
        return
    if not labels:
        yield Finding(ID, Level.ERROR, "no AIGC record found in the file metadata",
                      expected="an AIGC metadata record", actual="none")
    else:
        where = "; ".join(lab.location for lab in labels)
        yield Finding(ID, Level.PASS, f"AIGC record found ({where})", location=labels[0].location)
