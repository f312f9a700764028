"""Helpers shared by the image handlers: turning XMP packets and EXIF blocks into evidence,
and building the merged XMP packet that carries the record."""

from __future__ import annotations

import re

from ..errors import CorruptFile
from ..label import parse_label
from ..report import Finding, FoundLabel, Level, Trace
from . import _xmp
from ._exif import TiffDirectory
from .base import ImplicitLabel

__all__ = ["found_label", "evidence_from_xmp", "evidence_from_exif", "build_xmp", "generator_trace",
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
_GENERATOR_RE = re.compile("|".join(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])" for name in KNOWN_GENERATORS))


def generator_trace(text: str, location: str) -> Trace | None:
    if _GENERATOR_RE.search(text.lower()):
        return Trace("generator-metadata", f"names an AI generator: {text.strip()[:120]}", location)
    return None


def evidence_from_xmp(data: bytes, where: str, *, offset: int | None = None, normative: bool = True,
                      before_payload: bool | None = None
                      ) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    """Labels and traces in one XMP packet. A malformed packet is a finding, not a failure to read."""
    try:
        packet = _xmp.XmpPacket.parse(data)
    except CorruptFile as exc:
        return [], [], [Finding("format.xmp", Level.WARNING, f"XMP packet ignored: {exc}", location=where)]
    labels = []
    for prop in packet.aigc_properties():
        is_normative = normative and prop.namespace == _xmp.TC260_NS and prop.local == "AIGC"
        carrier = f"xmp:{prop.prefix or prop.namespace}:{prop.local}"
        form = "element form" if prop.form == "element" else "attribute form"
        labels.append(found_label(carrier, f"{where}, {form}", prop.value, normative=is_normative,
                                  offset=offset, before_payload=before_payload))
    traces = [Trace("iptc-digital-source-type", uri, where) for uri in packet.digital_source_types()]
    for prop in packet.properties():
        if prop.local in ("CreatorTool", "Software") and (t := generator_trace(prop.value, where)):
            traces.append(t)
    return labels, traces, []


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
        return [], [], [Finding("format.exif", Level.WARNING, f"EXIF block ignored: {exc}", location=where)]
    labels = [found_label(f"exif:{e.name}", f"{where}, {e.ifd} {e.name}", directory.text(e),
                          normative=False, offset=offset, before_payload=before_payload)
              for e in exif_record_entries(directory)]
    traces = []
    for entry in directory.find(0x0131):
        if t := generator_trace(directory.text(entry), f"{where}, EXIF Software"):
            traces.append(t)
    return labels, traces, []


def build_xmp(existing: bytes | None, label: ImplicitLabel) -> bytes:
    """The packet to store: *existing* merged (every other property kept) or a new one.

    A malformed existing packet raises :class:`CorruptFile`: we never drop a user's metadata.
    """
    if existing is not None:
        try:
            packet = _xmp.XmpPacket.parse(existing)
        except CorruptFile as exc:
            raise CorruptFile(f"the existing XMP packet cannot be merged ({exc}); file left unchanged") from None
    else:
        packet = _xmp.XmpPacket.new()
    packet.remove_aigc()
    packet.set(_xmp.TC260_NS, _xmp.TC260_PREFIX, "AIGC", label.record_json)
    if label.digital_source_type:
        packet.set(_xmp.IPTC_EXT_NS, _xmp.IPTC_EXT_PREFIX, "DigitalSourceType", label.digital_source_type)
    return packet.serialize()
