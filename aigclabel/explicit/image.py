"""The explicit label for still and animated images: a text prompt drawn at an edge or corner.

GB 45438-2025 asks images for a text prompt at an edge or corner whose height is >= 5 % of the
shortest side (sizing: :mod:`.render`).  Drawing means re-encoding, so each format keeps as much of
the source as it can:

* **JPEG**: re-encoded with the source's own quantisation tables and chroma subsampling (Pillow
  ``quality="keep"``), progressive if the source was; every APPn/COM segment of the source (JFIF,
  EXIF, ICC, XMP, IPTC, MPF...) is carried over byte for byte except the Adobe APP14 colour-transform
  segment, which belongs to the new encoding; bytes after the image (MPF secondary images, trailers)
  are kept and MPF offsets adjusted.
* **PNG**: lossless; every ancillary chunk is carried over byte for byte in its place; only IHDR,
  PLTE, tRNS and the image data come from the new encoding (hIST, a histogram of the old pixels, is
  dropped).  Palette pictures keep their palette and indices.  16-bit colour is refused (Pillow
  would decode it to 8 bits).
* **WebP**: lossless stays lossless (exact RGB under transparent pixels), lossy is re-encoded at
  the source's estimated quality; every chunk but the bitstream is kept.
* **TIFF**: only the strips or tiles under the label are re-encoded, with the file's own compression
  and predictor; every tag and all other image data keep their bytes (see :func:`_mark_tiff`).
* **Animated GIF, WebP and PNG**: rewritten frame by frame at byte level; frames that do not touch
  the label keep their bytes, and the frame count, timing, disposal and loop are the source's (see the
  animation section below).

EXIF orientation is honoured: the label is placed on the picture *as displayed*, drawn upright, and
written back in stored orientation; the orientation tag is untouched.  Pixels outside the label box
are unchanged in lossless formats.
"""

from __future__ import annotations

import array
import io
import math
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from PIL import Image, ImageChops, JpegImagePlugin

from ..errors import CorruptFile, UnsupportedOperation
from . import ExplicitOptions, ExplicitResult
from .fonts import FontChoice, resolve_font
from .render import LabelLayout, Sizing, draw_label, mean_luminance, palette_pair, plan_label

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["ImageMarker", "label_picture", "stored_box", "TO_DISPLAY", "estimate_webp_quality", "mark_gif",
           "mark_animated_webp", "mark_apng"]

#: EXIF orientation -> the transpose that turns the stored picture into the displayed one
TO_DISPLAY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
            Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90}
#: below this contrast ratio (WCAG "AAA") between the two label colours a palette picture has, black and
#: white are added to the palette where there is room
_MIN_PALETTE_CONTRAST = 7.0


# ------------------------------------------------------------------------------------------ geometry


def displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def stored_box(box: tuple[int, int, int, int], orientation: int,
               size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The stored-picture box that shows as *box* (displayed coordinates) under *orientation*.

    *size* is the stored (width, height).
    """
    w, h = size
    u0, v0, u1, v1 = box

    def to_stored(u: int, v: int) -> tuple[int, int]:  # pixel (u, v) as displayed -> stored pixel
        return {1: (u, v), 2: (w - 1 - u, v), 3: (w - 1 - u, h - 1 - v), 4: (u, h - 1 - v),
                5: (v, u), 6: (v, h - 1 - u), 7: (w - 1 - v, h - 1 - u), 8: (w - 1 - v, u)}[orientation]

    xs, ys = zip(*(to_stored(u, v) for u in (u0, u1 - 1) for v in (v0, v1 - 1)))
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block never stops the label
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# ------------------------------------------------------------------------------------------ drawing


@dataclass
class Drawn:
    layout: LabelLayout
    stored_box: tuple[int, int, int, int]
    notes: list[str] = field(default_factory=list)


def _palette(im: Image.Image) -> list[tuple[int, int, int]]:
    flat = im.getpalette("RGB") or []
    return [tuple(flat[i:i + 3]) for i in range(0, len(flat) - 2, 3)]  # type: ignore[misc]


def _translucent_indices(im: Image.Image) -> set[int]:
    t = im.info.get("transparency")
    if isinstance(t, int):
        return {t}
    if isinstance(t, (bytes, bytearray)):
        return {i for i, a in enumerate(t) if a < 255}
    return set()


def palette_indices(im: Image.Image, region: Image.Image, notes: list[str],
                    max_entries: int = 256) -> tuple[int, int]:
    """(plate, text) palette indices for a label on *im* (mode P); may extend the palette in place.

    The darkest and lightest opaque entries are used; when they contrast too little, black and white
    are appended if the palette has room, so every other pixel keeps its index and colour.
    """
    palette = _palette(im)
    exclude = _translucent_indices(im)
    dark = mean_luminance(region.convert("RGB")) >= 0.5
    plate, text, ratio = palette_pair(palette, dark, exclude)
    if ratio >= _MIN_PALETTE_CONTRAST:
        return plate, text
    if len(palette) + 2 <= max_entries:
        black, white = len(palette), len(palette) + 1
        im.putpalette([c for rgb in (*palette, (0, 0, 0), (255, 255, 255)) for c in rgb], "RGB")
        notes.append("black and white were added to the palette for the label")
        return (black, white) if dark else (white, black)
    notes.append(f"the palette is full; the label uses its most contrasting colours (ratio {ratio:.1f}:1)")
    return plate, text


def _avoid_colour_key(region: Image.Image, key: Any) -> None:
    """Nudge label pixels that equal the picture's transparent colour key (PNG tRNS), so none vanish."""
    if isinstance(key, tuple):
        alt: Any = tuple(c - 1 if c > 0 else 1 for c in key)
    else:
        alt = key - 1 if key > 0 else 1
    if region.mode in ("I;16", "I"):
        values = array.array("H" if region.mode == "I;16" else "i", region.tobytes())
        if sys.byteorder != "little":
            values.byteswap()
        hits = [i for i, v in enumerate(values) if v == key]
        if hits:
            for i in hits:
                values[i] = alt
            if sys.byteorder != "little":
                values.byteswap()
            region.frombytes(values.tobytes())
        return
    if region.mode not in ("L", "RGB"):
        return
    keyed = ImageChops.difference(region, Image.new(region.mode, region.size, key))
    bands = keyed.split()
    diff = bands[0]
    for b in bands[1:]:
        diff = ImageChops.lighter(diff, b)
    same = diff.point([255] + [0] * 255)
    if same.getbbox() is not None:
        region.paste(alt, mask=same)


def label_picture(im: Image.Image, options: ExplicitOptions, font: FontChoice, orientation: int = 1,
                  layout: LabelLayout | None = None) -> Drawn:
    """Draw the label onto *im* in place (any supported mode), honouring EXIF *orientation*."""
    notes: list[str] = []
    if layout is None:
        layout = plan_label(displayed_size(im.size, orientation), options.text, options.position,
                            Sizing.from_options(options), font)
    box = stored_box(layout.box, orientation, im.size)
    region = im.crop(box)
    transpose = TO_DISPLAY.get(orientation)
    if transpose is not None:
        region = region.transpose(transpose)
    indices = None
    if im.mode in ("P", "PA"):
        indices = palette_indices(im, region, notes)
        region.putpalette(im.getpalette() or [])
    draw_label(region, layout, indices=indices)
    key = im.info.get("transparency")
    if key is not None and im.mode in ("L", "RGB", "I;16", "I"):
        _avoid_colour_key(region, key)
    if transpose is not None:
        region = region.transpose(_INVERSE.get(transpose, transpose))
    im.paste(region, box[:2])
    return Drawn(layout, box, notes)


def _details(drawn: Drawn, fmt: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    details = drawn.layout.details()
    details["format"] = fmt
    details["stored_box"] = list(drawn.stored_box)
    if extra:
        details.update(extra)
    return details


def _summary(drawn: Drawn) -> str:
    lay = drawn.layout
    return (f"visible label {lay.text!r} drawn at {lay.position}: ink height {lay.ink_height} px = "
            f"{lay.height_ratio:.1%} of the shortest side, box {list(lay.box)}, font {lay.font.describe()}")


def _open(data: bytes, expect: str) -> Image.Image:
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Image.DecompressionBombError as exc:
        raise UnsupportedOperation(f"the {expect} picture is too large to draw a label on safely: {exc}") from None
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise CorruptFile(f"cannot decode the {expect} picture to draw the label: {exc}") from None
    return im


def _check_mode(im: Image.Image, fmt: str) -> None:
    if im.mode in ("F", "I;16S", "I;32", "HSV", "LAB", "YCbCr"):
        raise UnsupportedOperation(f"cannot draw a visible label on a {fmt.upper()} picture in mode {im.mode}")


# ------------------------------------------------------------------------------------------ JPEG

_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}
_NEXT_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")


@dataclass
class _JSeg:
    marker: int
    start: int  # offset of 0xFF
    end: int  # offset after the segment

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def _jpeg_layout(data: bytes) -> tuple[list[_JSeg], int, int]:
    """(header segments before the first SOS, offset of that SOS, offset just after the EOI)."""
    if data[:2] != b"\xff\xd8":
        raise CorruptFile("not a JPEG (no SOI marker)")
    segs: list[_JSeg] = []
    pos, n = 2, len(data)
    first_sos = None
    while pos < n:
        if data[pos] != 0xFF:
            raise CorruptFile(f"corrupt JPEG: expected a marker at offset {pos}")
        marker = data[pos + 1] if pos + 1 < n else 0xD9
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if marker == 0xD9:
            if first_sos is None:
                raise CorruptFile("corrupt JPEG: end of image before any image data")
            return segs, first_sos, pos + 2
        if pos + 4 > n:
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if marker == 0xDA:
            if first_sos is None:
                first_sos = pos
            m = _NEXT_MARKER.search(data, end)
            if m is None:
                break
            pos = m.start()
            continue
        if first_sos is None:
            segs.append(_JSeg(marker, pos, end))
        pos = end
    if first_sos is None:
        raise CorruptFile("truncated JPEG: no image data")
    return segs, first_sos, n  # no EOI: the scan runs to the end of the file


def _is_app14_adobe(seg: _JSeg, data: bytes) -> bool:
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
            tag, typ, n, value = struct.unpack_from(e + "HHII", tiff, ifd + 2 + 12 * i)
            if tag != 0xB002 or n % 16:
                continue
            for k in range(n // 16):
                at = value + 16 * k
                _attr, size, offset = struct.unpack_from(e + "III", tiff, at)
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


def _mark_jpeg(data: bytes, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    segs, _sos, end = _jpeg_layout(data)
    im = _open(data, "JPEG")
    _check_mode(im, "jpeg")
    orientation = _orientation(im)
    drawn = label_picture(im, options, font, orientation)
    buf = io.BytesIO()
    if im.format == "JPEG":
        keep: dict[str, Any] = {"quality": "keep"}
    else:  # e.g. the first picture of an MPO file: pass its tables explicitly
        keep = {"qtables": im.quantization, "subsampling": JpegImagePlugin.get_sampling(im)}
    try:
        im.save(buf, "JPEG", progressive=bool(im.info.get("progressive")), icc_profile=None, exif=b"",
                comment=b"", **keep)
    except (OSError, ValueError) as exc:
        raise UnsupportedOperation(f"cannot re-encode this JPEG with its own quantisation: {exc}") from None
    new = buf.getvalue()
    new_segs, new_sos, new_end = _jpeg_layout(new)

    header = [b"\xff\xd8"]
    kept_app = [s for s in segs if (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE) and not _is_app14_adobe(s, data)]
    new_tables = [s for s in new_segs if not (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE)
                  or _is_app14_adobe(s, new)]
    header_len = 2 + sum(s.end - s.start for s in kept_app) + sum(s.end - s.start for s in new_tables)
    new_primary = header_len + (new_end - new_sos)
    notes: list[str] = []
    mpf_pos_old = mpf_pos_new = None
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
    notes.insert(0, _summary(drawn))
    notes.insert(1, f"JPEG re-encoded with the source's {len(q)} quantisation table(s) and subsampling; "
                    f"{len(kept_app)} APPn/COM segment(s) carried over unchanged")
    return ExplicitResult(out, notes, _details(drawn, "jpeg", {"orientation": orientation,
                                                               "trailer_bytes": len(data) - end}))


# ------------------------------------------------------------------------------------------ PNG

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


@dataclass
class _PChunk:
    type: bytes
    start: int
    end: int

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def _png_chunks(data: bytes) -> tuple[list[_PChunk], int]:
    """Chunks through IEND and the offset after IEND."""
    if data[:8] != _PNG_SIG:
        raise CorruptFile("not a PNG (bad signature)")
    pos, out = 8, []
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise CorruptFile(f"truncated PNG: chunk {ctype!r} at offset {pos} runs past the end")
        out.append(_PChunk(ctype, pos, end))
        pos = end
        if ctype == b"IEND":
            return out, pos
    raise CorruptFile("truncated PNG: no IEND chunk")


def _mark_png(data: bytes, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    chunks, end = _png_chunks(data)
    if not chunks or chunks[0].type != b"IHDR":
        raise CorruptFile("PNG does not start with IHDR")
    ihdr = data[chunks[0].start + 8:chunks[0].end - 4]
    bit_depth, colour_type = ihdr[8], ihdr[9]
    if bit_depth == 16 and colour_type in (2, 4, 6):
        raise UnsupportedOperation("cannot draw a visible label on a 16-bit-per-channel colour PNG without "
                                   "losing precision (Pillow decodes it to 8 bits); convert it first or "
                                   "mark it with --no-explicit")
    if any(c.type == b"acTL" for c in chunks):
        return mark_apng(data, chunks, end, options, font)
    im = _open(data, "PNG")
    _check_mode(im, "png")
    orientation = _orientation(im)
    drawn = label_picture(im, options, font, orientation)
    buf = io.BytesIO()
    try:
        im.save(buf, "PNG", icc_profile=None, compress_level=6)
    except (OSError, ValueError) as exc:
        raise UnsupportedOperation(f"cannot re-encode this PNG (mode {im.mode}): {exc}") from None
    new = buf.getvalue()
    out = png_transplant(data, chunks, end, new)
    notes = [_summary(drawn), "PNG re-encoded losslessly; ancillary chunks carried over unchanged", *drawn.notes]
    return ExplicitResult(out, notes, _details(drawn, "png", {"orientation": orientation}))


#: chunks that describe the pixel encoding: taken from the new encoding, never from the source
_PNG_IMAGE_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"hIST"}


def png_transplant(data: bytes, chunks: list[_PChunk], end: int, new: bytes) -> bytes:
    """The source's chunks in their order, with IHDR/PLTE/tRNS/IDAT/IEND from *new* (hIST dropped)."""
    new_chunks, _new_end = _png_chunks(new)
    pick = {t: [c.raw(new) for c in new_chunks if c.type == t] for t in (b"IHDR", b"PLTE", b"tRNS", b"IEND")}
    idat = b"".join(c.raw(new) for c in new_chunks if c.type == b"IDAT")
    out = [_PNG_SIG]
    emitted: set[bytes] = set()

    def emit(t: bytes) -> None:
        if t not in emitted:
            emitted.add(t)
            out.extend(pick[t])

    for c in chunks:
        t = c.type
        if t in (b"IHDR", b"PLTE", b"tRNS"):
            if t == b"tRNS":
                emit(b"PLTE")
            emit(t)
        elif t == b"IDAT":
            if b"IDAT" not in emitted:
                emit(b"PLTE")
                emit(b"tRNS")
                emitted.add(b"IDAT")
                out.append(idat)
        elif t == b"IEND":
            emit(b"IEND")
        elif t == b"hIST":
            continue
        else:
            out.append(c.raw(data))
    out.append(data[end:])
    return b"".join(out)


# ------------------------------------------------------------------------------------------ WebP


@dataclass
class RiffChunk:
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
    if start == 12 and (data[:4] != b"RIFF" or data[8:12] != b"WEBP"):
        raise CorruptFile("not a WebP file (no RIFF/WEBP header)")
    stop = len(data) if stop is None else stop
    pos, out = start, []
    while pos + 8 <= stop:
        fourcc = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + size > stop:
            raise CorruptFile(f"truncated WebP: chunk {fourcc!r} at offset {pos} runs past the end")
        out.append(RiffChunk(fourcc, pos, size))
        pos += 8 + size + (size & 1)
    return out


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


_BITSTREAM = (b"ALPH", b"VP8 ", b"VP8L")


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
    quantisers match the source's — exact to +-1 on photographs.  Without it, the mapping is
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


def _webp_frame_encode(im: Image.Image, lossless: bool, quality: int) -> list[tuple[bytes, bytes]]:
    """Encode one picture with Pillow; its bitstream chunks as (fourcc, payload)."""
    buf = io.BytesIO()
    if lossless:
        im.save(buf, "WEBP", lossless=True, quality=80, method=4, exact=True)
    else:
        im.save(buf, "WEBP", quality=quality, method=4, alpha_quality=100, exact=True)
    new = buf.getvalue()
    return [(c.fourcc, c.payload(new)) for c in riff_chunks(new) if c.fourcc in _BITSTREAM]


def _riff(body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _mark_webp(data: bytes, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    chunks = riff_chunks(data)
    if not chunks:
        raise CorruptFile("empty WebP file")
    if chunks[0].fourcc == b"VP8X" and chunks[0].payload(data)[0] & 0x02:
        return mark_animated_webp(data, chunks, options, font)
    bitstream = [c for c in chunks if c.fourcc in _BITSTREAM]
    lossless = any(c.fourcc == b"VP8L" for c in bitstream)
    im = _open(data, "WebP")
    _check_mode(im, "webp")
    quality = 100
    vp8 = next((c for c in bitstream if c.fourcc == b"VP8 "), None)
    if vp8 is not None:
        try:
            quality = estimate_webp_quality(vp8.payload(data), im)
        except (ValueError, StopIteration):
            quality = 90
    orientation = _orientation(im)
    drawn = label_picture(im, options, font, orientation)
    new_bits = _webp_frame_encode(im, lossless, quality)
    out = webp_transplant(data, chunks, new_bits)
    how = "losslessly" if lossless else f"lossy at the source's estimated quality {quality}"
    notes = [_summary(drawn), f"WebP re-encoded {how}; every other chunk carried over unchanged", *drawn.notes]
    return ExplicitResult(out, notes, _details(drawn, "webp", {"orientation": orientation,
                                                               "lossless": lossless,
                                                               "quality": None if lossless else quality}))


def webp_transplant(data: bytes, chunks: list[RiffChunk], new_bits: list[tuple[bytes, bytes]]) -> bytes:
    """The source's chunks with the still picture's bitstream (ALPH + VP8, or VP8L) replaced."""
    new_raw = b"".join(riff_chunk(f, p) for f, p in new_bits)
    if chunks[0].fourcc != b"VP8X":
        if any(f == b"ALPH" for f, _p in new_bits):  # cannot happen: a simple file has no ALPH
            raise UnsupportedOperation("re-encoding needs an extended WebP layout")
        body = new_raw + b"".join(c.raw(data) for c in chunks if c.fourcc not in _BITSTREAM)
        return _riff(body)
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
        elif c.fourcc in _BITSTREAM:
            if not placed:
                parts.append(new_raw)
                placed = True
        else:
            parts.append(c.raw(data))
    return _riff(b"".join(parts))


# ------------------------------------------------------------------------------------------ animation
#
# Animated pictures are rewritten frame by frame at byte level: a frame whose rectangle does not touch
# the label box keeps its bytes; the others get the label drawn into them.  Every frame's timing,
# disposal and position, and every extension/chunk between frames, stay as they were, so the frame
# count, durations and loop are exactly the source's.  The label must be visible on *every* displayed
# frame, so the marker follows what each frame's disposal does to the label box: where an earlier
# frame's disposal cleared the label and the next frame does not cover it, that frame's rectangle
# is grown to the label box, the new area transparent (it shows what was there) except the label.


class _LabelState:
    """Which pixels of the label box show the label on the canvas, frame after frame."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box
        self.size = (box[2] - box[0], box[3] - box[1])
        self.shown = Image.new("1", self.size, 0)

    def _rect_mask(self, rect: tuple[int, int, int, int]) -> Image.Image:
        m = Image.new("1", self.size, 0)
        x0, y0 = max(rect[0], self.box[0]) - self.box[0], max(rect[1], self.box[1]) - self.box[1]
        x1, y1 = min(rect[2], self.box[2]) - self.box[0], min(rect[3], self.box[3]) - self.box[1]
        if x1 > x0 and y1 > y0:
            m.paste(255, (x0, y0, x1, y1))
        return m

    def missing_outside(self, rect: tuple[int, int, int, int]) -> bool:
        """Would pixels of the box outside *rect* lack the label while this frame shows?"""
        return _has_hole(ImageChops.logical_or(self.shown, self._rect_mask(rect)))

    def after(self, rect: tuple[int, int, int, int], clear: bool, restore: bool) -> None:
        """Update for a frame drawn over *rect* (label inside it), then disposed (clear/restore)."""
        if restore:
            return  # restore-to-previous: the box shows what it showed before this frame
        drawn = ImageChops.logical_or(self.shown, self._rect_mask(rect))
        if clear:
            drawn = ImageChops.logical_and(drawn, ImageChops.invert(self._rect_mask(rect)))
        self.shown = drawn


def _has_hole(mask: Image.Image) -> bool:
    return mask.convert("L").point([255] + [0] * 255).getbbox() is not None


def _intersects(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


# ---------------------------------------------------------------------------------------------- GIF


@dataclass
class _GifFrame:
    gce: tuple[int, int] | None  # (start, end) of the graphic control extension governing the frame
    start: int  # image separator 0x2C
    lct_start: int
    data_start: int  # LZW minimum code size byte
    end: int
    rect: tuple[int, int, int, int]
    packed: int

    @property
    def interlaced(self) -> bool:
        return bool(self.packed & 0x40)

    @property
    def has_lct(self) -> bool:
        return bool(self.packed & 0x80)


def _gif_subblocks_end(data: bytes, pos: int) -> int:
    n = len(data)
    while pos < n:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise CorruptFile("truncated GIF: sub-blocks run past the end of the file")


def _gif_walk(data: bytes) -> tuple[int, list[_GifFrame], int]:
    """(offset after header + global colour table, frames, offset of the trailer)."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise CorruptFile("not a GIF file")
    packed = data[10]
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    head_end = pos
    frames: list[_GifFrame] = []
    gce = None
    n = len(data)
    while pos < n:
        b = data[pos]
        if b == 0x3B:
            return head_end, frames, pos
        if b == 0x21:
            if pos + 2 > n:
                break
            end = _gif_subblocks_end(data, pos + 2)
            if data[pos + 1] == 0xF9:
                gce = (pos, end)
            pos = end
        elif b == 0x2C:
            if pos + 10 > n:
                break
            x, y, w, h, p = struct.unpack_from("<HHHHB", data, pos + 1)
            lct = pos + 10
            data_start = lct + (3 << ((p & 7) + 1) if p & 0x80 else 0)
            end = _gif_subblocks_end(data, data_start + 1)
            frames.append(_GifFrame(gce, pos, lct, data_start, end, (x, y, x + w, y + h), p))
            gce = None
            pos = end
        else:
            raise CorruptFile(f"corrupt GIF: unknown block 0x{b:02X} at offset {pos}")
    raise CorruptFile("truncated GIF: no trailer")


def _gif_table(raw: bytes) -> list[tuple[int, int, int]]:
    return [tuple(raw[i:i + 3]) for i in range(0, len(raw) - 2, 3)]  # type: ignore[misc]


def _gif_table_bytes(palette: list[tuple[int, int, int]]) -> tuple[bytes, int]:
    """(colour table padded to a power of two, size field) for a GIF colour table."""
    bits = max(1, math.ceil(math.log2(max(len(palette), 2))))
    padded = palette + [(0, 0, 0)] * ((1 << bits) - len(palette))
    return b"".join(bytes(c) for c in padded), bits - 1


def _gif_decode_frame(data: bytes, frame: _GifFrame, table: bytes) -> Image.Image:
    """The frame's own palette indices, decoded by Pillow from a one-frame GIF built around it."""
    w, h = frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1]
    bits = max(0, (len(table) // 3).bit_length() - 2)
    lsd = struct.pack("<HHBBB", w, h, 0x80 | 0x70 | bits, 0, 0)
    desc = b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, frame.packed & 0x40)
    one = b"GIF89a" + lsd + table + desc + data[frame.data_start:frame.end] + b"\x3b"
    im = _open(one, "GIF frame")
    if im.mode == "P":
        return im
    if im.mode != "L":
        raise CorruptFile(f"unexpected GIF frame decoding (mode {im.mode})")
    indices = Image.new("P", im.size)  # a grey ramp palette decodes as L: the values are the indices
    indices.frombytes(im.tobytes())
    return indices


def _gif_encode_frame(indices: Image.Image, table: list[tuple[int, int, int]]) -> bytes:
    """LZW minimum code size and image data sub-blocks for *indices* (mode P)."""
    im = indices.copy()
    if im.mode != "P":
        im = im.convert("P")
    im.putpalette([c for rgb in table for c in rgb], "RGB")
    im.info.pop("transparency", None)
    buf = io.BytesIO()
    im.save(buf, "GIF", optimize=False, interlace=False)
    _head, frames, _trailer = _gif_walk(buf.getvalue())
    f = frames[0]
    return buf.getvalue()[f.data_start:f.end]


def _gif_gce(packed: int, delay: int, transparent: int) -> bytes:
    return b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, transparent) + b"\x00"


def mark_gif(data: bytes, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    head_end, frames, trailer = _gif_walk(data)
    if not frames:
        raise CorruptFile("GIF has no image")
    width, height = struct.unpack_from("<HH", data, 6)
    gct = _gif_table(data[13:head_end]) if data[10] & 0x80 else []
    layout = plan_label((width, height), options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    with _open(data, "GIF") as first:
        dark = mean_luminance(first.convert("RGB").crop(box)) >= 0.5
    state = _LabelState(box)
    notes: list[str] = []
    parts: list[bytes] = [data[:head_end]]
    pos = head_end
    changed = grown = 0
    for i, f in enumerate(frames):
        gce_bytes = bytearray(data[f.gce[0]:f.gce[1]]) if f.gce is not None else None
        gpacked = gce_bytes[3] if gce_bytes is not None and len(gce_bytes) >= 8 else 0
        disposal = (gpacked >> 2) & 7
        transparent = gce_bytes[6] if gce_bytes is not None and gpacked & 1 else None
        touches = _intersects(f.rect, box)
        grow = state.missing_outside(f.rect)
        rect = _union(f.rect, box) if grow else f.rect
        state.after(rect, clear=disposal == 2, restore=disposal == 3)
        if not touches and not grow:
            continue
        # copy everything up to this frame's GCE (or image) unchanged
        cut = f.gce[0] if f.gce is not None else f.start
        parts.append(data[pos:cut])
        table_raw = data[f.lct_start:f.data_start] if f.has_lct else data[13:head_end]
        palette = _gif_table(table_raw) if f.has_lct else list(gct)
        if not palette:
            raise UnsupportedOperation("GIF frame without a colour table: cannot choose label colours")
        own = _gif_decode_frame(data, f, table_raw if f.has_lct else _gif_table_bytes(palette)[0])
        used = {i for i, n in enumerate(own.histogram()[:256]) if n}
        exclude = {transparent} if transparent is not None else set()
        plate_i, text_i, ratio = palette_pair(palette, dark, exclude)
        free = [k for k in range(256) if k not in used and k not in exclude]
        new_palette = list(palette)
        if ratio < _MIN_PALETTE_CONTRAST:
            want = [(0, 0, 0), (255, 255, 255)] if dark else [(255, 255, 255), (0, 0, 0)]
            slots = free[:2]
            if len(slots) == 2:
                for k, colour in zip(slots, want):
                    while len(new_palette) <= k:
                        new_palette.append((0, 0, 0))
                    new_palette[k] = colour
                plate_i, text_i = slots
                free = free[2:]
        if grow and transparent is None:
            spare = [k for k in free if k not in (plate_i, text_i)]
            if not spare:
                raise UnsupportedOperation(f"GIF frame {i} uses all 256 colours; cannot extend it to redraw "
                                           "the label")
            transparent = spare[0]
            while len(new_palette) <= transparent:
                new_palette.append((0, 0, 0))
        w, h = rect[2] - rect[0], rect[3] - rect[1]
        canvas = Image.new("P", (w, h), transparent if grow else 0)
        canvas.paste(own, (f.rect[0] - rect[0], f.rect[1] - rect[1]))
        inter = (max(rect[0], box[0]), max(rect[1], box[1]), min(rect[2], box[2]), min(rect[3], box[3]))
        region = Image.new("P", layout.size, plate_i)
        draw_label(region, layout, indices=(plate_i, text_i))
        part = region.crop((inter[0] - box[0], inter[1] - box[1], inter[2] - box[0], inter[3] - box[1]))
        canvas.paste(part, (inter[0] - rect[0], inter[1] - rect[1]))
        lzw = _gif_encode_frame(canvas, new_palette)
        keep_global = not f.has_lct and new_palette == palette
        packed = f.packed & 0x20 if keep_global else 0
        table = b""
        if not keep_global:
            table, size_bits = _gif_table_bytes(new_palette)
            packed = 0x80 | size_bits
        if gce_bytes is not None:
            if grow and not gpacked & 1:
                gce_bytes[3] |= 1
                gce_bytes[6] = transparent  # type: ignore[index]
            parts.append(bytes(gce_bytes))
            parts.append(data[f.gce[1]:f.start])  # type: ignore[index]
        elif grow:
            parts.append(_gif_gce(1, 0, transparent))  # type: ignore[arg-type]
        parts.append(b"\x2c" + struct.pack("<HHHHB", rect[0], rect[1], w, h, packed) + table + lzw)
        pos = f.end
        changed += 1
        if grow:
            grown += 1
            if disposal == 2 and rect != f.rect:
                notes.append(f"frame {i}: its rectangle grew to the label box, so its 'restore to background' "
                             "disposal also clears that area")
    parts.append(data[pos:])
    out = b"".join(parts)
    if grown and out[:6] == b"GIF87a":
        out = b"GIF89a" + out[6:]
    drawn = Drawn(layout, box)
    notes = [_summary(drawn), f"GIF: label drawn on {changed} of {len(frames)} frame(s) (the others keep "
             "their bytes and show the label from the canvas); frame count, delays, disposal and loop kept",
             *([f"{grown} frame(s) grown to redraw the label after a disposal cleared it"] if grown else []),
             *notes]
    return ExplicitResult(out, notes, _details(drawn, "gif", {"frames": len(frames), "frames_changed": changed}))


# ---------------------------------------------------------------------------------------------- APNG


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def _png_payload(data: bytes, c: _PChunk) -> bytes:
    return data[c.start + 8:c.end - 4]


def _apng_encode(pixels: Image.Image, ihdr: bytes) -> bytes:
    """The zlib image stream of one frame, encoded like the file's IHDR says (bit depth, colour type)."""
    buf = io.BytesIO()
    kw: dict[str, Any] = {"compress_level": 6}
    if pixels.mode in ("P", "L") and ihdr[8] < 8:
        kw["bits"] = ihdr[8]
    pixels.save(buf, "PNG", **kw)
    new = buf.getvalue()
    chunks, _end = _png_chunks(new)
    new_ihdr = _png_payload(new, chunks[0])
    if new_ihdr[8:10] != ihdr[8:10]:
        raise UnsupportedOperation(f"cannot re-encode an APNG frame with bit depth {ihdr[8]} and colour type "
                                   f"{ihdr[9]} (the encoder wrote {new_ihdr[8]}/{new_ihdr[9]})")
    return b"".join(_png_payload(new, c) for c in chunks if c.type == b"IDAT")


def _apng_decode(data: bytes, chunks: list[_PChunk], stream: bytes, size: tuple[int, int]) -> Image.Image:
    """Decode one frame's zlib stream in the file's own mode (IHDR with the frame size, PLTE, tRNS)."""
    ihdr = bytearray(_png_payload(data, chunks[0]))
    struct.pack_into(">II", ihdr, 0, *size)
    extra = b"".join(c.raw(data) for c in chunks if c.type in (b"PLTE", b"tRNS"))
    one = _PNG_SIG + _png_chunk(b"IHDR", bytes(ihdr)) + extra + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")
    return _open(one, "APNG frame")


def mark_apng(data: bytes, chunks: list[_PChunk], end: int, options: ExplicitOptions,
              font: FontChoice) -> ExplicitResult:
    ihdr = _png_payload(data, chunks[0])
    width, height = struct.unpack_from(">II", ihdr, 0)
    anim = _open(data, "APNG")
    _check_mode(anim, "png")
    mode = anim.mode
    layout = plan_label((width, height), options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    notes: list[str] = []
    anim.seek(0)
    first = anim.copy()
    dark = mean_luminance(first.crop(box).convert("RGB") if mode in ("P", "1") else first.crop(box)) >= 0.5
    indices = None
    palette_before = anim.getpalette() if mode == "P" else None
    if mode == "P":
        indices = palette_indices(anim, first.crop(box), notes, max_entries=1 << ihdr[8])
    # group the chunks: (fcTL or None for a default image outside the animation, data chunks)
    frames: list[tuple[_PChunk | None, list[_PChunk]]] = []
    current: tuple[_PChunk | None, list[_PChunk]] | None = None
    for c in chunks:
        if c.type == b"fcTL":
            current = (c, [])
            frames.append(current)
        elif c.type in (b"IDAT", b"fdAT"):
            if current is None:
                current = (None, [])
                frames.append(current)
            current[1].append(c)
    default_separate = frames and frames[0][0] is None
    state = _LabelState(box)
    replaced: dict[int, list[bytes]] = {}  # index of a frame's first chunk (fcTL or IDAT) -> new chunks
    skip: set[int] = set()
    pos_of = {id(c): i for i, c in enumerate(chunks)}
    changed = 0
    for k, (fctl, parts) in enumerate(frames):
        if not parts:
            continue
        if fctl is None:
            frect, dispose, blend = (0, 0, width, height), None, 0
        else:
            fp = _png_payload(data, fctl)
            _seq, w, h, x, y, _dn, _dd, dispose, blend = struct.unpack(">IIIIIHHBB", fp[:26])
            frect = (x, y, x + w, y + h)
        if fctl is None:  # the static picture of non-APNG viewers: labelled, outside the animation's state
            rect, grow = frect, False
        else:
            grow = state.missing_outside(frect)
            rect = _union(frect, box) if grow else frect
            first_frame = k == (1 if default_separate else 0)  # APNG: "previous" on frame 0 means "background"
            state.after(rect, clear=dispose == 1 or (first_frame and dispose == 2),
                        restore=dispose == 2 and not first_frame)
            if not _intersects(frect, box) and not grow:
                continue
        stream = b"".join(_png_payload(data, c)[4 if c.type == b"fdAT" else 0:] for c in parts)
        own = _apng_decode(data, chunks, stream, (frect[2] - frect[0], frect[3] - frect[1]))
        anim.seek(k)  # Pillow counts a separate default picture as frame 0, as *frames* does
        canvas = anim.copy()
        rw, rh = rect[2] - rect[0], rect[3] - rect[1]
        if rect != frect and blend == 1 and mode in ("RGBA", "LA"):
            pixels = Image.new(mode, (rw, rh), 0)
        else:
            pixels = canvas.crop(rect)
        pixels.paste(own, (frect[0] - rect[0], frect[1] - rect[1]))
        region = canvas.crop(box)
        if mode == "P":
            region.putpalette(anim.getpalette() or [])
        draw_label(region, layout, dark_plate=dark, indices=indices)
        inter = (max(rect[0], box[0]), max(rect[1], box[1]), min(rect[2], box[2]), min(rect[3], box[3]))
        pixels.paste(region.crop((inter[0] - box[0], inter[1] - box[1], inter[2] - box[0], inter[3] - box[1])),
                     (inter[0] - rect[0], inter[1] - rect[1]))
        if mode == "P":
            pixels.putpalette(anim.getpalette() or [])
        stream = _apng_encode(pixels, ihdr)
        new: list[bytes] = []
        if fctl is not None:
            fp = bytearray(_png_payload(data, fctl))
            struct.pack_into(">IIII", fp, 4, rw, rh, rect[0], rect[1])
            new.append(_png_chunk(b"fcTL", bytes(fp)))
        if parts[0].type == b"IDAT":
            new.append(_png_chunk(b"IDAT", stream))
        else:
            new.append(_png_chunk(b"fdAT", b"\x00\x00\x00\x00" + stream))
        first_chunk = fctl if fctl is not None else parts[0]
        replaced[pos_of[id(first_chunk)]] = new
        skip.update(pos_of[id(c)] for c in parts)
        changed += 1
    out = [_PNG_SIG]
    seq = 0
    for i, c in enumerate(chunks):
        if i in replaced:
            pieces = replaced[i]
        elif i in skip:
            continue
        elif c.type == b"PLTE" and mode == "P" and anim.getpalette() != palette_before:
            pieces = [_png_chunk(b"PLTE", bytes(anim.getpalette() or []))]
        else:
            pieces = [c.raw(data)]
        for raw in pieces:
            ctype = raw[4:8]
            if ctype in (b"fcTL", b"fdAT"):  # sequence numbers run over all fcTL and fdAT chunks
                payload = struct.pack(">I", seq) + raw[12:-4]
                raw = _png_chunk(ctype, payload)
                seq += 1
            out.append(raw)
    out.append(data[end:])
    drawn = Drawn(layout, box)
    n_anim = sum(1 for f, _p in frames if f is not None)
    notes = [_summary(drawn), f"APNG: label drawn on {changed} of {len(frames)} picture(s) losslessly; frame count, "
             "delays, disposal, blending and loop kept", *notes]
    return ExplicitResult(b"".join(out), notes, _details(drawn, "png", {"frames": n_anim,
                                                                        "frames_changed": changed,
                                                                        "animated": True}))


# ---------------------------------------------------------------------------------------- WebP anim


def _webp_decode(chunks: list[tuple[bytes, bytes]], size: tuple[int, int]) -> Image.Image:
    """Decode one frame's bitstream chunks (ALPH + VP8, or VP8L) with Pillow, as RGBA."""
    body = b"".join(riff_chunk(f, p) for f, p in chunks)
    if any(f == b"ALPH" for f, _p in chunks):
        w, h = size
        vp8x = bytes([0x10, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        body = riff_chunk(b"VP8X", vp8x) + body
    return _open(_riff(body), "WebP frame").convert("RGBA")


def mark_animated_webp(data: bytes, chunks: list[RiffChunk], options: ExplicitOptions,
                       font: FontChoice) -> ExplicitResult:
    vp8x = chunks[0].payload(data)
    width = int.from_bytes(vp8x[4:7], "little") + 1
    height = int.from_bytes(vp8x[7:10], "little") + 1
    layout = plan_label((width, height), options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    anim = _open(data, "animated WebP")
    frames = [c for c in chunks if c.fourcc == b"ANMF"]
    if getattr(anim, "n_frames", 1) != len(frames):
        raise CorruptFile(f"animated WebP: {len(frames)} ANMF chunks but the decoder sees "
                          f"{getattr(anim, 'n_frames', 1)} frames")
    anim.seek(0)
    dark = mean_luminance(anim.convert("RGB").crop(box)) >= 0.5
    state = _LabelState(box)
    new_frames: dict[int, bytes] = {}
    any_alpha = bool(vp8x[0] & 0x10)
    lossy_q: list[int] = []
    for i, c in enumerate(frames):
        p = c.payload(data)
        x, y = 2 * int.from_bytes(p[0:3], "little"), 2 * int.from_bytes(p[3:6], "little")
        w, h = int.from_bytes(p[6:9], "little") + 1, int.from_bytes(p[9:12], "little") + 1
        flags = p[15]
        no_blend, dispose_bg = bool(flags & 0x02), bool(flags & 0x01)
        frect = (x, y, x + w, y + h)
        touches = _intersects(frect, box)
        grow = state.missing_outside(frect)
        rect = frect
        if grow:
            u = _union(frect, box)
            rect = (u[0] - u[0] % 2, u[1] - u[1] % 2, u[2], u[3])
        state.after(rect, clear=dispose_bg, restore=False)
        if not touches and not grow:
            continue
        sub = riff_chunks(data, c.payload_start + 16, c.payload_start + c.size)
        bits = [(s.fourcc, s.payload(data)) for s in sub if s.fourcc in _BITSTREAM]
        others = b"".join(s.raw(data) for s in sub if s.fourcc not in _BITSTREAM)
        lossless = any(f == b"VP8L" for f, _p in bits)
        own = _webp_decode(bits, (w, h))
        quality = 100
        if not lossless:
            vp8 = next((pl for f, pl in bits if f == b"VP8 "), b"")
            try:
                quality = estimate_webp_quality(vp8, own)
            except (ValueError, StopIteration):
                quality = 90
            lossy_q.append(quality)
        anim.seek(i)
        shown = anim.convert("RGBA")  # the canvas as displayed after this frame (source, no label)
        rw, rh = rect[2] - rect[0], rect[3] - rect[1]
        if rect != frect and no_blend:
            pixels = shown.crop(rect)  # a non-blended frame replaces: show what the canvas shows
        else:
            pixels = Image.new("RGBA", (rw, rh), (0, 0, 0, 0))
        pixels.paste(own, (x - rect[0], y - rect[1]))
        region = shown.crop(box)
        draw_label(region, layout, dark_plate=dark)
        inter = (max(rect[0], box[0]), max(rect[1], box[1]), min(rect[2], box[2]), min(rect[3], box[3]))
        pixels.paste(region.crop((inter[0] - box[0], inter[1] - box[1], inter[2] - box[0], inter[3] - box[1])),
                     (inter[0] - rect[0], inter[1] - rect[1]))
        if pixels.getextrema()[3][0] == 255:
            pixels = pixels.convert("RGB")
        encoded = _webp_frame_encode(pixels, lossless, quality)
        any_alpha = any_alpha or bitstream_has_alpha(encoded)
        head = ((rect[0] // 2).to_bytes(3, "little") + (rect[1] // 2).to_bytes(3, "little")
                + (rw - 1).to_bytes(3, "little") + (rh - 1).to_bytes(3, "little") + p[12:16])
        new_frames[i] = riff_chunk(b"ANMF", head + b"".join(riff_chunk(f, q) for f, q in encoded) + others)
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
    drawn = Drawn(layout, box)
    how = (f"lossy frames re-encoded at their estimated quality ({min(lossy_q)}-{max(lossy_q)})" if lossy_q
           else "lossless frames stay lossless")
    notes = [_summary(drawn), f"animated WebP: label drawn on {len(new_frames)} of {len(frames)} frame(s); "
             f"{how}; frame count, durations, blending, disposal and loop kept"]
    return ExplicitResult(_riff(b"".join(parts)), notes,
                          _details(drawn, "webp", {"frames": len(frames), "frames_changed": len(new_frames),
                                                   "animated": True}))


# ---------------------------------------------------------------------------------------------- TIFF
#
# Only the strips (or tiles) under the label are re-encoded, with the file's own compression and
# predictor; each new strip is written over the old one when it fits, else appended, and the strip
# offset/byte-count arrays are patched.  Every tag, every other strip, the other pages and all
# metadata (EXIF, ICC, XMP, IPTC, GeoTIFF...) keep their bytes.  The result is decoded again and
# compared with the labelled picture before it is returned.

_TIFF_TYPES = {1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 6: ("b", 1), 7: ("B", 1), 8: ("h", 2),
               9: ("i", 4), 16: ("Q", 8)}
_TIFF_COMPRESSION = {1: "raw", 5: "tiff_lzw", 8: "tiff_adobe_deflate", 32946: "tiff_adobe_deflate",
                     32773: "packbits", 3: "group3", 4: "group4"}


@dataclass
class _TiffEntry:
    tag: int
    type: int
    count: int
    at: int  # offset of the 12-byte entry
    value_at: int  # offset of the value bytes (inline: inside the entry)


def _tiff_ifd0(data: bytes) -> tuple[str, dict[int, _TiffEntry]]:
    if data[:4] == b"II*\x00":
        e = "<"
    elif data[:4] == b"MM\x00*":
        e = ">"
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        raise UnsupportedOperation("visible labels on BigTIFF files are not supported in this version")
    else:
        raise CorruptFile("not a TIFF file")
    try:
        (ifd,) = struct.unpack_from(e + "I", data, 4)
        (n,) = struct.unpack_from(e + "H", data, ifd)
        entries = {}
        for i in range(n):
            at = ifd + 2 + 12 * i
            tag, typ, count = struct.unpack_from(e + "HHI", data, at)
            size = _TIFF_TYPES.get(typ, ("B", 1))[1] * count
            value_at = at + 8 if size <= 4 else struct.unpack_from(e + "I", data, at + 8)[0]
            entries[tag] = _TiffEntry(tag, typ, count, at, value_at)
    except struct.error:
        raise CorruptFile("truncated TIFF: IFD0 runs past the end of the file") from None
    return e, entries


def _tiff_values(data: bytes, e: str, entry: _TiffEntry | None) -> list[int]:
    if entry is None:
        return []
    fmt, size = _TIFF_TYPES.get(entry.type, ("B", 1))
    if entry.value_at + size * entry.count > len(data):
        raise CorruptFile(f"truncated TIFF: tag {entry.tag} points past the end of the file")
    return list(struct.unpack_from(f"{e}{entry.count}{fmt}", data, entry.value_at))


def _tiff_piece(piece: Image.Image, compression: str, predictor: int, photometric: int) -> bytes:
    """One strip's (or tile's) bytes, encoded by Pillow/libtiff like the source's strips."""
    buf = io.BytesIO()
    info = {278: piece.height, 262: photometric}
    if predictor in (2, 3):
        info[317] = predictor
    piece.save(buf, "TIFF", compression=compression, tiffinfo=info)
    out = buf.getvalue()
    e, entries = _tiff_ifd0(out)
    offsets, counts = _tiff_values(out, e, entries.get(273)), _tiff_values(out, e, entries.get(279))
    if len(offsets) != 1:
        raise UnsupportedOperation("the TIFF encoder split a strip")
    return out[offsets[0]:offsets[0] + counts[0]]


def _mark_tiff(data: bytes, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    e, ifd = _tiff_ifd0(data)

    def one(tag: int, default: int) -> int:
        v = _tiff_values(data, e, ifd.get(tag))
        return v[0] if v else default

    compression = one(259, 1)
    if compression not in _TIFF_COMPRESSION:
        raise UnsupportedOperation(f"visible labels on TIFF files with compression {compression} are not "
                                   "supported in this version (supported: none, LZW, Deflate, PackBits, CCITT)")
    if one(284, 1) != 1:
        raise UnsupportedOperation("visible labels on planar (PlanarConfiguration 2) TIFF files are not "
                                   "supported in this version")
    if one(262, 1) not in (0, 1, 2, 3, 5):
        raise UnsupportedOperation(f"visible labels on TIFF files with photometric interpretation "
                                   f"{one(262, 1)} are not supported in this version")
    im = _open(data, "TIFF")
    _check_mode(im, "tiff")
    pages = getattr(im, "n_frames", 1)
    im.seek(0)
    width, height = im.size
    orientation = one(274, 1) if 1 <= one(274, 1) <= 8 else 1
    drawn = label_picture(im, options, font, orientation)
    tiled = 322 in ifd and 324 in ifd
    if tiled:
        tw, th = one(322, 0), one(323, 0)
        off_tag, cnt_tag = 324, 325
        across = (width + tw - 1) // tw
        pieces = [(c * tw, r * th, c * tw + tw, r * th + th) for r in range((height + th - 1) // th)
                  for c in range(across)]
    else:
        rps = min(one(278, height), height) or height
        off_tag, cnt_tag = 273, 279
        pieces = [(0, y, width, min(y + rps, height)) for y in range(0, height, rps)]
    offsets = _tiff_values(data, e, ifd.get(off_tag))
    counts = _tiff_values(data, e, ifd.get(cnt_tag))
    if len(offsets) != len(pieces) or len(counts) != len(pieces):
        raise UnsupportedOperation("TIFF strip/tile layout not understood (counts do not match the size)")
    x0, y0, x1, y1 = drawn.stored_box
    name = _TIFF_COMPRESSION[compression]
    predictor, photometric = one(317, 1), one(262, 1)
    out = bytearray(data)
    new_offsets, new_counts = list(offsets), list(counts)
    rewritten = appended = 0
    for k, (px0, py0, px1, py1) in enumerate(pieces):
        if px1 <= x0 or px0 >= x1 or py1 <= y0 or py0 >= y1:
            continue
        try:
            piece = _tiff_piece(im.crop((px0, py0, px1, py1)), name, predictor, photometric)
        except (OSError, ValueError, KeyError) as exc:
            raise UnsupportedOperation(f"cannot re-encode this TIFF's strips ({name}, mode {im.mode}): {exc}") \
                from None
        rewritten += 1
        if len(piece) <= counts[k] or offsets[k] + counts[k] == len(out):  # fits, or ends the file
            out[offsets[k]:offsets[k] + counts[k]] = piece if len(piece) > counts[k] else \
                piece + bytes(counts[k] - len(piece))
        else:
            if len(out) & 1:
                out.append(0)
            new_offsets[k] = len(out)
            out += piece
            appended += 1
        new_counts[k] = len(piece)
    for tag, values in ((off_tag, new_offsets), (cnt_tag, new_counts)):
        _tiff_put_values(out, e, ifd[tag], values)
    result = bytes(out)
    check = _open(result, "relabelled TIFF")
    if check.mode != im.mode or check.tobytes() != im.tobytes():
        raise UnsupportedOperation(f"re-encoding this TIFF's strips ({name}, mode {im.mode}) did not reproduce "
                                   "the picture; nothing was written")
    notes = [_summary(drawn), f"TIFF: {rewritten} of {len(pieces)} {'tile' if tiled else 'strip'}(s) re-encoded "
             f"losslessly ({name}); every tag and all other image data kept byte for byte", *drawn.notes]
    if appended:
        notes.append(f"{appended} re-encoded piece(s) grew and were appended; their old bytes stay in the file, "
                     "unreferenced")
    if pages > 1:
        notes.append(f"only the first of {pages} pages was labelled")
    return ExplicitResult(result, notes, _details(drawn, "tiff", {"orientation": orientation, "pages": pages,
                                                                  "appended_pieces": appended}))


def _tiff_put_values(out: bytearray, e: str, entry: _TiffEntry, values: list[int]) -> None:
    """Write *values* into *entry* (in place; as a new LONG array at the end if they no longer fit)."""
    fmt, _size = _TIFF_TYPES[entry.type]
    if entry.type == 3 and max(values, default=0) > 0xFFFF:  # SHORT values outgrown: switch to LONG
        if len(values) == 1:
            struct.pack_into(e + "HHII", out, entry.at, entry.tag, 4, 1, values[0])
            return
        if len(out) & 1:
            out.append(0)
        at = len(out)
        out += struct.pack(f"{e}{len(values)}I", *values)
        struct.pack_into(e + "HHII", out, entry.at, entry.tag, 4, len(values), at)
        return
    struct.pack_into(f"{e}{len(values)}{fmt}", out, entry.value_at, *values)


# ------------------------------------------------------------------------------------------ marker


_MARKERS: dict[str, Callable[[bytes, ExplicitOptions, FontChoice], ExplicitResult]] = {
    "jpeg": _mark_jpeg,
    "png": _mark_png,
    "webp": _mark_webp,
    "gif": mark_gif,
    "tiff": _mark_tiff,
}


class ImageMarker:
    """Draws the text label on JPEG, PNG, WebP, GIF and TIFF pictures (animated ones on every frame)."""

    formats = tuple(_MARKERS)

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in _MARKERS

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        fn = _MARKERS.get(handler.name)
        if fn is None:
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        font = resolve_font(options.text, options.font)
        src.seek(0)
        data = src.read()
        return fn(data, options, font)
