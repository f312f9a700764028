"""The resource budget every reader, decoder and marker honours.

aigclabel runs on strangers' uploads, so no input may make it allocate gigabytes, decode for
minutes or recurse without end.  One :class:`Limits` object names every budget; the one in force
is carried in a context variable, so library calls, the CLI and the service set it once and every
handler, decoder and rule deep below reads the same numbers::

    from aigclabel.limits import Limits, use_limits
    with use_limits(Limits(max_pixels=50_000_000)):
        aigclabel.verify(upload)

The checks are made on **declared** sizes, before anything is allocated or decoded: a 32 KB file
that declares a 4.3 GHz sample rate or a 4 GB strip is refused from its header.  Exceeding a budget
raises :class:`~aigclabel.errors.LimitExceeded` (a :class:`~aigclabel.errors.CorruptFile`: the
file could not be checked), naming the limit; a rule that hits one reports *not checked*.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import LimitExceeded

__all__ = ["Limits", "DEFAULT_LIMITS", "current", "use_limits", "parse_limits", "Budget",
           "check_allocation", "check_count", "check_depth", "check_pixels", "check_audio",
           "check_video_frames", "check_deadline", "check_memory", "LIMIT_NAMES"]

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource budgets; every field has a safe default for a web service on a small machine."""

    #: total bytes one operation may read from its source (a 1 TB "file" is not read to the end)
    max_bytes_read: int = 64 * 1024 * MiB
    #: one buffer we allocate from a size the file declares (a chunk, a tag, a frame, a strip)
    max_allocation: int = 256 * MiB
    #: nesting of boxes, atoms, EBML elements, PDF objects, XML
    max_depth: int = 64
    #: how many structures (chunks, boxes, tags, frames, pages, ZIP members) one file may declare
    max_structures: int = 200_000
    #: decoded pixels of one picture or frame (Pillow's own bomb limit is ~89 M)
    max_pixels: int = 90_000_000
    #: audio sample rate we accept (Hz); 768 kHz is the highest rate real equipment records
    max_sample_rate: int = 768_000
    #: audio channels
    max_channels: int = 64
    #: decoded audio samples (rate x channels x seconds) one operation may hold at once
    max_audio_samples: int = 64_000_000
    #: video frames one operation may decode
    max_video_frames: int = 2_000
    #: wall time of decoding/OCR in one operation (seconds)
    max_decode_seconds: float = 60.0

    def replace(self, **changes: Any) -> Limits:
        return dataclasses.replace(self, **changes)


DEFAULT_LIMITS = Limits()
LIMIT_NAMES = tuple(f.name for f in dataclasses.fields(Limits))


@dataclass
class Budget:
    """The limits in force plus the clock of the current operation."""

    limits: Limits = DEFAULT_LIMITS
    started: float = field(default_factory=time.monotonic)


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("aigclabel_budget", default=None)


def current() -> Limits:
    """The limits in force (the defaults when no caller set any)."""
    budget = _current.get()
    return budget.limits if budget is not None else DEFAULT_LIMITS


@contextlib.contextmanager
def use_limits(limits: Limits | None = None, *, restart_clock: bool = True) -> Iterator[Limits]:
    """Run the block under *limits* (default: those already in force); the decode clock restarts."""
    outer = _current.get()
    chosen = limits if limits is not None else (outer.limits if outer is not None else DEFAULT_LIMITS)
    started = time.monotonic() if restart_clock or outer is None else outer.started
    token = _current.set(Budget(chosen, started))
    try:
        yield chosen
    finally:
        _current.reset(token)


def _size_value(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def parse_limits(spec: str | dict[str, Any] | None, base: Limits | None = None) -> Limits:
    """``"max_pixels=50e6,max_allocation=128M"`` (or a dict) -> :class:`Limits`; ValueError names a bad key."""
    base = base or DEFAULT_LIMITS
    if not spec:
        return base
    items: dict[str, Any]
    if isinstance(spec, dict):
        items = dict(spec)
    else:
        items = {}
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"limit {part.strip()!r} is not NAME=VALUE")
            items[key.strip().replace("-", "_")] = value.strip()
    changes: dict[str, Any] = {}
    for key, value in items.items():
        name = key if key.startswith("max_") else f"max_{key}"
        if name not in LIMIT_NAMES:
            raise ValueError(f"unknown limit {key!r} (known: {', '.join(LIMIT_NAMES)})")
        try:
            number: Any = float(value) if name == "max_decode_seconds" else _size_value(str(value))
        except ValueError:
            raise ValueError(f"limit {key}: {value!r} is not a number") from None
        if number <= 0:
            raise ValueError(f"limit {key} must be positive")
        changes[name] = number
    return base.replace(**changes)


