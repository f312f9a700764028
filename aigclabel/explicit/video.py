"""The explicit label for video: a text prompt drawn on the opening frames (and optionally the end and
the middle), shown for at least the profile's minimum duration.

GB 45438-2025 asks video for a text prompt in the opening frames, visible for at least 2 s at normal
speed, with a text height of at least 5 % of the frame's shortest side; end and middle prompts are
optional.  The label is sized and drawn by :mod:`.render` (the same code, font handling and
ink-height sizing as for images), at a corner by default, with the same plate colour on every frame.

How the video is rewritten (PyAV, ``pip install 'aigclabel[audio]'``; libavcodec/libavformat):

* **Only the labelled segments are re-encoded** (the default, "partial").  A segment runs from the
  key frame at (or before) the start of a label window to the first *clean* key frame after its
  end -- an H.264/HEVC IDR picture (after which no picture refers to earlier ones), or a VP8/VP9 key
  frame.  Its frames are decoded, labelled, and re-encoded with the source's codec, size, pixel
  format, colour description, sample aspect ratio, time stamps and frame durations; every other
  video packet is copied unchanged.  The new pictures carry their own parameter sets (in band);
  the original SPS/PPS (VPS) from the stream's configuration record are put back in front of the
  first copied IDR, so each part decodes with its own.  The re-encoded segment uses no B-frames and
  takes the original decode time stamps where they fit, so the copied part's timing is untouched.
  After writing, the frames right after each splice are decoded from the output and compared with
  the source's: they must be bit-identical, else the whole video is re-encoded instead (and the
  notes say so).
* **Whole re-encode** ("full"): when the codec cannot be spliced (MPEG-4 Part 2, AV1, a stream
  without clean key frames after the label, open-GOP HEVC), when the check above fails, or when
  asked (``extra["reencode"] = "full"``).  Same codec and parameters; the quality matches the
  source: x264/x265's own rate-control settings when the stream carries their settings SEI (CRF),
  else the source's average bit rate.
* Every other stream (audio, subtitles, data, cover art) is **stream-copied**: its packets keep
  their bytes and time stamps.  The container is written again by libavformat in the same format
  (MP4/MOV with ``moov`` first when the source had it, Matroska, WebM); container and stream
  metadata, chapters, attachments, languages and dispositions are carried over.  What a remux does
  not keep: MP4 user-data boxes libavformat does not know (custom ``udta`` atoms, XMP ``uuid``
  boxes) and the ``encoder`` tag, which names the new muxer.  The implicit record is written after
  this step.
* The label is planned on the picture **as displayed**: a display matrix turning the picture by
  90/180/270 degrees (phone video) is honoured, and the text drawn upright for the viewer.  Only the
  pixels under the plate are converted to RGB and back; the rest of each frame is untouched
  before encoding.
* Not supported (:class:`UnsupportedOperation`): interlaced video; codecs other than H.264, HEVC,
  VP8, VP9, MPEG-4 Part 2 and AV1; pixel formats the encoder cannot write.  A file with no video
  stream (an audio-only MP4) gets the audible label instead, where :mod:`.audio` can add one.
  Work files go to the system's temporary directory (about twice the video's size).

Options (``ExplicitOptions.extra``; the profile's ``explicit.video`` options land there too):

* ``duration_s``: how long each label is shown (default 3.0 s; at least ``min_duration_s``);
* ``at``: where: any of ``"start"`` (default), ``"end"``, ``"middle"`` (a list, or one string);
* ``reencode``: ``"auto"`` (partial when possible) or ``"full"``;
* ``preset``: x264/x265 preset for re-encoded pictures (default ``"medium"``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CorruptFile, LabelError, UnsupportedOperation
from . import ExplicitOptions, ExplicitResult
from .fonts import resolve_font
from .render import LabelLayout, Sizing, draw_label, mean_luminance, plan_label

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["VideoMarker", "VIDEO_AT", "INSTALL_HINT", "DEFAULT_DURATION_S", "annexb_to_lengths", "nal_units"]

INSTALL_HINT = "pip install 'aigclabel[audio]'"
VIDEO_AT = ("start", "end", "middle")
DEFAULT_DURATION_S = 3.0
#: frames compared after each splice when checking the output
CHECK_FRAMES = 3
#: source codec -> (encoder, can splice)
_ENCODERS = {"h264": ("libx264", True), "hevc": ("libx265", True), "vp9": ("libvpx-vp9", True),
             "vp8": ("libvpx", True), "mpeg4": ("mpeg4", False), "av1": ("libsvtav1", False)}
_X264_PROFILES = {"baseline": "baseline", "constrained baseline": "baseline", "main": "main", "high": "high",
                  "high 10": "high10", "high 10 intra": "high10", "high 4:2:2": "high422",
                  "high 4:2:2 intra": "high422", "high 4:4:4 predictive": "high444",
                  "high 4:4:4 intra": "high444"}
_X265_PROFILES = {"main": "main", "main 10": "main10", "main still picture": "mainstillpicture",
                  "rext": None}


class _NoVideo(UnsupportedOperation):
    """The container holds no video stream (an audio-only MP4 or Matroska file)."""


def _need_av() -> Any:
    try:
        import av
        import numpy  # noqa: F401 - the plane copies need it
    except ImportError:
        raise UnsupportedOperation(f"adding a visible label to video needs PyAV and numpy ({INSTALL_HINT})") from None
    return av


# ------------------------------------------------------------------------------------------ NAL units


def nal_units(data: bytes, length_size: int | None) -> list[bytes]:
    """The NAL units of an H.264/HEVC access unit: length-prefixed (*length_size* bytes) or Annex B
    (*length_size* None, start codes)."""
    out = []
    if length_size is None:
        starts = [m.end() for m in re.finditer(rb"\x00\x00\x01", data)]
        for i, s in enumerate(starts):
            e = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
            nal = data[s:e]
            if i + 1 < len(starts) and nal.endswith(b"\x00"):
                nal = nal[:-1]  # the zero byte of a 4-byte start code
            out.append(nal)
        return out
    pos = 0
    while pos + length_size <= len(data):
        n = int.from_bytes(data[pos:pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > len(data):
            break
        out.append(data[pos:pos + n])
        pos += n
    return out


def annexb_to_lengths(data: bytes, length_size: int) -> bytes:
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nal_units(data, None) if n)


def _lengths(nals: list[bytes], length_size: int | None) -> bytes:
    if length_size is None:
        return b"".join(b"\x00\x00\x00\x01" + n for n in nals)
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nals)


@dataclass
class _NalFormat:
    """How a stream's H.264/HEVC pictures are stored, and its parameter sets."""

    codec: str  # "h264" | "hevc"
    length_size: int | None  # None: Annex B
    param_sets: list[bytes]

    def nal_type(self, nal: bytes) -> int:
        return nal[0] & 0x1F if self.codec == "h264" else (nal[0] >> 1) & 0x3F

    @property
    def param_types(self) -> set[int]:
        return {7, 8} if self.codec == "h264" else {32, 33, 34}

    def is_idr(self, data: bytes) -> bool:
        types = {self.nal_type(n) for n in nal_units(data, self.length_size) if n}
        if self.codec == "h264":
            return 5 in types and 1 not in types
        return bool(types & {19, 20}) and not types & set(range(0, 10)) - {19, 20}

    def has_params(self, data: bytes) -> bool:
        return any(self.nal_type(n) in self.param_types for n in nal_units(data, self.length_size) if n)


