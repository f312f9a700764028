"""Carry a label across a derivative: the original's AIGC record written into a rendition another tool made.

Platforms transcode every upload into renditions (thumbnails, delivery encodes, remuxes) and
almost every such tool drops the implicit label (``docs/transforms.md`` measures which).  The
Measures (Art. 10) forbid removing it, so :func:`carry` puts it back::

    original --read--> record (+ IPTC source type) --with_propagation?--> metadata step --> OUT
                                       derived --^   (its own metadata kept; only our carriers change)

The record is the original's, field for field: a platform adds only its propagation pair
(``platform_code`` / ``propagate_id``), never the producer's fields.  What cannot be carried is
said in ``result.notes``: a C2PA manifest's hard binding covers the original's bytes, and
SecurityData in ``ReservedCode1`` binds the record to the original's content, so on the
derivative it is carried as text but no longer matches.  What can be done instead, when the
caller holds the keys:

* ``c2pa`` (a :class:`~aigclabel.c2pa.C2paOptions`): the derivative gets a manifest of its own,
  signed last, whose parent ingredient (``parentOf``) is the original with its manifest
  (:func:`aigclabel.c2pa.sign_derivative`);
* ``signer`` (an SM2/RSA/ECDSA key, with ``platform_code``): the propagator signs ``ReservedCode2``
  over its fields and a content binding of the derivative, so the record is bound to the rendition
  again; ``ReservedCode1`` stays byte for byte the producer's.

A derivative that already carries a *different* record is refused with :class:`RecordConflict`
(two producers' records cannot both be right; which one is, a person must decide); one that
carries the same record is left as it is (a note says so).

(The module is ``carrying``, not ``carry``: ``aigclabel.carry`` is the function, and a submodule
of the same name would replace it on the package once imported.)
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from ._io import CountingReader, SourceLike, atomic_output, describe_source
from .errors import LabelError, OptionError, UnsupportedOperation
from .formats import Evidence, FormatHandler, ImplicitLabel
from .label import SCHEMA_GB, SCHEMA_TC260_2023, AigcRecord, ParsedLabel, is_allowed_value, new_produce_id, parse_label
from .limits import Limits
from .reading import C2PA_NOTE, C2PA_SKIP, read_evidence, write_implicit
from .report import FoundLabel

if TYPE_CHECKING:  # pragma: no cover
    from .c2pa import C2paOptions
    from .security import PrivateKey

__all__ = ["carry", "CarryResult", "RecordConflict", "carry_task", "CARRIED", "UNCHANGED", "REFUSED",
           "PRODUCER_FIELDS", "PROPAGATION_FIELDS"]

CARRIED = "carried"  # the record was written into the derivative
UNCHANGED = "unchanged"  # the derivative already carries exactly this record
REFUSED = "refused"  # the derivative carries a different record (batch form only; the library raises)

#: the fields only the producer may set (a propagator altering them breaches Measures Art. 10)
PRODUCER_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1")
#: the pair (and its security data) a platform adds when spreading content
PROPAGATION_FIELDS = ("ContentPropagator", "PropagateID", "ReservedCode2")

_IPTC = "iptc-digital-source-type"


class RecordConflict(UnsupportedOperation):
    """The derivative already carries an AIGC record that is not the original's; nothing was written."""

    kind = "record-conflict"


@dataclass
class CarryResult:
    """What :func:`carry` did: ``status`` is :data:`CARRIED`, :data:`UNCHANGED` or (batch) :data:`REFUSED`."""

    original: str
    derived: str
    destination: str | None
    format: str  # the derivative's format (the handler that wrote it)
    status: str
    record: str | None  # the record text the output carries (None when refused)
    digital_source_type: str | None = None
    notes: list[str] = field(default_factory=list)
    data: bytes | None = None  # the output when no destination was given

    @property
    def exit_code(self) -> int:
        """0 carried or already there, 1 refused (as ``review`` counts a refused write)."""
        return 1 if self.status == REFUSED else 0

    @property
    def verdict(self) -> str:
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "path": self.derived, "destination": self.destination,
                "format": self.format, "status": self.status, "record": self.record,
                "digital_source_type": self.digital_source_type, "notes": self.notes}


