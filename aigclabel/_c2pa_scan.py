"""The C2PA manifest-store byte scan: where a file carries a JUMBF manifest store, without the SDK.

Kept apart from :mod:`aigclabel.c2pa` (which re-exports it) because it needs no C2PA library: the
platform review and the signing step's "already signed?" refusal both ask it on every file.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

__all__ = ["find_manifest_store", "find_manifest_store_bounded", "SCAN_WHOLE", "SCAN_EDGE", "C2PA_UUID",
           "BMFF_C2PA_UUID", "STORE_INFO", "REMOTE_REF_INFO", "note_xmp"]

#: the JUMBF UUID of a C2PA manifest store ("c2pa" + ISO 19566-5 suffix), as found in every carrier
C2PA_UUID = _C2PA_UUID = b"c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: the usertype of the top-level ``uuid`` box that holds the store in ISO BMFF (MP4, MOV, HEIF)
BMFF_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
#: ``Evidence.info`` key where a handler whose read walks every place its format keeps a C2PA manifest store
#: (``FormatHandler.c2pa_store_read``) puts the offset of the one it found; no key means none is there
STORE_INFO = "c2pa_store"
#: ``Evidence.info`` key where a handler with ``FormatHandler.c2pa_manifest_read`` notes where a reference to a
#: remote manifest may be (the XMP the SDK would read)
REMOTE_REF_INFO = "c2pa_remote_ref"


def note_xmp(info: dict[str, object], offset: int, packet: bytes | None) -> None:
    """Note in *info* an XMP packet at *offset* that may name a remote manifest (C2PA puts its URL in
    ``dcterms:provenance``), or one too large to read (*packet* None): the C2PA SDK then reads the file."""
    if packet is None or b"provenance" in packet:
        info.setdefault(REMOTE_REF_INFO, offset)


class _Seekable(Protocol):
    """What the manifest-store scan needs of a file: a binary file or a :class:`_Window` on one."""

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def read(self, n: int = ..., /) -> bytes: ...


def find_manifest_store(fh: _Seekable, chunk: int = 1 << 18) -> int | None:
    """Offset of the first C2PA manifest-store UUID in *fh* (a byte scan in constant memory), or None."""
    fh.seek(0)
    keep = len(_C2PA_UUID) - 1
    chunk = max(chunk, 4 * len(_C2PA_UUID))
    buf = bytearray(chunk)
    tail = b""
    base = 0
    readinto = getattr(fh, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buf)
        else:
            block = fh.read(chunk)
            n = len(block)
            buf[:n] = block
        if not n:
            return None
        if tail:  # a UUID split between two reads
            pos = (tail + bytes(buf[:keep])).find(_C2PA_UUID)
            if pos >= 0:
                return base - len(tail) + pos
        pos = buf.find(_C2PA_UUID, 0, n)
        if pos >= 0:
            return base + pos
        tail = bytes(buf[max(0, n - keep):n])
        base += n


#: outputs up to this size are scanned whole for a manifest store; larger ones at both ends only
SCAN_WHOLE = 2 << 20
SCAN_EDGE = 1 << 20


def find_manifest_store_bounded(fh: BinaryIO) -> int | None:
    """Like :func:`find_manifest_store`, but on files over 2 MiB only the first and last MiB.

    Every format C2PA embeds into keeps the manifest store in its header (JPEG APP11, PNG caBX
    before IDAT, the MP4 uuid box, ID3) or appends it at the end (PDF incremental update, RIFF
    chunk, TIFF IFD); the middle is media payload.  Scanning a 200 MB video whole on every mark
    cost more than the metadata write itself.
    """
    end = fh.seek(0, os.SEEK_END)
    if end <= SCAN_WHOLE:
        return find_manifest_store(fh)
    at = find_manifest_store(_Window(fh, 0, SCAN_EDGE))
    if at is not None:
        return at
    start = end - SCAN_EDGE - len(_C2PA_UUID)
    at = find_manifest_store(_Window(fh, start, end - start))
    return None if at is None else start + at


class _Window:
    """A read-only view of ``length`` bytes of *fh* from *start* (what find_manifest_store reads)."""

    def __init__(self, fh: BinaryIO, start: int, length: int) -> None:
        self._fh, self._start, self._left = fh, start, length

    def seek(self, offset: int, whence: int = 0) -> int:
        self._fh.seek(self._start + offset)
        return offset

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data
