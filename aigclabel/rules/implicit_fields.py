"""The record's fields are valid: the seven keys, Label value, character set, required values."""

from __future__ import annotations

from typing import Any, Iterator

from ..label import SCHEMA_GB
from ..report import Finding, Level

ID = "implicit.record-fields"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "record fields and values are valid"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    for lab in ctx.evidence.labels:
        parsed = lab.parsed
        if parsed is None:
            continue
        if parsed.schema not in (SCHEMA_GB, None) and not parsed.problems:
            continue  # a valid legacy record: the schema rule speaks for it
        if not parsed.problems:
            label = (parsed.fields or {}).get("Label", "")
            yield Finding(ID, Level.PASS, f"record fields valid (Label {label!r})", location=lab.location)
            continue
        for problem in parsed.problems:
            yield Finding(ID, problem.level, problem.message, location=lab.location,
                          expected=problem.expected, actual=problem.actual)
