"""Marking: Profile + label -> plan -> explicit step -> metadata step -> (signing step, always last).

Signing (C2PA, :mod:`aigclabel.c2pa`) is the last write, made in one place: :func:`_sign_last`.
TC260 SecurityData (``signer=``, :mod:`aigclabel.security`) is not a write of its own: the content binding is
hashed after the explicit step, in one streaming pass over the bytes the metadata step never touches, and the
signed value goes into ``ReservedCode1`` of the record the metadata step then writes (:func:`_sign_record`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, overload

from ._c2pa_scan import STORE_INFO
from ._io import CountingReader, SourceLike, atomic_output, describe_source
from .audit import AuditLog, open_audit_log
from .errors import LabelError, OptionError, UnsupportedFormat, UnsupportedOperation
from .explicit import POSITIONS, REPLACES_OWN, ExplicitOptions, PresentLabel, label_present, marker_for
from .formats import Evidence, FormatHandler, ImplicitLabel
from .label import AigcRecord, LegacyRecord, is_allowed_value, new_produce_id
from .limits import Limits
from .profiles import DEFAULT_PROFILE, Profile, load_profile
from .reading import open_handler, write_implicit

if TYPE_CHECKING:  # pragma: no cover
    from .c2pa import C2paOptions
    from .security import PrivateKey

__all__ = ["mark", "mark_file", "MarkResult", "build_record", "load_signer"]

EXPLICIT_ADDED = "added"
EXPLICIT_WAIVED = "waived"  # Measures Art. 9: the user asked for output without the explicit label
EXPLICIT_NOT_AVAILABLE = "not-added"  # this version cannot add one for the format
EXPLICIT_PRESENT = "present"  # the file already shows one (found by the verifier's rule); not added again


@dataclass
class MarkResult:
    """What a mark call did: source, destination, format, profile, the record written and the explicit label."""
    source: str
    destination: str | None
    format: str
    profile: str
    record: AigcRecord | LegacyRecord
    explicit: str  # EXPLICIT_ADDED | EXPLICIT_WAIVED | EXPLICIT_NOT_AVAILABLE | EXPLICIT_PRESENT
    notes: list[str] = field(default_factory=list)
    data: bytes | None = None  # the marked file when no destination was given
    #: what the explicit step did (text, box, height ratio...), empty when nothing was added
    explicit_details: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def record_json(self) -> str:
        return self.record.to_json()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "format": self.format,
                "profile": self.profile, "record": self.record.to_dict(), "explicit": self.explicit,
                "explicit_details": self.explicit_details, "notes": self.notes, "time": self.time}

    def audit_record(self) -> dict[str, Any]:
        """What Art. 9 asks a provider to log (>= 6 months) when the explicit label is waived."""
        return {"time": self.time, "event": "explicit-label-waived" if self.explicit == EXPLICIT_WAIVED
                else "marked", **self.to_dict()}


def build_record(profile: Profile, *, producer: str, produce_id: str | None = None, label: str = "1",
                 propagator: str = "", propagate_id: str = "") -> AigcRecord | LegacyRecord:
    """The record the profile's schema asks for; raises :class:`~aigclabel.errors.LabelError` if invalid."""
    if profile.marking.schema == "tc260-2023":
        legacy = LegacyRecord.now(producer, produce_id or new_produce_id())
        legacy.check_writable()
        return legacy
    record = AigcRecord(label=label, content_producer=producer, produce_id=produce_id or new_produce_id(),
                        content_propagator=propagator, propagate_id=propagate_id)
    record.check_writable()
    return record


def _sign_last(handler: FormatHandler, out: BinaryIO, c2pa: C2paOptions | None, implicit: ImplicitLabel,
               notes: list[str], written: Evidence) -> None:
    """The signing step (see :func:`aigclabel.c2pa.sign_last`): the one place a manifest is signed.

    *written* is what the metadata step's read-back found in *out*.  Without *c2pa*, a handler whose read
    walks every place its format keeps a C2PA store has answered "already signed?" there, so the C2PA module
    (and its byte scan of the output) is not needed at all.
    """
    if c2pa is None and handler.c2pa_store_read and STORE_INFO not in written.info:
        return
    from .c2pa import sign_last

    sign_last(handler, out, c2pa, implicit, notes, written=written)


