"""MKV and WebM (Matroska / EBML): the record is a global ``SimpleTag`` named ``AIGC`` in ``Tags``.

The normative carrier (TC260 2025 video guide) is a SimpleTag ``TagName = AIGC`` whose ``TagString``
is the JSON, in a ``Tag`` whose ``Targets`` name no track, edition, chapter or attachment (an empty
``Targets`` or ``TargetTypeValue`` 50 -- what ``ffmpeg -metadata AIGC=...`` writes and what ffprobe
shows as ``format.tags.AIGC``)::

    EBML header (DocType "matroska" | "webm")
    Segment
      SeekHead        Seek entries: (SeekID, SeekPosition relative to the Segment's data)
      Void            padding writers leave for later edits
      Info, Tracks, Chapters, Attachments ...
      Tags
        Tag
          Targets     empty, or TargetTypeValue 50        -> global
          SimpleTag   TagName "AIGC", TagString "{...}"
      Cluster ...     the media (sizes may be "unknown" in live WebM)
      Cues            CueClusterPosition: relative to the Segment's data

No pip library writes Matroska tags in place (mutagen has no Matroska support; the ``ebml`` and
``enzyme`` packages only read; ``mkvpropedit`` is a separate program), so EBML is read and written
here by hand.

**Reading** walks the level-1 elements of the first Segment by their sizes: a Cluster of known size
is skipped with one header read (its blocks are never read); a Cluster of unknown size (live WebM)
is walked block header by block header until the next level-1 element.  Only ``Info``, ``Tracks``
and ``Tags`` are read whole.  Besides the normative tag it reports: an ``AIGC`` SimpleTag with a
track (or other) target, nested inside another SimpleTag, or stored as ``TagBinary``; any SimpleTag
whose name contains ``AIGC``; any SimpleTag whose value *is* a record.  Muxing/writing apps and
``ENCODER``/``COMMENT``-like tags naming an AI generator are traces.  The content kind comes from
the tracks ("video" with a video track, "audio" with only audio tracks).

**Writing** keeps every element (and its bytes) except what it owns: all ``Tags`` elements are
merged into one, which loses only the old record SimpleTags and gains ``AIGC`` (in the first global
Tag, else in a new ``Tag`` with ``TargetTypeValue`` 50).  Where the new ``Tags`` goes -- the
trade-off the brief asks to document:

* The spec asks for the record "in the file header", so ``Tags`` always goes **before the first
  Cluster** (where the old header ``Tags`` stood, else after the last header element); a ``Tags``
  element after the Clusters is turned into a ``Void`` of the same length, in place.
* When the header's ``Void`` padding has room (Voids left by writers, or by an earlier mark), the
  header keeps its length: elements move only inside the header, the ``SeekHead`` is rewritten,
  and **no Cluster or Cues byte moves** (the common case after the first mark: the padding below
  absorbs later changes).
* Otherwise the header grows and everything after it moves by the same amount.  Matroska stores
  positions only relative to the Segment, in a closed set of places, and all are fixed: every
  ``SeekHead`` (also a second one after the Clusters), ``Cues`` (``CueClusterPosition``,
  ``CueCodecState`` and the deprecated reference positions) and each Cluster's optional
  ``Position`` element; ``CRC-32`` elements of rewritten masters are recomputed.  The grown header
  ends with a ``Void`` of at least :data:`SLACK` bytes for later edits, and for large files the
  shift is a multiple of :data:`SHIFT_ALIGN` so the kernel copies the clusters at plain-copy speed.
* Appending ``Tags`` at the end of the Segment (no Cluster would move) was rejected: it is not the
  file header, and a reader that does not follow the SeekHead -- every reader of a live WebM, which
  has none -- would not find the record until it had read the whole file.

Not written (:class:`UnsupportedOperation`): a file with several Segments; a ``CRC-32`` covering the
whole Segment; a Cluster ``Position`` whose field is too narrow for its moved value.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..limits import check_count
from ..limits import current as current_limits
from ._audio_meta import audio_generator_trace, is_record_key
from ._bmff import BytesSource, copy_with_patches
from ._image_meta import found_label, looks_like_record
from .base import Evidence, FormatHandler, ImplicitLabel
from .media_video import Remux, VideoAccess

__all__ = ["MkvHandler", "WebmHandler", "MatroskaFile", "RECORD_NAME", "encode_element", "encode_size",
           "read_vint"]

RECORD_NAME = "AIGC"

# ------------------------------------------------------------------------------------------ element IDs

EBML = 0x1A45DFA3
DOCTYPE = 0x4282
SEGMENT = 0x18538067
SEEKHEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
INFO, TIMESTAMP_SCALE, DURATION, TITLE, MUXING_APP, WRITING_APP = 0x1549A966, 0x2AD7B1, 0x4489, 0x7BA9, 0x4D80, 0x5741
TRACKS, TRACK_ENTRY, TRACK_TYPE, CODEC_ID, VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT = (
    0x1654AE6B, 0xAE, 0x83, 0x86, 0xE0, 0xB0, 0xBA)
CLUSTER, CLUSTER_POSITION = 0x1F43B675, 0xA7
CUES, CUE_POINT, CUE_TRACK_POSITIONS, CUE_REFERENCE = 0x1C53BB6B, 0xBB, 0xB7, 0xDB
#: Cues leaves holding a position relative to the Segment's data
CUE_POSITIONS = frozenset({0xF1, 0xEA, 0x97, 0xEB})  # ClusterPosition, CodecState, RefCluster, RefCodecState
ATTACHMENTS, CHAPTERS = 0x1941A469, 0x1043A770
TAGS, TAG, TARGETS, TARGET_TYPE_VALUE, TARGET_TYPE = 0x1254C367, 0x7373, 0x63C0, 0x68CA, 0x63CA
TAG_UIDS = {0x63C5: "track", 0x63C9: "edition", 0x63C4: "chapter", 0x63C6: "attachment"}
SIMPLE_TAG, TAG_NAME, TAG_LANGUAGE, TAG_STRING, TAG_BINARY = 0x67C8, 0x45A3, 0x447A, 0x4487, 0x4485
VOID, CRC32 = 0xEC, 0xBF

LEVEL1 = frozenset({SEEKHEAD, INFO, TRACKS, CLUSTER, CUES, ATTACHMENTS, CHAPTERS, TAGS})
_BLOCKS = frozenset({0xA0, 0xA3, 0xAF})  # BlockGroup, SimpleBlock, EncryptedBlock
_NAMES = {EBML: "EBML header", SEGMENT: "Segment", SEEKHEAD: "SeekHead", INFO: "Info", TRACKS: "Tracks",
          CLUSTER: "Cluster", CUES: "Cues", ATTACHMENTS: "Attachments", CHAPTERS: "Chapters", TAGS: "Tags",
          TAG: "Tag", SIMPLE_TAG: "SimpleTag", TARGETS: "Targets", VOID: "Void", CRC32: "CRC-32", SEEK: "Seek",
          TRACK_ENTRY: "TrackEntry", CUE_POINT: "CuePoint"}
_TRACK_TYPES = {1: "video", 2: "audio", 3: "complex", 0x10: "logo", 0x11: "subtitle", 0x12: "buttons",
                0x20: "control", 0x21: "metadata"}
#: SimpleTag names whose text names the writing software (generator traces)
_TRACE_NAMES = ("ENCODER", "ENCODED_BY", "ENCODER_SETTINGS", "COMMENT", "DESCRIPTION", "SOFTWARE", "TOOL",
                "GENERATOR", "CREATOR", "SYNOPSIS", "SUMMARY")

# ------------------------------------------------------------------------------------------ limits

#: the EBML header, Info and a SeekHead are read whole
MAX_SMALL = 1 << 20
#: Tracks (codec private data) and Tags (tags may carry binary values) are read whole
MAX_MASTER = 64 << 20
#: Cues are read whole when their positions must move (an hour of 1 s cues is ~100 KiB)
MAX_CUES = 256 << 20
#: a Cluster is read whole only to recompute its CRC-32 after its Position moved
MAX_CLUSTER = 256 << 20
#: level-1 elements and blocks of unknown-size Clusters walked in one Segment
MAX_ELEMENTS = 20_000_000
#: free space left after a grown header (a Void), so later edits fit without moving the media
SLACK = 1024
#: when the media moves and at least ALIGN_FROM bytes follow, the shift is a multiple of this
SHIFT_ALIGN = 64 << 10
ALIGN_FROM = 16 << 20


# ------------------------------------------------------------------------------------------ EBML primitives


def read_vint(buf: bytes, pos: int, what: str, *, is_id: bool = False) -> tuple[int, int, bool]:
    """(value, length, unknown) of the variable-length integer at *pos* of *buf*.

    An ID keeps its marker bits (0x1A45DFA3) and is at most 4 bytes; a size is at most 8 bytes and
    "unknown" when all its value bits are 1.
    """
    if pos >= len(buf):
        raise CorruptFile(f"truncated: the file ends inside {what}")
    first = buf[pos]
    if first == 0:
        raise CorruptFile(f"corrupt: invalid EBML {'ID' if is_id else 'size'} (a zero first byte) in {what}")
    n = 9 - first.bit_length()
    if is_id and n > 4:
        raise CorruptFile(f"corrupt: an EBML ID longer than 4 bytes in {what}")
    if pos + n > len(buf):
        raise CorruptFile(f"truncated: the file ends inside {what}")
    raw = int.from_bytes(buf[pos:pos + n], "big")
    if is_id:
        return raw, n, False
    value = raw & ((1 << (7 * n)) - 1)
    return value, n, value == (1 << (7 * n)) - 1


def encode_size(n: int, width: int | None = None) -> bytes:
    """An EBML size field for *n* bytes: the smallest width (all-ones is "unknown"), or *width*."""
    need = 1
    while n >= (1 << (7 * need)) - 1:
        need += 1
    if need > 8:
        raise UnsupportedOperation(f"an EBML element of {n} bytes is too large")
    width = need if width is None else width
    if width < need or width > 8:
        raise ValueError(f"size {n} does not fit {width} bytes")
    return ((1 << (7 * width)) | n).to_bytes(width, "big")


def _id_bytes(eid: int) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big")


def encode_element(eid: int, payload: bytes, size_width: int | None = None) -> bytes:
    return _id_bytes(eid) + encode_size(len(payload), size_width) + payload


def _uint(value: int, width: int | None = None) -> bytes:
    need = max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(max(need, width or 0), "big")


def _void(total: int) -> bytes:
    """A Void element of exactly *total* bytes (at least 2)."""
    if total < 2:
        raise ValueError("a Void element needs at least 2 bytes")
    for width in range(1, 9):
        data = total - 1 - width
        if data >= 0 and data < (1 << (7 * width)) - 1:
            return b"\xec" + encode_size(data, width) + bytes(data)
    raise UnsupportedOperation(f"cannot pad {total} bytes with one Void element")  # pragma: no cover


def _with_crc(payload: bytes) -> bytes:
    """*payload* preceded by a CRC-32 element over it (IEEE CRC-32, stored little-endian)."""
    return b"\xbf\x84" + struct.pack("<I", zlib.crc32(payload)) + payload


def _fit(eid: int, payload: bytes, total: int) -> bytes | None:
    """The element, followed by a Void or with a wider size field, in exactly *total* bytes; ``None``
    when it needs more."""
    natural = encode_element(eid, payload)
    gap = total - len(natural)
    if gap < 0:
        return None
    if gap == 0:
        return natural
    if gap == 1:
        width = len(encode_size(len(payload))) + 1
        return encode_element(eid, payload, width) if width <= 8 else None
    return natural + _void(gap)


@dataclass(frozen=True, slots=True)
class Element:
    """One EBML element: where it starts, its header and data sizes (absolute offsets)."""

    id: int
    offset: int
    id_size: int
    size_width: int
    data_size: int
    unknown: bool = False  # the size field says "unknown" (data_size was found by scanning)

    @property
    def header_size(self) -> int:
        return self.id_size + self.size_width

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def end(self) -> int:
        return self.data_offset + self.data_size

    @property
    def size(self) -> int:
        return self.header_size + self.data_size

    @property
    def name(self) -> str:
        return _NAMES.get(self.id, f"0x{self.id:X}")

    def __str__(self) -> str:
        return f"{self.name} element at offset {self.offset}"


def _header(src: BytesSource | CountingReader, pos: int, end: int, parent: str) -> Element:
    """The element starting at *pos*, which must end by *end* unless its size is unknown."""
    head = src.read_at(pos, min(12, max(0, end - pos)))
    where = f"the element header at offset {pos} (in {parent})"
    eid, id_size, _ = read_vint(head, 0, where, is_id=True)
    size, width, unknown = read_vint(head, id_size, where)
    data_offset = pos + id_size + width
    if unknown:
        return Element(eid, pos, id_size, width, max(0, end - data_offset), unknown=True)
    if data_offset + size > end:
        name = _NAMES.get(eid, f"0x{eid:X}")
        raise CorruptFile(f"truncated: {name} element at offset {pos} ({size} bytes of data) runs past the end "
                          f"of {parent} at offset {end}")
    return Element(eid, pos, id_size, width, size)


def _header_in(data: bytes, base: int, pos: int, end: int) -> Element | None:
    """The common case of :func:`_header` for a master read into memory, without slicing or
    messages (a Tags element may hold 10^5 SimpleTags); None for anything unusual -- a long or
    invalid ID or size, an unknown size, an element running past *end* -- which :func:`_header`
    then reads (and reports) the careful way."""
    i = pos - base
    if i < 0 or i + 2 > len(data):
        return None
    b = data[i]
    id_size = 1 if b >= 0x80 else 2 if b >= 0x40 else 3 if b >= 0x20 else 4 if b >= 0x10 else 0
    j = i + id_size
    if not id_size or j >= len(data) or not data[j]:
        return None
    width = 9 - data[j].bit_length()
    mask = (1 << (7 * width)) - 1
    size = int.from_bytes(data[j:j + width], "big") & mask
    if size == mask or j + width > len(data) or pos + id_size + width + size > end:
        return None
    return Element(int.from_bytes(data[i:j], "big"), pos, id_size, width, size)


def _children(src: BytesSource | CountingReader, el: Element) -> list[Element]:
    """The children of master element *el* (which must have a known size).

    A master declaring more children than ``max_structures`` is refused as it is walked (a 12 MB
    Tags element can hold a million SimpleTags), before they are all built."""
    out: list[Element] = []
    limit = current_limits().max_structures
    pos, end = el.data_offset, el.end
    fast = isinstance(src, BytesSource)
    while pos < end:
        child = (_header_in(src.data, src.base, pos, end) if fast else None) or _header(src, pos, end, str(el))  # type: ignore[union-attr]
        if child.unknown:
            raise CorruptFile(f"corrupt: {child.name} element at offset {pos} has an unknown size inside {el}")
        out.append(child)
        if len(out) > limit:
            check_count(len(out), f"elements in {el}")
        pos = child.end
    return out


def _data(src: BytesSource | CountingReader, el: Element, limit: int = MAX_MASTER) -> bytes:
    if el.data_size > limit:
        raise CorruptFile(f"{el} holds {el.data_size} bytes, more than the {limit}-byte limit for it")
    data = src.read_at(el.data_offset, el.data_size)
    if len(data) != el.data_size:
        raise CorruptFile(f"truncated: the file ends inside {el}")
    return data


def _raw(src: BytesSource | CountingReader, el: Element, limit: int = MAX_MASTER) -> bytes:
    if el.size > limit:
        raise CorruptFile(f"{el} holds {el.size} bytes, more than the {limit}-byte limit for it")
    data = src.read_at(el.offset, el.size)
    if len(data) != el.size:
        raise CorruptFile(f"truncated: the file ends inside {el}")
    return data


def _load(src: CountingReader, el: Element, limit: int = MAX_MASTER) -> BytesSource:
    """*el* read into memory, addressed with the file's offsets."""
    return BytesSource(_raw(src, el, limit), el.offset)


