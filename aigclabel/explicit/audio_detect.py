"""Finding audible labels: the rhythm prompt (Morse "AI", ·− ··) and aigclabel's own voice clip.

**Rhythm prompt** (:func:`find_rhythm`): the standard fixes no frequency or unit length, so the
detector works by *relative* durations, for any tone 300-3000 Hz and any unit 40-200 ms:

1. A short-time spectrum (16 ms Hann window, 4 ms hop).  For every frequency, the energy in a
   ±100 Hz band around it, and that band's share of the frame's total energy.
2. Candidate tone frequencies: bins that are the dominant band (share > 50 %) in enough frames.
3. For each candidate, the band's envelope is cut into tone segments where the band holds more
   than half of the frame's energy and is within 6 dB of the local tone level (edges at -6 dB,
   which makes the measured lengths unbiased against the window's smearing).
4. Every run of four consecutive tones is tested against the pattern
   dot, gap, dash, letter gap, dot, gap, dot = 1, 1, 3, 3, 1, 1, 1 units, with the unit taken as
   the pattern's whole span / 11: dots 0.5-1.7 units, dash 2.2-4.2 units and 2-4.5 dots long,
   gaps inside a letter 0.4-1.8 units, the letter gap 1.8-4.5 units (``require_letter_gap``;
   without it ·−·· = Morse "L" would also pass).  The gaps must be real (the band drops 8 dB
   below the tones), the four tones equally loud (±6 dB), and no other tone as loud (-6 dB, half a
   unit or longer) in the band for 1.5 units before and after, so a prompt is not read out of a
   longer beep sequence.

Music at -10 dB under the tones, noise, MP3/Vorbis/Opus/AAC coding and any level leave those
relations intact; plain music, speech, sweeps, noise bursts and random beeps do not meet all of
them at once (see ``tests/test_audio_prompts.py``).

**Voice prompt** (:func:`find_voice`): the shipped clip (:data:`aigclabel.explicit.audio.VOICE_CLIP`)
is recognised by correlating log-spectrogram fingerprints (20 bands 150-3800 Hz, 32 ms / 10 ms),
over the clip's voiced frames only, with a Pearson threshold (0.7).  Speech with other wording
would need speech recognition: :func:`speech_segments` only says where speech-*like* audio is
(syllable-rate modulation with deep dips, not a single tone), so a verifier can report it as *not
checked* instead of failing or passing it.

**Reading as little as possible** (:func:`detect_access`): only the first and last ``window_s``
seconds and ``window_s`` around the middle are decoded, through the format handler's audio access
(``handler.audio_access(src)``: WAV/AIFF by reading exactly those sample bytes, other formats with
PyAV seeking, decoded to 8 kHz), within the resource budget (:mod:`aigclabel.limits`).

numpy (and PyAV for compressed formats) are imported inside the functions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from .. import limits
from ..formats.media_audio import AudioAccess, DecoderMissing
from .morse import FREQUENCY_RANGE, SYMBOLS, UNIT_RANGE_MS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["RhythmHit", "VoiceHit", "Detection", "DecoderMissing", "find_rhythm", "find_voice", "speech_segments",
           "detect", "detect_access", "analyse", "DETECT_RATE", "decode_all", "to_detect_rate"]

#: compressed audio is decoded to this rate for detection (tones up to 3 kHz, the voice band to 3.8 kHz)
DETECT_RATE = 8000
_WIN_S, _HOP_S = 0.016, 0.004
_BAND_HZ = 100.0
_DOMINANT = 0.5
_FLOOR_DB = -50.0  # tones below a -50 dBFS sine are not looked at
_CHUNK_S = 40.0  # longest stretch analysed in one go (memory); chunks overlap by _OVERLAP_S
_OVERLAP_S = 4.0


@dataclass
class RhythmHit:
    """The Morse rhythm for "AI" found in the audio: where, how fast, at what pitch and level."""
    start_s: float  # first tone's onset, seconds from the start of the file
    end_s: float
    unit_ms: float
    frequency_hz: float
    level_db: float  # tone level, dBFS (a full-scale sine = 0)
    units: tuple[float, ...]  # the seven measured durations in units (1 1 3 3 1 1 1 ideally)
    window: str = ""

    def describe(self) -> str:
        return (f"rhythm prompt {SYMBOLS} found at {self.start_s:.2f} s (unit {self.unit_ms:.0f} ms, "
                f"{self.frequency_hz:.0f} Hz, {self.level_db:.0f} dBFS)")


@dataclass
class VoiceHit:
    """A match of the voice prompt: where it starts, how well it matched, in which window."""
    start_s: float
    score: float
    window: str = ""


@dataclass
class Detection:
    """What the audible-label search found in one file: the windows it listened to and its hits."""
    duration_s: float | None
    windows: list[tuple[str, float, float]] = field(default_factory=list)  # (name, start s, end s)
    rhythm: list[RhythmHit] = field(default_factory=list)
    voice: list[VoiceHit] = field(default_factory=list)
    speech: list[tuple[str, float, float]] = field(default_factory=list)
    decoder: str = ""


# ------------------------------------------------------------------------------------------ spectra


def _stft_power(x: np.ndarray, rate: int, win_s: float, hop_s: float) -> tuple[np.ndarray, float, float, int]:
    """Power spectrum frames (mean-square units: a sine of amplitude A sums to A²/2), bin width (Hz),
    hop (s), window length in samples."""
    import numpy as np

    nwin = max(16, int(round(win_s * rate)))
    hop = max(1, int(round(hop_s * rate)))
    nfft = 1 << (nwin - 1).bit_length()
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) < nwin:
        return np.zeros((0, nfft // 2 + 1), np.float32), rate / nfft, hop / rate, nwin
    n = 1 + (len(x) - nwin) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n, nwin), (hop * x.strides[0], x.strides[0]))
    w = np.hanning(nwin + 2)[1:-1].astype(np.float32)
    spec = np.fft.rfft(frames * w, nfft, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    power[:, 1:-1] *= 2.0
    power /= np.float32(nfft * float((w ** 2).sum()))  # Parseval: the bins sum to the window's mean square
    return power, rate / nfft, hop / rate, nwin


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the True runs of *mask* (end exclusive)."""
    import numpy as np

    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]


