"""Visible text labels on pictures: size and place the label, then draw it — shared by images and video.

Two steps, so a video can plan once and draw on every frame:

* :func:`plan_label` sizes the text so its **ink height** (the rows the glyphs actually cover, not the
  em size) meets the profile's thresholds, and places a plate at the requested corner or edge with a
  margin.  Nothing is ever clipped: text too wide for the picture at the required height is a
  :class:`~aigclabel.errors.LabelError`.
* :func:`draw_label` composites the plate and the text onto a region of a picture (the part under
  the plate, in displayed orientation), in the region's own mode.  The plate is semi-opaque and
  contrasts with what lies under it (dark on light backgrounds, light on dark ones) and the text has
  the opposite colour, so the label reads on any background; palette and bilevel pictures get an
  opaque two-colour label from colours their palette already has where possible.

:func:`render_label` does both on a whole RGB(A) picture.

Sizing follows the profile (``ExplicitOptions``): ink height >= ``min_height_ratio`` of the shortest
side; ``min_height_px``; text-box area >= ``min_area_ratio`` of the picture.  The label is made to
meet **every** non-zero threshold when it fits, and else the largest single one that fits (a label
passes when it meets any of them).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageStat

from ..errors import LabelError, UnsupportedOperation
from .fonts import FontChoice, resolve_font

__all__ = ["Sizing", "LabelLayout", "plan_label", "draw_label", "render_label", "label_colours",
           "palette_pair", "SUPPORTED_MODES"]

#: plate opacity (0-255) for modes that can blend; palette/bilevel plates are opaque
PLATE_ALPHA = 200
#: margin from the picture edge, as a fraction of the shortest side (at least 2 px)
MARGIN_RATIO = 0.02
#: plate padding around the ink, as a fraction of the ink height
PAD_X, PAD_Y = 0.35, 0.25
#: a coverage level counted as ink when measuring (half-covered pixels and above)
INK_LEVEL = 128
#: ink height below which text is hard to read (and to OCR): labels are made at least this tall when
#: the picture has room, even where the profile's threshold asks for less
MIN_LEGIBLE_PX = 12
#: safety margin over a height-ratio threshold, so re-encoding or measuring by another tool never
#: lands a label just under it
HEIGHT_MARGIN = 0.03
#: picture modes :func:`draw_label` works in directly
SUPPORTED_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "I;16", "I;16L", "I;16B", "I")

_REF_SIZE = 200


@dataclass(frozen=True)
class Sizing:
    """The size a visible label must reach (ink height and area against the picture)."""
    min_height_ratio: float = 0.05  # ink height / shortest side
    min_height_px: int = 0
    min_area_ratio: float = 0.0  # ink box area / picture area

    @classmethod
    def from_options(cls, options: Any) -> Sizing:
        return cls(float(getattr(options, "min_height_ratio", 0.05) or 0.0),
                   int(getattr(options, "min_height_px", 0) or 0),
                   float(getattr(options, "min_area_ratio", 0.0) or 0.0))


@dataclass
class _Text:
    """The text rendered at one size: coverage mask cropped to the ink, and the solid-ink box in it."""

    size: int
    mask: Image.Image  # L, cropped to every covered pixel
    solid: tuple[int, int, int, int]  # box of pixels >= INK_LEVEL, in mask coordinates

    @property
    def ink_w(self) -> int:
        return self.solid[2] - self.solid[0]

    @property
    def ink_h(self) -> int:
        return self.solid[3] - self.solid[1]


@dataclass
class LabelLayout:
    """Where and how big a label is, in displayed orientation; ``mask`` is the text coverage in the plate."""

    text: str
    font: FontChoice
    font_size: int
    canvas: tuple[int, int]  # (width, height) of the picture as displayed
    box: tuple[int, int, int, int]  # the plate (x0, y0, x1, y1): everything drawn lies inside
    ink_box: tuple[int, int, int, int]  # the solid ink of the text
    mask: Image.Image  # L, plate-sized: text coverage 0-255
    position: str
    met: list[str] = field(default_factory=list)  # thresholds the label meets

    @property
    def size(self) -> tuple[int, int]:
        return self.box[2] - self.box[0], self.box[3] - self.box[1]

    @property
    def ink_height(self) -> int:
        return self.ink_box[3] - self.ink_box[1]

    @property
    def height_ratio(self) -> float:
        return self.ink_height / min(self.canvas)

    @property
    def area_ratio(self) -> float:
        w, h = self.ink_box[2] - self.ink_box[0], self.ink_height
        return w * h / (self.canvas[0] * self.canvas[1])

    def details(self) -> dict[str, Any]:
        return {"text": self.text, "position": self.position, "box": list(self.box),
                "ink_box": list(self.ink_box), "ink_height_px": self.ink_height,
                "height_ratio": round(self.height_ratio, 4), "area_ratio": round(self.area_ratio, 5),
                "font": self.font.describe(), "font_path": self.font.path, "font_size": self.font_size,
                "thresholds_met": list(self.met)}


# ------------------------------------------------------------------------------------------ layout


def _load(font: FontChoice, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(font.path, size, index=font.index)
    except OSError as exc:
        raise LabelError(f"font {font.path} cannot be loaded: {exc}") from None


def _render_text(font: FontChoice, text: str, size: int) -> _Text:
    face = _load(font, size)
    x0, y0, x1, y1 = face.getbbox(text, anchor="ls")
    pad = 2 + size // 8  # the metric box may miss antialiased edge pixels
    canvas = Image.new("L", (int(x1 - x0) + 2 * pad, int(y1 - y0) + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - x0, pad - y0), text, fill=255, font=face, anchor="ls")
    covered = canvas.getbbox()
    if covered is None:
        raise LabelError(f"label text {text!r} draws no visible ink")
    mask = canvas.crop(covered)
    solid = mask.point([0] * INK_LEVEL + [255] * (256 - INK_LEVEL)).getbbox()
    if solid is None:
        raise LabelError(f"label text {text!r} draws no visible ink")
    return _Text(size, mask, solid)


def _margin(short: int) -> int:
    return max(2, round(MARGIN_RATIO * short))


def _plate_size(t: _Text) -> tuple[int, int, int, int]:
    """(plate width, plate height, pad x, pad y) for rendered text."""
    px, py = max(3, round(PAD_X * t.ink_h)), max(2, round(PAD_Y * t.ink_h))
    return t.mask.width + 2 * px, t.mask.height + 2 * py, px, py


def _thresholds(size: tuple[int, int], sizing: Sizing) -> list[tuple[str, Any, float]]:
    """(name, test(text) -> bool, estimated ink height) for every non-zero threshold."""
    w, h = size
    short = min(w, h)
    out: list[tuple[str, Any, float]] = []
    ratio = sizing.min_height_ratio
    if ratio > 0:
        need = max(math.ceil(ratio * short - 1e-9) + 1, math.ceil(ratio * short * (1 + HEIGHT_MARGIN)))
        out.append((f"ink height >= {ratio:.1%} of the shortest side ({need} px)",
                    lambda t, need=need: t.ink_h >= need, need))
    if sizing.min_height_px > 0:
        px = sizing.min_height_px
        out.append((f"ink height >= {px} px", lambda t, px=px: t.ink_h >= px, px))
    if sizing.min_area_ratio > 0:
        area = sizing.min_area_ratio * w * h
        out.append((f"text area >= {sizing.min_area_ratio:.2%} of the picture",
                    lambda t, area=area: t.ink_w * t.ink_h >= area, -area))  # estimate filled in later
    if not out:  # no threshold configured: fall back to the GB 45438 rule
        return _thresholds(size, Sizing())
    return out


def _smallest(font: FontChoice, text: str, test: Any, estimate_px: float, ref: _Text, cache: dict) -> _Text:
    """The smallest rendering of *text* that passes *test*, starting near *estimate_px* of ink height."""
    def at(size: int) -> _Text:
        if size not in cache:
            cache[size] = _render_text(font, text, size)
        return cache[size]

    if estimate_px < 0:  # an area target: ink area grows with the square of the size
        estimate_px = math.sqrt(-estimate_px * ref.ink_h / max(ref.ink_w, 1))
    size = max(4, math.floor(estimate_px * _REF_SIZE / max(ref.ink_h, 1)))
    t = at(size)
    while test(t) and size > 4:  # step down while the smaller size still passes
        smaller = at(size - 1)
        if not test(smaller):
            break
        size, t = size - 1, smaller
    steps = 0
    while not test(t):
        size += 1 if steps < 8 else max(1, size // 20)
        t = at(size)
        steps += 1
        if steps > 400:
            raise LabelError(f"cannot size the label text {text!r} to the required height")
    return t


def plan_label(size: tuple[int, int], text: str, position: str = "bottom-right", sizing: Sizing | None = None,
               font: FontChoice | None = None) -> LabelLayout:
    """Size and place *text* on a picture of *size* (displayed orientation)."""
    from . import POSITIONS

    if position not in POSITIONS:
        raise LabelError(f"position must be one of {', '.join(POSITIONS)}, not {position!r}")
    if not text.strip():
        raise LabelError("the label text is empty")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise LabelError(f"the label text {text!r} must be one line without control characters")
    sizing = sizing or Sizing()
    font = font or resolve_font(text)
    w, h = size
    short = min(w, h)
    margin = _margin(short)
    cache: dict[int, _Text] = {}
    ref = cache.setdefault(_REF_SIZE, _render_text(font, text, _REF_SIZE))
    tests = _thresholds(size, sizing)
    single = [(name, _smallest(font, text, test, est, ref, cache)) for name, test, est in tests]
    candidates: list[tuple[list[str], _Text]] = []
    biggest = max((t for _n, t in single), key=lambda t: t.size)
    if biggest.ink_h < MIN_LEGIBLE_PX:  # first try a legible size; the thresholds alone come next
        legible = _smallest(font, text, lambda t: t.ink_h >= MIN_LEGIBLE_PX, MIN_LEGIBLE_PX, ref, cache)
        candidates.append(([n for n, test, _e in tests if test(legible)], legible))
    if len(single) > 1:
        t_all = biggest
        while not all(test(t_all) for _n, test, _e in tests):
            t_all = cache.setdefault(t_all.size + 1, _render_text(font, text, t_all.size + 1))
        candidates.append(([n for n, _t, _e in tests], t_all))
        for name, t in sorted(single, key=lambda nt: -nt[1].size):
            candidates.append(([n for n, test, _e in tests if test(t)] or [name], t))
    else:
        candidates.append(([single[0][0]], single[0][1]))
    for met, t in candidates:
        pw, ph, px, py = _plate_size(t)
        if pw <= w - 2 * margin and ph <= h - 2 * margin:
            x0, y0 = _place(position, (w, h), (pw, ph), margin)
            plate_mask = Image.new("L", (pw, ph), 0)
            plate_mask.paste(t.mask, (px, py))
            sx0, sy0, sx1, sy1 = t.solid
            ink = (x0 + px + sx0, y0 + py + sy0, x0 + px + sx1, y0 + py + sy1)
            return LabelLayout(text, font, t.size, (w, h), (x0, y0, x0 + pw, y0 + ph), ink, plate_mask,
                               position, met)
    t = candidates[-1][1]
    pw, ph, _px, _py = _plate_size(t)
    raise LabelError(
        f"label text {text!r} does not fit: at the required ink height of {t.ink_h} px "
        f"({'; '.join(candidates[-1][0])}) the label is {pw}x{ph} px, but the picture is {w}x{h} px "
        f"(with a {margin}-px margin); use a shorter --text")


def _place(position: str, size: tuple[int, int], plate: tuple[int, int], margin: int) -> tuple[int, int]:
    (w, h), (pw, ph) = size, plate
    left, right, top, bottom = margin, w - margin - pw, margin, h - margin - ph
    cx, cy = (w - pw) // 2, (h - ph) // 2
    return {"bottom-right": (right, bottom), "bottom-left": (left, bottom), "top-right": (right, top),
            "top-left": (left, top), "bottom": (cx, bottom), "top": (cx, top), "left": (left, cy),
            "right": (right, cy)}[position]


# ------------------------------------------------------------------------------------------ drawing


def _max_value(region: Image.Image) -> int:
    if region.mode.startswith("I;16"):
        return 65535
    if region.mode == "I":
        hi = region.getextrema()[1]
        assert isinstance(hi, (int, float))  # mode I: one band, (min, max)
        return 65535 if hi <= 65535 else int(hi)
    return 255


def mean_luminance(region: Image.Image) -> float:
    """Mean luminance of *region*, 0 (black) to 1 (white)."""
    if region.mode.startswith("I"):
        return ImageStat.Stat(region).mean[0] / _max_value(region)
    if region.mode == "1":
        region = region.convert("L")
    if region.mode in ("RGBA", "LA", "PA"):
        region = region.convert("RGB" if region.mode == "RGBA" else "L") if region.mode != "PA" else \
            region.convert("RGB")
    return ImageStat.Stat(region.convert("L")).mean[0] / 255


def label_colours(mode: str, dark_plate: bool, top: int = 255) -> tuple[Any, Any]:
    """(plate colour, text colour) in *mode*: black and white, in the order *dark_plate* asks for."""
    black: Any
    white: Any
    if mode in ("1", "L", "I;16", "I;16L", "I;16B", "I"):
        black, white = 0, top
    elif mode == "LA":
        black, white = (0, 255), (255, 255)
    elif mode == "RGB" or mode == "RGBX":
        black, white = (0, 0, 0), (255, 255, 255)
    elif mode == "RGBA":
        black, white = (0, 0, 0, 255), (255, 255, 255, 255)
    elif mode == "CMYK":
        black, white = (0, 0, 0, 255), (0, 0, 0, 0)
    else:
        raise UnsupportedOperation(f"cannot draw a label on a picture in mode {mode}")
    return (black, white) if dark_plate else (white, black)


def _luma(rgb: tuple[int, int, int]) -> float:
    """Relative luminance (WCAG) of an sRGB colour."""
    def lin(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luma(a), _luma(b)))
    return (lb + 0.05) / (la + 0.05)


def palette_pair(palette: list[tuple[int, int, int]], dark_plate: bool,
                 exclude: set[int] = frozenset()) -> tuple[int, int, float]:  # type: ignore[assignment]
    """(plate index, text index, contrast ratio): the darkest and lightest usable palette entries."""
    usable = [i for i in range(len(palette)) if i not in exclude]
    if len(usable) < 2:
        return 0, 0, 1.0
    darkest = min(usable, key=lambda i: (_luma(palette[i]), i))
    lightest = max(usable, key=lambda i: (_luma(palette[i]), -i))
    ratio = contrast(palette[darkest], palette[lightest])
    return (darkest, lightest, ratio) if dark_plate else (lightest, darkest, ratio)


def draw_label(region: Image.Image, layout: LabelLayout, *, dark_plate: bool | None = None,
               indices: tuple[int, int] | None = None) -> Image.Image:
    """Composite the label onto *region* (the plate-sized part of the picture, displayed orientation).

    *region* is changed in place and returned.  *dark_plate* None chooses by the region's luminance.
    Palette (``P``/``PA``) regions need *indices* = (plate index, text index); they and bilevel (``1``)
    regions get an opaque two-colour label (no blending without new colours).
    """
    if region.size != layout.size:
        raise ValueError(f"region is {region.size}, the label plate is {layout.size}")
    mode = region.mode
    if mode not in SUPPORTED_MODES:
        raise UnsupportedOperation(f"cannot draw a label on a picture in mode {mode}")
    if dark_plate is None:
        dark_plate = mean_luminance(region) >= 0.5
    solid_text = layout.mask.point([0] * INK_LEVEL + [255] * (256 - INK_LEVEL))
    if mode in ("P", "PA"):
        if indices is None:
            raise ValueError("palette regions need the plate and text palette indices")
        plate_i, text_i = indices
        if mode == "PA":  # index band and alpha band: paint indices, make the label opaque
            idx, alpha = region.split()
            idx.paste(plate_i, (0, 0, *region.size))
            idx.paste(text_i, mask=solid_text)
            alpha.paste(255, (0, 0, *region.size))
            region.paste(Image.merge("PA", (idx, alpha)))
            return region
        region.paste(plate_i, (0, 0, *region.size))
        region.paste(text_i, mask=solid_text)
        return region
    plate, ink = label_colours(mode, dark_plate, _max_value(region))
    if mode == "1":
        region.paste(plate, (0, 0, *region.size))
        region.paste(ink, mask=solid_text)
        return region
    region.paste(plate, (0, 0, *region.size), mask=Image.new("L", region.size, PLATE_ALPHA))
    region.paste(ink, (0, 0, *region.size), mask=layout.mask)
    return region


def render_label(image: Image.Image, text: str, position: str = "bottom-right", sizing: Sizing | None = None,
                 font: FontChoice | None = None) -> tuple[Image.Image, LabelLayout]:
    """Draw the label onto *image* (RGB/RGBA/L..., displayed orientation) in place; return it and the layout."""
    layout = plan_label(image.size, text, position, sizing, font)
    region = image.crop(layout.box)
    draw_label(region, layout)
    image.paste(region, layout.box[:2])
    return image, layout
