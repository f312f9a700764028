"""WebP: the record lives in the ``XMP `` RIFF chunk, announced by the VP8X header's XMP flag.

The RIFF chunks are walked by their size fields (every chunk is a four-character code, a
little-endian size and the payload, padded to an even length).  Reading looks only at the chunk
headers, the VP8X header and the metadata chunks (``XMP ``, ``EXIF``); bitstreams and animation
frames are never read, let alone decoded.  Writing merges the record into the existing XMP packet
(or adds a chunk at the place the container order gives it: after VP8X, ICCP, ANIM/ANMF or
ALPH + VP8/VP8L, and EXIF), sets the XMP flag, blanks an old EXIF record in place, copies every other
chunk byte for byte and fixes the RIFF size.  A simple file (a lone ``VP8 `` or ``VP8L`` chunk)
has no header to carry the flag, so it is converted to the extended layout with a VP8X chunk
synthesised from the bitstream's own dimensions and alpha bit.

The WebP container fixes the metadata chunks *after* the image data, so a label here has no
"before the payload" position to check (``before_payload`` stays unknown).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Union

from .._c2pa_scan import STORE_INFO, note_xmp
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, Level
from ._exif import TiffDirectory, blank_entry
from ._image_meta import build_xmp, evidence_from_exif, evidence_from_xmp, exif_record_entries
from ._riff import iff_chunk
from ._xmp import MAX_PACKET_SIZE
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable

__all__ = ["WebpHandler", "bitstream_info"]

VP8X, ICCP, ANIM, ANMF, ALPH = b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH"
VP8, VP8L, EXIF, XMP = b"VP8 ", b"VP8L", b"EXIF", b"XMP "
C2PA = b"C2PA"  # the chunk c2pa-rs puts its manifest store in
#: VP8X flag bits (WebP container specification)
FLAG_ANIMATION, FLAG_XMP, FLAG_EXIF, FLAG_ALPHA, FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
#: chunks that precede ``XMP `` in the container order; unknown chunks may follow it
_BEFORE_XMP = {VP8X, ICCP, ANIM, ANMF, ALPH, VP8, VP8L, EXIF}
_IMAGE = {VP8, VP8L, ANMF}
#: some writers (old ImageMagick, some phones) prefix the EXIF chunk with the JPEG APP1 identifier
_EXIF_ID = b"Exif\x00\x00"
_MAX_RIFF = 0xFFFFFFFF - 1  # the RIFF size is a u32 and must stay even
_VP8_START = b"\x9d\x01\x2a"


@dataclass
class Chunk:
    """A WebP chunk's code, offset, payload size and whether its pad byte is there."""
    fourcc: bytes
    offset: int  # offset of the four-character code
    size: int  # payload size (without the header and the pad byte)
    padded: bool = True  # False only for a last chunk whose pad byte the file lacks

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 8 + self.size + (self.size & 1 if self.padded else 0)

    @property
    def name(self) -> str:
        return self.fourcc.decode("latin-1")

    def where(self) -> str:
        return f"{self.name.strip()} chunk at offset {self.offset}"


def _walk(src: CountingReader) -> tuple[list[Chunk], int]:
    """Every top-level chunk (headers only) and the offset where the RIFF form ends."""
    src.seek(0)
    head = src.read(12)
    if len(head) < 12:
        if head[:4] == b"RIFF":
            raise CorruptFile("truncated: file ends inside the RIFF header")
        raise CorruptFile("not a WebP (no RIFF/WEBP header)")
    riff, riff_size, form = struct.unpack("<4sI4s", head)
    if riff != b"RIFF" or form != b"WEBP":
        raise CorruptFile("not a WebP (no RIFF/WEBP header)")
    riff_end = 8 + riff_size
    if riff_size < 4:
        raise CorruptFile(f"corrupt: RIFF size {riff_size} is smaller than its own form type")
    if riff_end > src.size:
        raise CorruptFile(f"truncated: the RIFF header claims {riff_end} bytes, the file has {src.size}")
    chunks: list[Chunk] = []
    pos = 12
    while pos < riff_end:
        if pos + 8 > riff_end:
            raise CorruptFile(f"corrupt: {riff_end - pos} stray bytes at offset {pos}, too few for a chunk header")
        fourcc, size = struct.unpack("<4sI", src.read_at(pos, 8))
        if not all(0x20 <= c <= 0x7E for c in fourcc):
            raise CorruptFile(f"corrupt: bad chunk name {fourcc!r} at offset {pos}")
        chunk = Chunk(fourcc, pos, size)
        if chunk.data_offset + size > riff_end:
            raise CorruptFile(f"truncated: chunk {fourcc.decode('latin-1')!r} at offset {pos} claims {size} "
                              f"bytes, beyond the end of the RIFF form at {riff_end}")
        if chunk.end > riff_end:
            # the final pad byte is missing; readers cope, and the writer adds it back
            chunk.padded = False
        chunks.append(chunk)
        pos = chunk.end
    if not chunks:
        raise CorruptFile("corrupt: the WebP holds no chunks")
    first = chunks[0].fourcc
    if first not in (VP8X, VP8, VP8L):
        raise CorruptFile(f"corrupt: a WebP must start with a VP8X, VP8 or VP8L chunk, not {first!r}")
    if not any(c.fourcc in _IMAGE for c in chunks):
        raise CorruptFile("corrupt: the WebP holds no image data (no VP8, VP8L or ANMF chunk)")
    if sum(c.fourcc == VP8X for c in chunks) > 1:
        raise CorruptFile("corrupt: more than one VP8X chunk")
    return chunks, riff_end