#: where a text-type notice may go (text, Markdown, HTML)
TEXT_POSITIONS = ("start", "end", "both")
#: where an audible prompt may go (repeatable)
AUDIO_POSITIONS = ("start", "end", "middle")
AUDIO_PROMPTS = ("rhythm", "voice", "both")


def _explicit_options(prof: Profile, kind: str, text: str | None, position: str | None,
                      font: str | None, prompt: str | None = None,
                      audio_positions: list[str] | None = None) -> ExplicitOptions:
    """The explicit label plan; the wording and options are checked before anything is drawn."""
    default_text = prof.marking.text_notice if kind in ("text", "document") else prof.marking.image_text
    label_text = text if text is not None else default_text
    if not prof.wording_ok(label_text):
        raise LabelError(
            f"explicit label text {label_text!r} lacks an AI element ({' / '.join(prof.marking.wording_ai)}) "
            f"or a generation element ({' / '.join(prof.marking.wording_generation)}), as profile {prof.id} "
            "requires")
    rule = prof.rules.get(f"explicit.{kind}")
    opts = dict(rule.options) if rule is not None else {}
    # The profile's rule options (e.g. the rhythm prompt's frequency) reach the marker; flags override.
    extra: dict[str, Any] = dict(opts)
    if kind == "audio":
        if prompt is not None:
            if prompt not in AUDIO_PROMPTS:
                raise OptionError(f"prompt must be one of {', '.join(AUDIO_PROMPTS)}, not {prompt!r}")
            extra["prompt"] = prompt
        if audio_positions:
            bad = [p for p in audio_positions if p not in AUDIO_POSITIONS]
            if bad:
                raise OptionError(f"audio position must be one of {', '.join(AUDIO_POSITIONS)}, not {bad[0]!r}")
            extra["positions"] = list(dict.fromkeys(audio_positions))
        position = None
    elif kind == "text":
        if position is not None and position not in TEXT_POSITIONS:
            raise OptionError(f"text notice position must be one of {', '.join(TEXT_POSITIONS)}, not {position!r}")
        if position is not None:
            extra["text_position"] = position
        position = None
    elif kind == "document":
        # PDF stamps choose a free margin (--pages picks the pages); Office notices go at the start/end
        if position in TEXT_POSITIONS:
            extra["text_position"] = position
        position = None
    elif position is not None and position not in POSITIONS:
        raise OptionError(f"position must be one of {', '.join(POSITIONS)} for {kind} content, not {position!r}")
    return ExplicitOptions(text=label_text, position=position or "bottom-right", font=font,
                           min_height_ratio=float(opts.get("min_height_ratio", 0.05)),
                           min_height_px=int(opts.get("min_height_px", 0)),
                           min_area_ratio=float(opts.get("min_area_ratio", 0.0)), extra=extra)


