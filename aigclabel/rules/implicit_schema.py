"""The record follows the schema the profile asks for (Annex E's seven fields, or the 2023 form)."""

from __future__ import annotations

from typing import Any, Iterator

from ..label import SCHEMA_GB, SCHEMA_TC260_2023
from ..report import Finding, Level

ID = "implicit.schema"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {"accept": [SCHEMA_GB]}
DESCRIPTION = "the record uses an accepted schema"

_NAMES = {SCHEMA_GB: "GB 45438-2025 Annex E (seven fields)",
          SCHEMA_TC260_2023: "TC260-PG-20233A (2023: ServiceProvider, Time, ContentID)"}


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    accept = list(options["accept"])
    for lab in ctx.evidence.labels:
        schema = lab.parsed.schema if lab.parsed is not None else None
        if schema is None:
            continue  # unparseable: reported by implicit.record-fields
        if schema in accept:
            yield Finding(ID, Level.PASS, f"record uses the {_NAMES.get(schema, schema)} schema",
                          location=lab.location)
        else:
            yield Finding(ID, Level.ERROR,
                          f"legacy record in the {_NAMES.get(schema, schema)} schema; this profile "
                          f"requires {', '.join(_NAMES.get(a, a) for a in accept)}",
                          location=lab.location, expected=" or ".join(accept), actual=schema)
