"""A visible text label at an edge or corner of the image, tall enough (checked by OCR).

GB 45438-2025 asks images for a text prompt with an AI element and a generation element, at an
edge or corner, legible, with a text height of at least 5 % of the shortest side; the 2023 TC260
guide asks for text at least 20 px high or covering at least 0.3 % of the picture. A label passes
if it meets any non-zero size threshold of the profile.

How it is checked (``pip install 'aigclabel[ocr]'``; without it the finding is *not checked*):

1. Get the pixels from the format handler (``handler.image_access``): EXIF orientation applied,
   the first frame of an animation, the declared size checked against ``max_pixels`` and Pillow's
   decompression-bomb limit first (an image over them is *not checked*, never decoded).
2. Scale for OCR so that a label half the required height is still about 20 px tall (huge images
   shrink, small ones grow up to 2x, at most 8 megapixels); all measurements are reported in the
   original pixels.
3. Read the corner bands, then the edge bands (where the rules allow the label), stopping at the
   first label that meets every requirement; only when none does, read the whole image
   (``full_image_fallback``) to tell "too small" or "in the centre" from "nothing there". A band is
   widened where a line runs on past it; the band reads stop early, handing over to the whole-image
   read (or, without one, ending the search) when a band holds many lines or the bands together have
   read as many pixels as the whole picture: a picture full of text is read once, not band by band.
4. For each text line: join boxes of one line ("AI" + "生成"), check the wording with the profile,
   measure the ink height inside the OCR box, and classify the position.

"Height" is unsettled in the rules (ink height or em size): we measure the ink (the glyphs' extent),
the stricter reading, so a label that passes here passes under both.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Sequence

from ..report import Finding, Level

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .._io import CountingReader
    from ..formats.base import FormatHandler

    from ..explicit.ocr import TextBox
    from ..profiles import Profile

ID = "explicit.image"
SCOPE = "explicit"
KINDS = frozenset({"image"})
OPTIONS: dict[str, Any] = {
    # size: a label passes if it meets ANY non-zero threshold
    "min_height_ratio": 0.05,  # ink height / shortest side (GB 45438-2025)
    "min_height_px": 0,  # ink height in pixels (TC260 2023: 20)
    "min_area_ratio": 0.0,  # ink box area / picture area (TC260 2023: 0.003)
    # OCR
    "ocr_min_confidence": 0.5,  # text lines read with less confidence are ignored
    "band_ratio": 0.15,  # depth of the edge bands searched first, as a fraction of the shortest side
    "full_image_fallback": True,  # read the whole image when no band holds a qualifying label
    # position: a label is "at an edge" when it is at most this fraction of the shortest side from it
    "edge_margin_ratio": 0.1,
    "require_edge": True,  # a label away from every edge and corner fails
    # when the ink cannot be told from the background, height = OCR box height / this factor
    "box_to_ink": 1.25,
}
DESCRIPTION = "visible text label with both elements at an edge or corner, tall enough"
#: marking asks this rule whether a label is already there (aigclabel.explicit.label_present): only the
#: corner and edge bands, where the profile allows a label; a label elsewhere is not a compliant one anyway
PRESENT_OPTIONS: dict[str, Any] = {"full_image_fallback": False}
PRESENT_HOW = "OCR"

#: a text line this many OCR pixels high is still read reliably
_MIN_OCR_TEXT_PX = 20.0
#: largest OCR image (pixels); beyond it the scale is reduced whatever the thresholds ask
_MAX_OCR_PIXELS = 8_000_000
_MAX_UPSCALE = 2.0
_HEIGHT_READING = ("height = ink extent measured inside the OCR box (OCR boxes are padded around the "
                   "glyphs); ink height is the stricter reading of 'text height', so a label passing "
                   "here passes under the em-size reading too; 2 px tolerance for anti-aliased edges")


class _NotChecked(Exception):
    """The pixels could not be examined; the message says why."""


# ------------------------------------------------------------------------------------- entry point


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..explicit import ocr

    expected = _expected(options)
    if not ocr.available():
        yield Finding(ID, Level.NOT_CHECKED,
                      "the visible (explicit) label was not checked: OCR is not installed "
                      f"(install the OCR extra: {ocr.INSTALL_HINT})", expected=expected)
        return
    if ctx.source is None:
        yield Finding(ID, Level.NOT_CHECKED,
                      "the visible (explicit) label was not checked: the image content was not available",
                      expected=expected)
        return
    try:
        info = getattr(ctx.evidence, "info", {}) or {}
        decoded = decode(ctx.source, options, declared=(info.get("width"), info.get("height")),
                         handler=ctx.handler)
        yield from assess(decoded, ctx.profile, options)
    except _NotChecked as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) label was not checked: {exc}",
                      expected=expected)
    except (ocr.OcrUnavailable, ocr.OcrFailed) as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) label was not checked: {exc}",
                      expected=expected)


# ------------------------------------------------------------------------------------------ decode


class Decoded(NamedTuple):
    """Pixels ready for checking: ``image`` (RGB) may be a reduced decode of the original."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    image: Image.Image
    width: int  # original width, after EXIF orientation
    height: int
    notes: Sequence[str] = ()

    @property
    def scale(self) -> float:
        """decoded pixels per original pixel"""
        return self.image.size[0] / self.width


