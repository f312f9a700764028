"""The file carries an implicit label: a metadata record whose key contains AIGC.

No record is an error; no record where the reader could not read a metadata structure that may hold one (a
damaged XMP packet, a custom-properties part with a bad CRC) is *not checked*: a damaged label and no label are
different answers for a platform.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..formats.base import UNREADABLE
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
    damaged = [f for f in ctx.evidence.findings if f.actual == UNREADABLE]
    if not labels and damaged:
        # metadata that could hold the record could not be read: "no record" would be a guess
        shown = "; ".join(f"{f.message} ({f.location})" if f.location else f.message for f in damaged[:3])
        yield Finding(ID, Level.NOT_CHECKED, f"no readable AIGC record, but metadata that could hold one could not "
                      f"be read: {shown}", expected="an AIGC metadata record", actual="unreadable metadata")
    elif not labels:
        yield Finding(ID, Level.ERROR, "no AIGC record found in the file metadata",
                      expected="an AIGC metadata record", actual="none")
    else:
        where = "; ".join(lab.location for lab in labels)
        yield Finding(ID, Level.PASS, f"AIGC record found ({where})", location=labels[0].location)
