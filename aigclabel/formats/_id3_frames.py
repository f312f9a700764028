"""ID3v2 frames walked by their headers, so a huge tag is never read (or handed to mutagen) whole.

A tag may declare up to 256 MiB; mutagen holds several copies of what it parses (a 200 MB TXXX
frame took 1 GB and 5.5 s).  For tags over :data:`BIG_TAG`, reading keeps only the frames the
evidence needs (TXXX, COMM, TSSE, TENC and their v2.2 names) that are at most
:data:`MAX_TEXT_FRAME` bytes, and rebuilds a small tag of them for mutagen; an oversized frame
whose description names AIGC (a record we cannot hold) is :class:`~aigclabel.errors.LimitExceeded`.
Writing such a tag copies every other frame as raw bytes and adds the record frame.
Tags with tag-level unsynchronisation cannot be walked this way: they are read whole, within
``max_allocation``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import limits
from .._io import CountingReader
from ..errors import LimitExceeded

__all__ = ["BIG_TAG", "MAX_TEXT_FRAME", "RawFrame", "walk_frames", "read_tag_for_evidence", "syncsafe", "split_tag",
           "SPLIT_FRAMES", "SPLIT_BYTES"]

#: tags larger than this are walked frame by frame instead of being read whole
BIG_TAG = 16 << 20
#: a text frame larger than this is not read for evidence (a record is a few hundred bytes)
MAX_TEXT_FRAME = 1 << 20
#: a tag of more frames or bytes than these is handed to mutagen in pieces of at most this size (see split_tag)
SPLIT_FRAMES = 256
SPLIT_BYTES = 1 << 20
#: frames the evidence reads (records and generator traces), by tag major version
EVIDENCE_FRAMES = {2: {b"TXX", b"COM", b"TSS", b"TEN"}, 3: {b"TXXX", b"COMM", b"TSSE", b"TENC"},
                   4: {b"TXXX", b"COMM", b"TSSE", b"TENC"}}
_RECORD_MARKS = (b"AIGC", "AIGC".encode("utf-16-le"), "AIGC".encode("utf-16-be"))


def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def _unsyncsafe(b: bytes) -> int:
    value = 0
    for c in b:
        value = (value << 7) | (c & 0x7F)
    return value


@dataclass(frozen=True)
class RawFrame:
    """An ID3v2 frame's id, offset and length, read without parsing its body."""
    id: bytes
    offset: int  # in the file, of the frame header
    length: int  # header included


def _extended_header_length(major: int, flags: int, ext: bytes) -> int:
    """Bytes of the extended header whose first 4 bytes are *ext* (0 when the tag has none)."""
    if not (flags & 0x40 and major in (3, 4)) or len(ext) < 4:
        return 0
    return (int.from_bytes(ext[:4], "big") + 4) if major == 3 else _unsyncsafe(ext[:4])


def _frame_length(head: bytes, major: int) -> int:
    """The data length a frame header declares (v2.2: 24-bit; v2.3: 32-bit; v2.4: sync-safe)."""
    if major == 2:
        return int.from_bytes(head[3:6], "big")
    return _unsyncsafe(head[4:8]) if major == 4 else int.from_bytes(head[4:8], "big")


def _first_frame(src: CountingReader, offset: int, header: bytes) -> int:
    """Offset (within the tag) of the first frame: after the header and any extended header."""
    return 10 + _extended_header_length(header[3], header[5], src.read_at(offset + 10, 4))


def walk_frames(src: CountingReader, offset: int, size: int) -> list[RawFrame] | None:
    """The frames of the tag at *offset* (*size* bytes in all); None when it cannot be walked raw."""
    header = src.read_at(offset, 10)
    major, flags = header[3], header[5]
    if flags & 0x80 or major not in (2, 3, 4):
        return None  # tag-level unsynchronisation: frame headers are not where the sizes say
    head_len = 6 if major == 2 else 10
    end = size - (10 if major == 4 and flags & 0x10 else 0)
    pos = _first_frame(src, offset, header)
    frames: list[RawFrame] = []
    while pos + head_len <= end:
        head = src.read_at(offset + pos, head_len)
        if len(head) < head_len or head[0] == 0:
            break  # padding
        fid, length = head[:3 if major == 2 else 4], _frame_length(head, major)
        if pos + head_len + length > end:
            break  # a damaged frame ends the tag, as for mutagen
        frames.append(RawFrame(fid, offset + pos, head_len + length))
        limits.check_count(len(frames), "frames in an ID3v2 tag")
        pos += head_len + length
    return frames


