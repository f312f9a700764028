"""Animated WebP: the label drawn into each frame that shows it.

Lossless frames stay lossless; lossy frames are re-encoded at their estimated quality.  The ANMF
chunks, bitstreams and VP8X flags are the handler's work (:class:`~aigclabel.formats.media_image.WebpAccess`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from ...errors import CorruptFile
from ...foreign import pillow_errors
from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice
from ..render import Sizing, draw_label, mean_luminance, plan_label
from .drawing import Drawn, details, inter_crop, intersects, summary, union
from .state import LabelState

__all__ = ["mark_animated_webp"]


def mark_animated_webp(access: Any, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    layout = plan_label(access.canvas, options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    anim = access.animation()
    frames = access.anim_frames()
    n_decoded = getattr(anim, "n_frames", 1)
    if n_decoded != len(frames):
        raise CorruptFile(f"animated WebP: {len(frames)} ANMF chunks but the decoder sees {n_decoded} frames")
    with pillow_errors("reading the first WebP frame"):
        anim.seek(0)
        dark = mean_luminance(anim.convert("RGB").crop(box)) >= 0.5
    state = LabelState(box)
    new_frames: dict[int, bytes] = {}
    any_alpha = access.declares_alpha
    lossy_q: list[int] = []
    for i, frame in enumerate(frames):
        frect = frame.rect
        touches = intersects(frect, box)
        grow = state.missing_outside(frect)
        rect = frect
        if grow:
            u = union(frect, box)
            rect = (u[0] - u[0] % 2, u[1] - u[1] % 2, u[2], u[3])  # frame origins are even
        state.after(rect, clear=frame.dispose_bg, restore=False)
        if not touches and not grow:
            continue
        own = access.decode_frame(frame)
        quality = access.frame_quality(frame, own)
        if not frame.lossless:
            lossy_q.append(quality)
        with pillow_errors("composing a WebP frame"):
            anim.seek(i)
            shown = anim.convert("RGBA")  # the canvas as displayed after this frame (source, no label)
        rw, rh = rect[2] - rect[0], rect[3] - rect[1]
        if rect != frect and frame.no_blend:
            pixels = shown.crop(rect)  # a non-blended frame replaces: show what the canvas shows
        else:
            pixels = Image.new("RGBA", (rw, rh), (0, 0, 0, 0))
        pixels.paste(own, (frect[0] - rect[0], frect[1] - rect[1]))
        region = shown.crop(box)
        draw_label(region, layout, dark_plate=dark)
        part, at = inter_crop(rect, box)
        pixels.paste(region.crop(part), at)
        if pixels.getextrema()[3][0] == 255:
            pixels = pixels.convert("RGB")
        new_frames[i], alpha = access.frame_chunk(frame, rect, pixels, quality)
        any_alpha = any_alpha or alpha
    out = access.rebuild(new_frames, any_alpha)
    drawn = Drawn(layout, box)
    how = (f"lossy frames re-encoded at their estimated quality ({min(lossy_q)}-{max(lossy_q)})" if lossy_q
           else "lossless frames stay lossless")
    notes = [summary(drawn), f"animated WebP: label drawn on {len(new_frames)} of {len(frames)} frame(s); "
             f"{how}; frame count, durations, blending, disposal and loop kept"]
    return ExplicitResult(out, notes, details(drawn, "webp", {"frames": len(frames), "frames_changed": len(new_frames),
                                                              "animated": True}))
