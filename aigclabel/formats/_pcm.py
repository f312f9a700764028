"""Uncompressed PCM sample formats (WAV ``fmt``, AIFF ``COMM``): parsed once, encoded and decoded with numpy.

The WAV and AIFF handlers describe their sample data with a :class:`PcmFormat`; the audio access
(:mod:`.media_audio`) reads windows of samples through it and writes a prompt in the file's own
sample format.  numpy is imported inside the functions (``pip install 'aigclabel[audio]'``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CorruptFile, UnsupportedOperation

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["PcmFormat", "wav_pcm_format", "aiff_pcm_format", "extended_float", "AIFC_TYPES"]

_WAV_PCM, _WAV_FLOAT, _WAV_EXT = 1, 3, 0xFFFE

#: AIFF-C compression type -> (floating point, big-endian)
AIFC_TYPES = {b"NONE": (False, True), b"twos": (False, True), b"sowt": (False, False),
              b"fl32": (True, True), b"FL32": (True, True), b"fl64": (True, True), b"FL64": (True, True)}


@dataclass(frozen=True)
class PcmFormat:
    """How one sample is stored: container bytes, significant bits, integer/float, endianness."""

    channels: int
    rate: int
    width: int  # bytes per sample
    bits: int  # significant bits (left-aligned in *width* bytes)
    floating: bool = False
    big_endian: bool = False
    unsigned: bool = False  # 8-bit WAV

    @property
    def block(self) -> int:
        return self.width * self.channels

    def describe(self) -> str:
        return f"{'float' if self.floating else 'integer'} {self.bits}-bit"

    def encode(self, mono: np.ndarray) -> bytes:
        """Mono float samples -> interleaved frames in this format (same value in every channel)."""
        import numpy as np

        x = np.clip(np.asarray(mono, dtype=np.float64), -1.0, 1.0)
        order = ">" if self.big_endian else "<"
        if self.floating:
            arr = x.astype(f"{order}f{self.width}")
        else:
            scale = float((1 << (self.bits - 1)) - 1)
            ints = np.round(x * scale).astype(np.int64) << (8 * self.width - self.bits)
            if self.unsigned:
                ints = ints + (1 << (8 * self.width - 1))
            if self.width == 3:
                u = (ints & 0xFFFFFF).astype("<u4")
                b = u.view(np.uint8).reshape(-1, 4)[:, :3]
                if self.big_endian:
                    b = b[:, ::-1]
                arr = np.ascontiguousarray(b)
            else:
                kind = "u" if self.unsigned else "i"
                arr = ints.astype(f"{order}{kind}{self.width}")
        # one row per sample (its bytes), repeated once per channel: interleaved frames
        return np.ascontiguousarray(np.repeat(arr.reshape(len(x), -1), self.channels, axis=0)).tobytes()

    def decode_mono(self, raw: bytes) -> np.ndarray:
        """Interleaved frames -> mono float64 (channel mean), for finding a quiet spot or detection."""
        import numpy as np

        n = len(raw) // self.block
        raw = raw[:n * self.block]
        order = ">" if self.big_endian else "<"
        if self.floating:
            x = np.frombuffer(raw, f"{order}f{self.width}").astype(np.float64)
        elif self.width == 3:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
            if self.big_endian:
                b = b[:, ::-1]
            v = b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16)
            x = ((v ^ 0x800000) - 0x800000).astype(np.float64) / float(1 << 23)
        else:
            kind = "u" if self.unsigned else "i"
            v = np.frombuffer(raw, f"{order}{kind}{self.width}").astype(np.float64)
            if self.unsigned:
                v -= 1 << (8 * self.width - 1)
            x = v / float(1 << (8 * self.width - 1))
        return x.reshape(n, self.channels).mean(axis=1)


def wav_pcm_format(fmt: bytes) -> PcmFormat:
    """The sample format of a WAVE ``fmt `` chunk; :class:`UnsupportedOperation` for compressed data."""
    if len(fmt) < 16:
        raise CorruptFile(f"corrupt WAVE file: fmt chunk of {len(fmt)} bytes")
    tag, channels, rate, _bps, block, bits = struct.unpack("<HHIIHH", fmt[:16])
    valid = bits
    if tag == _WAV_EXT and len(fmt) >= 40:
        valid = struct.unpack("<H", fmt[18:20])[0] or bits
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels < 1 or rate < 1 or bits < 8 or bits % 8 or block != channels * bits // 8:
        raise CorruptFile(f"corrupt WAVE fmt chunk ({channels} channels, {bits} bits, block {block})")
    width = bits // 8
    if tag == _WAV_PCM and width in (1, 2, 3, 4):
        return PcmFormat(channels, rate, width, min(valid, bits), unsigned=width == 1)
    if tag == _WAV_FLOAT and width in (4, 8):
        return PcmFormat(channels, rate, width, bits, floating=True)
    raise UnsupportedOperation(f"WAV with format tag 0x{tag:04X} ({bits} bits) is not PCM: only integer PCM "
                               "(8-32 bit) and float PCM samples can be read or spliced")


def extended_float(raw: bytes) -> float | None:
    """An 80-bit IEEE 754 extended float (the AIFF sample rate); ``None`` when it is not a usable number."""
    exponent = int.from_bytes(raw[:2], "big")
    mantissa = int.from_bytes(raw[2:10], "big")
    sign = -1 if exponent & 0x8000 else 1
    exponent &= 0x7FFF
    if exponent == 0 and mantissa == 0:
        return 0.0
    try:
        value = sign * math.ldexp(mantissa, exponent - 16383 - 63)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def aiff_pcm_format(comm: bytes, form_type: bytes) -> tuple[PcmFormat, int, str]:
    """(sample format, declared frame count, compression type) of an AIFF ``COMM`` chunk.

    A sample rate that is not a positive whole number (a huge 80-bit exponent included) is
    :class:`CorruptFile`; compressed AIFF-C is :class:`UnsupportedOperation`.
    """
    if len(comm) < 18:
        raise CorruptFile("corrupt AIFF file: short COMM chunk")
    channels, nframes, bits = struct.unpack(">hIh", comm[:8])
    rate = extended_float(comm[8:18])
    ctype = comm[18:22] if form_type == b"AIFC" and len(comm) >= 22 else b"NONE"
    if ctype not in AIFC_TYPES:
        raise UnsupportedOperation(f"compressed AIFF-C ({ctype.decode('latin-1')!r}) is not PCM: its samples "
                                   "cannot be read or spliced")
    floating, big = AIFC_TYPES[ctype]
    if rate is None or channels < 1 or not (1 <= bits <= 64) or rate < 1 or rate != int(rate):
        raise CorruptFile(f"corrupt AIFF COMM chunk ({channels} channels, {bits} bits, {rate} Hz)")
    width = (bits + 7) // 8 if not floating else (8 if ctype.lower() == b"fl64" else 4)
    if width not in (1, 2, 3, 4, 8) or (not floating and width == 8):
        raise UnsupportedOperation(f"{bits}-bit AIFF samples are not supported")
    pcm = PcmFormat(channels, int(rate), width, bits if not floating else 8 * width, floating=floating,
                    big_endian=big)
    return pcm, nframes, ctype.decode("latin-1")
