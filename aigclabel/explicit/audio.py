"""The audible label: a rhythm prompt (Morse "AI", ·− ··) and/or a voice prompt inserted into the audio.

GB 45438-2025 asks audio for a voice prompt with an AI element and a generation element, or the
rhythm prompt "short long short short", at the start, the end and/or a suitable middle position.
The prompt is *inserted* (the content after it moves later), never mixed over the content.

Options (``ExplicitOptions.extra``, filled from ``--prompt`` / ``--audio-position`` and the profile's
``explicit.audio`` options):

* ``prompt``: ``"rhythm"`` (default: short and language-neutral), ``"voice"`` or ``"both"``;
* ``positions``: a list of ``"start"`` (default), ``"end"``, ``"middle"``;
* rhythm: ``rhythm_frequency`` (800 Hz), ``rhythm_unit_ms`` (80), ``rhythm_level_db`` (-6 dBFS),
  ``rhythm_fade_ms`` (5), ``rhythm_pad_units`` (3) - see :mod:`.morse`;
* voice: ``voice_level_db`` (-3 dBFS peak), ``voice_pad_ms`` (250 ms of silence around the clip).

The prompt matches the file: it is synthesised (tone) or resampled (voice clip, windowed-sinc) at
the file's sample rate and copied to every channel.  Per format:

* **WAV, AIFF/AIFF-C** (integer or float PCM): the sample data is spliced by hand; every original
  sample byte is kept, bit-exact, on both sides of the prompt; every other chunk is kept in order
  (``fact`` and ``COMM`` frame counts are updated; cue points and markers are *not* moved - a note
  says so when the file has them).
* **FLAC**: decoded and re-encoded losslessly with PyAV (bit-exact samples, same bit depth); every
  metadata block but STREAMINFO and SEEKTABLE (stale after the insertion; dropped) is kept.
* **MP3**: the prompt is encoded as MP3 frames with LAME (``lameenc``) at the file's sample rate,
  bitrate and channel count and spliced in at frame boundaries; the original frames keep their
  bytes.  See :func:`mark_mp3` for the bit reservoir, the Xing/LAME header and the ~1 frame gap.
* **Ogg Vorbis, Opus, M4A**: decoded, the prompt inserted, re-encoded at the original's bitrate with
  PyAV (libopus, FFmpeg's AAC; Vorbis with the ``ffmpeg`` program's libvorbis, because PyAV's wheels
  lack it, else FFmpeg's experimental native encoder); the result notes say the audio was re-encoded.
  Apple Lossless (ALAC) in M4A is re-encoded as ALAC in its own sample format: bit-exact.

numpy, lameenc and PyAV are imported inside the functions (``pip install 'aigclabel[audio]'``).
"""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import CorruptFile, LabelError, UnsupportedOperation
from . import ExplicitOptions, ExplicitResult
from .morse import RhythmSpec, rhythm_samples

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["AudioMarker", "PromptPlan", "prompt_samples", "voice_clip", "resample", "PROMPTS", "AUDIO_POSITIONS",
           "VOICE_CLIP", "VOICE_TEXT", "INSTALL_HINT", "mark_pcm_wav", "mark_aiff", "mark_flac", "mark_mp3",
           "mark_reencode", "crc16"]

PROMPTS = ("rhythm", "voice", "both")
AUDIO_POSITIONS = ("start", "end", "middle")
INSTALL_HINT = "pip install 'aigclabel[audio]'"
VOICE_CLIP = Path(__file__).with_name("prompts") / "voice-cmn-rengongzhineng-shengcheng.wav"
VOICE_TEXT = "人工智能生成"
DEFAULT_VOICE_LEVEL_DB = -3.0
DEFAULT_VOICE_PAD_MS = 250.0
#: the middle position moves to the quietest point within this many seconds of the middle
MIDDLE_SEARCH_S = 1.0


def _need(module: str):
    """Import an optional dependency or raise :class:`UnsupportedOperation` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnsupportedOperation(f"adding an audible label needs {module.split('.')[0]} "
                                   f"({INSTALL_HINT})") from None


# ------------------------------------------------------------------------------------------ the prompt


@dataclass(frozen=True)
class PromptPlan:
    kind: str = "rhythm"
    positions: tuple[str, ...] = ("start",)
    rhythm: RhythmSpec = field(default_factory=RhythmSpec)
    voice_level_db: float = DEFAULT_VOICE_LEVEL_DB
    voice_pad_ms: float = DEFAULT_VOICE_PAD_MS

    @classmethod
    def from_options(cls, extra: dict[str, Any]) -> PromptPlan:
        """The plan from marking options; a bad value is a :class:`LabelError` (a usage error, exit 2)."""
        kind = extra.get("prompt") or "rhythm"
        if kind not in PROMPTS:
            raise LabelError(f"audio prompt must be one of {', '.join(PROMPTS)}, not {kind!r}")
        positions = extra.get("positions") or extra.get("audio_positions") or ("start",)
        if isinstance(positions, str):
            positions = (positions,)
        bad = [p for p in positions if p not in AUDIO_POSITIONS]
        if bad:
            raise LabelError(f"audio prompt position must be {', '.join(AUDIO_POSITIONS)}, not {bad[0]!r}")
        # keep the order of first mention, drop repeats
        positions = tuple(dict.fromkeys(positions))
        try:
            rhythm = RhythmSpec.from_options(extra)
        except ValueError as exc:
            raise LabelError(str(exc)) from None
        level = float(extra.get("voice_level_db", DEFAULT_VOICE_LEVEL_DB))
        pad = float(extra.get("voice_pad_ms", DEFAULT_VOICE_PAD_MS))
        if not -40.0 <= level <= 0.0 or not 0.0 <= pad <= 2000.0:
            raise LabelError("voice prompt level must be -40 to 0 dBFS and its padding 0-2000 ms")
        return cls(kind, positions, rhythm, level, pad)

    def describe(self) -> str:
        parts = []
        if self.kind in ("rhythm", "both"):
            parts.append(self.rhythm.describe())
        if self.kind in ("voice", "both"):
            parts.append(f"voice prompt {VOICE_TEXT!r} ({VOICE_CLIP.name})")
        return " + ".join(parts)


def resample(x: np.ndarray, src_rate: int, dst_rate: int, *, half_taps: int = 16) -> np.ndarray:
    """Resample mono float *x* with a Hann-windowed sinc (low-pass at the lower Nyquist frequency)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if src_rate == dst_rate:
        return x.astype(np.float32)
    ratio = dst_rate / src_rate
    cutoff = min(1.0, ratio) * 0.97  # a little below Nyquist: the window's transition band
    half = int(math.ceil(half_taps / min(1.0, ratio)))
    n_out = int(round(len(x) * ratio))
    k = np.arange(-half + 1, half + 1)
    out = np.empty(n_out, dtype=np.float64)
    block = 8192
    for s in range(0, n_out, block):
        t = np.arange(s, min(n_out, s + block)) / ratio
        idx = np.floor(t).astype(np.int64)[:, None] + k[None, :]
        d = t[:, None] - idx
        w = cutoff * np.sinc(cutoff * d) * (0.5 + 0.5 * np.cos(np.pi * np.clip(d / half, -1, 1)))
        valid = (idx >= 0) & (idx < len(x))
        out[s:s + len(t)] = (np.where(valid, x[np.clip(idx, 0, len(x) - 1)], 0.0) * w).sum(axis=1)
    return out.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _clip_at(rate: int) -> Any:
    import numpy as np

    with wave.open(str(VOICE_CLIP), "rb") as w:
        clip_rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    out = resample(pcm, clip_rate, rate)
    out.setflags(write=False)
    return out