def _text(raw: bytes) -> str:
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _float(raw: bytes) -> float | None:
    if len(raw) == 4:
        return struct.unpack(">f", raw)[0]
    if len(raw) == 8:
        return struct.unpack(">d", raw)[0]
    return None


# ------------------------------------------------------------------------------------------ tags


@dataclass
class SimpleTag:
    """A Matroska SimpleTag: name, value (string or binary) and nested tags."""
    element: Element
    name: str
    value: str | None
    binary: bool  # the value came from TagBinary
    nested: list[SimpleTag] = field(default_factory=list)

    def is_record(self) -> bool:
        return is_record_key(self.name) or (self.value is not None and looks_like_record(self.value))


@dataclass
class Tag:
    """A Matroska Tag: what it targets and its SimpleTags."""
    element: Element
    target_type_value: int | None
    target_type: str
    uids: dict[str, list[int]]
    simple: list[SimpleTag]

    @property
    def is_global(self) -> bool:
        return not any(v for values in self.uids.values() for v in values)

    @property
    def scope(self) -> str:
        """"global", or e.g. "track 1234" for a Tag that targets something."""
        if self.is_global:
            return "global"
        return ", ".join(f"{kind} {' '.join(str(v) for v in values if v)}" for kind, values in self.uids.items()
                         if any(values))


