"""The record's fields are valid: the seven keys, Label value, character set, required values."""

from __future__ import annotations

from typing import Any, Iterator

from ..label import FORM_CLAUSE, SCHEMA_GB
from ..report import Finding, Level

ID = "implicit.record-fields"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "record fields and values are valid"

# Both forms verify compliant; the message says which one the file uses and why both are accepted.
_FORM_WORDS = {
    "bare": f"bare object, as the TC260 carrier guides and generators write it; {FORM_CLAUSE}'s literal "
            "{\"AIGC\": {...}} form is accepted too",
    "wrapped": f"wrapped {{\"AIGC\": {{...}}}} form, {FORM_CLAUSE}'s literal",
}


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    for lab in ctx.evidence.labels:
        parsed = lab.parsed
        if parsed is None:
            continue
        if parsed.schema not in (SCHEMA_GB, None) and not parsed.problems:
            continue  # a valid legacy record: the schema rule speaks for it
        if not any(p.level is Level.ERROR for p in parsed.problems):
            # valid, perhaps with warnings (an empty propagator pair, a non-ASCII value): say which form it is
            label = (parsed.fields or {}).get("Label", "")
            yield Finding(ID, Level.PASS, f"record fields valid (Label {label!r}; "
                          f"{_FORM_WORDS.get(parsed.form, parsed.form)})", location=lab.location)
        for problem in parsed.problems:
            yield Finding(ID, problem.level, problem.message, location=lab.location,
                          expected=problem.expected, actual=problem.actual)
