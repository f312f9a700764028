"""MP4, MOV and M4A (the ISO-BMFF / QuickTime family): the record is an ``mdta`` key ``AIGC``.

The normative carrier (TC260 2025 video and audio guides) is what
``ffmpeg -metadata AIGC=… -movflags use_metadata_tags`` writes::

    moov
      udta
        meta              full box (version, flags) -- QuickTime-style files may omit them
          hdlr            handler type 'mdta'
          keys            full box: entry count, then entries of (size, 'mdta', key name)
          ilst
            <index>       a box whose type is the key's 1-based index, big-endian
              data        type indicator 1 (UTF-8), 4-byte locale 0, the JSON

Reading walks the top-level box headers (seeking past ``mdat``, never reading it), then reads
``moov`` whole (capped at :data:`MAX_MOOV`) and the XMP ``uuid`` boxes.  Besides the normative key
it reports: any other key or iTunes freeform item (``----:com.apple.iTunes:AIGC``) whose name
contains ``AIGC``, text items or QuickTime ``©xxx`` atoms whose value *is* a record, the same in a
bare ``moov/meta`` (where iPhones keep their ``mdta`` keys), a literal ``moov/udta/aigc`` (or
``AIGC``) box whose payload is the record (at most :data:`MAX_RECORD_BOX` bytes; a larger one is a
``format.mp4`` warning, not read), and ``TC260:AIGC`` in an XMP packet
(``uuid`` BE7ACFCB-97A9-42E8-9C71-999491E3AFAC at the top level, in ``moov`` or ``moov/udta``, or
Adobe's ``udta/XMP_``).  Encoder/software tags naming an AI generator are traces.  ``info`` holds
the brand, the track handlers, the duration (``mvhd``), the first video track's width and height
(``tkhd``) and whether ``moov`` precedes the media data.

The content kind comes from the tracks: a file whose only media tracks are sound is "audio", one
with a video track is "video".  Detection (first bytes only) picks :class:`M4aHandler` for the
``M4A ``/``M4B ``/``M4P `` brands and :class:`Mp4Handler` for the other MP4/QuickTime brands and for
``ftyp``-less QuickTime files; HEIF brands belong to :mod:`.heif`.

Writing rebuilds ``moov`` in memory and copies every other top-level box as it was (the kernel
copies ``mdat``):

* the record goes into the first ``moov/udta/meta`` whose handler is ``mdta`` (its other keys --
  ``encoder``, ``title``... -- are kept, an old ``AIGC`` key is replaced, items are renumbered when
  a key is dropped); without one, a new ``mdta`` meta is added to ``udta`` beside an iTunes-style
  ``mdir`` meta, which is left as it was (ffprobe and exiftool read both);
* every other record is removed: record keys and items in any meta, freeform ``----`` AIGC items,
  text items and ``©xxx`` atoms holding a record, ``udta/aigc`` boxes, ``AIGC`` properties of XMP
  packets;
* a bare ``moov/meta`` with ``mdta`` keys (iPhone files) stays, but ffmpeg names the items of
  every meta by the first ``keys`` box it meets: so the udta meta's keys start with that meta's
  keys (without items) and the udta comes first in ``moov``; every reader then names every item
  right, whichever ``keys`` it applies;
* ``moov`` stays where it was.  When it grows or shrinks and media data follows it, a ``free``
  box right after it absorbs the difference when it can (a gap of 8 bytes or more becomes a
  ``free`` box); otherwise everything after it moves and every ``stco``/``co64`` chunk offset
  pointing there moves with it (an ``stco`` whose offsets would pass 4 GiB becomes ``co64``).
  A large move is padded with a ``free`` box to a multiple of 64 KiB, which the kernel copies
  as fast as a plain copy (and which absorbs later growth).  In fragmented files the ``tfhd``
  base data offsets of moved ``moof`` boxes and the ``tfra`` entries of ``mfra`` are patched in
  place.

Not written (:class:`UnsupportedOperation`), each only when data would have to move: a ``sidx``
before the resized box, ``saio`` auxiliary-information offsets (encrypted tracks), tracks whose
data lives in another file (``dref`` not self-contained), items of a top-level ``meta`` stored by
file offset; also compressed movie headers (``cmov``).
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from .._c2pa_scan import BMFF_C2PA_UUID, STORE_INFO, note_xmp
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, Level
from . import _xmp
from ._audio_meta import audio_generator_trace, is_record_key
from ._bmff import (
    Box,
    BoxSource,
    BytesSource,
    PayloadReader,
    copy_with_patches,
    full_box_header,
    make_box,
    make_full_box,
    read_box_header,
    read_payload,
)
from ._image_meta import evidence_from_xmp, found_label, looks_like_record
from .base import Evidence, FormatHandler, ImplicitLabel
from .heif import HEIF_BRANDS
from .media_video import Remux, VideoAccess

if TYPE_CHECKING:  # pragma: no cover
    from ._av_splice import AvAccess

__all__ = ["Mp4Handler", "M4aHandler", "MovieFile", "RECORD_KEY", "XMP_UUID", "MAX_MOOV"]

RECORD_KEY = "AIGC"
#: the user type of the XMP ``uuid`` box (XMP Part 3, 1.1.5)
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
#: ``moov`` is read whole; a ten-hour movie's sample tables are a few tens of MiB at most
MAX_MOOV = 64 << 20
#: an XMP packet or a top-level ``meta`` box is read whole
MAX_XMP = 16 << 20
#: a literal ``udta/aigc`` box is read when at most this large (a record is a few hundred bytes; one
#: with SecurityData a few kilobytes)
MAX_RECORD_BOX = 1 << 20
#: box types of a literal record box in ``udta`` (seen lower case; upper case read too)
_RECORD_BOXES = (b"aigc", b"AIGC")
#: a ``moof`` box is read whole when its offsets must be patched
MAX_MOOF = 16 << 20
#: when moov grows and more than ALIGN_FROM bytes must move, the shift is padded to a multiple of this
SHIFT_ALIGN = 64 << 10
ALIGN_FROM = 16 << 20
#: boxes in one container (the top level of a finely fragmented ten-hour file has ~700 000)
MAX_BOXES = 2_000_000

#: major brands of audio-only files (iTunes audio, audio books, protected audio, Flash audio)
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
#: brands of MP4 / QuickTime / 3GPP / DASH / CMAF movies
VIDEO_BRANDS = frozenset({
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"isoa", b"isob",
    b"mp41", b"mp42", b"mp71", b"avc1", b"hvc1", b"hev1", b"av01", b"vp09", b"dash", b"msdh", b"msix",
    b"M4V ", b"M4VH", b"M4VP", b"f4v ", b"f4p ", b"qt  ", b"mmp4", b"MSNV", b"NDAS", b"NDSC", b"NDSH",
    b"NDSM", b"NDSP", b"NDSS", b"NDXC", b"NDXH", b"NDXM", b"NDXP", b"NDXS", b"XAVC", b"cmfc", b"cmff",
    b"cmfl", b"cmfs", b"cmf2", b"caqv", b"nvr1", b"piff", b"isml", b"iso ", b"mj2s", b"dby1", b"kddi",
})
#: ISO-BMFF brands of other formats (Canon raw, JPEG 2000, JPEG XL, HEIF handled elsewhere)
FOREIGN_BRANDS = frozenset({b"crx ", b"jp2 ", b"jpx ", b"jpm ", b"jxl ", b"jxs "})
#: first boxes of ftyp-less QuickTime movies
_QT_FIRST = {b"moov": 50, b"mdat": 50, b"wide": 50, b"pnot": 50, b"free": 30, b"skip": 30}

_VIDEO_HANDLERS = (b"vide", b"auxv", b"pict")
#: mdta key names and iTunes item types whose text names the writing software (generator traces)
_TRACE_WORDS = ("encoder", "software", "tool", "generator", "creator", "comment", "description", "make")
_TRACE_ITEMS = {b"\xa9too", b"\xa9swr", b"\xa9enc", b"\xa9cmt", b"\xa9des", b"desc", b"ldes", b"\xa9mak"}
_FREE = (b"free", b"skip")


# --------------------------------------------------------------------------------------------- detection


def _classify(head: bytes) -> tuple[str, int]:
    """("audio" | "video", score) from the first bytes; ("", 0) when not ours."""
    if len(head) < 8:
        return "", 0
    size = int.from_bytes(head[:4], "big")
    btype = head[4:8]
    if btype == b"ftyp":
        if len(head) < 12 or 0 < size < 16 and size != 1:
            return "", 0
        major = head[8:12]
        end = min(size, len(head)) if size >= 16 else len(head)
        compatible = [head[i:i + 4] for i in range(16, end - 3, 4)]
        if major in HEIF_BRANDS or major in FOREIGN_BRANDS:
            return "", 0
        if major in AUDIO_BRANDS:
            return "audio", 95
        if major in VIDEO_BRANDS or major[:3] in (b"3gp", b"3g2", b"3ge", b"3gg", b"3gs"):
            return "video", 95
        if any(b in HEIF_BRANDS or b in FOREIGN_BRANDS for b in compatible):
            return "", 0
        if any(b in AUDIO_BRANDS for b in compatible):
            return "audio", 80
        if any(b in VIDEO_BRANDS for b in compatible):
            return "video", 80
        return "video", 40  # an unknown brand: still an ISO-BMFF movie as far as we can tell
    if btype in _QT_FIRST and (size >= 8 or size in (0, 1)):
        return "video", _QT_FIRST[btype]
    return "", 0


# --------------------------------------------------------------------------------------------- box walking


def _walk(src: BoxSource, start: int, end: int, parent: str,
          into: list[Box] | None = None) -> tuple[list[Box], int]:
    """The boxes filling ``[start, end)`` and where a tail of fewer than 8 zero bytes begins (``end``
    when there is none).  QuickTime ends ``udta`` lists with a 32-bit zero; a few writers pad files
    with zeros.  Anything else that is not a whole box is :class:`CorruptFile` (the boxes walked
    so far are left in *into*)."""
    boxes: list[Box] = [] if into is None else into
    pos = start
    while pos < end:
        if end - pos < 8:
            tail = src.read_at(pos, end - pos)
            if len(tail) == end - pos and not tail.strip(b"\x00"):
                return boxes, pos
        box = read_box_header(src, pos, end, parent=parent)
        boxes.append(box)
        if len(boxes) > MAX_BOXES:
            raise CorruptFile(f"corrupt: {parent} holds more than {MAX_BOXES} boxes")
        pos = box.end
    return boxes, end


def _payload(src: BoxSource, box: Box) -> bytes:
    data = src.read_at(box.payload_offset, box.payload_size)
    if len(data) != box.payload_size:
        raise CorruptFile(f"truncated: the file ends inside {box}")
    return data


def _raw(src: BoxSource, box: Box) -> bytes:
    data = src.read_at(box.offset, box.size)
    if len(data) != box.size:
        raise CorruptFile(f"truncated: the file ends inside {box}")
    return data


def _box_name(btype: bytes) -> str:
    if btype[:1] == b"\xa9":
        return "©" + btype[1:].decode("latin-1")
    if btype[:3] == b"\x00\x00\x00" or not all(0x20 <= c < 0x7F for c in btype):
        return f"#{int.from_bytes(btype, 'big')}"
    return btype.decode("latin-1")


def _text(raw: bytes, utf16: bool = False) -> str:
    if utf16:
        return raw.decode("utf-16-be", "replace").rstrip("\x00")
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# --------------------------------------------------------------------------------------------- metadata


@dataclass
class Item:
    """One ``ilst`` item: its box (with absolute offsets), name, and its text values."""

    box: Box
    name: str  # mdta: the key name ("" when no key names it); iTunes: "©nam", "----:mean:name"...
    index: int | None  # mdta: the 1-based key index the item's type names
    values: list[str]
    freeform: bool = False


@dataclass
class Meta:
    """A ``meta`` box in ``moov/udta`` or ``moov``: its handler, ``keys`` and ``ilst``."""

    box: Box
    where: str  # "moov/udta/meta" or "moov/meta"
    full: bool  # a full box (ISO); QuickTime's moov/meta may lack the version and flags
    handler: bytes | None
    children: list[Box]
    tail: int
    keys_box: Box | None = None
    keys_head: bytes = b"\x00\x00\x00\x00"
    keys: list[tuple[bytes, str, bytes]] = field(default_factory=list)  # (namespace, name, raw entry)
    ilst_box: Box | None = None
    items: list[Item] = field(default_factory=list)

    @property
    def is_mdta(self) -> bool:
        return self.handler == b"mdta"

    def record_items(self) -> list[Item]:
        """Items that carry a record: by their name (contains AIGC) or by their value (is one)."""
        out = []
        for item in self.items:
            by_name = (self.is_mdta or item.freeform) and is_record_key(item.name)
            if by_name or any(looks_like_record(v) for v in item.values):
                out.append(item)
        return out


def _data_values(m: BoxSource, item: Box) -> tuple[list[str], bytes, bytes]:
    """(text values, mean, name) of an ilst item (mean and name belong to iTunes freeform items)."""
    kids, _ = _walk(m, item.payload_offset, item.end, str(item))
    values: list[str] = []
    mean = name = b""
    for kid in kids:
        if kid.type == b"data":
            payload = read_payload(m, kid, limit=MAX_MOOV)
            if len(payload) < 8:
                raise CorruptFile(f"corrupt: {kid} is shorter than its type and locale fields")
            kind = int.from_bytes(payload[1:4], "big")
            if kind in (0, 1, 4):  # implicit, UTF-8, (deprecated) UTF-8 sort
                values.append(_text(payload[8:]))
            elif kind in (2, 5):  # UTF-16
                values.append(_text(payload[8:], utf16=True))
        elif kid.type in (b"mean", b"name"):
            payload = read_payload(m, kid, limit=1 << 16)
            full_box_header(payload, kid)
            if kid.type == b"mean":
                mean = payload[4:]
            else:
                name = payload[4:]
    return values, mean, name


def _parse_meta(m: BoxSource, box: Box, where: str) -> Meta:
    head = m.read_at(box.payload_offset, min(8, box.payload_size))
    full = not (len(head) == 8 and head[4:8] == b"hdlr")
    if full and box.payload_size < 4:
        raise CorruptFile(f"corrupt: {box} is too short for its version and flags")
    kids, tail = _walk(m, box.payload_offset + (4 if full else 0), box.end, str(box))
    meta = Meta(box, where, full, None, kids, tail)
    for kid in kids:
        if kid.type == b"hdlr" and meta.handler is None:
            payload = _payload(m, kid)
            if len(payload) < 12:
                raise CorruptFile(f"corrupt: {kid} is too short for its handler type")
            meta.handler = payload[8:12]
        elif kid.type == b"keys" and meta.keys_box is None:
            meta.keys_box = kid
            payload = _payload(m, kid)
            full_box_header(payload, kid)
            meta.keys_head = payload[:4]
            r = PayloadReader(payload, str(kid), 4)
            count = r.u32()
            if count * 8 > r.remaining:
                raise CorruptFile(f"corrupt: {kid} claims {count} keys, more than it holds")
            for _ in range(count):
                start = r.pos
                size = r.u32()
                if size < 8:
                    raise CorruptFile(f"corrupt: a key in {kid} claims {size} bytes, less than its 8-byte header")
                namespace = r.fourcc()
                name = r.take(size - 8)
                meta.keys.append((namespace, _text(name), payload[start:r.pos]))
        elif kid.type == b"ilst" and meta.ilst_box is None:
            meta.ilst_box = kid
    if meta.ilst_box is not None:
        items, _ = _walk(m, meta.ilst_box.payload_offset, meta.ilst_box.end, str(meta.ilst_box))
        for item in items:
            values, mean, name = _data_values(m, item)
            if meta.is_mdta:
                index = int.from_bytes(item.type, "big")
                key = meta.keys[index - 1][1] if 1 <= index <= len(meta.keys) else ""
                meta.items.append(Item(item, key, index, values))
            elif item.type == b"----":
                meta.items.append(Item(item, f"----:{_text(mean)}:{_text(name)}", None, values, freeform=True))
            else:
                meta.items.append(Item(item, _box_name(item.type), None, values))
    return meta


def _qt_text(payload: bytes) -> list[str]:
    """The strings of a classic QuickTime ``©xxx`` user-data atom: (u16 size, u16 language, text)*."""
    out = []
    pos = 0
    while pos + 4 <= len(payload):
        size = int.from_bytes(payload[pos:pos + 2], "big")
        if pos + 4 + size > len(payload):
            break
        out.append(_text(payload[pos + 4:pos + 4 + size]))
        pos += 4 + size
    return out


@dataclass
class XmpBox:
    """An XMP packet found in an MP4 box, where it is and whether the box is top-level."""
    box: Box
    where: str
    packet: bytes
    top_level: bool


@dataclass
class Track:
    """An MP4 track's box, handler, id, picture size and chunk-offset boxes."""
    box: Box
    handler: bytes | None = None
    track_id: int | None = None
    width: int | None = None
    height: int | None = None
    chunk_boxes: list[Box] = field(default_factory=list)  # stco / co64
    external_data: bool = False  # a dref entry points at another file
    saio: bool = False


