"""Helpers shared by the image handlers: turning XMP packets and EXIF blocks into evidence,
and building the merged XMP packet that carries the record."""

from __future__ import annotations

import json
import re

from ..errors import CorruptFile
from ..label import FIELDS, parse_label
from ..report import Finding, FoundLabel, Level, Trace
from . import _xmp
from ._exif import TiffDirectory, parameter_traces
from .base import ImplicitLabel, unreadable

__all__ = ["found_label", "evidence_from_xmp", "xmp_evidence", "evidence_from_exif", "build_xmp", "generator_trace",
           "exif_record_entries", "looks_like_record", "KNOWN_GENERATORS"]

#: substrings of Software / generator fields that name an AI image generator (tier-3 traces)
KNOWN_GENERATORS = (
    "stable diffusion", "stablediffusion", "automatic1111", "comfyui", "midjourney", "dall-e", "dall·e",
    "novelai", "invokeai", "fooocus", "firefly", "imagen", "flux", "doubao", "jimeng", "kling", "wanx",
    "tongyi", "ernie", "hunyuan", "gpt-image", "ideogram", "leonardo.ai",
)


def found_label(carrier: str, location: str, raw: str, *, normative: bool, offset: int | None = None,
                before_payload: bool | None = None) -> FoundLabel:
    parsed = parse_label(raw)
    return FoundLabel(carrier=carrier, location=location, raw=raw, normative=normative,
                      fields=parsed.fields, form=parsed.form, offset=offset,
                      before_payload=before_payload, parsed=parsed)


#: a generator name as a word of its own: "ERNIE-ViLG" and "FLUX.1" match, "Bernie's Camera",
#: "Sparkling" and "Influx" do not (a false trace would make a platform call a photo suspected AI)
#: (the boundaries stand outside the alternation, once: the same matches as one pair per name -- the search
#: backtracks through every name at a position -- and a seventh of the compile time on every start-up, issue 15)
_GENERATOR_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, KNOWN_GENERATORS)) + r")(?![a-z0-9])")


def generator_trace(text: str, location: str) -> Trace | None:
    if _GENERATOR_RE.search(text.lower()):
        return Trace("generator-metadata", f"names an AI generator: {text.strip()[:120]}", location)
    return None


def evidence_from_xmp(data: bytes, where: str, *, offset: int | None = None, normative: bool = True,
                      before_payload: bool | None = None, carrier_prefix: str = ""
                      ) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    """Labels and traces in one XMP packet. A malformed packet is a finding, not a failure to read.

    Besides the ``TC260:AIGC`` property this reads the forms real files use instead, each with a
    finding: the record as one ``TC260:`` property per field, the ``TC260`` prefix bound to a wrong
    namespace URI, the TC260 namespace under another prefix, an undeclared prefix, and bytes that are
    not valid UTF-8.  *carrier_prefix* names a non-normative container of the packet in each label's
    carrier (``"png:tEXt:"`` gives ``png:tEXt:xmp:TC260:AIGC``).
    """
    return xmp_evidence(data, where, offset=offset, normative=normative, before_payload=before_payload,
                        carrier_prefix=carrier_prefix)[0]


def xmp_evidence(data: bytes, where: str, *, offset: int | None = None, normative: bool = True,
                 before_payload: bool | None = None, carrier_prefix: str = ""
                 ) -> tuple[tuple[list[FoundLabel], list[Trace], list[Finding]], _xmp.XmpPacket | None]:
    """:func:`evidence_from_xmp` and the parsed packet (None if it did not parse), so a writer that read the
    packet can merge into the same parse (:func:`build_xmp`'s *parsed*) instead of parsing it again."""
    try:
        packet = _xmp.XmpPacket.parse(data, recover=True)
    except CorruptFile as exc:
        return ([], [], [unreadable("format.xmp", "XMP packet", exc, where)]), None
    return _packet_evidence(packet, where, offset, normative, before_payload, carrier_prefix), packet