class _Count:
    """The SimpleTags parsed so far in one file (``max_structures`` bounds them all together)."""

    def __init__(self) -> None:
        self.n = 0

    def add(self, el: Element) -> None:
        self.n += 1
        if self.n % 1024 == 0:
            check_count(self.n, f"SimpleTags (at {el})")


def _parse_simple(m: BytesSource, el: Element, count: _Count, depth: int = 0) -> SimpleTag:
    if depth > 16:
        raise CorruptFile(f"corrupt: SimpleTags nested more than 16 deep at {el}")
    count.add(el)
    tag = SimpleTag(el, "", None, False)
    for kid in _children(m, el):
        if kid.id == TAG_NAME:
            tag.name = _text(_data(m, kid))
        elif kid.id == TAG_STRING:
            tag.value = _text(_data(m, kid))
        elif kid.id == TAG_BINARY and tag.value is None:
            tag.value, tag.binary = _text(_data(m, kid)), True
        elif kid.id == SIMPLE_TAG:
            tag.nested.append(_parse_simple(m, kid, count, depth + 1))
    return tag


def _parse_tag(m: BytesSource, el: Element, count: _Count) -> Tag:
    tag = Tag(el, None, "", {}, [])
    for kid in _children(m, el):
        if kid.id == TARGETS:
            for t in _children(m, kid):
                if t.id == TARGET_TYPE_VALUE:
                    tag.target_type_value = int.from_bytes(_data(m, t), "big")
                elif t.id == TARGET_TYPE:
                    tag.target_type = _text(_data(m, t))
                elif t.id in TAG_UIDS:
                    tag.uids.setdefault(TAG_UIDS[t.id], []).append(int.from_bytes(_data(m, t), "big"))
        elif kid.id == SIMPLE_TAG:
            tag.simple.append(_parse_simple(m, kid, count))
    return tag