# --------------------------------------------------------------------------------------------- the file


class MovieFile:
    """The parsed structure: top-level boxes, ``moov`` (in memory) and what it holds."""

    def __init__(self, src: CountingReader) -> None:
        if src.size == 0:
            raise CorruptFile("empty file")
        self.boxes: list[Box] = []
        try:
            self.tail = _walk(src, 0, src.size, "the file", into=self.boxes)[1]
        except CorruptFile as exc:
            # Say what a cut-short download or an unfinished recording means for a movie.
            has_moov = any(b.type == b"moov" for b in self.boxes)
            raise CorruptFile(f"{exc} (the MP4 is truncated or a box size is wrong"
                              + ("" if has_moov else "; no complete movie header ('moov') comes before that point")
                              + ")") from None
        if not self.boxes:
            raise CorruptFile("not an MP4/QuickTime file: no box")
        self.brands: list[bytes] = []
        if self.boxes[0].type == b"ftyp":
            ftyp = read_payload(src, self.boxes[0], limit=4096)
            if len(ftyp) < 8:
                raise CorruptFile("corrupt: the 'ftyp' box is too short")
            self.brands = [ftyp[:4]] + [ftyp[i:i + 4] for i in range(8, len(ftyp) - 3, 4)]
        moovs = [b for b in self.boxes if b.type == b"moov"]
        if not moovs:
            has_media = any(b.type in (b"mdat", b"moof") for b in self.boxes)
            raise CorruptFile("truncated or malformed MP4: no 'moov' box (the movie header)"
                              + (" -- the file may be cut short or still being written" if has_media else ""))
        if len(moovs) > 1:
            raise CorruptFile(f"corrupt: {len(moovs)} 'moov' boxes (at offsets "
                              f"{', '.join(str(b.offset) for b in moovs)})")
        self.moov = moov = moovs[0]
        if moov.size > MAX_MOOV:
            raise CorruptFile(f"{moov} holds {moov.size} bytes, more than the {MAX_MOOV >> 20} MiB limit")
        self.m = BytesSource(_raw(src, moov), moov.offset)
        media = [b.offset for b in self.boxes if b.type in (b"mdat", b"moof")]
        self.payload_start: int | None = min(media) if media else None
        self.fragmented = any(b.type == b"moof" for b in self.boxes)

        self.moov_children, self.moov_tail = _walk(self.m, moov.payload_offset, moov.end, str(moov))
        self.duration: float | None = None
        self.tracks: list[Track] = []
        self.udtas: list[tuple[Box, list[Box]]] = []
        self.metas: list[Meta] = []
        self.xmps: list[XmpBox] = []
        self.text_atoms: list[tuple[Box, list[str]]] = []  # classic QuickTime ©xxx in udta
        #: literal record boxes in udta: (box, the payload text, or None when over MAX_RECORD_BOX)
        self.record_boxes: list[tuple[Box, str | None]] = []
        self.compressed = False
        m = self.m
        for child in self.moov_children:
            if child.type == b"mvhd":
                self._mvhd(_payload(m, child), child)
            elif child.type == b"trak":
                self.tracks.append(self._track(child))
            elif child.type == b"udta":
                self._udta(child)
            elif child.type == b"meta":
                self.metas.append(_parse_meta(m, child, "moov/meta"))
            elif child.type == b"uuid" and child.usertype == XMP_UUID:
                self.xmps.append(XmpBox(child, f"XMP uuid box in moov at offset {child.offset}",
                                        read_payload(m, child, limit=MAX_XMP), False))
            elif child.type == b"cmov":
                self.compressed = True
        for box in self.boxes:
            if box.type == b"uuid" and box.usertype == XMP_UUID:
                self.xmps.append(XmpBox(box, f"top-level XMP uuid box at offset {box.offset}",
                                        read_payload(src, box, limit=MAX_XMP), True))

    @property
    def kind(self) -> str | None:
        handlers = {t.handler for t in self.tracks}
        if handlers & set(_VIDEO_HANDLERS):
            return "video"
        if b"soun" in handlers:
            return "audio"
        return None

    def _mvhd(self, payload: bytes, box: Box) -> None:
        version, _ = full_box_header(payload, box)
        r = PayloadReader(payload, str(box), 4)
        r.take(16 if version == 1 else 8)
        timescale = r.u32()
        duration = r.u64() if version == 1 else r.u32()
        if timescale and duration not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
            self.duration = duration / timescale

    def _track(self, trak: Box) -> Track:
        m = self.m
        track = Track(trak)
        kids, _ = _walk(m, trak.payload_offset, trak.end, str(trak))
        for kid in kids:
            if kid.type == b"tkhd":
                payload = _payload(m, kid)
                version, _ = full_box_header(payload, kid)
                at = 88 if version == 1 else 76
                r = PayloadReader(payload, str(kid), 20 if version == 1 else 12)
                track.track_id = r.u32()
                if len(payload) >= at + 8:
                    w, h = struct.unpack(">II", payload[at:at + 8])
                    track.width, track.height = w >> 16, h >> 16
            elif kid.type == b"mdia":
                self._mdia(kid, track)
        return track

    def _mdia(self, mdia: Box, track: Track) -> None:
        m = self.m
        for kid in _walk(m, mdia.payload_offset, mdia.end, str(mdia))[0]:
            if kid.type == b"hdlr" and track.handler is None:
                payload = _payload(m, kid)
                if len(payload) < 12:
                    raise CorruptFile(f"corrupt: {kid} is too short for its handler type")
                track.handler = payload[8:12]
            elif kid.type == b"minf":
                for sub in _walk(m, kid.payload_offset, kid.end, str(kid))[0]:
                    if sub.type == b"stbl":
                        for table in _walk(m, sub.payload_offset, sub.end, str(sub))[0]:
                            if table.type in (b"stco", b"co64"):
                                track.chunk_boxes.append(table)
                            elif table.type == b"saio":
                                track.saio = True
                    elif sub.type == b"dinf":
                        track.external_data = self._external(sub)

    def _external(self, dinf: Box) -> bool:
        """True when a data reference is not "in this file" (flag 1)."""
        m = self.m
        for dref in _walk(m, dinf.payload_offset, dinf.end, str(dinf))[0]:
            if dref.type != b"dref":
                continue
            for entry in _walk(m, dref.payload_offset + 8, dref.end, str(dref))[0] if dref.payload_size >= 8 else []:
                head = m.read_at(entry.payload_offset, 4)
                if len(head) == 4 and not head[3] & 1:
                    return True
        return False

    def _udta(self, udta: Box) -> None:
        m = self.m
        kids, _ = _walk(m, udta.payload_offset, udta.end, str(udta))
        self.udtas.append((udta, kids))
        for kid in kids:
            if kid.type == b"meta":
                self.metas.append(_parse_meta(m, kid, "moov/udta/meta"))
            elif kid.type == b"XMP_":
                self.xmps.append(XmpBox(kid, f"udta XMP_ box at offset {kid.offset}",
                                        read_payload(m, kid, limit=MAX_XMP), False))
            elif kid.type == b"uuid" and kid.usertype == XMP_UUID:
                self.xmps.append(XmpBox(kid, f"XMP uuid box in moov/udta at offset {kid.offset}",
                                        read_payload(m, kid, limit=MAX_XMP), False))
            elif kid.type[:1] == b"\xa9":
                self.text_atoms.append((kid, _qt_text(read_payload(m, kid, limit=MAX_XMP))))
            elif kid.type in _RECORD_BOXES:
                text = None if kid.payload_size > MAX_RECORD_BOX else _text(_payload(m, kid))
                self.record_boxes.append((kid, text))

    def before_payload(self, offset: int) -> bool | None:
        return None if self.payload_start is None else offset < self.payload_start

    def target_meta(self) -> Meta | None:
        """The normative place: the first ``moov/udta/meta`` with handler ``mdta``."""
        return next((mt for mt in self.metas if mt.where == "moov/udta/meta" and mt.is_mdta), None)