def read_tag_for_evidence(src: CountingReader, offset: int, size: int, where: str) -> bytes:
    """The tag at *offset*, or for a tag over :data:`BIG_TAG`, a small tag of the frames evidence needs."""
    if size <= BIG_TAG:
        limits.check_allocation(size, f"the ID3v2 tag at {where}")
        return src.read_at(offset, size)
    frames = walk_frames(src, offset, size)
    if frames is None:
        limits.check_allocation(size, f"the ID3v2 tag at {where}")
        return src.read_at(offset, size)
    header = src.read_at(offset, 10)
    major = header[3]
    wanted = EVIDENCE_FRAMES[major]
    body = []
    for frame in frames:
        if frame.id not in wanted:
            continue
        if frame.length > MAX_TEXT_FRAME:
            peek = src.read_at(frame.offset, 300).upper()
            if any(mark in peek for mark in _RECORD_MARKS):
                raise LimitExceeded("max_allocation", f"the {frame.id.decode('latin-1')} frame at offset "
                                                      f"{frame.offset} ({where}) names AIGC but is {frame.length:,} "
                                                      f"bytes: an AIGC record is never that large")
            continue  # a huge text frame that is no record: no evidence is lost by skipping it
        body.append(src.read_at(frame.offset, frame.length))
    data = b"".join(body)
    # same version, no extended header, no footer: the frames as they were
    return b"ID3" + bytes([major, header[4], header[5] & ~0x50 & 0xFF]) + syncsafe(len(data)) + data


def split_tag(data: bytes) -> list[bytes] | None:
    """The in-memory tag *data* as several small tags of consecutive frames, or None when it is small enough
    (at most :data:`SPLIT_FRAMES` frames and :data:`SPLIT_BYTES` bytes) or cannot be walked.

    Why: mutagen's frame reader slices the rest of the tag after every frame, so its cost grows with frames x
    bytes -- a 2.6 MB tag of 200,000 tiny TXXX frames took 7 s to read and 15 s to mark.  Loaded piece by piece
    (each piece keeps the tag's version and flags, minus the extended header and footer) the cost is linear.
    A version 2.2/2.3 tag with tag-level unsynchronisation is decoded first (its frame sizes count the decoded
    bytes); a version 2.4 tag's sizes count the stored bytes, so it is walked as stored.
    """
    if len(data) < 10 or data[:3] != b"ID3":
        return None
    major, revision, flags = data[3], data[4], data[5]
    if major not in (2, 3, 4):
        return None
    footer = 10 if major == 4 and flags & 0x10 else 0
    body = data[10:len(data) - footer]
    if flags & 0x80 and major in (2, 3):
        body = body.replace(b"\xff\x00", b"\xff")
        flags &= ~0x80 & 0xFF
    pos = _extended_header_length(major, flags, body[:4])
    head_len = 6 if major == 2 else 10
    spans: list[tuple[int, int]] = []
    end = len(body)
    while pos + head_len <= end:
        head = body[pos:pos + head_len]
        if head[0] == 0:
            break  # padding
        length = _frame_length(head, major)
        if pos + head_len + length > end:
            spans.append((pos, end - pos))  # a damaged last frame: mutagen sees it as it would have
            break
        spans.append((pos, head_len + length))
        limits.check_count(len(spans), "frames in an ID3v2 tag")
        pos += head_len + length
    if len(spans) <= SPLIT_FRAMES and len(data) <= SPLIT_BYTES:
        return None
    pieces: list[bytes] = []
    group: list[bytes] = []
    group_bytes = 0
    piece_flags = bytes([major, revision, flags & ~0x50 & 0xFF])  # no extended header, no footer

    def close() -> None:
        part = b"".join(group)
        pieces.append(b"ID3" + piece_flags + syncsafe(len(part)) + part)

    for start, length in spans:
        if group and (len(group) >= SPLIT_FRAMES or group_bytes + length > SPLIT_BYTES):
            close()
            group, group_bytes = [], 0
        group.append(body[start:start + length])
        group_bytes += length
    if group:
        close()
    return pieces