def _nal_format(codec: str, extradata: bytes | None, first_key: bytes | None) -> _NalFormat:
    ex = extradata or b""
    if codec == "h264" and len(ex) >= 7 and ex[0] == 1:
        length = (ex[4] & 3) + 1
        sets, pos = [], 6
        n_sps = ex[5] & 0x1F
        for _ in range(n_sps):
            size = int.from_bytes(ex[pos:pos + 2], "big")
            sets.append(ex[pos + 2:pos + 2 + size])
            pos += 2 + size
        if pos < len(ex):
            n_pps = ex[pos]
            pos += 1
            for _ in range(n_pps):
                size = int.from_bytes(ex[pos:pos + 2], "big")
                sets.append(ex[pos + 2:pos + 2 + size])
                pos += 2 + size
        return _NalFormat(codec, length, [s for s in sets if s])
    if codec == "hevc" and len(ex) >= 23 and ex[0] == 1:
        length = (ex[21] & 3) + 1
        sets, pos = [], 23
        for _ in range(ex[22]):
            if pos + 3 > len(ex):
                break
            count = int.from_bytes(ex[pos + 1:pos + 3], "big")
            pos += 3
            for _ in range(count):
                size = int.from_bytes(ex[pos:pos + 2], "big")
                sets.append(ex[pos + 2:pos + 2 + size])
                pos += 2 + size
        return _NalFormat(codec, length, [s for s in sets if s])
    # Annex B in the packets: the parameter sets come from the first key frame (or Annex B extradata)
    fmt = _NalFormat(codec, None, [])
    source = ex if ex[:3] in (b"\x00\x00\x01", b"\x00\x00\x00") else (first_key or b"")
    fmt.param_sets = [n for n in nal_units(source, None) if n and fmt.nal_type(n) in fmt.param_types]
    return fmt


# ------------------------------------------------------------------------------------------ the plan


@dataclass
class _Packet:
    pts: int | None
    dts: int | None
    duration: int
    key: bool
    size: int
    clean: bool  # a key frame after which nothing refers to earlier pictures (a splice point)


@dataclass
class _Probe:
    codec: str
    index: int  # of the labelled video stream
    time_base: Fraction
    rate: Fraction | None
    width: int
    height: int
    rotation: int  # degrees the picture is turned when displayed (0, 90, 180, 270)
    packets: list[_Packet]
    nal: _NalFormat | None
    encoder_sei: str  # the x264/x265 settings string, if the stream carries one
    container: str  # libavformat muxer to write with
    mux_options: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def first_pts(self) -> int:
        return min((p.pts for p in self.packets if p.pts is not None), default=0)

    @property
    def end_pts(self) -> int:
        return max(((p.pts or 0) + p.duration for p in self.packets), default=0)

    def seconds(self, pts: int) -> float:
        return float(pts * self.time_base)

    def to_pts(self, seconds: float) -> int:
        return int(round(seconds / self.time_base))


@dataclass
class _Range:
    start: int  # index (decode order) of the first packet re-encoded
    end: int  # index of the first packet copied after it (len(packets) at the end)
    windows: list[tuple[int, int]]  # label windows [pts0, pts1) inside it


