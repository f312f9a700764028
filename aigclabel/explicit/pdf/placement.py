"""Where the stamp goes on a page: upright as displayed, in a margin clear of the page's content.

The candidate spots follow the requested position, then the other bottom/top ones; the page's
content bounds come from :func:`aigclabel.formats.pdf_content.content_boxes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...formats.pdf_content import Box, Matrix, content_boxes, display_matrix, mul, page_geometry, transform_box
from .. import ExplicitOptions

__all__ = ["Placement", "page_frame", "obstacles", "choose", "place_stamp", "sample", "overlaps",
           "REF_SIZE", "PAD_EM", "SCANS_PER_GROUP"]

#: the form is drawn at this font size; each page scales it
REF_SIZE = 10.0
PAD_EM = 0.3  # white box padding around the text, in em
#: font size on a page: this fraction of the displayed page's shorter side, within the bounds (pt)
_SIZE_RATIO = 0.02
_MIN_SIZE, _MAX_SIZE = 6.0, 24.0
#: content covering at least this fraction of the visible page is a background, not an obstacle
_BACKGROUND_RATIO = 0.8
#: pages scanned per page geometry when stamping many pages (one placement serves the group)
SCANS_PER_GROUP = 6

_HORIZONTAL = {"left", "right", "center"}


def _position_parts(position: str) -> tuple[str, str]:
    parts = position.split("-")
    vertical = next((p for p in parts if p in ("top", "bottom")), "middle")
    horizontal = next((p for p in parts if p in ("left", "right")), "center")
    return vertical, horizontal


def _candidates(position: str) -> list[tuple[str, str]]:
    vertical, horizontal = _position_parts(position)
    order = [(vertical, horizontal)]
    others = [h for h in ("right", "left", "center") if h != horizontal]
    order += [(vertical, h) for h in others]
    if vertical != "middle":
        opposite = "top" if vertical == "bottom" else "bottom"
        order += [(opposite, horizontal)] + [(opposite, h) for h in others]
    return order


def _spot(vertical: str, horizontal: str, disp_w: float, disp_h: float, w: float, h: float,
          margin: float) -> tuple[float, float]:
    u = {"left": margin, "right": disp_w - margin - w, "center": (disp_w - w) / 2}[horizontal]
    v = {"bottom": margin, "top": disp_h - margin - h, "middle": (disp_h - h) / 2}[vertical]
    return u, v


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass
class Placement:
    """Where a page's stamp goes: its matrix, bounds, font size, and whether it covers content."""
    matrix: Matrix  # form space -> user space
    box: Box  # the stamp's bounds in user space
    font_size: float
    position: str  # where it went, e.g. "bottom-right"
    clear: bool | None  # True: covers no detected content; False: overlaps; None: content not scanned


@dataclass
class _Frame:
    """One page's geometry and the stamp's candidate spots on it, best first."""

    key: tuple[Any, ...]  # pages with the same key get the same placement
    visible: Box
    font_size: float
    spots: list[tuple[str, Matrix, Box]]  # (position name, form -> user matrix, user-space box)


def page_frame(page: Any, form_w: float, form_h: float, options: ExplicitOptions, text_em: float) -> _Frame:
    visible, rotate = page_geometry(page)
    vw, vh = visible[2] - visible[0], visible[3] - visible[1]
    disp_w, disp_h = (vw, vh) if rotate in (0, 180) else (vh, vw)
    size = options.extra.get("font_size")
    font_size = float(size) if size else min(_MAX_SIZE, max(_MIN_SIZE, _SIZE_RATIO * min(disp_w, disp_h)))
    font_size = max(1.0, min(font_size, 0.9 * disp_w / (text_em + 2 * PAD_EM)))  # never wider than 90 %
    s = font_size / REF_SIZE
    w, h = form_w * s, form_h * s
    margin = min(font_size, max(1.0, 0.25 * (disp_h - h)))
    to_user = display_matrix(visible, rotate)
    spots = []
    for vertical, horizontal in _candidates(options.position):
        u, v = _spot(vertical, horizontal, disp_w, disp_h, w, h, margin)
        matrix = mul((s, 0.0, 0.0, s, u, v), to_user)
        name = vertical if horizontal == "center" else (horizontal if vertical == "middle"
                                                          else f"{vertical}-{horizontal}")
        spots.append((name, matrix, transform_box(matrix, (0.0, 0.0, form_w, form_h))))
    key = (tuple(round(v, 2) for v in visible), rotate, round(font_size, 3))
    return _Frame(key, visible, font_size, spots)


def obstacles(page: Any, visible: Box) -> list[Box] | None:
    """What the page draws, without full-page backgrounds; None when the content could not be scanned."""
    scan = content_boxes(page)
    if not scan.complete:
        return None
    area = (visible[2] - visible[0]) * (visible[3] - visible[1])
    return [b for b in scan.boxes
            if (b[2] - b[0]) * (b[3] - b[1]) < _BACKGROUND_RATIO * area and overlaps(b, visible)]


def choose(frame: _Frame, scans: list[list[Box] | None]) -> Placement:
    """The first spot clear of every scanned page's content; the requested one when none is."""
    known = [obs for obs in scans if obs is not None]
    name, matrix, box = frame.spots[0]
    if not known:
        return Placement(matrix, box, frame.font_size, name, None)
    for name, matrix, box in frame.spots:
        if not any(overlaps(box, ob) for obs in known for ob in obs):
            return Placement(matrix, box, frame.font_size, name, True)
    name, matrix, box = frame.spots[0]
    return Placement(matrix, box, frame.font_size, name, False)


def place_stamp(page: Any, form_w: float, form_h: float, options: ExplicitOptions, text_em: float) -> Placement:
    """Where the stamp goes on *page* (displayed orientation), avoiding detected content if possible."""
    frame = page_frame(page, form_w, form_h, options, text_em)
    return choose(frame, [obstacles(page, frame.visible)])


def sample(indices: list[int], limit: int) -> list[int]:
    """Pages whose content is scanned when many pages share one geometry: the first three, the last
    two, then evenly spread ones up to *limit* (deterministic, so the same input gives the same file)."""
    if len(indices) <= limit:
        return indices
    chosen = dict.fromkeys(indices[:3] + indices[-2:])
    rest = limit - len(chosen)
    if rest > 0:
        step = len(indices) / (rest + 1)
        for k in range(1, rest + 1):
            chosen.setdefault(indices[int(k * step)], None)
    return list(chosen)