@dataclass
class _Source:
    """The original's record, as it will be carried."""

    label: FoundLabel
    parsed: ParsedLabel
    dst: str | None
    notes: list[str]
    c2pa: str | None = None  # the original's manifest status (present, error, remote, absent, ...)


def _parsed(lab: FoundLabel) -> ParsedLabel:
    return lab.parsed if isinstance(lab.parsed, ParsedLabel) else parse_label(lab.raw)


def _primary(labels: list[FoundLabel]) -> FoundLabel | None:
    """The record a reader relies on: the first in a normative carrier, else the first found."""
    ordered = sorted(labels, key=lambda lab: not lab.normative)
    return ordered[0] if ordered else None


def _original_record(evidence: Evidence, name: str) -> _Source:
    lab = _primary(evidence.labels)
    if lab is None:
        raise UnsupportedOperation(f"{name}: the original carries no AIGC record, so there is nothing to carry")
    parsed = _parsed(lab)
    if parsed.fields is None or parsed.schema not in (SCHEMA_GB, SCHEMA_TC260_2023):
        raise UnsupportedOperation(f"{name}: the original's AIGC record ({lab.carrier}) is not a readable record "
                                   "(fix it at its source; a broken record is not carried)")
    notes: list[str] = []
    others = {other.raw for other in evidence.labels if other is not lab and other.raw != lab.raw}
    if others:
        notes.append(f"the original carries {len(others) + 1} different records; the one in {lab.carrier} "
                     f"({lab.location}) was carried")
    dst = next((t.detail for t in evidence.traces if t.kind == _IPTC), None)
    fields = parsed.fields
    for key in ("ReservedCode1", "ReservedCode2"):
        if "SecurityData" in (fields.get(key) or ""):
            who = "the producer's" if key == "ReservedCode1" else "the propagator's"
            notes.append(f"{key} holds {who} SecurityData: it is carried as text, but its content binding was made "
                         "over the original's bytes and no longer matches the derivative (a propagator re-binds the "
                         "record with its own ReservedCode2 signature)")
    c2pa = (evidence.info.get("c2pa") or {}).get("status")
    if c2pa in ("present", "error", "remote"):
        notes.append("C2PA manifest not carried: its hard binding covers the original's bytes, so it cannot be "
                     "moved to a derivative; give a C2PA signer (--c2pa --sign-cert --sign-key) to sign a manifest "
                     "for the derivative naming the original as parent ingredient (without one, the derivative "
                     "carries the AIGC record only)")
    return _Source(lab, parsed, dst, notes, c2pa)


def _target_text(source: _Source, platform_code: str | None, propagate_id: str | None,
                 existing: AigcRecord | None, notes: list[str]) -> str:
    """The record text to write: the original's, plus the propagation pair when a platform is named."""
    parsed = source.parsed
    if parsed.schema == SCHEMA_TC260_2023:
        if platform_code is not None:
            raise UnsupportedOperation("the original carries a 2023-schema record (TC260-PG-20233A), which has no "
                                       "propagation fields; carry it without --platform-code")
        return source.label.raw
    record = parsed.record
    assert record is not None  # schema is GB and fields were read
    form = parsed.form if parsed.form in ("bare", "wrapped") else "bare"
    if platform_code is None:
        if existing is not None and existing.content_propagator and not record.content_propagator:
            # the same record, already propagated by a platform: carrying must not drop that platform's pair
            notes.append(f"the derivative's record also names propagator {existing.content_propagator} "
                         f"(PropagateID {existing.propagate_id}); kept")
            return existing.to_json(form)
        text = record.to_json(form)
        if text != source.label.raw.strip():
            notes.append("the record was written in its compact Annex E form (the original's text differs only in "
                         "layout)")
        return text
    for what, value in (("platform code", platform_code), ("PropagateID", propagate_id)):
        if value is not None and (not value or not is_allowed_value(value)):
            raise LabelError(f"{what} {value!r} is empty or has characters GB 45438-2025 Annex E j) does not allow")
    pid = propagate_id
    if pid is None and existing is not None and existing.content_propagator == platform_code:
        pid = existing.propagate_id or None  # this platform already propagated the derivative: keep its id
    pid = pid or new_produce_id()
    keep_rc2 = record.content_propagator in ("", platform_code)
    if record.content_propagator and record.content_propagator != platform_code:
        cleared = "; its ReservedCode2 was cleared" if record.reserved_code2 else ""
        notes.append(f"the original names propagator {record.content_propagator} (PropagateID "
                     f"{record.propagate_id}); Annex E has one propagator pair, so {platform_code}'s replaces it"
                     f"{cleared}")
    carried = record.with_propagation(platform_code, pid, None if keep_rc2 else "")
    carried.check_writable()
    notes.append(f"propagation fields added: ContentPropagator {platform_code}, PropagateID {pid} (the producer's "
                 "fields unchanged)")
    return carried.to_json(form)