def voice_clip(rate: int, level_db: float | None = DEFAULT_VOICE_LEVEL_DB) -> np.ndarray:
    """The shipped voice clip at *rate* Hz, mono float32, peak at *level_db* dBFS (None: as shipped)."""
    import numpy as np

    clip = np.array(_clip_at(rate), dtype=np.float32)
    if level_db is not None and clip.size:
        clip *= np.float32(10 ** (level_db / 20) / max(1e-9, float(np.abs(clip).max())))
    return clip


def prompt_samples(plan: PromptPlan, rate: int) -> np.ndarray:
    """The whole prompt (silence around it included), mono float32 at *rate* Hz."""
    import numpy as np

    parts = []
    if plan.kind in ("rhythm", "both"):
        parts.append(rhythm_samples(rate, plan.rhythm))
    if plan.kind in ("voice", "both"):
        pad = np.zeros(int(round(plan.voice_pad_ms / 1000 * rate)), dtype=np.float32)
        if plan.kind == "voice":
            parts.append(pad)
        parts += [voice_clip(rate, plan.voice_level_db), pad]
    return np.concatenate(parts).astype(np.float32)


# ------------------------------------------------------------------------------------------- marker


#: formats the marker handles (handler names); the marker needs numpy, plus lameenc for MP3 and PyAV
#: for FLAC, Ogg, Opus and M4A - when missing, :meth:`AudioMarker.apply` says what to install
SUPPORTED = ("wav", "aiff", "flac", "mp3", "ogg", "opus", "m4a", "mp4", "aac")


class AudioMarker:
    """Explicit marker for audio: inserts the prompt where the options say (see the module docs)."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in SUPPORTED

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        plan = PromptPlan.from_options(options.extra or {})
        _need("numpy")
        src.seek(0)
        data = src.read()
        if len(data) != src.size:
            raise CorruptFile("the file could not be read completely")
        name = handler.name
        if name == "wav":
            result = mark_pcm_wav(data, plan)
        elif name == "aiff":
            result = mark_aiff(data, plan)
        elif name == "flac":
            result = mark_flac(data, plan)
        elif name == "mp3":
            result = mark_mp3(data, plan)
        elif name in ("ogg", "opus", "m4a", "mp4", "aac"):
            result = mark_reencode(data, plan, name)
        else:
            raise UnsupportedOperation(f"adding an audible label to {name.upper()} is not supported yet")
        result.details.setdefault("prompt", plan.kind)
        result.details.setdefault("positions", list(plan.positions))
        if plan.kind in ("rhythm", "both"):
            r = plan.rhythm
            result.details.setdefault("rhythm", {"frequency_hz": r.frequency, "unit_ms": r.unit_ms,
                                                 "level_db": r.level_db, "tone_s": round(r.tone_seconds, 3)})
        if plan.kind in ("voice", "both"):
            result.details.setdefault("voice", {"text": VOICE_TEXT, "clip": VOICE_CLIP.name,
                                                "level_db": plan.voice_level_db})
        return result


def _where(position: str, at_s: float, length_s: float) -> str:
    return f"{position} ({at_s:.2f} s, {length_s:.2f} s long)"


def _insert_note(plan: PromptPlan, placed: list[dict[str, Any]], how: str) -> str:
    spots = ", ".join(_where(p["position"], p["at_s"], p["duration_s"]) for p in placed)
    return f"audible label added: {plan.describe()}, inserted at the {spots}; {how}"


# ------------------------------------------------------------------------------------------ PCM codecs


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


def quiet_point(read: Callable[[int, int], np.ndarray], frames: int, rate: int,
                search_s: float = MIDDLE_SEARCH_S) -> int:
    """A frame index near the middle where the audio is quietest: the start of the quietest 10 ms
    block within *search_s* of the middle, moved to its smallest sample.  *read(start, count)*
    returns mono samples; only the searched region is read."""
    import numpy as np

    mid = frames // 2
    reach = int(min(search_s * rate, frames * 0.1))
    if reach < rate // 100 * 2:
        return mid
    start = mid - reach
    x = read(start, 2 * reach)
    blk = max(1, rate // 100)
    nb = len(x) // blk
    if nb == 0:
        return mid
    energy = (x[:nb * blk].reshape(nb, blk) ** 2).mean(axis=1)
    # prefer the block nearest the middle among (almost) equally quiet ones
    dist = np.abs(np.arange(nb) * blk + blk // 2 - reach) / max(1, reach)
    best = int(np.argmin(energy * (1 + 0.05 * dist) + 1e-12 * dist))
    seg = x[best * blk:(best + 1) * blk]
    return start + best * blk + int(np.argmin(np.abs(seg)))


def _insertion_frames(plan: PromptPlan, frames: int, rate: int,
                      read: Callable[[int, int], np.ndarray]) -> list[tuple[str, int]]:
    spots: dict[int, str] = {}
    for pos in plan.positions:
        at = 0 if pos == "start" else frames if pos == "end" else quiet_point(read, frames, rate)
        spots.setdefault(at, pos)
    return sorted(((p, at) for at, p in spots.items()), key=lambda item: item[1])


def _splice(raw: bytes, block: int, spots: list[tuple[str, int]], prompt: bytes, rate: int,
            ) -> tuple[bytes, list[dict[str, Any]]]:
    """Original sample bytes with *prompt* inserted before each frame index in *spots*."""
    out = []
    placed = []
    last = 0
    shift = 0
    plen = len(prompt) // block
    for position, at in spots:
        out.append(raw[last * block:at * block])
        out.append(prompt)
        placed.append({"position": position, "at_s": round((at + shift) / rate, 3),
                       "source_at_s": round(at / rate, 3), "duration_s": round(plen / rate, 3),
                       "source_at_frame": at, "frames": plen})
        shift += plen
        last = at
    out.append(raw[last * block:])
    return b"".join(out), placed


# ----------------------------------------------------------------------------------------------- WAV

_WAV_PCM, _WAV_FLOAT, _WAV_EXT = 1, 3, 0xFFFE


def _riff_chunks(data: bytes, start: int, end: int, big_endian: bool, what: str) -> list[tuple[bytes, int, int]]:
    """(id, header offset, size) of each chunk; a lying size is :class:`CorruptFile`."""
    fmt = ">4sI" if big_endian else "<4sI"
    out = []
    pos = start
    while end - pos >= 8:
        cid, size = struct.unpack(fmt, data[pos:pos + 8])
        if not all(0x20 <= b <= 0x7E for b in cid):
            raise CorruptFile(f"corrupt {what}: no valid chunk id at offset {pos}")
        if pos + 8 + size > end:
            raise CorruptFile(f"truncated: {what} chunk {cid.decode('latin-1')!r} at offset {pos} claims {size} "
                              "bytes, more than the file holds")
        out.append((cid, pos, size))
        pos += 8 + size + (size & 1)
    return out


def wav_format(fmt: bytes) -> PcmFormat:
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
    raise UnsupportedOperation(f"adding an audible label to WAV with format tag 0x{tag:04X} ({bits} bits) is not "
                               "supported: only integer PCM (8-32 bit) and float PCM")


def mark_pcm_wav(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """WAV: splice the prompt into the ``data`` chunk; every other chunk kept as it was."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        if data[:4] in (b"RF64", b"BW64"):
            raise UnsupportedOperation("adding an audible label to RF64/BW64 WAV (over 4 GB) is not supported yet")
        raise CorruptFile("not a WAVE file (bad RIFF header)")
    riff_end = min(8 + struct.unpack("<I", data[4:8])[0], len(data))
    chunks = _riff_chunks(data, 12, riff_end, False, "WAVE")
    fmt = next((c for c in chunks if c[0] == b"fmt "), None)
    dat = next((c for c in chunks if c[0] == b"data"), None)
    if fmt is None or dat is None:
        raise CorruptFile("corrupt WAVE file: no fmt or no data chunk")
    pcm = wav_format(data[fmt[1] + 8:fmt[1] + 8 + fmt[2]])
    raw = data[dat[1] + 8:dat[1] + 8 + dat[2]]
    frames = len(raw) // pcm.block
    tail = raw[frames * pcm.block:]  # a partial frame at the end stays at the end
    raw = raw[:frames * pcm.block]
    prompt = pcm.encode(prompt_samples(plan, pcm.rate))

    def read(start: int, count: int):
        return pcm.decode_mono(raw[start * pcm.block:(start + count) * pcm.block])

    spots = _insertion_frames(plan, frames, pcm.rate, read)
    new_raw, placed = _splice(raw, pcm.block, spots, prompt, pcm.rate)
    new_raw += tail
    added = (len(new_raw) - len(raw) - len(tail)) // pcm.block
    notes = []
    body = []
    for cid, off, size in chunks:
        if cid == b"data" and off == dat[1]:
            body.append(b"data" + struct.pack("<I", len(new_raw)) + new_raw + (b"\x00" if len(new_raw) & 1 else b""))
            continue
        chunk = data[off:off + 8 + size] + (b"\x00" if size & 1 else b"")
        if cid == b"fact" and size >= 4:
            (count,) = struct.unpack("<I", chunk[8:12])
            chunk = chunk[:8] + struct.pack("<I", min(0xFFFFFFFF, count + added)) + chunk[12:]
        elif cid in (b"cue ", b"smpl", b"bext", b"LIST") and cid != b"LIST" or (
                cid == b"LIST" and data[off + 8:off + 12] == b"adtl"):
            notes.append(f"the {cid.decode('latin-1').strip()!r} chunk's sample positions were not moved by the "
                         "inserted prompt")
        body.append(chunk)
    riff = b"".join(body)
    if 4 + len(riff) > 0xFFFFFFFF:
        raise UnsupportedOperation("the WAV with the prompt would pass the 4 GB RIFF limit")
    out = b"RIFF" + struct.pack("<I", 4 + len(riff)) + b"WAVE" + riff + data[riff_end:]
    how = (f"original samples kept bit-exact around it ({pcm.channels} ch, {pcm.rate} Hz, "
           f"{'float' if pcm.floating else 'integer'} {pcm.bits}-bit)")
    return ExplicitResult(out, [_insert_note(plan, placed, how)] + notes,
                          {"method": "spliced", "inserted": placed, "sample_rate": pcm.rate,
                           "channels": pcm.channels, "added_frames": added})


