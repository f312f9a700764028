"""ReservedCode1/2 security data (TC260-PG-202511A): signatures cannot be verified yet."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.security-data"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "integrity data in ReservedCode1/2 verifies"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    for lab in ctx.evidence.labels:
        for field in ("ReservedCode1", "ReservedCode2"):
            value = (lab.fields or {}).get(field) or ""
            if value:
                # SM2/SM3 verification of TC260 security data is not implemented: say so, never pass it.
                yield Finding(ID, Level.NOT_CHECKED,
                              f"{field} holds integrity data ({len(value)} characters); its signature "
                              "is not verified by this version", location=lab.location)
