"""The rhythm prompt: Morse "AI" (·− ··, "short long short short") as a sine tone.

GB 45438-2025 allows an audio file's explicit label to be the rhythm prompt "short long short
short", which is the Morse code for "AI".  The standard gives no frequency, unit length or level
(spec §2, [?]); the defaults follow industry practice and are profile options:

* frequency ``DEFAULT_FREQUENCY`` = 800 Hz (a pure sine),
* unit (one dot) ``DEFAULT_UNIT_MS`` = 80 ms, allowed 40-200 ms (practice: 60-120 ms),
* level ``DEFAULT_LEVEL_DB`` = -6 dBFS peak,
* Morse timing: dash = 3 units; gap inside a letter = 1 unit, between letters = 3 units,
* each tone starts and ends with a raised-cosine fade (``DEFAULT_FADE_MS`` = 5 ms) so it does not click,
* silence of ``DEFAULT_PAD_UNITS`` units before and after, so the prompt stands apart from the content.

With the defaults the tones last 11 units = 0.88 s, the whole prompt 17 units = 1.36 s.

The tone is synthesised directly at the target sample rate (no resampling).  numpy is imported
inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["PATTERN", "SYMBOLS", "RhythmSpec", "rhythm_samples", "tone_units", "DEFAULT_FREQUENCY",
           "DEFAULT_UNIT_MS", "DEFAULT_LEVEL_DB", "DEFAULT_FADE_MS", "DEFAULT_PAD_UNITS", "UNIT_RANGE_MS",
           "FREQUENCY_RANGE"]

DEFAULT_FREQUENCY = 800.0
DEFAULT_UNIT_MS = 80.0
DEFAULT_LEVEL_DB = -6.0
DEFAULT_FADE_MS = 5.0
DEFAULT_PAD_UNITS = 3.0
#: what marking accepts (the detector searches the same ranges)
UNIT_RANGE_MS = (40.0, 200.0)
FREQUENCY_RANGE = (300.0, 3000.0)

#: Morse "AI": (tone on?, length in units) - dot, gap, dash, letter gap, dot, gap, dot
PATTERN: tuple[tuple[bool, int], ...] = ((True, 1), (False, 1), (True, 3), (False, 3), (True, 1), (False, 1),
                                         (True, 1))
SYMBOLS = "·− ··"


def tone_units() -> int:
    """Length of the tone pattern in units (11)."""
    return sum(n for _, n in PATTERN)


@dataclass(frozen=True)
class RhythmSpec:
    """The rhythm prompt's parameters (validated on creation)."""

    frequency: float = DEFAULT_FREQUENCY
    unit_ms: float = DEFAULT_UNIT_MS
    level_db: float = DEFAULT_LEVEL_DB
    fade_ms: float = DEFAULT_FADE_MS
    pad_units: float = DEFAULT_PAD_UNITS

    def __post_init__(self) -> None:
        lo, hi = UNIT_RANGE_MS
        if not lo <= self.unit_ms <= hi:
            raise ValueError(f"rhythm prompt unit must be {lo:g}-{hi:g} ms, not {self.unit_ms:g}")
        flo, fhi = FREQUENCY_RANGE
        if not flo <= self.frequency <= fhi:
            raise ValueError(f"rhythm prompt frequency must be {flo:g}-{fhi:g} Hz, not {self.frequency:g}")
        if not -40.0 <= self.level_db <= 0.0:
            raise ValueError(f"rhythm prompt level must be -40 to 0 dBFS, not {self.level_db:g}")
        if not 0.0 <= self.fade_ms <= self.unit_ms / 2:
            raise ValueError(f"rhythm prompt fade must be 0 to half a unit ({self.unit_ms / 2:g} ms), "
                             f"not {self.fade_ms:g}")
        if not 0.0 <= self.pad_units <= 20.0:
            raise ValueError(f"rhythm prompt padding must be 0-20 units, not {self.pad_units:g}")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RhythmSpec:
        """Read ``frequency``/``rhythm_frequency``, ``unit_ms``, ``level_db``, ``fade_ms``, ``pad_units``."""
        def pick(*names: str, default: float) -> float:
            for name in names:
                if options.get(name) is not None:
                    return float(options[name])
            return default

        return cls(frequency=pick("rhythm_frequency", "frequency", default=DEFAULT_FREQUENCY),
                   unit_ms=pick("rhythm_unit_ms", "unit_ms", default=DEFAULT_UNIT_MS),
                   level_db=pick("rhythm_level_db", "level_db", default=DEFAULT_LEVEL_DB),
                   fade_ms=pick("rhythm_fade_ms", "fade_ms", default=DEFAULT_FADE_MS),
                   pad_units=pick("rhythm_pad_units", "pad_units", default=DEFAULT_PAD_UNITS))

    @property
    def tone_seconds(self) -> float:
        return tone_units() * self.unit_ms / 1000.0

    @property
    def seconds(self) -> float:
        return (tone_units() + 2 * self.pad_units) * self.unit_ms / 1000.0

    def describe(self) -> str:
        return (f"rhythm prompt {SYMBOLS} (Morse 'AI'), {self.frequency:g} Hz sine, unit {self.unit_ms:g} ms, "
                f"{self.level_db:g} dBFS, {self.tone_seconds:.2f} s of tones")


def rhythm_samples(rate: int, spec: RhythmSpec | None = None, *, pad: bool = True) -> np.ndarray:
    """The prompt as mono float32 samples in [-1, 1] at *rate* Hz (padding included when *pad*).

    Segment boundaries are rounded to whole samples from the start of the pattern, so the lengths
    never drift; each tone is a sine starting at phase 0 with raised-cosine fades in and out.
    """
    import numpy as np

    spec = spec or RhythmSpec()
    if rate < 2 * spec.frequency + 1:
        raise ValueError(f"a {spec.frequency:g} Hz tone needs a sample rate above {2 * spec.frequency:g} Hz, "
                         f"not {rate}")
    unit = spec.unit_ms / 1000.0 * rate  # samples per unit (fractional)
    lead = int(round(spec.pad_units * unit)) if pad else 0
    total = lead + int(round(tone_units() * unit)) + (int(round(spec.pad_units * unit)) if pad else 0)
    out = np.zeros(total, dtype=np.float32)
    amp = 10.0 ** (spec.level_db / 20.0)
    fade = int(round(spec.fade_ms / 1000.0 * rate))
    at = 0.0
    for on, n in PATTERN:
        start, end = lead + int(round(at * unit)), lead + int(round((at + n) * unit))
        at += n
        if not on:
            continue
        length = end - start
        tone = np.sin(2.0 * np.pi * spec.frequency * np.arange(length) / rate)
        f = min(fade, length // 2)
        if f:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(f) + 0.5) / f)  # raised cosine, 0 -> 1
            tone[:f] *= ramp
            tone[length - f:] *= ramp[::-1]
        out[start:end] = (amp * tone).astype(np.float32)
    return out
