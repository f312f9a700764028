"""Audio access for MP3: the prompt goes in as new frames; the original frames keep their bytes.

* Where: *start* = before the first audio frame (after the ID3v2 tag and the Xing/Info frame);
  *end* = after the last whole frame (before ID3v1/APE/Lyrics3 tags and a truncated last frame);
  *middle* = the frame boundary within ±1 s of the middle where the two neighbouring frames
  spend the fewest bits (a loudness proxy read from the side information, no decoding).
* The prompt's frames: silence frames built here (all-zero side information) around the
  prompt audio encoded by LAME (``lameenc``) at the file's sample rate, channel count and
  (average) bitrate.  LAME's encoder delay puts ~1105 samples of silence before the tones; the
  stream's gapless info (LAME tag delay/padding) still describes the original's start and end, so
  decoders trim a little of the prompt's silence instead; and the original frame right after an
  insertion loses the overlap with the frame before it (MDCT, synthesis filter bank) - a
  transition of under one frame (< 26 ms at 44.1 kHz).  The decoded duration grows by the
  prompt's length, ± one frame.
* Bit reservoir: an original frame may take the start of its main data from the frames before
  it (``main_data_begin``, up to 511 bytes).  The last silence frame of the prompt carries
  exactly those bytes (the ones the original frames before it held) at the end of its main
  data area - at a higher bitrate when they do not fit, because decoders (FFmpeg, mpg123) keep
  only the previous frame's leftover bytes - so the frame after the insertion decodes as it did.
* Xing/Info frame: the frame and byte counts are updated, the TOC is recomputed from the new
  frame positions, the LAME tag's music length updated, its music CRC updated by CRC arithmetic
  from the stored value (only the audio outside the longest untouched stretch is read) and its
  tag CRC recomputed (when it was right before).  A VBRI header is not updated (a note says so).
"""

from __future__ import annotations

import functools
import itertools
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._av_splice import AvAccess
from ._crc16 import crc16, crc_combine, crc_shift, crc_unshift
from ._mp3_frames import (L3_RATES, VERSION_NAMES, Hdr, Mp3Layout, id3v2_end, main_area, parse_header, roomy,
                          side_bits, silent_frame, walk_mp3)
from .media_audio import InsertRequest, Inserted, read_whole

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["Mp3Access", "splice_mp3"]

#: the middle position moves to the quietest frame boundary within this many seconds of the middle
MIDDLE_SEARCH_S = 1.0
_XING_FRAMES, _XING_BYTES, _XING_TOC, _XING_QUALITY = 1, 2, 4, 8
_LAME_DELAY = 576 + 529


class Mp3Access(AvAccess):
    """Windows decoded with PyAV; :meth:`insert` splices frames (:func:`splice_mp3`)."""

    demuxer = "mp3"

    def __init__(self, src: CountingReader, audio_offset: int = 0) -> None:
        self.start = audio_offset  # after the ID3v2 tags
        super().__init__(src, "mp3", "MP3")

    def insert(self, request: InsertRequest) -> Inserted:
        # the file, its spliced copy and the pieces joined: three times the file at most
        return splice_mp3(read_whole(self.src, "the MP3 file", copies=3), request)


def _lame_frames(pcm: np.ndarray, h: Hdr, bitrate: int) -> list[bytes]:
    """Encode mono float *pcm* at the frame's rate and channel count with LAME; the frames as bytes
    (cached: a pipeline marking many files of one kind encodes its prompt once)."""
    return list(_lame_cached(pcm.tobytes(), h.raw, bitrate))


