"""Writing the labelled video: the packets of the labelled ranges decoded, painted and re-encoded
(all of them in a full re-encode), every other packet of every stream copied unchanged.

In a partial re-encode the new pictures are put back in the stream's own NAL format (length
prefixes instead of the encoder's start codes), take the source's decode time stamps where they
fit (so the copied part's stay valid) and the source's frame durations; the parameter sets of the
stream's configuration record are put in front of the first copied picture after each range, so
each part decodes with its own.  Every call that reads the *source* through PyAV is inside
:func:`aigclabel.foreign.av_errors` (hostile metadata, half-set streams); the encoder and muxer,
fed by us, report failures as :class:`UnsupportedOperation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import CorruptFile, UnsupportedOperation
from ...foreign import av_errors
from ...formats._nal import annexb_to_lengths, with_lengths
from ...formats.media_video import PacketTable, Remux, av_open, guarded
from ...limits import check_deadline, check_video_frames
from .encode import ENCODERS, Shape, codec_tag, copy_disposition, new_encoder, quality
from .paint import Painter
from .plan import Plan, Range

__all__ = ["Stats", "transcode"]


@dataclass
class Stats:
    """Counts of one labelling pass over a video (frames re-encoded and labelled, packets copied)."""
    reencoded_frames: int = 0
    labelled_frames: int = 0
    copied_packets: int = 0
    labelled_spans: list[tuple[float, float]] = field(default_factory=list)
    quality: str = ""


def transcode(av: Any, src_path: str, out_path: str, table: PacketTable, remux: Remux, ranges: list[Range],
              painter: Painter, plan: Plan, full: bool) -> Stats:
    """Write *out_path*: the video's packets in *ranges* re-encoded with the label (all of them when
    *full*), everything else stream-copied."""
    pk = table.packets
    if full:
        ranges = [Range(0, len(pk), [w for r in ranges for w in r.windows])]
    check_video_frames(sum(r.end - r.start for r in ranges), "re-encoding the labelled video")
    with av_errors("opening the video for labelling"):
        inp = av_open(av, src_path)
    try:
        out = av_open(av, out_path, "w", format=remux.muxer, options=dict(remux.options))
    except av.FFmpegError as exc:
        inp.close()
        raise UnsupportedOperation(f"the {remux.muxer} muxer cannot be opened: {exc}") from None
    job = _Transcoder(av, inp, out, table, ranges, painter, plan, full)
    failed = False
    try:
        job.add_streams()
        job.run()
    except av.FFmpegError as exc:
        failed = True
        raise UnsupportedOperation(f"rewriting the video failed: {exc}") from None
    except BaseException:
        failed = True
        raise
    finally:
        inp.close()
        try:
            out.close()  # writes the trailer (and, for MP4 with moov first, moves moov to the front)
        except av.FFmpegError as exc:
            if not failed:
                raise UnsupportedOperation(f"finishing the rewritten video failed: {exc}") from None
    job.stats.labelled_spans = [(table.seconds(a), table.seconds(b)) for r in ranges for a, b in r.windows]
    return job.stats


class _Transcoder:
    """One pass over the source's packets (see the module docstring)."""

    def __init__(self, av: Any, inp: Any, out: Any, table: PacketTable, ranges: list[Range], painter: Painter,
                 plan: Plan, full: bool) -> None:
        self.av, self.inp, self.out, self.table = av, inp, out, table
        self.painter, self.plan, self.full = painter, plan, full
        self.encoder_name = ENCODERS[table.facts.codec][0]
        self.starts = {r.start: r for r in ranges}
        self.ends = {r.end for r in ranges}
        self.stats = Stats()
        self.mapping: dict[int, Any] = {}
        self.video_out: Any = None
        self.decoder: Any = None
        self.enc: Any = None  # the encoder's codec context (partial: one per range)
        self.current: Range | None = None
        self._reset_range()

    def _reset_range(self) -> None:
        self.dts_queue: list[int | None] = []
        self.durations: dict[int, int] = {}
        self.emitted = 0
        self.last_dts: int | None = None

    # -- streams ------------------------------------------------------------------------------

    def add_streams(self) -> None:
        av, inp, out = self.av, self.inp, self.out
        with av_errors("reading the container metadata"):
            out.metadata.update(dict(inp.metadata))
            streams = list(inp.streams)
        index = self.table.facts.index
        for s in streams:
            with av_errors("reading the stream parameters"):
                kind = s.type
            if kind == "attachment":
                self._attachment(s)
            elif s.index == index and self.full:  # configured now: the header is written at the first packet
                self.mapping[s.index] = self._encoded_stream(s)
            else:
                self.mapping[s.index] = self._copied_stream(s)
        try:
            with av_errors("reading the chapters"):
                chapters = inp.chapters()
            if chapters:
                out.set_chapters(chapters)
        except (AttributeError, av.FFmpegError, ValueError, TypeError, CorruptFile):
            pass  # chapters are kept where libavformat can; a bad chapter list is dropped, not fatal
        with av_errors("opening the video decoder"):
            self.decoder = inp.streams[index].codec_context
            self.decoder.thread_type = "AUTO"
        self.video_out = self.mapping.get(index)
        if self.full:
            self.enc = self.video_out.codec_context

    def _attachment(self, s: Any) -> None:
        with av_errors("reading an attachment"):
            name, mimetype, data = s.name, s.mimetype, bytes(s.data)
        try:
            self.out.add_attachment(name, mimetype, data)
        except (AttributeError, self.av.FFmpegError, ValueError, TypeError) as exc:
            raise UnsupportedOperation(f"the attachment {name!r} cannot be carried over ({exc})") from None

    def _encoded_stream(self, s: Any) -> Any:
        av, table = self.av, self.table
        opts, self.stats.quality = quality(table, table.packets, self.encoder_name)
        o = self.out.add_stream(self.encoder_name, rate=table.facts.rate)
        with av_errors("reading the video stream parameters"):
            dec = s.codec_context
            shape = Shape(dec.width, dec.height, av.VideoFormat(dec.pix_fmt))
            metadata = dict(s.metadata)
        new_encoder(av, table, dec, shape, opts, self.plan.preset, False, o.codec_context)
        o.time_base = table.facts.time_base
        o.metadata.update(metadata)
        copy_disposition(s, o)
        codec_tag(s, o)
        return o

    def _copied_stream(self, s: Any) -> Any:
        try:
            o = self.out.add_stream_from_template(s)
        except (ValueError, self.av.FFmpegError, TypeError, AttributeError) as exc:
            raise UnsupportedOperation(f"stream #{s.index} cannot be carried over: {exc}") from None
        with av_errors("reading the stream metadata"):
            metadata = dict(s.metadata)
        o.metadata.update(metadata)
        copy_disposition(s, o)
        try:
            o.time_base = s.time_base
        except (AttributeError, ValueError, TypeError):
            pass
        return o

    # -- the re-encoded pictures ----------------------------------------------------------------

    def _mux_encoded(self, packets: list[Any]) -> None:
        """Mux encoder packets; in a partial re-encode, in the stream's NAL format and time stamps."""
        nal, av = self.table.nal, self.av
        for q in packets:
            if not self.full:
                pts, key, dur = q.pts, q.is_keyframe, q.duration
                if nal is not None and nal.length_size is not None and q.size:
                    q = av.Packet(annexb_to_lengths(bytes(q), nal.length_size))
                    q.pts, q.is_keyframe = pts, key
                orig = self.dts_queue[self.emitted] if self.emitted < len(self.dts_queue) else None
                self.emitted += 1
                if pts is not None:
                    # the source's decode time where it fits (so the copied part's stay valid), never
                    # after the picture's own time, always increasing
                    dts = pts if orig is None else min(orig, pts)
                    if self.last_dts is not None and dts <= self.last_dts:
                        dts = self.last_dts + 1
                    q.dts = self.last_dts = dts
                    q.duration = self.durations.get(pts, dur or 0)
                q.time_base = self.table.facts.time_base
                q.stream = self.video_out
            self.out.mux(q)

    def _encode(self, frame: Any) -> None:
        if self.enc is None:
            assert self.current is not None
            span = self.table.packets[self.current.start:self.current.end]
            opts, self.stats.quality = quality(self.table, span, self.encoder_name)
            self.enc = new_encoder(self.av, self.table, self.decoder, frame, opts, self.plan.preset, True)
        encoded = self.video_out.encode(frame) if self.full else self.enc.encode(frame)
        self._mux_encoded(list(encoded))

    def _picture(self, frame: Any) -> None:
        assert self.current is not None
        if frame.pts is not None and any(a <= frame.pts < b for a, b in self.current.windows):
            frame = self.painter.paint(self.av, frame)
            self.stats.labelled_frames += 1
        frame.pict_type = 0
        self.stats.reencoded_frames += 1
        if self.stats.reencoded_frames % 16 == 0:
            check_deadline("re-encoding the labelled video")
        self._encode(frame)

    def _decode(self, packet: Any) -> None:
        at = float((packet.pts or 0) * packet.time_base) if packet is not None else None
        with av_errors("decoding the video" + (f" at {at:.2f} s" if at is not None else "")):
            frames = list(self.decoder.decode(packet))
        for frame in frames:
            self._picture(frame)

    def _close_range(self) -> None:
        self._decode(None)
        if self.enc is not None:
            self._mux_encoded(list(self.video_out.encode(None) if self.full else self.enc.encode(None)))
        self.decoder.flush_buffers()
        if not self.full:
            self.enc = None
        self.current = None
        self._reset_range()

    # -- the pass -------------------------------------------------------------------------------

    def _copied_video(self, packet: Any, after_range: bool) -> Any:
        """A copied picture; the first after a re-encoded range gets the stream's parameter sets."""
        nal = self.table.nal
        with av_errors("reading a video packet"):
            data = bytes(packet) if after_range and nal is not None else b""
        if data and nal is not None and not nal.has_params(data):
            new = self.av.Packet(with_lengths(nal.param_sets, nal.length_size) + data)
            new.pts, new.dts, new.duration = packet.pts, packet.dts, packet.duration
            new.time_base = packet.time_base
            new.is_keyframe = True
            packet = new
        packet.stream = self.video_out
        return packet

    def run(self) -> None:
        index = self.table.facts.index
        vi = -1
        after_range = False
        seen = 0
        for packet in guarded(self.inp.demux(), "reading the video for labelling"):
            seen += 1
            if seen % 256 == 0:
                check_deadline("rewriting the labelled video")
            with av_errors("reading a packet"):
                stream_index = packet.stream.index
                empty = packet.size == 0 and packet.pts is None and packet.dts is None
            if empty:
                continue
            if stream_index != index:
                o = self.mapping.get(stream_index)
                if o is not None:
                    packet.stream = o
                    self.out.mux(packet)
                continue
            vi += 1
            if self.current is not None and vi in self.ends:
                self._close_range()
                after_range = True
            if vi in self.starts:
                self.current = self.starts[vi]
                after_range = False
            if self.current is not None:
                self.dts_queue.append(packet.dts)
                if packet.pts is not None:
                    self.durations[packet.pts] = int(packet.duration or 0)
                self._decode(packet)
                continue
            self.out.mux(self._copied_video(packet, after_range))
            after_range = False
            self.stats.copied_packets += 1
        if self.current is not None:
            self._close_range()
