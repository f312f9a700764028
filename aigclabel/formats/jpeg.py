"""JPEG: the record lives in an APP1 XMP segment (GB 45438 / TC260 image guide).

Segments are walked by their length fields; entropy-coded data after SOS is never decoded,
only copied.  Also read: EXIF UserComment / ImageDescription JSON, raw ``AIGC{...}`` APPn blobs
and comment segments.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO, NamedTuple

from .._c2pa_scan import C2PA_UUID, STORE_INFO
from .._io import COPY_ALIGN, CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import FoundLabel, Trace
from ._exif import TiffDirectory, blank_entry
from ._image_meta import (build_xmp, evidence_from_exif, exif_record_entries, found_label, looks_like_record,
                          xmp_evidence)
from ._xmp import XmpPacket
from .base import Evidence, FormatHandler, ImplicitLabel

XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_XMP_ID = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_ID = b"Exif\x00\x00"
MAX_SEGMENT_PAYLOAD = 65533  # 0xFFFF minus the two length bytes
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}
SOS, EOI = 0xDA, 0xD9
#: bytes of the tail inspected for an end-of-image marker when the file does not end in one
_TAIL_WINDOW = 1 << 16
#: comment segments up to this size are read to look for a record (a record is a few hundred bytes)
_MAX_COMMENT = 4096
APP11 = 0xEB
#: bytes of an APP11 payload that hold a JUMBF store's description box, and so its UUID (the 8-byte JPEG
#: extension header, the superbox header of 8 or 16 bytes, the description box header, then the UUID)
_JUMBF_HEAD = 64


class Segment(NamedTuple):
    """A JPEG marker segment: marker, offset and payload length."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)
    marker: int
    offset: int  # offset of the 0xFF marker byte
    length: int  # payload length (without marker and length field)

    @property
    def payload_offset(self) -> int:
        return self.offset + 4


#: bytes of the header read at a time (a page: the kernel reads at least that much anyway)
_HEADER_PAGE = 4096