def mark_file(source: SourceLike, destination: str | os.PathLike | None = None, *, producer: str,
              produce_id: str | None = None, profile: str | Profile = DEFAULT_PROFILE,
              explicit: bool = True, overwrite: bool = False, in_place: bool = False,
              propagator: str = "", propagate_id: str = "", durable: bool = False,
              text: str | None = None, position: str | None = None, font: str | None = None,
              pages: str | None = None, password: str | None = None, prompt: str | None = None,
              audio_positions: list[str] | None = None,
              explicit_extra: dict[str, Any] | None = None, c2pa: C2paOptions | None = None,
              audit_log: str | os.PathLike[str] | AuditLog | None = None, limits: Limits | None = None,
              kind: str | None = None, force_explicit: bool = False,
              signer: str | os.PathLike[str] | PrivateKey | None = None,
              watermark: bool | str | bytes = False) -> MarkResult:
    """Mark *source*; write to *destination*, rewrite it in place, or return the bytes in ``result.data``.

    The explicit label (*text*, default from the profile, at *position*, default bottom-right) is
    added first where this version can; the implicit record is written last.  *durable* fsyncs
    the output before it is renamed into place (survives power loss).  *pages* (``first`` | ``last``
    | ``all``) chooses the stamped pages of a PDF; *password* opens an encrypted document (the
    output stays encrypted).  For audio, *prompt* (``rhythm`` | ``voice`` | ``both``) and
    *audio_positions* (``start``, ``end``, ``middle``) choose the audible label.  *explicit_extra*
    passes format-specific options to the explicit step.
    *c2pa* signs a C2PA manifest as the very last write (:mod:`aigclabel.c2pa`); if signing fails,
    nothing is written.  A file that already carries a C2PA manifest is refused: writing into it
    would break the signature.  *audit_log* (a path or an :class:`~aigclabel.audit.AuditLog`) gets
    one JSON line for the file (Measures Art. 9), written before the output is renamed into place;
    a log that cannot be opened stops the call before anything is written.  *limits* bounds the
    resources (see :mod:`aigclabel.limits`).  *kind* states the content kind ("image", "text", ...):
    raw bytes that match no binary format are labelled as text only when ``kind="text"`` says so (an
    error page is not a text the generator produced).

    Marking is idempotent: a file that already shows an explicit label (found by the verifier's own
    rule for its kind, looked for only when the file carries an AIGC record or a trace of AI
    generation) gets no second one; ``result.explicit`` is ``"present"`` and a note says what was
    found where.  *force_explicit* adds the label anyway.  Text, PDF and Office notices of ours are
    replaced rather than stacked, so for those content kinds a new *text*, *position*, *pages* or
    *explicit_extra* also rewrites the notice as asked (without looking first).

    *signer* (an SM2, RSA or ECDSA P-256 private key: a PEM path or a loaded
    :class:`~aigclabel.security.PrivateKey`) fills ``ReservedCode1`` with TC260 SecurityData: the label
    signature over appendix A.1's message and, where the format has one (:mod:`aigclabel.formats.binding`), a
    signed content binding hashed after the explicit step; a note says what was signed.  Needs the ``sign``
    extra (:class:`~aigclabel.errors.UnsupportedOperation` without it, before anything is read).

    *watermark* (True, or a key) embeds the invisible watermark (:mod:`aigclabel.watermark`; images and audio)
    after the explicit step and before the metadata step: a picture is re-encoded for it (JPEG with its own tables,
    PNG losslessly), WAV/AIFF samples are rewritten in place, FLAC is re-encoded losslessly, MP3 and Ogg once at
    their bitrate; a note says which.  True uses the profile's ``implicit.watermark`` key, else the default key.
    """
    prof = load_profile(profile)
    key = load_signer(signer, prof)
    record = build_record(prof, producer=producer, produce_id=produce_id, propagator=propagator,
                          propagate_id=propagate_id)
    implicit = ImplicitLabel(_record_text(record, prof), prof.marking.digital_source_type or None)
    if in_place:
        if not isinstance(source, (str, os.PathLike)):
            raise UnsupportedOperation("in-place marking needs a file path")
        destination, overwrite = source, True
    notes: list[str] = []
    details: dict[str, Any] = {}
    log, close_log = open_audit_log(audit_log)
    try:
        return _mark_open(source, destination, prof, record, implicit, explicit=explicit, overwrite=overwrite,
                          in_place=in_place, durable=durable, text=text, position=position, font=font, pages=pages,
                          password=password, prompt=prompt, audio_positions=audio_positions,
                          explicit_extra=explicit_extra, c2pa=c2pa, log=log, limits=limits, notes=notes,
                          details=details, kind=kind, keep_id=produce_id is None, force_explicit=force_explicit,
                          key=key, watermark=watermark)
    finally:
        if close_log and log is not None:
            log.close()


def _record_text(record: AigcRecord | LegacyRecord, prof: Profile) -> str:
    """The record as the profile writes it: bare or Annex E b)'s wrapped literal (the 2023 schema has one form)."""
    return record.to_json(prof.marking.record_form) if isinstance(record, AigcRecord) else record.to_json()