@dataclass
class _Plan:
    duration_s: float
    at: list[str]
    mode: str  # "auto" | "full"
    preset: str

    @classmethod
    def from_options(cls, extra: dict[str, Any]) -> _Plan:
        minimum = float(extra.get("min_duration_s", 2.0) or 0.0)
        raw = extra.get("duration_s", extra.get("video_duration"))
        duration = float(raw) if raw is not None else max(DEFAULT_DURATION_S, minimum)
        if not math.isfinite(duration) or duration <= 0:
            raise LabelError(f"the video label duration must be a positive number of seconds, not {raw!r}")
        if duration < minimum:
            raise LabelError(f"the video label duration {duration:g} s is shorter than the {minimum:g} s the "
                             "profile requires")
        at = extra.get("at", extra.get("video_at", ["start"]))
        at = [at] if isinstance(at, str) else list(at or ["start"])
        bad = [a for a in at if a not in VIDEO_AT]
        if bad:
            raise LabelError(f"video label position must be one of {', '.join(VIDEO_AT)}, not {bad[0]!r}")
        mode = str(extra.get("reencode", extra.get("video_reencode", "auto")))
        if mode not in ("auto", "full"):
            raise LabelError(f"reencode must be 'auto' or 'full', not {mode!r}")
        return cls(duration, list(dict.fromkeys(at)), mode, str(extra.get("preset", "medium")))


def _windows(probe: _Probe, plan: _Plan) -> list[tuple[str, int, int]]:
    """(name, pts0, pts1) of each label window, clipped to the video."""
    t0, t1 = probe.first_pts, probe.end_pts
    span = probe.to_pts(plan.duration_s)
    out = []
    for name in plan.at:
        if name == "start":
            a = t0
        elif name == "end":
            a = max(t0, t1 - span)
        else:
            a = max(t0, (t0 + t1) // 2 - span // 2)
        out.append((name, a, min(t1, a + span)))
    return out


def _ranges(probe: _Probe, windows: list[tuple[str, int, int]]) -> list[_Range] | None:
    """The packet ranges to re-encode, or None when a window cannot be cut out at clean key frames."""
    pk = probe.packets
    clean = [i for i, p in enumerate(pk) if p.clean and p.pts is not None]
    out: list[_Range] = []
    for _name, a, b in sorted(windows, key=lambda w: w[1]):
        starts = [i for i in clean if pk[i].pts <= a]  # type: ignore[operator]
        if not starts:
            return None
        start = starts[-1]
        end = next((i for i in clean if i > start and pk[i].pts >= b), len(pk))  # type: ignore[operator]
        if out and start <= out[-1].end:
            out[-1].end = max(out[-1].end, end)
            out[-1].windows.append((a, b))
        else:
            out.append(_Range(start, end, [(a, b)]))
    return out


# ------------------------------------------------------------------------------------------ probing


def _container_format(av: Any, handler_name: str, path: str) -> tuple[str, dict[str, str], list[str]]:
    """(libavformat muxer, muxer options, notes) that rewrite the source's container."""
    notes: list[str] = []
    if handler_name == "webm":
        return "webm", {}, notes
    if handler_name == "mkv":
        return "matroska", {}, notes
    from .._io import open_source
    from ..formats.mp4 import MovieFile

    options: dict[str, str] = {}
    with open_source(path) as src:
        movie = MovieFile(src)
    flags = []
    if movie.payload_start is not None and movie.moov.offset < movie.payload_start and not movie.fragmented:
        flags.append("+faststart")
    if movie.fragmented:
        flags.append("+frag_keyframe+empty_moov+default_base_moof")
        notes.append("the fragmented MP4 was re-fragmented at key frames by libavformat")
    if any(meta.is_mdta for meta in movie.metas):
        flags.append("+use_metadata_tags")
    if flags:
        options["movflags"] = "".join(flags)
    muxer = "mp4"
    if movie.brands:
        options["brand"] = movie.brands[0].decode("latin-1")
        if movie.brands[0] == b"qt  ":
            muxer = "mov"
    elif not movie.brands:
        muxer = "mov"
    return muxer, options, notes


def _probe(av: Any, path: str, handler_name: str) -> _Probe:
    try:
        inp = av.open(path)
    except av.FFmpegError as exc:
        raise CorruptFile(f"the video cannot be opened for labelling: {exc}") from None
    with inp:
        videos = [s for s in inp.streams.video if not _is_cover(av, s)]
        if not videos:
            raise _NoVideo("the file has no video stream to draw a visible label on (an audio-only file needs an "
                           "audible label)")
        vs = videos[0]
        cc = vs.codec_context
        codec = getattr(cc.codec, "canonical_name", None) or cc.name  # "av1", not the decoder "libdav1d"
        field_order = str(getattr(cc, "field_order", "") or "").lower()
        if field_order in ("tt", "bb", "tb", "bt"):
            raise UnsupportedOperation("visible labels on interlaced video are not supported in this version "
                                       f"(field order {field_order})")
        if codec not in _ENCODERS:
            raise UnsupportedOperation(f"visible labels on {codec} video are not supported in this version "
                                       f"(supported: {', '.join(sorted(_ENCODERS))})")
        packets: list[_Packet] = []
        nal: _NalFormat | None = None
        sei = ""
        first_key: bytes | None = None
        raw_keys: list[tuple[int, bytes]] = []
        try:
            for p in inp.demux(vs):
                if p.size == 0 and p.pts is None and p.dts is None:
                    continue
                data = bytes(p) if p.is_keyframe and codec in ("h264", "hevc") else b""
                if data and first_key is None:
                    first_key = data
                if data:
                    raw_keys.append((len(packets), data))
                packets.append(_Packet(p.pts, p.dts, int(p.duration or 0), bool(p.is_keyframe), p.size,
                                       bool(p.is_keyframe)))
        except av.FFmpegError as exc:
            raise CorruptFile(f"the video stream cannot be read: {exc}") from None
        if not packets:
            raise CorruptFile("the video stream holds no pictures")
        if codec in ("h264", "hevc"):
            nal = _nal_format(codec, cc.extradata, first_key)
            for i, data in raw_keys:
                packets[i].clean = nal.is_idr(data)
            for blob in (first_key or b"", bytes(cc.extradata or b"")):
                m = re.search(rb"(x26[45]) .{0,400}?options: ([^\x00\x80]{1,4000})", blob, re.S)
                if m:
                    sei = m.group(0).decode("latin-1", "replace")
                    break
        if codec in ("mpeg4", "av1"):
            for p in packets:
                p.clean = False
        rate = vs.average_rate or vs.guessed_rate
        rotation = _rotation(av, inp, vs)
        muxer, options, notes = _container_format(av, handler_name, path)
        return _Probe(codec, vs.index, Fraction(vs.time_base), Fraction(rate) if rate else None, cc.width,
                      cc.height, rotation, packets, nal, sei, muxer, options, notes)


def _rotation(av: Any, inp: Any, vs: Any) -> int:
    """Clockwise degrees (0, 90, 180, 270) a player turns the pictures by (the display matrix)."""
    try:
        inp.seek(0)
        for frame in inp.decode(vs):
            ccw = getattr(frame, "rotation", 0) or 0
            return int(round(-ccw / 90.0)) * 90 % 360
    except (av.FFmpegError, ValueError, TypeError):
        pass
    return 0


def _is_cover(av: Any, stream: Any) -> bool:
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):  # pragma: no cover - older PyAV
        return False


