"""What a PDF page draws, cheaply: page geometry and a bounded content-stream interpreter.

The explicit step (:mod:`aigclabel.explicit.pdf`) places its stamp in a margin clear of the page's
content.  Finding that margin means reading the page's content streams -- file data -- so the
interpreter lives here, beside the other PDF parsing, under fixed limits (decoded bytes and
operators per page).  It tracks only what bounds drawing: the CTM stack, text position and size,
path points, ``Do`` of forms and images, inline images.  Text extents are estimated (half an em
per byte shown); forms count as their transformed BBox; images as their unit square.  Good enough
to find a free margin, never used for measuring.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptFile
from ..foreign import pypdf_errors

__all__ = ["Matrix", "Box", "IDENTITY", "mul", "apply", "transform_box", "display_matrix", "box_of",
           "page_geometry", "ScanResult", "content_boxes", "MAX_SCAN_BYTES", "MAX_SCAN_OPS"]

#: content scan limits: decoded bytes per page and operators per page
MAX_SCAN_BYTES = 8 << 20
MAX_SCAN_OPS = 400_000
#: operands kept before an operator (garbage runs are cut to their tail)
_MAX_OPERANDS = 4096

# ======================================================================================== geometry

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF row-vector convention: the matrix of ``m cm`` applied after ``n`` is m x n)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def transform_box(m: Matrix, box: Box) -> Box:
    pts = [apply(m, x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def display_matrix(visible: Box, rotate: int) -> Matrix:
    """Maps the displayed page (origin bottom-left, after /Rotate clockwise) to user space."""
    x0, y0, x1, y1 = visible
    return {0: (1.0, 0.0, 0.0, 1.0, x0, y0),
            90: (0.0, 1.0, -1.0, 0.0, x1, y0),
            180: (-1.0, 0.0, 0.0, -1.0, x1, y1),
            270: (0.0, -1.0, 1.0, 0.0, x0, y1)}[rotate]


def box_of(value: Any) -> Box | None:
    try:
        nums = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(nums) != 4 or not all(math.isfinite(v) for v in nums):
        return None
    return min(nums[0], nums[2]), min(nums[1], nums[3]), max(nums[0], nums[2]), max(nums[1], nums[3])


def page_geometry(page: Any) -> tuple[Box, int]:
    """(visible box in user space, rotation in {0, 90, 180, 270}) of a pypdf page."""
    media = box_of(page.get("/MediaBox")) or (0.0, 0.0, 612.0, 792.0)
    crop = box_of(page.get("/CropBox")) or media
    visible = (max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3]))
    if visible[2] - visible[0] < 1 or visible[3] - visible[1] < 1:
        visible = media  # a CropBox outside the MediaBox: viewers fall back to the MediaBox
    try:
        rotate = int(page.get("/Rotate", 0) or 0)
    except (TypeError, ValueError):
        rotate = 0
    return visible, (round(rotate / 90) * 90) % 360


# ==================================================================================== content scan

_DELIMS = rb"()<>\[\]{}/%"
_TOKEN = re.compile(
    rb"[\x00\t\n\x0c\r ]+|%[^\r\n]*"
    rb"|(?P<hex><[0-9A-Fa-f\x00\t\n\x0c\r ]*>)"
    rb"|(?P<dict><<|>>)"
    rb"|(?P<arr>[\[\]{}])"
    rb"|(?P<name>/[^\x00\t\n\x0c\r " + _DELIMS + rb"]*)"
    rb"|(?P<str>\()"
    rb"|(?P<reg>[^\x00\t\n\x0c\r " + _DELIMS + rb"]+)"
)
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
#: the rest of a literal string without nested parentheses (escapes allowed), after its "("
_SIMPLE_LITERAL = re.compile(rb"(?:[^()\\]|\\.)*\)", re.S)
_EI = re.compile(rb"[\x00\t\n\x0c\r ]EI(?=[\x00\t\n\x0c\r /]|$)")


def _literal_len(data: bytes, pos: int) -> tuple[int, int]:
    """(byte count, position after) of the literal string starting after ``(`` at *pos*."""
    depth, n, i, end = 1, 0, pos, len(data)
    while i < end:
        c = data[i]
        if c == 0x5C:  # backslash: one escaped byte; an octal escape has up to three digits
            i += 2
            digits = 1
            while digits < 3 and i < end and 0x30 <= data[i - 1] <= 0x37 and 0x30 <= data[i] <= 0x37:
                i += 1
                digits += 1
            n += 1
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return n, i + 1
        n += 1
        i += 1
    return n, end


@dataclass
class _GState:
    """The graphics state a content-stream scan tracks (matrix and text parameters)."""
    ctm: Matrix = IDENTITY
    font_size: float = 0.0
    hscale: float = 1.0
    leading: float = 0.0
    rise: float = 0.0


@dataclass
class ScanResult:
    """What a page's content scan found: the bounds of what it draws, and whether the scan finished."""
    boxes: list[Box] = field(default_factory=list)  # user-space bounds of what the page draws
    complete: bool = True  # False when the scan stopped early (limits, unreadable content)


_IMAGE_SUBTYPE = re.compile(rb"/Subtype[\x00\t\n\x0c\r ]*/Image(?![A-Za-z])")


def _is_image(ref: Any) -> bool:
    """True when the XObject *ref* is an image, told from its dictionary alone: pypdf would read the
    whole image stream to answer, and only its unit square matters here."""
    reader = getattr(ref, "pdf", None)
    num, gen = getattr(ref, "idnum", None), getattr(ref, "generation", 0)
    try:
        offset = reader.xref[gen][num]  # type: ignore[union-attr]
        stream = reader.stream  # type: ignore[union-attr]
        stream.seek(offset)
        head = stream.read(2048)
    except (KeyError, AttributeError, TypeError, ValueError, OSError):  # not a plain object: let pypdf read it
        return False
    end = head.find(b"stream")
    return _IMAGE_SUBTYPE.search(head[:end if end >= 0 else len(head)]) is not None


def _content_bytes(page: Any) -> bytes | None:
    """The page's decoded content (None when it decodes past the scan limit or not at all)."""
    from pypdf.generic import ArrayObject, StreamObject

    from ..errors import AigcLabelError
    from .pdf import decode_bounded

    contents = page.get("/Contents")
    if contents is None:
        return b""
    contents = contents.get_object()
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
    parts = []
    total = 0
    for ref in streams:
        stream = ref.get_object()
        if not isinstance(stream, StreamObject):
            continue
        try:
            data = decode_bounded(stream, MAX_SCAN_BYTES - total)
        except AigcLabelError:
            return None
        total += len(data)
        parts.append(data)
    return b"\n".join(parts)


_STRING_OPS = {b"'", b'"', b"T*"}


class _Scanner:
    """One pass over decoded content bytes; the operator handlers update the state and the boxes."""

    def __init__(self, data: bytes, xobjects: Any) -> None:
        self.data = data
        self.xobjects = xobjects
        self.result = ScanResult()
        self.gs = _GState()
        self.stack: list[_GState] = []
        self.tm: Matrix = IDENTITY
        self.tlm: Matrix = IDENTITY
        self.path: list[tuple[float, float]] = []
        self.pos = 0

    # -- tokens ----------------------------------------------------------------------------------

    def run(self) -> ScanResult:
        data, end, match = self.data, len(self.data), _TOKEN.match
        operands: list[Any] = []
        nesting: list[list[Any]] = []
        ops = 0
        while self.pos < end:
            m = match(data, self.pos)
            if m is None:
                self.pos += 1
                continue
            self.pos = m.end()
            kind = m.lastgroup
            if kind is None:
                continue
            tok = m.group()
            if kind == "arr":
                if tok in b"[{":
                    nesting.append(operands)
                    operands = []
                elif nesting:
                    inner = operands
                    operands = nesting.pop()
                    operands.append(("a", inner))
                continue
            value = self._operand(kind, tok)
            if value is None:  # an operator
                ops += 1
                if ops > MAX_SCAN_OPS or not self._operator(tok, operands):
                    self.result.complete = False
                    return self.result
                operands = []
                nesting = []
                continue
            operands.append(value)
            if len(operands) > _MAX_OPERANDS:  # runaway operands (garbage): keep the tail
                operands = operands[-16:]
        return self.result

    def _operand(self, kind: str, tok: bytes) -> Any:
        """The operand value of a token; None when the token is an operator."""
        if kind == "str":
            simple = _SIMPLE_LITERAL.match(self.data, self.pos)
            if simple is not None:  # no nested parentheses: the common case, at regex speed
                self.pos = simple.end()
                return ("s", simple.end() - simple.start() - 1 - simple.group().count(b"\\"))
            n, self.pos = _literal_len(self.data, self.pos)
            return ("s", n)
        if kind == "hex":
            return ("s", len(re.sub(rb"[^0-9A-Fa-f]", b"", tok)) / 2)
        if kind == "name":
            return ("n", tok)
        if kind == "dict":
            return ("d", tok)
        try:
            return float(tok)
        except ValueError:
            return None

    # -- operators -------------------------------------------------------------------------------

    def _operator(self, op: bytes, operands: list[Any]) -> bool:
        """Apply *op*; False when the scan cannot go on (an inline image without its data)."""
        nums = [v for v in operands if isinstance(v, float)]
        try:
            if op == b"BI":
                return self._inline_image()
            if not (self._state_op(op, nums) or self._text_op(op, nums, operands)
                    or self._path_op(op, nums)):
                if op == b"Do":
                    self._do(operands)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
            pass  # a malformed operator: skip it, as viewers do
        return True

    def _state_op(self, op: bytes, nums: list[float]) -> bool:
        gs = self.gs
        if op == b"q":
            self.stack.append(_GState(gs.ctm, gs.font_size, gs.hscale, gs.leading, gs.rise))
        elif op == b"Q":
            if self.stack:
                self.gs = self.stack.pop()
        elif op == b"cm" and len(nums) == 6:
            gs.ctm = mul(_matrix(nums), gs.ctm)
        elif op == b"Tf" and nums:
            gs.font_size = abs(nums[-1])
        elif op == b"Tz" and nums:
            gs.hscale = nums[-1] / 100.0
        elif op == b"TL" and nums:
            gs.leading = nums[-1]
        elif op == b"Ts" and nums:
            gs.rise = nums[-1]
        else:
            return False
        return True

    def _text_op(self, op: bytes, nums: list[float], operands: list[Any]) -> bool:
        if op == b"BT":
            self.tm = self.tlm = IDENTITY
        elif op in (b"Td", b"TD") and len(nums) >= 2:
            self.tlm = mul((1.0, 0.0, 0.0, 1.0, nums[-2], nums[-1]), self.tlm)
            self.tm = self.tlm
            if op == b"TD":
                self.gs.leading = -nums[-1]
        elif op == b"Tm" and len(nums) == 6:
            self.tlm = self.tm = _matrix(nums)
        elif op in _STRING_OPS:
            self.tlm = mul((1.0, 0.0, 0.0, 1.0, 0.0, -self.gs.leading), self.tlm)
            self.tm = self.tlm
            if op != b"T*":
                self._text_box(_last(operands, "s", 0))
        elif op == b"Tj":
            self._text_box(_last(operands, "s", 0))
        elif op == b"TJ":
            items = _last(operands, "a", [])
            n = sum(v[1] for v in items if isinstance(v, tuple) and v[0] == "s")
            adjust = sum(v for v in items if isinstance(v, float))
            self._text_box(n, adjust)
        else:
            return False
        return True

    def _path_op(self, op: bytes, nums: list[float]) -> bool:
        ctm = self.gs.ctm
        if op in (b"m", b"l") and len(nums) >= 2:
            self.path.append(apply(ctm, nums[-2], nums[-1]))
        elif op in (b"c", b"v", b"y"):
            for i in range(0, len(nums) - 1, 2):
                self.path.append(apply(ctm, nums[i], nums[i + 1]))
        elif op == b"re" and len(nums) >= 4:
            x, y, w, h = nums[-4:]
            self.path.extend(apply(ctm, px, py) for px in (x, x + w) for py in (y, y + h))
        elif op in _PAINT:
            if self.path:
                xs = [p[0] for p in self.path]
                ys = [p[1] for p in self.path]
                self.result.boxes.append((min(xs), min(ys), max(xs), max(ys)))
            self.path = []
        elif op == b"n":
            self.path = []
        else:
            return False
        return True

    def _text_box(self, nbytes: float, adjust: float = 0.0) -> None:
        gs = self.gs
        fs = gs.font_size or 12.0
        width = (nbytes * 0.5 * fs - adjust / 1000.0 * fs) * gs.hscale
        box = (min(0.0, width), -0.25 * fs + gs.rise, max(0.0, width), 0.95 * fs + gs.rise)
        self.result.boxes.append(transform_box(mul(self.tm, gs.ctm), box))
        self.tm = mul((1.0, 0.0, 0.0, 1.0, width, 0.0), self.tm)

    def _do(self, operands: list[Any]) -> None:
        name = _last(operands, "n", None)
        box: Box = (0.0, 0.0, 1.0, 1.0)
        matrix = IDENTITY
        if name is not None:
            key = name.decode("latin-1")
            xobjects = self.xobjects
            raw = xobjects.raw_get(key) if hasattr(xobjects, "raw_get") and key in xobjects else None
            xobj = None if raw is None or _is_image(raw) else raw.get_object()
            if xobj is not None and xobj.get("/Subtype") == "/Form":
                box = box_of(xobj.get("/BBox")) or box
                mx = xobj.get("/Matrix")
                if mx is not None and len(mx) == 6:
                    matrix = _matrix([float(v) for v in mx])
        self.result.boxes.append(transform_box(mul(matrix, self.gs.ctm), box))

    def _inline_image(self) -> bool:
        data, pos = self.data, self.pos
        found = re.search(rb"[\x00\t\n\x0c\r ]ID[\x00\t\n\x0c\r ]", data[pos:pos + 65536])
        if found is None:
            return False
        ei = _EI.search(data, pos + found.end())
        self.pos = ei.end() if ei else len(data)
        self.result.boxes.append(transform_box(self.gs.ctm, (0.0, 0.0, 1.0, 1.0)))
        return True


def _matrix(nums: list[float]) -> Matrix:
    a, b, c, d, e, f = nums[-6:]
    return (a, b, c, d, e, f)


def _last(operands: list[Any], kind: str, default: Any) -> Any:
    """The value of the last operand of *kind* ("s" string length, "a" array, "n" name)."""
    for v in reversed(operands):
        if isinstance(v, tuple) and v[0] == kind:
            return v[1]
    return default


def _xobjects(page: Any) -> Any:
    try:
        with pypdf_errors("reading the page's XObjects"):
            resources = page.get("/Resources")
            xo = resources.get_object().get("/XObject") if resources is not None else None
            return xo.get_object() if xo is not None else {}
    except CorruptFile:  # a broken resource dictionary: no XObject is known
        return {}


def content_boxes(page: Any) -> ScanResult:
    """Approximate bounds of everything *page* (a pypdf page) draws, in user space, from a cheap scan.

    ``complete`` is False when the scan stopped early (limits, unreadable content): the caller
    then knows nothing about the page's free margins.
    """
    try:
        with pypdf_errors("reading the page content"):
            data = _content_bytes(page)
    except CorruptFile:  # unreadable content: nothing is known, place by default
        data = None
    if data is None:
        return ScanResult(complete=False)
    return _Scanner(data, _xobjects(page)).run()
