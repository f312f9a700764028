"""FLAC: the record is the Vorbis comment field ``AIGC=<json>`` in the VORBIS_COMMENT block.

Metadata blocks are walked by their 4-byte headers; reading loads only STREAMINFO and the
VORBIS_COMMENT block, never the audio or pictures.  Writing re-serialises the comment block
(through mutagen's Vorbis comment writer: every other field kept in order, old records replaced),
keeps every other block byte for byte (STREAMINFO, SEEKTABLE, PICTURE, CUESHEET, APPLICATION...),
takes the growth out of a PADDING block when there is room (the audio then stays where it was),
and copies the audio frames unchanged by the kernel.

An ID3v2 tag in front of ``fLaC`` (off-spec, but the C2PA SDK puts its manifest there) is accepted
and kept byte for byte; an AIGC record inside it is read as a non-normative record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._audio_meta import Copy, MAX_TAG, emit, id3_evidence, id3_total_size, load_id3, load_vorbis_comment, \
    mutagen_errors, vorbis_evidence, vorbis_has_records, vorbis_set_record
from .base import Evidence, FormatHandler, ImplicitLabel

if TYPE_CHECKING:  # pragma: no cover
    from .media_audio import AudioAccess

SIGNATURE = b"fLaC"
STREAMINFO, PADDING, SEEKTABLE, VORBIS_COMMENT = 0, 1, 3, 4
_MAX_BLOCK = (1 << 24) - 1
VENDOR = "aigclabel"


@dataclass
class Block:
    """A FLAC metadata block's type, header offset and length."""
    type: int
    offset: int  # of the 4-byte header
    length: int

    @property
    def end(self) -> int:
        return self.offset + 4 + self.length


def id3_prefix_size(head: bytes) -> int | None:
    """Size of the ID3v2 tag *head* starts with (header, body, optional footer); None if none or invalid."""
    try:
        return id3_total_size(head[:10], "the start")
    except CorruptFile:
        return None


def _start(src: CountingReader) -> int:
    """Offset of ``fLaC``: 0, or the size of an ID3v2 tag in front of it."""
    start = 0
    if src.read_at(0, 3) == b"ID3":
        start = id3_total_size(src.read_at(0, 10), "the start of the file") or 0
        if start > src.size:
            raise CorruptFile(f"truncated: the ID3v2 tag in front of the FLAC stream claims {start} bytes, "
                              f"the file ends {start - src.size} bytes short of that")
    if src.read_at(start, 4) != SIGNATURE:
        raise CorruptFile("not a FLAC file (bad signature)")
    return start


def _walk(src: CountingReader) -> tuple[list[Block], int, int]:
    """The metadata blocks, the offset where the audio frames start, and that of ``fLaC``."""
    start = _start(src)
    blocks: list[Block] = []
    pos = start + 4
    while True:
        head = src.read_at(pos, 4)
        if len(head) < 4:
            raise CorruptFile(f"truncated: the FLAC file ends inside the metadata, at offset {pos}")
        btype, length = head[0] & 0x7F, int.from_bytes(head[1:4], "big")
        if btype == 127:
            raise CorruptFile(f"corrupt FLAC metadata: invalid block type 127 at offset {pos}")
        if not blocks and (btype != STREAMINFO or length != 34):
            raise CorruptFile("corrupt FLAC file: the first metadata block is not a STREAMINFO block")
        block = Block(btype, pos, length)
        if block.end > src.size:
            raise CorruptFile(f"truncated: FLAC metadata block (type {btype}) at offset {pos} claims {length} "
                              f"bytes, past the end of the file")
        blocks.append(block)
        pos = block.end
        if head[0] & 0x80:
            return blocks, pos, start


def _streaminfo(raw: bytes) -> dict:
    """Rate, channels, bits and length from a 34-byte STREAMINFO body."""
    if len(raw) < 18:
        raise CorruptFile(f"corrupt FLAC file: STREAMINFO block of {len(raw)} bytes (34 are due)")
    (packed,) = struct.unpack(">Q", raw[10:18])
    rate = packed >> 44
    channels = ((packed >> 41) & 7) + 1
    bits = ((packed >> 36) & 31) + 1
    samples = packed & ((1 << 36) - 1)
    info = {"sample_rate": rate, "channels": channels, "bits_per_sample": bits, "total_samples": samples}
    if rate:
        info["duration"] = samples / rate
    return info


def _read_block(src: CountingReader, block: Block) -> bytes:
    if block.length > MAX_TAG:
        raise CorruptFile(f"FLAC metadata block at offset {block.offset} is {block.length} bytes; refusing to "
                          f"read more than {MAX_TAG >> 20} MiB of metadata")
    src.seek(block.offset + 4)
    return src.read_exact(block.length, f"the FLAC metadata block at offset {block.offset}")


def _header(btype: int, length: int, last: bool) -> bytes:
    if length > _MAX_BLOCK:
        raise UnsupportedOperation("the Vorbis comment block would pass the FLAC limit of 16 MiB")
    return bytes([btype | (0x80 if last else 0)]) + length.to_bytes(3, "big")


