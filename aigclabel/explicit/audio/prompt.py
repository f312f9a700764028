"""The prompt itself: the plan from the marking options, and its samples at any rate.

GB 45438-2025 asks audio for a voice prompt with an AI element and a generation element, or the
rhythm prompt "short long short short", at the start, the end and/or a suitable middle position.
The prompt matches the file: it is synthesised (tone, see :mod:`..morse`) or resampled (the
shipped voice clip, windowed-sinc) at the file's sample rate; the container copies it to every
channel.  numpy is imported inside the functions (``pip install 'aigclabel[audio]'``).
"""

from __future__ import annotations

import functools
import math
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import LabelError, UnsupportedOperation
from ..morse import RhythmSpec, rhythm_samples

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["PromptPlan", "prompt_samples", "voice_clip", "resample", "PROMPTS", "AUDIO_POSITIONS", "VOICE_CLIP",
           "VOICE_TEXT", "DEFAULT_VOICE_LEVEL_DB", "DEFAULT_VOICE_PAD_MS"]

PROMPTS = ("rhythm", "voice", "both")
AUDIO_POSITIONS = ("start", "end", "middle")
VOICE_CLIP = Path(__file__).resolve().parent.parent / "prompts" / "voice-cmn-rengongzhineng-shengcheng.wav"
VOICE_TEXT = "人工智能生成"
DEFAULT_VOICE_LEVEL_DB = -3.0
DEFAULT_VOICE_PAD_MS = 250.0


@dataclass(frozen=True)
class PromptPlan:
    """Which audible prompt goes where: the Morse rhythm or the voice clip, at which positions, how loud."""
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

    @property
    def lead_s(self) -> float:
        """Seconds of silence at the prompt's start (the rhythm's padding, or the voice's)."""
        rhythm_pad = self.rhythm.pad_units * self.rhythm.unit_ms / 1000
        return rhythm_pad if self.kind in ("rhythm", "both") else self.voice_pad_ms / 1000

    @property
    def trail_s(self) -> float:
        """Seconds of silence at the prompt's end."""
        rhythm_pad = self.rhythm.pad_units * self.rhythm.unit_ms / 1000
        return rhythm_pad if self.kind == "rhythm" else self.voice_pad_ms / 1000

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
        frequency = plan.rhythm.frequency
        if rate < 2 * frequency + 1:  # the file's own (declared) rate cannot carry the tone
            raise UnsupportedOperation(f"the audio's sample rate ({rate} Hz) is too low for the {frequency:g} Hz "
                                       "rhythm prompt; use the voice prompt, or a rhythm_frequency below "
                                       f"{max(1, rate // 2 - 1)} Hz")
        parts.append(rhythm_samples(rate, plan.rhythm))
    if plan.kind in ("voice", "both"):
        pad = np.zeros(int(round(plan.voice_pad_ms / 1000 * rate)), dtype=np.float32)
        if plan.kind == "voice":
            parts.append(pad)
        parts += [voice_clip(rate, plan.voice_level_db), pad]
    return np.concatenate(parts).astype(np.float32)
