"""MPEG audio Layer III bitstream facts: frame headers, the frame walk, side information, silent frames.

Used by the MP3 audio access (:mod:`._mp3_splice`) to splice prompt frames into a stream without
re-encoding the original frames.  Free-format and reserved header values are rejected; junk
between frames is skipped the way decoders resynchronise.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from ..errors import CorruptFile, UnsupportedOperation

__all__ = ["L3_RATES", "Hdr", "parse_header", "trailing_tags", "Mp3Layout", "id3v2_end", "walk_mp3", "side_bits",
           "main_area", "silent_frame", "silent_area", "roomy", "VERSION_NAMES", "frame_facts"]

VERSION_NAMES = {3: "1", 2: "2", 0: "2.5"}

L3_RATES = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_SR = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class Hdr:
    """A parsed Layer III frame header (immutable; parsed once per distinct 4 bytes)."""

    __slots__ = ("version", "bitrate", "rate", "padding", "protected", "mode", "raw", "lsf", "channels", "spf",
                 "size", "side", "main_offset", "key")

    def __init__(self, version: int, bitrate: int, rate: int, padding: int, protected: bool, mode: int,
                 raw: bytes) -> None:
        self.version = version  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
        self.bitrate = bitrate  # kbit/s
        self.rate = rate
        self.padding = padding
        self.protected = protected  # a CRC-16 follows the header
        self.mode = mode  # 0 stereo, 1 joint stereo, 2 dual channel, 3 mono
        self.raw = raw
        self.lsf = version != 3
        self.channels = 1 if mode == 3 else 2
        self.spf = 576 if self.lsf else 1152
        self.size = (72000 if self.lsf else 144000) * bitrate // rate + padding
        self.side = (9 if mode == 3 else 17) if self.lsf else (17 if mode == 3 else 32)
        self.main_offset = 4 + (2 if protected else 0) + self.side
        self.key = (version, rate)


@functools.lru_cache(maxsize=256)
def _hdr_cached(b: bytes) -> Hdr | None:
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return None
    version = (b[1] >> 3) & 3
    if version == 1 or ((b[1] >> 1) & 3) != 1:
        return None
    bri, sri = b[2] >> 4, (b[2] >> 2) & 3
    if bri in (0, 15) or sri == 3:
        return None
    return Hdr(version, L3_RATES[3 if version == 3 else 2][bri], _SR[version][sri], (b[2] >> 1) & 1,
                not (b[1] & 1), b[3] >> 6, bytes(b[:4]))


def parse_header(b: bytes) -> Hdr | None:
    """A Layer III frame header (free format and reserved values rejected)."""
    return _hdr_cached(bytes(b[:4]))


def trailing_tags(data: bytes, start: int) -> int:
    """Where the trailing tags (ID3v1, Lyrics3v2, APEv2) begin; ``len(data)`` when there are none."""
    end = len(data)
    for _ in range(3):
        if end - 128 >= start and data[end - 128:end - 125] == b"TAG":
            end -= 128
            continue
        if end - 15 >= start and data[end - 9:end] == b"LYRICS200":
            try:
                size = int(data[end - 15:end - 9])
            except ValueError:
                break
            if end - 15 - size >= start:
                end -= 15 + size
                continue
        if end - 32 >= start and data[end - 32:end - 24] == b"APETAGEX":
            size = struct.unpack("<I", data[end - 20:end - 16])[0]
            flags = struct.unpack("<I", data[end - 12:end - 8])[0]
            total = size + (32 if flags & 0x80000000 else 0)
            if end - total >= start:
                end -= total
                continue
        break
    return end


@dataclass
class Mp3Layout:
    """Where an MP3's audio frames are: their offsets and headers, and the Xing/VBRI frame if any."""
    audio: int  # offset of the first frame
    offsets: list[int]
    headers: list[Hdr]
    end: int  # end of the last whole frame
    xing: int | None = None  # index of the Xing/Info frame (0) when present
    vbri: bool = False

    @property
    def first_audio(self) -> int:
        return 1 if self.xing is not None or self.vbri else 0


def id3v2_end(data: bytes) -> int:
    """Where the audio starts: after the ID3v2 tag(s) at the head (a few taggers stack them)."""
    pos = 0
    for _ in range(8):
        head = data[pos:pos + 10]
        if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (2, 3, 4) or any(c & 0x80 for c in head[6:10]):
            break
        size = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]) + (10 if head[5] & 0x10 else 0)
        if pos + size > len(data):
            raise CorruptFile(f"truncated: the ID3v2 tag at offset {pos} runs past the end of the file")
        pos += size
    return pos


def _chain(data: bytes, pos: int, limit: int, count: int = 3) -> bool:
    """True when *count* consistent frames follow each other from *pos* (or run exactly to *limit*)."""
    first = None
    for _ in range(count):
        if pos == limit and first is not None:
            return True
        h = parse_header(data[pos:pos + 4])
        if h is None or pos + h.size > limit or (first is not None and h.key != first.key):
            return False
        first = first or h
        pos += h.size
    return True