# ------------------------------------------------------------------------------------------ drawing


class _Painter:
    """Draws the planned label onto decoded frames, touching only the pixels under the plate."""

    def __init__(self, layout: LabelLayout, rotation: int) -> None:
        self.layout = layout
        self.rotation = rotation
        self.dark: bool | None = None

    def paint(self, av: Any, frame: Any) -> Any:
        import numpy as np

        w, h = frame.width, frame.height
        box = _stored_box(self.layout.box, self.rotation, (w, h))
        fmt = frame.format
        sx = max((w + p.width - 1) // p.width for p in frame.planes) if frame.planes else 1
        sy = max((h + p.height - 1) // p.height for p in frame.planes) if frame.planes else 1
        x0, y0 = box[0] - box[0] % sx, box[1] - box[1] % sy
        x1, y1 = min(w, box[2] + (-box[2]) % sx), min(h, box[3] + (-box[3]) % sy)
        region = av.VideoFrame(x1 - x0, y1 - y0, fmt.name)
        geometry = _plane_geometry(frame)
        if geometry is None:
            return self._paint_whole(av, frame)
        for plane, sub, (bpp, fx, fy) in zip(frame.planes, region.planes, geometry):
            src = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            dst = np.frombuffer(sub, np.uint8).reshape(sub.height, sub.line_size)
            rx0, rx1, ry0, ry1 = x0 // fx, x1 // fx, y0 // fy, y1 // fy
            dst[:ry1 - ry0, :(rx1 - rx0) * bpp] = src[ry0:ry1, rx0 * bpp:rx1 * bpp]
        self._copy_colour(frame, region)
        rgb = region.to_image()
        rgb = self._draw(rgb, (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0))
        back = av.VideoFrame.from_image(rgb).reformat(format=fmt.name, **self._reformat_args(frame))
        frame.make_writable()
        for plane, sub, (bpp, fx, fy) in zip(frame.planes, back.planes, geometry):
            dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            src = np.frombuffer(sub, np.uint8).reshape(sub.height, sub.line_size)
            rx0, rx1, ry0, ry1 = x0 // fx, x1 // fx, y0 // fy, y1 // fy
            dst[ry0:ry1, rx0 * bpp:rx1 * bpp] = src[:ry1 - ry0, :(rx1 - rx0) * bpp]
        return frame

    def _draw(self, rgb: Any, box: tuple[int, int, int, int]) -> Any:
        """Draw onto the *box* part of *rgb* (stored orientation) as the viewer sees it."""
        from PIL import Image

        # PIL's ROTATE_90 turns counterclockwise; self.rotation is clockwise, as the viewer turns it
        turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_90}.get(self.rotation)
        undo = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_270}.get(self.rotation)
        part = rgb.crop(box)
        if turn is not None:
            part = part.transpose(turn)
        if self.dark is None:
            self.dark = mean_luminance(part) >= 0.5
        draw_label(part, self.layout, dark_plate=self.dark)
        if undo is not None:
            part = part.transpose(undo)
        rgb.paste(part, box[:2])
        return rgb

    def _paint_whole(self, av: Any, frame: Any) -> Any:
        rgb = frame.to_image()
        w, h = frame.width, frame.height
        self._draw(rgb, _stored_box(self.layout.box, self.rotation, (w, h)))
        new = av.VideoFrame.from_image(rgb).reformat(format=frame.format.name, **self._reformat_args(frame))
        new.pts, new.time_base = frame.pts, frame.time_base
        self._copy_colour(frame, new)
        return new

    @staticmethod
    def _copy_colour(src: Any, dst: Any) -> None:
        for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
            try:
                setattr(dst, name, getattr(src, name))
            except (AttributeError, ValueError, TypeError):
                pass

    @staticmethod
    def _reformat_args(frame: Any) -> dict[str, Any]:
        args: dict[str, Any] = {}
        try:
            if frame.colorspace not in (None, 2):  # 2: unspecified
                args["dst_colorspace"] = frame.colorspace
            if frame.color_range:
                args["dst_color_range"] = frame.color_range
        except AttributeError:  # pragma: no cover
            pass
        return args


