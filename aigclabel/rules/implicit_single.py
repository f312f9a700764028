"""One record per file: copies are non-compliant, disagreeing copies doubly so."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.single-record"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "exactly one AIGC record; copies must not disagree"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    labels = ctx.evidence.labels
    if not labels:
        return
    if len(labels) == 1:
        yield Finding(ID, Level.PASS, "exactly one AIGC record")
        return
    places = "; ".join(f"{lab.carrier} ({lab.location})" for lab in labels)
    distinct = {tuple(sorted((lab.fields or {"_raw": lab.raw}).items())) for lab in labels}
    if len(distinct) > 1:
        yield Finding(ID, Level.ERROR, f"{len(labels)} AIGC records that disagree: {places}",
                      expected="one record", actual=f"{len(labels)} differing records")
    else:
        yield Finding(ID, Level.ERROR, f"{len(labels)} identical copies of the AIGC record: {places}",
                      expected="one record", actual=f"{len(labels)} copies")
