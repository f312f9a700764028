"""WebP bitstream facts and in-memory chunk surgery for the explicit step.

The metadata handler (:mod:`.webp`) walks the RIFF form of a file on disk; the explicit step needs
the same chunks of a file (and of Pillow's re-encodings) held in memory, plus a few bitstream facts:
the alpha bit of a VP8L stream, the quantisers of a VP8 key frame (to re-encode lossy pictures at
their own quality) and the frame rectangles of an animation.  They live here, beside the handler,
so no module outside ``formats/`` unpacks WebP bytes.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CorruptFile, UnsupportedOperation
from ..foreign import pillow_errors
from ..limits import check_count
from ._riff import iff_chunk, list_subchunks

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["RiffChunk", "riff_chunks", "riff_chunk", "riff_wrap", "BITSTREAM", "bitstream_has_alpha",
           "vp8_quantizers", "estimate_webp_quality", "webp_frame_encode", "webp_transplant", "AnimFrame",
           "anim_frames", "canvas_size"]

BITSTREAM = (b"ALPH", b"VP8 ", b"VP8L")


@dataclass
class RiffChunk:
    """A WebP (RIFF) chunk's four-character code, offset and payload size."""
    fourcc: bytes
    start: int  # offset of the fourcc
    size: int  # payload size (without padding)

    @property
    def payload_start(self) -> int:
        return self.start + 8

    @property
    def end(self) -> int:
        return self.start + 8 + self.size + (self.size & 1)

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 8:self.start + 8 + self.size]

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def riff_chunks(data: bytes, start: int = 12, stop: int | None = None) -> list[RiffChunk]:
    """The chunks of an in-memory WebP (or of an ANMF payload, given *start* and *stop*).

    Walked by the RIFF walker the RIFF formats share (:func:`._riff.list_subchunks`), on a
    zero-copy view: *start* - 4 plays the part of the LIST type field it skips.
    """
    if start == 12 and (data[:4] != b"RIFF" or data[8:12] != b"WEBP"):
        raise CorruptFile("not a WebP file (no RIFF/WEBP header)")
    stop = len(data) if stop is None else stop
    base = start - 4
    found = list_subchunks(memoryview(data)[base:stop], f"offset {base} of the WebP file")  # type: ignore[arg-type]
    check_count(len(found), "WebP chunks")
    return [RiffChunk(cid, base + pos, len(payload)) for cid, pos, payload in found]


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return iff_chunk(fourcc, payload)


def riff_wrap(body: bytes) -> bytes:
    """A whole WebP file around the chunks *body*."""
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def canvas_size(vp8x: bytes) -> tuple[int, int]:
    """(width, height) from a VP8X payload."""
    if len(vp8x) < 10:
        raise CorruptFile(f"corrupt: VP8X chunk of {len(vp8x)} bytes (10 expected)")
    return int.from_bytes(vp8x[4:7], "little") + 1, int.from_bytes(vp8x[7:10], "little") + 1


def _vp8l_has_alpha(payload: bytes) -> bool:
    return len(payload) >= 5 and bool((struct.unpack_from("<I", payload, 1)[0] >> 28) & 1)


def bitstream_has_alpha(chunks: list[tuple[bytes, bytes]]) -> bool:
    return any(f == b"ALPH" or (f == b"VP8L" and _vp8l_has_alpha(p)) for f, p in chunks)