def _plane_geometry(frame: Any) -> list[tuple[int, int, int]] | None:
    """(bytes per pixel, horizontal and vertical subsampling) of each plane, or None when the pixel
    format is not planar/semi-planar with whole-byte samples (then the whole frame is converted)."""
    fmt = frame.format
    name = fmt.name
    if any(k in name for k in ("yuyv", "uyvy", "yvyu", "bayer", "pal8", "mono", "rgb4", "bgr4", "rgb8", "bgr8",
                               "565", "555", "444be", "x2rgb", "x2bgr", "v30x", "y210", "xv3")):
        return None
    comps = list(fmt.components)
    out = []
    for i, plane in enumerate(frame.planes):
        mine = [c for c in comps if c.plane == i]
        if not mine:
            return None
        bits = max(c.bits for c in mine)
        bpp = len(mine) * ((bits + 7) // 8) if name not in ("rgb24", "bgr24", "rgba", "bgra", "argb", "abgr",
                                                              "rgb0", "bgr0", "0rgb", "0bgr") else \
            (3 if name in ("rgb24", "bgr24") else 4)
        fx = max(1, round(frame.width / max(1, plane.width)))
        fy = max(1, round(frame.height / max(1, plane.height)))
        out.append((bpp, fx, fy))
    return out


def _stored_box(box: tuple[int, int, int, int], rotation: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The stored-frame box that a viewer turning the picture by *rotation* degrees clockwise sees as *box*."""
    w, h = size
    x0, y0, x1, y1 = box
    if rotation == 90:  # displayed = stored turned clockwise: displayed (u, v) <- stored (v, h - 1 - u)
        return y0, h - x1, y1, h - x0
    if rotation == 180:
        return w - x1, h - y1, w - x0, h - y0
    if rotation == 270:
        return w - y1, x0, w - y0, x1
    return box


# ------------------------------------------------------------------------------------------ encoding


def _profile(cc: Any, table: dict[str, str | None]) -> str | None:
    name = (getattr(cc, "profile", None) or "")
    return table.get(str(name).lower())


def _quality(probe: _Probe, packets: list[_Packet], encoder: str) -> tuple[dict[str, str], str]:
    """Encoder options matching the source's quality, and how they were chosen."""
    m = re.search(r"\bcrf=([0-9.]+)", probe.encoder_sei)
    rc = re.search(r"\brc=(\w+)", probe.encoder_sei)
    if m and encoder in ("libx264", "libx265") and (rc is None or rc.group(1) == "crf"):
        return {"crf": m.group(1)}, f"CRF {m.group(1)} (from the source's {encoder[3:]} settings)"
    seconds = sum(p.duration for p in packets) * probe.time_base
    if not seconds:
        seconds = Fraction(max(1, len(packets))) / (probe.rate or 25)
    bitrate = max(50_000, int(sum(p.size for p in packets) * 8 / float(seconds)))
    opts = {"b": str(bitrate)}
    if encoder in ("libvpx", "libvpx-vp9"):
        opts.update({"maxrate": str(int(bitrate * 1.5)), "bufsize": str(bitrate * 2)})
    return opts, f"{bitrate / 1000:.0f} kbit/s (the source's average bit rate over the re-encoded span)"


def _new_encoder(av: Any, probe: _Probe, template: Any, frame: Any, quality: dict[str, str], preset: str,
                 partial: bool, ctx: Any = None) -> Any:
    name = _ENCODERS[probe.codec][0]
    cc = ctx if ctx is not None else av.CodecContext.create(name, "w")
    cc.width, cc.height = frame.width, frame.height
    supported = [f.name for f in (cc.codec.video_formats or [])]
    pix = frame.format.name
    if supported and pix not in supported:
        raise UnsupportedOperation(f"the {name} encoder cannot write the source's pixel format {pix}")
    cc.pix_fmt = pix
    cc.time_base = probe.time_base
    if probe.rate:
        cc.framerate = probe.rate
    try:
        if template.sample_aspect_ratio:
            cc.sample_aspect_ratio = template.sample_aspect_ratio
    except (AttributeError, ValueError):
        pass
    for attr in ("colorspace", "color_range", "color_primaries", "color_trc"):
        try:
            value = getattr(template, attr)
            if value:
                setattr(cc, attr, value)
        except (AttributeError, ValueError, TypeError):
            pass
    options = dict(quality)
    if name == "libx264":
        options["preset"] = preset
        profile = _profile(template, _X264_PROFILES)
        if profile:
            options["profile"] = profile
        if partial:
            cc.max_b_frames = 0
            level = getattr(template, "level", None)
            if level and level > 0:
                cc.level = level
    elif name == "libx265":
        options["preset"] = preset
        profile = _profile(template, _X265_PROFILES)
        if profile:
            options["profile"] = profile
        params = ["log-level=error"]
        if partial:
            params += ["bframes=0", "repeat-headers=1"]
        options["x265-params"] = ":".join(params)
    elif name in ("libvpx", "libvpx-vp9"):
        options.update({"deadline": "good", "cpu-used": "4"})
        if name == "libvpx-vp9":
            options["row-mt"] = "1"
            try:
                if template.profile:
                    options["profile"] = {"Profile 0": "0", "Profile 1": "1", "Profile 2": "2",
                                          "Profile 3": "3"}.get(str(template.profile), "0")
            except AttributeError:
                pass
    elif name == "libsvtav1":
        options.setdefault("preset", "8")
        os.environ.setdefault("SVT_LOG", "1")  # errors only: SVT-AV1 prints its banner to stderr otherwise
    cc.options = options
    cc.thread_type = "AUTO"
    return cc


@dataclass
class _Stats:
    reencoded_frames: int = 0
    labelled_frames: int = 0
    copied_packets: int = 0
    labelled_spans: list[tuple[float, float]] = field(default_factory=list)
    quality: str = ""


def _transcode(av: Any, src_path: str, out_path: str, probe: _Probe, ranges: list[_Range], painter: _Painter,
               plan: _Plan, full: bool) -> _Stats:
    """Write *out_path*: the video's packets in *ranges* re-encoded with the label (all of them when
    *full*), everything else stream-copied."""
    stats = _Stats()
    failed = False
    try:
        inp = av.open(src_path)
    except av.FFmpegError as exc:
        raise CorruptFile(f"the video cannot be opened for labelling: {exc}") from None
    try:
        out = av.open(out_path, "w", format=probe.container, options=dict(probe.mux_options))
    except av.FFmpegError as exc:
        inp.close()
        raise UnsupportedOperation(f"the {probe.container} muxer cannot be opened: {exc}") from None
    try:
        vs = inp.streams[probe.index]
        out.metadata.update(dict(inp.metadata))
        mapping: dict[int, Any] = {}
        for s in inp.streams:
            if s.type == "attachment":
                try:
                    out.add_attachment(s.name, s.mimetype, bytes(s.data))
                except (AttributeError, av.FFmpegError, ValueError) as exc:
                    raise UnsupportedOperation(f"the attachment {getattr(s, 'name', '?')!r} cannot be carried "
                                               f"over ({exc})") from None
                continue
            if s.index == probe.index and full:  # configured now: the header is written at the first packet
                quality, stats.quality = _quality(probe, probe.packets, _ENCODERS[probe.codec][0])
                o = out.add_stream(_ENCODERS[probe.codec][0], rate=probe.rate)
                dec = s.codec_context
                _new_encoder(av, probe, dec, _Shape(dec.width, dec.height, av.VideoFormat(dec.pix_fmt)), quality,
                             plan.preset, False, o.codec_context)
                o.time_base = probe.time_base
                o.metadata.update(dict(s.metadata))
                _copy_disposition(s, o)
                _codec_tag(s, o)
                mapping[s.index] = o
                continue
            try:
                o = out.add_stream_from_template(s)
            except (ValueError, av.FFmpegError, TypeError) as exc:
                raise UnsupportedOperation(f"stream #{s.index} ({s.type}) cannot be carried over: {exc}") from None
            o.metadata.update(dict(s.metadata))
            _copy_disposition(s, o)
            try:
                o.time_base = s.time_base
            except (AttributeError, ValueError):
                pass
            mapping[s.index] = o
        try:
            chapters = inp.chapters()
            if chapters:
                out.set_chapters(chapters)
        except (AttributeError, av.FFmpegError, ValueError, TypeError):
            pass
        pk = probe.packets
        windows = [w for r in ranges for w in r.windows]
        if full:
            ranges = [_Range(0, len(pk), windows)]
        starts = {r.start: r for r in ranges}
        ends = {r.end for r in ranges}
        decoder = vs.codec_context
        decoder.thread_type = "AUTO"
        video_out = mapping.get(probe.index)
        enc: Any = None
        enc_stream: Any = None
        if full:
            enc_stream = mapping[probe.index]
            enc = enc_stream.codec_context
        current: _Range | None = None
        dts_queue: list[int | None] = []
        durations: dict[int, int] = {}
        emitted = 0
        last_dts: list[int | None] = [None]

        def fix_and_mux(packets: list[Any]) -> None:
            """Mux encoder packets; in a partial re-encode, in the stream's NAL format and time stamps."""
            nonlocal emitted
            for q in packets:
                if not full:
                    pts, key, dur = q.pts, q.is_keyframe, q.duration
                    if probe.nal is not None and probe.nal.length_size is not None and q.size:
                        q = av.Packet(annexb_to_lengths(bytes(q), probe.nal.length_size))
                        q.pts, q.is_keyframe = pts, key
                    orig = dts_queue[emitted] if emitted < len(dts_queue) else None
                    emitted += 1
                    if pts is not None:
                        # the source's decode time where it fits (so the copied part's stay valid), never
                        # after the picture's own time, always increasing
                        dts = pts if orig is None else min(orig, pts)
                        if last_dts[0] is not None and dts <= last_dts[0]:
                            dts = last_dts[0] + 1
                        q.dts = last_dts[0] = dts
                        q.duration = durations.get(pts, dur or 0)
                    q.time_base = probe.time_base
                    q.stream = video_out
                out.mux(q)

        def encode(frame: Any) -> None:
            nonlocal enc
            if enc is None:
                assert current is not None
                quality, stats.quality = _quality(probe, pk[current.start:current.end], _ENCODERS[probe.codec][0])
                enc = _new_encoder(av, probe, decoder, frame, quality, plan.preset, True)
            fix_and_mux(list(enc_stream.encode(frame) if full else enc.encode(frame)))

        def handle(frame: Any) -> None:
            assert current is not None
            if frame.pts is not None and any(a <= frame.pts < b for a, b in current.windows):
                frame = painter.paint(av, frame)
                stats.labelled_frames += 1
            frame.pict_type = 0
            stats.reencoded_frames += 1
            encode(frame)

        def close() -> None:
            nonlocal enc, current, dts_queue, durations, emitted
            for frame in decoder.decode(None):
                handle(frame)
            if enc is not None:
                fix_and_mux(list(enc_stream.encode(None) if full else enc.encode(None)))
            decoder.flush_buffers()
            if not full:
                enc = None
            current, dts_queue, durations, emitted = None, [], {}, 0
            last_dts[0] = None

        vi = -1
        after_range = False
        for packet in inp.demux():
            s = packet.stream
            if packet.size == 0 and packet.pts is None and packet.dts is None:
                continue
            if s.index != probe.index:
                o = mapping.get(s.index)
                if o is not None:
                    packet.stream = o
                    out.mux(packet)
                continue
            vi += 1
            if current is not None and vi in ends:
                close()
                after_range = True
            if vi in starts:
                current = starts[vi]
                after_range = False
            if current is not None:
                dts_queue.append(packet.dts)
                if packet.pts is not None:
                    durations[packet.pts] = int(packet.duration or 0)
                try:
                    frames = decoder.decode(packet)
                except av.FFmpegError as exc:
                    at = float((packet.pts or 0) * packet.time_base)
                    raise CorruptFile(f"the video cannot be decoded at {at:.2f} s: {exc}") from None
                for frame in frames:
                    handle(frame)
                continue
            if after_range and probe.nal is not None and not probe.nal.has_params(bytes(packet)):
                data = _lengths(probe.nal.param_sets, probe.nal.length_size) + bytes(packet)
                new = av.Packet(data)
                new.pts, new.dts, new.duration = packet.pts, packet.dts, packet.duration
                new.time_base = packet.time_base
                new.is_keyframe = True
                packet = new
            after_range = False
            packet.stream = video_out
            out.mux(packet)
            stats.copied_packets += 1
        if current is not None:
            close()
        stats.labelled_spans = [(probe.seconds(a), probe.seconds(b)) for r in ranges for a, b in r.windows]
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
    return stats


@dataclass
class _Shape:
    """What the encoder set-up needs of a frame, before any frame is decoded."""

    width: int
    height: int
    format: Any


def _copy_disposition(src: Any, dst: Any) -> None:
    try:
        dst.disposition = src.disposition
    except (AttributeError, ValueError, TypeError):
        pass


def _codec_tag(src: Any, dst: Any) -> None:
    try:
        tag = src.codec_context.codec_tag
        if tag and tag in ("hvc1", "hev1", "avc1", "avc3"):
            dst.codec_context.codec_tag = tag
    except (AttributeError, ValueError):
        pass


# ------------------------------------------------------------------------------------------ checking


def _frames_at(av: Any, path: str, index: int, start_pts: int, count: int, after_pts: int) -> list[bytes]:
    """The pixels of the first *count* frames shown at or after *after_pts*, decoding from the key
    frame at or before *start_pts*."""
    import numpy as np

    out: list[bytes] = []
    with av.open(path) as c:
        s = c.streams[index]
        s.codec_context.thread_type = "AUTO"
        c.seek(start_pts, stream=s, backward=True, any_frame=False)
        for frame in c.decode(s):
            if frame.pts is None or frame.pts < after_pts:
                continue
            out.append(b"".join(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :_row_bytes(frame, i)]
                                .tobytes() for i, p in enumerate(frame.planes)))
            if len(out) >= count:
                break
    return out


