"""In-memory TIFF strip/tile surgery for the explicit step.

Only the strips (or tiles) under the label are re-encoded, with the file's own compression and
predictor; each new strip is written over the old one when it fits, else appended, and the strip
offset/byte-count arrays are patched.  Every tag, every other strip, the other pages and all
metadata (EXIF, ICC, XMP, IPTC, GeoTIFF...) keep their bytes.

The layout is read and checked (compression, planar configuration, photometric interpretation,
strip/tile arrays that match the picture size and lie inside the file) *before* any pixel is
decoded, so a strip byte count that claims 4 GB is refused from its header.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..foreign import pillow_errors
from ..limits import check_allocation, check_count, check_pixels
from .tiff import Entry, TiffFile

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["TiffLayout", "tiff_layout", "tiff_write_pieces"]

_TIFF_TYPES = {1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 6: ("b", 1), 7: ("B", 1), 8: ("h", 2),
               9: ("i", 4), 16: ("Q", 8)}
COMPRESSION_NAMES = {1: "raw", 5: "tiff_lzw", 8: "tiff_adobe_deflate", 32946: "tiff_adobe_deflate",
                     32773: "packbits", 3: "group3", 4: "group4"}


def _tiff(data: bytes) -> TiffFile:
    """The handler's IFD walker over in-memory bytes (one TIFF parser: loops, counts and bounds guarded)."""
    tf = TiffFile(CountingReader(io.BytesIO(data), "<tiff>", len(data)))
    if tf.big:
        raise UnsupportedOperation("visible labels on BigTIFF files are not supported in this version")
    return tf


def _values(tf: TiffFile, entry: Entry | None) -> list[int]:
    if entry is None:
        return []
    fmt, size = _TIFF_TYPES.get(entry.type, ("B", 1))
    check_allocation(size * entry.count, f"TIFF tag {entry.tag}")
    raw = tf.value(entry, size * entry.count) if entry.size >= 0 else \
        tf.src.read_at(entry.value_offset, size * entry.count)
    if len(raw) != size * entry.count:
        raise CorruptFile(f"truncated TIFF: tag {entry.tag} points past the end of the file")
    return list(struct.unpack(f"{tf.e}{entry.count}{fmt}", raw))


@dataclass
class TiffLayout:
    """IFD0's picture layout: what a strip-by-strip re-encode needs."""

    endian: str
    entries: dict[int, Entry]
    width: int
    height: int
    compression: int
    predictor: int
    photometric: int
    orientation: int
    tiled: bool
    pieces: list[tuple[int, int, int, int]]  # the picture rectangle of each strip/tile
    offsets: list[int]
    counts: list[int]

    @property
    def compression_name(self) -> str:
        return COMPRESSION_NAMES[self.compression]

    @property
    def tags(self) -> tuple[int, int]:
        return (324, 325) if self.tiled else (273, 279)


def _check_supported(compression: int, planar: int, photometric: int) -> None:
    if compression not in COMPRESSION_NAMES:
        raise UnsupportedOperation(f"visible labels on TIFF files with compression {compression} are not "
                                   "supported in this version (supported: none, LZW, Deflate, PackBits, CCITT)")
    if planar != 1:
        raise UnsupportedOperation("visible labels on planar (PlanarConfiguration 2) TIFF files are not "
                                   "supported in this version")
    if photometric not in (0, 1, 2, 3, 5):
        raise UnsupportedOperation(f"visible labels on TIFF files with photometric interpretation "
                                   f"{photometric} are not supported in this version")