@dataclass
class TagsElement:
    """A Matroska Tags element with its children and parsed tags."""
    element: Element
    m: BytesSource
    children: list[Element]
    tags: list[Tag]

    @property
    def has_crc(self) -> bool:
        return bool(self.children) and self.children[0].id == CRC32


def _same_width(el: Element, payload: bytes) -> bytes:
    """*el* with a new payload, its size field as wide as before when the new size fits it."""
    fits = len(payload) < (1 << (7 * el.size_width)) - 1
    return encode_element(el.id, payload, el.size_width if fits else None)


def _rebuilt_master(m: BytesSource, el: Element, parts: list[bytes], had_crc: bool) -> bytes:
    payload = b"".join(parts)
    return _same_width(el, _with_crc(payload) if had_crc else payload)


def _simple_without_records(m: BytesSource, st: SimpleTag) -> bytes | None:
    """*st* with its nested record SimpleTags removed; ``None`` when nothing changes."""
    if not any(n.is_record() or _simple_without_records(m, n) is not None for n in st.nested):
        return None
    kids = _children(m, st.element)
    nested = {n.element.offset: n for n in st.nested}
    parts = []
    for kid in kids:
        if kid.id == CRC32:
            continue
        n = nested.get(kid.offset)
        if n is not None:
            if n.is_record():
                continue
            new = _simple_without_records(m, n)
            parts.append(new if new is not None else _raw(m, kid))
        else:
            parts.append(_raw(m, kid))
    return _rebuilt_master(m, st.element, parts, bool(kids) and kids[0].id == CRC32)


def _tag_rewritten(m: BytesSource, tag: Tag, record: bytes | None) -> bytes | None:
    """*tag* without record SimpleTags and, with *record* (a SimpleTag element), with it appended;
    ``None`` when nothing changes, ``b""`` when no SimpleTag is left (a Tag needs one)."""
    changed = record is not None
    kids = _children(m, tag.element)
    simple = {st.element.offset: st for st in tag.simple}
    parts: list[bytes] = []
    kept = 0
    for kid in kids:
        if kid.id == CRC32:
            continue
        st = simple.get(kid.offset)
        if st is None:
            parts.append(_raw(m, kid))
            continue
        if st.is_record():
            changed = True
            continue
        new = _simple_without_records(m, st)
        if new is not None:
            changed = True
        parts.append(new if new is not None else _raw(m, kid))
        kept += 1
    if not changed:
        return None
    if record is not None:
        parts.append(record)
        kept += 1
    if not kept:
        return b""
    return _rebuilt_master(m, tag.element, parts, bool(kids) and kids[0].id == CRC32)


def record_simple_tag(record_json: str) -> bytes:
    """``SimpleTag { TagName "AIGC", TagString <json> }`` -- the form ffmpeg writes."""
    return encode_element(SIMPLE_TAG, encode_element(TAG_NAME, RECORD_NAME.encode())
                          + encode_element(TAG_STRING, record_json.encode("utf-8")))


def record_tag(record_json: str) -> bytes:
    """A global ``Tag`` (``TargetTypeValue`` 50, no UIDs) holding only the record."""
    targets = encode_element(TARGETS, encode_element(TARGET_TYPE_VALUE, _uint(50)))
    return encode_element(TAG, targets + record_simple_tag(record_json))


def _tags_payload(all_tags: list[TagsElement], record_json: str) -> bytes:
    """The one Tags element's payload: every Tag of every old Tags element (without records) and the
    record in the first global movie-level Tag (or a new Tag, first)."""
    parts: list[bytes] = []
    record = record_simple_tag(record_json)
    placed = False
    for te in all_tags:
        by_offset = {t.element.offset: t for t in te.tags}
        for kid in te.children:
            if kid.id in (CRC32, VOID):
                continue  # the CRC is recomputed; padding is ours to place
            tag = by_offset.get(kid.offset)
            if tag is None:
                parts.append(_raw(te.m, kid))
                continue
            target = not placed and tag.is_global and tag.target_type_value in (None, 50)
            new = _tag_rewritten(te.m, tag, record if target else None)
            placed = placed or target
            parts.append(new if new is not None else _raw(te.m, kid))
    if not placed:
        parts.insert(0, record_tag(record_json))
    payload = b"".join(parts)
    if any(te.has_crc for te in all_tags):
        payload = _with_crc(payload)
    return payload


# ------------------------------------------------------------------------------------------ the file


@dataclass
class TrackInfo:
    """A Matroska track's type, codec and picture size."""
    type: str
    codec: str
    width: int | None = None
    height: int | None = None


