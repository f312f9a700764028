"""A thin wrapper over RapidOCR (``pip install aigclabel[ocr]``) for reading visible labels.

Nothing heavy is imported at module level: ``rapidocr_onnxruntime`` (and with it OpenCV, NumPy and
onnxruntime) loads on the first OCR call, and one engine is kept per process.

* :func:`available` says whether the OCR extra is installed.
* :func:`read_text` reads every text line of a Pillow image: ``TextBox(text, box, confidence)``
  with the box in that image's pixels.
* :func:`edge_regions` lists the corner and edge bands where the rules allow a label, in the order
  worth trying; :func:`read_region` OCRs one band, maps the boxes back to whole-image coordinates,
  and widens the band when text runs across its inner side (so a long label is never read cut).
* :func:`merge_lines` joins boxes of one text line ("AI" + "生成" read as two boxes).
* :func:`ink_height` measures the height of the ink of a boxed line (OCR boxes are padded around
  short lines and a little tight on long ones, so the box height itself is not the text height).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["OcrUnavailable", "OcrFailed", "TextBox", "Region", "available", "install_hint", "engine",
           "read_text", "edge_regions", "read_region", "RegionRead", "MAX_BAND_AREA_RATIO", "BAND_PIXEL_BUDGET",
           "DENSE_BAND_LINES",
           "scaled_view", "dedupe",
           "merge_lines", "ink_height",
           "INSTALL_HINT"]

INSTALL_HINT = "pip install 'aigclabel[ocr]'"
_MODULE = "rapidocr_onnxruntime"

_lock = threading.Lock()
_MIN_SIDE = 48  # images smaller than this on a side are padded before OCR
_engine: Any = None

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


class OcrUnavailable(RuntimeError):
    """The OCR extra is not installed (or its runtime cannot load)."""


class OcrFailed(RuntimeError):
    """The OCR engine failed on an image (the message names the engine's own error)."""


@dataclass(frozen=True)
class TextBox:
    """One text line read by OCR."""

    text: str
    box: Box  # axis-aligned bounds (x0, y0, x1, y1) in the pixels of the image it refers to
    confidence: float
    #: the detector's quadrilateral (four (x, y) points, clockwise from top-left), when known
    quad: tuple[tuple[float, float], ...] | None = None

    @property
    def height(self) -> float:
        """Line height: the mean length of the quadrilateral's left and right sides (robust to a slight
        slant), or the box height."""
        if self.quad and len(self.quad) == 4:
            (ax, ay), (bx, by), (cx, cy), (dx, dy) = self.quad
            left = ((dx - ax) ** 2 + (dy - ay) ** 2) ** 0.5
            right = ((cx - bx) ** 2 + (cy - by) ** 2) ** 0.5
            return (left + right) / 2
        return self.box[3] - self.box[1]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> TextBox:
        """The same box in other coordinates: ``(p + (dx, dy)) * factor``."""
        x0, y0, x1, y1 = self.box
        box = ((x0 + dx) * factor, (y0 + dy) * factor, (x1 + dx) * factor, (y1 + dy) * factor)
        quad = None if self.quad is None else tuple(((x + dx) * factor, (y + dy) * factor) for x, y in self.quad)
        return TextBox(self.text, box, self.confidence, quad)


@dataclass(frozen=True)
class Region:
    """A named rectangle of the image to OCR: ``box`` is (x0, y0, x1, y1) in integer pixels."""

    name: str
    box: tuple[int, int, int, int]

    @property
    def area(self) -> int:
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


def available() -> bool:
    """True when the OCR extra (rapidocr-onnxruntime) is installed."""
    try:
        return importlib.util.find_spec(_MODULE) is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken half-installed package
        return False


def install_hint() -> str:
    return f"install the OCR extra: {INSTALL_HINT}"


# A shared library OpenCV (under rapidocr) needs and the Debian/Ubuntu package that has it: installing the pip extra
# again does not help when one of these is missing, which is the usual failure on a slim container.
_SYSTEM_LIBRARIES = {"libGL.so": "libgl1", "libgthread-2.0.so": "libglib2.0-0", "libglib-2.0.so": "libglib2.0-0",
                     "libSM.so": "libsm6", "libXext.so": "libxext6", "libXrender.so": "libxrender1"}


def unavailable_hint(exc: BaseException) -> str:
    """What to do about *exc*, raised while loading the OCR engine: the extra when a Python package is missing,
    the system package when the extra is installed but a shared library it needs is not."""
    text = str(exc)
    for library, package in _SYSTEM_LIBRARIES.items():
        if library in text:
            return (f"the OCR extra is installed, but OpenCV cannot load the system library {library}: install it "
                    f"(Debian/Ubuntu: apt-get install {package}), or use opencv-python-headless instead of "
                    "opencv-python")
    return install_hint()


def engine() -> Any:
    """The process's one RapidOCR engine, created on first use.

    The engine is told never to resize or pad by itself (we choose the scale): the detector's
    default "at least 736 px on the short side", and its padding of anything wider than 8:1, would
    blow a thin band up many times over.
    """
    global _engine
    if _engine is not None:
        return _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR(det_limit_type="max", det_limit_side_len=16384, max_side_len=16384,
                                   min_side_len=8, width_height_ratio=-1, text_score=0.0, print_verbose=False)
            except Exception as exc:  # ImportError, an onnxruntime/OpenCV that cannot load, a missing model
                if isinstance(exc, MemoryError) or "bad_alloc" in str(exc):
                    # the models did not fit this process's memory cap (a service worker's --worker-memory):
                    # a resource limit, not a missing extra -- "install the OCR extra" would send users astray
                    from ..errors import LimitExceeded

                    raise LimitExceeded("max_allocation", "loading the OCR models needs more memory than this "
                                        "process may use (about 1.2 GB of address space)") from exc
                raise OcrUnavailable(f"OCR is not available ({exc.__class__.__name__}: {exc}); "
                                     f"{unavailable_hint(exc)}") from exc
    return _engine


def _to_bgr(image: Image.Image) -> Any:
    import numpy as np

    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def read_text(image: Image.Image, *, min_confidence: float = 0.0) -> list[TextBox]:
    """Every text line OCR reads in *image* (an RGB Pillow image), boxes in its pixels.

    Text-angle classification is off: labels are upright once EXIF orientation is applied.
    """
    eng = engine()
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size[0] < _MIN_SIDE or image.size[1] < _MIN_SIDE:
        # the detector works on multiples of 32 px: pad tiny images (right and bottom, so coordinates
        # stay) with their own median colour rather than let it fail
        from PIL import Image as _Image, ImageStat

        fill = tuple(int(v) for v in ImageStat.Stat(image).median)
        canvas = _Image.new("RGB", (max(_MIN_SIDE, image.size[0]), max(_MIN_SIDE, image.size[1])), fill)
        canvas.paste(image, (0, 0))
        image = canvas
    arr = _to_bgr(image)
    try:
        with _lock:  # the engine keeps per-call state; one call at a time
            result, _elapsed = eng(arr, use_cls=False)
    except Exception as exc:  # noqa: BLE001 - a third-party engine: never let its errors escape raw
        raise OcrFailed(f"the OCR engine failed on a {image.size[0]}x{image.size[1]} image "
                        f"({exc.__class__.__name__}: {exc})") from exc
    out: list[TextBox] = []
    for item in result or ():
        points, text, score = item[0], str(item[1]), float(item[2])
        if score < min_confidence or not text.strip():
            continue
        quad = tuple((float(x), float(y)) for x, y in points)
        xs = [p[0] for p in quad]
        ys = [p[1] for p in quad]
        out.append(TextBox(text, (min(xs), min(ys), max(xs), max(ys)), score, quad))
    return out


# --------------------------------------------------------------------------------------- bands


def edge_regions(width: int, height: int, band_ratio: float = 0.15,
                 corner_ratio: float = 0.4) -> list[Region]:
    """The corner and edge bands of a *width* x *height* image where a label may sit, most likely first.

    Bands are *band_ratio* of the shortest side deep; corners are *corner_ratio* of the side long
    (at most three times the shortest side, for panoramas), the edge middles as long and centred.
    Order: the four corners (bottom-right, the usual place, first), then the middles of the bottom,
    top, right and left edges. Neighbouring bands overlap so that a label straddling a seam is whole
    in one of them; :func:`read_region` widens a band when text still runs across its inner side.
    """
    short = min(width, height)
    w, h = width, height
    d = max(1, min(h, round(band_ratio * short)))  # depth of the top and bottom bands
    dw = max(1, min(w, round(band_ratio * short)))  # depth of the left and right bands
    cw = max(dw, min(w, round(corner_ratio * w), 3 * short))  # length of a corner band
    mx0 = max(0, (w - cw) // 2)
    mx1 = min(w, mx0 + cw)
    my0, my1 = d // 2, max(d // 2 + 1, h - d // 2)
    regions = [
        Region("bottom-right", (w - cw, h - d, w, h)),
        Region("bottom-left", (0, h - d, cw, h)),
        Region("top-right", (w - cw, 0, w, d)),
        Region("top-left", (0, 0, cw, d)),
        Region("bottom", (mx0, h - d, mx1, h)),
        Region("top", (mx0, 0, mx1, d)),
        Region("right", (w - dw, my0, w, my1)),
        Region("left", (0, my0, dw, my1)),
    ]
    return [r for r in regions if r.area > 0]


def _touching_sides(tb: TextBox, region: tuple[int, int, int, int], width: int, height: int) -> set[str]:
    """The inner sides of *region* (not on the image border) that text box *tb* reaches or nearly so.

    Along the line the margin is most of a line height (the detector drops a glyph the side cuts
    in two, leaving a gap); across it, a few pixels (a line cut lengthwise is boxed up to the cut).
    """
    x0, y0, x1, y1 = region
    bx0, by0, bx1, by1 = tb.box
    along, across = max(2.0, 0.8 * tb.height), max(2.0, 0.1 * tb.height)
    sides = set()
    if x0 > 0 and bx0 <= x0 + along:
        sides.add("left")
    if x1 < width and bx1 >= x1 - along:
        sides.add("right")
    if y0 > 0 and by0 <= y0 + across:
        sides.add("top")
    if y1 < height and by1 >= y1 - across:
        sides.add("bottom")
    return sides


def scaled_view(image: Image.Image, scale: float,
                box: tuple[float, float, float, float] | None = None) -> Image.Image:
    """*box* (in scaled coordinates; default the whole image) of *image* resized by *scale*.

    Only the pixels asked for are resampled, so reading a band of a huge picture costs the band.
    """
    from PIL import Image as _Image

    full = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    if box is None:
        box = (0, 0, full[0], full[1])
    x0, y0, x1, y1 = box
    size = (max(1, round(x1 - x0)), max(1, round(y1 - y0)))
    if scale == 1.0:
        return image.crop((int(x0), int(y0), int(x1), int(y1)))
    src = (x0 / scale, y0 / scale, min(image.size[0], x1 / scale), min(image.size[1], y1 / scale))
    resample = _Image.Resampling.BILINEAR if scale < 1 else _Image.Resampling.BICUBIC
    return image.resize(size, resample, box=src, reducing_gap=3.0 if scale < 0.5 else None)


#: a band is never widened past this share of the image: text that runs on further is the whole
#: image's business (the full-image read covers it once, where growing a band would read most of the
#: image several times over -- a noisy image full of "lines" cost 2.6x a full read that way)
MAX_BAND_AREA_RATIO = 0.35
#: ... and all the band reads of one search together read at most this many times the pixels of the whole
#: image: a picture whose bands keep holding text (a poster, a screenshot, noise OCR reads as lines) is
#: searched by the one whole-image read sooner (a fuzzed JPEG's bands read 2.3x the whole image: 2.5 s)
BAND_PIXEL_BUDGET = 1.0
#: a band read that holds this many text lines makes the picture text-dense: the band is not widened and the
#: rest of the search is the one whole-image read (each line costs a recognition pass; the bands of such a
#: picture would read them twice or more)
DENSE_BAND_LINES = 8


@dataclass(frozen=True)
class RegionRead:
    """What :func:`read_region` read: the boxes, the band finally read, and whether text still ran on
    past it when the band could not grow any further (so only a whole-image read sees all of it)."""

    boxes: list[TextBox]
    region: Region
    runs_on: bool = False
    #: OCR pixels read, every widening of the band included
    pixels: int = 0


def read_region(image: Image.Image, region: Region, *, scale: float = 1.0, min_confidence: float = 0.0,
                max_grow: int = 3, max_area_ratio: float = MAX_BAND_AREA_RATIO,
                dense_lines: int | None = None, max_pixels: float = float("inf")) -> RegionRead:
    """OCR *region* of *image* seen at *scale* (OCR pixels per image pixel; *region* and the boxes
    returned are in those scaled whole-image coordinates).

    When a line reaches an inner side of the band (it continues outside), the band is widened on
    that side and read again, up to *max_grow* times and never past *max_area_ratio* of the image.
    A read of *dense_lines* lines or more is not widened: it is returned with ``runs_on`` (the picture
    is text-dense, and only a whole-image read sees its lines once each); nor is a band whose next read would
    take its reads past *max_pixels* (OCR pixels, every read of the band counted).
    """
    width, height = max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))
    box = region.box
    area_cap = max_area_ratio * width * height
    attempts = pixels = 0
    while True:
        x0, y0, x1, y1 = box
        crop = scaled_view(image, scale, box)
        boxes = [tb.scaled(1.0, x0, y0) for tb in read_text(crop, min_confidence=min_confidence)]
        attempts += 1
        pixels += crop.size[0] * crop.size[1]
        if dense_lines is not None and len(boxes) >= dense_lines:
            return RegionRead(boxes, Region(region.name, box), runs_on=True, pixels=pixels)
        grow = {"left": 0.0, "right": 0.0, "top": 0.0, "bottom": 0.0}
        for tb in boxes:
            for side in _touching_sides(tb, box, width, height):
                # the rest of a line lies along it: grow by several line heights, at least half the band
                along = side in ("left", "right")
                step = max(4 * tb.height, 0.5 * ((x1 - x0) if along else (y1 - y0)))
                grow[side] = max(grow[side], step)
        if not any(grow.values()):
            return RegionRead(boxes, Region(region.name, box), runs_on=False, pixels=pixels)
        new = (max(0, round(x0 - grow["left"])), max(0, round(y0 - grow["top"])),
               min(width, round(x1 + grow["right"])), min(height, round(y1 + grow["bottom"])))
        if new == box:  # already at the image's edges on every side it would grow
            return RegionRead(boxes, Region(region.name, box), runs_on=False, pixels=pixels)
        area = (new[2] - new[0]) * (new[3] - new[1])
        if attempts > max_grow or area > area_cap or pixels + area > max_pixels:
            return RegionRead(boxes, Region(region.name, box), runs_on=True, pixels=pixels)
        box = new