# --------------------------------------------------------------------------------------------- writing helpers


def _data_box(text: str) -> bytes:
    return make_box(b"data", b"\x00\x00\x00\x01" + b"\x00\x00\x00\x00" + text.encode("utf-8"))


def _key_entry(name: str) -> bytes:
    raw = name.encode("utf-8")
    return struct.pack(">I4s", 8 + len(raw), b"mdta") + raw


def _renumbered(raw: bytes, index: int) -> bytes:
    """An mdta item box with its type (the key index) replaced; the type sits at bytes 4-8."""
    return raw[:4] + index.to_bytes(4, "big") + raw[8:]


def _kept_entries(m: BytesSource, meta: Meta, *,
                  drop_unused: bool = False) -> tuple[list[bytes], list[tuple[int, Box]]]:
    """An ``mdta`` meta without its records: the kept key entries (raw) and the kept items with the
    1-based index each must carry after the dropped keys are gone.  *drop_unused* also drops keys
    no item uses (the item-less prefix an earlier mark wrote, see :func:`_meta_rewritten`)."""
    dropped = meta.record_items()
    gone = {id(item) for item in dropped}
    drop_keys = {item.index for item in dropped if item.index}
    drop_keys |= {i for i, (_ns, name, _raw) in enumerate(meta.keys, 1) if is_record_key(name)}
    if drop_unused:
        used = {item.index for item in meta.items}
        drop_keys |= {i for i in range(1, len(meta.keys) + 1) if i not in used}
    renumber: dict[int, int] = {}
    keys_out: list[bytes] = []
    for i, (_ns, _name, raw) in enumerate(meta.keys, 1):
        if i not in drop_keys:
            keys_out.append(raw)
            renumber[i] = len(keys_out)
    items_out: list[tuple[int, Box]] = []
    for item in meta.items:
        if id(item) in gone or item.index in drop_keys:
            continue
        if item.index not in renumber:
            raise CorruptFile(f"corrupt: {item.box} names key {item.index}, but {meta.where}/keys has "
                              f"{len(meta.keys)} keys; file left unchanged")
        items_out.append((renumber[item.index], item.box))
    return keys_out, items_out


