"""FLAC: the record is the Vorbis comment field ``AIGC=<json>`` in the VORBIS_COMMENT block.

Metadata blocks are walked by their 4-byte headers; reading loads only STREAMINFO and the
VORBIS_COMMENT block, never the audio or pictures.  Writing re-serialises the comment block
(through mutagen's Vorbis comment writer: every other field kept in order, old records replaced),
keeps every other block byte for byte (STREAMINFO, SEEKTABLE, PICTURE, CUESHEET, APPLICATION...),
takes the growth out of a PADDING block when there is room (the audio then stays where it was),
and copies the audio frames unchanged by the kernel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._audio_meta import Copy, MAX_TAG, emit, load_vorbis_comment, mutagen_errors, vorbis_evidence, \
    vorbis_has_records, vorbis_set_record
from .base import Evidence, FormatHandler, ImplicitLabel

SIGNATURE = b"fLaC"
STREAMINFO, PADDING, VORBIS_COMMENT = 0, 1, 4
_MAX_BLOCK = (1 << 24) - 1
VENDOR = "aigclabel"


@dataclass
class Block:
    type: int
    offset: int  # of the 4-byte header
    length: int

    @property
    def end(self) -> int:
        return self.offset + 4 + self.length


def _walk(src: CountingReader) -> tuple[list[Block], int]:
    """The metadata blocks, and the offset where the audio frames start."""
    if src.read_at(0, 4) != SIGNATURE:
        raise CorruptFile("not a FLAC file (bad signature)")
    blocks: list[Block] = []
    pos = 4
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
            return blocks, pos


def _streaminfo(raw: bytes) -> dict:
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


class FlacHandler(FormatHandler):
    name = "flac"
    kind = "audio"
    mime = "audio/flac"
    extensions = (".flac",)
    normative_carrier = "vorbiscomment:AIGC"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head.startswith(SIGNATURE) else 0

    def read(self, src: CountingReader) -> Evidence:
        blocks, audio = _walk(src)
        ev = Evidence(self.name, self.kind, info={"audio_offset": audio})
        for block in blocks:
            if block.type == STREAMINFO:
                ev.info.update(_streaminfo(_read_block(src, block)))
            elif block.type == VORBIS_COMMENT:
                where = f"VORBIS_COMMENT block at offset {block.offset}"
                comment = load_vorbis_comment(_read_block(src, block), where, framing=False)
                labels, traces = vorbis_evidence(comment, where=where, offset=block.offset, before_payload=True)
                ev.labels += labels
                ev.traces += traces
        return ev

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        from mutagen._vorbis import VComment

        blocks, audio = _walk(src)
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
        for i, (btype, body, block) in enumerate(out):
            if btype == PADDING and block is not None and block.length - growth >= 0:
                out[i] = (PADDING, bytes(block.length - growth), None)
                break
        plan: list = [SIGNATURE]
        for i, (btype, body, block) in enumerate(out):
            last = i == len(out) - 1
            if body is None:
                assert block is not None
                plan.append(_header(btype, block.length, last))
                plan.append(Copy(block.offset + 4, block.length))
            else:
                plan.append(_header(btype, len(body), last))
                plan.append(body)
        plan.append(Copy(audio, src.size - audio))
        emit(plan, src, dst)
