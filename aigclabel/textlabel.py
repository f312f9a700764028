"""Labelling text held as strings: what generation pipelines need before anything is a file.

::

    import aigclabel
    out = aigclabel.mark_text(answer, fmt="markdown", producer="001191110102MACQD9K64010000")
    report = aigclabel.verify_text(out, fmt="markdown")
    assert report.ok

``mark_text`` adds the explicit notice (default: the profile's ``marking.text_notice``) and, for
Markdown and HTML when a *producer* is given, the implicit record (front matter / ``<meta>``), exactly
as marking a file of that format does.  Plain text has no implicit carrier: pipelines that want the
record beside the text write a sidecar with :func:`write_sidecar`.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from ._io import CountingReader, atomic_output
from .errors import CorruptFile, LabelError
from .label import AigcRecord, LegacyRecord
from .profiles import DEFAULT_PROFILE, Profile, load_profile
from .report import Report

__all__ = ["mark_text", "verify_text", "write_sidecar", "sidecar_path", "TEXT_FORMATS"]

#: accepted spellings of the formats -> handler names
_FORMATS = {"text": "txt", "txt": "txt", "plain": "txt", "markdown": "markdown", "md": "markdown",
            "html": "html", "htm": "html"}
TEXT_FORMATS = ("text", "markdown", "html")
#: what a sidecar file name adds to the labelled file's name (``story.txt`` -> ``story.txt.aigc.json``)
SIDECAR_SUFFIX = ".aigc.json"


def _format(fmt: str) -> str:
    try:
        return _FORMATS[fmt.lower()]
    except (KeyError, AttributeError):
        raise LabelError(f"fmt must be one of {', '.join(TEXT_FORMATS)}, not {fmt!r}") from None


def mark_text(text: str, *, producer: str | None = None, produce_id: str | None = None,
              profile: str | Profile = DEFAULT_PROFILE, position: str = "end", notice: str | None = None,
              fmt: str = "text", propagator: str = "", propagate_id: str = "") -> str:
    """*text* with the explicit notice at *position* ("start", "end" or "both").

    *notice* defaults to the profile's text notice and must contain an AI element and a generation
    element (else :class:`~aigclabel.errors.LabelError`).  A notice written earlier is replaced, not
    repeated.  With *producer*, Markdown gets the record as front matter and HTML as
    ``<meta name="AIGC">`` (in ``<head>``; an HTML fragment without doctype, ``<html>`` or ``<head>`` gets the
    ``<meta>`` as its first line and no ``<head>`` tag); plain text has no carrier, so the record is only validated
    (use :func:`write_sidecar`).  Line endings and everything outside the edits are kept.
    """
    from .explicit.text import TEXT_POSITIONS, apply_notice
    from .formats.text import set_record

    if not isinstance(text, str):
        raise TypeError(f"mark_text() takes str, not {type(text).__name__}; use aigclabel.mark() for bytes")
    prof = load_profile(profile)
    kind = _format(fmt)
    wording = prof.marking.text_notice if notice is None else notice
    if not prof.wording_ok(wording):
        raise LabelError(
            f"notice {wording!r} lacks an AI element ({' / '.join(prof.marking.wording_ai)}) or a generation "
            f"element ({' / '.join(prof.marking.wording_generation)}), as profile {prof.id} requires")
    if position not in TEXT_POSITIONS:
        raise LabelError(f"position must be one of {', '.join(TEXT_POSITIONS)}, not {position!r}")
    record_json = None
    if producer is not None:
        from .marking import build_record

        record_json = build_record(prof, producer=producer, produce_id=produce_id, propagator=propagator,
                                   propagate_id=propagate_id).to_json()
    out = apply_notice(text, wording, fmt=kind, position=position, known=(prof.marking.text_notice,))
    if record_json is not None:
        out = set_record(out, kind, record_json)
    return out


def verify_text(text: str, *, profile: str | Profile = DEFAULT_PROFILE, fmt: str = "text",
                scope: str = "all") -> Report:
    """Check *text* as a file of format *fmt* would be checked (no detection: *fmt* decides)."""
    from .formats.text import HANDLERS
    from .verifier import SCOPES, check_evidence

    if not isinstance(text, str):
        raise TypeError(f"verify_text() takes str, not {type(text).__name__}; use aigclabel.verify() for bytes")
    prof = load_profile(profile)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    handler = HANDLERS[_format(fmt)]()
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CorruptFile(f"the text holds an unpaired surrogate at index {exc.start}") from None
    src = CountingReader(io.BytesIO(data), "<text>", len(data))
    evidence = handler.read(src)
    findings = list(evidence.findings) + check_evidence(evidence, prof, scope, src, handler=handler)
    return Report(path="<text>", format=handler.name, profile=prof.id, scope=scope, findings=findings,
                  labels=evidence.labels, traces=evidence.traces, bytes_read=src.bytes_read)


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the sidecar of *path* goes: beside it, the full name plus ``.aigc.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_sidecar(path: str | os.PathLike, record: AigcRecord | LegacyRecord | str, *, overwrite: bool = False,
                  durable: bool = False) -> Path:
    """Write *record* (the exact Annex E JSON, one line) to ``<path>.aigc.json`` atomically.

    For content without an implicit carrier (plain text) in pipelines that want the record kept
    beside it.  An existing sidecar is an :class:`~aigclabel.errors.OutputError` unless *overwrite*.
    """
    text = record if isinstance(record, str) else record.to_json()
    try:
        if not isinstance(json.loads(text), dict):
            raise ValueError
    except ValueError:
        raise LabelError(f"the sidecar record must be a JSON object, got {text[:60]!r}") from None
    target = sidecar_path(path)
    with atomic_output(target, overwrite=overwrite, durable=durable) as out:
        out.write(text.encode("utf-8") + b"\n")
    return target
