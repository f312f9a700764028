"""Drawing the label onto a decoded picture: orientation, palettes, colour keys, and the result's notes.

Nothing here knows a container: the pixels come from the handler's picture access
(:mod:`aigclabel.formats.media_image`) and go back to it.
"""

from __future__ import annotations

import array
import sys
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageChops

from ...errors import UnsupportedOperation
from .. import ExplicitOptions
from ..fonts import FontChoice
from ..render import LabelLayout, Sizing, draw_label, mean_luminance, palette_pair, plan_label

__all__ = ["TO_DISPLAY", "displayed_size", "stored_box", "Drawn", "palette_indices", "label_picture",
           "details", "summary", "check_mode", "MIN_PALETTE_CONTRAST", "intersects", "union", "inter_crop"]

#: EXIF orientation -> the transpose that turns the stored picture into the displayed one
TO_DISPLAY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
            Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90}
#: below this contrast ratio (WCAG "AAA") between the two label colours a palette picture has, black and
#: white are added to the palette where there is room
MIN_PALETTE_CONTRAST = 7.0

Box = tuple[int, int, int, int]


# ------------------------------------------------------------------------------------------ geometry


def displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def stored_box(box: Box, orientation: int, size: tuple[int, int]) -> Box:
    """The stored-picture box that shows as *box* (displayed coordinates) under *orientation*.

    *size* is the stored (width, height).
    """
    w, h = size
    u0, v0, u1, v1 = box

    def to_stored(u: int, v: int) -> tuple[int, int]:  # pixel (u, v) as displayed -> stored pixel
        return {1: (u, v), 2: (w - 1 - u, v), 3: (w - 1 - u, h - 1 - v), 4: (u, h - 1 - v),
                5: (v, u), 6: (v, h - 1 - u), 7: (w - 1 - v, h - 1 - u), 8: (w - 1 - v, u)}[orientation]

    xs, ys = zip(*(to_stored(u, v) for u in (u0, u1 - 1) for v in (v0, v1 - 1)), strict=True)
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def intersects(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def inter_crop(rect: Box, box: Box) -> tuple[Box, tuple[int, int]]:
    """(the part of *box* inside *rect*, in *box* coordinates; where it goes in *rect* coordinates)."""
    inter = (max(rect[0], box[0]), max(rect[1], box[1]), min(rect[2], box[2]), min(rect[3], box[3]))
    return ((inter[0] - box[0], inter[1] - box[1], inter[2] - box[0], inter[3] - box[1]),
            (inter[0] - rect[0], inter[1] - rect[1]))


# ------------------------------------------------------------------------------------------ drawing


@dataclass
class Drawn:
    """A label drawn on a picture: its layout, the box it was stored at, and notes for the result."""
    layout: LabelLayout
    stored_box: Box
    notes: list[str] = field(default_factory=list)


def _palette(im: Image.Image) -> list[tuple[int, int, int]]:
    flat = im.getpalette("RGB") or []
    return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat) - 2, 3)]


def _translucent_indices(im: Image.Image) -> set[int]:
    t = im.info.get("transparency")
    if isinstance(t, int):
        return {t}
    if isinstance(t, (bytes, bytearray)):
        return {i for i, a in enumerate(t) if a < 255}
    return set()


def palette_indices(im: Image.Image, region: Image.Image, notes: list[str],
                    max_entries: int = 256) -> tuple[int, int]:
    """(plate, text) palette indices for a label on *im* (mode P); may extend the palette in place.

    The darkest and lightest opaque entries are used; when they contrast too little, black and white
    are appended if the palette has room, so every other pixel keeps its index and colour.
    """
    palette = _palette(im)
    exclude = _translucent_indices(im)
    dark = mean_luminance(region.convert("RGB")) >= 0.5
    plate, text, ratio = palette_pair(palette, dark, exclude)
    if ratio >= MIN_PALETTE_CONTRAST:
        return plate, text
    if len(palette) + 2 <= max_entries:
        black, white = len(palette), len(palette) + 1
        im.putpalette([c for rgb in (*palette, (0, 0, 0), (255, 255, 255)) for c in rgb], "RGB")
        notes.append("black and white were added to the palette for the label")
        return (black, white) if dark else (white, black)
    notes.append(f"the palette is full; the label uses its most contrasting colours (ratio {ratio:.1f}:1)")
    return plate, text


def _avoid_colour_key(region: Image.Image, key: Any) -> None:
    """Nudge label pixels that equal the picture's transparent colour key (PNG tRNS), so none vanish."""
    if isinstance(key, tuple):
        alt: Any = tuple(c - 1 if c > 0 else 1 for c in key)
    else:
        alt = key - 1 if key > 0 else 1
    if region.mode in ("I;16", "I"):
        values = array.array("H" if region.mode == "I;16" else "i", region.tobytes())
        if sys.byteorder != "little":
            values.byteswap()
        hits = [i for i, v in enumerate(values) if v == key]
        if hits:
            for i in hits:
                values[i] = alt
            if sys.byteorder != "little":
                values.byteswap()
            region.frombytes(values.tobytes())
        return
    if region.mode not in ("L", "RGB"):
        return
    keyed = ImageChops.difference(region, Image.new(region.mode, region.size, key))
    bands = keyed.split()
    diff = bands[0]
    for b in bands[1:]:
        diff = ImageChops.lighter(diff, b)
    same = diff.point([255] + [0] * 255)
    if same.getbbox() is not None:
        region.paste(alt, mask=same)


def label_picture(im: Image.Image, options: ExplicitOptions, font: FontChoice, orientation: int = 1,
                  layout: LabelLayout | None = None) -> Drawn:
    """Draw the label onto *im* in place (any supported mode), honouring EXIF *orientation*."""
    notes: list[str] = []
    if layout is None:
        layout = plan_label(displayed_size(im.size, orientation), options.text, options.position,
                            Sizing.from_options(options), font)
    box = stored_box(layout.box, orientation, im.size)
    region = im.crop(box)
    transpose = TO_DISPLAY.get(orientation)
    if transpose is not None:
        region = region.transpose(transpose)
    indices = None
    if im.mode in ("P", "PA"):
        indices = palette_indices(im, region, notes)
        region.putpalette(im.getpalette() or [])
    draw_label(region, layout, indices=indices)
    key = im.info.get("transparency")
    if key is not None and im.mode in ("L", "RGB", "I;16", "I"):
        _avoid_colour_key(region, key)
    if transpose is not None:
        region = region.transpose(_INVERSE.get(transpose, transpose))
    im.paste(region, box[:2])
    return Drawn(layout, box, notes)


def details(drawn: Drawn, fmt: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out = drawn.layout.details()
    out["format"] = fmt
    out["stored_box"] = list(drawn.stored_box)
    if extra:
        out.update(extra)
    return out


def summary(drawn: Drawn) -> str:
    lay = drawn.layout
    return (f"visible label {lay.text!r} drawn at {lay.position}: ink height {lay.ink_height} px = "
            f"{lay.height_ratio:.1%} of the shortest side, box {list(lay.box)}, font {lay.font.describe()}")


def check_mode(im: Image.Image, fmt: str) -> None:
    if im.mode in ("F", "I;16S", "I;32", "HSV", "LAB", "YCbCr"):
        raise UnsupportedOperation(f"cannot draw a visible label on a {fmt.upper()} picture in mode {im.mode}")