def _packet_evidence(packet: _xmp.XmpPacket, where: str, offset: int | None, normative: bool,
                     before_payload: bool | None, carrier_prefix: str
                     ) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    findings = [_issue_finding(issue, where) for issue in packet.issues]
    props = packet.properties()  # walked once: the AIGC, per-field, source-type and tool lookups all use it
    labels = []
    for prop in (p for p in props if "AIGC" in p.local):  # XmpPacket.aigc_properties()
        carrier, finding = _carrier_of(prop, where)
        if finding is not None:
            findings.append(finding)
        is_normative = normative and prop.namespace == _xmp.TC260_NS and prop.local == "AIGC"
        form = "element form" if prop.form == "element" else "attribute form"
        labels.append(found_label(carrier_prefix + carrier, f"{where}, {form}", prop.value, normative=is_normative,
                                  offset=offset, before_payload=before_payload))
    per_field = [p for p in props if p.local in FIELDS and _is_tc260(p)]
    if per_field:
        record = next((lab for lab in labels if lab.normative), labels[0] if labels else None)
        label, finding = _per_field_record(per_field, record, where, carrier_prefix)
        findings.append(finding)
        if label is not None:
            labels.append(found_label(label[0], label[1], label[2], normative=False, offset=offset,
                                      before_payload=before_payload))
    # XmpPacket.digital_source_types(): URIs never contain blanks, the indentation some writers leave is stripped
    traces = [Trace("iptc-digital-source-type", p.value.strip(), where) for p in props
              if p.local == "DigitalSourceType" and p.namespace == _xmp.IPTC_EXT_NS]
    for prop in props:
        if prop.local in ("CreatorTool", "Software") and (t := generator_trace(prop.value, where)):
            traces.append(t)
    return labels, traces, findings


_TC260_QNAME = f"{_xmp.TC260_PREFIX}:AIGC"
_XMP_CLAUSE = "XMP Specification Part 1, 7.1 (Unicode encodings)"


def _issue_finding(issue: _xmp.XmpIssue, where: str) -> Finding:
    if issue.kind == "encoding":
        # The packet is still read (U+FFFD in place of each bad sequence), but a reader that decodes
        # strictly drops the packet, and the record's text is not what was meant: an error, not a warning.
        return Finding("format.xmp.encoding", Level.ERROR,
                       f"{issue.message}; XMP text must be valid UTF-8 (or UTF-16/32); read with U+FFFD in place "
                       "of each bad sequence", clause=_XMP_CLAUSE, location=where,
                       expected="valid UTF-8", actual=f"invalid byte at offset {issue.offset}")
    # An undeclared prefix makes the packet not namespace-well-formed: XMP toolkits refuse all of it,
    # so the record is lost to them even though it is read here.
    return Finding("format.xmp.undeclared-prefix", Level.ERROR,
                   f"{issue.message}; read as if declared", clause="Namespaces in XML 1.0, 5 (prefix declared)",
                   location=where, expected="xmlns declarations for every prefix",
                   actual=", ".join(p for p, _uri in issue.prefixes[:5]) + (" ..." if len(issue.prefixes) > 5 else ""))


def _is_tc260(prop: _xmp.XmpProperty) -> bool:
    """The property is the TC260 namespace's, or written under the guides' prefix (any case, any URI)."""
    return prop.namespace == _xmp.TC260_NS or (prop.prefix or "").lower() == _xmp.TC260_PREFIX.lower()