def decode(source: Any, options: dict[str, Any] | None = None, *,
           declared: tuple[Any, Any] | None = None, handler: FormatHandler | None = None) -> Decoded:
    """Decode *source* (a file-like positioned anywhere) to RGB pixels for OCR, through *handler*.

    The pixels come from the format handler's picture access (``handler.image_access``), which
    checks the container and the declared size (``max_pixels``, Pillow's decompression-bomb limit)
    before decoding; without a *handler* (a caller outside the verifier) the format is detected.
    With the rule's *options*, a large JPEG is decoded at a reduced size (JPEG draft mode) that is
    still twice the OCR scale, so the ink is measured finely enough. *declared* is the size the
    format handler read from the header, for messages. Raises :class:`_NotChecked` for images
    over the pixel limits and for pixels that cannot be decoded.
    """
    from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat, UnsupportedOperation

    notes: list[str] = []
    try:
        src = _reader(source)
        if handler is None:
            from ..formats import handler_for

            handler = handler_for(src)
        access = handler.image_access(src)
        w, h = access.size
        frames = access.frames
        if frames > 1:
            notes.append(f"animated image: checked the first of {frames} frames")
        orientation = access.orientation()
        if orientation in (5, 6, 7, 8):
            w, h = h, w
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            notes.append(f"EXIF orientation {orientation} applied")
        reduce_to = 2 * ocr_scale(w, h, options) if options is not None else 1.0
        draft = None
        if reduce_to < 0.5:
            sw, sh = access.size
            draft = (max(1, math.ceil(sw * reduce_to)), max(1, math.ceil(sh * reduce_to)))
        im = access.picture(draft=draft)
        rgb = _displayed_rgb(im, orientation)
    except LimitExceeded as exc:
        dims = ""
        if declared and all(isinstance(v, int) for v in declared):
            dims = f"{declared[0]}x{declared[1]} = {declared[0] * declared[1]:,} pixels, "
        raise _NotChecked(f"the image ({dims}as its header says) is over the decoding limit, a guard against "
                          f"decompression bombs ({exc}); it was not decoded") from None
    except UnsupportedFormat:
        raise _NotChecked("these pixels cannot be decoded (no picture decoder for this content)") from None
    except UnsupportedOperation as exc:
        raise _NotChecked(f"the pixels cannot be decoded: {exc}") from None
    except CorruptFile as exc:
        raise _NotChecked(f"the pixels could not be decoded ({exc})") from None
    return Decoded(rgb, w, h, notes)


def _reader(source: Any) -> CountingReader:
    from .._io import CountingReader

    if isinstance(source, CountingReader):
        return source
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    return CountingReader(source, getattr(source, "name", "<image>"), size)