class MatroskaFile:
    """The parsed structure of the first Segment: its level-1 elements (Clusters skipped)."""

    def __init__(self, src: CountingReader) -> None:
        if src.size == 0:
            raise CorruptFile("empty file")
        self.src = src
        head = _header(src, 0, src.size, "the file")
        if head.id != EBML:
            raise CorruptFile("not a Matroska/WebM file: no EBML header")
        if head.unknown:
            raise CorruptFile("corrupt: the EBML header has an unknown size")
        hm = _load(src, head, MAX_SMALL)
        self.doctype = ""
        for kid in _children(hm, head):
            if kid.id == DOCTYPE:
                self.doctype = _text(_data(hm, kid))
        pos = head.end
        while True:
            if pos >= src.size:
                raise CorruptFile("truncated: no Segment element after the EBML header")
            el = _header(src, pos, src.size, "the file")
            if el.id in (VOID, CRC32) and not el.unknown:
                pos = el.end
                continue
            if el.id != SEGMENT:
                raise CorruptFile(f"corrupt: expected a Segment after the EBML header, found {el}")
            break
        self.segment = el
        self.seg_data = el.data_offset
        self.elements: list[Element] = []
        #: where a run of zero bytes ending the Segment starts (some writers pad), else the Segment's end
        self.tail = el.end
        self._walk(src, el)
        self.first_cluster = next((i for i, e in enumerate(self.elements) if e.id == CLUSTER), None)
        self.payload_start = self.elements[self.first_cluster].offset if self.first_cluster is not None else None

    def _walk(self, src: CountingReader, seg: Element) -> None:
        pos, end = seg.data_offset, seg.end
        count = 0
        while pos < end:
            if end - pos < 64:
                rest = src.read_at(pos, end - pos)
                if len(rest) == end - pos and not rest.strip(b"\x00"):
                    self.tail = pos
                    return
            el = _header(src, pos, end, str(seg))
            if el.id == EBML and seg.unknown:
                # a chained Segment follows: ours ends here
                self.segment = Element(seg.id, seg.offset, seg.id_size, seg.size_width, pos - seg.data_offset, True)
                self.tail = pos
                return
            if el.unknown:
                if el.id != CLUSTER:
                    raise CorruptFile(f"corrupt: {el} has an unknown size (only a Segment or a Cluster may)")
                el, count = self._scan_cluster(src, el, end, count)
            self.elements.append(el)
            count += 1
            if count > MAX_ELEMENTS:
                raise CorruptFile(f"corrupt: the Segment holds more than {MAX_ELEMENTS} elements")
            pos = el.end
        self.tail = pos

    @staticmethod
    def _scan_cluster(src: CountingReader, el: Element, end: int, count: int) -> tuple[Element, int]:
        """An unknown-size Cluster ends where an element that cannot be its child begins."""
        pos = el.data_offset
        while pos < end:
            child = _header(src, pos, end, str(el))
            if child.id in LEVEL1 or child.id == EBML:
                break
            if child.unknown:
                raise CorruptFile(f"corrupt: {child} inside the unknown-size {el} has an unknown size too")
            pos = child.end
            count += 1
            if count > MAX_ELEMENTS:
                raise CorruptFile(f"corrupt: the Segment holds more than {MAX_ELEMENTS} elements")
        return Element(el.id, el.offset, el.id_size, el.size_width, pos - el.data_offset, unknown=True), count

    # -- parts ---------------------------------------------------------------------------------------

    def of(self, eid: int) -> list[Element]:
        return [e for e in self.elements if e.id == eid]

    def tags(self) -> list[TagsElement]:
        out = []
        count = _Count()
        for el in self.of(TAGS):
            m = _load(self.src, el)
            kids = _children(m, el)
            out.append(TagsElement(el, m, kids, [_parse_tag(m, k, count) for k in kids if k.id == TAG]))
        return out

    def before_payload(self, offset: int) -> bool | None:
        return None if self.payload_start is None else offset < self.payload_start

    def info(self) -> dict:
        out: dict = {}
        for el in self.of(INFO)[:1]:
            m = _load(self.src, el, MAX_SMALL)
            scale, duration = 1_000_000, None
            for kid in _children(m, el):
                if kid.id == TIMESTAMP_SCALE:
                    scale = int.from_bytes(_data(m, kid), "big") or scale
                elif kid.id == DURATION:
                    duration = _float(_data(m, kid))
                elif kid.id in (MUXING_APP, WRITING_APP):
                    out.setdefault("apps", []).append(_text(_data(m, kid)))
                elif kid.id == TITLE:
                    out["title"] = _text(_data(m, kid))
            if duration is not None:
                out["duration"] = round(duration * scale / 1e9, 6)
        return out

    def tracks(self) -> list[TrackInfo]:
        out = []
        for el in self.of(TRACKS)[:1]:
            m = _load(self.src, el)
            for entry in _children(m, el):
                if entry.id != TRACK_ENTRY:
                    continue
                t = TrackInfo("?", "")
                for kid in _children(m, entry):
                    if kid.id == TRACK_TYPE:
                        t.type = _TRACK_TYPES.get(int.from_bytes(_data(m, kid), "big"), "?")
                    elif kid.id == CODEC_ID:
                        t.codec = _text(_data(m, kid))
                    elif kid.id == VIDEO:
                        for v in _children(m, kid):
                            if v.id == PIXEL_WIDTH:
                                t.width = int.from_bytes(_data(m, v), "big")
                            elif v.id == PIXEL_HEIGHT:
                                t.height = int.from_bytes(_data(m, v), "big")
                out.append(t)
        return out


# ------------------------------------------------------------------------------------------ layout for writing


class _Mapper:
    """Old Segment-relative positions -> new ones, from the level-1 elements' old and new starts."""

    def __init__(self, spans: list[tuple[int, int, int | None]]) -> None:
        # (old start, old end, new start or None when the element is gone/rebuilt)
        self.spans = sorted(spans)
        self.starts = [s for s, _e, _n in self.spans]

    def __call__(self, old: int) -> int:
        i = bisect.bisect_right(self.starts, old) - 1
        if i < 0:
            return old
        start, end, new = self.spans[i]
        if old >= end:  # between elements (a lying position): follow the next element
            return self._next(i + 1, old)
        if new is None:
            return self._next(i + 1, old)
        return new + (old - start)

    def _next(self, i: int, old: int) -> int:
        while i < len(self.spans):
            if self.spans[i][2] is not None:
                return self.spans[i][2]  # type: ignore[return-value]
            i += 1
        last = self.spans[-1] if self.spans else (0, 0, 0)
        return old + ((last[2] or last[0]) - last[0])


def _rewrite_positions(m: BytesSource, el: Element, masters: frozenset[int], leaves: frozenset[int],
                       mapper: Callable[[int], int]) -> bytes | None:
    """*el* with the uint leaves in *leaves* (anywhere under the masters in *masters*) mapped;
    ``None`` when no value changes.  Unchanged children keep their bytes; a value keeps its width
    when it fits; CRC-32 elements of changed masters are recomputed."""
    kids = _children(m, el)
    parts: list[bytes] = []
    changed = False
    for kid in kids:
        if kid.id == CRC32:
            continue
        new: bytes | None = None
        if kid.id in leaves:
            old_value = int.from_bytes(_data(m, kid, MAX_SMALL), "big")
            value = mapper(old_value)
            if value != old_value:
                new = _same_width(kid, _uint(value, kid.data_size))
        elif kid.id in masters:
            new = _rewrite_positions(m, kid, masters, leaves, mapper)
        if new is None:
            parts.append(_raw(m, kid, MAX_CUES))
        else:
            parts.append(new)
            changed = True
    if not changed:
        return None
    return _rebuilt_master(m, el, parts, bool(kids) and kids[0].id == CRC32)


