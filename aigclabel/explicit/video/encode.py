"""Encoders for the re-encoded pictures: the source's codec, profile, level, pixel format, colour
description and aspect ratio, at the source's quality (x264/x265's own CRF when the stream carries
their settings SEI, else the source's average bit rate)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from ...errors import UnsupportedOperation
from ...formats._nal import settings_crf
from ...formats.media_video import Packet, PacketTable

__all__ = ["ENCODERS", "quality", "new_encoder", "Shape", "copy_disposition", "codec_tag"]

#: source codec -> (encoder, can splice)
ENCODERS = {"h264": ("libx264", True), "hevc": ("libx265", True), "vp9": ("libvpx-vp9", True),
            "vp8": ("libvpx", True), "mpeg4": ("mpeg4", False), "av1": ("libsvtav1", False)}
_X264_PROFILES = {"baseline": "baseline", "constrained baseline": "baseline", "main": "main", "high": "high",
                  "high 10": "high10", "high 10 intra": "high10", "high 4:2:2": "high422",
                  "high 4:2:2 intra": "high422", "high 4:4:4 predictive": "high444",
                  "high 4:4:4 intra": "high444"}
_X265_PROFILES = {"main": "main", "main 10": "main10", "main still picture": "mainstillpicture",
                  "rext": None}


def _profile(cc: Any, table: Mapping[str, str | None]) -> str | None:
    name = (getattr(cc, "profile", None) or "")
    return table.get(str(name).lower())


def quality(table: PacketTable, packets: list[Packet], encoder: str) -> tuple[dict[str, str], str]:
    """Encoder options matching the source's quality, and how they were chosen."""
    crf = settings_crf(table.encoder_sei)
    if crf is not None and encoder in ("libx264", "libx265"):
        return {"crf": crf}, f"CRF {crf} (from the source's {encoder[3:]} settings)"
    seconds = sum(p.duration for p in packets) * table.facts.time_base
    if not seconds:
        seconds = Fraction(max(1, len(packets))) / (table.facts.rate or 25)
    bitrate = max(50_000, int(sum(p.size for p in packets) * 8 / float(seconds)))
    opts = {"b": str(bitrate)}
    if encoder in ("libvpx", "libvpx-vp9"):
        opts.update({"maxrate": str(int(bitrate * 1.5)), "bufsize": str(bitrate * 2)})
    return opts, f"{bitrate / 1000:.0f} kbit/s (the source's average bit rate over the re-encoded span)"


def new_encoder(av: Any, table: PacketTable, template: Any, frame: Any, quality: dict[str, str], preset: str,
                 partial: bool, ctx: Any = None) -> Any:
    name = ENCODERS[table.facts.codec][0]
    cc = ctx if ctx is not None else av.CodecContext.create(name, "w")
    cc.width, cc.height = frame.width, frame.height
    supported = [f.name for f in (cc.codec.video_formats or [])]
    pix = frame.format.name
    if supported and pix not in supported:
        raise UnsupportedOperation(f"the {name} encoder cannot write the source's pixel format {pix}")
    cc.pix_fmt = pix
    cc.time_base = table.facts.time_base
    if table.facts.rate:
        cc.framerate = table.facts.rate
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
class Shape:
    """What the encoder set-up needs of a frame, before any frame is decoded."""

    width: int
    height: int
    format: Any


def copy_disposition(src: Any, dst: Any) -> None:
    try:
        dst.disposition = src.disposition
    except (AttributeError, ValueError, TypeError):
        pass


def codec_tag(src: Any, dst: Any) -> None:
    try:
        tag = src.codec_context.codec_tag
        if tag and tag in ("hvc1", "hev1", "avc1", "avc3"):
            dst.codec_context.codec_tag = tag
    except (AttributeError, ValueError):
        pass