def bitstream_info(fourcc: bytes, data: bytes) -> tuple[int, int, bool]:
    """(width, height, has_alpha) from the first bytes of a ``VP8 `` or ``VP8L`` bitstream.

    VP8 (RFC 6386 9.1): a 3-byte frame tag whose low bit is 0 for a key frame, the start code
    ``9D 01 2A``, then 16-bit little-endian width and height whose top two bits are a scale.
    VP8L: the signature byte 0x2F, then 14 bits width - 1, 14 bits height - 1, the alpha_is_used
    bit and a 3-bit version that must be 0.
    """
    if fourcc == VP8:
        if len(data) < 10:
            raise CorruptFile("truncated: VP8 bitstream too short for a frame header")
        if data[0] & 1:
            raise CorruptFile("corrupt: the VP8 bitstream does not start with a key frame")
        if data[3:6] != _VP8_START:
            raise CorruptFile("corrupt: the VP8 bitstream lacks the 9D 01 2A start code")
        w, h = struct.unpack("<HH", data[6:10])
        w, h = w & 0x3FFF, h & 0x3FFF
        if not w or not h:
            raise CorruptFile("corrupt: the VP8 frame header gives a zero width or height")
        return w, h, False
    if fourcc == VP8L:
        if len(data) < 5:
            raise CorruptFile("truncated: VP8L bitstream too short for its header")
        if data[0] != 0x2F:
            raise CorruptFile("corrupt: the VP8L bitstream lacks the 0x2F signature")
        (bits,) = struct.unpack("<I", data[1:5])
        if bits >> 29:
            raise CorruptFile(f"corrupt: unknown VP8L version {bits >> 29}")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ValueError(fourcc)


def _canvas(data: bytes) -> tuple[int, int]:
    return 1 + int.from_bytes(data[4:7], "little"), 1 + int.from_bytes(data[7:10], "little")


def _read_vp8x(src: CountingReader, chunk: Chunk) -> bytes:
    if chunk.size < 10:
        raise CorruptFile(f"corrupt: VP8X chunk of {chunk.size} bytes (10 expected)")
    return src.read_at(chunk.data_offset, chunk.size)


def _exif_block(data: bytes) -> tuple[bytes, int]:
    """The TIFF-structured part of an EXIF chunk and where it starts in the payload."""
    return (data[len(_EXIF_ID):], len(_EXIF_ID)) if data.startswith(_EXIF_ID) else (data, 0)


def _blank_exif_record(data: bytes) -> bytes | None:
    """The EXIF payload with any AIGC record blanked in place, or None when it holds none."""
    block, start = _exif_block(data)
    tiff = bytearray(block)
    try:
        old = exif_record_entries(TiffDirectory(tiff))
    except CorruptFile:
        return None  # an unreadable EXIF block is copied as it is
    for entry in old:
        blank_entry(tiff, entry)  # same length: no EXIF offset moves
    return data[:start] + bytes(tiff) if old else None


#: a piece of output: bytes to write, or (offset, length) of source bytes to copy
_Part = Union[bytes, tuple[int, int]]


