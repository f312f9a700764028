"""The audio marker: the prompt plan in, the file with the prompt inserted out.

Every container detail is the handler's: the marker asks ``handler.audio_access(src)`` for the
stream and its ``insert`` (WAV/AIFF spliced bit-exact, FLAC and ALAC re-encoded losslessly, MP3
frames spliced without re-encoding, Vorbis/Opus/AAC re-encoded) and adds the notes and details
the CLI and the JSON report show.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from ... import limits
from ..._io import CountingReader
from ...errors import UnsupportedOperation
from .. import ExplicitOptions, ExplicitResult
from .placement import insert_request
from .prompt import VOICE_CLIP, VOICE_TEXT, PromptPlan

if TYPE_CHECKING:  # pragma: no cover
    from ...formats.base import FormatHandler
    from ...formats.media_audio import Inserted

__all__ = ["AudioMarker", "SUPPORTED", "INSTALL_HINT", "mark_bytes", "mark_pcm_wav", "mark_aiff", "mark_flac",
           "mark_mp3", "mark_reencode"]

INSTALL_HINT = "pip install 'aigclabel[audio]'"
#: formats the marker handles (handler names); the marker needs numpy, plus lameenc for MP3 and PyAV
#: for FLAC, Ogg, Opus and M4A - when missing, :meth:`AudioMarker.apply` says what to install
SUPPORTED = ("wav", "aiff", "flac", "mp3", "ogg", "opus", "m4a", "mp4", "aac")


def _need_numpy() -> None:
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise UnsupportedOperation(f"adding an audible label needs numpy ({INSTALL_HINT})") from None


class AudioMarker:
    """Explicit marker for audio: inserts the prompt where the options say (see :mod:`aigclabel.explicit.audio`)."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in SUPPORTED

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        plan = PromptPlan.from_options(options.extra or {})
        _need_numpy()
        if handler.name not in SUPPORTED:
            raise UnsupportedOperation(f"adding an audible label to {handler.name.upper()} is not supported yet")
        result = _result(plan, handler.audio_access(src).insert(insert_request(plan)))
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


def _result(plan: PromptPlan, done: Inserted) -> ExplicitResult:
    spots = ", ".join(f"{p['position']} ({p['at_s']:.2f} s, {p['duration_s']:.2f} s long)" for p in done.placed)
    note = f"audible label added: {plan.describe()}, inserted at the {spots}; {done.how}"
    details: dict[str, Any] = {"method": done.details.get("method"), "inserted": done.placed}
    details.update(done.details)
    return ExplicitResult(done.data, [note] + done.notes, details)


# -------------------------------------------------------------------- the explicit step on bytes


def mark_bytes(data: bytes, plan: PromptPlan, handler_name: str | None = None) -> ExplicitResult:
    """The prompt inserted into the file in *data* (for pipelines holding bytes, and the tests).

    The format is detected from the content; *handler_name* insists on one (``"wav"``, ``"mp3"``...),
    so a file of another format is refused instead of being marked as something else.
    """
    from ...formats import handler_for

    _need_numpy()
    src = CountingReader(io.BytesIO(data), "<bytes>", len(data))
    with limits.use_limits(restart_clock=False):
        handler = handler_for(src)
        if handler_name is not None and handler.name != handler_name and not (
                handler_name in ("m4a", "mp4", "aac") and handler.name in ("m4a", "mp4")):
            from ...errors import CorruptFile

            raise CorruptFile(f"not a {handler_name.upper()} file (the content is {handler.name.upper()})")
        return _result(plan, handler.audio_access(src).insert(insert_request(plan)))


def mark_pcm_wav(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """WAV: the prompt spliced into the ``data`` chunk; every other chunk kept as it was."""
    return mark_bytes(data, plan, "wav")


def mark_aiff(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """AIFF/AIFF-C: the prompt spliced into ``SSND``; ``COMM``'s frame count updated; all else kept."""
    return mark_bytes(data, plan, "aiff")


def mark_flac(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """FLAC: decoded, the prompt inserted, re-encoded losslessly (same bit depth); metadata blocks kept."""
    return mark_bytes(data, plan, "flac")


def mark_mp3(data: bytes, plan: PromptPlan) -> ExplicitResult:
    """MP3: the prompt inserted as new frames; the original frames keep their bytes."""
    return mark_bytes(data, plan, "mp3")


def mark_reencode(data: bytes, plan: PromptPlan, name: str) -> ExplicitResult:
    """Ogg Vorbis, Opus, M4A: decoded, the prompt inserted, re-encoded at the original's bitrate."""
    return mark_bytes(data, plan, name)
