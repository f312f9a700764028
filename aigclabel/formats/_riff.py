"""Chunk building and LIST walking shared by the RIFF/IFF containers (WAV, AVI, WebP, AIFF)."""

from __future__ import annotations

import struct

from ..errors import CorruptFile

__all__ = ["iff_chunk", "list_subchunks"]


def iff_chunk(cid: bytes, data: bytes, *, big_endian: bool = False) -> bytes:
    """One RIFF (little-endian) or IFF/AIFF (big-endian) chunk: id, size, data, pad byte if odd."""
    return cid + struct.pack(">I" if big_endian else "<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def list_subchunks(body: bytes, where: str) -> list[tuple[bytes, int, bytes]]:
    """(id, offset in *body*, data) of the sub-chunks of a RIFF ``LIST`` body that starts with its type."""
    out = []
    pos = 4
    while len(body) - pos >= 8:
        cid, size = struct.unpack("<4sI", body[pos:pos + 8])
        if pos + 8 + size > len(body):
            raise CorruptFile(f"corrupt LIST chunk at {where}: sub-chunk {cid!r} runs past the chunk")
        out.append((cid, pos, body[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out
