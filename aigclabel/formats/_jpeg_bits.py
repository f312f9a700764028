"""In-memory JPEG segment surgery for the explicit step: a quality-keeping re-encode put back in place.

Pillow re-encodes the labelled picture with the source's own quantisation tables and subsampling;
this module then builds the file from the *source's* APPn/COM segments (JFIF, EXIF, ICC, XMP, IPTC,
MPF...) byte for byte, the new encoding's tables and scan, and the bytes after the image (MPF
secondary images, trailers), with the MPF index adjusted to the new primary image size.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._io import CountingReader
from ..errors import CorruptFile, LimitExceeded, UnsupportedOperation
from ..foreign import pillow_errors
from ..limits import check_count
from .jpeg import walk_header

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["JSeg", "jpeg_layout", "jpeg_replace_picture"]

_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}
_NEXT_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")


@dataclass
class JSeg:
    """A JPEG marker segment's marker and byte span."""
    marker: int
    start: int  # offset of 0xFF
    end: int  # offset after the segment

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def jpeg_layout(data: bytes) -> tuple[list[JSeg], int, int]:
    """(header segments before the first SOS, offset of that SOS, offset just after the EOI).

    The header is walked by the handler's walker (:func:`.jpeg.walk_header`); from the first SOS on,
    scans (and the tables between the scans of a progressive picture) are skipped to the EOI.
    """
    segments, first_sos = walk_header(CountingReader(io.BytesIO(data), "<jpeg>", len(data)))
    check_count(len(segments), "JPEG segments")
    segs = [JSeg(s.marker, s.offset, s.offset + 4 + s.length) for s in segments]
    pos, n = first_sos, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise CorruptFile(f"corrupt JPEG: expected a marker at offset {pos}")
        marker = data[pos + 1] if pos + 1 < n else 0xD9
        if marker == 0xFF:
            pos += 1
        elif marker in _JPEG_NO_LENGTH:
            pos += 2
        elif marker == 0xD9:
            return segs, first_sos, pos + 2
        elif pos + 4 > n:
            break
        elif marker == 0xDA:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            m = _NEXT_MARKER.search(data, pos + 2 + length)
            if m is None:
                break
            pos = m.start()
        else:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            pos += 2 + length
    return segs, first_sos, n  # no EOI: the scan runs to the end of the file


def _is_app14_adobe(seg: JSeg, data: bytes) -> bool:
    return seg.marker == 0xEE and data[seg.start + 4:seg.start + 9] == b"Adobe"


def _patch_mpf(payload: bytes, new_primary_size: int, shift: int) -> bytes:
    """An MPF APP2 payload with the primary image's size and the other images' offsets updated."""
    if not payload.startswith(b"MPF\x00") or len(payload) < 12:
        return payload
    tiff = bytearray(payload[4:])
    e = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(e + "I", tiff, 4)
        (count,) = struct.unpack_from(e + "H", tiff, ifd)
        for i in range(count):
            tag, _typ, n, value = struct.unpack_from(e + "HHII", tiff, ifd + 2 + 12 * i)
            if tag != 0xB002 or n % 16:
                continue
            for k in range(n // 16):
                at = value + 16 * k
                _attr, _size, offset = struct.unpack_from(e + "III", tiff, at)
                if offset == 0:
                    struct.pack_into(e + "I", tiff, at + 4, new_primary_size)
                else:
                    struct.pack_into(e + "I", tiff, at + 8, offset + shift)
    except struct.error:
        return payload
    return payload[:4] + bytes(tiff)


def _exif_has_thumbnail(payload: bytes) -> bool:
    tiff = payload[6:]
    try:
        e = "<" if tiff[:2] == b"II" else ">"
        (ifd0,) = struct.unpack_from(e + "I", tiff, 4)
        (count,) = struct.unpack_from(e + "H", tiff, ifd0)
        (next_ifd,) = struct.unpack_from(e + "I", tiff, ifd0 + 2 + 12 * count)
    except struct.error:
        return False
    return next_ifd != 0


def _reencode(im: Image.Image) -> bytes:
    """*im* encoded with its source's quantisation tables and subsampling (progressive if it was)."""
    from PIL import JpegImagePlugin

    buf = io.BytesIO()
    if im.format == "JPEG":
        keep: dict[str, Any] = {"quality": "keep"}
    else:  # e.g. the first picture of an MPO file: pass its tables explicitly
        keep = {"qtables": getattr(im, "quantization", None), "subsampling": JpegImagePlugin.get_sampling(im)}
    try:
        with pillow_errors("re-encoding the JPEG"):
            im.save(buf, "JPEG", progressive=bool(im.info.get("progressive")), icc_profile=None, exif=b"",
                    comment=b"", **keep)
    except LimitExceeded:
        raise
    except CorruptFile as exc:
        raise UnsupportedOperation(f"cannot re-encode this JPEG with its own quantisation: {exc}") from None
    return buf.getvalue()


def jpeg_replace_picture(data: bytes, im: Image.Image) -> tuple[bytes, list[str], dict[str, Any]]:
    """(new file, notes, details): *data* with its picture replaced by *im* (decoded from *data*)."""
    segs, _sos, end = jpeg_layout(data)
    new = _reencode(im)
    new_segs, new_sos, new_end = jpeg_layout(new)
    header = [b"\xff\xd8"]
    kept_app = [s for s in segs if (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE) and not _is_app14_adobe(s, data)]
    new_tables = [s for s in new_segs if not (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE)
                  or _is_app14_adobe(s, new)]
    header_len = 2 + sum(s.end - s.start for s in kept_app) + sum(s.end - s.start for s in new_tables)
    new_primary = header_len + (new_end - new_sos)
    notes: list[str] = []
    pos_new = 2
    for s in kept_app:
        raw = s.raw(data)
        if s.marker == 0xE2 and raw[4:8] == b"MPF\x00":
            mpf_pos_old, mpf_pos_new = s.start + 8, pos_new + 8
            shift = (new_primary - end) - (mpf_pos_new - mpf_pos_old)
            raw = raw[:4] + _patch_mpf(raw[4:], new_primary, shift)
            notes.append("MPF index updated for the re-encoded primary image")
        elif s.marker == 0xE1 and raw[4:10] == b"Exif\x00\x00" and _exif_has_thumbnail(raw[4:]):
            notes.append("the EXIF thumbnail is kept as it was (it does not show the label)")
        header.append(raw)
        pos_new += len(raw)
    header += [s.raw(new) for s in new_tables]
    out = b"".join(header) + new[new_sos:new_end] + data[end:]
    q = getattr(im, "quantization", None) or {}
    notes.insert(0, f"JPEG re-encoded with the source's {len(q)} quantisation table(s) and subsampling; "
                    f"{len(kept_app)} APPn/COM segment(s) carried over unchanged")
    return out, notes, {"trailer_bytes": len(data) - end}
