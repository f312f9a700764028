"""Structured access to an audio stream: the door the audible-label marker and check go through.

``handler.audio_access(src)`` returns an :class:`AudioAccess` for WAV, AIFF, FLAC, MP3, Ogg
Vorbis/Opus and M4A.  It offers what the explicit step (:mod:`aigclabel.explicit.audio`) and the
rule (:mod:`aigclabel.rules.explicit_audio`) need, and nothing that makes them parse the file:

* :attr:`AudioAccess.info` -- rate, channels, duration, codec, decoder; the declared rate and
  channel count are checked with :func:`aigclabel.limits.check_audio` when the access is made,
  before anything is allocated (a 32 KB WAV declaring 4.3 GHz is refused there);
* :meth:`AudioAccess.windows` -- mono PCM of named stretches (start / middle / end), each bounded
  by ``max_audio_samples`` and the decode deadline;
* :meth:`AudioAccess.insert` -- the file with a prompt inserted at positions, in the same
  container: bit-exact for WAV/AIFF/FLAC/ALAC, MP3 frames spliced without re-encoding the
  original, a re-encode for Vorbis/Opus/AAC (the result says which).

Which samples the prompt is and where "middle" is are the caller's (an :class:`InsertRequest`);
how they get into the container is this module's and its helpers' (``_pcm_splice``, ``_flac_splice``,
``_mp3_splice``, ``_av_splice``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator

from .. import limits
from ._av_audio import DecoderMissing

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .._io import CountingReader

__all__ = ["AudioInfo", "PcmWindow", "InsertRequest", "Inserted", "AudioAccess", "DecoderMissing",
           "insertion_spots", "splice_placed", "splice_arrays", "checked_info", "POSITIONS", "read_whole"]

POSITIONS = ("start", "end", "middle")

#: read(start frame, count) -> mono float64 samples (used to find a quiet middle)
MonoReader = Callable[[int, int], "np.ndarray"]


@dataclass(frozen=True)
class AudioInfo:
    """An audio stream's rate, channels, duration and codec, and how its windows are decoded."""
    rate: int
    channels: int
    duration_s: float | None
    codec: str  # "pcm", "mp3", "flac", "vorbis", "opus", "aac", "alac"...
    decoder: str  # how windows are decoded, for reports ("PCM read directly", "PyAV 18 (mp3)")


@dataclass
class PcmWindow:
    """A decoded stretch of audio (mono float samples) with its name and start time."""
    name: str
    start_s: float
    rate: int
    samples: Any  # mono float numpy array


@dataclass(frozen=True)
class InsertRequest:
    """What to insert where; the access decides how it goes into the container."""

    positions: tuple[str, ...]
    #: the whole prompt (its own silence included), mono float32, at the given sample rate
    prompt: Callable[[int], Any]
    #: seconds of silence at the prompt's start and end (MP3 makes those of silent frames)
    lead_s: float = 0.0
    trail_s: float = 0.0
    #: chooses the frame index of the "middle" position: middle(read, frames, rate)
    middle: Callable[[MonoReader, int, int], int] | None = None


@dataclass
class Inserted:
    """The result of inserting audible prompts: the new file, where each prompt went, how, notes."""
    data: bytes | BinaryIO  # the whole new file, or a file holding it (the PCM splice writes one as it goes)
    placed: list[dict[str, Any]]  # one entry per inserted prompt: position, at_s, duration_s, ...
    how: str  # one phrase on how the prompt went in ("original samples kept bit-exact around it ...")
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class AudioAccess:
    """Base class; one subclass per container family (see the module docs)."""

    #: windows are read by exact sample offsets (PCM): long scans can be cut in chunks cheaply
    exact_seek = False

    def __init__(self, src: CountingReader, info: AudioInfo, what: str) -> None:
        self.src = src
        self.info = info
        self.what = what

    def windows(self, spans: list[tuple[str, float, float]], rate: int | None = None) -> Iterator[PcmWindow]:
        """Mono PCM of each (name, start s, end s); *rate*: resample to it where the decoder can
        (PCM is returned at its own rate: :attr:`PcmWindow.rate` says which)."""
        raise NotImplementedError

    def insert(self, request: InsertRequest) -> Inserted:
        raise NotImplementedError


def read_whole(src: CountingReader, what: str, copies: int = 3) -> bytes:
    """The whole source in memory (the marker returns a whole new file), within the allocation budget.

    *copies*: how many times the insertion holds about the file's size at once (the source, the
    output and the pieces being joined); that is what is checked against ``max_allocation``.
    """
    from ..errors import CorruptFile

    limits.check_allocation(src.size * copies, f"{what} ({src.size:,} bytes, held {copies} times while the "
                                               "prompt is inserted)")
    src.seek(0)
    data = src.read(src.size)
    if len(data) != src.size:
        raise CorruptFile("the file could not be read completely")
    return bytes(data)


def insertion_spots(request: InsertRequest, frames: int, rate: int, read: MonoReader) -> list[tuple[str, int]]:
    """(position, frame index) for each requested position, in stream order, one prompt per index."""
    spots: dict[int, str] = {}
    for pos in request.positions:
        if pos == "start":
            at = 0
        elif pos == "end":
            at = frames
        else:
            at = request.middle(read, frames, rate) if request.middle is not None else frames // 2
        spots.setdefault(max(0, min(frames, at)), pos)
    return sorted(((p, at) for at, p in spots.items()), key=lambda item: item[1])


def splice_placed(spots: list[tuple[str, int]], plen: int, rate: int) -> list[dict[str, Any]]:
    """The ``inserted`` entries for prompts of *plen* frames put before each frame index in *spots*."""
    placed = []
    shift = 0
    for position, at in spots:
        placed.append({"position": position, "at_s": round((at + shift) / rate, 3),
                       "source_at_s": round(at / rate, 3), "duration_s": round(plen / rate, 3),
                       "source_at_frame": at, "frames": plen})
        shift += plen
    return placed


def splice_arrays(x: Any, spots: list[tuple[str, int]], prompt: Any, axis: int) -> Any:
    """*x* with *prompt* inserted before each frame index in *spots* along *axis* (numpy)."""
    import numpy as np

    def part(a: int, b: int) -> Any:
        index: list[slice] = [slice(None)] * x.ndim
        index[axis] = slice(a, b)
        return x[tuple(index)]

    pieces, last = [], 0
    for _position, at in spots:
        pieces += [part(last, at), prompt]
        last = at
    pieces.append(part(last, x.shape[axis]))
    return np.ascontiguousarray(np.concatenate(pieces, axis=axis))


def checked_info(rate: float, channels: int, duration_s: float | None, codec: str, decoder: str,
                 what: str) -> AudioInfo:
    """An :class:`AudioInfo` after the declared rate and channels passed the budget."""
    limits.check_audio(rate, channels, None, what)
    if duration_s is not None and not math.isfinite(duration_s):
        duration_s = None
    return AudioInfo(int(rate), channels, duration_s, codec, decoder)