# ---------------------------------------------------------------------------------------------- AIFF


def _extended(raw: bytes) -> float:
    exponent = int.from_bytes(raw[:2], "big") & 0x7FFF
    mantissa = int.from_bytes(raw[2:10], "big")
    if exponent == 0 and mantissa == 0:
        return 0.0
    return math.ldexp(mantissa, exponent - 16383 - 63)


_AIFC_TYPES = {b"NONE": (False, True), b"twos": (False, True), b"sowt": (False, False),
               b"fl32": (True, True), b"FL32": (True, True), b"fl64": (True, True), b"FL64": (True, True)}


def mark_aiff(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """AIFF/AIFF-C: splice the prompt into ``SSND``; ``COMM``'s frame count updated; all else kept."""
    if len(data) < 12 or data[:4] != b"FORM" or data[8:12] not in (b"AIFF", b"AIFC"):
        raise CorruptFile("not an AIFF file (bad FORM header)")
    form_end = min(8 + struct.unpack(">I", data[4:8])[0], len(data))
    chunks = _riff_chunks(data, 12, form_end, True, "AIFF")
    comm = next((c for c in chunks if c[0] == b"COMM"), None)
    ssnd = next((c for c in chunks if c[0] == b"SSND"), None)
    if comm is None:
        raise CorruptFile("corrupt AIFF file: no COMM chunk")
    cbody = data[comm[1] + 8:comm[1] + 8 + comm[2]]
    if len(cbody) < 18:
        raise CorruptFile("corrupt AIFF file: short COMM chunk")
    channels, nframes, bits = struct.unpack(">hIh", cbody[:8])
    rate = _extended(cbody[8:18])
    ctype = cbody[18:22] if data[8:12] == b"AIFC" and len(cbody) >= 22 else b"NONE"
    if ctype not in _AIFC_TYPES:
        raise UnsupportedOperation(f"adding an audible label to compressed AIFF-C ({ctype.decode('latin-1')!r}) "
                                   "is not supported")
    floating, big = _AIFC_TYPES[ctype]
    if channels < 1 or not (1 <= bits <= 64) or rate < 1 or rate != int(rate):
        raise CorruptFile(f"corrupt AIFF COMM chunk ({channels} channels, {bits} bits, {rate} Hz)")
    width = (bits + 7) // 8 if not floating else (8 if ctype.lower() == b"fl64" else 4)
    if width not in (1, 2, 3, 4, 8) or (not floating and width == 8):
        raise UnsupportedOperation(f"adding an audible label to {bits}-bit AIFF is not supported")
    pcm = PcmFormat(channels, int(rate), width, bits if not floating else 8 * width, floating=floating,
                    big_endian=big)
    if ssnd is None:
        raise UnsupportedOperation("this AIFF has no sound data chunk to put the prompt in")
    soff, ssize = ssnd[1], ssnd[2]
    offset = struct.unpack(">I", data[soff + 8:soff + 12])[0]
    start = soff + 16 + offset
    have = min(nframes, (soff + 8 + ssize - start) // pcm.block)
    raw = data[start:start + have * pcm.block]
    rest = data[start + have * pcm.block:soff + 8 + ssize]
    prompt = pcm.encode(prompt_samples(plan, pcm.rate))

    def read(s: int, count: int):
        return pcm.decode_mono(raw[s * pcm.block:(s + count) * pcm.block])

    spots = _insertion_frames(plan, have, pcm.rate, read)
    new_raw, placed = _splice(raw, pcm.block, spots, prompt, pcm.rate)
    added = (len(new_raw) - len(raw)) // pcm.block
    notes = []
    body = []
    for cid, off, size in chunks:
        if off == soff:
            payload = data[soff + 8:start] + new_raw + rest
            body.append(b"SSND" + struct.pack(">I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b""))
            continue
        chunk = data[off:off + 8 + size] + (b"\x00" if size & 1 else b"")
        if off == comm[1]:
            chunk = chunk[:10] + struct.pack(">I", nframes + added) + chunk[14:]
        elif cid in (b"MARK", b"INST"):
            notes.append(f"the {cid.decode('latin-1')!r} chunk's positions were not moved by the inserted prompt")
        body.append(chunk)
    form = b"".join(body)
    if 4 + len(form) > 0xFFFFFFFF:
        raise UnsupportedOperation("the AIFF with the prompt would pass the 4 GB FORM limit")
    out = b"FORM" + struct.pack(">I", 4 + len(form)) + data[8:12] + form + data[form_end:]
    how = f"original samples kept bit-exact around it ({channels} ch, {pcm.rate} Hz, {ctype.decode()} {bits}-bit)"
    return ExplicitResult(out, [_insert_note(plan, placed, how)] + notes,
                          {"method": "spliced", "inserted": placed, "sample_rate": pcm.rate, "channels": channels,
                           "added_frames": added})


# ---------------------------------------------------------------------------------------------- FLAC


def _flac_blocks(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    if data[:4] != b"fLaC":
        raise CorruptFile("not a FLAC file (bad signature)")
    pos, blocks = 4, []
    while True:
        if pos + 4 > len(data):
            raise CorruptFile("truncated: the FLAC file ends inside the metadata")
        head = data[pos]
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 4 + length > len(data):
            raise CorruptFile(f"truncated: FLAC metadata block at offset {pos} runs past the end of the file")
        blocks.append((head & 0x7F, data[pos + 4:pos + 4 + length]))
        pos += 4 + length
        if head & 0x80:
            return blocks, pos


def _decode_all(data: bytes, what: str) -> tuple[Any, Any, Any]:
    """Decode the first audio stream with PyAV: (container, stream, list of ndarray frames)."""
    av = _need("av")
    try:
        container = av.open(io.BytesIO(data))
    except av.FFmpegError as exc:
        raise CorruptFile(f"the {what} audio could not be decoded ({exc})") from None
    if not container.streams.audio:
        raise CorruptFile(f"no audio stream in the {what} file")
    return av, container, container.streams.audio[0]


def mark_flac(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """FLAC: decode, insert, re-encode losslessly (same bit depth); metadata blocks kept."""
    import numpy as np

    blocks, _audio = _flac_blocks(data)
    info = blocks[0][1]
    if blocks[0][0] != 0 or len(info) != 34:
        raise CorruptFile("corrupt FLAC file: the first metadata block is not a STREAMINFO block")
    (packed,) = struct.unpack(">Q", info[10:18])
    rate, channels, bits = packed >> 44, ((packed >> 41) & 7) + 1, ((packed >> 36) & 31) + 1
    if bits not in (16, 24):
        raise UnsupportedOperation(f"adding an audible label to {bits}-bit FLAC is not supported (16 and 24 bit "
                                   "are; the encoder cannot keep other depths bit-exact)")
    av, container, stream = _decode_all(data, "FLAC")
    try:
        chunks = [f.to_ndarray() for f in container.decode(stream)]
        fmt = stream.codec_context.format.name
        layout = stream.codec_context.layout.name
    except av.FFmpegError as exc:
        raise CorruptFile(f"the FLAC audio could not be decoded ({exc})") from None
    finally:
        container.close()
    if fmt not in ("s16", "s32"):
        raise UnsupportedOperation(f"unexpected FLAC decode format {fmt}")
    dtype = np.int16 if fmt == "s16" else np.int32
    samples = (np.concatenate([c.reshape(-1) for c in chunks]) if chunks else np.zeros(0, dtype)).astype(dtype)
    samples = samples.reshape(-1, channels)
    frames = len(samples)
    shift = 16 if fmt == "s32" and bits == 16 else (8 if fmt == "s32" else 0)
    full = float(1 << 31) if fmt == "s32" else 32768.0
    pcm_prompt = prompt_samples(plan, rate)
    scale = float((1 << (bits - 1)) - 1)
    p_int = (np.round(np.clip(pcm_prompt, -1, 1) * scale).astype(np.int64) << shift).astype(dtype)
    p_frames = np.repeat(p_int[:, None], channels, axis=1)

    def read(s: int, count: int):
        return samples[s:s + count].astype(np.float64).mean(axis=1) / full

    spots = _insertion_frames(plan, frames, rate, read)
    pieces, placed, last, moved = [], [], 0, 0
    for position, at in spots:
        pieces += [samples[last:at], p_frames]
        placed.append({"position": position, "at_s": round((at + moved) / rate, 3), "source_at_s": round(at / rate, 3),
                       "duration_s": round(len(p_frames) / rate, 3), "source_at_frame": at, "frames": len(p_frames)})
        moved += len(p_frames)
        last = at
    pieces.append(samples[last:])
    new = np.ascontiguousarray(np.concatenate(pieces))
    out = io.BytesIO()
    oc = av.open(out, "w", format="flac")
    ostream = oc.add_stream("flac", rate=rate, layout=layout)
    ostream.codec_context.format = fmt
    step = 1 << 16
    for s in range(0, len(new), step):
        frame = av.AudioFrame.from_ndarray(new[s:s + step].reshape(1, -1), format=fmt, layout=layout)
        frame.sample_rate = rate
        for packet in ostream.encode(frame):
            oc.mux(packet)
    for packet in ostream.encode(None):
        oc.mux(packet)
    oc.close()
    encoded = out.getvalue()
    new_blocks, new_audio = _flac_blocks(encoded)
    new_info = new_blocks[0][1]
    new_bits = ((struct.unpack(">Q", new_info[10:18])[0] >> 36) & 31) + 1
    if new_bits != bits:
        raise UnsupportedOperation(f"the FLAC encoder wrote {new_bits}-bit samples for a {bits}-bit file")
    kept = [(0, new_info)]
    notes = []
    for btype, body in blocks[1:]:
        if btype == 3:
            notes.append("the SEEKTABLE block was dropped (its offsets are stale after the insertion)")
            continue
        if btype == 5:
            notes.append("the CUESHEET block's track offsets were not moved by the inserted prompt")
        kept.append((btype, body))
    meta = b"".join(bytes([t | (0x80 if i == len(kept) - 1 else 0)]) + len(b).to_bytes(3, "big") + b
                    for i, (t, b) in enumerate(kept))
    result = b"fLaC" + meta + encoded[new_audio:]
    how = (f"FLAC re-encoded losslessly with PyAV: original samples bit-exact ({channels} ch, {rate} Hz, "
           f"{bits}-bit)")
    return ExplicitResult(result, [_insert_note(plan, placed, how)] + notes,
                          {"method": "re-encoded losslessly", "inserted": placed, "sample_rate": rate,
                           "channels": channels, "added_frames": len(new) - frames})


# ----------------------------------------------------------------------------------------------- CRC-16


def _crc_table() -> list[int]:
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_T = _crc_table()


def _apply(m: list[int], v: int) -> int:
    """Apply a linear map on 16-bit values, given as the images of the 16 basis bits."""
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= m[i]
        v >>= 1
        i += 1
    return out


def _compose(a: list[int], b: list[int]) -> list[int]:
    """The linear map a∘b on the 16-bit CRC state."""
    return [_apply(a, b[i]) for i in range(16)]


def _powers(one: list[int]) -> list[list[int]]:
    out = [one]
    for _ in range(40):
        out.append(_compose(out[-1], out[-1]))
    return out


@functools.lru_cache(maxsize=1)
def _zero_shifts() -> tuple[list[list[int]], list[list[int]]]:
    """Maps feeding 2**k zero bytes into the CRC register (k = 0..40), and their inverses."""
    import numpy as np

    one = [(1 << i >> 8) ^ _CRC_T[(1 << i) & 0xFF] for i in range(16)]
    values = np.arange(1 << 16, dtype=np.int64)
    image = np.zeros(1 << 16, dtype=np.int64)
    for i in range(16):
        image ^= np.where((values >> i) & 1 == 1, one[i], 0)
    inverse = np.empty(1 << 16, dtype=np.int64)
    inverse[image] = values  # the map is a bijection (the CRC polynomial has a constant term)
    return _powers(one), _powers([int(inverse[1 << i]) for i in range(16)])


def _shift_by(crc: int, n: int, maps: list[list[int]]) -> int:
    k = 0
    while n and crc:
        if n & 1:
            crc = _apply(maps[k], crc)
        n >>= 1
        k += 1
    return crc


def crc_shift(crc: int, n: int) -> int:
    """The CRC register after *n* more zero bytes (CRC-16/ARC is linear: crc(A+B) = shift(crc(A), |B|) ^ crc(B))."""
    return _shift_by(crc, n, _zero_shifts()[0])


def crc_unshift(crc: int, n: int) -> int:
    """The inverse of :func:`crc_shift`."""
    return _shift_by(crc, n, _zero_shifts()[1])


def crc_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    return crc_shift(crc_a, len_b) ^ crc_b


@functools.lru_cache(maxsize=1)
def _pair_table() -> Any:
    """CRC of every 2-byte message, indexed by the little-endian 16-bit word of its bytes."""
    import numpy as np

    table = np.array(_CRC_T, dtype=np.uint16)
    words = np.arange(1 << 16, dtype=np.uint32)
    first = table[words & 0xFF]
    shifted = (first >> 8) ^ table[first & 0xFF]  # the first byte's CRC after one more (zero) byte
    return (shifted ^ table[words >> 8]).astype(np.uint16)


_CRC_CHUNK = 1 << 20


@functools.lru_cache(maxsize=1)
def _level_tables() -> list[tuple[Any, Any]]:
    """For k = 1..20: look-up tables (low byte, high byte) of the map "append 2**k zero bytes"."""
    import numpy as np

    shifts = _zero_shifts()[0]
    basis = np.arange(256, dtype=np.int64)
    tables = []
    for k in range(1, 21):
        m = shifts[k]
        lo = np.zeros(256, dtype=np.uint16)
        hi = np.zeros(256, dtype=np.uint16)
        for bit in range(8):
            sel = ((basis >> bit) & 1) == 1
            lo[sel] ^= np.uint16(m[bit])
            hi[sel] ^= np.uint16(m[bit + 8])
        tables.append((lo, hi))
    return tables


def crc16(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0), as LAME and FFmpeg use in the LAME tag.

    Vectorised with numpy by the CRC's linearity: the CRC of every byte pair from a table, then
    neighbouring blocks combined pairwise in log2(n) rounds (one table look-up per block per round),
    1 MiB at a time.
    """
    import numpy as np

    if len(data) < 256:
        c = 0
        for b in data:
            c = (c >> 8) ^ _CRC_T[(c ^ b) & 0xFF]
        return c
    pairs = _pair_table()
    level_tables = _level_tables()
    crc = 0
    view = memoryview(data)
    for start in range(0, len(data), _CRC_CHUNK):
        piece = view[start:start + _CRC_CHUNK]
        buf = np.zeros(_CRC_CHUNK, dtype=np.uint8)
        buf[_CRC_CHUNK - len(piece):] = np.frombuffer(piece, np.uint8)  # leading zeros: no effect
        c = pairs[buf.view("<u2")]
        for lo, hi in level_tables:
            if len(c) == 1:
                break
            left, right = c[0::2], c[1::2]
            c = lo[left & 0xFF] ^ hi[left >> 8] ^ right
        crc = crc_combine(crc, int(c[0]), len(piece))
    return crc


# ----------------------------------------------------------------------------------------------- MP3

_L3_RATES = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_SR = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class _Hdr:
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
def _hdr_cached(b: bytes) -> _Hdr | None:
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return None
    version = (b[1] >> 3) & 3
    if version == 1 or ((b[1] >> 1) & 3) != 1:
        return None
    bri, sri = b[2] >> 4, (b[2] >> 2) & 3
    if bri in (0, 15) or sri == 3:
        return None
    return _Hdr(version, _L3_RATES[3 if version == 3 else 2][bri], _SR[version][sri], (b[2] >> 1) & 1,
                not (b[1] & 1), b[3] >> 6, bytes(b[:4]))


def _hdr(b: bytes) -> _Hdr | None:
    """A Layer III frame header (free format and reserved values rejected)."""
    return _hdr_cached(bytes(b[:4]))


def _trailing_tags(data: bytes, start: int) -> int:
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
class _Mp3Layout:
    audio: int  # offset of the first frame
    offsets: list[int]
    headers: list[_Hdr]
    end: int  # end of the last whole frame
    xing: int | None = None  # index of the Xing/Info frame (0) when present
    vbri: bool = False

    @property
    def first_audio(self) -> int:
        return 1 if self.xing is not None or self.vbri else 0


def _id3v2_end(data: bytes) -> int:
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
        h = _hdr(data[pos:pos + 4])
        if h is None or pos + h.size > limit or (first is not None and h.key != first.key):
            return False
        first = first or h
        pos += h.size
    return True


def _walk_mp3(data: bytes, audio: int) -> _Mp3Layout:
    """Every whole Layer III frame between the ID3v2 tag and the trailing tags (junk between frames is
    skipped the way decoders resynchronise: at the next point where three frames follow each other)."""
    limit = _trailing_tags(data, audio)
    offsets: list[int] = []
    headers: list[_Hdr] = []
    pos = audio
    ref: tuple[int, int] | None = None
    cache: dict[int, _Hdr | None] = {}
    unpack = struct.unpack_from
    while pos + 4 <= limit:
        word = unpack(">I", data, pos)[0]
        if word in cache:
            h = cache[word]
        else:
            h = cache[word] = _hdr(word.to_bytes(4, "big"))
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
    layout = _Mp3Layout(offsets[0], offsets, headers, offsets[-1] + headers[-1].size)
    h0 = headers[0]
    first = data[offsets[0]:offsets[0] + h0.size]
    if first[4 + h0.side:8 + h0.side] in (b"Xing", b"Info"):
        layout.xing = 0
    elif first[36:40] == b"VBRI":
        layout.vbri = True
    return layout


def _side_bits(data: bytes, off: int, h: _Hdr) -> tuple[int, int]:
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


def _main_area(data: bytes, off: int, h: _Hdr) -> bytes:
    return data[off + h.main_offset:off + h.size]


def _silent_frame(h: _Hdr, fill: bytes = b"") -> bytes:
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


def _silent_area(h: _Hdr) -> int:
    return (72000 if h.lsf else 144000) * h.bitrate // h.rate - 4 - h.side


def _roomy(h: _Hdr, need: int) -> _Hdr:
    """*h*, or the same header at the lowest higher bitrate whose main data area holds *need* bytes."""
    table = _L3_RATES[3 if h.version == 3 else 2]
    for index in range(table.index(h.bitrate), len(table)):
        raw = bytes([h.raw[0], h.raw[1], (index << 4) | (h.raw[2] & 0x0F), h.raw[3]])
        candidate = _Hdr(h.version, table[index], h.rate, 0, False, h.mode, raw)
        if _silent_area(candidate) >= need:
            return candidate
    raise UnsupportedOperation(f"an MP3 frame cannot hold a bit reservoir of {need} bytes")


def _lame_frames(pcm: np.ndarray, h: _Hdr, bitrate: int) -> list[bytes]:
    """Encode mono float *pcm* at the frame's rate and channel count with LAME; the frames as bytes
    (cached: a pipeline marking many files of one kind encodes its prompt once)."""
    return list(_lame_cached(pcm.tobytes(), h.raw, bitrate))


@functools.lru_cache(maxsize=16)
def _lame_cached(pcm_bytes: bytes, raw: bytes, bitrate: int) -> tuple[bytes, ...]:
    import numpy as np

    h = _hdr(raw)
    assert h is not None
    pcm = np.frombuffer(pcm_bytes, dtype=np.float32)

    lameenc = _need("lameenc")
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
        fh = _hdr(stream[pos:pos + 4])
        if fh is None or pos + fh.size > len(stream):
            raise UnsupportedOperation("the LAME encoder produced an unexpected stream")
        if fh.key != h.key:
            raise UnsupportedOperation(f"LAME could not encode the prompt at {h.rate} Hz MPEG-"
                                       f"{ {3: '1', 2: '2', 0: '2.5'}[h.version] }")
        frames.append(stream[pos:pos + fh.size])
        pos += fh.size
    # a Xing/Info frame of the prompt's own (lameenc writes none today): drop it, it would describe
    # only the prompt and confuse decoders in the middle of a stream
    if frames:
        f0 = _hdr(frames[0][:4])
        assert f0 is not None
        if frames[0][4 + f0.side:8 + f0.side] in (b"Xing", b"Info") or frames[0][36:40] == b"VBRI":
            frames = frames[1:]
    return tuple(frames)


_XING_FRAMES, _XING_BYTES, _XING_TOC, _XING_QUALITY = 1, 2, 4, 8
_LAME_DELAY = 576 + 529


def mark_mp3(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """MP3: insert the prompt as new frames; the original frames keep their bytes.

    * Where: *start* = before the first audio frame (after the ID3v2 tag and the Xing/Info frame);
      *end* = after the last whole frame (before ID3v1/APE/Lyrics3 tags and a truncated last frame);
      *middle* = the frame boundary within ±1 s of the middle where the two neighbouring frames
      spend the fewest bits (a loudness proxy read from the side information, no decoding).
    * The prompt's frames: silence frames built here (all-zero side information) around the
      prompt audio encoded by LAME at the file's sample rate, channel count and (average) bitrate.
      LAME's encoder delay puts ~1105 samples of silence before the tones; the stream's gapless
      info (LAME tag delay/padding) still describes the original's start and end, so decoders trim
      a little of the prompt's silence instead; and the original frame right after an insertion
      loses the overlap with the frame before it (MDCT, synthesis filter bank) - a transition of
      under one frame (< 26 ms at 44.1 kHz). The decoded duration grows by the prompt's length,
      ± one frame.
    * Bit reservoir: an original frame may take the start of its main data from the frames before
      it (``main_data_begin``, up to 511 bytes). The last silence frame of the prompt carries
      exactly those bytes (the ones the original frames before it held) at the end of its main
      data area - at a higher bitrate when they do not fit, because decoders (FFmpeg, mpg123) keep
      only the previous frame's leftover bytes - so the frame after the insertion decodes as it did.
    * Xing/Info frame: the frame and byte counts are updated, the TOC is recomputed from the new
      frame positions, the LAME tag's music length updated, its music CRC updated by CRC arithmetic
      from the stored value (only the audio outside the longest untouched stretch is read) and its
      tag CRC recomputed (when it was right before). A VBRI header is not updated (a note says so).
    """
    layout = _walk_mp3(data, _id3v2_end(data))
    offs, hdrs = layout.offsets, layout.headers
    first = layout.first_audio
    n_audio = len(offs) - first
    if n_audio <= 0:
        raise CorruptFile("the MP3 has no audio frames after its Xing/VBRI header")
    ref = hdrs[first]
    # bitrate for the prompt frames: the file's (CBR) or its average (VBR), as a legal Layer III rate
    if len({h.bitrate for h in hdrs[first:]}) == 1:
        bitrate = ref.bitrate
    else:
        avg = sum(h.size for h in hdrs[first:]) * 8 * ref.rate / (n_audio * ref.spf) / 1000
        table = _L3_RATES[3 if ref.version == 3 else 2][1:]
        bitrate = min(table, key=lambda r: abs(r - avg))
    pcm = prompt_samples(plan, ref.rate)
    # the prompt's own padding becomes silence frames (cheaper and reservoir-neutral); LAME gets the
    # audible part
    rhythm_pad = int(round(plan.rhythm.pad_units * plan.rhythm.unit_ms / 1000 * ref.rate))
    voice_pad = int(round(plan.voice_pad_ms / 1000 * ref.rate))
    lead = rhythm_pad if plan.kind in ("rhythm", "both") else voice_pad
    trail = rhythm_pad if plan.kind == "rhythm" else voice_pad
    body = pcm[lead:len(pcm) - trail]
    silent_hdr = _Hdr(ref.version, bitrate, ref.rate, 0, False, ref.mode, bytes([
        0xFF, ref.raw[1], (_L3_RATES[3 if ref.version == 3 else 2].index(bitrate) << 4) | (ref.raw[2] & 0x0C),
        ref.raw[3]]))
    lame = _lame_frames(body, silent_hdr, bitrate)
    # LAME's encoder delay (576 + 529 samples) already puts silence before the tones: the silent
    # frames make up the rest, so the prompt lasts as long as the PCM prompt, to the nearest frame
    lead_frames = max(0, round((lead - _LAME_DELAY) / ref.spf))
    trail_frames = max(0, round(len(pcm) / ref.spf) - lead_frames - len(lame))

    # --- where
    spots: dict[int, str] = {}
    for position in plan.positions:
        if position == "start":
            k = first
        elif position == "end":
            k = len(offs)
        else:
            k = _mp3_middle(data, layout, first)
        spots.setdefault(k, position)

    # --- build: original bytes copied in runs, prompt frames between them
    out: list[bytes] = []
    cursor = 0  # bytes of *data* copied so far
    written = 0  # bytes of output so far
    new_offsets: list[int] = []  # every frame's offset in the output, in order
    frame_i = 0  # next original frame to copy
    placed: list[dict[str, Any]] = []
    prompt_ranges: list[tuple[int, int]] = []  # output byte ranges of the inserted prompts
    added_frames = 0

    def copy_until(upto: int) -> None:
        nonlocal cursor, written, frame_i
        end = offs[upto] if upto < len(offs) else layout.end
        new_offsets.extend(written + offs[j] - cursor for j in range(frame_i, upto))
        out.append(data[cursor:end])
        written += end - cursor
        cursor, frame_i = end, upto

    for k in sorted(spots):
        copy_until(k)
        reservoir = _reservoir(data, layout, k, first)
        frames = [_silent_frame(silent_hdr) for _ in range(lead_frames)] + lame
        frames += [_silent_frame(silent_hdr) for _ in range(max(0, trail_frames - 1))]
        if reservoir or trail_frames:
            # the last frame before the original one carries its whole reservoir (decoders such as
            # FFmpeg and mpg123 keep only the previous frame's leftover bytes); a higher bitrate
            # gives it room when the reservoir is larger than a frame's main data area
            frames.append(_silent_frame(_roomy(silent_hdr, len(reservoir)), reservoir))
        at_frames = k - first + added_frames
        start = written
        for f in frames:
            new_offsets.append(written)
            out.append(f)
            written += len(f)
        prompt_ranges.append((start, written))
        placed.append({"position": spots[k], "at_s": round(at_frames * ref.spf / ref.rate, 3),
                       "source_at_s": round((k - first) * ref.spf / ref.rate, 3),
                       "duration_s": round(len(frames) * ref.spf / ref.rate, 3), "mpeg_frames": len(frames),
                       "source_at_frame": (k - first) * ref.spf, "frames": len(frames) * ref.spf})
        added_frames += len(frames)
    copy_until(len(offs))
    out.append(data[cursor:])
    result = bytearray(b"".join(out))
    added_bytes = sum(b - a for a, b in prompt_ranges)
    notes: list[str] = []
    if layout.xing is not None:
        notes += _update_xing(result, data, layout, new_offsets, added_frames, added_bytes, prompt_ranges,
                              sorted(spots))
    elif layout.vbri:
        notes.append("the VBRI header was not updated (its frame count and seek table describe the file before "
                      "the prompt was inserted)")
    how = (f"{len(lame)} LAME-encoded MPEG frames between silent ones ({ref.rate} Hz, {bitrate} kbit/s, "
           f"{'mono' if ref.channels == 1 else 'stereo'}) per prompt; the original frames keep their bytes (no "
           "re-encoding); less than one frame of transition at each splice")
    return ExplicitResult(bytes(result), [_insert_note(plan, placed, how)] + notes,
                          {"method": "spliced-frames", "inserted": placed, "sample_rate": ref.rate,
                           "channels": ref.channels, "bitrate_kbps": bitrate, "added_frames": added_frames,
                           "added_bytes": added_bytes})


def _reservoir(data: bytes, layout: _Mp3Layout, k: int, first: int) -> bytes:
    """The main-data bytes original frame *k* takes from the frames before it (its bit reservoir)."""
    if k >= len(layout.offsets):
        return b""
    mdb, _bits = _side_bits(data, layout.offsets[k], layout.headers[k])
    if not mdb:
        return b""
    got = b""
    j = k - 1
    while len(got) < mdb and j >= first:
        got = _main_area(data, layout.offsets[j], layout.headers[j]) + got
        j -= 1
    return got[-mdb:].rjust(mdb, b"\x00")


def _mp3_middle(data: bytes, layout: _Mp3Layout, first: int) -> int:
    """The frame index to insert before, near the middle, where neighbouring frames spend few bits."""
    offs, hdrs = layout.offsets, layout.headers
    n = len(offs) - first
    mid = first + n // 2
    h = hdrs[mid]
    reach = min(int(MIDDLE_SEARCH_S * h.rate / h.spf), n // 10)
    if reach < 2:
        return mid
    lo, hi = max(first + 1, mid - reach), min(len(offs) - 1, mid + reach)
    bits = {j: _side_bits(data, offs[j], hdrs[j])[1] for j in range(lo - 1, hi + 1)}
    return min(range(lo, hi + 1), key=lambda j: (bits[j - 1] + bits[j], abs(j - mid)))


def _update_xing(result: bytearray, data: bytes, layout: _Mp3Layout, new_offsets: list[int], added_frames: int,
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
    lengths = [b - a for a, b in zip(edges, edges[1:])]
    longest = max(range(len(lengths)), key=lambda i: lengths[i])
    after = [sum(lengths[i + 1:]) for i in range(len(lengths))]
    crcs: list[int] = [0] * len(lengths)
    rest = struct.unpack(">H", data[lame + 32:lame + 34])[0]
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        if i != longest:
            crcs[i] = crc16(data[a:b])
            rest ^= crc_shift(crcs[i], after[i])
    crcs[longest] = crc_unshift(rest, after[longest])
    new_crc = 0
    for i, (c, n) in enumerate(zip(crcs, lengths)):
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


# ------------------------------------------------------------------------------------ re-encoded formats

_REENCODE = {
    "ogg": ("ogg", "libvorbis", "Vorbis"),
    "opus": ("ogg", "libopus", "Opus"),
    "m4a": ("ipod", "aac", "AAC"),
    "mp4": ("ipod", "aac", "AAC"),
    "aac": ("ipod", "aac", "AAC"),
}


def mark_reencode(data: bytes, plan: PromptPlan, name: str) -> ExplicitResult:
    """Ogg Vorbis, Opus, M4A: decode, insert the prompt, re-encode at the original's bitrate (PyAV).

    The stream's tags are carried over (Ogg: the whole Vorbis comment through mutagen, pictures
    included; M4A: the container metadata FFmpeg reads, cover art not); M4A is written with
    ``moov`` before ``mdat``; the notes say the audio was re-encoded.
    """
    import numpy as np

    if name not in _REENCODE:
        raise UnsupportedOperation(f"adding an audible label to {name.upper()} is not supported yet")
    muxer, codec, label = _REENCODE[name]
    av, container, stream = _decode_all(data, label)
    try:
        cc = stream.codec_context
        rate, layout = cc.sample_rate, cc.layout.name
        channels = len(cc.layout.channels)
        bitrate = int(stream.bit_rate or cc.bit_rate or 0)
        source_codec, source_format = cc.name, cc.format.name
        tags = dict(container.metadata)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except av.FFmpegError as exc:
        raise CorruptFile(f"the {label} audio could not be decoded ({exc})") from None
    finally:
        container.close()
    x = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    frames = x.shape[1]
    seconds = frames / rate if rate else 0.0
    if not bitrate and seconds > 0:
        bitrate = int(len(data) * 8 / seconds)  # container overhead included: a slight overestimate
    bitrate = max(24000 if codec != "libopus" else 12000, min(bitrate or 128000, 320000 if codec != "libopus"
                                                                 else 256000))
    lossless = muxer == "ipod" and source_codec == "alac"
    sample_format = None
    if lossless:  # Apple Lossless stays lossless: same sample format, every original sample bit-exact
        codec, label, bitrate, sample_format = "alac", "ALAC", 0, source_format
    mono = prompt_samples(plan, rate)
    spots = _insertion_frames(plan, frames, rate, lambda s, n: x[:, s:s + n].mean(axis=0).astype(np.float64))
    pieces, placed, last, moved = [], [], 0, 0
    for position, at in spots:
        pieces += [x[:, last:at], np.repeat(mono[None, :], channels, axis=0)]
        placed.append({"position": position, "at_s": round((at + moved) / rate, 3), "source_at_s": round(at / rate, 3),
                       "duration_s": round(len(mono) / rate, 3), "source_at_frame": at, "frames": len(mono)})
        moved += len(mono)
        last = at
    pieces.append(x[:, last:])
    y = np.ascontiguousarray(np.concatenate(pieces, axis=1), dtype=np.float32)
    notes = []
    encoder = f"PyAV/FFmpeg {codec}"
    if codec == "libvorbis" and codec not in av.codecs_available:
        # PyAV's wheels ship FFmpeg without libvorbis: use Debian's ffmpeg, else FFmpeg's own
        # (experimental) Vorbis encoder
        encoded = _encode_cli(y, rate, channels, codec, bitrate)
        if encoded is not None:
            encoder = "ffmpeg (command line) libvorbis"
        else:
            codec = "vorbis"
            encoder = ("PyAV/FFmpeg native vorbis (an experimental encoder: install ffmpeg with libvorbis for "
                       "better quality)")
    if encoder.startswith("PyAV"):
        try:
            encoded = _encode(av, y, rate, layout, muxer, codec, bitrate, tags if muxer != "ogg" else {},
                              sample_format)
        except av.FFmpegError:
            if lossless:
                raise
            encoded = _encode(av, y, rate, layout, muxer, codec, None, tags if muxer != "ogg" else {})
            notes.append(f"the encoder refused {bitrate // 1000} kbit/s; its default quality was used")
            bitrate = 0
    if muxer == "ogg":
        encoded = _copy_vorbis_comment(data, encoded, name)
    if lossless:
        how = (f"audio was re-encoded losslessly (ALAC with {encoder}, {source_format}; {channels} ch, {rate} Hz): "
               "the original samples are kept bit-exact")
    else:
        how = (f"audio was re-encoded ({label} with {encoder}, "
               f"{f'{bitrate // 1000} kbit/s, matched to the original' if bitrate else 'default quality'}; "
               f"{channels} ch, {rate} Hz): a lossy generation, the original samples are not kept")
    return ExplicitResult(encoded, [_insert_note(plan, placed, how), "audio was re-encoded"] + notes,
                          {"method": "re-encoded", "codec": codec, "bitrate": bitrate, "inserted": placed,
                           "sample_rate": rate, "channels": channels, "added_frames": y.shape[1] - frames})


def _encode(av: Any, y: Any, rate: int, layout: str, muxer: str, codec: str, bitrate: int | None,
            tags: dict[str, str], sample_format: str | None = None) -> bytes:
    """Encode planar float *y*; MP4 is written with ``moov`` first (``faststart``: the metadata the
    record joins stays in the file header), which needs a real file for FFmpeg's second pass."""
    if muxer == "ipod":
        import os
        import tempfile

        with tempfile.TemporaryDirectory(prefix="aigclabel-") as tmp:
            path = os.path.join(tmp, "prompt.m4a")
            oc = av.open(path, "w", format=muxer, options={"movflags": "+faststart"})
            _encode_into(av, oc, y, rate, layout, codec, bitrate, tags, sample_format)
            with open(path, "rb") as fh:
                return fh.read()
    out = io.BytesIO()
    _encode_into(av, av.open(out, "w", format=muxer), y, rate, layout, codec, bitrate, tags)
    return out.getvalue()


def _encode_into(av: Any, oc: Any, y: Any, rate: int, layout: str, codec: str, bitrate: int | None,
                 tags: dict[str, str], sample_format: str | None = None) -> None:
    try:
        for key, value in tags.items():
            oc.metadata[key] = value
        ostream = oc.add_stream(codec, rate=rate, layout=layout)
        if sample_format:
            ostream.codec_context.format = sample_format
        if codec == "vorbis":
            ostream.codec_context.options = {"strict": "experimental"}
        if bitrate:
            ostream.bit_rate = bitrate
        step = 8192
        for s in range(0, y.shape[1], step):
            frame = av.AudioFrame.from_ndarray(y[:, s:s + step], format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = s
            for packet in ostream.encode(frame):
                oc.mux(packet)
        for packet in ostream.encode(None):
            oc.mux(packet)
    finally:
        oc.close()


def _encode_cli(y: Any, rate: int, channels: int, codec: str, bitrate: int) -> bytes | None:
    """Encode planar float *y* with the ``ffmpeg`` program (Ogg output); None when it is not there."""
    import shutil
    import subprocess

    import numpy as np

    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    pcm = np.ascontiguousarray(y.T, dtype="<f4").tobytes()
    cmd = [exe, "-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0",
           "-c:a", codec, "-b:a", str(bitrate), "-f", "ogg", "pipe:1"]
    try:
        done = subprocess.run(cmd, input=pcm, capture_output=True, check=False, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout:
        return None
    return done.stdout


def _copy_vorbis_comment(original: bytes, encoded: bytes, name: str) -> bytes:
    """Give the re-encoded Ogg stream the original's Vorbis comment (every field, pictures included)."""
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    from ..formats._audio_meta import mutagen_errors

    cls = OggOpus if name == "opus" else OggVorbis
    with mutagen_errors(f"Ogg {name} stream"):
        old = cls(io.BytesIO(original))
        buf = io.BytesIO(encoded)
        new = cls(buf)
        new.tags.clear()
        new.tags.extend(list(old.tags or []))
        buf.seek(0)
        new.save(buf)
    return buf.getvalue()
