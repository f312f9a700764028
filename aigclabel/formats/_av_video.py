"""Video streams through PyAV (libavformat/libavcodec): stream facts, the packet table, opening frames.

This is the one place that hands untrusted video bytes to PyAV for *reading*.  Every call into the
library sits in :func:`aigclabel.foreign.av_errors`, which turns what PyAV raises on hostile input
(``FFmpegError``, and the ``AttributeError``/``TypeError``/``UnicodeDecodeError`` seen from
half-set streams and bad metadata strings) into :class:`~aigclabel.errors.CorruptFile`.  Sizes the
stream declares are checked against :mod:`aigclabel.limits` before anything is decoded: the frame
size (``max_pixels``), the number of frames decoded (``max_video_frames``), the packets listed
(``max_structures``) and the wall time (``max_decode_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Iterator

from ..errors import CorruptFile, UnsupportedOperation
from ..foreign import av_errors
from ..limits import check_allocation, check_count, check_deadline, check_pixels, check_video_frames
from ._nal import NalFormat, encoder_settings, nal_format

__all__ = ["INSTALL_HINT", "NoVideo", "need_av", "StreamFacts", "Packet", "PacketTable", "OpeningFrames",
           "stream_facts", "packet_table", "opening_frames", "guarded", "av_open"]

INSTALL_HINT = "pip install 'aigclabel[video]'"
#: how often (in packets/frames) the long loops look at the clock
_CLOCK_EVERY = 256


class NoVideo(UnsupportedOperation):
    """The container holds no video stream (an audio-only MP4 or Matroska file)."""


def need_av() -> Any:
    """The ``av`` module (and numpy, which the plane copies need), or UnsupportedOperation."""
    try:
        import av
        import numpy  # noqa: F401 - the plane copies need it
    except ImportError:
        raise UnsupportedOperation(f"decoding video needs PyAV and numpy ({INSTALL_HINT})") from None
    return av


def guarded(items: Iterable[Any], what: str) -> Iterator[Any]:
    """Iterate a PyAV iterator (demux/decode) with only the library's ``next()`` inside the adapter,
    so an exception from our own loop body is never mistaken for bad data."""
    it = iter(items)
    while True:
        with av_errors(what):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item


#: metadata strings that are not valid UTF-8 (seen in the wild and in every mutation campaign) are
#: read as surrogate escapes -- not an error -- and, passed to an output opened the same way, written
#: back byte for byte
METADATA_ERRORS = "surrogateescape"


def av_open(av: Any, target: Any, mode: str = "r", **kwargs: Any) -> Any:
    """``av.open`` with the metadata decoding every caller of ours uses (no translation: callers wrap it)."""
    return av.open(target, mode, metadata_errors=METADATA_ERRORS, **kwargs)


def _open(av: Any, source: Any, what: str) -> Any:
    if hasattr(source, "seek"):
        source.seek(0)
    with av_errors(what):
        return av_open(av, source)


def _is_cover(av: Any, stream: Any) -> bool:
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):  # pragma: no cover - older PyAV
        return False


def _rotation_of(frame: Any) -> int:
    """Clockwise degrees (0, 90, 180, 270) a player turns the picture by (PyAV reports counterclockwise)."""
    ccw = getattr(frame, "rotation", 0) or 0
    return int(round(-float(ccw) / 90.0)) * 90 % 360


# ------------------------------------------------------------------------------------------ stream facts


@dataclass
class StreamFacts:
    """What the container declares about the first video stream (checked against the limits)."""

    index: int
    codec: str  # canonical codec name: "h264", "hevc", "vp9", "av1" (not the decoder's "libdav1d")
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None
    field_order: str  # "progressive", "tt", ... ("" when unknown)
    rotation: int  # clockwise degrees the picture is turned when displayed
    extradata: bytes
    video_streams: int  # how many video streams (cover art excluded)


def _facts(av: Any, container: Any) -> StreamFacts:
    with av_errors("reading the video stream parameters"):
        videos = [s for s in container.streams.video if not _is_cover(av, s)]
        if not videos:
            raise NoVideo("the file has no video stream")
        vs = videos[0]
        cc = vs.codec_context
        codec = getattr(cc.codec, "canonical_name", None) or cc.name
        rate = vs.average_rate or vs.guessed_rate
        facts = StreamFacts(vs.index, str(codec), int(cc.width or 0), int(cc.height or 0), Fraction(vs.time_base),
                            Fraction(rate) if rate else None, str(getattr(cc, "field_order", "") or "").lower(), 0,
                            bytes(cc.extradata or b""), len(videos))
    if facts.width > 0 and facts.height > 0:
        check_pixels(facts.width, facts.height, "the video frame")
    check_allocation(len(facts.extradata), "the video codec configuration")
    return facts


def _first_rotation(container: Any, index: int) -> int:
    """The display rotation of the first decoded frame (0 when none decodes from the first packets)."""
    with av_errors("decoding the first video frame"):
        vs = container.streams[index]
        decoder = vs.codec_context
    packets = 0
    for packet in guarded(container.demux(vs), "reading the first video packets"):
        packets += 1
        check_video_frames(packets, "the first video frame")
        if packets % 16 == 0:
            check_deadline("decoding the first video frame")
        with av_errors("decoding the first video frame"):
            for frame in decoder.decode(packet):
                return _rotation_of(frame)
    return 0


def stream_facts(source: Any) -> StreamFacts:
    """The first video stream's facts, its display rotation read from the first decoded frame."""
    av = need_av()
    container = _open(av, source, "opening the video")
    try:
        facts = _facts(av, container)
        try:
            facts.rotation = _first_rotation(container, facts.index)
        except CorruptFile as exc:
            if exc.__class__ is not CorruptFile:
                raise  # a limit
            # the rotation stays 0: the frames themselves are checked when they are re-encoded
    finally:
        container.close()
    return facts


