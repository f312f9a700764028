"""The manifest's signature carries a time-stamp from an RFC 3161 time-stamp authority."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level
from .c2pa_manifest import not_read

ID = "c2pa.timestamp"
SCOPE = "implicit"
KINDS = None
USES_C2PA = True
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the C2PA signature is time-stamped by a time-stamp authority"
EXPECTED = "a C2PA signature time-stamped by a TSA (mark --c2pa --tsa URL)"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..c2pa import c2pa_status

    found = c2pa_status(ctx.evidence)
    skipped = not_read(found, ID, EXPECTED)
    if skipped is not None:
        yield skipped
        return
    if found["status"] != "present":
        return
    m = found["manifest"]
    when = m.signer.get("time")
    if when:
        yield Finding(ID, Level.PASS, f"C2PA signature time-stamped {when}", location=f"active manifest {m.label}")
    else:
        yield Finding(ID, Level.ERROR, "the C2PA signature has no time-stamp (sign with a time-stamp authority)",
                      location=f"active manifest {m.label}", expected=EXPECTED, actual="no time-stamp")