def _displayed_rgb(im: Image.Image, orientation: int) -> Image.Image:
    """The decoded picture as displayed (EXIF orientation applied), as RGB."""
    from PIL import ImageOps

    from ..foreign import pillow_errors

    with pillow_errors("converting the decoded picture"):
        if orientation != 1:
            im = ImageOps.exif_transpose(im) or im
        return _to_rgb(im)


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB pixels as a viewer shows them: transparency over white, 16-bit scaled to 8-bit."""
    from PIL import Image

    if im.mode.startswith("I;16") or im.mode == "I":
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif im.mode == "F":
        im = im.convert("L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


# ------------------------------------------------------------------------------------------ sizing


def required_height_px(width: int, height: int, options: dict[str, Any]) -> float:
    """The smallest ink height (original px) that can meet one of the size thresholds."""
    short = min(width, height)
    candidates = []
    if options["min_height_ratio"] > 0:
        candidates.append(options["min_height_ratio"] * short)
    if options["min_height_px"] > 0:
        candidates.append(float(options["min_height_px"]))
    if options["min_area_ratio"] > 0:
        # a short label ("AI生成") is about 3.5 times as wide as high
        candidates.append(math.sqrt(options["min_area_ratio"] * width * height / 3.5))
    return min(candidates) if candidates else 0.05 * short


def ocr_scale(width: int, height: int, options: dict[str, Any]) -> float:
    """OCR pixels per original pixel: a label at half the required height reads ~20 px high.

    (A 5 % label is then ~40 px high for the detector, well inside what it reads reliably.)
    """
    need = max(1.0, required_height_px(width, height, options))
    scale = min(_MAX_UPSCALE, _MIN_OCR_TEXT_PX / (0.5 * need))
    return min(scale, math.sqrt(_MAX_OCR_PIXELS / max(1, width * height)))


def _expected(options: dict[str, Any]) -> str:
    return "a text label with an AI element and a generation element at an edge or corner, " + _size_rule(options)


def _size_rule(options: dict[str, Any], short: int | None = None, area: int | None = None) -> str:
    parts = []
    if options["min_height_ratio"] > 0:
        px = f" ({options['min_height_ratio'] * short:.0f} px)" if short else ""
        parts.append(f"ink height >= {_pct(options['min_height_ratio'])} of the shortest side{px}")
    if options["min_height_px"] > 0:
        parts.append(f"ink height >= {options['min_height_px']} px")
    if options["min_area_ratio"] > 0:
        px = f" ({options['min_area_ratio'] * area:.0f} px²)" if area else ""
        parts.append(f"text area >= {_pct(options['min_area_ratio'])} of the picture{px}")
    return " or ".join(parts) if parts else "any size"


def _pct(v: float) -> str:
    text = f"{v * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


# ------------------------------------------------------------------------------------------ assess


class Candidate(NamedTuple):
    """One text line judged as a label, measured in original pixels."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    text: str  # as read
    box: tuple[int, int, int, int]  # OCR box, original pixels
    confidence: float
    box_height: float  # OCR box height, original px
    ink_height: float  # original px
    ink_width: float
    ink_measured: bool  # False: estimated from the box height
    height_ratio: float
    area_ratio: float
    ai: str | None  # the AI element found, if any
    generation: str | None
    position: str  # "bottom-right", ..., "bottom", ..., or "centre"
    size_ok: bool
    normalised: str

    @property
    def wording_ok(self) -> bool:
        return self.ai is not None and self.generation is not None

    @property
    def at_edge(self) -> bool:
        return self.position != "centre"

    @property
    def label_like(self) -> bool:
        return self.ai is not None or self.generation is not None


