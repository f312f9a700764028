"""GIF: the record lives in the XMP application extension (``XMP DataXMP``), per XMP Part 3.

A GIF is a header, the logical screen descriptor and global colour table, then a sequence of
blocks up to the ``0x3B`` trailer: extensions (``21 <label>`` and sub-blocks) and images (an image
descriptor, an optional local colour table, the LZW minimum code size and sub-blocks).  Blocks are
walked by their sub-block length bytes only: the LZW data is never read, let alone decoded, so
verifying reads about one byte in 256 of the image data.  The small structures between (block
introducers, extension labels, short extensions) are read through a 512-byte window, so a file of a
hundred thousand tiny extensions costs a few thousand reads, not a read per byte; the number of
blocks counts against ``max_structures``.

The XMP extension stores the packet *raw*, not in sub-blocks, followed by a 258-byte "magic
trailer" (``01``, ``FF`` down to ``00``, ``00``): a GIF reader that walks the packet as sub-blocks
lands somewhere in the trailer and is led to its final ``00`` terminator.  So the packet is found as
"everything between the application identifier and the trailer".

Writing puts the extension right after the global colour table (after a leading NETSCAPE2.0
looping extension, which some players want first), or merges into an existing one where it was;
every other block (frames, graphic control extensions, comments, other application extensions)
is copied byte for byte.  A GIF87a header becomes GIF89a: extensions need the 89a version.
Comment extensions that hold an AIGC record are read (non-normative) and replaced on writing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

from .._c2pa_scan import STORE_INFO, note_xmp
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..limits import check_count, current as current_limits
from ..report import Finding, Level
from ._image_meta import build_xmp, evidence_from_xmp, found_label, generator_trace, looks_like_record
from ._xmp import MAX_PACKET_SIZE
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable

__all__ = ["GifHandler", "MAGIC_TRAILER", "xmp_extension"]

EXTENSION, IMAGE, TRAILER = 0x21, 0x2C, 0x3B
APPLICATION, COMMENT, GRAPHIC_CONTROL, PLAIN_TEXT = 0xFF, 0xFE, 0xF9, 0x01
XMP_APP_ID = b"XMP DataXMP"
#: the application identifier of the extension c2pa-rs keeps a GIF's manifest store in (+ a 3-byte code)
C2PA_APP_ID = b"C2PA_GIF"
#: the 258 bytes after the raw packet: 0x01, 0xFF down to 0x00, then the block terminator
MAGIC_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
#: application identifiers of looping extensions, kept ahead of the XMP extension
_LOOP_IDS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
#: comments larger than this are not read for a record (a record is a few hundred bytes)
MAX_COMMENT = 1 << 20


@dataclass
class Block:
    """One GIF block (extension or image): kind, span, label, application id, data start."""
    kind: int  # EXTENSION or IMAGE
    offset: int  # offset of the introducer byte
    end: int  # offset just past the block terminator
    label: int = 0  # extension label
    app_id: bytes = b""  # application identifier + authentication code (application extensions)
    data_start: int = 0  # extensions: where the data after the label (and application id) starts
    #: (offset, length) of each data sub-block, kept for comments and XMP extensions only
    sub_blocks: list[tuple[int, int]] = field(default_factory=list)
    #: a short comment's bytes, read during the walk (None: read them from the file when needed)
    comment: bytes | None = None

    @property
    def is_xmp(self) -> bool:
        return self.kind == EXTENSION and self.label == APPLICATION and self.app_id == XMP_APP_ID

    def where(self) -> str:
        if self.kind == IMAGE:
            return f"image at offset {self.offset}"
        if self.is_xmp:
            return f"XMP application extension at offset {self.offset}"
        if self.label == COMMENT:
            return f"comment extension at offset {self.offset}"
        return f"extension 0x{self.label:02X} at offset {self.offset}"


@dataclass
class Layout:
    """A GIF's version, screen size, header end, blocks and trailer offset."""
    version: bytes
    width: int
    height: int
    header_end: int  # after the logical screen descriptor and global colour table
    blocks: list[Block]
    trailer: int  # offset of the 0x3B trailer byte