def _meta_rewritten(m: BytesSource, meta: Meta, record_json: str | None = None,
                    prefix: list[bytes] | None = None) -> bytes | None:
    """*meta* without its records; ``None`` when nothing changes.  Every other child, key and item
    keeps its bytes.  For the target meta (*record_json* given) the record is added as key ``AIGC``,
    after the key entries *prefix* (another mdta meta's keys, see :meth:`_IsoMediaHandler._keys_prefix`)
    and the meta's own keys; items are renumbered to match."""
    if not meta.is_mdta:
        assert record_json is None and not prefix
        dropped = {id(item) for item in meta.record_items()}
        if not dropped:
            return None
        return _meta_bytes(m, meta, None, [_raw(m, item.box) for item in meta.items if id(item) not in dropped])
    keys_out, items = _kept_entries(m, meta, drop_unused=record_json is not None)
    if record_json is None and len(keys_out) == len(meta.keys) and len(items) == len(meta.items):
        return None
    base = len(prefix or [])
    keys_out = [*(prefix or []), *keys_out]
    items_out = []
    for index, box in items:
        raw = _raw(m, box)
        items_out.append(raw if int.from_bytes(box.type, "big") == base + index else _renumbered(raw, base + index))
    if record_json is not None:
        keys_out.append(_key_entry(RECORD_KEY))
        items_out.append(make_box(len(keys_out).to_bytes(4, "big"), _data_box(record_json)))
    return _meta_bytes(m, meta, keys_out, items_out)