def _seekhead_rewritten(m: BytesSource, el: Element, mapper: Callable[[int], int], tags_at: int,
                        add_tags: bool) -> bytes | None:
    """The SeekHead with positions mapped, its Tags entries pointing at *tags_at* (one entry kept) and,
    with *add_tags*, an entry added when it has none; ``None`` when nothing changes."""
    kids = _children(m, el)
    parts: list[bytes] = []
    changed = False
    tags_seen = False
    tags_id = _id_bytes(TAGS)
    for kid in kids:
        if kid.id == CRC32:
            continue
        if kid.id != SEEK:
            parts.append(_raw(m, kid))
            continue
        fields = _children(m, kid)
        sid = next((_data(m, f, 16) for f in fields if f.id == SEEK_ID), None)
        posf = next((f for f in fields if f.id == SEEK_POSITION), None)
        if posf is None:
            parts.append(_raw(m, kid))
            continue
        old = int.from_bytes(_data(m, posf, 16), "big")
        if sid == tags_id:
            if tags_seen:
                changed = True
                continue
            tags_seen = True
            new = tags_at
        else:
            new = mapper(old)
        if new == old:
            parts.append(_raw(m, kid))
            continue
        changed = True
        body = b"".join(encode_element(SEEK_POSITION, _uint(new, posf.data_size)) if f is posf else _raw(m, f)
                        for f in fields)
        parts.append(encode_element(SEEK, body))
    if add_tags and not tags_seen:
        changed = True
        parts.append(encode_element(SEEK, encode_element(SEEK_ID, tags_id)
                                    + encode_element(SEEK_POSITION, _uint(tags_at))))
    if not changed:
        return None
    return _rebuilt_master(m, el, parts, bool(kids) and kids[0].id == CRC32)


@dataclass
class _Piece:
    """One level-1 item of the new Segment: copied from *source* (with *patches*) or *data*."""

    source: Element | None
    data: bytes | None = None
    patches: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.size  # type: ignore[union-attr]