def _carrier_of(prop: _xmp.XmpProperty, where: str) -> tuple[str, Finding | None]:
    """The carrier name of an AIGC property, and a finding when its prefix and namespace do not match."""
    guide_prefix = (prop.prefix or "").lower() == _xmp.TC260_PREFIX.lower()
    if guide_prefix and prop.namespace != _xmp.TC260_NS:
        # Named by URI (Clark notation): "xmp:TC260:AIGC" would read as the normative carrier it is not.
        # An error, not a warning: XMP identifies a property by its namespace URI, so for every XMP
        # toolkit this is an unrelated property, and a record there is found only by readers that match
        # prefixes as text.
        return f"xmp:{{{prop.namespace}}}{prop.local}", Finding(
            "format.xmp.namespace", Level.ERROR,
            f"{prop.qname} is in the namespace {prop.namespace}, not the TC260 namespace {_xmp.TC260_NS}: the "
            f"prefix {prop.prefix!r} is bound to the wrong URI, so XMP readers (which go by the URI) do not see "
            "a TC260:AIGC property; read as a record in a non-standard carrier",
            clause="TC260 image metadata guide (namespace " + _xmp.TC260_NS + ")", location=where,
            expected=_xmp.TC260_NS, actual=prop.namespace)
    carrier = f"xmp:{prop.prefix or prop.namespace}:{prop.local}"
    if prop.namespace == _xmp.TC260_NS and prop.prefix != _xmp.TC260_PREFIX:
        # Same property to XMP (same URI), so still the normative record; only prefix-matching readers miss it.
        bound = f"the prefix {prop.prefix!r}" if prop.prefix else "the default namespace (no prefix)"
        return carrier, Finding(
            "format.xmp.prefix", Level.WARNING,
            f"the TC260 namespace is bound to {bound}, not {_xmp.TC260_PREFIX!r}: to XMP readers this is "
            f"{_TC260_QNAME} (read as the normative record), but readers that match the prefix the guides write "
            f"may miss it (exiftool shows it as XMP-{prop.prefix or '?'}:{prop.local})",
            location=where, expected=_TC260_QNAME, actual=prop.qname)
    return carrier, None


def _per_field_record(props: list[_xmp.XmpProperty], record: FoundLabel | None, where: str,
                      carrier_prefix: str) -> tuple[tuple[str, str, str] | None, Finding]:
    """The per-field form: (carrier, location, record text) of the record it spells, and its finding.

    When the packet also holds an AIGC property, that is the record; the per-field properties are
    compared with it and no second record is made of them.
    """
    names = ", ".join(dict.fromkeys(p.qname for p in props))
    if record is None:
        # Rebuilt as JSON text with every property in packet order, so a field given twice (element and
        # attribute, or in two descriptions) stays visible to the record parser as a repeated key.
        raw = "{" + ",".join(f"{json.dumps(p.local)}:{json.dumps(p.value, ensure_ascii=False)}" for p in props) + "}"
        missing = [k for k in FIELDS if k not in {p.local for p in props}]
        lacking = f"; {', '.join(missing)} absent" if missing else ""
        finding = Finding("format.xmp.per-field", Level.WARNING,
                          f"the AIGC record is written as {len(props)} separate properties ({names}) instead of "
                          f"the single {_TC260_QNAME} property holding the Annex E JSON; read as one record"
                          f"{lacking}; readers that look for {_TC260_QNAME} find no record",
                          clause="GB 45438-2025 Annex E", location=where, expected=_TC260_QNAME, actual=names)
        return (f"{carrier_prefix}xmp:{_xmp.TC260_PREFIX}:per-field", f"{where}, one property per field ({names})",
                raw), finding
    fields = record.fields or {}
    differ = [p.local for p in props if p.local in fields and fields[p.local] != p.value.strip()
              and fields[p.local] != p.value]
    differ += [p.local for p in props if p.local not in fields and p.value.strip()]
    if differ:
        # Two readings of one file's label: a reader that takes the per-field properties sees another label.
        return None, Finding("format.xmp.per-field", Level.ERROR,
                             f"besides the record in {record.carrier}, the packet has per-field properties ({names}) "
                             f"that disagree with it on {', '.join(dict.fromkeys(differ))}; one file, one label "
                             "(Annex E: one record per file)", clause="GB 45438-2025 Annex E", location=where,
                             expected="no per-field copies, or copies equal to the record", actual=names)
    return None, Finding("format.xmp.per-field", Level.WARNING,
                         f"besides the record in {record.carrier}, the packet repeats fields of it as separate "
                         f"properties ({names}); they agree with the record, which is the one read",
                         clause="GB 45438-2025 Annex E", location=where)


#: how a record text starts: a JSON object, or a blob prefix such as ``AIGC{``, ``AIGC:{``, ``AIGC="{``
_RECORD_START = re.compile(r'(?:\{|AIGC\s*[:=]?\s*[{"])')