class WebpHandler(FormatHandler):
    name = "webp"
    kind = "image"
    mime = "image/webp"
    extensions = (".webp",)
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True
    c2pa_manifest_read = True  # C2PA keeps its store in a top-level C2PA chunk, a remote reference in XMP

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return 100
        if head[:4] == b"RIFF" and len(head) < 12 and b"WEBP".startswith(head[8:]):
            return 10  # a file cut inside the RIFF header: claim it to report it as truncated
        return 0

    def read(self, src: CountingReader) -> Evidence:
        chunks, _riff_end = _walk(src)
        ev = Evidence(self.name, self.kind)
        first = chunks[0]
        flags = 0
        if first.fourcc == VP8X:
            vp8x = _read_vp8x(src, first)
            flags = vp8x[0]
            width, height = _canvas(vp8x)
            alpha = bool(flags & FLAG_ALPHA)
            layout = "extended"
        else:
            width, height, alpha = bitstream_info(first.fourcc, src.read_at(first.data_offset, min(first.size, 10)))
            layout = "simple"
        ev.info.update(width=width, height=height, alpha=alpha, animated=bool(flags & FLAG_ANIMATION),
                       layout=layout)
        for chunk in chunks:
            if chunk.fourcc == C2PA:
                ev.info.setdefault(STORE_INFO, chunk.offset)
            if chunk.fourcc not in (XMP, EXIF):
                continue
            where = chunk.where()
            if chunk.size > MAX_PACKET_SIZE:
                ev.findings.append(unreadable("format.webp", f"{chunk.name.strip()} chunk",
                                              f"{chunk.size} bytes is too large to read", where))
                if chunk.fourcc == XMP:
                    note_xmp(ev.info, chunk.offset, None)
                continue
            data = src.read_at(chunk.data_offset, chunk.size)
            if chunk.fourcc == XMP:
                note_xmp(ev.info, chunk.offset, data)
            if chunk.fourcc == XMP:
                announced = bool(flags & FLAG_XMP)
                if not announced:
                    ev.findings.append(Finding(
                        "format.webp", Level.WARNING,
                        "XMP chunk present but the VP8X header does not announce it (XMP flag 0x04 unset"
                        + ("" if first.fourcc == VP8X else "; a simple-format file has no VP8X header")
                        + "): WebP readers may ignore it", location=where,
                        expected="VP8X XMP flag set", actual="flag unset"))
                labels, traces, findings = evidence_from_xmp(data, where, offset=chunk.offset,
                                                             normative=announced)
            else:
                block, _ = _exif_block(data)
                labels, traces, findings = evidence_from_exif(block, where, offset=chunk.offset)
            ev.labels += labels
            ev.traces += traces
            ev.findings += findings
        return ev

    def image_access(self, src: CountingReader) -> Any:
        """The picture for the explicit step and the image rule (structure and declared sizes checked first)."""
        from .media_image import WebpAccess, read_all

        return WebpAccess(read_all(src))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        chunks, riff_end = _walk(src)
        first = chunks[0]
        parts: list[_Part] = []
        if first.fourcc == VP8X:
            vp8x = bytearray(_read_vp8x(src, first))
            vp8x[0] |= FLAG_XMP
            parts.append(iff_chunk(VP8X, bytes(vp8x)))
            rest = chunks[1:]
        else:
            # Simple layout: synthesise the VP8X header from the bitstream itself.
            width, height, alpha = bitstream_info(first.fourcc, src.read_at(first.data_offset, min(first.size, 10)))
            flags = FLAG_XMP | (FLAG_ALPHA if alpha or any(c.fourcc == ALPH for c in chunks) else 0)
            if any(c.fourcc == EXIF for c in chunks):
                flags |= FLAG_EXIF
            if any(c.fourcc == ICCP for c in chunks):
                flags |= FLAG_ICC
            parts.append(iff_chunk(VP8X, bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
                                      + (height - 1).to_bytes(3, "little")))
            rest = chunks
        existing_xmp: bytes | None = None
        xmp_at = len(parts)  # where the XMP chunk goes: after the last chunk that precedes it in the order
        for chunk in rest:
            if chunk.fourcc == XMP:
                if existing_xmp is not None:
                    raise CorruptFile("two XMP chunks; refusing to guess which to keep")
                if chunk.size > MAX_PACKET_SIZE:
                    raise CorruptFile(f"the existing XMP chunk ({chunk.size} bytes) is too large to merge; "
                                      "file left unchanged")
                existing_xmp = src.read_at(chunk.data_offset, chunk.size)
                continue  # rewritten at its place in the order, below
            if chunk.fourcc == EXIF and chunk.size <= MAX_PACKET_SIZE:
                blanked = _blank_exif_record(src.read_at(chunk.data_offset, chunk.size))
                if blanked is not None:
                    parts.append(iff_chunk(EXIF, blanked))
                    xmp_at = len(parts)
                    continue
            parts.append((chunk.offset, chunk.end - chunk.offset))
            if not chunk.padded:
                parts.append(b"\x00")  # the pad byte the source left out
            if chunk.fourcc in _BEFORE_XMP:
                xmp_at = len(parts)
        packet = build_xmp(existing_xmp, label)
        parts.insert(xmp_at, iff_chunk(XMP, packet))
        body = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
        if 4 + body > _MAX_RIFF:
            raise UnsupportedOperation("the labelled WebP would exceed the 4 GiB RIFF limit; file left unchanged")
        dst.write(b"RIFF" + struct.pack("<I", 4 + body) + b"WEBP")
        for part in parts:
            if isinstance(part, bytes):
                dst.write(part)
            else:
                src.seek(part[0])
                if src.copy_to(dst, part[1]) != part[1]:
                    raise CorruptFile("truncated: the file changed while it was being copied")
        # Bytes after the RIFF form are not ours to drop.
        if src.size > riff_end:
            src.seek(riff_end)
            src.copy_to(dst)