# ------------------------------------------------------------------------------------------ packet table


@dataclass(slots=True)
class Packet:
    """One video packet as the demuxer reports it: time stamps, duration, size, whether a splice may start there."""
    pts: int | None
    dts: int | None
    duration: int
    key: bool
    size: int
    clean: bool  # a key frame after which nothing refers to earlier pictures (a splice point)


@dataclass
class PacketTable:
    """Every packet of the video stream in decode order, and the bitstream facts a splice needs."""

    facts: StreamFacts
    packets: list[Packet]
    nal: NalFormat | None  # H.264/HEVC only
    encoder_sei: str  # the x264/x265 settings string, if the stream carries one

    @property
    def first_pts(self) -> int:
        return min((p.pts for p in self.packets if p.pts is not None), default=0)

    @property
    def end_pts(self) -> int:
        return max(((p.pts or 0) + p.duration for p in self.packets), default=0)

    def seconds(self, pts: int) -> float:
        return float(pts * self.facts.time_base)

    def to_pts(self, seconds: float) -> int:
        return int(round(seconds / self.facts.time_base))


def _packet(p: Any, keep_data: bool) -> tuple[Packet, bytes] | None:
    with av_errors("reading a video packet"):
        if p.size == 0 and p.pts is None and p.dts is None:
            return None
        key = bool(p.is_keyframe)
        data = bytes(p) if key and keep_data else b""
        return Packet(p.pts, p.dts, int(p.duration or 0), key, int(p.size), key), data


def packet_table(path: str, facts: StreamFacts) -> PacketTable:
    """Demux (never decode) the whole video stream: time stamps, sizes and clean key frames."""
    av = need_av()
    nal_coded = facts.codec in ("h264", "hevc")
    packets: list[Packet] = []
    nal: NalFormat | None = None
    first_key = b""
    container = _open(av, path, "opening the video")
    try:
        with av_errors("reading the video stream"):
            vs = container.streams[facts.index]
            demux = container.demux(vs)
        seen = 0
        for p in guarded(demux, "reading the video stream"):
            seen += 1
            if seen % _CLOCK_EVERY == 0:
                check_count(seen, "video packets")
                check_deadline("reading the video stream")
            got = _packet(p, nal_coded)
            if got is None:
                continue
            packet, data = got
            if data:
                if nal is None:  # the parameter sets come from the record, else from the first key frame
                    nal, first_key = nal_format(facts.codec, facts.extradata, data), data
                packet.clean = nal.is_idr(data)
            packets.append(packet)
    finally:
        container.close()
    check_count(len(packets), "video packets")
    if not packets:
        raise CorruptFile("the video stream holds no pictures")
    sei = ""
    if nal_coded:
        if nal is None:
            nal = nal_format(facts.codec, facts.extradata, None)
        sei = encoder_settings(first_key, facts.extradata)
    if facts.codec in ("mpeg4", "av1"):
        for packet in packets:
            packet.clean = False
    return PacketTable(facts, packets, nal, sei)


# ------------------------------------------------------------------------------------------ opening frames


@dataclass
class OpeningFrames:
    """Frames of the opening seconds, as a viewer sees them (the display rotation applied)."""

    samples: list[tuple[float, Any]]  # (seconds from the first picture, PIL RGB image)
    covered: float  # the span actually covered
    length: float | None  # the video's length, when it is shorter than the span
    notes: list[str] = field(default_factory=list)


def _opening_packets(container: Any, vs: Any, span: float) -> tuple[list[Any], list[float], bool]:
    """The packets (compressed, decode order) needed to show the opening *span* seconds, the
    presentation times (from the first picture) of those shown in it, and whether the video ends
    inside it.  Stops when no later packet can be shown before the span ends; the few packets read
    past it are kept, as the pictures inside it may refer to them (B-frames)."""
    kept: list[Any] = []
    shown: list[float] = []
    t0: float | None = None
    past = 0
    total = 0
    seen = 0
    for p in guarded(container.demux(vs), "reading the video stream"):
        seen += 1  # every packet counts (a stream of empty or time-less packets must end too)
        check_video_frames(seen, "the opening seconds of the video")
        if seen % 16 == 0:
            check_deadline("reading the opening seconds of the video")
        with av_errors("reading a video packet"):
            if p.size == 0:
                continue
            pts, dts, tb = p.pts, p.dts, p.time_base
            total += p.size
        if pts is None and dts is None:
            continue
        t = float((pts if pts is not None else dts) * tb)
        t0 = t if t0 is None else min(t0, t)
        kept.append(p)
        check_allocation(total, "the opening seconds of the video")
        if t - t0 < span:
            shown.append(t)
            continue
        past += 1
        if (dts is not None and float(dts * tb) - t0 >= span) or past > 16:
            return kept, sorted(x - t0 for x in shown), False
    return kept, sorted(x - (t0 or 0.0) for x in shown), True


