"""ISO base media file format (ISO/IEC 14496-12) boxes: headers, full boxes, children within bounds.

Shared by the box-structured containers (HEIF/HEIC/AVIF now; MP4, M4A and MOV later).  Everything
here is generic: no knowledge of particular box types beyond the header rules.

* A box header is a 32-bit big-endian size and a four-character type; size 1 means a 64-bit
  ``largesize`` follows, size 0 means "to the end of the enclosing container" (in practice the
  file); type ``uuid`` adds a 16-byte user type.
* A *full box* starts its payload with a version byte and 24 bits of flags.
* Children are walked by their size fields inside their parent's bounds; a box that runs past its
  parent (or the file) is :class:`~aigclabel.errors.CorruptFile`, never a silent truncation.

Sources are anything with ``size`` and ``read_at(offset, n)``: the :class:`~aigclabel._io.CountingReader`
of a file, or a :class:`BytesSource` over a box already read into memory (addressed with the same
absolute file offsets, so locations in messages stay meaningful).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Protocol

from .._io import CountingReader
from ..errors import CorruptFile

__all__ = [
    "Box",
    "BoxSource",
    "BytesSource",
    "PayloadReader",
    "read_box_header",
    "iter_boxes",
    "iter_children",
    "find_child",
    "read_payload",
    "full_box_header",
    "make_box",
    "make_full_box",
    "copy_with_patches",
]

_SMALL = struct.Struct(">I4s")


class BoxSource(Protocol):
    size: int

    def read_at(self, offset: int, n: int) -> bytes: ...


class BytesSource:
    """Bytes that sat at *base* in the file, read with the file's absolute offsets."""

    def __init__(self, data: bytes, base: int = 0) -> None:
        self.data = data
        self.base = base
        self.size = base + len(data)

    def read_at(self, offset: int, n: int) -> bytes:
        if offset < self.base:
            raise CorruptFile(f"offset {offset} lies before the buffered box at {self.base}")
        start = offset - self.base
        return self.data[start:start + max(n, 0)]


@dataclass(frozen=True)
class Box:
    """One box: where it starts, how long it is, how long its header is."""

    type: bytes
    offset: int  # absolute offset of the size field
    size: int  # the whole box, header included
    header_size: int  # 8, 16 with a largesize, +16 for a uuid user type
    usertype: bytes | None = None

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def payload_size(self) -> int:
        return self.size - self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.size

    def __str__(self) -> str:
        return f"'{self.name}' box at offset {self.offset}"


def read_box_header(src: BoxSource, offset: int, end: int, *, parent: str = "the file") -> Box:
    """The box starting at *offset*, which must end by *end* (its parent's end)."""
    head = src.read_at(offset, 8)
    if len(head) < 8 or offset + 8 > end:
        raise CorruptFile(f"truncated: {parent} ends inside a box header at offset {offset}")
    size, btype = _SMALL.unpack(head)
    header = 8
    if size == 1:
        large = src.read_at(offset + 8, 8)
        if len(large) < 8 or offset + 16 > end:
            raise CorruptFile(f"truncated: {parent} ends inside the 64-bit size of the box at offset {offset}")
        (size,) = struct.unpack(">Q", large)
        header = 16
    elif size == 0:
        size = end - offset  # "extends to the end of the container"
    usertype = None
    if btype == b"uuid":
        usertype = src.read_at(offset + header, 16)
        if len(usertype) < 16:
            raise CorruptFile(f"truncated: {parent} ends inside the user type of the uuid box at offset {offset}")
        header += 16
    shown = btype.decode("latin-1")
    if size < header:
        raise CorruptFile(f"corrupt: box '{shown}' at offset {offset} claims {size} bytes, "
                          f"less than its {header}-byte header")
    if offset + size > end:
        raise CorruptFile(f"truncated: box '{shown}' at offset {offset} ({size} bytes) runs past the end of "
                          f"{parent} at offset {end}")
    return Box(btype, offset, size, header, usertype)


def iter_boxes(src: BoxSource, start: int, end: int, *, parent: str = "the file") -> Iterator[Box]:
    """The sibling boxes filling ``[start, end)``, read one header at a time."""
    pos = start
    while pos < end:
        box = read_box_header(src, pos, end, parent=parent)
        yield box
        pos = box.end