def walk_header(src: CountingReader) -> tuple[list[Segment], int]:
    """Segments up to (not including) SOS, reading only marker and length bytes; returns SOS offset."""
    # Headers are read a page at a time: the small segments that follow one another (DQT, SOF, DHT, APP0) are
    # then found in one read instead of one each (17 reads of a typical camera JPEG's header became 2-4), and a
    # segment's header outside the page (past a long EXIF block) starts the next page.
    window = src.pread(0, _HEADER_PAGE)
    base = 0
    if window[:2] != b"\xff\xd8":
        raise CorruptFile("not a JPEG (no SOI marker)")
    segments: list[Segment] = []
    pos = 2
    while True:
        off = pos - base
        if off + 4 > len(window):
            window, base, off = src.pread(pos, _HEADER_PAGE), pos, 0
        b = window[off:off + 4]  # the marker and the length
        if len(b) < 2:
            raise CorruptFile("truncated: file ends before the image data (no SOS marker)")
        if b[0] != 0xFF:
            raise CorruptFile(f"corrupt: expected a marker at offset {pos}, found 0x{b[0]:02X}")
        marker = b[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if marker == EOI:
            raise CorruptFile("corrupt: end-of-image marker before any image data")
        if marker == SOS:
            return segments, pos
        lb = b[2:4]
        if len(lb) < 2:
            raise CorruptFile(f"truncated: file ends inside the segment at offset {pos}")
        (length,) = struct.unpack(">H", lb)
        if length < 2 or pos + 2 + length > src.size:
            raise CorruptFile(f"truncated: segment 0x{marker:02X} at offset {pos} claims {length} bytes, "
                              "beyond the end of the file")
        segments.append(Segment(marker, pos, length - 2))
        pos += 2 + length


def _check_tail(src: CountingReader, sos: int) -> None:
    """A JPEG must end with EOI (possibly followed by a trailer); detect truncated scans cheaply.

    The usual file ends in EOI (2 bytes read) or has a short trailer (the last 64 KiB hold EOI).  A
    trailer longer than that -- the MP4 of a Google or Samsung Motion Photo, a maker's trailer -- is
    no reason to call the file truncated: then the image data is scanned forward for its EOI.  Inside
    entropy-coded data every 0xFF is stuffed (FF 00) or starts a marker, so the first FF D9 found is
    the real end of the image.
    """
    if src.size - sos < 4:
        raise CorruptFile("truncated: no image data after the SOS marker")
    if src.pread(src.size - 2, 2) == b"\xff\xd9":
        return
    start = max(sos, src.size - _TAIL_WINDOW)
    if b"\xff\xd9" in src.pread(start, src.size - start):
        return
    if start == sos or not _has_eoi(src, sos, start + 1):
        raise CorruptFile("truncated: the image data has no end-of-image marker")


def _has_eoi(src: CountingReader, begin: int, end: int, block: int = 1 << 20) -> bool:
    """Whether FF D9 occurs in src[begin:end], read in bounded blocks (a pair may straddle two)."""
    pos, carry = begin, b""
    while pos < end:
        data = carry + src.pread(pos, min(block, end - pos))
        if not data[len(carry):]:
            return False
        if b"\xff\xd9" in data:
            return True
        pos += len(data) - len(carry)
        carry = data[-1:]
    return False


def _may_hold_blob(seg: Segment) -> bool:
    """APPn segments and (small) comments are where raw ``AIGC{...}`` records turn up."""
    return 0xE0 <= seg.marker <= 0xEF or (seg.marker == 0xFE and seg.length <= _MAX_COMMENT)


def _blob_text(marker: int, payload: bytes) -> str | None:
    """The record text of a raw-blob segment, or None when the segment holds no record.

    Reading and writing share this test, so whatever :meth:`JpegHandler.read` reports as a record is
    exactly what :meth:`JpegHandler.write_metadata` replaces (an APPn payload starting ``AIGC``, or a
    comment that *is* a record, not one that merely mentions AIGC).
    """
    if payload[:4] != b"AIGC" and marker != 0xFE:
        return None
    text = payload.decode("utf-8", "replace").rstrip("\x00")
    if payload[:4] == b"AIGC" or looks_like_record(text):
        return text
    return None


def pad_packet(packet: bytes, pad: int) -> bytes:
    """*packet* with *pad* more bytes of whitespace before its ``<?xpacket end?>`` (unchanged without one).

    XMP (Part 1, 7.3.2) allows any whitespace there; marking pads so the image data after the packet moves by a
    multiple of :data:`~aigclabel._io.COPY_ALIGN` and the kernel copies it at full speed.
    """
    end = packet.rfind(b"<?xpacket end=")
    if pad <= 0 or end < 0:
        return packet
    return packet[:end] + b" " * pad + packet[end:]


def _app_name(marker: int) -> str:
    return f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else ("COM" if marker == 0xFE else f"0x{marker:02X}")


class JpegHandler(FormatHandler):
    name = "jpeg"
    kind = "image"
    mime = "image/jpeg"
    extensions = (".jpg", ".jpeg", ".jpe", ".jfif")
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True
    #: read() walks every segment before the image data, where C2PA keeps its store (APP11 JUMBF segments)
    c2pa_store_read = True
    _walked: tuple[CountingReader, int, list[Segment], int] | None = None
    #: the XMP packet the last read() parsed: (source, segment offset, packet or None)
    _xmp_read: tuple[CountingReader, int, XmpPacket | None] | None = None
    #: the EXIF block the last read() parsed: (segment offset, block, its evidence)
    _exif_seen: tuple[int, bytes, tuple[list[FoundLabel], list[Trace], list]] | None = None

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:3] == b"\xff\xd8\xff":
            return 90
        return 0

    def _header(self, src: CountingReader) -> tuple[list[Segment], int]:
        """The segments and SOS offset of *src*, its tail checked; walked once per source (marking reads the
        file, then writes it: the second walk and tail check were a tenth of a 12 MP mark)."""
        cached = self._walked
        if cached is not None and cached[0] is src and cached[1] == src.size:
            return list(cached[2]), cached[3]
        segments, sos = walk_header(src)
        _check_tail(src, sos)
        self._walked = (src, src.size, segments, sos)  # the source itself, not its id: an id can be reused
        return list(segments), sos

    def read(self, src: CountingReader) -> Evidence:
        segments, sos = self._header(src)
        ev = Evidence(self.name, self.kind)
        self._xmp_read = None
        for seg in segments:
            marker = seg.marker
            if marker in _SOF and seg.length >= 5:
                h, w = struct.unpack(">HH", src.pread(seg.payload_offset + 1, 4))
                ev.info.update(width=w, height=h)
                continue
            if marker == APP11 and STORE_INFO not in ev.info \
                    and C2PA_UUID in src.pread(seg.payload_offset, min(seg.length, _JUMBF_HEAD)):
                ev.info[STORE_INFO] = seg.offset
                continue
            if marker == 0xE1:
                # one read for the whole segment (at most 64 KiB): APP1 is XMP or EXIF, read whole anyway
                payload = src.pread(seg.payload_offset, seg.length)
                if payload.startswith(XMP_ID):
                    found, parsed = xmp_evidence(payload[len(XMP_ID):], f"APP1 XMP segment at offset {seg.offset}",
                                                 offset=seg.offset, before_payload=True)
                    self._add(ev, found)
                    # handed to write_metadata, which merges into this parse instead of parsing the packet again
                    self._xmp_read = (src, seg.offset, parsed)
                    continue
                if payload.startswith(EXIF_ID):
                    self._add(ev, self._exif_evidence(payload[6:], seg.offset))
                    continue
                if payload.startswith(EXT_XMP_ID):
                    ev.traces.append(Trace("extended-xmp", "ExtendedXMP segment present (not read)",
                                           f"{_app_name(marker)} segment at offset {seg.offset}"))
                    continue
                head = payload[:4]
            elif _may_hold_blob(seg):
                head = src.pread(seg.payload_offset, min(seg.length, 4))  # peek first: APP2 ICC runs to 64 KiB
            else:
                continue
            # Raw "AIGC{...}" blobs in any APPn (APP1 included) or a comment.
            if head == b"AIGC" or marker == 0xFE:
                text = _blob_text(marker, src.pread(seg.payload_offset, seg.length))
                if text is not None:
                    ev.labels.append(found_label(f"jpeg:{_app_name(marker)}",
                                                 f"{_app_name(marker)} segment at offset {seg.offset}", text,
                                                 normative=False, offset=seg.offset, before_payload=True))
        return ev

    def _exif_evidence(self, block: bytes, offset: int) -> tuple[list[FoundLabel], list[Trace], list]:
        """Evidence of one EXIF block, remembered for the next call: marking reads the source, then reads back
        the output, whose EXIF block is the same bytes at the same offset (parsed once, not twice)."""
        seen = self._exif_seen
        if seen is not None and seen[0] == offset and seen[1] == block:
            labels, traces, findings = seen[2]
        else:
            labels, traces, findings = evidence_from_exif(block, f"APP1 EXIF segment at offset {offset}",
                                                          offset=offset, before_payload=True)
            self._exif_seen = (offset, block, (labels, traces, findings))
        return list(labels), list(traces), list(findings)

    @staticmethod
    def _add(ev: Evidence, found: tuple[list[FoundLabel], list[Trace], list]) -> None:
        labels, traces, findings = found
        ev.labels += labels
        ev.traces += traces
        ev.findings += findings

    def _exif_may_hold_record(self, offset: int, block: bytes) -> bool:
        """False when read() parsed this very EXIF block and found no record in it: nothing to blank there."""
        seen = self._exif_seen
        return seen is None or seen[0] != offset or bool(seen[2][0]) or seen[1] != block

    def image_access(self, src: CountingReader) -> Any:
        """The picture for the explicit step and the image rule (structure and declared sizes checked first)."""
        from .media_image import JpegAccess, read_all

        return JpegAccess(read_all(src))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        segments, sos = self._header(src)
        xmp_segments: list[Segment] = []
        out: list[bytes] = [b"\xff\xd8"]
        insert_at: int | None = None  # index in `out` where a new XMP segment goes
        leading = True  # still in the leading APP0/Exif-APP1 run
        existing_xmp: bytes | None = None
        xmp_index: int | None = None
        parsed: XmpPacket | None = None
        for seg in segments:
            raw = src.pread(seg.offset, 4 + seg.length)
            payload = raw[4:]
            if seg.marker == 0xE1 and payload.startswith(XMP_ID):
                if existing_xmp is None:
                    existing_xmp = payload[len(XMP_ID):]
                    xmp_index = len(out)
                    read = self._xmp_read
                    if read is not None and read[0] is src and read[1] == seg.offset:
                        parsed, self._xmp_read = read[2], None  # merged into below: usable once
                    out.append(b"")  # placeholder, filled below
                # a second standard XMP segment is invalid; its properties are folded into nothing
                # here, so refuse rather than lose them
                else:
                    raise CorruptFile("two standard XMP segments; refusing to guess which to keep")
                xmp_segments.append(seg)
                leading = False
                continue
            if _may_hold_blob(seg) and _blob_text(seg.marker, payload) is not None:
                continue  # an old raw record blob: replaced by the XMP record (never two records)
            if seg.marker == 0xE1 and payload.startswith(EXIF_ID) and self._exif_may_hold_record(seg.offset,
                                                                                               payload[6:]):
                block = bytearray(payload[6:])
                try:
                    directory = TiffDirectory(block)
                except CorruptFile:
                    directory = None
                if directory is not None:
                    old = exif_record_entries(directory)
                    for entry in old:
                        blank_entry(block, entry)  # same length: no EXIF offset moves
                    if old:
                        raw = raw[:4] + EXIF_ID + bytes(block)
            if leading and not (seg.marker == 0xE0 or (seg.marker == 0xE1 and payload.startswith(EXIF_ID))):
                leading = False
                insert_at = len(out)
            out.append(raw)
        packet = build_xmp(existing_xmp, label, parsed)
        if len(XMP_ID + packet) > MAX_SEGMENT_PAYLOAD:
            raise UnsupportedOperation(
                f"the XMP packet would be {len(packet)} bytes, more than one APP1 segment holds "
                "(ExtendedXMP is not written); file left unchanged")
        others = sum(len(part) for part in out)
        shift = others + 4 + len(XMP_ID) + len(packet) - sos
        packet = pad_packet(packet, min(-shift % COPY_ALIGN, MAX_SEGMENT_PAYLOAD - len(XMP_ID) - len(packet)))
        body = XMP_ID + packet
        segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
        if xmp_index is not None:
            out[xmp_index] = segment
        else:
            out.insert(insert_at if insert_at is not None else len(out), segment)
        for part in out:
            dst.write(part)
        src.seek(sos)
        src.copy_to(dst)