def _meta_bytes(m: BytesSource, meta: Meta, keys_out: list[bytes] | None, items_out: list[bytes]) -> bytes:
    """*meta* with new ``keys`` (when *keys_out* is given) and ``ilst`` contents, other children as they were."""
    keys_box = None if keys_out is None else \
        make_box(b"keys", meta.keys_head + struct.pack(">I", len(keys_out)) + b"".join(keys_out))
    ilst_box = make_box(b"ilst", b"".join(items_out))
    parts: list[bytes] = []
    for child in meta.children:
        if child is meta.keys_box and keys_box is not None:
            continue  # written right before ilst, where a reader needs it
        if child is meta.ilst_box:
            continue
        parts.append(_raw(m, child))
    if keys_box is not None:
        parts.append(keys_box)
    parts.append(ilst_box)
    head = m.read_at(meta.box.payload_offset, 4) if meta.full else b""
    tail = m.read_at(meta.tail, meta.box.end - meta.tail)
    return make_box(b"meta", head + b"".join(parts) + tail)


def new_meta(record_json: str, prefix: list[bytes] | None = None) -> bytes:
    """A ``meta`` box as ffmpeg's ``use_metadata_tags`` writes it, holding the record alone (after the
    item-less key entries *prefix*, when another mdta meta's keys must keep their indices)."""
    prefix = prefix or []
    hdlr = make_full_box(b"hdlr", 0, 0, b"\x00" * 4 + b"mdta" + b"\x00" * 12 + b"\x00")
    keys = make_full_box(b"keys", 0, 0, struct.pack(">I", len(prefix) + 1) + b"".join(prefix)
                         + _key_entry(RECORD_KEY))
    ilst = make_box(b"ilst", make_box((len(prefix) + 1).to_bytes(4, "big"), _data_box(record_json)))
    return make_full_box(b"meta", 0, 0, hdlr + keys + ilst)


def _xmp_without_records(packet: bytes) -> bytes | None:
    """The packet with its AIGC properties removed; ``None`` when it has none (or cannot be parsed:
    then it holds no record we could have reported either)."""
    try:
        parsed = _xmp.XmpPacket.parse(packet)
    except CorruptFile:
        return None
    if not parsed.remove_aigc():
        return None
    return parsed.serialize()


def _rebuild(m: BytesSource, box: Box, edits: dict[int, bytes], appends: dict[int, bytes],
             marks: list[int]) -> bytes:
    """*box* with the boxes at the offsets in *edits* replaced (``b""`` deletes) and *appends*
    added as the last children of the containers at those offsets; untouched subtrees keep their
    bytes.  *marks* is the sorted list of every offset in *edits* and *appends*."""
    if box.offset in edits:
        return edits[box.offset]
    i = bisect.bisect_left(marks, box.offset)
    if i == len(marks) or marks[i] >= box.end:
        return _raw(m, box)
    kids, tail = _walk(m, box.payload_offset, box.end, str(box))
    body = [_rebuild(m, kid, edits, appends, marks) for kid in kids]
    body.append(appends.get(box.offset, b""))
    body.append(m.read_at(tail, box.end - tail))
    return make_box(box.type, b"".join(body))


# --------------------------------------------------------------------------------------------- layout