def looks_like_record(text: str) -> bool:
    """True when *text* (a free-text field: EXIF description or comment, a JPEG comment) holds a record.

    The text must *be* a JSON object or an ``AIGC{...}`` blob, not merely mention AIGC: prose such as
    "My AIGC artwork" in an ImageDescription is the user's metadata, neither a record to report nor
    one to blank when the file is marked.
    """
    body = text.strip(" \t\r\n\x0b\x0c\x00\ufeff")
    if not _RECORD_START.match(body):
        return False
    return "AIGC" in body or '"Label"' in body or '"ServiceProvider"' in body


def exif_record_entries(directory: TiffDirectory) -> list:
    """EXIF entries whose text carries an AIGC record (UserComment, ImageDescription, XPComment)."""
    out = []
    for entry in directory.entries:
        if entry.tag in (0x9286, 0x010E, 0x9C9C) and looks_like_record(directory.text(entry)):
            out.append(entry)
    return out


def evidence_from_exif(data: bytes, where: str, *, offset: int | None = None,
                       before_payload: bool | None = None
                       ) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    try:
        directory = TiffDirectory(data)
    except CorruptFile as exc:
        return [], [], [unreadable("format.exif", "EXIF block", exc, where)]
    labels = [found_label(f"exif:{e.name}", f"{where}, {e.ifd} {e.name}", directory.text(e),
                          normative=False, offset=offset, before_payload=before_payload)
              for e in exif_record_entries(directory)]
    traces = []
    for entry in directory.find(0x0131):
        if t := generator_trace(directory.text(entry), f"{where}, EXIF Software"):
            traces.append(t)
    traces += parameter_traces(directory, where)  # A1111 / Fooocus parameters in UserComment
    return labels, traces, []


def build_xmp(existing: bytes | None, label: ImplicitLabel, parsed: _xmp.XmpPacket | None = None) -> bytes:
    """The packet to store: *existing* merged (every other property kept) or a new one.

    A malformed existing packet raises :class:`CorruptFile`: we never drop a user's metadata.  *parsed* is
    *existing* as the handler's read parsed it (:func:`xmp_evidence`), merged into (and so changed) instead of
    parsing the bytes again; one the read had to repair (it has issues) is parsed strictly, which refuses it.
    """
    if parsed is not None and not parsed.issues:
        packet = parsed
    elif existing is not None:
        try:
            packet = _xmp.XmpPacket.parse(existing)
        except CorruptFile as exc:
            raise CorruptFile(f"the existing XMP packet cannot be merged ({exc}); file left unchanged") from None
    elif label.record_json:  # (an empty value is written as an empty container: the model's own case)
        return _new_packet(label)
    else:
        packet = _xmp.XmpPacket.new()
    packet.remove_aigc()
    packet.set(_xmp.TC260_NS, _xmp.TC260_PREFIX, "AIGC", label.record_json)
    if label.digital_source_type:
        packet.set(_xmp.IPTC_EXT_NS, _xmp.IPTC_EXT_PREFIX, "DigitalSourceType", label.digital_source_type)
    return packet.serialize()


#: stand-ins for the record and the source type in the packet template (characters XML writes as they are)
_RECORD_SLOT, _SOURCE_SLOT = "@@aigclabel-record@@", "@@aigclabel-source-type@@"
_templates: dict[bool, tuple[bytes, bytes]] = {}


def _new_packet(label: ImplicitLabel) -> bytes:
    """A new packet holding only *label*: what :func:`build_xmp` would build with the packet model, from a
    template the model serialised once (building and writing the tree was half the cost of marking a file
    that had no XMP packet; a batch of photos from a camera or a generator is mostly such files)."""
    with_source = bool(label.digital_source_type)
    template = _templates.get(with_source)
    if template is None:
        packet = _xmp.XmpPacket.new()
        packet.set(_xmp.TC260_NS, _xmp.TC260_PREFIX, "AIGC", _RECORD_SLOT)
        if with_source:
            packet.set(_xmp.IPTC_EXT_NS, _xmp.IPTC_EXT_PREFIX, "DigitalSourceType", _SOURCE_SLOT)
        head, _, rest = packet.serialize().partition(_RECORD_SLOT.encode())
        template = _templates[with_source] = (head, rest)
    head, rest = template
    record = _xmp.text_value(label.record_json)
    if with_source:
        rest = rest.replace(_SOURCE_SLOT.encode(), _xmp.text_value(label.digital_source_type or ""))
    return head + record + rest