def _mark_open(source: SourceLike, destination: str | os.PathLike | None, prof: Profile,
               record: AigcRecord | LegacyRecord, implicit: ImplicitLabel, *, explicit: bool, overwrite: bool,
               in_place: bool, durable: bool, text: str | None, position: str | None, font: str | None,
               pages: str | None, password: str | None, prompt: str | None, audio_positions: list[str] | None,
               explicit_extra: dict[str, Any] | None, c2pa: C2paOptions | None, log: AuditLog | None,
               limits: Limits | None, notes: list[str], details: dict[str, Any], kind: str | None,
               keep_id: bool = False, force_explicit: bool = False, key: PrivateKey | None = None,
               watermark: bool | str | bytes = False) -> MarkResult:
    with open_handler(source, password=password, limits=limits) as (src, handler), contextlib.ExitStack() as cleanup:
        _check_kind(source, handler, kind)
        # Read the file first: its structure is validated (and declared sizes checked against the limits)
        # before the explicit step decodes anything, and the record it already carries is known.
        try:
            existing = handler.read(src)
        finally:
            src.seek(0)
        if keep_id and isinstance(record, AigcRecord):
            kept = _existing_produce_id(existing)
            if kept is not None and kept != record.produce_id:
                record = dataclasses.replace(record, produce_id=kept)
                record.check_writable()
                implicit = ImplicitLabel(_record_text(record, prof), implicit.digital_source_type)
                notes.append(f"kept the file's existing ProduceID {kept!r} (give produce_id / --produce-id to "
                             "replace it)")
        notes += handler.write_notes(src)
        src.seek(0)
        notes += _usage_notes(handler, destination, explicit, {"pages": pages, "prompt": prompt,
                                                                "audio_positions": audio_positions,
                                                                "position": position})
        if not handler.can_write:
            raise UnsupportedOperation(f"writing labels into {handler.name.upper()} is not supported yet")
        if not getattr(handler, "implicit_carrier", True):
            if not explicit:
                raise UnsupportedOperation(f"{handler.name.upper()} has no implicit carrier, so without the explicit "
                                           "notice nothing would be labelled (use the notice, or --sidecar)")
            notes.append(f"{handler.name.upper()} has no implicit carrier: the record was not embedded "
                         "(--sidecar writes it beside the file)")
        if not explicit:
            state = EXPLICIT_WAIVED
            notes.append("explicit label waived at the user's request; only the implicit label was written; "
                         + ("the waiver is recorded in the audit log (Measures Art. 9: keep it >= 6 months)"
                            if log is not None else
                            "the waiver was NOT recorded: Measures Art. 9 asks you to keep such a log for >= 6 "
                            "months (audit_log=PATH, or --audit-log FILE on the command line)"))
        else:
            options = _explicit_options(prof, handler.kind, text, position, font, prompt, audio_positions)
            options.extra.update(explicit_extra or {})
            options.extra.setdefault("known_notices", [prof.marking.text_notice])
            if pages is not None:
                options.extra["pages"] = pages  # the password reaches the marker through the handler's OpenOptions
            marker = marker_for(handler)
            # A notice of ours that the marker replaces is rewritten when the caller asks for a particular one
            # (new text, position, pages): the result still holds one, where asked.
            rewrite = handler.kind in REPLACES_OWN and any(
                value not in (None, [], {}) for value in (text, position, pages, explicit_extra))
            present = (None if marker is None or rewrite else
                       _present(existing, handler, src, prof, force_explicit, notes))
            if present is not None:
                state = EXPLICIT_PRESENT
                details.update({"present": present.summary, "found_by": present.how})
            elif marker is None:
                state = EXPLICIT_NOT_AVAILABLE
                notes.append(f"explicit label NOT added: {handler.kind} marking for {handler.name.upper()} is "
                             "not available in this version; only the implicit label was written")
            else:
                drawn = marker.apply(src, handler, options)
                cleanup.callback(drawn.close)  # a spooled result (long media) is a temporary file
                state = EXPLICIT_ADDED
                notes += drawn.notes
                details.update(drawn.details)
                result_file, result_size = drawn.open()
                src = CountingReader(result_file, src.name, result_size)
        if watermark is not False:  # the watermark step: pixels after the explicit label, before the record
            from .watermark import mark_step

            src = mark_step(src, handler, record, watermark, prof, notes)
        if key is not None:
            record = _sign_record(record, key, handler, src, notes)
            implicit = ImplicitLabel(_record_text(record, prof), implicit.digital_source_type)
        mode_from = os.fspath(source) if in_place and isinstance(source, (str, os.PathLike)) else None
        output = (contextlib.nullcontext(io.BytesIO()) if destination is None else
                  atomic_output(destination, overwrite=overwrite, mode_from=mode_from, durable=durable))
        with output as out:
            written = write_implicit(handler, src, out, implicit)  # the metadata step
            # The signing step, always last: nothing writes after it (a later write breaks the hard binding).
            # Without c2pa it only refuses a file that already carries a manifest.
            _sign_last(handler, out, c2pa, implicit, notes, written)
            data: bytes | None = out.getvalue() if isinstance(out, io.BytesIO) else None
            result = MarkResult(source=describe_source(source),
                                destination=os.fspath(destination) if destination is not None else None,
                                format=handler.name, profile=prof.id, record=record, explicit=state, notes=notes,
                                data=data, explicit_details=details)
            if log is not None:  # before the rename: no output without its log line
                log.append(result.audit_record())
    return result