@functools.lru_cache(maxsize=16)
def _lame_cached(pcm_bytes: bytes, raw: bytes, bitrate: int) -> tuple[bytes, ...]:
    import numpy as np

    h = parse_header(raw)
    assert h is not None
    pcm = np.frombuffer(pcm_bytes, dtype=np.float32)

    lameenc = _lameenc()
    enc = lameenc.Encoder()
    enc.set_bit_rate(int(bitrate))
    enc.set_in_sample_rate(h.rate)
    enc.set_out_sample_rate(h.rate)
    enc.set_channels(h.channels)
    enc.set_quality(2)
    ints = np.round(np.clip(pcm, -1, 1) * 32767).astype("<i2")
    if h.channels == 2:
        ints = np.repeat(ints, 2)
    stream = bytes(enc.encode(ints.tobytes())) + bytes(enc.flush())
    frames = []
    pos = 0
    while pos + 4 <= len(stream):
        fh = parse_header(stream[pos:pos + 4])
        if fh is None or pos + fh.size > len(stream):
            raise UnsupportedOperation("the LAME encoder produced an unexpected stream")
        if fh.key != h.key:
            raise UnsupportedOperation(f"LAME could not encode the prompt at {h.rate} Hz MPEG-"
                                       f"{VERSION_NAMES[h.version]}")
        frames.append(stream[pos:pos + fh.size])
        pos += fh.size
    # a Xing/Info frame of the prompt's own (lameenc writes none today): drop it, it would describe
    # only the prompt and confuse decoders in the middle of a stream
    if frames:
        f0 = parse_header(frames[0][:4])
        assert f0 is not None
        if frames[0][4 + f0.side:8 + f0.side] in (b"Xing", b"Info") or frames[0][36:40] == b"VBRI":
            frames = frames[1:]
    return tuple(frames)


_XING_FRAMES, _XING_BYTES, _XING_TOC, _XING_QUALITY = 1, 2, 4, 8
_LAME_DELAY = 576 + 529



def _lameenc() -> Any:
    try:
        import lameenc
    except ImportError:
        raise UnsupportedOperation("adding an audible label to MP3 needs lameenc "
                                   "(pip install 'aigclabel[audio]')") from None
    return lameenc


@dataclass
class _Build:
    """The output being assembled: original bytes copied in runs, prompt frames between them."""

    data: bytes
    layout: Mp3Layout
    out: list[bytes] = field(default_factory=list)
    cursor: int = 0  # bytes of *data* copied so far
    written: int = 0  # bytes of output so far
    new_offsets: list[int] = field(default_factory=list)  # every frame's offset in the output, in order
    frame_i: int = 0  # next original frame to copy
    prompt_ranges: list[tuple[int, int]] = field(default_factory=list)  # output ranges of the prompts

    def copy_until(self, upto: int) -> None:
        offs = self.layout.offsets
        end = offs[upto] if upto < len(offs) else self.layout.end
        self.new_offsets.extend(self.written + offs[j] - self.cursor for j in range(self.frame_i, upto))
        self.out.append(self.data[self.cursor:end])
        self.written += end - self.cursor
        self.cursor, self.frame_i = end, upto

    def add_frames(self, frames: list[bytes]) -> None:
        start = self.written
        for f in frames:
            self.new_offsets.append(self.written)
            self.out.append(f)
            self.written += len(f)
        self.prompt_ranges.append((start, self.written))


def _prompt_bitrate(hdrs: list[Hdr], first: int) -> int:
    """The file's bitrate (CBR) or its average (VBR), as a legal Layer III rate."""
    ref = hdrs[first]
    if len({h.bitrate for h in hdrs[first:]}) == 1:
        return ref.bitrate
    n_audio = len(hdrs) - first
    avg = sum(h.size for h in hdrs[first:]) * 8 * ref.rate / (n_audio * ref.spf) / 1000
    table = L3_RATES[3 if ref.version == 3 else 2][1:]
    return min(table, key=lambda r: abs(r - avg))