class _Writer:
    """Plans and writes the new Segment (see the module docstring)."""

    def __init__(self, f: MatroskaFile, record_json: str) -> None:
        self.f = f
        self.src = f.src
        seg = f.segment
        self.rel = lambda el: el.offset - seg.data_offset
        self.all_tags = f.tags()
        self.tags_payload = _tags_payload(self.all_tags, record_json)
        n = len(f.elements) if f.first_cluster is None else f.first_cluster
        self.header = f.elements[:n]
        self.body = f.elements[n:]
        body_end = f.tail
        self.header_len = (self.body[0].offset if self.body else body_end) - seg.data_offset
        self.body_len = body_end - (self.body[0].offset if self.body else body_end)
        self._loaded: dict[int, BytesSource] = {}
        if any(e.id == CRC32 for e in f.elements[:1]):
            raise UnsupportedOperation("the Segment starts with a CRC-32 over all its data; rewriting it is "
                                       "not supported")

    def m(self, el: Element, limit: int = MAX_MASTER) -> BytesSource:
        if el.offset not in self._loaded:
            self._loaded[el.offset] = _load(self.src, el, limit)
        return self._loaded[el.offset]

    # -- the header ----------------------------------------------------------------------------------

    def _header_items(self) -> list[tuple[str, Element | None]]:
        """("keep" | "seekhead" | "cues" | "tags", element) in order; Voids and extra Tags dropped."""
        items: list[tuple[str, Element | None]] = []
        tags_placed = False
        seekhead_seen = False
        for el in self.header:
            if el.id == VOID:
                continue
            if el.id == TAGS:
                if not tags_placed:
                    items.append(("tags", el))
                    tags_placed = True
                continue
            if el.id == SEEKHEAD:
                items.append(("seekhead-main" if not seekhead_seen else "seekhead", el))
                seekhead_seen = True
            elif el.id == CUES:
                items.append(("cues", el))
            else:
                items.append(("keep", el))
        if not tags_placed:
            items.append(("tags", None))
        return items

    @staticmethod
    def _allocate(sizes: list[int], anchors: list[int | None], room: int) -> list[int] | None:
        """New header positions keeping each item at its old place where it can, or None if the items
        do not fit in *room* bytes.  Gaps are 0 or at least 2 bytes (a Void)."""
        total = sum(sizes)
        if total > room:
            return None
        out = []
        p = 0
        after = total
        for size, anchor in zip(sizes, anchors, strict=True):
            after -= size
            latest = room - size - after
            pos = min(max(p, anchor if anchor is not None else p), latest)
            if pos - p == 1:
                pos = p
            if pos < p:
                return None
            out.append(pos)
            p = pos + size
        if room - p == 1:
            return None
        return out

    def plan(self) -> tuple[list[_Piece], int]:
        """The new Segment's level-1 pieces and the new Segment data size.

        Rebuilt elements (SeekHeads, Cues) change size with the positions they hold, and positions
        change with sizes: iterate until the sizes settle (value widths only grow, so they do).
        """
        items = self._header_items()
        tags_extra = 0  # bytes added to the Tags size field (absorbs a 1-byte gap)
        sizes: dict[int, int] = {}  # element offset -> size, for rebuilt header items
        body_sizes: dict[int, int] = {}  # element offset -> size, for rebuilt body items that grew
        natural_width = len(encode_size(len(self.tags_payload)))
        for _round in range(16):
            tags_bytes = encode_element(TAGS, self.tags_payload, natural_width + tags_extra)
            hsizes: list[int] = []
            anchors: list[int | None] = []
            for kind, el in items:
                if kind == "tags":
                    hsizes.append(len(tags_bytes))
                    anchors.append(self.rel(el) if el is not None else None)
                else:
                    assert el is not None
                    hsizes.append(sizes.get(el.offset, el.size))
                    anchors.append(self.rel(el))
            positions = self._allocate(hsizes, anchors, self.header_len)
            if positions is None and sum(hsizes) < self.header_len and tags_extra == 0 and natural_width < 8:
                tags_extra = 1  # only a 1-byte gap is left: a wider Tags size field fills it
                continue
            if positions is not None:
                new_header_len = self.header_len
            else:  # the header grows: pack it, pad it, move the rest
                positions = []
                p = 0
                for s in hsizes:
                    positions.append(p)
                    p += s
                new_header_len = p + self._pad(p)
            spans: list[tuple[int, int, int | None]] = []
            tags_at = 0
            for (kind, el), pos in zip(items, positions, strict=True):
                if kind == "tags":
                    tags_at = pos
                if el is not None:
                    spans.append((self.rel(el), self.rel(el) + el.size, pos))
            kept = {el.offset for _k, el in items if el is not None}
            for el in self.header:
                if el.offset not in kept:  # Voids and merged Tags
                    spans.append((self.rel(el), self.rel(el) + el.size, None))
            p = new_header_len
            for el in self.body:
                spans.append((self.rel(el), self.rel(el) + el.size, p))
                p += body_sizes.get(el.offset, el.size)
            seg_len = p + (self.f.segment.end - self.f.tail)
            mapper = _Mapper(spans)
            new_sizes: dict[int, int] = {}
            rebuilt: dict[int, bytes] = {}
            for kind, el in items:
                if el is None or kind in ("keep", "tags"):
                    continue
                data = self._rebuild(kind, el, mapper, tags_at)
                if data is not None:
                    rebuilt[el.offset] = data
                    new_sizes[el.offset] = len(data)
            new_body: dict[int, int] = {}
            for el in self.body:
                if el.id not in (SEEKHEAD, CUES):
                    continue
                data = self._rebuild("seekhead" if el.id == SEEKHEAD else "cues", el, mapper, tags_at)
                if data is None:
                    continue
                fitted = _fit(el.id, data[self._hdr_len(data):], el.size)
                rebuilt[el.offset] = fitted if fitted is not None else data
                if fitted is None:
                    new_body[el.offset] = len(data)
            same_header = all(new_sizes.get(el.offset, el.size) == sizes.get(el.offset, el.size)
                              for _k, el in items if el is not None)
            if same_header and new_body == body_sizes:
                return self._pieces(items, positions, new_header_len, tags_bytes, rebuilt, mapper), seg_len
            sizes, body_sizes = new_sizes, new_body
        raise UnsupportedOperation("internal error: the new Matroska layout did not settle; file left unchanged")

    @staticmethod
    def _hdr_len(data: bytes) -> int:
        _id, n, _ = read_vint(data, 0, "a rebuilt element", is_id=True)
        _size, w, _ = read_vint(data, n, "a rebuilt element")
        return n + w

    def _pad(self, essential: int) -> int:
        """Void bytes after a grown header: at least SLACK; the shift aligned for large files."""
        pad = SLACK
        if self.body_len >= ALIGN_FROM:
            shift = essential + pad - self.header_len
            pad += -shift % SHIFT_ALIGN
        return pad

    def _rebuild(self, kind: str, el: Element, mapper: Callable[[int], int], tags_at: int) -> bytes | None:
        if kind.startswith("seekhead"):
            return _seekhead_rewritten(self.m(el, MAX_SMALL), el, mapper, tags_at, kind == "seekhead-main")
        m = self.m(el, MAX_CUES)
        return _rewrite_positions(m, el, frozenset({CUE_POINT, CUE_TRACK_POSITIONS, CUE_REFERENCE}),
                                  CUE_POSITIONS, mapper)

    def _pieces(self, items: list[tuple[str, Element | None]], positions: list[int], header_len: int,
                tags_bytes: bytes, rebuilt: dict[int, bytes], mapper: _Mapper) -> list[_Piece]:
        pieces: list[_Piece] = []
        p = 0
        for (kind, el), pos in zip(items, positions, strict=True):
            if pos > p:
                pieces.append(_Piece(None, _void(pos - p)))
            if kind == "tags":
                pieces.append(_Piece(el, tags_bytes))
            elif el is not None and el.offset in rebuilt:
                pieces.append(_Piece(el, rebuilt[el.offset]))
            else:
                pieces.append(_Piece(el))
            p = pos + pieces[-1].size
        if header_len > p:
            pieces.append(_Piece(None, _void(header_len - p)))
        for el in self.body:
            if el.id == TAGS:
                pieces.append(_Piece(el, _void(el.size)))
            elif el.offset in rebuilt:
                pieces.append(_Piece(el, rebuilt[el.offset]))
            elif el.id == CLUSTER:
                pieces.append(self._cluster(el, mapper))
            else:
                pieces.append(_Piece(el))
        return pieces

    def _cluster(self, el: Element, mapper: _Mapper) -> _Piece:
        """A Cluster whose optional Position element is patched when it moved."""
        rel = self.rel(el)
        new = mapper(rel)
        if new == rel:
            return _Piece(el)
        head = BytesSource(self.src.read_at(el.data_offset, min(el.data_size, 256)), el.data_offset)
        pos, end = el.data_offset, el.data_offset + len(head.data)
        crc_at = None
        patches: list[tuple[int, bytes]] = []
        while pos + 2 <= end:
            try:
                kid = _header(head, pos, el.end, str(el))
            except CorruptFile:
                break
            if kid.id in _BLOCKS:
                break
            if kid.id == CRC32 and pos == el.data_offset and kid.data_size == 4:
                crc_at = kid.data_offset
            elif kid.id == CLUSTER_POSITION:
                value = _uint(new, kid.data_size)
                if len(value) != kid.data_size:
                    raise UnsupportedOperation(f"the Position field of {el} is too narrow for its new value; "
                                               "not supported")
                patches.append((kid.data_offset, value))
            pos = kid.end
        if patches and crc_at is not None:
            data = bytearray(_data(self.src, el, MAX_CLUSTER))
            for off, value in patches:
                data[off - el.data_offset:off - el.data_offset + len(value)] = value
            crc = struct.pack("<I", zlib.crc32(bytes(data[crc_at + 4 - el.data_offset:])))
            patches.append((crc_at, crc))
            patches.sort()
        return _Piece(el, None, patches)

    # -- output --------------------------------------------------------------------------------------

    def write(self, dst: BinaryIO) -> None:
        f = self.f
        if self.src.read_at(f.segment.end, 4) == _id_bytes(EBML):
            raise UnsupportedOperation("the file holds several Segments (chained Matroska); writing it is not "
                                       "supported")
        pieces, seg_len = self.plan()
        seg = f.segment
        src = self.src
        src.seek(0)
        src.copy_to(dst, seg.offset)
        if seg.unknown:
            size_field = src.read_at(seg.offset + seg.id_size, seg.size_width)
        else:
            width = seg.size_width if seg_len < (1 << (7 * seg.size_width)) - 1 else None
            size_field = encode_size(seg_len, width)
        dst.write(_id_bytes(SEGMENT) + size_field)
        run: list[int] = []  # [start, end) of adjacent copied elements
        patches: list[tuple[int, bytes]] = []
        for piece in pieces:
            if piece.data is None:
                el = piece.source
                assert el is not None
                if run and run[1] == el.offset:
                    run[1] = el.end
                else:
                    if run:
                        copy_with_patches(src, dst, run[0], run[1], patches)
                    run = [el.offset, el.end]
                patches += piece.patches
                continue
            if run:
                copy_with_patches(src, dst, run[0], run[1], patches)
                run, patches = [], []
            dst.write(piece.data)
        if run:
            copy_with_patches(src, dst, run[0], run[1], patches)
        # a zero tail inside the Segment, then whatever follows the Segment, as it was
        if f.tail < src.size:
            src.seek(f.tail)
            src.copy_to(dst, src.size - f.tail)