def _check_existing(derived: Evidence, source: _Source, name: str) -> AigcRecord | None:
    """Refuse a derivative whose record is another producer's; return its record when it is the same content's."""
    if not derived.labels:
        return None
    ours = source.parsed.fields or {}
    for lab in derived.labels:
        parsed = _parsed(lab)
        if parsed.fields is None:
            raise RecordConflict(f"{name}: the derivative already carries an AIGC record that cannot be read "
                                 f"({lab.carrier}, {lab.location}); nothing was written (Measures Art. 10 forbids "
                                 "removing a label: fix it by hand)")
        keys = PRODUCER_FIELDS if source.parsed.schema == SCHEMA_GB else tuple(ours)
        differ = [k for k in keys if (parsed.fields.get(k) or "") != (ours.get(k) or "")]
        if differ or parsed.schema != source.parsed.schema:
            diff = ", ".join(f"{k} {parsed.fields.get(k, '')!r} (original {ours.get(k, '')!r})" for k in differ)
            raise RecordConflict(f"{name}: the derivative already carries a different AIGC record ({lab.carrier}: "
                                 f"{diff or 'another schema'}); nothing was written: a derivative has one record, "
                                 "and which is right must be decided by hand")
    primary = _primary(derived.labels)
    return _parsed(primary).record if primary is not None else None


def carry(original: SourceLike, derived: SourceLike, out: str | os.PathLike | None = None, *,
          platform_code: str | None = None, propagate_id: str | None = None, overwrite: bool = False,
          in_place: bool = False, durable: bool = False, password: str | None = None,
          limits: Limits | None = None, c2pa: C2paOptions | None = None,
          signer: str | os.PathLike[str] | PrivateKey | None = None) -> CarryResult:
    """Write *original*'s AIGC record (and IPTC digital source type) into *derived*; the result goes to *out*.

    *out* is written atomically (never over an existing file unless *overwrite*); with *in_place*
    *derived* itself is rewritten; with neither, the output is ``result.data``.  *platform_code*
    (and optionally *propagate_id*, else kept or fresh) adds a platform's propagation fields.
    The derivative keeps its own metadata: the format handler changes only the carriers of the
    record.  *c2pa* signs, as the last write, a manifest for the derivative whose parent ingredient
    is the original (when the original carries a manifest); *signer* (with *platform_code*) signs
    the propagator's ``ReservedCode2`` with a content binding of the derivative.  Raises
    :class:`RecordConflict` when *derived* already carries a different record,
    :class:`~aigclabel.errors.UnsupportedOperation` when the original has no record or the
    derivative's format cannot take one (or carries a C2PA manifest that writing would break),
    :class:`~aigclabel.errors.SigningError` when signing fails (nothing is written), and
    :class:`~aigclabel.errors.InputError` when either file cannot be read.
    """
    if propagate_id is not None and platform_code is None:
        raise OptionError("propagate_id needs platform_code: a PropagateID belongs to a propagator")
    if signer is not None and platform_code is None:
        raise OptionError("signer needs platform_code: ReservedCode2 is the propagator's signature, over "
                          "ContentPropagator and PropagateID")
    if in_place:
        if out is not None:
            raise OptionError("give either an output or in_place, not both")
        if not isinstance(derived, (str, os.PathLike)):
            raise UnsupportedOperation("in-place carrying needs a file path")
        out, overwrite = derived, True
    key = _propagator_key(signer)
    if c2pa is not None:
        c2pa.check()  # unusable credentials stop here, before any file is read
    notes: list[str] = []
    # The original stays open while the derivative is written: a C2PA signer reads it as the parent ingredient.
    with read_evidence(original, password=password, c2pa_mode=C2PA_NOTE, limits=limits) as first:
        source = _original_record(first.evidence, first.src.name)
        parent = _Parent(first.src, first.handler, first.evidence) if c2pa is not None and \
            source.c2pa == "present" else None
        if c2pa is not None and parent is not None:
            source.notes = [n for n in source.notes if not n.startswith("C2PA manifest not carried")]
        elif c2pa is not None:
            notes.append("a C2PA signer was given, but the original carries no readable C2PA manifest to name as "
                         "parent ingredient; none was signed (a manifest's c2pa.created is the producer's claim)")
        if key is not None:
            source.notes = [n for n in source.notes if not n.startswith("ReservedCode2 holds")]
        notes += source.notes
        result = _carry_into(source, derived, out, original=original, platform_code=platform_code,
                             propagate_id=propagate_id, overwrite=overwrite, in_place=in_place, durable=durable,
                             password=password, limits=limits, c2pa=c2pa, parent=parent, key=key, notes=notes)
    return result