def assess(decoded: Decoded, profile: Profile, options: dict[str, Any], *, bands: bool = True) -> Iterator[Finding]:
    """Look for the label in *decoded* and yield the one finding that sums it up.

    ``bands=False`` reads the whole image straight away (the baseline the benchmark compares with).
    """
    from ..explicit import ocr

    W, H = decoded.width, decoded.height
    rel = ocr_scale(W, H, options) / decoded.scale  # OCR pixels per decoded pixel
    if abs(rel - 1.0) < 0.02:
        rel = 1.0
    ocr_size = (max(1, round(decoded.image.size[0] * rel)), max(1, round(decoded.image.size[1] * rel)))
    to_orig = 1.0 / (rel * decoded.scale)  # original pixels per OCR pixel
    min_conf = float(options["ocr_min_confidence"])

    judged: dict[tuple[str, tuple[float, ...]], Candidate] = {}

    def judge(boxes: list[TextBox]) -> list[Candidate]:
        out = []
        for tb in ocr.merge_lines(ocr.dedupe(boxes)):
            key = (tb.text, tb.box)
            if key not in judged:
                judged[key] = _judge(tb, decoded, to_orig, profile, options)
            out.append(judged[key])
        return out

    seen: list[TextBox] = []
    candidates: list[Candidate] = []
    searched = "the corner and edge bands"
    regions = ocr.edge_regions(*ocr_size, band_ratio=float(options["band_ratio"])) if bands else []
    whole_image = bool(options["full_image_fallback"]) or not bands
    # with a whole-image read to fall back on, a band grows only so far (MAX_BAND_AREA_RATIO): growing
    # it further would read most of the picture several times over; without one, it grows as it needs
    band_cap = ocr.MAX_BAND_AREA_RATIO if whole_image else 1.0
    # ... but never past BAND_PIXEL_BUDGET whole images' worth of band reads in all, and a band that holds
    # DENSE_BAND_LINES lines is not widened. With a whole-image read to fall back on, that read takes over;
    # without one (the quick look marking takes) the search ends there: a picture full of text (or of noise
    # OCR reads as text) is not read over and over, band by band
    budget = ocr.BAND_PIXEL_BUDGET * ocr_size[0] * ocr_size[1]
    runs_on = stopped = False
    spent = 0
    for done, region in enumerate(regions):
        if spent >= budget:
            stopped = True
            if not whole_image:
                searched = (f"{done} of the {len(regions)} corner and edge bands (they hold so much text that "
                            "reading on would read the picture over and over)")
            break
        read = ocr.read_region(decoded.image, region, scale=rel, min_confidence=min_conf, max_area_ratio=band_cap,
                               dense_lines=ocr.DENSE_BAND_LINES, max_pixels=budget - spent)
        spent += read.pixels
        if not read.boxes:
            continue
        seen.extend(read.boxes)
        candidates = judge(seen)
        if read.runs_on and whole_image:
            # text runs on past the widest band read, or the band is text-dense: the one whole-image read
            # below sees it whole
            runs_on = True
            break
        if any(_qualifies(c, options) for c in candidates):
            break
    if whole_image and (runs_on or stopped or not any(_qualifies(c, options) for c in candidates)):
        seen.extend(ocr.read_text(ocr.scaled_view(decoded.image, rel), min_confidence=min_conf))
        candidates = judge(seen)
        searched = "the corner and edge bands, then the whole image" if bands else "the whole image"
    finding = _finding(candidates, decoded, profile, options, searched)
    finding.data = _boxes_data(candidates, decoded, options)
    yield finding


def _boxes_data(candidates: list[Candidate], decoded: Decoded, options: dict[str, Any]) -> dict[str, Any]:
    """Every text line judged, in original pixels, and the area the label must be in (for viewers)."""
    W, H = decoded.width, decoded.height
    short = min(W, H)
    return {"width": W, "height": H, "edge_margin_px": round(float(options["edge_margin_ratio"]) * short, 1),
            "require_edge": bool(options["require_edge"]),
            "required_height_px": round(required_height_px(W, H, options), 1),
            "boxes": [{"text": c.text, "box": list(c.box), "ink_height_px": round(c.ink_height, 1),
                       "height_pct": round(c.height_ratio * 100, 2), "position": c.position,
                       "confidence": round(c.confidence, 3), "label": c.label_like,
                       "qualifies": _qualifies(c, options)} for c in candidates]}