def load_signer(signer: str | os.PathLike[str] | PrivateKey | None, prof: Profile) -> PrivateKey | None:
    """The loaded key, checked before any file is opened (missing extra, unreadable key, a schema without
    ReservedCode1)."""
    if signer is None:
        return None
    from .security import PrivateKey as Key
    from .security import crypto, load_signing_key

    crypto.require()  # UnsupportedOperation naming the extra, before the key file is even read
    if prof.marking.schema == "tc260-2023":
        raise OptionError(f"profile {prof.id} writes the 2023 record, which has no ReservedCode1 for SecurityData")
    if isinstance(signer, Key):
        return signer
    if isinstance(signer, (str, os.PathLike)):
        return load_signing_key(signer)
    raise OptionError(f"signer must be a PEM key path or an aigclabel.security.PrivateKey, not "
                      f"{type(signer).__name__}")


def _sign_record(record: AigcRecord | LegacyRecord, key: PrivateKey, handler: FormatHandler,
                 src: CountingReader, notes: list[str]) -> AigcRecord:
    """*record* with ReservedCode1 = SecurityData signed by *key* over the content as it will be written.

    *src* is the content after the explicit step: the binding's selection excludes everything the metadata
    step writes, so the hash taken here (one streaming pass) still matches the output - and any later read.
    """
    from .security import sign_record

    assert isinstance(record, AigcRecord)  # _signing_key refused the 2023 schema
    signed, what, digest = sign_record(record, key, handler, src)
    if digest is None:
        notes.append(f"{what}; no content binding: {handler.name.upper()} has no binding selection yet, so the "
                     "signature proves the label, not that it belongs to this content")
    else:
        notes.append(f"{what}; content binding {digest.selection} (SM3 over {digest.length} bytes)")
    return signed


def _present(existing: Evidence, handler: FormatHandler, src: CountingReader, prof: Profile, force: bool,
             notes: list[str]) -> PresentLabel | None:
    """The explicit label the file already shows, or None (then the marker adds one).

    Why before the marker: a second run over a marked file must not draw a second label, stack a
    second prompt, or replace our notice with a copy of itself.  With *force* nothing is looked at.
    """
    if force:
        return None
    found = label_present(existing, handler, src, prof)
    if found is None:
        return None
    if found.found:
        again = ("--force-explicit (force_explicit=True), or a new --text/--position/--pages, writes ours again "
                 "(replacing an earlier one of ours)" if handler.kind in REPLACES_OWN else
                 "--force-explicit (force_explicit=True) adds another")
        notes.append(f"explicit label already present ({found.describe()}); not added again; {again}")
        return found
    from .report import Level

    if found.finding.level is Level.NOT_CHECKED:  # the file is labelled, but the label could not be looked for
        notes.append(f"could not tell whether an explicit label is already there ({found.finding.message}); "
                     "one was added")
    return None


def _existing_produce_id(evidence: Evidence) -> str | None:
    """The ProduceID of the record the file already carries (normative carrier first), if any."""
    labels = sorted(evidence.labels, key=lambda lab: not lab.normative)
    for lab in labels:
        value = (lab.fields or {}).get("ProduceID")
        if isinstance(value, str) and value and is_allowed_value(value):
            return value
    return None


#: options that apply to one content kind only (named as the command line names them)
_KIND_OPTIONS = {"pages": ("document", "--pages"), "prompt": ("audio", "--prompt"),
                 "audio_positions": ("audio", "--audio-position"), "position": (None, "--position")}


