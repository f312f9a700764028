"""Audio access for WAV and AIFF/AIFF-C (integer or float PCM): windows read by sample offset, prompts
spliced into the sample data by hand.

The chunks are the ones :mod:`.wav` and :mod:`.aiff` walk (one walker per container).  Inserting
keeps every original sample byte, bit-exact, on both sides of the prompt and every other chunk in
order (``fact`` and ``COMM`` frame counts are updated; cue points and markers are *not* moved - a
note says so when the file has them).  The new file is written as it is made, into a spool (memory for
a short file, an anonymous temporary file for a long one), the samples copied by the kernel: an hour of
44.1 kHz stereo (635 MB) is labelled in ~60 MB, where holding it cost ~6 copies.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from .. import limits
from .._io import spool
from ..errors import CorruptFile, UnsupportedOperation
from ._pcm import PcmFormat, aiff_pcm_format, wav_pcm_format
from .media_audio import AudioAccess, InsertRequest, Inserted, PcmWindow, checked_info, insertion_spots, splice_placed

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

    def _plan(self, request: InsertRequest) -> tuple[bytes, list[tuple[str, int]]]:
        """The encoded prompt and where it goes (frame indexes); only the searched middle region is read."""
        pcm = self.pcm
        prompt = pcm.encode(request.prompt(pcm.rate))
        limits.check_allocation(len(prompt), f"the prompt in the {self.what} sample format")

        def read(start: int, count: int) -> Any:
            count = max(0, min(count, self.frames - start))
            return pcm.decode_mono(self.src.read_at(self.first + start * pcm.block, count * pcm.block))

        return prompt, insertion_spots(request, self.frames, pcm.rate, read)

    def _write_samples(self, dst: BinaryIO, prompt: bytes, spots: list[tuple[str, int]]) -> None:
        """The sample frames with *prompt* before each spot, copied from the source as they are (never held)."""
        block, last = self.pcm.block, 0
        for _position, at in spots:
            _copy(self.src, self.first + last * block, (at - last) * block, dst)
            dst.write(prompt)
            last = at
        _copy(self.src, self.first + last * block, (self.frames - last) * block, dst)

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
        """The file with the prompt spliced into ``data``, written to a spool as it goes (bounded memory)."""
        layout = self.layout
        if layout.form != b"RIFF":
            raise UnsupportedOperation("adding an audible label to RF64/BW64 WAV (over 4 GB) is not supported yet")
        pcm, dat, src = self.pcm, layout.data, self.src
        prompt, spots = self._plan(request)
        added = len(prompt) // pcm.block * len(spots)
        new_size = dat.size + len(prompt) * len(spots)  # a partial frame at the end stays at the end
        riff = 4 + sum(8 + (new_size if c is dat else c.size) + ((new_size if c is dat else c.size) & 1)
                       for c in layout.chunks)
        if riff > 0xFFFFFFFF:
            raise UnsupportedOperation("the WAV with the prompt would pass the 4 GB RIFF limit")
        notes: list[str] = []
        out = spool(src.size + new_size - dat.size)
        try:
            out.write(b"RIFF" + struct.pack("<I", riff) + b"WAVE")
            for chunk in layout.chunks:
                if chunk is dat:
                    out.write(b"data" + struct.pack("<I", new_size))
                    self._write_samples(out, prompt, spots)
                    _copy(src, self.first + self.frames * pcm.block, dat.size - self.frames * pcm.block, out)
                    out.write(b"\x00" if new_size & 1 else b"")
                else:
                    self._chunk(chunk, added, notes, out)
            src.seek(layout.riff_end)
            src.copy_to(out)
        except BaseException:
            out.close()
            raise
        return Inserted(out, splice_placed(spots, len(prompt) // pcm.block, pcm.rate), self._how(pcm.describe()),
                        notes, {"method": "spliced", "sample_rate": pcm.rate, "channels": pcm.channels,
                                "added_frames": added})

    def _chunk(self, chunk: IffChunk, added: int, notes: list[str], out: BinaryIO) -> None:
        """Another chunk, as it was (``fact``'s frame count updated); a note for positions the prompt moved."""
        src = self.src
        if chunk.id == b"fact" and chunk.size >= 4:
            raw = src.read_at(chunk.offset, 12)
            (count,) = struct.unpack("<I", raw[8:12])
            out.write(raw[:8] + struct.pack("<I", min(0xFFFFFFFF, count + added)))
            _copy(src, chunk.offset + 12, chunk.size - 4, out)
        else:
            _copy(src, chunk.offset, 8 + chunk.size, out)
        out.write(b"\x00" if chunk.size & 1 else b"")
        if chunk.id in (b"cue ", b"smpl", b"bext") or (
                chunk.id == b"LIST" and src.read_at(chunk.data_offset, 4) == b"adtl"):
            notes.append(f"the {chunk.name.strip()!r} chunk's sample positions were not moved by the "
                         "inserted prompt")


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
        """The file with the prompt spliced into ``SSND``, written to a spool as it goes (bounded memory)."""
        layout, pcm, src = self.layout, self.pcm, self.src
        ssnd = layout.ssnd
        if ssnd is None:
            raise UnsupportedOperation("this AIFF has no sound data chunk to put the prompt in")
        prompt, spots = self._plan(request)
        added = len(prompt) // pcm.block * len(spots)
        grown = len(prompt) * len(spots)
        form = 4 + sum(8 + c.size + grown * (c is ssnd) + ((c.size + grown * (c is ssnd)) & 1) for c in layout.chunks)
        if form > 0xFFFFFFFF:
            raise UnsupportedOperation("the AIFF with the prompt would pass the 4 GB FORM limit")
        notes: list[str] = []
        out = spool(src.size + grown)
        try:
            out.write(b"FORM" + struct.pack(">I", form) + layout.form_type)
            for chunk in layout.chunks:
                if chunk is ssnd:
                    size = ssnd.size + grown
                    out.write(b"SSND" + struct.pack(">I", size))
                    _copy(src, ssnd.data_offset, self.first - ssnd.data_offset, out)
                    self._write_samples(out, prompt, spots)
                    rest = self.first + self.frames * pcm.block
                    _copy(src, rest, ssnd.end - rest, out)
                    out.write(b"\x00" if size & 1 else b"")
                    continue
                if chunk is self.comm:
                    piece = src.read_at(chunk.offset, 18)
                    out.write(piece[:10] + struct.pack(">I", min(0xFFFFFFFF, self.nframes + added)) + piece[14:])
                    _copy(src, chunk.offset + 18, chunk.size - 10, out)
                else:
                    _copy(src, chunk.offset, 8 + chunk.size, out)
                    if chunk.id in (b"MARK", b"INST"):
                        notes.append(f"the {chunk.name!r} chunk's positions were not moved by the inserted prompt")
                out.write(b"\x00" if chunk.size & 1 else b"")
            src.seek(layout.form_end)
            src.copy_to(out)
        except BaseException:
            out.close()
            raise
        return Inserted(out, splice_placed(spots, len(prompt) // pcm.block, pcm.rate),
                        self._how(f"{self.ctype} {pcm.bits}-bit"), notes,
                        {"method": "spliced", "sample_rate": pcm.rate, "channels": pcm.channels,
                         "added_frames": added})


def _copy(src: CountingReader, start: int, length: int, dst: BinaryIO) -> None:
    """*length* bytes of *src* from *start* to *dst* (the kernel copies file to file); short is corrupt."""
    if length <= 0:
        return
    src.seek(start)
    if src.copy_to(dst, length) != length:
        raise CorruptFile(f"truncated: the file ends inside the bytes at offsets {start}-{start + length}")