class _Layout:
    """The output's top level: source boxes copied in order, some replaced or dropped, bytes
    inserted after some; maps a source file offset inside a copied box to its output offset."""

    def __init__(self, boxes: list[Box], replaced: dict[int, bytes], inserted_after: dict[int, bytes]) -> None:
        self.pieces: list[tuple[Box | None, bytes | None]] = []  # (copied box, None) | (source box or None, bytes)
        self._starts: list[int] = []
        self._boxes: list[Box] = []
        self._new: list[int | None] = []
        pos = 0
        for box in boxes:
            if box.offset in replaced:
                data = replaced[box.offset]
                self.pieces.append((box, data))
                self._record(box, None)
                pos += len(data)
            else:
                self.pieces.append((box, None))
                self._record(box, pos)
                pos += box.size
            extra = inserted_after.get(box.offset)
            if extra:
                self.pieces.append((None, extra))
                pos += len(extra)
        self.size = pos

    def _record(self, box: Box, new: int | None) -> None:
        self._starts.append(box.offset)
        self._boxes.append(box)
        self._new.append(new)

    def new_offset(self, box: Box) -> int | None:
        i = bisect.bisect_left(self._starts, box.offset)
        return self._new[i]

    def moved(self, box: Box) -> bool:
        return self.new_offset(box) != box.offset

    def moved_any(self) -> bool:
        """True when some copied box lands elsewhere than it was."""
        return any(new not in (None, box.offset) for box, new in zip(self._boxes, self._new, strict=True))

    def move(self, offset: int, what: str) -> int:
        """Where the byte at source *offset* lands; offsets past every box stay put."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return offset
        box = self._boxes[i]
        if offset >= box.end:
            return offset  # past the end of the file: nothing there to follow
        new = self._new[i]
        if new is None:
            raise UnsupportedOperation(f"{what} points at offset {offset}, inside the rewritten {box}; "
                                       "the file cannot be marked")
        return new + offset - box.offset


def _chunk_edits(m: BytesSource, tables: list[tuple[Track, Box, list[int]]], layout: _Layout,
                 widened: set[int]) -> dict[int, bytes]:
    """New ``stco``/``co64`` boxes (by source offset) for the tables whose offsets move under *layout*;
    an ``stco`` becomes a ``co64`` when a moved offset no longer fits 32 bits, and stays one in later
    rounds (its offset is added to *widened*), so that the moov size only ever grows."""
    out: dict[int, bytes] = {}
    for track, box, offsets in tables:
        what = f"a chunk offset of track {track.track_id} ({box})"
        moved = [layout.move(o, what) for o in offsets]
        if moved == offsets and box.offset not in widened:
            continue
        if track.external_data:
            raise UnsupportedOperation(f"track {track.track_id} keeps media in another file (dref) and its chunk "
                                       "offsets cannot be told apart from this file's; not supported")
        if track.saio:
            raise UnsupportedOperation(f"track {track.track_id} has auxiliary-information offsets (saio, encrypted "
                                       "media) that would have to move; not supported")
        if box.type == b"stco" and max(moved, default=0) > 0xFFFFFFFF:
            widened.add(box.offset)
        out[box.offset] = _chunk_box(m, box, moved, box.type == b"co64" or box.offset in widened)
    return out


def _free(size: int) -> bytes:
    return struct.pack(">I4s", size, b"free") + bytes(size - 8)


def _chunk_table(m: BytesSource, box: Box) -> list[int]:
    payload = _payload(m, box)
    full_box_header(payload, box)
    r = PayloadReader(payload, str(box), 4)
    count = r.u32()
    width = 4 if box.type == b"stco" else 8
    if count * width > r.remaining:
        raise CorruptFile(f"corrupt: {box} claims {count} chunk offsets, more than it holds")
    return list(struct.unpack(f">{count}{'I' if width == 4 else 'Q'}", r.take(count * width)))


def _chunk_box(m: BytesSource, box: Box, offsets: list[int], co64: bool) -> bytes:
    """*box* (``stco``/``co64``) holding *offsets*, its version, flags and any bytes after the table kept."""
    payload = _payload(m, box)
    width = 4 if box.type == b"stco" else 8
    rest = payload[8 + width * len(offsets):]
    fmt = f">I{len(offsets)}{'Q' if co64 else 'I'}"
    return make_box(b"co64" if co64 else b"stco", payload[:4] + struct.pack(fmt, len(offsets), *offsets) + rest)


# --------------------------------------------------------------------------------------------- handlers


class _IsoMediaHandler(FormatHandler):
    """Reading and writing shared by the audio and the video handler."""

    normative_carrier = "mp4:moov/udta/meta:mdta:AIGC"
    can_write = True
    _kind = ""
    #: read() walks every top-level box; C2PA keeps its store in a top-level ``uuid`` box
    c2pa_store_read = True
    c2pa_manifest_read = True  # the C2PA uuid box is top-level; a remote reference would be in an XMP packet

    @classmethod
    def score(cls, head: bytes) -> int:
        kind, score = _classify(head)
        return score if kind == cls._kind else 0

    # ----------------------------------------------------------------------------- reading

    def read(self, src: CountingReader) -> Evidence:
        f = MovieFile(src)
        ev = Evidence(self.name, f.kind or self.kind)
        self._info(f, ev)
        store = next((b for b in f.boxes if b.type == b"uuid" and b.usertype == BMFF_C2PA_UUID), None)
        if store is not None:
            ev.info[STORE_INFO] = store.offset
        for xmp in f.xmps:
            note_xmp(ev.info, xmp.box.offset, xmp.packet)
        if f.compressed:
            ev.findings.append(Finding("format.mp4", Level.WARNING, "compressed movie header ('cmov'): its "
                                       "metadata cannot be read", location=f"moov at offset {f.moov.offset}"))
        for meta in f.metas:
            self._meta_evidence(f, meta, ev)
        for atom, values in f.text_atoms:
            name = _box_name(atom.type)
            where = f"moov/udta {name} atom at offset {atom.offset}"
            for value in values:
                if looks_like_record(value):
                    ev.labels.append(found_label(f"mp4:moov/udta:{name}", where, value, normative=False,
                                                 offset=atom.offset, before_payload=f.before_payload(atom.offset)))
                elif atom.type in _TRACE_ITEMS and (t := audio_generator_trace(value, where)):
                    ev.traces.append(t)
        for rbox, text in f.record_boxes:
            name = _box_name(rbox.type)
            where = f"moov/udta {name} box at offset {rbox.offset}"
            if text is None:
                ev.findings.append(Finding("format.mp4", Level.WARNING, f"a '{name}' box of {rbox.payload_size:,} "
                                           f"bytes is too large to be a record (over {MAX_RECORD_BOX:,}); not read",
                                           location=where))
                continue
            # The box's payload is the record itself: read whatever it holds (an invalid one is a finding).
            ev.labels.append(found_label(f"mp4:moov/udta:{name}", where, text, normative=False,
                                         offset=rbox.offset, before_payload=f.before_payload(rbox.offset)))
        for xmp in f.xmps:
            labels, traces, findings = evidence_from_xmp(xmp.packet, xmp.where, offset=xmp.box.offset,
                                                         normative=False,
                                                         before_payload=f.before_payload(xmp.box.offset))
            ev.labels += labels
            ev.traces += traces
            ev.findings += findings
        return ev

    def _info(self, f: MovieFile, ev: Evidence) -> None:
        info = ev.info
        if f.brands:
            info["brand"] = f.brands[0].decode("latin-1")
            info["compatible_brands"] = [b.decode("latin-1") for b in f.brands[1:]]
        info["container"] = "quicktime" if not f.brands or f.brands[0] == b"qt  " else "mp4"
        info["tracks"] = [t.handler.decode("latin-1") if t.handler else "?" for t in f.tracks]
        if f.duration is not None:
            info["duration"] = round(f.duration, 6)
        video = next((t for t in f.tracks if t.handler in _VIDEO_HANDLERS and t.width and t.height), None)
        if video is not None:
            info["width"], info["height"] = video.width, video.height
        info["fragmented"] = f.fragmented
        info["moov_offset"] = f.moov.offset
        if f.payload_start is not None:
            info["moov_before_media"] = f.moov.offset < f.payload_start

    def _meta_evidence(self, f: MovieFile, meta: Meta, ev: Evidence) -> None:
        handler = meta.handler.decode("latin-1") if meta.handler else "none"
        records = {id(item) for item in meta.record_items()}
        for item in meta.items:
            name = item.name or _box_name(item.box.type)
            where = f"{meta.where} ({handler}) item {name!r} at offset {item.box.offset}"
            before = f.before_payload(item.box.offset)
            if id(item) in records:
                if meta.is_mdta:
                    carrier = f"mp4:{meta.where}:mdta:{item.name or _box_name(item.box.type)}"
                else:
                    carrier = f"mp4:{meta.where}:{item.name}"
                normative = meta.where == "moov/udta/meta" and meta.is_mdta and item.name == RECORD_KEY
                for value in item.values:
                    ev.labels.append(found_label(carrier, where, value, normative=normative,
                                                 offset=item.box.offset, before_payload=before))
                continue
            traced = (any(w in item.name.lower() for w in _TRACE_WORDS) if meta.is_mdta or item.freeform
                      else item.box.type in _TRACE_ITEMS)
            if traced:
                for value in item.values:
                    if t := audio_generator_trace(value, where):
                        ev.traces.append(t)

    # ----------------------------------------------------------------------------- writing

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        f = MovieFile(src)
        if f.compressed:
            raise UnsupportedOperation("the movie header is compressed ('cmov'); adding metadata to it is not "
                                       "supported")
        m = f.m
        edits: dict[int, bytes] = {}  # moov-internal box offset -> replacement (b"" deletes)
        appends: dict[int, bytes] = {}  # moov-internal container offset -> bytes added as its last child
        target = f.target_meta()
        # iPhone-style files keep mdta keys in a bare moov/meta too.  ffmpeg names every ilst item by
        # the first 'keys' box it meets, so our keys start with that meta's keys (item-less) and our
        # udta comes first: then every reader, whichever keys it applies, names every item right.
        bare = next((mt for mt in f.metas if mt.where == "moov/meta" and mt.is_mdta), None)
        prefix = _kept_entries(m, bare)[0] if bare is not None else []
        for meta in f.metas:
            new = _meta_rewritten(m, meta, label.record_json, prefix) if meta is target else _meta_rewritten(m, meta)
            if new is not None:
                edits[meta.box.offset] = new
        if target is not None:
            home: Box | None = next(u for u, _kids in f.udtas if u.offset < target.box.offset < u.end)
        else:
            home = f.udtas[0][0] if f.udtas else None
        created_udta = b""
        if target is None:
            if home is not None:
                appends[home.offset] = new_meta(label.record_json, prefix)
            else:
                created_udta = make_box(b"udta", new_meta(label.record_json, prefix))
        for atom, values in f.text_atoms:
            if any(looks_like_record(v) for v in values):
                edits[atom.offset] = b""
        for rbox, _text_value in f.record_boxes:
            edits[rbox.offset] = b""  # a literal record box: the new record replaces it
        top_replaced: dict[int, bytes] = {}
        for xmp in f.xmps:
            packet = _xmp_without_records(xmp.packet)
            if packet is None:
                continue
            box = make_box(b"uuid", XMP_UUID + packet) if xmp.box.type == b"uuid" else make_box(xmp.box.type, packet)
            if xmp.top_level:
                top_replaced[xmp.box.offset] = box
            else:
                edits[xmp.box.offset] = box

        if bare is not None and (home is None or home.offset > bare.box.offset):
            bare_bytes = edits.pop(bare.box.offset, None) or _raw(m, bare.box)
            if home is None:
                edits[bare.box.offset] = created_udta + bare_bytes
            else:  # move the bare meta to just after our udta
                home_bytes = _rebuild(m, home, edits, appends, sorted({*edits, *appends}))
                edits[bare.box.offset] = b""
                edits[home.offset] = home_bytes + bare_bytes
        elif created_udta:
            appends[f.moov.offset] = created_udta

        # moov's size decides where everything after it goes, which decides the chunk offsets, which
        # may widen an stco into a co64 and so change moov's size: settle it (sizes only grow).
        tables = [(track, box, _chunk_table(m, box)) for track in f.tracks for box in track.chunk_boxes]
        moov_bytes = self._moov(f, edits, appends)
        widened: set[int] = set()
        for _ in range(8):
            layout = self._layout(f, moov_bytes, top_replaced)
            chunk_edits = _chunk_edits(m, tables, layout, widened)
            new_moov = self._moov(f, {**edits, **chunk_edits}, appends)
            if len(new_moov) == len(moov_bytes):
                layout = self._layout(f, new_moov, top_replaced)  # same offsets, final bytes
                break
            moov_bytes = new_moov
        else:  # pragma: no cover - moov only grows (stco -> co64, never back), so this settles in 2-3 rounds
            raise UnsupportedOperation("internal error: the new moov size did not settle; file left unchanged")

        patches = self._fragment_patches(src, f, layout)
        self._check_other_offsets(src, f, layout)
        run: list[int] = []  # a source range [start, end) of adjacent copied boxes, copied in one go
        for piece, data_or_copy in layout.pieces:
            if data_or_copy is None:
                assert piece is not None
                if run and run[1] == piece.offset:
                    run[1] = piece.end
                    continue
                if run:
                    copy_with_patches(src, dst, run[0], run[1], patches)
                run = [piece.offset, piece.end]
                continue
            if run:
                copy_with_patches(src, dst, run[0], run[1], patches)
                run = []
            dst.write(data_or_copy)
        if run:
            copy_with_patches(src, dst, run[0], run[1], patches)
        if f.tail < src.size:
            src.seek(f.tail)
            src.copy_to(dst, src.size - f.tail)

    @staticmethod
    def _moov(f: MovieFile, edits: dict[int, bytes], appends: dict[int, bytes]) -> bytes:
        data = _rebuild(f.m, f.moov, edits, appends, sorted({*edits, *appends}))
        if len(data) > MAX_MOOV:
            raise UnsupportedOperation(f"the new 'moov' box would exceed {MAX_MOOV >> 20} MiB")
        return data

    @staticmethod
    def _layout(f: MovieFile, moov_bytes: bytes, top_replaced: dict[int, bytes]) -> _Layout:
        """The top level with the new moov.  A ``free`` box right after moov absorbs a size change
        when it can, and a shrink of 8 bytes or more leaves a ``free`` box: the media need not move.
        When it must move and is large, a ``free`` box pads the shift to a multiple of
        :data:`SHIFT_ALIGN`: the kernel copies aligned data at plain-copy speed (misaligned, about
        half as fast), and the padding absorbs the growth of later edits."""
        replaced = {**top_replaced, f.moov.offset: moov_bytes}
        inserted: dict[int, bytes] = {}
        delta = len(moov_bytes) - f.moov.size
        i = f.boxes.index(f.moov)
        following = f.boxes[i + 1] if i + 1 < len(f.boxes) else None
        if delta and following is not None:
            new_size = following.size - delta
            if (following.type in _FREE and following.offset not in top_replaced and following.header_size == 8
                    and (new_size == 0 or 8 <= new_size <= 0xFFFFFFFF)):
                replaced[following.offset] = _free(new_size) if new_size else b""  # 0: the free box goes
            elif delta <= -8:
                inserted[f.moov.offset] = _free(-delta)
            elif sum(b.size for b in f.boxes[i + 1:]) >= ALIGN_FROM:
                pad = -delta % SHIFT_ALIGN
                inserted[f.moov.offset] = _free(pad if pad >= 8 else pad + SHIFT_ALIGN)
        return _Layout(f.boxes, replaced, inserted)

    @staticmethod
    def _fragment_patches(src: CountingReader, f: MovieFile, layout: _Layout) -> list[tuple[int, bytes]]:
        """Same-length rewrites of absolute offsets outside moov: ``tfhd`` base data offsets in moved
        ``moof`` boxes and ``tfra`` entries in ``mfra``.  Refuses what it cannot follow."""
        patches: list[tuple[int, bytes]] = []
        if not layout.moved_any():
            return patches
        for i, box in enumerate(f.boxes):
            if box.type == b"sidx":
                # its references are relative: fine as long as it and all after it shift alike
                later = [layout.new_offset(b) for b in f.boxes[i:]]
                if None in later or len({new - b.offset for new, b in zip(later, f.boxes[i:], strict=True)}) > 1:  # type: ignore[operator]
                    raise UnsupportedOperation(f"{box} indexes segments whose distance from it would change; "
                                               "not supported")
            if box.type == b"moof" and layout.moved(box):
                if box.size > MAX_MOOF:
                    raise CorruptFile(f"{box} holds {box.size} bytes, more than the {MAX_MOOF >> 20} MiB limit")
                mb = BytesSource(_raw(src, box), box.offset)
                for traf in _walk(mb, box.payload_offset, box.end, str(box))[0]:
                    if traf.type != b"traf":
                        continue
                    for kid in _walk(mb, traf.payload_offset, traf.end, str(traf))[0]:
                        if kid.type == b"saio":
                            raise UnsupportedOperation(f"{kid} (encrypted media) would have to move; not supported")
                        if kid.type != b"tfhd":
                            continue
                        payload = _payload(mb, kid)
                        _version, flags = full_box_header(payload, kid)
                        if flags & 1:
                            if len(payload) < 16:
                                raise CorruptFile(f"corrupt: {kid} is too short for its base data offset")
                            old = int.from_bytes(payload[8:16], "big")
                            new = layout.move(old, f"the base data offset of {kid}")
                            if new != old:
                                patches.append((kid.payload_offset + 8, new.to_bytes(8, "big")))
            elif box.type == b"mfra":
                if box.size > MAX_MOOF:
                    raise CorruptFile(f"{box} holds {box.size} bytes, more than the {MAX_MOOF >> 20} MiB limit")
                mb = BytesSource(_raw(src, box), box.offset)
                for tfra in _walk(mb, box.payload_offset, box.end, str(box))[0]:
                    if tfra.type == b"tfra":
                        patches += _tfra_patches(mb, tfra, layout)
        patches.sort()
        return patches

    @staticmethod
    def _check_other_offsets(src: CountingReader, f: MovieFile, layout: _Layout) -> None:
        """A top-level ``meta`` (HEIF-style items) addressing moved data by file offset: refused."""
        if not layout.moved_any():
            return
        from .heif import ItemLocationBox  # only files with a top-level meta need it

        for box in f.boxes:
            if box.type != b"meta":
                continue
            if box.size > MAX_XMP:
                raise CorruptFile(f"{box} holds {box.size} bytes, more than the {MAX_XMP >> 20} MiB limit")
            mb = BytesSource(_raw(src, box), box.offset)
            for kid in _walk(mb, box.payload_offset + 4, box.end, str(box))[0] if box.payload_size >= 4 else []:
                if kid.type != b"iloc":
                    continue
                iloc = ItemLocationBox.parse(_payload(mb, kid), str(kid))
                for loc in iloc.items:
                    if loc.construction_method or loc.data_reference_index:
                        continue
                    for e in loc.extents:
                        at = loc.base_offset + e.offset
                        if layout.move(at, f"item {loc.item_id} of {box}") != at:
                            raise UnsupportedOperation(f"item {loc.item_id} of the top-level {box} is stored by "
                                                       "file offset in data that would move; not supported")


def _tfra_patches(mb: BytesSource, tfra: Box, layout: _Layout) -> list[tuple[int, bytes]]:
    payload = _payload(mb, tfra)
    version, _ = full_box_header(payload, tfra)
    r = PayloadReader(payload, str(tfra), 4)
    r.u32()  # track_ID
    sizes = r.u32()
    extra = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3
    count = r.u32()
    width = 8 if version == 1 else 4
    if count * (2 * width + extra) > r.remaining:
        raise CorruptFile(f"corrupt: {tfra} claims {count} entries, more than it holds")
    out = []
    for _ in range(count):
        r.take(width)  # time
        at = r.pos
        old = r.uint(width)
        new = layout.move(old, f"an entry of {tfra}")
        if new != old:
            if new >= 1 << (8 * width):
                raise UnsupportedOperation(f"{tfra} would need 64-bit offsets; not supported")
            out.append((tfra.payload_offset + at, new.to_bytes(width, "big")))
        r.take(extra)
    return out


def remux_options(src: CountingReader) -> Remux:
    """How libavformat writes the movie again like the source: the muxer (``mov`` for QuickTime
    files, else ``mp4``), the brand, ``moov`` first when it was, ``mdta`` keys kept as such, and a
    fragmented file fragmented again (at key frames)."""
    movie = MovieFile(src)
    remux = Remux("mp4")
    flags = []
    if movie.payload_start is not None and movie.moov.offset < movie.payload_start and not movie.fragmented:
        flags.append("+faststart")
    if movie.fragmented:
        flags.append("+frag_keyframe+empty_moov+default_base_moof")
        remux.notes.append("the fragmented MP4 was re-fragmented at key frames by libavformat")
    if any(meta.is_mdta for meta in movie.metas):
        flags.append("+use_metadata_tags")
    if flags:
        remux.options["movflags"] = "".join(flags)
    if movie.brands:
        remux.options["brand"] = movie.brands[0].decode("latin-1")
        if movie.brands[0] == b"qt  ":
            remux.muxer = "mov"
    else:
        remux.muxer = "mov"
    return remux


class Mp4Handler(_IsoMediaHandler):
    """MP4 / MOV / 3GP and other ISO-BMFF movies (kind from the tracks; "video" by default)."""

    name = "mp4"
    kind = "video"
    _kind = "video"
    mime = "video/mp4"
    extensions = (".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".f4v", ".mp4v", ".cmfv")

    def video_access(self, src: CountingReader) -> VideoAccess:
        return VideoAccess(src, self.name, remux_options)


class M4aHandler(_IsoMediaHandler):
    """M4A / M4B audio in MP4 (AAC, ALAC...): brands ``M4A ``, ``M4B ``, ``M4P ``."""

    name = "m4a"
    kind = "audio"
    _kind = "audio"
    mime = "audio/mp4"
    extensions = (".m4a", ".m4b", ".m4p", ".m4r", ".f4a", ".f4b")

    def audio_access(self, src: CountingReader) -> AvAccess:
        """Windows decoded with PyAV; a prompt inserted by re-encoding (AAC; ALAC stays lossless)."""
        from ._av_splice import AvAccess

        return AvAccess(src, self.name, "AAC")