@dataclass
class _Parent:
    """The original, still open: the parent ingredient of the derivative's manifest."""

    src: CountingReader
    handler: FormatHandler
    evidence: Evidence


def _propagator_key(signer: str | os.PathLike[str] | PrivateKey | None) -> PrivateKey | None:
    if signer is None:
        return None
    from .security import PrivateKey as Key
    from .security import crypto, load_signing_key

    crypto.require()  # UnsupportedOperation naming the extra, before the key file is read
    if isinstance(signer, Key):
        return signer
    if isinstance(signer, (str, os.PathLike)):
        return load_signing_key(signer)
    raise OptionError(f"signer must be a PEM key path or an aigclabel.security.PrivateKey, not "
                      f"{type(signer).__name__}")


def _carry_into(source: _Source, derived: SourceLike, out: str | os.PathLike | None, *, original: SourceLike,
                platform_code: str | None, propagate_id: str | None, overwrite: bool, in_place: bool,
                durable: bool, password: str | None, limits: Limits | None, c2pa: C2paOptions | None,
                parent: _Parent | None, key: PrivateKey | None, notes: list[str]) -> CarryResult:
    with read_evidence(derived, password=password, c2pa_mode=C2PA_SKIP, limits=limits) as opened:
        src, handler, evidence = opened.src, opened.handler, opened.evidence
        existing = _check_existing(evidence, source, src.name)
        text = _target_text(source, platform_code, propagate_id, existing, notes)
        dst = source.dst
        if dst is None:
            notes.append("the original carries no IPTC digital source type; none was added")
        if not handler.can_write or not getattr(handler, "implicit_carrier", True):
            raise UnsupportedOperation(f"{src.name}: writing an AIGC record into {handler.name.upper()} is not "
                                       "supported, so the label cannot be carried into this derivative")
        if key is not None:
            text = _sign_propagation(text, key, handler, src, notes)
        same = len(evidence.labels) == 1 and evidence.labels[0].normative and evidence.labels[0].raw == text
        have_dst = dst is None or any(t.kind == _IPTC and t.detail == dst for t in evidence.traces)
        # a derivative to be signed is always written: its manifest is new
        status = UNCHANGED if same and have_dst and parent is None else CARRIED
        mode_from = os.fspath(derived) if in_place and isinstance(derived, (str, os.PathLike)) else None
        with _output(out, overwrite, mode_from, durable, skip=status == UNCHANGED and in_place) as dest:
            if status == UNCHANGED:
                notes.append("the derivative already carries this record" + (
                    "; left as it is" if in_place else "; copied unchanged" if dest is not None else ""))
                if dest is not None:
                    src.seek(0)
                    src.copy_to(dest)
            else:
                assert dest is not None  # only an unchanged in-place derivative has no output
                _write(handler, src, dest, ImplicitLabel(text, dst), notes, c2pa if parent else None, parent,
                       evidence)
            data = dest.getvalue() if isinstance(dest, io.BytesIO) else None
        fmt, derived_name = handler.name, src.name
    return CarryResult(original=describe_source(original), derived=derived_name,
                       destination=os.fspath(out) if out is not None else None, format=fmt, status=status,
                       record=text, digital_source_type=dst, notes=notes, data=data)