# ------------------------------------------------------------------------------------------- rhythm


def find_rhythm(x: np.ndarray, rate: int, *, offset_s: float = 0.0, unit_ms: tuple[float, float] = UNIT_RANGE_MS,
                frequency_hz: tuple[float, float] = FREQUENCY_RANGE, require_letter_gap: bool = True,
                window: str = "") -> list[RhythmHit]:
    """Every rhythm prompt ·− ·· in mono samples *x* (any length; long input is cut in chunks)."""
    import numpy as np

    chunk = int(_CHUNK_S * rate)
    if len(x) <= chunk:
        return _find_rhythm_chunk(x, rate, offset_s, unit_ms, frequency_hz, require_letter_gap, window)
    hits: list[RhythmHit] = []
    step = int((_CHUNK_S - _OVERLAP_S) * rate)
    for s in range(0, len(x), step):
        part = np.asarray(x[s:s + chunk])
        for hit in _find_rhythm_chunk(part, rate, offset_s + s / rate, unit_ms, frequency_hz, require_letter_gap,
                                      window):
            if not any(abs(h.start_s - hit.start_s) < 0.05 for h in hits):
                hits.append(hit)
        if s + chunk >= len(x):
            break
    return hits


def _find_rhythm_chunk(x: np.ndarray, rate: int, offset_s: float, unit_ms: tuple[float, float],
                       frequency_hz: tuple[float, float], require_letter_gap: bool, window: str) -> list[RhythmHit]:
    import numpy as np

    power, binhz, hop_s, nwin = _stft_power(x, rate, _WIN_S, _HOP_S)
    if len(power) < 8:
        return []
    total = power[:, 1:].sum(axis=1) + np.float32(1e-12)
    h = max(1, int(round(_BAND_HZ / binhz)))
    csum = np.concatenate([np.zeros((len(power), 1), np.float32), np.cumsum(power, axis=1)], axis=1)
    lo = max(h + 1, int(math.floor(frequency_hz[0] / binhz)) - 1)
    hi = min(power.shape[1] - h - 1, int(math.ceil(frequency_hz[1] / binhz)))
    if hi <= lo:
        return []
    band = csum[:, lo + h + 1:hi + h + 2] - csum[:, lo - h:hi - h + 1]  # energy within ±h bins, bins lo..hi
    floor = 0.5 * 10 ** (_FLOOR_DB / 10)
    best = np.argmax(band, axis=1)
    best_e = band[np.arange(len(band)), best]
    strong = (best_e > _DOMINANT * total) & (best_e > floor)
    if not strong.any():
        return []
    counts = np.bincount(best[strong], minlength=band.shape[1])
    # the four tones last >= 6 units >= 240 ms; keep bins dominant for at least a third of that
    need = max(6, int(0.08 / hop_s))
    smooth = np.convolve(counts, np.ones(3, dtype=np.int64), mode="same")
    order = [k for k in np.argsort(-smooth) if smooth[k] >= need]
    candidates: list[int] = []
    for k in order:
        if all(abs(k - c) > h for c in candidates):
            candidates.append(int(k))
        if len(candidates) >= 8:
            break
    hits: list[RhythmHit] = []
    for k in candidates:
        e = band[:, k]
        share = e / total
        for hit in _pattern_hits(e, share, floor, hop_s, nwin / rate, unit_ms, require_letter_gap):
            start_f, end_f, unit_s, units, level = hit
            # frequency: the peak of the spectrum summed over the tone frames, refined by a
            # parabola through the log power of the peak bin and its neighbours
            frames = np.zeros(len(e), bool)
            frames[start_f:end_f] = share[start_f:end_f] > _DOMINANT
            ks = np.arange(lo + k - h, lo + k + h + 1)
            spectrum = power[frames][:, ks].sum(axis=0).astype(np.float64) + 1e-20
            j = int(np.argmax(spectrum))
            delta = 0.0
            if 0 < j < len(ks) - 1:
                a_, b_, c_ = np.log(spectrum[j - 1:j + 2])
                den = a_ - 2 * b_ + c_
                delta = float(0.5 * (a_ - c_) / den) if den < 0 else 0.0
            freq = float((ks[j] + max(-0.5, min(0.5, delta))) * binhz)
            if not frequency_hz[0] * 0.97 <= freq <= frequency_hz[1] * 1.03:  # measuring tolerance
                continue
            start_s = offset_s + start_f * hop_s + (nwin / rate) / 2 - hop_s / 2
            hit_obj = RhythmHit(round(start_s, 3), round(start_s + (end_f - start_f) * hop_s, 3),
                                round(unit_s * 1000, 1), round(freq, 1), round(10 * math.log10(2 * level), 1),
                                tuple(round(u, 2) for u in units), window)
            if not any(abs(o.start_s - hit_obj.start_s) < 0.05 for o in hits):
                hits.append(hit_obj)
    return sorted(hits, key=lambda h_: h_.start_s)