#: bytes read at once for the small structures between image data
_WINDOW = 512
#: comments up to this size are kept from the walk (their bytes were in the window anyway), up to
#: _KEPT_TOTAL bytes over the whole file
_KEPT_COMMENT = 4096
_KEPT_TOTAL = 4 << 20


class _Window:
    """Reads of a GIF's small structures through one 512-byte window (positional reads, counted).

    Hand-written because the walk is the format: a GIF has no index, and reading each length byte on
    its own cost a system call per byte on a file of tiny extensions (300,000 one-byte comments took
    12 s to inspect).  Image data is still hopped over one length byte at a time (:meth:`byte`), so a
    large frame is not read.
    """

    def __init__(self, src: CountingReader) -> None:
        self._src = src
        self._base = 0
        self._buf = b""

    def get(self, pos: int, n: int) -> bytes:
        """Up to *n* bytes at *pos* (fewer at the end of the file)."""
        off = pos - self._base
        if off < 0 or off + n > len(self._buf):
            self._base, self._buf = pos, self._src.pread(pos, max(n, _WINDOW))
            off = 0
        return self._buf[off:off + n]

    def byte(self, pos: int) -> int:
        """The byte at *pos* (-1 at the end): from the window when it is there, else on its own."""
        off = pos - self._base
        if 0 <= off < len(self._buf):
            return self._buf[off]
        b = self._src.pread(pos, 1)
        return b[0] if b else -1


def _sub_blocks(win: _Window, size: int, pos: int, keep: list[tuple[int, int]] | None, what: str) -> int:
    """Walk the sub-blocks starting at *pos*; return the offset after the terminator.

    Only the length bytes are read (one byte per sub-block of up to 255 bytes).
    """
    while True:
        n = win.byte(pos)
        if n < 0:
            raise CorruptFile(f"truncated: file ends inside the {what}")
        if n == 0:
            return pos + 1
        if pos + 1 + n > size:
            raise CorruptFile(f"truncated: a data sub-block of the {what} runs past the end of the file")
        if keep is not None:
            keep.append((pos + 1, n))
        pos += 1 + n


def _colour_table(packed: int) -> int:
    return 3 * (2 << (packed & 7)) if packed & 0x80 else 0


def walk_blocks(src: CountingReader) -> Layout:
    head = src.pread(0, 13)
    if head[:3] != b"GIF":
        raise CorruptFile("not a GIF (no GIF signature)")
    if len(head) < 13:
        raise CorruptFile("truncated: file ends inside the GIF header")
    version = head[3:6]
    if version not in (b"87a", b"89a"):
        raise CorruptFile(f"corrupt: unknown GIF version {version!r}")
    width, height, packed = struct.unpack("<HHB", head[6:11])
    size = src.size
    pos = 13 + _colour_table(packed)
    if pos > size:
        raise CorruptFile("truncated: file ends inside the global colour table")
    header_end = pos
    win = _Window(src)
    blocks: list[Block] = []
    kept = 0
    max_blocks = current_limits().max_structures
    while True:
        intro = win.byte(pos)
        if intro < 0:
            raise CorruptFile("truncated: file ends before the GIF trailer (0x3B)")
        if intro == TRAILER:
            return Layout(version, width, height, header_end, blocks, pos)
        if len(blocks) >= max_blocks:
            check_count(len(blocks) + 1, "GIF blocks (extensions and images)")
        if intro == EXTENSION:
            lb = win.get(pos + 1, 13)
            if not lb:
                raise CorruptFile(f"truncated: file ends inside the extension at offset {pos}")
            block = Block(EXTENSION, pos, 0, label=lb[0], data_start=pos + 2)
            if block.label == APPLICATION:
                idb = lb[1:13]
                if len(idb) == 12 and idb[0] == 11:
                    block.app_id = idb[1:]
                    block.data_start = pos + 14
            keep = block.sub_blocks if (block.label == COMMENT or block.is_xmp) else None
            block.end = _sub_blocks(win, size, block.data_start, keep, f"extension at offset {pos}")
            if block.label == COMMENT:
                length = block.end - block.data_start
                if length <= _KEPT_COMMENT and kept + length <= _KEPT_TOTAL:
                    raw = win.get(block.data_start, length)
                    block.comment = b"".join(raw[off - block.data_start:off - block.data_start + n]
                                             for off, n in block.sub_blocks)
                    kept += length
        elif intro == IMAGE:
            desc = win.get(pos + 1, 9)
            if len(desc) < 9:
                raise CorruptFile(f"truncated: file ends inside the image descriptor at offset {pos}")
            start = pos + 10 + _colour_table(desc[8]) + 1  # descriptor, local colour table, LZW code size
            if start > size:
                raise CorruptFile(f"truncated: file ends inside the image at offset {pos}")
            block = Block(IMAGE, pos, 0)
            block.end = _sub_blocks(win, size, start, None, f"image at offset {pos}")
        else:
            raise CorruptFile(f"corrupt: unexpected byte 0x{intro:02X} at offset {pos} "
                              "(expected an extension, an image or the trailer)")
        blocks.append(block)
        pos = block.end