# -- checks: call these with the sizes a file declares, before allocating or decoding --------------

def check_allocation(n: int, what: str) -> int:
    """Refuse to allocate *n* bytes for *what* when over ``max_allocation`` (or negative)."""
    limit = current().max_allocation
    if n < 0:
        raise LimitExceeded("max_allocation", f"{what} declares a negative size ({n})")
    if n > limit:
        raise LimitExceeded("max_allocation", f"{what} declares {n:,} bytes (limit {limit:,})")
    return n


def check_memory(n: int, what: str) -> int:
    """Refuse work that would hold *n* bytes at once (an estimate, not one declared size) over ``max_allocation``;
    the message reads "*what* takes up to N bytes of memory (limit L)"."""
    limit = current().max_allocation
    if n > limit:
        raise LimitExceeded("max_allocation", f"{what} takes up to {n:,} bytes of memory (limit {limit:,})")
    return n


def check_count(n: int, what: str) -> int:
    limit = current().max_structures
    if n > limit:
        raise LimitExceeded("max_structures", f"{what}: {n:,} (limit {limit:,})")
    return n


def check_depth(depth: int, what: str) -> int:
    limit = current().max_depth
    if depth > limit:
        raise LimitExceeded("max_depth", f"{what} nests {depth} levels deep (limit {limit})")
    return depth


def check_pixels(width: int, height: int, what: str = "picture", frames: int = 1) -> int:
    """Refuse a picture whose declared size is over ``max_pixels`` (per frame) before decoding it."""
    if width <= 0 or height <= 0:
        raise LimitExceeded("max_pixels", f"{what} declares an empty size {width}x{height}")
    pixels = width * height
    limit = current().max_pixels
    if pixels > limit:
        raise LimitExceeded("max_pixels", f"{what} is {width}x{height} = {pixels:,} pixels (limit {limit:,})")
    check_count(frames, f"{what} frames")
    return pixels


def check_audio(sample_rate: float, channels: int, seconds: float | None = None, what: str = "audio") -> int:
    """Refuse a declared sample rate/channel count, and a decode of *seconds*, over the limits.

    Returns the number of samples (rate x channels x seconds) the decode may produce.
    """
    lim = current()
    if not (0 < sample_rate <= lim.max_sample_rate):
        raise LimitExceeded("max_sample_rate", f"{what} declares a sample rate of {sample_rate:g} Hz "
                                               f"(accepted: 1-{lim.max_sample_rate:,} Hz)")
    if not (0 < channels <= lim.max_channels):
        raise LimitExceeded("max_channels", f"{what} declares {channels} channels (accepted: 1-{lim.max_channels})")
    if seconds is None:
        return 0
    samples = int(sample_rate * channels * max(0.0, seconds))
    if samples > lim.max_audio_samples:
        raise LimitExceeded("max_audio_samples", f"decoding {seconds:.1f} s of {what} needs {samples:,} samples "
                                                 f"(limit {lim.max_audio_samples:,})")
    return samples


def check_video_frames(n: int, what: str = "video") -> int:
    limit = current().max_video_frames
    if n > limit:
        raise LimitExceeded("max_video_frames", f"{what}: {n:,} frames to decode (limit {limit:,})")
    return n


def check_deadline(what: str) -> None:
    """Call inside decode/OCR loops: raise when the operation has run past ``max_decode_seconds``.

    The clock is the current operation's (started by :func:`use_limits`, which every entry point
    enters); code called outside any operation has no deadline to keep.
    """
    budget = _current.get()
    if budget is None:
        return
    elapsed = time.monotonic() - budget.started
    if elapsed > budget.limits.max_decode_seconds:
        raise LimitExceeded("max_decode_seconds", f"{what} stopped after {elapsed:.1f} s "
                                                  f"(limit {budget.limits.max_decode_seconds:g} s)")