def _pieces(width: int, height: int, tile: tuple[int, int] | None,
            rows_per_strip: int) -> list[tuple[int, int, int, int]]:
    """The picture rectangle of each tile (*tile* = its size) or strip, in the order of the offset arrays."""
    if tile is not None:
        tw, th = tile
        if tw <= 0 or th <= 0:
            raise CorruptFile(f"corrupt TIFF: tile size {tw}x{th}")
        check_pixels(tw, th, "a TIFF tile")  # the decoder allocates whole tiles
        across, down = (width + tw - 1) // tw, (height + th - 1) // th
        check_count(across * down, "TIFF tiles")
        return [(c * tw, r * th, c * tw + tw, r * th + th) for r in range(down) for c in range(across)]
    rps = min(rows_per_strip, height) or height
    check_count((height + rps - 1) // rps, "TIFF strips")
    return [(0, y, width, min(y + rps, height)) for y in range(0, height, rps)]


def tiff_layout(data: bytes) -> TiffLayout:
    """IFD0 read and checked for a re-encode; refuses what the marker cannot keep lossless."""
    tf = _tiff(data)
    tf.check_image_data()  # every page's strips and tiles lie inside the file, before anything is decoded
    ifd = {entry.tag: entry for entry in tf.ifd0.entries}

    def one(tag: int, default: int) -> int:
        v = _values(tf, ifd.get(tag)) if tag in ifd and ifd[tag].count else []
        return v[0] if v else default

    compression = one(259, 1)
    _check_supported(compression, one(284, 1), one(262, 1))
    width, height = one(256, 0), one(257, 0)
    check_pixels(width, height, "the TIFF picture")
    tiled = 322 in ifd and 324 in ifd
    pieces = _pieces(width, height, (one(322, 0), one(323, 0)) if tiled else None, one(278, height))
    off_tag, cnt_tag = (324, 325) if tiled else (273, 279)
    for tag in (off_tag, cnt_tag):
        entry = ifd.get(tag)
        if entry is None or entry.type not in (3, 4):
            # the strip arrays are rewritten in place: only SHORT and LONG arrays are understood
            raise CorruptFile(f"corrupt TIFF: tag {tag} (strip/tile {'offsets' if tag == off_tag else 'byte counts'}) "
                              f"is {'missing' if entry is None else f'of type {entry.type}'}, not SHORT or LONG")
    offsets = _values(tf, ifd.get(off_tag))
    counts = _values(tf, ifd.get(cnt_tag))
    if len(offsets) != len(pieces) or len(counts) != len(pieces):
        raise UnsupportedOperation("TIFF strip/tile layout not understood (counts do not match the size)")
    for k, (off, cnt) in enumerate(zip(offsets, counts, strict=True)):
        # a strip that claims more bytes than the file holds: refuse before anything is decoded
        check_allocation(cnt, f"TIFF {'tile' if tiled else 'strip'} {k}")
        if off < 0 or off + cnt > len(data):
            raise CorruptFile(f"corrupt TIFF: {'tile' if tiled else 'strip'} {k} ({cnt} bytes at offset {off}) "
                              f"lies outside the file ({len(data)} bytes)")
    orientation = one(274, 1)
    return TiffLayout(tf.e, ifd, width, height, compression, one(317, 1), one(262, 1),
                      orientation if 1 <= orientation <= 8 else 1, tiled, pieces, offsets, counts)


def _encode_piece(piece: Image.Image, compression: str, predictor: int, photometric: int) -> bytes:
    """One strip's (or tile's) bytes, encoded by Pillow/libtiff like the source's strips."""
    buf = io.BytesIO()
    info = {278: piece.height, 262: photometric}
    if predictor in (2, 3):
        info[317] = predictor
    piece.save(buf, "TIFF", compression=compression, tiffinfo=info)
    out = buf.getvalue()
    tf = _tiff(out)
    entries = {entry.tag: entry for entry in tf.ifd0.entries}
    offsets, counts = _values(tf, entries.get(273)), _values(tf, entries.get(279))
    if len(offsets) != 1:
        raise UnsupportedOperation("the TIFF encoder split a strip")
    return out[offsets[0]:offsets[0] + counts[0]]


def _put_values(out: bytearray, e: str, entry: Entry, values: list[int]) -> None:
    """Write *values* into *entry* (in place; as a new LONG array at the end if they no longer fit)."""
    fmt, _size = _TIFF_TYPES[entry.type]
    if entry.type == 3 and max(values, default=0) > 0xFFFF:  # SHORT values outgrown: switch to LONG
        if len(values) == 1:
            struct.pack_into(e + "HHII", out, entry.entry_offset, entry.tag, 4, 1, values[0])
            return
        if len(out) & 1:
            out.append(0)
        at = len(out)
        out += struct.pack(f"{e}{len(values)}I", *values)
        struct.pack_into(e + "HHII", out, entry.entry_offset, entry.tag, 4, len(values), at)
        return
    struct.pack_into(f"{e}{len(values)}{fmt}", out, entry.value_offset, *values)


def tiff_write_pieces(data: bytes, layout: TiffLayout, im: Image.Image,
                      box: tuple[int, int, int, int]) -> tuple[bytes, int, int]:
    """(new file, pieces re-encoded, pieces appended): the strips/tiles of *im* that meet *box* re-encoded."""
    x0, y0, x1, y1 = box
    out = bytearray(data)
    offsets, counts = layout.offsets, layout.counts
    new_offsets, new_counts = list(offsets), list(counts)
    rewritten = appended = 0
    name = layout.compression_name
    for k, (px0, py0, px1, py1) in enumerate(layout.pieces):
        if px1 <= x0 or px0 >= x1 or py1 <= y0 or py0 >= y1:
            continue
        try:
            with pillow_errors(f"re-encoding a TIFF strip ({name})"):
                piece = _encode_piece(im.crop((px0, py0, px1, py1)), name, layout.predictor, layout.photometric)
        except CorruptFile as exc:
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
    off_tag, cnt_tag = layout.tags
    for tag, values in ((off_tag, new_offsets), (cnt_tag, new_counts)):
        _put_values(out, layout.endian, layout.entries[tag], values)
    return bytes(out), rewritten, appended