def _xmp_packet(src: CountingReader, block: Block) -> tuple[bytes, bool]:
    """The packet of an XMP extension and whether it was stored raw with the magic trailer.

    Some writers put the packet in ordinary sub-blocks instead; it is then read from those.
    """
    length = block.end - block.data_start
    if length > MAX_PACKET_SIZE + len(MAGIC_TRAILER):
        raise CorruptFile(f"the XMP extension at offset {block.offset} is larger than "
                          f"{MAX_PACKET_SIZE >> 20} MiB")
    raw = src.read_at(block.data_start, length)
    if raw.endswith(MAGIC_TRAILER):
        return raw[:-len(MAGIC_TRAILER)], True
    return _joined(raw, block), False


def _joined(raw: bytes, block: Block) -> bytes:
    return b"".join(raw[off - block.data_start:off - block.data_start + n] for off, n in block.sub_blocks)


def _comment_text(src: CountingReader, block: Block) -> str | None:
    """The text of a comment extension, or None when it is too large to be worth reading."""
    if block.comment is not None:
        data = block.comment
    else:
        total = sum(n for _, n in block.sub_blocks)
        if total > MAX_COMMENT:
            return None
        data = b"".join(src.read_at(off, n) for off, n in block.sub_blocks)
    return data.decode("utf-8", "replace").rstrip("\x00")


def _comment_record(src: CountingReader, block: Block) -> str | None:
    """The comment's text when it *is* an AIGC record (not when it merely mentions AIGC)."""
    text = _comment_text(src, block)
    if text is None:
        return None
    body = text.strip()
    if body.startswith("AIGC") or looks_like_record(text):
        return text
    return None


def xmp_extension(packet: bytes) -> bytes:
    """The application extension that carries *packet* (raw, then the magic trailer)."""
    if b"\x00" in packet:
        raise UnsupportedOperation("the XMP packet contains a NUL byte, which the GIF XMP extension cannot hold")
    return b"\x21\xff\x0b" + XMP_APP_ID + packet + MAGIC_TRAILER


_Part = Union[bytes, tuple[int, int]]