class _BoolDecoder:
    """The VP8 boolean entropy decoder (RFC 6386 section 7), enough to read the frame header."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 2
        self.value = (data[0] << 8 | data[1]) if len(data) >= 2 else 0
        self.range, self.bits = 255, 0

    def bool(self, prob: int) -> int:
        split = 1 + (((self.range - 1) * prob) >> 8)
        big = split << 8
        if self.value >= big:
            bit = 1
            self.range -= split
            self.value -= big
        else:
            bit = 0
            self.range = split
        while self.range < 128:
            self.value <<= 1
            self.range <<= 1
            self.bits += 1
            if self.bits == 8:
                self.bits = 0
                if self.pos < len(self.data):
                    self.value |= self.data[self.pos]
                    self.pos += 1
        return bit

    def literal(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bool(128)
        return v

    def signed(self, n: int) -> int:
        v = self.literal(n)
        return -v if self.bool(128) else v


def vp8_quantizers(payload: bytes) -> list[int]:
    """The luma AC quantiser index (0-127) of each segment of a VP8 key frame (one value if unsegmented)."""
    if len(payload) < 11 or payload[0] & 1 or payload[3:6] != b"\x9d\x01\x2a":
        raise ValueError("not a VP8 key frame")
    d = _BoolDecoder(payload[10:])
    d.literal(2)  # colour space, clamping type
    seg_quant: list[int] | None = None
    absolute = False
    if d.literal(1):  # segmentation enabled
        update_map = d.literal(1)
        if d.literal(1):  # update segment feature data
            absolute = bool(d.literal(1))
            seg_quant = [d.signed(7) if d.literal(1) else 0 for _ in range(4)]
            for _ in range(4):
                if d.literal(1):
                    d.signed(6)
        if update_map:
            for _ in range(3):
                if d.literal(1):
                    d.literal(8)
    d.literal(1)  # filter type
    d.literal(6)  # loop filter level
    d.literal(3)  # sharpness
    if d.literal(1) and d.literal(1):  # loop-filter adjustments, updated
        for _ in range(8):
            if d.literal(1):
                d.signed(6)
    d.literal(2)  # DCT partitions
    base = d.literal(7)
    if seg_quant is None:
        return [base]
    return [max(0, min(127, q if absolute else base + q)) for q in seg_quant]


def _quality_from_quantiser(q: float) -> int:
    """Invert libwebp's quality -> quantiser mapping for one quantiser index (ignores segment spread).

    libwebp turns quality Q into a compression factor c = linear(Q)^(1/3), with linear(Q) = 2Q/3 for
    Q < 0.75 and 2Q - 1 above, and the quantiser index as 127 * (1 - c).
    """
    c = min(1.0, max(0.0, 1.0 - q / 127.0))
    linear = c ** 3
    quality = linear * 1.5 if linear < 0.5 else (linear + 1.0) / 2.0
    return max(1, min(100, round(quality * 100)))


def _mean_quantiser(im: Image.Image, quality: int) -> float:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=quality, method=4)
    data = buf.getvalue()
    vp8 = next(c for c in riff_chunks(data) if c.fourcc == b"VP8 ")
    qs = vp8_quantizers(vp8.payload(data))
    return sum(qs) / len(qs)


def estimate_webp_quality(payload: bytes, decoded: Image.Image | None = None) -> int:
    """The libwebp ``quality`` (1-100) that most likely produced this VP8 key frame.

    The frame header gives the quantiser of each segment, but libwebp spreads them around the
    quality's value by the content's statistics, so with the *decoded* picture the estimate re-runs
    the encoder (on a central 512x512 crop of large pictures) and searches the quality whose
    quantisers match the source's -- exact to +-1 on photographs.  Without it, the mapping is
    inverted from the mean quantiser (within about 10).
    """
    qs = vp8_quantizers(payload)
    target = sum(qs) / len(qs)
    if decoded is None:
        return _quality_from_quantiser(target)
    im = decoded.convert("RGB")
    if im.width * im.height > 640 * 640:
        cx, cy = im.width // 2, im.height // 2
        im = im.crop((max(0, cx - 256), max(0, cy - 256), cx + 256, cy + 256))
    lo, hi, best = 1, 100, (math.inf, 0)
    while lo <= hi:  # quantisers fall as quality rises
        mid = (lo + hi) // 2
        m = _mean_quantiser(im, mid)
        best = min(best, (abs(m - target), -mid))
        if m > target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -best[1]


def quality_or_default(payload: bytes, decoded: Image.Image, default: int = 90) -> int:
    """:func:`estimate_webp_quality`, or *default* when the frame header cannot be read."""
    try:
        return estimate_webp_quality(payload, decoded)
    except (ValueError, StopIteration):
        return default


def webp_frame_encode(im: Image.Image, lossless: bool, quality: int) -> list[tuple[bytes, bytes]]:
    """Encode one picture with Pillow; its bitstream chunks as (fourcc, payload)."""
    buf = io.BytesIO()
    with pillow_errors("re-encoding the WebP picture"):
        if lossless:
            im.save(buf, "WEBP", lossless=True, quality=80, method=4, exact=True)
        else:
            im.save(buf, "WEBP", quality=quality, method=4, alpha_quality=100, exact=True)
    new = buf.getvalue()
    return [(c.fourcc, c.payload(new)) for c in riff_chunks(new) if c.fourcc in BITSTREAM]


def webp_transplant(data: bytes, chunks: list[RiffChunk], new_bits: list[tuple[bytes, bytes]]) -> bytes:
    """The source's chunks with the still picture's bitstream (ALPH + VP8, or VP8L) replaced."""
    new_raw = b"".join(riff_chunk(f, p) for f, p in new_bits)
    if chunks[0].fourcc != b"VP8X":
        if any(f == b"ALPH" for f, _p in new_bits):  # cannot happen: a simple file has no ALPH
            raise UnsupportedOperation("re-encoding needs an extended WebP layout")
        body = new_raw + b"".join(c.raw(data) for c in chunks if c.fourcc not in BITSTREAM)
        return riff_wrap(body)
    parts: list[bytes] = []
    placed = False
    for c in chunks:
        if c.fourcc == b"VP8X":
            vp8x = bytearray(c.payload(data))
            if bitstream_has_alpha(new_bits):
                vp8x[0] |= 0x10
            else:
                vp8x[0] &= ~0x10 & 0xFF
            parts.append(riff_chunk(b"VP8X", bytes(vp8x)))
        elif c.fourcc in BITSTREAM:
            if not placed:
                parts.append(new_raw)
                placed = True
        else:
            parts.append(c.raw(data))
    return riff_wrap(b"".join(parts))


# ---------------------------------------------------------------------------------------- animation


@dataclass
class AnimFrame:
    """One ANMF chunk: its rectangle on the canvas, blending and disposal, and its sub-chunks."""

    index: int
    chunk: RiffChunk
    rect: tuple[int, int, int, int]
    no_blend: bool
    dispose_bg: bool
    bits: list[tuple[bytes, bytes]]  # ALPH / VP8 / VP8L (fourcc, payload)
    others: bytes  # every other sub-chunk, raw
    tail: bytes  # the frame header's duration and flags bytes (12:16)

    @property
    def lossless(self) -> bool:
        return any(f == b"VP8L" for f, _p in self.bits)

    @property
    def vp8(self) -> bytes:
        return next((p for f, p in self.bits if f == b"VP8 "), b"")


def anim_frames(data: bytes, chunks: list[RiffChunk]) -> list[AnimFrame]:
    """The ANMF frames of an animated WebP, in order."""
    out: list[AnimFrame] = []
    for c in chunks:
        if c.fourcc != b"ANMF":
            continue
        p = c.payload(data)
        if len(p) < 16:
            raise CorruptFile(f"corrupt WebP: ANMF chunk at offset {c.start} is too short")
        x, y = 2 * int.from_bytes(p[0:3], "little"), 2 * int.from_bytes(p[3:6], "little")
        w, h = int.from_bytes(p[6:9], "little") + 1, int.from_bytes(p[9:12], "little") + 1
        sub = riff_chunks(data, c.payload_start + 16, c.payload_start + c.size)
        out.append(AnimFrame(len(out), c, (x, y, x + w, y + h), bool(p[15] & 0x02), bool(p[15] & 0x01),
                             [(s.fourcc, s.payload(data)) for s in sub if s.fourcc in BITSTREAM],
                             b"".join(s.raw(data) for s in sub if s.fourcc not in BITSTREAM), p[12:16]))
    return out


def anmf_chunk(frame: AnimFrame, rect: tuple[int, int, int, int], bits: list[tuple[bytes, bytes]]) -> bytes:
    """A new ANMF chunk for *frame* drawn over *rect* (even origin) with bitstream *bits*."""
    rw, rh = rect[2] - rect[0], rect[3] - rect[1]
    head = ((rect[0] // 2).to_bytes(3, "little") + (rect[1] // 2).to_bytes(3, "little")
            + (rw - 1).to_bytes(3, "little") + (rh - 1).to_bytes(3, "little") + frame.tail)
    return riff_chunk(b"ANMF", head + b"".join(riff_chunk(f, q) for f, q in bits) + frame.others)


def frame_file(bits: list[tuple[bytes, bytes]], size: tuple[int, int]) -> bytes:
    """A one-picture WebP around one frame's bitstream chunks (for decoding it alone)."""
    body = b"".join(riff_chunk(f, p) for f, p in bits)
    if any(f == b"ALPH" for f, _p in bits):
        w, h = size
        vp8x = bytes([0x10, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        body = riff_chunk(b"VP8X", vp8x) + body
    return riff_wrap(body)


def rebuild_animation(data: bytes, chunks: list[RiffChunk], new_frames: dict[int, bytes], any_alpha: bool) -> bytes:
    """The animated WebP with the ANMF chunks in *new_frames* (by frame index) replaced."""
    parts: list[bytes] = []
    k = 0
    for c in chunks:
        if c.fourcc == b"VP8X":
            flags = bytearray(c.payload(data))
            if any_alpha:
                flags[0] |= 0x10
            parts.append(riff_chunk(b"VP8X", bytes(flags)))
        elif c.fourcc == b"ANMF":
            parts.append(new_frames.get(k, c.raw(data)))
            k += 1
        else:
            parts.append(c.raw(data))
    return riff_wrap(b"".join(parts))
