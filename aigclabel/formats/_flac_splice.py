"""Inserting a prompt into FLAC: decoded and re-encoded losslessly, streamed in bounded memory.

Every original sample comes out bit-exact around the prompt, in the same bit depth; every metadata
block but STREAMINFO and SEEKTABLE (stale after the insertion; dropped) is kept, and so is an ID3v2
tag in front of ``fLaC``.  The stream is decoded one frame at a time and encoded as it goes into an
unnamed temporary file, then joined with the kept blocks into the result spool (issue 15: an hour of
FLAC is never held as samples).  A stream whose STREAMINFO does not declare its length is inserted in
memory, as before, because "end" and "middle" need the length first.

:meth:`FlacAccess.remark` is the same machinery for a change of the samples themselves (the invisible
watermark): decoded frame by frame, handed to a callback in stretches with some context on each side,
re-encoded losslessly in the same bit depth, the kept blocks put back.
"""

from __future__ import annotations

import io
import shutil
from typing import Any, BinaryIO, Callable, Iterator

from .. import limits
from .._io import CountingReader, spool
from ..errors import CorruptFile, UnsupportedOperation
from ._av_audio import FlacWriter, decode_planar, encode_flac, native_frames
from ._av_splice import AvAccess
from .media_audio import InsertRequest, Inserted, insertion_spots, read_whole, splice_arrays, splice_placed

__all__ = ["FlacAccess"]


