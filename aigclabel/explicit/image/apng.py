"""APNG: the label drawn losslessly into each picture that shows it, in the file's own mode.

The default image (for viewers without APNG support) is labelled too, outside the animation's
state.  The chunks (fcTL, IDAT/fdAT, sequence numbers, PLTE) are the handler's work
(:class:`~aigclabel.formats.media_image.PngAccess`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from ...foreign import pillow_errors
from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice
from ..render import LabelLayout, Sizing, draw_label, mean_luminance, plan_label
from .drawing import Drawn, check_mode, details, inter_crop, intersects, palette_indices, summary, union
from .state import LabelState

__all__ = ["mark_apng"]


def _redrawn(access: Any, anim: Image.Image, k: int, frame: Any, rect: tuple[int, int, int, int],
             layout: LabelLayout, dark: bool, indices: tuple[int, int] | None) -> Image.Image:
    """Frame *k*'s new pixels over *rect*: its own pixels, the label drawn over the canvas as displayed."""
    mode, frect, box = anim.mode, frame.rect, layout.box
    own = access.decode_frame(frame)
    with pillow_errors("composing an APNG frame"):
        anim.seek(k)  # Pillow counts a separate default picture as frame 0, as the access's frames do
        canvas = anim.copy()
    rw, rh = rect[2] - rect[0], rect[3] - rect[1]
    if rect != frect and frame.blend == 1 and mode in ("RGBA", "LA"):
        pixels = Image.new(mode, (rw, rh), 0)
    else:
        pixels = canvas.crop(rect)
    pixels.paste(own, (frect[0] - rect[0], frect[1] - rect[1]))
    region = canvas.crop(box)
    if mode == "P":
        region.putpalette(anim.getpalette() or [])
    draw_label(region, layout, dark_plate=dark, indices=indices)
    part, at = inter_crop(rect, box)
    pixels.paste(region.crop(part), at)
    if mode == "P":
        pixels.putpalette(anim.getpalette() or [])
    return pixels


def mark_apng(access: Any, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    width, height = access.width, access.height
    anim = access.animation()
    check_mode(anim, "png")
    mode = anim.mode
    layout = plan_label((width, height), options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    notes: list[str] = []
    with pillow_errors("reading the first APNG frame"):
        anim.seek(0)
        first = anim.copy()
    dark = mean_luminance(first.crop(box).convert("RGB") if mode in ("P", "1") else first.crop(box)) >= 0.5
    indices = None
    palette_before = anim.getpalette() if mode == "P" else None
    if mode == "P":
        indices = palette_indices(anim, first.crop(box), notes, max_entries=1 << access.bit_depth)
    frames = access.anim_frames()
    default_separate = bool(frames) and frames[0].fctl is None
    state = LabelState(box)
    replaced: dict[int, list[bytes]] = {}
    for k, frame in enumerate(frames):
        if not frame.parts:
            continue
        frect = frame.rect
        if frame.fctl is None:  # the static picture of non-APNG viewers: labelled, outside the animation's state
            rect = frect
        else:
            grow = state.missing_outside(frect)
            rect = union(frect, box) if grow else frect
            first_frame = k == (1 if default_separate else 0)  # APNG: "previous" on frame 0 means "background"
            state.after(rect, clear=frame.dispose == 1 or (first_frame and frame.dispose == 2),
                        restore=frame.dispose == 2 and not first_frame)
            if not intersects(frect, box) and not grow:
                continue
        pixels = _redrawn(access, anim, k, frame, rect, layout, dark, indices)
        replaced[k] = access.frame_chunks(frame, rect, pixels)
    new_palette = anim.getpalette() if mode == "P" else None
    palette = bytes(new_palette or []) if mode == "P" and new_palette != palette_before else None
    out = access.rebuild(replaced, palette)
    drawn = Drawn(layout, box)
    n_anim = sum(1 for f in frames if f.fctl is not None)
    notes = [summary(drawn), f"APNG: label drawn on {len(replaced)} of {len(frames)} picture(s) losslessly; "
             "frame count, delays, disposal, blending and loop kept", *notes]
    return ExplicitResult(out, notes, details(drawn, "png", {"frames": n_anim, "frames_changed": len(replaced),
                                                             "animated": True}))
