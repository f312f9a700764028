"""In-memory PNG/APNG chunk surgery for the explicit step.

The metadata handler (:mod:`.png`) streams chunks from disk; drawing a label needs the chunks of
a file held in memory (and of Pillow's re-encodings): the new IHDR/PLTE/tRNS/IDAT put in the place
of the old while every ancillary chunk keeps its bytes, and the frames of an APNG (fcTL + IDAT/fdAT
groups) decoded and re-encoded one at a time.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..foreign import pillow_errors
from ..limits import check_count
from .png import walk_chunks

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["PNG_SIG", "PChunk", "png_chunks", "png_chunk", "png_payload", "png_transplant", "ApngFrame",
           "apng_frames", "apng_frame_file", "apng_encode", "apng_rebuild"]

PNG_SIG = b"\x89PNG\r\n\x1a\n"


@dataclass
class PChunk:
    """A PNG chunk's type and byte span."""
    type: bytes
    start: int
    end: int

    def raw(self, data: bytes) -> bytes:
        return data[self.start:self.end]


def png_chunks(data: bytes) -> tuple[list[PChunk], int]:
    """Chunks through IEND and the offset after IEND, walked by the handler's walker (:func:`.png.walk_chunks`)."""
    found = walk_chunks(CountingReader(io.BytesIO(data), "<png>", len(data)))
    check_count(len(found), "PNG chunks")
    out = [PChunk(c.type, c.offset, c.end) for c in found]
    return out, out[-1].end


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_payload(data: bytes, c: PChunk) -> bytes:
    return data[c.start + 8:c.end - 4]


def ihdr_facts(data: bytes, chunks: list[PChunk]) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk."""
    if not chunks or chunks[0].type != b"IHDR" or chunks[0].end - chunks[0].start < 25:
        raise CorruptFile("PNG does not start with IHDR")
    ihdr = png_payload(data, chunks[0])
    width, height = struct.unpack_from(">II", ihdr, 0)
    return width, height, ihdr[8], ihdr[9]


def png_transplant(data: bytes, chunks: list[PChunk], end: int, new: bytes) -> bytes:
    """The source's chunks in their order, with IHDR/PLTE/tRNS/IDAT/IEND from *new* (hIST dropped)."""
    new_chunks, _new_end = png_chunks(new)
    pick = {t: [c.raw(new) for c in new_chunks if c.type == t] for t in (b"IHDR", b"PLTE", b"tRNS", b"IEND")}
    idat = b"".join(c.raw(new) for c in new_chunks if c.type == b"IDAT")
    out = [PNG_SIG]
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


# ---------------------------------------------------------------------------------------------- APNG


@dataclass
class ApngFrame:
    """One picture of an APNG: its fcTL (None: the default image outside the animation) and data chunks."""

    index: int
    fctl: PChunk | None
    parts: list[PChunk]
    rect: tuple[int, int, int, int]
    dispose: int | None
    blend: int


def apng_frames(data: bytes, chunks: list[PChunk], size: tuple[int, int]) -> list[ApngFrame]:
    """The pictures of an APNG in order (a separate default image first, when there is one)."""
    groups: list[tuple[PChunk | None, list[PChunk]]] = []
    current: tuple[PChunk | None, list[PChunk]] | None = None
    for c in chunks:
        if c.type == b"fcTL":
            current = (c, [])
            groups.append(current)
        elif c.type in (b"IDAT", b"fdAT"):
            if current is None:
                current = (None, [])
                groups.append(current)
            current[1].append(c)
    out = []
    for k, (fctl, parts) in enumerate(groups):
        if fctl is None:
            out.append(ApngFrame(k, None, parts, (0, 0, *size), None, 0))
            continue
        fp = png_payload(data, fctl)
        if len(fp) < 26:
            raise CorruptFile(f"corrupt APNG: fcTL chunk at offset {fctl.start} is too short")
        _seq, w, h, x, y, _dn, _dd, dispose, blend = struct.unpack(">IIIIIHHBB", fp[:26])
        out.append(ApngFrame(k, fctl, parts, (x, y, x + w, y + h), dispose, blend))
    return out