def iter_children(src: BoxSource, box: Box, *, full: bool = False, skip: int = 0) -> Iterator[Box]:
    """The children of a container *box*; *full* skips the version/flags word, *skip* any further fields."""
    start = box.payload_offset + (4 if full else 0) + skip
    if start > box.end:
        raise CorruptFile(f"corrupt: {box} is too short for its own fields")
    return iter_boxes(src, start, box.end, parent=str(box))


def find_child(src: BoxSource, box: Box, btype: bytes, *, full: bool = False) -> Box | None:
    """The first child of type *btype*, or ``None``."""
    for child in iter_children(src, box, full=full):
        if child.type == btype:
            return child
    return None


def read_payload(src: BoxSource, box: Box, *, limit: int) -> bytes:
    """The payload of *box* (after its header), refused as corrupt when larger than *limit*."""
    if box.payload_size > limit:
        raise CorruptFile(f"{box} holds {box.payload_size} bytes, more than the {limit}-byte limit for it")
    data = src.read_at(box.payload_offset, box.payload_size)
    if len(data) != box.payload_size:
        raise CorruptFile(f"truncated: the file ends inside {box}")
    return data


def full_box_header(payload: bytes, box: Box | str = "full box") -> tuple[int, int]:
    """(version, flags) of a full box from the start of its payload."""
    if len(payload) < 4:
        raise CorruptFile(f"corrupt: {box} is too short for its version and flags")
    return payload[0], int.from_bytes(payload[1:4], "big")


def make_box(btype: bytes, payload: bytes) -> bytes:
    """Serialise a box; a 64-bit largesize is used only when the 32-bit size cannot hold it."""
    if len(btype) != 4:
        raise ValueError(f"box type must be 4 bytes, not {btype!r}")
    size = 8 + len(payload)
    if size <= 0xFFFFFFFF:
        return struct.pack(">I4s", size, btype) + payload
    return struct.pack(">I4sQ", 1, btype, size + 8) + payload


def make_full_box(btype: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return make_box(btype, bytes([version]) + flags.to_bytes(3, "big") + payload)


class PayloadReader:
    """Sequential big-endian fields from a box payload; running off the end is :class:`CorruptFile`."""

    def __init__(self, data: bytes, what: str, pos: int = 0) -> None:
        self.data = data
        self.what = what
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CorruptFile(f"corrupt: {self.what} ends in the middle of a field")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, nbytes: int) -> int:
        """An unsigned big-endian integer of *nbytes* (0 bytes reads as 0)."""
        return int.from_bytes(self.take(nbytes), "big") if nbytes else 0

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)

    def u64(self) -> int:
        return self.uint(8)

    def fourcc(self) -> bytes:
        return self.take(4)

    def cstring(self) -> bytes:
        """A NUL-terminated string (the terminator consumed); an unterminated one runs to the end."""
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            out = self.data[self.pos:]
            self.pos = len(self.data)
            return out
        out = self.data[self.pos:end]
        self.pos = end + 1
        return out

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


def copy_with_patches(src: CountingReader, dst: BinaryIO, start: int, end: int,
                      patches: list[tuple[int, bytes]]) -> None:
    """Copy ``[start, end)`` of *src* to *dst*, replacing the byte ranges in *patches*.

    *patches* is a sorted list of ``(offset, bytes)`` that do not overlap; each keeps its range's
    length, so no other offset in the file moves (e.g. chunk offsets, blanked old records).  The
    runs between patches are copied by the kernel where it can (:meth:`CountingReader.copy_to`).
    Not box-specific: the TIFF handler uses it too.
    """
    pos = start
    for off, data in patches:
        if off + len(data) <= start or off >= end:
            continue
        if off < pos or off + len(data) > end:
            # two stored values claim the same bytes: only a malformed file makes that happen
            raise CorruptFile(f"corrupt: values to rewrite overlap at offset {off}; file left unchanged")
        src.seek(pos)
        src.copy_to(dst, off - pos)
        dst.write(data)
        pos = off + len(data)
    src.seek(pos)
    src.copy_to(dst, end - pos)
