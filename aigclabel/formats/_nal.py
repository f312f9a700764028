"""H.264 / HEVC bitstream facts: NAL units, parameter sets, IDR pictures, encoder settings SEI.

The video marker splices re-encoded pictures into a stream whose other packets it copies: it must
know which packets are clean key frames (IDR pictures), how the stream stores its NAL units
(length-prefixed as in MP4/Matroska, or Annex B start codes) and the parameter sets of the
stream's configuration record (``avcC`` / ``hvcC``) to put back in front of the first copied IDR.
Everything here reads bytes we did not write, so every length is checked against the buffer
(a count or size that runs past it ends the walk; a configuration record that lies is refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["NalFormat", "nal_format", "nal_units", "annexb_to_lengths", "with_lengths", "encoder_settings",
           "settings_crf"]

_START = re.compile(rb"\x00\x00\x01")
#: x264/x265 write their settings in a user-data SEI: "x264 - core 164 ... options: cabac=1 ... crf=23.0 ..."
_SETTINGS = re.compile(rb"(x26[45]) .{0,400}?options: ([^\x00\x80]{1,4000})", re.S)


def nal_units(data: bytes, length_size: int | None) -> list[bytes]:
    """The NAL units of an H.264/HEVC access unit: length-prefixed (*length_size* bytes) or Annex B
    (*length_size* None, start codes).  A length that runs past the data ends the list."""
    out = []
    if length_size is None:
        starts = [m.end() for m in _START.finditer(data)]
        for i, s in enumerate(starts):
            e = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
            nal = data[s:e]
            if i + 1 < len(starts) and nal.endswith(b"\x00"):
                nal = nal[:-1]  # the zero byte of a 4-byte start code
            out.append(nal)
        return out
    pos = 0
    while pos + length_size <= len(data):
        n = int.from_bytes(data[pos:pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > len(data):
            break
        out.append(data[pos:pos + n])
        pos += n
    return out


def annexb_to_lengths(data: bytes, length_size: int) -> bytes:
    """Annex B (start codes, what the encoders write) -> length-prefixed NAL units."""
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nal_units(data, None) if n)


def with_lengths(nals: list[bytes], length_size: int | None) -> bytes:
    """NAL units joined as the stream stores them (length prefixes, or 4-byte start codes)."""
    if length_size is None:
        return b"".join(b"\x00\x00\x00\x01" + n for n in nals)
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nals)


@dataclass
class NalFormat:
    """How a stream's H.264/HEVC pictures are stored, and its parameter sets."""

    codec: str  # "h264" | "hevc"
    length_size: int | None  # None: Annex B
    param_sets: list[bytes] = field(default_factory=list)

    def nal_type(self, nal: bytes) -> int:
        return nal[0] & 0x1F if self.codec == "h264" else (nal[0] >> 1) & 0x3F

    @property
    def param_types(self) -> set[int]:
        return {7, 8} if self.codec == "h264" else {32, 33, 34}

    def is_idr(self, data: bytes) -> bool:
        """Whether the access unit is an IDR picture (nothing after it refers to earlier pictures)."""
        types = {self.nal_type(n) for n in nal_units(data, self.length_size) if n}
        if self.codec == "h264":
            return 5 in types and 1 not in types
        return bool(types & {19, 20}) and not types & set(range(0, 10)) - {19, 20}

    def has_params(self, data: bytes) -> bool:
        return any(self.nal_type(n) in self.param_types for n in nal_units(data, self.length_size) if n)


def _sized(ex: bytes, pos: int) -> tuple[bytes, int] | None:
    """A 16-bit-length-prefixed parameter set at *pos*; None when it runs past the record (the sets
    read so far are kept: a wrong set makes the splice check fail, and the marker re-encodes whole)."""
    if pos + 2 > len(ex):
        return None
    size = int.from_bytes(ex[pos:pos + 2], "big")
    if pos + 2 + size > len(ex):
        return None
    return ex[pos + 2:pos + 2 + size], pos + 2 + size


def _avcc(ex: bytes) -> NalFormat:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    fmt = NalFormat("h264", (ex[4] & 3) + 1)
    pos = 6
    for _ in range(ex[5] & 0x1F):
        got = _sized(ex, pos)
        if got is None:
            return fmt
        fmt.param_sets.append(got[0])
        pos = got[1]
    if pos < len(ex):
        n_pps = ex[pos]
        pos += 1
        for _ in range(n_pps):
            got = _sized(ex, pos)
            if got is None:
                break
            fmt.param_sets.append(got[0])
            pos = got[1]
    fmt.param_sets = [s for s in fmt.param_sets if s]
    return fmt


def _hvcc(ex: bytes) -> NalFormat:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    fmt = NalFormat("hevc", (ex[21] & 3) + 1)
    pos = 23
    for _ in range(ex[22]):
        if pos + 3 > len(ex):
            break
        count = int.from_bytes(ex[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            got = _sized(ex, pos)
            if got is None:
                break
            fmt.param_sets.append(got[0])
            pos = got[1]
    fmt.param_sets = [s for s in fmt.param_sets if s]
    return fmt


def nal_format(codec: str, extradata: bytes | None, first_key: bytes | None) -> NalFormat:
    """The stream's NAL format from its codec private data (``avcC``/``hvcC``, or Annex B), with the
    parameter sets taken from the first key frame when the record holds none."""
    ex = extradata or b""
    if codec == "h264" and len(ex) >= 7 and ex[0] == 1:
        return _avcc(ex)
    if codec == "hevc" and len(ex) >= 23 and ex[0] == 1:
        return _hvcc(ex)
    # Annex B in the packets: the parameter sets come from the first key frame (or Annex B extradata)
    fmt = NalFormat(codec, None)
    source = ex if ex[:3] in (b"\x00\x00\x01", b"\x00\x00\x00") else (first_key or b"")
    fmt.param_sets = [n for n in nal_units(source, None) if n and fmt.nal_type(n) in fmt.param_types]
    return fmt


def encoder_settings(*blobs: bytes) -> str:
    """The x264/x265 settings string of the first blob that carries one ("" when none does)."""
    for blob in blobs:
        m = _SETTINGS.search(blob)
        if m:
            return m.group(0).decode("latin-1", "replace")
    return ""


def settings_crf(settings: str) -> str | None:
    """The CRF of an x264/x265 settings string when the stream was encoded in CRF mode, else None."""
    m = re.search(r"\bcrf=([0-9.]+)", settings)
    rc = re.search(r"\brc=(\w+)", settings)
    return m.group(1) if m and (rc is None or rc.group(1) == "crf") else None
