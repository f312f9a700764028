"""In-memory GIF frame surgery for the explicit step.

The metadata handler (:mod:`.gif`) walks blocks on disk by their sub-block lengths; drawing a label
needs each frame of a file held in memory: its rectangle, its graphic control extension (delay,
disposal, transparent index), its colour table, its palette indices decoded alone (a one-frame GIF
built around its LZW data) and a way to put a redrawn frame back where it was, every other byte kept.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._io import CountingReader
from ..foreign import pillow_errors
from ..limits import check_count
from .gif import EXTENSION, GRAPHIC_CONTROL, IMAGE, walk_blocks

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["GifFrame", "GifLayout", "gif_walk", "gif_table", "gif_table_bytes", "gif_frame_file",
           "gif_encode_frame", "gif_frame_bytes"]


@dataclass
class GifFrame:
    """Where one GIF frame's parts are (control extension, descriptor, colour table, image data)."""
    gce: tuple[int, int] | None  # (start, end) of the graphic control extension governing the frame
    start: int  # image separator 0x2C
    lct_start: int
    data_start: int  # LZW minimum code size byte
    end: int
    rect: tuple[int, int, int, int]
    packed: int
    gce_packed: int = 0
    transparent: int | None = None

    @property
    def interlaced(self) -> bool:
        return bool(self.packed & 0x40)

    @property
    def has_lct(self) -> bool:
        return bool(self.packed & 0x80)

    @property
    def disposal(self) -> int:
        return (self.gce_packed >> 2) & 7


@dataclass
class GifLayout:
    """A GIF's screen size, header end, frames and trailer offset."""
    width: int
    height: int
    head_end: int  # after the header and the global colour table
    frames: list[GifFrame]
    trailer: int

    def global_table(self, data: bytes) -> list[tuple[int, int, int]]:
        return gif_table(data[13:self.head_end]) if data[10] & 0x80 else []


def gif_walk(data: bytes) -> GifLayout:
    """The frames of an in-memory GIF, each with the graphic control extension that governs it.

    The blocks are walked by the handler's walker (:func:`.gif.walk_blocks`); a frame is governed
    by the last graphic control extension since the previous image.
    """
    blocks = walk_blocks(CountingReader(io.BytesIO(data), "<gif>", len(data)))
    frames: list[GifFrame] = []
    gce: tuple[int, int] | None = None
    for b in blocks.blocks:
        if b.kind == EXTENSION and b.label == GRAPHIC_CONTROL:
            gce = (b.offset, b.end)
        elif b.kind == IMAGE:
            x, y, w, h, p = struct.unpack_from("<HHHHB", data, b.offset + 1)
            lct = b.offset + 10
            data_start = lct + (3 << ((p & 7) + 1) if p & 0x80 else 0)
            frame = GifFrame(gce, b.offset, lct, data_start, b.end, (x, y, x + w, y + h), p)
            if gce is not None and gce[1] - gce[0] >= 8:
                frame.gce_packed = data[gce[0] + 3]
                if frame.gce_packed & 1:
                    frame.transparent = data[gce[0] + 6]
            frames.append(frame)
            check_count(len(frames), "GIF frames")
            gce = None
    return GifLayout(blocks.width, blocks.height, blocks.header_end, frames, blocks.trailer)


def gif_table(raw: bytes) -> list[tuple[int, int, int]]:
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw) - 2, 3)]


def gif_table_bytes(palette: list[tuple[int, int, int]]) -> tuple[bytes, int]:
    """(colour table padded to a power of two, size field) for a GIF colour table."""
    bits = max(1, math.ceil(math.log2(max(len(palette), 2))))
    padded = palette + [(0, 0, 0)] * ((1 << bits) - len(palette))
    return b"".join(bytes(c) for c in padded), bits - 1


def frame_palette(data: bytes, layout: GifLayout, frame: GifFrame) -> tuple[list[tuple[int, int, int]], bytes]:
    """(palette, colour-table bytes) that apply to *frame*: its local table, else the global one."""
    if frame.has_lct:
        raw = data[frame.lct_start:frame.data_start]
        return gif_table(raw), raw
    palette = layout.global_table(data)
    return palette, gif_table_bytes(palette)[0] if palette else b""


def gif_frame_file(data: bytes, frame: GifFrame, table: bytes) -> bytes:
    """A one-frame GIF around *frame*'s LZW data with colour table *table* (to decode it alone)."""
    w, h = frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1]
    bits = max(0, (len(table) // 3).bit_length() - 2)
    lsd = struct.pack("<HHBBB", w, h, 0x80 | 0x70 | bits, 0, 0)
    desc = b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, frame.packed & 0x40)
    return b"GIF89a" + lsd + table + desc + data[frame.data_start:frame.end] + b"\x3b"


def gif_encode_frame(indices: Image.Image, table: list[tuple[int, int, int]]) -> bytes:
    """LZW minimum code size and image data sub-blocks for *indices* (mode P)."""
    im = indices.copy()
    if im.mode != "P":
        im = im.convert("P")
    im.putpalette([c for rgb in table for c in rgb], "RGB")
    im.info.pop("transparency", None)
    buf = io.BytesIO()
    with pillow_errors("re-encoding a GIF frame"):
        im.save(buf, "GIF", optimize=False, interlace=False)
    f = gif_walk(buf.getvalue()).frames[0]
    return buf.getvalue()[f.data_start:f.end]


def _gce(packed: int, delay: int, transparent: int) -> bytes:
    return b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, transparent) + b"\x00"


def gif_frame_bytes(data: bytes, frame: GifFrame, rect: tuple[int, int, int, int], lzw: bytes,
                    palette: list[tuple[int, int, int]], keep_global: bool, transparent: int | None,
                    grown: bool) -> bytes:
    """The GCE (if any), the blocks between it and the image, and the new image block of a redrawn frame.

    A frame *grown* beyond its rectangle gets transparency (a GCE is added when it had none), so
    the new area shows what was under it.
    """
    parts: list[bytes] = []
    packed = frame.packed & 0x20 if keep_global else 0
    table = b""
    if not keep_global:
        table, size_bits = gif_table_bytes(palette)
        packed = 0x80 | size_bits
    if frame.gce is not None:
        gce = bytearray(data[frame.gce[0]:frame.gce[1]])
        if grown and not frame.gce_packed & 1 and transparent is not None and len(gce) >= 8:
            gce[3] |= 1
            gce[6] = transparent
        parts.append(bytes(gce))
        parts.append(data[frame.gce[1]:frame.start])
    elif grown and transparent is not None:
        parts.append(_gce(1, 0, transparent))
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    parts.append(b"\x2c" + struct.pack("<HHHHB", rect[0], rect[1], w, h, packed) + table + lzw)
    return b"".join(parts)