def _normalise(text: str) -> str:
    """NFKC (full-width ＡＩ -> AI), ASCII letters upper-cased, OCR's 'Al'/'A1' for 'AI' repaired."""
    import unicodedata  # here: a C extension every start-up would load for the explicit scope only

    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"[a-z]", lambda m: m.group(0).upper(), t)
    return re.sub(r"(?<![A-Z])A[L1|](?![A-Z])", "AI", t)


def _judge(tb: TextBox, decoded: Decoded, to_orig: float, profile: Profile,
           options: dict[str, Any]) -> Candidate:
    from ..explicit import ocr

    W, H = decoded.width, decoded.height
    short = min(W, H)
    x0, y0, x1, y1 = (v * to_orig for v in tb.box)
    box_h = tb.height * to_orig
    # measure the ink in the decoded pixels (the original, or a reduced JPEG decode)
    k = decoded.scale
    ink = ocr.ink_height(decoded.image, (x0 * k, y0 * k, x1 * k, y1 * k))
    measured = False
    if ink is not None:
        ink_h, ink_w = ink[0] / k, ink[1] / k
        # trust it only when plausible: OCR boxes run 1.1-1.4x the ink height of short lines (see the
        # calibration test) and can be a little tight on long ones
        measured = box_h / 3.0 <= ink_h <= box_h * 1.25
    if not measured:
        ink_h = box_h / float(options["box_to_ink"])
        ink_w = max(1.0, (x1 - x0) - (box_h - ink_h))
    # anti-aliasing blurs one pixel row at the top and the bottom of the glyphs: 2 decoded pixels of tolerance
    tolerance = 2.0 / k
    h_eff = ink_h + tolerance
    size_ok = False
    if options["min_height_ratio"] > 0 and h_eff >= options["min_height_ratio"] * short:
        size_ok = True
    if options["min_height_px"] > 0 and h_eff >= options["min_height_px"]:
        size_ok = True
    if options["min_area_ratio"] > 0 and h_eff * (ink_w + tolerance) >= options["min_area_ratio"] * W * H:
        size_ok = True
    if not (options["min_height_ratio"] > 0 or options["min_height_px"] > 0 or options["min_area_ratio"] > 0):
        size_ok = True
    norm = _normalise(tb.text)
    ai = next((a for a in profile.marking.wording_ai if _normalise(a) in norm), None)
    gen = next((g for g in profile.marking.wording_generation if _normalise(g) in norm), None)
    box = (round(x0), round(y0), round(x1), round(y1))
    return Candidate(text=tb.text, box=box, confidence=tb.confidence, box_height=box_h, ink_height=ink_h,
                     ink_width=ink_w, ink_measured=measured, height_ratio=ink_h / short,
                     area_ratio=ink_h * ink_w / (W * H), ai=ai, generation=gen,
                     position=position_of(box, W, H, float(options["edge_margin_ratio"])),
                     size_ok=size_ok, normalised=norm)


def position_of(box: tuple[int, int, int, int], width: int, height: int, margin_ratio: float) -> str:
    """"bottom-right" ... "top-left" for a corner, "bottom"/"top"/"left"/"right" for an edge, else
    "centre". A box is at an edge when its gap to it is at most *margin_ratio* of the shortest side
    (or at most its own height, for big labels)."""
    x0, y0, x1, y1 = box
    limit = max(margin_ratio * min(width, height), (y1 - y0))
    vert = "bottom" if height - y1 <= limit else "top" if y0 <= limit else ""
    horiz = "right" if width - x1 <= limit else "left" if x0 <= limit else ""
    if vert and horiz:
        return f"{vert}-{horiz}"
    return vert or horiz or "centre"


def _qualifies(c: Candidate, options: dict[str, Any]) -> bool:
    return c.wording_ok and c.size_ok and (c.at_edge or not options["require_edge"])