def walk_mp3(data: bytes, audio: int) -> Mp3Layout:
    """Every whole Layer III frame between the ID3v2 tag and the trailing tags (junk between frames is
    skipped the way decoders resynchronise: at the next point where three frames follow each other)."""
    limit = trailing_tags(data, audio)
    offsets: list[int] = []
    headers: list[Hdr] = []
    pos = audio
    ref: tuple[int, int] | None = None
    cache: dict[int, Hdr | None] = {}
    unpack = struct.unpack_from
    while pos + 4 <= limit:
        word = unpack(">I", data, pos)[0]
        if word in cache:
            h = cache[word]
        else:
            h = cache[word] = parse_header(word.to_bytes(4, "big"))
        if h is not None and ref is not None and h.key == ref and pos + h.size <= limit:  # the common case
            offsets.append(pos)
            headers.append(h)
            pos += h.size
            continue
        ok = h is not None and pos + h.size <= limit and (h.key == ref if ref else _chain(data, pos, limit))
        if not ok:
            probe = pos + 1
            found = -1
            while True:
                probe = data.find(b"\xff", probe, limit - 3)
                if probe < 0 or _chain(data, probe, limit):
                    found = probe
                    break
                probe += 1
            if found < 0:
                break
            pos = found
            continue
        assert h is not None
        ref = ref or h.key
        offsets.append(pos)
        headers.append(h)
        pos += h.size
    if not offsets:
        raise CorruptFile("no MPEG audio Layer III frames found in the MP3")
    layout = Mp3Layout(offsets[0], offsets, headers, offsets[-1] + headers[-1].size)
    h0 = headers[0]
    first = data[offsets[0]:offsets[0] + h0.size]
    if first[4 + h0.side:8 + h0.side] in (b"Xing", b"Info"):
        layout.xing = 0
    elif first[36:40] == b"VBRI":
        layout.vbri = True
    return layout


def side_bits(data: bytes, off: int, h: Hdr) -> tuple[int, int]:
    """(main_data_begin, total part2_3_length in bits) from a frame's side information."""
    s = off + 4 + (2 if h.protected else 0)
    side = int.from_bytes(data[s:s + h.side], "big")
    nbits = 8 * h.side
    if h.lsf:
        mdb = side >> (nbits - 8)
        first = 8 + (1 if h.channels == 1 else 2)
        per, granules = 63, 1
    else:
        mdb = side >> (nbits - 9)
        first = 9 + (5 if h.channels == 1 else 3) + 4 * h.channels
        per, granules = 59, 2
    total = 0
    for i in range(granules * h.channels):
        at = first + i * per
        total += (side >> (nbits - at - 12)) & 0xFFF
    return mdb, total


def main_area(data: bytes, off: int, h: Hdr) -> bytes:
    return data[off + h.main_offset:off + h.size]


def silent_frame(h: Hdr, fill: bytes = b"") -> bytes:
    """A frame that decodes to silence (all-zero side information: no main data), unprotected, no
    padding, same version/bitrate/rate/mode as *h*; *fill* goes at the end of its main data area."""
    b1 = h.raw[1] | 0x01  # protection bit set = no CRC
    b2 = h.raw[2] & ~0x03 & 0xFF  # no padding, private bit 0
    b3 = h.raw[3] & 0xC0 | (h.raw[3] & 0x0F)  # mode kept, mode extension 0
    hdr = bytes([0xFF, b1, b2, b3])
    size = (72000 if h.lsf else 144000) * h.bitrate // h.rate
    area = size - 4 - h.side
    if len(fill) > area:
        raise UnsupportedOperation(f"an MP3 frame cannot hold a bit reservoir of {len(fill)} bytes")
    return hdr + bytes(h.side) + bytes(area - len(fill)) + fill


def silent_area(h: Hdr) -> int:
    return (72000 if h.lsf else 144000) * h.bitrate // h.rate - 4 - h.side


def roomy(h: Hdr, need: int) -> Hdr:
    """*h*, or the same header at the lowest higher bitrate whose main data area holds *need* bytes."""
    table = L3_RATES[3 if h.version == 3 else 2]
    for index in range(table.index(h.bitrate), len(table)):
        raw = bytes([h.raw[0], h.raw[1], (index << 4) | (h.raw[2] & 0x0F), h.raw[3]])
        candidate = Hdr(h.version, table[index], h.rate, 0, False, h.mode, raw)
        if silent_area(candidate) >= need:
            return candidate
    raise UnsupportedOperation(f"an MP3 frame cannot hold a bit reservoir of {need} bytes")


# ----------------------------------------------------------- facts for the metadata reader (Layer II/III)

#: MPEG audio: version bits -> name, and sample rates (Hz) by version name and index
_FACT_VERSIONS = VERSION_NAMES
_FACT_RATES = {VERSION_NAMES[v]: rates for v, rates in _SR.items()}


def frame_facts(b: bytes) -> dict | None:
    """Facts from a 4-byte MPEG audio Layer II/III frame header; ``None`` when it is not one.

    Layer I is left out on purpose: ``FF FE`` (a UTF-16 byte order mark) parses as a Layer I header.
    """
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return None
    version = _FACT_VERSIONS.get((b[1] >> 3) & 3)
    layer = {1: 3, 2: 2}.get((b[1] >> 1) & 3)  # 01 = Layer III, 10 = Layer II
    bitrate_index, rate_index = b[2] >> 4, (b[2] >> 2) & 3
    if version is None or layer is None or bitrate_index == 0xF or rate_index == 3:
        return None
    return {"mpeg_version": version, "layer": layer, "sample_rate": _FACT_RATES[version][rate_index],
            "channels": 1 if (b[3] >> 6) == 3 else 2}
