"""ContentProducer / ContentPropagator are well-formed TC260 provider codes (a warning only)."""

from __future__ import annotations

from typing import Any, Iterator

from ..label import SCHEMA_GB, check_provider_code
from ..report import Finding, Level

ID = "implicit.provider-code"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {"check_service_type": True}
DESCRIPTION = "provider codes follow TC260-PG-20252A (27 characters with a valid USCC)"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    for lab in ctx.evidence.labels:
        if lab.parsed is None or lab.parsed.schema != SCHEMA_GB or not lab.fields:
            continue
        for field, service in (("ContentProducer", "generation"), ("ContentPropagator", "dissemination")):
            code = lab.fields.get(field, "")
            if not isinstance(code, str) or not code:
                continue
            problems = check_provider_code(code, field,
                                           expected_service_type=service if options["check_service_type"]
                                           else None)
            if not problems:
                yield Finding(ID, Level.PASS, f"{field} {code} is a well-formed provider code",
                              location=lab.location)
            for p in problems:
                # Real codes sometimes break the layout: never more than a warning.
                yield Finding(ID, Level.WARNING, p.message, location=lab.location,
                              expected=p.expected, actual=p.actual)
