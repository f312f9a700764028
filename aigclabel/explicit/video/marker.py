"""The video marker: plans the label, re-encodes the labelled segments (or the whole video when a
splice is not possible or not reliable) and reports what it did."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..._io import temp_directory
from ...errors import UnsupportedOperation
from ...formats.media_video import NoVideo, PacketTable, Remux, need_av
from .. import ExplicitOptions, ExplicitResult
from ..fonts import resolve_font
from ..render import LabelLayout, Sizing, plan_label
from .encode import ENCODERS
from .paint import Painter
from .plan import Plan, Range, range_end_pts, ranges, windows
from .splice_check import check_splices
from .transcode import Stats, transcode

if TYPE_CHECKING:  # pragma: no cover
    from ..._io import CountingReader
    from ...formats.base import FormatHandler

__all__ = ["VideoMarker"]


@dataclasses.dataclass
class _Job:
    """One labelling run: the source, its packet table, how to write it, and the plan."""

    av: Any
    path: str
    out_path: str
    table: PacketTable
    remux: Remux
    layout: LabelLayout
    plan: Plan

    def write(self, rs: list[Range], full: bool) -> Stats:
        painter = Painter(self.layout, self.table.facts.rotation)
        return transcode(self.av, self.path, self.out_path, self.table, self.remux, rs, painter, self.plan, full)


def _check_stream(table_codec: str, field_order: str) -> None:
    if field_order in ("tt", "bb", "tb", "bt"):
        raise UnsupportedOperation("visible labels on interlaced video are not supported in this version "
                                   f"(field order {field_order})")
    if table_codec not in ENCODERS:
        raise UnsupportedOperation(f"visible labels on {table_codec} video are not supported in this version "
                                   f"(supported: {', '.join(sorted(ENCODERS))})")


def _label(job: _Job, notes: list[str]) -> tuple[Stats, bool]:
    """Write the labelled video; (stats, whether it was re-encoded whole).  Notes say how."""
    table, plan = job.table, job.plan
    codec = table.facts.codec
    encoder, can_splice = ENCODERS[codec]
    wins = windows(table, plan)
    rs = None if plan.mode == "full" or not can_splice else ranges(table, wins)
    if rs is None:
        why = ("as asked" if plan.mode == "full" else f"{codec} cannot be cut at key frames here"
               if not can_splice else "no clean key frame lets the labelled span be cut out")
        stats = job.write([Range(0, len(table.packets), [(a, b) for _n, a, b in wins])], True)
        notes.append(f"the whole video was re-encoded ({why}) with {encoder} at {stats.quality}")
        return stats, True
    stats = job.write(rs, False)
    problem = check_splices(job.av, job.path, job.out_path, table, rs)
    if problem is not None:
        os.unlink(job.out_path)
        stats = job.write(rs, True)
        notes.append(f"re-encoding only the labelled span was not reliable here ({problem}); the whole "
                     f"video was re-encoded with {encoder} at {stats.quality}")
        return stats, True
    spans = ", ".join(f"{table.seconds(table.packets[r.start].pts or 0):.2f}-"
                      f"{table.seconds(range_end_pts(table, r)):.2f} s" for r in rs)
    how = f"{stats.reencoded_frames} frames, {encoder} at {stats.quality}, no B-frames"
    if stats.copied_packets:
        notes.append(f"only {spans} of the video was re-encoded ({how}); the other {stats.copied_packets} "
                     "video packets were copied unchanged and checked to decode identically after each splice")
    else:
        notes.append(f"the labels cover the whole video: all of it was re-encoded ({how})")
    return stats, False


class VideoMarker:
    """Draws the text label on the opening frames of MP4/MOV, MKV and WebM video."""

    formats = ("mp4", "mkv", "webm")

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in self.formats

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        if handler.name not in self.formats:
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} video are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        av = need_av()
        plan = Plan.from_options(options.extra)
        font = resolve_font(options.text, options.font)
        # Our reader walks the container first, under the limits: a file it refuses (10^6 tags, a
        # broken box tree) is refused here too, before libavformat rewrites it into something else.
        handler.read(src)
        access = handler.video_access(src)
        with temp_directory("video") as tmp:
            path = access.local_path(tmp)
            try:
                facts = access.stream_facts(path)
            except NoVideo:
                return _audible_instead(src, handler, options)
            _check_stream(facts.codec, facts.field_order)
            table = access.packet_table(path, facts)
            remux = access.remux()
            display = (facts.height, facts.width) if facts.rotation in (90, 270) else (facts.width, facts.height)
            layout = plan_label(display, options.text, options.position, Sizing.from_options(options), font)
            notes = list(remux.notes)
            job = _Job(av, path, os.path.join(tmp, "out" + Path(path).suffix), table, remux, layout, plan)
            stats, full = _label(job, notes)
            # The labelled video goes on as an open file, not bytes: a long clip never sits in memory whole
            # (issue 15). The directory is removed when the block ends; on POSIX the open file lives on,
            # unnamed, until the metadata step closes it.
            out = open(job.out_path, "rb")  # noqa: SIM115 - closed by ExplicitResult.close
        return _result(out, handler, job, stats, full, notes)


def _result(data: BinaryIO, handler: FormatHandler, job: _Job, stats: Stats, full: bool,
            notes: list[str]) -> ExplicitResult:
    layout, plan, table = job.layout, job.plan, job.table
    shown = [f"{a:.2f}-{b:.2f} s" for a, b in stats.labelled_spans]
    short = [(a, b) for a, b in stats.labelled_spans if b - a < plan.duration_s - 1e-6]
    notes.insert(0, f"visible label {layout.text!r} drawn at {layout.position} on {stats.labelled_frames} frames "
                    f"({', '.join(shown)}): ink height {layout.ink_height} px = {layout.height_ratio:.1%} of the "
                    f"shortest side, box {list(layout.box)}, font {layout.font.describe()}")
    if short:
        notes.append(f"the video is shorter than the {plan.duration_s:g}-s label: it is shown for the whole video")
    notes.append("audio and every other stream were stream-copied (packets unchanged); the container was "
                 f"rewritten by libavformat ({job.remux.muxer}) with its metadata, chapters and attachments")
    details = layout.details()
    details.update({"format": handler.name, "codec": table.facts.codec, "mode": "full" if full else "partial",
                    "windows": [list(w) for w in stats.labelled_spans], "duration_s": plan.duration_s,
                    "at": plan.at, "labelled_frames": stats.labelled_frames,
                    "reencoded_frames": stats.reencoded_frames, "quality": stats.quality,
                    "rotation": table.facts.rotation})
    return ExplicitResult(data, notes, details)


def _audible_instead(src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
    """An audio-only file in a video container gets the audible label, when this version can add one."""
    from ..audio import AudioMarker

    marker = AudioMarker()
    if not marker.supports(handler):
        raise UnsupportedOperation(f"the {handler.name.upper()} file has no video stream, and an audible label "
                                   "cannot be added to it in this version; mark it with --no-explicit "
                                   "(explicit=False)")
    audio_options = dataclasses.replace(options, extra={k: v for k, v in options.extra.items()
                                                         if k in ("prompt", "positions")})
    result = marker.apply(src, handler, audio_options)
    result.notes.insert(0, "the file has no video stream: an audible label was added instead of a visible one")
    return result