# ------------------------------------------------------------------------------------------ handlers


def _doctype(head: bytes) -> str | None:
    """The DocType in the EBML header at the start of *head*, when it lies within it."""
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    try:
        size, width, _ = read_vint(head, 4, "the EBML header")
    except CorruptFile:
        return None
    pos, end = 4 + width, min(len(head), 4 + width + size)
    while pos < end:
        try:
            eid, n, _ = read_vint(head, pos, "the EBML header", is_id=True)
            length, w, unknown = read_vint(head, pos + n, "the EBML header")
        except CorruptFile:
            return None
        if unknown:
            return None
        if eid == DOCTYPE:
            data = head[pos + n + w:pos + n + w + length]
            return data.decode("latin-1") if len(data) == length else None
        pos += n + w + length
    return None


class _MatroskaHandler(FormatHandler):
    normative_carrier = "matroska:Tags/SimpleTag:AIGC"
    can_write = True
    _doctypes: tuple[str, ...] = ()

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:4] != b"\x1a\x45\xdf\xa3":
            return 0
        doctype = _doctype(head)
        if doctype in cls._doctypes:
            return 100
        if doctype in ("matroska", "webm"):
            return 0
        # an EBML file whose DocType lies beyond the first bytes, or another one: the generic handler tries
        return 40 if cls.name == "mkv" else 0

    def read(self, src: CountingReader) -> Evidence:
        f = MatroskaFile(src)
        tracks = f.tracks()
        types = {t.type for t in tracks}
        kind = "video" if "video" in types else "audio" if "audio" in types else self.kind
        ev = Evidence(self.name, kind)
        info = ev.info
        info["container"] = "webm" if f.doctype == "webm" else "matroska"
        info["doctype"] = f.doctype
        meta = f.info()
        if "duration" in meta:
            info["duration"] = meta["duration"]
        info["tracks"] = [t.type for t in tracks]
        info["codecs"] = [t.codec for t in tracks]
        video = next((t for t in tracks if t.type == "video" and t.width and t.height), None)
        if video is not None:
            info["width"], info["height"] = video.width, video.height
        info["seekhead"] = bool(f.of(SEEKHEAD))
        info["cues"] = bool(f.of(CUES))
        info["unknown_sizes"] = f.segment.unknown or any(e.unknown for e in f.elements)
        tags = f.tags()
        if tags:
            info["tags_before_media"] = all(f.before_payload(t.element.offset) is not False for t in tags)
        for app in meta.get("apps", []):
            if t := audio_generator_trace(app, "Info MuxingApp/WritingApp"):
                ev.traces.append(t)
        for te in tags:
            for i, tag in enumerate(te.tags, 1):
                where = f"{te.element}, Tag #{i} ({tag.scope})"
                for st in tag.simple:
                    self._simple(ev, f, te, tag, st, where, ())
        return ev

    def _simple(self, ev: Evidence, f: MatroskaFile, te: TagsElement, tag: Tag, st: SimpleTag, where: str,
                path: tuple[str, ...]) -> None:
        name_path = "/".join((*path, st.name))
        loc = f"{where}, SimpleTag {name_path!r}"
        before = f.before_payload(te.element.offset)
        if st.is_record() and st.value is not None:
            normative = (st.name == RECORD_NAME and not path and tag.is_global and not st.binary
                         and tag.target_type_value in (None, 50))
            if normative:
                carrier = self.normative_carrier
            else:
                carrier = f"matroska:Tags/SimpleTag:{name_path}"
                if not tag.is_global:
                    carrier += f" ({tag.scope.split(' ')[0]} target)"
                elif tag.target_type_value not in (None, 50):
                    carrier += f" (TargetTypeValue {tag.target_type_value})"
                if st.binary:
                    carrier += " (TagBinary)"
            ev.labels.append(found_label(carrier, loc, st.value, normative=normative, offset=st.element.offset,
                                         before_payload=before))
        elif st.value is not None and any(w in st.name.upper() for w in _TRACE_NAMES):
            if t := audio_generator_trace(st.value, loc):
                ev.traces.append(t)
        for nested in st.nested:
            self._simple(ev, f, te, tag, nested, where, (*path, st.name))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        f = MatroskaFile(src)
        _Writer(f, label.record_json).write(dst)

    def video_access(self, src: CountingReader) -> VideoAccess:
        muxer = "webm" if self.name == "webm" else "matroska"
        return VideoAccess(src, self.name, lambda _src: Remux(muxer))


class MkvHandler(_MatroskaHandler):
    """Matroska video (and audio-only .mka): DocType ``matroska``."""

    name = "mkv"
    kind = "video"
    mime = "video/x-matroska"
    extensions = (".mkv", ".mka", ".mk3d")
    _doctypes = ("matroska",)


class WebmHandler(_MatroskaHandler):
    """WebM (VP8/VP9/AV1 with Vorbis/Opus in Matroska): DocType ``webm``."""

    name = "webm"
    kind = "video"
    mime = "video/webm"
    extensions = (".webm",)
    _doctypes = ("webm",)


def iter_elements(data: bytes, start: int = 0, end: int | None = None) -> Iterable[tuple[int, int, int, int]]:
    """(id, offset, header size, data size) of the elements in ``data[start:end]`` -- a small walker for
    tests and tools (unknown sizes run to *end*)."""
    end = len(data) if end is None else end
    src = BytesSource(data, 0)
    pos = start
    while pos < end:
        el = _header(src, pos, end, "the buffer")
        yield el.id, el.offset, el.header_size, el.data_size
        pos = el.end
