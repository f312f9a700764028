"""Audio access for WAV and AIFF/AIFF-C (integer or float PCM): windows read by sample offset, prompts
spliced into the sample data by hand.

The chunks are the ones :mod:`.wav` and :mod:`.aiff` walk (one walker per container).  Inserting
keeps every original sample byte, bit-exact, on both sides of the prompt and every other chunk in
order (``fact`` and ``COMM`` frame counts are updated; cue points and markers are *not* moved - a
note says so when the file has them).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Iterator

from .. import limits
from ..errors import CorruptFile, UnsupportedOperation
from ._pcm import PcmFormat, aiff_pcm_format, wav_pcm_format
from ._riff import iff_chunk
from .media_audio import (AudioAccess, InsertRequest, Inserted, PcmWindow, checked_info, insertion_spots,
                          read_whole, splice_placed)

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ._audio_meta import IffChunk

__all__ = ["PcmAccess", "WavAccess", "AiffAccess"]

#: at most this much of a ``fmt `` / ``COMM`` chunk is read (the fields we use fit in 40 bytes)
_HEAD_CHUNK = 64


class PcmAccess(AudioAccess):
    """Sample data at a known offset: windows are exact byte ranges, no decoder involved."""

    exact_seek = True

    def __init__(self, src: CountingReader, pcm: PcmFormat, first: int, frames: int, what: str) -> None:
        info = checked_info(pcm.rate, pcm.channels, frames / pcm.rate if pcm.rate else None, "pcm",
                            "PCM read directly", f"the {what} sample data")
        super().__init__(src, info, what)
        self.pcm = pcm
        self.first = first  # offset of the first sample frame
        self.frames = frames

    def windows(self, spans: list[tuple[str, float, float]], rate: int | None = None) -> Iterator[PcmWindow]:
        pcm = self.pcm
        for name, a, b in spans:
            fa = max(0, int(a * pcm.rate))
            fb = min(self.frames, int(-(-b * pcm.rate // 1)) if b != float("inf") else self.frames)
            if fb <= fa:
                continue
            limits.check_audio(pcm.rate, pcm.channels, (fb - fa) / pcm.rate, f"a window of the {self.what} audio")
            limits.check_allocation((fb - fa) * pcm.block, f"a window of the {self.what} sample data")
            limits.check_deadline(f"reading the {self.what} samples")
            raw = self.src.read_at(self.first + fa * pcm.block, (fb - fa) * pcm.block)
            yield PcmWindow(name, fa / pcm.rate, pcm.rate, pcm.decode_mono(raw))

    def _splice_raw(self, raw: bytes, request: InsertRequest) -> tuple[bytes, list[dict[str, Any]], int]:
        """The sample bytes with the prompt inserted; the ``inserted`` entries; frames added."""
        pcm = self.pcm
        frames = len(raw) // pcm.block
        prompt = pcm.encode(request.prompt(pcm.rate))

        def read(start: int, count: int) -> Any:
            return pcm.decode_mono(raw[start * pcm.block:(start + count) * pcm.block])

        spots = insertion_spots(request, frames, pcm.rate, read)
        out, last = [], 0
        for _position, at in spots:
            out += [raw[last * pcm.block:at * pcm.block], prompt]
            last = at
        out.append(raw[last * pcm.block:])
        plen = len(prompt) // pcm.block
        return b"".join(out), splice_placed(spots, plen, pcm.rate), plen * len(spots)

    def _how(self, kind: str) -> str:
        return (f"original samples kept bit-exact around it ({self.pcm.channels} ch, {self.pcm.rate} Hz, "
                f"{kind})")


class WavAccess(PcmAccess):
    def __init__(self, src: CountingReader) -> None:
        from .wav import _Layout

        self.layout = layout = _Layout(src)
        fmt = next(c for c in layout.chunks if c.id == b"fmt ")
        pcm = wav_pcm_format(src.read_at(fmt.data_offset, min(fmt.size, _HEAD_CHUNK)))
        data = layout.data
        super().__init__(src, pcm, data.data_offset, data.size // pcm.block, "WAVE")

    def insert(self, request: InsertRequest) -> Inserted:
        layout = self.layout
        if layout.form != b"RIFF":
            raise UnsupportedOperation("adding an audible label to RF64/BW64 WAV (over 4 GB) is not supported yet")
        data = read_whole(self.src, "the WAVE file")
        pcm, dat = self.pcm, layout.data
        raw = data[dat.data_offset:dat.end]
        whole = len(raw) // pcm.block * pcm.block
        tail = raw[whole:]  # a partial frame at the end stays at the end
        new_raw, placed, added = self._splice_raw(raw[:whole], request)
        new_raw += tail
        notes: list[str] = []
        body = [self._chunk(data, chunk, dat, new_raw, added, notes) for chunk in layout.chunks]
        riff = b"".join(body)
        if 4 + len(riff) > 0xFFFFFFFF:
            raise UnsupportedOperation("the WAV with the prompt would pass the 4 GB RIFF limit")
        out = b"RIFF" + struct.pack("<I", 4 + len(riff)) + b"WAVE" + riff + data[layout.riff_end:]
        return Inserted(out, placed, self._how(pcm.describe()), notes,
                        {"method": "spliced", "sample_rate": pcm.rate, "channels": pcm.channels,
                         "added_frames": added})

    @staticmethod
    def _chunk(data: bytes, chunk: IffChunk, dat: IffChunk, new_raw: bytes, added: int, notes: list[str]) -> bytes:
        if chunk is dat:
            return iff_chunk(b"data", new_raw)
        raw = data[chunk.offset:chunk.end] + (b"\x00" if chunk.size & 1 else b"")
        if chunk.id == b"fact" and chunk.size >= 4:
            (count,) = struct.unpack("<I", raw[8:12])
            return raw[:8] + struct.pack("<I", min(0xFFFFFFFF, count + added)) + raw[12:]
        if chunk.id in (b"cue ", b"smpl", b"bext") or (
                chunk.id == b"LIST" and data[chunk.data_offset:chunk.data_offset + 4] == b"adtl"):
            notes.append(f"the {chunk.name.strip()!r} chunk's sample positions were not moved by the "
                         "inserted prompt")
        return raw


class AiffAccess(PcmAccess):
    def __init__(self, src: CountingReader) -> None:
        from .aiff import _Layout

        self.layout = layout = _Layout(src)
        comm = next(c for c in layout.chunks if c.id == b"COMM")
        pcm, self.nframes, self.ctype = aiff_pcm_format(src.read_at(comm.data_offset, min(comm.size, _HEAD_CHUNK)),
                                                        layout.form_type)
        self.comm = comm
        first, have = 0, 0
        ssnd = layout.ssnd
        if ssnd is not None:
            if ssnd.size < 8:
                raise CorruptFile(f"corrupt AIFF file: SSND chunk of {ssnd.size} bytes")
            (offset,) = struct.unpack(">I", src.read_at(ssnd.data_offset, 4))
            first = ssnd.offset + 16 + offset
            if first > ssnd.end:
                raise CorruptFile(f"corrupt AIFF file: the SSND offset ({offset}) points past the chunk")
            have = min(self.nframes, (ssnd.end - first) // pcm.block)
        super().__init__(src, pcm, first, have, "AIFF")

    def insert(self, request: InsertRequest) -> Inserted:
        layout, pcm = self.layout, self.pcm
        ssnd = layout.ssnd
        if ssnd is None:
            raise UnsupportedOperation("this AIFF has no sound data chunk to put the prompt in")
        data = read_whole(self.src, "the AIFF file")
        start = self.first
        raw = data[start:start + self.frames * pcm.block]
        rest = data[start + self.frames * pcm.block:ssnd.end]
        new_raw, placed, added = self._splice_raw(raw, request)
        notes: list[str] = []
        body = []
        for chunk in layout.chunks:
            if chunk is ssnd:
                body.append(iff_chunk(b"SSND", data[ssnd.data_offset:start] + new_raw + rest, big_endian=True))
                continue
            piece = data[chunk.offset:chunk.end] + (b"\x00" if chunk.size & 1 else b"")
            if chunk is self.comm:
                piece = piece[:10] + struct.pack(">I", min(0xFFFFFFFF, self.nframes + added)) + piece[14:]
            elif chunk.id in (b"MARK", b"INST"):
                notes.append(f"the {chunk.name!r} chunk's positions were not moved by the inserted prompt")
            body.append(piece)
        form = b"".join(body)
        if 4 + len(form) > 0xFFFFFFFF:
            raise UnsupportedOperation("the AIFF with the prompt would pass the 4 GB FORM limit")
        out = b"FORM" + struct.pack(">I", 4 + len(form)) + layout.form_type + form + data[layout.form_end:]
        return Inserted(out, placed, self._how(f"{self.ctype} {pcm.bits}-bit"), notes,
                        {"method": "spliced", "sample_rate": pcm.rate, "channels": pcm.channels,
                         "added_frames": added})