def splice_mp3(data: bytes, request: InsertRequest) -> Inserted:
    """The MP3 in *data* with the prompt inserted as frames (see the module docs)."""
    layout = walk_mp3(data, id3v2_end(data))
    offs, hdrs = layout.offsets, layout.headers
    first = layout.first_audio
    if len(offs) - first <= 0:
        raise CorruptFile("the MP3 has no audio frames after its Xing/VBRI header")
    ref = hdrs[first]
    bitrate = _prompt_bitrate(hdrs, first)
    pcm = request.prompt(ref.rate)
    # the prompt's own padding becomes silence frames (cheaper and reservoir-neutral); LAME gets the
    # audible part
    lead = int(round(request.lead_s * ref.rate))
    trail = int(round(request.trail_s * ref.rate))
    body = pcm[lead:len(pcm) - trail]
    silent_hdr = Hdr(ref.version, bitrate, ref.rate, 0, False, ref.mode, bytes([
        0xFF, ref.raw[1], (L3_RATES[3 if ref.version == 3 else 2].index(bitrate) << 4) | (ref.raw[2] & 0x0C),
        ref.raw[3]]))
    lame = _lame_frames(body, silent_hdr, bitrate)
    # LAME's encoder delay (576 + 529 samples) already puts silence before the tones: the silent
    # frames make up the rest, so the prompt lasts as long as the PCM prompt, to the nearest frame
    lead_frames = max(0, round((lead - _LAME_DELAY) / ref.spf))
    trail_frames = max(0, round(len(pcm) / ref.spf) - lead_frames - len(lame))
    spots: dict[int, str] = {}
    for position in request.positions:
        k = first if position == "start" else len(offs) if position == "end" else _mp3_middle(data, layout, first)
        spots.setdefault(k, position)
    build = _Build(data, layout)
    placed: list[dict[str, Any]] = []
    added_frames = 0
    for k in sorted(spots):
        build.copy_until(k)
        reservoir = _reservoir(data, layout, k, first)
        frames = [silent_frame(silent_hdr) for _ in range(lead_frames)] + lame
        frames += [silent_frame(silent_hdr) for _ in range(max(0, trail_frames - 1))]
        if reservoir or trail_frames:
            # the last frame before the original one carries its whole reservoir (decoders such as
            # FFmpeg and mpg123 keep only the previous frame's leftover bytes); a higher bitrate
            # gives it room when the reservoir is larger than a frame's main data area
            frames.append(silent_frame(roomy(silent_hdr, len(reservoir)), reservoir))
        at_frames = k - first + added_frames
        build.add_frames(frames)
        placed.append({"position": spots[k], "at_s": round(at_frames * ref.spf / ref.rate, 3),
                       "source_at_s": round((k - first) * ref.spf / ref.rate, 3),
                       "duration_s": round(len(frames) * ref.spf / ref.rate, 3), "mpeg_frames": len(frames),
                       "source_at_frame": (k - first) * ref.spf, "frames": len(frames) * ref.spf})
        added_frames += len(frames)
    build.copy_until(len(offs))
    build.out.append(data[build.cursor:])
    result = bytearray(b"".join(build.out))
    added_bytes = sum(b - a for a, b in build.prompt_ranges)
    notes: list[str] = []
    if layout.xing is not None:
        notes += _update_xing(result, data, layout, build.new_offsets, added_frames, added_bytes,
                              build.prompt_ranges, sorted(spots))
    elif layout.vbri:
        notes.append("the VBRI header was not updated (its frame count and seek table describe the file before "
                     "the prompt was inserted)")
    how = (f"{len(lame)} LAME-encoded MPEG frames between silent ones ({ref.rate} Hz, {bitrate} kbit/s, "
           f"{'mono' if ref.channels == 1 else 'stereo'}) per prompt; the original frames keep their bytes (no "
           "re-encoding); less than one frame of transition at each splice")
    return Inserted(bytes(result), placed, how, notes,
                    {"method": "spliced-frames", "sample_rate": ref.rate, "channels": ref.channels,
                     "bitrate_kbps": bitrate, "added_frames": added_frames, "added_bytes": added_bytes})


def _reservoir(data: bytes, layout: Mp3Layout, k: int, first: int) -> bytes:
    """The main-data bytes original frame *k* takes from the frames before it (its bit reservoir)."""
    if k >= len(layout.offsets):
        return b""
    mdb, _bits = side_bits(data, layout.offsets[k], layout.headers[k])
    if not mdb:
        return b""
    got = b""
    j = k - 1
    while len(got) < mdb and j >= first:
        got = main_area(data, layout.offsets[j], layout.headers[j]) + got
        j -= 1
    return got[-mdb:].rjust(mdb, b"\x00")