def _usage_notes(handler: FormatHandler, destination: str | os.PathLike | None, explicit: bool,
                 given: dict[str, Any]) -> list[str]:
    """Warnings for a user who asked for something that does not fit this file (nothing is refused)."""
    notes: list[str] = []
    if destination is not None:
        ext = os.path.splitext(os.fspath(destination))[1].lower()
        if ext and handler.extensions and ext not in handler.extensions:
            notes.append(f"warning: the output is named {ext} but the content is {handler.name.upper()} "
                         f"({', '.join(handler.extensions[:3])}); the format follows the content, not the name")
    for name, value in given.items():
        if value in (None, [], ()):
            continue
        kind, flag = _KIND_OPTIONS[name]
        if not explicit:
            notes.append(f"warning: {flag} has no effect: the explicit label was waived")
        elif kind is not None and handler.kind != kind:
            notes.append(f"warning: {flag} applies to {kind} content only; ignored for {handler.name.upper()}")
        elif kind is None and handler.kind == "audio":
            notes.append(f"warning: {flag} does not apply to audio (use --audio-position); ignored")
    return notes


def _check_kind(source: SourceLike, handler: FormatHandler, kind: str | None) -> None:
    if kind is not None and kind != handler.kind:
        raise OptionError(f"kind={kind!r} was given, but the content is {handler.kind} ({handler.name.upper()})")
    if handler.kind == "text" and kind is None and isinstance(source, (bytes, bytearray, memoryview)):
        raise UnsupportedFormat("the bytes match no binary format and would be labelled as text; pass kind='text' "
                                "if they are a generated text (or use aigclabel.mark_text())")


@overload
def mark(source: SourceLike, destination: None = None, *, producer: str, produce_id: str | None = ...,
         profile: str | Profile = ..., explicit: bool = ..., overwrite: bool = ..., text: str | None = ...,
         position: str | None = ..., font: str | None = ..., kind: str | None = ...,
         audit_log: str | os.PathLike[str] | AuditLog | None = ..., limits: Limits | None = ...,
         force_explicit: bool = ..., signer: str | os.PathLike[str] | PrivateKey | None = ...,
         watermark: bool | str | bytes = ...) -> bytes: ...
@overload
def mark(source: SourceLike, destination: str | os.PathLike, *, producer: str, produce_id: str | None = ...,
         profile: str | Profile = ..., explicit: bool = ..., overwrite: bool = ..., text: str | None = ...,
         position: str | None = ..., font: str | None = ..., kind: str | None = ...,
         audit_log: str | os.PathLike[str] | AuditLog | None = ..., limits: Limits | None = ...,
         force_explicit: bool = ..., signer: str | os.PathLike[str] | PrivateKey | None = ...,
         watermark: bool | str | bytes = ...) -> MarkResult: ...


def mark(source: SourceLike, destination: str | os.PathLike | None = None, *, producer: str,
         produce_id: str | None = None, profile: str | Profile = DEFAULT_PROFILE, explicit: bool = True,
         overwrite: bool = False, text: str | None = None, position: str | None = None,
         font: str | None = None, kind: str | None = None,
         audit_log: str | os.PathLike[str] | AuditLog | None = None, limits: Limits | None = None,
         force_explicit: bool = False, signer: str | os.PathLike[str] | PrivateKey | None = None,
         watermark: bool | str | bytes = False) -> bytes | MarkResult:
    """Label *source* (path, bytes or binary file) for *producer*.

    With *destination* the marked file is written there atomically (never over an existing file
    unless *overwrite*) and a :class:`MarkResult` is returned; without it the marked file's bytes
    are returned, so a pipeline can label content it holds in memory.  The bytes form drops the
    result's notes (e.g. "the record was not embedded"): call :func:`mark_file` without a
    destination to get the full :class:`MarkResult` with the bytes in ``result.data``.  Bytes that
    match no binary format are text only with ``kind="text"``.  A file that already shows an explicit
    label gets no second one unless *force_explicit* (see :func:`mark_file`).  *signer* signs the label
    into ``ReservedCode1`` (TC260 SecurityData; see :func:`mark_file`).  *watermark* (True or a key) embeds the
    invisible watermark too (images and audio; see :func:`mark_file`).
    """
    result = mark_file(source, destination, producer=producer, produce_id=produce_id, profile=profile,
                       explicit=explicit, overwrite=overwrite, text=text, position=position, font=font, kind=kind,
                       audit_log=audit_log, limits=limits, force_explicit=force_explicit, signer=signer,
                       watermark=watermark)
    if destination is None:
        assert result.data is not None
        return result.data
    return result
