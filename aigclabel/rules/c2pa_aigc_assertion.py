"""The AIGC record in the C2PA manifest (``org.aigclabel.aigc``) agrees with the file's metadata record.

"Disagreeing copies are an error" (GB 45438-2025 Annex E, as we read it): a manifest that claims
other AIGC fields than the file's metadata record is a breach; an absent assertion is only noted.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level
from .c2pa_manifest import not_read

ID = "c2pa.aigc-assertion"
SCOPE = "implicit"
KINDS = None
USES_C2PA = True
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the manifest's AIGC assertion agrees with the metadata record"


def _fields(text: str) -> Any:
    from ..label import parse_label

    parsed = parse_label(text)
    return parsed.fields if parsed.fields is not None else text


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..c2pa import ASSERTION_LABEL, c2pa_status

    found = c2pa_status(ctx.evidence)
    skipped = not_read(found, ID, "an AIGC assertion equal to the metadata record")
    if skipped is not None:
        yield skipped
        return
    if found["status"] != "present":
        return
    m = found["manifest"]
    where = f"active manifest {m.label}, {ASSERTION_LABEL}"
    if m.aigc_record is None:
        yield Finding(ID, Level.INFO, f"the C2PA manifest has no {ASSERTION_LABEL} assertion (optional)")
        return
    records = [lab.raw for lab in ctx.evidence.labels]
    if not records:
        yield Finding(ID, Level.WARNING, f"the C2PA manifest carries an AIGC record ({m.aigc_record}) but the file "
                      "metadata holds none", location=where, expected=m.aigc_record, actual="none")
    elif all(_fields(r) == _fields(m.aigc_record) for r in records):
        yield Finding(ID, Level.PASS, "the manifest's AIGC assertion equals the metadata record", location=where)
    else:
        yield Finding(ID, Level.ERROR, "the manifest's AIGC assertion and the metadata record disagree",
                      location=where, expected=records[0], actual=m.aigc_record)