def _mp3_middle(data: bytes, layout: Mp3Layout, first: int) -> int:
    """The frame index to insert before, near the middle, where neighbouring frames spend few bits."""
    offs, hdrs = layout.offsets, layout.headers
    n = len(offs) - first
    mid = first + n // 2
    h = hdrs[mid]
    reach = min(int(MIDDLE_SEARCH_S * h.rate / h.spf), n // 10)
    if reach < 2:
        return mid
    lo, hi = max(first + 1, mid - reach), min(len(offs) - 1, mid + reach)
    bits = {j: side_bits(data, offs[j], hdrs[j])[1] for j in range(lo - 1, hi + 1)}
    return min(range(lo, hi + 1), key=lambda j: (bits[j - 1] + bits[j], abs(j - mid)))


def _update_xing(result: bytearray, data: bytes, layout: Mp3Layout, new_offsets: list[int], added_frames: int,
                 added_bytes: int, prompt_ranges: list[tuple[int, int]], cuts: list[int]) -> list[str]:
    """Bring the Xing/Info frame (and its LAME extension) in line with the new stream."""
    notes: list[str] = []
    h = layout.headers[0]
    base = layout.offsets[0]  # the bytes before the first frame are unchanged, so this holds in both
    x = base + 4 + h.side
    flags = struct.unpack(">I", result[x + 4:x + 8])[0]
    p = x + 8
    stream_bytes = layout.end - base + added_bytes  # Info frame .. end of the last frame
    if flags & _XING_FRAMES:
        frames = struct.unpack(">I", result[p:p + 4])[0]
        result[p:p + 4] = struct.pack(">I", frames + added_frames)
        p += 4
    if flags & _XING_BYTES:
        old = struct.unpack(">I", result[p:p + 4])[0]
        result[p:p + 4] = struct.pack(">I", old + added_bytes if old else 0)
        if old:
            stream_bytes = old + added_bytes
        p += 4
    if flags & _XING_TOC:
        audio_frames = new_offsets[1:]  # after the Info frame
        toc = bytearray(100)
        for i in range(100):
            j = min(len(audio_frames) - 1, i * len(audio_frames) // 100)
            toc[i] = min(255, 256 * (audio_frames[j] - base) // max(1, stream_bytes))
        result[p:p + 100] = toc
        p += 100
    if flags & _XING_QUALITY:
        p += 4
    # LAME extension: 9-byte encoder version, ..., music length (+28), music CRC (+32), tag CRC (+34)
    lame = p
    tag_crc_at = lame + 34
    if tag_crc_at + 2 > base + h.size or not _printable(result[lame:lame + 4]):
        return notes
    tag_was_valid = crc16(data[base:tag_crc_at]) == struct.unpack(">H", data[tag_crc_at:tag_crc_at + 2])[0]
    music_len = struct.unpack(">I", result[lame + 28:lame + 32])[0]
    if music_len:
        result[lame + 28:lame + 32] = struct.pack(">I", music_len + added_bytes)
    # music CRC (over the audio frames after the Info frame), updated by CRC arithmetic from the
    # stored value: with S0..Sm the original audio split at the insertion points, only the pieces
    # other than the longest are read; the longest one's CRC follows from the stored total.
    music_start = layout.offsets[1]
    edges = [music_start] + [layout.offsets[k] if k < len(layout.offsets) else layout.end for k in cuts] + [layout.end]
    lengths = [b - a for a, b in itertools.pairwise(edges)]
    longest = max(range(len(lengths)), key=lambda i: lengths[i])
    after = [sum(lengths[i + 1:]) for i in range(len(lengths))]
    crcs: list[int] = [0] * len(lengths)
    rest = struct.unpack(">H", data[lame + 32:lame + 34])[0]
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        if i != longest:
            crcs[i] = crc16(data[a:b])
            rest ^= crc_shift(crcs[i], after[i])
    crcs[longest] = crc_unshift(rest, after[longest])
    new_crc = 0
    for i, (c, n) in enumerate(zip(crcs, lengths, strict=True)):
        new_crc = crc_combine(new_crc, c, n)
        if i < len(prompt_ranges):
            a, b = prompt_ranges[i]
            new_crc = crc_combine(new_crc, crc16(bytes(result[a:b])), b - a)
    result[lame + 32:lame + 34] = struct.pack(">H", new_crc)
    if tag_was_valid:
        result[tag_crc_at:tag_crc_at + 2] = struct.pack(">H", crc16(bytes(result[base:tag_crc_at])))
    else:
        notes.append("the LAME tag's own CRC did not match before the insertion; it was left as it was")
    return notes


def _printable(b: bytes | bytearray) -> bool:
    return all(0x20 <= c <= 0x7E for c in b)


