"""Structured access to a video file for the explicit step and the rules (``handler.video_access``).

A video handler (MP4/MOV, MKV, WebM, AVI, FLV) returns a :class:`VideoAccess` for an open source.
It is the one door to the streams: the check of the visible label asks it for the decoded frames
of the opening seconds, the video marker for the stream facts, the packet table (time stamps,
clean key frames, the H.264/HEVC NAL format) and how the container is rewritten.  Every read goes
through :mod:`._av_video` under the limits in force (:mod:`aigclabel.limits`) and with PyAV's
exceptions translated (:func:`aigclabel.foreign.av_errors`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..errors import UnsupportedOperation
from . import _av_video
from ._av_video import (INSTALL_HINT, NoVideo, OpeningFrames, Packet, PacketTable, StreamFacts, av_open, guarded,
                        need_av)

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader

__all__ = ["VideoAccess", "Remux", "NoVideo", "OpeningFrames", "Packet", "PacketTable", "StreamFacts", "guarded",
           "need_av", "av_open", "INSTALL_HINT"]


@dataclass
class Remux:
    """How libavformat rewrites the container: the muxer, its options, and what the rewrite changes."""

    muxer: str
    options: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class VideoAccess:
    """The streams of one video file (see the module docstring)."""

    def __init__(self, src: CountingReader, fmt: str, remux: Callable[[CountingReader], Remux] | None = None) -> None:
        self.src = src
        self.format = fmt
        self._remux = remux

    # -- for the check ------------------------------------------------------------------------

    def opening_frames(self, span: float, count: int) -> OpeningFrames:
        """*count* frames (displayed orientation) spread over the first *span* seconds.

        Raises :class:`~aigclabel.errors.CorruptFile` (or its :class:`~aigclabel.errors.LimitExceeded`)
        when the stream cannot be decoded within the limits, :class:`NoVideo` without a video stream.
        """
        return _av_video.opening_frames(self.src, span, count)

    # -- for the marker -----------------------------------------------------------------------

    def local_path(self, tmp: str) -> str:
        """A path PyAV can open (seek, reopen): the source file itself, or a copy of it in *tmp*."""
        name = getattr(self.src, "name", "")
        try:
            if name and os.path.isfile(name) and os.path.getsize(name) == self.src.size:
                return name
        except OSError:
            pass
        path = os.path.join(tmp, "source")
        self.src.seek(0)
        with open(path, "wb") as fh:
            self.src.copy_to(fh)
        return path

    def stream_facts(self, path: str) -> StreamFacts:
        """The first video stream's codec, size, time base, rate, field order and display rotation."""
        return _av_video.stream_facts(path)

    def packet_table(self, path: str, facts: StreamFacts) -> PacketTable:
        """Every packet of the video stream (demuxed, not decoded) with its clean key frames."""
        return _av_video.packet_table(path, facts)

    def remux(self) -> Remux:
        """How the container is written again after the video stream was changed."""
        if self._remux is None:
            raise UnsupportedOperation(f"rewriting {self.format.upper()} video is not supported in this version")
        return self._remux(self.src)