_PATTERN = (1.0, 1.0, 3.0, 3.0, 1.0, 1.0, 1.0)


def _local_max(e: np.ndarray, reach: int) -> np.ndarray:
    """The maximum of *e* within about ±*reach* frames of each frame (block-wise, vectorised)."""
    import numpy as np

    block = max(1, reach // 4)
    n = len(e)
    nb = -(-n // block)
    padded = np.full(nb * block, -np.inf, dtype=np.float64)
    padded[:n] = e
    bmax = padded.reshape(nb, block).max(axis=1)
    k = -(-reach // block)
    out = bmax.copy()
    for s in range(1, k + 1):
        out[s:] = np.maximum(out[s:], bmax[:-s])
        out[:-s] = np.maximum(out[:-s], bmax[s:])
    return np.repeat(out, block)[:n]


def _pattern_hits(e: np.ndarray, share: np.ndarray, floor: float, hop_s: float, win_s: float,
                  unit_ms: tuple[float, float], require_letter_gap: bool) -> Iterator[tuple]:
    """(start frame, end frame, unit s, seven durations in units, tone level) of each ·− ·· in envelope *e*."""
    import numpy as np

    # tone frames: the band dominates the frame and is within 6 dB of the loudest the band gets
    # within a second (so quieter content in the same band - music under the prompt - stays out)
    on = (share > _DOMINANT) & (e > floor) & (e > _local_max(e, int(round(1.0 / hop_s))) / 4)
    starts, ends = _runs(on)
    if len(starts) < 4:
        return
    # bridge drop-outs of one or two frames (codec artefacts) and drop spurs shorter than 12 ms
    keep_s, keep_e = [int(starts[0])], [int(ends[0])]
    for s, t in zip(starts[1:], ends[1:], strict=True):
        if s - keep_e[-1] <= 2:
            keep_e[-1] = int(t)
        else:
            keep_s.append(int(s))
            keep_e.append(int(t))
    min_len = max(2, int(0.012 / hop_s))
    runs = [(s, t) for s, t in zip(keep_s, keep_e, strict=True) if t - s >= min_len]
    umin, umax = unit_ms[0] / 1000, unit_ms[1] / 1000
    n = len(e)
    for i in range(len(runs) - 3):
        group = runs[i:i + 4]
        span = (group[3][1] - group[0][0]) * hop_s
        if not 11 * umin * 0.7 <= span <= 11 * umax * 1.3:
            continue
        level = float(np.median([np.median(e[s:t]) for s, t in group]))
        # re-cut the stretch at -6 dB of the tone level, with margins for the guards
        margin = int(math.ceil(2.0 * span / 11 / hop_s)) + 2
        a, b = max(0, group[0][0] - margin), min(n, group[3][1] + margin)
        seg = e[a:b]
        cut = (seg > level / 4) & (share[a:b] > _DOMINANT * 0.5)
        rs, re_ = _runs(cut)
        pieces = [(int(s) + a, int(t) + a) for s, t in zip(rs, re_, strict=True) if t - s >= min_len]
        merged: list[list[int]] = []
        for s, t in pieces:
            if merged and s - merged[-1][1] <= 1:
                merged[-1][1] = t
            else:
                merged.append([s, t])
        inside = [m for m in merged if m[1] > group[0][0] and m[0] < group[3][1]]
        if len(inside) != 4:
            continue
        edges = [inside[0][0], inside[0][1], inside[1][0], inside[1][1], inside[2][0], inside[2][1], inside[3][0],
                 inside[3][1]]
        durations = np.diff(edges) * hop_s  # on, gap, on, gap, on, gap, on
        span = (edges[-1] - edges[0]) * hop_s
        unit = span / 11
        if not umin * 0.85 <= unit <= umax * 1.15:
            continue
        units = durations / unit
        dots = units[[0, 4, 6]]
        dash, g1, g2, g3 = units[2], units[1], units[3], units[5]
        if not (np.all((dots >= 0.5) & (dots <= 1.7)) and 2.2 <= dash <= 4.2 and 2.0 <= dash / dots.mean() <= 4.5
                and 0.4 <= g1 <= 1.8 and 0.4 <= g3 <= 1.8 and dots.max() / dots.min() <= 2.0):
            continue
        if require_letter_gap and not 1.8 <= g2 <= 4.5:
            continue
        if not require_letter_gap and not 0.4 <= g2 <= 4.5:
            continue
        # real gaps: the band drops well below the tones between them
        gaps = [(edges[j], edges[j + 1]) for j in (1, 3, 5)]
        if any(float(e[s:t].min()) > level * 10 ** (-8 / 10) for s, t in gaps if t > s):
            continue
        # equal loudness of the four tones
        levels = [float(np.median(e[s:t])) for s, t in inside]
        if max(levels) > 4 * min(levels):
            continue
        # no other tone (within 6 dB of the level, half a unit or longer) in the band for 1.5 units
        # before and after, so a prompt is not read out of a longer sequence of beeps
        guard = 1.5 * unit / hop_s
        half = 0.5 * unit / hop_s
        if any(t - s_ >= half and (edges[0] - guard <= t <= edges[0] or edges[-1] <= s_ <= edges[-1] + guard)
               for s_, t in merged if [s_, t] not in inside):
            continue
        yield edges[0], edges[-1], unit, tuple(float(u) for u in units), level


# -------------------------------------------------------------------------------------------- voice

_FP_WIN, _FP_HOP = 0.032, 0.010
_FP_BANDS = 20
_FP_RANGE = (150.0, 3800.0)


def _fingerprint(x: np.ndarray, rate: int) -> np.ndarray:
    """log10 band energies, bands x frames."""
    import numpy as np

    power, binhz, _hop, _nwin = _stft_power(x, rate, _FP_WIN, _FP_HOP)
    edges = np.geomspace(_FP_RANGE[0], _FP_RANGE[1], _FP_BANDS + 1)
    idx = np.clip(np.round(edges / binhz).astype(int), 1, power.shape[1] - 1)
    csum = np.concatenate([np.zeros((len(power), 1), np.float32), np.cumsum(power, axis=1)], axis=1)
    bands = csum[:, idx[1:] + 1] - csum[:, idx[:-1] + 1]
    # detail more than 35 dB under the loud parts is noise floor, not fingerprint: clamp it
    floor = max(1e-10, float(np.percentile(bands, 99)) * 10 ** (-35 / 10)) if bands.size else 1e-10
    return np.log10(np.maximum(bands, floor)).T.astype(np.float64)


@functools.lru_cache(maxsize=4)
def _template(rate: int) -> tuple[Any, Any]:
    import numpy as np

    from .audio import voice_clip

    fp = _fingerprint(voice_clip(rate, None), rate)
    level = fp.max(axis=0)
    active = level > level.max() - 4.0  # frames within 40 dB of the loudest band peak
    t = fp[:, active]
    t = t - t.mean()
    return t / np.sqrt((t ** 2).sum()), np.nonzero(active)[0]


def find_voice(x: np.ndarray, rate: int, *, offset_s: float = 0.0, threshold: float = 0.7,
               window: str = "") -> list[VoiceHit]:
    """Where aigclabel's shipped voice clip is (Pearson correlation of fingerprints >= *threshold*)."""
    import numpy as np

    template, cols = _template(rate)
    fp = _fingerprint(x, rate)
    length = int(cols[-1]) + 1 if len(cols) else 0
    if fp.shape[1] < length or not length:
        return []
    nb, m = template.shape
    lags = fp.shape[1] - length + 1
    full_t = np.zeros((nb, length))
    full_t[:, cols] = template
    mask = np.zeros(length)
    mask[cols] = 1.0
    size = 1 << (fp.shape[1] + length - 1).bit_length()

    def xcorr(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """sum over rows of the cross-correlation at lags 0..lags-1 (FFT)."""
        spec = np.fft.rfft(signal, size, axis=-1) * np.conj(np.fft.rfft(kernel, size, axis=-1))
        if spec.ndim == 2:
            spec = spec.sum(axis=0)
        return np.fft.irfft(spec, size)[:lags]

    num = xcorr(fp, full_t)
    patch_sum = xcorr(fp.sum(axis=0), mask)
    patch_sq = xcorr((fp ** 2).sum(axis=0), mask)
    count = nb * m
    var = patch_sq - patch_sum ** 2 / count
    corr = num / np.sqrt(np.maximum(var, 1e-9))
    hits: list[VoiceHit] = []
    above = np.nonzero(corr >= threshold)[0]
    for lag in above:
        if lag > 0 and corr[lag - 1] > corr[lag] or lag + 1 < lags and corr[lag + 1] > corr[lag]:
            continue
        start = offset_s + lag * _FP_HOP
        if not any(abs(hh.start_s - start) < 1.0 for hh in hits):
            hits.append(VoiceHit(round(float(start), 2), round(float(corr[lag]), 3), window))
    return hits


def speech_segments(x: np.ndarray, rate: int, *, offset_s: float = 0.0,
                    window: str = "") -> list[tuple[str, float, float]]:
    """Stretches of 2 s that sound like speech: energy in 250-3500 Hz modulated at the syllable rate
    (2-8 Hz holds most of the modulation), with dips of 15 dB or more, neither a single tone nor
    noise (spectral flatness under 0.3).  A heuristic: it decides between *not checked* and *error*,
    never a pass."""
    import numpy as np

    power, binhz, hop_s, _ = _stft_power(x, rate, _FP_WIN, _FP_HOP)
    if len(power) < 100:
        return []
    lo, hi = max(1, int(250 / binhz)), min(power.shape[1] - 1, int(3500 / binhz))
    band = power[:, lo:hi]
    energy = band.sum(axis=1) + 1e-12
    env_db = 10 * np.log10(energy)
    peak3 = np.sort(band, axis=1)[:, -3:].sum(axis=1) / energy
    # spectral flatness: ~0.56 for white noise, far lower for voiced speech (harmonics, formants)
    flatness = np.exp(np.log(band + 1e-20).mean(axis=1)) / (band.mean(axis=1) + 1e-20)
    seg = int(2.0 / hop_s)
    out: list[tuple[str, float, float]] = []
    freqs = np.fft.rfftfreq(seg, hop_s)
    syl = (freqs >= 2) & (freqs <= 8)
    mod = (freqs >= 0.5) & (freqs <= 20)
    for s in range(0, len(energy) - seg + 1, seg // 2):
        db = env_db[s:s + seg]
        if db.max() < -45:
            continue
        active = db > db.max() - 20
        if np.percentile(db, 90) - np.percentile(db, 10) < 15:
            continue
        if np.median(peak3[s:s + seg][active]) > 0.6:
            continue  # one tone (beeps, sweeps), not a voice
        if np.median(flatness[s:s + seg][active]) > 0.3:
            continue  # noise, not a voice
        lin = np.sqrt(energy[s:s + seg])
        spec = np.abs(np.fft.rfft(lin - lin.mean())) ** 2
        if spec[mod].sum() <= 0 or spec[syl].sum() / spec[mod].sum() < 0.45:
            continue
        start = offset_s + s * hop_s
        if out and start - out[-1][2] <= 1e-6 + 1.0:
            out[-1] = (window, out[-1][1], round(start + 2.0, 2))
        else:
            out.append((window, round(start, 2), round(start + 2.0, 2)))
    return out


def analyse(x: np.ndarray, rate: int, *, offset_s: float = 0.0, window: str = "",
            options: dict[str, Any] | None = None, speech: bool = True) -> Detection:
    """Run every detector over mono samples *x*."""
    opts = options or {}
    det = Detection(duration_s=len(x) / rate, windows=[(window, offset_s, offset_s + len(x) / rate)])
    det.rhythm = find_rhythm(x, rate, offset_s=offset_s, window=window,
                             unit_ms=(float(opts.get("unit_min_ms", UNIT_RANGE_MS[0])),
                                      float(opts.get("unit_max_ms", UNIT_RANGE_MS[1]))),
                             frequency_hz=(float(opts.get("frequency_min_hz", FREQUENCY_RANGE[0])),
                                           float(opts.get("frequency_max_hz", FREQUENCY_RANGE[1]))),
                             require_letter_gap=bool(opts.get("require_letter_gap", True)))
    det.voice = find_voice(x, rate, offset_s=offset_s, threshold=float(opts.get("voice_threshold", 0.7)),
                           window=window)
    if speech:
        det.speech = speech_segments(x, rate, offset_s=offset_s, window=window)
    return det


# ------------------------------------------------------------------------------------------ reading


def _plan_windows(duration: float, window_s: float, full: bool) -> list[tuple[str, float, float]]:
    if full or duration <= 3 * window_s:
        return [("whole file", 0.0, duration)]
    mid = duration / 2
    return [("start", 0.0, window_s), ("middle", mid - window_s / 2, mid + window_s / 2),
            ("end", duration - window_s, duration)]


def _merge(det: Detection, part: Detection) -> None:
    det.windows += part.windows
    for hit in part.rhythm:
        if not any(abs(h.start_s - hit.start_s) < 0.05 for h in det.rhythm):
            det.rhythm.append(hit)
    for v in part.voice:
        if not any(abs(h.start_s - v.start_s) < 1.0 for h in det.voice):
            det.voice.append(v)
    det.speech += part.speech


def to_detect_rate(x: np.ndarray, rate: int) -> np.ndarray:
    """Band-limit and resample mono *x* to :data:`DETECT_RATE` (FFT resampling, edges padded)."""
    import numpy as np

    if rate == DETECT_RATE:
        return np.asarray(x, dtype=np.float32)
    pad = int(0.05 * rate)
    y = np.concatenate([np.zeros(pad), np.asarray(x, dtype=np.float64), np.zeros(pad)])
    n = len(y)
    n_out = int(round(n * DETECT_RATE / rate))
    spec = np.fft.rfft(y)
    keep = n_out // 2 + 1
    spec = spec[:keep] if len(spec) >= keep else np.concatenate([spec, np.zeros(keep - len(spec))])
    out = np.fft.irfft(spec, n_out) * (n_out / n)
    cut = int(round(pad * DETECT_RATE / rate))
    return out[cut:n_out - cut].astype(np.float32)


def _spans(access: AudioAccess, window_s: float, full: bool) -> list[tuple[str, float, float]]:
    """The stretches to decode; a full scan of PCM is cut in overlapping chunks (memory)."""
    duration = access.info.duration_s
    if not duration:
        return [("whole file", 0.0, math.inf)]
    spans = _plan_windows(duration, window_s, full)
    if not (full and access.exact_seek):
        return spans
    out = []
    for name, a, b in spans:
        s = a
        while True:
            out.append((name, s, min(b, s + _CHUNK_S)))
            if s + _CHUNK_S >= b:
                break
            s += _CHUNK_S - _OVERLAP_S
    return out


def _need_numpy() -> None:
    try:
        import numpy
    except ImportError:
        raise DecoderMissing("numpy is not installed (pip install 'aigclabel[audio]')") from None
    del numpy


def detect_access(access: AudioAccess, options: dict[str, Any] | None = None) -> Detection:
    """Look for audible labels in the stream behind *access* (``handler.audio_access(src)``).

    Only the windows are decoded (see the module docs), each within the resource budget.  Raises
    :class:`DecoderMissing` when numpy (or PyAV, for compressed formats) is not installed, and
    :class:`~aigclabel.errors.CorruptFile` / :class:`~aigclabel.errors.LimitExceeded` when the
    audio cannot be decoded within the budget.
    """
    opts = options or {}
    _need_numpy()
    window_s = float(opts.get("window_s", 20.0))
    full = bool(opts.get("full_scan", False))
    duration = access.info.duration_s
    det = Detection(duration_s=duration, decoder=access.info.decoder)
    for win in access.windows(_spans(access, window_s, full), DETECT_RATE):
        x = win.samples if win.rate == DETECT_RATE else to_detect_rate(win.samples, win.rate)
        part = analyse(x, DETECT_RATE, offset_s=win.start_s, window=win.name, options=opts)
        part.windows = [(win.name, round(win.start_s, 3), round(win.start_s + len(x) / DETECT_RATE, 3))]
        _merge(det, part)
        if duration is None:
            det.duration_s = win.start_s + len(x) / DETECT_RATE
    det.rhythm.sort(key=lambda h: h.start_s)
    return det


def _access(src: Any) -> AudioAccess:
    from ..formats import handler_for

    access: AudioAccess = handler_for(src).audio_access(src)
    return access


def detect(src: Any, fmt_name: str | None = None, options: dict[str, Any] | None = None) -> Detection:
    """:func:`detect_access` on the open source *src* (its handler is detected from the content;
    *fmt_name* is accepted for callers of the older signature and not needed)."""
    del fmt_name
    _need_numpy()
    with limits.use_limits(restart_clock=False):
        return detect_access(_access(src), options)


def decode_all(src: Any, rate: int = DETECT_RATE) -> tuple[Any, float]:
    """The whole stream as mono float32 at *rate* (the baseline the benchmark compares with)."""
    import numpy as np

    with limits.use_limits(restart_clock=False):
        windows = list(_access(src).windows([("whole file", 0.0, math.inf)], rate))
    x = np.concatenate([w.samples for w in windows]) if windows else np.zeros(0, np.float32)
    return x, len(x) / rate