def _row_bytes(frame: Any, i: int) -> int:
    geometry = _plane_geometry(frame)
    if geometry is None:
        return frame.planes[i].line_size
    return frame.planes[i].width * geometry[i][0]


def _check_splices(av: Any, src_path: str, out_path: str, probe: _Probe, ranges: list[_Range]) -> str | None:
    """None when every copied picture right after a re-encoded span decodes bit-identically; else why not."""
    pk = probe.packets
    for r in ranges:
        if r.end >= len(pk):
            continue
        k = pk[r.end]
        assert k.pts is not None
        start = pk[r.start].pts if pk[r.start].pts is not None else k.pts
        try:
            want = _frames_at(av, src_path, probe.index, k.pts, CHECK_FRAMES, k.pts)
            got = _frames_at(av, out_path, probe.index, start, CHECK_FRAMES, k.pts)
        except av.FFmpegError as exc:
            return f"the output does not decode at the splice at {probe.seconds(k.pts):.2f} s ({exc})"
        if not want or want != got:
            return (f"the copied pictures after the re-encoded span do not decode identically at "
                    f"{probe.seconds(k.pts):.2f} s")
    return None


# ------------------------------------------------------------------------------------------ marker


class VideoMarker:
    """Draws the text label on the opening frames of MP4/MOV, MKV and WebM video."""

    formats = ("mp4", "mkv", "webm")

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in self.formats

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        if handler.name not in self.formats:
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} video are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        av = _need_av()
        plan = _Plan.from_options(options.extra)
        font = resolve_font(options.text, options.font)
        tmp = tempfile.mkdtemp(prefix="aigclabel-video-")
        try:
            path = _source_path(src, tmp)
            try:
                probe = _probe(av, path, handler.name)
            except _NoVideo:
                return _audible_instead(src, handler, options)
            display = (probe.height, probe.width) if probe.rotation in (90, 270) else (probe.width, probe.height)
            layout = plan_label(display, options.text, options.position, Sizing.from_options(options), font)
            windows = _windows(probe, plan)
            notes = list(probe.notes)
            ranges = None if plan.mode == "full" or not _ENCODERS[probe.codec][1] else _ranges(probe, windows)
            out_path = os.path.join(tmp, "out" + Path(path).suffix)
            full = ranges is None
            if full:
                why = ("as asked" if plan.mode == "full" else f"{probe.codec} cannot be cut at key frames here"
                       if not _ENCODERS[probe.codec][1] else "no clean key frame lets the labelled span be cut out")
                ranges = [_Range(0, len(probe.packets), [(a, b) for _n, a, b in windows])]
                stats = _transcode(av, path, out_path, probe, ranges, _Painter(layout, probe.rotation), plan, True)
                notes.append(f"the whole video was re-encoded ({why}) with {_ENCODERS[probe.codec][0]} at "
                             f"{stats.quality}")
            else:
                assert ranges is not None
                stats = _transcode(av, path, out_path, probe, ranges, _Painter(layout, probe.rotation), plan, False)
                problem = _check_splices(av, path, out_path, probe, ranges)
                if problem is not None:
                    full = True
                    os.unlink(out_path)
                    stats = _transcode(av, path, out_path, probe, ranges, _Painter(layout, probe.rotation), plan,
                                       True)
                    notes.append(f"re-encoding only the labelled span was not reliable here ({problem}); the whole "
                                 f"video was re-encoded with {_ENCODERS[probe.codec][0]} at {stats.quality}")
                else:
                    spans = ", ".join(f"{probe.seconds(probe.packets[r.start].pts or 0):.2f}-"
                                      f"{probe.seconds(_range_end_pts(probe, r)):.2f} s" for r in ranges)
                    how = f"{stats.reencoded_frames} frames, {_ENCODERS[probe.codec][0]} at {stats.quality}, no B-frames"
                    if stats.copied_packets:
                        notes.append(f"only {spans} of the video was re-encoded ({how}); the other "
                                     f"{stats.copied_packets} video packets were copied unchanged and checked to "
                                     "decode identically after each splice")
                    else:
                        notes.append(f"the labels cover the whole video: all of it was re-encoded ({how})")
            with open(out_path, "rb") as fh:
                data = fh.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        shown = [f"{a:.2f}-{b:.2f} s" for a, b in stats.labelled_spans]
        short = [(a, b) for a, b in stats.labelled_spans if b - a < plan.duration_s - 1e-6]
        notes.insert(0, f"visible label {layout.text!r} drawn at {layout.position} on {stats.labelled_frames} frames "
                        f"({', '.join(shown)}): ink height {layout.ink_height} px = {layout.height_ratio:.1%} of the "
                        f"shortest side, box {list(layout.box)}, font {layout.font.describe()}")
        if short:
            notes.append(f"the video is shorter than the {plan.duration_s:g}-s label: it is shown for the whole "
                         "video")
        notes.append("audio and every other stream were stream-copied (packets unchanged); the container was "
                     f"rewritten by libavformat ({probe.container}) with its metadata, chapters and attachments")
        details = layout.details()
        details.update({"format": handler.name, "codec": probe.codec, "mode": "full" if full else "partial",
                        "windows": [list(w) for w in stats.labelled_spans], "duration_s": plan.duration_s,
                        "at": plan.at, "labelled_frames": stats.labelled_frames,
                        "reencoded_frames": stats.reencoded_frames, "quality": stats.quality,
                        "rotation": probe.rotation})
        return ExplicitResult(data, notes, details)


def _audible_instead(src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
    """An audio-only file in a video container gets the audible label, when this version can add one."""
    from .audio import AudioMarker

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


def _range_end_pts(probe: _Probe, r: _Range) -> int:
    if r.end < len(probe.packets):
        return probe.packets[r.end].pts or 0
    return probe.end_pts


def _source_path(src: CountingReader, tmp: str) -> str:
    """A path PyAV can open: the source file itself, or a copy of the stream in *tmp*."""
    name = getattr(src, "name", "")
    try:
        if name and os.path.isfile(name) and os.path.getsize(name) == src.size:
            return name
    except OSError:
        pass
    path = os.path.join(tmp, "source")
    src.seek(0)
    with open(path, "wb") as fh:
        src.copy_to(fh)
    return path