def _targets(times: list[float], count: int) -> list[float]:
    end = times[-1]
    return [0.0] if count == 1 else [end * i / (count - 1) for i in range(count)]


class _Chooser:
    """Keeps, for each target time, the frame on screen then (the last one shown at or before it)."""

    def __init__(self, targets: list[float], span: float) -> None:
        self.pending = list(targets)
        self.span = span
        self.chosen: list[tuple[float, Any, int]] = []
        self.prev: tuple[float, Any] | None = None

    def take(self, upto: float | None) -> None:
        while self.pending and self.prev is not None and (upto is None or upto > self.pending[0] + 1e-6):
            self.pending.pop(0)
            t, frame = self.prev
            with av_errors("converting a video frame"):
                self.chosen.append((t, frame.to_image(), _rotation_of(frame)))

    def offer(self, t: float, frame: Any) -> None:
        if t >= self.span or t < -1e-6:
            return  # a reference picture decoded past the span, or one before the first shown
        self.take(t)
        self.prev = (t, frame)


def _decode_chosen(vs: Any, packets: list[Any], chooser: _Chooser, t0: float, notes: list[str]) -> bool:
    """Decode *packets*, offering each frame to *chooser*; False when decoding stopped early."""
    decoder = vs.codec_context
    time_base = vs.time_base  # frames flushed from a decoder carry no time base of their own
    frames = 0
    try:
        for packet in [*packets, None]:
            with av_errors("decoding the opening video frames"):
                out = list(decoder.decode(packet))
            for frame in out:
                with av_errors("decoding the opening video frames"):
                    if frame.pts is None:
                        continue
                    width, height = frame.width, frame.height
                    t = float(frame.pts * time_base) - t0
                check_pixels(width, height, "a decoded video frame")
                chooser.offer(t, frame)
                frames += 1
                if frames % 16 == 0:
                    check_deadline("decoding the opening video frames")
    except CorruptFile as exc:
        # a damaged picture after good ones: judge what decoded (a limit is never swallowed)
        if chooser.prev is None or exc.__class__ is not CorruptFile:
            raise
        notes.append(f"decoding stopped early ({exc})")
        chooser.take(None)
        return False
    chooser.take(None)
    return True


def opening_frames(source: Any, span: float, count: int) -> OpeningFrames:
    """*count* frames spread evenly over the first *span* seconds of the first video stream: the
    frame on screen at each sample time, the first at the first picture, the last at the last
    picture before the span ends.  Only the opening packets are read and decoded."""
    av = need_av()
    from PIL import Image

    container = _open(av, source, "opening the video")
    try:
        facts = _facts(av, container)
        vs = container.streams[facts.index]
        with av_errors("opening the video decoder"):
            vs.codec_context.thread_type = "AUTO"
        packets, rel, shorter = _opening_packets(container, vs, span)
        if not rel:
            raise CorruptFile("the video stream holds no decodable pictures")
        with av_errors("reading the video time stamps"):
            t0 = min(float((p.pts if p.pts is not None else p.dts) * p.time_base) for p in packets)
        notes: list[str] = []
        chooser = _Chooser(_targets(rel, count), span)
        if not _decode_chosen(vs, packets, chooser, t0, notes):
            # judged as a video that ends where the pictures stop (each picture sampled once)
            assert chooser.prev is not None
            rel = [t for t in rel if t <= chooser.prev[0] + 1e-6] or [chooser.prev[0]]
            shorter = True
        chosen = list({round(t, 6): (t, image, r) for t, image, r in chooser.chosen}.values())
        if not chosen:
            raise CorruptFile("the video stream holds no decodable pictures")
        if facts.video_streams > 1 or len(container.streams.video) > facts.video_streams:
            notes.insert(0, f"checked the first video stream (#{facts.index})")
    finally:
        container.close()
    last = rel[-1]
    covered = last if shorter else span
    length = last + (rel[1] - rel[0] if len(rel) > 1 else 0.0) if shorter else None
    turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    samples = []
    for t, image, rotation in chosen:
        if rotation in turn:
            image = image.transpose(turn[rotation])
        samples.append((t, image))
    if any(r for _t, _i, r in chosen):
        notes.append(f"frames turned by {chosen[0][2]} degrees as the display matrix says")
    return OpeningFrames(samples, covered, length, notes)