def _describe(c: Candidate, short: int) -> str:
    where = f"at the {c.position} corner" if "-" in c.position else (
        f"at the {c.position} edge" if c.position != "centre" else "in the centre")
    how = "measured inside" if c.ink_measured else "estimated from"
    read = f" (taken as {c.normalised!r})" if c.normalised != c.text else ""
    return (f"{c.text!r}{read} {where}, box {list(c.box)}, ink height {c.ink_height:.0f} px = "
            f"{c.height_ratio * 100:.1f} % of the shortest side ({short} px) ({how} the OCR box of "
            f"{c.box_height:.0f} px), OCR confidence {c.confidence:.2f}")


def _finding(candidates: list[Candidate], decoded: Decoded, profile: Profile, options: dict[str, Any],
             searched: str) -> Finding:
    W, H = decoded.width, decoded.height
    short = min(W, H)
    size_rule = _size_rule(options, short, W * H)
    expected = ("a text label with an AI element and a generation element"
                + (" at an edge or corner" if options["require_edge"] else "") + f", {size_rule}")
    notes = "".join(f"; {n}" for n in decoded.notes)

    def reading(c: Candidate) -> str:
        if c.ink_measured:
            return _HEIGHT_READING
        return (_HEIGHT_READING + "; here the ink could not be told from the background, so the height is "
                f"the OCR box height / {options['box_to_ink']} (box_to_ink)")

    passing = [c for c in candidates if _qualifies(c, options)]
    if passing:
        best = max(passing, key=lambda c: (c.at_edge, c.height_ratio))
        return Finding(ID, Level.PASS,
                       f"visible label {_describe(best, short)}; both elements present (AI element "
                       f"{best.ai!r}, generation element {best.generation!r}); meets {size_rule} "
                       f"({reading(best)}){notes}",
                       location=f"pixels {list(best.box)} ({best.position})", expected=expected,
                       actual=_actual(best))
    labels = [c for c in candidates if c.label_like]
    if not labels:
        others = [c.text for c in candidates]
        other = f"; OCR read other text: {', '.join(repr(t) for t in others[:5])}" if others else ""
        return Finding(ID, Level.ERROR,
                       f"no visible label found (searched {searched}; no text with an AI element or a "
                       f"generation element){other}{notes}",
                       expected=expected, actual="no label text")
    best = max(labels, key=lambda c: (c.wording_ok, c.ai is not None, c.at_edge or not options["require_edge"],
                                      c.size_ok, c.height_ratio))
    problems = []
    if best.ai is None:
        problems.append("it lacks an AI element (" + " or ".join(repr(a) for a in profile.marking.wording_ai) + ")")
    if best.generation is None:
        problems.append("it lacks a generation element ("
                        + " or ".join(repr(g) for g in profile.marking.wording_generation) + ")")
    if not best.size_ok:
        problems.append(f"it is too small: ink height {best.ink_height:.0f} px = {best.height_ratio * 100:.1f} % "
                        f"of the shortest side, text area {best.area_ratio * 100:.2f} % of the picture; "
                        f"required {size_rule}")
    if options["require_edge"] and not best.at_edge:
        problems.append("it is not at an edge or corner (it is in the centre of the image)")
    return Finding(ID, Level.ERROR,
                   f"visible label text {_describe(best, short)}, but {'; and '.join(problems)} "
                   f"({reading(best)}){notes}",
                   location=f"pixels {list(best.box)} ({best.position})", expected=expected, actual=_actual(best))


def summary(finding: Finding) -> str:
    """What a passing finding found, short: text, position and height (for marking's note)."""
    return (finding.actual or finding.message).split(", text area")[0]


def _actual(c: Candidate) -> str:
    return (f"{c.text!r} at {c.position}, ink height {c.ink_height:.0f} px ({c.height_ratio * 100:.1f} % of the "
            f"shortest side), text area {c.area_ratio * 100:.2f} %, AI element: {c.ai or 'none'}, "
            f"generation element: {c.generation or 'none'}")
