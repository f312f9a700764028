"""The audio watermark itself: a spread-spectrum mark in the 1-6 kHz band, one 100 ms symbol per payload bit.

Layout
  The 64-bit word is sent as 64 *symbols* of :data:`SYMBOL_S` (100 ms) each, repeated end to end from the
  first sample (a *period* of 6.4 s).  Symbol *k* carries bit *k* as the sign of a keyed pseudo-noise
  waveform ``s_k``: 501 cosines on the 10 Hz grid from 1 to 6 kHz with keyed phases, tapered over 5 ms at
  each end so a sign change between symbols makes no click.  The waveform is defined in continuous time,
  so it is synthesised exactly at any sample rate that is a multiple of 10 Hz (8, 16, 22.05, 32, 44.1,
  48, 96 kHz ...) - a resampled copy still lines up with the templates at its own rate.

Embedding (:func:`embed_samples`)
  Each symbol instance adds ``(alpha * bit - h / g) * env * s_k`` to every channel: ``env`` is the host's
  own 20 ms RMS envelope (the mark follows the loudness, so its segmental SNR is about ``-20 log10 alpha``
  everywhere and silence stays silent), and the ``h / g`` term is informed embedding: it cancels the
  host's own correlation with ``s_k`` (``h``), which is otherwise most of the detector's error.  The
  cancellation may lower the gain along the bit's sign to :data:`KEEP` of ``alpha`` and no further: it
  never flips the sign.  A steady tone correlates with some ``s_k`` far more than the mark does, and
  cancelling that (capped at :data:`GAIN_CAP`) once wrote the opposite sign for that bit; the detector,
  which normalises every time-frequency cell, hardly sees the tone's correlation but reads the mark's
  sign clearly - so the bit came out wrong at full confidence (|z| ~ 19) and the whole word was lost.

Detection (:func:`read_bits`)
  The mono signal is *folded* modulo one period (every 6.4 s added up: the mark adds coherently, the
  host does not), so a clip of any length >= one period costs one FFT of a period.  The fold is taken to
  a 12.8 kHz working rate through its spectrum (exact: a folded signal is periodic), the 1-6 kHz band is
  kept, and the 64 templates are cross-correlated with it at every lag at once (one inverse FFT each):
  the lag where the squared correlations peak is where the period starts, so a clip whose first seconds
  were cut, or an encoder's delay, still decodes.  The lag is refined to a fraction of a sample, and each
  bit's correlation over its own energy is a z-score, about N(0, 1) on audio without this mark.

Why this shape (measured in bench/bench_watermark.py --audio): a lossy codec keeps the waveform where the
music is loud, which is where the envelope puts the mark; MP3/AAC at 128 kbit/s keep 1-6 kHz whole; a
change of volume scales host and mark alike (the z-score does not move); a resampler keeps the band.
Time stretching or pitch shifting moves the grid: not survived.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["SYMBOL_S", "PERIOD_S", "MIN_SECONDS", "N_BITS", "ALPHA", "LOW_HZ", "HIGH_HZ", "embed_samples",
           "read_bits", "read_fold", "rate_ok", "embed_pcm", "mono_stream", "fold_stream", "envelope", "templates"]

N_BITS = 64
#: one symbol (one payload bit) lasts this long; the word repeats every N_BITS symbols
SYMBOL_S = 0.1
PERIOD_S = N_BITS * SYMBOL_S
#: shorter audio is refused: at least one whole period must remain after a cut of the first seconds
MIN_SECONDS = 10.0
LOW_HZ, HIGH_HZ = 1000, 6000
#: mark amplitude relative to the host's envelope, before the host's own correlation is cancelled
ALPHA = 0.025
#: the mark's gain never passes this (with the cancellation): at most about -30.5 dB under the envelope, so a
#: tonal host whose correlation cannot be cancelled cheaply keeps part of it instead of getting a loud mark
GAIN_CAP = 0.03
#: share of the host's correlation the informed embedding cancels (1.0: all of it)
CANCEL = 0.5
#: ... but the gain along the bit's own sign never drops under this share of ALPHA: the cancellation can
#: save power where the host already leans the bit's way, never turn the mark against its bit
KEEP = 0.5
_TAPER_S = 0.005
_ENVELOPE_S = 0.02
#: the envelope never drops under this share of the clip's RMS: a pause (a TTS voice's digital silence
#: between words) still carries the mark, about 56 dB under the clip's level there
_QUIET = 0.05
#: ... nor under this (full scale = 1): a silent clip gets no hiss
_FLOOR = 1e-5
#: the fold is analysed at this rate (Hz): above twice HIGH_HZ, and 1280 samples per symbol
WORK_RATE = 12800
_GRID_HZ = round(1 / SYMBOL_S)


def rate_ok(rate: int) -> bool:
    """Whether a symbol is a whole number of samples at *rate* and the band fits under its Nyquist."""
    return rate % _GRID_HZ == 0 and rate > 2 * HIGH_HZ


@lru_cache(maxsize=4)
def _phases(pattern_key: bytes) -> np.ndarray:
    """(N_BITS, bins) keyed phases of each symbol's cosines."""
    seed = int.from_bytes(hashlib.sha256(b"aigclabel-audio-watermark\x00" + pattern_key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    bins = HIGH_HZ // _GRID_HZ - LOW_HZ // _GRID_HZ + 1
    return np.asarray(rng.uniform(0, 2 * np.pi, size=(N_BITS, bins)))


@lru_cache(maxsize=8)
def templates(pattern_key: bytes, rate: int) -> np.ndarray:
    """(N_BITS, samples per symbol) unit-RMS symbol waveforms at *rate* (a multiple of 10 Hz)."""
    n = int(round(rate * SYMBOL_S))
    phases = _phases(pattern_key)
    spec = np.zeros((N_BITS, n // 2 + 1), dtype=np.complex128)
    lo, hi = LOW_HZ // _GRID_HZ, HIGH_HZ // _GRID_HZ
    spec[:, lo:hi + 1] = np.exp(1j * phases) * (n / 2)  # irfft's 2/n: each cosine of amplitude 1
    waves = np.fft.irfft(spec, n, axis=1)
    waves /= np.sqrt(phases.shape[1] / 2)  # 501 cosines of power 1/2 each: unit RMS
    t = np.arange(n) / rate
    ramp = np.clip(np.minimum(t, (n - 1) / rate - t) / _TAPER_S, 0, 1)
    return np.asarray(waves * (0.5 - 0.5 * np.cos(np.pi * ramp)))


def _moving_rms(x: np.ndarray, width: int) -> np.ndarray:
    """RMS of *x* over a centred window of *width* samples (cumulative sums: O(n))."""
    width = max(1, width)
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    half = width // 2
    idx = np.arange(len(x))
    a = np.clip(idx - half, 0, len(x))
    b = np.clip(idx - half + width, 0, len(x))
    return np.asarray(np.sqrt(np.maximum(c[b] - c[a], 0.0) / np.maximum(b - a, 1)))


def envelope(mono: np.ndarray, rate: int) -> np.ndarray:
    """The host's smooth loudness envelope: a 20 ms RMS, smoothed once more so it adds no buzz of its own."""
    width = int(rate * _ENVELOPE_S)
    env = _moving_rms(mono, width)
    c = np.concatenate(([0.0], np.cumsum(env)))
    idx = np.arange(len(env))
    a = np.clip(idx - width // 2, 0, len(env))
    b = np.clip(idx - width // 2 + width, 0, len(env))
    floor = max(_FLOOR, _QUIET * float(np.sqrt(np.mean(mono * mono)))) if len(mono) else _FLOOR
    return np.asarray(np.maximum((c[b] - c[a]) / np.maximum(b - a, 1), floor))


def embed_samples(frames: np.ndarray, rate: int, bits: Any, pattern_key: bytes, alpha: float = ALPHA) -> np.ndarray:
    """*frames* (samples x channels, float, full scale 1) with the mark of *bits* added to every channel."""
    mono = frames.mean(axis=1)
    return np.asarray(frames + _mark_with(mono, envelope(mono, rate), rate, bits, pattern_key, 0, alpha)[:, None])


def fold(mono: np.ndarray, rate: int) -> np.ndarray:
    """*mono* summed modulo one period (the tail's partial period included)."""
    period = int(round(rate * PERIOD_S))
    whole = -(-len(mono) // period) * period
    padded = np.zeros(whole)
    padded[:len(mono)] = mono
    return np.asarray(padded.reshape(-1, period).sum(axis=0))


def _working(folded: np.ndarray) -> np.ndarray:
    """The 1-6 kHz band of the fold's spectrum at WORK_RATE (rfft bins, spacing 1 / period)."""
    spec = np.fft.rfft(folded)
    size = int(round(WORK_RATE * PERIOD_S))
    out = np.zeros(size // 2 + 1, dtype=np.complex128)
    lo, hi = int(LOW_HZ * PERIOD_S), int(HIGH_HZ * PERIOD_S)
    top = min(hi + 1, len(spec))
    if top > lo:
        out[lo:top] = spec[lo:top] * (size / len(folded))
    return out


def read_bits(mono: np.ndarray, rate: int, pattern_key: bytes) -> np.ndarray:
    """One z-score per payload bit (sign = the bit), about N(0, 1) each on audio without the mark."""
    return read_fold(fold(mono, rate), len(mono), rate, pattern_key)


def read_fold(folded: np.ndarray, length: int, rate: int, pattern_key: bytes) -> np.ndarray:
    """:func:`read_bits` of a stream of *length* samples already folded (:func:`fold_stream`).

    Every lag of the period is tried (see the module docs); audio shorter than one period gives zeros.
    """
    if length < rate * PERIOD_S or rate <= 2 * LOW_HZ or not rate_ok(rate):
        return np.zeros(N_BITS)
    size = int(round(WORK_RATE * PERIOD_S))
    white = normalised(np.fft.irfft(_working(folded), size))
    spec = np.fft.rfft(white)
    s = templates(pattern_key, WORK_RATE)
    n = s.shape[1]
    placed = _placed_spectra(pattern_key)
    # corr[k, lag] (symbol k's correlation when the period starts at lag) one symbol at a time: the whole
    # (N_BITS, size) table and its spectrum were four 42 MB arrays per detection, for a clip of any length
    energy_at = np.zeros(size)
    for k in range(N_BITS):
        corr = np.fft.irfft(spec * placed[k], size)
        energy_at += corr * corr
    lag = int(np.argmax(energy_at))
    # refine to a fraction of a sample: the band reaches 6 kHz, half a sample at 12.8 kHz is a 0.7 rad slip
    lo, hi = int(LOW_HZ * PERIOD_S), int(HIGH_HZ * PERIOD_S)
    m = np.arange(lo, hi + 1)
    steps = np.linspace(-0.5, 0.5, 11)
    phase = np.exp(2j * np.pi * np.outer(lag + steps, m) / size).T  # (bins, steps)
    band = spec[lo:hi + 1]
    fine = np.empty((N_BITS, len(steps)))
    for k in range(N_BITS):
        fine[k] = (2.0 / size) * np.real((band * placed[k, lo:hi + 1]) @ phase)
    best = int(np.argmax((fine * fine).sum(axis=0)))
    c = fine[:, best]
    rolled = np.roll(white, -lag)
    energy = np.array([(rolled[k * n:(k + 1) * n] ** 2 * s[k] ** 2).sum() for k in range(N_BITS)])
    return np.asarray(c / np.sqrt(np.maximum(energy, 1e-30)))


@lru_cache(maxsize=2)
def _placed_spectra(pattern_key: bytes) -> np.ndarray:
    """The conjugate spectrum of each symbol's template placed in its slot of one period at WORK_RATE,
    ``(N_BITS, size // 2 + 1)`` complex64 (21 MB, made once per key instead of once per detection)."""
    size = int(round(WORK_RATE * PERIOD_S))
    s = templates(pattern_key, WORK_RATE)
    n = s.shape[1]
    out = np.empty((N_BITS, size // 2 + 1), dtype=np.complex64)
    for k in range(N_BITS):
        placed = np.zeros(size)
        placed[k * n:(k + 1) * n] = s[k]
        out[k] = np.conj(np.fft.rfft(placed))
    return out


#: the detector's time-frequency normalisation: 40 ms Hann frames every 10 ms at WORK_RATE (25 Hz bins)
_FRAME, _HOP = 512, 128


def normalised(band: np.ndarray) -> np.ndarray:
    """The periodic 1-6 kHz signal *band* (at WORK_RATE) with every time-frequency cell brought to unit
    magnitude, its phase kept.

    This is the detector's whitening: a host is loud in a few cells (a steady tone's bins, a click's
    frames, a voice's formants) and quiet in the rest.  Unnormalised, those few cells decide the
    correlation; at unit magnitude they weigh no more than any other, while a cell where the mark is
    all there is (the bands a tone leaves free) keeps the mark's phase, which is what is read.
    """
    size = len(band)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_FRAME) / _FRAME)  # periodic Hann: constant overlap-add
    count = size // _HOP
    idx = (np.arange(count)[:, None] * _HOP + np.arange(_FRAME)[None, :]) % size
    cells = np.fft.rfft(band[idx] * win, axis=1)
    mag = np.abs(cells)
    freqs = np.arange(cells.shape[1]) * WORK_RATE / _FRAME
    inside = (freqs >= LOW_HZ) & (freqs <= HIGH_HZ)
    floor = 1e-6 * max(float(np.sqrt(np.mean(mag[:, inside] ** 2))), 1e-30)
    gain = np.where(inside[None, :], 1.0 / np.maximum(mag, floor), 0.0)
    frames = np.fft.irfft(cells * gain, _FRAME, axis=1) * win
    out = np.zeros(size)
    for j in range(_FRAME // _HOP):  # circular overlap-add: frame f's j-th hop lands at (f + j) * _HOP
        out += np.roll(frames[:, j * _HOP:(j + 1) * _HOP].reshape(-1), j * _HOP)
    return out / float(np.sum(win * win) / _HOP)


# --------------------------------------------------------------------------------------------- files

#: audio is marked and read in stretches of this many symbols (60 s): bounded memory for long files
_CHUNK_SYMBOLS = 600
#: envelope context read on each side of a stretch, so the stretches join without a seam
_MARGIN_S = 2 * _ENVELOPE_S


def _sample_frames(pcm: Any, raw: bytes) -> np.ndarray:
    """Interleaved PCM bytes -> (frames, channels) float64, full scale 1 (the scale of ``decode_mono``)."""
    n = len(raw) // pcm.block
    raw = raw[:n * pcm.block]
    order = ">" if pcm.big_endian else "<"
    if pcm.floating:
        return np.frombuffer(raw, f"{order}f{pcm.width}").astype(np.float64).reshape(n, pcm.channels)
    if pcm.width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        if pcm.big_endian:
            b = b[:, ::-1]
        v = b[:, 0].astype(np.int64) | (b[:, 1].astype(np.int64) << 8) | (b[:, 2].astype(np.int64) << 16)
        v = (v ^ 0x800000) - 0x800000
    else:
        v = np.frombuffer(raw, f"{order}{'u' if pcm.unsigned else 'i'}{pcm.width}").astype(np.int64)
        if pcm.unsigned:
            v -= 1 << (8 * pcm.width - 1)
    return (v.astype(np.float64) / float(1 << (8 * pcm.width - 1))).reshape(n, pcm.channels)


def _sample_bytes(pcm: Any, x: np.ndarray) -> bytes:
    """(frames, channels) float -> interleaved bytes in *pcm*'s format (rounded to its significant bits)."""
    order = ">" if pcm.big_endian else "<"
    flat = x.reshape(-1)
    if pcm.floating:
        return np.ascontiguousarray(flat.astype(f"{order}f{pcm.width}")).tobytes()
    full = 1 << (8 * pcm.width - 1)
    step = 1 << (8 * pcm.width - pcm.bits)  # samples of fewer significant bits stay left-aligned
    v = np.clip(np.round(flat * full / step) * step, -full, full - step).astype(np.int64)
    if pcm.width == 3:
        u = (v & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        return np.ascontiguousarray(u[:, ::-1] if pcm.big_endian else u).tobytes()
    if pcm.unsigned:
        v = v + full
    return np.ascontiguousarray(v.astype(f"{order}{'u' if pcm.unsigned else 'i'}{pcm.width}")).tobytes()


def embed_pcm(access: Any, bits: Any, pattern_key: bytes) -> bytes:
    """The WAV/AIFF file of *access* with the mark in its samples; every byte outside the samples kept.

    The sample data keeps its place and size, so the header, the chunks around it and their order are
    the original's byte for byte; only the sample values change (in the file's own sample format).
    """
    from .. import limits

    pcm, src, first, frames = access.pcm, access.src, access.first, access.frames
    rate = pcm.rate
    n = int(round(rate * SYMBOL_S))
    margin = int(rate * _MARGIN_S)
    stretch = _CHUNK_SYMBOLS * n
    limits.check_allocation((stretch + 2 * margin) * pcm.channels * 8 * 4, "a stretch of the samples being marked")
    limits.check_allocation(src.size, "the marked file")
    out = bytearray(src.read_at(0, first))
    for a in range(0, frames, stretch):
        limits.check_deadline("embedding the audio watermark")
        b = min(frames, a + stretch)
        lo, hi = max(0, a - margin), min(frames, b + margin)
        x = _sample_frames(pcm, src.read_at(first + lo * pcm.block, (hi - lo) * pcm.block))
        mono = x.mean(axis=1)
        env = envelope(mono, rate)[a - lo:b - lo]
        core = x[a - lo:b - lo]
        mark = _mark_with(core.mean(axis=1), env, rate, bits, pattern_key, a // n)
        out += _sample_bytes(pcm, core + mark[:, None])
    end = first + frames * pcm.block
    out += src.read_at(end, src.size - end)
    return bytes(out)


def _mark_with(mono: np.ndarray, env: np.ndarray, rate: int, bits: Any, pattern_key: bytes, first_symbol: int,
               alpha: float = ALPHA) -> np.ndarray:
    """The mark for *mono* given its envelope; symbol numbers start at *first_symbol* (a stretch's place)."""
    s = templates(pattern_key, rate)
    n = s.shape[1]
    count = len(mono) // n
    mark = np.zeros(len(mono))
    if count == 0:
        return mark
    signs = np.where(np.asarray(bits) > 0, 1.0, -1.0)
    which = (first_symbol + np.arange(count)) % N_BITS
    host = mono[:count * n].reshape(count, n)
    tmpl = s[which]
    shaped = env[:count * n].reshape(count, n) * tmpl
    h = np.einsum("ij,ij->i", host, tmpl)
    g = np.einsum("ij,ij->i", shaped, tmpl)
    sign = signs[which]
    along = np.clip(alpha - CANCEL * sign * h / np.maximum(g, 1e-12), KEEP * alpha, GAIN_CAP)
    gain = sign * along
    mark[:count * n] = (gain[:, None] * shaped).ravel()
    return mark


def mono_stream(access: Any) -> tuple[int, Any]:
    """(rate, iterator of consecutive mono float arrays) of the whole stream, decoded through the handler.

    PCM is read in stretches by exact sample offsets; a compressed stream is decoded in one pass (a seek
    is not sample-exact there), resampled by the decoder to 48 kHz when its own rate is off the 10 Hz grid.
    """
    info = access.info
    if getattr(access, "exact_seek", False):
        rate = info.rate
        step = _CHUNK_SYMBOLS * SYMBOL_S
        total = info.duration_s or 0.0

        def pieces() -> Any:
            t = 0.0
            while t < total:
                for w in access.windows([("stretch", t, min(total, t + step))]):
                    yield np.asarray(w.samples, dtype=np.float64)
                t += step
        return rate, pieces()
    rate = info.rate if rate_ok(info.rate) else 48000
    stream = getattr(access, "mono_stream", None)
    if stream is not None:  # decoded a second at a time (PyAV formats): an hour of MP3 is never held whole
        return rate, (np.asarray(x, dtype=np.float64) for x in stream(rate))
    return rate, (np.asarray(w.samples, dtype=np.float64) for w in access.windows([("all", 0.0, float("inf"))], rate))


def fold_stream(pieces: Any, rate: int) -> tuple[np.ndarray, int]:
    """(the stream folded modulo one period, its length in samples), one stretch at a time."""
    period = int(round(rate * PERIOD_S))
    acc = np.zeros(period)
    at = 0
    for x in pieces:
        i = 0
        while i < len(x):
            pos = (at + i) % period
            take = min(period - pos, len(x) - i)
            acc[pos:pos + take] += x[i:i + take]
            i += take
        at += len(x)
    return acc, at
