"""AIFF and AIFF-C: the record is ``TXXX:AIGC`` in the ID3v2 tag of an ``ID3 `` chunk.

Chunks are walked by their headers (big-endian sizes, even-padded); reading loads ``COMM`` and the
ID3 chunk(s) only and seeks past ``SSND``.  Writing merges the record into the existing ID3 tag
through mutagen (every other frame kept, old records replaced, the tag's version kept) and puts
the chunk before ``SSND`` -- where a record belongs ("file metadata in the header"), even when the
old ID3 chunk sat after the sound data, as mutagen and ffmpeg place it.  Every other chunk and the
sample bytes are copied unchanged.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._audio_meta import CHUNK_ID3_PADDING, Copy, IffChunk, emit, id3_evidence, id3_with_record, \
    id3_without_records, load_id3, plan_size, read_chunk, walk_iff
from ._pcm import extended_float as _extended
from ._riff import iff_chunk
from .base import Evidence, FormatHandler, ImplicitLabel

if TYPE_CHECKING:  # pragma: no cover
    from .media_audio import AudioAccess

_ID3_IDS = (b"ID3 ", b"id3 ")
_TYPES = (b"AIFF", b"AIFC")


class _Layout:
    def __init__(self, src: CountingReader) -> None:
        head = src.read_at(0, 12)
        if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in _TYPES:
            raise CorruptFile("not an AIFF file (bad FORM header)")
        self.form_type = head[8:12]
        (size,) = struct.unpack(">I", head[4:8])
        self.form_end = 8 + size
        if self.form_end > src.size + 1:
            raise CorruptFile(f"truncated: the FORM header claims {self.form_end} bytes, the file has {src.size}")
        self.form_end = min(self.form_end, src.size)
        self.chunks = walk_iff(src, 12, self.form_end, big_endian=True, what="AIFF")
        if not any(c.id == b"COMM" for c in self.chunks):
            raise CorruptFile("corrupt AIFF file: no COMM chunk")
        ssnd = [c for c in self.chunks if c.id == b"SSND"]
        self.ssnd: IffChunk | None = ssnd[0] if ssnd else None

    def before_payload(self, chunk: IffChunk) -> bool:
        return self.ssnd is None or chunk.offset < self.ssnd.offset


class AiffHandler(FormatHandler):
    name = "aiff"
    kind = "audio"
    mime = "audio/aiff"
    extensions = (".aif", ".aiff", ".aifc")
    normative_carrier = "aiff:ID3:TXXX:AIGC"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head[:4] == b"FORM" and head[8:12] in _TYPES else 0

    def read(self, src: CountingReader) -> Evidence:
        layout = _Layout(src)
        ev = Evidence(self.name, self.kind, info={"form": layout.form_type.decode()})
        first_id3 = True
        for chunk in layout.chunks:
            where = f"{chunk.name!r} chunk at offset {chunk.offset}"
            if chunk.id == b"COMM":
                comm = read_chunk(src, chunk, "AIFF")
                if len(comm) < 18:
                    raise CorruptFile(f"corrupt AIFF file: COMM chunk of {len(comm)} bytes")
                channels, frames, bits = struct.unpack(">hIh", comm[:8])
                rate = _extended(comm[8:18])
                ev.info.update(channels=channels, sample_frames=frames, bits_per_sample=bits, sample_rate=rate)
                if len(comm) >= 22:
                    ev.info["compression"] = comm[18:22].decode("latin-1")
            elif chunk.id in _ID3_IDS:
                data = read_chunk(src, chunk, "AIFF")
                labels, traces = id3_evidence(load_id3(data, where), where=where, carrier_prefix="aiff:ID3:",
                                              normative=first_id3, offset=chunk.offset,
                                              before_payload=layout.before_payload(chunk))
                first_id3 = False
                ev.labels += labels
                ev.traces += traces
        return ev

    def audio_access(self, src: CountingReader) -> AudioAccess:
        """PCM read and spliced by sample offset; compressed AIFF-C decoded with PyAV, not spliced."""
        from ._pcm_splice import AiffAccess

        try:
            return AiffAccess(src)
        except UnsupportedOperation as exc:
            from ._av_splice import AvAccess

            return AvAccess(src, self.name, "AIFF", refusal=f"adding an audible label is not supported: {exc}")

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        layout = _Layout(src)
        id3_chunks = [c for c in layout.chunks if c.id in _ID3_IDS]
        base = id3_chunks[0] if id3_chunks else None
        existing = read_chunk(src, base, "AIFF") if base is not None else None
        where = f"{base.name!r} chunk at offset {base.offset}" if base is not None else "a new ID3 chunk"
        tag_chunk = iff_chunk(base.id if base is not None else b"ID3 ",
                              id3_with_record(existing, label.record_json, where, padding=CHUNK_ID3_PADDING),
                              big_endian=True)
        body: list = []
        placed = False
        for chunk in layout.chunks:
            if chunk is layout.ssnd and not placed:
                body.append(tag_chunk)
                placed = True
            if chunk is base:
                if layout.before_payload(chunk):
                    body.append(tag_chunk)
                    placed = True
                continue  # an ID3 chunk after the sound data moves before it
            if chunk.id in _ID3_IDS:
                stripped = id3_without_records(read_chunk(src, chunk, "AIFF"), f"offset {chunk.offset}",
                                               padding=CHUNK_ID3_PADDING)
                if stripped is not None:
                    body.append(iff_chunk(chunk.id, stripped, big_endian=True))
                    continue
            body.append(Copy(chunk.offset, 8 + chunk.size))
            if chunk.size & 1:
                body.append(b"\x00")
        if not placed:
            body.append(tag_chunk)  # no sound data chunk (an empty AIFF): the tag goes last
        form_size = 4 + plan_size(body)
        if form_size > 0xFFFFFFFF:
            raise UnsupportedOperation("the labelled AIFF would pass the 4 GB FORM limit")
        plan = [b"FORM" + struct.pack(">I", form_size) + layout.form_type, *body]
        plan.append(Copy(layout.form_end, src.size - layout.form_end))
        emit(plan, src, dst)
