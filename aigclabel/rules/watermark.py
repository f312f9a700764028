"""An imperceptible watermark in the content itself (:mod:`aigclabel.watermark`).

Images and audio: the handler decodes the picture (a reduced JPEG decode: detection works at 256
pixels) or the audio stream (PCM read directly, compressed audio through PyAV), and the detector reads
the 64-bit word (the same word in both).  A found word is compared with the file's own
record (its keyed id under the profile's ``key``, see :func:`aigclabel.watermark.payload_for`).

Findings say "watermark found" or "no watermark found" - never "not AI-generated": a watermark is
removed by a crop or strong edits, and one can be forged by whoever holds the key.  As a mandatory
requirement (EU Code of Practice) a missing watermark is a breach; where watermarks are only
encouraged (the Chinese Measures, Art. 5) the profile gives it level ``info`` and ``detect = false``
keeps the check (a picture decode) out of the default run.  Without the ``[watermark]`` extra, or for
a content kind without a detector, the requirement is *not checked*.

Options: ``detect`` (default true: look for the watermark; false: not checked, costs nothing) and
``key`` (the key the ids were made with; empty: the published default key).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.watermark"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {"detect": True, "key": ""}
DESCRIPTION = "an imperceptible watermark marks the content (aigclabel's watermark; images and audio)"
_EXPECTED = "an imperceptible watermark"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    if not options.get("detect", True):  # before the imports: a default verify loads no watermark code
        yield Finding(ID, Level.NOT_CHECKED, "not checked: watermark detection is off in this profile "
                      "(detect = false in its implicit.watermark options)", expected=_EXPECTED)
        return
    from .. import watermark
    from ..errors import AigcLabelError

    kind = ctx.evidence.kind
    if kind not in ("image", "audio"):
        yield Finding(ID, Level.NOT_CHECKED, f"not checked: aigclabel has no watermark detector for {kind} "
                      "content in this version (images and audio only)", expected=_EXPECTED)
        return
    if not watermark.available():
        yield Finding(ID, Level.NOT_CHECKED, "not checked: the watermark detector is not installed "
                      f"({watermark.EXTRA_HINT})", expected=_EXPECTED)
        return
    if ctx.source is None or ctx.handler is None:
        yield Finding(ID, Level.NOT_CHECKED, f"not checked: the {kind} content was not available",
                      expected=_EXPECTED)
        return
    try:
        found = watermark.detect_file(ctx.handler, ctx.source)
    except AigcLabelError as exc:
        what = "picture" if kind == "image" else "audio"
        yield Finding(ID, Level.NOT_CHECKED, f"not checked: the {what} could not be decoded ({exc})",
                      expected=_EXPECTED)
        return
    if not found.found and kind == "audio" and not any(found.z):
        yield Finding(ID, Level.NOT_CHECKED, "not checked: the audio is too short to read a watermark from "
                      "(under one 6.4 s period of the repeated word)", expected=_EXPECTED)
        return
    if not found.found:
        yield Finding(ID, Level.ERROR, f"no watermark found (confidence {found.confidence:.2f}); this says "
                      "nothing about whether the content is AI-generated: strong edits (a crop, a time "
                      "stretch) remove a watermark", expected=_EXPECTED, actual="not found")
        return
    yield Finding(ID, Level.PASS, f"{found.describe()[:-1]}; {record_match(ctx.evidence, found, options)})",
                  expected=_EXPECTED, actual=f"payload {found.payload:010x}",
                  data={"payload": found.payload, "confidence": found.confidence})


def record_match(evidence: Any, found: Any, options: dict[str, Any], key_source: str = "the profile's key") -> str:
    """How a found watermark relates to the file's own records: matches / does not match / no record
    (*key_source* names where the key came from, for the message)."""
    from ..watermark import payload_for

    records = [lab.fields for lab in getattr(evidence, "labels", []) if lab.fields]
    if not records:
        return "no record in the file to match"
    key = options.get("key") or None
    for fields in records:
        if found.payload == payload_for(fields, key):
            return f"matches the record of {fields.get('ContentProducer', '')} / {fields.get('ProduceID', '')}"
    return (f"does not match the file's record under {key_source} (another key, or another record's "
            "watermark)")