class GifHandler(FormatHandler):
    name = "gif"
    kind = "image"
    mime = "image/gif"
    extensions = (".gif",)
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True
    c2pa_manifest_read = True  # the store is a C2PA_GIF application extension, a remote reference XMP

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return 100
        if 3 <= len(head) < 6 and (b"GIF87a".startswith(head) or b"GIF89a".startswith(head)):
            return 10  # a file cut inside the signature: claim it to report it as truncated
        return 0

    def read(self, src: CountingReader) -> Evidence:
        layout = walk_blocks(src)
        ev = Evidence(self.name, self.kind)
        images = [b for b in layout.blocks if b.kind == IMAGE]
        first_image = images[0].offset if images else layout.trailer
        ev.info.update(width=layout.width, height=layout.height, frames=len(images),
                       version=layout.version.decode("ascii"))
        for block in layout.blocks:
            if block.kind != EXTENSION:
                continue
            if block.label == APPLICATION and block.app_id[:8] == C2PA_APP_ID:
                ev.info.setdefault(STORE_INFO, block.offset)
            where = block.where()
            before = block.offset < first_image
            if block.is_xmp:
                try:
                    packet, standard = _xmp_packet(src, block)
                except CorruptFile as exc:
                    ev.findings.append(unreadable("format.gif", "XMP extension", exc, where))
                    note_xmp(ev.info, block.offset, None)
                    continue
                note_xmp(ev.info, block.offset, packet)
                if not standard:
                    ev.findings.append(Finding(
                        "format.gif", Level.WARNING,
                        "XMP extension stored in sub-blocks without the magic trailer (XMP Part 3 stores the "
                        "packet raw); other readers may not find it", location=where,
                        expected="raw packet + 258-byte magic trailer", actual="sub-blocks"))
                labels, traces, findings = evidence_from_xmp(packet, where, offset=block.offset,
                                                             normative=standard, before_payload=before)
                ev.labels += labels
                ev.traces += traces
                ev.findings += findings
            elif block.label == COMMENT:
                text = _comment_record(src, block)
                if text is not None:
                    ev.labels.append(found_label("gif:comment", where, text, normative=False,
                                                 offset=block.offset, before_payload=before))
                elif (whole := _comment_text(src, block)) and (trace := generator_trace(whole, where)):
                    ev.traces.append(trace)
        return ev

    def image_access(self, src: CountingReader) -> Any:
        """The picture for the explicit step and the image rule (structure and declared sizes checked first)."""
        from .media_image import GifAccess, read_all

        return GifAccess(read_all(src))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        layout = walk_blocks(src)
        header = bytearray(src.read_at(0, layout.header_end))
        if layout.version == b"87a":
            header[3:6] = b"89a"  # extensions (the XMP one included) need GIF89a
        parts: list[_Part] = [bytes(header)]
        slot: int | None = None  # index in parts of the XMP extension
        existing: bytes | None = None
        seen_image = False
        leading = True  # still in the run of looping extensions right after the header
        for block in layout.blocks:
            is_loop = (block.kind == EXTENSION and block.label == APPLICATION and block.app_id in _LOOP_IDS)
            if leading and not is_loop:
                leading = False
                if not block.is_xmp:
                    slot = len(parts)
                    parts.append(b"")
            if block.kind == IMAGE:
                seen_image = True
            elif block.is_xmp:
                if existing is not None:
                    raise CorruptFile("two XMP extensions; refusing to guess which to keep")
                existing, _ = _xmp_packet(src, block)
                if not seen_image:  # keep it where it was; one after the images moves to the header
                    if slot is not None and parts[slot] == b"":
                        del parts[slot]
                    slot = len(parts)
                    parts.append(b"")
                continue
            elif block.label == COMMENT and _comment_record(src, block) is not None:
                continue  # an old record in a comment: replaced by the XMP record (never two)
            last = parts[-1]
            if isinstance(last, tuple) and last[0] + last[1] == block.offset:
                parts[-1] = (last[0], last[1] + block.end - block.offset)  # one copy for a run of blocks
            else:
                parts.append((block.offset, block.end - block.offset))
        if slot is None:  # nothing but looping extensions (or nothing) before the trailer
            slot = len(parts)
            parts.append(b"")
        parts[slot] = xmp_extension(build_xmp(existing, label))
        for part in parts:
            if isinstance(part, bytes):
                dst.write(part)
            else:
                src.seek(part[0])
                if src.copy_to(dst, part[1]) != part[1]:
                    raise CorruptFile("truncated: the file changed while it was being copied")
        # The trailer and whatever follows it are copied as they are.
        src.seek(layout.trailer)
        src.copy_to(dst)