class FlacAccess(AvAccess):
    """FLAC: STREAMINFO checked against the budget first; inserting re-encodes losslessly."""

    def __init__(self, src: CountingReader) -> None:
        from .flac import STREAMINFO, _read_block, _streaminfo, _walk

        self.blocks, self.audio_offset, self.start = _walk(src)
        info = _streaminfo(_read_block(src, self.blocks[0]))
        assert self.blocks[0].type == STREAMINFO  # _walk guarantees it
        self.bits = int(info["bits_per_sample"])
        self.total = int(info["total_samples"])
        # the declared rate and channels are refused before PyAV sees the stream
        limits.check_audio(info["sample_rate"], info["channels"], None, "the FLAC stream")
        super().__init__(src, "flac", "FLAC")

    def remark(self, mark: Callable[[Any, int, int, int], Any], stretch: int,
               margin: int) -> tuple[BinaryIO, int]:
        """(the file with new sample values from *mark*, re-encoded losslessly in its own bit depth (a spool),
        the frames decoded - a truncated stream holds fewer than STREAMINFO declares).

        ``mark(window, a, b, first)`` gets float64 frames x channels (full scale 1) of a *window* holding a
        stretch of at most *stretch* frames at rows ``[a, b)`` and up to *margin* frames of context on each
        side; *first* is the stretch's first frame in the stream (a multiple of *stretch*).  It returns the
        stretch's new frames (``b - a`` rows, same scale), rounded here to the file's bit depth.  Only one
        stretch and its context are held; the length in samples is kept; every metadata block but
        STREAMINFO and SEEKTABLE and an ID3v2 tag in front come back unchanged (see :meth:`_joined`).
        """
        if self.bits not in (16, 24):
            raise UnsupportedOperation(f"rewriting the samples of {self.bits}-bit FLAC is not supported (16 and 24 "
                                       "bit are)")
        limits.check_allocation((stretch + 2 * margin) * self.info.channels * 8 * 4, "a stretch of the FLAC samples")
        encoded = spool(self.src.size * 2)
        try:
            writer: FlacWriter | None = None
            held: list[Any] = []  # decoded frames not yet written; held[0] starts at frame `base`
            base = count = done = 0
            for fmt, layout, samples in self._frames():
                if writer is None:
                    writer = FlacWriter(encoded, self.info.rate, layout, fmt)
                held.append(samples)
                count += len(samples)
                while base + count >= done + stretch + margin:
                    held, base, count, done = self._remark_stretch(writer, mark, held, base, done, stretch, margin)
            if writer is None:
                raise CorruptFile("the FLAC stream holds no audio frames")
            while done < base + count:
                held, base, count, done = self._remark_stretch(writer, mark, held, base, done, stretch, margin)
            writer.close()
            return self._joined(encoded, self.bits), done
        finally:
            encoded.close()

    def _remark_stretch(self, writer: FlacWriter, mark: Callable[[Any, int, int, int], Any], held: list[Any],
                        base: int, done: int, stretch: int, margin: int) -> tuple[list[Any], int, int, int]:
        """Mark and write the stretch from frame *done*; (what stays held, its base, its count, new done)."""
        import numpy as np

        buf = np.concatenate(held) if len(held) > 1 else held[0]
        end = base + len(buf)
        a, b = done, min(done + stretch, end)
        lo, hi = max(base, a - margin), min(end, b + margin)
        full = float(np.iinfo(buf.dtype).max) + 1.0
        # in place where possible: a 60 s stereo stretch is 42 MB as float64, and each temporary costs as much
        window = buf[lo - base:hi - base].astype(np.float64)
        window *= 1.0 / full
        new = np.asarray(mark(window, a - lo, b - lo, a), dtype=np.float64)
        del window
        step = (1 << (8 * buf.dtype.itemsize)) >> self.bits  # 24-bit samples sit in the top bits of s32
        new *= full / step
        np.round(new, out=new)
        new *= step
        np.clip(new, -full, full - step, out=new)
        ints = new.astype(buf.dtype)
        writer.write(np.ascontiguousarray(ints))
        keep = max(base, b - margin)
        rest = buf[keep - base:].copy()  # the context the next stretch reads before its start
        return [rest], keep, len(rest), b

    def insert(self, request: InsertRequest) -> Inserted:
        bits = self.bits
        if bits not in (16, 24):
            raise UnsupportedOperation(f"adding an audible label to {bits}-bit FLAC is not supported (16 and 24 "
                                       "bit are; the encoder cannot keep other depths bit-exact)")
        if self.total <= 0:
            return self._insert_in_memory(request)
        return self._insert_streamed(request)

    # ------------------------------------------------------------------------------ streamed

    def _frames(self) -> Iterator[tuple[str, str, Any]]:
        return native_frames(self.src, "FLAC", self.info.channels)

    def _mono(self, start: int, count: int) -> Any:
        """Mono float64 of frames [start, start + count), decoded from the beginning (exact positions; only
        the "middle" search asks, for two seconds near the middle)."""
        import numpy as np

        got: list[Any] = []
        pos, end = 0, start + count
        for fmt, _layout, samples in self._frames():
            n = len(samples)
            if pos + n > start:
                full = float(1 << 31) if fmt == "s32" else 32768.0
                part = samples[max(0, start - pos):max(0, end - pos)]
                got.append(part.astype(np.float64).mean(axis=1) / full)
            pos += n
            if pos >= end:
                break
        return np.concatenate(got) if got else np.zeros(0)

    def _insert_streamed(self, request: InsertRequest) -> Inserted:
        rate, channels, bits = self.info.rate, self.info.channels, self.bits
        spots = insertion_spots(request, self.total, rate, self._mono)
        mono = request.prompt(rate)
        encoded = spool(self.src.size * 2)  # the new stream; rewound by the muxer to finish STREAMINFO
        try:
            writer: FlacWriter | None = None
            pending = list(spots)
            pos = 0
            prompt: Any = None
            for fmt, layout, samples in self._frames():
                if writer is None:
                    writer = FlacWriter(encoded, rate, layout, fmt)
                    prompt = _prompt_frames(mono, bits, fmt, channels)
                cut = 0
                while pending and pending[0][1] < pos + len(samples):
                    at = pending.pop(0)[1] - pos
                    writer.write(samples[cut:at])
                    writer.write(prompt)
                    cut = at
                writer.write(samples[cut:])
                pos += len(samples)
            if writer is None:
                raise CorruptFile("the FLAC stream holds no audio frames")
            for _spot in pending:  # at the end, or past a stream shorter than STREAMINFO declared
                writer.write(prompt)
            writer.close()
            out = self._joined(encoded, bits)
        finally:
            encoded.close()
        notes = self._notes()
        if pos != self.total:
            notes.append(f"the stream holds {pos:,} samples per channel, STREAMINFO declared {self.total:,}: the "
                         "positions were planned on the declared length")
        return Inserted(out, splice_placed(spots, len(mono), rate), self._how(), notes,
                        {"method": "re-encoded losslessly", "sample_rate": rate, "channels": channels,
                         "added_frames": len(mono) * len(spots)})

    def _joined(self, encoded: BinaryIO, bits: int) -> BinaryIO:
        """The result: the original's prefix and kept blocks, the new STREAMINFO, the new audio frames."""
        from .flac import _read_block, _streaminfo, _walk

        size = encoded.seek(0, io.SEEK_END)
        new_src = CountingReader(encoded, "<encoded FLAC>", size)
        new_blocks, new_audio, _start = _walk(new_src)
        new_info = _read_block(new_src, new_blocks[0])
        if _streaminfo(new_info)["bits_per_sample"] != bits:
            raise UnsupportedOperation(f"the FLAC encoder wrote {_streaminfo(new_info)['bits_per_sample']}-bit "
                                       f"samples for a {bits}-bit file")
        out = spool(self.start + size + self.audio_offset)
        try:
            if self.start:
                out.write(self.src.read_at(0, self.start))
            out.write(b"fLaC" + self._blocks(new_info))
            encoded.seek(new_audio)
            shutil.copyfileobj(encoded, out, 1 << 20)
        except BaseException:
            out.close()
            raise
        return out

    def _blocks(self, new_info: bytes) -> bytes:
        from .flac import SEEKTABLE, STREAMINFO, _read_block, metadata_blocks

        kept = [(STREAMINFO, new_info)]
        kept += [(b.type, _read_block(self.src, b)) for b in self.blocks[1:] if b.type != SEEKTABLE]
        return metadata_blocks(kept)

    def _notes(self) -> list[str]:
        from .flac import SEEKTABLE

        notes = []
        for block in self.blocks[1:]:
            if block.type == SEEKTABLE:
                notes.append("the SEEKTABLE block was dropped (its offsets are stale after the insertion)")
            elif block.type == 5:
                notes.append("the CUESHEET block's track offsets were not moved by the inserted prompt")
        return notes

    def _how(self) -> str:
        return (f"FLAC re-encoded losslessly with PyAV: original samples bit-exact ({self.info.channels} ch, "
                f"{self.info.rate} Hz, {self.bits}-bit)")

    # ------------------------------------------------------------------------------ in memory

    def _insert_in_memory(self, request: InsertRequest) -> Inserted:
        """A stream of undeclared length: decoded whole (under ``max_audio_samples``), then encoded."""
        import numpy as np

        bits = self.bits
        data = read_whole(self.src, "the FLAC file", copies=2)
        facts, chunks = decode_planar(self.src, "FLAC", fmt="native")
        fmt, layout, rate, channels = facts.sample_format, facts.layout, facts.rate, facts.channels
        if fmt not in ("s16", "s32"):
            raise UnsupportedOperation(f"unexpected FLAC decode format {fmt}")
        dtype = np.int16 if fmt == "s16" else np.int32
        samples = (np.concatenate([c.reshape(-1) for c in chunks]) if chunks else np.zeros(0, dtype)).astype(dtype)
        samples = samples.reshape(-1, channels)
        frames = len(samples)
        full = float(1 << 31) if fmt == "s32" else 32768.0
        p_frames = _prompt_frames(request.prompt(rate), bits, fmt, channels)
        spots = insertion_spots(request, frames, rate,
                                lambda s, n: samples[s:s + n].astype(np.float64).mean(axis=1) / full)
        new = splice_arrays(samples, spots, p_frames, 0)
        encoded = encode_flac(new, rate, layout, fmt)
        new_src = CountingReader(io.BytesIO(encoded), "<encoded FLAC>", len(encoded))
        from .flac import _read_block, _streaminfo, _walk

        new_blocks, new_audio, _start = _walk(new_src)
        new_info = _read_block(new_src, new_blocks[0])
        if _streaminfo(new_info)["bits_per_sample"] != bits:
            raise UnsupportedOperation(f"the FLAC encoder wrote {_streaminfo(new_info)['bits_per_sample']}-bit "
                                       f"samples for a {bits}-bit file")
        result = data[:self.start] + b"fLaC" + self._blocks(new_info) + encoded[new_audio:]
        return Inserted(result, splice_placed(spots, len(p_frames), rate), self._how(), self._notes(),
                        {"method": "re-encoded losslessly", "sample_rate": rate, "channels": channels,
                         "added_frames": len(new) - frames})


def _prompt_frames(mono: Any, bits: int, fmt: str, channels: int) -> Any:
    """The float prompt as interleaved integer frames in the decoder's sample format (24-bit FLAC decodes to
    ``s32`` with the samples in the top bits)."""
    import numpy as np

    dtype = np.int16 if fmt == "s16" else np.int32
    shift = 16 if fmt == "s32" and bits == 16 else (8 if fmt == "s32" else 0)
    scale = float((1 << (bits - 1)) - 1)
    p_int = (np.round(np.clip(mono, -1, 1) * scale).astype(np.int64) << shift).astype(dtype)
    return np.ascontiguousarray(np.repeat(p_int[:, None], channels, axis=1))