def _sign_propagation(text: str, key: PrivateKey, handler: FormatHandler, src: CountingReader,
                      notes: list[str]) -> str:
    """*text* with ReservedCode2 signed by the propagator over its fields and the derivative's content.

    The binding is hashed over the derivative as it is now: its selection excludes every place the metadata
    step writes, so the hash still matches the output.  ReservedCode1 is the producer's, kept byte for byte.
    """
    from .security import sign_record

    parsed = parse_label(text)
    record = parsed.record
    assert record is not None  # the GB schema: _target_text refused the 2023 one with a platform code
    signed, what, digest = sign_record(record, key, handler, src, role="propagator")
    if digest is None:
        notes.append(f"{what}; no content binding: {handler.name.upper()} has no binding selection yet, so the "
                     "signature proves the propagation fields, not that they belong to this rendition")
    else:
        notes.append(f"{what}; content binding {digest.selection} of this rendition (SM3 over {digest.length} "
                     "bytes)")
    if "SecurityData" in (record.reserved_code1 or ""):
        notes.append("ReservedCode1 is carried byte for byte: the producer's own binding still names the "
                     "original's content (only the producer can re-bind it); ReservedCode2 binds this rendition")
    form = parsed.form if parsed.form in ("bare", "wrapped") else "bare"
    return signed.to_json(form)


@contextlib.contextmanager
def _output(out: str | os.PathLike | None, overwrite: bool, mode_from: str | None, durable: bool,
            skip: bool) -> Iterator[BinaryIO | None]:
    if skip:
        yield None
    elif out is None:
        yield io.BytesIO()
    else:
        with atomic_output(out, overwrite=overwrite, mode_from=mode_from, durable=durable) as fh:
            yield fh


def _write(handler: FormatHandler, src: CountingReader, dest: BinaryIO, implicit: ImplicitLabel,
           notes: list[str], c2pa: C2paOptions | None = None, parent: _Parent | None = None,
           evidence: Evidence | None = None) -> None:
    """The metadata step, then the signing step (always last): with a signer and the original as parent, a
    manifest for the derivative; in any case a derivative with a C2PA manifest of its own is refused (writing
    into it would break that manifest's hard binding)."""
    from .c2pa import mime_for, sign_derivative, sign_last

    src.seek(0)
    write_implicit(handler, src, dest, implicit)
    if c2pa is None or parent is None:
        sign_last(handler, dest, None, implicit, notes)
        return
    parent_mime = mime_for(parent.handler.name, parent.evidence.info, getattr(parent.handler, "mime", None))
    if parent_mime is None:
        raise UnsupportedOperation(f"the original's format ({parent.handler.name.upper()}) has no MIME type the "
                                   "C2PA SDK knows, so it cannot be named as parent ingredient")
    sign_derivative(handler, dest, c2pa, implicit, parent.src, parent_mime, notes,
                    actions=_actions(parent, handler, evidence), parent_title=os.path.basename(parent.src.name))


def _actions(parent: _Parent, handler: FormatHandler, evidence: Evidence | None) -> tuple[str, ...]:
    """What the other tool did, as C2PA actions: resized when the pixel size changed, transcoded when the format
    did (or when nothing else is known: the rendition was re-encoded)."""
    size = (parent.evidence.info.get("width"), parent.evidence.info.get("height"))
    new = (evidence.info.get("width"), evidence.info.get("height")) if evidence is not None else (None, None)
    steps: list[str] = []
    if None not in size and None not in new and size != new:
        steps.append("c2pa.resized")
    if parent.handler.name != handler.name or not steps:
        steps.append("c2pa.transcoded")
    return tuple(steps)


def carry_task(path: str, *, original: str, output: str | None = None, out_dir: str | None = None,
               roots: tuple[str, ...] = (), **options: Any) -> CarryResult:
    """:func:`carry` for one rendition of a batch: to *output*, a mirror under *out_dir*, or in place.

    A rendition that carries a different record is a :data:`REFUSED` result (exit code 1), not an error,
    so one such file neither stops the batch nor reads as "could not check".
    """
    from .batch import output_for

    if out_dir is not None:
        output = output_for(path, out_dir, roots)
        parent = os.path.dirname(output)
        if parent:
            os.makedirs(parent, exist_ok=True)
    try:
        return carry(original, path, output, **options)
    except RecordConflict as exc:
        return CarryResult(original=original, derived=path, destination=None, format="", status=REFUSED,
                           record=None, notes=[str(exc)])