def metadata_blocks(blocks: list[tuple[int, bytes]]) -> bytes:
    """(type, body) pairs as metadata blocks, the last one flagged last."""
    return b"".join(_header(btype, len(body), i == len(blocks) - 1) + body for i, (btype, body) in enumerate(blocks))


class FlacHandler(FormatHandler):
    name = "flac"
    kind = "audio"
    mime = "audio/flac"
    extensions = (".flac",)
    normative_carrier = "vorbiscomment:AIGC"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        if head.startswith(SIGNATURE):
            return 100
        # ID3v2 + fLaC, when the head shows both (a longer tag: the MP3 handler refines to FLAC)
        size = id3_prefix_size(head)
        return 100 if size is not None and head[size:size + 4] == SIGNATURE else 0

    def read(self, src: CountingReader) -> Evidence:
        blocks, audio, start = _walk(src)
        ev = Evidence(self.name, self.kind, info={"audio_offset": audio})
        if start:
            ev.info["id3_prefix"] = start
            labels, traces = self._prefix_evidence(src, start)
            ev.labels += labels
            ev.traces += traces
        for i, block in enumerate(blocks):
            if block.type == STREAMINFO and i == 0:  # _walk checked it is first and 34 bytes long
                ev.info.update(_streaminfo(_read_block(src, block)))
            elif block.type == VORBIS_COMMENT:
                where = f"VORBIS_COMMENT block at offset {block.offset}"
                comment = load_vorbis_comment(_read_block(src, block), where, framing=False)
                labels, traces = vorbis_evidence(comment, where=where, offset=block.offset, before_payload=True)
                ev.labels += labels
                ev.traces += traces
        return ev

    @staticmethod
    def _prefix_evidence(src: CountingReader, start: int) -> tuple[list, list]:
        """Records (never normative) and traces in the ID3v2 tag in front of ``fLaC``."""
        if start > MAX_TAG:
            raise CorruptFile(f"the ID3v2 tag in front of the FLAC stream is {start} bytes; refusing to read "
                              f"more than {MAX_TAG >> 20} MiB of metadata")
        data = src.read_at(0, start)
        return id3_evidence(load_id3(data, "the start of the file"), where=f"ID3v2.{data[3]} tag in front of the "
                            "FLAC stream", carrier_prefix="id3:", normative=False, offset=0, before_payload=True)

    def audio_access(self, src: CountingReader) -> AudioAccess:
        """Windows decoded with PyAV; a prompt inserted by a lossless re-encode (see :mod:`._av_splice`)."""
        from ._flac_splice import FlacAccess

        return FlacAccess(src)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        from mutagen._vorbis import VComment

        blocks, audio, start = _walk(src)
        if start and self._prefix_evidence(src, start)[0]:
            raise UnsupportedOperation("the ID3v2 tag in front of the FLAC stream carries an AIGC record, and "
                                       "that tag is kept byte for byte; remove the ID3 tag (or its record) first")
        # (type, new body or None to copy the block's own body)
        out: list[tuple[int, bytes | None, Block | None]] = []
        placed = False
        growth = 0
        for block in blocks:
            if block.type != VORBIS_COMMENT:
                out.append((block.type, None, block))
                continue
            where = f"VORBIS_COMMENT block at offset {block.offset}"
            comment = load_vorbis_comment(_read_block(src, block), where, framing=False)
            if not placed:
                vorbis_set_record(comment, label.record_json)
                placed = True
            elif vorbis_has_records(comment):
                vorbis_set_record(comment, None)  # a second comment block (off-spec): its records go
            else:
                out.append((block.type, None, block))
                continue
            with mutagen_errors(where):
                body = comment.write(framing=False)
            growth += len(body) - block.length
            out.append((block.type, body, None))
        if not placed:
            comment = VComment()
            comment.vendor = VENDOR
            vorbis_set_record(comment, label.record_json)
            body = comment.write(framing=False)
            growth += 4 + len(body)
            out.insert(1, (VORBIS_COMMENT, body, None))  # right after STREAMINFO
        # Absorb the change in the first PADDING block when it has room, so the audio does not move.
        for i, (btype, _body, kept) in enumerate(out):
            if btype == PADDING and kept is not None and kept.length - growth >= 0:
                out[i] = (PADDING, bytes(kept.length - growth), None)
                break
        plan: list = [Copy(0, start), SIGNATURE] if start else [SIGNATURE]  # an ID3 prefix kept as is
        for i, (btype, new_body, kept) in enumerate(out):
            last = i == len(out) - 1
            if new_body is None:
                assert kept is not None
                plan.append(_header(btype, kept.length, last))
                plan.append(Copy(kept.offset + 4, kept.length))
            else:
                plan.append(_header(btype, len(new_body), last))
                plan.append(new_body)
        plan.append(Copy(audio, src.size - audio))
        emit(plan, src, dst)
