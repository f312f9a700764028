"""GIF (animated or not): the label drawn into each frame that shows it, in the frame's own palette.

Frames that do not touch the label keep their bytes; a redrawn frame keeps its delay, disposal and
position, and every extension between frames stays (see :mod:`.state` for frames grown after a
disposal cleared the label).  The container work is the handler's (:class:`~aigclabel.formats.media_image.GifAccess`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from ...errors import UnsupportedOperation
from ...foreign import pillow_errors
from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice
from ..render import LabelLayout, Sizing, draw_label, mean_luminance, palette_pair, plan_label
from .drawing import MIN_PALETTE_CONTRAST, Drawn, details, inter_crop, intersects, summary, union
from .state import LabelState

__all__ = ["mark_gif"]

Palette = list[tuple[int, int, int]]


@dataclass
class _Colours:
    """The palette entries a GIF frame's label uses (plate, text, transparency)."""
    palette: Palette  # the frame's palette, possibly with black and white added
    plate: int
    text: int
    transparent: int | None


def _colours(frame: Any, palette: Palette, used: set[int], dark: bool, grow: bool, i: int) -> _Colours:
    """Label colours for one frame: the most contrasting entries, else black and white in free slots."""
    transparent = frame.transparent
    exclude = {transparent} if transparent is not None else set()
    plate_i, text_i, ratio = palette_pair(palette, dark, exclude)
    free = [k for k in range(256) if k not in used and k not in exclude]
    new_palette = list(palette)
    if ratio < MIN_PALETTE_CONTRAST:
        want = [(0, 0, 0), (255, 255, 255)] if dark else [(255, 255, 255), (0, 0, 0)]
        slots = free[:2]
        if len(slots) == 2:
            for k, colour in zip(slots, want, strict=True):
                while len(new_palette) <= k:
                    new_palette.append((0, 0, 0))
                new_palette[k] = colour
            plate_i, text_i = slots
            free = free[2:]
    if grow and transparent is None:
        spare = [k for k in free if k not in (plate_i, text_i)]
        if not spare:
            raise UnsupportedOperation(f"GIF frame {i} uses all 256 colours; cannot extend it to redraw the label")
        transparent = spare[0]
        while len(new_palette) <= transparent:
            new_palette.append((0, 0, 0))
    return _Colours(new_palette, plate_i, text_i, transparent)


def _redraw(access: Any, frame: Any, i: int, rect: tuple[int, int, int, int], grow: bool,
            layout: LabelLayout, dark: bool) -> bytes:
    palette, table_raw = access.palette_of(frame)
    if not palette:
        raise UnsupportedOperation("GIF frame without a colour table: cannot choose label colours")
    own = access.decode_frame(frame, table_raw)
    used = {k for k, n in enumerate(own.histogram()[:256]) if n}
    colours = _colours(frame, palette, used, dark, grow, i)
    box = layout.box
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    canvas = Image.new("P", (w, h), colours.transparent if grow else 0)
    canvas.paste(own, (frame.rect[0] - rect[0], frame.rect[1] - rect[1]))
    region = Image.new("P", layout.size, colours.plate)
    draw_label(region, layout, indices=(colours.plate, colours.text))
    part, at = inter_crop(rect, box)
    canvas.paste(region.crop(part), at)
    keep_global = not frame.has_lct and colours.palette == palette
    return access.frame_bytes(frame, rect, canvas, colours.palette, keep_global, colours.transparent, grow)


def mark_gif(access: Any, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    frames = access.layout.frames
    width, height = access.layout.width, access.layout.height
    layout = plan_label((width, height), options.text, options.position, Sizing.from_options(options), font)
    box = layout.box
    first = access.picture()
    with pillow_errors("reading the first GIF frame"):
        dark = mean_luminance(first.convert("RGB").crop(box)) >= 0.5
    state = LabelState(box)
    notes: list[str] = []
    replaced: dict[int, bytes] = {}
    grown = 0
    for i, f in enumerate(frames):
        disposal = f.disposal
        touches = intersects(f.rect, box)
        grow = state.missing_outside(f.rect)
        rect = union(f.rect, box) if grow else f.rect
        state.after(rect, clear=disposal == 2, restore=disposal == 3)
        if not touches and not grow:
            continue
        replaced[i] = _redraw(access, f, i, rect, grow, layout, dark)
        if grow:
            grown += 1
            if disposal == 2 and rect != f.rect:
                notes.append(f"frame {i}: its rectangle grew to the label box, so its 'restore to background' "
                             "disposal also clears that area")
    out = access.rebuild(replaced, grown > 0)
    drawn = Drawn(layout, box)
    notes = [summary(drawn), f"GIF: label drawn on {len(replaced)} of {len(frames)} frame(s) (the others keep "
             "their bytes and show the label from the canvas); frame count, delays, disposal and loop kept",
             *([f"{grown} frame(s) grown to redraw the label after a disposal cleared it"] if grown else []),
             *notes]
    return ExplicitResult(out, notes, details(drawn, "gif", {"frames": len(frames), "frames_changed": len(replaced)}))