def apng_frame_file(data: bytes, chunks: list[PChunk], frame: ApngFrame) -> bytes:
    """A one-picture PNG around one frame's zlib stream, in the file's own mode (IHDR, PLTE, tRNS)."""
    stream = b"".join(png_payload(data, c)[4 if c.type == b"fdAT" else 0:] for c in frame.parts)
    ihdr = bytearray(png_payload(data, chunks[0]))
    struct.pack_into(">II", ihdr, 0, frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1])
    extra = b"".join(c.raw(data) for c in chunks if c.type in (b"PLTE", b"tRNS"))
    return PNG_SIG + png_chunk(b"IHDR", bytes(ihdr)) + extra + png_chunk(b"IDAT", stream) + png_chunk(b"IEND", b"")


def apng_encode(pixels: Image.Image, ihdr: bytes) -> bytes:
    """The zlib image stream of one frame, encoded like the file's IHDR says (bit depth, colour type)."""
    buf = io.BytesIO()
    kw: dict[str, Any] = {"compress_level": 6}
    if pixels.mode in ("P", "L") and ihdr[8] < 8:
        kw["bits"] = ihdr[8]
    with pillow_errors("re-encoding an APNG frame"):
        pixels.save(buf, "PNG", **kw)
    new = buf.getvalue()
    chunks, _end = png_chunks(new)
    new_ihdr = png_payload(new, chunks[0])
    if new_ihdr[8:10] != ihdr[8:10]:
        raise UnsupportedOperation(f"cannot re-encode an APNG frame with bit depth {ihdr[8]} and colour type "
                                   f"{ihdr[9]} (the encoder wrote {new_ihdr[8]}/{new_ihdr[9]})")
    return b"".join(png_payload(new, c) for c in chunks if c.type == b"IDAT")


def apng_frame_chunks(data: bytes, frame: ApngFrame, rect: tuple[int, int, int, int], stream: bytes) -> list[bytes]:
    """The new fcTL (moved to *rect*) and data chunk of a redrawn frame (sequence numbers fixed later)."""
    new: list[bytes] = []
    if frame.fctl is not None:
        fp = bytearray(png_payload(data, frame.fctl))
        struct.pack_into(">IIII", fp, 4, rect[2] - rect[0], rect[3] - rect[1], rect[0], rect[1])
        new.append(png_chunk(b"fcTL", bytes(fp)))
    if frame.parts[0].type == b"IDAT":
        new.append(png_chunk(b"IDAT", stream))
    else:
        new.append(png_chunk(b"fdAT", b"\x00\x00\x00\x00" + stream))
    return new


def apng_rebuild(data: bytes, chunks: list[PChunk], end: int, replaced: dict[int, list[bytes]],
                 palette: bytes | None) -> bytes:
    """The APNG with the frames in *replaced* (by frame index) swapped in, PLTE set to *palette* if given.

    Sequence numbers run over all fcTL and fdAT chunks, so they are renumbered throughout.
    """
    frames = apng_frames(data, chunks, (0, 0))
    pos_of = {id(c): i for i, c in enumerate(chunks)}
    at: dict[int, list[bytes]] = {}
    skip: set[int] = set()
    for f in frames:
        if f.index not in replaced:
            continue
        first = f.fctl if f.fctl is not None else f.parts[0]
        at[pos_of[id(first)]] = replaced[f.index]
        skip.update(pos_of[id(c)] for c in f.parts)
    out = [PNG_SIG]
    seq = 0
    for i, c in enumerate(chunks):
        if i in at:
            pieces = at[i]
        elif i in skip:
            continue
        elif c.type == b"PLTE" and palette is not None:
            pieces = [png_chunk(b"PLTE", palette)]
        else:
            pieces = [c.raw(data)]
        for raw in pieces:
            ctype = raw[4:8]
            if ctype in (b"fcTL", b"fdAT"):
                raw = png_chunk(ctype, struct.pack(">I", seq) + raw[12:-4])
                seq += 1
            out.append(raw)
    out.append(data[end:])
    return b"".join(out)