# --------------------------------------------------------------------------------- text lines


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter <= 0:
        return 0.0
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / min(area_a, area_b)


def dedupe(boxes: Iterable[TextBox]) -> list[TextBox]:
    """Drop repeats of the same text read in overlapping bands: of two boxes that mostly overlap,
    keep the one with the longer text (then the higher confidence)."""
    kept: list[TextBox] = []
    for tb in sorted(boxes, key=lambda t: (-len(t.text), -t.confidence)):
        if all(_iou(tb.box, k.box) < 0.6 for k in kept):
            kept.append(tb)
    return kept


def merge_lines(boxes: Sequence[TextBox], gap: float = 1.5) -> list[TextBox]:
    """Join boxes that sit side by side on one text line into one box (text in reading order).

    Two boxes are on one line when they overlap vertically by at least half the smaller height,
    their heights differ by less than 1.6x, and the horizontal gap is under *gap* line heights.
    The joined box's confidence is the lowest of its parts; its quadrilateral is the union's.
    """
    pending = sorted(boxes, key=lambda t: t.box[0])
    lines: list[list[TextBox]] = []
    for tb in pending:
        placed = False
        for line in lines:
            last = line[-1]
            h_small = min(tb.height, last.height)
            h_big = max(tb.height, last.height)
            overlap = min(tb.box[3], last.box[3]) - max(tb.box[1], last.box[1])
            dx = tb.box[0] - last.box[2]
            if (h_big < 1.6 * h_small and overlap >= 0.5 * h_small
                    and -0.5 * h_small <= dx <= gap * h_big):
                line.append(tb)
                placed = True
                break
        if not placed:
            lines.append([tb])
    out = []
    for line in lines:
        if len(line) == 1:
            out.append(line[0])
            continue
        x0 = min(t.box[0] for t in line)
        y0 = min(t.box[1] for t in line)
        x1 = max(t.box[2] for t in line)
        y1 = max(t.box[3] for t in line)
        text = "".join(t.text for t in line)
        conf = min(t.confidence for t in line)
        out.append(TextBox(text, (x0, y0, x1, y1), conf, ((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
    return out


# --------------------------------------------------------------------------------- ink height


def ink_height(image: Image.Image, box: Box) -> tuple[float, float] | None:
    """The ink extent (height, width) in pixels of the text line in *box* of *image*, or None when
    it cannot be told from the background.

    OCR boxes are padded around the glyphs for short lines but can be a little tight for long ones,
    so the rows are searched in the box widened by a fifth of its height above and below. The
    background is the median colour inside the box (glyphs cover well under half of a line); ink is
    what differs from it by more than an Otsu threshold on the colour distance. The text is the run
    of rows holding clearly more ink than the cleanest row does (short gaps bridged): faint
    anti-aliased rows and specks of a busy picture beyond a label's plate do not count.
    """
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    W, H = image.size
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    pad = max(2, round(0.2 * (y1 - y0)))
    top, bottom = max(0, y0 - pad), min(H, y1 + pad)
    result = None
    for _attempt in range(3):
        extent = _ink_extent(image, (x0, top, x1, bottom), (y0 - top, y1 - top))
        if extent is None:
            return result
        r0, r1, c0, c1 = extent
        if r0 == 0 and r1 == bottom - top - 1:
            return None  # "ink" from edge to edge: the text cannot be told from a busy background
        result = (float(r1 - r0 + 1), float(c1 - c0 + 1))
        # the ink runs into the searched rows' edge: search further on that side
        more_top, more_bottom = r0 == 0 and top > 0, r1 == bottom - top - 1 and bottom < H
        if not (more_top or more_bottom):
            break
        top, bottom = max(0, top - pad * more_top), min(H, bottom + pad * more_bottom)
    return result


def _ink_extent(image: Image.Image, region: tuple[int, int, int, int],
                inner: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(first row, last row, first column, last column) of the text's ink in *region* (relative to
    it); *inner* is the OCR box's rows within the region."""
    import numpy as np
    from PIL import Image as _Image, ImageChops

    crop = image.crop(region)
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    w, h = crop.size
    arr = np.asarray(crop)
    box_px = arr[inner[0]:inner[1]]
    step = max(1, int((box_px.shape[0] * box_px.shape[1] / 20000) ** 0.5))  # a sample is enough
    bg = tuple(int(v) for v in np.median(box_px[::step, ::step].reshape(-1, 3), axis=0))
    # colour distance to the background: the largest channel difference (done by Pillow, in C)
    r, g, b = ImageChops.difference(crop, _Image.new("RGB", crop.size, bg)).split()
    dist = np.asarray(ImageChops.lighter(ImageChops.lighter(r, g), b))
    thr = _otsu(dist[inner[0]:inner[1]])
    if thr is None:
        return None
    strong = dist > max(thr, 24.0)
    if not strong[inner[0]:inner[1]].any():
        return None
    # The rows: the run holding the most ink (short gaps bridged) among rows with clearly more
    # ink than the cleanest row, on the Otsu cut; then at most one anti-aliased row on each side,
    # counted at a fifth of the way to the ink colour, where it follows the glyph edge it borders.
    counts = strong.sum(axis=1)
    base = float(counts.min())
    flags = counts > base + 3.0 * base ** 0.5 + 0.5
    # the text line is the run at the OCR box's middle, not texture beyond a plate's edge
    row_run = _main_run(counts, flags, max(2, (inner[1] - inner[0]) // 10), anchor=(inner[0] + inner[1]) // 2)
    if row_run is None:
        return None
    level = float(np.median(dist[strong]))
    weak = dist > max(12.0, 0.2 * level)
    wcounts = weak.sum(axis=1)
    wbase = float(wcounts.min())
    first, last = row_run
    if first > 0 and wcounts[first - 1] > wbase + 3.0 * wbase ** 0.5 + 0.5 \
            and wcounts[first - 1] >= 0.25 * wcounts[first]:
        first -= 1
    if last < h - 1 and wcounts[last + 1] > wbase + 3.0 * wbase ** 0.5 + 0.5 \
            and wcounts[last + 1] >= 0.25 * wcounts[last]:
        last += 1
    row_run = (first, last)
    mask = weak if wbase <= 0.02 * w else strong
    ink_h = row_run[1] - row_run[0] + 1
    cols = mask[row_run[0]:row_run[1] + 1].sum(axis=0)
    col_run = _main_run(cols, cols > 0, max(2, round(1.5 * ink_h)))
    if col_run is None:
        return None
    return row_run[0], row_run[1], col_run[0], col_run[1]


def _main_run(weights: Any, flags: Any, max_gap: int, anchor: int | None = None) -> tuple[int, int] | None:
    """The (first, last) index of a run of set *flags* (gaps up to *max_gap* bridged): the one
    containing (else nearest to) *anchor*, or without an anchor the one with the most weight."""
    idx = [int(i) for i in flags.nonzero()[0]]
    if not idx:
        return None
    runs: list[tuple[int, int, float]] = []
    start = prev = idx[0]
    mass = float(weights[start])
    for i in idx[1:]:
        if i - prev - 1 > max_gap:
            runs.append((start, prev, mass))
            start, mass = i, 0.0
        mass += float(weights[i])
        prev = i
    runs.append((start, prev, mass))
    if anchor is None:
        first, last, _ = max(runs, key=lambda r: r[2])
    else:
        first, last, _ = min(runs, key=lambda r: (max(r[0] - anchor, anchor - r[1], 0), -r[2]))
    return first, last


def _otsu(values: Any) -> float | None:
    """Otsu's threshold of 8-bit *values* (on 64 bins)."""
    import numpy as np

    hist = np.bincount((values >> 2).ravel(), minlength=64).astype(np.float64)
    edges = np.arange(65, dtype=np.float64) * 4.0
    total = hist.sum()
    if total == 0:
        return None
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * centres)
    mean_all = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = m0 / w0
        mu1 = (mean_all - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
    between = np.nan_to_num(between)
    if between.max() <= 0:
        return None
    return float(edges[int(np.argmax(between)) + 1])
