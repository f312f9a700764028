"""IPTC DigitalSourceType names AI generation (the IPTC / C2PA convention)."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.digital-source-type"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {"accept": [
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
]}
DESCRIPTION = "IPTC DigitalSourceType holds an AI-generation URI"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    values = [t for t in ctx.evidence.traces if t.kind == "iptc-digital-source-type"]
    good = [t for t in values if t.detail in options["accept"]]
    if good:
        yield Finding(ID, Level.PASS, f"IPTC DigitalSourceType is {good[0].detail}", location=good[0].location)
    elif values:
        yield Finding(ID, Level.ERROR, f"IPTC DigitalSourceType is {values[0].detail}, not an AI-generation URI "
                      "(the full URI is required)", location=values[0].location,
                      expected=options["accept"][0], actual=values[0].detail)
    else:
        yield Finding(ID, Level.ERROR, "no IPTC DigitalSourceType", expected=options["accept"][0], actual="none")
